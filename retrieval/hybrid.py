"""index -> ranked passages: dense (Chroma) and BM25 over the same nodes, fused by RRF.

`LiveIndex` is loaded once per process (model, BM25, passage table) and follows the
store's pointer, reloading when an ingest publishes a new generation.
"""

from __future__ import annotations

import threading
from copy import copy

import numpy as np
import Stemmer
from llama_index.core import VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters
from llama_index.retrievers.bm25 import BM25Retriever
from llama_index.vector_stores.chroma import ChromaVectorStore

from peerqa.config import Settings, get_settings
from peerqa.embedding import MiniLMEmbedding, load_embedding
from peerqa.models import Filters, Passage, ScoredPassage
from peerqa.store import FILTER_KEYS, IndexState, Store, passage_to_node, sentence_collection
from retrieval.expansion import expand

CANDIDATES = 30  # per retriever, before fusion
# Min-max normalised scores summed across retrievers beat RRF on the curated set
# (Recall@5 0.791 vs 0.718, MRR@10 0.661 vs 0.608); weighting them did not generalise.
FUSION_MODE = "relative_score"


class KeywordRetriever(BM25Retriever):
    """BM25 that drops zero-score hits: bm25s returns k results even when a filter mask
    or the query leaves fewer real matches, and those must not reach fusion."""

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [h for h in super()._retrieve(query_bundle) if (h.score or 0.0) > 0.0]


class SentenceRetriever(BaseRetriever):
    """Dense search over single sentences; a passage scores as its best sentence."""

    def __init__(self, sentences: BaseRetriever, passages: dict[str, TextNode], top_k: int):
        super().__init__()
        self._sentences, self._passages, self._top_k = sentences, passages, top_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        best: dict[str, float] = {}
        for hit in self._sentences.retrieve(query_bundle):
            pid = hit.node.metadata["passage_id"]
            best[pid] = max(best.get(pid, 0.0), hit.score or 0.0)
        ranked = sorted(best.items(), key=lambda kv: kv[1], reverse=True)[: self._top_k]
        return [NodeWithScore(node=self._passages[pid], score=score) for pid, score in ranked]


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
        self.refresh()

    # -- loading -----------------------------------------------------------
    def refresh(self) -> bool:
        """Load the live generation if the pointer moved; True when it did."""
        state = self.store.state()
        if state is None or (self.state and state.collection == self.state.collection):
            return False
        with self._lock:
            self._load(state)
        return True

    def _load(self, state: IndexState) -> None:
        collection = self.store.collection(state.collection)
        passages = sorted(self.store.passages(collection), key=_document_order)
        nodes = [passage_to_node(p) for p in passages]
        self._vector_index, self._sentence_index = (
            VectorStoreIndex.from_vector_store(
                ChromaVectorStore(chroma_collection=c), embed_model=self.embed_model
            )
            for c in (collection, self.store.collection(sentence_collection(collection.name)))
        )
        self._nodes = {n.node_id: n for n in nodes}
        self._bm25 = KeywordRetriever.from_defaults(
            nodes=nodes,
            stemmer=Stemmer.Stemmer("english"),
            language="english",
            similarity_top_k=min(CANDIDATES, len(nodes)),
        )
        # With the corpus on the bm25s object, per-request copies resolve hits to nodes.
        self._bm25.bm25.corpus = self._bm25.corpus
        self._columns = {
            k: np.array([str(getattr(p, k) or "") for p in passages]) for k in FILTER_KEYS
        }
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
        return {k: sorted(set(col) - {""}) for k, col in self._columns.items()}

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
        active = self._validate(filters)
        metadata_filters = _metadata_filters(active)
        fusion = QueryFusionRetriever(
            [
                self._vector_index.as_retriever(
                    similarity_top_k=CANDIDATES, filters=metadata_filters
                ),
                SentenceRetriever(
                    self._sentence_index.as_retriever(
                        similarity_top_k=3 * CANDIDATES, filters=metadata_filters
                    ),
                    self._nodes,
                    CANDIDATES,
                ),
                self._keyword(active),
            ],
            llm=MockLLM(),  # num_queries=1: no query generation, the LLM is never called
            num_queries=1,
            mode=FUSION_MODE,
            use_async=False,
            similarity_top_k=top_k,
        )
        hits = fusion.retrieve(QueryBundle(expand(query)))
        return [self._scored(h) for h in hits if h.node.node_id in self.passages]

    def _validate(self, filters: Filters | None) -> dict[str, list[str]]:
        active = filters.active() if filters else {}
        vocab = self.vocabulary()
        for key in ("theme", "document"):
            for value in active.get(key, []):
                if value not in vocab[key]:
                    raise UnknownFilterValue(key, value, vocab[key])
        return active

    def _keyword(self, active: dict[str, list[str]]) -> KeywordRetriever:
        retriever = copy(self._bm25)  # shares the in-memory BM25 index; mask is per request
        if active:
            mask = np.ones(len(self.order), dtype=bool)
            for key, values in active.items():
                mask &= np.isin(self._columns[key], values)
            retriever.corpus_weight_mask = mask.astype(np.int8).tolist()
        return retriever

    def _scored(self, hit: NodeWithScore) -> ScoredPassage:
        passage = self.passages[hit.node.node_id]
        return ScoredPassage(
            **passage.model_dump(), context=passage.context, score=round(hit.score or 0.0, 6)
        )


def _metadata_filters(active: dict[str, list[str]]) -> MetadataFilters | None:
    if not active:
        return None
    return MetadataFilters(
        filters=[
            MetadataFilter(key=k, value=list(v), operator=FilterOperator.IN)
            for k, v in active.items()
        ]
    )


def _document_order(p: Passage) -> tuple[str, int]:
    return (p.document, p.char_start)
