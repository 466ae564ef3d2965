"""The decline decision read once per question, for the threshold fit (eval/fit_support.py).

Each question is understood, retrieved and read by `verdict` once (`observe`); every fit
of the grid, fold and repeat then sweeps its cut-offs over those readings as numpy arrays
(`Decisions`), so the repeated cross-validation costs seconds, not the half hour that
`verdict` on every question at every cut-off took."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from peerqa.answer.decline import Signals, Thresholds, signals, verdict
from peerqa.answer.intent import EVIDENCE, OFF_TOPIC, word_lists

TOP_K = 8  # what the answer layer retrieves


@dataclass(frozen=True)
class Observation:
    id: str
    category: str
    in_scope: bool
    question: str
    signals: Signals


def observe(index, questions) -> list[Observation]:
    """Each question read as the answer layer reads it (answer.question.understand) and
    retrieved with that reading."""
    from peerqa.answer.question import understand
    from peerqa.eval.fit_ranker import out_of_fold

    # Each question retrieved by a ranker not fitted on it (the served one is, in-sample).
    left_out = out_of_fold(index.embed_model.token_space)
    out = []
    for item in questions:
        q = understand(index, item.question, item.history)
        with index.ranked_by(*left_out[item.id]) if item.id in left_out else nullcontext():
            results = index.search(q.resolved, top_k=TOP_K, encoding=q.encoding)
        out.append(
            Observation(
                item.id, item.category, item.in_scope, item.question, signals(q, results, index)
            )
        )
    return out


@dataclass(frozen=True)
class Point:
    in_scope: int
    wrongly: int
    should_decline: int
    declined: int

    def __str__(self) -> str:
        return (
            f"should-decline declined {self.declined}/{self.should_decline}, "
            f"in-scope wrongly declined {self.wrongly}/{self.in_scope}"
        )


def point(observations: Sequence[Observation], index, t: Thresholds) -> Point:
    declined = [verdict(o.question, o.signals, index, t) is not None for o in observations]
    return Point(
        in_scope=sum(o.in_scope for o in observations),
        wrongly=sum(d for d, o in zip(declined, observations, strict=True) if o.in_scope),
        should_decline=sum(not o.in_scope for o in observations),
        declined=sum(d for d, o in zip(declined, observations, strict=True) if not o.in_scope),
    )


# -- the decision as arrays: what a threshold sweep reads -------------------------------
# A fit tries every observed support as a cut-off, thousands of Thresholds per fit and
# hundreds of fits per run: `verdict` (word-list searches, reason sentences) on every
# question at every one is what made the fit slow. Each question's verdict depends on the
# thresholds only through four comparisons, so it is read once into `Terms` and every
# sweep is a numpy comparison. `Decisions.check` holds the arrays to `verdict` itself.
_LOWEST = Thresholds(-np.inf, -np.inf, -np.inf, -np.inf)


@dataclass(frozen=True)
class Terms:
    """What `verdict` compares with the thresholds, for one question (NaN: no comparison)."""

    always: bool  # declined whatever the thresholds (a rule, a label, nothing retrieved)
    yields: float  # an off-topic label declines below Thresholds.off_topic_yields_at
    caveat: bool  # answered with its caveat once past the off-topic label: no support test
    leaning: float  # declined below leaning_support_below (the model leans to declining)
    support: float  # declined below support_below
    unknown: bool  # …and below unknown_name_support_below (a name the evidence lacks)


def terms(o: Observation, index) -> Terms:
    """The question's `Terms`, in the order `verdict` reads its signals."""
    s, label, leaning = o.signals, o.signals.intent.label, o.signals.intent.leaning
    topical = s.off_topic_support
    caveat = bool(
        s.caveat and (leaning == EVIDENCE or word_lists().peer_support.search(o.question))
    )
    return Terms(
        always=verdict(o.question, s, index, _LOWEST) is not None,
        yields=topical if label == OFF_TOPIC and topical is not None and not s.unknown else np.nan,
        caveat=caveat,
        leaning=((topical if leaning == OFF_TOPIC else s.support) or 0.0)
        if leaning != EVIDENCE
        else np.nan,
        support=np.nan if s.support is None else s.support,
        unknown=bool(s.unknown),
    )


class Decisions:
    """The observations' `Terms` as arrays: which are declined under many Thresholds at once."""

    def __init__(self, observations: Sequence[Observation], index):
        rows = [terms(o, index) for o in observations]
        column = {f: np.array([getattr(r, f) for r in rows]) for f in Terms.__dataclass_fields__}
        self.always, self.yields, self.caveat = column["always"], column["yields"], column["caveat"]
        self.leaning, self.support, self.unknown = (
            column["leaning"],
            column["support"],
            column["unknown"],
        )
        self.in_scope = np.array([o.in_scope for o in observations], dtype=bool)
        self.observations = observations

    def take(self, rows: np.ndarray) -> Decisions:
        taken = copy.copy(self)
        for name, value in self.__dict__.items():
            if isinstance(value, np.ndarray):
                setattr(taken, name, value[rows])
        taken.observations = [self.observations[i] for i in rows]
        return taken

    def declined(
        self,
        support: np.ndarray | float,
        leaning: np.ndarray | float,
        name: np.ndarray | float,
        off_topic: np.ndarray | float | None = None,
    ) -> np.ndarray:
        """[cut-offs, questions] declined, one row per threshold setting (the arguments
        broadcast as Thresholds' fields; off_topic None: the leaning threshold)."""
        support, leaning, name = (np.reshape(v, (-1, 1)) for v in (support, leaning, name))
        yields = leaning
        if off_topic is not None:
            yields = np.maximum(np.reshape(off_topic, (-1, 1)), leaning)
        with np.errstate(invalid="ignore"):  # NaN compares False: no such comparison
            tested = (
                (self.leaning < leaning)
                | (self.support < support)
                | (self.unknown & (self.support < name))
            )
            return self.always | (self.yields < yields) | (~self.caveat & tested)

    def points(self, declined: np.ndarray) -> list[Point]:
        in_scope, should = int(self.in_scope.sum()), int((~self.in_scope).sum())
        wrongly = (declined & self.in_scope).sum(axis=1)
        right = (declined & ~self.in_scope).sum(axis=1)
        return [
            Point(in_scope, int(w), should, int(d)) for w, d in zip(wrongly, right, strict=True)
        ]

    def point(self, t: Thresholds) -> Point:
        return self.points(self.under(t))[0]

    def under(self, t: Thresholds) -> np.ndarray:
        """[1, questions] declined under `t`."""
        return self.declined(
            t.support_below,
            t.leaning_support_below,
            t.unknown_name_support_below,
            t.off_topic_support_below,
        )

    def check(self, index, t: Thresholds) -> None:
        """The arrays decline exactly the questions `verdict` declines under `t` (else
        `verdict` changed how it reads the thresholds, and `terms` must follow)."""
        for o, d in zip(self.observations, self.under(t)[0], strict=True):
            if (verdict(o.question, o.signals, index, t) is not None) != bool(d):
                raise RuntimeError(f"decline_sweep.terms disagrees with verdict on {o.id} at {t}")
