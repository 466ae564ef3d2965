"""An answer's pieces located in their sources: each cited sentence (or the baseline's
sentence) at its exact span, whether it holds gold, leads with it, pastes a raw table row
or a bibliography entry, comes from the front matter, or cuts a quotation (what holds
gold means: eval/metrics/__init__.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, Field, computed_field, field_serializer

from peerqa.eval.metrics.retrieval import Span, covers, snippets_found
from peerqa.eval.questions import GoldSpan
from peerqa.models import Citation
from peerqa.words import words_of as _words

MAX_LABEL_WORDS = 8  # "Programme C:" before a verbatim table cell
PIECE_CHARS = 60
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]*\s+(?=[\"“‘(]*[A-Z0-9])")
_TABLE_MARKS = re.compile(r"\s\|\s|\|\s*$|^\s*\||√")
_BIBLIOGRAPHY = re.compile(
    r"\[(?:DOI|PubMed|PMC free article|Google Scholar)\]"
    r"|^(?:[A-Z][\w’'-]+(?: [A-Z][\w’'-]+)* [A-Z]{1,3}, ){2,}"
    r"|\b(?:19|20)\d\d;\s?\d+\(\d+\):"
)
_FRONT_SECTION = re.compile(r"contributor|affiliation|author information|correspondence", re.I)
_ADDRESS = re.compile(r"\bDepartment of\b.*\b(?:University|Institute|Hospital|School)\b")
_OPEN, _CLOSE = "“", "”"
QuoteSpans = Mapping[str, Sequence[tuple[int, int]]]


def piece_holds(document: str, start: int, end: int, gold: GoldSpan, kind: str | None) -> bool:
    """A piece of an answer holds gold when it `covers` it, or when it is a table row's cell
    lying inside a gold span written across several cells of that row ("National" of
    "Mental illness community-based | National |"): an answer shows a row cell by cell, so
    no one cell covers half of such a span though each is gold text."""
    if covers(document, start, end, gold):
        return True
    return (
        kind == "table_row"
        and document == gold.document
        and gold.char_start <= start < end <= gold.char_end
    )


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of each sentence of `text` (a sentence ends in . ! or ?, optionally a
    closing quote or bracket, then whitespace and a capital, digit or opening quote)."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text.rstrip())))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def quote_spans(text: str) -> list[tuple[int, int]]:
    """Every “…” quotation of `text`, opening to closing mark inclusive, nested ones too.
    Marks pair within a line; an unpaired mark opens or closes nothing."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        stack: list[int] = []
        for i, ch in enumerate(line):
            if ch == _OPEN:
                stack.append(offset + i)
            elif ch == _CLOSE and stack:
                spans.append((stack.pop(), offset + i + 1))
        offset += len(line)
    return sorted(spans)


def lead_unit(
    source: str, start: int, end: int, quotes: Sequence[tuple[int, int]]
) -> tuple[int, int]:
    """The span an answer leads with inside [start, end): its first sentence, or, when a
    quotation opens in that sentence and closes within the span, up to its closing mark.
    A whole passage pasted as one "sentence" therefore leads with its first sentence only."""
    spans = sentence_spans(source[start:end])
    if not spans:
        return start, end
    lead_end = start + spans[0][1]
    for qs, qe in quotes:
        if start <= qs < lead_end and qe <= end:
            lead_end = max(lead_end, qe)
    return start, lead_end


def leads_with_gold(
    piece: Piece, sources: Mapping[str, str], gold: Sequence[GoldSpan], quotes: QuoteSpans
) -> bool:
    if piece.document is None or piece.char_start is None or piece.char_end is None:
        return False
    source = sources.get(piece.document, "")
    start, end = lead_unit(source, piece.char_start, piece.char_end, quotes.get(piece.document, ()))
    return any(piece_holds(piece.document, start, end, g, piece.kind) for g in gold)


def cuts_quote(start: int, end: int, quotes: Sequence[tuple[int, int]]) -> bool:
    """The span takes part of a quotation without its opening or closing mark."""
    return any(
        min(end, qe) > max(start, qs) and not (start <= qs and end >= qe) for qs, qe in quotes
    )


