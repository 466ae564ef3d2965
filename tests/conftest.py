"""Fixtures build small real corpora in real Chroma stores with the real model: no mocks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from peerqa.config import REPO_ROOT, Settings, get_settings

CORPUS_TEXT = (REPO_ROOT / "corpus" / "joo-2022-peer-support.txt").read_text(encoding="utf-8")


def make_settings(data_dir: Path, **overrides) -> Settings:
    """A store in `data_dir`, or on the Chroma server named by PEERQA_TEST_CHROMA_URL
    (each store then gets its own collection prefix on that server)."""
    url = os.environ.get("PEERQA_TEST_CHROMA_URL")
    prefix = "t" + format(abs(hash(str(data_dir))) % 10**10, "010d")
    base = dict(data_dir=data_dir, chroma_url=url, collection_prefix=prefix if url else "peerqa")
    return Settings(**(base | overrides))


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A fresh, empty store; also what the CLI sees through PEERQA_* variables."""
    s = make_settings(tmp_path / "data")
    monkeypatch.setenv("PEERQA_DATA_DIR", str(s.data_dir))
    monkeypatch.setenv("PEERQA_COLLECTION_PREFIX", s.collection_prefix)
    if s.chroma_url:
        monkeypatch.setenv("PEERQA_CHROMA_URL", s.chroma_url)
    get_settings.cache_clear()
    yield s
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def corpus_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One store holding the ingested bundled corpus, shared read-only by the session."""
    from ingest.pipeline import ingest

    s = make_settings(tmp_path_factory.mktemp("corpus") / "data")
    ingest([], s)
    return s


@pytest.fixture(scope="session")
def corpus_index(corpus_settings: Settings):
    from retrieval.hybrid import LiveIndex

    return LiveIndex(corpus_settings)


@pytest.fixture(scope="session")
def eval_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("eval")


@pytest.fixture(scope="session")
def eval_report(corpus_settings: Settings, eval_dir: Path):
    """One full eval run (ours, answers, baselines) shared by the report and gate tests."""
    from eval.run import run_eval

    return run_eval(corpus_settings, out_dir=eval_dir)


@pytest.fixture
def notes_dir(tmp_path: Path) -> Path:
    """A small folder of user documents in two formats."""
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "buddy-scheme.md").write_text(
        "# Buddy scheme evaluation\n\n"
        "## Outcomes\n\n"
        "Volunteers in the kidney buddy scheme reported that dialysis patients felt less alone. "
        "Attendance at clinic improved over six months.\n\n"
        "## Costs\n\n"
        "The scheme cost about forty pounds per patient per year, mostly for volunteer training.\n",
        encoding="utf-8",
    )
    (folder / "ward-memo.txt").write_text(
        "Ward memo.\n\nThe stroke ward will pilot telephone peer support from March. "
        "Peer volunteers receive two days of boundary training before their first call.\n",
        encoding="utf-8",
    )
    return folder
