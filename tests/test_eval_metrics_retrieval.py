"""Specifications of the retrieval metrics (eval/metrics/retrieval.py) and of where gold
sits in the sources (eval/questions.py), on tiny hand-made rankings.

Synthetic sources are runs of numbered words ("w0 w1 w2 …"), so a passage or a gold
snippet is just a word range and its character offsets follow from that.
"""

from __future__ import annotations

import math

import pytest

from peerqa.eval.baselines import Chunk
from peerqa.eval.metrics import (
    BUDGET_WORDS,
    covers,
    ndcg_at_k,
    read_within_budget,
    recall_at_k,
    reciprocal_rank,
    relevant_ids,
    score_question,
)
from peerqa.eval.questions import (
    GoldNotFound,
    GoldSpan,
    Question,
    gold_spans,
)

DOC = "doc"
WORDS = [f"w{i}" for i in range(10_000)]
SOURCE = " ".join(WORDS)
STARTS = [0]
for _word in WORDS:
    STARTS.append(STARTS[-1] + len(_word) + 1)  # where the next word starts


def chunk(cid: str, first: int, words: int, document: str = DOC) -> Chunk:
    """A passage holding words [first, first + words)."""
    start, end = STARTS[first], STARTS[first + words] - 1
    return Chunk(id=cid, document=document, char_start=start, char_end=end, text=SOURCE[start:end])


def gold(first: int, words: int, snippet: int = 0) -> GoldSpan:
    c = chunk("g", first, words)
    return GoldSpan(snippet=snippet, document=DOC, char_start=c.char_start, char_end=c.char_end)


# -- gold location --------------------------------------------------------------
def _question(gold_snippets: list[str]) -> Question:
    return Question(
        id="q999",
        question="?",
        category="benefits",
        in_scope=True,
        split="test",
        gold=gold_snippets,
    )


def test_gold_spans_keep_every_occurrence_in_every_document():
    sources = {"a": "x peer support helps. y peer support helps.", "b": "peer support helps"}
    spans = gold_spans(_question(["peer support helps", "y peer"]), sources)
    assert [(s.snippet, s.document, s.char_start) for s in spans] == [
        (0, "a", 2),
        (0, "a", 24),
        (0, "b", 0),
        (1, "a", 22),
    ]
    assert all(sources[s.document][s.char_start : s.char_end] for s in spans)


def test_gold_spans_fail_loudly_when_the_corpus_drifts():
    with pytest.raises(GoldNotFound, match="q999"):
        gold_spans(_question(["not in the corpus"]), {"a": "peer support"})


# -- relevance -----------------------------------------------------------------
G = GoldSpan(snippet=0, document=DOC, char_start=100, char_end=140)  # 40 characters


@pytest.mark.parametrize(
    "document,start,end,relevant",
    [
        (DOC, 0, 500, True),  # contains the gold span
        (DOC, 100, 140, True),  # exactly the gold span
        (DOC, 0, 120, True),  # overlaps exactly half
        (DOC, 0, 119, False),  # one character short of half
        (DOC, 120, 300, True),  # the other half
        (DOC, 121, 300, False),
        (DOC, 105, 124, False),  # inside the gold span but under half of it
        (DOC, 140, 300, False),  # adjacent, [start, end) does not overlap
        ("other", 0, 500, False),  # same offsets, another document
    ],
)
def test_relevant_when_overlapping_at_least_half_the_gold_span(document, start, end, relevant):
    assert covers(document, start, end, G) is relevant


# -- reading budget ----------------------------------------------------------------
def test_the_first_passage_is_read_up_to_the_budget_only():
    big = chunk("big", 0, 1000)
    (read,) = read_within_budget([big, chunk("next", 1000, 10)])
    assert SOURCE[read.char_start : read.char_end] == " ".join(f"w{i}" for i in range(600))
    assert recall_at_k([read], [gold(100, 10)]) == 1.0
    assert recall_at_k([read], [gold(650, 10)]) == 0.0  # past word 600: never read
    assert recall_at_k([read], [gold(594, 10)]) == 1.0  # over half of it lies in the words read
    assert recall_at_k([read], [gold(596, 10)]) == 0.0


