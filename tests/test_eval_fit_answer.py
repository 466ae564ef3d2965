"""The selector's fitting script: its labels are the eval's, and its objective charges
for padding."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from peerqa.answer.evidence import Unit
from peerqa.answer.selector import from_dict
from peerqa.eval.fit_answer import (
    BUNDLED,
    DEV_PAPERS,
    MISS_KINDS,
    PADDING_COST,
    PAPERS,
    PAPERS_DIR,
    RULES,
    Candidate,
    Example,
    Scorer,
    choose_policy,
    dumps,
    fit,
    fit_lead,
    holds,
    miss_kind,
    objective,
    one_standard_error,
    within_padding,
)
from peerqa.eval.papers.__main__ import QUESTIONS as PAPER_QUESTIONS
from peerqa.eval.questions import GoldSpan
from peerqa.models import ScoredPassage


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


def test_a_policy_padding_more_than_the_top_passage_ranks_below_any_that_does_not():
    lean = {"text_holds_gold": 0.7, "first_holds_gold": 0.5, "padding_mean": 1.2}
    padded = {"text_holds_gold": 0.8, "first_holds_gold": 0.6, "padding_mean": 1.5}
    top = 1.3  # the top passage's padded sentences per answer
    assert objective(padded) > objective(lean)
    assert (within_padding(lean, top), objective(lean)) > (
        within_padding(padded, top),
        objective(padded),
    )
    # Over the bound, the less padded ranks first.
    assert within_padding(padded, 1.0) < within_padding(lean, 1.0) < 0


def _outcomes(share: float, n: int) -> np.ndarray:
    """n questions' text-holds-gold outcomes, `share` of them held."""
    held = round(share * n)
    return np.r_[np.ones(held), np.zeros(n - held)]


class _Scorer:
    """Stands in for Scorer: each further unit a policy allows finds more gold and pads
    more (the trade the padding bound is about), over `n` questions."""

    n = 100

    def _figures(self, policy):
        n = policy.max_units
        return {
            "all": {
                "text_holds_gold": 0.5 + 0.1 * n,
                "first_holds_gold": 0.5,
                "padding_mean": 0.5 * n,
            }
        }

    def chosen(self, scores, policy):
        return self._figures(policy)

    answers = chosen

    def chosen_outcomes(self, scores, policy):
        figures = self._figures(policy)
        return figures, _outcomes(figures["all"]["text_holds_gold"], self.n)

    answer_outcomes = chosen_outcomes

    def top_passage(self):
        return {"all": {"padding_mean": 1.2}}


def test_the_policy_pads_no_more_than_the_bound_asked_for():
    by_objective = {"rule": "objective"}
    # each unit buys 0.1 for 0.025
    assert choose_policy(_Scorer(), [], **by_objective)[0].max_units == 4
    assert choose_policy(_Scorer(), [], bounded=True, **by_objective)[0].max_units == 2
    assert choose_policy(_Scorer(), [], max_padding=1.5, **by_objective)[0].max_units == 3


def _candidate(text: float, padding: float, first: float = 0.5, n: int = 100) -> Candidate:
    figures = {"all": {"text_holds_gold": text, "first_holds_gold": first, "padding_mean": padding}}
    return Candidate(None, figures, _outcomes(text, n))


def test_one_standard_error_takes_the_least_padded_within_one_error_of_the_best_text():
    # Best text 0.80 over 100 questions: its standard error is 0.040, so 0.77 is within it
    # and 0.70 is not.
    candidates = [
        _candidate(0.80, 2.0),
        _candidate(0.77, 1.2, first=0.5),
        _candidate(0.70, 0.3),
        _candidate(0.77, 1.2, first=0.6),  # as lean: the higher first sentence wins
    ]
    chosen, best, se = one_standard_error(candidates)
    assert (best, chosen) == (0.80, 3)
    assert se == pytest.approx(np.sqrt(0.8 * 0.2 / 99))
    # The error comes from the per-question outcomes: over 10000 questions the same 0.03
    # is no longer noise, and the best text is taken whatever it pads.
    many = [_candidate(c.figures["all"]["text_holds_gold"], 1.0, n=10000) for c in candidates]
    many[0].figures["all"]["padding_mean"] = 2.0
    assert one_standard_error(many)[0] == 0


