"""passages -> index: parse every source first, then publish one new Chroma generation.

Parsing happens before the store is touched, so bad input leaves the index as it was.
Embeddings are reused by (passage id, hash of the embedded text) from the live index,
so re-ingesting unchanged sources computes 0 embeddings. Every text runs through the
model once: a lean kind's sentence record (a reference entry's title) carries its
passage's vector, and late interaction's text view is made of the sentences' tokens.
Before the publish, the files search derives from a generation (late interaction's token
vectors, the ONNX export) are made in the data dir (peerqa.files.derived_dir), so no
server makes them at load.

llama-index, the model and torch are imported only once something must be written: a
no-op re-ingest parses, fingerprints and reads the pointer (chromadb) and nothing else.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from peerqa.config import Settings, get_settings
from peerqa.ingest.corpus import load_corpus
from peerqa.ingest.mitigations import check_mitigations
from peerqa.ingest.prose import parse_user_document
from peerqa.ingest.sources import SourceError, discover
from peerqa.models import IngestReport, ParsedDocument, Passage
from peerqa.store import (
    FILTER_KEYS,
    LEAN_KINDS,
    IndexState,
    Store,
    embed_text,
    indexed_sentences,
    passage_metadata,
    passage_to_node,
    sentence_collection,
    sentence_id,
)

if TYPE_CHECKING:
    import chromadb
    from llama_index.core.schema import TextNode, TransformComponent

# Nodes go to the embedder and to Chroma this many at a time, so the vectors held in
# memory (new and reused) stay bounded whatever the corpus size.
CHUNK = 2048
T = TypeVar("T")


# Called with the settings, the new generation's state and its passages just before it is
# published: the layers above make the files they derive from a generation there
# (answer.values), in the writer's process, not in a server's.
DERIVED_HOOKS: list[Callable[[Settings, IndexState, list[Passage]], None]] = []


def parse_sources(paths: Sequence[Path], settings: Settings) -> list[ParsedDocument]:
    """The bundled corpus plus the user's files, all parsed; raises SourceError on bad input."""
    parsed = load_corpus(settings.corpus_dir, settings.max_passage_words)
    check_mitigations(settings.corpus_dir, parsed)
    parsed += [parse_user_document(p, settings.max_passage_words) for p in discover(list(paths))]
    seen: dict[str, str] = {}
    for doc in parsed:
        if doc.info.id in seen:
            raise SourceError(
                Path(doc.info.source),
                f"document id '{doc.info.id}' is already taken by {seen[doc.info.id]}; rename one",
            )
        seen[doc.info.id] = doc.info.source
    return parsed


def ingest(
    paths: Sequence[Path] = (), settings: Settings | None = None, progress: bool = False
) -> IngestReport:
    settings = settings or get_settings()
    parsed = parse_sources(paths, settings)
    return index_documents(Store(settings), parsed, progress=progress)


# Bump when what reaches the index changes shape (not content): forces a rebuild,
# still reusing every vector whose text is unchanged.
INDEX_FORMAT = "4: passages + sentences, a reference entry's longest with its passage vector"


def fingerprint(passages: Iterable[Passage]) -> str:
    """Hash of the passages' ids, texts and node metadata: exactly what reaches the index
    (the same digest as hashing their nodes), without building nodes."""
    digest = hashlib.sha256(INDEX_FORMAT.encode())
    for passage in passages:
        digest.update(passage.id.encode())
        digest.update(passage.text.encode())
        digest.update(repr(sorted(passage_metadata(passage).items())).encode())
    return digest.hexdigest()


