"""Numeric in-text citations ("States.1", "behaviours.5–10", "health27–29").

Journals print citation numbers as superscripts; in plain text they end up glued to
the word or the full stop before them. Only that glued form counts as a citation:
a free-standing number ("25–44", "12-step", "41/43", "5–7 key informants") never
does, nor does a number glued to capitals or digits ("K23MH100705", "2463-JHU").
"""

from __future__ import annotations

import re
from typing import NamedTuple

# One marker: numbers and ranges joined by commas, e.g. "3,4", "5–10", "7,38,39".
_NUMBERS = r"\d{1,3}(?:[–-]\d{1,3})?(?:,\d{1,3}(?:[–-]\d{1,3})?)*"
_MARKER = re.compile(
    # glued to terminal punctuation after a word or bracket ("States.1", "(Table 1).5"),
    # or directly to a lowercase word of two or more letters ("health27–29")
    r"(?:(?<=[A-Za-z)\]”’\"][.!?])|(?<=[A-Za-z)\]][.!?][”’\"])|(?<=[a-z]{2}))"
    rf"(?P<numbers>{_NUMBERS})"
    # ...and followed by a space, the end, or punctuation that closes a clause
    r"(?=$|[\s)\];:]|[.,](?:\s|$))"
)
_MAX_RANGE = 50  # wider "ranges" are counts or years, not a run of references


class CitationMarker(NamedTuple):
    """A citation marker's absolute span and the reference numbers it stands for."""

    start: int
    end: int
    numbers: tuple[int, ...]


def expand_marker(marker: str) -> list[int]:
    """ "5–10" -> [5..10], "7,38,39" -> [7, 38, 39]; ValueError on a malformed marker."""
    numbers: list[int] = []
    for part in marker.split(","):
        low, _, high = part.replace("–", "-").partition("-")
        a = int(low)
        b = int(high) if high else a
        if b < a or b - a > _MAX_RANGE:
            raise ValueError(f"not a citation range: {part!r}")
        numbers.extend(range(a, b + 1))
    return numbers


def _valid(numbers: list[int], n_refs: int) -> bool:
    return bool(numbers) and all(1 <= n <= n_refs for n in numbers)


def _glued_to_mixed_case_word(text: str, start: int) -> bool:
    """True for "Covid19"-like names: a word glued to a citation is all lowercase."""
    i = start
    while i > 0 and text[i - 1].isalpha():
        i -= 1
    word = text[i:start]
    return bool(word) and not word.islower()


def find_citations(
    text: str, n_refs: int, start: int = 0, end: int | None = None
) -> list[CitationMarker]:
    """Citation markers in text[start:end] whose numbers all lie in 1..n_refs."""
    end = len(text) if end is None else end
    markers = []
    for m in _MARKER.finditer(text, start, end):
        try:
            numbers = expand_marker(m.group("numbers"))
        except ValueError:
            continue
        if _valid(numbers, n_refs) and not _glued_to_mixed_case_word(text, m.start()):
            markers.append(CitationMarker(m.start(), m.end(), tuple(numbers)))
    return markers


def cited_numbers(markers: list[CitationMarker]) -> list[int]:
    """The sorted, unique reference numbers cited by `markers`."""
    return sorted({n for marker in markers for n in marker.numbers})
