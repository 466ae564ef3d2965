"""Structure-aware parser for the bundled paper format.

The format (PMC full text as plain text): one paragraph per line, headings on lines
of their own, "Table N." captions followed by pipe-table rows, and a "- N. ..."
reference list. The parser cuts it into verbatim passages (`text` is always an
exact slice of the source) and puts everything it infers (section path, theme,
stance, programme, role, cited references, retrieval context) in metadata.

paper_skeleton.py reads the source's structure (sections, prose blocks, tables, reference
lines); this module cuts it into passages (tables 1-4, prose, references) with their
metadata. Anything that does not fit the expected structure raises ValueError naming
what is wrong, so a changed source fails loudly instead of silently losing passages.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from peerqa.ingest.citations import cited_numbers, find_citations
from peerqa.ingest.paper_skeleton import (
    Block,
    Line,
    Scanner,
    Skeleton,
    Table,
    parse_references,
    reference_title,
    row_cells,
    row_span,
)
from peerqa.models import (
    ROLE_WORDS,
    DocumentInfo,
    ParsedDocument,
    Passage,
    Programme,
    Reference,
)
from peerqa.segment import chunk_spans, sentence_spans

MAX_CONTEXT_WORDS = 60

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


def _table_caption(table: Table) -> str:
    header = " | ".join(cell.text for row in table.header for cell in row_cells(row))
    return f"{table.name}: {header}"


def _characteristics(table: Table) -> tuple[list[_Draft], dict[str, int]]:
    """Table 1 rows as passages (group headers fold into context), plus interviewees."""
    drafts, interviewees = [], {}
    caption, group = _table_caption(table), None
    for row in table.rows:
        cells = row_cells(row)
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
        start, end = row_span(row)
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


def _programme_row(table: Table, row: Line) -> _ProgrammeRow:
    """Parse a Table 2 row from the right: empty checkmark cells were dropped, so
    column positions are unreliable but the last three cells are not."""
    cells = [c.text for c in row_cells(row)]
    first = _PROGRAMME_CELL.match(cells[0]) if cells else None
    if not first or len(cells) < 4 or any(c != _CHECKMARK for c in cells[1:-3]):
        raise ValueError(f"{table.name}: unexpected programme row at offset {row.start}")
    split = _CONDITION_SETTING.match(cells[-3])
    if not split:
        raise ValueError(f"{table.name}: no setting in {cells[-3]!r}")
    return _ProgrammeRow(
        first.group("letter"), split["condition"], split["setting"], cells[-2], cells[-1]
    )


def _programme_table(table: Table) -> tuple[list[_Draft], list[_ProgrammeRow]]:
    """Table 2 rows as passages; rows that do not name a programme are sub-headers."""
    sub_header = [r for r in table.rows if not _PROGRAMME_CELL.match(row_cells(r)[0].text)]
    body = [r for r in table.rows if r not in sub_header]
    sub_columns = " | ".join(c.text for r in sub_header for c in row_cells(r))
    columns = f"{_table_caption(table)}; checkmark sub-columns: {sub_columns}"
    drafts, parsed = [], []
    for row in body:
        p = _programme_row(table, row)
        parsed.append(p)
        summary = f"Programme {p.letter}: {p.condition}, {p.setting}, reach {p.reach}"
        start, end = row_span(row)
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


def _quote_attribution(table: Table, cell: Line) -> _Attribution:
    m = _ATTRIBUTION.search(cell.text)
    if not m or m.end() != len(cell.text) or not m["programme"] or not m["role"]:
        raise ValueError(
            f"{table.name}: quote without a (programme, role) attribution at {cell.start}"
        )
    return _Attribution(m["programme"], ROLE_CODES[m["role"]])


def _quote_table(table: Table, programmes: dict[str, Programme]) -> list[_Draft]:
    """One quote passage per row; continuation rows carry the theme down."""
    stance = QUOTE_TABLE_STANCE[table.name]
    rows = table.rows
    caption = _table_caption(table)
    first = row_cells(rows[0]) if rows else []
    if len(first) == 2 and not _ATTRIBUTION.search(first[1].text):
        caption = f"{caption}. {first[0].text}"  # a legend row: "Benefits of … | PL—…"
        rows = rows[1:]
    drafts, theme = [], None
    for row in rows:
        cells = row_cells(row)
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


def _sentences(text: str, block: Block) -> list[_Sentence]:
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
    block: Block,
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


def _check_tables(skeleton: Skeleton) -> None:
    missing = EXPECTED_TABLES - skeleton.tables.keys()
    extra = skeleton.tables.keys() - EXPECTED_TABLES
    if missing or extra:
        raise ValueError(f"tables: missing {sorted(missing)}, unexpected {sorted(extra)}")


def _check_profiles(skeleton: Skeleton, table_themes: set[str]) -> None:
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
    skeleton = Scanner(text).scan()
    ref_spans = parse_references(skeleton.references)
    references = {n: text[s:e] for n, (s, e) in ref_spans.items()}
    titles = {n: reference_title(c) for n, c in references.items()}
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
