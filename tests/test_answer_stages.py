"""Each stage of the answer layer on its own: understanding a question, the selector
artefact and its key, the evidence units, rendering rows and quotes, and the layering
(nothing below answer/ imports it)."""

from __future__ import annotations

import ast
import json
import logging
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from peerqa.answer.compose import choose, compose
from peerqa.answer.evidence import (
    FEATURES,
    Unit,
    _citable,
    citation_cuts,
    describe,
    is_front_matter,
    lead_share,
    quotation_bounds,
    select,
    states_number,
    wanted,
    without_trailing_citation,
)
from peerqa.answer.profiles import Profile, profile_for
from peerqa.answer.question import Question, understand
from peerqa.answer.render import Block, cells, render, row_pieces
from peerqa.answer.selector import ARTEFACT, Policy, corpus_key, load_selector, model_key
from peerqa.config import REPO_ROOT
from peerqa.models import Passage, ScoredPassage
from peerqa.retrieval.hybrid import LiveIndex

MODEL = model_key(None)


def passage(text: str, **fields) -> Passage:
    base = dict(id="p", document="d", section="S", kind="paragraph", char_start=0)
    return Passage(text=text, char_end=len(text), **(base | fields))


# -- understand --------------------------------------------------------------------------
def test_a_question_is_embedded_once_and_retrieval_reuses_the_vector(corpus_index, monkeypatch):
    calls: list[str] = []
    encode = LiveIndex.encode

    def counting(self, text):
        calls.append(text)
        return encode(self, text)

    monkeypatch.setattr(LiveIndex, "encode", counting)
    compose(corpus_index, "How are mentors matched with patients?")
    assert calls == ["How are mentors matched with patients?"]


def test_search_with_a_reused_encoding_returns_what_search_returns(corpus_index):
    query = "How do programmes keep volunteers from getting too emotionally involved?"
    plain = corpus_index.search(query, top_k=8)
    reused = corpus_index.search(query, top_k=8, encoding=corpus_index.encode(query))
    assert [(p.id, p.score) for p in reused] == [(p.id, p.score) for p in plain]


def test_understanding_names_what_the_question_asks_for(corpus_index):
    q = understand(corpus_index, "What challenges do programmes face and how do they address them?")
    assert q.grouped and not q.asks_literature and q.caveat is None
    literature = understand(corpus_index, "Which published trials does the paper cite?")
    assert literature.asks_literature
    assert understand(corpus_index, "What does Programme C offer?").programmes == ("C",)


def test_a_followup_is_resolved_against_the_session_and_keeps_its_own_angle(corpus_index):
    history = ["What goes wrong when programmes pair patients with mentors?"]
    q = understand(corpus_index, "And how do they fix that?", history)
    assert q.followup and q.resolved.startswith(history[0])
    assert q.stances == {"mitigation"}  # the follow-up asks for fixes, not problems again
    own = np.asarray(corpus_index.encode("And how do they fix that?").vector)
    resolved = np.asarray(corpus_index.encode(q.resolved).vector)
    assert float(q.vector @ own) > 0.5 and float(q.vector @ resolved) > 0.5
    assert np.isclose(np.linalg.norm(q.vector), 1.0)


# -- selector ----------------------------------------------------------------------------
def test_the_artefact_is_keyed_to_the_model_and_corpus_it_was_fitted_on():
    data = json.loads(ARTEFACT.read_text(encoding="utf-8"))
    assert tuple(data["features"]) == FEATURES
    assert data["key"]["model"] == MODEL
    assert data["cv"]["folds"] >= 2 and data["cv"]["questions"] > 0
    selector = load_selector(MODEL, data["key"]["corpus"])
    assert selector.fitted
    probabilities = selector.predict(np.zeros((2, len(FEATURES))))
    assert probabilities.shape == (2,) and ((0 < probabilities) & (probabilities < 1)).all()


