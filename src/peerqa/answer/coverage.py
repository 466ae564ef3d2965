"""How much of a question the evidence held knows at all: its words that occur in no
passage and in no list of the domain's own words.

An off-topic question ("how do I fix a dripping kitchen tap", "capital of Mississippi")
shares almost nothing with the evidence; a terse question about it ("matching when peer
lives far away?", "GP here, what do pts get from peer support") shares nearly every word,
however it is typed. So the intent model (answer/intent.py) reads, beside the question's
vector, the share of its content words that the evidence and the domain lexicon
(answer/lexicon.json, retrieval/thesaurus.json, retrieval/shorthand.json) never use,
counted and weighted by rarity (a word the evidence never uses weighs as the rarest
word). A word one typing slip away from a known one ("wich", "programes") is known.

It is read against the generation searched, so a user's own paper makes its words known.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

import numpy as np

from peerqa.answer.sentences import bank_for
from peerqa.config import PACKAGE_DIR
from peerqa.words import TOKEN_STOPWORDS, bm25_tokenize, english_stemmer

LEXICONS = (
    PACKAGE_DIR / "answer" / "lexicon.json",
    PACKAGE_DIR / "retrieval" / "thesaurus.json",
    PACKAGE_DIR / "retrieval" / "shorthand.json",
)
NAMES = ("unknown_share", "unknown_idf_share", "unknown_count")
MAX_COUNTED = 3  # unknown words counted up to this many
SLIP_MIN = 5  # letters a word needs before a letter added to a known word is a typo


def _strings(value: object) -> Iterable[str]:
    """Every key and string of a JSON value (the lexicons' words, wherever they sit)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            if not k.startswith("_"):
                yield k
                yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class Coverage:
    """The stems the evidence held and the domain lexicon use, and each stem's passage
    frequency: made once per generation (answer.sentences' derived values)."""

    def __init__(self, index) -> None:
        self._stemmer = english_stemmer()
        texts = [p.text for p in index.passages.values()]
        self._passages = max(len(texts), 1)
        self._frequency: dict[str, int] = {}
        for tokens in self._tokens(texts):
            for stem in set(tokens):
                self._frequency[stem] = self._frequency.get(stem, 0) + 1
        lexicon = [s for p in LEXICONS for s in _strings(json.loads(p.read_text("utf-8")))]
        self._known = frozenset(self._frequency) | {t for ts in self._tokens(lexicon) for t in ts}
        # Each known word with one letter dropped: a word sharing one differs from it by a
        # letter added, dropped or changed, or two neighbours swapped. Function words too.
        self._slips = frozenset(
            d
            for w in self._known | TOKEN_STOPWORDS
            if len(w) >= SLIP_MIN - 1
            for d in _deletions(w)
        )

    def _tokens(self, texts: list[str]) -> list[list[str]]:
        if not texts:
            return []
        tokenized = bm25_tokenize(texts, self._stemmer, return_ids=False)
        # Numbers are names or figures (years, codes): the unknown-name check reads them.
        return [[t for t in tokens if t.isalpha()] for tokens in tokenized]

    def known(self, stem: str) -> bool:
        """The stem, or one typing slip away from a known one: a letter dropped ("wich"),
        added, or (in longer words, where two words rarely differ so) changed or two
        neighbours swapped."""
        if stem in self._known:
            return True
        dropped = len(stem) >= SLIP_MIN - 1 and stem in self._slips
        added = len(stem) >= SLIP_MIN and any(d in self._known for d in _deletions(stem))
        changed = len(stem) > SLIP_MIN and any(d in self._slips for d in _deletions(stem))
        return dropped or added or changed

    def _stems(self, text: str) -> list[str]:
        return list(dict.fromkeys(self._tokens([text])[0]))

    def unknown(self, text: str) -> list[str]:
        """The question's content stems the evidence and the lexicon never use, in order."""
        return [s for s in self._stems(text) if not self.known(s)]

    def features(self, text: str) -> np.ndarray:
        """NAMES' values: the share of the question's content stems unknown, the same
        weighted by inverse passage frequency, and how many (up to MAX_COUNTED)."""
        stems = self._stems(text)
        if not stems:
            return np.zeros(len(NAMES))
        unknown = [s for s in stems if not self.known(s)]
        weight = {s: self._idf(s) for s in stems}
        total = math.fsum(weight.values())
        return np.asarray(
            [
                len(unknown) / len(stems),
                math.fsum(weight[s] for s in unknown) / total,
                min(len(unknown), MAX_COUNTED) / MAX_COUNTED,
            ]
        )

    def _idf(self, stem: str) -> float:
        df = self._frequency.get(stem, 0)
        return math.log1p((self._passages - df + 0.5) / (df + 0.5))


def coverage_of(index) -> Coverage:
    """The generation's Coverage, made once with it."""
    return bank_for(index).derived("coverage", Coverage)
