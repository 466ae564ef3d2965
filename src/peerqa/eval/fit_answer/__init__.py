"""Fit the answer layer's sentence selector on the non-test questions; report k-fold CV.

    PEERQA_DATA_DIR=/path/to/store python -m peerqa.eval.fit_answer [--folds 5]
        [--model trees|linear] [--rule one_se|objective] [--padding-cost 0.1]
        [--padding-bound] [--max-padding N]
        [--compare OLD_ARTEFACT.json] [--no-papers] [--final-check]
        [--ablate FEATURE[,FEATURE]]... [--papers-store DIR] [--out PATH] [--dump UNITS.npz]
        [--misses MISSES.jsonl]

Data, two question sets:
- bundled: every in-scope question of eval/questions.jsonl whose split is not "test",
  asked of the store at PEERQA_DATA_DIR (the bundled paper);
- papers: the user papers' dev questions (eval/papers/questions.jsonl, papers DEV_PAPERS;
  the test papers are never ingested here nor their questions read), asked of a temporary
  copy of that store with the dev papers' Markdown ingested beside the bundled paper, as
  eval.papers builds it. --no-papers fits on the bundled set alone.
Each question is understood, retrieved and cut into units by answer.compose's own calls.
A unit is positive when it would hold gold as `peerqa eval` scores a piece
(eval.metrics.covers: its source span overlaps a gold span by at least half of the gold
span; a paper's gold located as eval.papers locates it). Test-split questions are never
read, except by --final-check, which only reports the written artefact's figures on the
bundled test split.

Models (--model): by default boosted trees (LightGBM, `fit_trees`): P(unit holds gold),
binary with balanced classes, and the lead, lambdarank over each question's units; with
--model linear a logistic regression (scikit-learn, standardised features, balanced
classes) and a conditional logit (`fit_lead`), which the artefact keeps in either case.
Over answer.evidence.FEATURES, fitted on both sets' units. Cross-validation: stratified k-fold
over questions (eval.questions.folds, the papers' questions a category of their own; a
question's units stay in one fold). Each held-out question's out-of-fold scores make its
answer through the product's own choosing and rendering (answer.compose.answer_units),
scored by eval.metrics.check_answer, so the CV figures are `peerqa eval`'s figures: text
holds gold, first sentence holds gold, padding; reported per question set and over all.
Beside them: the baseline "the first retrieved passage is the answer"
(check_top_passage), and with --compare another artefact as it stands and the same CV
for its feature set and policy (the previous selector).

--misses writes each question whose out-of-fold answer misses (its text, or its first
cited sentence) with the kind of miss (MISS_KINDS: not retrieved, framing sentence, gold
in the top passage or in passages 2-5 not chosen…) and prints the counts.

--ablate reports the same CV (policy chosen anew) without the features named, beside:
how features are chosen (a feature stays when the CV is no worse with it).

The policy (lead margin, ratio, floor, units, lead alone, the top passage's units) is
chosen on those out-of-fold answers by --rule. ONE_SE (--rule one_se), the
one-standard-error rule, fixed before looking at what it picks: among the policies
whose text holds gold (all fitting questions, each weighing the same) is within one
standard error of the best policy's, the one padding least (padded sentences per answer),
ties to the higher first-sentence figure. The standard error is the best policy's, from
its per-question outcomes (std / sqrt(n)). Why: differences in text holds gold smaller
than the error of its estimate are noise of these questions, not gain a new question can
expect, while each padded sentence is a certain cost to every reader (issue 13: fewer
sentences beat filler), and maximising text under a padding ceiling spends the whole
ceiling whatever the gain. The search is staged (`choose_one_se`), the rule applied at
each stage over every policy checked so far; every checked policy's out-of-fold text,
first and padding is printed (the trade-off), under either rule. The test split is
never read. It is not the default: on the fitting questions text holds gold keeps rising
with each further unit by more than its standard error, so the rule lands near the most
padded policies of the grid, padding more than the objective under --max-padding does.
The default, --rule objective: OBJECTIVE (text holds gold + first sentence holds
gold - PADDING_COST x padded sentences per answer) over all fitting questions (with
--padding-bound, among the policies padding no more than the top passage does: fewer
filler sentences for a little less gold), each question weighing the same (an objective
weighing the two sets the same was tried: it fitted the four papers' 33 dev questions at
the bundled paper's cost); then, the rest fixed, the same way, the lead's
softmax share from which it alone is the answer (ALONE_SHARE), and then the length up
to which a chosen sentence is a framing one followed by its passage's next sentence
(CONTINUATION); --padding-cost, --padding-bound apply to it alone. The model is then
refitted on all fitting questions and written with the policy and the CV figures to
answer/models/selector.json, keyed to the embedding model and the bundled corpus.
Deterministic: same store, same artefact.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import fmean

import numpy as np

from peerqa.answer.compose import (
    DEFAULT_TOP_K,
    _profiles,
    answer_units,
    candidates,
    choose,
    decline,
    retrieve,
)
from peerqa.answer.evidence import FEATURES, Unit
from peerqa.answer.question import Question, understand
from peerqa.answer.selector import ARTEFACT, SCHEMA, Policy, corpus_key, from_dict, model_key
from peerqa.config import Settings, get_settings
from peerqa.eval.fit_ranker import out_of_fold
from peerqa.eval.metrics import (
    check_answer,
    check_top_passage,
    covers,
    quote_spans,
    summarise_answers,
)
from peerqa.eval.questions import GoldSpan, fitting_questions, folds, gold_spans, load_split
from peerqa.eval.questions import Question as EvalQuestion
from peerqa.index.pipeline import parse_sources
from peerqa.models import ScoredPassage
from peerqa.retrieval.hybrid import LiveIndex

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
PER_GROUP, THEME_BONUS = 2, 0.1
ROOT = Path(__file__).resolve().parents[4]
PAPERS_DIR = ROOT / "tests" / "fixtures" / "papers"
# The user papers fitted on: eval.papers' dev split. Its test papers (1409, 1872) are
# never ingested for fitting nor their questions read.
DEV_PAPERS = (
    "paper_0258",
    "paper_0445",
    "paper_0635",
    "paper_0849",
    "paper_1023",
    "paper_1122",
    "paper_1403",
    "paper_1408",
    "paper_1410",
    "paper_1412",
    "paper_1571",
    "paper_1712",
    "paper_1759",
    "paper_1850",
)
SHORTLIST = 24  # policies checked as rendered answers (see choose_policy)
# How the policy is chosen (choose_policy): "objective" by default, or "one_se".
RULES = ("one_se", "objective")
# Each answer sentence that holds no gold (from a passage holding none) costs this much of
# a question answered: a filler sentence must buy a twentieth of a gold sentence to be
# shown. Issue 13's targets are the answer holding gold, never below the top passage; at a
# tenth, policies fitted on out-of-fold retrieval fell below the top passage.
PADDING_COST = 0.05
FIGURES = ("text_holds_gold", "first_holds_gold", "padding_mean", "padding_share")
BUNDLED, PAPERS = "bundled", "papers"
# Per question, its units' scores: column 0 P(holds gold), column 1 the lead score.
Scores = Sequence[np.ndarray]


@dataclass
class Example:
    id: str
    item: object  # the eval question
    question: Question
    results: list[ScoredPassage]
    units: list[Unit]
    gold: list[GoldSpan]
    top: tuple[str, int, int] | None  # the top passage's span
    index: LiveIndex | None = None  # the store it was asked of
    set: str = BUNDLED  # which question set it comes from (figures are reported per set)
    scored: np.ndarray | None = None  # the scores its units hold now (`_set_scores`)


def holds(span: tuple[str, int, int], gold: Sequence[GoldSpan]) -> bool:
    """As `peerqa eval` scores a piece of an answer."""
    document, start, end = span
    return any(covers(document, start, end, g) for g in gold)


def collect(
    index: LiveIndex,
    settings: Settings,
    split_test: bool = False,
    papers: bool = False,
    bundled: bool = True,
) -> list[Example]:
    """Each in-scope question with gold, understood, retrieved and cut into units by the
    product's own calls (answer.compose: understand, retrieve, decline, candidates): the
    bundled paper's, and with `papers` the user papers' dev questions
    (eval/papers/questions.jsonl) when the index holds those papers."""
    sources = source_texts(settings)
    # Fitting reads fitting_questions(), which refuses test questions; the test split is
    # read only by --final-check, after the artefact is written.
    asked = [
        (item, gold_spans(item, sources))
        for item in (load_split("test") if split_test else fitting_questions())
        if bundled and item.in_scope and item.gold
    ]
    if papers and not split_test:
        asked += papers_questions(index, sources)
    # Each question retrieved by a ranker not fitted on it (the served one is, in-sample);
    # the test split, never fitted on, by the served one.
    left_out = {} if split_test else out_of_fold(index.embed_model.token_space)
    examples = []
    for item, gold in asked:
        q = understand(index, item.question, item.history)
        with index.ranked_by(left_out[item.id]) if item.id in left_out else nullcontext():
            results = retrieve(index, q, DEFAULT_TOP_K)
        if not results or decline(index, q, results):
            continue  # declining is judged elsewhere; nothing to select from
        top = results[0]
        examples.append(
            Example(
                item.id,
                item,
                q,
                results,
                candidates(index, q, results, None),
                gold,
                (top.document, top.char_start, top.char_end),
                index,
                PAPERS if item.category == PAPERS else BUNDLED,
            )
        )
    return examples


def source_texts(settings: Settings) -> dict[str, str]:
    """Document id -> the text its offsets point into: the bundled corpus, and the user
    papers of PAPERS_DIR the store holds (read from the same files it was built from)."""
    sources = {d.info.id: d.text for d in parse_sources([], settings)}
    files = [p for p in sorted(PAPERS_DIR.glob("paper_*.md")) if p.stem in DEV_PAPERS]
    for d in parse_sources(files, settings):
        sources.setdefault(d.info.id, d.text)
    return sources


def papers_questions(
    index: LiveIndex, sources: dict[str, str]
) -> list[tuple[EvalQuestion, list[GoldSpan]]]:
    """The user papers' dev questions as eval questions (category PAPERS, never a test
    paper's), each with its gold located in its paper as eval.papers locates it."""
    from peerqa.eval.papers.__main__ import QUESTIONS, load, locate, paper_of

    documents = {
        paper_of(d.source): d.id
        for d in (index.state.documents if index.state else [])
        if d.source.startswith("paper_")
    }
    out = []
    for row in load(QUESTIONS):
        if row["split"] == "test" or row["paper"] not in DEV_PAPERS:
            continue
        document = documents.get(row["paper"])
        if document is None:
            continue  # the store does not hold this paper
        item = EvalQuestion.model_construct(
            id=row["id"],
            question=row["question"],
            category=PAPERS,
            in_scope=True,
            split="calibrate",
            gold=row["gold"],
            history=[],
            expect=None,
            expect_reason=None,
            literature=bool(row.get("literature")),
        )
        gold = [
            GoldSpan(snippet=i, document=document, char_start=start, char_end=end)
            for i, start, end in locate(sources[document], row["gold"])
        ]
        if gold:
            out.append((item, gold))
    return out


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


