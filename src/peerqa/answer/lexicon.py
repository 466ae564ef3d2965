"""The word lists of answer/lexicon.json, compiled once: what a question asks for (a
stance, facts, literature, an outcome), what a sentence says, and what is front matter."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

LEXICON = Path(__file__).with_name("lexicon.json")


@cache
def _entries() -> dict:
    return json.loads(LEXICON.read_text(encoding="utf-8"))


def _alternatives(words: list[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(words) + r")\b", re.IGNORECASE)


@cache
def pattern(name: str) -> re.Pattern[str]:
    """One list as a whole-word, case-insensitive alternation."""
    return _alternatives(_entries()[name])


@cache
def outcomes() -> dict[str, tuple[re.Pattern[str], re.Pattern[str]]]:
    """Outcome name -> (how a question asks for it, how evidence would report it)."""
    return {
        name: (_alternatives(entry["asks"]), _alternatives(entry["reports"]))
        for name, entry in _entries()["outcomes"].items()
    }


@cache
def named(kind: str) -> dict[str, re.Pattern[str]]:
    """Of a list of named things ("things", "figures"): name -> how a question or a
    passage names it."""
    return {
        name: _alternatives(words)
        for name, words in _entries()[kind].items()
        if not name.startswith("_")
    }


@cache
def settings() -> dict[str, tuple[str, re.Pattern[str]]]:
    """Setting or reach name -> (the programme field it is read in, how a question says it)."""
    return {
        name: (entry["field"], _alternatives(entry["words"]))
        for name, entry in _entries()["settings"].items()
        if not name.startswith("_")
    }


@cache
def front_matter_sections() -> re.Pattern[str]:
    return re.compile(
        r"^(?:" + "|".join(_entries()["front_matter_sections"]) + r")$", re.IGNORECASE
    )


@cache
def front_matter_text() -> re.Pattern[str]:
    return re.compile("|".join(_entries()["front_matter_text"]), re.IGNORECASE)


@cache
def asks_source() -> re.Pattern[str]:
    """ "what did the 2019 Cochrane review say", "findings of the X evaluation in Y": the
    source's own words (`np`) and the place or body after it (`after`)."""
    entry = _entries()["asks_source"]
    openers, nouns = "|".join(entry["openers"]), "|".join(entry["nouns"])
    return re.compile(
        rf"\b(?:{openers})\s+(?:the\s+|a\s+|an\s+)?(?P<np>(?:[\w'’&.-]+\s+){{0,6}}?)"
        rf"(?:{nouns})\b(?P<after>\s+(?:in|by|from|of)\s+(?:the\s+)?[\w'’&-]+)?",
        re.IGNORECASE,
    )
