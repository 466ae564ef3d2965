"""A journal-style PDF -> ScholarlyPaper, from word positions (pdfplumber).

What a journal PDF does and how it is undone:
- two columns: each page's lines are split at the gutter and read left column, then
  right, between full-width bands (title block, tables);
- running headers and footers, page numbers, journal/volume lines: lines in the top
  and bottom margins are furniture (kept aside for metadata, never in the text);
- end-of-line hyphenation: "hyphen-" + "ation" is joined to "hyphenation", unless the
  document prints that word with its hyphen elsewhere ("peer-led");
- ligatures (ﬁ, ﬂ, …) become their letters;
- ruled tables: cells come from the rules (pdfplumber's table finder), one line per row.

pdf_page.py reads each page into lines and tables in reading order and sorts out the
furniture; the extracted text is laid out here (blocks separated by blank lines, a
paragraph's lines joined); passages are verbatim spans of it, each with its page.
"""

from __future__ import annotations

import functools
import io
import itertools
import re
import statistics
from collections import Counter

import pdfplumber

from peerqa.config import bundled_model_path
from peerqa.ingest.readers.base import (
    DOI,
    PMCID,
    Role,
    TextBuilder,
    assemble,
    collapse,
    is_closing_label,
    is_furniture,
    is_furniture_heading,
    is_page_furniture,
    is_prose_heading,
    journal_from_furniture,
)
from peerqa.ingest.readers.pdf_page import Line, Page, Table, read_page, sort_furniture
from peerqa.models import ScholarlyPaper, Study
from peerqa.words import HYPHENATED, words_of

MEDIA_TYPE = "application/pdf"
_REFERENCES = re.compile(r"^(?:references?|bibliography|literature cited)$", re.I)
_ABSTRACT = re.compile(r"^(?:abstract|summary)$", re.I)
_ENTRY = re.compile(r"^(?:\[\d{1,4}\]|\d{1,4}\.)\s")
_CAPTION = re.compile(r"^(?P<kind>Table|Figure|Fig\.)\s*(?P<n>\d+)[.:]?\s")
# A structured abstract's part label set on its own line ("Methods and results:",
# "Aims & hypothesis:", "Patient or public contribution:").
_LABEL_LINE = re.compile(r"^[A-Z][^:.!?]{2,60}:$")
_CONTINUED = re.compile(r"\((?:continued|cont(?:'|’)?d\.?)\)", re.I)
_URL_LINE = re.compile(r"^(?:https?://|www\.)\S+$")
_SUFFIXES = frozenset(
    "ing ings ed er ers ly tion tions sion ment ments ness able ible ity ities ive ives ous "
    "al ally ized ised ize ise ic ical ist ists ism ance ence ant ent ship ful less ward".split()
)
_SENTENCE_END = re.compile(r"[a-z0-9)\]%][.!?](?:\s|$)")
_CAPTION_LABEL = re.compile(r"^(?:Table|Figure|Fig\.)\s*\d+\s*[.:|]")
_BULLET = re.compile(r"^(?:[•▪►●-]|\(?\d{1,2}\))\s")
_GLYPH_BULLET = re.compile(r"^[•▪►●]\s")
_AFFILIATION = re.compile(r"\b(?:University|Department|Institute|School|Hospital|Centre|Center)\b")


@functools.cache
def _dictionary() -> frozenset[str]:
    """Whole English words (the embedding model's word-level vocabulary): tells a
    compound broken at its own hyphen ("severely-" / "ill") from a word a typesetter
    broke ("commu-" / "nity") when the document never prints either form whole."""
    try:
        vocab = (bundled_model_path() / "vocab.txt").read_text(encoding="utf-8").split()
    except (OSError, ImportError):
        return frozenset()
    return frozenset(w for w in vocab if w.isalpha() and len(w) >= 2)


