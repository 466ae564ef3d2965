"""The query adapter: the question's vector mapped before every dense comparison."""

from __future__ import annotations

import json

import numpy as np
import pytest

from peerqa.retrieval import adapter, search
from peerqa.retrieval.adapter import Adapter, dumps, load_adapter


def random_adapter(dims: int = 8, rank: int = 2, seed: int = 0) -> Adapter:
    rng = np.random.default_rng(seed)
    return Adapter(rng.normal(size=(dims, rank)), rng.normal(size=(dims, rank)))


def test_the_adapted_vector_is_the_residual_map_at_unit_length():
    a = random_adapter()
    q = np.random.default_rng(1).normal(size=8).astype(np.float32)
    q /= np.linalg.norm(q)
    expected = q + a.u @ a.v.T @ q
    got = a.apply(q)
    assert np.allclose(got, expected / np.linalg.norm(expected), atol=1e-6)
    assert got.dtype == np.float32
    # No residual (U = 0): the question's own vector.
    assert np.allclose(Adapter(np.zeros((8, 2)), a.v).apply(q), q)


def test_the_artefact_reads_back_as_written_and_serves_only_its_model(tmp_path):
    a = random_adapter()
    data = {"schema": adapter.SCHEMA, "key": {"model": "mine"}, **a.to_dict()}
    path = tmp_path / "adapter.json"
    path.write_text(dumps(data), encoding="utf-8")
    back = load_adapter("mine", path)
    assert back is not None
    assert np.allclose(back.u, a.u, atol=1e-6) and np.allclose(back.v, a.v, atol=1e-6)
    assert dumps(json.loads(path.read_text(encoding="utf-8"))) == path.read_text(encoding="utf-8")
    assert load_adapter("another", path) is None
    assert load_adapter("mine", tmp_path / "missing.json") is None


@pytest.mark.model
def test_the_committed_adapter_is_the_bundled_models_and_holds_each_folds(corpus_index):
    model = corpus_index.embed_model.token_space
    assert load_adapter(model) is not None
    data = json.loads(adapter.ARTEFACT.read_text(encoding="utf-8"))
    assert len(data["out_of_fold"]["adapters"]) == data["fitted_on"]["folds"]


@pytest.mark.model
def test_dense_search_and_the_rankers_cosines_meet_the_adapted_vector(corpus_index, monkeypatch):
    """Both dense rankings (passages, sentences) and the ranker's cosine features compare
    the corpus with the adapted question vector; without an adapter, the model's own."""
    view = corpus_index._view
    question = "How did programmes convince sceptical physicians?"
    own = np.asarray(corpus_index.encode(question).vector, dtype=np.float32)
    met: list[np.ndarray] = []

    class Spy(search.DenseRetriever):
        def _retrieve(self, query_bundle):
            met.append(np.asarray(query_bundle.embedding, dtype=np.float32))
            return super()._retrieve(query_bundle)

    candidates = view.features.candidates

    def spy_candidates(pool, passages, position, themes, theme, vector, *rest):
        met.append(np.asarray(vector, dtype=np.float32))
        return candidates(pool, passages, position, themes, theme, vector, *rest)

    monkeypatch.setattr(search, "DenseRetriever", Spy)
    monkeypatch.setattr(view.features, "candidates", spy_candidates)
    a = random_adapter(dims=own.shape[0])
    for fitted, expected in ((a, a.apply(own)), (None, own)):
        met.clear()
        monkeypatch.setattr(view, "adapter", fitted)
        corpus_index.search(question, 5)
        assert len(met) == 3
        assert all(np.allclose(v, expected, atol=1e-6) for v in met)
