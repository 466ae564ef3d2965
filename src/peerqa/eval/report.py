"""What an evaluation report holds: each system's retrieval figures, ours and the top
passage's answer figures (overall, per category, per split), the operating point, and the
gated headline figures (`EvalReport.headline`, keyed as eval/gate.json).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from peerqa.answer.compose import DEFAULT_TOP_K as COMPOSE_K
from peerqa.answer.decline import load_thresholds
from peerqa.eval.metrics import (
    BUDGET_WORDS,
    MRR_K,
    NDCG_K,
    RECALL_K,
    AnswerCheck,
    AnswerScores,
    QuestionRetrieval,
    RetrievalScores,
)
from peerqa.eval.questions import DECLINE_REASONS

RETRIEVE_K = 10
SPLIT_NAMES = {"calibrate": "non-test", "test": "test"}


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


def _or(value: float | None, default: float) -> float:
    return default if value is None else value
