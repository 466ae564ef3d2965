"""Which paper a question is about when several are loaded (answer.scope): named papers,
a request's document filter and a session's paper in focus confine the answer; with none
of these every paper may answer and each sentence's paper is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from peerqa.answer.compose import compose
from peerqa.answer.scope import FILTER, NAMED, SESSION, named_documents, paper_names, scope_for
from peerqa.models import Filters
from peerqa.service.routes.answers import answer_turn
from peerqa.service.sessions import SessionStore

PAPERS = Path(__file__).parent / "fixtures" / "papers"
JOO = "joo-2022-peer-support"
KOOTH = "paper-1571"  # Prescott et al. 2017, JMIR Mental Health: the Kooth forum study
TOGETHERALL = "paper-1403"  # Thomson et al. 2024, PLOS Digital Health

# The module fixture ingests papers with the real model.
pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory):
    """The bundled paper beside two real user papers."""
    from peerqa.index.pipeline import ingest
    from peerqa.retrieval.hybrid import LiveIndex
    from tests.conftest import make_settings

    settings = make_settings(tmp_path_factory.mktemp("scope") / "data")
    ingest([PAPERS / "paper_1571.md", PAPERS / "paper_1403.md"], settings)
    return LiveIndex(settings)


def test_a_paper_is_named_by_its_first_author_journal_year_or_own_name(index):
    assert named_documents(index, "In Prescott's study, what are the limitations?") == (KOOTH,)
    assert named_documents(index, "Thomson et al 2024 - how were transcripts analysed") == (
        TOGETHERALL,
    )
    assert named_documents(index, "what did Joo et al. find about matching?") == (JOO,)
    # A name only that paper uses, however the user types it.
    assert named_documents(index, "what is kooth?") == (KOOTH,)
    assert named_documents(index, "who moderates the Togetherall community") == (TOGETHERALL,)
    # A journal, beside a word for a study; a year narrows, alone it names nothing ("the
    # 2019 Cochrane review" is not whichever loaded paper appeared in 2019).
    assert named_documents(index, "the PLOS Digital Health paper's main finding") == (TOGETHERALL,)
    assert named_documents(index, "what did the 2017 study measure?") == ()
    assert named_documents(index, "the JMIR Mental Health 2017 study") == (KOOTH,)
    # "Programme E": the paper whose programmes have that letter.
    assert named_documents(index, "readmission rates in programme E vs controls?") == (JOO,)


def test_a_question_naming_no_paper_names_none(index):
    for question in (
        "how many people did they interview?",
        "is this an RCT?",
        "what was the sampling strategy",
        "family practice and peer support",  # a journal's words, no study asked about
        "GP here, what do pts get from peer support?",
        "between 2017 and 2024, did forums grow?",  # no study word: years are not names
    ):
        assert named_documents(index, question) == (), question


def test_names_are_read_from_the_papers_not_a_list(index):
    names = paper_names(index).names
    assert names["kooth"] == KOOTH and names["togetherall"] == TOGETHERALL
    # Words every paper uses, or that a paper also writes in lower case, name none.
    assert not {"peer", "support", "mental health", "participants", "the"} & set(names)


def test_a_filter_then_the_named_paper_then_the_session_focus(index):
    asked = "how many people did they interview?"
    assert scope_for(index, asked).documents == ()
    assert scope_for(index, asked).several
    on_joo = scope_for(index, asked, focus=(JOO,))
    assert (on_joo.documents, on_joo.by) == ((JOO,), SESSION)
    named = scope_for(index, "how many posts did the Kooth study analyse?", focus=(JOO,))
    assert (named.documents, named.by) == ((KOOTH,), NAMED)
    filtered = scope_for(index, "what is Kooth?", filters=Filters(document=[TOGETHERALL]))
    assert (filtered.documents, filtered.by) == ((TOGETHERALL,), FILTER)
    # No session record (chat completions): the history's latest named paper.
    history = ["what did Prescott et al. study?", "and what did they find?"]
    assert scope_for(index, asked, history=history).documents == (KOOTH,)
    # A session record saying the last turn was on no paper wins over older names.
    assert scope_for(index, asked, history=history, focus=()).documents == ()


def test_the_session_paper_confines_an_unnamed_question(index):
    answer = compose(
        index,
        "how many people did they interview?",
        history=["What did Joo et al. find?"],
        focus=(JOO,),
    )
    assert not answer.abstained
    assert {c.document for c in answer.citations} == {JOO}
    assert answer.scope and answer.scope.by == SESSION and answer.scope.documents == [JOO]


def test_a_question_the_session_paper_does_not_rank_for_moves_on(index, monkeypatch):
    """Not pointing back, and the session's paper not among the first MOVED_ON_DEPTH of
    every paper's ranking (the depth eval.papers.focus chooses; 1 here, where the store
    holds three papers only): it is asked of every paper."""
    monkeypatch.setattr("peerqa.answer.compose.MOVED_ON_DEPTH", 1)
    asked = "what does directive emotional support mean on a forum?"
    answer = compose(index, asked, focus=(JOO,))
    assert not answer.abstained
    assert answer.scope is None  # asked of every paper
    assert KOOTH in {c.document for c in answer.citations}
    # Pointing back at the conversation's study, it stays whatever the ranking.
    stays = compose(
        index, "what does directive emotional support mean in this study?", focus=(JOO,)
    )
    assert stays.scope and stays.scope.documents == [JOO]


def test_without_a_focus_each_sentence_paper_is_named(index):
    answer = compose(index, "how many people did they interview?")
    assert answer.scope is None
    # Each paper that speaks opens its sentences with its label, even when only one does.
    assert answer.answer.split("\n", 1)[0].endswith(":")
    labels = {"Joo et al. 2022, Family Practice", "Prescott et al. 2017, JMIR Mental Health"}
    labels.add("Thomson et al. 2024, PLOS Digital Health")
    headings = {line[:-1] for line in answer.answer.splitlines() if line.endswith(":")}
    assert headings and headings <= labels


def test_a_session_remembers_the_paper_it_is_on(index, tmp_path: Path):
    from peerqa.service.schemas import AskRequest

    sessions = SessionStore(tmp_path / "sessions.sqlite3", 3600, 6)
    first = answer_turn(
        AskRequest(question="What does Joo et al. 2022, Family Practice report?"), index, sessions
    )
    assert {c.document for c in first.citations} == {JOO}
    second = answer_turn(
        AskRequest(question="how many people did they interview?", session_id=first.session_id),
        index,
        sessions,
    )
    assert second.scope and second.scope.documents == [JOO] and second.scope.by == SESSION
    assert {c.document for c in second.citations} == {JOO}
    # Naming another paper moves the conversation to it.
    third = answer_turn(
        AskRequest(question="what is Kooth?", session_id=first.session_id), index, sessions
    )
    assert {c.document for c in third.citations} == {KOOTH}
    assert sessions.resume(first.session_id).focus == (KOOTH,)


def test_the_eval_asks_in_a_session_opened_by_naming_the_paper(index, monkeypatch):
    """eval.papers --sessions: the opener is answered by the product, whose scope becomes
    the focus the question is then asked in; a document filter searches one paper."""
    from peerqa.eval.papers.__main__ import opener, scoped_searches

    assert opener(index, JOO) == "What does Joo et al. 2022, Family Practice report?"
    ways = scoped_searches(index, {"paper_1571": KOOTH})
    bundled = {"question": "how many people did they interview?"}
    for way in ("in_session", "document_filter"):
        assert {r.document for r in ways[way](bundled)} == {JOO}, way
    kooth = {
        "question": "what does directive emotional support mean on a forum?",
        "paper": "paper_1571",
    }
    assert {r.document for r in ways["in_session"](kooth)} == {KOOTH}
    # Asked in a session on the bundled paper, it moves on to the papers that cover it
    # (when the bundled paper ranks below the depth: 1 in this small store).
    monkeypatch.setattr("peerqa.answer.compose.MOVED_ON_DEPTH", 1)
    assert KOOTH in {r.document for r in ways["in_bundled_session"](kooth)[:3]}


def test_a_turn_that_only_names_a_paper_leaves_the_topic_to_the_followup(index):
    """Its paper becomes the scope; its words are not folded into the follow-up's search
    ("how long?" after "What does Joo et al. 2022 report?" searches "how long?" in Joo)."""
    from peerqa.answer.question import topical, understand

    assert topical(index, "What does Joo et al. 2022, Family Practice report?") == ""
    assert topical(index, "What did Joo et al. find about matching?") == (
        "What did find about matching?"
    )
    assert topical(index, "what is Kooth?") == "what is Kooth?"  # the topic as well
    assert topical(index, "what does programme B offer?") == "what does programme B offer?"
    q = understand(index, "how long?", ["What does Joo et al. 2022, Family Practice report?"])
    assert q.followup and q.resolved == "how long?"
    assert q.scope.documents == (JOO,) and q.scope.by == SESSION
