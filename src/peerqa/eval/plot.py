"""report.png: retrieval figures per system and category, answer figures per split (ours
beside the top search passage), and should-decline questions declined per category."""

from __future__ import annotations

from pathlib import Path

from peerqa.eval.metrics import BUDGET_WORDS, RECALL_K
from peerqa.eval.questions import DECLINE_REASONS
from peerqa.eval.report import SPLIT_NAMES, EvalReport


def plot(report: EvalReport, path: Path) -> None:
    from matplotlib.figure import Figure  # Figure with its Agg canvas: no pyplot, no GUI

    systems = report.systems
    metrics = {"Recall@5": "recall_at_5", "MRR@10": "mrr_at_10", "nDCG@10": "ndcg_at_10"}
    categories = list(report.ours.by_category)
    width = 0.8 / len(systems)
    fig = Figure(figsize=(14, 9), layout="constrained")
    (left, right), (answers, declines) = fig.subplots(2, 2, width_ratios=[1, 2.2])
    for i, s in enumerate(systems):
        offset = (i - (len(systems) - 1) / 2) * width
        left.bar(
            [x + offset for x in range(len(metrics))],
            [getattr(s.overall, m) for m in metrics.values()],
            width,
            label=s.name,
        )
        right.bar(
            [x + offset for x in range(len(categories))],
            [s.by_category[c].recall_at_5 for c in categories],
            width,
            label=s.name,
        )
    left.set_xticks(range(len(metrics)), list(metrics))
    left.set_title(f"Overall ({report.in_scope} in-scope questions)")
    right.set_xticks(range(len(categories)), categories, rotation=20, ha="right")
    right.set_title(f"Recall@{RECALL_K} within {BUDGET_WORDS} words, by category")
    for ax in (left, right):
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    left.legend(fontsize="small")
    _plot_answers(report, answers, declines)
    fig.savefig(path, dpi=110)


def _plot_answers(report: EvalReport, answers, declines) -> None:
    """Answer figures per split, ours beside the top search passage; decline rates."""
    figures = {
        "text holds gold": "text_holds_gold",
        "first sentence\nholds gold": "first_holds_gold",
        "quotes whole": "quotes_whole",
        "no raw rows /\nreferences": "table_or_reference",
    }
    bars = [
        (s, system)
        for s in SPLIT_NAMES
        if s in report.answers.splits
        for system in ("ours", "baseline")
    ]
    width = 0.8 / len(bars)
    for i, (split, system) in enumerate(bars):
        scores = report.answer_groups(system, split).overall
        values = [getattr(scores, f) or 0.0 for f in figures.values()]
        values[-1] = 1 - values[-1]  # shown as "higher is better" like the others
        offset = (i - (len(bars) - 1) / 2) * width
        label = f"{'ours' if system == 'ours' else 'top passage'}, {SPLIT_NAMES[split]}"
        answers.bar([x + offset for x in range(len(figures))], values, width, label=label)
    answers.set_xticks(range(len(figures)), list(figures))
    answers.set_title("Answers: ours vs the top /v1/search passage")
    answers.legend(fontsize="small")
    categories = list(DECLINE_REASONS)
    splits = [s for s in SPLIT_NAMES if s in report.answers.splits]
    width = 0.8 / max(len(splits), 1)
    for i, split in enumerate(splits):
        groups = report.answers.splits[split].by_category
        offset = (i - (len(splits) - 1) / 2) * width
        declines.bar(
            [x + offset for x in range(len(categories))],
            [(groups[c].out_of_scope_abstained or 0.0) if c in groups else 0.0 for c in categories],
            width,
            label=SPLIT_NAMES[split],
        )
    declines.set_xticks(range(len(categories)), categories)
    declines.set_title("Should-decline questions declined, by category")
    declines.legend(fontsize="small")
    for ax in (answers, declines):
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
