"""Passages -> sentences with embeddings, cached for the life of a LiveIndex generation.

A sentence is an exact span of its passage's text (offsets relative to the passage), so
whatever the composer picks can be quoted verbatim and cited to that passage.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from peerqa.models import Passage
from peerqa.retrieval.hybrid import LOADED_HOOKS, LiveIndex, Snapshot
from peerqa.segment import sentence_spans, word_count
from peerqa.words import words_of

T = TypeVar("T")
log = logging.getLogger("peerqa.answer")


@dataclass(frozen=True)
class Sentence:
    passage_id: str
    start: int  # offsets into passage.text
    end: int
    text: str
    position: int  # index among the passage's sentences (reading order)

    @property
    def words(self) -> int:
        return word_count(self.text)


# A table row or a reference entry is one unit: its "sentences" would be cell or field
# fragments ("BMJ.", "2009;338(7689):a3064.") that mean nothing alone.
WHOLE_KINDS = frozenset({"table_row", "reference"})


def split_passage(passage: Passage) -> list[Sentence]:
    if passage.kind in WHOLE_KINDS:
        # A table passage of several rows: each row is one "sentence" (ingest/papers.py).
        rows = passage.rows or [[0, len(passage.text)]]
        return [Sentence(passage.id, s, e, passage.text[s:e], i) for i, (s, e) in enumerate(rows)]
    return [
        Sentence(passage.id, s, e, passage.text[s:e], i)
        for i, (s, e) in enumerate(sentence_spans(passage.text, citations=passage.ref_numbers))
    ]


@dataclass(frozen=True)
class Split:
    """A passage cut into sentences, with a unit vector for each."""

    sentences: list[Sentence]
    vectors: np.ndarray  # [len(sentences), dim]


class SentenceBank:
    """Sentence spans and unit vectors per passage id.

    Passages are immutable within a generation, so entries live until the index
    publishes a new one; then the cache is dropped whole. A loaded generation (a
    LiveIndex view) keeps its own bank, made and warmed before it goes live (warm).
    """

    def __init__(self, index: LiveIndex, weak: bool = True):
        # Weak in the registry below (keyed weakly by index), which it must not keep alive;
        # a view's own bank holds its view, so a request holding the bank after a swap
        # still reads the generation it was made for.
        self._index = weakref.proxy(index) if weak else index
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._cache: dict[tuple[str, str], Split] = {}  # (passage id, text)
        self._vocabulary: frozenset[str] | None = None
        self._fixed: dict[tuple[str, ...], np.ndarray] = {}
        self._derived: dict[str, object] = {}

    def split(self, passages: Sequence[Passage]) -> list[Split]:
        """Each passage's Split, embedding all uncached sentences in a single batch."""
        generation = self._follow_generation()
        # Another request may follow a newer generation (and clear the cache) meanwhile:
        # answer from what this call found or made. Keyed by id and text, so passages a
        # search found just before a publish never get the new generation's splits.
        keys = [(p.id, p.text) for p in passages]
        with self._lock:
            found = {k: self._cache[k] for k in keys if k in self._cache}
        todo = {k: split_passage(p) for k, p in zip(keys, passages, strict=True) if k not in found}
        if todo:
            texts = [s.text for sentences in todo.values() for s in sentences]
            vectors = np.asarray(self._index.embed_model.get_text_embedding_batch(texts))
            offset = 0
            for key, sentences in todo.items():
                found[key] = Split(sentences, vectors[offset : offset + len(sentences)])
                offset += len(sentences)
            with self._lock:
                if self._generation == generation:
                    self._cache.update({k: found[k] for k in todo})
        return [found[k] for k in keys]

    def query_vector(self, text: str) -> np.ndarray:
        return np.asarray(self._index.embed_model.get_query_embedding(text))

    def text_vectors(self, texts: tuple[str, ...]) -> np.ndarray:
        """Unit vectors of fixed texts (exemplars), embedded once."""
        if texts not in self._fixed:
            vectors = self._index.embed_model.get_text_embedding_batch(list(texts))
            self._fixed[texts] = np.asarray(vectors)
        return self._fixed[texts]

    def vocabulary(self) -> frozenset[str]:
        """Every lowercased word of every passage: what the corpus can talk about."""
        self._follow_generation()
        if self._vocabulary is None:
            words = (w for p in self._index.passages.values() for w in words_of(p.text))
            self._vocabulary = frozenset(words)
        return self._vocabulary

    def derived(self, key: str, build: Callable[[LiveIndex], T]) -> T:
        """`build(index)`, made once per generation: facts of the whole corpus (which
        outcomes it reports, which passages cite a reference) that questions reuse."""
        self._follow_generation()
        with self._lock:
            if key in self._derived:
                return self._derived[key]  # type: ignore[return-value]
        value = build(self._index)
        with self._lock:
            self._derived[key] = value
        # Kept to make again for the next generation; not a closure, which may hold this
        # generation's values.
        if getattr(build, "__closure__", None) is None:
            _BUILDERS.setdefault(key, build)
        return value

    def _follow_generation(self) -> str | None:
        generation = self._index.state.collection if self._index.state else None
        with self._lock:
            if generation != self._generation:
                self._cache.clear()
                self._derived.clear()
                self._vocabulary = None
                self._generation = generation
        return generation


