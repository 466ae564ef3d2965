"""Ingest into Chroma: counts, idempotence, replacement, atomic publication, cleanup."""

from __future__ import annotations

import threading

import pytest

from peerqa.config import Settings
from peerqa.index.pipeline import ingest
from peerqa.models import Filters
from peerqa.retrieval.hybrid import LiveIndex
from peerqa.segment import sentence_spans
from peerqa.store import Store, sentence_collection, sentence_id
from tests.conftest import one_memo_corpus

pytestmark = [pytest.mark.model, pytest.mark.chroma_server]

HANDBOOK = (
    "# Volunteer handbook\n\n"
    "## Boundaries\n\n"
    "Peer volunteers never give medical advice. They listen, share their own experience "
    "and point people to the clinic team.\n\n"
    "## Support\n\n"
    "Each volunteer meets a coordinator every month. Difficult calls are talked through "
    "the same week.\n"
)


@pytest.fixture
def settings(settings: Settings, tmp_path) -> Settings:
    """An empty store whose bundled corpus is one short handbook: the tests taking it are
    about generations and re-ingest, not the paper, and each ingests afresh (the bundled
    paper's ingest costs seconds of embedding, twice in `make test`)."""
    corpus = one_memo_corpus(tmp_path / "corpus", "handbook.md", HANDBOOK, "Volunteer handbook")
    return settings.model_copy(update={"corpus_dir": corpus})


def test_bundled_corpus_is_indexed_with_every_kind(corpus_settings: Settings):
    state = Store(corpus_settings).state()
    assert state is not None
    (paper,) = state.documents
    assert paper.id == "joo-2022-peer-support"
    assert paper.identifier == "PMC9508871"
    assert paper.by_kind["quote"] == 43
    assert paper.by_kind["reference"] == 39
    assert paper.references_resolved > 39
    assert [p.programme for p in state.programmes[paper.id]] == list("ABCDEFG")
    collection = Store(corpus_settings).collection(state.collection)
    assert collection.count() == paper.passages


def test_a_reference_entry_has_one_sentence_vector_its_longest_sentence(
    corpus_settings: Settings, corpus_index: LiveIndex
):
    """A reference entry is indexed by its passage vector, BM25 and its longest sentence
    (its title, as a rule), not by its author list and journal line; the sentence record
    carries the passage's vector (the entry runs through the model once). A search for
    literature finds it by what it says."""
    store = Store(corpus_settings)
    state = store.state()
    passages = list(corpus_index.passages.values())
    references = [p for p in passages if p.kind == "reference"]
    assert len(references) == 39
    sentences = store.collection(sentence_collection(state.collection))
    entries = store.collection(state.collection)
    for entry in references[:5]:
        got = sentences.get(
            ids=[sentence_id(entry.id, n) for n in range(4)], include=["documents", "embeddings"]
        )
        longest = max(sentence_spans(entry.text), key=lambda span: span[1] - span[0])
        assert got["documents"] == [entry.text[slice(*longest)]]
        (vector,) = entries.get(ids=[entry.id], include=["embeddings"])["embeddings"]
        assert list(vector) == list(got["embeddings"][0])
    others = [p for p in passages if p.kind != "reference"]
    in_others = sum(len(sentence_spans(p.text)) for p in others)
    assert state.sentences == sentences.count() == in_others + len(references)
    hits = corpus_index.search(
        "systematic review of peer support for people living with HIV",
        top_k=3,
        filters=Filters(kind=["reference"]),
    )
    assert hits[0].id == next(p.id for p in references if "living with HIV: a systematic" in p.text)


def test_second_ingest_of_unchanged_sources_computes_no_embeddings(settings: Settings):
    first = ingest([], settings)
    generation = Store(settings).state().generation
    second = ingest([], settings)
    # Every text once: a reference entry's sentence record carries its passage's vector
    # (this corpus is one memo without references; the test above checks the corpus's).
    references = first.by_kind.get("reference", 0)
    assert first.embedded == first.passages + first.sentences - references > first.passages > 0
    assert second.embedded == 0
    assert second.passages == first.passages
    assert Store(settings).state().generation == generation  # nothing republished


def test_user_documents_are_added_beside_the_corpus(settings: Settings, notes_dir):
    base = ingest([], settings)
    added = ingest([notes_dir], settings)
    assert added.documents == base.documents + 2
    # The paper's vectors are reused: only the new passages and sentences are embedded.
    assert added.embedded == (added.passages - base.passages) + (added.sentences - base.sentences)
    ids = {d.id for d in Store(settings).state().documents}
    assert {"buddy-scheme", "ward-memo"} <= ids


def test_changed_source_replaces_its_passages(settings: Settings, notes_dir):
    ingest([notes_dir], settings)
    memo = notes_dir / "ward-memo.txt"
    memo.write_text("Ward memo.\n\nThe pilot moved to the cardiac ward in May.\n", encoding="utf-8")
    report = ingest([memo], settings)
    index = LiveIndex(settings)
    memo_texts = [p.text for p in index.passages.values() if p.document == "ward-memo"]
    assert any("cardiac ward" in t for t in memo_texts)
    assert not any("stroke ward" in t for t in memo_texts)
    memo_units = len(memo_texts) + sum(len(sentence_spans(t)) for t in memo_texts)
    assert 0 < report.embedded <= memo_units  # only what changed is embedded
    assert "buddy-scheme" in {p.document for p in index.passages.values()}


def test_reader_keeps_its_generation_until_it_refreshes(settings: Settings, notes_dir):
    ingest([], settings)
    reader = LiveIndex(settings)
    before = reader.state.collection
    ingest([notes_dir], settings)
    # The old generation is still queryable by a reader that has not looked at the pointer.
    assert reader.search("peer support matching", top_k=3)
    assert reader.refresh() is True
    assert reader.state.collection != before
    assert any(p.document == "ward-memo" for p in reader.passages.values())


def test_a_request_serves_the_loaded_generation_while_another_thread_loads(
    settings: Settings, notes_dir
):
    """A request thread that finds the new generation being loaded (by an admin route
    after its upload) does not wait seconds for it: it is served the loaded one."""
    ingest([], settings)
    reader = LiveIndex(settings)
    before = reader.state.collection
    ingest([notes_dir], settings)
    loading = threading.Event()
    done = threading.Event()

    def hold_the_load() -> None:  # as a thread inside refresh's load would
        with reader._lock:
            loading.set()
            done.wait(timeout=60)

    holder = threading.Thread(target=hold_the_load)
    holder.start()
    try:
        loading.wait(timeout=60)
        assert reader.refresh(wait=False) is False
        assert reader.state.collection == before
        assert reader.search("peer support matching", top_k=3)
    finally:
        done.set()
        holder.join()
    assert reader.refresh(wait=False) is True  # no other load now: this one loads
    assert reader.state.collection != before


def test_orphan_of_a_killed_ingest_is_removed_by_the_next_ingest(settings: Settings, notes_dir):
    ingest([], settings)
    store = Store(settings)
    live = store.state().collection
    orphan = store.new_collection(store.state().generation + 1)  # as left by a SIGKILL
    orphan.add(ids=["x"], embeddings=[[0.0] * 384], documents=["half-built"])
    ingest([notes_dir], settings)
    names = {c.name for c in store.client.list_collections()}
    assert orphan.name not in names
    assert store.state().collection in names
    assert store.state().previous == live
