"""Honest partial answers and the one reading of a question.

A question that takes for granted what the evidence does not have (a Programme H, "12
programmes", a programme for a condition none serves, an organisation never mentioned, a
comparison with unmentored patients) carries a false-premise caveat; one asking for what
no passage reports carries a not-reported caveat. Every caveat sentence is checked here
against the evidence it speaks of. Plain questions carry none. `understand` reads the
question once: the decline check embeds nothing again.
"""

from __future__ import annotations

import pytest

from peerqa.answer.compose import compose
from peerqa.answer.decline import decide
from peerqa.answer.intent import EVIDENCE, intent_text
from peerqa.answer.question import understand
from tests.conftest import CORPUS_TEXT


def _programme_rows(index) -> dict[str, str]:
    return {
        p.programme: f"{p.condition} {p.description}"
        for records in index.state.programmes.values()
        for p in records
    }


def test_a_programme_for_a_condition_no_programme_serves_is_a_false_premise(corpus_index):
    corpus_index.require()
    q = understand(corpus_index, "how does the HIV peer programme recruit its mentors?")
    assert q.caveat and q.caveat.kind == "false_premise"
    assert q.caveat.text == "None of Programmes A-G is for HIV."
    assert all("hiv" not in row.lower() for row in _programme_rows(corpus_index).values())


def test_a_named_programme_asked_about_another_condition_is_corrected_from_its_row(
    corpus_index,
):
    corpus_index.require()
    q = understand(corpus_index, "programme B's dialysis pts - what support do they get")
    assert q.caveat and q.caveat.kind == "false_premise"
    assert q.caveat.text == "Programme B is for mental illness."
    assert _programme_rows(corpus_index)["B"].startswith("Mental illness")


@pytest.mark.parametrize(
    "question",
    [
        "how does programme C help mums with low mood",  # C serves new mothers
        "which orgs run peer programmes for conditions like dementia, per the refs?",
        "How do programmes support new mothers?",
        "what do tx mentors do for pts after surgery",
        "GP here. what do pts get from peer support",
        "any funders other than NIMH?",
        # How many the asker wants back, a topic asked of a programme, everyday words
        # that also name outcomes: none takes anything for granted.
        "give me 5 bullet points on what mentors gain",
        "does programme F help with depression",
        "how do mentors cope when a mentee dies",
        "emotional cost for the volunteers?",
        # A caveat names only what is asked for and missing: not the asker's context (a
        # patient's condition), a range or ratio of what the asker wants, a cost the
        # evidence states ("up to $20,000 for one retreat"), or repeat interviews ("No
        # interviews were repeated").
        "seeing a housebound man w MS - what does the paper say peers do for loneliness",
        "main findings in 3-4 bullets?",
        "besides the 1:1 calls, are there groups?",
        "how much does a couples retreat cost?",
        "were any interviews repeated?",
        # A year of a cited work the question names, a number naming a condition, a count
        # of programmes with a verb after it: nothing absent is taken for granted.
        "the 2009 BMJ trial by Dennis - what was it testing?",
        "what do peers do for pts with type 2 diabetes?",
        "which of the 7 serves mothers and fathers of children w disabilities?",
    ],
)
def test_plain_questions_carry_no_caveat(corpus_index, question):
    assert understand(corpus_index, question).caveat is None


def test_a_name_the_question_takes_for_granted_is_said_to_be_absent(corpus_index):
    q = understand(corpus_index, "why did the NHS pay for the programmes?")
    assert q.caveat and q.caveat.kind == "false_premise"
    assert q.caveat.text == "The study does not mention “NHS”."
    assert "nhs" not in CORPUS_TEXT.lower()


def test_a_comparison_with_unmentored_patients_is_a_false_premise(corpus_index):
    answer = compose(corpus_index, "did mentored pts survive longer than unmentored ones?")
    assert not answer.abstained
    assert answer.caveat and answer.caveat.kind == "false_premise"
    assert answer.caveat.text == "The study does not report survival."
    assert "survival" not in CORPUS_TEXT.lower().replace("survivor", "")