class Scorer:
    """Scores the product's answers for one set of unit scores (the CV's out-of-fold
    ones): each policy's answers are made by answer.compose.answer_units and checked by
    eval.metrics.check_answer, as `peerqa eval` checks /v1/ask's. Figures are given per
    question set (BUNDLED, PAPERS) and over all."""

    def __init__(self, settings: Settings, examples: Sequence[Example]):
        self.examples = examples
        self.sources = source_texts(settings)
        # Each question's papers' profiles: the same for every policy tried.
        self.profiles = [
            _profiles(ex.index, {u.passage.document for u in ex.units}) for ex in examples
        ]
        self.quotes = {doc: quote_spans(text) for doc, text in self.sources.items()}

    def answers(self, scores: Scores, policy: Policy) -> dict[str, dict]:
        return self.answer_outcomes(scores, policy)[0]

    def answer_outcomes(self, scores: Scores, policy: Policy) -> tuple[dict[str, dict], np.ndarray]:
        """The figures per question set, and each question's "text holds gold" (0/1, over
        the questions that figure counts) for the rule's standard error."""
        checks = []
        for ex, s in zip(self.examples, scores, strict=True):
            _set_scores(ex, s)
            answer = answer_units(ex.index, ex.question, ex.units, policy)
            checks.append(self._check(ex, answer))
        counted = [c for c in checks if c.has_gold and not c.expect] or [
            c for c in checks if c.has_gold
        ]  # as summarise_answers counts text_holds_gold
        return self._by_set(checks, _figures), np.asarray(
            [c.text_holds_gold for c in counted], dtype=float
        )

    def chosen(self, scores: Scores, policy: Policy) -> dict[str, dict]:
        return self.chosen_outcomes(scores, policy)[0]

    def chosen_outcomes(self, scores: Scores, policy: Policy) -> tuple[dict[str, dict], np.ndarray]:
        """The figures over the chosen units themselves, before rendering, and each
        question's "a chosen unit holds gold" (0/1)."""
        rows = []
        for ex, s, profiles in zip(self.examples, scores, self.profiles, strict=True):
            _set_scores(ex, s)
            blocks = choose(ex.question, ex.units, policy, profiles)
            hits = [holds(u.span, ex.gold) for b in blocks for u in b.units]
            rows.append((any(hits), bool(hits) and hits[0], sum(not h for h in hits)))

        def figures(part):
            return {
                "text_holds_gold": fmean(r[0] for r in part),
                "first_holds_gold": fmean(r[1] for r in part),
                "padding_mean": fmean(r[2] for r in part),
            }

        return self._by_set(rows, figures), np.asarray([r[0] for r in rows], dtype=float)

    def misses(self, scores: Scores, policy: Policy) -> list[dict]:
        """Each question the out-of-fold answer misses (its text, or its first cited
        sentence), with the kind of miss (MISS_KINDS, `miss_kind`)."""
        rows = []
        for ex, s, profiles in zip(self.examples, scores, self.profiles, strict=True):
            _set_scores(ex, s)
            check = self._check(ex, answer_units(ex.index, ex.question, ex.units, policy))
            if check.text_holds_gold and check.first_holds_gold:
                continue
            blocks = choose(ex.question, ex.units, policy, profiles)
            chosen = [u for b in blocks for u in b.units]
            missed = "text" if not check.text_holds_gold else "first"
            rows.append(
                {
                    "id": ex.id,
                    "set": ex.set,
                    "missed": missed,
                    "kind": miss_kind(ex, chosen, missed),
                    "question": ex.item.question,
                    "chosen": [(_retrieved_rank(ex, u), u.text[:90]) for u in chosen],
                }
            )
        return rows

    def top_passage(self) -> dict[str, dict]:
        """The baseline: the first retrieved passage as the answer, scored the same way."""
        checks = [
            check_top_passage(ex.item, ex.results[0], ex.gold, self.sources, self.quotes)
            for ex in self.examples
        ]
        return self._by_set(checks, _figures)

    def _by_set(self, rows: list, figures) -> dict[str, dict]:
        out = {"all": figures(rows)}
        for name in (BUNDLED, PAPERS):
            part = [r for r, ex in zip(rows, self.examples, strict=True) if ex.set == name]
            if part:
                out[name] = figures(part)
        return out

    def _check(self, ex: Example, answer):
        item = ex.item
        return check_answer(
            item.id,
            item.category,
            item.in_scope,
            answer,
            ex.gold,
            self.sources,
            expect=item.expect,
            expect_reason=item.expect_reason,
            quotes=self.quotes,
            literature=item.asks_literature,
        )


