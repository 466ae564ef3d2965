"""Fit the decline decision (answer/decline.py) and report how well it does.

    python -m peerqa.eval.fit_decline                  # intent, then thresholds (needs an index)
    python -m peerqa.eval.fit_decline --intent-only
    PEERQA_DATA_DIR=/path/to/store python -m peerqa.eval.fit_decline --thresholds-only

1. Intent (answer/intent.py): logistic regression over sentence vector + lexical features
   on the "train" rows of eval/train/intent.jsonl (questions written for this, kept apart
   from eval/questions.jsonl), each also seen with one typing slip. The regularisation
   strength is chosen by grouped, stratified 5-fold cross-validation (a question and its
   slip share a fold); the probability of "evidence" under which a question is declined
   is fitted on the out-of-fold probabilities (most declines with at most MAX_WRONGLY of
   evidence questions declined). The "holdout" rows are scored once, never fitted on.
   Writes answer/data/intent.json.
2. Thresholds: leaning, support, unknown-name support and the support at which an
   off-topic label yields to evidence, on the non-test questions of
   eval/questions.jsonl (the test split is never read). How much of the wrongly-declined
   budget a fit may spend in-sample, and where in a run of equal cut-offs it lands, are
   chosen by repeated 5-fold cross-validation with the budget applied out of fold (at most
   MAX_WRONGLY_SUPPORT of in-scope questions declined out of fold, MAX_WRONGLY_FOLD in any
   fold): an in-sample budget over-fits the sparse tail of in-scope support. Writes
   answer/data/support.json, keyed to model and corpus, with the out-of-fold
   wrongly-declined and missed-decline rates of every setting tried.

Cost: each question is understood, retrieved and read by `verdict` once; every fit of
the grid, fold and repeat then sweeps its cut-offs over those readings as numpy arrays
(`Decisions`), so the repeated cross-validation costs seconds, not the half hour that
`verdict` on every question at every cut-off took.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from peerqa.answer.decline import SUPPORT_ARTEFACT, Signals, Thresholds, signals, verdict
from peerqa.answer.intent import (
    ARTEFACT,
    CLASSES,
    ELSEWHERE,
    EVIDENCE,
    OFF_TOPIC,
    SAFETY,
    WORD_LISTS,
    IntentModel,
    elsewhere_rule,
    features,
    intent_text,
    lexical_names,
    safety_rule,
    sense_rule,
    word_lists,
)
from peerqa.config import PACKAGE_DIR, REPO_ROOT

TRAINING = PACKAGE_DIR / "eval" / "train" / "intent.jsonl"
FOLDS = 5
SEED = 13
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)
# How much more the lexical features count than one embedding dimension (one penalty C
# shrinks ~30 word-list features as much as 384 dimensions), chosen by CV with C.
LEXICAL_WEIGHTS = (1.0, 3.0)
MAX_WRONGLY = 0.01  # evidence questions declined by each intent cut-off, at most (CV)
MAX_WRONGLY_SUPPORT = 0.01  # in-scope curated questions declined out of fold, at most
BUDGETS = (0.0, 0.005, 0.01)  # in-sample wrongly-declined budgets a threshold fit may spend
POSITIONS = (0.5, 0.25)  # where in a run of equally good cut-offs a threshold lands
OFF_TOPIC_POSITIONS = (0.25, 0.1)  # …and the off-topic yield threshold
REPEATS = 3  # shuffles of the threshold cross-validation
MAX_WRONGLY_FOLD = 0.035  # …and in any one fold at most this (two of its ~65 in-scope)
TOP_K = 8  # what the answer layer retrieves


# -- training data -----------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    id: str
    text: str
    label: str
    split: str  # "train" or "holdout"


def load_rows(path: Path = TRAINING) -> list[Row]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Row(**json.loads(line)) for line in lines if line.strip()]


def slip(text: str, rng: random.Random) -> str:
    """One typing slip in a word of 5+ letters: a letter dropped, doubled or swapped."""
    words = text.split(" ")
    long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long:
        return text.lower()
    i = rng.choice(long)
    w, j = words[i], rng.randrange(1, len(words[i]) - 1)
    words[i] = rng.choice(
        [w[:j] + w[j + 1 :], w[:j] + w[j] + w[j:], w[: j - 1] + w[j] + w[j - 1] + w[j + 1 :]]
    )
    return " ".join(words)


def _embedder() -> Callable[[str], np.ndarray]:
    from peerqa.embedding import load_embedding

    model = load_embedding()
    return lambda text: np.asarray(model.get_query_embedding(text))


def model_name() -> str:
    from peerqa.config import get_settings

    return get_settings().resolved_model_path().name


def sha256(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for p in paths:
        digest.update(p.read_bytes())
    return digest.hexdigest()[:16]


# -- intent ------------------------------------------------------------------------------
def fit_model(x: np.ndarray, y: Sequence[str], c: float, weight: float = 1.0) -> IntentModel:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    # Standardised lexical columns scaled up by `weight`: folded into the stored scale, so
    # applying the model (intent.py) is unchanged.
    scale[x.shape[1] - len(lexical_names()) :] /= weight
    clf = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    clf.fit((x - mean) / scale, list(y))
    order = [list(clf.classes_).index(k) for k in CLASSES]
    return IntentModel(
        classes=CLASSES,
        mean=mean,
        scale=scale,
        coef=clf.coef_[order],
        intercept=clf.intercept_[order],
        safety_at=0.5,
        elsewhere_at=0.5,
        embedding_model="",
    )


def _folds(y: Sequence[str], groups: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedGroupKFold

    cv = StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    return list(cv.split(np.zeros(len(y)), y, groups))


def out_of_fold(
    x: np.ndarray, y: Sequence[str], groups: Sequence[str], c: float, weight: float = 1.0
) -> np.ndarray:
    """[rows, classes] probabilities, each row from the model that did not see it."""
    p = np.zeros((len(y), len(CLASSES)))
    for train, held in _folds(y, groups):
        model = fit_model(x[train], [y[i] for i in train], c, weight)
        for i in held:
            p[i] = _probabilities(model, x[i])
    return p


def _probabilities(model: IntentModel, x: np.ndarray) -> np.ndarray:
    logits = model.coef @ ((x - model.mean) / model.scale) + model.intercept
    e = np.exp(logits - logits.max())
    return e / e.sum()


def log_loss(p: np.ndarray, y: Sequence[str]) -> float:
    """Mean negative log probability of the right class: C is chosen on it, so the
    probabilities the cut-offs read are calibrated, not just well ranked."""
    rows = np.arange(len(y))
    return float(-np.log(np.clip(p[rows, [CLASSES.index(k) for k in y]], 1e-12, 1)).mean())


def fit_cut(score: np.ndarray, target: np.ndarray, evidence: np.ndarray) -> float:
    """The cut-off on `score` (a group's summed probability) that the most `target` rows
    reach while at most MAX_WRONGLY of the `evidence` rows do: the middle of the widest
    such interval between observed scores."""
    edges = [0.0, *sorted(set(np.round(score, 6))), 1.0]
    best: tuple[tuple[float, float], float] | None = None
    for low, high in zip(edges, edges[1:], strict=False):
        cut = (low + high) / 2
        if (score[evidence] >= cut).mean() > MAX_WRONGLY:
            continue
        key = ((score[target] >= cut).mean(), high - low)
        if best is None or key > best[0]:
            best = (key, cut)
    assert best is not None
    return round(best[1], 4)


def fit_cuts(p: np.ndarray, y: Sequence[str]) -> tuple[float, float]:
    """(safety_at, elsewhere_at) from out-of-fold probabilities (columns in CLASSES order)."""
    labels = np.asarray(y)
    evidence = labels == EVIDENCE
    cuts = []
    for group in (SAFETY, ELSEWHERE):
        columns = [CLASSES.index(k) for k in group]
        cuts.append(fit_cut(p[:, columns].sum(axis=1), np.isin(labels, group), evidence))
    return cuts[0], cuts[1]


def labels_of(
    p: np.ndarray, cuts: tuple[float, float], rules: Sequence[tuple[bool, bool, bool]]
) -> list[str]:
    """Labels from out-of-fold probabilities and each row's (safety, sense, elsewhere) rules."""
    model = IntentModel(CLASSES, *(np.zeros(1),) * 4, *cuts, embedding_model="")
    return [model.decide(row, *rule).label for row, rule in zip(p, rules, strict=True)]


def intent_report(y: Sequence[str], predicted: Sequence[str]) -> dict:
    """Per class: n and share labelled right; declines: share of should-decline declined
    (overall and per class), evidence wrongly declined, safety vs not-covered right."""
    y, predicted = list(y), list(predicted)
    per_class = {}
    for k in CLASSES:
        idx = [i for i, v in enumerate(y) if v == k]
        if idx:
            right = sum(predicted[i] == k for i in idx) / len(idx)
            declined = sum(predicted[i] != EVIDENCE for i in idx) / len(idx)
            per_class[k] = {"n": len(idx), "right": round(right, 3), "declined": round(declined, 3)}
    decline = [i for i, v in enumerate(y) if v != EVIDENCE]
    evidence = [i for i, v in enumerate(y) if v == EVIDENCE]
    safety = {"medical_advice", "clinical_fact"}
    code_right = [
        (y[i] in safety) == (predicted[i] in safety) for i in decline if predicted[i] != EVIDENCE
    ]
    return {
        "accuracy": round(sum(a == b for a, b in zip(y, predicted, strict=True)) / len(y), 3),
        "should_decline_declined": round(
            sum(predicted[i] != EVIDENCE for i in decline) / max(len(decline), 1), 3
        ),
        "evidence_wrongly_declined": round(
            sum(predicted[i] != EVIDENCE for i in evidence) / max(len(evidence), 1), 3
        ),
        "reason_code_right": round(sum(code_right) / max(len(code_right), 1), 3),
        "per_class": per_class,
    }


def fit_intent(embed: Callable[[str], np.ndarray]) -> dict:
    # One BLAS thread: the products here are small (a query's token vectors, a fold's
    # logistic regression), and OpenBLAS's pool on shared busy cores spends far more time
    # waking its threads than computing (one fold's fit: 45 s on the pool, 2 s on one
    # thread, at load 20 on the 2-core machine).
    with threadpool_limits(1, user_api="blas"):
        return _fit_intent(embed)


def _fit_intent(embed: Callable[[str], np.ndarray]) -> dict:
    rows = load_rows()
    train = [r for r in rows if r.split == "train"]
    holdout = [r for r in rows if r.split == "holdout"]
    rng = random.Random(SEED)
    texts, y, groups = [], [], []
    for r in train:
        for text in (r.text, slip(r.text, rng)):
            texts.append(text)
            y.append(r.label)
            groups.append(r.id)
    x = np.stack([features(t, embed(intent_text(t))) for t in texts])
    rules = [(safety_rule(t), sense_rule(t), elsewhere_rule(t)) for t in texts]

    print(f"intent: {len(train)} training questions (+ one slip each), {len(holdout)} held out")
    tried = {}
    for c, weight in product(C_GRID, LEXICAL_WEIGHTS):
        p = out_of_fold(x, y, groups, c, weight)
        cuts = fit_cuts(p, y)
        report = intent_report(y, labels_of(p, cuts, rules))
        loss = log_loss(p, y)
        report["log_loss"] = round(loss, 4)
        tried[c, weight] = (-loss, report["should_decline_declined"], cuts, report)
        print(
            f"  C={c} lexical x{weight}: {FOLDS}-fold CV log loss {loss:.4f}, {_line(report)} "
            f"(safety at {cuts[0]}, elsewhere at {cuts[1]})"
        )
    c, weight = max(tried, key=lambda k: tried[k][:2])
    _, _, cuts, cv_report = tried[c, weight]
    model = fit_model(x, y, c, weight)
    model = IntentModel(
        **{
            **model.__dict__,
            "safety_at": cuts[0],
            "elsewhere_at": cuts[1],
            "embedding_model": model_name(),
        }
    )
    held = [model.classify(r.text, embed(intent_text(r.text))).label for r in holdout]
    holdout_report = intent_report([r.label for r in holdout], held)
    print(f"  chosen C={c}, lexical x{weight}; holdout {_line(holdout_report)}")
    for r, label in zip(holdout, held, strict=True):
        if (label == EVIDENCE) != (r.label == EVIDENCE):
            print(f"    holdout miss: {r.id} {r.label} -> {label}: {r.text}")
    artefact = {
        "version": 1,
        "fitted_by": "python -m peerqa.eval.fit_decline",
        "training": {"path": "eval/train/intent.jsonl", "sha256": sha256([TRAINING])},
        "word_lists_sha256": sha256(list(WORD_LISTS)),
        "features": f"{x.shape[1] - len(lexical_names())} embedding dims + lexical",
        "C": c,
        "lexical_weight": weight,
        "cv": {"folds": FOLDS, "grouped_by": "question (with its slip)", **cv_report},
        "holdout": holdout_report,
        "model": model.to_json(),
    }
    ARTEFACT.write_text(json.dumps(artefact, indent=1) + "\n", encoding="utf-8")
    print(f"  wrote {ARTEFACT.relative_to(REPO_ROOT)}")
    return artefact


def _line(r: dict) -> str:
    per = " ".join(f"{k} {v['declined']:.2f}" for k, v in r["per_class"].items() if k != EVIDENCE)
    return (
        f"accuracy {r['accuracy']:.3f}, should-decline declined {r['should_decline_declined']:.3f} "
        f"({per}), evidence wrongly declined {r['evidence_wrongly_declined']:.3f}, "
        f"reason code right {r['reason_code_right']:.3f}"
    )


# -- thresholds on the curated set's non-test questions ----------------------------------
@dataclass(frozen=True)
class Observation:
    id: str
    category: str
    in_scope: bool
    question: str
    signals: Signals


def observe(index, questions) -> list[Observation]:
    """Each question read as the answer layer reads it (answer.question.understand) and
    retrieved with that reading."""
    from peerqa.answer.question import understand
    from peerqa.eval.fit_ranker import out_of_fold

    # Each question retrieved by a ranker not fitted on it (the served one is, in-sample).
    left_out = out_of_fold(index.embed_model.token_space)
    out = []
    for item in questions:
        q = understand(index, item.question, item.history)
        with index.ranked_by(left_out[item.id]) if item.id in left_out else nullcontext():
            results = index.search(q.resolved, top_k=TOP_K, encoding=q.encoding)
        out.append(
            Observation(
                item.id, item.category, item.in_scope, item.question, signals(q, results, index)
            )
        )
    return out


@dataclass(frozen=True)
class Point:
    in_scope: int
    wrongly: int
    should_decline: int
    declined: int

    def __str__(self) -> str:
        return (
            f"should-decline declined {self.declined}/{self.should_decline}, "
            f"in-scope wrongly declined {self.wrongly}/{self.in_scope}"
        )


def point(observations: Sequence[Observation], index, t: Thresholds) -> Point:
    declined = [verdict(o.question, o.signals, index, t) is not None for o in observations]
    return Point(
        in_scope=sum(o.in_scope for o in observations),
        wrongly=sum(d for d, o in zip(declined, observations, strict=True) if o.in_scope),
        should_decline=sum(not o.in_scope for o in observations),
        declined=sum(d for d, o in zip(declined, observations, strict=True) if not o.in_scope),
    )


# -- the decision as arrays: what a threshold sweep reads -------------------------------
# A fit tries every observed support as a cut-off, thousands of Thresholds per fit and
# hundreds of fits per run: `verdict` (word-list searches, reason sentences) on every
# question at every one is what made the fit slow. Each question's verdict depends on the
# thresholds only through four comparisons, so it is read once into `Terms` and every
# sweep is a numpy comparison. `Decisions.check` holds the arrays to `verdict` itself.
_LOWEST = Thresholds(-np.inf, -np.inf, -np.inf, -np.inf)


@dataclass(frozen=True)
class Terms:
    """What `verdict` compares with the thresholds, for one question (NaN: no comparison)."""

    always: bool  # declined whatever the thresholds (a rule, a label, nothing retrieved)
    yields: float  # an off-topic label declines below Thresholds.off_topic_yields_at
    caveat: bool  # answered with its caveat once past the off-topic label: no support test
    leaning: float  # declined below leaning_support_below (the model leans to declining)
    support: float  # declined below support_below
    unknown: bool  # …and below unknown_name_support_below (a name the evidence lacks)


def terms(o: Observation, index) -> Terms:
    """The question's `Terms`, in the order `verdict` reads its signals."""
    s, label, leaning = o.signals, o.signals.intent.label, o.signals.intent.leaning
    topical = s.off_topic_support
    caveat = bool(
        s.caveat and (leaning == EVIDENCE or word_lists().peer_support.search(o.question))
    )
    return Terms(
        always=verdict(o.question, s, index, _LOWEST) is not None,
        yields=topical if label == OFF_TOPIC and topical is not None and not s.unknown else np.nan,
        caveat=caveat,
        leaning=((topical if leaning == OFF_TOPIC else s.support) or 0.0)
        if leaning != EVIDENCE
        else np.nan,
        support=np.nan if s.support is None else s.support,
        unknown=bool(s.unknown),
    )


class Decisions:
    """The observations' `Terms` as arrays: which are declined under many Thresholds at once."""

    def __init__(self, observations: Sequence[Observation], index):
        rows = [terms(o, index) for o in observations]
        column = {f: np.array([getattr(r, f) for r in rows]) for f in Terms.__dataclass_fields__}
        self.always, self.yields, self.caveat = column["always"], column["yields"], column["caveat"]
        self.leaning, self.support, self.unknown = (
            column["leaning"],
            column["support"],
            column["unknown"],
        )
        self.in_scope = np.array([o.in_scope for o in observations], dtype=bool)
        self.observations = observations

    def take(self, rows: np.ndarray) -> Decisions:
        taken = copy.copy(self)
        for name, value in self.__dict__.items():
            if isinstance(value, np.ndarray):
                setattr(taken, name, value[rows])
        taken.observations = [self.observations[i] for i in rows]
        return taken

    def declined(
        self,
        support: np.ndarray | float,
        leaning: np.ndarray | float,
        name: np.ndarray | float,
        off_topic: np.ndarray | float | None = None,
    ) -> np.ndarray:
        """[cut-offs, questions] declined, one row per threshold setting (the arguments
        broadcast as Thresholds' fields; off_topic None: the leaning threshold)."""
        support, leaning, name = (np.reshape(v, (-1, 1)) for v in (support, leaning, name))
        yields = leaning
        if off_topic is not None:
            yields = np.maximum(np.reshape(off_topic, (-1, 1)), leaning)
        with np.errstate(invalid="ignore"):  # NaN compares False: no such comparison
            tested = (
                (self.leaning < leaning)
                | (self.support < support)
                | (self.unknown & (self.support < name))
            )
            return self.always | (self.yields < yields) | (~self.caveat & tested)

    def points(self, declined: np.ndarray) -> list[Point]:
        in_scope, should = int(self.in_scope.sum()), int((~self.in_scope).sum())
        wrongly = (declined & self.in_scope).sum(axis=1)
        right = (declined & ~self.in_scope).sum(axis=1)
        return [
            Point(in_scope, int(w), should, int(d)) for w, d in zip(wrongly, right, strict=True)
        ]

    def point(self, t: Thresholds) -> Point:
        return self.points(self.under(t))[0]

    def under(self, t: Thresholds) -> np.ndarray:
        """[1, questions] declined under `t`."""
        return self.declined(
            t.support_below,
            t.leaning_support_below,
            t.unknown_name_support_below,
            t.off_topic_support_below,
        )

    def check(self, index, t: Thresholds) -> None:
        """The arrays decline exactly the questions `verdict` declines under `t` (else
        `verdict` changed how it reads the thresholds, and `terms` must follow)."""
        for o, d in zip(self.observations, self.under(t)[0], strict=True):
            if (verdict(o.question, o.signals, index, t) is not None) != bool(d):
                raise RuntimeError(f"fit_decline.terms disagrees with verdict on {o.id} at {t}")


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


def corpus_key() -> dict[str, str]:
    key = {}
    for path in sorted((PACKAGE_DIR / "corpus").glob("*.provenance.json")):
        key[path.name.removesuffix(".provenance.json")] = json.loads(path.read_text())["sha256"]
    return key


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--intent-only", action="store_true")
    parser.add_argument("--thresholds-only", action="store_true")
    args = parser.parse_args()
    embed = _embedder()
    if not args.thresholds_only:
        fit_intent(embed)
        from peerqa.answer.intent import load_intent_model

        load_intent_model.cache_clear()
    if not args.intent_only:
        fit_support()


if __name__ == "__main__":
    main()
