"""Score a batch of unseen questions on the current store and fitted artefacts.

`python -m peerqa.eval.unseen eval/unseen/q1400.jsonl` answers every question of the file once and
prints, overall and per category, ours beside the baseline "the top search passage is the
answer": Recall@5 and MRR@10 (the baseline reads only the first passage of the same
ranking), the answer text holds gold, the first cited sentence holds gold, padding per
answer, caveats of the expected kind, should-decline questions declined (and with the
expected reason), in-scope questions wrongly declined.

A batch kept in eval/unseen/ is outside eval/questions.jsonl, so nothing is fitted on it:
its figures measure the product on questions it has never seen. Everything is scored by
eval/run.py and eval/metrics.py, exactly as `peerqa eval` scores the question set.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from peerqa.config import get_settings
from peerqa.eval.metrics import AnswerCheck, AnswerScores, RetrievalScores, Span, summarise_answers
from peerqa.eval.questions import (
    CAVEAT_CATEGORIES,
    DECLINE_REASONS,
    Question,
    gold_spans,
    load_questions,
)
from peerqa.eval.run import (
    Hybrid,
    SystemReport,
    _grouped,
    check_answers,
    check_top_passages,
    corpus_sources,
    score_system,
)
from peerqa.retrieval.hybrid import LiveIndex

OVERALL = "all"


class TopPassage:
    """Our ranking cut to its first passage: the baseline's retrieval figures."""

    name = "top passage"
    description = "the first passage of our ranking, read alone"

    def __init__(self, ours: Hybrid):
        self._ours = ours

    @property
    def universe(self) -> Sequence[Span]:
        return self._ours.universe

    def ranking(self, q: Question) -> Sequence[Span]:
        return self._ours.ranking(q)[:1]


class Scored(BaseModel):
    """One system's figures: retrieval, answers by group ("all" and each category), checks."""

    retrieval: SystemReport
    answers: dict[str, AnswerScores]
    checks: list[AnswerCheck]


class UnseenReport(BaseModel):
    questions: int
    ours: Scored
    top: Scored = Field(description="The baseline: the top search passage is the answer")


def score_batch(index: LiveIndex, questions: Sequence[Question]) -> UnseenReport:
    sources = corpus_sources(index.settings)
    gold = {q.id: gold_spans(q, sources) for q in questions}
    # Retrieval is scored on the plain in-scope questions, as in eval.run.run_eval.
    plain = [q for q in questions if q.in_scope and not q.expect and gold[q.id]]
    ours = Hybrid(index)
    checks = check_answers(index, questions, sources)
    top = check_top_passages(ours, questions, sources)
    return UnseenReport(
        questions=len(questions),
        ours=Scored(
            retrieval=score_system(ours, plain, gold), answers=_by_group(checks), checks=checks
        ),
        top=Scored(
            retrieval=score_system(TopPassage(ours), plain, gold),
            answers=_by_group(top),
            checks=top,
        ),
    )


def _by_group(checks: Sequence[AnswerCheck]) -> dict[str, AnswerScores]:
    return {OVERALL: summarise_answers(checks)} | _grouped(
        checks, lambda c: c.category, summarise_answers
    )


def _f(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _pair(ours: float | None, top: float | None, digits: int = 3) -> str:
    return "" if ours is None else f"{_f(ours, digits)} / {_f(top, digits)}"


def _retrieval(report: SystemReport, group: str) -> RetrievalScores | None:
    return report.overall if group == OVERALL else report.by_category.get(group)


def table(report: UnseenReport) -> str:
    """Markdown: one row per group, each figure as ours / the top passage."""
    head = [
        "group (n)",
        "R@5",
        "MRR@10",
        "text holds gold",
        "first cited holds gold",
        "padding / answer",
        "caveat expected (spurious)",
        "declined (right reason)",
        "wrongly declined",
    ]
    rows = [head, ["---"] * len(head)]
    for group, a in report.ours.answers.items():
        t = report.top.answers[group]
        r, rt = _retrieval(report.ours.retrieval, group), _retrieval(report.top.retrieval, group)
        gold_figures = group not in DECLINE_REASONS
        caveat = (
            f"{_f(a.caveat_correct)} ({_f(a.spurious_caveat)})"
            if group == OVERALL
            else _f(a.caveat_correct if group in CAVEAT_CATEGORIES else None)
        )
        declined = (
            ""
            if a.out_of_scope_abstained is None
            else f"{_f(a.out_of_scope_abstained)} ({_f(a.declined_right_reason)})"
        )
        with_gold = f"; {a.with_gold} with gold" if group in (OVERALL, *CAVEAT_CATEGORIES) else ""
        rows.append(
            [
                f"{group} ({a.n}{with_gold})",
                _pair(r.recall_at_5, rt.recall_at_5) if r and gold_figures else "",
                _pair(r.mrr_at_10, rt.mrr_at_10) if r and gold_figures else "",
                _pair(a.text_holds_gold, t.text_holds_gold) if gold_figures else "",
                _pair(a.first_holds_gold, t.first_holds_gold) if gold_figures else "",
                _pair(a.padding_mean, t.padding_mean, 2) if gold_figures else "",
                caveat,
                declined,
                _f(a.in_scope_wrongly_abstained),
            ]
        )
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def integrity(report: UnseenReport) -> str:
    a = report.ours.answers[OVERALL]
    return (
        f"verbatim {_f(a.verbatim_rate)}, invented citations {a.invented_citations}, "
        f"quotes whole {_f(a.quotes_whole)}, raw table rows or unrequested references "
        f"{_f(a.table_or_reference)}, front-matter pieces {a.front_matter}"
    )


def misses(report: UnseenReport, questions: Sequence[Question]) -> str:
    """One line per question whose answer misses: what it led with, for reading failures."""
    by_id = {q.id: q for q in questions}
    top = {c.id: c for c in report.top.checks}
    lines = []
    for c in report.ours.checks:
        q = by_id[c.id]
        if q.in_scope:
            wrong_caveat = q.expect is not None and c.caveat != q.expect
            ok = not c.abstained and (c.first_holds_gold or not c.has_gold) and not wrong_caveat
            if c.caveat and not q.expect:
                ok = False
        else:
            ok = c.abstained and c.reason_code == c.expect_reason
        if ok:
            continue
        lead = c.pieces[0].text if c.pieces else ""
        state = (
            f"declined:{c.reason_code}"
            if c.abstained
            else f"text={int(c.text_holds_gold)} first={int(c.first_holds_gold)} "
            f"top={int(top[c.id].text_holds_gold)}/{int(top[c.id].first_holds_gold)} "
            f"caveat={c.caveat}"
        )
        lines.append(f"{c.id} [{c.category}] {q.question!r} -> {state} | lead: {lead[:110]!r}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m peerqa.eval.unseen", description=__doc__)
    parser.add_argument("batch", type=Path, help="a JSONL file in eval/questions.jsonl's schema")
    parser.add_argument("--json", type=Path, help="write the whole report (per question) here")
    parser.add_argument("--misses", action="store_true", help="list the questions missed")
    args = parser.parse_args(argv)
    questions = load_questions(args.batch)
    index = LiveIndex(get_settings())
    index.require()
    report = score_batch(index, questions)
    print(table(report))
    print()
    print(integrity(report))
    if args.misses:
        print()
        print(misses(report, questions))
    if args.json:
        args.json.write_text(report.model_dump_json(indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
