"""Specifications of the answer checks (eval/metrics/answers.py, pieces.py) on tiny
hand-made answers: cited sentences located by span, invented citations, the answer-level
figures."""

from __future__ import annotations

from peerqa.eval.metrics import (
    check_answer,
    check_top_passage,
    cited_sentences,
    cuts_quote,
    quote_spans,
    sentence_spans,
    summarise_answers,
)
from peerqa.eval.questions import GoldSpan, Question
from peerqa.models import Answer, Caveat, Citation

DOC = "doc"


def asked(gold_snippets: list[str]) -> Question:
    """A plain in-scope question with this gold."""
    return Question(id="q999", question="?", category="benefits", in_scope=True,
                    split="test", gold=gold_snippets)  # fmt: skip


# -- answers -------------------------------------------------------------------------
PASSAGE_TEXT = "Peers made them feel less alone. Mentors shared practical tips."


def citation(marker: str, text: str = PASSAGE_TEXT, start: int = 0) -> Citation:
    return Citation(
        id=f"p{marker}",
        text=text,
        document=DOC,
        section="Results",
        kind="paragraph",
        char_start=start,
        char_end=start + len(text),
        score=1.0,
        marker=marker,
    )


SOURCES = {DOC: PASSAGE_TEXT + " Unrelated text follows here."}


def answer(text: str, citations: list[Citation], abstained: bool = False) -> Answer:
    return Answer(question="?", answer=text, abstained=abstained, citations=citations)


def test_answer_text_splits_into_cited_sentences():
    text = "Peers made them feel less alone. [1] Mentors shared practical tips. [1][2]\nNo marker."
    assert [(s.text, s.markers) for s in cited_sentences(text)] == [
        ("Peers made them feel less alone.", ["[1]"]),
        ("Mentors shared practical tips.", ["[1]", "[2]"]),
    ]


def test_verbatim_sentences_must_be_substrings_of_a_cited_passage():
    other = citation("[2]", "Unrelated text follows here.", len(PASSAGE_TEXT) + 1)
    check = check_answer(
        "q",
        "benefits",
        True,
        answer(
            "Peers made them feel less alone. [1] Peers made people feel less lonely. [1] "
            "Mentors shared practical tips. [2]",
            [citation("[1]"), other],
        ),
        [],
        SOURCES,
    )
    assert (check.sentences, check.verbatim) == (3, 1)
    # paraphrase, and a verbatim sentence cited to the wrong passage
    assert check.not_verbatim == [
        "Peers made people feel less lonely.",
        "Mentors shared practical tips.",
    ]
    assert check.invented == 0


def test_invented_citations_are_unresolved_unused_or_misquoted():
    misquoted = citation("[3]", "Peers made them feel less lonely.")
    check = check_answer(
        "q",
        "benefits",
        True,
        answer(
            "Peers made them feel less alone. [1] Mentors shared practical tips. [4] "
            "Peers made them feel less lonely. [3]",
            [citation("[1]"), citation("[2]"), misquoted],
        ),
        [],
        SOURCES,
    )
    assert check.unresolved_markers == ["[4]"]  # no citation behind it
    assert check.unused_citations == ["[2]"]  # listed but never cited in the text
    assert check.misquoted_citations == ["[3]"]  # not the source text at its offsets
    assert check.invented == 3


def test_evidence_and_abstention_rates():
    evidence = [GoldSpan(snippet=0, document=DOC, char_start=0, char_end=32)]
    cited = answer("Peers made them feel less alone. [1]", [citation("[1]")])
    refused = answer("I can't answer that from the evidence.", [], abstained=True)
    checks = [
        check_answer("q1", "benefits", True, cited, evidence, SOURCES),
        check_answer("q2", "benefits", True, refused, evidence, SOURCES),
        check_answer("q3", "out_of_scope", False, refused, [], SOURCES),
        check_answer("q4", "medical_advice", False, cited, [], SOURCES),
    ]
    assert [c.has_evidence for c in checks] == [True, False, False, False]
    scores = summarise_answers(checks)
    assert scores.evidence_rate == 0.5
    assert scores.in_scope_wrongly_abstained == 0.5
    assert scores.out_of_scope_abstained == 0.5
    assert scores.verbatim_rate == 1.0
    assert scores.invented_citations == 0


