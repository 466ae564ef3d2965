"""A paper as a web page (a publisher's or PubMed Central's article page) -> ScholarlyPaper.

The visible text is laid out by the generic HTML reader (ingest/sources.py); this
module reads the page's Highwire `citation_*` meta tags for the metadata and sorts the
blocks into abstract parts, body, captions, tables (the first row of each is its
header) and the reference list. A page that is neither tagged as an article nor has
both an abstract and a reference list is not a paper (None).
"""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup

from peerqa.ingest.readers.base import (
    DOI,
    Piece,
    Role,
    abstract_parts,
    assemble,
    collapse,
)
from peerqa.ingest.sources import _read_html
from peerqa.models import ScholarlyPaper, Study

MEDIA_TYPE = "text/html"
_REFERENCES = re.compile(r"^(?:references?|bibliography|literature cited|works cited)$", re.I)
_ABSTRACT = re.compile(r"^(?:abstract|summary)$", re.I)
_CAPTION = re.compile(r"^(?P<kind>Table|Figure|Fig\.)\s*(?P<n>\d+)\b")


def _meta(soup: BeautifulSoup, name: str) -> list[str]:
    return [
        collapse(tag.get("content", ""))
        for tag in soup.find_all("meta", attrs={"name": name})
        if tag.get("content", "").strip()
    ]


def _study(soup: BeautifulSoup) -> Study | None:
    title = _meta(soup, "citation_title")
    if not title:
        return None
    date = (
        _meta(soup, "citation_publication_date")
        + _meta(soup, "citation_date")
        + _meta(soup, "citation_year")
    )
    year = re.search(r"\b(?:19|20)\d{2}\b", date[0]) if date else None
    doi = _meta(soup, "citation_doi")
    journal = _meta(soup, "citation_journal_title")
    return Study(
        title=title[0],
        authors=_meta(soup, "citation_author"),
        year=int(year.group()) if year else None,
        journal=journal[0] if journal else None,
        doi=doi[0].removeprefix("doi:") if doi else None,
    )


def read_html_paper(data: bytes) -> ScholarlyPaper | None:
    soup = BeautifulSoup(data, "lxml")
    study = _study(soup)
    content = _read_html(Path("paper.html"), data)
    sections = {s.lower() for b in content.blocks for s in b.section}
    if study is None:
        if not (sections & {"abstract", "summary"} and any(_REFERENCES.match(s) for s in sections)):
            return None
        doi = DOI.search(content.text)
        study = Study(title=content.title or None, doi=doi.group(1) if doi else None)
    pmcid = _meta(soup, "citation_pmcid")
    text = content.text
    pieces: list[Piece] = []
    path: tuple[str, ...] = ()
    table_label: str | None = None
    caption: str | None = None
    tables = 0
    previous_kind = None
    for block in content.blocks:
        section = tuple(s for s in block.section if s != study.title)
        if section != path and section:
            title = section[-1]
            pieces.append(
                Piece(
                    block.start, block.start, Role.HEADING, section, label=title, level=len(section)
                )
            )
        path = section
        body = text[block.start : block.end]
        if block.kind == "table_row":
            cells = [c.strip() for c in body.split(" | ")]
            if previous_kind != "table_row":
                tables += 1
                table_label = caption or f"Table {tables}"
                caption = None
                role = Role.TABLE_HEADER
            else:
                role = Role.TABLE_ROW
            pieces.append(
                Piece(
                    block.start,
                    block.end,
                    role,
                    (table_label or "Table",),
                    label=table_label,
                    cells=cells,
                )
            )
        elif any(_ABSTRACT.match(s) for s in section):
            for label, s, e in abstract_parts(text, block.start, block.end):
                where = ("Abstract", label) if label else ("Abstract",)
                pieces.append(Piece(s, e, Role.ABSTRACT, where, label=label))
        elif section and _REFERENCES.match(section[-1]):
            pieces.append(Piece(block.start, block.end, Role.REFERENCE, ("References",)))
        elif m := _CAPTION.match(body):
            kind = "Table" if m["kind"] == "Table" else "Figure"
            label = f"{kind} {m['n']}"
            caption = label if kind == "Table" else caption
            pieces.append(Piece(block.start, block.end, Role.CAPTION, (label,), label=label))
        else:
            role = Role.LIST_ITEM if block.kind == "list_item" else Role.PARAGRAPH
            pieces.append(Piece(block.start, block.end, role, section))
        previous_kind = block.kind
    return assemble(
        text,
        [p for p in pieces if p.role != Role.HEADING or p.label],
        study,
        MEDIA_TYPE,
        pmcid=pmcid[0] if pmcid else None,
    )
