"""Structure-aware parser for the bundled paper format.

The format (PMC full text as plain text): one paragraph per line, headings on lines
of their own, "Table N." captions followed by pipe-table rows, and a "- N. ..."
reference list. The parser cuts it into verbatim passages (`text` is always an
exact slice of the source) and puts everything it infers (section path, theme,
stance, programme, role, cited references, retrieval context) in metadata.

Anything that does not fit the expected structure raises ValueError naming what is
wrong, so a changed source fails loudly instead of silently losing passages.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from peerqa.ingest.citations import cited_numbers, find_citations
from peerqa.models import (
    ROLE_WORDS,
    DocumentInfo,
    ParsedDocument,
    Passage,
    Programme,
    Reference,
)
from peerqa.segment import chunk_spans, sentence_spans, word_count

# --- document structure -------------------------------------------------------------

TOP_LEVEL_SECTIONS = frozenset(
    {
        "Abstract",
        "Background",
        "Methods",
        "Results",
        "Discussion",
        "Conclusion",
        "Supplementary Material",
        "Contributor Information",
        "Funding",
        "Ethical approval",
        "Conflict of interest",
        "Data availability",
        "References",
        "Associated Data",
    }
)
# The structured abstract reuses top-level names ("Methods", "Results") as its parts.
ABSTRACT_PARTS = frozenset({"Purpose", "Methods", "Results", "Conclusions", "Key messages"})
# The one heading printed with a full stop; every other heading ends without one.
PERIOD_HEADINGS = frozenset({"Key messages."})
KEYWORDS_PREFIX = "Keywords:"
MAX_HEADING_WORDS = 20
# Consecutive lines this short (key-message bullets, contributor lines, table notes)
# are too small to retrieve alone, so they may share a passage.
SHORT_LINE_WORDS = 30
MAX_CONTEXT_WORDS = 60

_TABLE_CAPTION = re.compile(r"^Table (\d+)\.$")
_TABLE_SEPARATOR = re.compile(r"^[-|: ]+$")
_REFERENCE_LINE = re.compile(r"^- (?P<n>\d+)\. ")
# PMC appends link labels to each reference; they are navigation, not citation text.
_REFERENCE_LINKS = re.compile(r"(?:\s*\[(?:DOI|PMC free article|PubMed|Google Scholar)\])+$")
# A heading ends in a letter, or in a closing quote after one ("…“get through this”").
_HEADING_END = re.compile(r"[^\W\d_][”’\"]?$")

# --- tables -------------------------------------------------------------------------

CHARACTERISTICS_TABLE = "Table 1"
PROGRAMME_TABLE = "Table 2"
QUOTE_TABLE_STANCE: dict[str, str] = {"Table 3": "benefit", "Table 4": "challenge"}
EXPECTED_TABLES = frozenset({CHARACTERISTICS_TABLE, PROGRAMME_TABLE, *QUOTE_TABLE_STANCE})

_PROGRAMME_CELL = re.compile(r"^Programme (?P<letter>[A-G])$")
_CHECKMARK = "√"
# Table 2 glues the setting onto the condition: "Cancer hospital-based".
_CONDITION_SETTING = re.compile(
    r"^(?P<condition>.+?)\s+(?P<setting>(?:community|hospital)-based\b.*)$"
)
_LEADING_COUNT = re.compile(r"^(\d+)\b")

# --- attributions and roles ---------------------------------------------------------

ROLE_CODES = {
    "PL": "programme_leader",
    "PS": "peer_supporter",
    "mentor": "peer_supporter",
    "PR": "peer_recipient",
}
_ROLE_ALTERNATIVES = "|".join(ROLE_CODES)
# "(Programme B, PL)", "(C, PR)", "(C, mentor)", "(D)", "(PS)"
_ATTRIBUTION = re.compile(
    r"\((?:(?:Programme\s+)?(?P<programme>[A-G])"
    rf"(?:,\s*(?P<role>{_ROLE_ALTERNATIVES}))?|(?P<role_only>{_ROLE_ALTERNATIVES}))\)"
)

# --- stance and theme of the Results prose -------------------------------------------

# Results subsection -> (stance, the Table 3/4 theme it corresponds to). Every Results
# subsection must be listed, so a renamed heading fails instead of losing its stance.
RESULTS_PROFILES: dict[str, tuple[str | None, str | None]] = {
    "Sample characteristics": (None, None),
    "The benefits of peer support programmes": ("benefit", None),
    "Psychosocial benefits: hope, support, and motivation to “get through this”": (
        "benefit",
        "Psychosocial benefits",
    ),
    "Practical self-care knowledge: information about resources and self-care skills"
    "—“I just learned an awful lot”": ("benefit", "Practical knowledge and resources"),
    "Benefits to family-caregivers": ("benefit", "Benefits to caregivers"),
    "Benefits to peer mentors": ("benefit", "Benefits to peer mentors"),
    "Peer support programmes can complement medical care": (
        "benefit",
        "Peer support complements medical care",
    ),
    "Challenges to peer support delivery and how they are addressed": ("challenge", None),
    "Emotional barriers to providing peer support": (
        "challenge",
        "Boundaries and emotional entanglement",
    ),
    "Fidelity to programme procedures and ensuring adequate delivery of services": (
        "challenge",
        "Fidelity to the programme",
    ),
    "Matching": ("challenge", "Matching based on condition and cultural similarity"),
}
# In a challenge section, sentences on how programmes respond to the challenge.
_MITIGATION = re.compile(
    r"\baddress(?:ed|es)?\b[^.]*\bchallenges?\b|\bchecked up on\b|\boffered\b|\btraining\b"
    r"|\bsupervision\b|\bmonitoring\b|\bmanuals?\b|\bcareful(?:ly)?\b|\bguidance\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Line:
    """A non-empty source line, trimmed, with its absolute offsets."""

    start: int
    end: int
    text: str


@dataclass
class _Block:
    """Prose lines of one section that passages are cut from (never across blocks)."""

    section: str
    lines: list[_Line]


@dataclass
class _Table:
    name: str
    header: list[_Line]
    rows: list[_Line]


@dataclass
class _Skeleton:
    blocks: list[_Block] = field(default_factory=list)
    tables: dict[str, _Table] = field(default_factory=dict)
    references: list[_Line] = field(default_factory=list)
    results_subsections: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Attribution:
    programme: str | None
    role: str | None


@dataclass
class _Draft:
    """A passage before it has an id (ids follow document order)."""

    start: int
    end: int
    section: str
    kind: str
    context: str
    stance: str | None = None
    theme: str | None = None
    programme: str | None = None
    role: str | None = None
    ref_numbers: list[int] = field(default_factory=list)


# --- reading the source -------------------------------------------------------------


def _lines(text: str) -> list[_Line]:
    return _pieces(text, "\n", 0)


def _pieces(text: str, separator: str, offset: int) -> list[_Line]:
    """The non-empty pieces of `text` between one-character separators, trimmed, with
    absolute offsets (`offset`: where `text` starts in the source)."""
    pieces = []
    for raw in text.split(separator):
        stripped = raw.strip()
        if stripped:
            start = offset + raw.index(stripped)
            pieces.append(_Line(start, start + len(stripped), stripped))
        offset += len(raw) + 1
    return pieces


def _is_heading(line: str) -> bool:
    if line in PERIOD_HEADINGS or _TABLE_CAPTION.match(line):
        return True
    if "|" in line or line.startswith("- ") or line.startswith(KEYWORDS_PREFIX):
        return False
    return word_count(line) <= MAX_HEADING_WORDS and bool(_HEADING_END.search(line))


def _cells(line: _Line) -> list[_Line]:
    """The non-empty cells of a pipe-table row, with absolute offsets."""
    return _pieces(line.text, "|", line.start)


def _row_span(line: _Line) -> tuple[int, int]:
    """A table row without its trailing pipe padding ("25–44 | 11 (26) |")."""
    cells = _cells(line)
    return cells[0].start, cells[-1].end


class _Scanner:
    """Walks the lines once, tracking the section path, and sorts them into a skeleton."""

    def __init__(self, text: str) -> None:
        self.lines = _lines(text)
        self.skeleton = _Skeleton()
        self.top: str | None = None
        self.section: str | None = None
        self.open_block: _Block | None = None  # a run of short lines still accepting more

    def scan(self) -> _Skeleton:
        i = 0
        while i < len(self.lines):
            i = self._step(i)
        return self.skeleton

    def _step(self, i: int) -> int:
        line = self.lines[i]
        caption = _TABLE_CAPTION.match(line.text)
        if caption:
            return self._table(i, f"Table {caption.group(1)}")
        if "|" in line.text:
            raise ValueError(f"pipe-table row outside a table at offset {line.start}")
        if self.top == "References" and _REFERENCE_LINE.match(line.text):
            self.skeleton.references.append(line)
        elif _is_heading(line.text):
            self._heading(line.text.rstrip("."))
        elif self.top == "References":
            raise ValueError(f"unexpected line in References at offset {line.start}")
        else:
            self._prose(line)
        return i + 1

    def _heading(self, name: str) -> None:
        self.open_block = None
        if self.top == "Abstract" and name in ABSTRACT_PARTS:
            self.section = f"Abstract > {name}"
        elif name in TOP_LEVEL_SECTIONS:
            self.top = self.section = name
        elif self.top is None:
            raise ValueError(f"heading {name!r} before any top-level section")
        else:
            self.section = f"{self.top} > {name}"
            if self.top == "Results":
                self.skeleton.results_subsections.append(name)

    def _prose(self, line: _Line, section: str | None = None) -> None:
        if line.text.startswith(KEYWORDS_PREFIX):
            self.section = self.top  # keywords belong to the abstract, not its last part
        section = section or self.section
        if section is None:
            raise ValueError(f"text before any heading at offset {line.start}")
        short = word_count(line.text) <= SHORT_LINE_WORDS
        block = self.open_block
        if short and block and block.section == section:
            block.lines.append(line)
            return
        block = _Block(section, [line])
        self.skeleton.blocks.append(block)
        self.open_block = block if short else None

    def _table(self, i: int, name: str) -> int:
        if name in self.skeleton.tables:
            raise ValueError(f"{name} appears twice")
        j = i + 1
        while j < len(self.lines) and self.lines[j].text.endswith("|"):
            j += 1
        rows = self.lines[i + 1 : j]
        empty = next((row for row in rows if not _cells(row)), None)
        if empty:
            raise ValueError(f"{name}: empty row at offset {empty.start}")
        separators = [k for k, row in enumerate(rows) if _TABLE_SEPARATOR.match(row.text)]
        if not separators or separators[0] == 0 or separators[0] == len(rows) - 1:
            raise ValueError(f"{name}: expected header, separator line and rows")
        sep = separators[0]
        self.skeleton.tables[name] = _Table(name, rows[:sep], rows[sep + 1 :])
        self.open_block = None
        return self._table_notes(j, name)

    def _table_notes(self, j: int, name: str) -> int:
        """Short lines right after a table are its notes; a long line resumes the prose."""
        while j < len(self.lines):
            line = self.lines[j]
            if (
                _is_heading(line.text)
                or "|" in line.text
                or word_count(line.text) > SHORT_LINE_WORDS
            ):
                break
            self._prose(line, section=name)
            j += 1
        self.open_block = None
        return j


# --- references ---------------------------------------------------------------------


def _reference_span(line: _Line) -> tuple[int, int, int]:
    """(n, start, end) of a reference's citation text, without prefix and link labels."""
    m = _REFERENCE_LINE.match(line.text)
    if not m:
        raise ValueError(f"not a reference entry at offset {line.start}")
    body = _REFERENCE_LINKS.sub("", line.text[m.end() :]).rstrip()
    if not body:
        raise ValueError(f"reference {m.group('n')} has no citation text")
    start = line.start + m.end()
    return int(m.group("n")), start, start + len(body)


