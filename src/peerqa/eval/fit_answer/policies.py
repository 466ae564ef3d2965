"""The policy chosen on the out-of-fold answers: the grid tried, the rules (OBJECTIVE by
default, or ONE_SE), and the trade-off every checked policy printed."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from peerqa.answer.selector import Policy
from peerqa.eval.fit_answer.examples import BUNDLED, PAPERS
from peerqa.eval.fit_answer.scoring import Scorer, Scores

# Policies tried on the out-of-fold answers: a small grid, not constants per question.
MARGINS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.6)
RATIOS = (0.35, 0.5, 0.65, 0.8)
FLOORS = (0.1, 0.2, 0.3, 0.5)
MAX_UNITS = (1, 2, 3, 4)
ALONE = (1.0, 0.99, 0.95, 0.9)  # 1.0: no score makes the lead the whole answer
# How many of the top passage's best units the answer always holds (Policy.top_units).
TOP_UNITS = (1, 2)
# The lead's softmax share that makes it the whole answer (1.0: none), tried with the
# rest of the best policy fixed: a second stage, so the grid does not grow sixfold.
ALONE_SHARE = (1.0, 0.8, 0.65, 0.5, 0.35, 0.25)
# Up to how many words a chosen sentence is a framing one its passage's next sentence
# follows (Policy.continuation; 0: none), tried last with the rest of the policy fixed.
CONTINUATION = (0, 8, 12, 16, 20)
# The top passage's units held when its paper is a generic one (Policy.generic_top_units;
# 0: as top_units), tried last with the rest fixed.
GENERIC_TOP_UNITS = (0, 1, 2, 3)
PER_GROUP, THEME_BONUS = 2, 0.1
SHORTLIST = 24  # policies checked as rendered answers (see choose_policy)
# How the policy is chosen (choose_policy): "objective" by default, or "one_se".
RULES = ("one_se", "objective")
# Each answer sentence that holds no gold (from a passage holding none) costs this much of
# a question answered: a filler sentence must buy a twentieth of a gold sentence to be
# shown. Issue 13's targets are the answer holding gold, never below the top passage; at a
# tenth, policies fitted on out-of-fold retrieval fell below the top passage.
PADDING_COST = 0.05


def objective(figures: dict[str, float], padding_cost: float = PADDING_COST) -> float:
    return (
        figures["text_holds_gold"]
        + figures["first_holds_gold"]
        - padding_cost * figures["padding_mean"]
    )


def _policy(
    margin: float, ratio: float, floor: float, units: int, alone: float, top_units: int = 1
) -> Policy:
    return Policy(margin, ratio, floor, units, PER_GROUP, THEME_BONUS, alone, top_units=top_units)


def _grid() -> list[Policy]:
    """The policies tried: MARGINS x RATIOS x FLOORS x MAX_UNITS x ALONE x TOP_UNITS."""
    grid = []
    for top_units, alone, units, margin, ratio, floor in itertools.product(
        TOP_UNITS, ALONE, MAX_UNITS, MARGINS, RATIOS, FLOORS
    ):
        if units == 1 and (ratio, floor, alone, top_units) != (
            RATIOS[0],
            FLOORS[0],
            ALONE[0],
            TOP_UNITS[0],
        ):
            continue  # one unit: ratio, floor, alone and the top passage's units change nothing
        grid.append(_policy(margin, ratio, floor, units, alone, top_units))
    return grid


@dataclass
class Candidate:
    """A policy checked on the out-of-fold answers: its figures per question set, and each
    question's "text holds gold" (0/1) for the standard error."""

    policy: Policy
    figures: dict[str, dict]
    text: np.ndarray


