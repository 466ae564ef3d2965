"""Sentence and chunk segmentation: offsets, boundaries, and packing."""

from __future__ import annotations

import pytest

from peerqa.segment import chunk_spans, sentence_spans, word_count


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def test_word_count() -> None:
    assert word_count("") == 0
    assert word_count("  one two\nthree ") == 3


def test_simple_sentences_are_trimmed_and_cover_all_content() -> None:
    text = "  First one here.  Second one?\nThird!  "
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["First one here.", "Second one?", "Third!"]
    covered = "".join(text[s:e] for s, e in spans)
    assert covered.replace(" ", "") == text.replace(" ", "").replace("\n", "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "over 6.25 million people use self-help groups in the United States.1 Peer support"
            " programmes are offered widely.",
            [
                "over 6.25 million people use self-help groups in the United States.1",
                "Peer support programmes are offered widely.",
            ],
        ),
        (
            "They decrease risky behaviours.5–10 Studies of peer support show effects.11,12",
            ["They decrease risky behaviours.5–10", "Studies of peer support show effects.11,12"],
        ),
        (
            "apart from Alcoholics Anonymous.3,4 Next sentence.",
            ["apart from Alcoholics Anonymous.3,4", "Next sentence."],
        ),
    ],
)
def test_glued_citation_stays_with_its_sentence(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_citation_glued_to_a_word_is_not_a_boundary() -> None:
    text = "Mood problems are associated with poor health27–29 and can affect engagement."
    assert sentences(text) == [text]


def test_abbreviations_and_initials_do_not_end_sentences() -> None:
    text = (
        "Groups (e.g. Narcotics Anonymous) differ, i.e. They vary. Smith et al. Reported this."
        " Dr. Jones met J. Smith vs. Mr. Brown (see Fig. 1). Apples, pears, etc. and more."
    )
    assert sentences(text) == [
        "Groups (e.g. Narcotics Anonymous) differ, i.e. They vary.",
        "Smith et al. Reported this.",
        "Dr. Jones met J. Smith vs. Mr. Brown (see Fig. 1).",
        "Apples, pears, etc. and more.",
    ]


def test_decimals_and_counts_do_not_split() -> None:
    text = "About 6.25 million people (41/43) met for 45–60 min. Then 3.5 hours passed."
    assert sentences(text) == [
        "About 6.25 million people (41/43) met for 45–60 min.",
        "Then 3.5 hours passed.",
    ]


def test_a_full_stop_glued_to_the_next_sentence_still_ends_it() -> None:
    # paper_1122's abstract as its converter left it: labels and spaces lost.
    text = (
        "leveraging social support might improve blood pressure (BP) control.To evaluate the"
        " effectiveness of a bidirectional text monitoring program in adults with"
        " hypertension.This randomized clinical trial included adults in 2018 and 2019.Patients"
        " had been seen (p < .05).Alcohol use fell."
    )
    assert sentences(text) == [
        "leveraging social support might improve blood pressure (BP) control.",
        "To evaluate the effectiveness of a bidirectional text monitoring program in adults"
        " with hypertension.",
        "This randomized clinical trial included adults in 2018 and 2019.",
        "Patients had been seen (p < .05).",
        "Alcohol use fell.",
    ]


def test_glued_full_stops_that_end_no_sentence() -> None:
    # Abbreviations, initials, names with a dot, decimals and web addresses.
    for text in (
        "Groups (e.g.The Samaritans) met.",
        "Troops of the U.S.Army met.",
        "J.Smith reported this.",
        "A trial of Mobile.Net) for psychosis.",
        "Rates of 3.5 and 4.2 were seen at jamanetwork.com by guest.",
        "As Smith et al.Reported here.",
    ):
        assert sentences(text) == [text]


def test_quote_keeps_its_attribution() -> None:
    text = (
        "She said it helped: “finding out I’m not alone.” (B, PL) A recipient said, "
        "“it helped.” (C, PR) She got answers such as “how do you take a shower?” (F) "
        "It ends “with a quote.” (Programme B, PL)"
    )
    assert sentences(text) == [
        "She said it helped: “finding out I’m not alone.” (B, PL)",
        "A recipient said, “it helped.” (C, PR)",
        "She got answers such as “how do you take a shower?” (F)",
        "It ends “with a quote.” (Programme B, PL)",
    ]


def test_attribution_followed_by_lowercase_is_not_a_boundary() -> None:
    text = "She said “yes.” (F) and then left."
    assert sentences(text) == [text]


def test_ellipses() -> None:
    text = (
        "everyone’s alone, especially with rare diagnoses. …And so it was hope. "
        "These powerful … Peer-to-Peer people helped the care plan… I wish it were so. "
        "“… I was connected with so many people.”"
    )
    assert sentences(text) == [
        "everyone’s alone, especially with rare diagnoses.",
        "…And so it was hope.",
        "These powerful … Peer-to-Peer people helped the care plan…",
        "I wish it were so.",
        "“… I was connected with so many people.”",
    ]


def test_lowercase_after_period_is_not_a_boundary() -> None:
    text = "We asked programme leaders e.g. interpersonal ones. and more text here."
    assert sentences(text) == [text]


def test_blank_line_separates_except_after_a_lead_in() -> None:
    text = "A heading without a stop\n\nThe body follows."
    assert sentences(text) == ["A heading without a stop", "The body follows."]
    text = "It had four phases:\n\n(1) translation, (2) revision. Each was reviewed."
    assert sentences(text) == [
        "It had four phases:\n\n(1) translation, (2) revision.",
        "Each was reviewed.",
    ]


def test_range_offsets_are_absolute() -> None:
    text = "IGNORED. First here. Second here. IGNORED."
    start = text.index("First")
    end = text.index(" IGNORED.", start)
    spans = sentence_spans(text, start, end)
    assert [text[s:e] for s, e in spans] == ["First here.", "Second here."]
    assert spans[0][0] == start


def test_empty_and_blank_ranges() -> None:
    assert sentence_spans("") == []
    assert sentence_spans("   \n ") == []


def _text_of(n_words: int, tag: str) -> str:
    """A capitalised sentence of exactly n_words words."""
    return " ".join(f"{tag}{i}" for i in range(n_words - 1)).capitalize() + " end."


def test_chunks_respect_the_word_budget_and_balance() -> None:
    text = " ".join(_text_of(30, f"s{k}w") for k in range(9))  # 9 sentences x 30 words
    spans = sentence_spans(text)
    assert len(spans) == 9
    chunks = chunk_spans(text, spans, max_words=120)
    sizes = [word_count(text[s:e]) for s, e in chunks]
    assert sum(sizes) == 270
    assert len(chunks) == 3 and max(sizes) <= 120
    assert sizes == [90, 90, 90]  # balanced, not 120 + 120 + 30


def test_chunks_are_sentence_aligned_and_contiguous() -> None:
    text = " ".join(_text_of(50, f"s{k}w") for k in range(5))
    spans = sentence_spans(text)
    chunks = chunk_spans(text, spans, max_words=120)
    starts = {s for s, _ in spans}
    ends = {e for _, e in spans}
    assert all(s in starts and e in ends for s, e in chunks)
    assert chunks[0][0] == spans[0][0] and chunks[-1][1] == spans[-1][1]


def test_a_long_sentence_stays_whole() -> None:
    long_sentence = _text_of(150, "long")
    text = f"Short one here. {long_sentence} Another short one."
    spans = sentence_spans(text)
    chunks = chunk_spans(text, spans, max_words=120)
    texts = [text[s:e] for s, e in chunks]
    assert long_sentence in texts
    assert word_count(long_sentence) == 150


def test_small_paragraph_is_one_chunk() -> None:
    text = "One. Two. Three."
    assert chunk_spans(text, sentence_spans(text)) == [(0, len(text))]
    assert chunk_spans(text, []) == []


def test_a_bare_citation_number_ends_the_sentence_before_it() -> None:
    # A superscript a converter left bare ("control. 28 In phase 1"), for a paper whose
    # references are numbered 1-36: the number is no part of the next sentence.
    text = "It may influence BP control. 28 In phase 1, alerts rose. 29,30 The trial ended."
    refs = range(1, 37)
    assert [text[s:e] for s, e in sentence_spans(text, citations=refs)] == [
        "It may influence BP control. 28",
        "In phase 1, alerts rose. 29,30",
        "The trial ended.",
    ]
    # Without the paper's reference numbers, or for a number outside them, it stays.
    assert sentences(text)[1] == "28 In phase 1, alerts rose."
    assert [text[s:e] for s, e in sentence_spans(text, citations=range(1, 10))][1].startswith("28")


def test_a_count_opening_a_sentence_is_no_citation() -> None:
    text = "The trial ran in 2019. 28 participants enrolled. 12 of them left."
    assert [text[s:e] for s, e in sentence_spans(text, citations=range(1, 40))] == [
        "The trial ran in 2019.",
        "28 participants enrolled.",
        "12 of them left.",
    ]


def test_a_count_equal_to_a_number_the_text_cites_in_brackets_is_no_citation() -> None:
    # Two of paper_1408's sentences (it cites in brackets), the second opening with its
    # count as a numeral: the passage's reference numbers hold 7 (from "[7]"), which is
    # how the answer splits it, but a text citing "[7]" does not repeat it bare.
    text = (
        "There is a growing recognition of the value of lived experience expertise for "
        "facilitating recovery within mainstream services [7]. 7 Trials took place in "
        "America and one was conducted in Switzerland."
    )
    assert [text[s:e] for s, e in sentence_spans(text, citations=[7, 8])] == [
        text[: text.index(" 7 Trials")],
        "7 Trials took place in America and one was conducted in Switzerland.",
    ]
    # A bare superscript the text does not also print in brackets still ends its sentence.
    mixed = text.replace("[7]", "[8]")
    assert [mixed[s:e] for s, e in sentence_spans(mixed, citations=[7, 8])][0].endswith("[8]. 7")