def sentence_nodes(passage: Passage) -> list[TextNode]:
    """One node per sentence, embedded alone: a passage then ranks by its best sentence,
    which finds a one-sentence answer inside a long passage. A lean kind's one sentence
    (peerqa.store.indexed_sentences) carries its passage's vector instead: its hash is
    the passage's embedded text's."""
    from llama_index.core.schema import TextNode

    filterable = {k: getattr(passage, k) or "" for k in FILTER_KEYS}
    lean = passage.kind in LEAN_KINDS
    nodes = []
    for n, (start, end) in enumerate(indexed_sentences(passage)):
        text = passage.text[start:end]
        embedded = embed_text(passage) if lean else text
        metadata = {
            "passage_id": passage.id,
            **filterable,
            "embed_hash": hashlib.sha256(embedded.encode()).hexdigest()[:16],
        }
        nodes.append(
            TextNode(
                id_=sentence_id(passage.id, n),
                text=text,
                metadata=metadata,
                excluded_embed_metadata_keys=list(metadata),
                excluded_llm_metadata_keys=list(metadata),
            )
        )
    return nodes


def index_documents(
    store: Store,
    parsed: Sequence[ParsedDocument],
    remove: Sequence[str] = (),
    progress: bool = False,
    embed_model: TransformComponent | None = None,
) -> IngestReport:
    """Publish a generation holding `parsed` plus every live document not named in
    `parsed` or `remove`. Does nothing when that equals what is live.

    `embed_model` embeds nodes that have no vector yet (default: the MiniLM model, loaded
    only if some node needs it); the bench passes precomputed vectors here."""
    state = store.state()
    prints = {d.info.id: fingerprint(d.passages) for d in parsed}
    live = {d.id: d for d in state.documents} if state else {}
    unchanged = (
        state is not None
        and not [i for i in remove if i in live]
        and all(state.fingerprints.get(i) == fp for i, fp in prints.items())
    )
    if unchanged:
        # Nothing to publish, but an ingest killed before its publish may have left an
        # orphan generation: remove it now (writers are serialised, see peerqa ingest).
        store.collect_garbage(keep=set())
        return report(state, embedded=0)

    carried_ids = [i for i in live if i not in prints and i not in remove]
    live_passages = _live_passages(store, state)
    carried = [p for p in live_passages if p.document in carried_ids]
    passages = carried + [p for d in parsed for p in d.passages]
    generation = state.generation + 1 if state else 1
    collection = store.new_collection(generation)
    sentences = store.new_collection(generation, collection.name)
    embedder = _Embedder(embed_model)
    # A passage's tokens for late interaction, from the pass that embeds it (see below).
    kept_tokens: dict[str, np.ndarray] | None = {} if _late_max() >= len(passages) else None
    lean: dict[str, list[float]] = {}  # a lean kind's passage vector, by passage id
    _write(
        (passage_to_node(p) for p in passages),
        collection,
        store.collection(state.collection) if state else None,
        embedder,
        progress,
        kept_tokens,
        lean,
    )
    sentence_tokens: dict[str, np.ndarray] | None = None if kept_tokens is None else {}
    n_sentences = _write(
        (_with_vector(n, lean) for p in passages for n in sentence_nodes(p)),
        sentences,
        store.collection(sentence_collection(state.collection)) if state else None,
        embedder,
        progress,
        sentence_tokens,
    )
    if kept_tokens is not None and sentence_tokens:
        # Late interaction's text view is made of its sentences' tokens (retrieval.late).
        kept_tokens.update(sentence_tokens)
    if kept_tokens is not None:
        from peerqa.retrieval.late import derive_files

        derive_files(store.settings, live_passages, passages, embedder.model(), kept_tokens)

    for doc in parsed:
        doc.info.references_resolved = passage_reference_links(doc.passages)
    documents = [live[i] for i in carried_ids] + [d.info for d in parsed]
    new_state = IndexState(
        collection=collection.name,
        generation=generation,
        previous=state.collection if state else None,
        documents=sorted(documents, key=lambda d: d.id),
        programmes={i: state.programmes.get(i, []) for i in carried_ids}
        | {d.info.id: d.programmes for d in parsed if d.programmes},
        fingerprints={i: state.fingerprints[i] for i in carried_ids} | prints,
        sentences=n_sentences,
    )
    for hook in DERIVED_HOOKS:
        hook(store.settings, new_state, passages)
    store.publish(new_state)
    return report(new_state, embedded=embedder.embedded)


def _with_vector(node: TextNode, lean: dict[str, list[float]]) -> TextNode:
    """A lean kind's sentence node with its passage's vector (not run through the model)."""
    if node.metadata.get("kind") in LEAN_KINDS and node.metadata["passage_id"] in lean:
        node.embedding = lean[node.metadata["passage_id"]]
    return node