# Why an out-of-fold answer misses (`miss_kind`), checked in this order:
MISS_KINDS = {
    "not_retrieved": "no retrieved passage holds gold (retrieval's miss)",
    "not_a_unit": "a retrieved passage holds gold, but no unit of it does",
    "framing": "a chosen unit (the lead, for a first-sentence miss) is the sentence just "
    "before a gold one: it announces what the next says",
    "top_passage": "a unit of the top passage holds gold; another unit was chosen (led)",
    "passage_2_5": "a unit of retrieved passages 2-5 holds gold, not chosen (led)",
    "further": "gold only in passages ranked 6th or lower or in theme partners",
}


def _retrieved_rank(ex: Example, unit: Unit) -> int | None:
    """The unit's passage's place in retrieval (a theme partner: None)."""
    ids = [r.id for r in ex.results]
    return ids.index(unit.passage.id) if unit.passage.id in ids else None


def miss_kind(ex: Example, chosen: Sequence[Unit], missed: str) -> str:
    """The kind (MISS_KINDS) of an answer's miss: its text holds no gold (`missed`
    "text"), or its first cited sentence does not ("first")."""
    gold_units = [u for u in ex.units if holds(u.span, ex.gold)]
    if not gold_units:
        retrieved = any(holds((r.document, r.char_start, r.char_end), ex.gold) for r in ex.results)
        return "not_a_unit" if retrieved else "not_retrieved"
    judged = chosen if missed == "text" else chosen[:1]
    for u in judged:
        after = [v for v in ex.units if v.passage.id == u.passage.id and v.start >= u.end]
        if after and min(after, key=lambda v: v.start) in gold_units:
            return "framing"
    ranks = {_retrieved_rank(ex, g) for g in gold_units}
    if 0 in ranks:
        return "top_passage"
    if ranks & {1, 2, 3, 4}:
        return "passage_2_5"
    return "further"


