"""index -> ranked passages: dense (Chroma) and BM25 over the same nodes, fused by RRF.

`LiveIndex` is loaded once per process (model, BM25, passage table) and follows the
store's pointer, reloading when an ingest publishes a new generation.
"""

from __future__ import annotations

import math
import threading
from copy import copy
from typing import Any

import bm25s
import chromadb
import numpy as np
import Stemmer
from chromadb.errors import ChromaError
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.retrievers.bm25 import BM25Retriever

from peerqa.config import Settings, get_settings
from peerqa.embedding import MiniLMEmbedding, load_embedding
from peerqa.models import Filters, Passage, ScoredPassage
from peerqa.store import FILTER_KEYS, IndexState, Store, passage_to_node, sentence_collection
from retrieval.expansion import expand

CANDIDATES = 30  # per retriever, before fusion
# Min-max normalised scores summed across retrievers beat RRF on the curated set
# (Recall@5 0.791 vs 0.718, MRR@10 0.661 vs 0.608); weighting them did not generalise.
FUSION_MODE = "relative_score"
# Tries at loading the live generation while other processes keep publishing and dropping.
LOAD_ATTEMPTS = 3


class KeywordRetriever(BM25Retriever):
    """llama-index's BM25 (bm25s over the nodes' embedded content), queried as its
    `_retrieve` does, except that:
    - hits resolve to the in-memory nodes by position; the library rebuilds each hit from
      its JSON dict (~1.5 ms a query) and keeps that dict corpus in memory;
    - the filter mask stays a numpy array (the library's is a Python list, converted per
      query: milliseconds at 100k passages);
    - zero-score hits are dropped: bm25s returns k results even when a filter mask or the
      query leaves fewer real matches, and those must not reach fusion.
    """

    nodes: list[TextNode]
    mask: np.ndarray | None = None

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        tokens = bm25s.tokenize(
            query_bundle.query_str,
            stemmer=self.stemmer if not self.skip_stemming else None,
            token_pattern=self.token_pattern,
            show_progress=False,
        )
        indexes, scores = self.bm25.retrieve(
            tokens, k=self.similarity_top_k, show_progress=False, weight_mask=self.mask
        )
        return [
            NodeWithScore(node=self.nodes[int(i)], score=float(score))
            for i, score in zip(indexes[0], scores[0], strict=True)
            if score > 0.0
        ]


def nearest(
    collection: chromadb.Collection, query_bundle: QueryBundle, k: int, where: dict | None
) -> list[tuple[str, float]]:
    """Chroma's k nearest (id, score), scored like ChromaVectorStore: exp(-distance).

    Ids and distances only: every passage is in memory already, and fetching documents
    and metadata with the hits (as ChromaVectorStore does) costs ~4 ms for 30 passages
    and ~8 ms for 90 sentences against ~1 ms without them.
    """
    got = collection.query(
        query_embeddings=[query_bundle.embedding],
        n_results=k,
        where=where,
        include=["distances"],
    )
    return [(rid, math.exp(-d)) for rid, d in zip(got["ids"][0], got["distances"][0], strict=True)]


class PassageRetriever(BaseRetriever):
    """Dense search over passages (the query bundle carries the query's embedding)."""

    def __init__(
        self,
        collection: chromadb.Collection,
        passages: dict[str, TextNode],
        top_k: int,
        where: dict | None,
    ):
        super().__init__()
        self._collection, self._passages, self._top_k, self._where = (
            collection,
            passages,
            top_k,
            where,
        )

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = nearest(self._collection, query_bundle, self._top_k, self._where)
        return [
            NodeWithScore(node=self._passages[pid], score=score)
            for pid, score in hits
            if pid in self._passages
        ]


class SentenceRetriever(BaseRetriever):
    """Dense search over single sentences; a passage scores as its best sentence."""

    def __init__(
        self,
        collection: chromadb.Collection,
        passages: dict[str, TextNode],
        top_k: int,
        where: dict | None,
    ):
        super().__init__()
        self._collection, self._passages, self._top_k, self._where = (
            collection,
            passages,
            top_k,
            where,
        )

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        best: dict[str, float] = {}
        for sid, score in nearest(self._collection, query_bundle, 3 * self._top_k, self._where):
            pid = sid.rpartition("~")[0]  # sentence ids are "{passage id}~{n}"
            best[pid] = max(best.get(pid, 0.0), score)
        ranked = sorted(best.items(), key=lambda kv: kv[1], reverse=True)[: self._top_k]
        return [
            NodeWithScore(node=self._passages[pid], score=score)
            for pid, score in ranked
            if pid in self._passages
        ]


class IndexNotReady(RuntimeError):
    """Nothing has been ingested into this store yet."""


class UnknownFilterValue(ValueError):
    def __init__(self, key: str, value: str, allowed: list[str]):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"filters.{key}: unknown value {value!r}")