def test_another_embedding_model_falls_back_to_cosine_and_says_so(tmp_path, caplog):
    data = json.loads(ARTEFACT.read_text(encoding="utf-8"))
    data["key"]["model"] = "some-other-model==1"
    path = tmp_path / "selector.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="peerqa.answer"):
        selector = load_selector(MODEL, data["key"]["corpus"], path)
    assert not selector.fitted and "cosine only" in caplog.text
    x = np.zeros((2, len(FEATURES)))
    x[0, FEATURES.index("cosine")] = 0.6
    x[1, FEATURES.index("cosine")] = 0.3
    first, second = selector.predict(x)
    assert first > second


def test_an_artefact_for_other_features_fails_loudly(tmp_path):
    data = json.loads(ARTEFACT.read_text(encoding="utf-8"))
    data["features"] = data["features"][:-1]
    path = tmp_path / "selector.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(RuntimeError, match="refit"):
        load_selector(MODEL, "any", path)


def test_the_corpus_key_ignores_document_order():
    assert corpus_key(["b", "a"]) == corpus_key(["a", "b"]) != corpus_key(["a"])


# -- evidence units ----------------------------------------------------------------------
def test_a_quote_passage_is_quoted_from_its_opening_to_its_closing_mark():
    text = "“The retreats are very expensive. … so the donors help out with that.” (F, PL) |"
    start, end = quotation_bounds(text)
    assert (
        text[start:end] == "“The retreats are very expensive. … so the donors help out with that.”"
    )


def test_author_addresses_are_front_matter_but_funding_is_evidence():
    address = passage(
        "Jin Hui Joo, Department of Psychiatry, School of Medicine, Johns Hopkins "
        "University, Baltimore, MD, United States.",
        section="Notes",
    )
    assert is_front_matter(address)
    assert is_front_matter(passage("Anyone", section="Contributor Information"))
    funding = passage(
        "This work was supported by the National Institute of Mental Health.", section="Funding"
    )
    assert not is_front_matter(funding)


# -- rendering rows ----------------------------------------------------------------------
ROW_C = (
    "Programme C | √ | √ | √ | √ | New mother hospital-based with community-based groups | "
    "Local | Offers telephone one-to-one support for new mothers for 12 weeks after delivery. |"
)


def test_a_table_row_reads_label_colon_main_cell_from_its_verbatim_cells(corpus_index):
    row = passage(ROW_C, kind="table_row", section="Table 2", programme="C")
    profile = profile_for("joo-2022-peer-support")
    q = understand(corpus_index, "What does Programme C offer?")
    assert row_pieces(row, q, profile) == [
        "Programme C: Offers telephone one-to-one support for new mothers for 12 weeks "
        "after delivery."
    ]
    assert all(c in ROW_C for c in cells(ROW_C)) and "√" not in cells(ROW_C)


def test_a_cell_the_question_asks_about_is_named_by_its_column_and_leads(corpus_index):
    row = passage(ROW_C, kind="table_row", section="Table 2", programme="C")
    q = understand(corpus_index, "Is Programme C local or national?")
    assert row_pieces(row, q, profile_for("joo-2022-peer-support")) == [
        "Programme C — Programme location: Local",
        "Programme C: Offers telephone one-to-one support for new mothers for 12 weeks "
        "after delivery.",
    ]


def test_the_sentence_of_a_cell_the_question_asks_about_leads_the_row(corpus_index):
    text = (
        "Programme C | √ | New mother hospital-based | Local | Offers telephone support for "
        "new mothers. Issues discussed may relate to mother or baby care. Support groups in "
        "community also provided. |"
    )
    row = passage(text, kind="table_row", section="Table 2", programme="C")
    q = understand(corpus_index, "what issues do mentors discuss, baby care?")
    pieces = row_pieces(row, q, profile_for("joo-2022-peer-support"))
    assert pieces == [
        "Programme C: Issues discussed may relate to mother or baby care.",
        "Offers telephone support for new mothers.",
        "Support groups in community also provided.",
    ]
    assert all(p.split(": ", 1)[-1] in text for p in pieces)  # each verbatim after its label