@pytest.mark.parametrize(
    ("question", "text", "absent"),
    [
        (
            "any outcomes reported at 12 months?",
            "The study does not mention 12 months.",
            ("12 months", "twelve months"),
        ),
        (
            "how long had each of the programmes been running?",
            "The study does not report how long each programme had been running.",
            ("founded in", "years of operation"),
        ),
    ],
)
def test_what_no_passage_reports_is_said_plainly(corpus_index, question, text, absent):
    answer = compose(corpus_index, question)
    assert not answer.abstained, answer.reason
    assert answer.caveat and answer.caveat.kind == "not_reported"
    assert answer.caveat.text == text and answer.answer.startswith(text)
    assert not any(a in CORPUS_TEXT.lower() for a in absent)


def test_a_count_the_question_takes_for_granted_is_a_false_premise(corpus_index):
    q = understand(corpus_index, "the 300 interviews - who transcribed them?")
    assert q.caveat and q.caveat.kind == "false_premise"
    assert q.caveat.text == "The study does not mention 300 interviews."
    assert "43 semi-structured interviews" in CORPUS_TEXT


# -- one reading ---------------------------------------------------------------------------
def test_the_question_is_read_once_and_decline_embeds_nothing_again(corpus_index, monkeypatch):
    q = understand(corpus_index, "any funders other than NIMH?")
    assert q.spelled == intent_text(q.resolved)
    assert "National Institute of Mental Health" in q.spelled
    assert q.spelled_vector is not q.vector and q.intent.label == EVIDENCE
    results = corpus_index.search(q.resolved, top_k=8, encoding=q.encoding)

    def embedding_again(*args, **kwargs):
        raise AssertionError("the decline check embedded the question again")

    model = type(corpus_index.embed_model)
    monkeypatch.setattr(model, "get_query_embedding", embedding_again)
    monkeypatch.setattr(model, "encode_query", embedding_again)
    assert decide(q, results, corpus_index) is None


def test_a_question_without_shorthand_is_embedded_once(corpus_index):
    q = understand(corpus_index, "Who funded the study?")
    assert q.spelled == q.resolved and q.spelled_vector is q.vector


@pytest.mark.parametrize(
    ("question", "sense"),
    [
        ("how do we train sixth formers to be peer tutors for maths", "peer tutoring"),
        ("how many hereditary peers still sit in the house of lords", "a peer of the realm"),
    ],
)
def test_other_senses_of_peer_are_declined_and_named(corpus_index, question, sense):
    answer = compose(corpus_index, question)
    assert answer.abstained and answer.reason_code == "out_of_scope"
    assert sense in answer.reason


def test_a_missing_source_of_a_named_programme_is_corrected_not_declined(corpus_index):
    """About the held programmes, so answered: the caveat says what the evidence lacks."""
    answer = compose(corpus_index, "what did the 2015 trial of Programme B find?")
    assert not answer.abstained, answer.reason
    assert answer.caveat and answer.caveat.kind == "false_premise"
    assert answer.caveat.text == "The study does not mention “2015”."
    assert "2015" not in CORPUS_TEXT


# Phrasings written apart from the curated set, to check the outcome types and premises
# generalise: each is answered with its caveat first, never declined for being far from
# the evidence (a question asking for what is absent is expected to be).
@pytest.mark.parametrize(
    ("question", "kind", "text", "absent"),
    [
        (
            "what was the dropout rate among mentees",
            "not_reported",
            "The study does not report dropout rates.",
            ("dropout", "drop-out", "attrition"),
        ),
        (
            "what was the attrition of peer volunteers at 12 months",
            "not_reported",
            "The study does not report dropout rates.",
            ("attrition",),
        ),
        (
            "smoking quit rates in the programmes?",
            "not_reported",
            "The study does not report smoking cessation.",
            ("quit rate", "smoking"),
        ),
        (
            "cost of training one volunteer?",
            "not_reported",
            "The study does not report training costs.",
            ("cost",),
        ),
        (
            "did peer support reduce ER visits?",
            "not_reported",
            "The study does not report emergency department visits.",
            ("emergency department",),
        ),
        (
            "how much did peer support lower mortality?",
            "false_premise",
            "The study does not report mortality.",
            ("mortality rate", "death rate"),
        ),
        (
            "why was programme B only for cancer pts",
            "false_premise",
            "Programme B is for mental illness.",
            (),
        ),
    ],
)
def test_unseen_phrasings_get_their_honest_partial_answer(
    corpus_index, question, kind, text, absent
):
    answer = compose(corpus_index, question)
    assert not answer.abstained, answer.reason
    assert answer.caveat and answer.caveat.kind == kind
    assert answer.caveat.text == text and answer.answer.startswith(text)
    assert not any(a in CORPUS_TEXT.lower() for a in absent)