def _parse_references(lines: list[_Line]) -> dict[int, tuple[int, int]]:
    spans = {}
    for expected, line in enumerate(lines, start=1):
        n, start, end = _reference_span(line)
        if n != expected:
            raise ValueError(f"reference list out of order: found {n}, expected {expected}")
        spans[n] = (start, end)
    if not spans:
        raise ValueError("no reference list found")
    return spans


def _title(citation: str) -> str:
    """A reference's title: the segment after the authors ("Authors.. Title. Journal")."""
    segments = [s for s in re.split(r"\.(?:\s*\.)*\s+", citation) if s]
    return segments[1] if len(segments) > 1 else citation


# --- context ------------------------------------------------------------------------


def _context(*parts: str | None) -> str:
    """Join the non-empty parts, capped at MAX_CONTEXT_WORDS words."""
    words = ". ".join(p for p in parts if p).split()
    return " ".join(words[:MAX_CONTEXT_WORDS])


def _programme_phrase(programme: Programme) -> str:
    return f"{programme.condition.lower()} programme, {programme.setting}"


def _attribution_phrase(
    attribution: _Attribution | None, programmes: dict[str, Programme]
) -> str | None:
    """e.g. "programme leader, Programme F, cancer programme, hospital-based"."""
    if attribution is None:
        return None
    parts = []
    if attribution.role:
        parts.append(ROLE_WORDS[attribution.role])
    if attribution.programme:
        programme = programmes.get(attribution.programme)
        if programme is None:
            raise ValueError(f"attribution to Programme {attribution.programme}, not in Table 2")
        parts += [f"Programme {programme.programme}", _programme_phrase(programme)]
    return ", ".join(parts)


