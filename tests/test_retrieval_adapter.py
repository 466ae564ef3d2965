"""The query-side adapter of dense search: a small learned correction of the question's
vector, read by dense search only and served only to the embedding model it was fitted for."""

from __future__ import annotations

import json

import numpy as np
import pytest

from retrieval import adapter, hybrid
from retrieval.adapter import Adapter, from_dict, load_adapter

DIM = 384


def test_an_adapter_adds_a_low_rank_correction_and_stays_a_unit_vector():
    rng = np.random.default_rng(0)
    v = rng.normal(size=DIM)
    v /= np.linalg.norm(v)
    a, b = rng.normal(size=(DIM, 4)) * 0.1, rng.normal(size=(4, DIM)) * 0.1
    got = Adapter(a, b)(v)
    want = v + v @ a @ b
    assert got == pytest.approx(want / np.linalg.norm(want))
    assert np.linalg.norm(got) == pytest.approx(1.0)
    # No correction, no change; and the stored form reads back the same adapter.
    assert Adapter(a, np.zeros((4, DIM)))(v) == pytest.approx(v)
    assert from_dict(Adapter(a, b).to_dict())(v) == pytest.approx(got, abs=1e-5)


def test_an_adapter_fitted_for_another_model_is_not_used(tmp_path):
    path = tmp_path / "adapter.json"
    stored = {"schema": adapter.SCHEMA, "key": {"model": "another-model"}}
    path.write_text(json.dumps(stored | Adapter(np.zeros((DIM, 2)), np.zeros((2, DIM))).to_dict()))
    assert load_adapter("another-model", path) is not None
    assert load_adapter("this-model", path) is None
    assert load_adapter("this-model", tmp_path / "missing.json") is None


def test_dense_search_serves_the_adapter_fit_adapter_kept_or_none(corpus_index):
    """eval.fit_adapter writes an adapter only when its cross-validation keeps one (and
    deletes it otherwise): the index serves exactly that, for the model it was fitted on."""
    model = corpus_index.embed_model.token_space
    if not adapter.ARTEFACT.exists():
        assert corpus_index._view.adapter is None  # dense search reads the model's own
        return
    data = json.loads(adapter.ARTEFACT.read_text(encoding="utf-8"))
    assert data["key"]["model"] == model
    assert corpus_index._view.adapter is not None
    # Fitted on fitting questions only, with its cross-validation beside it.
    assert data["fitted_on"]["questions"] > 0 and "own vector" in data["cv"]


def test_dense_search_reads_the_adapted_vector_and_nothing_else_does(corpus_index, monkeypatch):
    view = corpus_index._view
    rng = np.random.default_rng(1)
    # A strong correction, so the adapted vector is plainly another vector.
    strong = Adapter(rng.normal(size=(DIM, 2)), rng.normal(size=(2, DIM)))
    monkeypatch.setattr(view, "adapter", strong)
    seen = []
    nearest = hybrid.DenseCollection.nearest

    def spy(self, query_bundle, k, dense_filter):
        seen.append(np.asarray(query_bundle.embedding))
        return nearest(self, query_bundle, k, dense_filter)

    monkeypatch.setattr(hybrid.DenseCollection, "nearest", spy)
    question = "how were peer mentors matched with patients?"
    own = corpus_index.encode(question)
    corpus_index.search(question, 5)
    assert len(seen) == 2  # passages and sentences
    for vector in seen:
        assert vector == pytest.approx(strong(own.vector))
    # Callers reading the question's vector get the model's own.
    assert corpus_index.encode(question).vector == own.vector
    assert np.linalg.norm(np.asarray(own.vector) - strong(own.vector)) > 0.1
