"""A scholarly paper (any format, see ingest/readers) -> passages that are evidence.

- Paragraphs are cut at sentence boundaries within `max_words`; a sentence that is page
  furniture, a declaration or a supplementary-file stub is left out, and a run-on
  "sentence" (a table a converter flattened into prose) is cut at word boundaries.
- A block that is not a sentence ("Step 5", "Why was this study done?") is a heading
  printed as text: it opens the passage of the block it introduces, never one of its own.
- A table's rows are cut into `table_row` passages of readable size: a one-cell row
  heading the rows below it ("Primary outcome") opens a passage and is its rows'
  context, not a row of its own; else rows run on within `max_words`. Each passage
  carries its table's column names (`header`), reads every row as "Column: value" pairs
  in its retrieval context, and says where each row lies in its text (`rows`: one unit
  of evidence each); continuation rows were merged into their row by the reader.
- Each reference-list entry is one `reference` passage; in-text citations (numeric,
  ranges, superscripts, author-year) resolve to those entries.
- `text` is always `paper.text[char_start:char_end]`, with its page for PDF.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from peerqa.ingest.citations import expand_marker, find_citations
from peerqa.ingest.readers.base import not_evidence
from peerqa.models import (
    DocumentInfo,
    Kind,
    PaperBlock,
    PaperTable,
    PaperTableRow,
    ParsedDocument,
    Passage,
    Reference,
    ScholarlyPaper,
    Span,
    sentences,
    study_label,
)
from peerqa.segment import ABBREVIATIONS, chunk_spans, sentence_spans, trimmed, word_count

SECTION_SEPARATOR = " > "
MAX_CONTEXT_WORDS = 100  # study label and title, section or caption, a row's column: value pairs
# A "sentence" this many times the passage budget is a flattened table or a list run
# together; it is cut at word boundaries instead of kept whole.
RUN_ON_FACTOR = 1.5
# A block this short that does not end a sentence ("Step 5", "Peer support groups:"), or
# a short question standing alone ("Why was this study done?", a box heading), is a
# heading a converter printed as text: it introduces the block after it.
FRAGMENT_WORDS = 8
QUESTION_WORDS = 12
# A table row with one filled cell this short ("Primary outcome") heads the rows below it.
ROW_HEADING_WORDS = 4
# What may lie between two rows of one passage: line breaks and the pipes of empty cells.
_ROW_GAP = re.compile(r"[\s|]*")
_CELL_WORD = re.compile(r"[^\s|]+")
_SENTENCE_END = re.compile(r"[.!][\"'”’)\]]*$")
_BULLETS = "[-*+•▪◦–]"
# A paragraph that is a list item a converter did not mark as one ("2. Commissioners …").
_ITEM_OPENS = re.compile(rf"(?:{_BULLETS}|\(?(?:\d{{1,3}}|[a-z])[.)])\s")
# What may lie between a lead-in and the block it introduces: space and, before a list
# item, its marker ("1.", "(a)", "•").
_LIST_GAP = re.compile(rf"\s*(?:(?:{_BULLETS}|\(?(?:\d{{1,3}}|[a-zA-Z]|[ivx]{{1,4}})[.)])\s+)?")

_BRACKETS = re.compile(
    r"\[(?P<numbers>\d{1,4}(?:\s*[-–]\s*\d{1,4})?(?:\s*[,;]\s*\d{1,4}(?:\s*[-–]\s*\d{1,4})?)*)\]"
)
_BARE_SUPERSCRIPT = re.compile(
    r"(?:(?<=[.!?]\s)|(?<=[.!?][)\]”’\"]\s))"
    r"(?P<numbers>\d{1,3}(?:\s?[,–-]\s?\d{1,3})*)(?=\s+[A-Z])"
)
_AUTHOR_YEAR = re.compile(
    r"(?P<name>[A-Z][\w'’\-]+)(?:\s+et\s+al\.?|\s+(?:and|&)\s+[A-Z][\w'’\-]+)?,?\s+"
    r"\(?(?P<year>(?:19|20)\d{2})[a-z]?\b"
)


@dataclass
class _Draft:
    start: int
    end: int
    section: str
    kind: Kind
    page: int | None
    context: str
    header: str | None = None
    refs: list[int] = field(default_factory=list)
    rows: list[list[int]] = field(default_factory=list)


def bare_superscripts(text: str, start: int, end: int, numbers: Collection[int]) -> list[list[int]]:
    """Superscripts a converter left bare after a sentence's full stop ("control. 28 In
    …"), in either bracket style (a converter may print some superscripts as "[2][3]",
    others bare): each one's reference numbers. A count opening a sentence goes on in
    lower case ("28 participants") and is none."""
    out = []
    for m in _BARE_SUPERSCRIPT.finditer(text, start, end):
        word = re.search(r"(\w+)\W*\s$", text[max(0, m.start() - 20) : m.start()])
        if word and (word[1].lower() in ABBREVIATIONS or re.fullmatch(r"[A-Z]", word[1])):
            continue  # "Fig. 1 Risk of bias", "J. 12 …": no sentence ended there
        try:
            cited = expand_marker(re.sub(r"\s", "", m["numbers"]))
        except ValueError:
            continue
        if cited and all(n in numbers for n in cited):
            out.append(cited)
    return out


# A paper sets its citations as superscripts (left bare by its converter) when this many
# sentences open with one: a lone "12 Patients were excluded" in a paper citing "[12]"
# is a count that happens to equal a reference number, not a citation.
MIN_BARE_SUPERSCRIPTS = 3


def prints_bare_superscripts(paper: ScholarlyPaper) -> bool:
    numbers = {r.n for r in paper.references}
    found = sum(
        len(bare_superscripts(paper.text, b.start, b.end, numbers))
        for b in (*paper.abstract, *paper.paragraphs)
    )
    return found >= MIN_BARE_SUPERSCRIPTS


class CitationResolver:
    """In-text citations -> reference numbers, in the style the paper uses."""

    def __init__(self, paper: ScholarlyPaper) -> None:
        self.text = paper.text
        self.marked = paper.citations
        self.numbers = {r.n for r in paper.references}
        self.by_key = {
            (r.surname.lower(), r.year): r.n
            for r in reversed(paper.references)
            if r.surname and r.year
        }
        body = [(b.start, b.end) for b in paper.paragraphs]
        # Glued superscript numbers ("health27–29") are read only in papers that do not
        # cite in brackets: elsewhere a glued digit is more likely a name or a count.
        self.brackets = any(_BRACKETS.search(self.text, s, e) for s, e in body)
        self.bare = prints_bare_superscripts(paper)

    def _marked_numbers(self, start: int, end: int, target: list[int]) -> list[int]:
        """A marked citation's numbers: as printed when it is numeric ("28", "[3-5]"),
        since converters' links can be off by a reference; else its link's."""
        printed = self.text[start:end].strip("[]() ")
        try:
            numbers = expand_marker(re.sub(r"\s+", "", printed).replace(";", ","))
        except ValueError:
            return target
        return numbers if numbers and all(n in self.numbers for n in numbers) else target

    def cited(self, start: int, end: int) -> list[int]:
        found = {
            n
            for c in self.marked
            if start <= c.start < end
            for n in self._marked_numbers(c.start, c.end, c.numbers)
        }
        for m in _BRACKETS.finditer(self.text, start, end):
            try:
                numbers = expand_marker(re.sub(r"\s+", "", m["numbers"]).replace(";", ","))
            except ValueError:
                continue
            if numbers and all(n in self.numbers for n in numbers):
                found.update(numbers)
        if not self.brackets and self.numbers:
            limit = max(self.numbers)
            found.update(n for c in find_citations(self.text, limit, start, end) for n in c.numbers)
        if self.bare:
            found.update(
                n
                for numbers in bare_superscripts(self.text, start, end, self.numbers)
                for n in numbers
            )
        for m in _AUTHOR_YEAR.finditer(self.text, start, end):
            n = self.by_key.get((m["name"].lower(), int(m["year"])))
            if n:
                found.add(n)
        return sorted(found & self.numbers)


def _context(*parts: str | None) -> str:
    words = ". ".join(p for p in parts if p).split()
    return " ".join(words[:MAX_CONTEXT_WORDS])


def _run_on_spans(text: str, start: int, end: int, max_words: int) -> list[tuple[int, int]]:
    """Cut one overlong span at word boundaries into pieces of about max_words words."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[start:end])]
    n = max(1, round(len(words) / max_words))
    size = -(-len(words) // n)
    return [
        (start + words[i][0], start + words[min(i + size, len(words)) - 1][1])
        for i in range(0, len(words), size)
    ]


# A journal's download stamp printed on every page ("Downloaded from jamanetwork.com by
# guest on 07/28/2025"): the text after it on the line is the sentence it interrupted.
_STAMP = re.compile(r"\bDownloaded from \S+ (?:by guest )?on \d{1,2}/\d{1,2}/\d{2,4}\b")
# What a running title may leave of a sentence a converter glued it to ("model." cut from
# the page before, the journal name after it): too little to be evidence.
_LEFTOVER_WORDS = 1


class Furniture:
    """Page furniture a converter spilled into the middle of a paragraph: the paper's
    running title (its title up to any subtitle, printed atop each page), its running
    head ("JAMA Network Open | Health Policy") and download stamps. Each is cut out of the
    sentence it lands in; the pieces either side stay verbatim spans."""

    def __init__(self, text: str, title: str | None, journal: str | None) -> None:
        # The title first: the running head before it may end in a capitalised word.
        patterns = []
        running = _running_title(text, title or "")
        if running:
            patterns.append(r"\s+".join(map(re.escape, running.split())))
        patterns.append(_STAMP.pattern)
        if journal:
            name = r"\s+".join(map(re.escape, journal.split()))
            # The running head: the journal, a bar and a section name of capitalised words.
            patterns.append(rf"{name}\s*\|(?:\s*[A-Z][\w-]*){{1,3}}(?![\w-])")
            self.journal: re.Pattern[str] | None = re.compile(rf"{name}\W*")
        else:
            self.journal = None
        self.patterns = [re.compile(p) for p in patterns]

    def pieces(self, text: str, s: int, e: int) -> list[tuple[int, int]] | None:
        """The sentence text[s:e] without furniture: None when it holds none, else its
        pieces (each a run of its own), leftovers dropped."""
        spans = [(s, e)]
        for pattern in self.patterns:
            cut = []
            for a, b in spans:
                bounds = [a, *(x for m in pattern.finditer(text, a, b) for x in m.span()), b]
                cut += list(zip(bounds[::2], bounds[1::2], strict=True))
            spans = cut
        if spans == [(s, e)]:
            return None
        pieces = [t for a, b in spans if (t := trimmed(text, a, b))]
        return [(a, b) for a, b in pieces if not self._leftover(text[a:b])]

    def _leftover(self, piece: str) -> bool:
        if self.journal is not None and self.journal.fullmatch(piece):
            return True
        return word_count(piece) <= _LEFTOVER_WORDS or not re.search(r"[A-Za-z]{2}", piece)


# A title this short may be printed in the text for its own sake: never cut as furniture.
TITLE_WORDS = 8


def _running_title(text: str, title: str) -> str | None:
    """The title as printed atop the pages: up to its subtitle (a converter may have lost
    the colon, so the longest opening of the title the text prints twice or more)."""
    words = re.split(r":\s", title, maxsplit=1)[0].split()
    for n in range(len(words), TITLE_WORDS - 1, -1):
        pattern = r"\s+".join(map(re.escape, words[:n]))
        if len(re.findall(pattern, text)) >= 2:
            return " ".join(words[:n])
    return None


def evidence_spans(
    text: str,
    start: int,
    end: int,
    max_words: int,
    citations: Collection[int] = (),
    furniture: Furniture | None = None,
) -> list[tuple[int, int]]:
    """Passages of text[start:end]: sentence-aligned chunks, with furniture and
    declaration sentences left out (a chunk never spans a dropped sentence). A bare
    superscript number in `citations` opening a sentence ends the one before it;
    `furniture` spilled into a sentence is cut out of it."""
    runs: list[list[tuple[int, int]]] = [[]]
    spans: list[tuple[int, int] | None] = []
    for s, e in sentence_spans(text, start, end, citations):
        pieces = furniture.pieces(text, s, e) if furniture else None
        if pieces is None:
            spans.append((s, e))
            continue
        # A passage breaks only where furniture was cut: a piece touching the sentence's
        # own start (or end) reads on with the sentences before (or after) it, so a
        # sentence's halves ("…for age, sex, race" | "and ethnicity, …") never stand alone.
        if not pieces or pieces[0][0] != s:
            spans.append(None)
        for i, piece in enumerate(pieces):
            spans += [None, piece] if i else [piece]
        if not pieces or pieces[-1][1] != e:
            spans.append(None)
    for span in spans:
        if span is None:
            runs.append([])
            continue
        s, e = span
        if not_evidence(text[s:e]):
            runs.append([])
        elif word_count(text[s:e]) > RUN_ON_FACTOR * max_words:
            runs.append([])
            runs.extend([[span] for span in _run_on_spans(text, s, e, max_words)])
            runs.append([])
        else:
            runs[-1].append((s, e))
    return [span for run in runs if run for span in chunk_spans(text, run, max_words)]


def is_fragment(text: str) -> bool:
    """Not a sentence: a label or heading-like line, or a short question heading."""
    text = text.strip()
    words = len(text.split())
    if text.endswith("?"):
        return words <= QUESTION_WORDS
    return words <= FRAGMENT_WORDS and not _SENTENCE_END.search(text)


def is_row_heading(cells: list[str]) -> bool:
    """A row of one short filled cell ("Secondary outcomes"): a heading inside the table
    (not a cell's wrapped tail, "sectional with", which opens in lower case)."""
    filled = [c.strip() for c in cells if c.strip()]
    return (
        len(filled) == 1
        and not filled[0][0].islower()
        and len(filled[0].split()) <= ROW_HEADING_WORDS
        and is_fragment(filled[0])
    )


def join_fragments(text: str, blocks: list[PaperBlock]) -> list[tuple[PaperBlock, str | None]]:
    """Blocks with each fragment joined to the block it introduces: when only whitespace
    lies between, that block starts at the fragment (its passages stay verbatim spans);
    when a heading lies between ("Step 1" above a subsection), the fragment is the next
    block's heading, read in its context. A fragment with nothing after it stays a block.
    Each block comes with that heading, or None."""
    out: list[tuple[PaperBlock, str | None]] = []
    pending: PaperBlock | None = None
    lead: str | None = None
    for block in sorted(blocks, key=lambda b: b.start):
        # Judged on its own text; a labelled abstract part's text ("Trial registration":
        # "ClinicalTrials.gov NCT03342274") is what its label heads, never a heading.
        fragment = is_fragment(text[block.start : block.end]) and not block.label
        if pending is not None and not text[pending.end : block.start].strip():
            block = block.model_copy(update={"start": pending.start, "page": pending.page})
        elif pending is not None:
            heading = " ".join(text[pending.start : pending.end].split())
            lead = f"{lead}. {heading}" if lead else heading
        pending = None
        if fragment:
            pending = block
        else:
            out.append((block, lead))
            lead = None
    if pending is not None:
        out.append((pending, lead))
    return out


def is_lead_in(text: str) -> bool:
    """A paragraph ending in a colon introduces the block after it ("The adaptation
    process consisted of four phases:" above "(1) content translation, …")."""
    return text.rstrip().endswith(":")


def join_lead_ins(
    text: str, blocks: list[tuple[PaperBlock, str | None]], max_words: int
) -> list[tuple[PaperBlock, str | None]]:
    """Each lead-in joined to what it introduces when only whitespace lies between: the
    next block (and the list items after it, when it is a list) starts at the lead-in,
    so the two are one verbatim span, the lead-in's last sentence and the block's first
    read as one. Not when those two sentences would overrun a passage's budget."""
    out: list[tuple[PaperBlock, str | None]] = []
    in_list = False  # the last block out is a lead-in and its list: further items join it
    for block, lead in blocks:
        if out and _LIST_GAP.fullmatch(text, out[-1][0].end, block.start):
            last, last_lead = out[-1]
            item = block.list_item or bool(_ITEM_OPENS.match(text, block.start))
            if (in_list and item) or (
                is_lead_in(text[last.start : last.end]) and _fits(text, last, block, max_words)
            ):
                out[-1] = (
                    block.model_copy(update={"start": last.start, "page": last.page}),
                    last_lead,
                )
                in_list = item
                continue
        out.append((block, lead))
        in_list = False
    return out


def _fits(text: str, lead_in: PaperBlock, block: PaperBlock, max_words: int) -> bool:
    last = sentence_spans(text, lead_in.start, lead_in.end)[-1]
    first = sentence_spans(text, block.start, block.end)[0]
    return word_count(text[last[0] : last[1]]) + word_count(text[first[0] : first[1]]) <= max_words


def _row_groups(
    text: str, table: PaperTable, max_words: int
) -> list[tuple[str | None, PaperTableRow | None, list[PaperTableRow]]]:
    """The table's rows in passages of readable size: a one-cell row heading ("Primary
    outcome") opens a group it heads; a passage runs on while its rows stay within
    max_words and only row text lies between them (a table continued on the next page
    has a running head between), else the next row opens a passage of the same group.
    Each passage is (its row heading, the heading's row when the passage opens with it,
    its rows)."""
    out: list[tuple[str | None, PaperTableRow | None, list[PaperTableRow]]] = []
    heading: str | None = None
    opener: PaperTableRow | None = None
    rows: list[PaperTableRow] = []
    words = 0
    sizes = [len(_CELL_WORD.findall(text, r.start, r.end)) for r in table.rows]
    for i, row in enumerate(table.rows):
        if i + 1 < len(table.rows) and is_row_heading(row.cells):
            if rows:
                out.append((heading, opener, rows))
            heading, opener, rows, words = text[row.start : row.end].strip(" |"), row, [], 0
            continue
        # A category printed once in the first column ("Region | Africa …", "| | Asia …")
        # is kept together when it fits: the passage breaks before it, not inside it.
        size = sum(sizes[i : _category_end(table.rows, i)]) if rows else sizes[i]
        last = rows[-1] if rows else opener
        if last is not None and not _ROW_GAP.fullmatch(text[last.end : row.start]):
            if rows:
                out.append((heading, opener, rows))
            opener, rows, words = None, [], 0
        elif rows and words + size > max_words:
            out.append((heading, opener, rows))
            opener, rows, words = None, [], 0
        rows.append(row)
        words += sizes[i]
    if rows:
        out.append((heading, opener, rows))
    return out


def _category_end(rows: list[PaperTableRow], i: int) -> int:
    """Where the category opening at row i ends: the rows after it that carry its first
    cell (the reader fills a category printed once into the rows below it). A row
    inside a category is a category of its own one row long."""
    if i and rows[i - 1].cells[:1] == rows[i].cells[:1]:
        return i + 1
    end = i + 1
    while end < len(rows) and rows[end].cells[:1] == rows[i].cells[:1]:
        end += 1
    return end


def _table_drafts(
    text: str, table: PaperTable, title: str, caption: str, max_words: int
) -> list[_Draft]:
    """A table's row passages: each knows its study, the table's caption and column
    names, its row heading, and reads every row as "Column: value" pairs of its cells
    in its retrieval context; `rows` says where each row is in its text."""
    header = " | ".join(h for h in table.header) or None
    drafts = []
    for heading, opener, rows in _row_groups(text, table, max_words):
        start, end = (opener or rows[0]).start, rows[-1].end
        pairs = [
            "; ".join(f"{h}: {c}" for h, c in zip(table.header, r.cells, strict=False) if h and c)
            for r in rows
        ]
        # The pairs may run longer than a prose passage's context: they are the rows
        # themselves, read with their column names.
        named = caption if caption.startswith(table.label) else f"{table.label}. {caption}"
        words = ". ".join([_context(title, named, heading), *pairs]).split()
        spans = [[r.start - start, r.end - start] for r in rows]
        drafts.append(
            _Draft(
                start,
                end,
                table.label,
                "table_row",
                (opener or rows[0]).page,
                " ".join(words[: MAX_CONTEXT_WORDS + max_words]),
                header=header,
                rows=spans if opener or len(rows) > 1 else [],
            )
        )
    return drafts


def _page(paper: ScholarlyPaper, offset: int, default: int | None) -> int | None:
    for number, (s, e) in enumerate(paper.pages, start=1):
        if s <= offset < e:
            return number
    return default


def paper_passages(paper: ScholarlyPaper, doc_id: str, max_words: int) -> list[Passage]:
    text = paper.text
    # Every passage's context says which study it is ("Prescott et al. 2017, JMIR Mental
    # Health. Peer Communication in …"), so a question naming the study finds its passages.
    title = sentences(*dict.fromkeys(p for p in (study_label(paper.study), paper.study.title) if p))
    drafts: list[_Draft] = []

    superscripts = (
        frozenset(r.n for r in paper.references) if prints_bare_superscripts(paper) else frozenset()
    )
    furniture = Furniture(text, paper.study.title, paper.study.journal)

    def prose(span: Span, section: str, kind: Kind = "paragraph", extra: str | None = None):
        section = section or "Body"  # a paper without headings or metadata: never empty
        spans = evidence_spans(text, span.start, span.end, max_words, superscripts, furniture)
        for s, e in spans:
            drafts.append(
                _Draft(
                    s, e, section, kind, _page(paper, s, span.page), _context(title, section, extra)
                )
            )

    for block, lead in join_fragments(text, paper.abstract):
        prose(block, SECTION_SEPARATOR.join(block.section) or "Abstract", extra=lead)
    for block, lead in join_lead_ins(text, join_fragments(text, paper.paragraphs), max_words):
        kind: Kind = "list_item" if block.list_item else "paragraph"
        prose(block, SECTION_SEPARATOR.join(block.section) or title, kind, extra=lead)
    for block in paper.captions:
        prose(block, block.label or SECTION_SEPARATOR.join(block.section))
    for block in paper.footnotes:
        prose(block, "Footnotes")
    for table in paper.tables:
        caption = text[table.caption.start : table.caption.end] if table.caption else ""
        if table.caption:
            # The table's title is evidence of what it reports ("Characteristics of the
            # included trials"), as a figure's caption is.
            prose(table.caption, table.label)
        drafts += _table_drafts(text, table, title, caption, max_words)
        for note in table.notes:
            prose(note, table.label, extra=caption)
    for ref in paper.references:
        drafts.append(
            _Draft(
                ref.start,
                ref.end,
                "References",
                "reference",
                ref.page,
                f"References. Reference {ref.n}",
                refs=[ref.n],
            )
        )

    resolver = CitationResolver(paper)
    citations = {r.n: text[r.start : r.end] for r in paper.references}
    drafts.sort(key=lambda d: d.start)
    passages = []
    for i, d in enumerate(drafts):
        refs = d.refs if d.kind == "reference" else resolver.cited(d.start, d.end)
        passages.append(
            Passage(
                id=f"{doc_id}:{i:04d}",
                document=doc_id,
                char_start=d.start,
                char_end=d.end,
                page=d.page,
                text=text[d.start : d.end],
                kind=d.kind,
                section=d.section,
                header=d.header,
                rows=d.rows,
                context=d.context,
                ref_numbers=refs,
                references=[Reference(n=n, citation=citations[n]) for n in refs],
            )
        )
    return passages


def paper_document(
    path: Path, paper: ScholarlyPaper, doc_id: str, sha256: str, max_words: int
) -> ParsedDocument:
    passages = paper_passages(paper, doc_id, max_words)
    study = paper.study
    info = DocumentInfo(
        id=doc_id,
        title=study.title or path.stem,
        source=path.name,
        media_type=paper.media_type,
        sha256=sha256,
        authors=study.authors,
        journal=study.journal,
        year=study.year,
        doi=study.doi,
        identifier=paper.pmcid or (f"doi:{study.doi}" if study.doi else None),
        pages=len(paper.pages) or None,
        passages=len(passages),
        by_kind=dict(Counter(p.kind for p in passages)),
    )
    return ParsedDocument(info=info, text=paper.text, passages=passages)
