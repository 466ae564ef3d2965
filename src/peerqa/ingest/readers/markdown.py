"""A paper as Markdown (what PDF converters and reference managers export) -> ScholarlyPaper.

The raw Markdown is the paper's text: every span is a slice of the file. The metadata
block ("**Authors:** …", "**DOI:** …") is read as metadata and is never a passage; the
abstract is split into its labelled parts; "## References" list items are the
reference list; pipe tables become tables with their header row; a "Table N" or
"Figure N" paragraph is a caption.
"""

from __future__ import annotations

import re

from markdown_it.token import Token

from peerqa.ingest.readers.base import (
    BODY_WORDS,
    DOI,
    PMCID,
    Piece,
    Role,
    abstract_parts,
    assemble,
    is_closing_label,
    is_furniture_heading,
    is_prose_heading,
    journal_from_furniture,
    label_alone,
    opens_with_label,
)
from peerqa.ingest.sources import _MARKDOWN, _blank_front_matter, _inline_plain, _markdown_span
from peerqa.models import ScholarlyPaper, Study
from peerqa.segment import trimmed

MEDIA_TYPE = "text/markdown"
_FIELD = re.compile(r"^\s*\*\*(?P<key>[A-Za-z ]+):\*\*\s*(?P<value>.*?)\s*$")
_CAPTION = re.compile(r"^(?P<kind>Table|Figure|Fig\.)\s*(?P<n>[A-Z]?\d+)\b")
_REFERENCES = re.compile(r"^(?:references?|bibliography|literature cited|works cited)$", re.I)
_ABSTRACT = re.compile(r"^(?:abstract|summary)$", re.I)
_FOOTNOTES = re.compile(r"^(?:foot ?notes|notes)$", re.I)


def looks_like_paper(text: str) -> bool:
    """A metadata block, or both an abstract and a reference list."""
    fields = {m["key"].lower() for line in text.split("\n") if (m := _FIELD.match(line))}
    if fields & {"authors", "doi", "journal"}:
        return True
    headings = {h.strip().lower() for h in re.findall(r"^#{1,6}\s+(.+)$", text, re.M)}
    return bool(headings & {"abstract", "summary"}) and bool(
        headings & {"references", "bibliography", "reference"}
    )


def _year(value: str) -> int | None:
    m = re.search(r"\b(?:19|20)\d{2}\b", value)
    return int(m.group()) if m else None