def one_standard_error(candidates: Sequence[Candidate]) -> tuple[int, float, float]:
    """ONE_SE: the index of the candidate chosen, the best text-holds-gold and its
    standard error. Among the candidates whose text holds gold (all fitting questions,
    each weighing the same) is within one standard error of the best's, the least padded
    (padded sentences per answer); ties to the higher first-sentence figure, then the
    higher text figure, then the earlier candidate. The standard error is the best
    candidate's, from its per-question outcomes: std (ddof 1) / sqrt(n)."""
    texts = [c.figures["all"]["text_holds_gold"] for c in candidates]
    best = int(np.argmax(texts))
    outcomes = candidates[best].text
    se = float(np.std(outcomes, ddof=1) / np.sqrt(len(outcomes))) if len(outcomes) > 1 else 0.0
    eligible = [i for i, t in enumerate(texts) if t >= texts[best] - se - 1e-9]

    def key(i: int) -> tuple:
        f = candidates[i].figures["all"]
        return (round(f["padding_mean"], 9), -f["first_holds_gold"], -texts[i], i)

    return min(eligible, key=key), texts[best], se


def choose_policy(
    scorer: Scorer, scores: Scores, rule: str = "objective", trade_off=None, **options
) -> tuple[Policy, dict[str, dict]]:
    """The policy by `rule`: "objective" (`choose_by_objective`, with `options`) or "one_se"
    (RULES, `choose_one_se`; of `options` only max_padding applies); `trade_off`, a list,
    receives every candidate checked as rendered."""
    if rule == "one_se":
        return choose_one_se(scorer, scores, options.get("max_padding"), trade_off)
    return choose_by_objective(scorer, scores, **options, trade_off=trade_off)