def test_a_generic_paper_row_takes_column_names_from_its_header(corpus_index):
    row = passage(
        "Recovery | 5 | 0.18 (0.07 to 0.29)",
        kind="table_row",
        section="Table 3",
        context="Table 3: Outcome | Studies | Effect size (95% CI). Meta-analysis results",
    )
    q = understand(corpus_index, "How many studies measured recovery?")
    assert row_pieces(row, q, profile_for("some-review-2021")) == [
        "Recovery — Effect size (95% CI): 0.18 (0.07 to 0.29)",
        "Studies: 5",
    ]


def test_a_user_paper_row_takes_column_names_from_its_table_header(corpus_index):
    # As a user paper's table row is stored: its header on the passage, its context the
    # paper's title; an empty cell neither gets a name nor shifts the next cell's.
    header = "Study ID | Intervention Category | Country | Participants | Age"
    text = "Rüsch 2014 | Peer Support group: Anti-stigma |  | 100 | 59 |"
    row = passage(text, kind="table_row", section="Table 1", header=header)
    review = profile_for("some-review-2021")
    q = understand(corpus_index, "What was the sample size of the anti-stigma group?")
    pieces = row_pieces(row, q, review)
    assert pieces == ["Rüsch 2014 — Intervention Category: Peer Support group: Anti-stigma"]
    q = understand(corpus_index, "participants and their age in the anti-stigma group?")
    assert row_pieces(row, q, review)[1:] == ["Participants: 100", "Age: 59"]
    # A header that does not line up with the row's cells names none of them.
    short = row.model_copy(update={"text": "Rüsch 2014 | Peer Support group: Anti-stigma |"})
    assert row_pieces(short, q, review) == ["Rüsch 2014: Peer Support group: Anti-stigma"]


# -- layering ----------------------------------------------------------------------------
@pytest.mark.parametrize("package", ["peerqa", "ingest", "retrieval"])
def test_lower_layers_never_import_the_answer_layer(package):
    root = REPO_ROOT / "src" / "peerqa"
    for path in sorted((root if package == "peerqa" else root / package).rglob("*.py")):
        if package == "peerqa" and path.parent != root:
            continue  # the spine's own modules; its sub-packages have their own floors
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if package == "peerqa" and path.name == "cli.py":
                continue  # the CLI is an entry point over every layer
            assert not any(n == "peerqa.answer" or n.startswith("peerqa.answer.") for n in names), (
                f"{Path(path).relative_to(REPO_ROOT)} imports {names}"
            )


# -- several papers ----------------------------------------------------------------------
def _unit(pid: str, document: str, text: str, score: float, rank: int) -> Unit:
    p = ScoredPassage(
        id=pid,
        text=text,
        document=document,
        section="Results",
        kind="paragraph",
        char_start=0,
        char_end=len(text),
        score=1.0 - rank / 10,
    )
    vector = np.zeros(4)
    vector[rank % 4] = 1.0
    return Unit(p, rank, 0, len(text), 0, 0.5, vector, None, score=score)


def _question(**fields) -> Question:
    base = dict(
        raw="Does group peer support reduce depression?",
        resolved="",
        followup=False,
        encoding=None,
        vector=np.zeros(4),
        stances=frozenset(),
        asks_facts=False,
        asks_literature=False,
        programmes=(),
        documents=(),
        keywords=frozenset(),
        caveat=None,
    )
    return Question(**(base | fields))


POLICY = Policy(margin=0.1, ratio=0.5, floor=0.1, max_units=4, per_group=2, theme_bonus=0.1)


