"""The curated question set (eval/questions.jsonl) and where its gold evidence sits in the sources.

Gold snippets are verbatim substrings of a source text, so each one is located by exact
search; a snippet that occurs more than once (prose and a table quote) keeps every occurrence.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from peerqa.config import REPO_ROOT

QUESTIONS_PATH = REPO_ROOT / "eval" / "questions.jsonl"

Category = Literal[
    "benefits",
    "challenges",
    "mitigations",
    "programmes",
    "methods",
    "literature",
    "caregivers_mentors",
    "followup",
    "out_of_scope",
    "medical_advice",
]
Split = Literal["calibrate", "test"]

CATEGORIES: tuple[str, ...] = Category.__args__


class Question(BaseModel):
    id: str
    question: str
    category: Category
    in_scope: bool
    split: Split
    gold: list[str] = Field(description="Verbatim snippets of the corpus; [] when out of scope")
    history: list[str] = Field(default_factory=list, description="Earlier turns (followups)")


class GoldSpan(BaseModel):
    """One occurrence of a gold snippet: `source[char_start:char_end] == question.gold[snippet]`."""

    snippet: int = Field(description="Index into the question's `gold` list")
    document: str
    char_start: int
    char_end: int


class GoldNotFound(ValueError):
    """A gold snippet is in no source: the set and the corpus have drifted apart."""


def load_questions(path: Path = QUESTIONS_PATH) -> list[Question]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Question.model_validate(json.loads(line)) for line in lines if line.strip()]


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
