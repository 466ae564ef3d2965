"""ingest.sources: discovery and per-format extraction of real user files, and bad inputs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fpdf import FPDF

from peerqa.ingest.sources import Extracted, SourceError, discover, read_source


def make_pdf(pages: list[str], password: str | None = None) -> bytes:
    """A real PDF with one page of text per item ('' gives a page without text)."""
    pdf = FPDF()
    for text in pages:
        pdf.add_page()
        if text:
            pdf.set_font("Helvetica", size=12)
            pdf.multi_cell(0, 8, text)
    if password:
        pdf.set_encryption(owner_password="owner", user_password=password)
    return bytes(pdf.output())


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def block_texts(doc: Extracted) -> list[str]:
    return [doc.text[b.start : b.end] for b in doc.blocks]


# --- discovery -----------------------------------------------------------------------


def test_discover_expands_folders_recursively_sorted_and_skips_hidden(tmp_path: Path) -> None:
    for name in ("b.md", "a.txt", "sub/c.HTML", "sub/d.pdf", "sub/deeper/e.htm"):
        write(tmp_path / "docs" / name, "x")
    for name in ("notes.docx", ".hidden.txt", ".git/config.txt", "image.png"):
        write(tmp_path / "docs" / name, "x")
    single = write(tmp_path / "single.txt", "x")

    found = discover([tmp_path / "docs", single, single])

    rel = [p.relative_to(tmp_path).as_posix() for p in found]
    assert rel == [
        "docs/a.txt",
        "docs/b.md",
        "docs/sub/c.HTML",
        "docs/sub/d.pdf",
        "docs/sub/deeper/e.htm",
        "single.txt",
    ]


def test_discover_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(SourceError) as err:
        discover([missing])
    assert err.value.path == missing
    assert str(err.value) == f"{missing}: no such file or folder"


def test_discover_unsupported_type_given_explicitly(tmp_path: Path) -> None:
    docx = write(tmp_path / "report.docx", b"PK\x03\x04 zipped")
    with pytest.raises(SourceError) as err:
        discover([docx])
    assert str(err.value).startswith(f"{docx}: unsupported file type '.docx'")
    assert ".pdf" in err.value.reason


def test_discover_folder_without_supported_files(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    write(folder / "report.docx", b"x")
    write(folder / ".secret.md", "# hidden")
    with pytest.raises(SourceError) as err:
        discover([folder])
    assert str(err.value).startswith(f"{folder}: folder has no supported files")


def test_read_source_rejects_unsupported_type(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="unsupported file type"):
        read_source(write(tmp_path / "report.docx", "text"))


# --- plain text ----------------------------------------------------------------------


def test_txt_paragraphs_bom_crlf_and_provenance(tmp_path: Path) -> None:
    raw = "\ufeffFirst paragraph,\r\nwrapped.\r\n\r\n  \r\nSecond one.\r\n".encode()
    path = write(tmp_path / "Field notes.txt", raw)

    doc = read_source(path)

    assert doc.text == "First paragraph,\nwrapped.\n\n  \nSecond one.\n"
    assert block_texts(doc) == ["First paragraph,\nwrapped.", "Second one."]
    assert {b.kind for b in doc.blocks} == {"paragraph"}
    assert all(b.section == () and b.page is None for b in doc.blocks)
    assert doc.title == "Field notes"
    assert doc.media_type == "text/plain"
    assert doc.sha256 == hashlib.sha256(raw).hexdigest()
    assert doc.pages == []


def test_txt_keeps_markup_as_literal_text(tmp_path: Path) -> None:
    line = "<script>alert(1)</script>"
    doc = read_source(write(tmp_path / "x.txt", f"Before.\n\n{line}\n\nAfter.\n"))
    assert line in block_texts(doc)


# --- Markdown ------------------------------------------------------------------------

MARKDOWN = """\
Peer Support Notes
==================

Peer supporters share lived experience.
They meet weekly.

## Matching *by* condition ##

- Match on diagnosis
  and on culture.
- Match on age

> A quoted line
> continues here.

```python
print("kept as text")
```

| role | count |
|------|-------|
| peer | 12 |

Setext second level
-------------------

Closing paragraph.

# Appendix