def test_when_several_papers_speak_each_sentence_sits_under_its_paper():
    units = [
        _unit(
            "a1",
            "review-2020",
            "Two meta-analyses found significant reductions in depression.",
            0.9,
            0,
        ),
        _unit(
            "b1",
            "trial-2021",
            "Group peer support did not reduce depression scores at 12 weeks.",
            0.8,
            1,
        ),
    ]
    profiles = {d: Profile(document=d, label=f"{d} label") for d in ("review-2020", "trial-2021")}
    blocks = choose(_question(), units, POLICY, profiles)
    assert [b.heading for b in blocks] == ["review-2020 label:", "trial-2021 label:"]
    answer = render(_question(), blocks, profiles)
    lines = answer.answer.splitlines()
    assert lines[0] == "review-2020 label:" and lines[1].startswith("Two meta-analyses")
    assert "trial-2021 label:" in lines and lines[-1].startswith("Group peer support")


def test_a_question_naming_a_paper_takes_evidence_from_that_paper_only():
    q = _question(documents=("trial-2021",))
    other = passage("Two meta-analyses found reductions.", document="review-2020")
    named = passage("Group peer support did not reduce depression.", document="trial-2021")
    assert not wanted(q, other) and wanted(q, named)


def test_a_reference_entry_is_evidence_when_literature_is_asked_or_its_author_named():
    entry = passage(
        "Repper J, Carter T.. A review of the literature on peer support in mental health "
        "services. J Ment Health. 2011;20(4):392–411.",
        kind="reference",
    )
    assert not wanted(_question(resolved="what's the review about"), entry)
    assert wanted(_question(resolved="repper & carter review - what's it about"), entry)
    assert wanted(_question(asks_literature=True), entry)


# -- selection policy and features ---------------------------------------------------------
def _ranked_units() -> list[Unit]:
    return [
        _unit("a", "d1", "Matching was done by diagnosis and by life stage.", 0.95, 0),
        _unit("b", "d2", "Leaders offered a new match when one failed.", 0.8, 1),
        _unit("c", "d3", "Some matches were made by telephone only.", 0.7, 2),
    ]


def test_a_lead_scoring_the_alone_threshold_is_the_whole_answer():
    units = _ranked_units()
    assert select(units, replace(POLICY, alone=0.9)) == units[:1]
    assert select(units, replace(POLICY, alone=1.0)) == units  # 1.0: never alone
    assert select(units[1:], replace(POLICY, alone=0.9)) == units[1:]  # a lead below it


def test_the_top_passage_keeps_the_lead_unless_beaten_by_the_margin():
    top, other = (
        _unit("t", "d1", "Programmes matched peers by diagnosis.", 0.6, 0),
        _unit("o", "d2", "Rare conditions made matching hard.", 0.65, 1),
    )
    assert select([top, other], replace(POLICY, margin=0.1))[0] is top
    assert select([top, other], replace(POLICY, margin=0.01))[0] is other


def _limitations(content_score: float) -> tuple[Unit, Unit]:
    """The top passage's two units: a framing sentence (P 0.6) and what it announces."""
    text = "This study has some limitations. First, we partnered with few programmes."
    top = ScoredPassage(
        id="t",
        text=text,
        document="d1",
        section="Discussion",
        kind="paragraph",
        char_start=0,
        char_end=len(text),
        score=1.0,
    )
    cut = text.index("First")
    framing = Unit(top, 0, 0, cut - 1, 0, 0.5, np.eye(4)[0], None, score=0.6)
    content = Unit(top, 0, cut, len(text), 1, 0.5, np.eye(4)[2], None, score=content_score)
    return framing, content


def test_the_answer_holds_the_top_passages_best_units_whichever_unit_leads():
    """A lead from another passage does not push out what the top passage says: its best
    policy.top_units units (by P) follow the lead, even below the ratio the other units
    must reach."""
    framing, content = _limitations(content_score=0.3)
    other = _unit("o", "d2", "Programmes differed in size and reach.", 0.95, 1)
    policy = replace(POLICY, margin=0.0, ratio=0.8)
    assert select([framing, content, other], policy) == [other, framing]
    assert select([framing, content, other], replace(policy, top_units=2)) == [
        other,
        framing,
        content,
    ]