def _set_scores(ex: Example, scores: np.ndarray) -> None:
    """A question's units scored: column 0 P(holds gold), column 1 the lead score. Each
    policy tried sets the same scores again: set only when they change."""
    if ex.scored is scores:
        return
    for u, (p, lead) in zip(ex.units, scores.tolist(), strict=True):
        u.score, u.lead = p, lead
    ex.scored = scores


def predicted(selector, examples: Sequence[Example]) -> list[np.ndarray]:
    """Each question's units scored by one selector, as `Scores`."""
    out = []
    for ex in examples:
        x = np.stack([u.features for u in ex.units])
        out.append(np.column_stack([selector.predict(x), selector.predict_lead(x)]))
    return out


def _figures(checks) -> dict[str, float]:
    summary = summarise_answers(checks)
    return {f: float(getattr(summary, f) or 0.0) for f in FIGURES}


def objective(figures: dict[str, float], padding_cost: float = PADDING_COST) -> float:
    return (
        figures["text_holds_gold"]
        + figures["first_holds_gold"]
        - padding_cost * figures["padding_mean"]
    )


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
    rendered and the rule applied; then the chosen policy's ALONE_SHARE values and then
    its CONTINUATION values join the candidates, and the rule is applied again over all
    of them. With `max_padding`, candidates padding more are left out (unless all do)."""
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
            f"c{c.policy.continuation}"
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
    return best[1], best[2]


def within_padding(figures: dict[str, float], bound: float) -> float:
    """0 when the answers pad no more than `bound` (the top passage's padded sentences per
    answer), else minus the excess. An answer is never to be worse than the top passage,
    in filler as in evidence: more sentences that hold no gold would buy what little
    gold they hold at the reader's cost."""
    return min(0.0, bound - figures["padding_mean"])


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


