"""Abstention: individual medical advice and questions the corpus does not answer are
declined plainly, with no citations; in-scope questions are answered. Includes the
regression gate on the curated set's held-out test split."""

from __future__ import annotations

import pytest

from answer.abstain import (
    MEDICAL_ADVICE,
    OUT_OF_SCOPE,
    SUPPORT_THRESHOLD,
    Scope,
    medical_advice_reason,
    unknown_names,
)
from answer.calibrate import (
    MAX_WRONGLY,
    Observation,
    fit_threshold,
    observe,
    operating_point,
)
from answer.compose import compose
from answer.sentences import words_of
from eval.questions import Question, load_questions
from tests.conftest import CORPUS_TEXT

VOCABULARY = frozenset(words_of(CORPUS_TEXT))

MEDICAL = [
    "Should I stop taking my antidepressants now that I go to a support group?",
    "My mentor says I can come off lithium. Should I?",
    "What dose of metformin should my dad take?",
    "How many mg of sertraline is safe for me?",
    "Is it safe for me to skip my tacrolimus at weekends?",
    "I have a lump under my arm, could it be cancer?",
    "I've been low for weeks. Do I have depression?",
    "Which chemo should my husband choose for his lung cancer?",
    "My patient has crushing chest pain, is this a heart attack?",
]
OUT = [
    "What's a good recipe for banana bread?",
    "Who won the World Cup in 2018?",
    "How do I configure a peer-to-peer VPN on my router?",
    "How long does peer review take at The Lancet?",
    "What did the 2024 Cochrane review say about peer support for smoking cessation?",
    "Write a SQL query that lists overdue invoices.",
]
IN = [
    "Do peer groups make people feel less lonely?",
    "Some of my patients won't open up to strangers. Is that a common barrier?",
    "Should we offer a parent buddy as soon as a child is diagnosed?",
    "How do programmes stop volunteers from burning out?",
    "What are mentors told about giving medical advice?",
    "How do they pair people up?",
    "Who funded the study?",
]
NOT_ADVICE = [
    "Should we start a peer programme in our clinic?",
    "How do we stop volunteers burning out?",
    "Can you try to summarise the benefits?",
    "How many volunteers should we recruit?",
    "Do I have to sign anything to become a mentor?",
    "Should my patients try a peer group?",
    "What treatments did the programmes offer?",
    "Can I refer my patients to a peer programme?",
    "Should I take the job as a peer mentor?",
    "Does peer support help people stick with their medication?",
]


@pytest.mark.parametrize("question", MEDICAL)
def test_medical_advice_is_declined_without_citations(corpus_index, question):
    answer = compose(corpus_index, question)
    assert answer.abstained and answer.citations == []
    assert answer.reason and answer.reason_code == MEDICAL_ADVICE
    assert "clinician" in answer.answer and "[" not in answer.answer


@pytest.mark.parametrize("question", OUT)
def test_out_of_scope_is_declined_without_citations(corpus_index, question):
    answer = compose(corpus_index, question)
    assert answer.abstained and answer.citations == []
    assert answer.reason and answer.reason_code == OUT_OF_SCOPE
    assert "peer support programmes" in answer.answer and "[" not in answer.answer


@pytest.mark.parametrize("question", IN)
def test_in_scope_questions_are_answered(corpus_index, question):
    answer = compose(corpus_index, question)
    assert not answer.abstained, answer.reason
    assert answer.reason is None and answer.citations


@pytest.mark.parametrize("question", NOT_ADVICE)
def test_programme_questions_are_not_mistaken_for_medical_advice(question):
    assert medical_advice_reason(question, VOCABULARY) is None


def test_a_filter_that_leaves_no_evidence_is_out_of_scope(corpus_index):
    from peerqa.models import Filters

    filters = Filters(kind=["reference"], programme=["A"])
    answer = compose(corpus_index, "Do peer groups reduce loneliness?", filters=filters)
    assert answer.abstained and answer.reason_code == OUT_OF_SCOPE and not answer.citations


def test_unknown_names_are_what_the_corpus_never_mentions():
    question = "Did Texas Medicaid or the 2023 Cochrane review cover Programme B in America?"
    assert unknown_names(question, VOCABULARY) == ("Texas", "Medicaid", "2023", "Cochrane")
    assert unknown_names("CBT or SSRIs for panic disorder?", VOCABULARY) == ("CBT", "SSRIs")


# -- calibration -------------------------------------------------------------------------
def _observation(in_scope: bool, support: float, advice: bool = False) -> Observation:
    question = Question(
        id="q",
        question="?",
        category="benefits" if in_scope else "out_of_scope",
        in_scope=in_scope,
        split="calibrate",
        gold=[],
    )
    return Observation(question, advice, Scope(support, other_sense=0.0, unknown_names=()))


def test_threshold_is_the_middle_of_the_best_interval():
    observations = [
        _observation(False, 0.10),
        _observation(False, 0.20),
        _observation(False, 0.26, advice=True),  # caught anyway: does not move the threshold
        _observation(True, 0.30),
        _observation(True, 0.50),
    ]
    assert fit_threshold(observations) == 0.25
    point = operating_point(observations, 0.25)
    assert (point.wrongly_abstained, point.abstained) == (0.0, 1.0)


def test_threshold_never_costs_more_than_the_allowed_in_scope_share():
    observations = [_observation(True, 0.2 + i / 100) for i in range(40)]
    observations.append(_observation(False, 0.6))  # unreachable without losing 100% in scope
    point = operating_point(observations, fit_threshold(observations))
    assert point.wrongly_abstained <= MAX_WRONGLY


@pytest.fixture(scope="module")
def curated(corpus_index) -> dict[str, list[Observation]]:
    observations = observe(corpus_index, load_questions())
    return {
        split: [o for o in observations if o.question.split == split]
        for split in ("calibrate", "test")
    }


def test_stored_threshold_has_the_fitted_calibrate_operating_point(curated):
    """Retrieval or corpus changed the supports: re-run `python -m answer.calibrate`."""
    calibrate = curated["calibrate"]
    fitted = operating_point(calibrate, fit_threshold(calibrate))
    assert operating_point(calibrate, SUPPORT_THRESHOLD) == fitted


def test_regression_gate_on_the_test_split(corpus_index):
    """Targets: >= 95% of out-of-scope and medical-advice questions abstained, <= 5% of
    in-scope questions wrongly abstained, through the real composer."""
    questions = [q for q in load_questions() if q.split == "test"]
    answers = {q.id: compose(corpus_index, q.question, history=q.history) for q in questions}
    inside = [q for q in questions if q.in_scope]
    outside = [q for q in questions if not q.in_scope]
    wrongly = [q.id for q in inside if answers[q.id].abstained]
    kept = [q.id for q in outside if not answers[q.id].abstained]
    assert len(wrongly) / len(inside) <= 0.05, wrongly
    assert 1 - len(kept) / len(outside) >= 0.95, kept
    assert all(not answers[q.id].citations for q in outside)
