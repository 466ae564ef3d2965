"""What every scholarly-paper reader shares: the pieces a reader emits, the text builder
for formats whose text we lay out ourselves (XML, PDF), and `assemble`, which turns
pieces into the one `ScholarlyPaper` structure.

A reader knows its format; `assemble` knows papers: which sections are declarations,
which lines are page furniture, how an abstract is labelled, what a reference entry is.
Nothing here knows any particular paper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from peerqa.models import (
    PaperBlock,
    PaperCitation,
    PaperReference,
    PaperSection,
    PaperTable,
    PaperTableRow,
    ScholarlyPaper,
    Span,
    Study,
)
from peerqa.segment import trimmed


class Role:
    """What a reader knows a piece of the text to be."""

    HEADING, PARAGRAPH, LIST_ITEM, ABSTRACT = "heading", "paragraph", "list_item", "abstract"
    CAPTION, TABLE_ROW, TABLE_HEADER = "caption", "table_row", "table_header"
    TABLE_NOTE, FOOTNOTE, REFERENCE, FURNITURE = "table_note", "footnote", "reference", "furniture"


@dataclass
class Piece:
    """A span of the paper's text and what the reader knows it to be."""

    start: int
    end: int
    role: str
    section: tuple[str, ...] = ()
    page: int | None = None
    label: str | None = None  # heading title, abstract part, "Table 2", reference number
    level: int = 0  # heading depth, 1 = top
    cells: list[str] | None = None  # table rows


