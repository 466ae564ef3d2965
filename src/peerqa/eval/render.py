"""The evaluation report written out: report.md (tables of every figure, ours beside the
baselines), report.json, answers.jsonl (one line per question, ours beside the top
passage) and report.png (eval/plot.py); `render_text` for the terminal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from peerqa.eval.metrics import BUDGET_WORDS, MRR_K, NDCG_K, RECALL_K, AnswerScores
from peerqa.eval.plot import plot
from peerqa.eval.questions import DECLINE_REASONS, Question
from peerqa.eval.report import SPLIT_NAMES, EvalReport


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def retrieval_tables(report: EvalReport) -> dict[str, list[list[str]]]:
    """One table per retrieval metric: rows overall + categories, columns systems."""
    names = [s.name for s in report.systems]
    categories = list(report.ours.by_category)
    titles = {
        "recall_at_5": f"Recall@{RECALL_K} ({BUDGET_WORDS}-word budget)",
        "mrr_at_10": f"MRR@{MRR_K} ({BUDGET_WORDS}-word budget)",
        "ndcg_at_10": f"nDCG@{NDCG_K} (ranx)",
    }
    tables = {}
    for metric, title in titles.items():
        rows = [["category", "n", *names]]
        rows.append(
            ["overall", str(report.in_scope)]
            + [_fmt(getattr(s.overall, metric)) for s in report.systems]
        )
        for c in categories:
            rows.append(
                [c, str(report.ours.by_category[c].n)]
                + [_fmt(getattr(s.by_category[c], metric)) for s in report.systems]
            )
        tables[title] = rows
    return tables


def _pair(ours: float | None, top: float | None) -> str:
    return f"{_fmt(ours)} / {_fmt(top)}"


def _count(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def answer_tables(report: EvalReport, split: str) -> dict[str, list[list[str]]]:
    """The answer-level figures of one split ("all", "calibrate", "test"): ours / the top
    search passage, overall and per category (see eval/README.md for the definitions)."""
    ours = report.answer_groups("ours", split)
    top = report.answer_groups("baseline", split)
    groups = {"overall": ours.overall} | ours.by_category
    tops = {"overall": top.overall} | top.by_category
    in_scope = [g for g in groups if g == "overall" or g not in DECLINE_REASONS]
    gold = [
        [
            "category",
            "n with gold",
            "text holds gold",
            "first sentence holds gold",
            "cites gold",
            "padding / answer",
            "answers padded",
            "wrongly declined",
        ]
    ]
    for g in in_scope:
        a, t = groups[g], tops[g]
        if not a.with_gold:
            continue
        gold.append(
            [
                g,
                str(a.with_gold),
                _pair(a.text_holds_gold, t.text_holds_gold),
                _pair(a.first_holds_gold, t.first_holds_gold),
                _pair(a.evidence_rate, t.evidence_rate),
                f"{_count(a.padding_mean)} / {_count(t.padding_mean)}",
                _pair(a.padding_share, t.padding_share),
                _fmt(a.in_scope_wrongly_abstained),
            ]
        )
    form = [
        [
            "category",
            "n",
            "raw table rows or unrequested references",
            "front matter pieces",
            "quotes whole",
            "verbatim",
            "invented citations",
            "words / answer",
        ]
    ]
    for g in groups:
        a, t = groups[g], tops[g]
        form.append(
            [
                g,
                str(a.n),
                _pair(a.table_or_reference, t.table_or_reference),
                f"{a.front_matter} / {t.front_matter}",
                _pair(a.quotes_whole, t.quotes_whole),
                _fmt(a.verbatim_rate),
                str(a.invented_citations),
                f"{_count(a.words_mean)} / {_count(t.words_mean)}",
            ]
        )
    decline = [["category", "n", "declined", "declined with the expected reason_code"]]
    for g in ["overall", *DECLINE_REASONS]:
        a = groups.get(g)
        if a is None or a.out_of_scope_abstained is None:
            continue
        name = "all should-decline" if g == "overall" else g
        decline.append(
            [
                name,
                str(_should_decline(a, g, groups)),
                _pair(a.out_of_scope_abstained, tops[g].out_of_scope_abstained),
                _pair(a.declined_right_reason, tops[g].declined_right_reason),
            ]
        )
    caveats = [["category", "n", "caveat of the expected kind", "not declined"]]
    for g in ["false_premise", "not_reported"]:
        a = groups.get(g)
        if a is None:
            continue
        caveats.append(
            [
                g,
                str(a.n),
                _pair(a.caveat_correct, tops[g].caveat_correct),
                _fmt(
                    None
                    if a.in_scope_wrongly_abstained is None
                    else 1 - a.in_scope_wrongly_abstained
                ),
            ]
        )
    caveats.append(
        [
            "plain in-scope answers carrying a caveat (lower is better)",
            "",
            _pair(ours.overall.spurious_caveat, top.overall.spurious_caveat),
            "",
        ]
    )
    return {
        "Answers that hold the gold evidence (ours / top passage)": gold,
        "Form of the answer (ours / top passage)": form,
        "Declining (ours / top passage)": decline,
        "Caveats for false premises and unreported figures (ours / top passage)": caveats,
    }


def _should_decline(a: AnswerScores, group: str, groups: Mapping[str, AnswerScores]) -> int:
    if group != "overall":
        return a.n
    return sum(groups[c].n for c in DECLINE_REASONS if c in groups)


def _markdown(rows: list[list[str]]) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])


def _plain(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )


def render_text(report: EvalReport) -> str:
    parts = [f"{title}\n{_plain(rows)}" for title, rows in retrieval_tables(report).items()]
    for split in ("calibrate", "test"):
        if split not in report.answers.splits:
            continue
        for title, rows in answer_tables(report, split).items():
            parts.append(f"{title}, {SPLIT_NAMES[split]} split\n{_plain(rows)}")
    return "\n\n".join(parts)


def render_markdown(report: EvalReport, questions: Mapping[str, Question]) -> str:
    op = report.operating_point
    corpus = ", ".join(f"`{doc}` sha256 `{sha}`" for doc, sha in report.corpus.items())
    out = [
        "# peerqa evaluation report",
        "",
        f"- date: {report.created:%Y-%m-%d %H:%M} UTC",
        f"- corpus: {corpus}",
        f"- questions: {report.questions} ({report.in_scope} in scope)",
        f"- operating point: retrieval top {op.retrieve_top_k}, compose top {op.compose_top_k}, "
        f"reading budget {op.budget_words} words, passages ≤ {op.max_passage_words} words, "
        f"abstention support threshold {op.support_threshold}, "
        f"followups retrieved with {op.followup_query}",
        "- relevance: a passage's span (cut at the budget) overlaps a gold span of the same "
        "document by ≥ half the gold span",
        "",
        "## Systems",
        "",
        *[f"- **{s.name}**: {s.description}" for s in report.systems],
    ]
    for title, rows in retrieval_tables(report).items():
        out += ["", f"## {title}", "", _markdown(rows)]
    out += ["", "## Retrieval by split (ours)", "", _markdown(split_table(report))]
    out += ["", ANSWER_NOTE]
    for split in ("calibrate", "test"):
        if split not in report.answers.splits:
            continue
        n = report.answers.splits[split].overall.n
        out += ["", f"## Answers, {SPLIT_NAMES[split]} split ({n} questions)"]
        for title, rows in answer_tables(report, split).items():
            out += ["", f"### {title}", "", _markdown(rows)]
    out += [
        "",
        "## Our non-test questions with gold missing from Recall@5",
        "",
        _markdown(weakest_table(report, questions)),
    ]
    out += ["", "![report](report.png)", ""]
    return "\n".join(out)


def split_table(report: EvalReport) -> list[list[str]]:
    rows = [["split", "n", "Recall@5", "MRR@10", "nDCG@10"]]
    for name, r in report.ours.by_split.items():
        rows.append(
            [SPLIT_NAMES.get(name, name), str(r.n)]
            + [_fmt(v) for v in (r.recall_at_5, r.mrr_at_10, r.ndcg_at_10)]
        )
    return rows


ANSWER_NOTE = (
    "Answer figures: ours (the composer) / the baseline, the top `/v1/search` passage taken "
    "as the answer, scored the same way. A piece (cited sentence, or the baseline's "
    "sentence) holds gold when its span in the source overlaps a gold span by at least half "
    "of the gold span; the baseline's text is its whole passage. Definitions: eval/README.md."
)


def weakest_table(report: EvalReport, questions: Mapping[str, Question]) -> list[list[str]]:
    rows = [["id", "category", "recall@5", "MRR@10", "first relevant", "missing gold", "question"]]
    # Test questions are left out: reading them invites tuning to them.
    for q in (q for q in report.weakest() if questions[q.id].split != "test"):
        rank = str(q.first_relevant_rank) if q.first_relevant_rank else "–"
        missing = "; ".join(f"“{_clip(questions[q.id].gold[i])}”" for i in q.missing_gold)
        rows.append(
            [
                q.id,
                q.category,
                _fmt(q.recall_at_5),
                _fmt(q.mrr_at_10),
                rank,
                missing,
                questions[q.id].question.replace("|", "/"),
            ]
        )
    return rows


def _clip(text: str, words: int = 8) -> str:
    head = text.split()
    return " ".join(head[:words]) + (" …" if len(head) > words else "")


def write_reports(report: EvalReport, out_dir: Path, questions: Mapping[str, Question]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.md").write_text(render_markdown(report, questions), encoding="utf-8")
    per_question = {"answers": {"questions", "baseline_questions"}}
    (out_dir / "report.json").write_text(
        report.model_dump_json(indent=1, exclude=per_question), encoding="utf-8"
    )
    (out_dir / "answers.jsonl").write_text(answer_lines(report, questions), encoding="utf-8")
    plot(report, out_dir / "report.png")


def answer_lines(report: EvalReport, questions: Mapping[str, Question]) -> str:
    """One line per question, ours and the baseline's checks side by side, so two runs
    diff line by line (`git diff --word-diff eval/reports/answers.jsonl`)."""
    top = {c.id: c for c in report.answers.baseline_questions}
    lines = []
    for c in report.answers.questions:
        row = {
            "id": c.id,
            "split": questions[c.id].split,
            "ours": c.model_dump(mode="json", exclude_defaults=True, exclude={"id", "category"}),
            "top": top[c.id].model_dump(
                mode="json", exclude_defaults=True, exclude={"id", "category"}
            ),
        }
        lines.append(json.dumps(row, ensure_ascii=False))
    return "\n".join(lines) + "\n"
