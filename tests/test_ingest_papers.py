"""Scholarly papers in every format, read from real CC BY papers (tests/fixtures/papers):
metadata, labelled abstract, sections, tables with headers, references resolved, page
furniture and declarations dropped, verbatim offsets (with the page for PDF)."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from peerqa.answer.sentences import split_passage
from peerqa.ingest.papers import (
    CitationResolver,
    is_fragment,
    is_row_heading,
    join_fragments,
    join_lead_ins,
)
from peerqa.ingest.prose import parse_user_document
from peerqa.ingest.readers import read_xml
from peerqa.ingest.readers.markdown import read_markdown_paper
from peerqa.ingest.readers.pdf import read_pdf
from peerqa.ingest.sources import SourceError
from peerqa.models import PaperBlock, ParsedDocument, Passage, ScholarlyPaper
from peerqa.segment import sentence_spans

FIXTURES = Path(__file__).parent / "fixtures"
PAPERS = FIXTURES / "papers"
sys.path.insert(0, str(FIXTURES))
from make_pdfs import write_pdf  # noqa: E402

# What journals print around the evidence; none of it may become a passage.
FURNITURE = re.compile(
    r"page number not for citation purposes|\| vol\. ?\d+ \||Page \d+ of \d+|XSL • FO|"
    r"RenderX|^None declared\.$|Downloaded from|Protected by copyright|\[DOCX File|"
    r"Originally published in|\*\*Authors:\*\*|\*\*DOI:\*\*",
    re.MULTILINE,
)


# Whole papers printed to PDF and read back take seconds each: those tests are `slow`
# (not in the unit tier), and each paper is printed and parsed once for the module.
slow = pytest.mark.slow


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """A fixture paper's Markdown printed to PDF: `printed("paper_1850.md")`."""
    out = tmp_path_factory.mktemp("pdfs")
    return functools.cache(lambda name: write_pdf(PAPERS / name, out))


@pytest.fixture(scope="module")
def pdf_parsed(printed: Callable[[str], Path]) -> Callable[[str], ParsedDocument]:
    """That PDF parsed, once (the tests read a parsed document, never change it)."""
    return functools.cache(lambda name: parsed(printed(name)))


def row_texts(doc: ParsedDocument) -> list[str]:
    """Each table row as the answer reads it: a passage's rows, or the passage, one row."""
    return [
        p.text[s:e]
        for p in doc.passages
        if p.kind == "table_row"
        for s, e in (p.rows or [[0, len(p.text)]])
    ]


def parsed(path: Path) -> ParsedDocument:
    return parse_user_document(path, max_words=120)


def assert_verbatim(doc: ParsedDocument) -> None:
    for p in doc.passages:
        assert doc.text[p.char_start : p.char_end] == p.text
        assert p.text == p.text.strip() and p.text


def assert_no_furniture(passages: list[Passage]) -> None:
    leaked = [p.text for p in passages if FURNITURE.search(p.text)]
    assert leaked == []


def by_section(doc: ParsedDocument, prefix: str) -> list[Passage]:
    return [p for p in doc.passages if p.section.startswith(prefix)]


# --- GROBID TEI ------------------------------------------------------------------------


def test_tei_paper_metadata_abstract_sections_and_references():
    doc = parsed(PAPERS / "paper_1571.tei.xml")
    info = doc.info
    assert info.media_type == "application/tei+xml"
    assert info.title.startswith("Peer Communication in Online Mental Health Forums")
    assert info.authors == ["Julie Prescott", "Terry Hanley", "Katalin Ujhelyi"]
    assert info.doi == "10.2196/mental.6921"
    # The TEI header has no journal or year; the running footer states both.
    assert (info.journal, info.year) == ("JMIR Ment Health", 2017)
    assert info.study.model_dump() == {
        "title": info.title,
        "authors": info.authors,
        "year": 2017,
        "journal": "JMIR Ment Health",
        "doi": "10.2196/mental.6921",
    }
    abstract = [p.section for p in by_section(doc, "Abstract")]
    assert list(dict.fromkeys(abstract)) == [
        "Abstract > Background",
        "Abstract > Objective",
        "Abstract > Methods",
        "Abstract > Results",
        "Abstract > Conclusions",
    ]
    assert not any(p.text.startswith(("Methods:", "Conclusions:")) for p in doc.passages)
    assert info.by_kind["reference"] == 41  # 43 entries, less the editorial and © notes
    assert_verbatim(doc)
    assert_no_furniture(doc.passages)
    # Declarations are gone: acknowledgements, conflicts, author contributions.
    assert not any("Kooth for their support" in p.text for p in doc.passages)
    assert not any(p.section.startswith("Authors' Contributions") for p in doc.passages)


def test_tei_in_text_citations_resolve_to_reference_entries():
    doc = parsed(PAPERS / "paper_1571.tei.xml")
    (passage,) = [p for p in doc.passages if "overriding differences with peers" in p.text]
    assert 9 in passage.ref_numbers
    (ref9,) = [r for r in passage.references if r.n == 9]
    assert ref9.citation.startswith("Kummervold PE")
    references = [p for p in doc.passages if p.kind == "reference"]
    assert references[0].text.startswith("Kessler RC") and references[0].ref_numbers == [1]


