"""A PDF page's words (pdfplumber) -> its lines and ruled tables in reading order.

Two columns are split at the gutter and read left, then right, between full-width bands
(title block, tables); superscripts stay glued to their word; ligatures become letters;
lines in the top and bottom margins that recur across pages, or are page numbers and
journal lines, are furniture (kept aside, never text)."""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from peerqa.ingest.readers.base import is_page_furniture

MARGIN_SHARE = 0.075  # top and bottom bands of the page where running heads live
_GUTTER_EMS = 2.0  # a word gap this many ems wide, across the page's middle, is the gutter
_TOUCHING_EMS = 0.1  # words closer than this are one word split by a change of type size
_SUPERSCRIPT_RATIO = 1.25  # a superscript's type is at least this much smaller than its word's
_COLUMN_ROWS = 3  # rows starting at one left edge past the middle that make it a column
_LIGATURES = {
    c: unicodedata.normalize("NFKC", c) for c in "\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06"
}


def _clean(text: str) -> str:
    return "".join(_LIGATURES.get(c, c) for c in text)


@dataclass
class Line:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool
    page: int
    column: int = -1  # 0 left, 1 right, -1 full width


@dataclass
class Table:
    top: float
    bottom: float
    page: int
    rows: list[list[str]]


@dataclass
class Page:
    items: list[Line | Table] = field(default_factory=list)  # in reading order
    margins: list[Line] = field(default_factory=list)  # lines in the top/bottom bands
    furniture: list[str] = field(default_factory=list)


def _column_starts(rows: list[list[dict]], mid: float) -> list[float]:
    """Where the right column's lines start on this page: the left edge shared by several
    rows' first word past the middle. A justified full-width line's wide word gap lands
    anywhere, so it never matches the column's edge (its halves are not two columns)."""
    starts: Counter[int] = Counter()
    for row in rows:
        right = [w["x0"] for w in row if w["x0"] >= mid - 1]
        if right:
            starts[round(min(right))] += 1
    most = max(starts.values(), default=0)
    return [float(x) for x, n in starts.items() if n >= max(_COLUMN_ROWS, most / 2)]


def _raised(words: list[dict]) -> dict[int, float]:
    """Superscripts (small type, raised, touching the word before them: "support⁷"),
    by index, mapped to the top of the word they sit on: a raised word's own top can be
    nearer the other column's line on that baseline than its own."""
    out: dict[int, float] = {}
    for i, w in enumerate(words):
        for a in words:
            if (
                a["size"] > _SUPERSCRIPT_RATIO * w["size"]
                and -_TOUCHING_EMS * w["size"] < w["x0"] - a["x1"] < _TOUCHING_EMS * w["size"]
                and a["top"] - 0.6 * a["size"] <= w["top"] < a["top"]
            ):
                out[i] = a["top"]
                break
    return out


def _lines(words: list[dict], page: int, mid: float) -> list[Line]:
    """Words -> lines, a line split where it crosses the column gutter."""
    raised = _raised(words)
    words = [
        {**w, "top": raised[i], "bottom": max(w["bottom"], raised[i])} if i in raised else w
        for i, w in enumerate(words)
    ]
    words = sorted(words, key=lambda w: (round(w["top"]), w["x0"]))
    rows: list[list[dict]] = []
    for w in words:
        if rows and abs(rows[-1][0]["top"] - w["top"]) <= 2:
            rows[-1].append(w)
        else:
            rows.append([w])
    starts = _column_starts(rows, mid)
    lines = []
    for row in rows:
        row.sort(key=lambda w: w["x0"])
        segment = [row[0]]
        for w in row[1:]:
            gap = w["x0"] - segment[-1]["x1"]
            size = max(w["size"], 1)
            # The right column starts past the middle, at its column's edge (or indented
            # from it by a paragraph indent); a long URL may overrun the gutter.
            at_column = any(x - 2 <= w["x0"] <= x + 1.5 * size for x in starts)
            # A gap this wide across the middle is the gutter even where the right
            # column holds too few lines to show its edge (a heading beside a paragraph's
            # line: "… examples of concr-" | "Multimedia Appendix 4"); a justified line's
            # word gaps stay narrower.
            gutter = gap > size * _GUTTER_EMS and segment[-1]["x1"] < mid
            if gap > size * 0.8 and (at_column or gutter) and w["x0"] >= mid - 1 > segment[0]["x0"]:
                lines.append(_line(segment, page, mid))
                segment = []
            segment.append(w)
        lines.append(_line(segment, page, mid))
    return lines


