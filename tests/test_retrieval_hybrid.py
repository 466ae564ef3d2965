"""Hybrid retrieval over the ingested paper: relevance, filters, verbatim results.

Tests marked chroma_server read what the store holds (passages, vectors, Chroma's own
queries): `make test` runs them again on a Chroma server.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from peerqa.models import Filters
from peerqa.retrieval import hybrid, search
from peerqa.retrieval.expansion import expand
from peerqa.retrieval.hybrid import UnknownFilterValue
from peerqa.retrieval.late import text_rows
from peerqa.store import embed_text
from tests.conftest import CORPUS_TEXT


@pytest.mark.chroma_server
def test_results_are_verbatim_spans_best_first(corpus_index):
    results = corpus_index.search("how do programmes pair mentors with patients", top_k=8)
    assert len(results) == 8
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    for r in results:
        assert CORPUS_TEXT[r.char_start : r.char_end] == r.text


def test_matching_question_finds_the_matching_evidence(corpus_index):
    results = corpus_index.search("matching peer supporters when the condition is rare", top_k=5)
    assert any(
        "matching based on issues rather than a rare health condition" in r.text for r in results
    )


def test_keyword_side_finds_exact_terms(corpus_index):
    # A grant number means nothing to the embedding model; only BM25 can match it.
    results = corpus_index.search("K23MH100705", top_k=3)
    assert "K23MH100705" in results[0].text


def test_filters_restrict_both_retrievers(corpus_index):
    filters = Filters(kind=["quote"], programme=["F"], role=["programme_leader"])
    results = corpus_index.search("funding retreats donors", top_k=10, filters=filters)
    assert results
    assert all(
        r.kind == "quote" and r.programme == "F" and r.role == "programme_leader" for r in results
    )


def test_filter_that_matches_nothing_returns_no_results(corpus_index):
    filters = Filters(kind=["reference"], programme=["A"])
    assert corpus_index.search("peer support", filters=filters) == []


def test_unknown_theme_is_an_error_not_an_empty_result(corpus_index):
    with pytest.raises(UnknownFilterValue) as err:
        corpus_index.search("x", filters=Filters(theme=["Not a theme"]))
    assert err.value.key == "theme"


def test_neighbours_stay_within_the_document(corpus_index):
    first = corpus_index.order[0]
    prev_id, next_id = corpus_index.neighbours(first)
    assert prev_id is None and next_id == corpus_index.order[1]


def test_select_finds_passages_by_their_keys_in_document_order(corpus_index):
    quotes = corpus_index.select({"kind": ["quote"], "programme": ["E"]}, limit=100)
    assert quotes and all(p.kind == "quote" and p.programme == "E" for p in quotes)
    assert [p.char_start for p in quotes] == sorted(p.char_start for p in quotes)
    first_two = corpus_index.select({"kind": ["quote"]}, limit=2)
    assert len(first_two) == 2
    assert first_two == corpus_index.select({"kind": ["quote"]}, limit=100)[:2]
    assert corpus_index.select({"kind": ["no such kind"]}, limit=5) == []


QUESTIONS = [
    "How are peer supporters matched with patients?",
    "What funding problems do programmes face?",
    "walking buddy for new members",
    "Do doctors trust peer support?",
]


@pytest.mark.chroma_server
def test_small_collections_are_searched_exactly(corpus_index):
    """Up to EXACT_MAX records a dense search scans the vectors in memory: its hits are
    Chroma's exhaustive ranking (every record asked for), not HNSW's approximate one, so
    every process that loads the generation finds the same passages."""
    view = corpus_index._view
    for exact, collection in (
        (view._dense.exact, view._dense.collection),
        (view._dense_sentences.exact, view._dense_sentences.collection),
    ):
        assert exact is not None and len(exact.ids) == collection.count()
        for question in QUESTIONS:
            embedding = view.embed_model.get_query_embedding(question)
            full = collection.query(
                query_embeddings=[embedding], n_results=len(exact.ids), include=["distances"]
            )
            want = [math.exp(-d) for d in full["distances"][0][:30]]
            got = exact.nearest(embedding, 30)
            assert [s for _, s in got] == pytest.approx(want, abs=1e-5)
            clear = want[-1] + 1e-5  # above the 30th score: no ties at the cut
            ranked = zip(full["ids"][0], full["distances"][0], strict=True)
            assert {r for r, s in got if s > clear} == {
                r for r, d in ranked if math.exp(-d) > clear
            }


def test_exact_search_keeps_only_passages_that_pass_the_filter(corpus_index):
    view = corpus_index._view
    mask = view._mask({"kind": ["quote"]})
    embedding = view.embed_model.get_query_embedding(QUESTIONS[0])
    for exact in (view._dense.exact, view._dense_sentences.exact):
        hits = exact.nearest(embedding, 200, mask)
        assert hits and len(hits) < len(exact.ids)
        passing = {i for i in range(len(exact.ids)) if mask[exact.passage[i]]}
        assert {rid for rid, _ in hits} == {exact.ids[i] for i in passing}
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


@pytest.mark.chroma_server
def test_large_collections_use_chroma_hnsw_and_agree_with_the_exact_scan(
    corpus_settings, corpus_index, monkeypatch
):
    """Above EXACT_MAX records the dense retrievers query Chroma's HNSW (overfetching for
    filters) and the ranker reads its cosines from Chroma; on this corpus both match the
    exact scan's."""
    monkeypatch.setattr("peerqa.retrieval.dense.EXACT_MAX", 0)
    approximate = hybrid.LiveIndex(corpus_settings, embed_model=corpus_index.embed_model)
    far = approximate._view
    assert far._dense.exact is None and far._dense_sentences.exact is None
    for question in QUESTIONS:
        for filters in (None, Filters(kind=["quote"]), Filters(stance=["challenge"])):
            want = {p.id for p in corpus_index.search(question, 5, filters)}
            assert {p.id for p in approximate.search(question, 5, filters)} == want
    # The ranker's cosines of every pool passage, and of its best sentence, to the
    # question: fetched from Chroma there, read from the vectors in memory here.
    view = corpus_index._view
    positions = list(range(0, len(view.order), 5))
    vector = corpus_index.encode(QUESTIONS[0]).vector
    dense, sentence = view.features.cosines(vector, positions)
    far_dense, far_sentence = far.features.cosines(vector, positions)
    assert far_dense == pytest.approx(dense, abs=1e-5)
    assert far_sentence == pytest.approx(sentence, abs=1e-5)
    unit = np.asarray(vector) / np.linalg.norm(vector)
    rows = view._dense.exact.rows
    assert dense == pytest.approx(
        [float(view._dense.exact.unit[rows[p]][0] @ unit) for p in positions], abs=1e-5
    )


