"""The bundled paper, parsed for real: spans, structure, tables, quotes, citations."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from peerqa.config import REPO_ROOT
from peerqa.ingest.paper import parse_paper
from peerqa.models import DocumentInfo, ParsedDocument, Passage
from peerqa.segment import sentence_spans, word_count

SOURCE = (REPO_ROOT / "src/peerqa/corpus" / "joo-2022-peer-support.txt").read_text(encoding="utf-8")
DOC_ID = "joo-2022-peer-support"
ATTRIBUTION = re.compile(r"\((?:Programme )?[A-G](?:, (?:PL|PS|PR|mentor))?\)|\((?:PL|PS|PR)\)")


def info() -> DocumentInfo:
    return DocumentInfo(
        id=DOC_ID,
        title="t",
        source="joo-2022-peer-support.txt",
        media_type="text/plain",
        sha256="x",
    )


def parse(text: str = SOURCE, max_words: int = 120) -> ParsedDocument:
    return parse_paper(text, info(), max_words)


@pytest.fixture(scope="module")
def doc() -> ParsedDocument:
    return parse()


def containing(doc: ParsedDocument, snippet: str) -> Passage:
    (passage,) = [p for p in doc.passages if snippet in p.text]
    return passage


def of_section(doc: ParsedDocument, section: str) -> list[Passage]:
    return [p for p in doc.passages if p.section == section]


# --- spans and ids --------------------------------------------------------------------


def test_every_passage_is_an_exact_stripped_slice(doc: ParsedDocument) -> None:
    assert doc.text == SOURCE
    for p in doc.passages:
        assert p.text == SOURCE[p.char_start : p.char_end]
        assert p.text and p.text == p.text.strip()
        assert p.document == DOC_ID


def test_ids_follow_document_order_and_passages_are_disjoint(doc: ParsedDocument) -> None:
    ids = [p.id for p in doc.passages]
    assert len(set(ids)) == len(ids)
    assert ids == [f"{DOC_ID}:{i:04d}" for i in range(len(ids))]
    for before, after in zip(doc.passages, doc.passages[1:], strict=False):
        assert before.char_end <= after.char_start


def test_ids_are_stable_across_reparse(doc: ParsedDocument) -> None:
    again = parse()
    assert [(p.id, p.char_start, p.char_end) for p in again.passages] == [
        (p.id, p.char_start, p.char_end) for p in doc.passages
    ]


def test_info_counts(doc: ParsedDocument) -> None:
    assert doc.info.passages == len(doc.passages)
    assert doc.info.by_kind == dict(Counter(p.kind for p in doc.passages))
    assert doc.info.by_kind["quote"] == 43
    assert doc.info.by_kind["reference"] == 39


# --- sections and headings ------------------------------------------------------------


def test_section_paths(doc: ParsedDocument) -> None:
    sections = {p.section for p in doc.passages}
    expected = {
        "Abstract > Purpose",
        "Abstract > Methods",
        "Abstract > Results",
        "Abstract > Conclusions",
        "Abstract > Key messages",
        "Background",
        "Methods > Data analysis strategy",
        "Results > Sample characteristics",
        "Results > Matching",
        "Results > Benefits to peer mentors",
        "Results > Psychosocial benefits: hope, support, and motivation to “get through this”",
        "Results > Emotional barriers to providing peer support",
        "Discussion",
        "Conclusion",
        "Contributor Information",
        "Funding",
        "Ethical approval",
        "Conflict of interest",
        "Data availability",
        "References",
        "Associated Data",
        "Table 1",
        "Table 2",
        "Table 3",
        "Table 4",
    }
    assert expected <= sections
    assert containing(doc, "Our goal was to explore").section == "Abstract > Purpose"
    assert containing(doc, "We partnered with 7").section == "Abstract > Methods"
    assert containing(doc, "We conducted qualitative data analysis").section == (
        "Methods > Data analysis strategy"
    )


def test_headings_and_separators_are_never_passage_text(doc: ParsedDocument) -> None:
    headings = {"Abstract", "Methods", "Results", "Matching", "Table 3.", "Key messages."}
    for p in doc.passages:
        assert p.text not in headings
        assert "---|" not in p.text
        assert not p.text.startswith(("Table 1.", "Table 2.", "Table 3.", "Table 4."))
        assert "Theme | Representative" not in p.text


def test_short_lines_merge_but_long_lines_stay_apart(doc: ParsedDocument) -> None:
    (key_messages,) = of_section(doc, "Abstract > Key messages")
    assert key_messages.text.startswith("Peer support programmes provide a supportive")
    assert key_messages.text.endswith(
        "Patient-centred care may be improved by offering peer support."
    )
    prose = [p for p in doc.passages if p.kind == "paragraph"]
    for p in prose:
        if "\n" in p.text:  # only runs of short lines may cross a line break
            assert all(word_count(line) <= 30 for line in p.text.split("\n"))


# --- prose ----------------------------------------------------------------------------


def test_prose_passages_respect_the_word_budget() -> None:
    for max_words in (120, 60):
        doc = parse(max_words=max_words)
        for p in doc.passages:
            if p.kind == "paragraph" and word_count(p.text) > max_words:
                assert len(sentence_spans(p.text)) == 1, p.id


def test_prose_passages_never_cross_paragraph_lines_in_results(doc: ParsedDocument) -> None:
    for p in doc.passages:
        if p.section.startswith("Results"):
            assert "\n" not in p.text


def test_prose_attribution_gives_programme_and_role(doc: ParsedDocument) -> None:
    p = containing(doc, "(Programme B, PL)")
    assert p.kind == "paragraph"
    assert (p.programme, p.role) == ("B", "programme_leader")
    assert p.section.startswith("Results > Psychosocial benefits")
    assert p.stance == "benefit" and p.theme == "Psychosocial benefits"
    recipient = containing(doc, "be a good parent.” (C, PR)")
    assert (recipient.programme, recipient.role) == ("C", "peer_recipient")
    ps_only = containing(doc, "when they deliver their baby.” (PS)")
    assert (ps_only.programme, ps_only.role) == (None, "peer_supporter")
    programme_only = containing(doc, "surgical procedure?” (F)")
    assert (programme_only.programme, programme_only.role) == ("F", None)


def test_no_passage_holds_two_different_attributions(doc: ParsedDocument) -> None:
    role_codes = {"PL": "programme_leader", "PS": "peer_supporter", "PR": "peer_recipient"}
    for p in doc.passages:
        if p.kind != "paragraph" or not p.section.startswith("Results"):
            continue
        found = set(ATTRIBUTION.findall(p.text))
        assert len(found) <= 1, (p.id, found)
        if found:
            letters = re.findall(r"\b[A-G]\b", found.pop())
            assert p.programme == (letters[0] if letters else None)
            assert p.role is None or p.role in role_codes.values()


def test_results_stance_and_theme(doc: ParsedDocument) -> None:
    for p in of_section(doc, "Results > Benefits to family-caregivers"):
        assert (p.stance, p.theme) == ("benefit", "Benefits to caregivers")
    for p in of_section(doc, "Results > Peer support programmes can complement medical care"):
        assert p.theme == "Peer support complements medical care"
    emotional = of_section(doc, "Results > Emotional barriers to providing peer support")
    assert {p.stance for p in emotional} == {"challenge", "mitigation"}
    assert {p.theme for p in emotional} == {"Boundaries and emotional entanglement"}
    support = containing(doc, "offered support services to ensure continued well-being")
    assert support.stance == "mitigation"
    intro = containing(doc, "There were common challenges shared by all programmes")
    assert (intro.stance, intro.theme) == ("challenge", None)
    assert containing(doc, "We interviewed 43 key informants").stance is None


def test_matching_mitigation_stands_apart(doc: ParsedDocument) -> None:
    p = containing(doc, "matching based on issues rather than a rare health condition")
    assert p.section == "Results > Matching"
    assert p.stance == "mitigation"
    assert p.theme == "Matching based on condition and cultural similarity"
    assert "checked up on the matches" in p.text
    assert "described as “limited,”" not in p.text  # the challenge sentences stand apart
    problem = containing(doc, "described the challenges of matching peer supporters")
    assert problem.stance == "challenge"


def test_sections_outside_results_have_no_stance(doc: ParsedDocument) -> None:
    for p in doc.passages:
        if p.kind == "paragraph" and not p.section.startswith("Results"):
            assert p.stance is None and p.theme is None
            assert p.programme is None and p.role is None


# --- quote tables ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "stance", "rows", "themes"),
    [("Table 3", "benefit", 25, 10), ("Table 4", "challenge", 18, 7)],
)
def test_quote_table_counts(
    doc: ParsedDocument, table: str, stance: str, rows: int, themes: int
) -> None:
    quotes = of_section(doc, table)
    assert len(quotes) == rows
    assert len({q.theme for q in quotes}) == themes
    for q in quotes:
        assert q.kind == "quote" and q.stance == stance
        assert q.programme and q.role
        assert re.search(r"\([A-G], (?:PL|PS|PR|mentor)\)$", q.text)
        assert "|" not in q.text


def test_quote_rows_decode_programme_role_and_theme(doc: ParsedDocument) -> None:
    first = of_section(doc, "Table 3")[0]
    assert first.text.startswith("“…when you ask people what the best part is about")
    assert first.text.endswith("finding out I’m not alone.’” (B, PL)")
    assert (first.programme, first.role, first.theme) == (
        "B",
        "programme_leader",
        "Psychosocial benefits",
    )
    mentor = containing(doc, "make lifelong friends in our groups")
    assert (mentor.programme, mentor.role) == ("C", "peer_supporter")
    assert mentor.theme == "Connection to a social network and sense of community"
    carried = containing(doc, "you have to be in acceptance with")
    assert carried.theme == "Barriers to supporting another person"
    assert (carried.programme, carried.role) == ("E", "peer_recipient")
    unquoted = containing(doc, "Because people can get territorial")
    assert unquoted.text.startswith("Because people can get territorial")
    assert unquoted.theme == "Need to convince professional providers"
    assert (unquoted.programme, unquoted.role, unquoted.kind) == ("F", "programme_leader", "quote")
    match_on_issues = containing(doc, "I try to match on issues.")
    assert match_on_issues.theme == "Matching based on condition and cultural similarity"
    assert match_on_issues.stance == "challenge"


def test_quote_context_names_role_and_programme(doc: ParsedDocument) -> None:
    q = containing(doc, "The retreats are very expensive.")
    assert "programme leader, Programme F, cancer programme, hospital-based" in q.context
    assert "Theme: Funding" in q.context


def test_legend_row_is_context_not_a_passage(doc: ParsedDocument) -> None:
    assert not [p for p in doc.passages if "PL—programme leader" in p.text]
    assert "Benefits of peer support programmes" in of_section(doc, "Table 3")[0].context


# --- tables 1 and 2 -------------------------------------------------------------------


def test_table_1_rows_and_notes(doc: ParsedDocument) -> None:
    rows = [p for p in of_section(doc, "Table 1") if p.kind == "table_row"]
    assert len(rows) == 23
    assert rows[0].text == "25–44 | 11 (26)"
    assert "Age (in years)" in rows[0].context
    assert not [p for p in doc.passages if p.text.startswith("Age (in years)")]
    notes = [p for p in of_section(doc, "Table 1") if p.kind == "paragraph"]
    assert len(notes) == 1
    assert notes[0].text.startswith("Key informants in peer programmes included")
    assert notes[0].text.endswith("may have experience as peer supporter.")


def test_table_2_rows(doc: ParsedDocument) -> None:
    rows = of_section(doc, "Table 2")
    assert [r.programme for r in rows] == list("ABCDEFG")
    assert all(r.kind == "table_row" for r in rows)
    assert rows[0].text.startswith("Programme A | √ | √ | Substance abuse community-based")
    assert rows[0].text.endswith("available 24/7.")
    assert "Programme location" in rows[0].context


def test_programme_records(doc: ParsedDocument) -> None:
    programmes = {p.programme: p for p in doc.programmes}
    assert {k: p.interviewees for k, p in programmes.items()} == {
        "A": 8, "B": 6, "C": 5, "D": 9, "E": 5, "F": 7, "G": 1,
    }  # fmt: skip
    a = programmes["A"]
    assert (a.condition, a.setting, a.reach) == (
        "Substance abuse",
        "community-based",
        "Local (12-step meetings are global)",
    )
    assert a.description.startswith("Offers one-on-one peer counselling")
    c = programmes["C"]
    assert (c.condition, c.setting, c.reach) == (
        "New mother",
        "hospital-based with community-based groups",
        "Local",
    )
    assert programmes["B"].reach == "National"
    assert programmes["E"].reach == "Regional"
    assert programmes["E"].condition.endswith("cystic fibrosis")
    assert (programmes["F"].condition, programmes["F"].setting) == ("Cancer", "hospital-based")
    assert programmes["D"].setting == "community-based and connected to hospitals"
    assert programmes["G"].reach == "National/some international"


# --- references and citations ---------------------------------------------------------


def test_reference_list(doc: ParsedDocument) -> None:
    refs = of_section(doc, "References")
    assert [r.ref_numbers for r in refs] == [[n] for n in range(1, 40)]
    for r in refs:
        assert r.kind == "reference"
        assert [ref.n for ref in r.references] == r.ref_numbers
        assert r.references[0].citation == r.text
        assert not r.text.startswith("- ")
        assert "[Google Scholar]" not in r.text and "[DOI]" not in r.text
    assert refs[0].text.endswith("peer-support-groups/main")
    assert refs[4].text.startswith("Dennis CL, Hodnett E")
    assert refs[4].text.endswith("BMJ. 2009;338(7689):a3064.")


@pytest.mark.parametrize(
    ("snippet", "numbers"),
    [
        ("in the United States.1", [1]),
        ("National Alliance on Mental Illness.3,4", [3, 4]),
        ("decrease risky behaviours.5–10", [5, 6, 7, 8, 9, 10]),
        ("self-care behaviours.11,12", [11, 12]),
        ("knowledge to scale up programmes.13,14", [13, 14]),
        ("impose a conceptual framework.17", [17]),
        ("qualitative data.18,19", [18, 19]),
        ("change study findings.20", [20]),
        ("underlying processes of peer support.21–23", [21, 22, 23]),
        ("associated with poor health27–29 and", [27, 28, 29, 30, 31, 32, 33]),
        ("has not been well established.7,38,39", [7, 38, 39]),
        ("has not been extensively studied.34,35", [34, 35]),
    ],
)
def test_in_text_citations_resolve(doc: ParsedDocument, snippet: str, numbers: list[int]) -> None:
    p = containing(doc, snippet)
    assert set(numbers) <= set(p.ref_numbers)
    assert p.ref_numbers == sorted(set(p.ref_numbers))
    assert [r.n for r in p.references] == p.ref_numbers


def test_resolved_citation_text(doc: ParsedDocument) -> None:
    p = containing(doc, "has not been well established.7,38,39")
    by_n = {r.n: r.citation for r in p.references}
    assert by_n[7].startswith("Shalaby RAH, Agyapong VIO.. Peer support in mental health")
    assert by_n[38].startswith("Chinman M, Shoai R, Cohen A.. Using organizational change")
    assert by_n[39].endswith("Psychiatr Rehabil J. 2012;35(6):470–473.")
    assert "Using organizational change strategies" in p.context
    first = containing(doc, "in the United States.1")
    assert first.references[0].citation.startswith("Center for Community Health and Development.")


@pytest.mark.parametrize(
    ("snippet", "cited"),
    [
        ("grant K23MH100705", []),
        ("We aimed to interview 5–7 key informants.", []),
        ("majority of the informants (41/43)", []),
        ("lasting 45–60 min", []),
        ("A subset of 3–5 transcripts", [18, 19]),  # cites 18,19 a sentence earlier
        ("Data were collected from 7 April 2016", []),
    ],
)
def test_numbers_that_are_not_citations(
    doc: ParsedDocument, snippet: str, cited: list[int]
) -> None:
    assert containing(doc, snippet).ref_numbers == cited


def test_every_glued_citation_in_the_body_is_resolved(doc: ParsedDocument) -> None:
    cited = {n for p in doc.passages if p.kind != "reference" for n in p.ref_numbers}
    assert cited == set(range(1, 40))


# --- context --------------------------------------------------------------------------


def test_context_is_concise_metadata(doc: ParsedDocument) -> None:
    for p in doc.passages:
        assert p.context and word_count(p.context) <= 60
        assert p.section.split(" > ")[0] in p.context or p.kind == "table_row"
    assert "context" not in doc.passages[0].model_dump()


# --- failures are loud ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("’” (B, PL) |", "’” |", "Table 3"),
        ("Table 2.\n", "", "pipe-table row outside a table"),
        ("Table 2.\n", "Table 5.\n", r"missing \['Table 2'\], unexpected \['Table 5'\]"),
        ("- 2. University of Michigan", "- 3. University of Michigan", "reference list"),
        ("\nMatching\n", "\nMatchmaking\n", "Matchmaking"),
        ("Cancer hospital-based", "Cancer", "no setting"),
        ("Programme C | 5 (12) |", "Programme C | n/a |", "Programme C"),
    ],
)
def test_unexpected_structure_raises(old: str, new: str, message: str) -> None:
    assert old in SOURCE
    with pytest.raises(ValueError, match=message):
        parse(SOURCE.replace(old, new, 1))
