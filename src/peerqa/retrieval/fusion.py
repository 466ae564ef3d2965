"""Fusion: llama-index's QueryFusionRetriever (one query, no LLM, relative-score mode)
over a search's retrievers and late-interaction rankings, handing its fused ranking to
the caller's reranking."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from copy import copy

from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

# Min-max normalised scores summed across retrievers beat RRF on the curated set (Recall@5
# and MRR@10); weighting them did not generalise.
FUSION_MODE = "relative_score"
# HybridFusion overrides QueryFusionRetriever's private `_run_sync_queries` and
# `_relative_score_fusion` and sets its private `_retrievers` and `_retriever_weights`:
# written against this release, pinned exactly in pyproject.toml
# (tests/test_retrieval_fusion.py fails when the installed one differs).
LLAMA_INDEX_CORE = "0.14.25"

_NO_LLM = MockLLM()

# Takes the whole fused ranking, each ranking's (id, raw score) best first (by its
# position among retrievers and late rankings) and similarity_top_k; returns the best
# that many.
Rerank = Callable[[list[NodeWithScore], list[list[tuple[str, float]]], int], list[NodeWithScore]]


class HybridFusion(QueryFusionRetriever):
    """QueryFusionRetriever (one query, no LLM) over peerqa's own retrievers, plus more
    rankings to fuse: each of `late` ranks the passages they found (late interaction,
    retrieval/late.py).

    It calls each retriever's `_retrieve`, not `retrieve`: the search is instrumented
    once, by this retriever's `retrieve`, and the per-retriever events, callback traces
    and IndexNode recursion `retrieve` adds (~0.15 ms a retriever: a signature bind, two
    uuid4s, pydantic events) have nothing to do for hits that are distinct TextNodes.
    """

    late: Sequence[Callable[[list[TextNode]], list[NodeWithScore]]] = ()
    rerank: Rerank | None = None

    @classmethod
    def template(cls, keyword: BaseRetriever) -> HybridFusion:
        """A generation's fusion retriever, made once and copied per search (`over`)."""
        return cls(
            [keyword],
            llm=_NO_LLM,  # num_queries=1: no query generation, the LLM is never called
            num_queries=1,
            mode=FUSION_MODE,
            use_async=False,
        )

    def over(
        self,
        retrievers: list[BaseRetriever],
        top_k: int,
        late: Sequence[Callable[[list[TextNode]], list[NodeWithScore]]],
        rerank: Rerank,
    ) -> HybridFusion:
        """This template copied over a request's retrievers (and late rankings) with equal
        weights, as its constructor sets them. Copied, not constructed: the constructor
        probes for langchain with two failing imports under Python's import lock, 14% of
        the server's time at concurrency 16."""
        fusion = copy(self)
        fusion._retrievers = retrievers
        rankings = len(retrievers) + len(late)
        fusion._retriever_weights = [1.0 / rankings] * rankings
        fusion.similarity_top_k = top_k
        fusion.late = late
        fusion.rerank = rerank
        return fusion

    def _relative_score_fusion(
        self, results: dict[tuple[str, int], list[NodeWithScore]], dist_based: bool | None = False
    ) -> list[NodeWithScore]:
        # Before fusion normalises the scores in place.
        raw = [[(h.node.node_id, h.score or 0.0) for h in hits] for hits in results.values()]
        fused = super()._relative_score_fusion(results, dist_based)
        return self.rerank(fused, raw, self.similarity_top_k) if self.rerank else fused

    def _run_sync_queries(
        self, queries: list[QueryBundle]
    ) -> dict[tuple[str, int], list[NodeWithScore]]:
        (query,) = queries  # num_queries=1
        results = {
            (query.query_str, i): retriever._retrieve(query)
            for i, retriever in enumerate(self._retrievers)
        }
        found = list({h.node.node_id: h.node for hits in results.values() for h in hits}.values())
        for i, rank in enumerate(self.late, len(self._retrievers)):
            results[(query.query_str, i)] = rank(found)
        return results