def test_tei_tables_keep_their_header_and_quotes_promoted_to_headings_stay_prose():
    doc = parsed(PAPERS / "paper_1571.tei.xml")
    rows = [p for p in doc.passages if p.kind == "table_row"]
    assert [r.split(" | ")[0] for r in row_texts(doc)] == [
        "Transgender",
        "Anxiety and panic attacks",
        "Self-harm",
        "Bullying",
        "Pregnancy related",
    ]
    assert {r.header for r in rows} == {"Issues | Support theme | Approach"}
    assert {r.section for r in rows} == {"Table 2"}
    assert any("Support theme: Informational support" in r.context for r in rows)
    # GROBID made a forum quote a <head>; it is prose, not a section name, and read with
    # the lead-in that introduces it ("…as in the quote below:").
    (quote,) = [p for p in doc.passages if "Do what comes naturally to you" in p.text]
    assert "as in the quote below:\n\nDo what comes naturally" in quote.text
    assert not any(
        s.startswith("Do what comes naturally") for s in {p.section for p in doc.passages}
    )


def test_tei_furniture_spilled_into_a_paragraph_is_cut_out_sentence_by_sentence():
    doc = parsed(PAPERS / "paper_1872.tei.xml")
    assert_no_furniture(doc.passages)
    # The paragraph that GROBID glued "Downloaded from … first published as" onto survives.
    assert any(p.text.startswith("This was a prospective, two-arm") for p in doc.passages)
    assert "Open access" not in {p.section for p in doc.passages}


# --- Markdown ----------------------------------------------------------------------------


def test_a_heading_opening_with_the_papers_journal_is_its_running_head_not_a_section():
    # GROBID kept JAMA's running head "JAMA Network Open | Health Policy" as a heading in
    # the Methods: the passages under it stay in the sections they belong to.
    doc = parsed(PAPERS / "paper_1122.md")
    assert_verbatim(doc)
    sections = {p.section for p in doc.passages}
    assert not any("JAMA Network Open" in (s or "") for s in sections)
    missing_bp = next(p for p in doc.passages if "For patients with missing BP data" in p.text)
    assert missing_bp.section == "Statistical Analysis"
    consent = next(p for p in doc.passages if "Patients provided informed" in p.text)
    assert consent.section == "Study Design"


def test_markdown_paper_metadata_block_is_metadata_not_evidence():
    path = PAPERS / "paper_1850.md"
    raw = path.read_text(encoding="utf-8")
    doc = parsed(path)
    assert doc.text == raw
    assert_verbatim(doc)
    assert_no_furniture(doc.passages)
    info = doc.info
    assert info.authors[0] == "Yiyuan Cai" and info.authors[-1] == "Dong (Roman) Xu"
    assert (info.year, info.journal, info.doi) == (
        2020,
        "Journal of Medical Internet Research",
        "10.2196/22631",
    )
    assert doc.passages[0].section == "Abstract > Background"


@slow
def test_the_year_a_running_head_states_after_the_authors_completes_the_metadata(
    pdf_parsed: Callable[[str], ParsedDocument],
):
    # 1712's kb header says "Year: None"; its page head, kept under Footnotes, cites the
    # article BMC style: "Prinja et al. Cost Eff Resour Alloc (2018) 16:25".
    info = parsed(PAPERS / "paper_1712.md").info
    assert (info.year, info.journal) == (2018, "Cost Effectiveness and Resource Allocation")
    # As a PDF whose every page carries that head, the head is furniture and states both.
    doc = pdf_parsed("paper_1712.md")
    assert (doc.info.year, doc.info.journal) == (2018, "Cost Eff Resour Alloc")
    head = "Prinja et al. Cost Eff Resour Alloc (2018) 16:25"
    heads = [p for p in doc.passages if p.text == head]
    assert len(heads) <= 1  # the one the paper's own reference list holds (GROBID's slip)
    # A reference entry citing another article in that style states nothing about this one.
    from peerqa.ingest.readers.base import journal_from_furniture

    entry = "Page MJ, McKenzie JE, et al. The PRISMA statement. BMJ. (2021) 372:1-9"
    assert journal_from_furniture([entry]) == (None, None)


def test_markdown_abstract_labels_and_tab_runs_never_reach_passage_text():
    doc = parsed(PAPERS / "paper_1571.md")
    abstract = by_section(doc, "Abstract")
    assert [p.section for p in abstract][:2] == ["Abstract > Background", "Abstract > Objective"]
    assert all("    " not in p.text and "\t" not in p.text for p in doc.passages)
    assert not any(p.text in ("Background", "Objective") for p in doc.passages)
    assert abstract[0].text.startswith("The Internet has the potential")


def test_markdown_table_rows_know_their_header_and_continuations_merge():
    doc = parsed(PAPERS / "paper_1850.md")
    rows = [p for p in doc.passages if p.kind == "table_row"]
    # The header's second line ("| | mean (SD) | (SD) | | |") completes the column names.
    assert rows[0].header == (
        "Measures | Intervention periods, mean (SD) | Control periods, mean (SD) | "
        "Mean difference (95% CI) | P value"
    )
    assert not any(r.startswith(("mean (SD)", "|")) for r in row_texts(doc))
    assert not any(r.text.startswith(("mean (SD)", "|")) for r in rows)
    (pill,) = [r for r in rows if "Pill-count assessment" in r.text]
    assert "Intervention periods, mean (SD): 0.58 (0.38)" in pill.context
    assert pill.section == "Table 1"