class _Walker:
    def __init__(self, text: str) -> None:
        self.text = text
        self.offsets = [0, *(m.end() for m in re.finditer("\n", text)), len(text)]
        self.pieces: list[Piece] = []
        self.fields: dict[str, str] = {}
        self.title = ""
        self.path: list[tuple[int, str]] = []
        self.table_label: str | None = None
        self.tables = 0
        self.after_table: str | None = None  # prose right after a table belongs to it
        self.pending_caption: str | None = None  # "Table 2 …" seen, its table not yet
        self.item_number: str = ""
        self.part_label: str | None = None  # an abstract part's label printed alone
        self.closed = False  # the abstract's closing part has been read
        self.last_part: str | None = None  # the label of the abstract part read last

    @property
    def section(self) -> tuple[str, ...]:
        return tuple(t for _, t in self.path)

    def line_span(self, token: Token) -> tuple[int, int] | None:
        assert token.map is not None
        return trimmed(self.text, self.offsets[token.map[0]], self.offsets[token.map[1]])

    def walk(self, tokens: list[Token]) -> None:
        in_item = 0
        in_head = False
        for token, following in zip(tokens, [*tokens[1:], None], strict=True):
            if token.type == "list_item_open":
                in_item += 1
                self.item_number = token.info
            elif token.type == "list_item_close":
                in_item -= 1
            elif token.type == "thead_open":
                in_head = True
            elif token.type == "thead_close":
                in_head = False
            elif token.type == "heading_open" and following is not None:
                self.heading(token, following)
            elif token.type == "paragraph_open" and following is not None:
                span = _markdown_span(self.text, self.offsets, token, following)
                if span:
                    self.paragraph(*span, in_item > 0)
            elif token.type == "code_block" and token.map:
                # Converters indent text (a structured abstract's parts, say) by four
                # spaces or more, which Markdown reads as code: in a paper it is text.
                span = self.line_span(token)
                if span:
                    self.paragraph(*span, in_item > 0)
            elif token.type == "tr_open" and token.map:
                span = self.line_span(token)
                if span:
                    self.row(*span, header=in_head)
            elif token.type == "table_close":
                self.after_table = self.table_label

    def heading(self, token: Token, inline: Token) -> None:
        title = _inline_plain(inline)
        span = self.line_span(token)
        if not title or not span:
            return
        level = int(token.tag[1])
        if level == 1 and not self.title:
            self.title = title
            self.pieces.append(Piece(*span, Role.FURNITURE))
            return
        start = self.text.find(title[:20], *span)
        start = start if start >= 0 else span[0]
        if is_prose_heading(title):
            # A converter's heading that is really a quote or a sentence: prose it stays.
            self.pieces.append(Piece(start, span[1], Role.PARAGRAPH, section=self.section))
            return
        journal = next((v for k, v in self.fields.items() if k.lower() == "journal"), None)
        if is_furniture_heading(title, journal):
            self.pieces.append(Piece(*span, Role.FURNITURE))
            return
        while self.path and self.path[-1][0] >= level:
            self.path.pop()
        self.path.append((level, title))
        self.after_table = None
        self.pieces.append(
            Piece(start, span[1], Role.HEADING, self.section, label=title, level=len(self.path))
        )

    def paragraph(self, start: int, end: int, listed: bool) -> None:
        body = self.text[start:end]
        lines = body.split("\n")
        fields = [m for line in lines if (m := _FIELD.match(line))]
        if fields and len(fields) == len(lines):
            self.fields.update({m["key"].strip(): m["value"] for m in fields})
            self.pieces.append(Piece(start, end, Role.FURNITURE))  # the author/DOI block
            return
        heading = self.path[-1][1] if self.path else ""
        if _REFERENCES.match(heading):
            self.pieces.append(
                Piece(start, end, Role.REFERENCE, ("References",), label=self.item_number or None)
            )
            self.item_number = ""
            return
        in_abstract = any(_ABSTRACT.match(t) for t in self.section)
        if in_abstract and not self.abstract_over(body):
            pending, self.part_label = self.part_label, label_alone(body)
            for label, s, e in abstract_parts(self.text, start, end):
                # The text of a label printed on its own line, or a paragraph the part
                # above runs on into.
                own = label or pending
                label = own or self.last_part
                pending, self.last_part = None, label
                self.closed = self.closed or is_closing_label(label)
                where = ("Abstract", label) if label else ("Abstract",)
                self.pieces.append(Piece(s, e, Role.ABSTRACT, where, label=own))
            return
        if _FOOTNOTES.match(heading):
            self.pieces.append(Piece(start, end, Role.FOOTNOTE, self.section))
            return
        caption = _CAPTION.match(body)
        if caption:
            kind = "Table" if caption["kind"] == "Table" else "Figure"
            label = f"{kind} {caption['n']}"
            if kind == "Table":
                self.pending_caption, self.after_table = label, None
            self.pieces.append(Piece(start, end, Role.CAPTION, (label,), label=label))
            return
        section = (self.after_table,) if self.after_table else self.section
        if in_abstract:
            section = ()  # the unheaded opening of the article
        self.pieces.append(Piece(start, end, Role.LIST_ITEM if listed else Role.PARAGRAPH, section))

    def abstract_over(self, body: str) -> bool:
        """A long paragraph after a structured abstract's conclusions (and not the text
        of a label above it) under the abstract's heading: the article has begun."""
        return (
            self.closed
            and self.part_label is None
            and len(body.split()) >= BODY_WORDS
            and not opens_with_label(body)
        )

    def row(self, start: int, end: int, header: bool) -> None:
        line = self.text[start:end]
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header:  # a table starts: it is the captioned one, or the next number
            self.table_label = self.pending_caption or f"Table {self.tables + 1}"
            self.pending_caption = None
            self.tables = max(self.tables, int(re.sub(r"\D", "", self.table_label) or 0))
        label = self.table_label or "Table"
        filled = [i for i, c in enumerate(cells) if c]
        if not filled:
            return
        # The row's span runs from its first to its last non-empty cell: no edge pipes.
        first = line.find(cells[filled[0]])
        last = line.rfind(cells[filled[-1]]) + len(cells[filled[-1]])
        role = Role.TABLE_HEADER if header else Role.TABLE_ROW
        self.pieces.append(
            Piece(start + first, start + last, role, (label,), label=label, cells=cells)
        )


def read_markdown_paper(text: str) -> ScholarlyPaper:
    walker = _Walker(text)
    walker.walk(_MARKDOWN.parse(_blank_front_matter(text)))
    f = {k.lower(): v for k, v in walker.fields.items()}
    authors = [a.strip() for a in re.split(r",|;|\band\b", f.get("authors", "")) if a.strip()]
    doi = f.get("doi") or None
    if doi is None and (m := DOI.search(text)):
        doi = m.group(1)
    journal = f.get("journal") or None
    year = _year(f.get("year", "")) or _year(f.get("date", ""))
    if journal is None or year is None:
        lines = [
            text[p.start : p.end]
            for p in walker.pieces
            if p.role in (Role.FOOTNOTE, Role.FURNITURE)
        ]
        found_journal, found_year = journal_from_furniture(lines)
        journal, year = journal or found_journal, year or found_year
    pmcid = f.get("pmcid") or ((m := PMCID.search(text)) and m.group()) or None
    study = Study(title=walker.title or None, authors=authors, year=year, journal=journal, doi=doi)
    return assemble(text, walker.pieces, study, MEDIA_TYPE, pmcid=pmcid)
