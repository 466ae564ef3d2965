"""Specifications of the eval metrics on tiny hand-made rankings, and one real eval run.

Synthetic sources are runs of numbered words ("w0 w1 w2 …"), so a passage or a gold
snippet is just a word range and its character offsets follow from that.
"""

from __future__ import annotations

import json
import math

import pytest

from peerqa.eval.baselines import Chunk
from peerqa.eval.metrics import (
    BUDGET_WORDS,
    check_answer,
    check_top_passage,
    cited_sentences,
    covers,
    cuts_quote,
    ndcg_at_k,
    quote_spans,
    read_within_budget,
    recall_at_k,
    reciprocal_rank,
    relevant_ids,
    score_question,
    sentence_spans,
    summarise_answers,
)
from peerqa.eval.questions import (
    CATEGORIES,
    GoldNotFound,
    GoldSpan,
    Question,
    gold_spans,
    load_questions,
)
from peerqa.models import Answer, Caveat, Citation

DOC = "doc"
WORDS = [f"w{i}" for i in range(10_000)]
SOURCE = " ".join(WORDS)
STARTS = [0]
for _word in WORDS:
    STARTS.append(STARTS[-1] + len(_word) + 1)  # where the next word starts


def chunk(cid: str, first: int, words: int, document: str = DOC) -> Chunk:
    """A passage holding words [first, first + words)."""
    start, end = STARTS[first], STARTS[first + words] - 1
    return Chunk(id=cid, document=document, char_start=start, char_end=end, text=SOURCE[start:end])


def gold(first: int, words: int, snippet: int = 0) -> GoldSpan:
    c = chunk("g", first, words)
    return GoldSpan(snippet=snippet, document=DOC, char_start=c.char_start, char_end=c.char_end)


# -- gold location --------------------------------------------------------------
def _question(gold_snippets: list[str]) -> Question:
    return Question(
        id="q999",
        question="?",
        category="benefits",
        in_scope=True,
        split="test",
        gold=gold_snippets,
    )


def test_gold_spans_keep_every_occurrence_in_every_document():
    sources = {"a": "x peer support helps. y peer support helps.", "b": "peer support helps"}
    spans = gold_spans(_question(["peer support helps", "y peer"]), sources)
    assert [(s.snippet, s.document, s.char_start) for s in spans] == [
        (0, "a", 2),
        (0, "a", 24),
        (0, "b", 0),
        (1, "a", 22),
    ]
    assert all(sources[s.document][s.char_start : s.char_end] for s in spans)


def test_gold_spans_fail_loudly_when_the_corpus_drifts():
    with pytest.raises(GoldNotFound, match="q999"):
        gold_spans(_question(["not in the corpus"]), {"a": "peer support"})


# -- relevance -----------------------------------------------------------------
G = GoldSpan(snippet=0, document=DOC, char_start=100, char_end=140)  # 40 characters


@pytest.mark.parametrize(
    "document,start,end,relevant",
    [
        (DOC, 0, 500, True),  # contains the gold span
        (DOC, 100, 140, True),  # exactly the gold span
        (DOC, 0, 120, True),  # overlaps exactly half
        (DOC, 0, 119, False),  # one character short of half
        (DOC, 120, 300, True),  # the other half
        (DOC, 121, 300, False),
        (DOC, 105, 124, False),  # inside the gold span but under half of it
        (DOC, 140, 300, False),  # adjacent, [start, end) does not overlap
        ("other", 0, 500, False),  # same offsets, another document
    ],
)
def test_relevant_when_overlapping_at_least_half_the_gold_span(document, start, end, relevant):
    assert covers(document, start, end, G) is relevant


# -- reading budget ----------------------------------------------------------------
def test_the_first_passage_is_read_up_to_the_budget_only():
    big = chunk("big", 0, 1000)
    (read,) = read_within_budget([big, chunk("next", 1000, 10)])
    assert SOURCE[read.char_start : read.char_end] == " ".join(f"w{i}" for i in range(600))
    assert recall_at_k([read], [gold(100, 10)]) == 1.0
    assert recall_at_k([read], [gold(650, 10)]) == 0.0  # past word 600: never read
    assert recall_at_k([read], [gold(594, 10)]) == 1.0  # over half of it lies in the words read
    assert recall_at_k([read], [gold(596, 10)]) == 0.0


