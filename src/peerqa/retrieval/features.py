"""What the fitted ranker reads of a generation's passages beyond the rankings: each
passage's distinct tokens and section heading's, its place in its paper, each document's
tokens and mean vector (made once when a generation loads); and, per search, the pool's
`Candidate`s with their cosines to the question and their document's coverage and topic.
The features themselves are computed from the candidates by retrieval/ranker.py."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import Stemmer
from llama_index.core.schema import NodeWithScore

from peerqa.models import Passage
from peerqa.retrieval.dense import DenseCollection
from peerqa.retrieval.filters import Column
from peerqa.retrieval.quantity import quantity_share
from peerqa.retrieval.ranker import Candidate, places
from peerqa.store import indexed_sentences
from peerqa.words import bm25_tokenize


class PassageFeatures:
    """One generation's per-passage and per-document values the ranker's features read,
    by generation position."""

    def __init__(
        self,
        passages: Sequence[Passage],
        tokens: Sequence[np.ndarray],
        vocab: Mapping[str, int],
        stemmer: Stemmer.Stemmer,
        dense: DenseCollection,
        sentences: DenseCollection,
        documents: Column,
        passage_ids: Callable[[int], Sequence[str]],
        sentence_ids: Callable[[int], Sequence[str]],
    ):
        """`tokens`: each passage's distinct BM25 token ids; `dense`, `sentences`: the
        generation's passage and sentence collections; `documents`: its document column;
        `passage_ids`, `sentence_ids`: a passage's record ids in each collection."""
        self.tokens = tokens
        by_document: dict[str, list[np.ndarray]] = {}
        for p, ids in zip(passages, tokens, strict=True):
            by_document.setdefault(p.document, []).append(ids)
        self.document_tokens = {d: np.unique(np.concatenate(t)) for d, t in by_document.items()}
        self.places = places(passages)
        self.headings = token_ids([p.section for p in passages], stemmer, vocab)
        self._passages, self._vocab, self._stemmer = passages, vocab, stemmer
        # Each passage's sentences' distinct token ids, made when a pool first holds it
        # (tokenizing every sentence at load would slow a fresh start for a few pools).
        self._sentence_tokens: list[list[np.ndarray] | None] = [None] * len(passages)
        self._quantity: list[float | None] = [None] * len(passages)
        self._dense, self._sentences = dense, sentences
        self._passage_ids, self._sentence_ids = passage_ids, sentence_ids
        self.centroids = document_centroids(dense, documents)

    def candidates(
        self,
        pool: Sequence[NodeWithScore],
        passages: Mapping[str, Passage],
        position: Mapping[str, int],
        themes: Mapping[str, tuple[str, str]],
        theme: tuple[str, str] | None,
        vector: Sequence[float],
        tokens: np.ndarray,
        idf: np.ndarray,
    ) -> list[Candidate]:
        """The pool's candidates (fusion's order): `themes` each themed passage's
        (document, theme), `theme` fusion's top hit's, `vector` the question's, `tokens`
        its distinct token ids in the corpus searched, whose `idf` weighs them."""
        positions = [position[h.node.node_id] for h in pool]
        dense, sentence = self.cosines(vector, positions)
        documents = {passages[h.node.node_id].document for h in pool}
        coverage = self.coverage(tokens, documents, idf)
        topic = self.topic(vector, documents)
        sentence_tokens = self.sentence_tokens(positions)
        quantity = self.quantities(positions)
        return [
            Candidate(
                passage=passages[h.node.node_id],
                tokens=self.tokens[i],
                fused=h.score or 0.0,
                fused_rank=rank,
                theme_of_top=theme is not None and themes.get(h.node.node_id) == theme,
                dense=d,
                sentence=s,
                place=self.places[i],
                section=self.headings[i],
                coverage=coverage[passages[h.node.node_id].document],
                topic=topic[passages[h.node.node_id].document],
                sentences=t,
                quantity=n,
            )
            for rank, (h, i, d, s, t, n) in enumerate(
                zip(pool, positions, dense, sentence, sentence_tokens, quantity, strict=True), 1
            )
        ]

    def sentence_tokens(self, positions: Sequence[int]) -> list[list[np.ndarray]]:
        """Each passage's (by position) sentences' distinct token ids, as the sentence
        collection cuts them (store.indexed_sentences; a passage of none: its text)."""
        missing = sorted({i for i in positions if self._sentence_tokens[i] is None})
        if missing:
            spans = [indexed_sentences(self._passages[i]) or [(0, 0)] for i in missing]
            texts = [
                self._passages[i].text[a:b] if b > a else self._passages[i].text
                for i, cut in zip(missing, spans, strict=True)
                for a, b in cut
            ]
            ids = token_ids(texts, self._stemmer, self._vocab)
            at = 0
            for i, cut in zip(missing, spans, strict=True):
                self._sentence_tokens[i] = ids[at : at + len(cut)]
                at += len(cut)
        return [self._sentence_tokens[i] for i in positions]  # type: ignore[misc]

    def quantities(self, positions: Sequence[int]) -> list[float]:
        """Each passage's (by position) share of sentences stating a quantity, made when a
        pool first holds it."""
        for i in positions:
            if self._quantity[i] is None:
                p = self._passages[i]
                self._quantity[i] = quantity_share(p.text, p.ref_numbers)
        return [self._quantity[i] for i in positions]  # type: ignore[misc]

    def topic(self, vector: Sequence[float], documents: set[str]) -> dict[str, float]:
        """Each document's centroid cosine to the question's vector (0 without one)."""
        query = np.asarray(vector, dtype=np.float32)
        query = query / (np.linalg.norm(query) or 1.0)
        return {
            d: float(c @ query) if (c := self.centroids.get(d)) is not None else 0.0
            for d in documents
        }

    def coverage(
        self, tokens: np.ndarray, documents: set[str], idf: np.ndarray
    ) -> dict[str, float]:
        """Each document's idf-weighted share of the question's tokens, over its whole text."""
        weight = float(idf[tokens].sum())
        return {
            d: float(idf[tokens[np.isin(tokens, self.document_tokens[d])]].sum()) / weight
            if weight
            else 0.0
            for d in documents
        }

    def cosines(
        self, vector: Sequence[float], positions: Sequence[int]
    ) -> tuple[list[float], list[float]]:
        """Each passage's (by position) cosine to `vector`, and its best sentence's."""
        query = np.asarray(vector, dtype=np.float32)
        query /= np.linalg.norm(query) or 1.0
        dense = best_cosines(self._dense, positions, self._passage_ids, query)
        sentence = best_cosines(self._sentences, positions, self._sentence_ids, query)
        return dense, sentence


