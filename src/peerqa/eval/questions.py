"""The curated question set (eval/questions.jsonl) and where its gold evidence sits in the sources.

Gold snippets are verbatim substrings of a source text, so each one is located by exact
search; a snippet that occurs more than once (prose and a table quote) keeps every occurrence.

Splits. The `test` split is frozen (eval/test_split.txt holds its ids and a hash of each
question; tests/test_eval_questions.py fails when it moves). Nothing is fitted, chosen or
tuned on it: fitting code reads `fitting_questions()` or `folds()`, which never return a
test question, and `load_questions()` (everything) is for scoring only.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import BaseModel, Field

from peerqa.config import PACKAGE_DIR

QUESTIONS_PATH = PACKAGE_DIR / "eval" / "questions.jsonl"
TEST_SPLIT_PATH = PACKAGE_DIR / "eval" / "test_split.txt"

Category = Literal[
    "benefits",
    "challenges",
    "mitigations",
    "programmes",
    "methods",
    "literature",
    "caregivers_mentors",
    "followup",
    "false_premise",
    "not_reported",
    "out_of_scope",
    "other_peer_sense",
    "medical_advice",
    "clinical_fact",
]
Split = Literal["calibrate", "test"]
Expect = Literal["false_premise", "not_reported"]
ReasonCode = Literal["medical_advice", "out_of_scope"]

CATEGORIES: tuple[str, ...] = Category.__args__
# Answered with a caveat of the same kind (`Answer.caveat.kind`), not declined.
CAVEAT_CATEGORIES: tuple[str, ...] = Expect.__args__
# Should be declined, with this `Answer.reason_code`.
DECLINE_REASONS: dict[str, str] = {
    "medical_advice": "medical_advice",
    "clinical_fact": "medical_advice",
    "out_of_scope": "out_of_scope",
    "other_peer_sense": "out_of_scope",
}
TEST_SHARE = 0.4


class Question(BaseModel):
    id: str
    question: str
    category: Category
    in_scope: bool
    split: Split
    gold: list[str] = Field(description="Verbatim snippets of the corpus; [] when out of scope")
    history: list[str] = Field(default_factory=list, description="Earlier turns (followups)")
    expect: Expect | None = Field(
        default=None, description="The caveat the answer must carry (false premise, not reported)"
    )
    expect_reason: ReasonCode | None = Field(
        default=None, description="The reason_code a should-decline question must get"
    )
    literature: bool = Field(
        default=False,
        description="Asks about cited studies outside category literature: reference entries "
        "in its answer are requested, not padding",
    )

    @property
    def asks_literature(self) -> bool:
        return self.category == "literature" or self.literature


class GoldSpan(BaseModel):
    """One occurrence of a gold snippet: `source[char_start:char_end] == question.gold[snippet]`."""

    snippet: int = Field(description="Index into the question's `gold` list")
    document: str
    char_start: int
    char_end: int


class GoldNotFound(ValueError):
    """A gold snippet is in no source: the set and the corpus have drifted apart."""


def load_questions(path: Path = QUESTIONS_PATH) -> list[Question]:
    """Every question, test split included: for scoring, never for fitting."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Question.model_validate(json.loads(line)) for line in lines if line.strip()]


def load_split(split: Split, path: Path = QUESTIONS_PATH) -> list[Question]:
    return [q for q in load_questions(path) if q.split == split]


def fitting_questions(path: Path = QUESTIONS_PATH) -> list[Question]:
    """The questions fitting may read: everything outside the frozen test split."""
    return _no_test(load_split("calibrate", path))


class Fold(NamedTuple):
    index: int
    train: list[Question]
    validate: list[Question]


def folds(k: int = 5, seed: int = 13, questions: Sequence[Question] | None = None) -> list[Fold]:
    """Stratified k-fold over the fitting questions: each category is shuffled with `seed`
    and dealt round-robin, so every fold holds about 1/k of each category. Deterministic
    for a given set, k and seed. Passing a test question raises."""
    pool = _no_test(fitting_questions() if questions is None else questions)
    if k < 2:
        raise ValueError("k-fold needs k >= 2")
    fold_of: dict[str, int] = {}
    by_category: dict[str, list[Question]] = {}
    for q in sorted(pool, key=lambda q: q.id):
        by_category.setdefault(q.category, []).append(q)
    rng = random.Random(seed)
    dealt = 0  # carried across categories so small ones do not all start in fold 0
    for category in sorted(by_category):
        members = by_category[category]
        rng.shuffle(members)
        for q in members:
            fold_of[q.id] = dealt % k
            dealt += 1
    return [
        Fold(
            index=i,
            train=[q for q in pool if fold_of[q.id] != i],
            validate=[q for q in pool if fold_of[q.id] == i],
        )
        for i in range(k)
    ]


class SplitLeak(ValueError):
    """A test-split question reached code that fits."""


def _no_test(questions: Iterable[Question]) -> list[Question]:
    questions = list(questions)
    leaked = sorted(q.id for q in questions if q.split == "test")
    if leaked:
        raise SplitLeak(f"test-split questions may not be fitted on: {leaked[:5]}")
    return questions


# -- the frozen split -----------------------------------------------------------
def split_rank(qid: str) -> str:
    """A question's place in the deterministic draw: a hash of its id alone."""
    return hashlib.sha256(f"peerqa-split:{qid}".encode()).hexdigest()


def assign_splits(batch: Iterable[Question]) -> dict[str, Split]:
    """Splits for one batch of new questions, drawn before anything is fitted: within
    each category, the round(TEST_SHARE * n) ids first by `split_rank` are test. The draw
    sees ids and categories only, never wording or difficulty."""
    by_category: dict[str, list[str]] = {}
    for q in batch:
        by_category.setdefault(q.category, []).append(q.id)
    splits: dict[str, Split] = {}
    for ids in by_category.values():
        ranked = sorted(ids, key=split_rank)
        n_test = round(TEST_SHARE * len(ranked))
        splits |= {qid: "test" if i < n_test else "calibrate" for i, qid in enumerate(ranked)}
    return splits


LATER_LABELS = ("literature",)


def fingerprint(q: Question) -> str:
    """What a frozen test question may not change: all but its split. Labels added after
    the split was frozen (LATER_LABELS) count only when set, so adding one to the schema
    does not unfreeze every question."""
    fields = q.model_dump(exclude={"split"})
    for label in LATER_LABELS:
        if not fields[label]:
            del fields[label]
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def frozen_test_split(path: Path = TEST_SPLIT_PATH) -> dict[str, str]:
    """eval/test_split.txt: `id fingerprint` per line, '#' comments."""
    rows = [line.split() for line in path.read_text(encoding="utf-8").splitlines()]
    return {r[0]: r[1] for r in rows if r and not r[0].startswith("#")}


def gold_spans(question: Question, sources: Mapping[str, str]) -> list[GoldSpan]:
    """Every occurrence of every gold snippet in `sources` (document id -> text)."""
    spans = []
    for i, snippet in enumerate(question.gold):
        found = [
            GoldSpan(snippet=i, document=doc, char_start=start, char_end=start + len(snippet))
            for doc, text in sources.items()
            for start in _occurrences(text, snippet)
        ]
        if not found:
            raise GoldNotFound(f"{question.id}: gold snippet {i} is in no source: {snippet!r}")
        spans += found
    return spans


def _occurrences(text: str, snippet: str) -> list[int]:
    starts, at = [], text.find(snippet)
    while at != -1:
        starts.append(at)
        at = text.find(snippet, at + 1)
    return starts