def test_a_row_heading_inside_a_table_is_its_rows_context_not_a_row():
    doc = parsed(PAPERS / "paper_1850.md")
    rows = [p for p in doc.passages if p.kind == "table_row"]
    # "| Secondary outcomes | | | | |" heads the rows below it; it is no passage itself.
    texts = row_texts(doc)
    assert not any(r.strip(" |") in ("Secondary outcomes", "Adherence outcomes") for r in texts)
    below = [r for r in rows if "Secondary outcomes" in r.context]
    assert below and all(r.text.strip() for r in below)
    # It opens the passage of the rows it heads, and is not one of its rows.
    (first,) = [r for r in below if r.text.startswith("Secondary outcomes")]
    assert first.rows and first.rows[0][0] > 0
    # A lower-case single cell is a wrapped cell's tail, not a heading: it stays.
    assert not is_row_heading(["", "sectional with", ""])


def test_a_line_that_is_not_a_sentence_opens_the_passage_it_introduces():
    # "Step 5" above a paragraph, a PLOS author summary's box questions: never passages
    # of their own, and every passage is still a verbatim span.
    for n in ("1403", "0849"):
        doc = parsed(PAPERS / f"paper_{n}.md")
        assert_verbatim(doc)
        alone = [p.text for p in doc.passages if p.kind != "reference" and is_fragment(p.text)]
        assert alone == []
    steps = parsed(PAPERS / "paper_1403.md")
    (step,) = [p for p in steps.passages if p.text.startswith("Step 7")]
    assert step.text.startswith("Step 7\n\nFinalization of ToC following stakeholder feedback")
    # "Step 1" sits above a subsection heading: it is read in that subsection's context.
    assert any("Step 1" in p.context and not p.text.startswith("Step") for p in steps.passages)
    summary = parsed(PAPERS / "paper_0849.md")
    (why,) = [p for p in summary.passages if p.text.startswith("Why was this study done?")]
    assert "Low-and middle-income countries" in why.text and why.section == "Author summary"


def test_fragments_are_judged_on_their_own_text():
    text = "Step 5\n\nFinalizing the draft\n\nStep 6\n\nWe revised it. It was done."
    blocks = [PaperBlock(start=m.start(), end=m.end()) for m in re.finditer(r"[^\n]+", text)]
    ((block, lead),) = join_fragments(text, blocks)
    assert text[block.start : block.end] == text and lead is None
    assert is_fragment("Why was this study done?") and is_fragment("Peer support groups:")
    assert not is_fragment("Results were mixed.")


def test_markdown_numeric_ranges_and_lists_resolve():
    doc = parsed(PAPERS / "paper_0635.md")
    (passage,) = [p for p in doc.passages if "lowers the cost of providing services" in p.text]
    assert {2, 3, 5} <= set(passage.ref_numbers)
    assert all(r.citation for r in passage.references)
    assert doc.info.by_kind["reference"] == 29


def test_author_year_and_range_citations_resolve():
    text = (
        "Peer support reduced isolation (Kessler et al., 2007) and helped [2-3].\n\n"
        "1. Kessler RC, Amminger GP. Age of onset of mental disorders. 2007.\n"
        "2. Patel V. Mental health of young people. Lancet 2007.\n"
        "3. Rickwood D. Young people's help-seeking. 2005."
    )
    body_end = text.index("\n\n")
    paper = read_markdown_paper(
        "# T\n\n**Authors:** A B\n\n## Results\n\n"
        + text.replace("\n1.", "\n\n## References\n\n1.", 1)
    )
    assert paper.references and [r.surname for r in paper.references] == [
        "Kessler",
        "Patel",
        "Rickwood",
    ]
    resolver = CitationResolver(paper)
    start = paper.text.index("Peer support")
    assert resolver.cited(start, start + body_end) == [1, 2, 3]


# --- PDF ---------------------------------------------------------------------------------


@slow
def test_pdf_metadata_from_title_block_running_header_and_doi(
    pdf_parsed: Callable[[str], ParsedDocument],
):
    doc = pdf_parsed("paper_1850.md")
    info = doc.info
    assert info.media_type == "application/pdf"
    assert info.title.startswith("Mobile Texting and Lay Health Supporters")
    assert len(info.authors) == 15 and "Stephen Gloyd" in info.authors
    assert (info.journal, info.year, info.doi) == (
        "Journal of Medical Internet Research",
        2020,
        "10.2196/22631",
    )
    assert info.pages == 10


@slow
def test_pdf_passages_are_verbatim_with_pages_and_no_furniture(
    pdf_parsed: Callable[[str], ParsedDocument],
):
    doc = pdf_parsed("paper_1850.md")
    assert_verbatim(doc)
    assert_no_furniture(doc.passages)
    assert all(p.page and 1 <= p.page <= 10 for p in doc.passages)
    assert "\ufb01" not in doc.text and "\ufb02" not in doc.text  # ligatures undone
    pages = sorted({p.page for p in doc.passages})
    assert pages[0] == 1 and pages[-1] >= 9
    abstract = by_section(doc, "Abstract")
    assert abstract[0].section == "Abstract > Background" and abstract[0].page == 1


