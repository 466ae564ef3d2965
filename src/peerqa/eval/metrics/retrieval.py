"""Retrieval metrics: which passages a reader reads within the budget, and Recall@5,
MRR@10 and nDCG@10 over them (eval/metrics/__init__.py defines relevance and the budget)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from statistics import fmean
from typing import Protocol

from pydantic import BaseModel, Field

from peerqa.eval.questions import GoldSpan
from peerqa.words import SPACED_WORD as _WORD

BUDGET_WORDS = 600
RECALL_K = 5
MRR_K = 10
NDCG_K = 10


class Span(Protocol):
    """A ranked passage with its offsets: our ScoredPassage and the baselines' chunks alike."""

    @property
    def id(self) -> str: ...
    @property
    def document(self) -> str: ...
    @property
    def char_start(self) -> int: ...
    @property
    def char_end(self) -> int: ...
    @property
    def text(self) -> str: ...


class ReadSpan(BaseModel):
    """What the reader actually read of one ranked passage."""

    id: str
    document: str
    char_start: int
    char_end: int


# -- relevance and budget ---------------------------------------------------
def covers(document: str, start: int, end: int, gold: GoldSpan) -> bool:
    if document != gold.document:
        return False
    overlap = min(end, gold.char_end) - max(start, gold.char_start)
    return 2 * overlap >= gold.char_end - gold.char_start


def snippets_found(read: ReadSpan | Span, gold: Iterable[GoldSpan]) -> set[int]:
    return {g.snippet for g in gold if covers(read.document, read.char_start, read.char_end, g)}


def read_within_budget(ranked: Sequence[Span], budget: int = BUDGET_WORDS) -> list[ReadSpan]:
    """The ranked passages a reader gets to, each cut to the words read (module docstring)."""
    read: list[ReadSpan] = []
    left = budget
    for passage in ranked:
        if left <= 0:
            break
        words = list(_WORD.finditer(passage.text))
        # Offsets stay exact because a passage's text is its source span.
        end = passage.char_start + words[left - 1].end() if len(words) > left else passage.char_end
        read.append(
            ReadSpan(
                id=passage.id,
                document=passage.document,
                char_start=passage.char_start,
                char_end=end,
            )
        )
        left -= len(words)
    return read


def found_in_first(
    read: Sequence[ReadSpan], gold: Sequence[GoldSpan], k: int = RECALL_K
) -> set[int]:
    """The distinct gold snippets (indices) found in the first k passages read."""
    return set().union(*(snippets_found(r, gold) for r in read[:k]))


def recall_at_k(read: Sequence[ReadSpan], gold: Sequence[GoldSpan], k: int = RECALL_K) -> float:
    return len(found_in_first(read, gold, k)) / _distinct(gold)


def first_relevant_rank(
    read: Sequence[ReadSpan], gold: Sequence[GoldSpan], k: int = MRR_K
) -> int | None:
    return next((rank for rank, r in enumerate(read[:k], 1) if snippets_found(r, gold)), None)


def reciprocal_rank(read: Sequence[ReadSpan], gold: Sequence[GoldSpan], k: int = MRR_K) -> float:
    rank = first_relevant_rank(read, gold, k)
    return 1 / rank if rank else 0.0


def _distinct(gold: Sequence[GoldSpan]) -> int:
    return len({g.snippet for g in gold})


def relevant_ids(universe: Iterable[Span], gold: Sequence[GoldSpan]) -> set[str]:
    """Qrels for one question: every passage of a system's index that holds gold evidence."""
    return {p.id for p in universe if snippets_found(p, gold)}


def ndcg_at_k(
    rankings: Mapping[str, Sequence[Span]],
    relevant: Mapping[str, set[str]],
    k: int = NDCG_K,
) -> dict[str, float]:
    """Per-question nDCG@k by ranx (binary grades). Questions with no relevant passage in
    the system's index score 0."""
    from ranx import Qrels, Run, evaluate  # slow import (numba): only when scoring

    qrels = Qrels.from_dict({q: dict.fromkeys(ids, 1) for q, ids in relevant.items() if ids})
    # ranx re-sorts by score and RRF scores tie; rank-derived scores keep the system's order.
    run = Run.from_dict(
        {
            q: {p.id: float(len(ranked) - i) for i, p in enumerate(ranked[:k])}
            for q, ranked in rankings.items()
            if ranked
        }
    )
    metric = f"ndcg@{k}"
    evaluate(qrels, run, metric, make_comparable=True)
    scores = run.scores[metric]
    return {q: float(scores.get(q, 0.0)) for q in rankings}


class QuestionRetrieval(BaseModel):
    id: str
    category: str
    recall_at_5: float
    mrr_at_10: float
    ndcg_at_10: float = 0.0
    gold_found: int = Field(description="Distinct gold snippets among the first 5 passages read")
    gold_total: int
    missing_gold: list[int] = Field(description="Indices of the gold snippets not found")
    first_relevant_rank: int | None = Field(description="Within top 10 and the budget")
    ranked: list[str] = Field(description="Passage ids, best first")
    passages_read: int = Field(description="Ranked passages reached within the budget")


class RetrievalScores(BaseModel):
    n: int
    recall_at_5: float
    mrr_at_10: float
    ndcg_at_10: float


def score_question(
    qid: str, category: str, ranked: Sequence[Span], gold: Sequence[GoldSpan]
) -> QuestionRetrieval:
    """Budgeted Recall@5 and MRR@10 for one ranking; nDCG@10 is filled in per system."""
    read = read_within_budget(ranked)
    rank = first_relevant_rank(read, gold)
    found = found_in_first(read, gold)
    return QuestionRetrieval(
        id=qid,
        category=category,
        recall_at_5=recall_at_k(read, gold),
        mrr_at_10=1 / rank if rank else 0.0,
        gold_found=len(found),
        gold_total=_distinct(gold),
        missing_gold=sorted({g.snippet for g in gold} - found),
        first_relevant_rank=rank,
        ranked=[p.id for p in ranked],
        passages_read=len(read),
    )


def summarise_retrieval(rows: Sequence[QuestionRetrieval]) -> RetrievalScores:
    return RetrievalScores(
        n=len(rows),
        recall_at_5=fmean(r.recall_at_5 for r in rows),
        mrr_at_10=fmean(r.mrr_at_10 for r in rows),
        ndcg_at_10=fmean(r.ndcg_at_10 for r in rows),
    )