def test_a_passage_crossing_the_budget_is_cut_and_later_ones_are_not_read():
    ranking = [chunk("a", 0, 400), chunk("b", 1000, 300), chunk("c", 2000, 10)]
    read = read_within_budget(ranking)
    assert [r.id for r in read] == ["a", "b"]  # "c" comes after the budget
    assert read[1].char_end == chunk("b", 1000, 200).char_end  # 400 + 200 = 600 words
    assert recall_at_k(read, [gold(1100, 20)]) == 1.0  # in the 200 words read of "b"
    assert recall_at_k(read, [gold(1250, 20)]) == 0.0  # in the unread rest of "b"
    assert recall_at_k(read, [gold(2000, 10)]) == 0.0
    assert reciprocal_rank(read, [gold(2000, 10)]) == 0.0


def test_passages_that_fit_are_read_whole():
    ranking = [chunk(f"p{i}", i * 1000, 120) for i in range(6)]
    read = read_within_budget(ranking)
    assert len(read) == 5  # 5 × 120 = 600 words exactly; nothing is left for the sixth
    assert [(r.char_start, r.char_end) for r in read] == [
        (c.char_start, c.char_end) for c in ranking[:5]
    ]
    assert BUDGET_WORDS == 600


# -- recall and MRR ----------------------------------------------------------------
def test_recall_counts_distinct_gold_snippets_not_occurrences():
    # snippet 0 occurs twice (prose and table quote), snippet 1 once
    spans = [gold(10, 10, 0), gold(500, 10, 0), gold(900, 10, 1)]
    both_zero = read_within_budget([chunk("a", 0, 50), chunk("b", 480, 50)])
    assert recall_at_k(both_zero, spans) == 0.5
    all_found = read_within_budget([chunk("a", 480, 50), chunk("b", 890, 50)])
    assert recall_at_k(all_found, spans) == 1.0


def test_recall_only_looks_at_the_first_five_passages():
    ranking = [chunk(f"p{i}", i * 100, 10) for i in range(6)]
    spans = [gold(500, 5)]  # in the sixth passage
    row = score_question("q", "benefits", ranking, spans)
    assert row.recall_at_5 == 0.0
    assert row.mrr_at_10 == pytest.approx(1 / 6)
    assert row.first_relevant_rank == 6


def test_mrr_is_one_over_the_rank_of_the_first_relevant_passage():
    ranking = [chunk("a", 0, 10), chunk("b", 100, 10), chunk("c", 200, 10)]
    assert score_question("q", "x", ranking, [gold(100, 5), gold(200, 5, 1)]).mrr_at_10 == 0.5
    assert score_question("q", "x", ranking, [gold(300, 5)]).mrr_at_10 == 0.0
    # the relevant passage ranks eleventh: outside MRR@10
    eleven = [chunk(f"p{i}", i * 20, 10) for i in range(11)]
    assert score_question("q", "x", eleven, [gold(200, 5)]).mrr_at_10 == 0.0


@pytest.mark.slow  # ranx compiles numba typed dicts (uncacheable): ~20 s
def test_ndcg_by_ranx_with_gold_overlap_as_qrels():
    universe = [chunk("a", 0, 10), chunk("b", 100, 10), chunk("c", 200, 10)]
    relevant = {
        "q1": relevant_ids(universe, [gold(100, 5)]),
        "q2": relevant_ids(universe, [gold(4000, 5)]),  # nothing in the index holds it
    }
    assert relevant == {"q1": {"b"}, "q2": set()}
    scores = ndcg_at_k({"q1": universe, "q2": universe}, relevant)
    assert scores["q1"] == pytest.approx(1 / math.log2(3))  # the one relevant id at rank 2
    assert scores["q2"] == 0.0
