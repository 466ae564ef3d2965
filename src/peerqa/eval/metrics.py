"""Retrieval and answer metrics, scored by character span against the gold evidence.

Relevance. A passage (or the part of it that was read) is relevant to a gold occurrence
when both lie in the same document and their [char_start, char_end) spans overlap by at
least half of the gold span (containing the gold span is the full case). A question's
gold snippets are distinct evidence; a snippet found at any of its occurrences is found.

Reading budget. A reader goes down the ranking reading at most BUDGET_WORDS words
(whitespace-separated tokens, as `str.split()` counts them). Every passage that fits is
read whole; the passage that crosses the budget is read up to its last word within the
budget (its span is cut there, so only gold inside the words read can count) and the
ones after it are not read at all. The first passage is therefore always read, up to
BUDGET_WORDS words. Recall@5 and MRR@10 only see what was read, so big chunks cannot buy
recall; nDCG@10 is the unbudgeted ranx figure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from statistics import fmean
from typing import Protocol

from pydantic import BaseModel, Field, computed_field, field_serializer

from peerqa.eval.questions import GoldSpan, Question
from peerqa.models import Answer, Citation
from peerqa.words import SPACED_WORD as _WORD
from peerqa.words import words_of as _words

BUDGET_WORDS = 600
RECALL_K = 5
MRR_K = 10
NDCG_K = 10

# One or more adjacent markers close a cited sentence: "… alone. [1][3]".
_MARKER_GROUP = re.compile(r"((?:\s*\[\d+\])+)")
_MARKER = re.compile(r"\[\d+\]")
# Left over at a segment's start by the previous sentence's punctuation or a list bullet.
_LEAD = " \t.;,:-•*"


class Span(Protocol):
    """A ranked passage with its offsets: our ScoredPassage and the baselines' chunks alike."""

    @property
    def id(self) -> str: ...
    @property
    def document(self) -> str: ...
    @property
    def char_start(self) -> int: ...
    @property
    def char_end(self) -> int: ...
    @property
    def text(self) -> str: ...


class ReadSpan(BaseModel):
    """What the reader actually read of one ranked passage."""

    id: str
    document: str
    char_start: int
    char_end: int


# -- relevance and budget ---------------------------------------------------
def covers(document: str, start: int, end: int, gold: GoldSpan) -> bool:
    if document != gold.document:
        return False
    overlap = min(end, gold.char_end) - max(start, gold.char_start)
    return 2 * overlap >= gold.char_end - gold.char_start


def piece_holds(document: str, start: int, end: int, gold: GoldSpan, kind: str | None) -> bool:
    """A piece of an answer holds gold when it `covers` it, or when it is a table row's cell
    lying inside a gold span written across several cells of that row ("National" of
    "Mental illness community-based | National |"): an answer shows a row cell by cell, so
    no one cell covers half of such a span though each is gold text."""
    if covers(document, start, end, gold):
        return True
    return (
        kind == "table_row"
        and document == gold.document
        and gold.char_start <= start < end <= gold.char_end
    )


def snippets_found(read: ReadSpan | Span, gold: Iterable[GoldSpan]) -> set[int]:
    return {g.snippet for g in gold if covers(read.document, read.char_start, read.char_end, g)}


def read_within_budget(ranked: Sequence[Span], budget: int = BUDGET_WORDS) -> list[ReadSpan]:
    """The ranked passages a reader gets to, each cut to the words read (module docstring)."""
    read: list[ReadSpan] = []
    left = budget
    for passage in ranked:
        if left <= 0:
            break
        words = list(_WORD.finditer(passage.text))
        # Offsets stay exact because a passage's text is its source span.
        end = passage.char_start + words[left - 1].end() if len(words) > left else passage.char_end
        read.append(
            ReadSpan(
                id=passage.id,
                document=passage.document,
                char_start=passage.char_start,
                char_end=end,
            )
        )
        left -= len(words)
    return read


def found_in_first(
    read: Sequence[ReadSpan], gold: Sequence[GoldSpan], k: int = RECALL_K
) -> set[int]:
    """The distinct gold snippets (indices) found in the first k passages read."""
    return set().union(*(snippets_found(r, gold) for r in read[:k]))


def recall_at_k(read: Sequence[ReadSpan], gold: Sequence[GoldSpan], k: int = RECALL_K) -> float:
    return len(found_in_first(read, gold, k)) / _distinct(gold)


