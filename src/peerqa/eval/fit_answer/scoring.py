"""The examples' answers for given unit scores, made and checked as `peerqa eval` makes
and checks them (Scorer), per question set and over all; the top passage baseline."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import fmean

import numpy as np

from peerqa.answer.compose import _profiles, answer_units, choose
from peerqa.answer.selector import Policy
from peerqa.config import Settings
from peerqa.eval.fit_answer.examples import BUNDLED, PAPERS, Example, holds, source_texts
from peerqa.eval.fit_answer.misses import _retrieved_rank, miss_kind
from peerqa.eval.metrics import check_answer, check_top_passage, quote_spans, summarise_answers

FIGURES = ("text_holds_gold", "first_holds_gold", "padding_mean", "padding_share")
# Per question, its units' scores: column 0 P(holds gold), column 1 the lead score.
Scores = Sequence[np.ndarray]


class Scorer:
    """Scores the product's answers for one set of unit scores (the CV's out-of-fold
    ones): each policy's answers are made by answer.compose.answer_units and checked by
    eval.metrics.check_answer, as `peerqa eval` checks /v1/ask's. Figures are given per
    question set (BUNDLED, PAPERS) and over all."""

    def __init__(self, settings: Settings, examples: Sequence[Example]):
        self.examples = examples
        self.sources = source_texts(settings)
        # Each question's papers' profiles: the same for every policy tried.
        self.profiles = [
            _profiles(ex.index, {u.passage.document for u in ex.units}) for ex in examples
        ]
        self.quotes = {doc: quote_spans(text) for doc, text in self.sources.items()}

    def answers(self, scores: Scores, policy: Policy) -> dict[str, dict]:
        return self.answer_outcomes(scores, policy)[0]

    def answer_outcomes(self, scores: Scores, policy: Policy) -> tuple[dict[str, dict], np.ndarray]:
        """The figures per question set, and each question's "text holds gold" (0/1, over
        the questions that figure counts) for the rule's standard error."""
        checks = []
        for ex, s in zip(self.examples, scores, strict=True):
            _set_scores(ex, s)
            answer = answer_units(ex.index, ex.question, ex.units, policy)
            checks.append(self._check(ex, answer))
        counted = [c for c in checks if c.has_gold and not c.expect] or [
            c for c in checks if c.has_gold
        ]  # as summarise_answers counts text_holds_gold
        return self._by_set(checks, _figures), np.asarray(
            [c.text_holds_gold for c in counted], dtype=float
        )

    def chosen(self, scores: Scores, policy: Policy) -> dict[str, dict]:
        return self.chosen_outcomes(scores, policy)[0]

    def chosen_outcomes(self, scores: Scores, policy: Policy) -> tuple[dict[str, dict], np.ndarray]:
        """The figures over the chosen units themselves, before rendering, and each
        question's "a chosen unit holds gold" (0/1)."""
        rows = []
        for ex, s, profiles in zip(self.examples, scores, self.profiles, strict=True):
            _set_scores(ex, s)
            blocks = choose(ex.question, ex.units, policy, profiles)
            hits = [holds(u.span, ex.gold) for b in blocks for u in b.units]
            rows.append((any(hits), bool(hits) and hits[0], sum(not h for h in hits)))

        def figures(part):
            return {
                "text_holds_gold": fmean(r[0] for r in part),
                "first_holds_gold": fmean(r[1] for r in part),
                "padding_mean": fmean(r[2] for r in part),
            }

        return self._by_set(rows, figures), np.asarray([r[0] for r in rows], dtype=float)

    def misses(self, scores: Scores, policy: Policy) -> list[dict]:
        """Each question the out-of-fold answer misses (its text, or its first cited
        sentence), with the kind of miss (MISS_KINDS, `miss_kind`)."""
        rows = []
        for ex, s, profiles in zip(self.examples, scores, self.profiles, strict=True):
            _set_scores(ex, s)
            check = self._check(ex, answer_units(ex.index, ex.question, ex.units, policy))
            if check.text_holds_gold and check.first_holds_gold:
                continue
            blocks = choose(ex.question, ex.units, policy, profiles)
            chosen = [u for b in blocks for u in b.units]
            missed = "text" if not check.text_holds_gold else "first"
            rows.append(
                {
                    "id": ex.id,
                    "set": ex.set,
                    "missed": missed,
                    "kind": miss_kind(ex, chosen, missed),
                    "question": ex.item.question,
                    "chosen": [(_retrieved_rank(ex, u), u.text[:90]) for u in chosen],
                }
            )
        return rows

    def top_passage(self) -> dict[str, dict]:
        """The baseline: the first retrieved passage as the answer, scored the same way."""
        checks = [
            check_top_passage(ex.item, ex.results[0], ex.gold, self.sources, self.quotes)
            for ex in self.examples
        ]
        return self._by_set(checks, _figures)

    def _by_set(self, rows: list, figures) -> dict[str, dict]:
        out = {"all": figures(rows)}
        for name in (BUNDLED, PAPERS):
            part = [r for r, ex in zip(rows, self.examples, strict=True) if ex.set == name]
            if part:
                out[name] = figures(part)
        return out

    def _check(self, ex: Example, answer):
        item = ex.item
        return check_answer(
            item.id,
            item.category,
            item.in_scope,
            answer,
            ex.gold,
            self.sources,
            expect=item.expect,
            expect_reason=item.expect_reason,
            quotes=self.quotes,
            literature=item.asks_literature,
        )


def _set_scores(ex: Example, scores: np.ndarray) -> None:
    """A question's units scored: column 0 P(holds gold), column 1 the lead score. Each
    policy tried sets the same scores again: set only when they change."""
    if ex.scored is scores:
        return
    for u, (p, lead) in zip(ex.units, scores.tolist(), strict=True):
        u.score, u.lead = p, lead
    ex.scored = scores


def predicted(selector, examples: Sequence[Example]) -> list[np.ndarray]:
    """Each question's units scored by one selector, as `Scores`."""
    out = []
    for ex in examples:
        x = np.stack([u.features for u in ex.units])
        out.append(np.column_stack([selector.predict(x), selector.predict_lead(x)]))
    return out


def _figures(checks) -> dict[str, float]:
    summary = summarise_answers(checks)
    return {f: float(getattr(summary, f) or 0.0) for f in FIGURES}
