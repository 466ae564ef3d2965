"""Specifications for the unseen batches (eval/unseen/*.jsonl) and their scorer, eval/unseen.py.

A batch follows every rule of eval/questions.jsonl (the same specification functions run on
it), stays calibrate-only in its own id range, and scores through eval/run.py's code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import test_eval_questions as spec  # the question set's rules, applied to each batch

from peerqa.eval.questions import DECLINE_REASONS, Question, load_questions
from peerqa.eval.unseen import OVERALL, misses, score_batch, table

REPO = Path(__file__).resolve().parents[1]
BATCHES = {
    REPO / "src/peerqa/eval" / "unseen" / "q1400.jsonl": (1400, 1599),
    REPO / "src/peerqa/eval" / "unseen" / "q1600.jsonl": (1600, 1799),
    REPO / "src/peerqa/eval" / "unseen" / "q1900.jsonl": (1900, 2099),
    REPO / "src/peerqa/eval" / "unseen" / "q2100.jsonl": (2100, 2299),
    REPO / "src/peerqa/eval" / "unseen" / "q2300.jsonl": (2300, 2499),
}


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def corpus() -> str:
    return spec.CORPUS.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", sorted(BATCHES), ids=lambda p: p.name)
def test_a_batch_obeys_the_question_set_rules(path, corpus):
    records = _records(path)
    in_scope = [r for r in records if r["in_scope"]]
    out_of_scope = [r for r in records if not r["in_scope"]]
    spec.test_schema(records)
    spec.test_ids_unique(records)
    spec.test_gold_counts(in_scope, out_of_scope)
    spec.test_gold_snippets_are_verbatim_single_line_sentences(in_scope, corpus)
    spec.test_followups_have_history_and_others_do_not(records)
    spec.test_questions_do_not_copy_the_source(records, corpus)


@pytest.mark.parametrize("path", sorted(BATCHES), ids=lambda p: p.name)
def test_a_batch_is_calibrate_only_in_its_range_and_new_to_the_set(path):
    first, last = BATCHES[path]
    records = _records(path)
    assert {r["split"] for r in records} == {"calibrate"}
    assert all(first <= int(r["id"][1:]) <= last for r in records)
    # Until the lead appends it, no question of the set shares its id or wording; once
    # appended, the set holds the same records.
    the_set = {r["id"]: r for r in _records(spec.QUESTIONS)}
    assert all(the_set.get(r["id"], r) == r for r in records)
    spec.test_questions_unique([*records, *(r for r in the_set.values() if r not in records)])
    # Every category has several questions, so each per-category figure means something.
    categories = {r["category"] for r in records}
    assert categories == set(spec.IN_SCOPE_MINIMUMS) | set(DECLINE_REASONS)


def _tiny_batch() -> list[Question]:
    rows = [
        {
            "id": "q9001",
            "question": "when were the interviews done",
            "category": "methods",
            "gold": ["Data were collected from 7 April 2016 to 24 March 2017."],
        },
        {
            "id": "q9002",
            "question": "and how long did each one last?",
            "category": "followup",
            "gold": ["conducted interviews independently lasting 45–60 min with each participant"],
            "history": ["when were the interviews done"],
        },
        {
            "id": "q9003",
            "question": "what happened to programme H?",
            "category": "false_premise",
            "gold": [],
            "expect": "false_premise",
        },
        {
            "id": "q9004",
            "question": "maximum daily dose of sertraline?",
            "category": "clinical_fact",
            "gold": [],
            "expect_reason": "medical_advice",
        },
    ]
    return [
        Question.model_validate(
            {"in_scope": r["category"] not in DECLINE_REASONS, "split": "calibrate", **r}
        )
        for r in rows
    ]


@pytest.mark.model
def test_the_scorer_runs_on_a_tiny_batch_with_the_baseline_beside(corpus_index, tmp_path):
    questions = _tiny_batch()
    path = tmp_path / "tiny.jsonl"
    path.write_text("".join(q.model_dump_json() + "\n" for q in questions), encoding="utf-8")
    assert load_questions(path) == questions  # the CLI reads a batch file the same way

    report = score_batch(corpus_index, questions)
    assert report.questions == 4
    # Retrieval is scored on the two plain questions with gold; the baseline reads one passage.
    assert report.ours.retrieval.overall.n == report.top.retrieval.overall.n == 2
    for row in report.top.retrieval.questions:
        assert len(row.ranked) <= 1 and row.mrr_at_10 in (0.0, 1.0)
    assert (
        {c.id for c in report.ours.checks}
        == {c.id for c in report.top.checks}
        == {q.id for q in questions}
    )
    assert set(report.ours.answers) == {
        OVERALL,
        "methods",
        "followup",
        "false_premise",
        "clinical_fact",
    }
    assert report.ours.answers[OVERALL].n == report.top.answers[OVERALL].n == 4
    # The top passage never declines and carries no caveat.
    assert report.top.answers["clinical_fact"].out_of_scope_abstained == 0.0
    assert report.top.answers["false_premise"].caveat_correct == 0.0

    printed = table(report)
    assert printed.splitlines()[0].startswith("| group (n) | R@5 | MRR@10 |")
    assert all(f"| {g} (" in printed for g in report.ours.answers)
    listed = misses(report, questions).splitlines()
    assert all(line.split()[0] in {q.id for q in questions} for line in listed)