def first_relevant_rank(
    read: Sequence[ReadSpan], gold: Sequence[GoldSpan], k: int = MRR_K
) -> int | None:
    return next((rank for rank, r in enumerate(read[:k], 1) if snippets_found(r, gold)), None)


def reciprocal_rank(read: Sequence[ReadSpan], gold: Sequence[GoldSpan], k: int = MRR_K) -> float:
    rank = first_relevant_rank(read, gold, k)
    return 1 / rank if rank else 0.0


def _distinct(gold: Sequence[GoldSpan]) -> int:
    return len({g.snippet for g in gold})


def relevant_ids(universe: Iterable[Span], gold: Sequence[GoldSpan]) -> set[str]:
    """Qrels for one question: every passage of a system's index that holds gold evidence."""
    return {p.id for p in universe if snippets_found(p, gold)}


def ndcg_at_k(
    rankings: Mapping[str, Sequence[Span]],
    relevant: Mapping[str, set[str]],
    k: int = NDCG_K,
) -> dict[str, float]:
    """Per-question nDCG@k by ranx (binary grades). Questions with no relevant passage in
    the system's index score 0."""
    from ranx import Qrels, Run, evaluate  # slow import (numba): only when scoring

    qrels = Qrels.from_dict({q: dict.fromkeys(ids, 1) for q, ids in relevant.items() if ids})
    # ranx re-sorts by score and RRF scores tie; rank-derived scores keep the system's order.
    run = Run.from_dict(
        {
            q: {p.id: float(len(ranked) - i) for i, p in enumerate(ranked[:k])}
            for q, ranked in rankings.items()
            if ranked
        }
    )
    metric = f"ndcg@{k}"
    evaluate(qrels, run, metric, make_comparable=True)
    scores = run.scores[metric]
    return {q: float(scores.get(q, 0.0)) for q in rankings}


# -- retrieval per question and summaries -----------------------------------
class QuestionRetrieval(BaseModel):
    id: str
    category: str
    recall_at_5: float
    mrr_at_10: float
    ndcg_at_10: float = 0.0
    gold_found: int = Field(description="Distinct gold snippets among the first 5 passages read")
    gold_total: int
    missing_gold: list[int] = Field(description="Indices of the gold snippets not found")
    first_relevant_rank: int | None = Field(description="Within top 10 and the budget")
    ranked: list[str] = Field(description="Passage ids, best first")
    passages_read: int = Field(description="Ranked passages reached within the budget")


class RetrievalScores(BaseModel):
    n: int
    recall_at_5: float
    mrr_at_10: float
    ndcg_at_10: float


def score_question(
    qid: str, category: str, ranked: Sequence[Span], gold: Sequence[GoldSpan]
) -> QuestionRetrieval:
    """Budgeted Recall@5 and MRR@10 for one ranking; nDCG@10 is filled in per system."""
    read = read_within_budget(ranked)
    rank = first_relevant_rank(read, gold)
    found = found_in_first(read, gold)
    return QuestionRetrieval(
        id=qid,
        category=category,
        recall_at_5=recall_at_k(read, gold),
        mrr_at_10=1 / rank if rank else 0.0,
        gold_found=len(found),
        gold_total=_distinct(gold),
        missing_gold=sorted({g.snippet for g in gold} - found),
        first_relevant_rank=rank,
        ranked=[p.id for p in ranked],
        passages_read=len(read),
    )


def summarise_retrieval(rows: Sequence[QuestionRetrieval]) -> RetrievalScores:
    return RetrievalScores(
        n=len(rows),
        recall_at_5=fmean(r.recall_at_5 for r in rows),
        mrr_at_10=fmean(r.mrr_at_10 for r in rows),
        ndcg_at_10=fmean(r.ndcg_at_10 for r in rows),
    )


