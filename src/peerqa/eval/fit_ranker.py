"""Fit the learned ranking (retrieval/ranker.py): `python -m peerqa.eval.fit_ranker`.

Stores: the bundled paper alone, and the bundled paper with the fixture papers beside it
(tests/fixtures/papers, one store per format), ingested into `--work` (kept, and
re-ingested where the sources or the index format changed). Questions: the fitting
questions of eval/questions.jsonl (never the test split; in scope, no caveat) on every
store, and the dev questions of eval/papers (held-out
papers 1409 and 1872 are never read) on the paper stores. For each question and store,
search records fusion's pool (ranker.POOL candidates after theme feedback and the
reference rule) with each candidate's features; a candidate is positive when it holds
gold (eval.metrics for the bundled paper, eval.papers' match for the papers).

Grouped k-fold cross-validation (a question's rows on every store stay in one fold; the
bundled questions in eval.questions.folds(), the papers' a paper to a fold:
eval.papers.dev_folds) reports Recall@5 and MRR@10 of the learned order against the
fusion order on the same folds, per store, then the model is refitted on every row and
written with its CV figures to retrieval/models/ranker.json, keyed to the embedding
model's token space, beside each fold's model (`out_of_fold`: what the fitters downstream
retrieve a fitting question with).
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from peerqa.answer.followup import retrieval_query
from peerqa.config import Settings
from peerqa.eval.metrics import relevant_ids, score_question
from peerqa.eval.papers.__main__ import PAPERS, SUFFIX, dev_folds, hit, paper_of
from peerqa.eval.questions import folds, gold_spans
from peerqa.index.pipeline import ingest, parse_sources
from peerqa.retrieval import search
from peerqa.retrieval.hybrid import LiveIndex
from peerqa.retrieval.ranker import ARTEFACT, FEATURES, POOL, SCHEMA, Ranker, from_dict

K = 5
DEPTH = 3
# Boosting settings tried, each cross-validated; the best mean of Recall@5 + MRR@10 over
# the stores is refitted on every row. `monotone`: the candidate's rank never falls as
# one of INCREASING rises (a higher dense score cannot lower it). For the pointwise
# classifier, unconstrained trees, depth 1-4, 100-400 trees, larger leaves (80) and the
# papers' questions weighted twice were cross-validated too: none did better on both the
# bundled questions and the papers'. A ranking objective (lambdarank, each question's
# pool a group) with smaller leaves and more trees did better on the bundled stores, the
# papers' within their fold noise either way (it moves more between fits whose features
# differ in float order than between these settings); the papers' rows weighed 3x did
# best of 1x, 2x, 3x and 5x. rank_xendcg, leaves of 40-160, 100-200 trees and truncation
# at 10 were cross-validated too and did worse.
REGULARISED = {"max_iter": 200, "learning_rate": 0.05, "min_samples_leaf": 40, "monotone": True}
GRID = (
    # Half the trees at twice the rate: the pointwise classifier served before.
    {**REGULARISED, "l2_regularization": 1.0, "max_iter": 100, "learning_rate": 0.1},
    {
        **REGULARISED,
        "objective": "lambdarank",
        "l2_regularization": 1.0,
        "max_iter": 300,
        "min_samples_leaf": 20,
        "paper_weight": 3.0,
    },
    {
        **REGULARISED,
        "objective": "lambdarank",
        "l2_regularization": 1.0,
        "max_iter": 400,
        "min_samples_leaf": 10,
        "paper_weight": 3.0,
    },
)
# LightGBM's objectives that rank a question's pool as a whole (eval extra, fit time).
RANKING_OBJECTIVES = ("lambdarank", "rank_xendcg")
# Features whose rise should never lower a candidate: every ranking's score and
# reciprocal rank, word overlap, a named document, the document's standing in the pool,
# the cosines to the question (also beside its own document's best), a share of the
# head's section class or kind.
INCREASING = frozenset(
    {f for f in FEATURES if f.endswith(("_score", "_rr", "_gap", "_share"))}
    | {"overlap", "overlap_idf", "sentence_overlap", "theme_of_top", "reference_asked"}
    | {"document_best", "rank_in_document", "document_named"}
    | {"document_coverage", "document_coverage_gap"}
    | {"programme_named", "section_overlap", "quantity_asked"}
)
# Leaf scores are rounded to LEAF_DIGITS decimals in the artefact (it holds six models:
# the served one and each fold's); split thresholds stay exact, a value may equal one.
LEAF_DIGITS = 5
OPEN = 1e300  # the threshold of a split that always goes left (a leaf above DEPTH)
DEFAULT_WORK = Path.home() / ".cache" / "peerqa" / "fit-ranker"


@dataclass
class Group:
    """One question on one store: its pool's features and labels, and how to score an order."""

    qid: str
    store: str
    fold: int
    x: np.ndarray
    y: np.ndarray
    pool: list  # ScoredPassage, fusion's order
    current: list  # the fusion before this work (references kept), top 10
    score: object = field(repr=False)  # ranked passages -> (recall@5, mrr@10)