def test_a_generic_papers_top_passage_keeps_policy_generic_top_units_of_its_units():
    """A paper without a profile of its own is cut generically: when its passage is the
    top one, the answer holds policy.generic_top_units of that passage's best units; a
    profiled paper's top passage keeps policy.top_units."""
    framing, content = _limitations(content_score=0.3)
    other = _unit("o", "d2", "Programmes differed in size and reach.", 0.95, 1)
    policy = replace(POLICY, margin=0.0, ratio=0.8, generic_top_units=2)
    generic = {d: Profile(document=d, label=d) for d in ("d1", "d2")}
    profiled = {**generic, "d1": Profile(document="d1", label="d1", generic=False)}
    units = [framing, content, other]
    assert [u for b in choose(_question(), units, policy, generic) for u in b.units] == [
        other,
        framing,
        content,
    ]
    assert [u for b in choose(_question(), units, policy, profiled) for u in b.units] == [
        other,
        framing,
    ]


def test_a_short_framing_sentence_chosen_brings_the_sentence_it_announces():
    """A short framing sentence ("This study has some limitations.") says only that its
    passage goes on to the content: with policy.continuation, a chosen unit that short is
    followed by its passage's next unit; a longer one is not, nor is the last unit of a
    passage followed by anything."""
    framing, content = _limitations(content_score=0.05)
    policy = replace(POLICY, margin=0.0, ratio=0.8, floor=0.3)
    assert select([framing, content], policy) == [framing]  # 0: never
    assert select([framing, content], replace(policy, continuation=5)) == [framing, content]
    assert select([framing, content], replace(policy, continuation=4)) == [framing]  # 5 words
    assert select([content], replace(policy, continuation=20, floor=0.0)) == [content]


def test_a_bare_figure_leads_only_when_it_beats_every_unit_in_words_by_the_margin():
    figure, described = (
        _unit("c", "d1", "Programme C | 5 (12)", 0.99, 0),
        _unit("d", "d2", "Programme C | Offers telephone one-to-one support", 0.98, 1),
    )
    figure.passage.kind = described.passage.kind = "table_row"
    figure.lead, described.lead = 7.40, 7.39
    # "What does Programme C offer?": the count row tops the ranking but says nothing.
    assert select([figure, described], replace(POLICY, margin=0.1))[:2] == [described, figure]
    figure.lead = 7.6  # "how many came from Programme C?": the figure is the answer
    assert select([figure, described], replace(POLICY, margin=0.1))[0] is figure


def test_the_lead_model_decides_what_goes_first_and_p_what_is_included():
    likely, answering, unlikely = (
        _unit("t", "d1", "Challenges in delivering peer support programmes exist.", 0.9, 0),
        _unit("a", "d2", "I sent letters out to the cardiologists.", 0.7, 1),
        _unit("u", "d3", "Peer support is complementary to care.", 0.05, 2),
    )
    likely.lead, answering.lead, unlikely.lead = 0.5, 2.0, -1.0
    chosen = select([likely, answering, unlikely], replace(POLICY, margin=0.0, floor=0.2))
    # `answering` goes first though `likely` is likelier to hold the answer; `unlikely`
    # is below the floor and left out.
    assert chosen == [answering, likely]
    assert select([likely, answering], replace(POLICY, margin=2.0))[0] is likely


def test_the_top_passage_best_unit_is_in_the_answer_whatever_leads():
    top, other = (
        _unit("t", "d1", "Programmes matched peers by diagnosis.", 0.3, 0),
        _unit("o", "d2", "Rare conditions made matching hard.", 0.95, 1),
    )
    top.lead, other.lead = 0.0, 5.0
    # Led by another and ending there (alone), the answer still holds the top's best.
    assert select([top, other], replace(POLICY, margin=0.0, alone=0.9)) == [other, top]
    assert select([top, other], replace(POLICY, margin=0.0), limit=1) == [other]


