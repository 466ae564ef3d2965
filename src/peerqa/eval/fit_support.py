"""Fit the decline thresholds (answer/decline.py): leaning, support, unknown-name support
and the support at which an off-topic label yields to evidence, on the non-test questions
of eval/questions.jsonl (the test split is never read). How much of the wrongly-declined
budget a fit may spend in-sample, and where in a run of equal cut-offs it lands, are
chosen by repeated 5-fold cross-validation with the budget applied out of fold (at most
MAX_WRONGLY_SUPPORT of in-scope questions declined out of fold, MAX_WRONGLY_FOLD in any
fold): an in-sample budget over-fits the sparse tail of in-scope support. Writes
answer/data/support.json, keyed to model and corpus, with the out-of-fold wrongly-declined
and missed-decline rates of every setting tried. Run by `python -m peerqa.eval.fit_decline`
(needs an index); the sweeps read `Decisions` (eval/decline_sweep.py)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np

from peerqa.answer.decline import SUPPORT_ARTEFACT, Thresholds, verdict
from peerqa.answer.intent import ARTEFACT, EVIDENCE, OFF_TOPIC
from peerqa.config import REPO_ROOT
from peerqa.eval.artefact_keys import corpus_key, model_name, sha256
from peerqa.eval.decline_sweep import TOP_K, Decisions, Observation, Point, observe, point

FOLDS = 5  # of the threshold cross-validation (the intent model's has its own)
MAX_WRONGLY_SUPPORT = 0.01  # in-scope curated questions declined out of fold, at most
BUDGETS = (0.0, 0.005, 0.01)  # in-sample wrongly-declined budgets a threshold fit may spend
POSITIONS = (0.5, 0.25)  # where in a run of equally good cut-offs a threshold lands
OFF_TOPIC_POSITIONS = (0.25, 0.1)  # …and the off-topic yield threshold
REPEATS = 3  # shuffles of the threshold cross-validation
MAX_WRONGLY_FOLD = 0.035  # …and in any one fold at most this (two of its ~65 in-scope)


@dataclass(frozen=True)
class Fitting:
    """How a threshold fit spends its wrongly-declined budget: `budget` is the share of
    in-scope questions it may decline in-sample, `position` where in the widest run of
    equally good cut-offs it lands (0.5 the middle; lower keeps more margin above the
    in-scope questions, the costly error). Both are chosen by cross-validation."""

    budget: float = MAX_WRONGLY_SUPPORT
    position: float = 0.5
    # The off-topic yield threshold's run is rarely bounded above (few in-scope questions
    # are labelled off-topic), so where in it the cut lands is chosen apart.
    off_topic_position: float = 0.25


def _best_interval(
    candidates: list[float], score: Callable[[float], Point], allowed: float, position: float
) -> float:
    """A cut-off in the widest run of cut-offs with the most declines and at most
    `allowed` in-scope questions declined (then fewest wrongly declined), `position` of
    the way up that run."""
    return _best_interval_of(
        candidates, lambda cuts: [score(float(v)) for v in cuts], allowed, position
    )


def _best_interval_of(
    candidates: Sequence[float],
    points: Callable[[np.ndarray], list[Point]],
    allowed: float,
    position: float,
) -> float:
    """`_best_interval` with every cut-off scored in one call (`points` maps the array of
    cut-offs to their Points: a `Decisions` sweep)."""
    edges = [0.0, *sorted(set(candidates)), 1.0]
    bounds = np.asarray(edges, dtype=float)
    scored = points((bounds[:-1] + bounds[1:]) / 2)  # each cut-off the middle of its gap
    runs: list[tuple[float, float, Point]] = []
    for low, high, p in zip(edges[:-1], edges[1:], scored, strict=True):
        if runs and runs[-1][2] == p:
            runs[-1] = (runs[-1][0], high, p)
        else:
            runs.append((low, high, p))
    feasible = [r for r in runs if r[2].wrongly <= allowed] or runs[:1]
    low, high, _ = max(feasible, key=lambda r: (r[2].declined, -r[2].wrongly, r[1] - r[0]))
    return round(low + position * (high - low), 3)


def fit_thresholds(
    observations: Sequence[Observation],
    index,
    how: Fitting = Fitting(),
    decisions: Decisions | None = None,
) -> Thresholds:
    """One threshold after another, each with the ones before it fixed: first for
    questions the intent model leans against, then support for every question, then for
    questions naming something the evidence never mentions, then the support at which an
    off-topic label yields to evidence. `decisions`: the observations' own, when the
    caller holds them already (cross-validation reads each question's terms once)."""
    d = decisions if decisions is not None else Decisions(observations, index)
    observations = d.observations
    # One budget for the whole decision: at most `how.budget` of in-scope questions
    # declined, the intent model's own declines included.
    alone = d.point(Thresholds(0.0, 0.0, 0.0))
    allowed = max(alone.wrongly, how.budget * alone.in_scope)
    # Leaning first: a question the intent model leans against needs little evidence to
    # be doubted, and what leaning declines no longer pushes the support threshold (which
    # every question, however plainly about peer support, must clear) upwards.
    leaning = [
        o.signals.support
        for o in observations
        if o.signals.support and o.signals.intent.leaning != EVIDENCE
    ]
    lean = _best_interval_of(
        leaning,
        lambda v: d.points(d.declined(0.0, v, 0.0)),
        allowed,
        how.position,
    )
    supports = [
        o.signals.support
        for o in observations
        if o.signals.support is not None and o.signals.support < lean
    ]
    support = _best_interval_of(
        supports,
        lambda v: d.points(d.declined(np.minimum(v, lean), lean, 0.0)),
        allowed,
        how.position,
    )
    support = min(support, lean)
    # A name the evidence never mentions is doubted no more than a question the intent
    # model leans against: users name where they are and what they use ("GP in Leeds
    # here", "do programmes use Zoom?"), and the fitting questions have few such names
    # to bound the threshold from above.
    named = [
        o.signals.support
        for o in observations
        if o.signals.unknown and o.signals.support and support < o.signals.support < lean
    ]
    name = _best_interval_of(
        [*named, lean],
        lambda v: d.points(d.declined(support, lean, np.minimum(np.maximum(v, support), lean))),
        allowed,
        how.position,
    )
    name = min(max(name, support), lean)
    # Last, how close evidence must be for an off-topic label to yield to it: never below
    # the leaning threshold (the label is the stronger doubt), only as far up as the
    # budget left allows.
    off_topic = [
        o.signals.support
        for o in observations
        if o.signals.support and o.signals.intent.label == OFF_TOPIC and o.signals.support > lean
    ]
    yields = _best_interval_of(
        [*off_topic, lean],
        lambda v: d.points(d.declined(support, lean, name, np.maximum(v, lean))),
        allowed,
        how.off_topic_position,
    )
    return Thresholds(support, lean, name, max(yields, lean))


@dataclass(frozen=True)
class OutOfFold:
    """Thresholds fitted on the other folds, judged on each fold, over REPEATS shuffles."""

    total: Point
    worst_fold_wrongly: float  # the highest share of a fold's in-scope questions declined
    by_category: dict[str, dict[str, int]]

    @property
    def wrongly_rate(self) -> float:
        return self.total.wrongly / max(self.total.in_scope, 1)

    @property
    def declined_rate(self) -> float:
        return self.total.declined / max(self.total.should_decline, 1)

    def summary(self) -> dict:
        return {
            **self.total.__dict__,
            "wrongly_declined": round(self.wrongly_rate, 4),
            "missed_declines": round(1 - self.declined_rate, 4),
            "worst_fold_wrongly_declined": round(self.worst_fold_wrongly, 4),
            "by_category": self.by_category,
        }


def cross_validate_thresholds(
    observations: Sequence[Observation],
    index,
    how: Fitting = Fitting(),
    repeats: int = 1,
    decisions: Decisions | None = None,
) -> OutOfFold:
    """Each fold judged by thresholds fitted on the other folds: the totals, the worst
    fold, and per category how many were declined (a should-decline category must reach
    its target on its own, not only in the total). `decisions`: the observations' own,
    when the caller holds them already."""
    d = decisions if decisions is not None else Decisions(observations, index)
    total = Point(0, 0, 0, 0)
    worst = 0.0
    by_category: dict[str, Counter] = {}
    for held_rows, rest_rows in folds_of(observations, repeats):
        rest, held = d.take(rest_rows), d.take(held_rows)
        thresholds = fit_thresholds(rest.observations, index, how, rest)
        declined = held.under(thresholds)
        p = held.points(declined)[0]
        worst = max(worst, p.wrongly / max(p.in_scope, 1))
        total = Point(
            *(a + b for a, b in zip(total.__dict__.values(), p.__dict__.values(), strict=True))
        )
        for o, x in zip(held.observations, declined[0], strict=True):
            c = by_category.setdefault(o.category, Counter())
            c["n"] += 1
            c["declined"] += int(x)
    return OutOfFold(total, worst, {k: dict(v) for k, v in by_category.items()})


def folds_of(
    observations: Sequence[Observation], repeats: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(held rows, other rows) of every fold: each repeat shuffles the questions by a hash
    of the repeat and their id, and deals them into FOLDS folds in turn."""
    out = []
    for r in range(repeats):
        order = sorted(
            range(len(observations)),
            key=lambda i: hashlib.sha256(f"{r}:{observations[i].id}".encode()).hexdigest(),
        )
        for k in range(FOLDS):
            held = np.array(order[k::FOLDS], dtype=int)
            rest = np.array([o for i, o in enumerate(order) if i % FOLDS != k], dtype=int)
            out.append((held, rest))
    return out


def choose_fitting(
    observations: Sequence[Observation], index, decisions: Decisions | None = None
) -> tuple[Fitting, dict]:
    """The budget and position whose thresholds, fitted out of fold, decline the most
    should-decline questions while declining at most MAX_WRONGLY_SUPPORT of in-scope ones
    out of fold (and no fold more than MAX_WRONGLY_FOLD); ties go to the more cautious fit."""
    d = decisions if decisions is not None else Decisions(observations, index)
    tried = {}
    for budget, position, off_topic in product(BUDGETS, POSITIONS, OFF_TOPIC_POSITIONS):
        how = Fitting(budget, position, off_topic)
        tried[how] = cross_validate_thresholds(observations, index, how, REPEATS, d)
        o = tried[how]
        print(
            f"  budget {budget:.3f}, position {position}, off-topic position {off_topic}: "
            f"out of fold {o.total} "
            f"(wrongly {o.wrongly_rate:.4f}, worst fold {o.worst_fold_wrongly:.3f}, "
            f"missed declines {1 - o.declined_rate:.4f})"
        )
    safe = [
        h
        for h, o in tried.items()
        if o.wrongly_rate <= MAX_WRONGLY_SUPPORT and o.worst_fold_wrongly <= MAX_WRONGLY_FOLD
    ] or [min(tried, key=lambda h: tried[h].wrongly_rate)]
    chosen = max(
        safe,
        key=lambda h: (tried[h].declined_rate, -h.budget, -h.position, -h.off_topic_position),
    )
    grid = [{**h.__dict__, **o.summary()} for h, o in tried.items()]
    return chosen, {"grid": grid, "chosen": chosen.__dict__}


def fit_support() -> dict:
    from peerqa.config import get_settings
    from peerqa.eval.questions import QUESTIONS_PATH, fitting_questions
    from peerqa.retrieval.hybrid import LiveIndex

    index = LiveIndex(get_settings())
    index.require()
    questions = fitting_questions()  # never the test split
    observations = observe(index, questions)
    return write_support(observations, index, sha256([QUESTIONS_PATH]))


def write_support(observations: Sequence[Observation], index, questions_sha256: str) -> dict:
    print(f"thresholds: choosing the fit's budget by {REPEATS}x{FOLDS}-fold CV")
    decisions = Decisions(observations, index)
    how, choice = choose_fitting(observations, index, decisions)
    thresholds = fit_thresholds(observations, index, how, decisions)
    decisions.check(index, thresholds)
    fitted = point(observations, index, thresholds)
    print(f"  chosen {how}: {thresholds} on {len(observations)} non-test questions: {fitted}")
    cv = cross_validate_thresholds(observations, index, how, REPEATS, decisions)
    by_category: dict[str, Counter] = {}
    for o in observations:
        d = verdict(o.question, o.signals, index, thresholds)
        c = by_category.setdefault(o.category, Counter())
        c["n"] += 1
        c["declined"] += d is not None
        if (d is not None) == o.in_scope:
            print(
                f"    wrong: {o.id} ({o.category}, support {o.signals.support}): "
                f"{d.reason if d else 'answered'} <- {o.question}"
            )
    print(
        f"  {REPEATS}x{FOLDS}-fold CV of the fitting: {cv.total} (wrongly declined "
        f"{cv.wrongly_rate:.4f}, worst fold {cv.worst_fold_wrongly:.3f}); declined by "
        "category: " + ", ".join(f"{k} {v['declined']}/{v['n']}" for k, v in cv.by_category.items())
    )
    artefact = {
        "version": 1,
        "fitted_by": "python -m peerqa.eval.fit_decline",
        "embedding_model": model_name(),
        "corpus": corpus_key(),
        "intent_model_sha256": sha256([ARTEFACT]),
        "questions": {
            "path": "eval/questions.jsonl",
            "split": "not test",
            "sha256": questions_sha256,
            "n": len(observations),
        },
        "top_k": TOP_K,
        "thresholds": thresholds.__dict__,
        "fitted": fitted.__dict__,
        "fitting": choice,
        "cv": {"folds": FOLDS, "repeats": REPEATS, **cv.summary()},
        "by_category": {k: dict(v) for k, v in by_category.items()},
    }
    SUPPORT_ARTEFACT.write_text(json.dumps(artefact, indent=1) + "\n", encoding="utf-8")
    print(f"  wrote {SUPPORT_ARTEFACT.relative_to(REPO_ROOT)}")
    return artefact
