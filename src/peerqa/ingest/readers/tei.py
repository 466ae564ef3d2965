"""GROBID TEI XML -> ScholarlyPaper.

GROBID's TEI marks the structure (header metadata, abstract divs, body divs with
heads, figures and tables, back-matter divs, biblStructs), so the reader lays out the
text itself: one block per paragraph (its sentences joined by a space, since GROBID
puts `<s>` elements side by side), one line per table row with cells joined by " | ".
"""

from __future__ import annotations

import re

from lxml import etree

from peerqa.ingest.readers.base import (
    Role,
    TextBuilder,
    assemble,
    collapse,
    is_furniture_heading,
    is_prose_heading,
    journal_from_furniture,
)
from peerqa.models import ScholarlyPaper, Study

NS = {"t": "http://www.tei-c.org/ns/1.0"}
MEDIA_TYPE = "application/tei+xml"
_LABEL_TRAIL = re.compile(r"\s*[.:]\s*$")


def _t(tag: str) -> str:
    return f"{{{NS['t']}}}{tag}"


def inline(el: etree._Element) -> str:
    """An element's text on one line; sentences (<s>) joined by a space."""
    sentences = el.findall(".//t:s", NS)
    if sentences:
        return collapse(" ".join("".join(s.itertext()) for s in sentences))
    return collapse("".join(el.itertext()))


def _person(pers: etree._Element) -> str:
    names = [collapse(n.text or "") for n in pers.findall("t:forename", NS)]
    surname = collapse("".join(pers.findtext("t:surname", "", NS)))
    return collapse(" ".join([*names, surname]))


def read_study(root: etree._Element) -> tuple[Study, list[str]]:
    header = root.find("t:teiHeader", NS)
    bibl = header.find(".//t:sourceDesc/t:biblStruct", NS) if header is not None else None
    title = collapse("".join(root.xpath("string(.//t:titleStmt/t:title[1])", namespaces=NS)))
    authors, doi, journal, year = [], None, None, None
    if bibl is not None:
        for pers in bibl.findall("t:analytic/t:author/t:persName", NS):
            name = _person(pers)
            if name:
                authors.append(name)
        doi = collapse(bibl.findtext("t:idno[@type='DOI']", "", NS)) or None
        journal = collapse(bibl.findtext("t:monogr/t:title[@level='j']", "", NS)) or None
        when = bibl.find("t:monogr/t:imprint/t:date", NS)
        if when is not None and re.match(r"\d{4}", when.get("when", "")):
            year = int(when.get("when")[:4])
    keywords = [inline(k) for k in root.findall(".//t:profileDesc//t:keywords/t:term", NS)]
    return Study(title=title or None, authors=authors, year=year, journal=journal, doi=doi), [
        k for k in keywords if k
    ]


def _marks(el: etree._Element) -> list[tuple[str, int]]:
    """The bibliography refs in `el`, in order: (marker text, reference number)."""
    marks = []
    for ref in el.iter(_t("ref")):
        target = ref.get("target", "")
        if ref.get("type") == "bibr" and re.fullmatch(r"#b\d+", target):
            marks.append((collapse("".join(ref.itertext())), int(target[2:]) + 1))
    return marks