class LiveIndex:
    def __init__(
        self,
        settings: Settings | None = None,
        store: Store | None = None,
        embed_model: MiniLMEmbedding | None = None,
    ):
        self.settings = settings or get_settings()
        self.store = store or Store(self.settings)
        self.embed_model = embed_model or load_embedding()
        self._lock = threading.Lock()
        self.state: IndexState | None = None
        # The loaded generation as one object: a search runs on it from start to end.
        self._view: LiveIndex | None = None
        self.refresh()

    # -- loading -----------------------------------------------------------
    def refresh(self) -> bool:
        """Load the live generation if the pointer moved; True when it did.

        Safe from request threads while other processes publish: the generation is built
        aside and swapped in whole, so a search never mixes two; the pointer is read again
        under the lock, so a thread that read it earlier never loads an older generation;
        and one dropped while it loads (two publishes since) sends it back to the pointer.
        """
        state = self.store.state()
        if state is None or (self.state and state.collection == self.state.collection):
            return False
        with self._lock:
            for attempt in range(LOAD_ATTEMPTS):
                state = self.store.state()
                if state is None or (self.state and state.collection == self.state.collection):
                    return False  # another thread loaded it meanwhile
                view = copy(self)
                view._view = None  # a view is only searched, never swapped: no chain of them
                try:
                    view._load(state)
                except ChromaError:
                    if attempt + 1 == LOAD_ATTEMPTS:
                        raise
                    continue
                # What the routes read (state, passages, order...), then the view itself.
                self.__dict__.update({k: v for k, v in view.__dict__.items() if k != "_view"})
                self._view = view
                return True
        return False

    def _load(self, state: IndexState) -> None:
        collection = self.store.collection(state.collection)
        passages = sorted(self.store.passages(collection), key=_document_order)
        nodes = [passage_to_node(p) for p in passages]
        self._collection = collection
        self._sentences = self.store.collection(sentence_collection(collection.name))
        self._nodes = {n.node_id: n for n in nodes}
        self._bm25 = KeywordRetriever.from_defaults(
            nodes=nodes,
            stemmer=Stemmer.Stemmer("english"),
            language="english",
            similarity_top_k=min(CANDIDATES, len(nodes)),
        )
        self._bm25.nodes = nodes  # bm25s document i is nodes[i]
        self._bm25.corpus = []  # node dicts (~2x the passages' size); hits use the nodes
        self._columns = {
            k: np.array([str(getattr(p, k) or "") for p in passages]) for k in FILTER_KEYS
        }
        # Per generation, not per request: at 100k passages the sets cost milliseconds.
        self._vocabulary = {k: sorted(set(col) - {""}) for k, col in self._columns.items()}
        self.passages = {p.id: p for p in passages}
        self.order = [p.id for p in passages]
        self._position = {pid: i for i, pid in enumerate(self.order)}
        self.state = state

    @property
    def ready(self) -> bool:
        return self.state is not None

    def require(self) -> None:
        if not self.ready:
            raise IndexNotReady("the index is empty: run `peerqa ingest` first")

    # -- lookups -----------------------------------------------------------
    def vocabulary(self) -> dict[str, list[str]]:
        """Values present for each filterable key (validates filters, fills UI menus)."""
        self.require()
        return {k: list(values) for k, values in self._vocabulary.items()}

    def neighbours(self, passage_id: str) -> tuple[str | None, str | None]:
        i = self._position[passage_id]
        doc = self.passages[passage_id].document
        prev_id = self.order[i - 1] if i > 0 else None
        next_id = self.order[i + 1] if i + 1 < len(self.order) else None
        return tuple(  # type: ignore[return-value]
            pid if pid and self.passages[pid].document == doc else None
            for pid in (prev_id, next_id)
        )

    # -- search ------------------------------------------------------------
    def search(
        self, query: str, top_k: int = 5, filters: Filters | None = None
    ) -> list[ScoredPassage]:
        self.require()
        view = self._view
        assert view is not None  # require() guarantees it
        try:
            return view._search(query, top_k, filters)
        except ChromaError:
            # Its collections were dropped, maybe mid-query: another process published
            # twice since this one last read the pointer. Serve the live generation.
            self.refresh()
            live = self._view
            if live is None or live is view:
                raise
            return live._search(query, top_k, filters)

    def _search(
        self, query: str, top_k: int = 5, filters: Filters | None = None
    ) -> list[ScoredPassage]:
        active = self._validate(filters)
        where = _chroma_where(active)
        # Embedded once here (LRU-cached by the model), not by each dense retriever.
        expanded = expand(query)
        bundle = QueryBundle(expanded, embedding=self.embed_model.get_query_embedding(expanded))
        fusion = QueryFusionRetriever(
            [
                PassageRetriever(self._collection, self._nodes, CANDIDATES, where),
                SentenceRetriever(self._sentences, self._nodes, CANDIDATES, where),
                self._keyword(active),
            ],
            llm=_NO_LLM,  # num_queries=1: no query generation, the LLM is never called
            num_queries=1,
            mode=FUSION_MODE,
            use_async=False,
            similarity_top_k=top_k,
        )
        hits = fusion.retrieve(bundle)
        return [self._scored(h) for h in hits if h.node.node_id in self.passages]

    def _validate(self, filters: Filters | None) -> dict[str, list[str]]:
        active = filters.active() if filters else {}
        for key in ("theme", "document"):
            for value in active.get(key, []):
                if value not in self._vocabulary[key]:
                    raise UnknownFilterValue(key, value, self.vocabulary()[key])
        return active

    def _keyword(self, active: dict[str, list[str]]) -> KeywordRetriever:
        retriever = copy(self._bm25)  # shares the in-memory BM25 index; mask is per request
        if active:
            mask = np.ones(len(self.order), dtype=bool)
            for key, values in active.items():
                mask &= np.isin(self._columns[key], values)
            retriever.mask = mask.astype(np.float32)
        return retriever

    def _scored(self, hit: NodeWithScore) -> ScoredPassage:
        passage = self.passages[hit.node.node_id]
        return ScoredPassage(
            **passage.model_dump(), context=passage.context, score=round(hit.score or 0.0, 6)
        )


_NO_LLM = MockLLM()


def _chroma_where(active: dict[str, list[str]]) -> dict[str, Any] | None:
    """API filters as a Chroma `where`: OR within a key ($in), AND across keys."""
    clauses: list[dict[str, Any]] = [{k: {"$in": list(v)}} for k, v in active.items()]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _document_order(p: Passage) -> tuple[str, int]:
    return (p.document, p.char_start)
