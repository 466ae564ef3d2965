"""Dense search over one Chroma collection of a generation: passages or their sentences,
searched exactly over vectors in memory up to EXACT_MAX records, above by Chroma's HNSW,
under an optional filter; a passage scores as its best record."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import chromadb
import numpy as np
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

# A filtered dense search asks HNSW for OVERFETCH_SLACK times the neighbours it expects
# to pass the filter (from the filter's share of passages) and filters them in memory;
# failing that (a narrow filter, or too few passed) it asks Chroma for the nearest among
# the ids that pass. Chroma's own `where` evaluates the filter over every record's
# metadata: at 10k passages kind=quote costs ~160 ms that way, 18 ms by ids, and ~15 ms
# overfetched (2.5 ms unfiltered).
OVERFETCH_SLACK = 2.0
OVERFETCH_MAX = 1000  # neighbours; past ~1000 an HNSW query slows sharply
IDS_MAX = 50_000  # ids per query; beyond, Chroma's `where`


@dataclass(frozen=True)
class DenseFilter:
    """An active filter for dense search over one collection: Chroma's `where`, and the
    same filter as a mask over the generation's passages (filtered keys are copied onto
    sentences at ingest, so a sentence passes when its passage does)."""

    where: dict[str, Any]
    mask: np.ndarray  # bool, by passage position
    position: dict[str, int]  # passage id -> position
    members: Callable[[int], Sequence[str]]  # the collection's ids of a passage, by position
    passage_of: Callable[[str], str]  # collection id -> passage id

    def passes(self, record_id: str) -> bool:
        i = self.position.get(self.passage_of(record_id))
        return i is not None and bool(self.mask[i])

    def ids(self) -> list[str]:
        return [rid for i in np.flatnonzero(self.mask) for rid in self.members(int(i))]


def nearest(
    collection: chromadb.Collection,
    query_bundle: QueryBundle,
    k: int,
    size: int,
    dense_filter: DenseFilter | None = None,
) -> list[tuple[str, float]]:
    """The k nearest (id, score) that pass the filter in a collection of `size` records,
    scored like ChromaVectorStore: exp(-distance).

    Ids and distances only: every passage is in memory already, and fetching documents
    and metadata with the hits (as ChromaVectorStore does) costs ~4 ms for 30 passages
    and ~8 ms for 90 sentences against ~1 ms without them.
    """
    if dense_filter is None:
        return _query(collection, query_bundle, k)
    share = float(dense_filter.mask.mean()) if dense_filter.mask.size else 0.0
    if not share:
        return []  # no passage passes
    fetch = min(math.ceil(k * OVERFETCH_SLACK / share), size)
    if fetch <= OVERFETCH_MAX:
        hits = _query(collection, query_bundle, fetch)
        passing = [(rid, s) for rid, s in hits if dense_filter.passes(rid)]
        # Exact when k pass (a closer passing vector would be among the hits) or when the
        # hits were the whole collection.
        if len(passing) >= k or fetch == size:
            return passing[:k]
    ids = dense_filter.ids()
    if len(ids) <= IDS_MAX:
        return _query(collection, query_bundle, k, ids=ids) if ids else []
    return _query(collection, query_bundle, k, where=dense_filter.where)


def _query(
    collection: chromadb.Collection,
    query_bundle: QueryBundle,
    k: int,
    where: dict | None = None,
    ids: list[str] | None = None,
) -> list[tuple[str, float]]:
    got = collection.query(
        query_embeddings=[query_bundle.embedding],
        n_results=k,
        where=where,
        ids=ids,
        include=["distances"],
    )
    return [(rid, math.exp(-d)) for rid, d in zip(got["ids"][0], got["distances"][0], strict=True)]


# Up to EXACT_MAX records a collection is searched exactly, over its vectors held in
# memory, instead of by Chroma's HNSW. Chroma inserts into HNSW in parallel and in hash
# order, so every process that loads a collection builds a different approximate graph:
# on the bundled corpus 1-5 of 300 queries lose a true top-30 passage, and with 32
# threads an uploaded passage fell out of the top 100 after a restart. At this size the
# scan is exact, the same in every process, and faster (~0.1 ms vs ~1.2 ms a query);
# 10k records hold 15 MB.
EXACT_MAX = 10_000


@dataclass(frozen=True)
class ExactVectors:
    """A small collection's vectors as unit rows, with each record's passage position."""

    ids: list[str]
    unit: np.ndarray  # float32, one unit row per record
    passage: np.ndarray  # int, the position of each record's passage

    @classmethod
    def load(
        cls, collection: chromadb.Collection, position: dict[str, int], passage_of: Callable
    ) -> ExactVectors:
        got = collection.get(include=["embeddings"])
        keep = [i for i, rid in enumerate(got["ids"]) if passage_of(rid) in position]
        vectors = np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), -1)[keep]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return cls(
            ids=[got["ids"][i] for i in keep],
            unit=vectors / np.where(norms > 0, norms, 1.0),
            passage=np.asarray([position[passage_of(got["ids"][i])] for i in keep], dtype=int),
        )

    @cached_property
    def rows(self) -> list[np.ndarray]:
        """Each passage's rows, by passage position (up to the last with a record)."""
        order = np.argsort(self.passage, kind="stable")
        size = int(self.passage.max()) + 1 if len(self.passage) else 0
        bounds = np.searchsorted(self.passage[order], np.arange(size + 1))
        return [order[bounds[p] : bounds[p + 1]] for p in range(size)]

    def nearest(
        self, embedding: Sequence[float], k: int, mask: np.ndarray | None = None
    ) -> list[tuple[str, float]]:
        """The k nearest (id, score) whose passage passes `mask`, scored as `nearest`
        scores Chroma's hits: exp(-cosine distance)."""
        query = np.asarray(embedding, dtype=np.float32)
        similarity = self.unit @ (query / (np.linalg.norm(query) or 1.0))
        candidates = (
            np.arange(len(self.ids)) if mask is None else np.flatnonzero(mask[self.passage])
        )
        k = min(k, len(candidates))
        if not k:
            return []
        best = candidates[np.argpartition(-similarity[candidates], k - 1)[:k]]
        best = best[np.argsort(-similarity[best], kind="stable")]
        scores = np.exp(similarity[best].astype(np.float64) - 1.0).tolist()
        return [(self.ids[i], s) for i, s in zip(best.tolist(), scores, strict=True)]


