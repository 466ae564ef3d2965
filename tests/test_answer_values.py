"""The answer values of a generation (answer.values) are made by the writer, before it
publishes, into the data dir; a serving process reads them when it loads the generation
instead of making them on its loading thread, and makes them (kept in its cache dir) only
when no file holds them."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

from peerqa.answer import values
from peerqa.answer.decline import _SMALL, _name_pairs
from peerqa.answer.sentences import bank_for
from peerqa.files import derived_dir
from peerqa.index.pipeline import ingest
from peerqa.retrieval.hybrid import LiveIndex
from tests import test_ingest_derived

PACKAGE = Path(values.__file__).resolve().parent
small = test_ingest_derived.small  # the fixture: a store of user documents only


def kept(folder: Path) -> list[Path]:
    return sorted(folder.glob("answer-*.pickle"))


def comparable(made: dict[str, object]) -> dict[str, object]:
    """Values by key, an Evidence or Mentions (no equality of its own) by its fields."""
    return {
        k: getattr(v, "__dict__", v) if k in ("evidence", "mentions") else v
        for k, v in made.items()
    }


def in_bank(index: LiveIndex) -> dict[str, object]:
    derived = bank_for(index)._derived
    return {k: derived[k] for k in values.KEYS}


@pytest.mark.model
def test_ingest_writes_the_values_a_load_reads_instead_of_making(
    small, notes_dir, tmp_path, monkeypatch
):
    ingest([notes_dir], small)
    (written,) = kept(derived_dir(small.data_dir, small.collection_prefix))
    index = LiveIndex(small.model_copy(update={"cache_dir": tmp_path / "fresh-cache"}))
    # Equal to what the load would have made from the loaded generation itself.
    assert comparable(in_bank(index)) == comparable(values.make_values(index.snapshot))
    assert not kept(tmp_path / "fresh-cache")  # read, nothing written in the cache dir

    monkeypatch.setattr(values, "make_values", lambda _view: pytest.fail("made at load"))
    again = LiveIndex(small.model_copy(update={"cache_dir": tmp_path / "other-cache"}))
    assert set(in_bank(again)) == set(values.KEYS)
    assert written.name == values.values_name(small, again.state)


@pytest.mark.model
def test_a_generation_published_without_them_is_served_and_kept_in_the_cache_dir(
    small, notes_dir, tmp_path
):
    ingest([notes_dir], small)
    (written,) = kept(derived_dir(small.data_dir, small.collection_prefix))
    made_at_ingest = pickle.loads(written.read_bytes())
    written.unlink()  # as an older ingest, or a writer without the answer layer, left it
    cache = tmp_path / "cache"
    index = LiveIndex(small.model_copy(update={"cache_dir": cache}))
    assert comparable(in_bank(index)) == comparable(made_at_ingest)
    assert [p.name for p in kept(cache)] == [written.name]
    from peerqa.answer.compose import compose

    answer = compose(index, "What did dialysis patients in the kidney buddy scheme feel?")
    assert answer.answer and (answer.citations or answer.abstained)


@pytest.mark.model
def test_a_new_generation_names_a_new_file_and_an_unreadable_one_is_made_again(
    small, notes_dir, tmp_path
):
    ingest([notes_dir], small)
    folder = derived_dir(small.data_dir, small.collection_prefix)
    (first,) = kept(folder)
    memo = notes_dir / "ward-memo.txt"
    memo.write_text("Ward memo.\n\nThe Riverside Clinic pilot ended in June.\n", encoding="utf-8")
    ingest([memo], small)
    assert len(kept(folder)) == 2
    cache = tmp_path / "cache"
    index = LiveIndex(small.model_copy(update={"cache_dir": cache}))
    (second,) = [p for p in kept(folder) if p != first]
    assert second.name == values.values_name(small, index.state)
    assert ("riverside", "clinic") in in_bank(index)["evidence"]._name_pairs

    second.write_bytes(b"not a pickle")  # damaged: made again, as if missing
    again = LiveIndex(small.model_copy(update={"cache_dir": cache}))
    assert ("riverside", "clinic") in in_bank(again)["evidence"]._name_pairs
    assert [p.name for p in kept(cache)] == [second.name]


@pytest.mark.model
def test_values_that_fail_to_make_at_ingest_never_stop_the_publish(
    small, notes_dir, tmp_path, monkeypatch
):
    from peerqa.answer import scope

    def broken(_view: object) -> object:
        raise ValueError("a paper the names cannot be made of")

    with monkeypatch.context() as m:
        m.setattr(scope, "_paper_names", broken)
        ingest([notes_dir], small)
    assert not kept(derived_dir(small.data_dir, small.collection_prefix))
    index = LiveIndex(small.model_copy(update={"cache_dir": tmp_path / "cache"}))
    assert {d.id for d in index.state.documents} == {"buddy-scheme", "ward-memo"}
    assert set(in_bank(index)) == set(values.KEYS)  # made at load instead


def test_a_change_to_the_code_or_data_making_them_names_another_file(
    settings, tmp_path, monkeypatch
):
    """A file made by other code (an upgrade, an edited lexicon) is stale: never read."""
    import shutil

    from peerqa.store import IndexState

    state = IndexState(collection="c", generation=1, fingerprints={"d": "f"})
    before = values.values_name(settings, state)
    other = state.model_copy(update={"fingerprints": {"d": "g"}})
    assert values.values_name(settings, other) != before  # other content
    copy = tmp_path / "peerqa" / "answer"
    shutil.copytree(PACKAGE, copy)
    for name in ("segment.py", "models.py"):
        shutil.copy(PACKAGE.parent / name, copy.parent / name)
    monkeypatch.setattr(values, "PACKAGE", copy)
    values._code_digest.cache_clear()
    try:
        assert values.values_name(settings, state) == before  # the same code: the same name
        lexicon = copy / "lexicon.json"
        lexicon.write_text(lexicon.read_text(encoding="utf-8") + " ", encoding="utf-8")
        values._code_digest.cache_clear()
        assert values.values_name(settings, state) != before
    finally:
        values._code_digest.cache_clear()


def test_a_file_naming_other_classes_is_never_loaded(settings, tmp_path):
    """The file is data: a pickle that would call anything else is refused (and the
    values are then made as if it were missing)."""
    from peerqa.store import IndexState

    state = IndexState(collection="c", generation=1)
    folder = derived_dir(settings.data_dir, settings.collection_prefix)
    folder.mkdir(parents=True)
    hostile = {k: Path("x") for k in values.KEYS}  # a pathlib class: not an answer value
    (folder / values.values_name(settings, state)).write_bytes(pickle.dumps(hostile))
    assert values.load_values(settings, state) is None
    (folder / values.values_name(settings, state)).write_bytes(
        pickle.dumps({k: frozenset({"a"}) for k in values.KEYS})
    )
    assert values.load_values(settings, state) == {k: frozenset({"a"}) for k in values.KEYS}


# Values the answer layer makes per generation that are cheap enough to make at load: the
# rest are kept (values.KEYS). A new one must be put in one of the two.
MADE_AT_LOAD = {"idf", "citing passages", "coverage"}


def test_every_per_generation_value_is_kept_or_cheap_to_make_at_load():
    asked = set()
    for path in PACKAGE.glob("*.py"):
        asked |= set(re.findall(r"\.derived\(\s*\"([^\"]+)\"", path.read_text(encoding="utf-8")))
    assert asked == set(values.KEYS) | MADE_AT_LOAD


def _reference_pairs(text: str) -> frozenset[tuple[str, str]]:
    """decline._name_pairs as first written: one regex search of the whole text a pair."""
    found = set()
    for m in re.finditer(r"[A-Z][\w’'&-]*(?:\s+[A-Z][\w’'&-]*)+", text):
        caps = [w.lower() for w in m.group().split()]
        found |= {p for p in zip(caps, caps[1:], strict=False) if not set(p) & _SMALL}
    return frozenset(
        p for p in found if not re.search(rf"\b{re.escape(p[0])}\s+{re.escape(p[1])}\b", text)
    )


@pytest.mark.parametrize(
    "text",
    [
        "Peer Support works. We studied peer support.",  # written lower: no name
        "Peer Support works. We studied xpeer support.",  # inside a word: still a name
        "peer\n\tsupport opens the text. Peer Support Network.",  # any spacing, text start
        "Weight Watchers helped; weight watchersx did not.",  # the end's boundary too
        "Johns Hopkins and Johns Hopkins’ staff; johns hopkins’ is lower.",
        "Family Practice readers. The family practice-based arm. Family-Practice Journal.",
        "NA Baltimore; na baltimore and na baltimores.",
    ],
)
def test_names_pairs_are_those_never_written_in_lower_case(text):
    assert _name_pairs(text) == _reference_pairs(text)


def test_names_pairs_of_the_bundled_paper_are_unchanged():
    from peerqa.config import get_settings

    (paper,) = get_settings().corpus_dir.glob("*.txt")
    text = paper.read_text(encoding="utf-8")
    assert _name_pairs(text) == _reference_pairs(text)


@pytest.mark.model
def test_an_upload_has_its_values_made_in_the_admin_worker_and_read_by_the_server(
    small, notes_dir, tmp_path, monkeypatch
):
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from peerqa.service.app import create_app

    ingest([notes_dir], small)
    made = []
    make = values.make_values
    monkeypatch.setattr(values, "make_values", lambda view: made.append(view) or make(view))
    served = small.model_copy(
        update={"api_key": SecretStr("k"), "cache_dir": tmp_path / "server-cache"}
    )
    memo = b"Ward memo.\n\nThe Riverside Clinic pilots telephone peer support from March.\n"
    with TestClient(create_app(served)) as client:
        r = client.post(
            "/v1/documents",
            files={"file": ("riverside.txt", memo)},
            headers={"Authorization": "Bearer k"},
        )
        assert r.status_code == 201
        assert client.post("/v1/ask", json={"question": "Who pilots telephone support?"}).is_success
    state = LiveIndex(small.model_copy(update={"cache_dir": tmp_path / "other"})).state
    folder = derived_dir(small.data_dir, small.collection_prefix)
    assert (folder / values.values_name(small, state)).exists()  # made by the worker
    assert made == [] and not kept(tmp_path / "server-cache")  # the server only read them