# -- answer-level figures --------------------------------------------------------------
# A small source: a paragraph (gold is its second sentence), a quote, a table row and a
# reference, each a passage of its own line.
PARA = "Mentors came from many places. Peers helped patients feel less alone in treatment."
QUOTE = "“I was scared. Then my mentor called and it got easier.” (E, PS)"
ROW = "Programme C | √ | √ | Offers telephone support for new mothers for twelve weeks. |"
REF = "- 5. Dennis CL, Hodnett E, Kenton L.. Effect of peer support. BMJ. 2009;338(7689):a3064."
LINES = [PARA, QUOTE, ROW, REF]
TEXT = "\n".join(LINES)
STARTS_AT = [TEXT.index(line) for line in LINES]
KINDS = ["paragraph", "quote", "table_row", "reference"]
SRC = {DOC: TEXT}
GOLD_TEXT = "Peers helped patients feel less alone in treatment"
GOLD = [
    GoldSpan(
        snippet=0,
        document=DOC,
        char_start=TEXT.index(GOLD_TEXT),
        char_end=TEXT.index(GOLD_TEXT) + len(GOLD_TEXT),
    )
]


def cite(marker: str, line: int) -> Citation:
    return Citation(
        id=f"p{line}",
        text=LINES[line],
        document=DOC,
        section="Table 2" if line == 2 else "Results",
        kind=KINDS[line],
        char_start=STARTS_AT[line],
        char_end=STARTS_AT[line] + len(LINES[line]),
        score=1.0,
        marker=marker,
    )


def check(text: str, citations: list[Citation], category: str = "benefits", **kw):
    return check_answer("q", category, True, answer(text, citations), GOLD, SRC, **kw)


def test_sentences_and_quotations_are_found_by_span():
    assert [PARA[s:e] for s, e in sentence_spans(PARA)] == [
        "Mentors came from many places.",
        "Peers helped patients feel less alone in treatment.",
    ]
    nested = "He said “she told me “go” and I went” then."
    assert [nested[s:e] for s, e in quote_spans(nested)] == [
        "“she told me “go” and I went”",
        "“go”",
    ]
    (q,) = quote_spans(QUOTE)
    assert not cuts_quote(q[0], q[1], [q])  # opening to closing mark
    assert not cuts_quote(0, len(QUOTE), [q])  # the quote and its attribution
    assert cuts_quote(q[0], q[0] + 15, [q])  # "“I was scared." alone
    assert not cuts_quote(q[1] + 1, len(QUOTE), [q])  # only the attribution


def test_the_gold_must_be_in_a_cited_sentence_not_just_its_passage():
    lead_with_gold = check(
        f"{PARA.split('. ')[1]} [1] Mentors came from many places. [1]", [cite("[1]", 0)]
    )
    assert lead_with_gold.text_holds_gold and lead_with_gold.first_holds_gold
    assert lead_with_gold.padding == 0  # the other sentence's passage holds gold

    beside_the_gold = check("Mentors came from many places. [1]", [cite("[1]", 0)])
    assert beside_the_gold.has_evidence  # the passage holds gold…
    assert not beside_the_gold.text_holds_gold  # …the sentence the answer gives does not

    late = check(
        "Offers telephone support for new mothers for twelve weeks. [1] "
        "Peers helped patients feel less alone in treatment. [2]",
        [cite("[1]", 2), cite("[2]", 0)],
    )
    assert late.text_holds_gold and not late.first_holds_gold
    assert late.padding == 1  # the table cell: no gold, from a passage with none


def test_a_row_cell_inside_a_gold_written_across_cells_holds_it():
    # Gold written across two cells of a row; the answer shows the row cell by cell, and
    # the cell it leads with is gold text though it covers under half of the span.
    row = "Programme B | √ | Mental illness community-based | National |"
    source = {DOC: row}
    across = "Mental illness community-based | National |"
    at = row.index(across)
    row_gold = [GoldSpan(snippet=0, document=DOC, char_start=at, char_end=at + len(across))]
    # The fixture's table row citation, pointed at this row.
    cited = cite("[1]", 2).model_copy(update={"text": row, "char_start": 0, "char_end": len(row)})
    held = check_answer(
        "q", "programmes", True, answer("Programme B: National [1]", [cited]), row_gold, source
    )
    assert held.text_holds_gold and held.first_holds_gold and held.padding == 0
    # Only a table row's cells: a sentence inside a longer prose gold still has to cover
    # half of it.
    para_gold = [GoldSpan(snippet=0, document=DOC, char_start=0, char_end=len(PARA))]
    first = check_answer(
        "q",
        "benefits",
        True,
        answer("Mentors came from many places. [1]", [cite("[1]", 0)]),
        para_gold,
        SRC,
    )
    assert not first.text_holds_gold


