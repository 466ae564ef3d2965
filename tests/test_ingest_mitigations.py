"""The challenge -> mitigation map: every key a Table 4 theme, every span verbatim."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from peerqa.config import REPO_ROOT, Settings
from peerqa.index.pipeline import parse_sources
from peerqa.ingest.mitigations import MITIGATIONS_FILE, check_mitigations, load_mitigations
from peerqa.ingest.sources import SourceError

BUNDLED = REPO_ROOT / "src/peerqa/corpus"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A copy of the bundled corpus whose map the test may break."""
    folder = tmp_path / "corpus"
    shutil.copytree(BUNDLED, folder)
    return folder


def edit_map(corpus: Path, change) -> None:
    path = corpus / MITIGATIONS_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def parse(corpus: Path, tmp_path: Path):
    return parse_sources([], Settings(corpus_dir=corpus, data_dir=tmp_path / "data"))


def test_bundled_map_is_valid_and_covers_table_4(tmp_path: Path):
    parse(BUNDLED, tmp_path)  # raises if not
    mitigations = load_mitigations(BUNDLED)
    assert mitigations is not None and len(mitigations.challenges) == 7


def test_span_that_is_not_verbatim_fails_ingest(corpus: Path, tmp_path: Path):
    edit_map(corpus, lambda d: d["challenges"]["Funding"].append("they held bake sales"))
    with pytest.raises(SourceError, match="'Funding': span is not verbatim.*bake sales"):
        parse(corpus, tmp_path)


def test_paraphrase_with_straight_quotes_fails(corpus: Path, tmp_path: Path):
    """The paper uses curly apostrophes: a span typed with a straight one is not verbatim."""
    geo = "Geographical restrictions"
    edit_map(corpus, lambda d: d["challenges"][geo].append("So that's why a lot of our contact"))
    with pytest.raises(SourceError, match="not verbatim"):
        parse(corpus, tmp_path)


def test_span_across_passages_fails(corpus: Path, tmp_path: Path):
    text = (BUNDLED / "joo-2022-peer-support.txt").read_text(encoding="utf-8")
    span = "Table 4.\nTopic"
    assert span in text
    edit_map(corpus, lambda d: d["challenges"]["Funding"].append(span))
    with pytest.raises(SourceError, match="crosses a passage boundary"):
        parse(corpus, tmp_path)


def test_key_that_is_not_a_table_4_theme_fails(corpus: Path, tmp_path: Path):
    edit_map(corpus, lambda d: d["challenges"].update({"Psychosocial benefits": ["hope"]}))
    with pytest.raises(SourceError, match="'Psychosocial benefits' is not a Table 4 challenge"):
        parse(corpus, tmp_path)


def test_missing_theme_fails(corpus: Path, tmp_path: Path):
    edit_map(corpus, lambda d: d["challenges"].pop("Funding"))
    with pytest.raises(SourceError, match="no mitigations listed for Table 4 theme 'Funding'"):
        parse(corpus, tmp_path)


def test_unknown_document_fails(corpus: Path, tmp_path: Path):
    edit_map(corpus, lambda d: d.update(document="someone-else-2020"))
    with pytest.raises(SourceError, match="someone-else-2020"):
        parse(corpus, tmp_path)


@pytest.mark.parametrize(
    "content", ["{not json", '{"document": "x"}', '{"document": 1, "challenges": {}}']
)
def test_malformed_map_fails_with_the_file_named(corpus: Path, tmp_path: Path, content: str):
    (corpus / MITIGATIONS_FILE).write_text(content, encoding="utf-8")
    with pytest.raises(SourceError) as err:
        parse(corpus, tmp_path)
    assert MITIGATIONS_FILE in str(err.value)


def test_corpus_without_a_map_is_fine(corpus: Path, tmp_path: Path):
    (corpus / MITIGATIONS_FILE).unlink()
    assert load_mitigations(corpus) is None
    check_mitigations(corpus, parse(corpus, tmp_path))
