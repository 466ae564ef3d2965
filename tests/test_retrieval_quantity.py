"""The ranker's quantity feature: a question asking for a number, a date or a duration,
paired with the share of a passage's sentences that state one."""

from __future__ import annotations

import numpy as np
import pytest

from peerqa.models import Passage
from peerqa.retrieval.quantity import asks_quantity, quantity_share, states_quantity
from peerqa.retrieval.ranker import FEATURES, Candidate, Query, features


@pytest.mark.parametrize(
    "question",
    [
        "how many peers were interviewed?",
        "When did the programme start",
        "sample size?",
        "n?",
        "what % of mentees dropped out",
        "how long does training take",
        "mean age of the mentors",
        "what years were the data collected",
        "what proportion were women?",
        "how often do peers call",
    ],
)
def test_questions_asking_for_a_quantity(question):
    assert asks_quantity(question)


@pytest.mark.parametrize(
    "question",
    [
        "GP here, what do pts get from peer support?",
        "what about when the peer lives far away?",
        "which programmes use volunteers",
        "how are peers trained",
        "what was the last challenge mentioned",
    ],
)
def test_questions_not_asking_for_one(question):
    assert not asks_quantity(question)


@pytest.mark.parametrize(
    "sentence",
    [
        "We interviewed 43 people.",
        "Rates fell by 12% (p = .01).",
        "It lasted twelve weeks.",
        "Calls were made weekly.",
        "Data were collected between 2019 and 2020.",
        "Recruitment began in January.",
    ],
)
def test_sentences_stating_a_quantity(sentence):
    assert states_quantity(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "Peer support improves mood.[3]",
        "It is linked to poor health.25,26 Mood problems persist",
        "outcomes in health27–29 and can",
        "Peers were matched (4, 7).",
        "Peers help (Smith et al., 2019; Jones 2020).",
        "As shown in Table 2 and Fig. 3, most used phones.",
        "COVID-19 changed things for P12.",
        "Peers with type 2 diabetes joined a phase 3 trial.",
        "We may see one of them again.",
    ],
)
def test_citations_labels_and_identifiers_are_not_quantities(sentence):
    assert not states_quantity(sentence)


def test_a_bare_reference_number_ending_a_sentence_is_a_citation():
    assert not states_quantity("It works in primary care. 28", citations={28})
    assert states_quantity("The peers were 28", citations={3})


def test_the_share_is_over_the_passages_sentences():
    text = "We interviewed 43 leaders. Peers help. Mentors listen. It lasted two years."
    assert quantity_share(text) == pytest.approx(0.5)


def test_the_feature_pairs_the_question_with_the_passage():
    def candidate(n, share):
        p = Passage(
            id=f"p{n}",
            document="d",
            section="Results",
            kind="paragraph",
            text="x",
            char_start=0,
            char_end=1,
        )
        return Candidate(p, np.array([0]), 0.5, n, False, quantity=share)

    candidates = [candidate(1, 0.0), candidate(2, 0.5)]
    column = FEATURES.index("quantity_asked")
    idf = np.ones(1)
    asked = features(Query(np.array([0]), False, quantity=True), candidates, {}, idf)
    other = features(Query(np.array([0]), False), candidates, {}, idf)
    assert asked[:, column].tolist() == [0.0, 0.5]
    assert other[:, column].tolist() == [0.0, 0.0]
