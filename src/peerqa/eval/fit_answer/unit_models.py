"""The selector's unit models, fitted on the examples' units: P(unit holds gold) and the
lead score, as LightGBM trees (stored complete for retrieval.ranker's numpy walk) or
linear (logistic regression and conditional logit); the artefact's JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from peerqa.answer.evidence import FEATURES
from peerqa.eval.fit_answer.examples import Example, holds

SEED = 13
C = 1.0
# The lead model's L2 penalty: by 5-fold CV of the best lead unit holding gold over
# 0.003-0.1 (weaker overfit the fitting questions' phrasings).
L2_LEAD = 0.03
# The selector's models: "trees" (boosted trees, `fit_trees`) or "linear".
MODELS = ("trees", "linear")
TREE_DEPTH = 4
OPEN = 1e300  # the threshold of a split that always goes left (a leaf above TREE_DEPTH)
# The trees' settings, chosen by 5-fold CV over the fitting questions (out-of-fold unit
# AUC for "include", the best lead unit holding gold for "lead") among a few depths,
# learning rates and subsamplings; lighter trees underfit, heavier regularised ones did
# no better.
INCLUDE_TREES = {
    "n_estimators": 300,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 40,
    "random_state": SEED,
}
LEAD_TREES = {
    "objective": "lambdarank",
    "n_estimators": 400,
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_child_samples": 40,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "random_state": SEED,
}
DIGITS = 8  # of the artefact's weights


def matrix(
    examples: Sequence[Example], features: Sequence[str] = FEATURES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    columns = [FEATURES.index(f) for f in features]
    rows, labels, groups = [], [], []
    for i, ex in enumerate(examples):
        for u in ex.units:
            rows.append(u.features[columns])
            labels.append(holds(u.span, ex.gold))
            groups.append(i)
    return np.stack(rows), np.asarray(labels, dtype=int), np.asarray(groups)


def fit(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    features: Sequence[str] = FEATURES,
    model: str = "trees",
) -> dict:
    """Both models on standardised features: P(unit holds gold) by logistic regression,
    and the lead model, a conditional logit: per question, a softmax over its units
    fitted to put the question's probability mass on its gold units, so it learns which
    unit of one question goes first, whatever the question's overall level. With `model`
    "trees" (MODELS), both also as boosted trees (`fit_trees`), which the selector then
    uses; the linear weights stay for its fallback."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    z = (x - scaler.mean_) / scale
    linear = LogisticRegression(C=C, class_weight="balanced", max_iter=2000)
    linear.fit(z, y)
    lead = fit_lead(z, y, groups)
    # Rounded: threaded BLAS sums differ in the last bits between runs, and the same
    # store must write the same artefact.
    fitted = {
        "features": list(features),
        "mean": _rounded(scaler.mean_),
        "scale": _rounded(scale),
        "coef": _rounded(linear.coef_[0]),
        "intercept": round(float(linear.intercept_[0]), DIGITS),
        "lead": _rounded(lead),
    }
    if model == "trees":
        fitted["trees"] = fit_trees(x, y, groups)
    return fitted


def fit_trees(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> dict[str, dict]:
    """The two models as LightGBM trees on the raw features (trees need no scaling):
    "include", binary with balanced classes, as the logistic regression; "lead",
    lambdarank over each question's units (a question's gold units above its others), so
    it learns which unit of one question answers rather than which is on topic. Each
    stored complete to TREE_DEPTH as retrieval.ranker.Ranker walks them."""
    import lightgbm

    # Questions in row order; lambdarank reads each question's rows as one run.
    order = np.argsort(groups, kind="stable")
    x, y, groups = x[order], y[order], groups[order]
    sizes = np.unique(groups, return_counts=True)[1]
    common = {"max_depth": TREE_DEPTH, "n_jobs": 1, "deterministic": True, "verbose": -1}
    include = lightgbm.LGBMClassifier(**INCLUDE_TREES, **common, class_weight="balanced")
    include.fit(x, y)
    lead = lightgbm.LGBMRanker(**LEAD_TREES, **common)
    lead.fit(x, y, group=sizes)
    return {"include": complete_lgbm(include), "lead": complete_lgbm(lead)}


def complete_lgbm(model) -> dict:
    """A LightGBM model's trees as retrieval.ranker.Ranker stores them: each complete to
    TREE_DEPTH (a leaf above it repeated below an always-left split), the raw score the
    sum of leaves (LightGBM folds its starting score into the first tree)."""
    size = 2**TREE_DEPTH - 1
    features, thresholds, leaves = [], [], []
    for info in model.booster_.dump_model()["tree_info"]:
        feature, threshold, leaf = [0] * size, [OPEN] * size, [0.0] * (size + 1)
        stack = [(info["tree_structure"], 0, 0)]  # node, position in the complete tree, depth
        while stack:
            node, at, depth = stack.pop()
            if depth == TREE_DEPTH:
                leaf[at - size] = round(float(node["leaf_value"]), DIGITS)
            elif "leaf_value" in node:
                stack += [(node, 2 * at + 1, depth + 1), (node, 2 * at + 2, depth + 1)]
            else:
                # LightGBM goes left when value <= threshold, the walk right when above.
                assert node["decision_type"] == "<="
                feature[at] = int(node["split_feature"])
                threshold[at] = float(node["threshold"])
                stack += [(node["left_child"], 2 * at + 1, depth + 1)]
                stack += [(node["right_child"], 2 * at + 2, depth + 1)]
        features.append(feature)
        thresholds.append(threshold)
        leaves.append(leaf)
    trees = {
        "depth": TREE_DEPTH,
        "feature": features,
        "threshold": thresholds,
        "leaf": leaves,
        "baseline": 0.0,
    }
    return trees


def fit_lead(z: np.ndarray, y: np.ndarray, groups: np.ndarray, l2: float = L2_LEAD) -> np.ndarray:
    """The lead model's weights w: for each question holding a gold unit, softmax(z @ w)
    over its units against the gold units' share (1/number of gold units each), mean
    cross-entropy over questions plus l2/2 |w|^2."""
    from scipy.optimize import minimize

    questions = [
        (z[m], y[m] / y[m].sum())
        for g in np.unique(groups)
        if y[m := np.flatnonzero(groups == g)].any()
    ]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros_like(w)
        for units, target in questions:
            logits = units @ w
            logits -= logits.max()
            p = np.exp(logits)
            p /= p.sum()
            total -= float(target @ np.log(p + 1e-12))
            grad += units.T @ (p - target)
        n = len(questions)
        return total / n + l2 * float(w @ w) / 2, grad / n + l2 * w

    return minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B").x


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), DIGITS) for v in values]


def dumps(artefact: dict) -> str:
    """The artefact as indented JSON, each stored tree on one line."""
    text = json.dumps({k: v for k, v in artefact.items() if k != "trees"}, indent=1)
    if not artefact.get("trees"):
        return text + "\n"

    def field(key: str, value) -> str:
        if not isinstance(value, list):
            return f"   {json.dumps(key)}: {json.dumps(value)}"
        rows = ",\n".join(f"    {json.dumps(row, separators=(',', ':'))}" for row in value)
        return f"   {json.dumps(key)}: [\n{rows}\n   ]"

    models = ",\n".join(
        f"  {json.dumps(name)}: {{\n" + ",\n".join(field(k, v) for k, v in stored.items()) + "\n  }"
        for name, stored in artefact["trees"].items()
    )
    return text[:-2] + f',\n "trees": {{\n{models}\n }}\n}}\n'