# --- tables 1 and 2: characteristics and programmes ---------------------------------


def _table_caption(table: _Table) -> str:
    header = " | ".join(cell.text for row in table.header for cell in _cells(row))
    return f"{table.name}: {header}"


def _characteristics(table: _Table) -> tuple[list[_Draft], dict[str, int]]:
    """Table 1 rows as passages (group headers fold into context), plus interviewees."""
    drafts, interviewees = [], {}
    caption, group = _table_caption(table), None
    for row in table.rows:
        cells = _cells(row)
        if len(cells) == 1:
            group = cells[0].text  # "Age (in years) | |" heads the rows below it
            continue
        if len(cells) != 2:
            raise ValueError(f"{table.name}: expected 2 cells at offset {row.start}")
        programme = _PROGRAMME_CELL.match(cells[0].text)
        letter = programme.group("letter") if programme else None
        if letter:
            count = _LEADING_COUNT.match(cells[1].text)
            if not count:
                raise ValueError(f"{table.name}: no interviewee count for Programme {letter}")
            interviewees[letter] = int(count.group(1))
        start, end = _row_span(row)
        drafts.append(
            _Draft(start, end, table.name, "table_row", _context(caption, group), programme=letter)
        )
    return drafts, interviewees


@dataclass(frozen=True)
class _ProgrammeRow:
    letter: str
    condition: str
    setting: str
    reach: str
    description: str


