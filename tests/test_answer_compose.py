"""The extractive composer over the ingested paper: verbatim cited sentences, resolvable
markers, stance grouping, quotes, follow-ups. Real model, real store (conftest)."""

from __future__ import annotations

import re

import pytest

from answer.compose import (
    CHALLENGES_HEADING,
    MAX_QUOTES,
    MITIGATIONS_HEADING,
    QUOTES_HEADING,
    attribution,
    compose,
)
from answer.followup import is_followup, retrieval_query
from answer.sentences import bank_for
from peerqa.models import Answer, Filters, Passage
from tests.conftest import CORPUS_TEXT

HEADINGS = {CHALLENGES_HEADING, MITIGATIONS_HEADING, QUOTES_HEADING}
MARKER = re.compile(r"\[(\d+)\]")
ATTRIBUTION = re.compile(
    r"— (programme leader|peer supporter|peer support recipient|participant)"
    r"(, Programme [A-G])?"
)
MATCHING = "Matching based on condition and cultural similarity"

IN_SCOPE = [
    "Do peer groups make people feel less lonely?",
    "What do family caregivers get out of peer support?",
    "How do programmes keep volunteers from getting too emotionally involved?",
    "What are the challenges programmes face and how do they address them?",
    "Which programme supports new mothers, and how long does the support last?",
    "Which reference is the randomised trial of peer support to prevent postnatal depression?",
    "How many key informants were interviewed, and when was the data collected?",
    "Do doctors push back on having volunteers around their patients?",
    "Do peer mentors benefit from helping others?",
]


def segments(answer: Answer) -> list[tuple[str, list[str], str]]:
    """(evidence text, its markers, what follows the last marker) for every text line.

    Evidence is each stretch of a line up to a marker group; headings are whole lines."""
    parsed = []
    for line in answer.answer.splitlines():
        if not line.strip() or line in HEADINGS:
            continue
        pieces = MARKER.split(line)
        # pieces: text, n, text, n, ..., tail
        texts, numbers = pieces[0::2], pieces[1::2]
        assert numbers, f"uncited text: {line!r}"
        for i, n in enumerate(numbers):
            if texts[i].strip():
                parsed.append((texts[i].strip(), [f"[{n}]"], ""))
            else:  # "… [1][2]": a further marker of the same sentence
                parsed[-1][1].append(f"[{n}]")
        parsed[-1] = (parsed[-1][0], parsed[-1][1], texts[-1].strip())
    return parsed


@pytest.fixture(scope="module")
def answers(corpus_index) -> dict[str, Answer]:
    return {q: compose(corpus_index, q) for q in IN_SCOPE}


@pytest.mark.parametrize("question", IN_SCOPE)
def test_every_marked_sentence_is_a_verbatim_span_of_its_citation(answers, question):
    answer = answers[question]
    assert not answer.abstained, answer.reason
    by_marker = {c.marker: c for c in answer.citations}
    parsed = segments(answer)
    assert parsed
    for text, markers, _ in parsed:
        for marker in markers:
            assert text in by_marker[marker].text, (text, marker)
    for c in answer.citations:
        assert CORPUS_TEXT[c.char_start : c.char_end] == c.text


@pytest.mark.parametrize("question", IN_SCOPE)
def test_markers_resolve_in_order_of_first_use_one_per_passage(answers, question):
    answer = answers[question]
    used = [m for _, markers, _ in segments(answer) for m in markers]
    first_use = list(dict.fromkeys(used))
    assert first_use == [f"[{i}]" for i in range(1, len(first_use) + 1)]
    assert [c.marker for c in answer.citations] == first_use  # none unused, none invented
    assert len({c.id for c in answer.citations}) == len(answer.citations)


@pytest.mark.parametrize("question", IN_SCOPE)
def test_only_headings_and_quote_attributions_go_uncited(answers, question):
    answer = answers[question]
    by_marker = {c.marker: c for c in answer.citations}
    for _, markers, tail in segments(answer):
        if tail:  # text after a line's last marker: only a quote's attribution
            assert ATTRIBUTION.fullmatch(tail), tail
            assert by_marker[markers[-1]].kind == "quote"


@pytest.mark.parametrize("question", IN_SCOPE)
def test_three_to_six_sentences_and_at_most_two_attributed_quotes(answers, question):
    answer = answers[question]
    parsed = segments(answer)
    quotes = [(text, tail) for text, _, tail in parsed if tail]
    assert len(quotes) <= MAX_QUOTES
    assert 3 <= len(parsed) - len(quotes) <= 6
    cited_quotes = [c for c in answer.citations if c.kind == "quote"]
    assert len(cited_quotes) == len(quotes)
    for c, (_, tail) in zip(cited_quotes, quotes, strict=True):
        assert tail == f"— {attribution(c)}"


