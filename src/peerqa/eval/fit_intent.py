"""Fit the intent model (answer/intent.py): logistic regression over sentence vector +
lexical features on the "train" rows of eval/train/intent.jsonl (questions written for
this, kept apart from eval/questions.jsonl), each also seen with one typing slip. The
regularisation strength is chosen by grouped, stratified 5-fold cross-validation (a
question and its slip share a fold); the probability of "evidence" under which a question
is declined is fitted on the out-of-fold probabilities (most declines with at most
MAX_WRONGLY of evidence questions declined). The "holdout" rows are scored once, never
fitted on. Writes answer/data/intent.json. Run by `python -m peerqa.eval.fit_decline`."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from peerqa.answer.coverage import LEXICONS
from peerqa.answer.coverage import NAMES as COVERAGE_NAMES
from peerqa.answer.intent import (
    ARTEFACT,
    CLASSES,
    ELSEWHERE,
    EVIDENCE,
    SAFETY,
    WORD_LISTS,
    IntentModel,
    elsewhere_rule,
    features,
    intent_text,
    lexical_names,
    safety_rule,
    sense_rule,
)
from peerqa.config import PACKAGE_DIR, REPO_ROOT
from peerqa.eval.artefact_keys import corpus_key, model_name, sha256

TRAINING = PACKAGE_DIR / "eval" / "train" / "intent.jsonl"
FOLDS = 5
SEED = 13
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)
# How much more the lexical features count than one embedding dimension (one penalty C
# shrinks ~30 word-list features as much as 384 dimensions), chosen by CV with C.
LEXICAL_WEIGHTS = (1.0, 3.0)
# …and how much more again the coverage features (answer/coverage.py), chosen with them:
# three numbers of how much of the question the evidence knows, beside ~30 word lists.
COVERAGE_WEIGHTS = (1.0, 3.0)
MAX_WRONGLY = 0.01  # evidence questions declined by each intent cut-off, at most (CV)


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


# -- intent ------------------------------------------------------------------------------
def fit_model(
    x: np.ndarray, y: Sequence[str], c: float, weight: float = 1.0, coverage: float = 1.0
) -> IntentModel:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    # Standardised lexical columns scaled up by `weight`: folded into the stored scale, so
    # applying the model (intent.py) is unchanged.
    scale[x.shape[1] - len(lexical_names()) :] /= weight
    scale[x.shape[1] - len(COVERAGE_NAMES) :] /= coverage
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
    x: np.ndarray,
    y: Sequence[str],
    groups: Sequence[str],
    c: float,
    weight: float = 1.0,
    coverage: float = 1.0,
) -> np.ndarray:
    """[rows, classes] probabilities, each row from the model that did not see it."""
    p = np.zeros((len(y), len(CLASSES)))
    for train, held in _folds(y, groups):
        model = fit_model(x[train], [y[i] for i in train], c, weight, coverage)
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


def fit_intent(embed: Callable[[str], np.ndarray], covered: Callable[[str], np.ndarray]) -> dict:
    """`covered`: a text's coverage features against the evidence the model will serve
    (answer.coverage.Coverage.features of the bundled corpus's index)."""
    # One BLAS thread: the products here are small (a query's token vectors, a fold's
    # logistic regression), and OpenBLAS's pool on shared busy cores spends far more time
    # waking its threads than computing (one fold's fit: 45 s on the pool, 2 s on one
    # thread, at load 20 on the 2-core machine).
    with threadpool_limits(1, user_api="blas"):
        return _fit_intent(embed, covered)


def _fit_intent(embed: Callable[[str], np.ndarray], covered: Callable[[str], np.ndarray]) -> dict:
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
    x = np.stack([features(t, embed(intent_text(t)), covered(t)) for t in texts])
    rules = [(safety_rule(t), sense_rule(t), elsewhere_rule(t)) for t in texts]

    print(f"intent: {len(train)} training questions (+ one slip each), {len(holdout)} held out")
    tried = {}
    for c, weight, coverage in product(C_GRID, LEXICAL_WEIGHTS, COVERAGE_WEIGHTS):
        p = out_of_fold(x, y, groups, c, weight, coverage)
        cuts = fit_cuts(p, y)
        report = intent_report(y, labels_of(p, cuts, rules))
        loss = log_loss(p, y)
        report["log_loss"] = round(loss, 4)
        tried[c, weight, coverage] = (-loss, report["should_decline_declined"], cuts, report)
        print(
            f"  C={c} lexical x{weight} coverage x{coverage}: {FOLDS}-fold CV log loss "
            f"{loss:.4f}, {_line(report)} "
            f"(safety at {cuts[0]}, elsewhere at {cuts[1]})"
        )
    c, weight, coverage = max(tried, key=lambda k: tried[k][:2])
    _, _, cuts, cv_report = tried[c, weight, coverage]
    model = fit_model(x, y, c, weight, coverage)
    model = IntentModel(
        **{
            **model.__dict__,
            "safety_at": cuts[0],
            "elsewhere_at": cuts[1],
            "embedding_model": model_name(),
        }
    )
    held = [
        model.classify(r.text, embed(intent_text(r.text)), covered(r.text)).label for r in holdout
    ]
    holdout_report = intent_report([r.label for r in holdout], held)
    print(
        f"  chosen C={c}, lexical x{weight}, coverage x{coverage}; holdout {_line(holdout_report)}"
    )
    for r, label in zip(holdout, held, strict=True):
        if (label == EVIDENCE) != (r.label == EVIDENCE):
            print(f"    holdout miss: {r.id} {r.label} -> {label}: {r.text}")
    artefact = {
        "version": 1,
        "fitted_by": "python -m peerqa.eval.fit_decline",
        "training": {"path": "eval/train/intent.jsonl", "sha256": sha256([TRAINING])},
        "word_lists_sha256": sha256(list(WORD_LISTS)),
        # The coverage features read the bundled corpus and the domain lexicons.
        "corpus": corpus_key(),
        "lexicons_sha256": sha256(list(LEXICONS)),
        "features": f"{x.shape[1] - len(lexical_names())} embedding dims + lexical",
        "C": c,
        "lexical_weight": weight,
        "coverage_weight": coverage,
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
