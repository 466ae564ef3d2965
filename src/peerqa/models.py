"""The typed spine: every stage (ingest, retrieval, answer, service, eval) passes these.

Field names and shapes follow ../shared/API.md; extend, never rename.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

Kind = Literal["paragraph", "quote", "table_row", "reference", "list_item"]
Stance = Literal["benefit", "challenge", "mitigation"]
Role = Literal["programme_leader", "peer_supporter", "peer_recipient"]
ProgrammeLetter = Literal["A", "B", "C", "D", "E", "F", "G"]

KINDS: tuple[str, ...] = Kind.__args__
STANCES: tuple[str, ...] = Stance.__args__
ROLES: tuple[str, ...] = Role.__args__
# How a role is said in an answer's attribution and a citation line.
ROLE_WORDS = {
    "programme_leader": "programme leader",
    "peer_supporter": "peer supporter",
    "peer_recipient": "peer support recipient",
}
PROGRAMMES: tuple[str, ...] = ProgrammeLetter.__args__


class Study(BaseModel):
    """Which study a document is: its citation metadata, each field null (or empty) when
    the source does not state it."""

    title: str | None = None
    authors: list[str] = Field(default_factory=list)
    year: int | None = None
    journal: str | None = None
    doi: str | None = None


# "Joo JH" (surname, then initials) as well as "Julie Prescott" (given names, surname).
_INITIALS = re.compile(r"^[A-Z]{1,3}\.?$|^(?:[A-Z]\.){1,3}$")


def surname(author: str) -> str:
    """The family name in an author string: "Joo JH" -> "Joo", "Dong (Roman) Xu" -> "Xu",
    "Van Voorhees, Benjamin" -> "Van Voorhees", "Jacob Andrews." -> "Andrews"."""
    author = re.sub(r"\([^)]*\)", " ", author).strip()
    if not _INITIALS.match(author.split()[-1] if author.split() else ""):
        author = author.rstrip(".").strip()  # a list's closing period is not the name's
    if "," in author:
        return author.split(",", 1)[0].strip()
    words = author.split()
    if len(words) > 1 and _INITIALS.match(words[-1]):
        return " ".join(words[:-1])
    return words[-1] if words else ""


def study_label(study: Study | None, fallback: str = "") -> str:
    """The short label a reader recognises a study by: "Berg et al. 2021, PLoS One"
    ("Berg and Lee 2021", "Berg 2021" for one or two authors). Parts the source does
    not state are left out; with no author and no year, the title (or `fallback`)."""
    if study is None:
        return fallback
    names = [surname(a) for a in study.authors if surname(a)]
    if len(names) > 2:
        who = f"{names[0]} et al."
    else:
        who = " and ".join(names)
    head = " ".join(str(p) for p in (who, study.year) if p)
    if not head:
        head = study.title or fallback
    return ", ".join(p for p in (head, study.journal) if p)


def sentences(*parts: str | None) -> str:
    """Parts joined as sentences ("Lyons et al." + "A systematic review" -> "Lyons et al. A
    systematic review"): no second period after one a part already ends with."""
    out = ""
    for part in (p for p in parts if p):
        out += (" " if out.endswith((".", "?", "!")) else ". ") + part if out else part
    return out


class Reference(BaseModel):
    """One entry of a document's reference list, as cited by number."""

    n: int
    citation: str


class Passage(BaseModel):
    """The unit of evidence: `text` is exactly `source[char_start:char_end]`."""

    id: str = Field(description="Stable across re-ingest of the same source")
    text: str = Field(description="Verbatim span of the source")
    document: str
    section: str = Field(description="Section path, e.g. 'Results > Matching' or 'Table 4'")
    kind: Kind
    stance: Stance | None = None
    theme: str | None = None
    programme: ProgrammeLetter | None = None
    role: Role | None = None
    ref_numbers: list[int] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    char_start: int
    char_end: int
    page: int | None = Field(default=None, description="1-based page for PDF sources")
    header: str | None = Field(
        default=None, description="For a table_row: its table's column names, ' | '-separated"
    )
    rows: list[list[int]] = Field(
        default_factory=list,
        description="For a table_row passage of several rows: each row's [start, end] in "
        "`text` (a row heading above them is context, not a row); empty: the passage is one row",
    )
    # Retrieval context (section title, theme, caption, cited titles): embedded and
    # keyword-indexed, never part of the evidence text and never returned by the API.
    context: str = Field(default="", exclude=True)


class ScoredPassage(Passage):
    score: float
    study: Study | None = Field(default=None, description="The study the passage comes from")


class Citation(ScoredPassage):
    marker: str = Field(description="The answer's marker for this passage, e.g. '[1]'")


class Programme(BaseModel):
    programme: ProgrammeLetter
    condition: str
    setting: str
    reach: str
    description: str
    interviewees: int


class DocumentInfo(BaseModel):
    """A source document with its provenance and what the ingest made of it."""

    id: str
    title: str
    source: str = Field(description="File name the document was read from")
    media_type: str
    sha256: str
    authors: list[str] = Field(default_factory=list)
    journal: str | None = None
    year: int | None = None
    identifier: str | None = None
    doi: str | None = None
    licence: str | None = None
    pages: int | None = None
    passages: int = 0
    by_kind: dict[str, int] = Field(default_factory=dict)
    references_resolved: int = Field(default=0, description="In-text citations resolved")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def study(self) -> Study:
        """Citation metadata as API.md's "Citation metadata" section gives it."""
        return Study(
            title=self.title or None,
            authors=self.authors,
            year=self.year,
            journal=self.journal,
            doi=self.doi,
        )


# --- a scholarly paper as its reader found it (ingest/readers) -------------------------


class Span(BaseModel):
    """`text[start:end]` of the paper's text (the extracted text for PDF and XML), with
    its 1-based page for PDF."""

    start: int
    end: int
    page: int | None = None


class PaperBlock(Span):
    """A paragraph, list item, caption or footnote, under its section path."""

    section: list[str] = Field(default_factory=list)
    label: str | None = Field(
        default=None, description="Structured-abstract part, or 'Figure 2' for a caption"
    )
    list_item: bool = False


class PaperSection(BaseModel):
    title: str
    level: int
    children: list[PaperSection] = Field(default_factory=list)


class PaperTableRow(Span):
    cells: list[str] = Field(description="Cell texts, as printed")


class PaperTable(BaseModel):
    label: str = Field(description="e.g. 'Table 2'")
    caption: Span | None = None
    header: list[str] = Field(default_factory=list, description="Column names")
    rows: list[PaperTableRow] = Field(default_factory=list, description="Body rows")
    notes: list[Span] = Field(default_factory=list)
    section: list[str] = Field(default_factory=list)


class PaperReference(Span):
    n: int = Field(description="1-based position in the reference list (its printed label)")
    surname: str | None = Field(default=None, description="First author's family name")
    year: int | None = None


class PaperCitation(BaseModel):
    """An in-text citation the source marks as such (JATS <xref>, TEI <ref>): where it
    is in the text and the reference numbers it points to."""

    start: int
    end: int
    numbers: list[int]


class ScholarlyPaper(BaseModel):
    """One structure for every format a paper comes in (PDF, JATS, TEI, HTML, Markdown)."""

    text: str
    media_type: str
    study: Study
    pmcid: str | None = None
    keywords: list[str] = Field(default_factory=list)
    abstract: list[PaperBlock] = Field(default_factory=list)
    sections: list[PaperSection] = Field(default_factory=list)
    paragraphs: list[PaperBlock] = Field(default_factory=list)
    captions: list[PaperBlock] = Field(default_factory=list)
    tables: list[PaperTable] = Field(default_factory=list)
    footnotes: list[PaperBlock] = Field(default_factory=list)
    references: list[PaperReference] = Field(default_factory=list)
    citations: list[PaperCitation] = Field(
        default_factory=list, description="Citations the source marks (found in text too)"
    )
    pages: list[tuple[int, int]] = Field(default_factory=list)
    dropped: list[Span] = Field(
        default_factory=list,
        description="Page furniture, declarations and stubs left out of the evidence",
    )


class ParsedDocument(BaseModel):
    """What a parser makes of one source: its text and the passages cut from it."""

    info: DocumentInfo
    text: str
    passages: list[Passage]
    programmes: list[Programme] = Field(default_factory=list)


class Filters(BaseModel):
    """API.md filters: OR within a key, AND across keys. Unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")

    kind: list[Kind] | None = None
    stance: list[Stance] | None = None
    theme: list[str] | None = None
    programme: list[ProgrammeLetter] | None = None
    role: list[Role] | None = None
    document: list[str] | None = None

    def active(self) -> dict[str, list[str]]:
        return {k: v for k, v in self.model_dump().items() if v}


class IngestReport(BaseModel):
    documents: int
    passages: int
    by_kind: dict[str, int]
    references_resolved: int
    sentences: int = Field(description="Sentences in the sentence index")
    embedded: int = Field(description="Embeddings computed by this run (passages + sentences)")


ReasonCode = Literal["medical_advice", "out_of_scope"]
CaveatKind = Literal["not_reported", "false_premise"]


class Caveat(BaseModel):
    """What the answer must say before its evidence: the question asks for something the
    study does not report, or presupposes something the evidence contradicts."""

    kind: CaveatKind
    text: str = Field(description="The plain statement, also the answer's first sentence")


class AnswerScope(BaseModel):
    """The papers an answer is confined to, and what decided it."""

    documents: list[str] = Field(description="Document ids the answer's evidence comes from")
    by: Literal["question", "session", "filter"] = Field(
        description="question: it names them (author, journal, year, a name only they use); "
        "session: the conversation's paper in focus; filter: the request's document filter"
    )


class Answer(BaseModel):
    question: str
    answer: str
    abstained: bool
    reason: str | None = Field(default=None, description="Why the answer was declined: true, plain")
    reason_code: ReasonCode | None = Field(
        default=None,
        description="medical_advice: a safety refusal (individual advice or a clinical fact); "
        "out_of_scope: the evidence does not cover the question",
    )
    caveat: Caveat | None = None
    citations: list[Citation] = Field(default_factory=list)
    scope: AnswerScope | None = Field(
        default=None, description="The papers the answer is confined to; null: any paper"
    )
    session_id: str | None = None
