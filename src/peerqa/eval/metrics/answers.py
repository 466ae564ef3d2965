"""Answer checks: each answer (ours, or the top search passage as the baseline's) scored
against its question, and the answer-level figures summarised over a group of them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from statistics import fmean

from pydantic import BaseModel, Field, computed_field

from peerqa.eval.metrics.pieces import (
    Piece,
    cuts_quote,
    leads_with_gold,
    locate_piece,
    quote_spans,
    sentence_spans,
    verbatim_piece,
)
from peerqa.eval.metrics.retrieval import Span, snippets_found
from peerqa.eval.questions import GoldSpan, Question
from peerqa.models import Answer

# One or more adjacent markers close a cited sentence: "… alone. [1][3]".
_MARKER_GROUP = re.compile(r"((?:\s*\[\d+\])+)")
_MARKER = re.compile(r"\[\d+\]")
# Left over at a segment's start by the previous sentence's punctuation or a list bullet.
_LEAD = " \t.;,:-•*"


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
        verbatim_piece(
            top.text[s:e], top, top.char_start + s, top.char_start + e, held, gold, quotes
        )
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
