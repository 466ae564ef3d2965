"""The selector's fitting script: its labels are the eval's, and its objective charges
for padding."""

from __future__ import annotations

import pytest

from eval.fit_answer import PADDING_COST, holds, objective
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