def token_ids(
    texts: Sequence[str], stemmer: Stemmer.Stemmer, vocab: Mapping[str, int]
) -> list[np.ndarray]:
    """Each text's distinct BM25 tokens (stemmed, no stopwords) that the generation's
    vocabulary holds, as token ids."""
    words = bm25_tokenize(list(texts), stemmer, return_ids=False)
    return [np.unique(np.asarray([vocab[w] for w in ws if w in vocab], np.int64)) for ws in words]


def document_centroids(dense: DenseCollection, documents: Column) -> dict[str, np.ndarray]:
    """Each document's mean passage vector, unit length: what the paper as a whole is
    about, beside which a question about another paper's subject reads far. From the
    passages' vectors in memory (a store searched exactly); none above EXACT_MAX."""
    exact = dense.exact
    if exact is None or not len(exact.ids):
        return {}
    codes = documents.codes[exact.passage]
    sums = np.zeros((len(documents.values), exact.unit.shape[1]), dtype=np.float32)
    np.add.at(sums, codes, exact.unit)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    unit = sums / np.where(norms > 0, norms, 1.0)
    return {str(d): unit[i] for i, d in enumerate(documents.values.tolist()) if d}


def best_cosines(
    dense: DenseCollection, positions: Sequence[int], members: Callable, query: np.ndarray
) -> list[float]:
    """Each passage's best cosine to `query` over its records in a collection (0 for
    none), read from memory when it is searched exactly, else fetched from Chroma
    (large stores: 40 passages a query)."""
    if dense.exact is not None:
        unit, rows = dense.exact.unit, dense.exact.rows
        none = np.zeros(0, dtype=np.int64)
        groups = [rows[p] if p < len(rows) else none for p in positions]
        vectors = unit[np.concatenate([none, *groups])]
        sizes = [len(g) for g in groups]
    else:
        ids = [list(members(p)) for p in positions]
        got = dense.collection.get(ids=[i for group in ids for i in group], include=["embeddings"])
        found = dict(zip(got["ids"], range(len(got["ids"])), strict=True))
        rows = [[found[i] for i in group if i in found] for group in ids]
        vectors = np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), -1)
        vectors = vectors[[r for group in rows for r in group]]
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        sizes = [len(group) for group in rows]
    cosines = vectors @ query
    ends = np.cumsum(sizes)
    return [
        float(cosines[end - size : end].max()) if size else 0.0
        for size, end in zip(sizes, ends.tolist(), strict=True)
    ]
