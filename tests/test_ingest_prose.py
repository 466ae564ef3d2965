"""ingest.prose: user files of every format -> verbatim passages with provenance."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fpdf import FPDF

from peerqa.ingest.prose import document_id, parse_user_document
from peerqa.ingest.sources import SourceError
from peerqa.models import ParsedDocument
from peerqa.segment import word_count

TXT = """Peer support reduces isolation. Supporters share lived experience.

<script>alert(1)</script>

Programmes need stable funding to last.
"""

MARKDOWN = """# Peer Support Guide

Peer support helps people manage long-term conditions.

## Matching

- Match on diagnosis.
- Match on culture and language.

### Training

Supporters need boundaries training. They also need supervision.

# Funding

Budgets are often short-term.
"""

HTML = """<html><head><title>Clinic leaflet</title>
<script>var tracking = "secretScript";</script><style>p { color: secretStyle }</style></head>
<body><h1>Peer groups</h1><p>Groups meet <em>every</em> week.</p>
<script>document.write("secretInline")</script>
<h2>Joining</h2><ul><li>Ask your nurse.</li><li>Call the helpline.</li></ul>
<table><tr><td>Monday</td><td>10:00</td></tr></table>
</body></html>
"""


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def make_pdf(pages: list[str]) -> bytes:
    pdf = FPDF()
    for text in pages:
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def assert_verbatim(doc: ParsedDocument) -> None:
    assert doc.passages
    for p in doc.passages:
        assert p.text == doc.text[p.char_start : p.char_end]
        assert p.text == p.text.strip() and p.document == doc.info.id
    starts = [p.char_start for p in doc.passages]
    assert starts == sorted(starts)
    assert [p.id for p in doc.passages] == [f"{doc.info.id}:{i:04d}" for i in range(len(starts))]


def sample_files(tmp_path: Path) -> list[Path]:
    sentences = " ".join(f"Sentence {i} is about peer support." for i in range(40))
    return [
        write(tmp_path / "notes.txt", TXT),
        write(tmp_path / "guide.md", MARKDOWN),
        write(tmp_path / "leaflet.html", HTML),
        write(tmp_path / "report.pdf", make_pdf([sentences, "Second page text."])),
    ]


def test_every_format_yields_verbatim_passages_and_provenance(tmp_path: Path) -> None:
    for path in sample_files(tmp_path):
        doc = parse_user_document(path)
        assert_verbatim(doc)
        info = doc.info
        assert info.source == path.name
        assert info.id == path.stem
        assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert info.passages == len(doc.passages)
        assert sum(info.by_kind.values()) == len(doc.passages)


def test_passage_ids_stable_across_reingest(tmp_path: Path) -> None:
    for path in sample_files(tmp_path):
        first, again = parse_user_document(path), parse_user_document(path)
        assert first.passages == again.passages


def test_txt_keeps_script_line_verbatim_and_uses_stem_as_section(tmp_path: Path) -> None:
    doc = parse_user_document(write(tmp_path / "Field Notes.txt", TXT))

    assert [p.text for p in doc.passages] == [
        "Peer support reduces isolation. Supporters share lived experience.",
        "<script>alert(1)</script>",
        "Programmes need stable funding to last.",
    ]
    assert doc.info.title == "Field Notes"
    assert doc.info.media_type == "text/plain"
    assert {(p.section, p.context, p.kind) for p in doc.passages} == {
        ("Field Notes", "Field Notes", "paragraph")
    }


def test_markdown_sections_kinds_and_context(tmp_path: Path) -> None:
    doc = parse_user_document(write(tmp_path / "guide.md", MARKDOWN))

    assert doc.text == MARKDOWN
    got = [(p.text, p.kind, p.section, p.context) for p in doc.passages]
    title, matching = "Peer Support Guide", "Peer Support Guide > Matching"
    assert got == [
        ("Peer support helps people manage long-term conditions.", "paragraph", title, title),
        ("Match on diagnosis.", "list_item", matching, matching),
        ("Match on culture and language.", "list_item", matching, matching),
        (
            "Supporters need boundaries training. They also need supervision.",
            "paragraph",
            f"{matching} > Training",
            f"{matching} > Training",
        ),
        ("Budgets are often short-term.", "paragraph", "Funding", f"{title} > Funding"),
    ]
    assert all("#" not in p.text for p in doc.passages)
    assert doc.info.by_kind == {"paragraph": 3, "list_item": 2}


def test_html_passages_have_visible_text_only(tmp_path: Path) -> None:
    doc = parse_user_document(write(tmp_path / "leaflet.html", HTML))

    assert [(p.text, p.kind, p.section) for p in doc.passages] == [
        ("Groups meet every week.", "paragraph", "Peer groups"),
        ("Ask your nurse.", "list_item", "Peer groups > Joining"),
        ("Call the helpline.", "list_item", "Peer groups > Joining"),
        ("Monday | 10:00", "table_row", "Peer groups > Joining"),
    ]
    assert doc.info.title == "Clinic leaflet"
    assert doc.passages[1].context == "Clinic leaflet > Peer groups > Joining"
    for p in doc.passages:
        assert "secret" not in p.text and "<" not in p.text
    assert "secret" not in doc.text


def test_pdf_passages_carry_their_page(tmp_path: Path) -> None:
    long_page = " ".join(f"Sentence {i} describes how peer mentors help." for i in range(60))
    path = write(tmp_path / "Annual Report.pdf", make_pdf([long_page, "Page two closes it."]))

    doc = parse_user_document(path, max_words=80)

    assert_verbatim(doc)
    assert doc.info.pages == 2
    assert doc.info.media_type == "application/pdf"
    assert doc.info.id == "annual-report"
    first_page_end = doc.text.index("Page two")
    for p in doc.passages:
        assert p.page == (1 if p.char_end <= first_page_end else 2)
        assert word_count(p.text) <= 80
    assert [p.page for p in doc.passages].count(1) > 1  # the long page was chunked
    assert doc.passages[-1].page == 2 and doc.passages[-1].text == "Page two closes it."


def test_long_paragraph_is_chunked_within_max_words(tmp_path: Path) -> None:
    paragraph = " ".join(f"Peer mentor number {i} met their client weekly." for i in range(50))
    doc = parse_user_document(write(tmp_path / "long.txt", paragraph + "\n"), max_words=60)

    assert_verbatim(doc)
    assert len(doc.passages) > 1
    assert all(word_count(p.text) <= 60 for p in doc.passages)
    assert " ".join(p.text for p in doc.passages) == paragraph


@pytest.mark.parametrize(
    ("stem", "expected"),
    [
        ("My Notes (v2)", "my-notes-v2"),
        ("  Café -- Über_Report  ", "cafe-uber-report"),
        ("x" * 70 + "-tail", "x" * 60),
        ("a" * 59 + "-b", "a" * 59),
        ("日本語", "doc-0123456789ab"),
    ],
)
def test_document_id_slug(stem: str, expected: str) -> None:
    assert document_id(stem, "0123456789abcdef") == expected


def test_document_without_passages_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "headings.md", "# Only\n\n## Headings\n\n---\n")
    with pytest.raises(SourceError) as err:
        parse_user_document(path)
    assert str(err.value) == f"{path}: no text passages found"


def test_source_errors_propagate(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.txt", "")
    with pytest.raises(SourceError, match="empty document"):
        parse_user_document(path)