def _print(label: str, by_set: dict[str, dict]) -> None:
    for name, figures in by_set.items():
        values = "  ".join(f"{k} {v:.3f}" for k, v in figures.items())
        print(f"  {label:<40} {name:<8} {values}")


def report_misses(rows: list[dict], path: Path) -> None:
    """Out-of-fold misses counted by question set, figure missed and kind; rows to `path`."""
    counts = Counter((r["set"], r["missed"], r["kind"]) for r in rows)
    print("out-of-fold misses (set, missed figure, kind):")
    for key in sorted(counts):
        print(f"  {' '.join(key):<40} {counts[key]}")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def papers_store(settings: Settings, where: Path) -> Settings:
    """A store holding the bundled paper and the dev papers' Markdown beside it, as
    eval.papers builds one: `settings`' store copied (its vectors reused) and the papers
    ingested into the copy."""
    from peerqa.index.pipeline import ingest

    data = where / "data-papers"
    # Always an embedded store of its own: the papers never reach a served Chroma.
    papers = settings.model_copy(update={"data_dir": data, "chroma_url": None})
    if (data / "done").exists():
        return papers  # built by an earlier run with --papers-store
    if settings.data_dir.is_dir():
        shutil.copytree(settings.data_dir, data)
    ingest([PAPERS_DIR / f"{p}.md" for p in DEV_PAPERS], papers)
    (data / "done").touch()
    return papers


