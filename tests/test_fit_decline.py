"""eval.fit_decline reads every question's verdict once, as arrays (`Decisions`), and
sweeps cut-offs with numpy: the fit must come out as the straightforward loop of
`verdict` over every question at every cut-off would have it."""

import random
from dataclasses import replace

import numpy as np
import pytest

from peerqa.answer.decline import Thresholds, verdict
from peerqa.answer.intent import CLASSES, Intent
from peerqa.eval.fit_decline import (
    FOLDS,
    Decisions,
    Fitting,
    Observation,
    fit_thresholds,
    folds_of,
    observe,
    point,
)
from peerqa.eval.questions import fitting_questions


class VerdictLoop(Decisions):
    """The specification: `verdict` itself, question by question, at every cut-off."""

    def __init__(self, observations, index):
        super().__init__(observations, index)
        self.index = index

    def declined(self, support, leaning, name, off_topic=None) -> np.ndarray:
        columns = [support, leaning, name, np.nan if off_topic is None else off_topic]
        rows = np.broadcast_arrays(*(np.reshape(v, (-1,)) for v in columns))
        return np.array(
            [
                [
                    verdict(o.question, o.signals, self.index, Thresholds(s, le, n, o_t))
                    is not None
                    for o in self.observations
                ]
                for s, le, n, o_t in zip(
                    *(map(float, r) for r in rows[:3]),
                    (None if off_topic is None else float(v) for v in rows[3]),
                    strict=True,
                )
            ]
        )


@pytest.fixture(scope="module")
def observations(corpus_index) -> list[Observation]:
    """Real fitting questions, three of each category, and as many with their signals
    shuffled (any label, leaning, support, caveat, unknown name), so every branch of
    `verdict` that reads a threshold is met."""
    by_category: dict[str, list] = {}
    for q in fitting_questions():
        by_category.setdefault(q.category, []).append(q)
    real = observe(corpus_index, [q for qs in by_category.values() for q in qs[:3]])
    rng = random.Random(0)
    shuffled = []
    for o in real:
        s = o.signals
        intent = Intent(rng.choice(CLASSES), rng.choice(CLASSES), s.intent.probabilities)
        signals = replace(
            s,
            intent=intent,
            support=rng.choice([None, round(rng.uniform(0.05, 0.7), 3), s.support]),
            topic_support=rng.choice([None, round(rng.uniform(0.05, 0.7), 3)]),
            caveat=rng.choice([None, "false_premise", s.caveat]),
            unknown=rng.choice([(), ("Zoom",), s.unknown]),
        )
        shuffled.append(replace(o, id=f"{o.id}-shuffled", signals=signals))
    return real + shuffled


def _random_thresholds(rng: random.Random, values: list[float]) -> Thresholds:
    # Observed supports themselves (a tie with a cut-off), just beside them, and between.
    cut = [rng.choice(values) + rng.choice([0.0, 1e-9, -1e-9, 0.02]) for _ in range(4)]
    return Thresholds(cut[0], cut[1], cut[2], rng.choice([None, cut[3]]))


def test_the_arrays_decline_what_verdict_declines(corpus_index, observations):
    decisions = Decisions(observations, corpus_index)
    values = [o.signals.support for o in observations if o.signals.support is not None]
    rng = random.Random(1)
    for _ in range(40):
        t = _random_thresholds(rng, values)
        expected = [
            verdict(o.question, o.signals, corpus_index, t) is not None for o in observations
        ]
        assert decisions.under(t)[0].tolist() == expected, t
        assert decisions.point(t) == point(observations, corpus_index, t)


@pytest.mark.parametrize("how", [Fitting(), Fitting(0.0, 0.25, 0.1)])
def test_the_vectorised_fit_is_the_loop_over_verdict(corpus_index, observations, how):
    sample = observations[::2]  # both kinds; the loop is slow
    loop = VerdictLoop(sample, corpus_index)
    assert fit_thresholds(sample, corpus_index, how) == fit_thresholds(
        sample, corpus_index, how, loop
    )


def test_each_repeat_deals_every_question_into_one_fold(observations):
    folds = folds_of(observations, 2)
    assert len(folds) == 2 * FOLDS
    for r in range(2):
        held = [set(h.tolist()) for h, _ in folds[r * FOLDS : (r + 1) * FOLDS]]
        assert set().union(*held) == set(range(len(observations)))
        assert sum(map(len, held)) == len(observations)
        for h, rest in folds[r * FOLDS : (r + 1) * FOLDS]:
            assert not set(h.tolist()) & set(rest.tolist())
    assert folds[0][0][0].tolist() != folds[FOLDS][0][0].tolist()  # another shuffle