# -- a caveat must be true: only the thing asked for, never what the evidence states -------
def test_a_cost_the_evidence_states_is_not_said_to_be_unreported(corpus_index):
    assert "$20,000 for one retreat" in CORPUS_TEXT
    q = understand(corpus_index, "what's the price tag on one of the cancer retreats?")
    assert q.caveat is None
    q = understand(corpus_index, "yearly running costs of the transplant mentoring scheme?")
    assert q.caveat and q.caveat.kind == "not_reported"
    assert q.caveat.text == "The study does not report running costs."
    assert "running cost" not in CORPUS_TEXT.lower()


@pytest.mark.parametrize(
    ("question", "kind", "text", "absent"),
    [
        # A design, format or event taken for granted that the study never mentions.
        (
            "what came out of the focus groups with caregivers?",
            "false_premise",
            "The study does not mention focus groups.",
            "focus group",
        ),
        (
            "did the team also run focus groups?",
            "not_reported",
            "The study does not mention focus groups.",
            "focus group",
        ),
        (
            "how did the pandemic change programme F?",
            "false_premise",
            "The study does not mention COVID-19.",
            "pandemic",
        ),
        # A year the study gives only in its reference list is said to be only there.
        (
            "why was the analysis done in 2021?",
            "false_premise",
            "The study mentions 2021 only in its reference list.",
            "2021",
        ),
        # A figure a qualitative study rarely gives, asked for.
        (
            "what kappa did the coders reach?",
            "not_reported",
            "The study does not report inter-rater reliability.",
            "kappa",
        ),
        (
            "what was uptake like among eligible new mums?",
            "not_reported",
            "The study does not report uptake.",
            "uptake",
        ),
    ],
)
def test_what_the_study_never_mentions_is_said_plainly(corpus_index, question, kind, text, absent):
    q = understand(corpus_index, question)
    assert q.caveat and q.caveat.kind == kind
    assert q.caveat.text == text
    own = [p.text for p in corpus_index.passages.values() if p.kind != "reference"]
    assert not any(absent in t.lower() for t in own)


def test_a_programme_said_to_be_limited_to_another_condition_is_corrected(corpus_index):
    q = understand(corpus_index, "why is programme F restricted to kidney pts?")
    assert q.caveat and q.caveat.kind == "false_premise"
    assert q.caveat.text == "Programme F is for cancer."
    assert "kidney" not in _programme_rows(corpus_index)["F"].lower()


# -- the roles the study interviewed (the paper's profile) ---------------------------------
def test_what_a_role_of_a_programme_said_is_read_against_who_was_interviewed(corpus_index):
    assert "for Programme G only 1 key informant was interviewed" in CORPUS_TEXT
    q = understand(corpus_index, "programme G volunteers - what did they report about burnout?")
    assert q.caveat and q.caveat.kind == "false_premise"
    assert q.caveat.text == "For Programme G, the study interviewed programme leaders only."
    # Programme G's leader was interviewed; other programmes' volunteers were.
    assert (
        understand(corpus_index, "what did programme G's leader say about funding?").caveat is None
    )
    assert understand(corpus_index, "what did programme D's volunteers say?").caveat is None


def test_a_study_said_to_interview_one_role_only_is_corrected(corpus_index):
    assert "we interviewed programme leaders (PL), peer supporters (PS), and peer support" in (
        CORPUS_TEXT
    )
    q = understand(corpus_index, "how come they interviewed just the mentees?")
    assert q.caveat and q.caveat.kind == "false_premise"
    assert q.caveat.text == (
        "The study interviewed programme leaders, peer supporters and peer support recipients."
    )
    assert understand(corpus_index, "did they interview only leaders?").caveat is None
    q = understand(corpus_index, "all the informants were mentees, so who speaks for staff?")
    assert q.caveat and q.caveat.kind == "false_premise"
    assert understand(corpus_index, "what did all 43 interviewees say about hope?").caveat is None


