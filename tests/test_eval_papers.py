"""eval.papers locates each gold (copied from a paper's Markdown) in another format's
extracted text, so an answer's cited span can be scored against it as eval/metrics.py
scores the bundled paper's."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from peerqa.eval.papers.__main__ import QUESTIONS, locate, norm
from peerqa.ingest.readers.pdf import read_pdf

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
from make_pdfs import write_pdf  # noqa: E402


@pytest.mark.slow
def test_every_dev_gold_of_a_paper_is_located_at_its_span_in_the_pdf_text(tmp_path: Path):
    pdf = write_pdf(FIXTURES / "papers" / "paper_1571.md", tmp_path)
    text = read_pdf(pdf.read_bytes()).text
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    golds = [q["gold"] for q in rows if q["paper"] == "paper_1571" and q["split"] == "dev"]
    assert len(golds) >= 5
    for gold in golds:
        found = locate(text, gold)
        assert found, gold
        for snippet, start, end in found:
            # The span reads as the gold once whitespace, ligatures and quotes are undone.
            assert norm(text[start:end]) == norm(gold[snippet])


def test_locate_maps_through_ligatures_and_line_breaks():
    text = "The ﬁrst  line\nof text, and “quoted” words"
    assert locate(text, ["first line of text", '"quoted"']) == [(0, 4, 22), (1, 28, 36)]


def test_answers_are_scored_beside_the_first_passage_of_the_answers_own_ranking(
    corpus_index, corpus_settings
):
    from peerqa.answer.compose import retrieve
    from peerqa.answer.question import understand
    from peerqa.eval.papers.__main__ import answer_text
    from peerqa.index.pipeline import parse_sources

    question = "How are mentors matched with patients?"
    document = "joo-2022-peer-support"
    top = retrieve(corpus_index, understand(corpus_index, question, []))[0]
    sources = {d.info.id: d.text for d in parse_sources([], corpus_settings)}
    gold = sources[document][top.char_start : top.char_end]
    row = {"id": "x", "paper": "joo", "split": "dev", "question": question, "gold": [gold]}
    figures = answer_text(corpus_index, [row], {"joo": document}, sources)["dev"]
    # The gold is the top passage itself: the baseline holds it, located once.
    assert figures["gold_located"] == 1 and figures["top_passage_holds_gold"] == 1.0