class TextBuilder:
    """Lays out a paper's text piece by piece (blank line between blocks), recording
    each piece's offsets: the extracted text that passages are verbatim spans of."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.pieces: list[Piece] = []
        self.citations: list[PaperCitation] = []

    def cite(self, piece: Piece | None, marks: list[tuple[str, int]]) -> None:
        """Record marked citations ((marker text, reference number), in order) inside
        the text of `piece`, the block just added."""
        if piece is None:
            return
        cursor = piece.start
        for marker, n in marks:
            found = self.text.find(marker, cursor, piece.end) if marker else -1
            if found >= 0:
                self.citations.append(
                    PaperCitation(start=found, end=found + len(marker), numbers=[n])
                )
                cursor = found + len(marker)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def add(self, text: str, role: str, sep: str = "\n\n", **fields) -> Piece | None:
        text = text.strip()
        if not text:
            return None
        if self.parts:
            self.parts.append(sep)
            self.length += len(sep)
        self.parts.append(text)
        self.length += len(text)
        piece = Piece(self.length - len(text), self.length, role, **fields)
        self.pieces.append(piece)
        return piece

    def add_abstract(self, text: str, label: str | None, page: int | None = None) -> None:
        """An abstract paragraph, cut into its labelled parts (a part without a label of
        its own keeps `label`, its heading's)."""
        piece = self.add(text, Role.ABSTRACT, page=page)
        if piece is None:
            return
        self.pieces.pop()
        for part, start, end in abstract_parts(self.text, piece.start, piece.end):
            own = part or label
            where = ("Abstract", own) if own else ("Abstract",)
            self.pieces.append(Piece(start, end, Role.ABSTRACT, where, page=page, label=own))

    def pop(self) -> None:
        """Take back the last piece and its text (a heading that continues on the next line)."""
        self.pieces.pop()
        del self.parts[-1]
        if self.parts:
            del self.parts[-1]  # its separator
        self.length = sum(map(len, self.parts))


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# --- what is not evidence ----------------------------------------------------------------

# Sections whose text is about the article, not its evidence.
_DECLARATION_HEADING = re.compile(
    r"^(?:conflicts? of interests?|competing interests?|declarations? of (?:competing )?"
    r"interests?|(?:financial )?disclosures?|acknowledge?ments?|authors?['’]? contributions?|"
    r"contributors?(?:hip)?(?: statement)?|abbreviations|consent for publication|"
    r"patient consent for publication|availability of data(?: and materials?)?|"
    r"data availability(?: statement)?|data sharing(?: statement)?|multimedia appendix \d*|"
    r"supplementary (?:material|information|files?|data)s?|supporting information|"
    r"provenance and peer review|orcid i?ds?|disclaimer|publisher['’]?s note|footnotes|"
    r"associated data|contributor information)\.?$",
    re.IGNORECASE,
)
# Headings that are page furniture a converter mistook for a heading: what follows them
# still belongs to the section before.
_FURNITURE_HEADING = re.compile(
    r"^(?:xsl\s*•\s*fo|renderx|open access|original (?:article|research))\.?$",
    re.IGNORECASE,
)
# Lines a journal prints on every page or around the article, never evidence.
_FURNITURE = re.compile(
    r"page number not for citation purposes|\|\s*vol(?:ume)?\.?\s*\d+\s*\||"
    r"^\s*(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?\s*$|XSL\s*•\s*FO|^RenderX$|"
    r"\bDownloaded from\b|\bProtected by copyright\b|\bfirst published as\b|^\s*©|"
    r"\bCopyright\s*(?:©|\(c\))|"
    r"\bCreative Commons\b|\bopen[- ]access article\b|\bOriginally published in\b|"
    r"\bdistributed under the terms of\b|"
    r"\[(?:DOCX|DOC|PDF|XLSX|XLS|PPTX|PNG|JPG|MP4|ZIP|TXT|CSV|RTF) File\b|"
    r"^Multimedia Appendix \d+\b|^(?:https?://|www\.)\S+$|^DOI:\s*10\.\S+$|"
    r"^(?:Received|Accepted|Published|Edited by|Reviewed by)\b[^.]{0,80}\d{2,4}\b|"
    r"\bPlease cite as:",
    re.IGNORECASE,
)
_DECLARATION_TEXT = re.compile(
    r"^(?:None declared|Not applicable|None|N/?A|Nil)\.?$|"
    r"\b(?:declare|report|have|has)s?\b[^.]{0,40}\bno\b[^.]{0,30}\b(?:competing|conflicts?)\b|"
    r"\bno (?:competing|conflicts? of) interests?\b|\bfunders? had no role\b|"
    r"\bnot (?:commissioned|externally peer reviewed)\b",
    re.IGNORECASE,
)


# "Louwagie G, et al. BMJ Open 2022;12:e056496." printed as a page's footer: a citation
# of the article itself. In a long paragraph the same shape is an inline citation.
_SELF_CITATION = re.compile(r"\b(?:19|20)\d{2};\s*\d+(?:\(\d+\))?:\s*e?\d+")
_PROSE_HEADING_WORDS = 15
_SHORT_BLOCK_WORDS = 40


def is_declaration_section(section: tuple[str, ...] | list[str]) -> bool:
    return any(_DECLARATION_HEADING.match(s.strip()) for s in section)


def is_furniture_heading(title: str, journal: str | None = None) -> bool:
    """`journal`: the paper's own journal. A "heading" opening with its name is the running
    head a converter kept ("JAMA Network Open | Health Policy"), never a section."""
    title = title.strip()
    if journal and title.casefold().startswith(journal.strip().casefold()):
        return True
    return bool(_FURNITURE_HEADING.match(title)) or is_furniture(title)


def is_prose_heading(title: str) -> bool:
    """A "heading" that is really prose (a quote or sentence a converter promoted)."""
    words = title.split()
    inner_stop = re.search(r"[.!?]\s+\S", title)
    return len(words) > _PROSE_HEADING_WORDS or (len(words) >= 8 and bool(inner_stop))


def is_page_furniture(text: str) -> bool:
    """Running heads, copyright and licence lines, stubs (not the self-citation footer,
    whose shape every reference entry shares)."""
    return bool(_FURNITURE.search(text))


def is_furniture(text: str) -> bool:
    if _FURNITURE.search(text):
        return True
    return len(text.split()) <= 25 and bool(_SELF_CITATION.search(text))


def is_declaration(text: str) -> bool:
    return bool(_DECLARATION_TEXT.search(text))


def not_evidence(text: str) -> bool:
    """Furniture, a declaration or a supplementary-file stub: never a passage."""
    return is_furniture(text) or is_declaration(text)


# --- metadata the page furniture states ---------------------------------------------------

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_JOURNAL_LINE = re.compile(
    rf"(?:^|\.|\s)(?!(?:{_MONTHS})\b)(?P<journal>[A-Z][A-Za-z&\- ]{{2,60}}?)\s+"
    r"(?P<year>(?:19|20)\d{2})\s*(?:\||;\s*\d)"
)
_PUBLISHED_IN = re.compile(
    r"Originally published in (?:the )?(?P<journal>[A-Z][^(,]{2,80}?)\s*\([^)]*\),\s*"
    r"(?:\d{1,2}\.){2}(?P<year>(?:19|20)\d{2})"
)
# A licence line: "…provided the original work, first published in JMIR Mental Health, is
# properly cited".
_FIRST_PUBLISHED = re.compile(r"\bfirst published in (?:the )?(?P<journal>[A-Z][^(,.]{2,80}?),")
# A footer citing the article in the medical style, opening its line: "JAMA Network Open.
# 2024;7(6):e2413515. doi:…".
_CITATION_LINE = re.compile(
    r"^(?P<journal>[A-Z][A-Za-z&\- ]{2,60}?)\.\s+(?P<year>(?:19|20)\d{2});\s*\d+(?:\(\d+\))?:"
)
_SITE_LINE = re.compile(r"^(?P<journal>[A-Z][A-Za-z ]{2,40}?) \| www\.")
# A running head citing the article after its authors, BMC and Springer style: "Prinja et
# al. Cost Eff Resour Alloc (2018) 16:25", "Smith and Jones BMC Psychiatry (2021) 21:315".
_AUTHORS_HEAD = re.compile(
    r"^[A-Z][\w'’\-]+(?: et al\.?| and [A-Z][\w'’\-]+)?\s+"
    r"(?P<journal>[A-Z][A-Za-z&.\- ]{2,60}?)\s+\((?P<year>(?:19|20)\d{2})\)\s+\d+:\s?[\w.]+"
)
# A journal line stating no year: "BMC Psychiatry | vol. 21 | iss. 1", or the article's
# DOI (PLOS): "PLOS Medicine | https://doi.org/10.1371/journal.pmed.1003964".
_VOLUME_LINE = re.compile(
    r"^(?P<journal>[A-Z][A-Za-z&\- ]{2,60}?)\s+\|\s+(?:vol\.\s*\d|https?://(?:dx\.)?doi\.org/)"
)
_MONTH_YEAR = re.compile(rf"\b(?:{_MONTHS}) (?P<year>(?:19|20)\d{{2}}) \| Vol")
DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>\]]+[^\s\"<>\].,;)])")
PMCID = re.compile(r"\bPMC\d{5,9}\b")


