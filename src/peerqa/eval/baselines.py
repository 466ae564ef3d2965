"""What a user would build with llama-index defaults, to score against ours.

Same source texts, same embedding model, same Chroma; the chunks come from
`SentenceSplitter` over a `Document` of each raw source text, so every node keeps exact
character offsets (`start_char_idx`/`end_char_idx`, checked here) and the same span
metrics score it. Retrievers only: no LLM is involved.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import chromadb
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import BaseNode
from llama_index.retrievers.bm25 import BM25Retriever
from llama_index.vector_stores.chroma import ChromaVectorStore
from pydantic import BaseModel

from peerqa.embedding import MiniLMEmbedding

# Splitter settings as a user would write them (256 keeps the default overlap of 200).
SPLITTERS: dict[int, dict[str, int]] = {
    1024: {"chunk_size": 1024, "chunk_overlap": 200},
    256: {"chunk_size": 256},
}


class Chunk(BaseModel):
    """A baseline node as a ranked passage with offsets (the metrics' `Span`)."""

    id: str
    document: str
    char_start: int
    char_end: int
    text: str
    score: float = 0.0


class Baseline:
    """One llama-index retriever over one chunking, answering with `Chunk`s."""

    def __init__(self, name: str, description: str, retriever: BaseRetriever, chunks: list[Chunk]):
        self.name = name
        self.description = description
        self._retriever = retriever
        self._chunks = {c.id: c for c in chunks}

    @property
    def universe(self) -> Sequence[Chunk]:
        return list(self._chunks.values())

    def retrieve(self, query: str) -> list[Chunk]:
        hits = self._retriever.retrieve(query)
        return [
            self._chunks[h.node.node_id].model_copy(update={"score": h.score or 0.0}) for h in hits
        ]


def split(sources: Mapping[str, str], size: int) -> list[BaseNode]:
    """Default splitting, except readable, reproducible node ids ("doc@256#17")."""
    splitter = SentenceSplitter(
        **SPLITTERS[size], id_func=lambda i, doc: f"{doc.node_id}@{size}#{i}"
    )
    documents = [Document(text=text, id_=doc_id) for doc_id, text in sources.items()]
    return splitter.get_nodes_from_documents(documents)


def to_chunk(node: BaseNode, sources: Mapping[str, str]) -> Chunk:
    document, start, end = node.ref_doc_id, node.start_char_idx, node.end_char_idx
    text = node.get_content()
    if document is None or start is None or end is None or sources[document][start:end] != text:
        raise ValueError(f"splitter node {node.node_id} has no exact source offsets")
    return Chunk(id=node.node_id, document=document, char_start=start, char_end=end, text=text)


@contextmanager
def build_baselines(
    client: chromadb.ClientAPI,
    embed_model: MiniLMEmbedding,
    sources: Mapping[str, str],
    prefix: str = "peerqa",
    top_k: int = 10,
) -> Iterator[list[Baseline]]:
    """Dense and BM25 baselines per chunking, in collections dropped on exit.

    Collection names (`{prefix}-evalbaseline-{run}-…`) never match the store's own
    `{prefix}_g…` generations, so an ingest's garbage collection leaves them alone.
    """
    run = uuid.uuid4().hex[:8]
    created: list[str] = []
    try:
        baselines: list[Baseline] = []
        for size, params in SPLITTERS.items():
            nodes = split(sources, size)
            chunks = [to_chunk(n, sources) for n in nodes]
            name = f"{prefix}-evalbaseline-{run}-sentence{size}"
            collection = client.create_collection(name, embedding_function=None)
            created.append(name)
            storage = StorageContext.from_defaults(
                vector_store=ChromaVectorStore(chroma_collection=collection)
            )
            # Embeds each chunk once; queries hit the model's cache shared with ours.
            index = VectorStoreIndex(nodes, storage_context=storage, embed_model=embed_model)
            overlap = params.get("chunk_overlap", SentenceSplitter().chunk_overlap)
            splitter_desc = f"SentenceSplitter(chunk_size={size}, overlap {overlap})"
            baselines.append(
                Baseline(
                    f"dense-{size}",
                    f"{splitter_desc} + VectorStoreIndex/Chroma, MiniLM, top {top_k}",
                    index.as_retriever(similarity_top_k=top_k),
                    chunks,
                )
            )
            baselines.append(
                Baseline(
                    f"bm25-{size}",
                    f"{splitter_desc} + BM25Retriever defaults, top {top_k}",
                    BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=top_k),
                    chunks,
                )
            )
        yield baselines
    finally:
        for name in created:
            client.delete_collection(name)
