"""Late interaction: passages score by MaxSim of their content tokens against the query's,
read two ways (the verbatim text, and the text under its context); token vectors are made
once per text and only for generations up to LATE_MAX."""

from __future__ import annotations

import os
from copy import copy

import numpy as np
import pytest

from peerqa.embedding import TOKEN_DIMS, content_vocabulary
from peerqa.retrieval import late
from peerqa.retrieval.late import LATE_VIEWS, TokenVectors, cache_path, load_views
from peerqa.store import embed_text, indexed_sentences


def unit(*rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_a_passage_scores_the_mean_over_query_tokens_of_its_best_matching_token():
    passages = [unit([1, 0, 0], [0, 1, 0]), unit([0, 0, 1]), unit([1, 1, 0], [0, 1, 1], [1, 0, 1])]
    vectors = TokenVectors.of(["a", "b", "c"], dict(zip("abc", passages, strict=True)))
    query = unit([1, 0, 0], [0, 1, 0])
    # passage 0 holds both query tokens; 1 neither; 2 is halfway to each.
    want = [1.0, 0.0, float(np.sqrt(0.5))]
    assert vectors.maxsim(query, [0, 1, 2]) == pytest.approx(want)
    assert vectors.maxsim(query, [2, 0]) == pytest.approx([want[2], want[0]])
    assert len(vectors.maxsim(query, [])) == 0


def test_content_tokens_are_the_words_that_carry_the_question(corpus_index):
    tokenizer = corpus_index.embed_model.sentence_transformer().tokenizer
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


def test_one_view_reads_the_text_the_other_the_text_under_its_context(corpus_index):
    view = corpus_index._view
    text, context = view._late
    for i, pid in enumerate(view.order):
        passage = view.passages[pid]
        # A reference entry reads as it is embedded in both (its tokens: one forward pass).
        verbatim = embed_text(passage) if passage.kind == "reference" else passage.text
        assert text.text[i] == verbatim and context.text[i] == embed_text(passage)
    # A quote's context names its programme's conditions: the context view finds the
    # transplant programme's quotes by "transplant" where their words do not say it.
    quotes = [
        i
        for i, pid in enumerate(view.order)
        if view.passages[pid].kind == "quote"
        and "transplant" in context.text[i].lower()
        and "transplant" not in text.text[i].lower()
    ]
    assert len(quotes) >= 3
    query = view.embed_model.encode_query("transplant").tokens
    assert (context.maxsim(query, quotes) > text.maxsim(query, quotes) + 0.2).all()


def counted_token_vectors(model, monkeypatch) -> list[str]:
    embedded: list[str] = []
    real = type(model).token_vectors
    monkeypatch.setattr(
        type(model),
        "token_vectors",
        lambda self, texts: embedded.extend(texts) or real(self, texts),
    )
    return embedded


def test_a_new_generation_embeds_only_texts_it_has_not_seen(corpus_index, monkeypatch):
    view = corpus_index._view
    passages = [view.passages[pid] for pid in view.order]
    embedded = counted_token_vectors(view.embed_model, monkeypatch)
    changed = passages[3].model_copy(update={"text": passages[3].text + " Added."})
    again = load_views([*passages[:3], changed, *passages[4:]], view.embed_model, view._late)
    # Its text view is made of its sentences' tokens: those it has not seen are embedded.
    seen = {t for v in view._late for t in v.text}
    sentences = {changed.text[a:b] for a, b in indexed_sentences(changed)} - seen
    assert sorted(embedded) == sorted({embed_text(changed), *sentences})
    query = view.embed_model.encode_query("peer support").tokens
    for new, old in zip(again, view._late, strict=True):
        for i in (0, 4, len(passages) - 1):
            assert np.array_equal(new.rows()[i], old.rows()[i])
        assert new.maxsim(query, [0, 4]) == pytest.approx(old.maxsim(query, [0, 4]))


def test_above_late_max_passages_search_fuses_without_late_interaction(corpus_index, monkeypatch):
    view = corpus_index._view
    passages = [view.passages[pid] for pid in view.order]
    monkeypatch.setattr(late, "LATE_MAX", len(passages) - 1)
    assert load_views(passages, view.embed_model) == ()
    large = copy(view)
    large._late = ()
    fused = []
    monkeypatch.setattr(
        large,
        "_fusion",
        lambda r, k, rankings: fused.append(rankings) or view._fusion(r, k, rankings),
    )
    hits = large.search("How do programmes match mentors with patients?", 5)
    assert len(hits) == 5 and fused == [[]]


def test_token_vectors_are_kept_in_the_cache_dir_and_read_back(corpus_index, tmp_path, monkeypatch):
    view = corpus_index._view
    model = view.embed_model
    passages = [view.passages[pid] for pid in view.order[:12]]
    embedded = counted_token_vectors(model, monkeypatch)
    made = load_views(passages, model, cache_dir=tmp_path)
    assert embedded
    embedded.clear()
    again = load_views(passages, model, cache_dir=tmp_path)
    assert embedded == []
    for new, old in zip(again, made, strict=True):
        assert new.text == old.text
        assert np.array_equal(new.matrix, old.matrix) and np.array_equal(new.starts, old.starts)
    # Another model's token vectors, or other texts, are kept under another name.
    views = [[read(p) for p in passages] for read in LATE_VIEWS]
    assert (
        len(
            {
                cache_path(tmp_path, model.token_space, views),
                cache_path(tmp_path, "another model", views),
                cache_path(tmp_path, model.token_space, [texts[1:] for texts in views]),
            }
        )
        == 3
    )


def test_an_unreadable_cache_file_is_made_again(corpus_index, tmp_path, monkeypatch):
    view = corpus_index._view
    model = view.embed_model
    passages = [view.passages[pid] for pid in view.order[:5]]
    path = cache_path(
        tmp_path, model.token_space, [[read(p) for p in passages] for read in LATE_VIEWS]
    )
    path.write_bytes(b"not an npz file")
    embedded = counted_token_vectors(model, monkeypatch)
    made = load_views(passages, model, cache_dir=tmp_path)
    assert embedded and made[0].text == [p.text for p in passages]
    embedded.clear()
    load_views(passages, model, cache_dir=tmp_path)
    assert embedded == []


def test_the_cache_keeps_the_most_recently_used_generations(corpus_index, tmp_path, monkeypatch):
    view = corpus_index._view
    model = view.embed_model
    passages = [view.passages[pid] for pid in view.order]
    monkeypatch.setattr(late, "CACHE_FILES", 2)

    def path(n):
        return cache_path(
            tmp_path, model.token_space, [[r(p) for p in passages[:n]] for r in LATE_VIEWS]
        )

    for n in (2, 3):
        load_views(passages[:n], model, cache_dir=tmp_path)
    os.utime(path(2), (1_000, 1_000))  # 2 was used before 3, by far
    os.utime(path(3), (2_000, 2_000))
    for n in (2, 4):  # reading 2 back uses it again: 3 is now the least recently used
        load_views(passages[:n], model, cache_dir=tmp_path)
    assert sorted(tmp_path.iterdir()) == sorted([path(2), path(4)])
