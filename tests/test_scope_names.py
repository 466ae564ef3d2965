"""What names a paper (answer.scope), read from real papers as parsed, no embedding: a
paper's own name, and an ordinary word that only looks like one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from peerqa.answer.scope import named_documents, paper_names
from peerqa.index.pipeline import parse_sources
from peerqa.models import DocumentInfo, Passage, Programme
from tests.conftest import make_settings

PAPERS = Path(__file__).parent / "fixtures" / "papers"
JOO = "joo-2022-peer-support"
LIFESTYLE_AFRICA = "paper-0849"  # Catley et al. 2022: "Lifestyle Africa" in Cape Town
KOOTH = "paper-1571"
LEAN = "paper-1850"  # Cai et al. 2020: the LEAN trial; the Clinical Global Impression scale
PROLIFE = "paper-1872"  # Louwagie et al. 2022: ProLife; the AUDIT alcohol-use instrument


@dataclass
class _State:
    documents: list[DocumentInfo]
    programmes: dict[str, list[Programme]]
    collection: str = "parsed"


@dataclass(eq=False)
class Parsed:
    """What answer.scope reads of a LiveIndex: its documents, passages and settings."""

    settings: object
    state: _State
    passages: dict[str, Passage] = field(default_factory=dict)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Parsed:
    settings = make_settings(tmp_path_factory.mktemp("names") / "data")
    papers = [PAPERS / f"paper_{n}.md" for n in ("0849", "1571", "1850", "1872")]
    parsed = parse_sources(papers, settings)
    state = _State([d.info for d in parsed], {d.info.id: d.programmes for d in parsed})
    return Parsed(settings, state, {p.id: p for d in parsed for p in d.passages})


def test_a_papers_own_name_names_it_however_typed(index):
    assert named_documents(index, "what is kooth?") == (KOOTH,)
    assert named_documents(index, "prolife: did the texts help adherence") == (PROLIFE,)
    assert named_documents(index, "what did the LEAN trial find about relapse?") == (LEAN,)
    assert named_documents(index, "results of the lean trial") == (LEAN,)
    assert named_documents(index, "did Lifestyle Africa cut weight?") == (LIFESTYLE_AFRICA,)
    assert named_documents(index, "the lifestyle africa programme's sessions") == (
        LIFESTYLE_AFRICA,
    )
    assert named_documents(index, "peer programmes in Cape Town?") == (LIFESTYLE_AFRICA,)


def test_an_ordinary_word_a_paper_capitalises_is_no_name_in_lower_case(index):
    for question in (
        "how do programmes audit quality?",
        "Audit of peer programmes: how is it done?",  # a sentence's first capital
        "what impression did peers make on patients?",
        "lean staffing: how few coordinators can a programme run on?",
        "lifestyle changes in africa and peer support",
        "peer support in cape town",
    ):
        assert named_documents(index, question) == (), question
    # Written as the paper writes it, it names the paper.
    assert named_documents(index, "AUDIT scores in TB patients?") == (PROLIFE,)


def test_part_of_a_longer_name_is_no_name(index):
    """A word only ever part of a longer name ("Clinical Global Impression") is none."""
    names = paper_names(index)
    assert "impression" not in names.names and "identification test" not in names.names
    assert {"kooth", "prolife", "lean", "lifestyle africa"} <= set(names.names)
    assert "audit" in names.ordinary and "kooth" not in names.ordinary


def test_a_paper_is_named_by_its_description(index):
    asked = "the schizophrenia texting trial in China: did relapse fall?"
    assert named_documents(index, asked) == (LEAN,)
    # Two trials in South Africa: the description's other words pick one.
    assert named_documents(
        index, "what was the attrition in the South African diabetes prevention trial"
    ) == (LIFESTYLE_AFRICA,)
    assert named_documents(index, "in the tuberculosis text message trial, was adherence up?") == (
        PROLIFE,
    )
    assert named_documents(index, "what did the online forum study of young people find?") == (
        KOOTH,
    )


def test_a_description_no_loaded_paper_fits_names_none(index):
    for question in (
        "what did the Kenyan texting trial for HIV adherence find?",  # no paper says Kenya
        "what did the Cochrane review of peer support for depression conclude?",
        "what did the study find about matching peers?",  # no description
        "what did this review conclude?",
        "is there a trial of peer support for diabetes in India?",
        "the trial in South Africa: what were the outcomes?",  # two papers fit
        "open peer review vs double blind, which is better",  # not a review of studies
    ):
        assert named_documents(index, question) == (), question


def test_a_first_author_whose_surname_is_an_ordinary_word_needs_a_capital(index):
    """ "young people" is not "Young et al.": a paper by Young (as if 1571 were) is named
    only by the capitalised surname or "et al"."""
    young = [
        d.model_copy(update={"authors": ["Julie Young", *d.authors[1:]]}) if d.id == KOOTH else d
        for d in index.state.documents
    ]
    by_young = Parsed(index.settings, _State(young, index.state.programmes, "young"))
    by_young.passages = index.passages
    assert "young" in paper_names(by_young).ordinary
    assert named_documents(by_young, "what helps young people with peer support?") == ()
    assert named_documents(by_young, "what did Young find about directive support?") == (KOOTH,)
    assert named_documents(by_young, "young et al: directive support?") == (KOOTH,)
