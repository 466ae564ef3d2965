"""Query expansion: clinicians' everyday words and shorthand -> the vocabulary of the evidence.

`thesaurus.json` maps alternatives ("buddy|befriender|volunteer mentor") to the terms the
evidence uses ("peer supporter mentor"). A matched term appends its expansion to the
query used for retrieval only; answers are still scored against the question as asked.
The entries are general terms taken from the misses of the curated set's calibrate
split, never answers to particular questions; the held-out test split judges them.

`shorthand.json` holds clinical shorthand and abbreviations (GP, pts, NIMH, RCT, f/u):
`shorthand(text)` finds them with what they stand for, for any stage that must understand
a question (the decline check looks names up under every form), and `expand` appends
their expansions like the thesaurus's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

THESAURUS = Path(__file__).with_name("thesaurus.json")
SHORTHAND = Path(__file__).with_name("shorthand.json")


@lru_cache
def _rules() -> list[tuple[re.Pattern[str], str]]:
    entries = json.loads(THESAURUS.read_text(encoding="utf-8"))
    return [
        (re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, k.split("|"))) + r")(?!\w)", re.I), v)
        for k, v in entries.items()
    ]


@dataclass(frozen=True)
class Shorthand:
    form: str  # as written in the text
    start: int
    end: int
    expansions: tuple[str, ...]
    name: bool  # an organisation, study design or condition: a topic, not a turn of phrase


@lru_cache
def _shorthand_rules() -> list[tuple[re.Pattern[str], tuple[str, ...], bool]]:
    entries = json.loads(SHORTHAND.read_text(encoding="utf-8"))
    rules = []
    for group, name in (("terms", False), ("names", True)):
        for forms, expansions in entries[group].items():
            for form in forms.split("|"):
                # A capital in the form means its lowercase is another word: match as written.
                flags = 0 if form != form.lower() else re.IGNORECASE
                body = re.escape(form) + (r"(?:s|'s|’s)?" if form[-1].isalnum() else "")
                pattern = re.compile(r"(?<![\w/&-])" + body + r"(?![\w/&-])", flags)
                rules.append((pattern, tuple(expansions), name))
    return rules


# Cached: every stage that reads a question looks its shorthand up again, and each
# look-up runs every rule's pattern over the text.
@lru_cache(maxsize=8192)
def shorthand(text: str) -> tuple[Shorthand, ...]:
    """The shorthand and abbreviations of `text`, in reading order, with what they stand for."""
    found = {}
    for pattern, expansions, name in _shorthand_rules():
        for m in pattern.finditer(text):
            found.setdefault(m.start(), Shorthand(m.group(), m.start(), m.end(), expansions, name))
    return tuple(found[k] for k in sorted(found))


def unabbreviate(text: str) -> str:
    """`text` with each shorthand followed by its first expansion in brackets:
    "GP here. what do pts get" -> "GP (general practitioner) here. what do pts (patient) get"."""
    pieces, at = [], 0
    for s in shorthand(text):
        pieces += [text[at : s.end], f" ({s.expansions[0]})"]
        at = s.end
    return "".join([*pieces, text[at:]])


def expand(query: str) -> str:
    extra = [terms for pattern, terms in _rules() if pattern.search(query)]
    extra += dict.fromkeys(" ".join(s.expansions) for s in shorthand(query))
    return " ".join([query, *extra])