def test_a_paper_without_a_profile_knows_no_interviewed_roles():
    from peerqa.answer.profiles import profile_for

    generic = profile_for("someone-2020-other")
    assert generic.interviewed == () and generic.interviewed_by_unit == {}
    joo = profile_for("joo-2022-peer-support")
    assert joo.interviewed_by_unit == {"G": ("programme leaders",)}


# -- where a programme runs and how far it reaches (its table row) -------------------------
def _row(index, letter):
    return next(p for rs in index.state.programmes.values() for p in rs if p.programme == letter)


@pytest.mark.parametrize(
    ("question", "text"),
    [
        ("why was programme G hospital based?", "Programme G is community-based."),
        ("why did programme C only operate nationally?", "Programme C's reach is local."),
        (
            "why are all the programmes community-based?",
            "Programmes E-F are not community-based.",
        ),
        ("is programme G hospital-based?", None),  # asks; the row answers
        ("programme G vs the hospital-based schemes: how do they differ?", None),
        ("why is programme F hospital-based?", None),  # true of F
    ],
)
def test_a_setting_or_reach_said_of_a_programme_is_read_against_its_row(
    corpus_index, question, text
):
    corpus_index.require()
    q = understand(corpus_index, question)
    if text is None:
        assert q.caveat is None
        return
    assert q.caveat and q.caveat.kind == "false_premise" and q.caveat.text == text
    assert _row(corpus_index, "G").setting == "community-based"
    assert _row(corpus_index, "C").reach == "Local"
    assert [_row(corpus_index, x).setting for x in "EF"] == ["hospital-based"] * 2


@pytest.mark.parametrize(
    "question, text, said",
    [
        # The design, the delivery and who was interviewed, read against the paper profile
        # (answer/profiles/): the caveat says what the study is, true whatever was assumed.
        (
            "why did the researchers pick a randomised design?",
            "The study is a qualitative study of key informant interviews.",
            "semi-structured",
        ),
        (
            "given the programmes all ran online, how did mentors spot distress?",
            "The programmes studied delivered peer support face-to-face or by telephone; "
            "online-only programmes were excluded.",
            "online-only programmes were excluded",
        ),
        (
            "why did they not interview any peer mentors?",
            "The study interviewed programme leaders, peer supporters and peer support recipients.",
            "we interviewed programme leaders (PL), peer supporters (PS), and peer support "
            "recipients (PR)",
        ),
        # A tag question asserts what it asks to confirm.
        ("The NHS paid for it, right?", "The study does not mention “NHS”.", None),
        # The whole name, not its first word.
        (
            "the Gates Foundation paid for this, correct?",
            "The study does not mention “Gates Foundation”.",
            None,
        ),
        # A programme in shorthand said to serve what its row does not.
        (
            "prog B is the diabetes one - what did its leaders say",
            "Programme B is for mental illness.",
            "Programme B | √ | √ | √ | Mental illness",
        ),
    ],
)
def test_what_the_paper_profile_and_rows_contradict_is_corrected(
    corpus_index, question, text, said
):
    corpus_index.require()
    q = understand(corpus_index, question)
    assert q.caveat and q.caveat.kind == "false_premise"
    assert q.caveat.text == text
    if said:
        assert said.lower() in " ".join(CORPUS_TEXT.lower().split())


def test_a_format_said_of_a_programme_is_read_against_its_row(corpus_index):
    corpus_index.require()
    q = understand(corpus_index, "how did programme D's groups work")
    row = _programme_rows(corpus_index)["D"]
    assert "group" not in row.lower()
    assert q.caveat and q.caveat.kind == "false_premise"
    assert q.caveat.text.startswith("The study describes Programme D as: “Offers one-on-one")
    # Asking whether takes nothing for granted; a format the row has is no premise.
    for plain in ("does programme D run groups?", "how did programme D's phone support work"):
        assert understand(corpus_index, plain).caveat is None