@slow
def test_pdf_two_columns_and_hyphenation_recover_the_source_sentences(
    pdf_parsed: Callable[[str], ParsedDocument],
):
    """Sentences of the source Markdown come back whole from the two-column,
    hyphenated PDF: reading order, line joins and de-hyphenation are right."""
    source = (PAPERS / "paper_1571.md").read_text(encoding="utf-8")
    doc = pdf_parsed("paper_1571.md")
    body = source[source.index("## Introduction") : source.index("## Figures and tables")]
    sentences = [
        s for s in re.findall(r"[A-Z][^.?!\n]{60,300}[.?!]", body) if "[" not in s and "  " not in s
    ][::7]
    assert len(sentences) >= 10
    missing = [s for s in sentences if s not in doc.text]
    assert missing == []


def _sentences(doc: ParsedDocument) -> set[str]:
    """The body's sentences (figure captions and GROBID's flattened table dumps aside:
    the PDF prints neither), a lead-in apart from the block it introduces (the Markdown
    may have made that block a heading)."""
    return {
        re.sub(r"\s+", " ", block[s:e])
        for p in doc.passages
        if p.kind in ("paragraph", "list_item")
        and not re.match(r"(?:Figure|Table) \d+$|Figures and tables$", p.section)
        for block in re.split(r"\n\s*\n", p.text)
        for s, e in sentence_spans(block, 0, len(block))
    }


@slow
@pytest.mark.parametrize("n", ["1571", "1850", "1023"])
def test_pdf_body_reads_as_its_markdown_does(pdf_parsed: Callable[[str], ParsedDocument], n: str):
    """The PDF made from a paper's Markdown gives back the Markdown reader's sentences:
    a justified full-width abstract line is not split at the gutter, a paragraph runs on
    across columns and pages, a line starting "Table 1 is…" or "(3) token…" in mid-sentence
    is neither a caption nor a list item, and line-end hyphens are undone only where the
    word is not hyphenated ("noncou-" / "nseling-related", "person-" / "year")."""
    md = _sentences(parsed(PAPERS / f"paper_{n}.md"))
    pdf = _sentences(pdf_parsed(f"paper_{n}.md"))
    missing = sorted(md - pdf)
    # The few a typesetter's hyphen makes ambiguous: a compound broken at its own hyphen
    # whose halves the paper never prints apart ("internist-" / "transformed").
    assert len(missing) <= 0.02 * len(md), missing


@slow
def test_pdf_sections_and_tricky_lines_in_place(pdf_parsed: Callable[[str], ParsedDocument]):
    prescott = pdf_parsed("paper_1571.md")
    (conclusions,) = by_section(prescott, "Abstract > Conclusions")
    assert conclusions.text.endswith(
        "mediating support that is multidimensional in nature "
        "(informational-emotional, directive-nondirective)."
    )
    (seek,) = [p for p in prescott.passages if "The example quote in Table 1 is by" in p.text]
    assert seek.kind == "paragraph" and seek.section == "How Young People Seek Support"
    assert "responded to noncounseling-related issues" in prescott.text
    assert "Curr Opin Psychiatry 2007 Jul;20(4):359-364" in prescott.text
    cai = pdf_parsed("paper_1850.md")
    assert not [p for p in cai.passages if p.kind == "list_item"]
    assert "(all-cause mortality 28.88/1000 person-year)" in cai.text
    sections = {p.section for p in pdf_parsed("paper_1023.md").passages}
    assert "Coordinated Health Care for Complex Kids Health Initiative" in sections
    assert "Ideate, Develop, and Test Prototype 2" in sections  # not fused with the heading above


@slow
def test_pdf_ruled_table_rows_and_references(pdf_parsed: Callable[[str], ParsedDocument]):
    doc = pdf_parsed("paper_0635.md")
    rows = [p for p in doc.passages if p.kind == "table_row"]
    assert {r.header for r in rows} == {"Category | Subcategory | Result (n) | Result (%)"}
    texts = row_texts(doc)
    assert texts[0] == "Rural/Urban | Rural | 15 | 54%"
    assert texts[-1] == "Experimental | 8 | 29%"  # not the table's DOI printed below it
    assert all(r.page for r in rows)
    refs = [p for p in doc.passages if p.kind == "reference"]
    assert len(refs) == 29 and refs[0].text.startswith("Narasimhan V")  # label outside
    (passage,) = [p for p in doc.passages if "Nearly all countries are challenged" in p.text]
    assert 1 in passage.ref_numbers


# --- bad XML --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"<TEI><text>unclosed", "not well-formed XML"),
        (b"<html><body>hi</body></html>", "neither a TEI paper"),
        (b'<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body/></text></TEI>', "has no text"),
    ],
)
def test_bad_xml_is_a_one_line_reason(tmp_path: Path, content: bytes, reason: str):
    path = tmp_path / "bad.xml"
    path.write_bytes(content)
    with pytest.raises(SourceError) as err:
        parsed(path)
    assert reason in err.value.reason and "\n" not in str(err.value)


