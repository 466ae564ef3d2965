"""Run the evaluation: our hybrid retrieval and answers vs llama-index default baselines.

`python -m peerqa.eval.run` scores the store named by the PEERQA_* settings and writes
eval/reports/report.{md,json,png}.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

from peerqa.answer.compose import DEFAULT_TOP_K as COMPOSE_K
from peerqa.answer.compose import compose, retrieve
from peerqa.answer.followup import MAX_TURNS
from peerqa.answer.question import Question as Understood
from peerqa.answer.question import understand
from peerqa.config import PACKAGE_DIR, Settings, get_settings
from peerqa.embedding import QueryEncoding
from peerqa.eval.baselines import build_baselines
from peerqa.eval.metrics import (
    AnswerCheck,
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
from peerqa.eval.questions import CATEGORIES, GoldSpan, Question, gold_spans, load_questions
from peerqa.eval.render import render_text, write_reports
from peerqa.eval.report import (
    RETRIEVE_K,
    SPLIT_NAMES,
    AnswerGroups,
    AnswerReport,
    EvalReport,
    OperatingPoint,
    SystemReport,
)
from peerqa.index.pipeline import parse_sources
from peerqa.models import Answer, Filters, ScoredPassage
from peerqa.retrieval.hybrid import LiveIndex

REPORTS_DIR = PACKAGE_DIR / "eval" / "reports"
OURS = "peerqa"


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
        searched = SearchedOnce(index)
        ours = Hybrid(searched)
        systems: list[System] = [ours, *(ReadsResolved(b, ours) for b in baselines)]
        reports = []
        for system in systems:
            reports.append(score_system(system, in_scope, gold))
            clock.lap(f"retrieval_{system.name}")

    checks = check_answers(searched, questions, sources)
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


class SearchedOnce:
    """The index, answering each distinct search of a run once: the composer's search for
    a question (answer.compose.retrieve, COMPOSE_K) is the top-passage baseline's, and
    the run scores both."""

    def __init__(self, index: LiveIndex):
        self._index = index
        self._found: dict[tuple, list[ScoredPassage]] = {}

    def __getattr__(self, name: str):
        return getattr(self._index, name)

    def search(
        self,
        query: str,
        top_k: int = 5,
        filters: Filters | None = None,
        encoding: QueryEncoding | None = None,
    ) -> list[ScoredPassage]:
        key = (query, top_k, repr(filters), encoding and encoding.vector)
        if key not in self._found:
            self._found[key] = self._index.search(query, top_k, filters, encoding)
        return [p.model_copy() for p in self._found[key]]


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


if __name__ == "__main__":
    print(render_text(run_eval(get_settings())))