@pytest.mark.parametrize(
    "question",
    [
        "who paid for this research?",  # the funding section, not peer supporters' pay
        "which cited paper ties isolation to mortality?",  # a reference may report it
        "what if the mentee lives 3 towns away?",  # the asker's case, not a count of the study
        "what RCTs of peer support does it cite?",
        "was this an RCT?",
        "is online peer support as good as in person?",
    ],
)
def test_what_is_asked_of_the_study_or_the_literature_carries_no_false_caveat(
    corpus_index, question
):
    corpus_index.require()
    q = understand(corpus_index, question)
    assert q.caveat is None or q.caveat.kind != "false_premise", q.caveat
    if question.startswith(("who paid", "which cited", "what if")):
        assert q.caveat is None


@pytest.mark.parametrize(
    "question, text",
    [
        ("cohen's kappa for the coding?", "The study does not report inter-rater reliability."),
        ("€ per mentee?", "The study does not report costs per participant."),
        ("peer training - how many hours all up?", "The study does not report hours of training."),
    ],
)
def test_figures_the_study_never_gives_are_said_to_be_unreported(corpus_index, question, text):
    corpus_index.require()
    q = understand(corpus_index, question)
    assert q.caveat and q.caveat.kind == "not_reported"
    assert q.caveat.text == text


# -- premises read against the study's own facts (its programmes' rows, its profile) -------
@pytest.mark.parametrize(
    ("question", "text"),
    [
        # a programme by a place beyond the count of programmes held
        (
            "the 8th programme, the dementia one - funding issues?",
            "The study covers Programmes A-G.",
        ),
        # a delivery mode the programmes used, said to be left out
        (
            "why did they exclude telephone-based programmes?",
            "The programmes studied delivered peer support face-to-face or by telephone; "
            "online-only programmes were excluded.",
        ),
        # whom a programme is said to be only for, and its row never names
        (
            "why did programme D only serve teens?",
            "The study describes Programme D as: “Offers one-on-one telephone support to "
            "parents of children with disabilities by connecting the parent seeking support "
            "with a trained volunteer Support Parent.”",
        ),
        # a programme named by its letter alone, said to offer what its row does not
        (
            "D runs face-to-face groups - how often do they meet?",
            "The study describes Programme D as: “Offers one-on-one telephone support to "
            "parents of children with disabilities by connecting the parent seeking support "
            "with a trained volunteer Support Parent.”",
        ),
        # a statement before the question, or a "so" question, takes a name for granted
        (
            "study was done in Toronto - does that limit it for US family docs?",
            "The study does not mention “Toronto”.",
        ),
        ("so the MRC funded this one?", "The study does not mention “MRC”."),
    ],
)
def test_what_a_question_says_of_the_study_is_read_against_its_own_facts(
    corpus_index, question, text
):
    corpus_index.require()
    q = understand(corpus_index, question)
    assert q.caveat and q.caveat.kind == "false_premise"
    assert q.caveat.text == text


@pytest.mark.parametrize(
    "question",
    [
        "why was programme C only for new mums?",  # its row: new mothers
        "prog A - local only or wider?",
        "why did the study include telephone programmes?",
        "the second programme in table 2 - who does it serve?",
        # what the study did, asked about; the asker's own context
        "why did they exclude online-only programmes?",
        "my pts are in Toronto - can I refer them?",
        "D runs phone support - how are volunteers trained?",
    ],
)
def test_what_the_rows_and_profile_hold_is_no_false_premise(corpus_index, question):
    corpus_index.require()
    assert understand(corpus_index, question).caveat is None


def test_the_study_called_by_a_design_it_did_not_use_is_corrected(corpus_index):
    corpus_index.require()
    q = understand(corpus_index, "in the RCT, how many pts were randomised to a mentor?")
    assert q.caveat and q.caveat.kind == "false_premise"
    assert q.caveat.text == "The study is a qualitative study of key informant interviews."
    # The cited trials are the literature's, not the study's design.
    assert understand(corpus_index, "what did the RCTs they cite find?").caveat is None


def test_a_name_the_paper_spells_another_way_is_never_said_missing(corpus_index):
    """One absence check (Mentions) reads the question's names for declining and caveats
    alike: a name the paper writes another way is known to both."""
    corpus_index.require()
    question = "did they use Grounded-Theory coding?"
    assert "grounded theory" in CORPUS_TEXT and "Grounded-Theory" not in CORPUS_TEXT
    assert understand(corpus_index, question).unknown == ()
    answer = compose(corpus_index, question)
    assert "does not mention" not in (answer.reason or "") + answer.answer
