"""answer/coverage.py: how much of a question the evidence held (and the domain lexicon)
knows at all, read against the generation searched."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from peerqa.answer.coverage import NAMES, Coverage

pytestmark = pytest.mark.usefixtures("no_model")

EVIDENCE = (
    "Peer supporters matched with new mothers offered telephone support after delivery.",
    "Programme leaders said matching was hard when a mentor lived far away.",
    "Funding came from the National Institute of Mental Health.",
)


def _coverage(*texts: str) -> Coverage:
    passages = {str(i): SimpleNamespace(text=t) for i, t in enumerate(texts)}
    return Coverage(SimpleNamespace(passages=passages))


def _named(values: np.ndarray) -> dict[str, float]:
    return dict(zip(NAMES, values.tolist(), strict=True))


def test_a_question_sharing_nothing_with_the_evidence_is_unknown_throughout():
    coverage = _coverage(*EVIDENCE)
    assert coverage.unknown("how do I fix a dripping kitchen tap") == ["drip", "kitchen", "tap"]
    values = _named(coverage.features("dripping kitchen tap"))
    assert values == {"unknown_share": 1.0, "unknown_idf_share": 1.0, "unknown_count": 1.0}


@pytest.mark.parametrize(
    "question",
    [
        "GP here, what do pts get from peer support",  # shorthand: the domain lexicon's
        "matching when peer lives far away?",
        "wich programes offer phone support?",  # one slip from a known word each
        "any funders other than NIMH?",
    ],
)
def test_terse_in_scope_questions_are_known_however_typed(question):
    coverage = _coverage(*EVIDENCE, "Seven programmes took part.")
    assert coverage.unknown(question) == []
    assert not coverage.features(question).any()


def test_a_word_the_evidence_never_uses_weighs_as_the_rarest():
    """Weighted by inverse passage frequency, a question of common evidence words and one
    unknown word is more unknown than its count says."""
    coverage = _coverage(*EVIDENCE, "Peer support helped.", "Peer support was valued.")
    values = _named(coverage.features("peer support for kitchen renovations"))
    assert values["unknown_share"] == pytest.approx(2 / 4)
    assert values["unknown_idf_share"] > values["unknown_share"]
    assert values["unknown_count"] == pytest.approx(2 / 3)


def test_a_users_own_paper_makes_its_words_known():
    question = "did text message reminders lower HbA1c?"
    before = _coverage(*EVIDENCE).features(question)
    after = _coverage(*EVIDENCE, "Text message reminders lowered HbA1c at 6 months.").features(
        question
    )
    assert before[0] > 0 and after[0] == 0


def test_a_question_with_no_content_words_reads_as_known():
    assert not _coverage(*EVIDENCE).features("what is it?").any()
