"""Choose when a question's description of a study names a loaded paper:
`python -m peerqa.eval.papers.describe [--data DIR]` (a store holding the bundled paper and the
fixture papers, e.g. after `PEERQA_DATA_DIR=DIR peerqa ingest tests/fixtures/papers/paper_*.md`).

answer.scope confines a question to the paper it describes ("the schizophrenia texting trial
in China") when that paper's profile holds at least DESCRIPTION_MIN of the description
(words weighted by rarity) and every other paper's at least DESCRIPTION_MARGIN less. Judged
on non-test questions only: eval/papers/descriptions.jsonl (studies described, loaded or
not; the held-out papers' questions are never among them), the dev papers' questions and
the bundled paper's calibrate questions. Two errors: a wrong confinement (to a paper the
question is not about: the worse one, counted WRONG_COST times) and a miss (a paper
described or named that is left unconfined). Each (minimum, margin) on the grid is chosen
on all folds but one (papers held out together) and scored on that one.
"""

from __future__ import annotations

import json
from pathlib import Path

from peerqa.eval.papers.__main__ import (
    BUNDLED,
    BUNDLED_QUESTIONS,
    QUESTIONS,
    load,
    paper_of,
    store_cli,
)

DESCRIPTIONS = Path(__file__).with_name("descriptions.jsonl")
MINIMA = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)
MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4)
WRONG_COST = 2
FOLDS = 5


def rows(index) -> list[dict]:
    """Each question with the paper it is about (None: no loaded paper), whether it names
    or describes one, the papers the name rules find and its description's scores."""
    from peerqa.answer.scope import description_scores, named_documents

    docs = {paper_of(d.source): d.id for d in index.state.documents}
    asked = [
        (q["id"], q["question"], docs[q["paper"]] if q["paper"] else None, True)
        for q in map(json.loads, DESCRIPTIONS.read_text(encoding="utf-8").splitlines())
    ]
    asked += [
        (q["id"], q["question"], docs[q["paper"]], q["names_paper"])
        for q in load(QUESTIONS)
        if q["split"] == "dev"
    ]
    asked += [
        (q["id"], q["question"], BUNDLED, False)
        for q in load(BUNDLED_QUESTIONS)
        if q["split"] != "test" and q.get("in_scope")
    ]
    return [
        {
            "id": qid,
            "question": text,
            "paper": paper,
            "named": named and paper is not None,
            "by_name": named_documents(index, text, describe=False),
            "scores": description_scores(index, text),
        }
        for qid, text, paper, named in asked
    ]


def decide(row: dict, least: float, margin: float) -> tuple[str, ...]:
    if row["by_name"]:
        return row["by_name"]
    scores = sorted(row["scores"].values(), reverse=True)
    if not scores or scores[0] < least or scores[0] - (scores[1:] or [0.0])[0] < margin:
        return ()
    return (max(row["scores"], key=row["scores"].get),)


def errors(rows: list[dict], least: float, margin: float) -> dict[str, int]:
    wrong = missed = right = 0
    for r in rows:
        got = decide(r, least, margin)
        if got and got != (r["paper"],):
            wrong += 1
        elif got:
            right += r["named"]
        else:
            missed += r["named"]
    return {"wrong": wrong, "missed": missed, "right": right}


def cost(e: dict[str, int]) -> int:
    return WRONG_COST * e["wrong"] + e["missed"]


def fold_of(row: dict, papers: list[str]) -> int:
    key = row["paper"] or row["id"]
    return (papers.index(key) if key in papers else sum(map(ord, key))) % FOLDS


def main() -> None:
    index, write = store_cli(__doc__)
    found = rows(index)
    papers = sorted({r["paper"] for r in found if r["paper"]})
    grid = [(t, m) for t in MINIMA for m in MARGINS]
    held = {"wrong": 0, "missed": 0, "right": 0}
    chosen = []
    for k in range(FOLDS):
        train = [r for r in found if fold_of(r, papers) != k]
        test = [r for r in found if fold_of(r, papers) == k]
        best = min(grid, key=lambda g: (cost(errors(train, *g)), -g[0], -g[1]))
        chosen.append(best)
        for key, v in errors(test, *best).items():
            held[key] += v
    best = min(grid, key=lambda g: (cost(errors(found, *g)), -g[0], -g[1]))
    named = sum(r["named"] for r in found)
    report = {
        "questions": len(found),
        "naming_or_describing": named,
        "names_only": errors(found, 2.0, 2.0),  # no description ever accepted
        "cross_validated": held,
        "fold_choices": chosen,
        "chosen_on_all": {"minimum": best[0], "margin": best[1], **errors(found, *best)},
        "mistakes": [
            {"id": r["id"], "question": r["question"], "paper": r["paper"], "got": got}
            for r in found
            if (got := decide(r, *best)) != ((r["paper"],) if r["named"] else got)
            or (got and got != (r["paper"],))
        ],
    }
    write(report)


if __name__ == "__main__":
    main()