class _Reader:
    def __init__(self, journal: str | None = None) -> None:
        self.journal = journal  # the paper's own: a head opening with it is a running head
        self.out = TextBuilder()
        self.tables = 0
        self.current: tuple[str, ...] = ()  # the last real section (GROBID's divs are flat)

    def heading(self, title: str, section: tuple[str, ...]) -> None:
        self.out.add(title, Role.HEADING, section=section, label=title, level=len(section))

    def divs(self, parent: etree._Element, section: tuple[str, ...], role: str) -> None:
        """Walk a div tree; a div's head extends the section path of what it holds."""
        for child in parent:
            tag = etree.QName(child).localname if isinstance(child.tag, str) else ""
            if tag == "div":
                head = child.find("t:head", NS)
                title = _LABEL_TRAIL.sub("", inline(head)) if head is not None else ""
                if title and role != Role.ABSTRACT and is_prose_heading(title):
                    # GROBID promotes quotes to heads: the text stays in its section.
                    self.out.add(title, role, section=self.current or section)
                    title = ""
                elif title and role != Role.ABSTRACT and is_furniture_heading(title, self.journal):
                    title = ""
                inner = (*section, title) if title else (self.current or section)
                if title and role != Role.ABSTRACT:
                    self.heading(title, inner)
                    self.current = inner
                self.divs(child, inner, role)
            elif tag == "p":
                self.paragraph(child, section, role)
            elif tag == "list":
                for item in child.findall("t:item", NS):
                    self.out.add(inline(item), Role.LIST_ITEM, section=section)
            elif tag == "figure":
                self.figure(child, section)
            elif tag == "note" and child.get("place") == "foot":
                self.out.add(inline(child), Role.FOOTNOTE, section=section)
            elif tag in ("formula",):
                self.out.add(inline(child), Role.PARAGRAPH, section=section)

    def paragraph(self, p: etree._Element, section: tuple[str, ...], role: str) -> None:
        text = inline(p)
        if role != Role.ABSTRACT:
            self.out.cite(self.out.add(text, role, section=section), _marks(p))
            return
        # A paragraph may run further labels inline ("Methods: …"), a label's div or not.
        self.out.add_abstract(text, section[-1] if len(section) > 1 else None)

    def figure(self, fig: etree._Element, section: tuple[str, ...]) -> None:
        head = inline(fig.find("t:head", NS)) if fig.find("t:head", NS) is not None else ""
        desc = fig.find("t:figDesc", NS)
        caption = inline(desc) if desc is not None else ""
        is_table = fig.get("type") == "table"
        number = collapse(fig.findtext("t:label", "", NS))
        if is_table:
            self.tables += 1
            label = f"Table {number or self.tables}"
        else:
            label = _LABEL_TRAIL.sub("", head) or (f"Figure {number}" if number else "Figure")
        where = (label,)
        self.out.add(caption or head, Role.CAPTION, section=where, label=label)
        table = fig.find("t:table", NS)
        if table is not None:
            for k, row in enumerate(table.findall("t:row", NS)):
                cells = [inline(c) for c in row.findall("t:cell", NS)]
                if any(cells):
                    role = Role.TABLE_HEADER if k == 0 else Role.TABLE_ROW
                    self.out.add(
                        " | ".join(cells), role, sep="\n", section=where, label=label, cells=cells
                    )
        for note in fig.findall("t:note", NS):
            self.out.add(
                inline(note),
                Role.TABLE_NOTE if is_table else Role.CAPTION,
                section=where,
                label=label,
            )

    def references(self, back: etree._Element) -> None:
        for n, bibl in enumerate(back.iterfind(".//t:listBibl/t:biblStruct", NS), start=1):
            raw = bibl.find("t:note[@type='raw_reference']", NS)
            text = inline(raw) if raw is not None else inline(bibl)
            self.out.add(text, Role.REFERENCE, sep="\n", section=("References",), label=str(n))


def read_tei(root: etree._Element) -> ScholarlyPaper:
    study, keywords = read_study(root)
    notes = [inline(n) for n in root.iter(_t("note")) if n.get("place")]
    reader = _Reader(study.journal or journal_from_furniture(notes)[0])
    abstract = root.find(".//t:profileDesc/t:abstract", NS)
    if abstract is not None:
        reader.divs(abstract, ("Abstract",), Role.ABSTRACT)
    body = root.find(".//t:text/t:body", NS)
    if body is not None:
        reader.divs(body, (), Role.PARAGRAPH)
    back = root.find(".//t:text/t:back", NS)
    if back is not None:
        for div in back.findall("t:div", NS):
            if div.get("type") != "references":
                reader.divs(div, (), Role.PARAGRAPH)
        reader.references(back)
    text = reader.out.text
    if study.journal is None or study.year is None:
        notes += [
            line
            for line in text.split("\n")
            if "Originally published in" in line or "first published in" in line
        ]
        journal, year = journal_from_furniture(notes)
        study = study.model_copy(
            update={"journal": study.journal or journal, "year": study.year or year}
        )
    return assemble(
        text,
        reader.out.pieces,
        study,
        MEDIA_TYPE,
        keywords=keywords,
        citations=reader.out.citations,
    )
