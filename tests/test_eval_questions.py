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

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = REPO / "eval" / "questions.jsonl"
CORPUS = REPO / "corpus" / "joo-2022-peer-support.txt"

IN_SCOPE_MINIMUMS = {
    "benefits": 15,
    "challenges": 12,
    "mitigations": 12,
    "programmes": 10,
    "methods": 8,
    "literature": 6,
    "caregivers_mentors": 8,
    "followup": 6,
}
OUT_OF_SCOPE_CATEGORIES = {"out_of_scope", "medical_advice"}
SPLITS = {"calibrate", "test"}
ID_PATTERN = re.compile(r"^q\d{3}$")
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
    for r in records:
        assert {"id", "question", "category", "in_scope", "split", "gold"} <= r.keys(), r
        assert set(r) <= {"id", "question", "category", "in_scope", "split", "gold", "history"}, r
        assert ID_PATTERN.match(r["id"]), r["id"]
        assert isinstance(r["question"], str) and r["question"].strip(), r["id"]
        assert r["category"] in allowed, (r["id"], r["category"])
        assert isinstance(r["in_scope"], bool), r["id"]
        assert r["in_scope"] == (r["category"] not in OUT_OF_SCOPE_CATEGORIES), r["id"]
        assert r["split"] in SPLITS, (r["id"], r["split"])
        assert isinstance(r["gold"], list) and all(isinstance(g, str) for g in r["gold"]), r["id"]


def test_ids_unique(records):
    ids = [r["id"] for r in records]
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes, dupes


def test_questions_unique(records):
    norm = [" ".join(_words(r["question"])) for r in records]
    dupes = [q for q, n in Counter(norm).items() if n > 1]
    assert not dupes, dupes


def test_totals(in_scope, out_of_scope):
    assert len(in_scope) >= 80
    assert len(out_of_scope) >= 15
    assert sum(r["category"] == "medical_advice" for r in out_of_scope) >= 5
    assert sum(r["category"] == "out_of_scope" for r in out_of_scope) >= 5


@pytest.mark.parametrize("category,minimum", sorted(IN_SCOPE_MINIMUMS.items()))
def test_category_counts(in_scope, category, minimum):
    n = sum(r["category"] == category for r in in_scope)
    assert n >= minimum, f"{category}: {n} < {minimum}"


def test_every_category_has_both_splits(records):
    by_cat: dict[str, Counter] = {}
    for r in records:
        by_cat.setdefault(r["category"], Counter())[r["split"]] += 1
    for cat, splits in by_cat.items():
        assert set(splits) == SPLITS, (cat, dict(splits))
        # "about half": the two halves differ by at most one question
        assert abs(splits["calibrate"] - splits["test"]) <= 1, (cat, dict(splits))


def test_gold_counts(in_scope, out_of_scope):
    for r in in_scope:
        assert 1 <= len(r["gold"]) <= 3, (r["id"], len(r["gold"]))
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