_BANKS: weakref.WeakKeyDictionary[LiveIndex, SentenceBank] = weakref.WeakKeyDictionary()
# What `derived` was asked to make, by key: a new generation has each made before it
# goes live (warm).
_BUILDERS: dict[str, Callable[[LiveIndex], object]] = {}
_BANK_KEY = "peerqa.answer.sentences.bank"


def bank_for(index: LiveIndex) -> SentenceBank:
    """The bank of the index's loaded generation (kept with it, see warm); one per
    LiveIndex, dropped with it, when nothing is loaded."""
    values = getattr(index, "generation_values", None)
    if values is None:
        bank = _BANKS.get(index)
        if bank is None:
            bank = _BANKS.setdefault(index, SentenceBank(index))
        return bank
    bank = values.get(_BANK_KEY)
    if bank is None:
        bank = values.setdefault(_BANK_KEY, SentenceBank(index.snapshot, weak=False))
    return bank


def warm(view: Snapshot, live: Snapshot | None) -> None:
    """Put a new generation's per-generation values in its bank on the thread that loads
    it, before it is swapped in (retrieval.live.LOADED_HOOKS): made by the first
    question after a publish, they cost it ~0.5 s with a few user papers loaded. The
    costly ones (answer.values) are read from the file the writer made; the others, every
    `derived` value asked of earlier generations, and the vocabulary are made here. What
    does not depend on the generation carries over: exemplar vectors, and the splits of
    unchanged passages."""
    bank = bank_for(view)
    bank.vocabulary()  # (following the view's generation first: that empties the caches)
    old = bank_for(live) if live is not None else None
    if old is not None and old is not bank:
        with old._lock:
            fixed, cache = dict(old._fixed), dict(old._cache)
        held = view.passages
        with bank._lock:
            bank._fixed.update(fixed)
            bank._cache.update(
                (k, split) for k, split in cache.items() if k[0] in held and held[k[0]].text == k[1]
            )
    from peerqa.answer.values import values_for  # (values imports the modules importing this)

    try:
        values = values_for(view)
    except Exception:  # values that fail to load or make are made by the first question
        log.warning("answer values of a new generation failed", exc_info=True)
    else:
        with bank._lock:
            bank._derived.update(values)
    for key, build in _BUILDERS.items():
        try:
            bank.derived(key, build)
        except Exception:  # a warm-up that fails is made by the first question, as before
            log.warning("making %r for a new generation failed", key, exc_info=True)


LOADED_HOOKS.append(warm)