class _Layout:
    """Ordered lines and tables -> the paper's text and pieces."""

    def __init__(self, pages: list[Page], journal: str | None = None) -> None:
        self.pages = pages
        self.journal = journal  # the paper's own: a heading opening with it is a running head
        lines = [i for p in pages for i in p.items if isinstance(i, Line)]
        sizes = Counter(round(line.size, 1) for line in lines for _ in line.text)
        self.body_size = sizes.most_common(1)[0][0] if sizes else 10.0
        gaps = [
            b.top - a.top
            for a, b in zip(lines, lines[1:], strict=False)
            if a.page == b.page
            and a.column == b.column
            and 0 < b.top - a.top < 3 * self.body_size
            and abs(a.size - self.body_size) < 0.5
            and abs(b.size - self.body_size) < 0.5
        ]
        self.leading = statistics.median(gaps) if gaps else self.body_size * 1.2
        self.right_edge: dict[tuple[int, int], float] = {}
        for line in lines:
            key = (line.page, line.column)
            self.right_edge[key] = max(self.right_edge.get(key, 0.0), line.x1)
        # Each pair of a compound's neighbouring parts: "intention-to-treat" counts
        # "intention-to" and "to-treat" (a line may end at either hyphen).
        self.hyphenated = Counter(
            f"{a}-{b}".lower()
            for line in lines
            for w in HYPHENATED.findall(line.text)
            for a, b in itertools.pairwise(w.split("-"))
        )
        self.printed = _vocabulary(lines)  # each word printed whole, with its count
        self.vocabulary = set(self.printed)
        self.stems = {w[: -len(e)] for w in self.vocabulary for e in _INFLECTIONS if w.endswith(e)}
        self.out = TextBuilder()
        self.marks: list[tuple[int, int]] = []  # (text offset, page) where each line starts
        self.section: tuple[str, ...] = ()
        self.title = ""
        self.front: list[Line] = []  # lines between the title and the abstract
        self.tables = 0
        self.caption: str | None = None
        self.headers: dict[str, list[str]] = {}  # each table's header row, by label
        self.last_heading: Line | None = None
        self.entries = 0  # reference entries seen
        self.closed = False  # a structured abstract's closing part has begun

    # -- classification --------------------------------------------------------------

    def is_heading(self, line: Line) -> bool:
        words = line.text.split()
        return (
            line.bold
            and len(words) <= 15
            and line.size >= self.body_size - 0.1
            and not line.text.endswith(":")
            and not _CAPTION.match(line.text)
        )

    def is_title(self, line: Line) -> bool:
        return line.page == 1 and line.size >= self.body_size + 3

    # -- paragraphs ------------------------------------------------------------------

    def run(self) -> None:
        para: list[Line] = []
        label: str | None = None
        in_front = True
        for item in (i for page in self.pages for i in page.items):
            if isinstance(item, Table):
                self.emit(para, label)
                para, label = [], None
                self.table(item)
                continue
            line = item
            if self.is_title(line):
                self.title = collapse(f"{self.title} {line.text}")
                continue
            if in_front and self.title and not self.section:
                starts = _ABSTRACT.match(line.text) or _LABEL_LINE.match(line.text)
                if starts or (self.is_heading(line) and self.front):
                    in_front = False
                    self.front_abstract()
                else:
                    self.front.append(line)  # authors, affiliations, DOI
                    continue
            if line.bold and (_LABEL_LINE.match(line.text) or _ABSTRACT.match(line.text)):
                self.emit(para, label)
                para = []
                label = line.text.rstrip(":") if _LABEL_LINE.match(line.text) else None
                self.closed = self.closed or is_closing_label(label)
                if not self.section or _ABSTRACT.match(line.text):
                    self.section = ("Abstract",)
                continue
            if self.is_heading(line):
                self.emit(para, label)
                para, label = [], None
                self.heading(line)
                continue
            self.last_heading = None
            if para and self.breaks(para[-1], line):
                self.emit(para, label)
                para = []
                if self.section == ("Abstract",) and self.closed:
                    # The paragraph after a structured abstract's last part is the
                    # article's opening, though it may carry no heading.
                    label, self.section = None, ()
            para.append(line)
        if in_front:
            self.front_abstract()  # a paper with no heading after its abstract
        self.emit(para, label)

    def front_abstract(self) -> None:
        """An abstract printed without an "Abstract" heading or part labels: the front
        matter's first block of prose (sentences, mostly lower-case words), unlike the
        author list, affiliations and DOI line above it, and everything after it."""
        blocks: list[list[Line]] = []
        for line in self.front:
            if blocks and not self.breaks(blocks[-1][-1], line):
                blocks[-1].append(line)
            else:
                blocks.append([line])
        first = next((k for k, b in enumerate(blocks) if _is_prose(self.joined(b)[0])), None)
        if first is None:
            return
        self.front = [line for b in blocks[:first] for line in b]
        self.section = ("Abstract",)
        for block in blocks[first:]:
            self.emit(block, None)

    def page_ranges(self) -> list[tuple[int, int]]:
        """Each page's (start, end) in the text, from where its first line landed."""
        starts: dict[int, int] = {}
        for offset, page in self.marks:
            starts.setdefault(page, offset)
        bounds = sorted(starts.items())
        ranges = []
        for n in range(1, len(self.pages) + 1):
            start = starts.get(n)
            if start is None:
                ranges.append((ranges[-1][1] if ranges else 0,) * 2)
                continue
            later = [s for p, s in bounds if p > n]
            ranges.append((start, later[0] if later else self.out.length))
        return ranges

    def wrapped(self, line: Line) -> bool:
        """Whether a line runs to its column's right edge (so it continues below)."""
        return (
            line.text.endswith("-")
            or line.x1
            >= self.right_edge.get((line.page, line.column), line.x1) - 2 * self.body_size
        )

    def breaks(self, previous: Line, line: Line) -> bool:
        """Whether `line` starts a new block after `previous`."""
        if self.section and _REFERENCES.match(self.section[-1]):
            # A new entry is the next number (a wrapped line may start "2019. Available").
            entry = _ENTRY.match(line.text)
            if entry and int(re.sub(r"\D", "", entry.group())) == self.entries + 1:
                self.entries += 1
                return True
            # A page's furniture is not part of an entry; an entry's URL on a line of its
            # own is.
            return is_page_furniture(line.text) and not _URL_LINE.match(line.text)
        if _GLYPH_BULLET.match(line.text):
            return True
        if (_CAPTION.match(line.text) or _BULLET.match(line.text)) and not self.mid_sentence(
            previous
        ):
            return True  # "Table 1 is by…" or "(3) token gifts…" wrapped to a line's start
        if _CAPTION_LABEL.match(line.text) and (
            line.page != previous.page or line.column != previous.column
        ):
            return True  # a table's caption atop a page, after a block a URL left open
        if abs(line.size - previous.size) > 0.6:
            return True
        if line.page != previous.page or line.column != previous.column:
            # A paragraph carries on into the next column or page unless the last line
            # closed a sentence and the new one starts with a capital.
            closed = re.search(r"[.!?:)\]”\"]$", previous.text)
            return bool(closed) and not line.text[:1].islower()
        return line.top - previous.top > 1.45 * self.leading

    def fills(self, line: Line) -> bool:
        """Whether a line takes most of its column: it broke before a word that would not
        fit (a long word leaves a wide gap, so `wrapped` alone misses it)."""
        edge = self.right_edge.get((line.page, line.column), line.x1)
        return self.wrapped(line) or line.x1 - line.x0 >= 0.6 * (edge - line.x0)

    def mid_sentence(self, line: Line) -> bool:
        """A line that runs on into the next: it fills its column and ends without
        closing a sentence or clause."""
        return self.fills(line) and not re.search(r"[.!?:;)\]”\"]$", line.text)

    def heading(self, line: Line) -> None:
        """A heading line; the next line of a heading printed on two joins it."""
        if _REFERENCES.match(line.text):
            self.entries = 1  # its first entry opens the block after the heading
        previous = self.last_heading
        if (
            previous
            and self.fills(previous)
            and not re.search(r"[.!?:]$", previous.text)
            and line.column == previous.column
            and line.top - previous.top <= min(1.6 * self.leading, 1.3 * previous.size)
        ):
            self.out.pop()
            line = Line(
                self.joined([previous, line])[0],
                previous.x0,
                line.x1,
                previous.top,
                line.bottom,
                line.size,
                True,
                previous.page,
                previous.column,
            )
        self.last_heading = line
        title = line.text
        if is_furniture_heading(title, self.journal):
            return
        if is_prose_heading(title):  # a quote or sentence set in bold: prose
            self.out.add(title, Role.PARAGRAPH, section=self.section, page=line.page)
            return
        self.section = (title,)
        self.out.add(
            title, Role.HEADING, section=self.section, page=line.page, label=title, level=1
        )

    def joined(self, lines: list[Line]) -> tuple[str, list[tuple[int, int]]]:
        """The lines as one paragraph, and where each line starts (offset, page)."""
        text = ""
        marks = []
        previous: Line | None = None
        for line in lines:
            if previous and self.broken_word(previous):
                pass  # a URL too long for the line, broken between two characters
            elif re.search(r"\S-$", text):
                # A line never breaks at a space after a hyphen: the hyphen is the
                # word's own ("peer-" / "led", "359-" / "364", "55%-" / "56.5%") or a
                # line-end one.
                if self.soft_hyphen(text, line.text):
                    text = text[:-1]
            elif text:
                text += " "
            marks.append((len(text), line.page))
            text += line.text
            previous = line
        return text, marks

    def broken_word(self, line: Line) -> bool:
        """A line that is one word running the column's width: a word no line could
        hold (a URL, a DOI), which carries on at the next line's start without a space."""
        edge = self.right_edge.get((line.page, line.column), line.x1)
        return " " not in line.text and line.x1 >= edge - self.body_size and len(line.text) > 20

    def cell(self, text: str) -> str:
        """A table cell's lines joined as a paragraph's are (a word hyphenated at the
        cell's edge is one word again)."""
        out = ""
        for piece in (collapse(p) for p in text.split("\n")):
            if not piece:
                continue
            if re.search(r"\S-$", out):
                out = out[:-1] if self.soft_hyphen(out, piece) else out
            elif out:
                out += " "
            out += piece
        return out

    def soft_hyphen(self, text: str, following: str) -> bool:
        """Whether the hyphen ending `text` was put there to break a word across lines:
        the document prints the joined word elsewhere, or the parts are not both words
        ("commu-" / "nity"), unless it prints the hyphenated word ("self-help", "one-on-one")."""
        head = re.search(r"([^\W\d_]+)-$", text)
        tail = re.match(r"(?=[^\W\d_A-Z])[^\W\d_]+", following)
        if not head or not tail:
            return False  # a number range, a capital after the hyphen ("non-HIPAA")
        first, rest = head.group(1).lower(), tail.group().lower()  # "Com-" / "mCare"
        # Printed both ways ("well-being" and "wellbeing"): the commoner spelling, the
        # hyphen on a tie.
        hyphenated = self.hyphenated[f"{first}-{rest}"]
        if hyphenated and hyphenated >= self.printed[first + rest]:
            return False
        # The joined word, or its stem ("post-" / "graduates" where only "postgraduate"
        # is printed whole), is a word of the document or the dictionary.
        joined = first + rest
        stems = [joined[: -len(e)] for e in _INFLECTIONS if joined.endswith(e)]
        for word in (joined, *stems):
            if len(word) > len(first) and (word in self.vocabulary or word in _dictionary()):
                return True
        # Another inflection of it is printed whole ("lever-" / "aged" where the paper
        # prints "leveraging"): the same stem.
        if any(len(stem) > len(first) and stem in self.stems for stem in stems):
            return True
        if rest in _SUFFIXES:
            return True  # "tailor-" / "ing": a word's ending, never a word of a compound
        # A word and a suffix, broken inside the suffix ("companions-" / "hip" from
        # "companion" + "ship"): one word, however its pieces read.
        known = self.vocabulary | _dictionary()
        for suffix in _SUFFIXES:
            base = joined[: -len(suffix)]
            if (
                joined.endswith(suffix)
                and len(base) < len(first)
                and len(base) >= _MIN_BASE
                and base in known
            ):
                return True
        return not (first in known and rest in known)

    def emit(self, lines: list[Line], label: str | None) -> None:
        if not lines:
            return
        text, marks = self.joined(lines)
        page = lines[0].page
        start = self.out.length + (2 if self.out.parts else 0)
        self.marks += [(start + offset, p) for offset, p in marks]
        section = self.section
        if section[:1] == ("Abstract",):
            self.out.add_abstract(text, label, page=page)
            return
        if section and _REFERENCES.match(section[-1]) and _ENTRY.match(text):
            self.out.add(text, Role.REFERENCE, section=("References",), page=page)
            return
        caption = _CAPTION.match(text)
        if caption and (lines[0].bold or _CAPTION_LABEL.match(text)):
            kind = "Table" if caption["kind"] == "Table" else "Figure"
            label = f"{kind} {caption['n']}"
            if kind == "Table" and _CONTINUED.search(text[:40]) and label in self.headers:
                # "Table 2 (continued)" over the rest of a table: its rows join the table.
                self.caption = label
                self.out.add(text, Role.FURNITURE, section=(label,), page=page)
                return
            self.caption = label if kind == "Table" else self.caption
            self.out.add(text, Role.CAPTION, section=(label,), page=page, label=label)
            return
        role = Role.LIST_ITEM if _BULLET.match(text) else Role.PARAGRAPH
        if is_furniture(text) and len(text.split()) <= 12:
            role = Role.FURNITURE
        self.out.add(text, role, section=section, page=page)

    def table(self, table: Table) -> None:
        self.marks.append((self.out.length + 2, table.page))
        label = self.caption or f"Table {self.tables + 1}"
        self.caption = None
        self.tables += label not in self.headers  # a continuation is not a new table
        rows = [[self.cell(c) for c in cells] for cells in table.rows]
        if rows and self.headers.get(label) == rows[0]:
            rows = rows[1:]  # the header repeated over a table's continuation
        for cells in rows:
            if not any(cells):
                continue
            role = Role.TABLE_ROW if label in self.headers else Role.TABLE_HEADER
            self.headers.setdefault(label, cells)
            filled = [i for i, c in enumerate(cells) if c]
            self.out.add(
                " | ".join(cells[filled[0] : filled[-1] + 1]),
                role,
                sep="\n",
                section=(label,),
                page=table.page,
                label=label,
                cells=cells,
            )


