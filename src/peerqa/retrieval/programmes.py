"""Which programme a question is about.

Clinicians ask about "programme E", or name a programme by what it does: "the
transplant programme", "the scheme for new mothers". Neither reaches the evidence by
itself: BM25 drops one-letter tokens, and an embedding of "programme E" knows nothing of
E. So a question is matched against the documents' programme records (the paper's
Table 2): by letter, or by a word that only one programme's record of a document uses
(its condition, setting and description; e.g. "transplant" is E's, "mother" C's).
Retrieval then also searches the passages of the programmes found (retrieval/search.py).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

from peerqa.models import Programme
from peerqa.words import bm25_tokenize, english_stemmer

# "programme E", "Program E's", "programmes B and D": a capital letter, so the article
# in "a programme a day" is not read as programme A.
_BY_LETTER = re.compile(
    r"(?i:\bprogram(?:me)?s?)\s+(?P<letters>[A-Z](?:(?:\s*,\s*|\s+(?i:and|or)\s+)[A-Z])*)\b"
)
_LETTER = re.compile(r"\b[A-Z]\b")
# A letter, or a list of them ("C and E", "B, D"), standing alone: no letter, digit or
# joining mark beside it ("G-tube", "A&E", "STAR*D", "U.S." are other things).
_ALONE = r"(?<![\w&*/+.'’-])"
_LETTERS = r"[A-Z](?:(?:\s*,\s*|\s+(?:and|or|&)\s+)[A-Z])*"
# Shorthand for a programme the way people type it ("prog C -", "D: how…", "G's format",
# "does B run…", "why one interview for G?"): the bare letters count only where a
# sentence would not read them as a word: after "prog", before a possessive or a
# clause mark, or after a word that takes a name ("is D national", "in D and"). "I" is
# never one; "part D", "vitamin D", "hepatitis C" are not preceded by such a word.
_SHORTHAND = re.compile(
    rf"(?:\b(?i:progs?)\.?\s+{_ALONE}(?P<after_prog>{_LETTERS})\b"
    rf"|{_ALONE}(?P<before_mark>{_LETTERS})(?:'s|’s|\s*[:;,?—–]|\s+-\s|\s*$)"
    rf"|\b(?i:is|does|did|do|was|in|for|from|and|or|about|of|at|by|with|to|the|"
    rf"than|vs|versus)\s+{_ALONE}(?P<after_word>{_LETTERS})(?![\w&*/+-]|\.\w))"
)
MIN_CUE = 4
_STEMMER = english_stemmer()
# Words every programme record is made of (what a programme is, how it is delivered):
# never evidence that a question is about one of them.
_GENERIC = frozenset(
    _STEMMER.stemWords(
        "programme program peer support supporter offers includes provides one on "
        "telephone person group groups based community hospital local national "
        "regional".split()
    )
)


def named_letters(question: str) -> tuple[str, ...]:
    """The programme letters a question names ("programmes B and D"), known or not."""
    return tuple(
        sorted(
            {
                letter
                for m in _BY_LETTER.finditer(question)
                for letter in _LETTER.findall(m["letters"])
            }
        )
    )


def shorthand_letters(question: str) -> tuple[str, ...]:
    """Letters a question may use as a programme's name without the word "programme"
    ("prog C - who's it for", "F - who mentors who", "D: how do they recruit", "G's
    format"). Only for documents whose records hold that letter (ProgrammeFinder.find):
    a letter is a name only where programmes are lettered."""
    found = set()
    for m in _SHORTHAND.finditer(question):
        group = m["after_prog"] or m["before_mark"] or m["after_word"]
        found |= set(_LETTER.findall(group))
    return tuple(sorted(found - {"I"}))


def _words(text: str) -> set[str]:
    return set(bm25_tokenize(text, _STEMMER, return_ids=False)[0]) - _GENERIC


class ProgrammeFinder:
    """The (document, programme letter) pairs a question is about."""

    def __init__(self, programmes: Mapping[str, Sequence[Programme]]):
        self._letters = {
            document: {p.programme for p in records} for document, records in programmes.items()
        }
        self._distinctive: dict[tuple[str, str], set[str]] = {}
        for document, records in programmes.items():
            words = {p.programme: _words(p.condition) for p in records}
            used_by = Counter(w for ws in words.values() for w in ws)
            for letter, ws in words.items():
                # Short stems ("new", "ill" of illness) are everyday words, not cues.
                self._distinctive[(document, letter)] = {
                    w for w in ws if used_by[w] == 1 and len(w) >= MIN_CUE
                }

    def find(self, question: str) -> list[tuple[str, str]]:
        named = set(named_letters(question)) or set(shorthand_letters(question))
        if named:
            return sorted(
                (document, letter)
                for document, letters in self._letters.items()
                for letter in named & letters
            )
        words = _words(question)
        return sorted(key for key, distinctive in self._distinctive.items() if words & distinctive)
