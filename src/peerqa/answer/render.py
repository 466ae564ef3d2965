"""Stage 3, render: chosen units -> the answer text with [n] markers, and its citations.

Layout (what clients and eval parse):

    [caveat sentence, uncited: "The study does not report survival."]
    [NEAREST_HEADING when a caveat precedes evidence]
    [heading line: a paper's label when several papers speak, or a profile's grouped
     layout heading ("Challenges:")]
    sentence [n] sentence [n] …          (one paragraph of prose units)
    “whole quote” [n] — peer supporter, Programme F     (one line per quote)

Every piece of evidence is "verbatim text [n]", passage n containing the text. A table row
reads as "Label: cell [n]", then "Column: cell [n]" for another cell the question asks
about ("Programme B: Offers peer-to-peer support groups … [2] Programme location:
National [2]"): a short label, then a verbatim cell; the pipes are never shown.
Headings, the caveat and quote attributions carry no marker and state no evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from peerqa.answer.evidence import Unit
from peerqa.answer.profiles import Profile
from peerqa.answer.question import Question
from peerqa.models import ROLE_WORDS, Answer, Citation, Passage
from peerqa.words import content_words

NEAREST_HEADING = "Nearest evidence:"
_CELL = re.compile(r"[^|]+")
_EMPTY_CELL = re.compile(r"^[\s√✓✔xX*-]*$")
_CELL_SENTENCE = re.compile(r".+?(?:[.!?](?=\s+[A-Z])|$)")


@dataclass(frozen=True)
class Block:
    heading: str | None
    units: list[Unit]


def render(
    question: Question,
    blocks: Sequence[Block],
    profiles: dict[str, Profile],
    caveat_first: bool = False,
) -> Answer:
    markers: dict[str, Citation] = {}

    def cite(u: Unit) -> str:
        if u.passage.id not in markers:
            markers[u.passage.id] = Citation(
                **u.passage.model_dump(),
                context=u.passage.context,
                marker=f"[{len(markers) + 1}]",
            )
        return markers[u.passage.id].marker

    parts = []
    if caveat_first and question.caveat:
        parts.append(question.caveat.text)
    for i, block in enumerate(blocks):
        lines, prose = [], []
        for u in block.units:
            if u.is_quote:
                if prose:
                    lines.append(_spaced(prose))
                    prose = []
                lines.append(f"{u.text} {cite(u)} — {attribution(u.passage)}")
            else:
                marker = cite(u)
                prose += [f"{piece} {marker}" for piece in unit_pieces(u, question, profiles)]
        if prose:
            lines.append(_spaced(prose))
        if not lines:
            continue
        heading = block.heading
        if caveat_first and question.caveat and i == 0:
            heading = f"{NEAREST_HEADING}\n{heading}" if heading else NEAREST_HEADING
        parts.append("\n".join([heading, *lines] if heading else lines))
    return Answer(
        question=question.raw,
        answer="\n\n".join(parts),
        abstained=False,
        caveat=question.caveat,
        citations=list(markers.values()),
    )


def unit_pieces(unit: Unit, question: Question, profiles: dict[str, Profile]) -> list[str]:
    if unit.passage.kind == "table_row":
        # A row of a passage of several rows is read as a passage of its own.
        row = unit.passage
        if row.rows:
            row = row.model_copy(update={"text": unit.text})
        return row_pieces(row, question, profiles.get(unit.passage.document))
    return [unit.passage.text[start:end] for start, end in unit.pieces]


def _spaced(prose: list[str]) -> str:
    """Cited pieces one after another; a piece opening on punctuation (", peers …", the
    rest of a sentence cut around a citation) follows its marker without a space."""
    out = prose[0] if prose else ""
    for piece in prose[1:]:
        out += piece if piece[:1] in ",;:.)" else f" {piece}"
    return out


def attribution(passage: Passage) -> str:
    who = ROLE_WORDS.get(passage.role or "", "participant")
    return f"{who}, Programme {passage.programme}" if passage.programme else who


# -- table rows --------------------------------------------------------------------------
def cells(text: str) -> list[str]:
    """A row's non-empty cells, each a verbatim (trimmed) piece of the row; checkmark
    columns say nothing alone."""
    return [c.group().strip() for c in _CELL.finditer(text) if not _EMPTY_CELL.match(c.group())]


def columns_for(passage: Passage, data: list[str], profile: Profile | None) -> list[str | None]:
    """The column name of each data cell (label cell excluded), None where unknown."""
    layout = profile.tables.get(passage.section) if profile else None
    if layout:
        names = list(layout.columns)
        if layout.align == "right":
            names = names[-len(data) :] if len(data) <= len(names) else names
            return [None] * (len(data) - len(names)) + names
        return (names + [None] * len(data))[: len(data)]
    named = _header_columns(passage, len(data))
    if named is not None:
        return named
    header = _context_header(passage.context)
    if header and len(header) == len(data) + 1:
        return list(header[1:])
    return [None] * len(data)


def _header_columns(passage: Passage, n_data: int) -> list[str | None] | None:
    """The data cells' column names from the row's own header (a user paper's table
    keeps its column names there), matched cell by cell, empty cells included, so a
    skipped checkmark column does not shift the names; None when the header and the row
    do not line up."""
    if not passage.header:
        return None
    names = [h.strip() for h in passage.header.split("|")]
    text = passage.text.strip()
    raw = (text[1:] if text.startswith("|") else text).split("|")
    if text.endswith("|"):
        raw = raw[:-1]
    if len(raw) != len(names):
        return None
    kept = [name for name, cell in zip(names, raw, strict=True) if not _EMPTY_CELL.match(cell)]
    if len(kept) != n_data + 1:
        return None
    return [name or None for name in kept[1:]]


def _context_header(context: str) -> list[str] | None:
    """The header a row's retrieval context starts with: "Table 2: Setting | Reach | …"."""
    m = re.match(r"[^:\n]{1,40}:\s*([^.;\n]+\|[^.;\n]+)", context)
    return [h.strip() for h in m.group(1).split("|")] if m else None


