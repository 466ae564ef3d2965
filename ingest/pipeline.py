"""passages -> index: parse every source first, then publish one new Chroma generation.

Parsing happens before the store is touched, so bad input leaves the index as it was.
Embeddings are reused by (passage id, hash of the embedded text) from the live index,
so re-ingesting unchanged sources computes 0 embeddings.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import TextNode
from llama_index.vector_stores.chroma import ChromaVectorStore

from ingest.corpus import load_corpus
from ingest.prose import parse_user_document
from ingest.sources import SourceError, discover
from peerqa.config import Settings, get_settings
from peerqa.embedding import load_embedding
from peerqa.models import IngestReport, ParsedDocument, Passage
from peerqa.store import IndexState, Store, node_to_passage, passage_to_node


def parse_sources(paths: Sequence[Path], settings: Settings) -> list[ParsedDocument]:
    """The bundled corpus plus the user's files, all parsed; raises SourceError on bad input."""
    parsed = load_corpus(settings.corpus_dir, settings.max_passage_words)
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


def fingerprint(nodes: Iterable[TextNode]) -> str:
    digest = hashlib.sha256()
    for node in nodes:
        digest.update(node.node_id.encode())
        digest.update(node.get_content().encode())
        digest.update(repr(sorted(node.metadata.items())).encode())
    return digest.hexdigest()


def index_documents(
    store: Store,
    parsed: Sequence[ParsedDocument],
    remove: Sequence[str] = (),
    progress: bool = False,
) -> IngestReport:
    """Publish a generation holding `parsed` plus every live document not named in
    `parsed` or `remove`. Does nothing when that equals what is live."""
    state = store.state()
    new_nodes = {d.info.id: [passage_to_node(p) for p in d.passages] for d in parsed}
    prints = {doc_id: fingerprint(nodes) for doc_id, nodes in new_nodes.items()}
    live = {d.id: d for d in state.documents} if state else {}
    unchanged = (
        state is not None
        and not [i for i in remove if i in live]
        and all(state.fingerprints.get(i) == fp for i, fp in prints.items())
    )
    if unchanged:
        return report(state, embedded=0)

    carried_ids = [i for i in live if i not in new_nodes and i not in remove]
    reusable = _live_nodes(store, state)
    nodes = [n for n in reusable.values() if n.metadata["document"] in carried_ids]
    for doc_nodes in new_nodes.values():
        for node in doc_nodes:
            old = reusable.get(node.node_id)
            if old is not None and old.metadata["embed_hash"] == node.metadata["embed_hash"]:
                node.embedding = old.embedding
            nodes.append(node)

    embed_model = load_embedding()
    before = embed_model.embedded
    generation = state.generation + 1 if state else 1
    collection = store.new_collection(generation)
    IngestionPipeline(
        transformations=[embed_model],
        vector_store=ChromaVectorStore(chroma_collection=collection),
        disable_cache=True,
    ).run(nodes=nodes, show_progress=progress)

    for doc in parsed:
        doc.info.references_resolved = passage_reference_links(doc.passages)
    documents = [live[i] for i in carried_ids] + [d.info for d in parsed]
    carried = {i: (state.programmes.get(i, []), state.fingerprints[i]) for i in carried_ids}
    new_state = IndexState(
        collection=collection.name,
        generation=generation,
        previous=state.collection if state else None,
        documents=sorted(documents, key=lambda d: d.id),
        programmes={i: p for i, (p, _) in carried.items()}
        | {d.info.id: d.programmes for d in parsed if d.programmes},
        fingerprints={i: fp for i, (_, fp) in carried.items()} | prints,
    )
    store.publish(new_state)
    return report(new_state, embedded=embed_model.embedded - before)


def _live_nodes(store: Store, state: IndexState | None) -> dict[str, TextNode]:
    if state is None:
        return {}
    nodes = {}
    for rid, text, meta, vector in store.iter_records(store.collection(state.collection), True):
        node = passage_to_node(node_to_passage(rid, text, meta))
        node.embedding = vector
        nodes[rid] = node
    return nodes


def report(state: IndexState, embedded: int) -> IngestReport:
    by_kind: Counter[str] = Counter()
    for doc in state.documents:
        by_kind.update(doc.by_kind)
    return IngestReport(
        documents=len(state.documents),
        passages=sum(d.passages for d in state.documents),
        by_kind=dict(sorted(by_kind.items())),
        references_resolved=sum(d.references_resolved for d in state.documents),
        embedded=embedded,
    )


def passage_reference_links(passages: Iterable[Passage]) -> int:
    """In-text citations resolved: (passage, reference) links outside the reference list."""
    return sum(len(p.references) for p in passages if p.kind != "reference")
