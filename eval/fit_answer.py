"""Fit the answer layer's sentence selector on the non-test questions; report k-fold CV.

    PEERQA_DATA_DIR=/path/to/store python -m eval.fit_answer [--folds 5] [--final-check]

Data: every in-scope question of eval/questions.jsonl whose split is not "test" is
understood, retrieved and cut into units exactly as answer.compose does. A unit is
positive when its source span overlaps a gold snippet (by at least half of the shorter
of the two). Test-split questions are never read, except by --final-check, which only
reports the fitted artefact's figures on them after the fit is written.

Model: logistic regression (scikit-learn, standardised features, balanced classes) over
answer.evidence.FEATURES. Cross-validation: stratified k-fold over questions (a
question's units stay in one fold), reporting unit AUC and the answer-level figures of
out-of-fold scores: the answer's units hold gold, its first unit holds gold, units that
hold none, beside the baseline "the top search passage is the answer". The selection
policy (lead margin, ratio, floor, units) is chosen on those out-of-fold answers, then
the model is refitted on all non-test questions and written with the policy to
answer/models/selector.json, keyed to the embedding model and corpus.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean

import numpy as np

from answer.compose import DEFAULT_TOP_K, _profiles, choose, decline
from answer.evidence import FEATURES, Unit, build_units, with_theme_partners
from answer.question import Question, understand
from answer.selector import ARTEFACT, SCHEMA, Policy, corpus_key, from_dict, model_key
from answer.sentences import bank_for
from eval.questions import GoldSpan, fitting_questions, folds, gold_spans, load_split
from ingest.pipeline import parse_sources
from peerqa.config import Settings, get_settings
from retrieval.hybrid import LiveIndex

SEED = 13
C = 1.0
# Policies tried on the out-of-fold answers: a small grid, not constants per question.
MARGINS = (0.0, 0.05, 0.1, 0.2, 0.3)
RATIOS = (0.5, 0.65, 0.8, 0.9)
FLOORS = (0.1, 0.2, 0.3)
MAX_UNITS = (2, 3, 4)
PER_GROUP, THEME_BONUS = 2, 0.1
# Each unit an answer shows that holds no gold costs this much of a question answered.
PADDING_COST = 0.05


@dataclass
class Example:
    id: str
    item: object  # the eval question
    question: Question
    results: list
    units: list[Unit]
    gold: list[GoldSpan]
    top: tuple[str, int, int] | None  # the top passage's span


def holds(span: tuple[str, int, int], gold: Sequence[GoldSpan]) -> bool:
    document, start, end = span
    for g in gold:
        if g.document != document:
            continue
        overlap = min(end, g.char_end) - max(start, g.char_start)
        if overlap > 0 and 2 * overlap >= min(end - start, g.char_end - g.char_start):
            return True
    return False


def collect(index: LiveIndex, settings: Settings, split_test: bool = False) -> list[Example]:
    sources = {d.info.id: d.text for d in parse_sources([], settings)}
    bank = bank_for(index)
    examples = []
    # Fitting reads fitting_questions(), which refuses test questions; the test split is
    # read only by --final-check, after the artefact is written.
    for item in load_split("test") if split_test else fitting_questions():
        if not item.in_scope or not item.gold:
            continue
        q = understand(index, item.question, item.history)
        results = index.search(q.resolved, top_k=DEFAULT_TOP_K, encoding=q.encoding)
        if not results or decline(index, q, results):
            continue  # declining is judged elsewhere; nothing to select from
        top = results[0]
        expanded = with_theme_partners(index, results, None) if q.stances else results
        examples.append(
            Example(
                item.id,
                item,
                q,
                results,
                build_units(q, expanded, bank),
                gold_spans(item, sources),
                (top.document, top.char_start, top.char_end),
            )
        )
    return examples


def matrix(examples: Sequence[Example]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, labels, groups = [], [], []
    for i, ex in enumerate(examples):
        for u in ex.units:
            rows.append(u.features)
            labels.append(holds(u.span, ex.gold))
            groups.append(i)
    return np.stack(rows), np.asarray(labels, dtype=int), np.asarray(groups)


def fit(x: np.ndarray, y: np.ndarray) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=2000)
    model.fit((x - scaler.mean_) / scale, y)
    return {
        "features": list(FEATURES),
        "mean": scaler.mean_.tolist(),
        "scale": scale.tolist(),
        "coef": model.coef_[0].tolist(),
        "intercept": float(model.intercept_[0]),
    }


class _Scored:
    """Selector-shaped holder of a policy for answer.compose.choose."""

    def __init__(self, policy: Policy):
        self.policy = policy


def answer_figures(
    index: LiveIndex, examples: Sequence[Example], scores: Sequence[np.ndarray], policy: Policy
) -> dict[str, float]:
    text, first, padding, shown, top = [], [], [], [], []
    for ex, s in zip(examples, scores, strict=True):
        for u, p in zip(ex.units, s, strict=True):
            u.score = float(p)
        profiles = _profiles(index, {u.passage.document for u in ex.units})
        chosen = [
            u for b in choose(ex.question, ex.units, _Scored(policy), profiles) for u in b.units
        ]
        hits = [holds(u.span, ex.gold) for u in chosen]
        text.append(any(hits))
        first.append(bool(hits) and hits[0])
        padding.append(sum(not h for h in hits))
        shown.append(len(hits))
        top.append(ex.top is not None and holds(ex.top, ex.gold))
    return {
        "answer_holds_gold": fmean(text),
        "first_unit_holds_gold": fmean(first),
        "units_per_answer": fmean(shown),
        "padding_per_answer": fmean(padding),
        "top_passage_holds_gold": fmean(top),
    }


def objective(figures: dict[str, float]) -> float:
    return (
        figures["answer_holds_gold"]
        + figures["first_unit_holds_gold"]
        - PADDING_COST * figures["padding_per_answer"]
    )


def cross_validate(
    index: LiveIndex, examples: list[Example], k: int
) -> tuple[list[np.ndarray], dict]:
    from sklearn.metrics import roc_auc_score

    # eval.questions.folds: stratified by category, a question's units in one fold.
    x, y, groups = matrix(examples)
    position = {ex.id: i for i, ex in enumerate(examples)}
    oof = np.zeros(len(y))
    aucs = []
    for fold in folds(k, SEED, [ex.item for ex in examples]):
        held_out = [position[q.id] for q in fold.validate]
        train = ~np.isin(groups, held_out)
        fold = from_dict({**fit(x[train], y[train]), "policy": _policy(0, 0.5, 0.1, 3).__dict__})
        oof[~train] = fold.predict(x[~train])
        if len(set(y[~train])) == 2:
            aucs.append(float(roc_auc_score(y[~train], oof[~train])))
    scores, at = [], 0
    for ex in examples:
        scores.append(oof[at : at + len(ex.units)])
        at += len(ex.units)
    return scores, {"unit_auc_mean": fmean(aucs), "unit_auc_by_fold": aucs}


def _policy(margin: float, ratio: float, floor: float, units: int) -> Policy:
    return Policy(margin, ratio, floor, units, PER_GROUP, THEME_BONUS)


def choose_policy(
    index: LiveIndex, examples: Sequence[Example], scores: Sequence[np.ndarray]
) -> tuple[Policy, dict[str, float]]:
    best = None
    for margin, ratio, floor, units in itertools.product(MARGINS, RATIOS, FLOORS, MAX_UNITS):
        policy = _policy(margin, ratio, floor, units)
        figures = answer_figures(index, examples, scores, policy)
        key = (objective(figures), -units, margin)
        if best is None or key > best[0]:
            best = (key, policy, figures)
    assert best is not None
    return best[1], best[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--final-check", action="store_true", help="also report the frozen test split"
    )
    args = parser.parse_args()
    settings = get_settings()
    index = LiveIndex(settings)
    index.require()
    examples = collect(index, settings)
    x, y, _ = matrix(examples)
    print(f"non-test in-scope questions: {len(examples)}, units: {len(y)}, positive: {y.sum()}")
    scores, cv = cross_validate(index, examples, args.folds)
    policy, figures = choose_policy(index, examples, scores)
    print(f"{args.folds}-fold CV unit AUC {cv['unit_auc_mean']:.3f} {cv['unit_auc_by_fold']}")
    print(f"policy chosen on out-of-fold answers: {policy}")
    for name, value in figures.items():
        print(f"  CV {name}: {value:.3f}")

    documents = index.state.documents if index.state else []
    artefact = {
        "schema": SCHEMA,
        "key": {
            "model": model_key(settings.model_path),
            "corpus": corpus_key([d.sha256 for d in documents]),
            "documents": sorted(d.id for d in documents),
        },
        **fit(x, y),
        "policy": policy.__dict__,
        "cv": {
            "folds": args.folds,
            "questions": len(examples),
            "units": int(len(y)),
            "positive": int(y.sum()),
            **{k: round(v, 4) for k, v in figures.items()},
            "unit_auc_mean": round(cv["unit_auc_mean"], 4),
        },
    }
    ARTEFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTEFACT.write_text(json.dumps(artefact, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {ARTEFACT}")

    if args.final_check:
        selector = from_dict(artefact)
        test = collect(index, settings, split_test=True)
        test_scores = [selector.predict(np.stack([u.features for u in ex.units])) for ex in test]
        print(f"frozen test split ({len(test)} questions), final check:")
        for name, value in answer_figures(index, test, test_scores, selector.policy).items():
            print(f"  test {name}: {value:.3f}")


if __name__ == "__main__":
    main()