@slow
def test_every_format_reads_into_one_structure(printed: Callable[[str], Path]):
    papers: list[ScholarlyPaper] = [
        read_xml(Path("x.xml"), (PAPERS / "paper_1571.tei.xml").read_bytes()),
        read_markdown_paper((PAPERS / "paper_1571.md").read_text(encoding="utf-8")),
        read_pdf(printed("paper_1571.md").read_bytes()),
    ]
    for paper in papers:
        assert paper.study.doi == "10.2196/mental.6921"
        assert [b.label for b in paper.abstract][:2] == ["Background", "Objective"]
        assert "Principal Findings" in [s.title for s in paper.sections]
        assert paper.tables and paper.tables[0].header == ["Issues", "Support theme", "Approach"]
        assert len(paper.references) in (41, 42)


# --- JATS and HTML -----------------------------------------------------------------------


def test_jats_paper_front_matter_sections_tables_and_xref_citations():
    doc = parsed(PAPERS / "paper_1850.jats.xml")
    info = doc.info
    assert info.media_type == "application/jats+xml"
    assert (info.journal, info.year, info.doi) == (
        "Journal of Medical Internet Research",
        2020,
        "10.2196/22631",
    )
    assert info.authors[:2] == ["Yiyuan Cai", "Wenjie Gong"] and len(info.authors) == 15
    assert [p.section for p in by_section(doc, "Abstract")][0] == "Abstract > Background"
    rows = [p for p in doc.passages if p.kind == "table_row"]
    assert rows and all(r.header and r.header.startswith("Measures | Intervention") for r in rows)
    (first,) = [p for p in doc.passages if p.text.startswith("Affecting 0.4% of the population")]
    assert first.ref_numbers[0] == 1 and first.references[0].citation.startswith("McGrath J")
    assert info.by_kind["reference"] == 52
    assert_verbatim(doc)
    assert_no_furniture(doc.passages)
    assert not any(p.section.startswith("Multimedia Appendix") for p in doc.passages)


def article_html(md: Path) -> bytes:
    """A publisher-style article page made mechanically from the paper's Markdown: its
    metadata block as Highwire citation_* meta tags, its body rendered by markdown-it."""
    from markdown_it import MarkdownIt

    text = md.read_text(encoding="utf-8")
    fields = dict(re.findall(r"^\*\*([^*]+):\*\*\s*(.*?)\s*$", text, re.M))
    title = text.split("\n", 1)[0].lstrip("# ").strip()
    metas = [("citation_title", title), ("citation_journal_title", fields["Journal"])]
    metas += [("citation_author", a.strip()) for a in fields["Authors"].split(",")]
    metas += [("citation_publication_date", fields["Year"]), ("citation_doi", fields["DOI"])]
    head = "".join(f'<meta name="{k}" content="{v}">' for k, v in metas)
    body = MarkdownIt("commonmark").enable("table").render(text[text.index("## Abstract") :])
    return f"<html><head><title>{title}</title>{head}</head><body>{body}</body></html>".encode()


def test_html_article_page_reads_meta_tags_abstract_tables_and_references(tmp_path: Path):
    path = tmp_path / "prescott-2017.html"
    path.write_bytes(article_html(PAPERS / "paper_1571.md"))
    doc = parsed(path)
    info = doc.info
    assert info.authors == ["Julie Prescott", "Terry Hanley", "Katalin Ujhelyi"]
    assert (info.journal, info.year, info.doi) == (
        "JMIR Mental Health",
        2017,
        "10.2196/mental.6921",
    )
    assert [p.section for p in by_section(doc, "Abstract")][:2] == [
        "Abstract > Background",
        "Abstract > Objective",
    ]
    rows = [p for p in doc.passages if p.kind == "table_row"]
    assert "Issues | Support theme | Approach" in {r.header for r in rows}
    assert info.by_kind["reference"] == 41
    assert_verbatim(doc)
    assert_no_furniture(doc.passages)


def test_a_web_page_that_is_not_a_paper_keeps_the_generic_reader(tmp_path: Path):
    path = tmp_path / "leaflet.html"
    path.write_text("<h1>Clinic leaflet</h1><p>Peer groups meet on Mondays.</p>", encoding="utf-8")
    doc = parsed(path)
    assert doc.info.media_type == "text/html" and doc.info.authors == []
    assert [p.text for p in doc.passages] == ["Peer groups meet on Mondays."]


def test_tei_superscript_citations_resolve_through_the_marked_refs():
    """BMJ prints citations as superscripts; GROBID leaves a bare "28" in the text and
    marks it <ref type="bibr">: the mark, not the digits alone, makes it a citation, and
    the printed number picks the entry."""
    doc = parsed(PAPERS / "paper_1872.tei.xml")
    marker = "Global Adult Tobacco Survey questionnaire) 28"
    (passage,) = [p for p in doc.passages if marker in p.text]
    assert 28 in passage.ref_numbers
    entries = [p.text for p in doc.passages if p.kind == "reference"]
    assert {r.n: r.citation for r in passage.references}[28] == entries[27]
    assert doc.info.references_resolved == 0  # counted by the pipeline, not the parser