def _joined(words: list[dict]) -> str:
    """Words with a space between them, but none between words that touch: a superscript
    citation set in smaller type is a word of its own to pdfplumber, glued on the page
    ("support⁷." is "support7.", never "support 7 .")."""
    out = words[0]["text"]
    for before, w in zip(words, words[1:], strict=False):
        # (Words overlapping one another are two lines printed over each other, not one;
        # words of about one size that touch, pdfplumber has already made one word.)
        small, large = sorted((before["size"], w["size"]))
        touching = abs(w["x0"] - before["x1"]) < _TOUCHING_EMS * small
        out += ("" if touching and large > _SUPERSCRIPT_RATIO * small else " ") + w["text"]
    return out


def _line(words: list[dict], page: int, mid: float) -> Line:
    x0, x1 = words[0]["x0"], words[-1]["x1"]
    # A left-column line may overrun the gutter a little (a long URL); a full-width line
    # reaches well into the right half.
    column = 1 if x0 >= mid - 2 else 0 if x1 <= mid * 1.12 else -1
    return Line(
        text=_clean(_joined(words)),
        x0=x0,
        x1=x1,
        top=min(w["top"] for w in words),
        bottom=max(w["bottom"] for w in words),
        size=statistics.median(w["size"] for w in words),
        bold=all("bold" in w["fontname"].lower() for w in words),
        page=page,
        column=column,
    )


def read_page(page, number: int) -> Page:
    height, mid = page.height, page.width / 2
    tables = []
    for found in page.find_tables():
        # Cell text keeps its line breaks: a cell's lines are joined like a paragraph's
        # (a word hyphenated at a cell's edge is one word again).
        rows = [[_clean(c or "").strip() for c in row] for row in found.extract()]
        if len(rows) >= 2 and max(len(r) for r in rows) >= 2:
            tables.append((found.bbox, rows))
    words = [
        w
        for w in page.extract_words(extra_attrs=["size", "fontname"], keep_blank_chars=False)
        if not any(
            x0 <= w["x0"] <= x1 and top <= w["top"] <= bottom for (x0, top, x1, bottom), _ in tables
        )
    ]
    out = Page()
    for line in _lines(words, number, mid):
        if line.bottom < height * MARGIN_SHARE or line.top > height * (1 - MARGIN_SHARE):
            out.margins.append(line)
        else:
            out.items.append(line)
    out.items += [Table(bbox[1], bbox[3], number, rows) for bbox, rows in tables]
    return out


def _shape(text: str) -> str:
    return re.sub(r"\d+", "#", text.lower()).strip()


def sort_furniture(pages: list[Page]) -> None:
    """A margin line is furniture when the same line (numbers aside) recurs on other
    pages, or it is a page number, a journal line or a copyright line; otherwise it is
    text that merely starts high or ends low on its page. A document whose every line sits
    in a margin band (a short memo, a line a page) has no running heads: its lines are text.
    """
    seen = Counter(_shape(line.text) for page in pages for line in page.margins)
    has_body = any(page.items for page in pages)
    for page in pages:
        for line in page.margins:
            recurs = has_body and len(pages) > 1 and seen[_shape(line.text)] > 1
            if recurs or is_page_furniture(line.text):
                page.furniture.append(line.text)
            else:
                page.items.append(line)
        page.items = _reading_order(page.items)


def _reading_order(items: list[Line | Table]) -> list[Line | Table]:
    """Full-width items in place; between them, the left column, then the right."""
    items = sorted(items, key=lambda i: i.top)
    ordered: list[Line | Table] = []
    zone: list[Line] = []

    def flush() -> None:
        ordered.extend(sorted((i for i in zone if i.column == 0), key=lambda i: i.top))
        ordered.extend(sorted((i for i in zone if i.column == 1), key=lambda i: i.top))
        zone.clear()

    for item in items:
        if isinstance(item, Table) or item.column == -1:
            flush()
            ordered.append(item)
        else:
            zone.append(item)
    flush()
    return ordered
