"""Query expansion: clinicians' everyday words -> the vocabulary of the evidence.

`thesaurus.json` maps alternatives ("buddy|befriender|volunteer mentor") to the terms the
evidence uses ("peer supporter mentor"). A matched term appends its expansion to the
query used for retrieval only; answers are still scored against the question as asked.
The entries are general terms taken from the misses of the curated set's calibrate
split, never answers to particular questions; the held-out test split judges them.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

THESAURUS = Path(__file__).with_name("thesaurus.json")


@lru_cache
def _rules() -> list[tuple[re.Pattern[str], str]]:
    entries = json.loads(THESAURUS.read_text(encoding="utf-8"))
    return [
        (re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, k.split("|"))) + r")(?!\w)", re.I), v)
        for k, v in entries.items()
    ]


def expand(query: str) -> str:
    extra = [terms for pattern, terms in _rules() if pattern.search(query)]
    return " ".join([query, *extra])
