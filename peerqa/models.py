"""The typed spine: every stage (ingest, retrieval, answer, service, eval) passes these.

Field names and shapes follow ../shared/API.md; extend, never rename.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["paragraph", "quote", "table_row", "reference", "list_item"]
Stance = Literal["benefit", "challenge", "mitigation"]
Role = Literal["programme_leader", "peer_supporter", "peer_recipient"]
ProgrammeLetter = Literal["A", "B", "C", "D", "E", "F", "G"]

KINDS: tuple[str, ...] = Kind.__args__
STANCES: tuple[str, ...] = Stance.__args__
ROLES: tuple[str, ...] = Role.__args__
PROGRAMMES: tuple[str, ...] = ProgrammeLetter.__args__


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
    # Retrieval context (section title, theme, caption, cited titles): embedded and
    # keyword-indexed, never part of the evidence text and never returned by the API.
    context: str = Field(default="", exclude=True)


class ScoredPassage(Passage):
    score: float


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
    licence: str | None = None
    pages: int | None = None
    passages: int = 0
    by_kind: dict[str, int] = Field(default_factory=dict)
    references_resolved: int = Field(default=0, description="In-text citations resolved")


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
    embedded: int


class Answer(BaseModel):
    question: str
    answer: str
    abstained: bool
    reason: str | None = None
    citations: list[Citation] = Field(default_factory=list)
    session_id: str | None = None


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000)
    top_k: int = Field(default=5, ge=1, le=50)
    filters: Filters | None = None


class SearchResponse(BaseModel):
    query: str
    results: list[ScoredPassage]


class PassageInContext(Passage):
    previous_id: str | None
    next_id: str | None