def _programme_row(table: _Table, row: _Line) -> _ProgrammeRow:
    """Parse a Table 2 row from the right: empty checkmark cells were dropped, so
    column positions are unreliable but the last three cells are not."""
    cells = [c.text for c in _cells(row)]
    first = _PROGRAMME_CELL.match(cells[0]) if cells else None
    if not first or len(cells) < 4 or any(c != _CHECKMARK for c in cells[1:-3]):
        raise ValueError(f"{table.name}: unexpected programme row at offset {row.start}")
    split = _CONDITION_SETTING.match(cells[-3])
    if not split:
        raise ValueError(f"{table.name}: no setting in {cells[-3]!r}")
    return _ProgrammeRow(
        first.group("letter"), split["condition"], split["setting"], cells[-2], cells[-1]
    )


def _programme_table(table: _Table) -> tuple[list[_Draft], list[_ProgrammeRow]]:
    """Table 2 rows as passages; rows that do not name a programme are sub-headers."""
    sub_header = [r for r in table.rows if not _PROGRAMME_CELL.match(_cells(r)[0].text)]
    body = [r for r in table.rows if r not in sub_header]
    sub_columns = " | ".join(c.text for r in sub_header for c in _cells(r))
    columns = f"{_table_caption(table)}; checkmark sub-columns: {sub_columns}"
    drafts, parsed = [], []
    for row in body:
        p = _programme_row(table, row)
        parsed.append(p)
        summary = f"Programme {p.letter}: {p.condition}, {p.setting}, reach {p.reach}"
        start, end = _row_span(row)
        drafts.append(
            _Draft(
                start, end, table.name, "table_row", _context(columns, summary), programme=p.letter
            )
        )
    if not parsed:
        raise ValueError(f"{table.name}: no programme rows")
    return drafts, parsed


def _programmes(rows: list[_ProgrammeRow], interviewees: dict[str, int]) -> list[Programme]:
    letters = [r.letter for r in rows]
    if sorted(letters) != sorted(interviewees) or len(set(letters)) != len(letters):
        raise ValueError(
            f"{PROGRAMME_TABLE} programmes {letters} do not match {CHARACTERISTICS_TABLE} "
            f"interviewee counts {sorted(interviewees)}"
        )
    return [
        Programme(
            programme=r.letter,
            condition=r.condition,
            setting=r.setting,
            reach=r.reach,
            description=r.description,
            interviewees=interviewees[r.letter],
        )
        for r in rows
    ]


