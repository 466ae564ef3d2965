"""The `peerqa` command line: reports, JSON shapes, and bad input that changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from peerqa.cli import app
from peerqa.config import get_settings
from peerqa.store import Store
from tests.conftest import make_settings

pytestmark = pytest.mark.model

runner = CliRunner()


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory):
    """A store with the corpus, addressed by the CLI through PEERQA_* variables."""
    s = make_settings(tmp_path_factory.mktemp("cli") / "data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PEERQA_DATA_DIR", str(s.data_dir))
        mp.setenv("PEERQA_COLLECTION_PREFIX", s.collection_prefix)
        if s.chroma_url:
            mp.setenv("PEERQA_CHROMA_URL", s.chroma_url)
        get_settings.cache_clear()
        first = runner.invoke(app, ["ingest", "--json"])
        assert first.exit_code == 0, first.output
        yield s, json.loads(first.stdout)
        get_settings.cache_clear()


def snapshot(settings) -> tuple[str, set[str]]:
    store = Store(settings)
    names = {c.name for c in store.client.list_collections()}
    return store.state().model_dump_json(), names


def test_ingest_json_reports_counts(ingested):
    _, report = ingested
    assert set(report) == {"documents", "passages", "by_kind", "embedded"}
    assert report["documents"] == 1
    assert report["by_kind"]["quote"] == 43 and report["by_kind"]["reference"] == 39
    assert report["embedded"] > report["passages"]  # passages and their sentences


def test_ingest_again_prints_zero_embeddings(ingested):
    result = runner.invoke(app, ["ingest"])
    assert result.exit_code == 0
    assert "embeddings computed: 0" in result.stdout
    assert "references resolved:" in result.stdout


def test_search_prints_ranked_passages_with_provenance(ingested):
    result = runner.invoke(app, ["search", "sceptical doctors", "--top-k", "3"])
    assert result.exit_code == 0
    assert result.stdout.startswith("1. joo-2022-peer-support:")
    assert "2. " in result.stdout and "3. " in result.stdout


def test_search_json_is_the_api_body(ingested):
    result = runner.invoke(app, ["search", "rural", "--kind", "quote", "--json"])
    body = json.loads(result.stdout)
    assert body["query"] == "rural"
    assert body["results"] and all(r["kind"] == "quote" for r in body["results"])


def test_search_rejects_an_unknown_kind(ingested):
    result = runner.invoke(app, ["search", "rural", "--kind", "poem"])
    assert result.exit_code == 2
    assert "--kind" in result.stderr


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


BAD_INPUTS = {
    "missing path": (lambda d: d / "nowhere.txt", "nowhere.txt"),
    "unsupported type": (
        lambda d: _write(d / "report.docx", b"PK\x03\x04 not really"),
        "report.docx",
    ),
    "empty file": (lambda d: _write(d / "empty.txt", b""), "empty"),
    "whitespace only": (lambda d: _write(d / "blank.md", b"  \n\n\t\n"), "empty"),
    "binary file": (lambda d: _write(d / "image.txt", bytes(range(256)) * 4), "binary"),
    "undecodable text": (
        lambda d: _write(d / "latin.txt", "Café crème naïve".encode("latin-1")),
        "UTF-8",
    ),
    "PDF that fails to parse": (
        lambda d: _write(d / "broken.pdf", b"%PDF-1.7\n garbage \x00\x01"),
        "PDF",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_clear_line_and_leaves_the_index_untouched(ingested, tmp_path, case):
    settings, _ = ingested
    make, expected = BAD_INPUTS[case]
    path = make(tmp_path)
    before = snapshot(settings)
    result = runner.invoke(app, ["ingest", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert path.name in lines[0] and expected.lower() in lines[0].lower()
    assert snapshot(settings) == before


def test_one_bad_file_among_good_ones_changes_nothing(ingested, notes_dir):
    settings, _ = ingested
    _write(notes_dir / "zzz-broken.pdf", b"not a pdf at all")
    before = snapshot(settings)
    result = runner.invoke(app, ["ingest", str(notes_dir)])
    assert result.exit_code == 2 and "zzz-broken.pdf" in result.stderr
    assert snapshot(settings) == before