# A derived word's base this long at least ("companion" + "ship"): shorter ones ("co",
# "pre") are prefixes of compounds as often as bases.
_MIN_BASE = 4
# An inflection a hyphenated word's tail may carry past the word printed whole elsewhere.
_INFLECTIONS = ("s", "es", "ed", "ing")


def _vocabulary(lines: list[Line]) -> Counter[str]:
    """The words the document prints whole, with their counts: not the pieces of a word
    broken at a line end."""
    words: Counter[str] = Counter()
    broken = False
    for line in lines:
        tokens = words_of(line.text, "letters")
        ends_broken = bool(re.search(r"\w-$", line.text))
        words.update(tokens[int(broken) : len(tokens) - int(ends_broken)])
        broken = ends_broken
    return words


def _is_prose(text: str) -> bool:
    """Sentences, not a list of names or addresses."""
    words = text.split()
    lower = sum(w[:1].islower() for w in words)
    return len(words) >= 25 and len(_SENTENCE_END.findall(text)) >= 2 and lower >= 0.4 * len(words)


def _authors(front: list[str]) -> list[str]:
    """Author names from the lines under the title: up to the DOI/affiliation lines."""
    names: list[str] = []
    lines = []
    for line in front:
        if DOI.search(line) or _AFFILIATION.search(line) or "@" in line:
            break
        lines.append(line)
    for part in re.split(r",|;|\band\b|&", " ".join(lines)):
        name = collapse(re.sub(r"[\d*†‡§¶]+", " ", part))
        words = name.split()
        if len(words) >= 2 and all(w[:1].isupper() for w in words if w[0].isalpha()):
            names.append(name)
    return names


def read_pdf(data: bytes) -> ScholarlyPaper:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        pages = [read_page(page, n) for n, page in enumerate(pdf.pages, start=1)]
    sort_furniture(pages)
    furniture = [line for p in pages for line in p.furniture]
    journal, year = journal_from_furniture(furniture)
    layout = _Layout(pages, journal)
    layout.run()
    text = layout.out.text
    front_lines = [line.text for line in layout.front]
    front = " ".join(front_lines)
    doi = DOI.search(front) or DOI.search(" ".join(furniture)) or DOI.search(text[:3000])
    pmcid = PMCID.search(front + " " + " ".join(furniture))
    study = Study(
        title=layout.title or None,
        authors=_authors(front_lines),
        year=year,
        journal=journal,
        doi=doi.group(1) if doi else None,
    )
    return assemble(
        text,
        layout.out.pieces,
        study,
        MEDIA_TYPE,
        pages=layout.page_ranges(),
        pmcid=pmcid.group() if pmcid else None,
    )
