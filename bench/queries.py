"""Distinct benchmark queries: the curated in-scope eval questions in phrasing variants.

Query embeddings are LRU-cached (peerqa/embedding.py), so a measurement that repeats a
query measures the cache. Every `take` hands out queries never handed out before in this
run; the "cached" figures re-send a set on purpose.
"""

from __future__ import annotations

import json

from peerqa.config import REPO_ROOT

QUESTIONS = REPO_ROOT / "src/peerqa/eval" / "questions.jsonl"
PREFIXES = (
    "",
    "Briefly, ",
    "In practice, ",
    "From the evidence: ",
    "For a clinician: ",
    "So, ",
    "Quick one: ",
    "I run a programme. ",
)
SUFFIXES = ("", " Please cite the evidence.", " (peer support)", " What do programmes say?")


def questions() -> list[str]:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    return [r["question"] for r in rows if r.get("in_scope") and not r.get("history")]


class QueryPool:
    def __init__(self) -> None:
        base = questions()
        # Variant-major order: consecutive queries are different questions.
        self._queries = [f"{p}{q}{s}" for p in PREFIXES for s in SUFFIXES for q in base]
        self._next = 0

    def take(self, n: int) -> list[str]:
        if self._next + n > len(self._queries):
            raise RuntimeError(f"query pool exhausted ({len(self._queries)} distinct queries)")
        chunk = self._queries[self._next : self._next + n]
        self._next += n
        return chunk

    @property
    def left(self) -> int:
        return len(self._queries) - self._next