def test_a_passage_crossing_the_budget_is_cut_and_later_ones_are_not_read():
    ranking = [chunk("a", 0, 400), chunk("b", 1000, 300), chunk("c", 2000, 10)]
    read = read_within_budget(ranking)
    assert [r.id for r in read] == ["a", "b"]  # "c" comes after the budget
    assert read[1].char_end == chunk("b", 1000, 200).char_end  # 400 + 200 = 600 words
    assert recall_at_k(read, [gold(1100, 20)]) == 1.0  # in the 200 words read of "b"
    assert recall_at_k(read, [gold(1250, 20)]) == 0.0  # in the unread rest of "b"
    assert recall_at_k(read, [gold(2000, 10)]) == 0.0
    assert reciprocal_rank(read, [gold(2000, 10)]) == 0.0


def test_passages_that_fit_are_read_whole():
    ranking = [chunk(f"p{i}", i * 1000, 120) for i in range(6)]
    read = read_within_budget(ranking)
    assert len(read) == 5  # 5 × 120 = 600 words exactly; nothing is left for the sixth
    assert [(r.char_start, r.char_end) for r in read] == [
        (c.char_start, c.char_end) for c in ranking[:5]
    ]
    assert BUDGET_WORDS == 600


# -- recall and MRR ----------------------------------------------------------------
def test_recall_counts_distinct_gold_snippets_not_occurrences():
    # snippet 0 occurs twice (prose and table quote), snippet 1 once
    spans = [gold(10, 10, 0), gold(500, 10, 0), gold(900, 10, 1)]
    both_zero = read_within_budget([chunk("a", 0, 50), chunk("b", 480, 50)])
    assert recall_at_k(both_zero, spans) == 0.5
    all_found = read_within_budget([chunk("a", 480, 50), chunk("b", 890, 50)])
    assert recall_at_k(all_found, spans) == 1.0


def test_recall_only_looks_at_the_first_five_passages():
    ranking = [chunk(f"p{i}", i * 100, 10) for i in range(6)]
    spans = [gold(500, 5)]  # in the sixth passage
    row = score_question("q", "benefits", ranking, spans)
    assert row.recall_at_5 == 0.0
    assert row.mrr_at_10 == pytest.approx(1 / 6)
    assert row.first_relevant_rank == 6


def test_mrr_is_one_over_the_rank_of_the_first_relevant_passage():
    ranking = [chunk("a", 0, 10), chunk("b", 100, 10), chunk("c", 200, 10)]
    assert score_question("q", "x", ranking, [gold(100, 5), gold(200, 5, 1)]).mrr_at_10 == 0.5
    assert score_question("q", "x", ranking, [gold(300, 5)]).mrr_at_10 == 0.0
    # the relevant passage ranks eleventh: outside MRR@10
    eleven = [chunk(f"p{i}", i * 20, 10) for i in range(11)]
    assert score_question("q", "x", eleven, [gold(200, 5)]).mrr_at_10 == 0.0


@pytest.mark.slow  # ranx compiles numba typed dicts (uncacheable): ~20 s
def test_ndcg_by_ranx_with_gold_overlap_as_qrels():
    universe = [chunk("a", 0, 10), chunk("b", 100, 10), chunk("c", 200, 10)]
    relevant = {
        "q1": relevant_ids(universe, [gold(100, 5)]),
        "q2": relevant_ids(universe, [gold(4000, 5)]),  # nothing in the index holds it
    }
    assert relevant == {"q1": {"b"}, "q2": set()}
    scores = ndcg_at_k({"q1": universe, "q2": universe}, relevant)
    assert scores["q1"] == pytest.approx(1 / math.log2(3))  # the one relevant id at rank 2
    assert scores["q2"] == 0.0


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
    top = check_top_passage(_question([said]), cite("[1]", 1), in_quote, SRC)
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
    base = check_top_passage(_question([GOLD_TEXT]), top, GOLD, SRC)
    assert base.text_holds_gold and not base.first_holds_gold
    assert (base.padding, base.table_rows, base.abstained) == (0, 0, False)
    row = check_top_passage(_question([GOLD_TEXT]), cite("[1]", 2), GOLD, SRC)
    assert not row.text_holds_gold and row.table_rows == 1 and row.padding == 1
    scores = summarise_answers([base, row])
    assert (scores.text_holds_gold, scores.first_holds_gold) == (0.5, 0.0)
    assert (scores.padding_mean, scores.padding_share) == (0.5, 0.5)
    assert scores.table_or_reference == 0.5


