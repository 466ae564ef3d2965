"""The command line: collect the examples, cross-validate, choose the policy, refit on all
and write the artefact (the package's docstring says how)."""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from peerqa.answer.evidence import FEATURES
from peerqa.answer.selector import ARTEFACT, SCHEMA, Policy, corpus_key, from_dict, model_key
from peerqa.config import Settings, get_settings
from peerqa.eval import fit_answer
from peerqa.eval.fit_answer.cross_validation import cross_validate
from peerqa.eval.fit_answer.examples import BUNDLED, PAPERS, Example, collect, papers_store
from peerqa.eval.fit_answer.misses import report_misses
from peerqa.eval.fit_answer.policies import (
    PADDING_COST,
    RULES,
    Candidate,
    choose_policy,
    print_trade_off,
)
from peerqa.eval.fit_answer.scoring import Scorer, predicted
from peerqa.eval.fit_answer.unit_models import MODELS, dumps, fit, matrix
from peerqa.retrieval.hybrid import LiveIndex


def main() -> None:
    # Named as it is run: from a package's __main__ argparse would say "__main__.py".
    parser = argparse.ArgumentParser(
        prog="python -m peerqa.eval.fit_answer", description=fit_answer.__doc__.split("\n\n")[0]
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


def _print(label: str, by_set: dict[str, dict]) -> None:
    for name, figures in by_set.items():
        values = "  ".join(f"{k} {v:.3f}" for k, v in figures.items())
        print(f"  {label:<40} {name:<8} {values}")


if __name__ == "__main__":
    main()
