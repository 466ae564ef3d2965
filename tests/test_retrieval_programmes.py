"""Recognising the programme a question is about (retrieval/programmes.py)."""

from __future__ import annotations

import pytest

from peerqa.models import Programme
from peerqa.retrieval.programmes import ProgrammeFinder, shorthand_letters

DOC = "paper"


def programme(letter: str, condition: str) -> Programme:
    return Programme(
        programme=letter,
        condition=condition,
        setting="community-based",
        reach="Local",
        description="Offers one-on-one peer support by telephone.",
        interviewees=1,
    )


@pytest.fixture
def finder() -> ProgrammeFinder:
    return ProgrammeFinder(
        {
            DOC: [
                programme("A", "Substance abuse"),
                programme("B", "Mental illness"),
                programme("C", "New mother"),
                programme("E", "Heart, liver, and lung transplant; breast cancer"),
                programme("F", "Cancer"),
            ]
        }
    )


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which conditions does programme E cover?", ["E"]),
        ("What does Program B's course teach?", ["B"]),
        ("Compare programmes A and C", ["A", "C"]),
        ("programmes A, B or F?", ["A", "B", "F"]),
        ("Is programme Z real?", []),  # no such programme
        ("Can transplant patients meet their mentor in person?", ["E"]),
        ("How do new mothers hear about it?", ["C"]),
        ("Is there a substance abuse programme?", ["A"]),
        # A bare letter typed as shorthand, where programmes are lettered.
        ("prog C - who's it for and for how long?", ["C"]),
        ("F - who mentors who, and how", ["F"]),
        ("E: who mentors whom", ["E"]),
        ("D: what sort of support and from whom", []),  # no D among these records
        ("does B run courses for families as well as groups", ["B"]),
        ("C and E - how many informants each?", ["C", "E"]),
        ("why just one interview for A?", ["A"]),
    ],
)
def test_a_question_names_programmes_by_letter_or_by_their_condition(
    finder: ProgrammeFinder, question: str, expected: list[str]
):
    assert finder.find(question) == [(DOC, letter) for letter in expected]


@pytest.mark.parametrize(
    "question",
    [
        "How many programmes took part?",
        "Is a programme a good fit for my patients?",  # "a" is an article, not programme A
        "Do cancer survivors make good mentors?",  # cancer is both E's and F's
        "What if a new match does not work?",  # "new" alone is an everyday word
        "Does their illness change?",  # so is "ill"
        "Does the programme offer telephone support?",  # every programme's wording
    ],
)
def test_words_shared_by_programmes_or_everyday_words_name_none(
    finder: ProgrammeFinder, question: str
):
    assert finder.find(question) == []


@pytest.mark.parametrize(
    "question",
    [
        "how does medicare part D cover drug costs",
        "kid with a G-tube and cognitive delay",
        "did peer support cut A&E attendances",
        "what did the STAR*D trial find",
        "hepatitis C and peer mentors",
        "A peer told me about it",  # an article opening a sentence
        "I think so, what does it involve?",
    ],
)
def test_a_letter_that_is_a_word_or_part_of_a_name_is_no_programme(
    finder: ProgrammeFinder, question: str
):
    assert shorthand_letters(question) == ()
    assert finder.find(question) == []


def test_no_programme_records_no_programmes():
    assert ProgrammeFinder({}).find("What does programme E do?") == []


def test_the_named_programme_evidence_comes_first(corpus_index):
    """BM25 drops the one-letter token and the embedding knows nothing of "E"; the
    programme's own Table 2 row must still lead."""
    top = corpus_index.search("Which conditions does programme E cover?", top_k=3)
    assert any(p.kind == "table_row" and p.programme == "E" and "transplant" in p.text for p in top)