def journal_from_furniture(lines: list[str]) -> tuple[str | None, int | None]:
    """(journal, year) as a running header, footer or copyright line states them."""
    journal: str | None = None
    year: int | None = None
    for line in lines:
        patterns = (_PUBLISHED_IN, _JOURNAL_LINE, _SITE_LINE, _MONTH_YEAR, _FIRST_PUBLISHED)
        for pattern in (*patterns, _CITATION_LINE, _AUTHORS_HEAD, _VOLUME_LINE):
            m = pattern.search(line)
            if not m:
                continue
            found = m.groupdict()
            if found.get("journal") and not journal:
                journal = collapse(found["journal"])
            if found.get("year") and not year:
                year = int(found["year"])
    return journal, year


# --- references ---------------------------------------------------------------------------

_LABEL = re.compile(r"^\s*(?:\[(?P<b>\d{1,4})\]|(?P<n>\d{1,4})[.)])\s+")
_YEAR = re.compile(r"\b((?:19|20)\d{2})[a-z]?\b")
_SURNAME = re.compile(r"^\s*(?P<name>[A-Z][\w'’\-]*(?:\s(?:van|von|de|der|da)\s?[\w'’\-]+)?)")


def reference_label(text: str) -> tuple[int | None, int]:
    """The printed number of a reference entry ("12. …", "[12] …") and where its
    citation text starts."""
    m = _LABEL.match(text)
    if not m:
        return None, 0
    return int(m["b"] or m["n"]), m.end()