def test_a_long_table_is_cut_into_passages_of_rows_each_row_readable_with_its_columns():
    # The student review's Table 1: 21 studies over ~60 Markdown lines, its header on
    # three lines and most rows wrapped onto a second line (first cells too).
    doc = parsed(PAPERS / "paper_1412.md")
    assert_verbatim(doc)
    table = [p for p in doc.passages if p.kind == "table_row" and p.section == "Table 1"]
    texts = row_texts(ParsedDocument(info=doc.info, text=doc.text, passages=table))
    assert [t.split(",")[0] for t in texts] == [f"[{n}]" for n in range(1, 22)]
    assert len(table) <= len(texts) // 2  # rows share passages
    assert all(len(re.findall(r"[^\s|]+", p.text)) <= 120 for p in table if len(p.rows) > 1)
    # The header's three lines name every column.
    assert table[0].header.startswith("[Reference number], (reference), country, type of HEI")
    assert table[0].header.endswith("| Risk of bias")
    # A wrapped row's tail ("| | anxiety in clinical setting | mentoring | | one |…")
    # is the same row, which reads with its column names in its passage's context.
    (second,) = [t for t in texts if t.startswith("[2], (84), USA")]
    assert "anxiety in clinical setting" in second and "[3]" not in second
    assert "Risk of bias: Good/ fair" in table[0].context
    assert "Summary of study characteristics" in table[0].context
    # Rows lie in order inside their passage, and the answer reads each as one unit.
    for p in table:
        assert all(0 <= s < e <= len(p.text) for s, e in p.rows)
        assert all(a[1] <= b[0] for a, b in zip(p.rows, p.rows[1:], strict=False))
    assert [s.text for p in table for s in split_passage(p)] == texts


def test_a_category_printed_once_stays_with_its_rows():
    # "Region | Africa …" then "| | Asia …": with passages of 20 words, a passage breaks
    # before a category, not inside one, unless the category alone is longer.
    doc = parse_user_document(PAPERS / "paper_0635.md", 20)
    table = [p for p in doc.passages if p.kind == "table_row"]
    assert [p.text.split(" | ")[0] for p in table] == [
        "Rural/Urban",  # and Region: both fit
        "Health Issue Addressed",
        "Purpose of Technology",  # 25 words: cut by size
        "Information on Demand",
        "Methods",  # Table 2
    ]


@slow
def test_an_introduction_left_under_the_abstract_heading_is_the_article_not_the_abstract(
    pdf_parsed: Callable[[str], ParsedDocument],
):
    # The BJPsych review's Markdown has its structured abstract and then its unheaded
    # introduction under "## Abstract"; the PDF prints the introduction in the columns.
    md = parsed(PAPERS / "paper_1412.md")
    pdf = pdf_parsed("paper_1412.md")
    for doc in (md, pdf):
        sections = [p.section for p in doc.passages if p.section.startswith("Abstract")]
        assert sections == [
            "Abstract > Background",
            "Abstract > Aims",
            "Abstract > Method",
            "Abstract > Results",
            "Abstract > Conclusions",
        ]
        (opening,) = [p for p in doc.passages if p.text.startswith("There are growing concerns")]
        assert not opening.section.startswith("Abstract")
    # "post-" / "graduates" across a line end is the word the paper prints whole as
    # "postgraduate": its line-end hyphen goes.
    assert "postgraduates" in pdf.text and "post-graduates" not in pdf.text


def test_abstract_labels_printed_alone_label_the_text_below_them():
    # The Lifestyle Africa trial prints each label on a line of its own ("Conclusions",
    # then its text), its results wrapped over lines and blocks ("…95% CI…;\n  p\n  = 0.71)").
    doc = parsed(PAPERS / "paper_0849.md")
    sections = [p.section for p in doc.passages if p.section.startswith("Abstract")]
    assert sections[0] == "Abstract > Background"
    assert set(sections) == {
        "Abstract > Background",
        "Abstract > Methods and findings",
        "Abstract > Conclusions",
        "Abstract > Trial registration",
    }
    (trial,) = [p for p in doc.passages if p.section == "Abstract > Trial registration"]
    assert "NCT03342274" in trial.text and "ClinicalTrials.gov" in trial.text
    # "Findings from the few eligible trials…" opens a part's text: "Findings" is no label.
    (conclusions,) = [
        p for p in parsed(PAPERS / "paper_1408.md").passages if "few eligible" in p.text
    ]
    assert conclusions.text.startswith("Findings from")


@pytest.mark.parametrize("name", ["paper_0258.md", "paper_0258.tei.xml"])
def test_a_lead_in_is_read_with_what_it_introduces(name: str):
    # "…consisted of four phases:" above "(1) content translation, …": one passage, and
    # one answer sentence, never the lead-in quoted alone.
    doc = parsed(PAPERS / name)
    assert_verbatim(doc)
    (passage,) = [p for p in doc.passages if "consisted of four phases:" in p.text]
    first = split_passage(passage)[0].text
    assert first.startswith("The adaptation process of iSupport consisted of four phases:")
    assert first.endswith("and (4) refinement and final adaptation.")
    assert not any(p.text.rstrip().endswith("four phases:") for p in doc.passages)


@pytest.mark.parametrize("name", ["paper_1403.md", "paper_1403.tei.xml"])
def test_a_lead_in_keeps_its_whole_list(name: str):
    # Markdown marks the items as a list; GROBID leaves them paragraphs opening "2.".
    doc = parsed(PAPERS / name)
    assert_verbatim(doc)
    (passage,) = [p for p in doc.passages if "These stakeholders included:" in p.text]
    assert passage.text.startswith("Participants were stakeholders involved")
    assert passage.text.endswith(
        "3. Members who were actively using the platform for mental health support."
    )


