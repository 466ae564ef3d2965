"""Harder journal layouts, printed from real papers' own words (tests/fixtures/papers):
a table too wide for a portrait page, a table continued over several pages, an abstract
printed without a heading or labels, URLs broken across lines, and every dev question's
gold span read back from each format."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from peerqa.answer.sentences import split_passage
from peerqa.eval.papers.__main__ import locate
from peerqa.ingest.prose import parse_user_document
from peerqa.models import ParsedDocument

FIXTURES = Path(__file__).parent / "fixtures"
PAPERS = FIXTURES / "papers"
sys.path.insert(0, str(FIXTURES))
from make_pdfs import Layout, Paper, read_markdown, render, write_pdf  # noqa: E402


def pdf_of(paper: Paper, path: Path, layout: Layout | None = None) -> ParsedDocument:
    path.write_bytes(render(paper, layout or Layout()))
    doc = parse_user_document(path, max_words=120)
    for p in doc.passages:
        assert doc.text[p.char_start : p.char_end] == p.text
    return doc


def row_texts(passages: list) -> list[str]:
    """Each table row as the answer reads it: a passage's rows, or the passage, one row."""
    return [p.text[s:e] for p in passages for s, e in (p.rows or [[0, len(p.text)]])]


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_a_table_captioned_in_capitals_is_printed_as_a_table():
    """Frontiers captions its tables "TABLE 1." (the Loughnane review): the PDF made from
    the Markdown prints them as tables, as the journal does, not their caption as prose."""
    paper = read_markdown(PAPERS / "paper_0445.md")
    captions = [caption for caption, _ in paper.tables]
    assert captions[0] == "Table 1. PICOS framework for study inclusion and exclusion."
    assert len(captions) >= 3 and all(len(rows) >= 2 for _, rows in paper.tables)
    printed = [line for _, lines in paper.sections for line in lines]
    assert not any(line.startswith("TABLE 1.") for line in printed)


@pytest.mark.slow
def test_a_table_wider_than_the_page_reads_back_row_by_row_with_its_column_names(
    tmp_path: Path,
):
    """The LEAN trial's results table turned on its side (outcomes as 11 columns) is set
    on a landscape page in small type; every row comes back whole, knowing its header."""
    paper = read_markdown(PAPERS / "paper_1850.md")
    (_, rows), *_ = paper.tables
    measured = [r for r in rows if re.match(r"\d", r[1])][:10]
    header = ["Measures", *(r[0] for r in measured)]
    columns = [
        ["Intervention periods, mean (SD)", *(r[1] for r in measured)],
        ["Control periods, mean (SD)", *(r[2] for r in measured)],
        ["Mean difference (95% CI)", *(r[3] for r in measured)],
        ["P value", *(r[4] for r in measured)],
    ]
    assert len(header) == 11
    paper.tables = [("Table 1. Results.", [header, *columns])]
    doc = pdf_of(paper, tmp_path / "wide.pdf")
    got = [p for p in doc.passages if p.kind == "table_row"]
    assert row_texts(got) == [" | ".join(c) for c in columns]
    assert {p.header for p in got} == {" | ".join(header)}
    assert {p.section for p in got} == {"Table 1"}
    assert "Intervention periods, mean (SD)" in got[0].context  # a row reads with its names
    (title,) = [p for p in doc.passages if p.section == "Table 1" and p.kind != "table_row"]
    assert title.text == "Table 1. Results."


@pytest.mark.slow
def test_a_table_continued_over_pages_is_one_table_with_its_header_once(tmp_path: Path):
    """Each section's opening paragraph of the Prescott paper as a two-column table runs
    over several pages under "Table 1 (continued)" with its header row repeated: one
    table comes back, every row once and whole, the repeated header and the
    continuation captions not evidence."""
    paper = read_markdown(PAPERS / "paper_1571.md")
    body = [[h, paras[0]] for h, paras in paper.sections if h and paras][:14]
    header = ["Section", "Opening paragraph"]
    paper.tables = [("Table 1. Sections and their opening paragraphs.", [header, *body])]
    doc = pdf_of(paper, tmp_path / "long.pdf")
    got = [p for p in doc.passages if p.kind == "table_row"]
    assert len({p.page for p in got}) >= 2  # it did run on
    assert [flat(t) for t in row_texts(got)] == [" | ".join(r) for r in body]
    assert {p.header for p in got} == {"Section | Opening paragraph"}
    assert "(continued)" in doc.text
    assert not [p for p in doc.passages if "(continued)" in p.text]


@pytest.mark.slow
def test_an_abstract_printed_without_heading_or_labels_is_the_abstract(tmp_path: Path):
    paper = read_markdown(PAPERS / "paper_1571.md")
    whole = " ".join(text for _, text in paper.abstract)
    paper.abstract = [("", whole)]
    doc = pdf_of(paper, tmp_path / "plain.pdf")
    abstract = [p for p in doc.passages if p.section == "Abstract"]
    assert flat(" ".join(p.text for p in abstract)) == flat(whole)
    assert doc.info.authors == ["Julie Prescott", "Terry Hanley", "Katalin Ujhelyi"]
    assert not [p for p in doc.passages if "Hanley" in p.text and p.kind != "reference"]