# -- answer-level figures ------------------------------------------------------------
# Holds gold. A piece of an answer (a cited sentence or quote, located at its exact span in
# the source) holds gold when that span overlaps a gold span by at least half of the gold
# span (`covers`). Pieces are located sentence by sentence, so citing a whole long passage
# earns nothing unless the sentence quoted from it is the one that answers.
MAX_LABEL_WORDS = 8  # "Programme C:" before a verbatim table cell
PIECE_CHARS = 60
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]*\s+(?=[\"“‘(]*[A-Z0-9])")
_TABLE_MARKS = re.compile(r"\s\|\s|\|\s*$|^\s*\||√")
_BIBLIOGRAPHY = re.compile(
    r"\[(?:DOI|PubMed|PMC free article|Google Scholar)\]"
    r"|^(?:[A-Z][\w’'-]+(?: [A-Z][\w’'-]+)* [A-Z]{1,3}, ){2,}"
    r"|\b(?:19|20)\d\d;\s?\d+\(\d+\):"
)
_FRONT_SECTION = re.compile(r"contributor|affiliation|author information|correspondence", re.I)
_ADDRESS = re.compile(r"\bDepartment of\b.*\b(?:University|Institute|Hospital|School)\b")
_OPEN, _CLOSE = "“", "”"
QuoteSpans = Mapping[str, Sequence[tuple[int, int]]]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of each sentence of `text` (a sentence ends in . ! or ?, optionally a
    closing quote or bracket, then whitespace and a capital, digit or opening quote)."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text.rstrip())))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def quote_spans(text: str) -> list[tuple[int, int]]:
    """Every “…” quotation of `text`, opening to closing mark inclusive, nested ones too.
    Marks pair within a line; an unpaired mark opens or closes nothing."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        stack: list[int] = []
        for i, ch in enumerate(line):
            if ch == _OPEN:
                stack.append(offset + i)
            elif ch == _CLOSE and stack:
                spans.append((stack.pop(), offset + i + 1))
        offset += len(line)
    return sorted(spans)


def lead_unit(
    source: str, start: int, end: int, quotes: Sequence[tuple[int, int]]
) -> tuple[int, int]:
    """The span an answer leads with inside [start, end): its first sentence, or, when a
    quotation opens in that sentence and closes within the span, up to its closing mark.
    A whole passage pasted as one "sentence" therefore leads with its first sentence only."""
    spans = sentence_spans(source[start:end])
    if not spans:
        return start, end
    lead_end = start + spans[0][1]
    for qs, qe in quotes:
        if start <= qs < lead_end and qe <= end:
            lead_end = max(lead_end, qe)
    return start, lead_end


def leads_with_gold(
    piece: Piece, sources: Mapping[str, str], gold: Sequence[GoldSpan], quotes: QuoteSpans
) -> bool:
    if piece.document is None or piece.char_start is None or piece.char_end is None:
        return False
    source = sources.get(piece.document, "")
    start, end = lead_unit(source, piece.char_start, piece.char_end, quotes.get(piece.document, ()))
    return any(piece_holds(piece.document, start, end, g, piece.kind) for g in gold)


def cuts_quote(start: int, end: int, quotes: Sequence[tuple[int, int]]) -> bool:
    """The span takes part of a quotation without its opening or closing mark."""
    return any(
        min(end, qe) > max(start, qs) and not (start <= qs and end >= qe) for qs, qe in quotes
    )


def raw_table_row(text: str) -> bool:
    return bool(_TABLE_MARKS.search(text))


def bibliography_entry(text: str) -> bool:
    return bool(_BIBLIOGRAPHY.search(text))


class Piece(BaseModel):
    """One cited sentence of an answer (or the baseline's passage), located in its source."""

    text: str
    marker: str | None = None
    document: str | None = None
    char_start: int | None = Field(default=None, description="None when not verbatim")
    char_end: int | None = None
    kind: str | None = Field(default=None, description="Kind of the cited passage")
    holds_gold: bool = False
    passage_holds_gold: bool = False
    table_row: bool = Field(default=False, description="Raw table row: pipes or ticks")
    reference: bool = Field(default=False, description="A bibliography entry")
    front_matter: bool = Field(default=False, description="Addresses, affiliations")
    cut_quote: bool = False

    @field_serializer("text")
    def _clipped(self, text: str) -> str:
        # Reports keep enough of each piece to recognise it; its offsets locate the rest.
        return text if len(text) <= PIECE_CHARS else text[: PIECE_CHARS - 1] + "…"

    @computed_field
    @property
    def padding(self) -> bool:
        return not self.holds_gold and not self.passage_holds_gold


def locate_piece(
    text: str,
    citations: Sequence[Citation],
    gold: Sequence[GoldSpan],
    sources: Mapping[str, str],
    quotes: Mapping[str, Sequence[tuple[int, int]]],
) -> Piece:
    """Find `text` in the first of `citations` that holds it verbatim (a short label ending
    in ": " whose words all occur in the source may precede it, as in "Programme C: <cell>")."""
    for c in citations:
        at, verbatim = _find_verbatim(text, c, sources.get(c.document, ""))
        if at >= 0:
            start = c.char_start + at
            held = bool(snippets_found(c, gold))
            return _piece(text, c, start, start + len(verbatim), held, gold, quotes)
    first = citations[0] if citations else None
    return Piece(
        text=text,
        marker=first.marker if first else None,
        kind=first.kind if first else None,
        passage_holds_gold=bool(first and snippets_found(first, gold)),
        table_row=raw_table_row(text),
        reference=bibliography_entry(text) or bool(first and first.kind == "reference"),
        front_matter=bool(_ADDRESS.search(text)),
    )


def _piece(
    text: str,
    passage: Citation | Span,
    start: int,
    end: int,
    passage_holds_gold: bool,
    gold: Sequence[GoldSpan],
    quotes: Mapping[str, Sequence[tuple[int, int]]],
) -> Piece:
    """A piece found verbatim at [start, end) of its passage's document."""
    kind = getattr(passage, "kind", None)
    return Piece(
        text=text,
        marker=getattr(passage, "marker", None),
        document=passage.document,
        char_start=start,
        char_end=end,
        kind=kind,
        holds_gold=any(piece_holds(passage.document, start, end, g, kind) for g in gold),
        passage_holds_gold=passage_holds_gold,
        table_row=raw_table_row(text),
        reference=kind == "reference" or bibliography_entry(text),
        front_matter=bool(
            _FRONT_SECTION.search(getattr(passage, "section", "")) or _ADDRESS.search(text)
        ),
        cut_quote=cuts_quote(start, end, quotes.get(passage.document, ())),
    )


def _find_verbatim(text: str, citation: Citation, source: str) -> tuple[int, str]:
    """Offset of `text` (or of what follows its label) in the citation's text, or -1."""
    if not text:
        return -1, text
    at = citation.text.find(text)
    if at >= 0:
        return at, text
    label, sep, rest = text.partition(": ")
    if sep and rest and len(label.split()) <= MAX_LABEL_WORDS:
        known = set(_words(source))
        if set(_words(label)) <= known:
            at = citation.text.find(rest)
            if at >= 0:
                return at, rest
    return -1, text


# -- answers ------------------------------------------------------------------
class CitedSentence(BaseModel):
    text: str
    markers: list[str]


class AnswerCheck(BaseModel):
    """One answer (ours, or the baseline's top passage) scored against its question."""

    id: str
    category: str
    in_scope: bool
    abstained: bool
    has_gold: bool = Field(default=False, description="The question has gold evidence")
    has_evidence: bool = Field(description="A citation holds gold evidence")
    text_holds_gold: bool = Field(default=False, description="A piece's span holds gold")
    first_holds_gold: bool = Field(default=False, description="The first piece holds gold")
    sentences: int = Field(description="Sentences carrying a marker")
    verbatim: int = Field(description="Of those, verbatim in a passage their marker names")
    not_verbatim: list[str] = Field(default_factory=list)
    unresolved_markers: list[str] = Field(default_factory=list)
    unused_citations: list[str] = Field(default_factory=list)
    misquoted_citations: list[str] = Field(
        default_factory=list, description="Citation text is not its source span"
    )
    padding: int = Field(default=0, description="Pieces holding no gold from passages holding none")
    table_rows: int = Field(default=0, description="Pieces pasting a raw table row")
    references: int = Field(default=0, description="Bibliography pieces, literature not asked")
    front_matter: int = Field(default=0, description="Pieces from addresses or affiliations")
    cut_quotes: int = Field(default=0, description="Pieces taking part of a quotation")
    words: int = Field(default=0, description="Words in the answer")
    expect: str | None = None
    caveat: str | None = Field(default=None, description="Kind of the answer's caveat")
    expect_reason: str | None = None
    reason_code: str | None = None
    pieces: list[Piece] = Field(default_factory=list)

    @computed_field
    @property
    def invented(self) -> int:
        return (
            len(self.unresolved_markers)
            + len(self.unused_citations)
            + len(self.misquoted_citations)
        )


def cited_sentences(answer_text: str) -> list[CitedSentence]:
    """Each "sentence [n]" segment: the text on the marker's line since the previous marker."""
    parts = _MARKER_GROUP.split(answer_text)
    return [
        CitedSentence(
            text=parts[i].rsplit("\n", 1)[-1].strip().lstrip(_LEAD).strip(),
            markers=_MARKER.findall(parts[i + 1]),
        )
        for i in range(0, len(parts) - 1, 2)
    ]


def check_answer(
    qid: str,
    category: str,
    in_scope: bool,
    answer: Answer,
    gold: Sequence[GoldSpan],
    sources: Mapping[str, str],
    *,
    expect: str | None = None,
    expect_reason: str | None = None,
    quotes: Mapping[str, Sequence[tuple[int, int]]] | None = None,
    literature: bool | None = None,
) -> AnswerCheck:
    quotes = quotes if quotes is not None else {d: quote_spans(t) for d, t in sources.items()}
    by_marker = {c.marker: c for c in answer.citations}
    text = answer.answer
    if answer.caveat and text.startswith(answer.caveat.text):
        text = text[len(answer.caveat.text) :]  # the caveat states, it cites nothing
    sentences = cited_sentences(text)
    used = {m for s in sentences for m in s.markers}
    pieces = [
        locate_piece(
            s.text, [by_marker[m] for m in s.markers if m in by_marker], gold, sources, quotes
        )
        for s in sentences
    ]
    literature = category == "literature" if literature is None else literature
    return AnswerCheck(
        id=qid,
        category=category,
        in_scope=in_scope,
        abstained=answer.abstained,
        has_gold=bool(gold),
        has_evidence=any(snippets_found(c, gold) for c in answer.citations),
        text_holds_gold=any(p.holds_gold for p in pieces),
        first_holds_gold=bool(pieces) and leads_with_gold(pieces[0], sources, gold, quotes),
        sentences=len(sentences),
        verbatim=sum(p.char_start is not None for p in pieces),
        not_verbatim=[
            s.text for s, p in zip(sentences, pieces, strict=True) if p.char_start is None
        ],
        unresolved_markers=sorted(used - by_marker.keys()),
        unused_citations=[c.marker for c in answer.citations if c.marker not in used],
        misquoted_citations=[
            c.marker
            for c in answer.citations
            if sources.get(c.document, "")[c.char_start : c.char_end] != c.text
        ],
        padding=sum(p.padding for p in pieces),
        table_rows=sum(p.table_row for p in pieces),
        references=0 if literature else sum(p.reference for p in pieces),
        front_matter=sum(p.front_matter for p in pieces),
        cut_quotes=sum(p.cut_quote for p in pieces),
        words=len(answer.answer.split()),
        expect=expect,
        caveat=answer.caveat.kind if answer.caveat else None,
        expect_reason=expect_reason,
        reason_code=answer.reason_code,
        pieces=pieces,
    )


def check_top_passage(
    question: Question,
    top: Span | None,
    gold: Sequence[GoldSpan],
    sources: Mapping[str, str],
    quotes: Mapping[str, Sequence[tuple[int, int]]] | None = None,
) -> AnswerCheck:
    """The baseline "the top search passage is the answer", scored like an answer: its
    text is the whole passage, its sentences are its pieces. It never declines or caveats.
    Its kind and section (table row, reference, front matter) are read from `top` when it
    has them (our passages do)."""
    quotes = quotes if quotes is not None else {d: quote_spans(t) for d, t in sources.items()}
    asked = question.model_dump(include={"id", "category", "in_scope", "expect", "expect_reason"})
    asked["has_gold"] = bool(gold)
    if top is None:
        return AnswerCheck(**asked, abstained=True, has_evidence=False, sentences=0, verbatim=0)
    held = bool(snippets_found(top, gold))
    literature = question.asks_literature
    pieces = [
        _piece(top.text[s:e], top, top.char_start + s, top.char_start + e, held, gold, quotes)
        for s, e in sentence_spans(top.text)
    ]
    whole_cut = cuts_quote(top.char_start, top.char_end, quotes.get(top.document, ()))
    return AnswerCheck(
        **asked,
        abstained=False,
        has_evidence=held,
        text_holds_gold=held,
        first_holds_gold=leads_with_gold(
            Piece(text="", document=top.document, char_start=top.char_start, char_end=top.char_end),
            sources,
            gold,
            quotes,
        ),
        sentences=len(pieces),
        verbatim=len(pieces),
        padding=sum(p.padding for p in pieces),
        table_rows=int(any(p.table_row for p in pieces)),
        references=0 if literature else int(any(p.reference for p in pieces)),
        front_matter=int(any(p.front_matter for p in pieces)),
        cut_quotes=int(whole_cut),
        words=len(top.text.split()),
        pieces=pieces,
    )


class AnswerScores(BaseModel):
    n: int
    evidence_rate: float | None = Field(description="In-scope answers citing gold evidence")
    verbatim_rate: float | None = Field(description="Marked sentences verbatim in their citation")
    sentences: int
    invented_citations: int = Field(description="Unresolved markers + unused + misquoted")
    answers_with_invented: int
    out_of_scope_abstained: float | None = Field(description="Should-decline questions declined")
    in_scope_wrongly_abstained: float | None
    with_gold: int = Field(default=0, description="Questions with gold evidence")
    text_holds_gold: float | None = Field(default=None, description="(a) over with_gold")
    first_holds_gold: float | None = Field(default=None, description="(b) over with_gold")
    padding_mean: float | None = Field(default=None, description="(c) per answer with gold")
    padding_share: float | None = Field(default=None, description="(c) answers with any")
    table_or_reference: float | None = Field(
        default=None, description="(d) answers with a raw table row or unrequested reference"
    )
    front_matter: int = Field(default=0, description="(d) pieces from addresses/affiliations")
    declined_right_reason: float | None = Field(
        default=None, description="(e) should-decline questions declined with expect_reason"
    )
    caveat_correct: float | None = Field(default=None, description="(g) over expect questions")
    spurious_caveat: float | None = Field(
        default=None, description="Plain in-scope answers carrying a caveat"
    )
    quotes_whole: float | None = Field(default=None, description="(h) answers cutting no quote")
    cut_quotes: int = 0
    words_mean: float | None = Field(default=None, description="Words per answer given")


def summarise_answers(checks: Sequence[AnswerCheck]) -> AnswerScores:
    in_scope = [c for c in checks if c.in_scope]
    out_scope = [c for c in checks if not c.in_scope]
    answered = [c for c in checks if not c.abstained]
    # Gold figures are over the plain in-scope questions; a group of caveat questions only
    # (a false_premise or not_reported category) is scored on its nearest evidence.
    with_gold = [c for c in in_scope if c.has_gold and not c.expect] or [
        c for c in in_scope if c.has_gold
    ]
    gold_answered = [c for c in with_gold if not c.abstained]
    expecting = [c for c in in_scope if c.expect]
    plain_answered = [c for c in in_scope if not c.expect and not c.abstained]
    sentences = sum(c.sentences for c in checks)
    return AnswerScores(
        n=len(checks),
        evidence_rate=_mean(c.has_evidence for c in with_gold),
        verbatim_rate=sum(c.verbatim for c in checks) / sentences if sentences else None,
        sentences=sentences,
        invented_citations=sum(c.invented for c in checks),
        answers_with_invented=sum(c.invented > 0 for c in checks),
        out_of_scope_abstained=_mean(c.abstained for c in out_scope),
        in_scope_wrongly_abstained=_mean(c.abstained for c in in_scope),
        with_gold=len(with_gold),
        text_holds_gold=_mean(c.text_holds_gold for c in with_gold),
        first_holds_gold=_mean(c.first_holds_gold for c in with_gold),
        padding_mean=fmean(c.padding for c in gold_answered) if gold_answered else None,
        padding_share=_mean(c.padding > 0 for c in gold_answered),
        table_or_reference=_mean(c.table_rows + c.references > 0 for c in answered),
        front_matter=sum(c.front_matter for c in checks),
        declined_right_reason=_mean(
            c.abstained and c.reason_code == c.expect_reason for c in out_scope
        ),
        caveat_correct=_mean(not c.abstained and c.caveat == c.expect for c in expecting),
        spurious_caveat=_mean(c.caveat is not None for c in plain_answered),
        quotes_whole=_mean(c.cut_quotes == 0 for c in answered),
        cut_quotes=sum(c.cut_quotes for c in checks),
        words_mean=fmean(c.words for c in answered) if answered else None,
    )


def _mean(values: Iterable[bool]) -> float | None:
    values = list(values)
    return fmean(values) if values else None