def test_quote_attribution_names_role_and_programme():
    quote = Passage(
        id="x",
        text="“…”",
        document="d",
        section="Table 4",
        kind="quote",
        programme="F",
        role="programme_leader",
        char_start=0,
        char_end=3,
    )
    assert attribution(quote) == "programme leader, Programme F"
    assert attribution(quote.model_copy(update={"programme": None, "role": None})) == "participant"


def test_a_quote_question_gets_an_attributed_quote(corpus_index):
    answer = compose(
        corpus_index, "How expensive are the couples retreats the cancer programme runs?"
    )
    lines = answer.answer.splitlines()
    assert QUOTES_HEADING in lines
    quote_lines = lines[lines.index(QUOTES_HEADING) + 1 :]
    assert quote_lines and all(ATTRIBUTION.search(line) for line in quote_lines)
    assert any("$20,000" in line for line in quote_lines)


def test_challenge_and_mitigation_question_is_grouped_by_stance(answers):
    answer = answers["What are the challenges programmes face and how do they address them?"]
    text = answer.answer
    assert text.startswith(CHALLENGES_HEADING + "\n")
    challenges, _, rest = text.partition(MITIGATIONS_HEADING)
    mitigations = rest.split(QUOTES_HEADING)[0]
    by_marker = {c.marker: c for c in answer.citations}
    in_challenges = {by_marker[f"[{n}]"].id for n in MARKER.findall(challenges)}
    in_mitigations = {by_marker[f"[{n}]"].id for n in MARKER.findall(mitigations)}
    assert in_challenges and in_mitigations
    stance = {c.id: c.stance for c in answer.citations}
    assert "mitigation" not in {stance[i] for i in in_challenges}
    assert "challenge" not in {stance[i] for i in in_mitigations}
    assert "mitigation" in {stance[i] for i in in_mitigations}


def test_a_benefit_question_is_not_grouped(answers):
    text = answers["Do peer groups make people feel less lonely?"].answer
    assert CHALLENGES_HEADING not in text and MITIGATIONS_HEADING not in text


def test_table_rows_and_references_only_for_facts_and_literature(answers):
    for question in (
        "Do peer groups make people feel less lonely?",
        "How do programmes keep volunteers from getting too emotionally involved?",
    ):
        kinds = {c.kind for c in answers[question].citations}
        assert not kinds & {"table_row", "reference"}, question
    literature = answers[
        "Which reference is the randomised trial of peer support to prevent postnatal depression?"
    ]
    assert any(
        c.kind == "reference" and "postnatal depression" in c.text for c in literature.citations
    )
    programme = answers["Which programme supports new mothers, and how long does the support last?"]
    assert any("12 weeks" in c.text for c in programme.citations)


def test_follow_up_is_resolved_with_the_previous_turn(corpus_index):
    first = "What goes wrong when programmes pair people?"
    answer = compose(corpus_index, "how do they fix that?", history=[first])
    assert not answer.abstained
    assert answer.answer.startswith(CHALLENGES_HEADING)  # "fix that" = fix the pairing problem
    fixes = [c for c in answer.citations if c.theme == MATCHING and c.stance == "mitigation"]
    assert fixes, [c.id for c in answer.citations]
    assert any("match" in c.text for c in fixes)


def test_history_is_ignored_for_a_standalone_question():
    history = ["What goes wrong when programmes pair people?"]
    question = "Which programme supports parents of children with disabilities?"
    assert retrieval_query(question, history) == question


@pytest.mark.parametrize(
    ("question", "followup"),
    [
        ("what about caregivers?", True),
        ("how do they fix that?", True),
        ("and how long did each last?", True),
        ("So how did they get them on board?", True),
        ("How long?", True),
        ("Which programme supports parents of children with disabilities?", False),
        (
            "How do programmes decide which volunteer to match with a newly diagnosed patient?",
            False,
        ),
    ],
)
def test_followup_detection(question, followup):
    assert is_followup(question) is followup


def test_followup_query_folds_in_earlier_followups_too():
    history = ["How many people did they interview?", "Were those face to face?"]
    query = retrieval_query("And how long did each one last?", history)
    assert query == " ".join([*history, "And how long did each one last?"])


def test_filters_are_respected_including_theme_partners(corpus_index):
    filters = Filters(programme=["D"])
    answer = compose(
        corpus_index, "What are the challenges and how are they handled?", filters=filters
    )
    assert answer.citations
    assert {c.programme for c in answer.citations} == {"D"}


def test_sentence_embeddings_are_cached_per_passage(corpus_index):
    question = "Do peer groups make people feel less lonely?"
    compose(corpus_index, question)
    before = corpus_index.embed_model.embedded
    compose(corpus_index, question)
    assert corpus_index.embed_model.embedded == before  # no sentence re-embedded
    results = corpus_index.search(question, top_k=3)
    splits = bank_for(corpus_index).split(results)
    for passage, split in zip(results, splits, strict=True):
        assert all(passage.text[s.start : s.end] == s.text for s in split.sentences)
        assert split.vectors.shape == (len(split.sentences), 384)
