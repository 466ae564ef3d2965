"""A publish reaches the server's requests without stalling them (issue 14): the new
generation is loaded, and every per-generation value the answers use made, on the thread
that loads it, before it is swapped in; requests never load what an admin write of their
process publishes."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from peerqa.answer.compose import compose
from peerqa.answer.decline import evidence_of
from peerqa.answer.sentences import _BUILDERS, bank_for
from peerqa.config import Settings
from peerqa.index.pipeline import index_documents, ingest
from peerqa.retrieval.hybrid import LiveIndex
from peerqa.service import admin_worker
from peerqa.service.deps import fresh_index
from peerqa.store import Store
from tests.conftest import one_memo_corpus

pytestmark = [pytest.mark.model]

HANDBOOK = (
    "# Volunteer handbook\n\n"
    "## Support\n\n"
    "Each volunteer meets a coordinator every month. Difficult calls are talked through "
    "the same week.\n"
)


@pytest.fixture
def settings(settings: Settings, tmp_path) -> Settings:
    corpus = one_memo_corpus(tmp_path / "corpus", "handbook.md", HANDBOOK, "Volunteer handbook")
    return settings.model_copy(update={"corpus_dir": corpus})


def test_a_new_generation_goes_live_with_its_answer_values_made(settings: Settings, notes_dir):
    ingest([notes_dir], settings)
    reader = LiveIndex(settings)
    compose(reader, "What did dialysis patients feel in the buddy scheme?")  # makes its values
    before = bank_for(reader)
    # The costly values come from the writer's file (answer.values), the others through
    # `derived`: either way the bank holds them all.
    assert {"paper names", "evidence"} | set(_BUILDERS) <= set(before._derived)

    index_documents(Store(settings), [], remove=["buddy-scheme"])  # as an admin delete
    assert reader.refresh() is True
    after = bank_for(reader)
    assert after is not before
    # Made before the swap, for the new generation: no request makes them, nor the papers'
    # names and profiles, asked only once several papers are loaded.
    assert set(_BUILDERS) | {"paper names", "paper profiles"} <= set(after._derived)
    assert after._vocabulary is not None and "dialysis" not in after._vocabulary
    assert "dialysis" not in evidence_of(reader).text
    # A request that took the bank before the swap still reads the generation it searched.
    assert "dialysis" in before.vocabulary()
    assert "dialysis" in before._derived["evidence"].text
    assert compose(reader, "How often do volunteers meet a coordinator?").citations


def test_requests_leave_the_pointer_to_the_admin_write_of_their_process(
    settings: Settings, notes_dir, monkeypatch: pytest.MonkeyPatch
):
    """Between the worker's publish and the admin route's refresh, a request that looks at
    the pointer is served the loaded generation: it does not load the new one itself."""
    ingest([], settings)
    reader = LiveIndex(settings)
    live = reader.state.collection
    ingest([notes_dir], settings)  # as the admin worker publishes
    app_state = SimpleNamespace(index=reader, checked_at=0.0)
    monkeypatch.setattr(admin_worker, "_writes", 1)  # the route has not refreshed yet
    assert fresh_index(app_state).state.collection == live
    monkeypatch.setattr(admin_worker, "_writes", 0)  # no write of this process: it loads
    assert fresh_index(app_state).state.collection != live


def test_loaded_hooks_see_the_new_snapshot_before_it_goes_live(
    settings: Settings, notes_dir, monkeypatch: pytest.MonkeyPatch
):
    """LOADED_HOOKS run on the loading thread with the new generation's snapshot, already
    searchable, and the live one it replaces, which the index still serves meanwhile; the
    swap then replaces the snapshot whole, and the old one keeps its generation."""
    ingest([notes_dir], settings)
    reader = LiveIndex(settings)
    old = reader.snapshot
    seen = []

    def hook(new, live):
        found = {p.document for p in new.search("How often do volunteers meet?", 3)}
        seen.append((threading.get_ident(), new, live, reader.snapshot, found))

    monkeypatch.setattr("peerqa.retrieval.live.LOADED_HOOKS", [hook])
    index_documents(Store(settings), [], remove=["buddy-scheme"])
    assert reader.refresh() is True
    ((thread, new, live, served, found),) = seen
    assert thread == threading.get_ident()
    assert live is old and served is old
    assert reader.snapshot is new and new is not old
    assert reader.state == new.state and new.state.collection != old.state.collection
    assert found and "buddy-scheme" not in found
    assert "buddy-scheme" not in {p.document for p in new.passages.values()}
    assert "buddy-scheme" in {p.document for p in old.passages.values()}