def test_features_weigh_rare_shared_words_and_read_the_neighbouring_sentences():
    texts = [
        "We interviewed 43 key informants from 7 programmes.",
        "The interviews were transcribed.",
        "Informants described saturation of themes.",
    ]
    p = ScoredPassage(
        id="p",
        text=" ".join(texts),
        document="d",
        section="Methods",
        kind="paragraph",
        char_start=0,
        char_end=len(" ".join(texts)),
        score=1.0,
    )
    starts = [0, len(texts[0]) + 1, len(texts[0]) + len(texts[1]) + 2]
    cosines = [0.2, 0.3, 0.9]
    units = [
        Unit(p, 0, s, s + len(t), i, c, np.eye(4)[i], None)
        for i, (s, t, c) in enumerate(zip(starts, texts, cosines, strict=True))
    ]
    q = _question(
        raw="How many informants did they interview?",
        resolved="How many informants did they interview?",
        keywords=frozenset({"informant", "interview"}),
    )
    rare = {"informant": 3.0}
    bank = SimpleNamespace(derived=lambda key, build: lambda w: rare.get(w, 1.0))
    describe(q, [p], units, bank)

    def value(u: Unit, name: str) -> float:
        return float(u.features[FEATURES.index(name)])

    first, second, third = units
    # Both words, the rare one, the common one:
    assert value(first, "bm25") > value(third, "bm25") > value(second, "bm25") > 0
    assert value(first, "neighbour_cosine") == pytest.approx(0.3)
    assert value(second, "neighbour_cosine") == pytest.approx(0.9)
    assert value(third, "neighbour_cosine") == pytest.approx(0.3)
    assert value(first, "lexical_own") == 1.0 and value(second, "lexical_own") == 0.5
    # A count asked for: the sentence stating one agrees with the question's type.
    assert [value(u, "count_stated") for u in units] == [1.0, 0.0, 0.0]
    q = _question(
        raw="Who did they interview?",
        resolved="Who did they interview?",
        keywords=frozenset({"interview"}),
    )
    describe(q, [p], units, bank)
    assert value(first, "count_stated") == 0.0
    # A paper without a profile of its own ("d") is a generic one; the bundled paper is not.
    assert [value(u, "generic_paper") for u in units] == [1.0, 1.0, 1.0]
    bundled = p.model_copy(update={"document": "joo-2022-peer-support"})
    profiled = [replace(u, passage=bundled) for u in units]
    describe(q, [bundled], profiled, bank)
    assert [value(u, "generic_paper") for u in profiled] == [0.0, 0.0, 0.0]


def test_a_number_is_stated_by_a_figure_but_not_by_a_bracketed_citation():
    assert states_number("A total of 2131 participants were included.")
    assert states_number("Recruitment occurred in 2022 [4, 5].")
    assert not states_number("Peer support reduced isolation [12, 14–16].")
    # Spelled out, as papers open sentences: "Thirty-five studies were included."
    assert states_number("Thirty-five studies were included for full review.")
    assert not states_number("No one was excluded for being too late.")


def _scored(text: str, document: str, section: str) -> ScoredPassage:
    return ScoredPassage(
        id="p",
        text=text,
        document=document,
        section=section,
        kind="paragraph",
        char_start=0,
        char_end=len(text),
        score=1.0,
    )


