"""Out-of-fold unit scores: the unit models fitted per fold of the fitting questions
(eval.questions.folds), each question scored by the fold that held it out."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from statistics import fmean

import numpy as np

from peerqa.answer.evidence import FEATURES
from peerqa.answer.selector import from_dict
from peerqa.eval.fit_answer.examples import Example
from peerqa.eval.fit_answer.policies import _policy
from peerqa.eval.fit_answer.scoring import Scores
from peerqa.eval.fit_answer.unit_models import SEED, fit, matrix
from peerqa.eval.questions import folds


def cross_validate(
    examples: list[Example],
    k: int,
    features: Sequence[str] = FEATURES,
    lead: bool = True,
    model: str = "trees",
) -> tuple[list[np.ndarray], dict]:
    """Out-of-fold unit scores, P and lead (eval.questions.folds: stratified by category,
    a question's units in one fold; without `lead`, units lead by P as before the lead
    model), the unit AUC of each fold and how often the best lead holds gold."""
    from sklearn.metrics import roc_auc_score

    x, y, groups = matrix(examples, features)
    position = {ex.id: i for i, ex in enumerate(examples)}
    oof = np.zeros((len(y), 2))
    aucs = []
    for fold in folds(k, SEED, [ex.item for ex in examples]):
        held_out = [position[q.id] for q in fold.validate]
        train = ~np.isin(groups, held_out)
        fitted = fit(x[train], y[train], groups[train], features, model)
        if not lead:
            fitted["lead"] = None
            fitted.pop("trees", None)
        fold_selector = from_dict({**fitted, "policy": _policy(0, 0.5, 0.1, 3, 1.0).__dict__})
        oof[~train, 0] = fold_selector.predict(x[~train])
        oof[~train, 1] = fold_selector.predict_lead(x[~train])
        if len(set(y[~train])) == 2:
            aucs.append(float(roc_auc_score(y[~train], oof[~train, 0])))
    scores, at = [], 0
    for ex in examples:
        scores.append(oof[at : at + len(ex.units)])
        at += len(ex.units)
    starts = _starts(scores)
    led = [bool(y[at + int(np.argmax(s[:, 1]))]) for at, s in zip(starts, scores, strict=True)]
    cv = {"unit_auc_mean": fmean(aucs), "unit_auc_by_fold": aucs, "lead_holds": fmean(led)}
    return scores, cv


def _starts(scores: Scores) -> list[int]:
    return list(itertools.accumulate((len(s) for s in scores), initial=0))[:-1]
