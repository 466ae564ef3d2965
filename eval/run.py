"""Run the evaluation: our hybrid retrieval and answers vs llama-index default baselines.

`python -m eval.run` scores the store named by the PEERQA_* settings and writes
eval/reports/report.{md,json,png}.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

from pydantic import BaseModel, Field

from answer.compose import DEFAULT_TOP_K as COMPOSE_K
from answer.compose import compose
from answer.decline import load_thresholds
from answer.followup import MAX_TURNS, retrieval_query
from eval.baselines import build_baselines
from eval.metrics import (
    BUDGET_WORDS,
    MRR_K,
    NDCG_K,
    RECALL_K,
    AnswerCheck,
    AnswerScores,
    QuestionRetrieval,
    RetrievalScores,
    Span,
    check_answer,
    ndcg_at_k,
    relevant_ids,
    score_question,
    summarise_answers,
    summarise_retrieval,
)
from eval.questions import CATEGORIES, GoldSpan, Question, gold_spans, load_questions
from ingest.pipeline import parse_sources
from peerqa.config import REPO_ROOT, Settings, get_settings
from retrieval.hybrid import LiveIndex

REPORTS_DIR = REPO_ROOT / "eval" / "reports"
RETRIEVE_K = 10
OURS = "peerqa"


class System(Protocol):
    name: str
    description: str

    @property
    def universe(self) -> Sequence[Span]: ...

    def retrieve(self, query: str) -> Sequence[Span]: ...


class Hybrid:
    """Our retrieval: `LiveIndex.search`, top RETRIEVE_K, no filters."""

    name = OURS
    description = (
        "peerqa hybrid over parsed passages: dense passages + dense sentences + BM25, "
        "late interaction (text; text under context) over their hits, query expansion, "
        "relative-score fusion, theme feedback; "
        f"top {RETRIEVE_K}"
    )

    def __init__(self, index: LiveIndex):
        self._index = index

    @property
    def universe(self) -> Sequence[Span]:
        return list(self._index.passages.values())

    def retrieve(self, query: str) -> Sequence[Span]:
        return self._index.search(query, top_k=RETRIEVE_K)


class SystemReport(BaseModel):
    name: str
    description: str
    overall: RetrievalScores
    by_category: dict[str, RetrievalScores]
    by_split: dict[str, RetrievalScores]
    questions: list[QuestionRetrieval]


class AnswerReport(BaseModel):
    overall: AnswerScores
    by_category: dict[str, AnswerScores]
    by_split: dict[str, AnswerScores]
    questions: list[AnswerCheck]


class OperatingPoint(BaseModel):
    retrieve_top_k: int = RETRIEVE_K
    compose_top_k: int = COMPOSE_K
    budget_words: int = BUDGET_WORDS
    recall_k: int = RECALL_K
    mrr_k: int = MRR_K
    ndcg_k: int = NDCG_K
    max_passage_words: int
    support_threshold: float = Field(
        default_factory=lambda: load_thresholds().support_below,
        description="answer.decline (fitted, answer/data/support.json): below it, out of scope",
    )
    followup_query: str = Field(description="How a followup's history joins its query")


class EvalReport(BaseModel):
    created: datetime
    corpus: dict[str, str] = Field(description="Document id -> sha256 of the source")
    operating_point: OperatingPoint
    questions: int
    in_scope: int
    systems: list[SystemReport] = Field(description="Ours first, then the baselines")
    answers: AnswerReport
    seconds: dict[str, float]

    @property
    def ours(self) -> SystemReport:
        return self.systems[0]

    def headline(self) -> dict[str, float]:
        """The gated figures, keyed as in eval/gate.json."""
        a = self.answers.overall
        return {
            "recall_at_5": self.ours.overall.recall_at_5,
            "mrr_at_10": self.ours.overall.mrr_at_10,
            "ndcg_at_10": self.ours.overall.ndcg_at_10,
            "answer_evidence_rate": a.evidence_rate or 0.0,
            "verbatim_rate": a.verbatim_rate if a.verbatim_rate is not None else 1.0,
            "out_of_scope_abstained": a.out_of_scope_abstained or 0.0,
            "max_in_scope_wrongly_abstained": a.in_scope_wrongly_abstained or 0.0,
            "max_invented_citations": float(a.invented_citations),
        }

    def weakest(self) -> list[QuestionRetrieval]:
        """Our questions missing gold in Recall@5, worst first (recall, then MRR)."""
        missed = [q for q in self.ours.questions if q.missing_gold]
        return sorted(missed, key=lambda q: (q.recall_at_5, q.mrr_at_10, q.id))


def run_eval(settings: Settings, out_dir: Path = REPORTS_DIR) -> EvalReport:
    clock = _Clock()
    index = LiveIndex(settings)
    index.require()
    parsed = parse_sources([], settings)
    sources = {d.info.id: d.text for d in parsed}
    questions = load_questions()
    in_scope = [q for q in questions if q.in_scope]
    gold = {q.id: gold_spans(q, sources) for q in in_scope}
    clock.lap("load")

    with build_baselines(
        index.store.client, index.embed_model, sources, settings.collection_prefix, RETRIEVE_K
    ) as baselines:
        clock.lap("baselines_build")
        systems: list[System] = [Hybrid(index), *baselines]
        reports = [score_system(s, in_scope, gold) for s in systems]
    clock.lap("retrieval")

    checks = [
        check_answer(
            q.id,
            q.category,
            q.in_scope,
            compose(index, q.question, top_k=COMPOSE_K, history=q.history),
            gold.get(q.id, []),
            sources,
        )
        for q in questions
    ]
    clock.lap("answers")

    split = {q.id: q.split for q in questions}
    report = EvalReport(
        created=datetime.now(UTC),
        corpus={d.info.id: d.info.sha256 for d in parsed},
        operating_point=OperatingPoint(
            max_passage_words=settings.max_passage_words,
            followup_query=f"answer.followup.retrieval_query (≤ {MAX_TURNS} earlier turns)",
        ),
        questions=len(questions),
        in_scope=len(in_scope),
        systems=reports,
        answers=AnswerReport(
            overall=summarise_answers(checks),
            by_category=_grouped(checks, lambda c: c.category, summarise_answers),
            by_split=_grouped(checks, lambda c: split[c.id], summarise_answers),
            questions=checks,
        ),
        seconds=clock.laps,
    )
    write_reports(report, out_dir, {q.id: q for q in questions})
    return report


def score_system(
    system: System, questions: Sequence[Question], gold: Mapping[str, list[GoldSpan]]
) -> SystemReport:
    # Every system gets the query the composer retrieves with (followups carry history).
    rankings = {
        q.id: list(system.retrieve(retrieval_query(q.question, q.history))) for q in questions
    }
    universe = system.universe
    ndcg = ndcg_at_k(rankings, {q.id: relevant_ids(universe, gold[q.id]) for q in questions})
    rows = [
        score_question(q.id, q.category, rankings[q.id], gold[q.id]).model_copy(
            update={"ndcg_at_10": ndcg[q.id]}
        )
        for q in questions
    ]
    split = {q.id: q.split for q in questions}
    return SystemReport(
        name=system.name,
        description=system.description,
        overall=summarise_retrieval(rows),
        by_category=_grouped(rows, lambda r: r.category, summarise_retrieval),
        by_split=_grouped(rows, lambda r: split[r.id], summarise_retrieval),
        questions=rows,
    )


_Row = TypeVar("_Row")
_Summary = TypeVar("_Summary")


def _grouped(
    rows: Iterable[_Row],
    key: Callable[[_Row], str],
    summarise: Callable[[list[_Row]], _Summary],
) -> dict[str, _Summary]:
    groups: dict[str, list[_Row]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    order = {c: i for i, c in enumerate(CATEGORIES)}
    return {k: summarise(groups[k]) for k in sorted(groups, key=lambda k: (order.get(k, -1), k))}


class _Clock:
    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 2)
        self._last = now


# -- rendering ---------------------------------------------------------------
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


def answer_table(report: EvalReport) -> list[list[str]]:
    rows = [
        [
            "group",
            "n",
            "cites gold",
            "verbatim",
            "invented",
            "abstained (out of scope)",
            "wrongly abstained (in scope)",
        ]
    ]
    groups = {"overall": report.answers.overall} | report.answers.by_category
    for name, a in groups.items():
        rows.append(
            [
                name,
                str(a.n),
                _fmt(a.evidence_rate),
                _fmt(a.verbatim_rate),
                str(a.invented_citations),
                _fmt(a.out_of_scope_abstained),
                _fmt(a.in_scope_wrongly_abstained),
            ]
        )
    return rows


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
    parts.append(f"Answers (compose, top {COMPOSE_K})\n{_plain(answer_table(report))}")
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
    out += ["", "## Answers", "", _markdown(answer_table(report))]
    out += ["", "## Calibrate and test splits (ours)", "", _markdown(split_table(report))]
    out += [
        "",
        "## Our questions with gold missing from Recall@5",
        "",
        _markdown(weakest_table(report, questions)),
    ]
    out += ["", "![report](report.png)", ""]
    return "\n".join(out)


def split_table(report: EvalReport) -> list[list[str]]:
    rows = [["split", "n", "Recall@5", "MRR@10", "nDCG@10", "cites gold", "abstained", "wrongly"]]
    for name, r in report.ours.by_split.items():
        a = report.answers.by_split[name]
        rows.append(
            [name, str(r.n)]
            + [_fmt(v) for v in (r.recall_at_5, r.mrr_at_10, r.ndcg_at_10, a.evidence_rate)]
            + [_fmt(a.out_of_scope_abstained), _fmt(a.in_scope_wrongly_abstained)]
        )
    return rows


def weakest_table(report: EvalReport, questions: Mapping[str, Question]) -> list[list[str]]:
    rows = [["id", "category", "recall@5", "MRR@10", "first relevant", "missing gold", "question"]]
    for q in report.weakest():
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


def plot(report: EvalReport, path: Path) -> None:
    from matplotlib.figure import Figure  # Figure with its Agg canvas: no pyplot, no GUI

    systems = report.systems
    metrics = {"Recall@5": "recall_at_5", "MRR@10": "mrr_at_10", "nDCG@10": "ndcg_at_10"}
    categories = list(report.ours.by_category)
    width = 0.8 / len(systems)
    fig = Figure(figsize=(14, 5), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 2.2])
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
    fig.savefig(path, dpi=110)


def write_reports(report: EvalReport, out_dir: Path, questions: Mapping[str, Question]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.md").write_text(render_markdown(report, questions), encoding="utf-8")
    (out_dir / "report.json").write_text(report.model_dump_json(indent=2), encoding="utf-8")
    plot(report, out_dir / "report.png")


if __name__ == "__main__":
    print(render_text(run_eval(get_settings())))