def test_an_answer_leads_with_its_first_sentence_or_a_whole_quote():
    pasted = check(f"{PARA} [1]", [cite("[1]", 0)])  # the whole passage as one "sentence"
    assert pasted.text_holds_gold and not pasted.first_holds_gold

    said = "Then my mentor called and it got easier"
    at = TEXT.index(said)
    in_quote = [GoldSpan(snippet=0, document=DOC, char_start=at, char_end=at + len(said))]
    whole = QUOTE[: QUOTE.index(" (E")]
    quoted = answer(f"{whole} [1]", [cite("[1]", 1)])
    assert check_answer("q", "benefits", True, quoted, in_quote, SRC).first_holds_gold
    top = check_top_passage(asked([said]), cite("[1]", 1), in_quote, SRC)
    assert top.first_holds_gold  # the quotation that opens the passage is its lead


def test_raw_table_rows_references_and_cut_quotes_are_counted():
    raw = check(f"{ROW} [1]", [cite("[1]", 2)])
    assert raw.table_rows == 1 and raw.verbatim == 1
    labelled = check(
        "Programme C: Offers telephone support for new mothers for twelve weeks. [1]",
        [cite("[1]", 2)],
    )
    assert labelled.table_rows == 0 and labelled.verbatim == 1  # label words are the source's
    invented_label = check(
        "Survival doubled: Offers telephone support for new mothers for twelve weeks. [1]",
        [cite("[1]", 2)],
    )
    assert invented_label.verbatim == 0

    entry = "Dennis CL, Hodnett E, Kenton L.. Effect of peer support."
    assert check(f"{entry} [1]", [cite("[1]", 3)]).references == 1
    assert check(f"{entry} [1]", [cite("[1]", 3)], category="literature").references == 0
    # A question of another category that asks about the cited trials requested them.
    asked = check(f"{entry} [1]", [cite("[1]", 3)], category="not_reported", literature=True)
    assert asked.references == 0

    assert check("Then my mentor called and it got easier. [1]", [cite("[1]", 1)]).cut_quotes == 1
    whole = QUOTE[: QUOTE.index(" (E")]
    assert check(f"{whole} [1]", [cite("[1]", 1)]).cut_quotes == 0


def test_caveats_and_decline_reasons_are_checked_against_the_expectation():
    caveat = Caveat(kind="false_premise", text="The study covers Programmes A-G.")
    text = f"{caveat.text} Peers helped patients feel less alone in treatment. [1]"
    given = Answer(
        question="?", answer=text, abstained=False, caveat=caveat, citations=[cite("[1]", 0)]
    )
    ok = check_answer("q", "false_premise", True, given, GOLD, SRC, expect="false_premise")
    assert ok.caveat == "false_premise" and ok.verbatim == 1 and ok.first_holds_gold
    missing = check(
        "Peers helped patients feel less alone in treatment. [1]",
        [cite("[1]", 0)],
        category="not_reported",
        expect="not_reported",
    )
    plain_with_caveat = check_answer("q2", "benefits", True, given, GOLD, SRC)
    refused = Answer(question="?", answer="No.", abstained=True, reason_code="out_of_scope")
    wrong_reason = check_answer(
        "q3", "clinical_fact", False, refused, [], SRC, expect_reason="medical_advice"
    )
    right_reason = check_answer(
        "q4", "out_of_scope", False, refused, [], SRC, expect_reason="out_of_scope"
    )
    scores = summarise_answers([ok, missing, plain_with_caveat, wrong_reason, right_reason])
    assert scores.caveat_correct == 0.5
    assert scores.spurious_caveat == 1.0
    assert scores.out_of_scope_abstained == 1.0
    assert scores.declined_right_reason == 0.5


def test_the_top_passage_baseline_is_scored_like_an_answer():
    top = cite("[1]", 0)
    base = check_top_passage(asked([GOLD_TEXT]), top, GOLD, SRC)
    assert base.text_holds_gold and not base.first_holds_gold
    assert (base.padding, base.table_rows, base.abstained) == (0, 0, False)
    row = check_top_passage(asked([GOLD_TEXT]), cite("[1]", 2), GOLD, SRC)
    assert not row.text_holds_gold and row.table_rows == 1 and row.padding == 1
    scores = summarise_answers([base, row])
    assert (scores.text_holds_gold, scores.first_holds_gold) == (0.5, 0.0)
    assert (scores.padding_mean, scores.padding_share) == (0.5, 0.5)
    assert scores.table_or_reference == 0.5
