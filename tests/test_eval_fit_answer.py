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
    holds,
    objective,
    set_objective,
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


def test_the_policy_objective_weighs_each_question_set_the_same():
    good = {"text_holds_gold": 0.8, "first_holds_gold": 0.6, "padding_mean": 1.0}
    poor = {"text_holds_gold": 0.4, "first_holds_gold": 0.2, "padding_mean": 1.0}
    by_set = {"all": good, BUNDLED: good, PAPERS: poor}
    assert set_objective(by_set) == pytest.approx((objective(good) + objective(poor)) / 2)
    assert set_objective({"all": good}) == pytest.approx(objective(good))
