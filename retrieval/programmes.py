"""Which programme a question is about.

Clinicians ask about "programme E", or name a programme by what it does: "the
transplant programme", "the scheme for new mothers". Neither reaches the evidence by
itself: BM25 drops one-letter tokens, and an embedding of "programme E" knows nothing of
E. So a question is matched against the documents' programme records (the paper's
Table 2): by letter, or by a word that only one programme's record of a document uses
(its condition, setting and description; e.g. "transplant" is E's, "mother" C's).
Retrieval then also searches the passages of the programmes found (retrieval/hybrid.py).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

import bm25s
import Stemmer

from peerqa.models import Programme

# "programme E", "Program E's", "programmes B and D": a capital letter, so the article
# in "a programme a day" is not read as programme A.
_BY_LETTER = re.compile(
    r"(?i:\bprogram(?:me)?s?)\s+(?P<letters>[A-Z](?:(?:\s*,\s*|\s+(?i:and|or)\s+)[A-Z])*)\b"
)
_LETTER = re.compile(r"\b[A-Z]\b")
MIN_CUE = 4
_STEMMER = Stemmer.Stemmer("english")
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


def _words(text: str) -> set[str]:
    tokens = bm25s.tokenize(text, stopwords="english", show_progress=False, return_ids=False)
    return set(_STEMMER.stemWords(tokens[0])) - _GENERIC if tokens else set()


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
        named = set(named_letters(question))
        if named:
            return sorted(
                (document, letter)
                for document, letters in self._letters.items()
                for letter in named & letters
            )
        words = _words(question)
        return sorted(key for key, distinctive in self._distinctive.items() if words & distinctive)