def _late_max() -> int:
    from peerqa.retrieval.late import LATE_MAX

    return LATE_MAX


class _Embedder:
    """The embedding transform, loaded on first use: a publish that only reuses vectors
    (removing a document, carrying unchanged ones) never loads it to embed."""

    def __init__(self, model: TransformComponent | None):
        self._model = model
        self.embedded = 0

    def model(self) -> TransformComponent:
        if self._model is None:
            from peerqa.embedding import load_embedding

            self._model = load_embedding()
        return self._model

    def __call__(self, nodes: Sequence[TextNode]) -> TransformComponent | None:
        """The transform for a chunk, or None when every node has its vector."""
        todo = sum(n.embedding is None for n in nodes)
        if not todo:
            return None
        self.embedded += todo
        return self.model()


def _write(
    nodes: Iterable[TextNode],
    target: chromadb.Collection,
    live: chromadb.Collection | None,
    embedder: _Embedder,
    progress: bool,
    kept_tokens: dict[str, np.ndarray] | None = None,
    lean: dict[str, list[float]] | None = None,
) -> int:
    """Embed (or reuse) and add `nodes` to `target`, CHUNK at a time; how many there were.
    With `kept_tokens`, the content token vectors of each text embedded go there too; with
    `lean`, the vectors of lean kinds' nodes, by id."""
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.vector_stores.chroma import ChromaVectorStore

    vector_store = ChromaVectorStore(chroma_collection=target)
    written = 0
    for chunk in batched(nodes, CHUNK):
        if live is not None:
            _reuse_vectors(chunk, live)
        transform = embedder(chunk)
        keeping = getattr(transform, "keeping_tokens", None)
        with keeping() if keeping and kept_tokens is not None else nullcontext({}) as kept:
            IngestionPipeline(
                transformations=[transform] if transform else [],
                vector_store=vector_store,
                disable_cache=True,
            ).run(nodes=chunk, show_progress=progress)
        if kept_tokens is not None:
            kept_tokens.update(kept)
        if lean is not None:
            lean.update(
                (n.node_id, n.embedding)
                for n in chunk
                if n.metadata.get("kind") in LEAN_KINDS and n.embedding is not None
            )
        written += len(chunk)
    return written


def _live_passages(store: Store, state: IndexState | None) -> list[Passage]:
    return store.passages(store.collection(state.collection)) if state else []


def _reuse_vectors(nodes: Sequence[TextNode], live: chromadb.Collection) -> None:
    """Give each node the live vector of the same id when its embedded text is unchanged."""
    got = live.get(ids=[n.node_id for n in nodes], include=["metadatas", "embeddings"])
    found = {
        rid: (meta.get("embed_hash"), vector)
        for rid, meta, vector in zip(got["ids"], got["metadatas"], got["embeddings"], strict=True)
    }
    for node in nodes:
        old_hash, vector = found.get(node.node_id, (None, None))
        if vector is not None and old_hash == node.metadata["embed_hash"]:
            node.embedding = np.asarray(vector, dtype=np.float32).tolist()


def batched(items: Iterable[T], n: int) -> Iterator[list[T]]:
    """itertools.batched (Python 3.12) for 3.11."""
    iterator = iter(items)
    while chunk := list(islice(iterator, n)):
        yield chunk


def report(state: IndexState, embedded: int) -> IngestReport:
    by_kind: Counter[str] = Counter()
    for doc in state.documents:
        by_kind.update(doc.by_kind)
    return IngestReport(
        documents=len(state.documents),
        passages=sum(d.passages for d in state.documents),
        by_kind=dict(sorted(by_kind.items())),
        references_resolved=sum(d.references_resolved for d in state.documents),
        sentences=state.sentences,
        embedded=embedded,
    )


def passage_reference_links(passages: Iterable[Passage]) -> int:
    """In-text citations resolved: (passage, reference) links outside the reference list."""
    return sum(len(p.references) for p in passages if p.kind != "reference")
