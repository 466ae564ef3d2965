"""Calibrate answer.abstain.SUPPORT_THRESHOLD on the calibrate split; report both splits.

    PEERQA_DATA_DIR=/path/to/store python -m answer.calibrate

The other abstention rules (medical advice, unknown names, other senses of "peer") are
fixed; only the support threshold is fitted. Abstaining is `support < threshold`, so the
operating point only changes at observed support values: every interval between two
consecutive calibrate values is tried, intervals with equal operating points are merged,
and the threshold is the middle of the best one (most out-of-scope abstained with at most
MAX_WRONGLY in-scope abstained, then fewest in-scope abstained), which leaves the most
room on either side for questions the calibrate split does not contain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from answer.abstain import (
    SUPPORT_THRESHOLD,
    Scope,
    assess_scope,
    medical_advice_reason,
    out_of_scope_reason,
)
from answer.compose import DEFAULT_TOP_K
from answer.followup import retrieval_query
from answer.sentences import bank_for
from eval.questions import Question, load_questions
from retrieval.hybrid import LiveIndex

MAX_WRONGLY = 0.05  # target: at most 5% of in-scope questions abstained


@dataclass(frozen=True)
class Observation:
    question: Question
    medical_advice: bool
    scope: Scope | None  # None when retrieval returned nothing

    def abstains(self, threshold: float) -> bool:
        if self.medical_advice or self.scope is None:
            return True
        return out_of_scope_reason(self.scope, threshold) is not None


@dataclass(frozen=True)
class OperatingPoint:
    in_scope: int
    in_scope_abstained: int
    out_of_scope: int
    out_of_scope_abstained: int

    @property
    def wrongly_abstained(self) -> float:
        return self.in_scope_abstained / self.in_scope if self.in_scope else 0.0

    @property
    def abstained(self) -> float:
        return self.out_of_scope_abstained / self.out_of_scope if self.out_of_scope else 1.0

    def __str__(self) -> str:
        return (
            f"in-scope wrongly abstained {self.wrongly_abstained:.1%} "
            f"({self.in_scope_abstained}/{self.in_scope}), "
            f"out-of-scope + medical advice abstained {self.abstained:.1%} "
            f"({self.out_of_scope_abstained}/{self.out_of_scope})"
        )


def observe(
    index: LiveIndex, questions: Sequence[Question], top_k: int = DEFAULT_TOP_K
) -> list[Observation]:
    """The abstention signals for each question, as answer.compose computes them."""
    bank = bank_for(index)
    observations = []
    for q in questions:
        query = retrieval_query(q.question, q.history)
        results = index.search(query, top_k=top_k)
        advice = medical_advice_reason(q.question, bank.vocabulary()) is not None
        scope = assess_scope(bank, query, q.question, results) if results else None
        observations.append(Observation(q, advice, scope))
    return observations


def operating_point(observations: Sequence[Observation], threshold: float) -> OperatingPoint:
    inside = [o for o in observations if o.question.in_scope]
    outside = [o for o in observations if not o.question.in_scope]
    return OperatingPoint(
        in_scope=len(inside),
        in_scope_abstained=sum(o.abstains(threshold) for o in inside),
        out_of_scope=len(outside),
        out_of_scope_abstained=sum(o.abstains(threshold) for o in outside),
    )


def fit_threshold(observations: Sequence[Observation]) -> float:
    supports = sorted({o.scope.support for o in observations if o.scope})
    edges = [0.0, *supports, 1.0]
    # Interval (edges[i], edges[i + 1]]: any threshold in it abstains on support <= edges[i].
    intervals: list[tuple[float, float, OperatingPoint]] = []
    for low, high in zip(edges, edges[1:], strict=False):
        point = operating_point(observations, high)
        if intervals and intervals[-1][2] == point:
            intervals[-1] = (intervals[-1][0], high, point)  # same behaviour: one interval
        else:
            intervals.append((low, high, point))
    feasible = [i for i in intervals if i[2].wrongly_abstained <= MAX_WRONGLY]
    low, high, _ = max(
        feasible, key=lambda i: (i[2].abstained, -i[2].wrongly_abstained, i[1] - i[0])
    )
    return round((low + high) / 2, 3)


def main() -> None:
    from peerqa.config import get_settings

    index = LiveIndex(get_settings())
    index.require()
    observations = observe(index, load_questions())
    by_split = {
        split: [o for o in observations if o.question.split == split]
        for split in ("calibrate", "test")
    }
    fitted = fit_threshold(by_split["calibrate"])
    for name, threshold in (("fitted on calibrate", fitted), ("in use", SUPPORT_THRESHOLD)):
        print(f"{name}: SUPPORT_THRESHOLD = {threshold}")
        for split, obs in by_split.items():
            print(f"  {split}: {operating_point(obs, threshold)}")
            for o in obs:
                if o.abstains(threshold) != (not o.question.in_scope):
                    support = f"{o.scope.support:.3f}" if o.scope else "-"
                    print(f"    wrong: {o.question.id} ({o.question.category}, support {support})")


if __name__ == "__main__":
    main()
