"""Choose how deep the session's paper must rank for a question to stay on it:
`python -m peerqa.eval.papers.focus [--data DIR]` (a store holding the bundled paper and the
fixture papers, e.g. after `PEERQA_DATA_DIR=DIR peerqa ingest tests/fixtures/papers/*.md`).

In a session on one paper, a question that names none and does not point back at the
conversation ("they", "this study") may be about another paper ("what is Kooth?" asked
in a session on the Joo paper). answer.compose keeps it on the session's paper when one
of that paper's passages is among the first MOVED_ON_DEPTH of every paper's ranking.
Non-test questions only (eval/questions.jsonl calibrate, eval/papers dev), each asked
with no history: should stay, the bundled paper's questions in a session on it and each
dev paper's questions in a session on their own paper; should move on, the dev papers'
questions in a session on the bundled paper and in a session on another dev paper.
Staying comes first (a session's unnamed questions are about its paper: that is the
behaviour asked for), so the depth chosen is the smallest that keeps at least STAY of
each should-stay group on its paper; the most questions then move on when they should.
Balanced accuracy (the mean of the four shares right) is reported beside it.
"""

from __future__ import annotations

from peerqa.eval.papers.__main__ import (
    BUNDLED,
    BUNDLED_QUESTIONS,
    QUESTIONS,
    load,
    paper_of,
    store_cli,
)

DEPTHS = (1, 2, 3, 5, 8, 10, 15, 20, 40)
STAY = 0.95


def first_ranks(index, question: str, documents: list[str]) -> dict[str, int]:
    """Each document's first rank in the answer's own retrieval of `question` (no scope)."""
    from peerqa.answer.compose import retrieve
    from peerqa.answer.question import understand

    found = retrieve(index, understand(index, question, [], ()), max(DEPTHS))
    ranks = {}
    for i, r in enumerate(found, 1):
        ranks.setdefault(r.document, i)
    return {d: ranks.get(d, max(DEPTHS) + 1) for d in documents}


def main() -> None:
    from peerqa.answer.scope import refers_back

    index, write = store_cli(__doc__)
    docs = {paper_of(d.source): d.id for d in index.state.documents}
    bundled = [q for q in load(BUNDLED_QUESTIONS) if q["split"] != "test" and q.get("in_scope")]
    papers = [q for q in load(QUESTIONS) if q["split"] == "dev"]
    dev = sorted({docs[q["paper"]] for q in papers})
    groups: dict[str, list[int]] = {"stay: bundled": [], "stay: papers": []}
    groups |= {"move on: to papers": [], "move on: between papers": []}
    back = 0
    for q in bundled + papers:
        if refers_back(q["question"]):  # these stay whatever the ranking: not chosen on
            back += 1
            continue
        own = docs.get(q.get("paper", ""), BUNDLED)
        other = dev[(dev.index(own) + 1) % len(dev)] if own in dev else None
        ranks = first_ranks(index, q["question"], [d for d in (BUNDLED, own, other) if d])
        if own == BUNDLED:
            groups["stay: bundled"].append(ranks[BUNDLED])
            continue
        groups["stay: papers"].append(ranks[own])
        groups["move on: to papers"].append(ranks[BUNDLED])
        groups["move on: between papers"].append(ranks[other])
    table = {}
    for depth in DEPTHS:
        right = {
            g: sum((r <= depth) == g.startswith("stay") for r in ranks) / len(ranks)
            for g, ranks in groups.items()
        }
        table[depth] = {g: round(v, 3) for g, v in right.items()}
        table[depth]["balanced"] = round(sum(right.values()) / len(right), 3)
    staying = [
        d for d in DEPTHS if all(table[d][g] >= STAY for g in groups if g.startswith("stay"))
    ]
    best = min(staying or [max(DEPTHS)])
    report = {
        "questions": {g: len(r) for g, r in groups.items()},
        "refer_back_not_chosen_on": back,
        "by_depth": table,
        "chosen_depth": best,
    }
    write(report)


if __name__ == "__main__":
    main()
