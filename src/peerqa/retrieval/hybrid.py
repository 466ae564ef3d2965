"""index -> ranked passages, the retrieval layer's entrance: what the floors above import.

A `Snapshot` (snapshot.py) is one generation loaded (passages, BM25, vectors, filter
columns, ranker) and searched by search.py: dense and BM25 over the same nodes and late
interaction over what they found, fused by relative score, theme feedback, reference
entries only for literature questions, then the fitted ranker. `LiveIndex` (live.py),
made once per process with the model, holds the live snapshot and swaps in a new one when
an ingest publishes a new generation. Dense search, BM25 and its per-filter `Corpus`,
fusion and filter columns are their own modules (dense.py, keyword.py, fusion.py,
filters.py).
"""

from __future__ import annotations

from peerqa.retrieval.fusion import FUSION_MODE
from peerqa.retrieval.keyword import CORPORA_KEPT, CORPUS_MAX, Corpus, KeywordIndex
from peerqa.retrieval.live import LOAD_ATTEMPTS, LOADED_HOOKS, IndexNotReady, LiveIndex
from peerqa.retrieval.search import CANDIDATES, THEME_FEEDBACK, _evidence, encode
from peerqa.retrieval.snapshot import LoadedNode, Snapshot, UnknownFilterValue

__all__ = [
    "CANDIDATES",
    "CORPORA_KEPT",
    "CORPUS_MAX",
    "FUSION_MODE",
    "LOADED_HOOKS",
    "LOAD_ATTEMPTS",
    "THEME_FEEDBACK",
    "Corpus",
    "IndexNotReady",
    "KeywordIndex",
    "LiveIndex",
    "LoadedNode",
    "Snapshot",
    "UnknownFilterValue",
    "_evidence",
    "encode",
]