def choose_one_se(
    scorer: Scorer,
    scores: Scores,
    max_padding: float | None = None,
    trade_off: list[Candidate] | None = None,
) -> tuple[Policy, dict[str, dict]]:
    """ONE_SE over the grid's out-of-fold answers (`one_standard_error`). Rendering takes
    a second a policy, so the grid is first cut by the same rule over the chosen units
    themselves: SHORTLIST policies, half the best by units holding gold, half the least
    padded of those within one standard error of that best. The shortlist is checked as
    rendered and the rule applied; then the chosen policy's ALONE_SHARE values, its
    CONTINUATION values and its GENERIC_TOP_UNITS values join the candidates, and the
    rule is applied again over all of them. With `max_padding`, candidates padding more
    are left out (unless all do)."""
    proxy = []
    for policy in _grid():
        proxy.append(Candidate(policy, *scorer.chosen_outcomes(scores, policy)))
    by_text = sorted(
        range(len(proxy)),
        key=lambda i: (-proxy[i].figures["all"]["text_holds_gold"], proxy[i].policy.max_units),
    )
    _, best, se = one_standard_error(proxy)
    lean = sorted(
        (i for i, c in enumerate(proxy) if c.figures["all"]["text_holds_gold"] >= best - se),
        key=lambda i: proxy[i].figures["all"]["padding_mean"],
    )
    shortlist = list(dict.fromkeys(by_text[: SHORTLIST // 2] + lean))[:SHORTLIST]
    checked: list[Candidate] = []

    def check(policy: Policy) -> None:
        if all(c.policy != policy for c in checked):
            checked.append(Candidate(policy, *scorer.answer_outcomes(scores, policy)))

    def chosen() -> Candidate:
        pool = [
            c
            for c in checked
            if max_padding is None or c.figures["all"]["padding_mean"] <= max_padding
        ] or checked
        return pool[one_standard_error(pool)[0]]

    for i in shortlist:
        check(proxy[i].policy)
    for share in ALONE_SHARE[1:]:
        check(replace(chosen().policy, alone_share=share))
    for words in CONTINUATION[1:]:
        check(replace(chosen().policy, continuation=words))
    for units in GENERIC_TOP_UNITS[1:]:
        check(replace(chosen().policy, generic_top_units=units))
    if trade_off is not None:
        trade_off[:] = checked
    final = chosen()
    return final.policy, final.figures


def print_trade_off(candidates: Sequence[Candidate], policy: Policy) -> None:
    """Every policy checked as rendered, least padded first: what the rule gave up."""
    index, best, se = one_standard_error(candidates)
    print(
        f"trade-off (out of fold, all questions; best text {best:.3f}, one standard error "
        f"{se:.3f}; + within it, the one_se rule's eligible; * chosen):"
    )
    print("    text  first  padding  | bundled text first padding | papers text padding | policy")
    for c in sorted(candidates, key=lambda c: c.figures["all"]["padding_mean"]):
        a, b, p = (c.figures.get(k, {}) for k in ("all", BUNDLED, PAPERS))
        mark = "*" if c.policy == policy else ("+" if a["text_holds_gold"] >= best - se else " ")
        print(
            f"  {mark} {a['text_holds_gold']:.3f} {a['first_holds_gold']:.3f} "
            f"{a['padding_mean']:.3f}    | {b.get('text_holds_gold', 0):.3f} "
            f"{b.get('first_holds_gold', 0):.3f} {b.get('padding_mean', 0):.3f}        | "
            f"{p.get('text_holds_gold', 0):.3f} {p.get('padding_mean', 0):.3f}       | "
            f"m{c.policy.margin} r{c.policy.ratio} f{c.policy.floor} u{c.policy.max_units} "
            f"a{c.policy.alone} s{c.policy.alone_share} t{c.policy.top_units} "
            f"c{c.policy.continuation} g{c.policy.generic_top_units}"
        )


def choose_by_objective(
    scorer: Scorer,
    scores: Scores,
    padding_cost: float = PADDING_COST,
    bounded: bool = False,
    max_padding: float | None = None,
    trade_off: list[Candidate] | None = None,
) -> tuple[Policy, dict[str, dict]]:
    """The policy of the grid whose out-of-fold answers score best on OBJECTIVE; with
    `bounded`, among those padding no more than the top passage does (`within_padding`),
    with `max_padding` no more than that many sentences per answer, or if none does, the
    least padded. Checking rendered answers takes a second a
    policy, so the grid is first cut to SHORTLIST policies by the same objective and
    bound over the chosen units themselves (a unit holds gold, the lead holds gold, units
    holding none), then the shortlist is checked as rendered."""
    bound = scorer.top_passage()["all"]["padding_mean"] if bounded else float("inf")
    if max_padding is not None:
        bound = min(bound, max_padding)
    grid = []
    for policy in _grid():
        # Ties go to fewer units, then to the top passage keeping the lead more often.
        figures = scorer.chosen(scores, policy)["all"]
        key = (
            within_padding(figures, bound),
            objective(figures, padding_cost),
            -policy.max_units,
            -policy.top_units,
            policy.margin,
        )
        grid.append((key, policy))
    grid.sort(key=lambda g: g[0], reverse=True)
    best = None

    def consider(policy: Policy) -> None:
        nonlocal best
        figures, text = scorer.answer_outcomes(scores, policy)
        if trade_off is not None:
            trade_off.append(Candidate(policy, figures, text))
        key = (
            within_padding(figures["all"], bound),
            round(objective(figures["all"], padding_cost), 9),
            -policy.max_units,
            -policy.top_units,
            policy.margin,
            -policy.alone_share,
            -policy.continuation,
            -policy.generic_top_units,
        )
        if best is None or key > best[0]:
            best = (key, policy, figures)

    for _, policy in grid[:SHORTLIST]:
        consider(policy)
    assert best is not None
    for share in ALONE_SHARE[1:]:
        consider(replace(best[1], alone_share=share))
    assert best is not None
    for words in CONTINUATION[1:]:
        consider(replace(best[1], continuation=words))
    assert best is not None
    for units in GENERIC_TOP_UNITS[1:]:
        consider(replace(best[1], generic_top_units=units))
    assert best is not None
    return best[1], best[2]


def within_padding(figures: dict[str, float], bound: float) -> float:
    """0 when the answers pad no more than `bound` (the top passage's padded sentences per
    answer), else minus the excess. An answer is never to be worse than the top passage,
    in filler as in evidence: more sentences that hold no gold would buy what little
    gold they hold at the reader's cost."""
    return min(0.0, bound - figures["padding_mean"])
