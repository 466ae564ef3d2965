"""User documents -> passages: each extracted block is cut into sentence-aligned chunks."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from pathlib import Path

from peerqa.ingest.papers import paper_document
from peerqa.ingest.readers import read_paper
from peerqa.ingest.sources import Block, Extracted, SourceError, read_source
from peerqa.models import DocumentInfo, ParsedDocument, Passage
from peerqa.segment import chunk_spans, sentence_spans

MAX_ID_CHARS = 60
SECTION_SEPARATOR = " > "


def parse_user_document(path: Path, max_words: int = 120) -> ParsedDocument:
    """Read a user file and cut it into verbatim passages; raise SourceError if unusable.

    A scholarly paper (JATS or TEI XML, a journal PDF, a paper in Markdown or HTML) is
    read for its structure (ingest/readers, ingest/papers); anything else is cut block
    by block."""
    source = read_source(path)
    doc_id = document_id(path.stem, source.sha256)
    paper = read_paper(path, source)
    if paper is not None:
        parsed = paper_document(path, paper, doc_id, source.sha256, max_words)
        if not parsed.passages:
            raise SourceError(path, "no text passages found")
        return parsed
    passages = [
        Passage(
            id=f"{doc_id}:{i:04d}",
            text=source.text[start:end],
            document=doc_id,
            section=SECTION_SEPARATOR.join(block.section) or source.title,
            kind=block.kind,
            char_start=start,
            char_end=end,
            page=block.page,
            context=_context(source.title, block),
        )
        for i, (block, start, end) in enumerate(_chunks(source, max_words))
    ]
    if not passages:
        raise SourceError(path, "no text passages found")
    info = DocumentInfo(
        id=doc_id,
        title=source.title,
        source=path.name,  # shown to users: never the absolute path
        media_type=source.media_type,
        sha256=source.sha256,
        pages=len(source.pages) or None,
        passages=len(passages),
        by_kind=dict(Counter(p.kind for p in passages)),
    )
    return ParsedDocument(info=info, text=source.text, passages=passages)


def document_id(stem: str, sha256: str) -> str:
    """A slug of the file stem ("My Notes (v2)" -> "my-notes-v2"), stable across re-ingest.

    A stem with no ASCII letters or digits falls back to a prefix of the content hash.
    """
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_stem.lower()).strip("-")
    return slug[:MAX_ID_CHARS].rstrip("-") or f"doc-{sha256[:12]}"


def _chunks(source: Extracted, max_words: int) -> list[tuple[Block, int, int]]:
    """Every passage span in document order, with the block it was cut from."""
    return [
        (block, start, end)
        for block in source.blocks
        for start, end in chunk_spans(
            source.text, sentence_spans(source.text, block.start, block.end), max_words
        )
    ]


def _context(title: str, block: Block) -> str:
    """Retrieval context: the title and section path (the title once, if it is the top heading)."""
    path = block.section[1:] if block.section[:1] == (title,) else block.section
    return SECTION_SEPARATOR.join((title, *path))