def test_a_lead_in_too_long_to_join_stays_apart():
    text = "These were:\n\n" + " ".join(["word"] * 130) + "."
    blocks = [PaperBlock(start=0, end=11), PaperBlock(start=13, end=len(text))]
    joined = join_lead_ins(text, [(b, None) for b in blocks], max_words=120)
    assert [(b.start, b.end) for b, _ in joined] == [(0, 11), (13, len(text))]


def test_a_run_together_abstract_is_cut_into_its_sentences():
    # paper_1122's abstract lost its labels and the spaces after them ("control.To").
    doc = parsed(PAPERS / "paper_1122.md")
    opening = [p for p in doc.passages if "improve blood pressure (BP) control.To" in p.text]
    assert opening
    sentences = [s.text for p in opening for s in split_passage(p)]
    assert any(s.endswith("might improve blood pressure (BP) control.") for s in sentences)
    assert any(s.startswith("To evaluate the effectiveness of a bidirectional") for s in sentences)
    assert any(s.startswith("This randomized clinical trial included adults") for s in sentences)


@slow
def test_pdf_keeps_hyphens_after_numbers_and_captions_atop_a_page(
    pdf_parsed: Callable[[str], ParsedDocument],
):
    doc = pdf_parsed("paper_0445.md")
    assert_verbatim(doc)
    text = " ".join(p.text for p in doc.passages)
    # "55%-" / "56.5%" at a line end: the range's own hyphen, no space added.
    assert "Hybrid coaching interventions had retention rates of 55%-56.5% (37,44)." in text
    # "well-" / "being": the paper prints "wellbeing" far more often than "well-being".
    assert "closely associated with psychological wellbeing" in text
    # "lever-" / "aged" is one word: the paper prints "leveraging", the same stem.
    jama = pdf_parsed("paper_1122.md")
    assert any("We also leveraged new technology" in p.text for p in jama.passages)
    # Table 1's caption opens a page after a paragraph a URL left open.
    assert any(
        p.text == "Table 1. PICOS framework for study inclusion and exclusion."
        for p in doc.passages
    )


# What the PDF reader once misread, as printed from the paper's Markdown: (paper, text
# read back, text never read).
PDF_READINGS = [
    # 0258's last page: the left column's "… provides examples of concr-" and the right
    # column's heading "Multimedia Appendix 4" share a baseline, and the right column
    # holds too few lines to show its edge: one full-width line until the gutter split it.
    (
        "paper_0258.md",
        ["this study provides examples of concrete strategies and methods to involve"],
        ["concr- Multimedia"],
    ),
    # "mentors-" / "hip": two dictionary words, but "mentor" + "ship" broken inside its
    # suffix. "one-to-" / "one": the paper prints "one-to-one", so "to-one" counts as
    # printed hyphenated (each neighbouring pair of a compound) and the hyphen stays.
    (
        "paper_1412.md",
        ["Helping the transition: mentorship to support", "Mixed: one-to-one and"],
        ["mentors-hip"],
    ),
]


@slow
@pytest.mark.parametrize(("paper", "read", "never"), PDF_READINGS)
def test_pdf_reads_back_words_and_lines_whole(
    paper: str, read: list[str], never: list[str], pdf_parsed: Callable[[str], ParsedDocument]
):
    doc = pdf_parsed(paper)
    assert_verbatim(doc)
    text = " ".join(p.text for p in doc.passages)
    assert all(t in text for t in read)
    assert not any(t in text for t in never)


@pytest.mark.parametrize("name", ["paper_1122.md", "paper_1122.tei.xml"])
def test_a_bare_superscript_number_is_never_quoted_as_a_sentence_start(name: str):
    # JAMA sets "…influence BP control.²⁸ In phase 1, …"; the converters leave "28" bare.
    doc = parsed(PAPERS / name)
    assert_verbatim(doc)
    (passage,) = [p for p in doc.passages if "In phase 1, the BP alerts" in p.text]
    assert 28 in passage.ref_numbers
    sentences = [s.text for s in split_passage(passage)]
    assert any(s.startswith("In phase 1, the BP alerts may have overburdened") for s in sentences)
    assert not any(re.match(r"\d+ In phase", s) for s in sentences)


@pytest.mark.parametrize(
    "name", ["paper_1122.md", "paper_1122.tei.xml", pytest.param("pdf", marks=slow)]
)
def test_a_running_head_and_title_spilled_into_the_text_are_cut_out(
    name: str, pdf_parsed: Callable[[str], ParsedDocument]
):
    # GROBID kept JAMA's running head as a heading ("JAMA Network Open | Health Policy")
    # and its running title inside paragraphs, glued to the sentences around them.
    doc = pdf_parsed("paper_1122.md") if name == "pdf" else parsed(PAPERS / name)
    assert_verbatim(doc)
    assert doc.info.journal == "JAMA Network Open"
    body = [p for p in doc.passages if p.kind != "reference"]
    assert not any("Health Policy" in p.section for p in body)
    title = "Remote Blood Pressure Monitoring With Social Support for Patients With Hypertension"
    assert not any(title in p.text or "JAMA Network Open" in p.text for p in body)
    # What the furniture interrupted is kept: the rest of "The trial was approved…", read
    # on with the sentences after it (the passage breaks only where furniture was cut).
    assert any(
        p.text.startswith(
            "by the Institutional Review Board at the University of Pennsylvania. Patients"
        )
        for p in body
    )
    (missing,) = [p for p in body if "For patients with missing BP data" in p.text]
    assert missing.text.startswith("For patients with missing BP data") and (
        missing.section == "Statistical Analysis"
    )