class Ranked(BaseRetriever):
    """A ranking already made."""

    def __init__(self, hits):
        super().__init__()
        self._hits = hits

    def _retrieve(self, query_bundle):
        return [NodeWithScore(node=h.node, score=h.score) for h in self._hits]


def theme_of(view, passage_id):
    passage = view.passages[passage_id]
    return (passage.document, passage.theme) if passage.theme else None


def with_theme_feedback(view, ranked):
    """(id, score) best first, with hybrid.THEME_FEEDBACK applied as its comment says."""
    top = theme_of(view, ranked[0][0])
    if top is None:
        return ranked
    gain = hybrid.THEME_FEEDBACK * ranked[0][1]
    rescored = [
        (pid, (score + gain * (theme_of(view, pid) == top)) / (1 + hybrid.THEME_FEEDBACK))
        for pid, score in ranked
    ]
    return sorted(rescored, key=lambda hit: -hit[1])


def test_hits_of_the_top_hits_theme_rise_with_it(corpus_index, monkeypatch):
    """The paper's Results themes each hold paragraphs and the quotes that illustrate them:
    when the best passage belongs to one, the question is taken to be about that theme
    (fusion's order, before the fitted ranker)."""
    question = "Do peer groups make people feel less lonely?"
    monkeypatch.setattr(corpus_index._view, "ranker", None)
    feedback = hybrid.THEME_FEEDBACK
    monkeypatch.setattr(search, "THEME_FEEDBACK", 0.0)
    plain = corpus_index.search(question, 5)
    monkeypatch.setattr(search, "THEME_FEEDBACK", feedback)
    got = corpus_index.search(question, 5)
    theme = got[0].theme
    assert got[0].id == plain[0].id and theme == "Psychosocial benefits"
    assert sum(p.theme == theme for p in got) > sum(p.theme == theme for p in plain)
    assert any(p.kind == "quote" and p.theme == theme for p in got)
    assert all(0 <= p.score <= 1 for p in got)
    assert [p.score for p in got] == sorted((p.score for p in got), reverse=True)


