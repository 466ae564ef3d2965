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
from ingest.mitigations import check_mitigations
from ingest.prose import parse_user_document
from ingest.segment import sentence_spans
from ingest.sources import SourceError, discover
from peerqa.config import Settings, get_settings
from peerqa.embedding import load_embedding
from peerqa.models import IngestReport, ParsedDocument, Passage
from peerqa.store import FILTER_KEYS, IndexState, Store, passage_to_node, sentence_collection


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
INDEX_FORMAT = "2: passages + sentences"


def fingerprint(nodes: Iterable[TextNode]) -> str:
    digest = hashlib.sha256(INDEX_FORMAT.encode())
    for node in nodes:
        digest.update(node.node_id.encode())
        digest.update(node.get_content().encode())
        digest.update(repr(sorted(node.metadata.items())).encode())
    return digest.hexdigest()


def sentence_nodes(passage: Passage) -> list[TextNode]:
    """One node per sentence, embedded alone: a passage then ranks by its best sentence,
    which finds a one-sentence answer inside a long passage."""
    filterable = {k: getattr(passage, k) or "" for k in FILTER_KEYS}
    nodes = []
    for k, (start, end) in enumerate(sentence_spans(passage.text)):
        text = passage.text[start:end]
        metadata = {
            "passage_id": passage.id,
            **filterable,
            "embed_hash": hashlib.sha256(text.encode()).hexdigest()[:16],
        }
        nodes.append(
            TextNode(
                id_=f"{passage.id}~{k}",
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
) -> IngestReport:
    """Publish a generation holding `parsed` plus every live document not named in
    `parsed` or `remove`. Does nothing when that equals what is live."""
    state = store.state()
    prints = {d.info.id: fingerprint(passage_to_node(p) for p in d.passages) for d in parsed}
    live = {d.id: d for d in state.documents} if state else {}
    unchanged = (
        state is not None
        and not [i for i in remove if i in live]
        and all(state.fingerprints.get(i) == fp for i, fp in prints.items())
    )
    if unchanged:
        return report(state, embedded=0)

    carried_ids = [i for i in live if i not in prints and i not in remove]
    carried = [p for p in _live_passages(store, state) if p.document in carried_ids]
    passages = carried + [p for d in parsed for p in d.passages]
    passage_nodes = [passage_to_node(p) for p in passages]
    sentences = [n for p in passages for n in sentence_nodes(p)]
    if state:
        _reuse_vectors(passage_nodes, store, state.collection)
        _reuse_vectors(sentences, store, sentence_collection(state.collection))

    embed_model = load_embedding()
    before = embed_model.embedded
    generation = state.generation + 1 if state else 1
    collection = store.new_collection(generation)
    for nodes, target in (
        (passage_nodes, collection),
        (sentences, store.new_collection(generation, collection.name)),
    ):
        IngestionPipeline(
            transformations=[embed_model],
            vector_store=ChromaVectorStore(chroma_collection=target),
            disable_cache=True,
        ).run(nodes=nodes, show_progress=progress)

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
        sentences=len(sentences),
    )
    store.publish(new_state)
    return report(new_state, embedded=embed_model.embedded - before)


def _live_passages(store: Store, state: IndexState | None) -> list[Passage]:
    return store.passages(store.collection(state.collection)) if state else []


def _reuse_vectors(nodes: list[TextNode], store: Store, collection_name: str) -> None:
    """Give each node the live vector of the same id when its embedded text is unchanged."""
    live = {
        rid: (meta.get("embed_hash"), vector)
        for rid, _, meta, vector in store.iter_records(store.collection(collection_name), True)
    }
    for node in nodes:
        old_hash, vector = live.get(node.node_id, (None, None))
        if old_hash == node.metadata["embed_hash"]:
            node.embedding = vector


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