# -- the real thing ------------------------------------------------------------------
def test_run_eval_reports_every_metric_and_beats_the_1024_baselines(
    eval_report, eval_dir, corpus_settings
):
    report = eval_report

    assert [s.name for s in report.systems] == [
        "peerqa",
        "dense-1024",
        "bm25-1024",
        "dense-256",
        "bm25-256",
    ]
    questions = load_questions()
    with_gold = [q for q in questions if q.in_scope and not q.expect]
    for system in report.systems:
        assert system.overall.n == report.in_scope == len(with_gold)
        assert set(system.by_category) == {q.category for q in with_gold}
        for scores in [system.overall, *system.by_category.values()]:
            for value in (scores.recall_at_5, scores.mrr_at_10, scores.ndcg_at_10):
                assert 0.0 <= value <= 1.0
    answers = report.answers.overall
    assert answers.n == report.questions == len(questions)
    for split in ("calibrate", "test"):
        ours, top = report.answer_groups("ours", split), report.answer_groups("baseline", split)
        assert set(ours.by_category) == set(top.by_category) == set(CATEGORIES)
        assert ours.overall.n == top.overall.n == sum(q.split == split for q in questions)
        for a in (ours.overall, top.overall):
            assert a.text_holds_gold is not None and a.first_holds_gold is not None
    by_id = {q.id: q for q in questions}
    for c in report.answers.baseline_questions:
        assert c.expect == by_id[c.id].expect and not c.abstained
    assert None not in (
        answers.evidence_rate,
        answers.verbatim_rate,
        answers.out_of_scope_abstained,
        answers.in_scope_wrongly_abstained,
    )
    assert set(report.headline()) >= {"recall_at_5", "mrr_at_10", "ndcg_at_10"}
    assert report.corpus["joo-2022-peer-support"].startswith("70b12584")

    for baseline in report.systems[1:]:
        if baseline.name.endswith("-1024"):
            assert report.ours.overall.recall_at_5 > baseline.overall.recall_at_5, baseline.name

    lines = (eval_dir / "answers.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == [q.id for q in questions]
    for name in ("report.md", "report.json", "report.png", "answers.jsonl"):
        assert (eval_dir / name).stat().st_size > 0
    assert "Recall@5" in (eval_dir / "report.md").read_text(encoding="utf-8")
    _assert_baseline_collections_dropped(corpus_settings)


def _assert_baseline_collections_dropped(settings) -> None:
    from peerqa.store import make_client

    names = [c if isinstance(c, str) else c.name for c in make_client(settings).list_collections()]
    assert not [n for n in names if "evalbaseline" in n]


def test_a_fold_is_scored_with_the_baseline_beside(corpus_index, corpus_settings):
    """The cross-validation entry points: any answer function, the top passage beside."""
    from peerqa.eval.run import check_answers, check_top_passages, corpus_sources

    questions = [q for q in load_questions() if q.id in {"q002", "q112", "q133"}]
    sources = corpus_sources(corpus_settings)
    first_passage_only = []

    def top_sentence(index, q):
        (top,) = index.search(q.question, top_k=1)
        first_passage_only.append(q.id)
        citation = Citation(**top.model_dump(), marker="[1]")
        return Answer(
            question=q.question, answer=f"{top.text} [1]", abstained=False, citations=[citation]
        )

    ours = check_answers(corpus_index, questions, sources, answer=top_sentence)
    top = check_top_passages(corpus_index, questions, sources)
    assert first_passage_only == [q.id for q in questions]
    assert [c.id for c in ours] == [c.id for c in top] == [q.id for q in questions]
    assert all(c.verbatim == c.sentences == 1 and c.invented == 0 for c in ours)
    assert not any(c.abstained for c in top)
    assert [c.expect_reason for c in top] == [q.expect_reason for q in questions]


def test_ours_is_scored_on_the_ranking_the_composer_answers_from(corpus_index, corpus_settings):
    """A follow-up is retrieved as answer.compose retrieves it (understand: resolved text
    and the follow-up's blended vector), for the retrieval figures and the top-passage
    baseline alike; the llama-index baselines read the same resolved text."""
    from peerqa.answer.compose import DEFAULT_TOP_K, retrieve
    from peerqa.answer.question import understand
    from peerqa.eval.run import RETRIEVE_K, Hybrid, check_top_passages, corpus_sources

    (q,) = [q for q in load_questions() if q.id == "q102"]  # "And how do they fix that?"
    assert q.history
    ours = Hybrid(corpus_index)
    understood = understand(corpus_index, q.question, q.history)
    product = retrieve(corpus_index, understood, DEFAULT_TOP_K)
    assert [p.id for p in ours.ranking(q)] == [
        p.id for p in retrieve(corpus_index, understood, RETRIEVE_K)
    ]
    (top,) = check_top_passages(ours, [q], corpus_sources(corpus_settings))
    assert (top.pieces[0].document, top.pieces[0].char_start) == (
        product[0].document,
        product[0].char_start,
    )
