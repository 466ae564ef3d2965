"""In-text citation detection, range expansion, and what is not a citation."""

from __future__ import annotations

import pytest

from peerqa.ingest.citations import cited_numbers, expand_marker, find_citations

N_REFS = 39


def numbers(text: str, n_refs: int = N_REFS) -> list[tuple[int, ...]]:
    return [m.numbers for m in find_citations(text, n_refs)]


@pytest.mark.parametrize(
    ("text", "marker", "expected"),
    [
        ("in the United States.1 Peer support", "1", (1,)),
        ("Alcoholics Anonymous.3,4", "3,4", (3, 4)),
        ("decrease risky behaviours.5–10 Studies of", "5–10", (5, 6, 7, 8, 9, 10)),
        ("decrease risky behaviours.5-10 Studies of", "5-10", (5, 6, 7, 8, 9, 10)),
        ("associated with poor health27–29 and can", "27–29", (27, 28, 29)),
        ("has not been well established.7,38,39 Further", "7,38,39", (7, 38, 39)),
        ("rather than impose a conceptual framework.17\nNext", "17", (17,)),
        ("as a quote “like this.”12 Then", "12", (12,)),
    ],
)
def test_detects_glued_citations(text: str, marker: str, expected: tuple[int, ...]) -> None:
    (found,) = find_citations(text, N_REFS)
    assert text[found.start : found.end] == marker
    assert found.numbers == expected


@pytest.mark.parametrize(
    "text",
    [
        "supported under grant K23MH100705, and an Engagement Award (2463-JHU).",
        "Age (in years) 25–44 and 45–64",
        "includes 12-step meetings available 24/7.",
        "the majority of the informants (41/43) in our study",
        "interviews lasting 45–60 min with each participant",
        "We aimed to interview 5–7 key informants.",
        "A subset of 3–5 transcripts were used",
        "over 6.25 million people and 500,000 groups, 2,000 facilities",
        "a 45-year-old man in 2016. 43 interviews",
        "up to $20,000 for one retreat",
        "Covid19 is a name, not a citation",
    ],
)
def test_ignores_numbers_that_are_not_citations(text: str) -> None:
    assert find_citations(text, N_REFS) == []


def test_numbers_outside_the_reference_list_are_rejected() -> None:
    assert numbers("as shown before.40 Next", n_refs=39) == []
    assert numbers("as shown before.38–41 Next", n_refs=39) == []
    assert numbers("as shown before.38,39 Next", n_refs=39) == [(38, 39)]


def test_offsets_are_absolute_within_a_range() -> None:
    text = "Before.1 Middle sentence.2 After.3"
    start = text.index("Middle")
    end = text.index(" After")
    (found,) = find_citations(text, N_REFS, start, end)
    assert found.numbers == (2,)
    assert text[found.start : found.end] == "2"


def test_several_markers_in_a_sentence() -> None:
    text = "processes.21–23 Our study suggests medical care.24 We know outcomes.25,26 Mood"
    assert numbers(text) == [(21, 22, 23), (24,), (25, 26)]
    assert cited_numbers(find_citations(text, N_REFS)) == [21, 22, 23, 24, 25, 26]


def test_expand_marker() -> None:
    assert expand_marker("5–10") == [5, 6, 7, 8, 9, 10]
    assert expand_marker("7,38,39") == [7, 38, 39]
    assert expand_marker("1-3,7") == [1, 2, 3, 7]
    with pytest.raises(ValueError):
        expand_marker("10–5")


def test_cited_numbers_sorted_unique() -> None:
    text = "first.7,38 then.7 and.3"
    assert cited_numbers(find_citations(text, N_REFS)) == [3, 7, 38]
