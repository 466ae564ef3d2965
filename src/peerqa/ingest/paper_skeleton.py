"""The bundled paper's source read into its skeleton, line by line: the section path
(headings, the structured abstract's parts), blocks of prose (short lines sharing one),
pipe tables (caption, header, rows) and the reference list's lines. paper.py cuts the
skeleton into passages. A line that fits none of these raises ValueError naming it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from peerqa.segment import word_count

# --- document structure -------------------------------------------------------------

TOP_LEVEL_SECTIONS = frozenset(
    {
        "Abstract",
        "Background",
        "Methods",
        "Results",
        "Discussion",
        "Conclusion",
        "Supplementary Material",
        "Contributor Information",
        "Funding",
        "Ethical approval",
        "Conflict of interest",
        "Data availability",
        "References",
        "Associated Data",
    }
)
# The structured abstract reuses top-level names ("Methods", "Results") as its parts.
ABSTRACT_PARTS = frozenset({"Purpose", "Methods", "Results", "Conclusions", "Key messages"})
# The one heading printed with a full stop; every other heading ends without one.
PERIOD_HEADINGS = frozenset({"Key messages."})
KEYWORDS_PREFIX = "Keywords:"
MAX_HEADING_WORDS = 20
# Consecutive lines this short (key-message bullets, contributor lines, table notes)
# are too small to retrieve alone, so they may share a passage.
SHORT_LINE_WORDS = 30

_TABLE_CAPTION = re.compile(r"^Table (\d+)\.$")
_TABLE_SEPARATOR = re.compile(r"^[-|: ]+$")
_REFERENCE_LINE = re.compile(r"^- (?P<n>\d+)\. ")
# PMC appends link labels to each reference; they are navigation, not citation text.
_REFERENCE_LINKS = re.compile(r"(?:\s*\[(?:DOI|PMC free article|PubMed|Google Scholar)\])+$")
# A heading ends in a letter, or in a closing quote after one ("…“get through this”").
_HEADING_END = re.compile(r"[^\W\d_][”’\"]?$")


@dataclass(frozen=True)
class Line:
    """A non-empty source line, trimmed, with its absolute offsets."""

    start: int
    end: int
    text: str


@dataclass
class Block:
    """Prose lines of one section that passages are cut from (never across blocks)."""

    section: str
    lines: list[Line]


@dataclass
class Table:
    name: str
    header: list[Line]
    rows: list[Line]


@dataclass
class Skeleton:
    blocks: list[Block] = field(default_factory=list)
    tables: dict[str, Table] = field(default_factory=dict)
    references: list[Line] = field(default_factory=list)
    results_subsections: list[str] = field(default_factory=list)


# --- reading the source -------------------------------------------------------------


def _lines(text: str) -> list[Line]:
    return _pieces(text, "\n", 0)


def _pieces(text: str, separator: str, offset: int) -> list[Line]:
    """The non-empty pieces of `text` between one-character separators, trimmed, with
    absolute offsets (`offset`: where `text` starts in the source)."""
    pieces = []
    for raw in text.split(separator):
        stripped = raw.strip()
        if stripped:
            start = offset + raw.index(stripped)
            pieces.append(Line(start, start + len(stripped), stripped))
        offset += len(raw) + 1
    return pieces


def _is_heading(line: str) -> bool:
    if line in PERIOD_HEADINGS or _TABLE_CAPTION.match(line):
        return True
    if "|" in line or line.startswith("- ") or line.startswith(KEYWORDS_PREFIX):
        return False
    return word_count(line) <= MAX_HEADING_WORDS and bool(_HEADING_END.search(line))


def row_cells(line: Line) -> list[Line]:
    """The non-empty cells of a pipe-table row, with absolute offsets."""
    return _pieces(line.text, "|", line.start)


def row_span(line: Line) -> tuple[int, int]:
    """A table row without its trailing pipe padding ("25–44 | 11 (26) |")."""
    cells = row_cells(line)
    return cells[0].start, cells[-1].end


class Scanner:
    """Walks the lines once, tracking the section path, and sorts them into a skeleton."""

    def __init__(self, text: str) -> None:
        self.lines = _lines(text)
        self.skeleton = Skeleton()
        self.top: str | None = None
        self.section: str | None = None
        self.open_block: Block | None = None  # a run of short lines still accepting more

    def scan(self) -> Skeleton:
        i = 0
        while i < len(self.lines):
            i = self._step(i)
        return self.skeleton

    def _step(self, i: int) -> int:
        line = self.lines[i]
        caption = _TABLE_CAPTION.match(line.text)
        if caption:
            return self._table(i, f"Table {caption.group(1)}")
        if "|" in line.text:
            raise ValueError(f"pipe-table row outside a table at offset {line.start}")
        if self.top == "References" and _REFERENCE_LINE.match(line.text):
            self.skeleton.references.append(line)
        elif _is_heading(line.text):
            self._heading(line.text.rstrip("."))
        elif self.top == "References":
            raise ValueError(f"unexpected line in References at offset {line.start}")
        else:
            self._prose(line)
        return i + 1

    def _heading(self, name: str) -> None:
        self.open_block = None
        if self.top == "Abstract" and name in ABSTRACT_PARTS:
            self.section = f"Abstract > {name}"
        elif name in TOP_LEVEL_SECTIONS:
            self.top = self.section = name
        elif self.top is None:
            raise ValueError(f"heading {name!r} before any top-level section")
        else:
            self.section = f"{self.top} > {name}"
            if self.top == "Results":
                self.skeleton.results_subsections.append(name)

    def _prose(self, line: Line, section: str | None = None) -> None:
        if line.text.startswith(KEYWORDS_PREFIX):
            self.section = self.top  # keywords belong to the abstract, not its last part
        section = section or self.section
        if section is None:
            raise ValueError(f"text before any heading at offset {line.start}")
        short = word_count(line.text) <= SHORT_LINE_WORDS
        block = self.open_block
        if short and block and block.section == section:
            block.lines.append(line)
            return
        block = Block(section, [line])
        self.skeleton.blocks.append(block)
        self.open_block = block if short else None

    def _table(self, i: int, name: str) -> int:
        if name in self.skeleton.tables:
            raise ValueError(f"{name} appears twice")
        j = i + 1
        while j < len(self.lines) and self.lines[j].text.endswith("|"):
            j += 1
        rows = self.lines[i + 1 : j]
        empty = next((row for row in rows if not row_cells(row)), None)
        if empty:
            raise ValueError(f"{name}: empty row at offset {empty.start}")
        separators = [k for k, row in enumerate(rows) if _TABLE_SEPARATOR.match(row.text)]
        if not separators or separators[0] == 0 or separators[0] == len(rows) - 1:
            raise ValueError(f"{name}: expected header, separator line and rows")
        sep = separators[0]
        self.skeleton.tables[name] = Table(name, rows[:sep], rows[sep + 1 :])
        self.open_block = None
        return self._table_notes(j, name)

    def _table_notes(self, j: int, name: str) -> int:
        """Short lines right after a table are its notes; a long line resumes the prose."""
        while j < len(self.lines):
            line = self.lines[j]
            if (
                _is_heading(line.text)
                or "|" in line.text
                or word_count(line.text) > SHORT_LINE_WORDS
            ):
                break
            self._prose(line, section=name)
            j += 1
        self.open_block = None
        return j


# --- references ---------------------------------------------------------------------


def _reference_span(line: Line) -> tuple[int, int, int]:
    """(n, start, end) of a reference's citation text, without prefix and link labels."""
    m = _REFERENCE_LINE.match(line.text)
    if not m:
        raise ValueError(f"not a reference entry at offset {line.start}")
    body = _REFERENCE_LINKS.sub("", line.text[m.end() :]).rstrip()
    if not body:
        raise ValueError(f"reference {m.group('n')} has no citation text")
    start = line.start + m.end()
    return int(m.group("n")), start, start + len(body)


def parse_references(lines: list[Line]) -> dict[int, tuple[int, int]]:
    spans = {}
    for expected, line in enumerate(lines, start=1):
        n, start, end = _reference_span(line)
        if n != expected:
            raise ValueError(f"reference list out of order: found {n}, expected {expected}")
        spans[n] = (start, end)
    if not spans:
        raise ValueError("no reference list found")
    return spans


def reference_title(citation: str) -> str:
    """A reference's title: the segment after the authors ("Authors.. Title. Journal")."""
    segments = [s for s in re.split(r"\.(?:\s*\.)*\s+", citation) if s]
    return segments[1] if len(segments) > 1 else citation
