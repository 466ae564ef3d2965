"""Specifications for the curated evaluation set in eval/questions.jsonl.

The set is only useful if its gold evidence is exactly the source text (so retrieved passages
can be matched by character span) and its questions are genuine paraphrases (so retrieval is
not rewarded for simple string overlap). These tests pin both properties down.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from peerqa.eval.questions import (
    CAVEAT_CATEGORIES,
    DECLINE_REASONS,
    Question,
    SplitLeak,
    assign_splits,
    fingerprint,
    fitting_questions,
    folds,
    frozen_test_split,
    load_questions,
)

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = REPO / "src/peerqa/eval" / "questions.jsonl"
CORPUS = REPO / "src/peerqa/corpus" / "joo-2022-peer-support.txt"

IN_SCOPE_MINIMUMS = {
    "benefits": 30,
    "challenges": 25,
    "mitigations": 30,
    "programmes": 30,
    "methods": 30,
    "literature": 25,
    "caregivers_mentors": 25,
    "followup": 25,
    "false_premise": 15,
    "not_reported": 15,
}
# Each should-decline category is large enough for its own decline rate to mean something.
DECLINE_MINIMUM = 25
OUT_OF_SCOPE_CATEGORIES = set(DECLINE_REASONS)
SPLITS = {"calibrate", "test"}
# q001-q132 were split alternately within each category; later batches by assign_splits.
FIRST_BATCH_END = 132
BATCHES = [(133, 458), (459, 470)]
# Batches written as fitting data only: every question calibrate, none drawn into the test
# split (the test split stays as frozen; these add non-test questions, never test ones).
CALIBRATE_BATCHES = [
    (471, 638),
    (700, 771),
    (800, 996),
    (1000, 1062),
    (1100, 1139),
    (1200, 1299),
    (1300, 1331),
    (1400, 1577),
    (1600, 1799),
    (1800, 1840),
    (1900, 2099),
    (2500, 2549),
]
ID_PATTERN = re.compile(r"^q\d{3,4}$")
# A sentence end (., ! or ?), optional closing quote/bracket, whitespace, then a capitalised start.
SENTENCE_BREAK = re.compile(r"[.!?][\"”’)]*\s+[\"“‘(]*[A-Z]")
COPY_RUN = 6  # a question may not share this many consecutive words with the corpus


def _words(s: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", s.lower())


@pytest.fixture(scope="module")
def corpus() -> str:
    return CORPUS.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def records() -> list[dict]:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def in_scope(records) -> list[dict]:
    return [r for r in records if r["in_scope"]]


@pytest.fixture(scope="module")
def out_of_scope(records) -> list[dict]:
    return [r for r in records if not r["in_scope"]]


def test_file_parses_into_objects(records):
    assert records, "eval/questions.jsonl is empty"
    for line_no, line in enumerate(QUESTIONS.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"blank line {line_no}"
        assert isinstance(json.loads(line), dict), f"line {line_no} is not a JSON object"


def test_schema(records):
    allowed = set(IN_SCOPE_MINIMUMS) | OUT_OF_SCOPE_CATEGORIES
    fields = {"id", "question", "category", "in_scope", "split", "gold", "history"}
    for r in records:
        assert {"id", "question", "category", "in_scope", "split", "gold"} <= r.keys(), r
        assert set(r) <= fields | {"expect", "expect_reason", "literature"}, r
        assert ID_PATTERN.match(r["id"]), r["id"]
        assert isinstance(r["question"], str) and r["question"].strip(), r["id"]
        assert r["category"] in allowed, (r["id"], r["category"])
        assert isinstance(r["in_scope"], bool), r["id"]
        assert r["in_scope"] == (r["category"] not in OUT_OF_SCOPE_CATEGORIES), r["id"]
        assert r["split"] in SPLITS, (r["id"], r["split"])
        assert isinstance(r["gold"], list) and all(isinstance(g, str) for g in r["gold"]), r["id"]
        # A caveat question names its caveat; a should-decline question its reason code.
        expect = r["category"] if r["category"] in CAVEAT_CATEGORIES else None
        assert r.get("expect") == expect, r["id"]
        assert r.get("expect_reason") == DECLINE_REASONS.get(r["category"]), r["id"]
        Question.model_validate(r)


def test_ids_unique(records):
    ids = [r["id"] for r in records]
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes, dupes


def test_questions_unique(records):
    norm = [" ".join(_words(r["question"])) for r in records]
    dupes = [q for q, n in Counter(norm).items() if n > 1]
    assert not dupes, dupes


def test_totals(in_scope, out_of_scope):
    plain = [r for r in in_scope if r["category"] not in CAVEAT_CATEGORIES]
    assert len(plain) >= 300
    assert len(out_of_scope) >= 120


@pytest.mark.parametrize("category", sorted(DECLINE_REASONS))
def test_decline_category_counts(out_of_scope, category):
    n = sum(r["category"] == category for r in out_of_scope)
    assert n >= DECLINE_MINIMUM, f"{category}: {n} < {DECLINE_MINIMUM}"


@pytest.mark.parametrize("category,minimum", sorted(IN_SCOPE_MINIMUMS.items()))
def test_category_counts(in_scope, category, minimum):
    n = sum(r["category"] == category for r in in_scope)
    assert n >= minimum, f"{category}: {n} < {minimum}"


def _number(r: dict) -> int:
    return int(r["id"][1:])


def _in_calibrate_batch(r: dict) -> bool:
    return any(first <= _number(r) <= last for first, last in CALIBRATE_BATCHES)


def test_every_category_has_both_splits(records):
    """Among the drawn batches; the calibrate-only batches add to the non-test side only."""
    by_cat: dict[str, Counter] = {}
    for r in records:
        if not _in_calibrate_batch(r):
            by_cat.setdefault(r["category"], Counter())[r["split"]] += 1
    for cat, splits in by_cat.items():
        assert set(splits) == SPLITS, (cat, dict(splits))
        # roughly 40-50% test in every category, so per-category test figures exist
        assert 0.3 <= splits["test"] / splits.total() <= 0.55, (cat, dict(splits))


def test_first_batch_alternates_within_each_category(records):
    by_cat: dict[str, Counter] = {}
    for r in records:
        if _number(r) <= FIRST_BATCH_END:
            by_cat.setdefault(r["category"], Counter())[r["split"]] += 1
    for cat, splits in by_cat.items():
        assert abs(splits["calibrate"] - splits["test"]) <= 1, (cat, dict(splits))


@pytest.mark.parametrize("first,last", BATCHES)
def test_later_batches_are_split_by_the_id_hash_draw(records, first, last):
    """The split of a batch follows from ids and categories alone (not from difficulty)."""
    batch = [Question.model_validate(r) for r in records if first <= _number(r) <= last]
    assert len(batch) == last - first + 1
    drawn = assign_splits(batch)
    assert {q.id: q.split for q in batch} == drawn


@pytest.mark.parametrize("first,last", CALIBRATE_BATCHES)
def test_calibrate_batches_are_whole_and_never_test(records, first, last):
    batch = [r for r in records if first <= _number(r) <= last]
    assert [_number(r) for r in batch] == list(range(first, last + 1))
    assert {r["split"] for r in batch} == {"calibrate"}


def test_every_question_belongs_to_a_batch(records):
    """A new question needs a batch (drawn or calibrate-only) before it joins the set."""
    ranges = [(1, FIRST_BATCH_END), *BATCHES, *CALIBRATE_BATCHES]
    stray = [r["id"] for r in records if not any(a <= _number(r) <= b for a, b in ranges)]
    assert stray == []


def test_assign_splits_is_stratified_and_ignores_wording():
    def question(i: int, category: str, text: str) -> Question:
        return Question(
            id=f"q{i:03d}",
            question=text,
            category=category,
            in_scope=True,
            split="calibrate",
            gold=["x"],
        )

    batch = [question(i, "benefits" if i % 2 else "methods", "a") for i in range(500, 540)]
    drawn = assign_splits(batch)
    for category in ("benefits", "methods"):
        ids = [q.id for q in batch if q.category == category]
        assert sum(drawn[i] == "test" for i in ids) == 8  # round(0.4 * 20)
    reworded = [q.model_copy(update={"question": "hard " * 9}) for q in batch]
    assert assign_splits(reworded) == drawn


def test_the_test_split_is_frozen(records):
    """No question enters or leaves eval/test_split.txt, and no test question changes."""
    frozen = frozen_test_split()
    questions = {r["id"]: Question.model_validate(r) for r in records}
    test_ids = {qid for qid, q in questions.items() if q.split == "test"}
    assert sorted(test_ids - frozen.keys()) == [], "entered the test split"
    assert sorted(frozen.keys() - test_ids) == [], "left the test split (or was deleted)"
    changed = [qid for qid, fp in frozen.items() if fingerprint(questions[qid]) != fp]
    assert changed == [], f"frozen test questions changed: {changed}"


def test_fitting_questions_exclude_the_test_split():
    fitting = fitting_questions()
    assert fitting and all(q.split != "test" for q in fitting)
    everything = load_questions()
    assert len(fitting) == sum(q.split != "test" for q in everything)


def test_folds_partition_the_fitting_questions_stratified_and_deterministic():
    fitting = fitting_questions()
    k = 5
    result = folds(k)
    assert [f.index for f in result] == list(range(k))
    validated = [q.id for f in result for q in f.validate]
    assert sorted(validated) == sorted(q.id for q in fitting)  # each question once
    for f in result:
        assert {q.id for q in f.train}.isdisjoint(q.id for q in f.validate)
        assert len(f.train) + len(f.validate) == len(fitting)
    for category in {q.category for q in fitting}:
        sizes = [sum(q.category == category for q in f.validate) for f in result]
        assert max(sizes) - min(sizes) <= 1, (category, sizes)
    assert folds(k) == result
    assert folds(k, seed=1) != result


def test_folds_refuse_test_questions():
    with pytest.raises(SplitLeak):
        folds(5, questions=load_questions())


def test_gold_counts(in_scope, out_of_scope):
    for r in in_scope:
        # a false premise or an unreported figure may have no nearest evidence at all
        low = 0 if r["category"] in CAVEAT_CATEGORIES else 1
        assert low <= len(r["gold"]) <= 3, (r["id"], len(r["gold"]))
        assert len(set(r["gold"])) == len(r["gold"]), r["id"]
    for r in out_of_scope:
        assert r["gold"] == [], r["id"]


def test_gold_snippets_are_verbatim_single_line_sentences(in_scope, corpus):
    lines = corpus.splitlines()
    for r in in_scope:
        for g in r["gold"]:
            assert g in corpus, f"{r['id']}: not verbatim in corpus: {g!r}"
            assert "\n" not in g and "\r" not in g, f"{r['id']}: spans a line break: {g!r}"
            assert any(g in line for line in lines), f"{r['id']}: not on one line: {g!r}"
            assert g == g.strip(), f"{r['id']}: leading/trailing whitespace: {g!r}"
            n = len(g.split())
            assert 6 <= n <= 30, f"{r['id']}: {n} words: {g!r}"
            assert not SENTENCE_BREAK.search(g), f"{r['id']}: straddles sentences: {g!r}"


def test_followups_have_history_and_others_do_not(records):
    for r in records:
        history = r.get("history", [])
        assert isinstance(history, list), r["id"]
        if r["category"] == "followup":
            assert history, f"{r['id']}: followup without history"
            assert all(isinstance(h, str) and h.strip() for h in history), r["id"]
        else:
            assert history == [], f"{r['id']}: history on a non-followup question"


def test_questions_do_not_copy_the_source(records, corpus):
    cw = _words(corpus)
    runs = {tuple(cw[i : i + COPY_RUN]) for i in range(len(cw) - COPY_RUN + 1)}
    offenders = []
    for r in records:
        for text in [r["question"], *r.get("history", [])]:
            w = _words(text)
            shared = [
                " ".join(w[i : i + COPY_RUN])
                for i in range(len(w) - COPY_RUN + 1)
                if tuple(w[i : i + COPY_RUN]) in runs
            ]
            if shared:
                offenders.append((r["id"], shared))
    assert not offenders, offenders
