"""Follow-ups: what a turn refers to in its session (answer.followup), without the model.

A follow-up is read with the turns it depends on; one that asks the same question of
another thing ("and for breast ca pts?") keeps the question that set the topic and drops
the turns that only named the previous thing, so the new thing is asked the old question.
"""

from __future__ import annotations

import pytest

from peerqa.answer.followup import (
    carries_on,
    intent_query,
    is_followup,
    retrieval_query,
    substitutes,
)


def test_a_standalone_question_is_read_alone():
    assert retrieval_query("How were the interviews analysed?", ["Who was interviewed?"]) == (
        "How were the interviews analysed?"
    )


def test_a_followup_is_read_after_the_turn_it_refers_to():
    assert retrieval_query("why though?", ["do doctors resist volunteers?"]) == (
        "do doctors resist volunteers? why though?"
    )


@pytest.mark.parametrize(
    ("history", "question", "resolved"),
    [
        (
            ["what practical help do peers give?", "anything for new mums?"],
            "and for breast ca pts?",
            "what practical help do peers give? and for breast ca pts?",
        ),
        (
            ["how did programmes get doctors on board?", "what did the cancer programme do?"],
            "and the kids' disability one?",
            "how did programmes get doctors on board? and the kids' disability one?",
        ),
        (
            ["how do they convince doctors?", "what about programme F?"],
            "what about programme D?",
            "how do they convince doctors? what about programme D?",
        ),
        # The turn that set the topic named a programme: it is asked of the new one.
        (
            ["how did Programme E win over the cardiologists?"],
            "and programme D?",
            "how did Programme D win over the cardiologists? and programme D?",
        ),
    ],
)
def test_the_same_question_of_another_thing_keeps_the_topic_not_the_old_thing(
    history, question, resolved
):
    assert substitutes(question)
    assert retrieval_query(question, history) == resolved


@pytest.mark.parametrize(
    ("history", "question"),
    [
        # A question of its own after the opener refers to the last turn.
        (["what do mentors get?", "what goes wrong?"], "and how do they fix that?"),
        # The last turn asks something, not only names a thing: it stays.
        (["what do peers give?", "what goes wrong?"], "and for breast ca pts?"),
    ],
)
def test_turns_that_ask_something_are_kept(history, question):
    assert is_followup(question)
    assert retrieval_query(question, history) == " ".join([*history, question])


def test_a_long_question_of_its_own_is_not_a_substitution():
    assert not substitutes("what about when the peer lives far away from the mentee?")
    assert not substitutes("and how do they fix that?")


def test_a_followup_with_its_own_question_keeps_the_programme_it_refers_to():
    history = ["what goes wrong in programme E?"]
    question = "and how does programme D fix that?"
    assert retrieval_query(question, history) == " ".join([*history, question])


@pytest.mark.parametrize(
    ("history", "question"),
    [
        # An elliptical phrase that only completes the last turn.
        (["how long do the home visits last"], "for how many months in total?"),
        (["how do mentors prepare pts for surgery?"], "any worked example from cardiology?"),
        # Pointing back at the last turn's people or places.
        (["who ran the groups?"], "were he or she trained by the hospital?"),
        (["which programmes are in rural areas?"], "how do volunteers travel out there?"),
        (["what did the doctors object to?"], "why were doctors so wary in the first place?"),
        (["how did programmes fund the retreats"], "how much does one cost"),
    ],
)
def test_a_followup_that_only_continues_the_last_turn_is_read_with_it(history, question):
    assert is_followup(question)
    assert retrieval_query(question, history) == " ".join([*history, question])


@pytest.mark.parametrize(
    "question",
    [
        # "one-to-one" is a kind of support, not a pronoun pointing back.
        "how did the telephone one-to-one mentoring work in the study?",
        "what main benefits did the programme leaders describe?",
    ],
)
def test_a_question_that_names_its_own_subject_stands_alone(question):
    assert not is_followup(question)


@pytest.mark.parametrize(
    ("history", "question"),
    [
        # "ok", "f/u", a condition on the last answer: a question of its own, in the session.
        (["how do peers help carers?"], "ok but what about carers who work full time?"),
        (["what do peers do on a first visit?"], "f/u: what happens when a pt refuses to talk"),
        (["how do programmes recruit mentors?"], "what if nobody volunteers for months?"),
        (["how do programmes pair mentors?"], "if the mentee lives two hours away, then what"),
    ],
)
def test_a_question_of_its_own_that_carries_on_keeps_its_angle(history, question):
    """Searched for on its own words (the last turn's would pull the last answer back),
    but what it asks for is read in the session."""
    assert carries_on(question) and not is_followup(question)
    assert retrieval_query(question, history) == question
    assert intent_query(question, history) == " ".join([*history, question])


def test_a_new_question_in_a_session_is_read_alone_for_its_intent_too():
    history = ["how do programmes pair mentors?"]
    question = "What are the opening hours of the Johns Hopkins library?"
    assert intent_query(question, history) == question
