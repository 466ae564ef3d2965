"""Reading and validating user documents: file discovery and per-format text extraction.

Every format is reduced to one `Extracted`: the document text (what passages are verbatim
spans of) plus the blocks to cut passages from, each with its section path and kind.
Input is untrusted: the type is checked by content as well as extension, and every
failure is a `SourceError` naming the file and the reason in one line.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from bs4 import BeautifulSoup, CData, NavigableString, PageElement, Tag
from markdown_it import MarkdownIt
from markdown_it.token import Token
from pypdf import PdfReader

from peerqa.models import Kind
from peerqa.segment import trimmed

MEDIA_TYPES: dict[str, str] = {
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
    ".xml": "application/xml",  # a paper as JATS (PubMed Central) or GROBID TEI
}
SUPPORTED = tuple(MEDIA_TYPES)

# Magic numbers of common binary formats that users mistake for documents.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "PDF"),
    (b"PK\x03\x04", "ZIP archive, e.g. .docx"),
    (b"\xd0\xcf\x11\xe0", "MS Office document"),
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"\x1f\x8b", "gzip archive"),
    (b"\x7fELF", "executable"),
)
_SNIFF_BYTES = 8192
# Control bytes other than \t \n \v \f \r and ESC: text files have (almost) none.
_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\v\f\r\x1b") + b"\x7f"
# A PDF header may follow a little leading junk; readers look in the first KiB.
_PDF_HEADER_WINDOW = 1024
_MAX_DETAIL = 160

_BLANK_LINE = re.compile(r"\n[ \t\f\v]*\n")
_SPACE = re.compile(r"\s+")
_LINE_BREAK = re.compile(r"\r\n?|\n")


class SourceError(Exception):
    """A user file that cannot be ingested; `str()` is `"{path}: {reason}"`."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class Block:
    """A span of the document text to cut passages from: `text[start:end]`."""

    start: int
    end: int
    section: tuple[str, ...] = ()
    kind: Kind = "paragraph"
    page: int | None = None


@dataclass(frozen=True)
class Extracted:
    """One source reduced to text: blocks and pages are offsets into `text`.

    `pages` holds one `(start, end)` range per PDF page, in page order (empty for other
    formats); each PDF block lies inside one page and carries its 1-based `page`.
    """

    text: str
    media_type: str
    title: str
    sha256: str
    blocks: list[Block]
    pages: list[tuple[int, int]] = field(default_factory=list)


def discover(paths: list[Path]) -> list[Path]:
    """Expand folders (recursively, sorted) into supported files, keeping argument order."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise SourceError(path, "no such file or folder")
        found.extend(_folder_files(path) if path.is_dir() else [_checked_file(path)])
    return list(dict.fromkeys(found))


def _checked_file(path: Path) -> Path:
    if path.suffix.lower() not in SUPPORTED:
        kind = f"'{path.suffix}'" if path.suffix else "without an extension"
        raise SourceError(path, f"unsupported file type {kind} (supported: {_supported()})")
    return path


def _folder_files(folder: Path) -> list[Path]:
    files = [
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and p.suffix.lower() in SUPPORTED
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    if not files:
        raise SourceError(folder, f"folder has no supported files ({_supported()})")
    return files


def _supported() -> str:
    return ", ".join(SUPPORTED)


def source_bytes(path: Path) -> bytes:
    """A user file's bytes; SourceError when unreadable or blank."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(path, f"cannot read file ({exc.strerror or exc})") from exc
    if not data.strip():
        raise SourceError(path, "empty document")
    return data


def read_source(path: Path) -> Extracted:
    """Read one user file and extract its text and blocks; raise SourceError if unusable."""
    suffix = _checked_file(path).suffix.lower()
    data = source_bytes(path)
    content = _READERS[suffix](path, data)
    return Extracted(
        text=content.text,
        media_type=MEDIA_TYPES[suffix],
        title=content.title or path.stem,
        sha256=hashlib.sha256(data).hexdigest(),
        blocks=content.blocks,
        pages=list(content.pages),
    )


class _Content(NamedTuple):
    """What a format reader extracts; an empty title means "use the file stem"."""

    text: str
    title: str
    blocks: list[Block]
    pages: tuple[tuple[int, int], ...] = ()


