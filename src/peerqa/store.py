"""The index: passages as llama-index nodes in Chroma, published atomically by generation.

Every ingest that changes anything writes a *new* collection, then flips one pointer
record (a single upsert) to it. Readers follow the pointer, so they see the old index
or the new one, never a half-built one; an ingest killed mid-way leaves only an orphan
collection that the next ingest removes. The same code runs on the embedded
PersistentClient (default) and on a Chroma server (PEERQA_CHROMA_URL).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings
from pydantic import BaseModel, Field

from peerqa.config import Settings
from peerqa.models import DocumentInfo, Passage, Programme
from peerqa.segment import sentence_spans

if TYPE_CHECKING:  # llama-index costs ~2 s to import; a no-op ingest never needs it
    from llama_index.core.schema import TextNode

# Metadata keys whose values stay filterable in Chroma (None is stored as "").
FILTER_KEYS = ("document", "section", "kind", "stance", "theme", "programme", "role")
_JSON_KEYS = ("ref_numbers", "references", "rows")
_POINTER_ID = "active"
_BATCH = 2000


def sentence_collection(passages: str) -> str:
    """Each generation's sentence index sits beside its passages and lives as long."""
    return f"{passages}_s"


def sentence_id(passage_id: str, n: int) -> str:
    """The id of sentence n of a passage in the sentence collection."""
    return f"{passage_id}~{n}"


# Kinds indexed leanly: one sentence vector (indexed_sentences), and late interaction's
# tokens only from the pass that embeds the passage (retrieval.late.verbatim_text). A
# reference-list entry is evidence only when a question asks about literature; its
# "sentences" (authors, title, journal line) are ~40% of a user paper's.
LEAN_KINDS = frozenset({"reference"})


def indexed_sentences(passage: Passage) -> list[tuple[int, int]]:
    """The spans of a passage's sentences that have records in the sentence collection: a
    lean kind's longest only (a reference entry's title, as a rule: what a question about
    literature names, without the author list and journal line)."""
    spans = sentence_spans(passage.text, citations=passage.ref_numbers)
    if passage.kind in LEAN_KINDS and spans:
        return [max(spans, key=lambda span: span[1] - span[0])]
    return spans


def sentence_ids(passage: Passage) -> list[str]:
    """The ids of a passage's records in the sentence collection, one per sentence."""
    return [sentence_id(passage.id, n) for n in range(len(indexed_sentences(passage)))]


def sentence_passage(record_id: str) -> str:
    return record_id.rpartition("~")[0]


def sentence_texts(record_ids: Sequence[str], passages: Mapping[str, Passage]) -> list[str]:
    """The text each sentence record (by id) was embedded from: its span of its passage's
    text, as sentence_nodes cut it at ingest."""
    spans: dict[str, list[tuple[int, int]]] = {}
    texts = []
    for record_id in record_ids:
        passage_id, _, n = record_id.rpartition("~")
        passage = passages[passage_id]
        if passage_id not in spans:
            spans[passage_id] = indexed_sentences(passage)
        start, end = spans[passage_id][int(n)]
        texts.append(passage.text[start:end])
    return texts


class IndexState(BaseModel):
    """What the pointer record holds: the live collection and what is in it."""

    collection: str
    generation: int
    # Kept one generation longer so a reader that read the pointer just before a flip
    # can finish its query.
    previous: str | None = None
    documents: list[DocumentInfo] = Field(default_factory=list)
    programmes: dict[str, list[Programme]] = Field(default_factory=dict)  # by document id
    # Per-document hash of everything that reaches the index; equal hash = nothing to do.
    fingerprints: dict[str, str] = Field(default_factory=dict)
    sentences: int = 0
    published_at: float = 0.0


def make_client(settings: Settings) -> chromadb.ClientAPI:
    telemetry = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=telemetry,
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.data_dir / "chroma"), settings=telemetry)


def embed_text(passage: Passage) -> str:
    """What is embedded for a passage: its context, a blank line, its text (the text alone
    without context). The string `passage_to_node(passage).get_content(MetadataMode.EMBED)`
    renders, built without llama-index."""
    context = passage.context.strip()
    return f"{context}\n\n{passage.text}".strip() if context else passage.text


def passage_metadata(passage: Passage) -> dict[str, Any]:
    """The node metadata of a passage, `embed_hash` included (see passage_to_node)."""
    data = passage.model_dump(exclude={"id", "text"})
    # None becomes "" as Chroma would store it, so nodes rebuilt from Chroma and from the
    # in-memory BM25 corpus hash alike (fusion matches them by hash).
    metadata = {k: ("" if v is None else v) for k, v in data.items() if k not in _JSON_KEYS}
    metadata.update({k: json.dumps(data[k]) for k in _JSON_KEYS})
    metadata["context"] = passage.context
    metadata["embed_hash"] = hashlib.sha256(embed_text(passage).encode()).hexdigest()[:16]
    return metadata