def row_pieces(passage: Passage, question: Question, profile: Profile | None) -> list[str]:
    """A row as "Label: main cell", then "Column: cell" for any other cell the question
    asks about; each piece is a short label and a verbatim cell (or a sentence of one),
    cited on its own. The piece sharing most of the question's words goes first: a
    question about a programme's setting leads with its setting cell, one about what
    mentors discuss with the main cell's sentence saying so ("Programme C: Issues
    discussed may relate to mother or baby care."), the rest of the cell after it."""
    found = cells(passage.text)
    if len(found) < 2:
        return [passage.text.strip(" |")]
    label, data = found[0], found[1:]
    names = columns_for(passage, data, profile)
    layout = profile.tables.get(passage.section) if profile else None
    if layout is None:  # generic: the longest cell says most
        main = max(range(len(data)), key=lambda i: len(data[i]))
    else:
        main = _index_of(names, layout.main, len(data) - 1)
    if (layout is None or layout.name_main) and names[main]:
        prefix = f"{label} — {names[main]}: "
    else:
        prefix = f"{label}: "
    asked = [
        i for i in range(len(data)) if i != main and _asked(question, data[i], names[i], label)
    ]
    extras = {i: f"{names[i]}: {data[i]}" if names[i] else data[i] for i in asked}
    sentences = cell_sentences(data[main])
    shared = [_shared(question, t, label) for t in sentences + [data[i] for i in asked]]
    best = max(range(len(shared)), key=lambda i: (shared[i], -i))  # the first of the most
    if best >= len(sentences):  # another cell answers: it leads, under the row's label
        i = asked[best - len(sentences)]
        lead = f"{label} — {names[i]}: {data[i]}" if names[i] else f"{label}: {data[i]}"
        return [lead, prefix + data[main], *(e for j, e in extras.items() if j != i)]
    if best == 0:
        return [prefix + data[main], *extras.values()]
    before = data[main][: data[main].index(sentences[best])].strip()
    after = data[main][data[main].index(sentences[best]) + len(sentences[best]) :].strip()
    return [prefix + sentences[best], *(t for t in (before, after) if t), *extras.values()]


def cell_sentences(cell: str) -> list[str]:
    """A cell's sentences, each a verbatim piece of it."""
    return [m.group().strip() for m in _CELL_SENTENCE.finditer(cell) if m.group().strip()]


def _shared(question: Question, text: str, label: str) -> int:
    return len(question.keywords & (content_words(text) - content_words(label)))


def _index_of(names: list[str | None], wanted: str, default: int) -> int:
    return names.index(wanted) if wanted in names else default


def _asked(question: Question, cell: str, name: str | None, label: str) -> bool:
    """The question shares a word with the cell or its column name that is not a word
    of the row's own label ("programme" of "Programme C" asks for no column)."""
    words = content_words(cell) | (content_words(name) if name else set())
    return bool(question.keywords & (words - content_words(label)))
