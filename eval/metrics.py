"""Retrieval and answer metrics, scored by character span against the gold evidence.

Relevance. A passage (or the part of it that was read) is relevant to a gold occurrence
when both lie in the same document and their [char_start, char_end) spans overlap by at
least half of the gold span (containing the gold span is the full case). A question's
gold snippets are distinct evidence; a snippet found at any of its occurrences is found.

Reading budget. A reader goes down the ranking reading at most BUDGET_WORDS words
(whitespace-separated tokens, as `str.split()` counts them). Every passage that fits is
read whole; the passage that crosses the budget is read up to its last word within the
budget (its span is cut there, so only gold inside the words read can count) and the
ones after it are not read at all. The first passage is therefore always read, up to
BUDGET_WORDS words. Recall@5 and MRR@10 only see what was read, so big chunks cannot buy
recall; nDCG@10 is the unbudgeted ranx figure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from statistics import fmean
from typing import Protocol

from pydantic import BaseModel, Field, computed_field

from eval.questions import GoldSpan
from peerqa.models import Answer

BUDGET_WORDS = 600
RECALL_K = 5
MRR_K = 10
NDCG_K = 10

_WORD = re.compile(r"\S+")
# One or more adjacent markers close a cited sentence: "… alone. [1][3]".
_MARKER_GROUP = re.compile(r"((?:\s*\[\d+\])+)")
_MARKER = re.compile(r"\[\d+\]")
# Left over at a segment's start by the previous sentence's punctuation or a list bullet.
_LEAD = " \t.;,:-•*"


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


# -- retrieval per question and summaries -----------------------------------
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


# -- answers ------------------------------------------------------------------
class CitedSentence(BaseModel):
    text: str
    markers: list[str]


class AnswerCheck(BaseModel):
    id: str
    category: str
    in_scope: bool
    abstained: bool
    has_evidence: bool = Field(description="A citation holds gold evidence")
    sentences: int = Field(description="Sentences carrying a marker")
    verbatim: int = Field(description="Of those, verbatim substrings of a cited passage")
    not_verbatim: list[str] = Field(default_factory=list)
    unresolved_markers: list[str] = Field(default_factory=list)
    unused_citations: list[str] = Field(default_factory=list)
    misquoted_citations: list[str] = Field(
        default_factory=list, description="Citation text is not its source span"
    )

    @computed_field
    @property
    def invented(self) -> int:
        return (
            len(self.unresolved_markers)
            + len(self.unused_citations)
            + len(self.misquoted_citations)
        )


def cited_sentences(answer_text: str) -> list[CitedSentence]:
    """Each "sentence [n]" segment: the text on the marker's line since the previous marker."""
    parts = _MARKER_GROUP.split(answer_text)
    return [
        CitedSentence(
            text=parts[i].rsplit("\n", 1)[-1].strip().lstrip(_LEAD).strip(),
            markers=_MARKER.findall(parts[i + 1]),
        )
        for i in range(0, len(parts) - 1, 2)
    ]


def check_answer(
    qid: str,
    category: str,
    in_scope: bool,
    answer: Answer,
    gold: Sequence[GoldSpan],
    sources: Mapping[str, str],
) -> AnswerCheck:
    by_marker = {c.marker: c for c in answer.citations}
    sentences = cited_sentences(answer.answer)
    used = {m for s in sentences for m in s.markers}
    not_verbatim = [
        s.text
        for s in sentences
        if not any(s.text and s.text in by_marker[m].text for m in s.markers if m in by_marker)
    ]
    return AnswerCheck(
        id=qid,
        category=category,
        in_scope=in_scope,
        abstained=answer.abstained,
        has_evidence=any(snippets_found(c, gold) for c in answer.citations),
        sentences=len(sentences),
        verbatim=len(sentences) - len(not_verbatim),
        not_verbatim=not_verbatim,
        unresolved_markers=sorted(used - by_marker.keys()),
        unused_citations=[c.marker for c in answer.citations if c.marker not in used],
        misquoted_citations=[
            c.marker
            for c in answer.citations
            if sources.get(c.document, "")[c.char_start : c.char_end] != c.text
        ],
    )


class AnswerScores(BaseModel):
    n: int
    evidence_rate: float | None = Field(description="In-scope answers citing gold evidence")
    verbatim_rate: float | None = Field(description="Marked sentences verbatim in their citation")
    sentences: int
    invented_citations: int = Field(description="Unresolved markers + unused + misquoted")
    answers_with_invented: int
    out_of_scope_abstained: float | None
    in_scope_wrongly_abstained: float | None


def summarise_answers(checks: Sequence[AnswerCheck]) -> AnswerScores:
    in_scope = [c for c in checks if c.in_scope]
    out_scope = [c for c in checks if not c.in_scope]
    sentences = sum(c.sentences for c in checks)
    return AnswerScores(
        n=len(checks),
        evidence_rate=_mean(c.has_evidence for c in in_scope),
        verbatim_rate=sum(c.verbatim for c in checks) / sentences if sentences else None,
        sentences=sentences,
        invented_citations=sum(c.invented for c in checks),
        answers_with_invented=sum(c.invented > 0 for c in checks),
        out_of_scope_abstained=_mean(c.abstained for c in out_scope),
        in_scope_wrongly_abstained=_mean(c.abstained for c in in_scope),
    )


def _mean(values: Iterable[bool]) -> float | None:
    values = list(values)
    return fmean(values) if values else None
