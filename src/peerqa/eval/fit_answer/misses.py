"""Why an out-of-fold answer misses: the kind of each miss (MISS_KINDS) and the report
--misses writes."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from peerqa.answer.evidence import Unit
from peerqa.eval.fit_answer.examples import Example, holds

# Why an out-of-fold answer misses (`miss_kind`), checked in this order:
MISS_KINDS = {
    "not_retrieved": "no retrieved passage holds gold (retrieval's miss)",
    "not_a_unit": "a retrieved passage holds gold, but no unit of it does",
    "framing": "a chosen unit (the lead, for a first-sentence miss) is the sentence just "
    "before a gold one: it announces what the next says",
    "top_passage": "a unit of the top passage holds gold; another unit was chosen (led)",
    "passage_2_5": "a unit of retrieved passages 2-5 holds gold, not chosen (led)",
    "further": "gold only in passages ranked 6th or lower or in theme partners",
}


def _retrieved_rank(ex: Example, unit: Unit) -> int | None:
    """The unit's passage's place in retrieval (a theme partner: None)."""
    ids = [r.id for r in ex.results]
    return ids.index(unit.passage.id) if unit.passage.id in ids else None


def miss_kind(ex: Example, chosen: Sequence[Unit], missed: str) -> str:
    """The kind (MISS_KINDS) of an answer's miss: its text holds no gold (`missed`
    "text"), or its first cited sentence does not ("first")."""
    gold_units = [u for u in ex.units if holds(u.span, ex.gold)]
    if not gold_units:
        retrieved = any(holds((r.document, r.char_start, r.char_end), ex.gold) for r in ex.results)
        return "not_a_unit" if retrieved else "not_retrieved"
    judged = chosen if missed == "text" else chosen[:1]
    for u in judged:
        after = [v for v in ex.units if v.passage.id == u.passage.id and v.start >= u.end]
        if after and min(after, key=lambda v: v.start) in gold_units:
            return "framing"
    ranks = {_retrieved_rank(ex, g) for g in gold_units}
    if 0 in ranks:
        return "top_passage"
    if ranks & {1, 2, 3, 4}:
        return "passage_2_5"
    return "further"


def report_misses(rows: list[dict], path: Path) -> None:
    """Out-of-fold misses counted by question set, figure missed and kind; rows to `path`."""
    counts = Counter((r["set"], r["missed"], r["kind"]) for r in rows)
    print("out-of-fold misses (set, missed figure, kind):")
    for key in sorted(counts):
        print(f"  {' '.join(key):<40} {counts[key]}")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
