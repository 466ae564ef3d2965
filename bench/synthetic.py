"""Synthetic scale corpora: the real corpus plus `synthetic-NNNNN` documents made of
shuffled windows of its sentences, with vectors derived from the real ones.

Embedding 100k passages and their ~300k sentences with MiniLM on 2 CPU cores would take
hours, so no model runs here: a synthetic sentence gets the real vector of the sentence
it copies plus Gaussian noise (sigma NOISE per dimension, renormalised; cosine ~0.98 to
the original), and a passage gets the normalised mean of its sentences' vectors plus
noise. The vectors cluster like the real corpus's, which is what the index sees; they are
not the model's, so scale figures measure the index and the service, not retrieval
quality. Real embedding throughput is measured separately (bench.run).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from llama_index.core.schema import BaseNode, TransformComponent
from pydantic import PrivateAttr

from peerqa.models import DocumentInfo, ParsedDocument, Passage
from peerqa.segment import sentence_spans
from peerqa.store import Store, sentence_collection, sentence_id

NOISE = 0.01
PER_DOCUMENT = 100  # passages per synthetic document
WINDOW = (2, 4)  # sentences per synthetic passage, inclusive
SOURCE_KINDS = ("paragraph", "quote")  # table rows and references are not prose


class PrecomputedVectors(TransformComponent):
    """Stands in for the embedding model in the ingest pipeline: each node gets its
    vector from a table by node id."""

    _vectors: dict[str, np.ndarray] = PrivateAttr()

    def __init__(self, vectors: dict[str, np.ndarray], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._vectors = vectors

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        for node in nodes:
            if node.embedding is None:
                node.embedding = self._vectors[node.node_id].tolist()
        return nodes


@dataclass
class Sentence:
    text: str
    vector: np.ndarray
    source: Passage


def live_vectors(store: Store) -> dict[str, np.ndarray]:
    """Every vector of the live generation (passages and sentences) by node id."""
    state = store.state()
    assert state is not None, "the real corpus must be ingested first"
    vectors: dict[str, np.ndarray] = {}
    for name in (state.collection, sentence_collection(state.collection)):
        for rid, _, _, vector in store.iter_records(store.collection(name), True):
            vectors[rid] = np.asarray(vector, dtype=np.float32)
    return vectors


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def synthetic_documents(
    n_passages: int,
    real: Sequence[ParsedDocument],
    real_vectors: dict[str, np.ndarray],
    seed: int = 0,
) -> tuple[list[ParsedDocument], dict[str, np.ndarray]]:
    """`n_passages` synthetic passages in documents of PER_DOCUMENT, and the vector of
    every node the ingest pipeline will make of them (passages and sentences)."""
    rng = np.random.default_rng(seed)
    pool = [
        Sentence(p.text[s:e], real_vectors[sentence_id(p.id, k)], p)
        for doc in real
        for p in doc.passages
        if p.kind in SOURCE_KINDS
        for k, (s, e) in enumerate(sentence_spans(p.text))
    ]
    by_text = {s.text: s.vector for s in pool}
    order: list[int] = []
    vectors: dict[str, np.ndarray] = {}
    documents: list[ParsedDocument] = []

    def noisy(base: np.ndarray) -> np.ndarray:
        return _unit(base + rng.normal(0.0, NOISE, base.shape).astype(np.float32))

    for d in range(-(-n_passages // PER_DOCUMENT)):
        doc_id = f"synthetic-{d:05d}"
        passages: list[Passage] = []
        offset = 0
        for j in range(min(PER_DOCUMENT, n_passages - d * PER_DOCUMENT)):
            size = int(rng.integers(WINDOW[0], WINDOW[1] + 1))
            if len(order) < size:
                order = [int(i) for i in rng.permutation(len(pool))]
            window = [pool[order.pop()] for _ in range(size)]
            text = " ".join(s.text for s in window)
            source = window[0].source
            pid = f"{doc_id}:{j:04d}"
            passages.append(
                Passage(
                    id=pid,
                    text=text,
                    document=doc_id,
                    section=source.section,
                    kind=source.kind,
                    stance=source.stance,
                    theme=source.theme,
                    programme=source.programme,
                    role=source.role,
                    char_start=offset,
                    char_end=offset + len(text),
                    context=source.context,
                )
            )
            offset += len(text) + 2  # the document joins passages with a blank line
            vectors[pid] = noisy(_unit(np.mean([s.vector for s in window], axis=0)))
            # The pipeline re-splits the passage; a piece that is not a copied sentence
            # (a split that differs) takes the passage's vector.
            for k, (s, e) in enumerate(sentence_spans(text)):
                vectors[sentence_id(pid, k)] = noisy(by_text.get(text[s:e], vectors[pid]))
        body = "\n\n".join(p.text for p in passages)
        info = DocumentInfo(
            id=doc_id,
            title=f"Synthetic document {d}",
            source=f"{doc_id}.txt",
            media_type="text/plain",
            sha256=hashlib.sha256(body.encode()).hexdigest(),
            passages=len(passages),
            by_kind=dict(Counter(p.kind for p in passages)),
        )
        documents.append(ParsedDocument(info=info, text=body, passages=passages))
    return documents, vectors
