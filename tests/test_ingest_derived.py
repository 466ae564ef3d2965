"""Ingest makes what search derives from a generation (late interaction's token vectors,
the ONNX export) in the data dir, before it publishes: a server with a fresh cache dir
loads them and embeds nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from peerqa.config import Settings
from peerqa.embedding import MiniLMEmbedding, load_embedding
from peerqa.files import derived_dir
from peerqa.index.pipeline import ingest
from peerqa.retrieval.hybrid import LiveIndex
from peerqa.retrieval.late import LATE_VIEWS, text_rows
from peerqa.segment import sentence_spans

pytestmark = pytest.mark.model


@pytest.fixture
def small(settings: Settings, tmp_path: Path) -> Settings:
    """A store of user documents only (no bundled corpus): ingests in seconds."""
    corpus = tmp_path / "no-corpus"
    corpus.mkdir()
    return settings.model_copy(update={"corpus_dir": corpus})


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Texts the model embedded, by kind of call, in this process."""
    seen: dict[str, list[str]] = {"vectors": [], "tokens": []}
    vectors, tokens = MiniLMEmbedding._encode, MiniLMEmbedding.token_vectors

    def counted_vectors(self, texts):
        seen["vectors"] += texts
        return vectors(self, texts)

    def counted_tokens(self, texts):
        seen["tokens"] += texts
        return tokens(self, texts)

    monkeypatch.setattr(MiniLMEmbedding, "_encode", counted_vectors)
    monkeypatch.setattr(MiniLMEmbedding, "token_vectors", counted_tokens)
    return seen


def late_files(settings: Settings) -> list[Path]:
    return sorted(derived_dir(settings.data_dir, settings.collection_prefix).glob("late-*.npz"))


def test_a_fresh_cache_dir_loads_the_token_vectors_ingest_made(small, notes_dir, tmp_path, calls):
    ingest([notes_dir], small)
    assert calls["vectors"]  # the passages and sentences were embedded at ingest
    (stored,) = late_files(small)
    folder = derived_dir(small.data_dir, small.collection_prefix)
    assert [p.name for p in folder.glob("minilm-*.onnx")] == [load_embedding()._onnx.path.name]
    # The token basis its vectors were made in, and the digest naming the export, beside them.
    assert [p.name for p in folder.glob("basis-*.npy")] == [load_embedding()._basis_name]
    assert len(list(folder.glob("weights-*.digest"))) == 1

    for texts in calls.values():
        texts.clear()
    fresh = tmp_path / "fresh-cache"
    index = LiveIndex(small.model_copy(update={"cache_dir": fresh}))
    assert calls == {"vectors": [], "tokens": []}  # nothing embedded at load
    assert not fresh.exists() or not list(fresh.glob("late-*.npz"))  # nor written there

    # They are the vectors a load would have made itself, row for row.
    passages = [index.passages[pid] for pid in index.order]
    model = index.embed_model
    # The text view is made of the sentences' tokens (retrieval.late.text_rows).
    made = (text_rows(passages, model), model.token_vectors(index._view._late[1].text))
    for view, read, rows in zip(index._view._late, LATE_VIEWS, made, strict=True):
        assert view.text == [read(p) for p in passages]
        for got, want in zip(view.rows(), rows, strict=True):
            assert got.shape == want.shape
            assert np.abs(got - want).max() < 1e-4
    assert index.search("boundary training for peer volunteers", top_k=1)[0].document == (
        "ward-memo"
    )


def test_a_new_generation_embeds_tokens_only_for_new_texts(small, notes_dir, calls):
    ingest([notes_dir], small)
    (first,) = late_files(small)
    for texts in calls.values():
        texts.clear()
    notes = notes_dir / "buddy-scheme.md"
    notes.write_text(
        notes.read_text(encoding="utf-8").replace(
            "mostly for volunteer training.", "mostly for training. Volunteers are unpaid."
        ),
        encoding="utf-8",
    )
    ingest([notes], small)
    index = LiveIndex(small)
    changed = [p for p in index.passages.values() if "unpaid" in p.text]
    assert len(changed) == 1 and changed[0].context  # read under its section heading
    # Its context view's tokens came with its embedding pass, its text view's (two
    # sentences) with its sentences': nothing is embedded for tokens alone. The others'
    # were read from the previous generation's file.
    assert len(sentence_spans(changed[0].text)) == 2
    assert calls["tokens"] == []
    # The live generation's file and the one it replaced (still served until every
    # worker's pointer moves); older ones are removed by later ingests.
    assert first in late_files(small) and len(late_files(small)) == 2
    memo = notes_dir / "ward-memo.txt"
    memo.write_text("Ward memo.\n\nThe pilot ended in June.\n", encoding="utf-8")
    ingest([memo], small)
    assert first not in late_files(small) and len(late_files(small)) == 2


def test_a_generation_without_stored_token_vectors_still_loads(small, notes_dir, tmp_path):
    """Published by an older version (or on another machine's data dir): the load makes
    them and keeps them in the cache dir, as before."""
    ingest([notes_dir], small)
    for path in late_files(small):
        path.unlink()
    cache = tmp_path / "cache"
    index = LiveIndex(small.model_copy(update={"cache_dir": cache}))
    assert len(index._view._late) == 2 and len(list(cache.glob("late-*.npz"))) == 1


def test_a_server_process_starts_on_a_fresh_cache_dir_without_torch(small, notes_dir, tmp_path):
    """A new process (a server's start) over an index ingest made files for: it loads
    them, makes nothing in its empty cache dir, and never imports torch."""
    ingest([notes_dir], small)
    fresh = tmp_path / "fresh-cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERQA_")} | {
        "PEERQA_DATA_DIR": str(small.data_dir),
        "PEERQA_CORPUS_DIR": str(small.corpus_dir),
        "PEERQA_COLLECTION_PREFIX": small.collection_prefix,
        "PEERQA_CACHE_DIR": str(fresh),
        **({"PEERQA_CHROMA_URL": small.chroma_url} if small.chroma_url else {}),
    }
    script = (
        "import sys\n"
        "from peerqa.retrieval.hybrid import LiveIndex\n"
        "index = LiveIndex()\n"
        "hits = index.search('boundary training for peer volunteers', top_k=1)\n"
        "print(len(index._view._late), hits[0].document, index.embed_model.query_backend,"
        " 'torch' in sys.modules)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["2", "ward-memo", "onnx", "False"]
    assert not fresh.exists() or list(fresh.iterdir()) == []
