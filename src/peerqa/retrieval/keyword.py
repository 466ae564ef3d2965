"""Keyword search: llama-index's BM25 retriever over a generation's passages (or the
documents a filter keeps), with a per-request filter mask."""

from __future__ import annotations

import bm25s
import numpy as np
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.retrievers.bm25 import BM25Retriever

from peerqa.words import TOKEN_PATTERN  # noqa: F401 (hybrid reads it here)


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
