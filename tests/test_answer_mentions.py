"""Every claim of absence is true: before a caveat says the study "does not mention" a
thing, the thing is looked for in the whole text of the bundled paper (prose, table
cells, captions, reference entries, numbers and years), read as the keyword index reads
words (case, hyphens, plurals, British spellings) with shorthand spelled out; and the
thing named is a whole term of the question, not a fragment of one."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from peerqa.answer import lexicon
from peerqa.answer.caveats import _COUNT, REFERENCES, TEXT, Mentions, _not_a_count, _whole_name
from peerqa.index.pipeline import parse_sources
from peerqa.models import DocumentInfo, Passage
from tests.conftest import CORPUS_TEXT, make_settings


@dataclass
class _State:
    documents: list[DocumentInfo]


@dataclass(eq=False)
class _Parsed:
    """What Mentions reads of a LiveIndex: its documents and passages."""

    state: _State
    passages: dict[str, Passage] = field(default_factory=dict)


@pytest.fixture(scope="module")
def mentions(tmp_path_factory: pytest.TempPathFactory) -> Mentions:
    settings = make_settings(tmp_path_factory.mktemp("mentions") / "data")
    parsed = parse_sources([], settings)
    passages = {p.id: p for d in parsed for p in d.passages}
    return Mentions(_Parsed(_State([d.info for d in parsed]), passages))


@pytest.mark.parametrize(
    ("term", "where", "said"),
    [
        # in the reference list only: a cited work's year and condition
        ("2009", REFERENCES, "BMJ. 2009;338"),
        ("type 2 diabetes", REFERENCES, "glycemic control in type 2 diabetes"),
        ("Type-2 Diabetes", REFERENCES, "glycemic control in type 2 diabetes"),
        # the study's own prose, read in any case, hyphenation, number or spelling
        ("randomised controlled trial", TEXT, "Randomized controlled trials of peer support"),
        ("Community Based", TEXT, "community-based"),
        ("peer led", REFERENCES, "Community-based peer-led diabetes"),
        ("Alcoholics Anonymous", TEXT, "Alcoholics Anonymous"),
        # shorthand spelled out both ways: the question's and the paper's
        ("RCT", TEXT, "Randomized controlled trials"),
        ("CF", TEXT, "cystic fibrosis"),
        ("nami", TEXT, "National Alliance on Mental Illness"),
        # a table cell
        ("mental illness", TEXT, "Programme B | √ | √ | √ | Mental illness"),
        # and what is nowhere
        ("focus groups", None, None),
        ("2015", None, None),
        ("Programme H", None, None),
    ],
)
def test_a_term_is_found_wherever_the_paper_says_it(mentions, term, where, said):
    assert mentions.where(term) == where
    if said:
        assert said in CORPUS_TEXT
    else:
        assert term.lower() not in CORPUS_TEXT.lower()


def test_a_word_lists_pattern_in_the_papers_own_text_means_the_thing_is_mentioned(mentions):
    # "COVID-19" is nowhere, under any of the list's words ("pandemic", "lockdown").
    assert mentions.where_pattern(lexicon.named("things")["COVID-19"], "COVID-19") is None
    # A survey is named in a quote of Table 3, though the study ran none: not absent.
    surveys = lexicon.named("things")["surveys"]
    assert mentions.where_pattern(surveys, "surveys") == TEXT
    assert "in any survey we’ve done" in CORPUS_TEXT


@pytest.mark.parametrize(
    ("question", "counted"),
    [
        ("the 200 interviews - how were they transcribed?", ["200 interviews"]),
        ("interviews lasted 90 mins right?", ["90 mins"]),
        ("GP here - 3 community progs vs 4 hospital ones", []),  # no plural right after
        # The number of a name, not a count of things.
        ("why did programme A only serve type 2 diabetes pts?", []),
        ("stage-4 cancers in programme F?", []),
        # A verb after the number, with its object: "the 7" are programmes.
        ("which of the 7 serves mothers and fathers?", []),
    ],
)
def test_a_count_is_a_whole_number_of_things(question, counted):
    found = [m.group() for m in _COUNT.finditer(question) if not _not_a_count(question, m)]
    assert found == counted


@pytest.mark.parametrize(
    ("question", "name", "whole"),
    [
        ("the Gates Foundation paid for this, correct?", "Gates", "Gates Foundation"),
        ("why did the NHS fund all of them", "NHS", "NHS"),
        ("did the Institute of Medicine fund it?", "Institute", "Institute of Medicine"),
    ],
)
def test_a_name_is_said_whole(question, name, whole):
    assert _whole_name(question, name) == whole


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("insulin doses after joining?", True),
        ("what dosage of sertraline do they take", True),
        # the figurative dose of peer support, or one in quotes: how much people take part
        ("what dose of peer support works best?", False),
        ('the right "dose" - how much do people take part?', False),
        ("optimal dose of weekly calls", False),
    ],
)
def test_doses_are_asked_for_only_of_a_medicine(question, asks):
    pattern, _ = lexicon.outcomes()["doses"]
    assert bool(pattern.search(question)) is asks
    assert not re.search(r"\bdos", CORPUS_TEXT)


def test_an_acronym_is_looked_for_as_written(mentions):
    assert re.search(r"\bwho\b", CORPUS_TEXT) and "WHO" not in CORPUS_TEXT
    assert mentions.where("WHO") is None  # not the word "who"
    assert mentions.where("AA") == TEXT  # spelled out: Alcoholics Anonymous
    assert mentions.where("PCORI") == TEXT