# --- tables 3 and 4: quotes ---------------------------------------------------------


def _quote_attribution(table: _Table, cell: _Line) -> _Attribution:
    m = _ATTRIBUTION.search(cell.text)
    if not m or m.end() != len(cell.text) or not m["programme"] or not m["role"]:
        raise ValueError(
            f"{table.name}: quote without a (programme, role) attribution at {cell.start}"
        )
    return _Attribution(m["programme"], ROLE_CODES[m["role"]])


def _quote_table(table: _Table, programmes: dict[str, Programme]) -> list[_Draft]:
    """One quote passage per row; continuation rows carry the theme down."""
    stance = QUOTE_TABLE_STANCE[table.name]
    rows = table.rows
    caption = _table_caption(table)
    first = _cells(rows[0]) if rows else []
    if len(first) == 2 and not _ATTRIBUTION.search(first[1].text):
        caption = f"{caption}. {first[0].text}"  # a legend row: "Benefits of … | PL—…"
        rows = rows[1:]
    drafts, theme = [], None
    for row in rows:
        cells = _cells(row)
        if len(cells) == 2:
            theme = cells[0].text
        elif len(cells) != 1 or theme is None:
            raise ValueError(f"{table.name}: expected a theme and a quote at offset {row.start}")
        quote = cells[-1]
        attribution = _quote_attribution(table, quote)
        who = _attribution_phrase(attribution, programmes)
        drafts.append(
            _Draft(
                quote.start,
                quote.end,
                table.name,
                "quote",
                _context(caption, f"Theme: {theme}", who),
                stance=stance,
                theme=theme,
                programme=attribution.programme,
                role=attribution.role,
            )
        )
    return drafts


# --- prose --------------------------------------------------------------------------


def _attribution(text: str, span: tuple[int, int], where: str) -> _Attribution | None:
    """The one attribution inside a sentence of Results prose, if any."""
    found = {
        _Attribution(m["programme"], ROLE_CODES.get(m["role"] or m["role_only"] or ""))
        for m in _ATTRIBUTION.finditer(text, *span)
    }
    if len(found) > 1:
        raise ValueError(f"{where}: one sentence carries several attributions at {span[0]}")
    return found.pop() if found else None


@dataclass(frozen=True)
class _Sentence:
    span: tuple[int, int]
    stance: str | None
    attribution: _Attribution | None


def _profile(section: str) -> tuple[str | None, str | None]:
    parent, _, sub = section.partition(" > ")
    return RESULTS_PROFILES[sub] if parent == "Results" and sub else (None, None)


def _sentences(text: str, block: _Block) -> list[_Sentence]:
    stance, _ = _profile(block.section)
    in_results = block.section.startswith("Results > ")
    sentences = []
    for line in block.lines:
        for span in sentence_spans(text, line.start, line.end):
            own = stance
            if stance == "challenge" and _MITIGATION.search(text, *span):
                own = "mitigation"
            who = _attribution(text, span, block.section) if in_results else None
            sentences.append(_Sentence(span, own, who))
    return sentences


def _segments(sentences: list[_Sentence]) -> list[list[_Sentence]]:
    """Cut where the stance changes, and right after an attributed sentence when a
    later one in the block has a different attribution, so that no passage carries
    one speaker's attribution while quoting another."""
    segments: list[list[_Sentence]] = []
    for i, sentence in enumerate(sentences):
        previous = sentences[i - 1] if i else None
        upcoming = next((s.attribution for s in sentences[i:] if s.attribution), None)
        speaker_changes = bool(
            previous and previous.attribution and upcoming and previous.attribution != upcoming
        )
        if previous is None or previous.stance != sentence.stance or speaker_changes:
            segments.append([])
        segments[-1].append(sentence)
    return segments


def _prose_context(
    section: str, theme: str | None, stance: str | None, who: str | None, cited: list[str]
) -> str:
    how = "How programmes address this challenge" if stance == "mitigation" else None
    cites = "; ".join(cited)
    return _context(section, theme and f"Theme: {theme}", how, who, cites and f"Cites: {cites}")