def reference_keys(citation: str) -> tuple[str | None, int | None]:
    """(first author's family name, year) of a reference entry, for author-year citations."""
    name = _SURNAME.match(citation)
    year = _YEAR.search(citation)
    return (name["name"] if name else None), (int(year.group(1)) if year else None)


# --- assembly -------------------------------------------------------------------------------

_LABEL_WORDS = (
    r"(?:Background|Objectives?|Aims?|Purpose|Introduction|Methods?|Design|"
    r"Setting|Participants|Interventions?|Measures|(?:Main |Primary )?[Oo]utcome measures?|"
    r"Results?|Findings|"
    r"Conclusions?|Interpretation|Implications|Discussion|Context|Trial registration(?: number)?|"
    r"Registration|Keywords|Limitations)(?: and [A-Za-z]+)?"
)
_ABSTRACT_LABEL = re.compile(
    # The sentence after a label opens in upper case ("Methods We…"), whatever the case of
    # the label: "Findings from the trials…" opens a part's text, it is no label.
    rf"^(?P<label>{_LABEL_WORDS})(?:\s*(?::\s*|\s{{2,}}|\t+|\*\*:?\s*)|(?-i:\s(?=[A-Z][a-z])))",
    re.IGNORECASE,
)
_LABEL_ONLY = re.compile(rf"^\**(?P<label>{_LABEL_WORDS})\s*:?\**$", re.IGNORECASE)
# Parts separated by tab or space runs, or (where whitespace was collapsed, as in HTML)
# a label word opening a sentence: ". Objective The aim…", ". Methods: We…".
_RUN = re.compile(rf"[ \t]{{4,}}|\t+|(?<=[.!?])\s+(?=(?:{_LABEL_WORDS})(?::\s|\s+[A-Z]))")


# The part a structured abstract ends with: a long paragraph after it, under the same
# heading, is the article's opening (converters leave an unheaded introduction there).
_CLOSING_LABEL = re.compile(r"^(?:conclusions?|interpretation|implications)\b", re.IGNORECASE)
BODY_WORDS = 25


def label_alone(text: str) -> str | None:
    """The label of an abstract part printed alone on its line ("Design"), else None."""
    m = _LABEL_ONLY.match(text.strip())
    return m["label"] if m else None


def is_closing_label(label: str | None) -> bool:
    return bool(label and _CLOSING_LABEL.match(label))


def opens_with_label(text: str) -> bool:
    """An abstract part with its label in front ("Results: Eight trials…")."""
    return bool(_ABSTRACT_LABEL.match(text))


def _indent_in_part(text: str, run: re.Match, start: int, end: int) -> bool:
    """A run of spaces that indents a line inside a part's text (a converter's wrapped
    "…(group difference = 0.02;\n    p\n    = 0.71)"), not a part boundary: no label
    alone on the line before or after it."""
    if not text[start : run.start()].endswith("\n"):
        return False
    before = text.rfind("\n", start, run.start() - 1)
    after = text.find("\n", run.end(), end)
    lines = (text[before + 1 : run.start()], text[run.end() : end if after < 0 else after])
    return not any(label_alone(line) for line in lines)


def abstract_parts(text: str, start: int, end: int) -> list[tuple[str | None, int, int]]:
    """A structured abstract's labelled parts: (label, start, end) with the label and
    the tab or space runs around it outside the span."""
    chunks: list[tuple[int, int]] = []
    cursor = start
    runs = [r for r in _RUN.finditer(text, start, end) if not _indent_in_part(text, r, start, end)]
    for run in [*runs, None]:
        span = trimmed(text, cursor, run.start() if run else end)
        if span:
            chunks.append(span)
        cursor = run.end() if run else end
    parts: list[tuple[str | None, int, int]] = []
    pending: str | None = None
    for s, e in chunks:
        piece = text[s:e]
        alone = _LABEL_ONLY.match(piece)
        if alone:
            pending = alone["label"]  # a label alone: the next chunk is its text
            continue
        label = _ABSTRACT_LABEL.match(piece)
        if label and not pending:
            body = trimmed(text, s + label.end(), e)
            if body:
                parts.append((label["label"], *body))
            continue
        if re.search(r"\w", piece):  # a stray "." left between parts is not a part
            parts.append((pending, s, e))
        pending = None
    return parts