def passage_to_node(passage: Passage, node_class: type[TextNode] | None = None) -> TextNode:
    """The node's text is the verbatim passage; its context rides in metadata that is
    embedded and keyword-indexed (MetadataMode.EMBED) but never returned as evidence."""
    from llama_index.core.schema import TextNode

    metadata = passage_metadata(passage)
    return (node_class or TextNode)(
        id_=passage.id,
        text=passage.text,
        metadata=metadata,
        excluded_embed_metadata_keys=[k for k in metadata if k != "context"],
        excluded_llm_metadata_keys=list(metadata),
        metadata_template="{value}",
        text_template="{metadata_str}\n\n{content}",
    )


# Read once: pydantic's class-level model_fields is a deprecation-wrapped property, and
# node_to_passage runs for every passage of the index at load (100k at scale).
_PASSAGE_FIELDS = frozenset(Passage.model_fields)


def node_to_passage(node_id: str, text: str, metadata: dict) -> Passage:
    fields = {k: (v if v != "" else None) for k, v in metadata.items() if k in _PASSAGE_FIELDS}
    for key in _JSON_KEYS:
        fields[key] = json.loads(metadata.get(key) or "[]")
    fields["context"] = metadata.get("context") or ""
    return Passage(id=node_id, text=text, **fields)


class Store:
    """Chroma access for one namespace (settings.collection_prefix)."""

    def __init__(self, settings: Settings, client: chromadb.ClientAPI | None = None):
        self.settings = settings
        self.client = client or make_client(settings)
        self.prefix = settings.collection_prefix
        self._meta = self.client.get_or_create_collection(
            f"{self.prefix}_meta", embedding_function=None
        )

    # -- the pointer -------------------------------------------------------
    def state(self) -> IndexState | None:
        got = self._meta.get(ids=[_POINTER_ID], include=["documents"])
        if not got["ids"]:
            return None
        return IndexState.model_validate_json(got["documents"][0])

    def publish(self, state: IndexState) -> None:
        state.published_at = time.time()
        self._meta.upsert(
            ids=[_POINTER_ID], documents=[state.model_dump_json()], embeddings=[[0.0]]
        )
        self.collect_garbage(keep={state.collection})

    # -- generations -------------------------------------------------------
    def new_collection(self, generation: int, passages: str | None = None) -> chromadb.Collection:
        """A generation's passage collection, or with `passages` its sentence companion."""
        name = (
            sentence_collection(passages)
            if passages
            else f"{self.prefix}_g{generation}_{uuid.uuid4().hex[:8]}"
        )
        return self.client.create_collection(
            name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

    def collection(self, name: str) -> chromadb.Collection:
        return self.client.get_collection(name, embedding_function=None)

    def collect_garbage(self, keep: set[str]) -> list[str]:
        """Drop generations other than the live and previous ones: superseded ones and
        orphans of killed ingests."""
        state = self.state()
        if state:
            keep = keep | {state.collection} | ({state.previous} if state.previous else set())
        keep |= {sentence_collection(name) for name in keep}
        dropped = [c for c in self._collections() if c not in keep]
        for name in dropped:
            self.client.delete_collection(name)
        return dropped

    def _collections(self) -> list[str]:
        """This store's generation collections, and no other store's: a prefix may begin
        another ("peerqa" and "peerqa_green" on one server), so match the whole name."""
        generation = re.compile(rf"{re.escape(self.prefix)}_g\d+_[0-9a-f]{{8}}(?:_s)?")
        names = [c if isinstance(c, str) else c.name for c in self.client.list_collections()]
        return [n for n in names if generation.fullmatch(n)]

    def drop_all(self) -> None:
        for name in self._collections():
            self.client.delete_collection(name)
        self.client.delete_collection(f"{self.prefix}_meta")

    # -- reading nodes -----------------------------------------------------
    def iter_records(
        self, collection: chromadb.Collection, with_embeddings: bool = False
    ) -> Iterator[tuple[str, str, dict, list[float] | None]]:
        include = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])
        total = collection.count()
        for offset in range(0, total, _BATCH):
            got = collection.get(include=include, limit=_BATCH, offset=offset)
            vectors = got["embeddings"] if with_embeddings else [None] * len(got["ids"])
            for rid, text, meta, vec in zip(
                got["ids"], got["documents"], got["metadatas"], vectors, strict=True
            ):
                yield rid, text, meta, (list(vec) if vec is not None else None)

    def passages(self, collection: chromadb.Collection) -> list[Passage]:
        return [node_to_passage(i, t, m) for i, t, m, _ in self.iter_records(collection)]


LOCK_FILE = "admin.lock"


@contextmanager
def admin_lock(settings: Settings) -> Iterator[None]:
    """One writer (an ingest or an admin write) at a time across every worker on the
    machine: a write reads the live state and publishes the next one, so concurrent writers
    would drop each other's changes."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.data_dir / LOCK_FILE, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        yield
