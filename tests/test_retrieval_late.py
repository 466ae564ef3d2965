"""Late interaction: passages score by MaxSim of their content tokens against the query's;
token vectors are made once per passage text and only for generations up to LATE_MAX."""

from __future__ import annotations

from copy import copy

import numpy as np
import pytest

from peerqa.embedding import TOKEN_DIMS, content_vocabulary
from retrieval import late
from retrieval.late import TokenVectors


def unit(*rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_a_passage_scores_the_mean_over_query_tokens_of_its_best_matching_token():
    passages = [unit([1, 0, 0], [0, 1, 0]), unit([0, 0, 1]), unit([1, 1, 0], [0, 1, 1], [1, 0, 1])]
    vectors = TokenVectors(
        ["a", "b", "c"], np.concatenate(passages), np.cumsum([0, *map(len, passages)])
    )
    query = unit([1, 0, 0], [0, 1, 0])
    # passage 0 holds both query tokens; 1 neither; 2 is halfway to each.
    want = [1.0, 0.0, float(np.sqrt(0.5))]
    assert vectors.maxsim(query, [0, 1, 2]) == pytest.approx(want)
    assert vectors.maxsim(query, [2, 0]) == pytest.approx([want[2], want[0]])
    assert len(vectors.maxsim(query, [])) == 0


def test_content_tokens_are_the_words_that_carry_the_question(corpus_index):
    tokenizer = corpus_index.embed_model._model.tokenizer
    content = content_vocabulary(tokenizer)
    ids = tokenizer("How do they pair people up, and what does it cost?")["input_ids"]
    kept = [t for t, i in zip(tokenizer.convert_ids_to_tokens(ids), ids, strict=True) if content[i]]
    assert kept == ["pair", "people", "up", "cost"]


def test_the_query_tokens_are_those_of_its_embedding_pass(corpus_index):
    model = corpus_index.embed_model
    query = "Where does the money for couples retreats come from?"
    encoding = model.encode_query(query)
    assert list(encoding.vector) == pytest.approx(model.get_query_embedding(query))
    (on_torch,) = model._encode_queries([query])  # the torch path (ONNX unavailable)
    assert (
        encoding.tokens.shape == on_torch.tokens.shape == (5, TOKEN_DIMS)
    )  # where money couples retreats come
    assert np.abs(encoding.tokens - on_torch.tokens).max() < 1e-4
    assert np.allclose(np.linalg.norm(encoding.tokens, axis=1), 1.0, atol=1e-5)


def test_a_new_generation_embeds_only_passages_it_has_not_seen(corpus_index, monkeypatch):
    view = corpus_index._view
    passages = [view.passages[pid] for pid in view.order]
    embedded: list[str] = []
    real = type(view.embed_model).token_vectors

    def counting(self, texts):
        embedded.extend(texts)
        return real(self, texts)

    monkeypatch.setattr(type(view.embed_model), "token_vectors", counting)
    changed = passages[3].model_copy(update={"text": passages[3].text + " Added."})
    again = TokenVectors.load([*passages[:3], changed, *passages[4:]], view.embed_model, view._late)
    assert embedded == [changed.text]
    for i in (0, 4, len(passages) - 1):
        assert np.array_equal(again.rows()[i], view._late.rows()[i])
    query = view.embed_model.encode_query("peer support").tokens
    assert again.maxsim(query, [0, 4]) == pytest.approx(view._late.maxsim(query, [0, 4]))


def test_above_late_max_passages_search_fuses_without_late_interaction(corpus_index, monkeypatch):
    view = corpus_index._view
    passages = [view.passages[pid] for pid in view.order]
    monkeypatch.setattr(late, "LATE_MAX", len(passages) - 1)
    assert TokenVectors.load(passages, view.embed_model) is None
    large = copy(view)
    large._late = None
    fused = []
    monkeypatch.setattr(
        large,
        "_fusion",
        lambda r, k, late_ranking: fused.append(late_ranking) or view._fusion(r, k, late_ranking),
    )
    hits = large._search("How do programmes match mentors with patients?", 5)
    assert len(hits) == 5 and fused == [None]