@dataclass
class _Tables:
    tables: dict[str, PaperTable] = field(default_factory=dict)
    # Tables whose header may go on over the first body lines, and how many it took.
    sparse: dict[str, int] = field(default_factory=dict)

    def get(self, label: str, section: tuple[str, ...]) -> PaperTable:
        if label not in self.tables:
            self.tables[label] = PaperTable(label=label, section=list(section))
        return self.tables[label]


def _section_tree(headings: list[Piece]) -> list[PaperSection]:
    roots: list[PaperSection] = []
    stack: list[PaperSection] = []
    for h in headings:
        node = PaperSection(title=h.label or "", level=max(h.level, 1))
        while stack and stack[-1].level >= node.level:
            stack.pop()
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)
    return roots


def assemble(
    text: str,
    pieces: list[Piece],
    study: Study,
    media_type: str,
    pages: list[tuple[int, int]] | None = None,
    pmcid: str | None = None,
    keywords: list[str] | None = None,
    citations: list[PaperCitation] | None = None,
) -> ScholarlyPaper:
    """Sort the pieces into the paper's structure, dropping what is not evidence."""
    paper = ScholarlyPaper(
        text=text,
        media_type=media_type,
        study=study,
        pmcid=pmcid,
        keywords=keywords or [],
        pages=pages or [],
        citations=citations or [],
    )
    tables = _Tables()
    headings: list[Piece] = []
    for piece in pieces:
        span_text = text[piece.start : piece.end]
        span = Span(start=piece.start, end=piece.end, page=piece.page)
        if piece.role == Role.HEADING:
            headings.append(piece)
            continue
        # A long block with furniture spilled into it (GROBID does this) is kept: its
        # furniture sentences are dropped when passages are cut.
        entry = span_text[reference_label(span_text)[1] :]
        if piece.role == Role.REFERENCE and is_page_furniture(entry):
            paper.dropped.append(span)  # an editorial or copyright note in the list
            continue
        if piece.role == Role.TABLE_ROW and is_page_furniture(span_text):
            paper.dropped.append(span)  # the table's own DOI printed as its last row
            continue
        if piece.role == Role.FURNITURE or (
            piece.role not in (Role.REFERENCE, Role.TABLE_ROW, Role.TABLE_HEADER)
            and (
                is_declaration_section(piece.section)
                or (not_evidence(span_text) and len(span_text.split()) <= _SHORT_BLOCK_WORDS)
                # A running head ("Open access") printed as a line of its own.
                or bool(_FURNITURE_HEADING.match(span_text.strip()))
            )
        ):
            paper.dropped.append(span)
            continue
        block = PaperBlock(
            **span.model_dump(),
            section=list(piece.section),
            label=piece.label,
            list_item=piece.role == Role.LIST_ITEM,
        )
        if piece.role == Role.ABSTRACT:
            paper.abstract.append(block)
        elif piece.role in (Role.PARAGRAPH, Role.LIST_ITEM):
            paper.paragraphs.append(block)
        elif piece.role == Role.CAPTION:
            if piece.label and piece.label.startswith("Table"):
                tables.get(piece.label, piece.section).caption = span
            else:
                paper.captions.append(block)
        elif piece.role == Role.TABLE_HEADER:
            table = tables.get(piece.label or "Table", piece.section)
            table.header = _merge_header(table.header, piece.cells or [])
            if _sparse(table.header):
                tables.sparse[table.label] = 0
        elif piece.role == Role.TABLE_ROW:
            table = tables.get(piece.label or "Table", piece.section)
            if table.label in tables.sparse and not table.rows and _header_goes_on(table.header):
                if tables.sparse[table.label] < HEADER_LINES:
                    tables.sparse[table.label] += 1
                    table.header = _merge_header(table.header, piece.cells or [])
                    continue
            _add_row(table, piece)
        elif piece.role == Role.TABLE_NOTE:
            tables.get(piece.label or "Table", piece.section).notes.append(span)
        elif piece.role == Role.FOOTNOTE:
            paper.footnotes.append(block)
        elif piece.role == Role.REFERENCE:
            paper.references.append(_reference(text, piece, len(paper.references) + 1))
    paper.sections = _section_tree(headings)
    paper.tables = [t for t in tables.tables.values() if t.rows]
    for table in tables.tables.values():
        if not table.rows and table.caption:
            # A table whose body did not survive (a header alone): its caption still
            # says what it reports, and is read as a figure's caption is.
            s = table.caption
            paper.captions.append(
                PaperBlock(**s.model_dump(), section=list(table.section), label=table.label)
            )
    paper.captions.sort(key=lambda b: b.start)
    return paper