class _SmallGains(_Scorer):
    """Each further unit finds a little more gold (0.03, inside the error of 100
    questions) for half a padded sentence."""

    def _figures(self, policy):
        figures = super()._figures(policy)
        figures["all"]["text_holds_gold"] = 0.7 + 0.03 * policy.max_units
        return figures


def test_the_one_se_rule_gives_up_gains_inside_the_noise_for_fewer_filler_sentences():
    trade_off = []
    policy = choose_policy(_SmallGains(), [], "one_se", trade_off)[0]
    # Best 0.82 (four units), error 0.039: three units (0.79) are within it, two (0.76) not.
    assert policy.max_units == 3
    assert {c.policy.max_units for c in trade_off} >= {3, 4}  # what was given up, kept
    # The former objective buys each 0.03 for its 0.025 of padding.
    assert choose_policy(_SmallGains(), [], rule="objective")[0].max_units == 4
    big = _SmallGains()
    big.n = 100000  # the same gains are real over this many questions
    assert choose_policy(big, [], "one_se")[0].max_units == 4


class _StopScorer(_Scorer):
    """Stopping at a lead that stands out (alone_share below 1) drops filler: with
    `costs_gold`, it also drops gold."""

    def __init__(self, costs_gold: bool):
        self.costs_gold = costs_gold

    def _figures(self, policy):
        figures = super()._figures(policy)["all"]
        if policy.alone_share < 1.0:
            figures["padding_mean"] *= policy.alone_share
            figures["text_holds_gold"] -= 0.2 * self.costs_gold
        return {"all": figures}

    def chosen(self, scores, policy):
        return self._figures(policy)

    answers = chosen


def test_a_lead_alone_ends_the_answer_only_when_that_sheds_filler_and_no_gold():
    for rule in RULES:
        assert choose_policy(_StopScorer(costs_gold=False), [], rule=rule)[0].alone_share < 1.0
        assert choose_policy(_StopScorer(costs_gold=True), [], rule=rule)[0].alone_share == 1.0


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


def test_the_lead_model_learns_from_questions_with_gold_and_ignores_those_without():
    # Feature 0 marks each question's gold unit; a question without gold says nothing about
    # which unit should lead, however its units differ.
    z = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [1.0, 0.2], [0.0, 0.0]])
    y = np.array([1, 0, 0, 1, 0])
    groups = np.array([0, 0, 0, 1, 1])
    w = fit_lead(z, y, groups)
    assert w[0] > 0 > w[1]
    no_gold = np.array([[5.0, -5.0], [-5.0, 5.0]])
    w2 = fit_lead(np.vstack([z, no_gold]), np.append(y, [0, 0]), np.append(groups, [2, 2]))
    assert np.allclose(w, w2)
    # A stronger penalty shrinks the weights.
    assert np.abs(fit_lead(z, y, groups, l2=1.0)).sum() < np.abs(w).sum()


POLICY = {"margin": 0, "ratio": 0.5, "floor": 0.1, "max_units": 3, "per_group": 2}
POLICY |= {"theme_bonus": 0.1}