def main() -> None:
    # Named as it is run: from a package's __main__ argparse would say "__main__.py".
    parser = argparse.ArgumentParser(
        prog="python -m peerqa.eval.fit_answer", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--compare",
        type=Path,
        help="another selector artefact: the same CV for its feature set, beside",
    )
    parser.add_argument(
        "--padding-cost",
        type=float,
        default=PADDING_COST,
        help=f"OBJECTIVE's charge per padded sentence (default {PADDING_COST})",
    )
    parser.add_argument(
        "--rule",
        choices=RULES,
        default="objective",
        help="how the policy is chosen on the out-of-fold answers: objective (default, "
        "OBJECTIVE with --padding-cost, --padding-bound, --max-padding) or one_se (the "
        "least padded within one standard error of the best text holds gold)",
    )
    parser.add_argument(
        "--model",
        choices=MODELS,
        default="trees",
        help="the selector's models: boosted trees (default; LightGBM binary and "
        "lambdarank, walked in numpy when serving) or linear (logistic regression and "
        "conditional logit)",
    )
    parser.add_argument(
        "--padding-bound",
        action="store_true",
        help="choose only among policies padding no more than the top passage does",
    )
    parser.add_argument(
        "--max-padding",
        type=float,
        help="choose only among policies padding at most this many sentences per answer "
        "(CV, all questions): the replaced selector's figure keeps padding from regressing",
    )
    parser.add_argument(
        "--no-papers",
        action="store_true",
        help="fit on the bundled paper's questions alone (no user papers' dev questions)",
    )
    parser.add_argument(
        "--final-check", action="store_true", help="also report the frozen test split"
    )
    parser.add_argument(
        "--out", type=Path, default=ARTEFACT, help=f"where to write the artefact ({ARTEFACT})"
    )
    parser.add_argument(
        "--dump",
        type=Path,
        help="also write the units' features, labels and question of each (.npz)",
    )
    parser.add_argument(
        "--misses",
        type=Path,
        help="also write each question the out-of-fold answer misses, with the kind of "
        "miss (MISS_KINDS), as JSON lines, and print the counts by kind",
    )
    parser.add_argument(
        "--papers-store",
        type=Path,
        help="keep the papers' store in this directory and reuse it on later runs (it must "
        "be rebuilt by hand when the bundled store, the papers or ingest change)",
    )
    parser.add_argument(
        "--ablate",
        action="append",
        default=[],
        metavar="FEATURE[,FEATURE]",
        help="also report the same CV (policy chosen anew) without these features; "
        "repeatable. Reported only: the artefact keeps every feature",
    )
    args = parser.parse_args()
    settings = get_settings()
    index = LiveIndex(settings)
    index.require()
    with tempfile.TemporaryDirectory() as tmp:
        examples = collect(index, settings)
        if not args.no_papers:
            papers = papers_store(settings, args.papers_store or Path(tmp))
            papers_index = LiveIndex(papers)
            examples += collect(papers_index, papers, papers=True, bundled=False)
        fitted_on(args, settings, index, examples)


