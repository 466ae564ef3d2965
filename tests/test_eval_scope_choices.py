"""How eval.papers.describe and eval.papers.route score a choice of thresholds: a wrong
confinement is an error of its own (and loses the question), a miss another."""

from __future__ import annotations

import json

from peerqa.eval.papers import describe, route
from peerqa.eval.papers.__main__ import paper_of


def _row(paper, named, scores, by_name=()):
    return {"id": "x", "paper": paper, "named": named, "by_name": by_name, "scores": scores}


def test_a_description_is_accepted_only_above_the_minimum_and_margin():
    clear = _row("a", True, {"a": 0.9, "b": 0.5})
    close = _row("a", True, {"a": 0.9, "b": 0.85})
    assert describe.decide(clear, 0.8, 0.2) == ("a",)
    assert describe.decide(close, 0.8, 0.2) == ()  # two papers fit: none
    assert describe.decide(clear, 0.95, 0.0) == ()
    # A name found by the name rules wins over any description.
    assert describe.decide(_row("a", True, {"b": 1.0}, ("a",)), 0.5, 0.0) == ("a",)


def test_wrong_confinements_and_misses_are_counted_apart():
    rows = [
        _row("a", True, {"a": 0.9, "b": 0.1}),  # right
        _row("a", True, {"a": 0.4, "b": 0.1}),  # missed
        _row(None, True, {"a": 0.9, "b": 0.1}),  # a study not loaded, confined: wrong
        _row("b", False, {}),  # names nothing, confined to nothing: neither
    ]
    assert describe.errors(rows, 0.8, 0.2) == {"wrong": 1, "missed": 1, "right": 1}
    assert describe.cost({"wrong": 1, "missed": 1, "right": 1}) == describe.WRONG_COST + 1


def test_a_wrong_route_loses_the_question():
    rows = [
        {"paper": "a", "anywhere": False, "confined": True, "scores": {"a": 0.9, "b": 0.1}},
        {"paper": "b", "anywhere": True, "confined": True, "scores": {"a": 0.9, "b": 0.1}},
        {"paper": "b", "anywhere": True, "confined": True, "scores": {"a": 0.5, "b": 0.4}},
    ]
    assert route.recall(rows, 0.8, 0.3) == {"recall@5": round(2 / 3, 3), "wrong_routes": 1}
    assert route.recall(rows, 2.0, 0.0) == {"recall@5": round(2 / 3, 3), "wrong_routes": 0}


def test_the_description_set_never_asks_about_a_held_out_paper():
    rows = [json.loads(line) for line in describe.DESCRIPTIONS.read_text().splitlines()]
    held_out = {"paper_1409", "paper_1872"}
    assert rows and not {r["paper"] for r in rows} & held_out
    assert all(r["paper"] is None or paper_of(r["paper"]) == r["paper"] for r in rows)
