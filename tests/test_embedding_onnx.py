"""Queries embed on ONNX Runtime: the same vectors as torch, exported once, and torch
still answers when the export cannot be made."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from peerqa.config import bundled_model_path
from peerqa.embedding import content_vocabulary, load_embedding, load_token_basis
from peerqa.onnx_encoder import (
    MAX_TOKENS,
    ONNX_FILES,
    ModelTokenizer,
    OnnxQueryEncoder,
    load_onnx_encoder,
    weights_digest,
)

pytestmark = pytest.mark.model

QUERIES = [
    "How do programmes pair mentors with patients?",
    "funding",
    "What does programme E offer transplant patients, and do mentors get training? " * 12,
]


@pytest.fixture(scope="module")
def model():
    return load_embedding().sentence_transformer()  # the model on torch


def encoder(model, cache_dir: Path) -> OnnxQueryEncoder:
    path = bundled_model_path()
    return OnnxQueryEncoder(path, lambda: model[0].auto_model, ModelTokenizer(path), cache_dir)


def test_the_tokenizer_is_the_models_without_transformers(model):
    """tokenizer.json on `tokenizers` (no torch import) reads texts as the model's own
    tokenizer does, with the same vocabulary and special tokens."""
    ours = ModelTokenizer(bundled_model_path())
    texts = [*QUERIES, "Café naïve CO-OPS: 12.5% (n=43)!"]
    for (ids, types), want in zip(ours.encode(texts), texts, strict=True):
        expected = model.tokenizer(want, truncation=True, max_length=MAX_TOKENS)
        assert ids.tolist() == expected["input_ids"]
        assert types.tolist() == expected["token_type_ids"]
    assert np.array_equal(content_vocabulary(ours), content_vocabulary(model.tokenizer))


def test_onnx_vectors_are_torch_vectors(model, tmp_path: Path):
    """Sentence and token vectors, from one pass (late interaction uses the tokens)."""
    onnx = encoder(model, tmp_path)
    torch_vectors = model.encode(QUERIES, normalize_embeddings=True)
    torch_tokens = model.encode(QUERIES, output_value="token_embeddings")
    for query, expected, tokens in zip(QUERIES, torch_vectors, torch_tokens, strict=True):
        vector, hidden, ids = onnx.encode(query)
        assert vector.shape == expected.shape
        assert np.abs(vector - expected).max() < 1e-5  # long queries truncate alike, too
        assert hidden.shape == tuple(tokens.shape) == (len(ids), 384)
        assert np.abs(hidden - tokens.numpy()).max() < 1e-4


def test_the_export_is_made_once_and_reused(model, tmp_path: Path):
    encoder(model, tmp_path)
    (exported,) = tmp_path.glob("minilm-*.onnx")
    made = exported.stat().st_ino
    os.utime(exported, (1_000, 1_000))
    encoder(model, tmp_path)
    # No temporary left: the export and the memo of the weights' digest that names it.
    (memo,) = tmp_path.glob("weights-*.digest")
    assert sorted(p.name for p in tmp_path.iterdir()) == [exported.name, memo.name]
    assert exported.stat().st_ino == made  # not written again
    assert exported.stat().st_mtime > 1_000  # but marked as used: pruned last


def test_an_export_prunes_the_least_recently_used_others(model, tmp_path: Path):
    """Exports of other weights (90 MB each): ONNX_FILES are kept."""
    older = [tmp_path / f"minilm-{i:016x}.onnx" for i in range(ONNX_FILES + 1)]
    for age, path in enumerate(older):
        path.write_bytes(b"an export from another environment")
        os.utime(path, (1_000 + age, 1_000 + age))
    encoder(model, tmp_path)
    kept = {p.name for p in tmp_path.glob("minilm-*.onnx")}
    assert len(kept) == ONNX_FILES
    assert {p.name for p in older[-(ONNX_FILES - 1) :]} < kept  # the newest others stay


def test_copies_of_the_weights_share_one_export(tmp_path: Path):
    """The export and the token space are named by the weights' content, not their path:
    every virtual environment (clone, worktree) holding the same weights shares one."""
    path = bundled_model_path()
    other = tmp_path / "another-venv" / "model"
    other.mkdir(parents=True)
    shutil.copy(path / "model.safetensors", other / "model.safetensors")  # a new mtime
    assert weights_digest(other) == weights_digest(path)
    (other / "model.safetensors").write_bytes(b"other weights")
    assert weights_digest(other) != weights_digest(path)


def test_the_digest_is_remembered_beside_the_files_it_names(tmp_path: Path):
    """Hashing 90 MB of weights costs a start ~0.4 s: the digest is kept in the first
    folder given and read back from any of them."""
    path = bundled_model_path()
    first, second = tmp_path / "cache", tmp_path / "derived"
    digest = weights_digest(path, (first, second))
    (memo,) = first.glob("weights-*.digest")
    assert memo.read_text() == digest and not second.exists()
    memo.rename(tmp_path / memo.name)
    second.mkdir()
    (tmp_path / memo.name).rename(second / memo.name)
    assert weights_digest(path, (tmp_path / "fresh", second)) == digest
    assert not (tmp_path / "fresh").exists()  # found in the second: nothing written


def test_the_token_basis_is_made_once_and_kept(tmp_path: Path):
    """Its eigendecomposition costs seconds of every model load: read from the first
    folder holding it (ingest's data dir), else made and kept in the last (cache dir)."""
    made: list[int] = []

    def make() -> np.ndarray:
        made.append(1)
        return load_embedding()._basis

    folders = (tmp_path / "derived", tmp_path / "cache")
    first = load_token_basis("basis-x-96.npy", folders, make)
    assert made == [1] and (tmp_path / "cache" / "basis-x-96.npy").exists()
    assert np.array_equal(load_token_basis("basis-x-96.npy", folders, make), first)
    assert made == [1]


def test_no_encoder_when_the_cache_cannot_be_written(model, tmp_path: Path):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the cache folder should be")
    path = bundled_model_path()
    tokenizer = ModelTokenizer(path)
    assert load_onnx_encoder(path, lambda: model[0].auto_model, tokenizer, blocked) is None


def test_the_loaded_model_embeds_queries_on_onnx(model):
    embedding = load_embedding()
    assert embedding.query_backend == "onnx"
    query = "a question nobody asked before 7f3c"
    expected = model.encode([query], normalize_embeddings=True)[0]
    assert np.abs(np.asarray(embedding.get_query_embedding(query)) - expected).max() < 1e-5


def test_ingest_batches_on_onnx_give_torch_vectors(model, tmp_path: Path):
    """Length-sorted batches (padding inside a batch masked out of the mean) give each
    text torch's vectors, in the order given; texts over the model's 256 tokens truncate
    alike."""
    texts = [QUERIES[2], "peer", *QUERIES[:2], "Mentors met patients weekly. " * 3] * 9
    onnx = encoder(model, tmp_path)
    got = onnx.encode_batch(texts)
    want = model.encode(texts, normalize_embeddings=True)
    tokens = model.encode(texts, output_value="token_embeddings")
    assert len(got) == len(texts)
    for encoding, vector, hidden in zip(got, want, tokens, strict=True):
        assert np.abs(encoding.vector - vector).max() < 1e-5
        assert encoding.hidden.shape == tuple(hidden.shape) == (len(encoding.ids), 384)
        assert np.abs(encoding.hidden - hidden.numpy()).max() < 1e-4


def test_batch_size_does_not_change_a_text_s_vectors(model, tmp_path: Path, monkeypatch):
    """A text's sentence and token vectors do not depend on which texts share its forward
    batch (BATCH_TOKENS is a speed setting, not a retrieval one): one text per batch and
    every text in one batch give the same vectors."""
    import peerqa.onnx_encoder as onnx_encoder

    texts = [QUERIES[0], "peer", "Mentors met patients weekly. " * 12, *QUERIES[1:3]] * 12
    onnx = encoder(model, tmp_path)
    runs = []
    for budget in (1, onnx_encoder.MAX_TOKENS * len(texts)):
        monkeypatch.setattr(onnx_encoder, "BATCH_TOKENS", budget)
        runs.append(onnx.encode_batch(texts))
    for alone, together in zip(*runs, strict=True):
        assert np.abs(alone.vector - together.vector).max() < 1e-6
        assert np.abs(alone.hidden - together.hidden).max() < 1e-5


def test_the_loaded_model_embeds_documents_in_onnx_batches(model):
    embedding = load_embedding()
    texts = ["Volunteers ring new parents every week.", QUERIES[2], "funding"]
    on_torch = embedding._forward(texts, "sentence_embedding")
    with embedding.keeping_tokens() as kept:
        vectors = embedding.get_text_embedding_batch(texts)
    assert np.abs(np.asarray(vectors) - on_torch).max() < 1e-5
    # The content tokens of each text came with it, as token_vectors makes them.
    assert list(kept) == texts
    for text, tokens in zip(texts, embedding.token_vectors(texts), strict=True):
        assert np.abs(kept[text] - tokens).max() < 1e-5


def test_a_loaded_index_s_sentences_are_looked_up_not_embedded_again(corpus_index):
    """An answer embeds its candidate passages' sentences: those the index holds come from
    its stored vectors (the model's, to float rounding), the others from the model, in
    the order asked; at ingest (keeping tokens) every text runs through the model."""
    from peerqa.answer.sentences import split_passage

    model = corpus_index.embed_model
    passage = next(p for p in corpus_index.passages.values() if p.kind == "paragraph")
    held = [s.text for s in split_passage(passage)]
    texts = [*held, "A sentence no passage of the corpus holds 5e1d."]
    before = model.embedded
    vectors = np.asarray(model.get_text_embedding_batch(texts))
    assert model.embedded == before + 1
    fresh = np.stack([e.vector for e in model._onnx.encode_batch(texts)])
    assert np.abs(vectors - fresh).max() < 1e-5
    with model.keeping_tokens() as kept:
        model.get_text_embedding_batch(held)
    assert model.embedded == before + 1 + len(held)
    assert list(kept) == held


def test_queries_arriving_together_get_the_vectors_each_gets_alone():
    """Concurrent queries share forward passes (QueryBatcher); each still gets its own
    sentence and token vectors, to float rounding."""
    from concurrent.futures import ThreadPoolExecutor

    embedding = load_embedding()
    queries = [f"what do mentors {i} offer parents {'on the ward ' * i}? 2c9a" for i in range(12)]
    with ThreadPoolExecutor(len(queries)) as pool:
        together = list(pool.map(embedding.encode_query, queries))
    for query, got in zip(queries, together, strict=True):
        vector, hidden, ids = embedding._onnx.encode(query)
        alone = embedding._query_encoding(vector, hidden, ids)
        assert np.abs(np.asarray(got.vector) - np.asarray(alone.vector)).max() < 1e-5
        assert got.tokens.shape == alone.tokens.shape
        assert np.abs(got.tokens - alone.tokens).max() < 1e-4
