"""Query expansion: terse clinical shorthand is searched under what it stands for."""

from __future__ import annotations

import pytest

from peerqa.retrieval.expansion import expand, shorthand, unabbreviate


@pytest.mark.parametrize(
    ("question", "spelled"),
    [
        ("GP here, what do pts get from peer support?", ["general practitioner", "patients"]),
        ("MDT role in f/u?", ["multidisciplinary team", "follow-up"]),
        ("hx of dx w/ depression, tx options", ["history", "diagnosis", "with", "treatment"]),
        ("how do CHWs f/u pts after d/c", ["community health worker", "follow-up", "discharge"]),
        ("sw referral to MDT?", ["social worker", "multidisciplinary team"]),
        ("what abt OOH cover", ["about", "out of hours"]),
        ("f2f vs txt msgs for peds pts", ["face-to-face", "text message", "paediatric"]),
        ("psych readmits w/in 30 days", ["psychiatric", "readmission", "within"]),
        ("any RCTs of peer support for pts w/ SMI?", ["randomized controlled trial"]),
    ],
)
def test_clinical_shorthand_is_searched_spelled_out(question, spelled):
    query = expand(question)
    assert query.startswith(question)  # the question as asked stays in the query
    for words in spelled:
        assert words in query


def test_shorthand_matches_whole_forms_and_capitalised_forms_as_written():
    # "dc" inside a word, "Ms" (a title, not multiple sclerosis) and "cf." are not shorthand.
    assert not shorthand("the dcd table; Ms Smith; cf. the review")
    assert [s.form for s in shorthand("CF clinic and MS nurse")] == ["CF", "MS"]
    assert [s.form for s in shorthand("pts and GPs")] == ["pts", "GPs"]


def test_shorthand_is_spelled_out_in_place_for_readers():
    assert unabbreviate("GP here. what do pts get") == (
        "GP (general practitioner) here. what do pts (patient) get"
    )


def test_terms_are_turns_of_phrase_and_names_are_topics():
    (gp, nimh) = shorthand("GP asking about NIMH funding")
    assert not gp.name and nimh.name


@pytest.mark.parametrize(
    ("question", "written"),
    [
        ("how do you stop volunteers burning out", "burn out"),
        ("is their wellbeing protected", "protect"),
        ("the main drawbacks", "drawback"),
        ("mentors exhausted by it", "exhausted"),
    ],
)
def test_thesaurus_matches_a_written_form_and_its_inflections(question, written):
    assert expand(question) != question
    assert expand(written)[len(written) :] in expand(question)


def test_a_written_inflection_matches_only_itself():
    # "studies" (other research) is written; "study" (this paper) is not its inflection.
    assert expand("what do studies say") != "what do studies say"
    assert expand("what did this study find") == "what did this study find"


def test_thesaurus_words_match_whole_words_only():
    assert expand("a careful breakdown") == "a careful breakdown"  # not "break"
