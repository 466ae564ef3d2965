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
(CONTINUATION), and last how many of the top passage's units the answer holds when that
passage is a generic paper's (GENERIC_TOP_UNITS); --padding-cost, --padding-bound
apply to it alone. The model is then refitted on all fitting questions and written with
the policy and the CV figures to answer/models/selector.json, keyed to the embedding
model and the bundled corpus.
Deterministic: same store, same artefact.
"""

from __future__ import annotations

from peerqa.eval.fit_answer.cross_validation import cross_validate
from peerqa.eval.fit_answer.examples import (
    BUNDLED,
    DEV_PAPERS,
    PAPERS,
    PAPERS_DIR,
    Example,
    collect,
    holds,
    papers_questions,
    papers_store,
    source_texts,
)
from peerqa.eval.fit_answer.misses import MISS_KINDS, miss_kind, report_misses
from peerqa.eval.fit_answer.policies import (
    PADDING_COST,
    RULES,
    Candidate,
    choose_by_objective,
    choose_one_se,
    choose_policy,
    objective,
    one_standard_error,
    print_trade_off,
    within_padding,
)
from peerqa.eval.fit_answer.scoring import FIGURES, Scorer, Scores, predicted
from peerqa.eval.fit_answer.unit_models import (
    INCLUDE_TREES,
    LEAD_TREES,
    MODELS,
    TREE_DEPTH,
    complete_lgbm,
    dumps,
    fit,
    fit_lead,
    fit_trees,
    matrix,
)

__all__ = [
    "BUNDLED",
    "DEV_PAPERS",
    "FIGURES",
    "INCLUDE_TREES",
    "LEAD_TREES",
    "MISS_KINDS",
    "MODELS",
    "PADDING_COST",
    "PAPERS",
    "PAPERS_DIR",
    "RULES",
    "TREE_DEPTH",
    "Candidate",
    "Example",
    "Scorer",
    "Scores",
    "choose_by_objective",
    "choose_one_se",
    "choose_policy",
    "collect",
    "complete_lgbm",
    "cross_validate",
    "dumps",
    "fit",
    "fit_lead",
    "fit_trees",
    "holds",
    "matrix",
    "miss_kind",
    "objective",
    "one_standard_error",
    "papers_questions",
    "papers_store",
    "predicted",
    "print_trade_off",
    "report_misses",
    "source_texts",
    "within_padding",
]