@pytest.mark.slow
def test_a_url_too_long_for_its_line_is_one_url_in_its_reference(tmp_path: Path):
    doc = parse_user_document(write_pdf(PAPERS / "paper_1023.md", tmp_path), 120)
    refs = [p.text for p in doc.passages if p.kind == "reference"]
    assert any(
        r.endswith("URL: http://www.cfah.org/file/CFAH_Snapshot_2010_DataTables.pdf") for r in refs
    )
    assert any("ACMHC_2011_Full-Report.pdf [accessed 2019-02-22]" in r for r in refs)


def _dev_gold(papers: frozenset[str] | None = None) -> list[dict]:
    rows = (ROOT_QUESTIONS).read_text(encoding="utf-8").splitlines()
    return [
        q
        for q in map(json.loads, rows)
        if q["split"] == "dev" and q.get("gold") and (papers is None or q["paper"] in papers)
    ]


# Rendering a paper to PDF and reading it back takes seconds, so the PDF check keeps this
# fixed set; papers added later are checked as PDFs by `python -m peerqa.eval.papers.coverage`.
PDF_CHECKED = frozenset(
    f"paper_{n}" for n in ("0635", "0849", "1023", "1403", "1408", "1410", "1412", "1571", "1850")
)


ROOT_QUESTIONS = Path(__file__).parents[1] / "src/peerqa/eval" / "papers" / "questions.jsonl"


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["md", "pdf"])
def test_every_dev_gold_span_is_inside_one_passage(fmt: str, tmp_path: Path):
    """The extraction check of eval/papers/coverage.py: each dev question's gold is read
    from the paper, kept (never dropped as furniture) and inside one passage."""
    docs: dict[str, ParsedDocument] = {}
    missed = []
    for q in _dev_gold(PDF_CHECKED if fmt == "pdf" else None):
        if q["paper"] not in docs:
            md = PAPERS / f"{q['paper']}.md"
            path = write_pdf(md, tmp_path) if fmt == "pdf" else md
            docs[q["paper"]] = parse_user_document(path, 120)
        doc = docs[q["paper"]]
        spans = [(p.char_start, p.char_end) for p in doc.passages]
        where = locate(doc.text, q["gold"])
        if not any(s0 <= s and e <= e0 for _, s, e in where for s0, e0 in spans):
            missed.append(q["id"])
    assert missed == []


def test_a_licence_line_names_the_journal_when_the_header_does_not():
    from peerqa.ingest.readers.base import journal_from_furniture

    line = (
        "which permits unrestricted use, distribution, and reproduction in any medium, "
        "provided the original work, first published in JMIR Mental Health, is properly cited."
    )
    assert journal_from_furniture([line]) == ("JMIR Mental Health", None)


@pytest.mark.slow
def test_superscript_citations_in_two_columns_stay_on_their_line_glued_to_their_word(
    tmp_path: Path,
):
    """The Lyons review set as journals that cite by superscript do ("recovery⁸."), under a
    running short title and page number instead of a journal line and footer: a raised
    number in smaller type is read on its own line, glued to its word, and resolves to its
    reference, though its top is nearer the other column's line on that baseline."""
    layout = Layout(head="title", superscripts=True, column_tables=True)
    doc = pdf_of(read_markdown(PAPERS / "paper_1408.md"), tmp_path / "paper_1408.pdf", layout)
    (opening,) = [p for p in doc.passages if "Transition to a recovery approach" in p.text]
    assert opening.text.startswith(
        "Transition to a recovery approach is a key focus of national1 and international2 "
        "mental health service development. Peer support has been characterized as a truly "
        "recovery-orientated intervention3 and is now recommended in policy guidance "
        "internationally4,5,6."
    )
    assert {1, 2, 3, 4, 5, 6} <= set(opening.ref_numbers)
    sentences = [s.text for p in doc.passages for s in split_passage(p)]
    assert not [s for s in sentences if re.fullmatch(r"[\d,\s.]+", s)]
    assert "mechanisms11,12 suggest" in " ".join(sentences)
    # The running short title and page number are furniture, not text.
    assert not [
        p for p in doc.passages if "A systematic review and meta-analysis of group" in p.text
    ]


@pytest.mark.slow
def test_a_table_of_few_columns_set_in_the_text_column_reads_as_a_table(tmp_path: Path):
    """The mHealth review's Table 1 (4 columns) set inside one text column, as a journal
    sets a small table, in one column: its rows come back as rows with their cells."""
    paper = read_markdown(PAPERS / "paper_0635.md")
    doc = pdf_of(paper, tmp_path / "paper_0635.pdf", Layout(columns=1, column_tables=True))
    rows = row_texts([p for p in doc.passages if p.kind == "table_row"])
    assert "Region | Africa | 19 | 68%" in rows
    assert any(r.startswith("Rural/Urban | Rural | 15 | 54%") for r in rows)


def test_a_journal_line_without_a_year_still_names_the_journal():
    from peerqa.ingest.readers.base import journal_from_furniture

    # The Lyons review's PDF head (its source states no year): the journal, and no year.
    paper = read_markdown(PAPERS / "paper_1408.md")
    assert "Year" not in paper.fields
    assert journal_from_furniture(["BMC Psychiatry | vol. 21 | iss. 1"]) == ("BMC Psychiatry", None)