Final words.
"""


def test_markdown_raw_text_blocks_sections_and_kinds(tmp_path: Path) -> None:
    doc = read_source(write(tmp_path / "notes.md", MARKDOWN))

    assert doc.text == MARKDOWN
    assert doc.title == "Peer Support Notes"
    assert doc.media_type == "text/markdown"
    got = [(doc.text[b.start : b.end], b.kind, b.section) for b in doc.blocks]
    top = ("Peer Support Notes",)
    matching = (*top, "Matching by condition")
    assert got == [
        ("Peer supporters share lived experience.\nThey meet weekly.", "paragraph", top),
        ("Match on diagnosis\n  and on culture.", "list_item", matching),
        ("Match on age", "list_item", matching),
        ("A quoted line\n> continues here.", "paragraph", matching),
        ('print("kept as text")', "paragraph", matching),
        ("| role | count |", "table_row", matching),
        ("| peer | 12 |", "table_row", matching),
        ("Closing paragraph.", "paragraph", (*top, "Setext second level")),
        ("Final words.", "paragraph", ("Appendix",)),
    ]
    assert all("#" not in text and "===" not in text for text, _, _ in got)


def test_markdown_without_heading_uses_file_stem(tmp_path: Path) -> None:
    doc = read_source(write(tmp_path / "plain-notes.md", "Just *one* paragraph.\n"))
    assert doc.title == "plain-notes"
    assert block_texts(doc) == ["Just *one* paragraph."]


def test_markdown_front_matter_is_neither_title_nor_passage(tmp_path: Path) -> None:
    text = "---\ntitle: Notes\ntags: [peer]\n---\nFirst paragraph.\n\n## Next\n\nSecond.\n"
    doc = read_source(write(tmp_path / "fm.md", text))
    assert doc.title == "Next"
    assert [(t, b.section) for t, b in zip(block_texts(doc), doc.blocks, strict=True)] == [
        ("First paragraph.", ()),
        ("Second.", ("Next",)),
    ]


# --- HTML ----------------------------------------------------------------------------

HTML = """<!doctype html>
<html><head><title> Peer   support guide </title>
<style>.secret-style { color: red }</style>
<script>var secretScript = "in head";</script></head>
<body>
<h1>Guide</h1>
<p>Peer support <b>helps</b> people.<br>It builds <a href="#">trust</a>.</p>
<script>document.write("secretBodyScript")</script>
<noscript>secretNoscript</noscript><template><p>secretTemplate</p></template>
<!-- secretComment -->
<div hidden>secretHidden</div>
<h2>Challenges</h2>
<ul><li>Burnout of <em>supporters</em></li><li>Funding gaps</li></ul>
<table><tr><th>Programme</th><th>Reach</th></tr><tr><td>A</td><td>120 people</td></tr></table>
<blockquote>We learned from each other.</blockquote>
<pre>  step 1
  step 2</pre>
