"""Query expansion: clinicians' everyday words and shorthand -> the vocabulary of the evidence.

`thesaurus.json` maps alternatives ("buddy|befriender|volunteer mentor") to the terms the
evidence uses ("peer supporter mentor"). A matched term appends its expansion to the
query used for retrieval only; answers are still scored against the question as asked.
An alternative is written in its base form and matches its inflections too, word by word
("burn out" matches "burning out", "volunteer" "volunteers"): a question word matches a
written one when it is that word or reduces to it (words.word_form). A written inflection
matches only itself ("studies" is not "study", the paper itself).
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

from peerqa.words import word_form

THESAURUS = Path(__file__).with_name("thesaurus.json")
SHORTHAND = Path(__file__).with_name("shorthand.json")


# A word of the thesaurus or a question: letters and digits, "a&e" and "doesn't" whole.
_WORD = re.compile(r"[a-z0-9]+(?:[&'][a-z0-9]+)*")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


@lru_cache
def _rules() -> dict[str, list[tuple[tuple[str, ...], int]]]:
    """Each alternative's words (base forms) by its first word, with its entry's number."""
    entries = json.loads(THESAURUS.read_text(encoding="utf-8"))
    rules: dict[str, list[tuple[tuple[str, ...], int]]] = {}
    for n, alternatives in enumerate(entries):
        for alternative in alternatives.split("|"):
            words = tuple(_words(alternative))
            rules.setdefault(words[0], []).append((words, n))
    return rules


@lru_cache
def _expansions() -> list[str]:
    return list(json.loads(THESAURUS.read_text(encoding="utf-8")).values())


def _thesaurus_terms(query: str) -> list[str]:
    """The expansions of the thesaurus entries `query` names, in the thesaurus's order."""
    words = _words(query)
    forms = [(w, word_form(w)) for w in words]
    rules, matched = _rules(), set()
    for i, (word, form) in enumerate(forms):
        for alternative, n in rules.get(word, []) + (rules.get(form, []) if form != word else []):
            following = forms[i : i + len(alternative)]
            if len(following) == len(alternative) and all(
                written in seen for written, seen in zip(alternative, following, strict=True)
            ):
                matched.add(n)
    expansions = _expansions()
    return [expansions[n] for n in sorted(matched)]


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
    extra = _thesaurus_terms(query)
    extra += dict.fromkeys(" ".join(s.expansions) for s in shorthand(query))
    return " ".join([query, *extra])