def test_a_sentence_closing_with_a_numeric_citation_is_cited_without_it():
    """Papers citing in brackets ("… and malaria [2].") keep their sentences as evidence:
    the unit ends before the paper's citation, so the answer's [n] is the only marker."""
    text = (
        "Nearly all countries are challenged by shortages of health workers [1]. "
        "The scarcity is fuelled by migration to richer countries [2, 3]. "
        "Online support felt more confidential [5,13], with fewer risks."
    )
    first_end = text.index(" [1]")
    assert without_trailing_citation(text, 0, text.index("[1].") + 4) == first_end
    second = text.index("The scarcity")
    assert text[second : without_trailing_citation(text, second, text.index("3].") + 3)] == (
        "The scarcity is fuelled by migration to richer countries"
    )
    # A cluster a converter ran together still closes the sentence.
    mangled = "Most studies engaged the community [9,[22][23][24]27,31,[34][35]43,[46][47][48]."
    assert mangled[: without_trailing_citation(mangled, 0, len(mangled))] == (
        "Most studies engaged the community"
    )
    third = text.index("Online")
    assert without_trailing_citation(text, third, len(text)) == len(text)  # mid-sentence

    p = _scored(text, "d", "Introduction")
    unit = Unit(p, 0, 0, first_end, 0, 0.9, np.eye(4)[0], None, score=0.9)
    answer = render(_question(), [Block(None, [unit])], {"d": Profile(document="d", label="d")})
    assert answer.answer == "Nearly all countries are challenged by shortages of health workers [1]"
    assert [c.marker for c in answer.citations] == ["[1]"]


def test_a_sentence_citing_mid_way_is_shown_in_verbatim_pieces_around_the_citation():
    """A paper's "[60]" inside a cited sentence would read as the answer's own marker: the
    sentence is still evidence, shown as the pieces either side, each with the answer's
    marker and found verbatim in its passage (paper_1408)."""
    text = (
        "Three trials were manualised anti-stigma interventions [60][61][62]. Two trials "
        "were studies of the three session Coming Out Proud (COP), compared to a WLC [60] "
        "or TAU [61]."
    )
    p = _scored(text, "paper_1408", "Results")
    start = text.index("Two trials")
    end = without_trailing_citation(text, start, len(text))
    unit = Unit(p, 0, start, end, 1, 0.9, np.eye(4)[0], None, score=0.9)
    unit.cuts = citation_cuts(unit)
    assert _citable(unit)
    assert [text[a:b] for a, b in unit.pieces] == [
        "Two trials were studies of the three session Coming Out Proud (COP), compared to a WLC",
        "or TAU",
    ]
    answer = render(_question(), [Block(None, [unit])], {p.document: profile_for(p.document)})
    assert answer.answer == (
        "Two trials were studies of the three session Coming Out Proud (COP), compared to "
        "a WLC [1] or TAU [1]"
    )
    # A piece left with no word (a unit ending on its citations) is not shown.
    ending = Unit(p, 0, 0, text.index("."), 0, 0.9, np.eye(4)[0], None)
    ending.cuts = citation_cuts(ending)
    assert not _citable(ending)
    quote = Unit(p, 0, start, end, 1, 0.9, np.eye(4)[0], None, in_quote=True)
    assert citation_cuts(quote) == ()  # a participant's words are never cut
    assert not _citable(quote)


def test_a_comma_after_a_cut_citation_follows_the_marker():
    text = "Peers were trained as shown before [12], and then supervised weekly by staff."
    p = _scored(text, "d", "Methods")
    unit = Unit(p, 0, 0, len(text), 0, 0.9, np.eye(4)[0], None)
    unit.cuts = citation_cuts(unit)
    assert _citable(unit)
    answer = render(_question(), [Block(None, [unit])], {"d": Profile(document="d", label="d")})
    assert answer.answer == (
        "Peers were trained as shown before [1], and then supervised weekly by staff. [1]"
    )


def test_a_lead_standing_out_under_the_lead_model_is_the_whole_answer():
    units = _ranked_units()
    for u, lead in zip(units, (4.0, 0.0, -1.0), strict=True):
        u.lead = lead
    assert lead_share(units[0], units) > 0.9
    assert select(units, replace(POLICY, alone_share=0.9)) == units[:1]
    assert select(units, replace(POLICY, alone_share=1.0)) == units
    units[1].lead = 3.9  # a close second: the lead does not stand out
    assert select(units, replace(POLICY, alone_share=0.9)) == units
