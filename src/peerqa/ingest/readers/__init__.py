"""Scholarly-paper readers: one module per format behind `read_paper`.

Each reader turns one format into the same `peerqa.models.ScholarlyPaper` (metadata,
labelled abstract, section tree, paragraphs, captions, tables, footnotes, references).
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from peerqa.ingest.sources import Extracted, SourceError, source_bytes
from peerqa.models import ScholarlyPaper

XML_MEDIA_TYPE = "application/xml"


def xml_root(path: Path, data: bytes) -> etree._Element:
    """The parsed root of a TEI or JATS file; SourceError for anything else."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise SourceError(path, f"not well-formed XML ({exc.msg})") from exc
    name = etree.QName(root).localname if isinstance(root.tag, str) else ""
    if name not in ("TEI", "article"):
        raise SourceError(
            path, f"XML root <{name}> is neither a TEI paper (<TEI>) nor a JATS article (<article>)"
        )
    return root


def read_xml(path: Path, data: bytes) -> ScholarlyPaper:
    root = xml_root(path, data)
    from peerqa.ingest.readers.jats import read_jats
    from peerqa.ingest.readers.tei import read_tei

    reader = read_tei if etree.QName(root).localname == "TEI" else read_jats
    try:
        paper = reader(root)
    except Exception as exc:  # input is untrusted: any failure is a reason, never a crash
        raise SourceError(path, f"XML paper could not be read ({type(exc).__name__})") from exc
    if not (paper.paragraphs or paper.abstract or paper.tables):
        raise SourceError(path, "XML paper has no text (no abstract, paragraphs or tables)")
    return paper


def read_paper(path: Path, source: Extracted) -> ScholarlyPaper | None:
    """`path` read as a scholarly paper, or None when it is not one (plain notes and
    web pages keep the generic reader). `source` is its generic reading, which has
    already validated it (type, encoding, encryption, emptiness)."""
    suffix = path.suffix.lower()
    if suffix == ".xml":
        return read_xml(path, source_bytes(path))
    try:
        return _structured(path, suffix, source)
    except Exception:
        # A file the generic reader has accepted that the structure reader cannot follow
        # (an unusual PDF, say) is still ingested, block by block, rather than refused.
        return None


def _structured(path: Path, suffix: str, source: Extracted) -> ScholarlyPaper | None:
    if suffix == ".md":
        from peerqa.ingest.readers.markdown import looks_like_paper, read_markdown_paper

        return read_markdown_paper(source.text) if looks_like_paper(source.text) else None
    if suffix == ".pdf":
        from peerqa.ingest.readers.pdf import read_pdf

        return read_pdf(source_bytes(path))
    if suffix in (".html", ".htm"):
        from peerqa.ingest.readers.html import read_html_paper

        return read_html_paper(source_bytes(path))
    return None
