"""Hybrid retrieval over the ingested paper: relevance, filters, verbatim results."""

from __future__ import annotations

import pytest

from peerqa.models import Filters
from retrieval.hybrid import UnknownFilterValue
from tests.conftest import CORPUS_TEXT


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