def raw_table_row(text: str) -> bool:
    return bool(_TABLE_MARKS.search(text))


def bibliography_entry(text: str) -> bool:
    return bool(_BIBLIOGRAPHY.search(text))


class Piece(BaseModel):
    """One cited sentence of an answer (or the baseline's passage), located in its source."""

    text: str
    marker: str | None = None
    document: str | None = None
    char_start: int | None = Field(default=None, description="None when not verbatim")
    char_end: int | None = None
    kind: str | None = Field(default=None, description="Kind of the cited passage")
    holds_gold: bool = False
    passage_holds_gold: bool = False
    table_row: bool = Field(default=False, description="Raw table row: pipes or ticks")
    reference: bool = Field(default=False, description="A bibliography entry")
    front_matter: bool = Field(default=False, description="Addresses, affiliations")
    cut_quote: bool = False

    @field_serializer("text")
    def _clipped(self, text: str) -> str:
        # Reports keep enough of each piece to recognise it; its offsets locate the rest.
        return text if len(text) <= PIECE_CHARS else text[: PIECE_CHARS - 1] + "…"

    @computed_field
    @property
    def padding(self) -> bool:
        return not self.holds_gold and not self.passage_holds_gold


def locate_piece(
    text: str,
    citations: Sequence[Citation],
    gold: Sequence[GoldSpan],
    sources: Mapping[str, str],
    quotes: Mapping[str, Sequence[tuple[int, int]]],
) -> Piece:
    """Find `text` in the first of `citations` that holds it verbatim (a short label ending
    in ": " whose words all occur in the source may precede it, as in "Programme C: <cell>")."""
    for c in citations:
        at, verbatim = _find_verbatim(text, c, sources.get(c.document, ""))
        if at >= 0:
            start = c.char_start + at
            held = bool(snippets_found(c, gold))
            return verbatim_piece(text, c, start, start + len(verbatim), held, gold, quotes)
    first = citations[0] if citations else None
    return Piece(
        text=text,
        marker=first.marker if first else None,
        kind=first.kind if first else None,
        passage_holds_gold=bool(first and snippets_found(first, gold)),
        table_row=raw_table_row(text),
        reference=bibliography_entry(text) or bool(first and first.kind == "reference"),
        front_matter=bool(_ADDRESS.search(text)),
    )


def verbatim_piece(
    text: str,
    passage: Citation | Span,
    start: int,
    end: int,
    passage_holds_gold: bool,
    gold: Sequence[GoldSpan],
    quotes: Mapping[str, Sequence[tuple[int, int]]],
) -> Piece:
    """A piece found verbatim at [start, end) of its passage's document."""
    kind = getattr(passage, "kind", None)
    return Piece(
        text=text,
        marker=getattr(passage, "marker", None),
        document=passage.document,
        char_start=start,
        char_end=end,
        kind=kind,
        holds_gold=any(piece_holds(passage.document, start, end, g, kind) for g in gold),
        passage_holds_gold=passage_holds_gold,
        table_row=raw_table_row(text),
        reference=kind == "reference" or bibliography_entry(text),
        front_matter=bool(
            _FRONT_SECTION.search(getattr(passage, "section", "")) or _ADDRESS.search(text)
        ),
        cut_quote=cuts_quote(start, end, quotes.get(passage.document, ())),
    )


def _find_verbatim(text: str, citation: Citation, source: str) -> tuple[int, str]:
    """Offset of `text` (or of what follows its label) in the citation's text, or -1."""
    if not text:
        return -1, text
    at = citation.text.find(text)
    if at >= 0:
        return at, text
    label, sep, rest = text.partition(": ")
    if sep and rest and len(label.split()) <= MAX_LABEL_WORDS:
        known = set(_words(source))
        if set(_words(label)) <= known:
            at = citation.text.find(rest)
            if at >= 0:
                return at, rest
    return -1, text