def fitted_on(args, settings: Settings, index: LiveIndex, examples: list[Example]) -> None:
    """Cross-validate, choose the policy, refit on all and write the artefact."""
    x, y, groups = matrix(examples)
    if args.dump:
        sets = np.asarray([ex.set for ex in examples])
        np.savez(args.dump, x=x, y=y, groups=groups, sets=sets, features=np.asarray(FEATURES))
    counts = {s: sum(ex.set == s for ex in examples) for s in (BUNDLED, PAPERS)}
    print(f"in-scope fitting questions: {counts}, units: {len(y)}, positive: {y.sum()}")
    scorer = Scorer(settings, examples)
    scores, cv = cross_validate(examples, args.folds, model=args.model)
    trade_off: list[Candidate] = []
    options = {
        "padding_cost": args.padding_cost,
        "bounded": args.padding_bound,
        "max_padding": args.max_padding,
    }
    policy, figures = choose_policy(scorer, scores, args.rule, trade_off, **options)
    if trade_off:
        print_trade_off(trade_off, policy)
    print(f"{args.folds}-fold CV unit AUC {cv['unit_auc_mean']:.3f} {cv['unit_auc_by_fold']}")
    print(f"{args.folds}-fold CV best lead score's unit holds gold {cv['lead_holds']:.3f}")
    print(f"policy chosen on out-of-fold answers: {policy}")
    print(f"{args.folds}-fold CV answers as `peerqa eval` scores them, per question set:")
    _print("fitted selector", figures)
    if policy.alone_share < 1.0:
        _print(
            "the same, never a lead alone", scorer.answers(scores, replace(policy, alone_share=1.0))
        )
    top = scorer.top_passage()
    _print("top passage (baseline)", top)
    if args.misses:
        report_misses(scorer.misses(scores, policy), args.misses)
    for dropped in args.ablate:
        without = [f for f in FEATURES if f not in dropped.split(",")]
        ablated, ablated_cv = cross_validate(examples, args.folds, without, model=args.model)
        ablated_policy, ablated_figures = choose_policy(scorer, ablated, args.rule, **options)
        print(
            f"without {dropped}: unit AUC {ablated_cv['unit_auc_mean']:.3f}, best lead holds "
            f"{ablated_cv['lead_holds']:.3f}, policy {ablated_policy}"
        )
        _print(f"without {dropped}"[:40], ablated_figures)
    if args.compare:
        old = json.loads(args.compare.read_text(encoding="utf-8"))
        if tuple(old["features"]) == FEATURES:
            # The artefact itself, as it would answer these questions (no refitting).
            fixed = from_dict(old)
            _print(
                f"{args.compare.name} as fitted",
                scorer.answers(predicted(fixed, examples), fixed.policy),
            )
        old_model = "trees" if "trees" in old else "linear"
        old_scores, _ = cross_validate(
            examples, args.folds, old["features"], "lead" in old, old_model
        )
        _print(
            f"{args.compare.name}: features+policy, CV",
            scorer.answers(old_scores, Policy(**old["policy"])),
        )

    documents = index.state.documents if index.state else []
    artefact = {
        "schema": SCHEMA,
        "key": {
            "model": model_key(settings.model_path),
            "corpus": corpus_key([d.sha256 for d in documents]),
            "documents": sorted(d.id for d in documents),
            "question_sets": sorted({ex.set for ex in examples}),
        },
        **fit(x, y, groups, model=args.model),
        "policy": policy.__dict__,
        "cv": {
            "folds": args.folds,
            "questions": len(examples),
            "questions_by_set": counts,
            "units": int(len(y)),
            "positive": int(y.sum()),
            "rule": args.rule,
            "padding_cost": args.padding_cost,
            "padding_bound": args.padding_bound,
            "max_padding": args.max_padding,
            "model": args.model,
            **{f"{name}_{k}": round(v, 4) for name, f in figures.items() for k, v in f.items()},
            **{
                f"top_passage_{name}_{k}": round(v, 4)
                for name, f in top.items()
                for k, v in f.items()
            },
            "unit_auc_mean": round(cv["unit_auc_mean"], 4),
            "lead_holds": round(cv["lead_holds"], 4),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps(artefact), encoding="utf-8")
    print(f"wrote {args.out}")

    if args.final_check:
        selector = from_dict(artefact)
        test = collect(index, settings, split_test=True)
        test_scores = predicted(selector, test)
        test_scorer = Scorer(settings, test)
        print(f"frozen test split ({len(test)} questions), final check:")
        _print("fitted selector", test_scorer.answers(test_scores, selector.policy))
        _print("top passage (baseline)", test_scorer.top_passage())