def _levelled_questions(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` questions of three units: in each the gold unit has the higher first feature,
    though questions differ in level (the second feature)."""
    rng = np.random.default_rng(seed)
    rows, labels, groups = [], [], []
    for g in range(n):
        level = rng.normal()
        for gold in (1, 0, 0):
            rows.append([gold + rng.normal(scale=0.3), level])
            labels.append(gold)
            groups.append(g)
    return np.array(rows), np.array(labels), np.array(groups)


def test_the_lead_model_ranks_within_a_question_whatever_its_level():
    # In every question the gold unit has the higher first feature, though questions differ
    # in level (the second feature): the lead model orders units by the first.
    x, y, groups = _levelled_questions(40, seed=0)
    fitted = fit(x, y, groups, ("cosine", "lexical"), model="linear")
    selector = from_dict({**fitted, "policy": POLICY})
    lead = selector.predict_lead(np.array([[1.0, 0.0], [0.0, 0.0]]))
    assert lead[0] > lead[1] and abs(fitted["lead"][0]) > 5 * abs(fitted["lead"][1])
    # Without lead weights (an older artefact), units lead by P.
    plain = from_dict({**fitted, "lead": None, "policy": POLICY})
    x2 = np.array([[1.0, 0.0], [0.0, 0.0]])
    assert np.allclose(plain.predict_lead(x2), plain.predict(x2))


def test_the_stored_trees_score_as_lightgbm_and_lead_within_a_question():
    # The same questions as above: the trees, walked in numpy from the written artefact,
    # give LightGBM's own scores, and their lead score orders each question's units by
    # the first feature whatever its level.
    import lightgbm

    from peerqa.eval.fit_answer import INCLUDE_TREES, LEAD_TREES, TREE_DEPTH

    x, y, g = _levelled_questions(80, seed=1)
    fitted = fit(x, y, g, ("cosine", "lexical"), model="trees")
    selector = from_dict(json.loads(dumps({**fitted, "policy": POLICY})))
    common = {"max_depth": TREE_DEPTH, "n_jobs": 1, "deterministic": True, "verbose": -1}
    include = lightgbm.LGBMClassifier(**INCLUDE_TREES, **common, class_weight="balanced")
    lead = lightgbm.LGBMRanker(**LEAD_TREES, **common).fit(x, y, group=[3] * 80)
    assert np.allclose(selector.predict(x), include.fit(x, y).predict_proba(x)[:, 1], atol=1e-6)
    assert np.allclose(selector.predict_lead(x), lead.predict(x), atol=1e-5)
    scores = selector.predict_lead(x).reshape(-1, 3)
    assert (scores.argmax(axis=1) == x[:, 0].reshape(-1, 3).argmax(axis=1)).mean() > 0.9
    # The linear models stay in the artefact (the fallback reads its feature names).
    assert fitted["lead"] and fitted["coef"]


def _passage(pid: str, text: str, at: int) -> ScoredPassage:
    return ScoredPassage(
        id=pid,
        text=text,
        document="d",
        section="Discussion",
        kind="paragraph",
        char_start=at,
        char_end=at + len(text),
        score=1.0,
    )


def test_a_miss_is_told_by_where_the_gold_was_and_what_was_chosen_instead():
    first = "This study has some limitations."
    second = "Only one informant was interviewed for one programme."
    top = _passage("top", f"{first} {second}", 0)
    other = _passage("other", "Peer supporters were trained volunteers.", 500)
    units = [
        Unit(top, 0, 0, len(first), 0, 0.5, np.eye(3)[0], None),
        Unit(top, 0, len(first) + 1, len(top.text), 1, 0.4, np.eye(3)[1], None),
        Unit(other, 1, 0, len(other.text), 0, 0.3, np.eye(3)[2], None),
    ]
    limitation = units[1].span
    gold = [GoldSpan(snippet=0, document="d", char_start=limitation[1], char_end=limitation[2])]
    ex = Example("q", None, None, [top, other], units, gold, None)
    # The framing sentence chosen (or leading) without what it announces:
    assert miss_kind(ex, [units[0], units[2]], "text") == "framing"
    assert miss_kind(ex, [units[0], units[1]], "first") == "framing"
    # Another passage's unit chosen over the top passage's gold:
    assert miss_kind(ex, [units[2]], "text") == "top_passage"
    # Gold in the second passage:
    gold2 = [GoldSpan(snippet=0, document="d", char_start=500, char_end=540)]
    assert miss_kind(replace(ex, gold=gold2), [units[0]], "text") == "passage_2_5"
    # Gold nowhere among the units: retrieval's miss, or unit-making's.
    far = [GoldSpan(snippet=0, document="d", char_start=2000, char_end=2040)]
    assert miss_kind(replace(ex, gold=far), [units[0]], "text") == "not_retrieved"
    inside = replace(ex, units=[units[0], units[2]])
    assert miss_kind(inside, [units[0]], "text") == "not_a_unit"
    assert set(MISS_KINDS) >= {"framing", "top_passage", "passage_2_5", "not_retrieved"}