def test_each_search_fuses_as_a_freshly_made_query_fusion_retriever(corpus_index, monkeypatch):
    """Searches fuse with copies of one fusion retriever per generation (making one per
    search costs two failing langchain imports under Python's import lock). A copy ranks
    and scores as llama-index's QueryFusionRetriever constructed over the same
    retrievers (3, or 4 when a question names a programme) and two more rankings: late
    interaction over the passages they found, by MaxSim against the tokens of their text
    and of their text under its context; then theme feedback (THEME_FEEDBACK), and reference
    entries leave (no question here asks about literature). The fitted ranker reorders
    this ranking (tests/test_retrieval_ranker.py)."""
    view = corpus_index._view
    monkeypatch.setattr(view, "ranker", None)
    made = []

    def fusion(retrievers, top_k, late):
        made.append(retrievers)
        return type(view)._fusion(view, retrievers, top_k, late)

    monkeypatch.setattr(view, "_fusion", fusion)
    counts = set()
    for question in (*QUESTIONS, "How does Programme E match its mentors?"):
        got = corpus_index.search(question, 5)
        retrievers = made.pop()
        counts.add(len(retrievers))
        query = expand(question)
        encoding = view.embed_model.encode_query(query)
        # dense retrievers meet the question's vector through the fitted query adapter
        vector = encoding.vector if view.adapter is None else view.adapter.apply(encoding.vector)
        bundle = QueryBundle(query, embedding=list(vector))
        found = {h.node.node_id: h.node for r in retrievers for h in r.retrieve(bundle)}
        late = []
        chosen = [view.passages[n.node_id] for n in found.values()]
        # The text view: each passage's sentences' tokens, a reference entry's as it is
        # embedded (retrieval.late.text_rows); the context view: its embedded text's.
        model = view.embed_model
        for tokens in (
            text_rows(chosen, model),
            model.token_vectors([embed_text(p) for p in chosen]),
        ):
            scored = (
                NodeWithScore(node=node, score=float((t @ encoding.tokens.T).max(0).mean()))
                for node, t in zip(found.values(), tokens, strict=True)
            )
            late.append(Ranked(sorted(scored, key=lambda h: -h.score)[: hybrid.CANDIDATES]))
        fresh = QueryFusionRetriever(
            [*retrievers, *late],
            llm=MockLLM(),
            num_queries=1,
            mode=hybrid.FUSION_MODE,
            use_async=False,
            similarity_top_k=len(view.passages),
        )
        want = [(h.node.node_id, round(h.score, 6)) for h in fresh.retrieve(bundle)]
        want = with_theme_feedback(view, want)
        want = [hit for hit in want if view.passages[hit[0]].kind != "reference"][:5]
        assert [p.id for p in got] == [pid for pid, _ in want]
        assert [p.score for p in got] == pytest.approx([s for _, s in want], abs=2e-6)
    assert counts == {3, 4}