class Recorder:
    """Stands in for the ranker: keeps fusion's order and remembers the features."""

    def __init__(self) -> None:
        self.x: np.ndarray | None = None

    def predict(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return np.linspace(1.0, 0.0, len(x))


@dataclass(frozen=True)
class GoldScore:
    """A bundled question's (Recall@5, MRR@10) of an order, by eval.metrics."""

    qid: str
    category: str
    gold: tuple

    def __call__(self, ranked: list) -> tuple[float, float]:
        row = score_question(self.qid, self.category, ranked, self.gold)
        return row.recall_at_5, row.mrr_at_10


@dataclass(frozen=True)
class PaperScore:
    """A paper question's (Recall@5, MRR@10) of an order: the first passage of its paper
    holding its gold, by eval.papers' match."""

    document: str
    gold: object

    def __call__(self, ranked: list) -> tuple[float, float]:
        rank = next(
            (
                r
                for r, p in enumerate(ranked[:10], 1)
                if p.document == self.document and hit(p.text, self.gold)
            ),
            None,
        )
        return float(bool(rank and rank <= 5)), 1 / rank if rank else 0.0


def store(work: Path, name: str, files: list[Path]) -> Settings:
    settings = Settings(data_dir=work / name)
    bundled = work / "bundled"
    if files and not settings.data_dir.is_dir() and (bundled / "chroma").is_dir():
        shutil.copytree(bundled, settings.data_dir)  # its vectors are reused
    # A no-op on a current store; a kept store re-ingests what changed since (readers,
    # the index format), so a rerun never fits on stale passages.
    ingest(files, settings)
    return settings


def pools(index: LiveIndex, query: str) -> tuple[list, np.ndarray, list]:
    view = index._view
    recorder = Recorder()
    view.ranker = recorder
    pool = index.search(query, top_k=POOL)
    x = recorder.x if recorder.x is not None else np.zeros((0, len(FEATURES)))
    view.ranker = None
    literature = search.asks_literature
    search.asks_literature = lambda _q: True  # the fusion as it was: references kept
    try:
        current = index.search(query, top_k=10)
    finally:
        search.asks_literature = literature
    return pool, x, current


def bundled_groups(index: LiveIndex, name: str, settings: Settings) -> list[Group]:
    sources = {d.info.id: d.text for d in parse_sources([], settings)}
    universe = list(index.passages.values())
    groups = []
    for fold in folds(K):
        for q in fold.validate:
            if not q.in_scope or q.expect:
                continue
            gold = gold_spans(q, sources)
            relevant = relevant_ids(universe, gold)
            query = retrieval_query(q.question, q.history)
            pool, x, current = pools(index, query)
            y = np.asarray([p.id in relevant for p in pool], dtype=int)
            score = GoldScore(q.id, q.category, tuple(gold))
            groups.append(Group(q.id, name, fold.index, x, y, pool, current, score))
    return groups


def paper_groups(index: LiveIndex, name: str) -> list[Group]:
    docs = {
        paper_of(d.source): d.id for d in index.state.documents if d.source.startswith("paper_")
    }
    groups = []
    for q, k in dev_folds(K):
        doc = docs[q["paper"]]
        pool, x, current = pools(index, q["question"])
        y = np.asarray([p.document == doc and hit(p.text, q["gold"]) for p in pool], dtype=int)
        groups.append(Group(q["id"], name, k, x, y, pool, current, PaperScore(doc, q["gold"])))
    return groups


def collect(work: Path, formats: list[str]) -> tuple[list[Group], str]:
    """Every fitting question's group on every store, and the embedding model's key."""
    settings = store(work, "bundled", [])
    index = LiveIndex(settings)
    groups = bundled_groups(index, "bundled", settings)
    for fmt in formats:
        files = sorted(PAPERS.glob(f"paper_*{SUFFIX[fmt]}"))
        settings = store(work, f"papers-{fmt}", files)
        index = LiveIndex(settings, embed_model=index.embed_model)
        groups += bundled_groups(index, f"bundled-beside-{fmt}", settings)
        groups += paper_groups(index, f"papers-{fmt}")
    return groups, index.embed_model.token_space


def fit(groups: list[Group], settings: dict) -> tuple[Ranker, dict]:
    """The ranker fitted on the groups' rows, and its trees as the artefact stores them."""
    if settings.get("objective") in RANKING_OBJECTIVES:
        return fit_ranking(groups, settings)
    x = np.concatenate([g.x for g in groups])
    y = np.concatenate([g.y for g in groups])
    settings = dict(settings)
    if settings.pop("monotone", False):
        settings["monotonic_cst"] = [int(f in INCREASING) for f in FEATURES]
    model = HistGradientBoostingClassifier(
        max_depth=DEPTH, early_stopping=False, random_state=0, **settings
    )
    # One OpenMP thread: on a shared machine more threads than free cores spin against
    # each other (a cross-validation took over ten times longer).
    with threadpool_limits(1, user_api="openmp"):
        model.fit(x, y)
    feature, threshold, leaf = zip(*map(complete, model._predictors), strict=True)
    trees = {
        "depth": DEPTH,
        "feature": feature,
        "threshold": threshold,
        "leaf": leaf,
        "baseline": float(np.ravel(model._baseline_prediction)[0]),
    }
    ranker = from_dict(trees)
    # Leaves are stored to LEAF_DIGITS decimals: the stored trees' probabilities stay
    # within 1e-3 of the fitted ones.
    assert np.allclose(ranker.predict(x), model.predict_proba(x)[:, 1], atol=1e-3)
    return ranker, trees


def fit_ranking(groups: list[Group], settings: dict) -> tuple[Ranker, dict]:
    """A ranking objective (LightGBM's lambdarank or rank_xendcg, each question on each
    store a query group) fitted on the groups, its trees exported as the artefact stores
    them, serving needs no LightGBM. The trees' raw score is then mapped to a probability
    by a logistic fit on the same rows (Platt), folded into the leaves and baseline, so
    the served score keeps the classifier's scale (the answer layer reads it)."""
    import lightgbm  # fit-time only: the eval extra

    settings = dict(settings)
    params = {
        "objective": settings.pop("objective"),
        "max_depth": DEPTH,
        "num_leaves": 2**DEPTH,
        "learning_rate": settings.pop("learning_rate"),
        "min_data_in_leaf": settings.pop("min_samples_leaf"),
        "lambda_l2": settings.pop("l2_regularization", 0.0),
        # One thread, fixed seed, deterministic: the same rows give the same trees.
        "num_threads": 1,
        "deterministic": True,
        "force_col_wise": True,
        "seed": 0,
        "verbosity": -1,
        "feature_pre_filter": False,
    }
    if settings.pop("monotone", False):
        params["monotone_constraints"] = [int(f in INCREASING) for f in FEATURES]
    rounds = settings.pop("max_iter")
    # The papers' questions are a tenth of the groups: each row's gradient weighed up.
    paper_weight = settings.pop("paper_weight", 1.0)
    params.update(settings)
    kept = [g for g in groups if len(g.y)]
    x = np.concatenate([g.x for g in kept])
    y = np.concatenate([g.y for g in kept])
    weight = np.concatenate(
        [np.full(len(g.y), paper_weight if g.store.startswith("papers") else 1.0) for g in kept]
    )
    data = lightgbm.Dataset(
        x, y, weight=weight, group=[len(g.y) for g in kept], params={"verbosity": -1}
    )
    booster = lightgbm.train(params, data, num_boost_round=rounds)
    raw = booster.predict(x, num_threads=1)
    scale, shift = platt(raw, y)
    tree_info = booster.dump_model()["tree_info"]
    feature, threshold, leaf = zip(
        *(complete_lightgbm(t["tree_structure"], scale) for t in tree_info), strict=True
    )
    trees = {
        "depth": DEPTH,
        "feature": feature,
        "threshold": threshold,
        "leaf": leaf,
        "baseline": round(shift, LEAF_DIGITS),
    }
    ranker = from_dict(trees)
    assert np.allclose(ranker.predict(x), 1 / (1 + np.exp(-(scale * raw + shift))), atol=1e-3)
    return ranker, trees


def platt(raw: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(scale, shift) of the logistic P(y) = 1 / (1 + exp(-(scale * raw + shift)))."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e4).fit(raw.reshape(-1, 1), y)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def complete_lightgbm(node: dict, scale: float) -> tuple[list[int], list[float], list[float]]:
    """One LightGBM tree (its dump_model structure) as retrieval.ranker.Ranker stores it,
    its leaves times `scale`; as complete() does for scikit-learn's."""
    size = 2**DEPTH - 1
    feature, threshold, leaf = [0] * size, [OPEN] * size, [0.0] * (size + 1)
    stack = [(node, 0, 0)]
    while stack:
        node, at, depth = stack.pop()
        if depth == DEPTH:
            leaf[at - size] = round(scale * float(node["leaf_value"]), LEAF_DIGITS)
        elif "leaf_value" in node:
            stack += [(node, 2 * at + 1, depth + 1), (node, 2 * at + 2, depth + 1)]
        else:
            # Left when the value is at most the threshold, as the served trees walk; the
            # features are never missing.
            assert node["decision_type"] == "<=" and node["missing_type"] != "NaN", node
            feature[at] = int(node["split_feature"])
            threshold[at] = float(node["threshold"])
            stack += [(node["left_child"], 2 * at + 1, depth + 1)]
            stack += [(node["right_child"], 2 * at + 2, depth + 1)]
    return feature, threshold, leaf


def complete(predictors: list) -> tuple[list[int], list[float], list[float]]:
    """One tree as retrieval.ranker.Ranker stores it: complete to DEPTH, a leaf above
    DEPTH repeated below an OPEN split."""
    (tree,) = predictors
    size = 2**DEPTH - 1
    feature, threshold, leaf = [0] * size, [OPEN] * size, [0.0] * (size + 1)
    stack = [(0, 0, 0)]  # sklearn node, position in the complete tree, depth
    while stack:
        i, at, depth = stack.pop()
        node = tree.nodes[i]
        if depth == DEPTH:
            leaf[at - size] = round(float(node["value"]), LEAF_DIGITS)
        elif node["is_leaf"]:
            stack += [(i, 2 * at + 1, depth + 1), (i, 2 * at + 2, depth + 1)]
        else:
            feature[at] = int(node["feature_idx"])
            threshold[at] = float(node["num_threshold"])  # exact: a threshold may equal a value
            stack += [(int(node["left"]), 2 * at + 1, depth + 1)]
            stack += [(int(node["right"]), 2 * at + 2, depth + 1)]
    return feature, threshold, leaf


def learned_order(group: Group, ranker: Ranker) -> list:
    if not len(group.x):
        return group.pool
    p = ranker.predict(group.x)
    return [group.pool[i] for i in np.argsort(-p, kind="stable")]


def summary(scored: dict[str, list[tuple[float, float]]]) -> dict[str, dict]:
    return {
        store: {
            "questions": len(rows),
            "recall@5": round(fmean(r for r, _ in rows), 3),
            "mrr@10": round(fmean(m for _, m in rows), 3),
            # The first passage holds gold: what the answer's lead is drawn from.
            "top1": round(fmean(m == 1.0 for _, m in rows), 3),
        }
        for store, rows in sorted(scored.items())
    }


def cross_validate(groups: list[Group], settings: dict) -> tuple[dict[str, dict], list[dict]]:
    """CV figures per system and store, and each fold's trees (fitted without it)."""
    scored: dict[str, dict[str, list]] = {"current": {}, "fusion": {}, "learned": {}}
    fold_trees = []
    for k in range(K):
        ranker, trees = fit([g for g in groups if g.fold != k], settings)
        fold_trees.append(trees)
        for g in (g for g in groups if g.fold == k):
            for system, ranked in (
                ("current", g.current),
                ("fusion", g.pool),
                ("learned", learned_order(g, ranker)),
            ):
                scored[system].setdefault(g.store, []).append(g.score(ranked[:10]))
    return {system: summary(rows) for system, rows in scored.items()}, fold_trees


def pool_recall(groups: list[Group]) -> dict[str, float]:
    """Per store, the share of questions whose pool holds a gold passage at all: what
    any order of the pool can reach at best."""
    held: dict[str, list[bool]] = {}
    for g in groups:
        held.setdefault(g.store, []).append(bool(g.y.any()))
    return {store: round(fmean(rows), 3) for store, rows in sorted(held.items())}


def out_of_fold(model: str, path: Path = ARTEFACT) -> dict[str, Ranker]:
    """Each fitting question's ranker, fitted without it (the artefact's `out_of_fold`):
    `LiveIndex.ranked_by(ranker)` searches as for an unseen one."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if data["key"]["model"] != model:
        raise RuntimeError(f"{path} was fitted for another embedding model: refit it")
    left_out = data["out_of_fold"]
    rankers = [from_dict(trees) for trees in left_out["trees"]]
    return {qid: rankers[k] for qid, k in left_out["fold_of"].items()}


def mean_of(cv: dict[str, dict]) -> float:
    return fmean(s["recall@5"] + s["mrr@10"] for s in cv.values())


def dumps(artefact: dict) -> str:
    """The artefact as JSON, one served tree per line, the folds' trees compact."""
    fields = []
    for key, value in artefact.items():
        if key in ("feature", "threshold", "leaf"):
            rows = (json.dumps(tree, separators=(",", ":")) for tree in value)
            body = "[\n" + ",\n".join(f"  {row}" for row in rows) + "\n ]"
        elif key == "out_of_fold":
            body = json.dumps(value, separators=(",", ":"))
        else:
            body = json.dumps(value)
        fields.append(f" {json.dumps(key)}: {body}")
    return "{\n" + ",\n".join(fields) + "\n}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="stores, kept for reruns")
    parser.add_argument("--formats", default="md,tei")
    parser.add_argument("--out", type=Path, default=ARTEFACT)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    groups, model_key = collect(args.work, args.formats.split(","))
    tried = [cross_validate(groups, settings) for settings in GRID]
    for settings, (cv, _) in zip(GRID, tried, strict=True):
        print(json.dumps({"settings": settings, "cv": cv}), flush=True)
    best = max(range(len(GRID)), key=lambda i: mean_of(tried[i][0]["learned"]))
    # Each fold's ranker, fitted without it, stays beside the served one: eval.fit_answer
    # and eval.fit_decline retrieve a fitting question with it (an out-of-sample order).
    cv, left_out = tried[best]
    print(json.dumps({"settings": GRID[best], "cv": cv}, indent=2))
    _, trees = fit(groups, GRID[best])
    artefact = {
        "schema": SCHEMA,
        "key": {"model": model_key},
        "features": list(FEATURES),
        **trees,
        "fitted_on": {
            "settings": GRID[best],
            "pool": POOL,
            "folds": K,
            "groups": len(groups),
            "rows": int(sum(len(g.y) for g in groups)),
            "positives": int(sum(g.y.sum() for g in groups)),
            "stores": sorted({g.store for g in groups}),
        },
        "cv": {
            "grid": [round(mean_of(t["learned"]), 4) for t, _ in tried],
            "pool_recall": pool_recall(groups),
            **cv,
        },
        "out_of_fold": {
            "fold_of": {g.qid: g.fold for g in sorted(groups, key=lambda g: g.qid)},
            "trees": left_out,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps(artefact), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
