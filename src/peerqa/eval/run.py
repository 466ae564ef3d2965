"""Run the evaluation: our hybrid retrieval and answers vs llama-index default baselines.

`python -m peerqa.eval.run` scores the store named by the PEERQA_* settings and writes
eval/reports/report.{md,json,png}.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

from pydantic import BaseModel, Field

from peerqa.answer.compose import DEFAULT_TOP_K as COMPOSE_K
from peerqa.answer.compose import compose, retrieve
from peerqa.answer.decline import load_thresholds
from peerqa.answer.followup import MAX_TURNS
from peerqa.answer.question import Question as Understood
from peerqa.answer.question import understand
from peerqa.config import PACKAGE_DIR, Settings, get_settings
from peerqa.eval.baselines import build_baselines
from peerqa.eval.metrics import (
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
    check_top_passage,
    ndcg_at_k,
    quote_spans,
    relevant_ids,
    score_question,
    summarise_answers,
    summarise_retrieval,
)
from peerqa.eval.questions import (
    CATEGORIES,
    DECLINE_REASONS,
    GoldSpan,
    Question,
    gold_spans,
    load_questions,
)
from peerqa.index.pipeline import parse_sources
from peerqa.models import Answer, ScoredPassage
from peerqa.retrieval.hybrid import LiveIndex

REPORTS_DIR = PACKAGE_DIR / "eval" / "reports"
RETRIEVE_K = 10
OURS = "peerqa"
SPLIT_NAMES = {"calibrate": "non-test", "test": "test"}


class Searched(Protocol):
    """What a report names and scores: a system, or a baseline, over its passages."""

    name: str
    description: str

    @property
    def universe(self) -> Sequence[Span]: ...


class System(Searched, Protocol):
    def ranking(self, q: Question) -> Sequence[Span]: ...


class TextSearch(Searched, Protocol):
    """A llama-index baseline (eval.baselines): searches text."""

    def retrieve(self, query: str) -> Sequence[Span]: ...


class Hybrid:
    """Our retrieval as the product runs it: the question understood in its session
    (`answer.question.understand`: resolved text, and a follow-up's blended vector), then
    `answer.compose.retrieve`, no filters. Each question is understood once; the baselines
    read its resolved text."""

    name = OURS
    description = (
        "peerqa hybrid over parsed passages: dense passages + dense sentences + BM25, "
        "late interaction (text; text under context) over their hits, query expansion, "
        "relative-score fusion, theme feedback; "
        f"top {RETRIEVE_K}"
    )

    def __init__(self, index: LiveIndex):
        self._index = index
        self._understood: dict[tuple[str, tuple[str, ...]], Understood] = {}
        self._ranked: dict[tuple[str, tuple[str, ...], int], list[ScoredPassage]] = {}

    @property
    def universe(self) -> Sequence[Span]:
        return list(self._index.passages.values())

    def understood(self, q: Question) -> Understood:
        key = (q.question, tuple(q.history))
        if key not in self._understood:
            self._understood[key] = understand(self._index, q.question, q.history)
        return self._understood[key]

    def ranking(self, q: Question, top_k: int = RETRIEVE_K) -> list[ScoredPassage]:
        """The product's ranking for `q`: top RETRIEVE_K for retrieval figures, COMPOSE_K
        for the passages the composer reads (its first is the baseline answer)."""
        key = (q.question, tuple(q.history), top_k)
        if key not in self._ranked:
            self._ranked[key] = retrieve(self._index, self.understood(q), top_k)
        return self._ranked[key]


class ReadsResolved:
    """A text baseline given the resolved text our composer's question understanding
    makes (a follow-up joined to the turns it refers to)."""

    def __init__(self, baseline: TextSearch, ours: Hybrid):
        self.name, self.description = baseline.name, baseline.description
        self._baseline, self._ours = baseline, ours

    @property
    def universe(self) -> Sequence[Span]:
        return self._baseline.universe

    def ranking(self, q: Question) -> Sequence[Span]:
        return self._baseline.retrieve(self._ours.understood(q).resolved)


class SystemReport(BaseModel):
    name: str
    description: str
    overall: RetrievalScores
    by_category: dict[str, RetrievalScores]
    by_split: dict[str, RetrievalScores]
    questions: list[QuestionRetrieval]


class AnswerGroups(BaseModel):
    overall: AnswerScores
    by_category: dict[str, AnswerScores]


class AnswerReport(BaseModel):
    """Ours (the composer) and the baseline (the top /v1/search passage as the answer),
    scored the same way; `splits` has each split on its own ("calibrate" is non-test)."""

    overall: AnswerScores
    by_category: dict[str, AnswerScores]
    by_split: dict[str, AnswerScores]
    splits: dict[str, AnswerGroups] = Field(default_factory=dict)
    baseline: dict[str, AnswerGroups] = Field(
        default_factory=dict, description="Split (and 'all') -> the top passage's scores"
    )
    questions: list[AnswerCheck] = Field(
        default_factory=list, description="Per question; written to answers.jsonl"
    )
    baseline_questions: list[AnswerCheck] = Field(default_factory=list)


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
        """The gated figures (all questions, both splits), keyed as in eval/gate.json."""
        a = self.answers.overall
        figures = {
            "recall_at_5": self.ours.overall.recall_at_5,
            "mrr_at_10": self.ours.overall.mrr_at_10,
            "ndcg_at_10": self.ours.overall.ndcg_at_10,
            "answer_evidence_rate": a.evidence_rate or 0.0,
            "verbatim_rate": a.verbatim_rate if a.verbatim_rate is not None else 1.0,
            "out_of_scope_abstained": a.out_of_scope_abstained or 0.0,
            "max_in_scope_wrongly_abstained": a.in_scope_wrongly_abstained or 0.0,
            "max_invented_citations": float(a.invented_citations),
            "answer_text_holds_gold": a.text_holds_gold or 0.0,
            "answer_first_holds_gold": a.first_holds_gold or 0.0,
            "max_padding_share": _or(a.padding_share, 0.0),
            "max_table_or_reference": _or(a.table_or_reference, 0.0),
            "max_front_matter": float(a.front_matter),
            "quotes_whole": _or(a.quotes_whole, 1.0),
            "declined_right_reason": a.declined_right_reason or 0.0,
            "caveat_correct": a.caveat_correct or 0.0,
            "max_spurious_caveat": _or(a.spurious_caveat, 0.0),
        }
        for category in DECLINE_REASONS:
            scores = self.answers.by_category.get(category)
            if scores is not None:
                figures[f"declined_{category}"] = scores.out_of_scope_abstained or 0.0
        return figures

    def answer_groups(self, system: str, split: str) -> AnswerGroups:
        """`system` "ours" or "baseline"; `split` "all", "calibrate" or "test"."""
        if system == "baseline":
            return self.answers.baseline[split]
        if split == "all":
            return AnswerGroups(overall=self.answers.overall, by_category=self.answers.by_category)
        return self.answers.splits[split]

    def weakest(self) -> list[QuestionRetrieval]:
        """Our questions missing gold in Recall@5, worst first (recall, then MRR)."""
        missed = [q for q in self.ours.questions if q.missing_gold]
        return sorted(missed, key=lambda q: (q.recall_at_5, q.mrr_at_10, q.id))


def run_eval(settings: Settings, out_dir: Path = REPORTS_DIR) -> EvalReport:
    clock = _Clock()
    index = LiveIndex(settings)
    index.require()
    parsed = parse_sources([], settings)
    sources = {d.info.id: d.text for d in parsed}  # as corpus_sources(), keeping the hashes
    questions = load_questions()
    # Retrieval is scored on the plain in-scope questions (a caveat question's gold is only
    # the nearest evidence, and may be missing).
    in_scope = [q for q in questions if q.in_scope and not q.expect]
    gold = {q.id: gold_spans(q, sources) for q in questions}
    clock.lap("load")

    with build_baselines(
        index.store.client, index.embed_model, sources, settings.collection_prefix, RETRIEVE_K
    ) as baselines:
        clock.lap("baselines_build")
        ours = Hybrid(index)
        systems: list[System] = [ours, *(ReadsResolved(b, ours) for b in baselines)]
        reports = []
        for system in systems:
            reports.append(score_system(system, in_scope, gold))
            clock.lap(f"retrieval_{system.name}")

    checks = check_answers(index, questions, sources)
    clock.lap("answers")
    top = check_top_passages(ours, questions, sources)
    clock.lap("baseline_answers")

    split = {q.id: q.split for q in questions}
    report = EvalReport(
        created=datetime.now(UTC),
        corpus={d.info.id: d.info.sha256 for d in parsed},
        operating_point=OperatingPoint(
            max_passage_words=settings.max_passage_words,
            followup_query=(
                f"answer.question.understand (resolved against ≤ {MAX_TURNS} earlier turns; "
                "a follow-up's vector blends its own) and answer.compose.retrieve"
            ),
        ),
        questions=len(questions),
        in_scope=len(in_scope),
        systems=reports,
        answers=AnswerReport(
            overall=summarise_answers(checks),
            by_category=_grouped(checks, lambda c: c.category, summarise_answers),
            by_split=_grouped(checks, lambda c: split[c.id], summarise_answers),
            splits=_split_groups(checks, split),
            baseline={"all": _answer_groups(top)} | _split_groups(top, split),
            questions=checks,
            baseline_questions=top,
        ),
        seconds=clock.laps,
    )
    write_reports(report, out_dir, {q.id: q for q in questions})
    return report


def corpus_sources(settings: Settings) -> dict[str, str]:
    """Document id -> source text: what gold spans and answer pieces are located in."""
    return {d.info.id: d.text for d in parse_sources([], settings)}


def check_answers(
    index: LiveIndex,
    questions: Sequence[Question],
    sources: Mapping[str, str],
    answer: Callable[[LiveIndex, Question], Answer] | None = None,
) -> list[AnswerCheck]:
    """Answer each question once and score it (every answer-level figure reads these).

    For cross-validation: `summarise_answers(check_answers(index, fold.validate, sources,
    answer=my_fitted_layer))`. `answer` defaults to the product's composer."""
    answer = answer or _compose
    quotes = {doc: quote_spans(text) for doc, text in sources.items()}
    return [
        check_answer(
            q.id,
            q.category,
            q.in_scope,
            answer(index, q),
            gold_spans(q, sources),
            sources,
            expect=q.expect,
            expect_reason=q.expect_reason,
            quotes=quotes,
            literature=q.asks_literature,
        )
        for q in questions
    ]


def _compose(index: LiveIndex, q: Question) -> Answer:
    return compose(index, q.question, top_k=COMPOSE_K, history=q.history)


def check_top_passages(
    search: Hybrid | LiveIndex, questions: Sequence[Question], sources: Mapping[str, str]
) -> list[AnswerCheck]:
    """The baseline beside `check_answers`: for each question, the first passage the
    composer retrieves (the same understanding and search), as the answer."""
    ours = search if isinstance(search, Hybrid) else Hybrid(search)
    quotes = {doc: quote_spans(text) for doc, text in sources.items()}
    checks = []
    for q in questions:
        results = ours.ranking(q, COMPOSE_K)
        first = results[0] if results else None
        checks.append(check_top_passage(q, first, gold_spans(q, sources), sources, quotes))
    return checks


def _answer_groups(checks: Sequence[AnswerCheck]) -> AnswerGroups:
    return AnswerGroups(
        overall=summarise_answers(checks),
        by_category=_grouped(checks, lambda c: c.category, summarise_answers),
    )


def _split_groups(
    checks: Sequence[AnswerCheck], split: Mapping[str, str]
) -> dict[str, AnswerGroups]:
    groups: dict[str, list[AnswerCheck]] = {}
    for c in checks:
        groups.setdefault(split[c.id], []).append(c)
    return {name: _answer_groups(groups[name]) for name in SPLIT_NAMES if name in groups}


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def score_system(
    system: System, questions: Sequence[Question], gold: Mapping[str, list[GoldSpan]]
) -> SystemReport:
    # Ours ranks as the composer retrieves; the baselines read the same resolved text.
    rankings = {q.id: list(system.ranking(q)) for q in questions}
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
            [
                _or(groups[c].out_of_scope_abstained, 0.0) if c in groups else 0.0
                for c in categories
            ],
            width,
            label=SPLIT_NAMES[split],
        )
    declines.set_xticks(range(len(categories)), categories)
    declines.set_title("Should-decline questions declined, by category")
    declines.legend(fontsize="small")
    for ax in (answers, declines):
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)


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


if __name__ == "__main__":
    print(render_text(run_eval(get_settings())))