<h3>Details &amp; more</h3><p>Entities &lt;script&gt; stay visible text.</p>
</body></html>
"""


def test_html_visible_text_blocks_and_sections(tmp_path: Path) -> None:
    doc = read_source(write(tmp_path / "guide.html", HTML))

    assert doc.title == "Peer support guide"
    assert doc.media_type == "text/html"
    guide, challenges = ("Guide",), ("Guide", "Challenges")
    got = [(doc.text[b.start : b.end], b.kind, b.section) for b in doc.blocks]
    assert got == [
        ("Peer support helps people.\nIt builds trust.", "paragraph", guide),
        ("Burnout of supporters", "list_item", challenges),
        ("Funding gaps", "list_item", challenges),
        ("Programme | Reach", "table_row", challenges),
        ("A | 120 people", "table_row", challenges),
        ("We learned from each other.", "paragraph", challenges),
        ("step 1\n  step 2", "paragraph", challenges),
        ("Entities <script> stay visible text.", "paragraph", (*challenges, "Details & more")),
    ]


def test_html_drops_scripts_styles_and_markup(tmp_path: Path) -> None:
    doc = read_source(write(tmp_path / "guide.htm", HTML))
    for secret in ("secret", "color: red", "document.write", "<b>", "<p>", "href"):
        assert secret not in doc.text
    assert "Guide" in doc.text  # headings are visible text, but not blocks


def test_html_title_falls_back_to_first_h1_then_stem(tmp_path: Path) -> None:
    h1 = read_source(write(tmp_path / "a.html", "<h2>Sub</h2><h1>Main</h1><p>Text.</p>"))
    bare = read_source(write(tmp_path / "b.html", "<p>Only text.</p>"))
    assert (h1.title, bare.title) == ("Main", "b")


def test_html_honours_declared_encoding(tmp_path: Path) -> None:
    html = '<meta charset="iso-8859-1"><p>Café peer group.</p>'.encode("latin-1")
    doc = read_source(write(tmp_path / "latin.html", html))
    assert block_texts(doc) == ["Café peer group."]


def test_html_deep_nesting_is_not_a_crash(tmp_path: Path) -> None:
    html = "<div>" * 1500 + "<p>Deep <b>" + "<i>" * 1500 + "text."
    doc = read_source(write(tmp_path / "deep.html", html))
    assert doc.text.endswith("Deep text.")


# --- PDF -----------------------------------------------------------------------------


def test_pdf_pages_and_page_numbers(tmp_path: Path) -> None:
    texts = ["First page talks about matching.", "", "Third page covers training."]
    doc = read_source(write(tmp_path / "report.pdf", make_pdf(texts)))

    assert doc.media_type == "application/pdf"
    assert doc.title == "report"
    assert len(doc.pages) == 3
    page_texts = [doc.text[s:e] for s, e in doc.pages]
    assert doc.text == "\n\n".join(page_texts)
    assert "matching" in page_texts[0] and page_texts[1] == "" and "training" in page_texts[2]
    assert [(b.page, doc.text[b.start : b.end]) for b in doc.blocks] == [
        (1, page_texts[0].strip()),
        (3, page_texts[2].strip()),
    ]
    for block in doc.blocks:
        start, end = doc.pages[block.page - 1]
        assert start <= block.start < block.end <= end


def test_pdf_with_empty_user_password_is_read(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text="Owner-locked but readable.")
    pdf.set_encryption(owner_password="owner")
    doc = read_source(write(tmp_path / "locked.pdf", bytes(pdf.output())))
    assert block_texts(doc) == ["Owner-locked but readable."]


# --- bad inputs: each names the file and the reason ------------------------------------


def assert_rejected(path: Path, reason: str) -> SourceError:
    with pytest.raises(SourceError) as err:
        read_source(path)
    assert err.value.path == path
    assert str(err.value).startswith(f"{path}: ")
    assert reason in err.value.reason
    assert "\n" not in str(err.value)
    return err.value


@pytest.mark.parametrize("name", ["empty.txt", "empty.md", "empty.html", "empty.pdf"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    assert_rejected(write(tmp_path / name, b""), "empty document")


@pytest.mark.parametrize("name", ["blank.txt", "blank.md"])
def test_whitespace_only_file(tmp_path: Path, name: str) -> None:
    assert_rejected(write(tmp_path / name, "\ufeff  \n\t\n \u00a0\n"), "empty document")


def test_html_without_visible_text(tmp_path: Path) -> None:
    path = write(tmp_path / "blank.html", "<html><head><title>T</title></head><script>x</script>")
    assert_rejected(path, "empty document (no visible text)")


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not text (looks like PNG image)"),
        ("blob.txt", bytes(range(256)) * 4, "binary file, not text"),
        ("report.md", make_pdf(["Text"]), "binary file, not text (looks like PDF)"),
        ("page.html", b"<p>x</p>\x00\x01\x02binary", "binary file, not text"),
    ],
)
def test_binary_file_with_text_extension(
    tmp_path: Path, name: str, data: bytes, reason: str
) -> None:
    assert_rejected(write(tmp_path / name, data), reason)


def test_non_utf8_text(tmp_path: Path) -> None:
    path = write(tmp_path / "latin1.txt", "Caf\u00e9 peer group".encode("latin-1"))
    assert_rejected(path, "not valid UTF-8 text (byte 3)")


def test_random_bytes_named_pdf(tmp_path: Path) -> None:
    path = write(tmp_path / "fake.pdf", bytes(range(7, 256)) * 3)
    assert_rejected(path, "not a PDF file (no %PDF- header)")


def test_docx_renamed_pdf(tmp_path: Path) -> None:
    path = write(tmp_path / "fake.pdf", b"PK\x03\x04" + bytes(100))
    assert_rejected(path, "not a PDF file (looks like ZIP archive")


def test_truncated_pdf(tmp_path: Path) -> None:
    data = make_pdf(["A real page of text.", "Another page."])
    path = write(tmp_path / "truncated.pdf", data[: len(data) // 2])
    assert_rejected(path, "PDF could not be parsed: ")


def test_pdf_without_text(tmp_path: Path) -> None:
    path = write(tmp_path / "scan.pdf", make_pdf(["", ""]))
    assert_rejected(path, "PDF has no extractable text (scanned?)")


def test_pdf_requiring_password(tmp_path: Path) -> None:
    path = write(tmp_path / "secret.pdf", make_pdf(["Hidden text."], password="pw"))
    assert_rejected(path, "PDF is encrypted (a password is required)")


def test_unreadable_path(tmp_path: Path) -> None:
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    assert_rejected(folder, "cannot read file")