@dataclass(frozen=True)
class DenseCollection:
    """One collection of a generation, for dense search: its records are passages or the
    sentences of passages (`passage_of`, `fetch` records asked per passage wanted). Up
    to EXACT_MAX records it is searched exactly over its vectors in memory, above by
    Chroma's HNSW."""

    collection: chromadb.Collection
    size: int
    exact: ExactVectors | None
    passage_of: Callable[[str], str]
    fetch: int

    @classmethod
    def load(
        cls,
        collection: chromadb.Collection,
        size: int,
        position: dict[str, int],
        passage_of: Callable[[str], str],
        fetch: int,
    ) -> DenseCollection:
        exact = ExactVectors.load(collection, position, passage_of) if size <= EXACT_MAX else None
        return cls(collection, size, exact, passage_of, fetch)

    def nearest(
        self, query_bundle: QueryBundle, k: int, dense_filter: DenseFilter | None
    ) -> list[tuple[str, float]]:
        if self.exact is not None:
            mask = dense_filter.mask if dense_filter else None
            return self.exact.nearest(query_bundle.embedding, k, mask)
        return nearest(self.collection, query_bundle, k, self.size, dense_filter)


class DenseRetriever(BaseRetriever):
    """Dense search over one collection (the query bundle carries the query's embedding);
    a passage scores as its best record: itself, or its best sentence."""

    def __init__(
        self,
        dense: DenseCollection,
        passages: dict[str, TextNode],
        top_k: int,
        dense_filter: DenseFilter | None,
    ):
        super().__init__()
        self._dense, self._passages, self._top_k, self._filter = (
            dense,
            passages,
            top_k,
            dense_filter,
        )

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        best: dict[str, float] = {}
        hits = self._dense.nearest(query_bundle, self._dense.fetch * self._top_k, self._filter)
        for rid, score in hits:
            pid = self._dense.passage_of(rid)
            best[pid] = max(best.get(pid, 0.0), score)
        ranked = sorted(best.items(), key=lambda kv: kv[1], reverse=True)[: self._top_k]
        return [
            NodeWithScore(node=self._passages[pid], score=score)
            for pid, score in ranked
            if pid in self._passages
        ]
