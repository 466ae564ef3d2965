"""JATS XML (PubMed Central, most publishers' XML) -> ScholarlyPaper.

JATS marks everything: `<front>` metadata (journal title, article ids, contributors,
publication dates), the abstract's `<sec>` parts, nested body `<sec>`s, `<table-wrap>`
with `<thead>`, `<fig>`, footnotes and the `<ref-list>`. The reader lays out the text
block by block, one line per table row with cells joined by " | ".
"""

from __future__ import annotations

from lxml import etree

from peerqa.ingest.readers.base import (
    Role,
    TextBuilder,
    assemble,
    collapse,
)
from peerqa.models import ScholarlyPaper, Study

MEDIA_TYPE = "application/jats+xml"


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _kids(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if _local(c) == name]


def _first(el: etree._Element | None, *path: str) -> etree._Element | None:
    for name in path:
        if el is None:
            return None
        el = next((c for c in el.iter() if _local(c) == name), None)
    return el


def text_of(el: etree._Element | None) -> str:
    return collapse("".join(el.itertext())) if el is not None else ""


def _name(contrib: etree._Element) -> str:
    name = _first(contrib, "name")
    if name is not None:
        given = text_of(_first(name, "given-names"))
        return collapse(f"{given} {text_of(_first(name, 'surname'))}")
    return text_of(_first(contrib, "string-name")) or text_of(_first(contrib, "collab"))


def read_study(root: etree._Element) -> tuple[Study, str | None, list[str]]:
    meta = _first(root, "front", "article-meta")
    journal = text_of(_first(root, "front", "journal-meta", "journal-title")) or None
    ids = {
        i.get("pub-id-type"): text_of(i)
        for i in (meta.iter() if meta is not None else [])
        if _local(i) == "article-id"
    }
    authors = [
        _name(c)
        for c in (meta.iter() if meta is not None else [])
        if _local(c) == "contrib" and c.get("contrib-type", "author") == "author"
    ]
    years = [
        text_of(_first(d, "year"))
        for d in (meta.iter() if meta is not None else [])
        if _local(d) == "pub-date"
    ]
    year = next((int(y) for y in years if y.isdigit()), None)
    pmcid = ids.get("pmcid") or (f"PMC{ids['pmc']}" if ids.get("pmc") else None)
    keywords = [text_of(k) for k in (meta.iter() if meta is not None else []) if _local(k) == "kwd"]
    study = Study(
        title=text_of(_first(meta, "article-title")) or None,
        authors=[a for a in authors if a],
        year=year,
        journal=journal,
        doi=ids.get("doi"),
    )
    return study, pmcid, keywords


class _Reader:
    def __init__(self, root: etree._Element) -> None:
        self.out = TextBuilder()
        self.tables = 0
        refs = [r for r in root.iter() if _local(r) == "ref"]
        self.ref_ids = {r.get("id"): n for n, r in enumerate(refs, start=1) if r.get("id")}

    def block(self, el: etree._Element, section: tuple[str, ...], role: str) -> None:
        """Everything inside a <sec>, <abstract>, <body>, <back> or <ack>, in order."""
        for child in el:
            name = _local(child)
            if name in ("sec", "ack", "app", "boxed-text"):
                title = text_of(_first(child, "title")) if _kids(child, "title") else ""
                if not title and name == "ack":
                    title = "Acknowledgments"
                inner = (*section, title.rstrip(":")) if title else section
                if title and role != Role.ABSTRACT:
                    self.out.add(title, Role.HEADING, section=inner, label=title, level=len(inner))
                self.block(child, inner, role)
            elif name == "p":
                self.paragraph(child, section, role)
            elif name == "list":
                for item in child.iter():
                    if _local(item) == "list-item":
                        self.out.add(text_of(item), Role.LIST_ITEM, section=section)
            elif name == "table-wrap":
                self.table(child)
            elif name == "fig":
                label = text_of(_first(child, "label")) or "Figure"
                self.out.add(
                    text_of(_first(child, "caption")), Role.CAPTION, section=(label,), label=label
                )
            elif name in ("fn-group", "fn", "notes"):
                for p in (c for c in child.iter() if _local(c) == "p"):
                    self.out.add(text_of(p), Role.FOOTNOTE, section=section)
            elif name == "ref-list":
                self.references(child)

    def marks(self, el: etree._Element) -> list[tuple[str, int]]:
        """The bibliography xrefs in `el`: (marker text, reference number); a reference's
        number is its position in the ref-list."""
        return [
            (text_of(x), self.ref_ids[x.get("rid", "").split()[0]])
            for x in el.iter()
            if _local(x) == "xref"
            and x.get("ref-type") == "bibr"
            and x.get("rid", "").split()[:1]
            and x.get("rid", "").split()[0] in self.ref_ids
        ]

    def paragraph(self, p: etree._Element, section: tuple[str, ...], role: str) -> None:
        if role == Role.ABSTRACT:
            self.out.add_abstract(text_of(p), section[-1] if len(section) > 1 else None)
        else:
            self.out.cite(self.out.add(text_of(p), role, section=section), self.marks(p))

    def table(self, wrap: etree._Element) -> None:
        self.tables += 1
        label = text_of(_first(wrap, "label")).rstrip(".") or f"Table {self.tables}"
        where = (label,)
        self.out.add(text_of(_first(wrap, "caption")), Role.CAPTION, section=where, label=label)
        header_rows = [tr for t in wrap.iter() if _local(t) == "thead" for tr in _kids(t, "tr")]
        rows = [tr for tr in wrap.iter() if _local(tr) == "tr"]
        for tr in rows:
            cells = [text_of(c) for c in tr if _local(c) in ("th", "td")]
            if not any(cells):
                continue
            role = (
                Role.TABLE_HEADER
                if tr in header_rows or (not header_rows and tr is rows[0])
                else Role.TABLE_ROW
            )
            self.out.add(" | ".join(cells), role, sep="\n", section=where, label=label, cells=cells)
        for foot in (f for f in wrap.iter() if _local(f) == "table-wrap-foot"):
            for p in (c for c in foot.iter() if _local(c) == "p"):
                self.out.add(text_of(p), Role.TABLE_NOTE, section=where, label=label)

    def references(self, ref_list: etree._Element) -> None:
        for n, ref in enumerate((r for r in ref_list.iter() if _local(r) == "ref"), start=1):
            label = text_of(_first(ref, "label")).rstrip(".") or str(n)
            citation = next(
                (c for c in ref if _local(c) in ("mixed-citation", "element-citation", "citation")),
                None,
            )
            self.out.add(
                text_of(citation if citation is not None else ref),
                Role.REFERENCE,
                sep="\n",
                section=("References",),
                label=label if label.isdigit() else str(n),
            )


def read_jats(root: etree._Element) -> ScholarlyPaper:
    study, pmcid, keywords = read_study(root)
    reader = _Reader(root)
    for abstract in (
        a for a in root.iter() if _local(a) == "abstract" and not a.get("abstract-type")
    ):
        reader.block(abstract, ("Abstract",), Role.ABSTRACT)
        break
    for part in ("body", "back"):
        el = _first(root, part)
        if el is not None:
            reader.block(el, (), Role.PARAGRAPH)
    return assemble(
        reader.out.text,
        reader.out.pieces,
        study,
        MEDIA_TYPE,
        pmcid=pmcid,
        keywords=keywords,
        citations=reader.out.citations,
    )
