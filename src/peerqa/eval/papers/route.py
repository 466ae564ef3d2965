"""How much of the bundled paper's drop beside other papers is routing:
`python -m peerqa.eval.papers.route [--data DIR]` (a store holding the bundled paper and the
fixture papers, as for eval.papers.focus).

Non-test questions only (eval/questions.jsonl calibrate, eval/papers dev), each asked with
no history and naming no paper: Recall@5 of the answer's own retrieval over every paper,
beside the same retrieval confined to the paper the question is about (what perfect
routing would give: the routing part of the drop), and beside confinement to the paper
topic_scores picks when its share is at least a minimum and leads the next
paper's by a margin (a wrong pick loses the question). The (minimum, margin) is chosen on
all folds but one (papers held out together) and scored on that one.
"""

from __future__ import annotations

import math

from peerqa.answer.scope import paper_profiles
from peerqa.eval.papers.__main__ import (
    BUNDLED,
    BUNDLED_QUESTIONS,
    QUESTIONS,
    hit,
    load,
    paper_of,
    store_cli,
)
from peerqa.words import profile_words

MINIMA = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 2.0)
MARGINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
FOLDS = 5


def topic_scores(index, raw: str) -> dict[str, float]:
    """The candidate router: each loaded paper's share of what the question asks about (its
    words that some profile has, answer.scope's profiles), words weighted by their rarity
    among the profiles ({} with fewer than two papers, or no such word)."""
    profiles = dict(paper_profiles(index))
    profiles.pop("", None)
    said = [w for w in dict.fromkeys(profile_words(raw)) if any(w in p for p in profiles.values())]
    if not said or len(profiles) < 2:
        return {}
    n = len(profiles)
    weight = {w: math.log(1 + n / (1 + sum(w in p for p in profiles.values()))) for w in said}
    total = sum(weight.values())
    return {d: sum(weight[w] for w in said if w in p) / total for d, p in profiles.items()}


def first_hit(results, document: str, gold: list[str]) -> int | None:
    return next(
        (i for i, r in enumerate(results, 1) if r.document == document and hit(r.text, gold)),
        None,
    )


def rows(index) -> list[dict]:
    from peerqa.answer.compose import retrieve
    from peerqa.answer.followup import is_followup
    from peerqa.answer.question import understand
    from peerqa.answer.scope import named_documents, refers_back
    from peerqa.models import Filters

    docs = {paper_of(d.source): d.id for d in index.state.documents}
    asked = [(q, BUNDLED) for q in load(BUNDLED_QUESTIONS) if q["split"] == "calibrate"]
    asked += [(q, docs[q["paper"]]) for q in load(QUESTIONS) if q["split"] == "dev"]
    found = []
    for q, own in asked:
        if named_documents(index, q["question"]):
            continue
        u = understand(index, q["question"], [], ())
        ranked = retrieve(index, u, 20)
        anywhere = first_hit(ranked[:10], own, q["gold"])
        confined = first_hit(retrieve(index, u, 10, Filters(document=[own])), own, q["gold"])
        found.append(
            {
                "id": q["id"],
                "paper": own,
                "anywhere": bool(anywhere and anywhere <= 5),
                "confined": bool(confined and confined <= 5),
                "scores": topic_scores(index, q["question"]),
                "top": [r.document for r in ranked],
                # Points back at a conversation ("is this an RCT?", "and is that covered?"):
                # in the product it is asked in a session, whose paper it stays on.
                "session_bound": refers_back(q["question"]) or is_followup(q["question"]),
            }
        )
    return found


def routed(row: dict, least: float, margin: float) -> str | None:
    ranked = sorted(row["scores"].items(), key=lambda kv: -kv[1])
    if not ranked or ranked[0][1] < least:
        return None
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    return ranked[0][0] if ranked[0][1] - second >= margin else None


def recall(rows: list[dict], least: float, margin: float) -> dict:
    hits = wrong = 0
    for r in rows:
        to = routed(r, least, margin)
        wrong += to is not None and to != r["paper"]
        hits += r["confined"] if to == r["paper"] else (r["anywhere"] if to is None else 0)
    return {"recall@5": round(hits / max(len(rows), 1), 3), "wrong_routes": wrong}


def main() -> None:
    index, write = store_cli(__doc__)
    found = rows(index)
    papers = sorted({r["paper"] for r in found})
    fold = {r["id"]: papers.index(r["paper"]) % FOLDS for r in found}
    # The bundled paper is one group: its questions are spread over the folds by id.
    for r in found:
        if r["paper"] == BUNDLED:
            fold[r["id"]] = sum(map(ord, r["id"])) % FOLDS
    grid = [(t, m) for t in MINIMA for m in MARGINS]
    held: list[dict] = []
    chosen = []
    for k in range(FOLDS):
        train = [r for r in found if fold[r["id"]] != k]
        best = max(grid, key=lambda g: (recall(train, *g)["recall@5"], g[0], g[1]))
        chosen.append(best)
        held += [r | {"route": routed(r, *best)} for r in found if fold[r["id"]] == k]

    def share(rs: list[dict], key: str) -> float:
        return round(sum(r[key] for r in rs) / max(len(rs), 1), 3)

    def cv(rs: list[dict]) -> dict:
        got = [
            r["confined"] if r["route"] == r["paper"] else (r["anywhere"] if not r["route"] else 0)
            for r in rs
        ]
        wrong = sum(bool(r["route"]) and r["route"] != r["paper"] for r in rs)
        return {"recall@5": round(sum(got) / max(len(rs), 1), 3), "wrong_routes": wrong}

    report = {}
    for name, group in (
        ("bundled", [r for r in held if r["paper"] == BUNDLED]),
        ("papers", [r for r in held if r["paper"] != BUNDLED]),
    ):
        report[name] = {
            "questions": len(group),
            "anywhere": share(group, "anywhere"),
            "confined_to_own_paper": share(group, "confined"),
            "routed_cross_validated": cv(group),
        }
        alone = [r for r in group if not r["session_bound"]]
        report[name]["not_pointing_back"] = {
            "questions": len(alone),
            "anywhere": share(alone, "anywhere"),
            "confined_to_own_paper": share(alone, "confined"),
        }
    report["fold_choices"] = chosen
    write(report)


if __name__ == "__main__":
    main()
