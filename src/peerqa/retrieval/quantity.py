"""Questions that ask for a quantity, and passages that state one (the ranker's
QUANTITY_FEATURES). "How many peers were interviewed?", "when did it start?", "what
proportion dropped out?" are answered by a sentence holding a number, a date or a
duration; the passages that only restate the topic hold none. Word lists live in
retrieval/quantity.json."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from functools import cache
from pathlib import Path

from peerqa.segment import sentence_spans

DATA = Path(__file__).with_name("quantity.json")


@cache
def _data() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))


def _alternatives(words: list[str]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


@cache
def _asks() -> re.Pattern[str]:
    return re.compile(rf"(?<!\w)(?:{_alternatives(_data()['asks'])})(?!\w)", re.IGNORECASE)


def asks_quantity(question: str) -> bool:
    """The question asks for a number, a date, a duration or a share."""
    return bool(_asks().search(question))


# What is cut before numbers are looked for: citation brackets ("[3]", "[4-6, 9]"), bare
# numbers in parentheses ("(12)", "(3, 4)"), and author-year citations ("(Smith et al.,
# 2019; Jones 2020)"): none of them is a quantity the passage states.
_CITATIONS = re.compile(
    r"\[\s*\d+(?:\s*[,;–—-]\s*\d+)*\s*\]"
    r"|\(\s*\d+(?:\s*[,;–—-]\s*\d+)*\s*\)"
    r"|\([^()]*(?:et al|[A-Z][\w'’-]+,? (?:19|20)\d\d)[^()]*\)"
)
# A number starting a token: not glued to a word ("health27", "P12", "COVID-19") nor to
# the punctuation a superscript citation follows ("support.21–23", "outcomes.25,26").
_NUMBER = r"(?<![\w.,;:)\]’'\"/–-])(?:\.\d|\d)"


@cache
def _states() -> re.Pattern[str]:
    data = _data()
    words = _alternatives([*data["number_words"], *data["months"]])
    return re.compile(rf"{_NUMBER}|%|(?<!\w)(?:{words})(?!\w)", re.IGNORECASE)


@cache
def _labels() -> re.Pattern[str]:
    """A label's number ("Table 2", "Fig. 3", "p. 5"), cut before numbers are looked for."""
    words = _alternatives(_data()["not_before"])
    return re.compile(rf"(?<!\w)(?:{words})\.?\s*(?=\d)\d[\w.]*", re.IGNORECASE)


def states_quantity(sentence: str, citations: Collection[int] = ()) -> bool:
    """The sentence states a number, a share, a date or a duration. `citations`: its
    paper's reference numbers; one left bare at the sentence's end is a superscript."""
    text = _labels().sub(" ", _CITATIONS.sub(" ", sentence))
    if citations:
        tail = re.search(r"\s(\d+)(?:\s*[,–-]\s*\d+)*\s*$", text)
        if tail and int(tail[1]) in citations:
            text = text[: tail.start()]
    return bool(_states().search(text))


def quantity_share(text: str, citations: Collection[int] = ()) -> float:
    """The share of the text's sentences that state a quantity."""
    spans = sentence_spans(text, citations=citations) or [(0, len(text))]
    return sum(states_quantity(text[a:b], citations) for a, b in spans) / len(spans)