def _merge_header(header: list[str], cells: list[str]) -> list[str]:
    """A header printed on two lines ("Intervention periods," / "mean (SD)") reads as one."""
    if not header:
        return list(cells)
    n = max(len(header), len(cells))
    header = header + [""] * (n - len(header))
    cells = cells + [""] * (n - len(cells))
    return [collapse(f"{a} {b}") for a, b in zip(header, cells, strict=True)]


# A header printed over several lines, the first of which a converter took for the whole
# header ("[Reference number], | | | | Duration of |"): its next lines name the columns.
HEADER_LINES = 3


def _sparse(header: list[str]) -> bool:
    """At most half the columns past the first (a row-label column may go unnamed) named."""
    named = [bool(h.strip()) for h in header[1:]]
    return len(named) >= 2 and 2 * sum(named) <= len(named)


def _header_goes_on(header: list[str]) -> bool:
    return not all(h.strip() for h in header[1:])


def is_continuation(cells: list[str]) -> bool:
    """A row that carries on the one above: empty first cell and fewer than half the
    cells filled ("| | mean (SD) | (SD) | | |"). An empty first cell in an otherwise full
    row is a new row under a category printed once ("| | Urban | 9 | 32% |"). A row with
    a cell opening in lower case and none in upper case is the wrapped tails of the
    cells above ("| university | | psychology of learning and | 21 sessions |")."""
    filled = [c.strip() for c in cells if c.strip()]
    if not filled:
        return True
    if any(c[0].islower() for c in filled) and not any(c[0].isupper() for c in filled):
        return True
    return not cells[0].strip() and 2 * len(filled) < len(cells)


def _add_row(table: PaperTable, piece: Piece) -> None:
    cells = piece.cells or []
    if not table.rows and table.header and is_continuation(cells):
        table.header = _merge_header(table.header, cells)  # the header's second line
        return
    if table.rows and is_continuation(cells) and table.rows[-1].end <= piece.start:
        last = table.rows[-1]
        merged = [collapse(f"{a} {b}") for a, b in zip(last.cells, cells, strict=False)]
        merged += last.cells[len(merged) :] + cells[len(merged) :]
        table.rows[-1] = last.model_copy(update={"end": piece.end, "cells": merged})
        return
    cells = list(cells)
    if table.rows and cells and not cells[0].strip():
        cells[0] = table.rows[-1].cells[0]  # the category printed once above, for context
    table.rows.append(PaperTableRow(start=piece.start, end=piece.end, page=piece.page, cells=cells))


def _reference(text: str, piece: Piece, position: int) -> PaperReference:
    number, offset = reference_label(text[piece.start : piece.end])
    start = piece.start + offset
    surname, year = reference_keys(text[start : piece.end])
    n = int(piece.label) if piece.label and piece.label.isdigit() else number or position
    return PaperReference(
        start=start, end=piece.end, page=piece.page, n=n, surname=surname, year=year
    )