# --- content checks ------------------------------------------------------------------


def _binary_kind(data: bytes) -> str | None:
    """Why `data` is not text (a named format, or just 'binary'), else None."""
    for magic, name in _SIGNATURES:
        if data.startswith(magic):
            return name
    sample = data[:_SNIFF_BYTES]
    controls = sum(sample.count(b) for b in _CONTROL)
    if b"\x00" in sample or controls > len(sample) * 0.05:
        return "binary"
    return None


def _reject_binary(path: Path, data: bytes) -> None:
    kind = _binary_kind(data)
    if kind == "binary":
        raise SourceError(path, "binary file, not text")
    if kind:
        raise SourceError(path, f"binary file, not text (looks like {kind})")


def _decode_text(path: Path, data: bytes) -> str:
    """UTF-8 (a leading BOM tolerated) with line endings normalised to \\n."""
    _reject_binary(path, data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(path, f"not valid UTF-8 text (byte {exc.start})") from exc
    text = _LINE_BREAK.sub("\n", text.removeprefix("\ufeff"))
    if not text.strip():
        raise SourceError(path, "empty document")
    return text


# --- plain text and shared block helpers ---------------------------------------------


def _read_text(path: Path, data: bytes) -> _Content:
    text = _decode_text(path, data)
    return _Content(text, "", _paragraphs(text, 0, len(text)))


def _paragraphs(
    text: str, start: int, end: int, section: tuple[str, ...] = (), page: int | None = None
) -> list[Block]:
    """Blank-line separated paragraphs of text[start:end], trimmed of surrounding space."""
    blocks: list[Block] = []
    cursor = start
    for gap in [*_BLANK_LINE.finditer(text, start, end), None]:
        span = trimmed(text, cursor, gap.start() if gap else end)
        if span:
            blocks.append(Block(*span, section=section, page=page))
        cursor = gap.end() if gap else end
    return blocks


def _push_heading(path: list[tuple[int, str]], level: int, title: str) -> None:
    """Enter a heading: it closes every open heading at its level or deeper."""
    while path and path[-1][0] >= level:
        path.pop()
    path.append((level, title))


def _section(path: list[tuple[int, str]]) -> tuple[str, ...]:
    return tuple(title for _, title in path)


def _collapse(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


# --- Markdown --------------------------------------------------------------------------

_MARKDOWN = MarkdownIt("commonmark").enable("table")
# Front matter opens the file with "---" and a "key:" line, and has no blank line.
_FRONT_MATTER = re.compile(r"---[ \t]*\n(?=[\w-]+[ \t]*:)(?:.+\n)*?(?:---|\.\.\.)[ \t]*(?:\n|\Z)")
_CODE_TOKENS = ("fence", "code_block")
# Block tokens that become passages (table rows are located by their tr_open).
_PASSAGE_TOKENS = ("paragraph_open", "html_block", *_CODE_TOKENS)


def _read_markdown(path: Path, data: bytes) -> _Content:
    """The raw Markdown is the document text; markdown-it's line maps locate the blocks."""
    text = _decode_text(path, data)
    # offsets[n] is where line n starts; the extra end entry closes the last line.
    offsets = [0, *(m.end() for m in re.finditer("\n", text)), len(text)]
    tokens = _MARKDOWN.parse(_blank_front_matter(text))
    headings: list[tuple[int, str]] = []
    blocks: list[Block] = []
    title = ""
    open_items = 0
    for token, following in zip(tokens, [*tokens[1:], None], strict=True):
        open_items += {"list_item_open": 1, "list_item_close": -1}.get(token.type, 0)
        if token.type == "heading_open" and following:
            heading = _inline_plain(following)
            if heading:
                _push_heading(headings, int(token.tag[1]), heading)
                title = title or heading
        elif token.map and token.type in (*_PASSAGE_TOKENS, "tr_open"):
            span = _markdown_span(text, offsets, token, following)
            if span:
                blocks.append(
                    Block(*span, section=_section(headings), kind=_markdown_kind(token, open_items))
                )
    return _Content(text, title, blocks)


def _blank_front_matter(text: str) -> str:
    """YAML front matter as empty lines, so it is neither a heading nor a passage.

    Blanking rather than cutting keeps markdown-it's line numbers aligned with `text`.
    """
    match = _FRONT_MATTER.match(text)
    return "\n" * match.group().count("\n") + text[match.end() :] if match else text


def _markdown_kind(token: Token, open_items: int) -> Kind:
    if token.type == "tr_open":
        return "table_row"
    return "list_item" if open_items else "paragraph"


def _markdown_span(
    text: str, offsets: list[int], token: Token, following: Token | None
) -> tuple[int, int] | None:
    assert token.map is not None
    first, last = token.map
    if token.type in _CODE_TOKENS:
        # Only the code itself: past the opening fence, and short of the closing one
        # (which an unterminated fence lacks) by counting the content's lines.
        if token.type == "fence":
            first += 1
        last = first + token.content.count("\n")
    start, end = offsets[first], offsets[last]
    if token.type == "paragraph_open" and following:
        # Start at the content, past list or quote markers on the first line.
        lead = following.content.split("\n", 1)[0]
        found = text.find(lead, start, end) if lead else -1
        start = max(start, found)
    return trimmed(text, start, end)


def _inline_plain(token: Token) -> str:
    """A heading's text without Markdown markup (emphasis, links, code ticks)."""
    parts = [
        child.content if child.type in ("text", "code_inline") else " "
        for child in token.children or []
        if child.type in ("text", "code_inline", "softbreak", "hardbreak")
    ]
    return _collapse("".join(parts))


# --- HTML ------------------------------------------------------------------------------

# Never visible, or not prose (raw-text elements would otherwise leak markup as text).
_DROP = (
    "head", "title", "script", "style", "noscript", "template", "iframe", "frame",
    "frameset", "object", "embed", "svg", "math", "canvas", "textarea", "select",
    "xmp", "plaintext", "noembed", "noframes",
)  # fmt: skip
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_LEAF_BLOCKS = frozenset((*_HEADINGS, "tr", "pre"))
_BLOCK_TAGS = frozenset(
    "html body p li blockquote div section article main header footer nav aside ul ol "
    "dl dt dd table thead tbody tfoot caption figure figcaption form fieldset address "
    "details summary hr".split()
)
# Comments, doctypes and processing instructions are NavigableString subclasses too.
_TEXT_TYPES = (NavigableString, CData)


def _read_html(path: Path, data: bytes) -> _Content:
    """The visible text, block by block; bs4 picks the encoding (BOM, meta charset)."""
    _reject_binary(path, data)
    soup = BeautifulSoup(data, "lxml")
    title = _collapse(soup.title.get_text()) if soup.title else ""
    for tag in [*soup.find_all(_DROP), *soup.find_all(hidden=True)]:
        tag.decompose()
    builder = _HtmlText()
    builder.walk(soup)
    if not builder.blocks:
        raise SourceError(path, "empty document (no visible text)")
    title = title or builder.first_h1 or builder.first_heading
    return _Content(builder.text, title, builder.blocks)


def _inline_text(node: Tag) -> str:
    """All visible text under `node` on one line (headings, table cells)."""
    return _collapse(" ".join(_strings(node)))


def _strings(node: Tag) -> Iterator[str]:
    return (str(s) for s in node.descendants if type(s) in _TEXT_TYPES)


class _HtmlText:
    """Builds the document text block by block, recording each block's offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.blocks: list[Block] = []
        self.headings: list[tuple[int, str]] = []
        self.first_h1 = ""
        self.first_heading = ""
        self.lines: list[str] = [""]  # inline text not yet emitted, a line per <br>

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def walk(self, root: Tag) -> None:
        """Visit every element in document order, iteratively: input may nest very deep."""
        # Frames: (remaining children, kind of the enclosing block, is this frame a block).
        stack: list[tuple[Iterator[PageElement], Kind, bool]] = [
            (iter(root.children), "paragraph", True)
        ]
        while stack:
            children, kind, is_block = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                if is_block:
                    self.flush(kind)
            elif not isinstance(child, Tag):
                if type(child) in _TEXT_TYPES:
                    self.lines[-1] += child
            elif child.name == "br":
                self.lines.append("")
            elif child.name in _LEAF_BLOCKS:
                self.flush(kind)
                self.leaf(child, kind)
            elif child.name in _BLOCK_TAGS:
                self.flush(kind)
                inner: Kind = "list_item" if child.name == "li" else kind
                stack.append((iter(child.children), inner, True))
            else:  # inline element: its text joins the current block
                stack.append((iter(child.children), kind, False))

    def leaf(self, tag: Tag, kind: Kind) -> None:
        """A heading, table row or <pre>: handled whole, never descended into."""
        if tag.name == "tr":
            self.row(tag)
        elif tag.name == "pre":
            self.emit(tag.get_text().strip("\n"), kind)
        else:
            self.heading(tag)

    def flush(self, kind: Kind) -> None:
        """Emit the pending inline text as one block."""
        self.emit("\n".join(filter(None, map(_collapse, self.lines))), kind)
        self.lines = [""]

    def heading(self, tag: Tag) -> None:
        title = _inline_text(tag)
        if not title:
            return
        level = int(tag.name[1])
        _push_heading(self.headings, level, title)
        self.first_heading = self.first_heading or title
        if level == 1:
            self.first_h1 = self.first_h1 or title
        self.append(title)  # visible text, but a section path rather than a passage

    def row(self, tr: Tag) -> None:
        cells = [_inline_text(cell) for cell in tr.find_all(("td", "th"), recursive=False)]
        self.emit(" | ".join(filter(None, cells)), "table_row")

    def emit(self, text: str, kind: Kind) -> None:
        if text.strip():
            start, end = self.append(text)
            # A <pre> keeps its indentation in the text; its block starts at the code.
            start += len(text) - len(text.lstrip())
            end -= len(text) - len(text.rstrip())
            self.blocks.append(Block(start, end, section=_section(self.headings), kind=kind))

    def append(self, text: str) -> tuple[int, int]:
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        self.parts.append(text)
        self.length += len(text)
        return self.length - len(text), self.length


# --- PDF -------------------------------------------------------------------------------


def _read_pdf(path: Path, data: bytes) -> _Content:
    """Text per page joined with blank lines; blocks never cross a page boundary."""
    if b"%PDF-" not in data[:_PDF_HEADER_WINDOW]:
        kind = _binary_kind(data)
        looks = f"looks like {kind}" if kind and kind != "binary" else "no %PDF- header"
        raise SourceError(path, f"not a PDF file ({looks})")
    page_texts = _pdf_page_texts(path, data)
    if not any(t.strip() for t in page_texts):
        raise SourceError(path, "PDF has no extractable text (scanned?)")
    text = "\n\n".join(page_texts)
    pages: list[tuple[int, int]] = []
    blocks: list[Block] = []
    start = 0
    for number, page_text in enumerate(page_texts, start=1):
        pages.append((start, start + len(page_text)))
        blocks.extend(_paragraphs(text, *pages[-1], page=number))
        start += len(page_text) + 2
    return _Content(text, "", blocks, tuple(pages))


def _pdf_page_texts(path: Path, data: bytes) -> list[str]:
    # pypdf raises many exception types on malformed input; all mean "unreadable".
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted and not reader.decrypt("")
        texts = [] if encrypted else [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:
        raise SourceError(path, f"PDF could not be parsed: {_brief(exc)}") from exc
    if encrypted:
        raise SourceError(path, "PDF is encrypted (a password is required)")
    return texts


def _brief(exc: Exception) -> str:
    """pypdf messages can embed whole PDF objects; keep the user-facing reason short."""
    message = _collapse(str(exc)) or type(exc).__name__
    return message if len(message) <= _MAX_DETAIL else message[: _MAX_DETAIL - 1] + "…"


def _read_xml(path: Path, data: bytes) -> _Content:
    """A JATS or TEI paper: its laid-out text, one block per paragraph."""
    from peerqa.ingest.readers import read_xml

    paper = read_xml(path, data)
    blocks = [
        Block(
            b.start,
            b.end,
            section=tuple(b.section),
            kind="list_item" if b.list_item else "paragraph",
        )
        for b in [*paper.abstract, *paper.paragraphs]
    ]
    return _Content(paper.text, paper.study.title or "", sorted(blocks, key=lambda b: b.start))


_READERS: dict[str, Callable[[Path, bytes], _Content]] = {
    ".txt": _read_text,
    ".md": _read_markdown,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
    ".xml": _read_xml,
}