def _prose_drafts(
    text: str,
    block: _Block,
    max_words: int,
    programmes: dict[str, Programme],
    titles: dict[int, str],
) -> list[_Draft]:
    _, theme = _profile(block.section)
    drafts = []
    for segment in _segments(_sentences(text, block)):
        stance = segment[0].stance
        for start, end in chunk_spans(text, [s.span for s in segment], max_words):
            inside = (s.attribution for s in segment if start <= s.span[0] < end)
            attribution = next((a for a in inside if a), None)
            refs = cited_numbers(find_citations(text, len(titles), start, end))
            who = _attribution_phrase(attribution, programmes)
            drafts.append(
                _Draft(
                    start,
                    end,
                    block.section,
                    "paragraph",
                    _prose_context(block.section, theme, stance, who, [titles[n] for n in refs]),
                    stance=stance,
                    theme=theme,
                    programme=attribution.programme if attribution else None,
                    role=attribution.role if attribution else None,
                    ref_numbers=refs,
                )
            )
    return drafts


# --- assembly -----------------------------------------------------------------------


def _check_tables(skeleton: _Skeleton) -> None:
    missing = EXPECTED_TABLES - skeleton.tables.keys()
    extra = skeleton.tables.keys() - EXPECTED_TABLES
    if missing or extra:
        raise ValueError(f"tables: missing {sorted(missing)}, unexpected {sorted(extra)}")


def _check_profiles(skeleton: _Skeleton, table_themes: set[str]) -> None:
    unknown = [s for s in skeleton.results_subsections if s not in RESULTS_PROFILES]
    if unknown:
        raise ValueError(f"Results subsections without a stance/theme profile: {unknown}")
    themes = {theme for _, theme in RESULTS_PROFILES.values() if theme}
    if not themes <= table_themes:
        raise ValueError(f"Results themes not found in the quote tables: {themes - table_themes}")


def _passages(
    text: str, document: str, drafts: list[_Draft], references: dict[int, str]
) -> list[Passage]:
    drafts = sorted(drafts, key=lambda d: d.start)
    for before, after in zip(drafts, drafts[1:], strict=False):
        if before.end > after.start:
            raise ValueError(f"overlapping passages at offsets {before.start} and {after.start}")
    return [
        Passage(
            id=f"{document}:{i:04d}",
            text=text[d.start : d.end],
            document=document,
            section=d.section,
            kind=d.kind,
            stance=d.stance,
            theme=d.theme,
            programme=d.programme,
            role=d.role,
            ref_numbers=d.ref_numbers,
            references=[Reference(n=n, citation=references[n]) for n in d.ref_numbers],
            char_start=d.start,
            char_end=d.end,
            context=d.context,
        )
        for i, d in enumerate(drafts)
    ]


def _reference_drafts(spans: dict[int, tuple[int, int]]) -> list[_Draft]:
    return [
        _Draft(start, end, "References", "reference", f"References. Reference {n}", ref_numbers=[n])
        for n, (start, end) in spans.items()
    ]


def parse_paper(text: str, info: DocumentInfo, max_words: int = 120) -> ParsedDocument:
    """Cut the paper into verbatim, typed passages with programme records."""
    skeleton = _Scanner(text).scan()
    ref_spans = _parse_references(skeleton.references)
    references = {n: text[s:e] for n, (s, e) in ref_spans.items()}
    titles = {n: _title(c) for n, c in references.items()}
    _check_tables(skeleton)

    row_drafts, interviewees = _characteristics(skeleton.tables[CHARACTERISTICS_TABLE])
    programme_drafts, programme_rows = _programme_table(skeleton.tables[PROGRAMME_TABLE])
    programmes = _programmes(programme_rows, interviewees)
    by_letter = {p.programme: p for p in programmes}
    quote_drafts = [
        d for name in QUOTE_TABLE_STANCE for d in _quote_table(skeleton.tables[name], by_letter)
    ]
    _check_profiles(skeleton, {d.theme for d in quote_drafts if d.theme})

    drafts = row_drafts + programme_drafts + quote_drafts + _reference_drafts(ref_spans)
    for block in skeleton.blocks:
        drafts += _prose_drafts(text, block, max_words, by_letter, titles)
    passages = _passages(text, info.id, drafts, references)
    by_kind = dict(Counter(p.kind for p in passages))
    info = info.model_copy(update={"passages": len(passages), "by_kind": by_kind})
    return ParsedDocument(info=info, text=text, passages=passages, programmes=programmes)
