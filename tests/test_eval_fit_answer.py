"""The selector's fitting script: its labels are the eval's, and its objective charges
for padding."""

from __future__ import annotations

import json

import pytest

from eval.fit_answer import (
    BUNDLED,
    DEV_PAPERS,
    PADDING_COST,
    PAPERS,
    PAPERS_DIR,
    Example,
    Scorer,
    holds,
    objective,
)
from eval.papers.__main__ import QUESTIONS as PAPER_QUESTIONS
from eval.questions import GoldSpan


def test_a_unit_is_positive_only_when_eval_would_count_it_as_holding_gold():
    gold = [GoldSpan(snippet=0, document="d", char_start=100, char_end=300)]
    assert holds(("d", 90, 210), gold)  # more than half of the gold
    assert not holds(("d", 150, 230), gold)  # inside it, but under half of it
    assert not holds(("e", 100, 300), gold)  # another document


def test_each_padded_sentence_costs_the_objective():
    lean = {"text_holds_gold": 0.8, "first_holds_gold": 0.6, "padding_mean": 1.0}
    padded = lean | {"padding_mean": 2.0}
    assert objective(lean) - objective(padded) == pytest.approx(PADDING_COST)
    assert objective(lean | {"first_holds_gold": 0.7}) > objective(lean)
    assert objective(lean, 0.2) - objective(padded, 0.2) == pytest.approx(0.2)


def test_the_user_papers_fitted_on_are_the_dev_papers_never_a_test_paper():
    rows = [json.loads(line) for line in PAPER_QUESTIONS.read_text().splitlines() if line]
    test = {r["paper"] for r in rows if r["split"] == "test"}
    dev = {r["paper"] for r in rows if r["split"] != "test"}
    assert set(DEV_PAPERS) == dev and not test & set(DEV_PAPERS)
    assert all((PAPERS_DIR / f"{p}.md").is_file() for p in DEV_PAPERS)


def test_figures_are_reported_per_question_set_and_over_all():
    scorer = object.__new__(Scorer)
    scorer.examples = [
        Example(str(i), None, None, [], [], [], None, None, s)
        for i, s in enumerate([BUNDLED, BUNDLED, PAPERS])
    ]
    out = scorer._by_set([1.0, 0.0, 1.0], lambda rows: {"mean": sum(rows) / len(rows)})
    assert out["all"]["mean"] == pytest.approx(2 / 3)
    assert out[BUNDLED] == {"mean": 0.5} and out[PAPERS] == {"mean": 1.0}