@pytest.mark.parametrize(
    "name", ["paper_1122.md", "paper_1122.tei.xml", pytest.param("pdf", marks=slow)]
)
def test_a_sentence_cut_by_furniture_reads_on_with_its_neighbours(
    name: str, pdf_parsed: Callable[[str], ParsedDocument]
):
    # GROBID spilled 1122's running head, title and download stamps into "The results were
    # similar after adjusting for age, sex, race | … | and ethnicity, …": the passage
    # breaks only at the furniture, so the half before it stays with the sentences it
    # follows instead of standing alone as a fragment.
    doc = pdf_parsed("paper_1122.md") if name == "pdf" else parsed(PAPERS / name)
    assert_verbatim(doc)
    body = [p for p in doc.passages if p.kind != "reference"]
    (half,) = [p for p in body if "The results were similar after adjusting for age" in p.text]
    assert "compared with the UC arm at the end of the study (Table 2). The results" in half.text
    assert "JAMA Network Open" not in half.text


@pytest.mark.parametrize("name", ["paper_1403.md", pytest.param("pdf", marks=slow)])
def test_an_inline_numbered_list_is_one_sentence_not_items_carrying_the_next_number(
    name: str, pdf_parsed: Callable[[str], ParsedDocument]
):
    # 1403 runs its five expected impacts into one paragraph ("1. Increasing uptake and
    # engagement 2. Filling in gaps … 5. Reassuring members …"): each counter's full stop
    # ended a "sentence" ("Filling in gaps in available support 3."). The list is its
    # lead-in's answer and one sentence with it.
    doc = pdf_parsed("paper_1403.md") if name == "pdf" else parsed(PAPERS / name)
    assert_verbatim(doc)
    (passage,) = [p for p in doc.passages if "Filling in gaps in available support" in p.text]
    sentences = [s.text for s in split_passage(passage)]
    (listed,) = [s for s in sentences if "Filling in gaps in available support" in s]
    assert listed.startswith("These were:")
    assert "1. Increasing uptake and engagement 2. Filling in gaps" in listed
    assert listed.endswith("there is a resource available 24/7")
    assert not any(re.search(r"\s\d\.$", s) for s in sentences)


def test_captions_run_into_one_paragraph_are_no_numbered_list():
    # GROBID ran 1759's flattened tables into one paragraph ("… .t001 Table 2. Maternal
    # baseline … .t002 Table 3. Infant characteristics at birth."): "Table 2." and
    # "Table 3." are captions' numbers, not a list's counters, and end no list.
    doc = parsed(PAPERS / "paper_1759.md")
    assert_verbatim(doc)
    assert any(
        p.text.startswith("Maternal baseline demographic and clinical characteristics.")
        for p in doc.passages
    )


def test_a_count_opening_a_sentence_in_a_paper_citing_in_brackets_is_no_citation(
    tmp_path: Path,
):
    # 1408 cites in brackets ("[7]"); were one of its sentences to open with a count
    # printed as a numeral before a capital ("7 Trials took place…", the one change to
    # its text here), the count is its own sentence's, not a superscript of reference 7
    # ending the sentence before it. Papers that print bare superscripts (1122, 1412) do
    # so in many sentences; this one in none.
    raw = (PAPERS / "paper_1408.md").read_text(encoding="utf-8")
    assert raw.count(". Seven trials took place") == 1
    path = tmp_path / "paper_1408.md"
    path.write_text(raw.replace(". Seven trials took place", ". 7 Trials took place"), "utf-8")
    doc = parsed(path)
    assert_verbatim(doc)
    (passage,) = [p for p in doc.passages if "Trials took place" in p.text]
    sentences = [s.text for s in split_passage(passage)]
    assert any(s.startswith("7 Trials took place") for s in sentences)
    assert not any(s.endswith(". 7") for s in sentences)
    assert 7 not in passage.ref_numbers or "[7]" in passage.text
    # A paper whose converter left its superscripts bare still reads them as citations.
    bare = parsed(PAPERS / "paper_1122.md")
    (phase,) = [p for p in bare.passages if "In phase 1, the BP alerts" in p.text]
    assert 28 in phase.ref_numbers


def test_a_title_short_or_printed_once_is_never_cut():
    from peerqa.ingest.papers import Furniture

    text = "Peer support helps. Peer support helps people with dementia and carers."
    furniture = Furniture(
        text, "Peer support helps people with dementia and carers: a review", None
    )
    assert furniture.pieces(text, 0, len(text)) is None


@pytest.mark.parametrize(
    ("name", "journal"),
    [("paper_0849", "PLOS Medicine"), ("paper_1403", "PLOS Digital Health")],
)
def test_a_tei_whose_header_names_no_journal_takes_it_from_the_doi_footer(name, journal):
    # GROBID left the header's journal empty; the page footer kept as a note reads
    # "PLOS Medicine | https://doi.org/10.1371/journal.pmed.1003964…".
    info = parsed(PAPERS / f"{name}.tei.xml").info
    assert info.journal == journal
