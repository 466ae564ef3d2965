"""Fit the query adapter (retrieval/adapter.py): `python -m peerqa.eval.fit_adapter`.

A question is typed as users type (terse, shorthand, a clinician's register) and its
evidence is written as papers are, so the question's vector lands away from its answer's.
The adapter maps the question's vector before the dense comparison, W q = q + U (V^T q)
(a residual of rank RANK; the corpus's vectors are not changed), fitted by a contrastive
loss: each fitting question's gold passages and gold sentences against every other record
of its store (a softmax over the store's fixed vectors at temperature TAU).

Questions: the fitting questions of eval/questions.jsonl (never the test split; in scope,
no caveat) on the bundled paper's store, and the dev questions of eval/papers on the store
of the bundled paper with the Markdown fixture papers beside it (fit_ranker's stores, in
`--work`); the held-out papers' questions are never read and their records are no
negatives. Grouped k-fold cross-validation (eval.questions.folds for the bundled
questions, a paper to a fold by eval.papers.dev_folds) reports dense-only Recall@5 and
MRR@10, by the passage vectors and by the best sentence's, raw and adapted, per store;
the settings with the best mean are refitted on every question and written to
retrieval/models/adapter.json, keyed to the embedding model's token space, beside each
fold's adapter (`out_of_fold`: fit_ranker searches a fitting question with the adapter
of its fold, as the fitters downstream do with the ranker's; the folds are fit_ranker's,
so run this before it).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean

import numpy as np

from peerqa.answer.followup import retrieval_query
from peerqa.eval.fit_ranker import DEFAULT_WORK, GoldScore, K, PaperScore, store
from peerqa.eval.papers.__main__ import PAPERS, SUFFIX, dev_folds, hit, paper_of
from peerqa.eval.questions import folds, gold_spans
from peerqa.index.pipeline import parse_sources
from peerqa.retrieval.adapter import ARTEFACT, SCHEMA, Adapter, dumps
from peerqa.retrieval.hybrid import LiveIndex
from peerqa.retrieval.search import encode
from peerqa.store import sentence_passage, sentence_texts

TAU = 0.05  # softmax temperature over cosines
EPOCHS = 150  # full-batch Adam steps
LEARNING_RATE = 0.01
# Settings tried, each cross-validated: the residual's rank, its L2 penalty (pulls W
# towards the identity), and the papers' questions weighed up (a tenth of the questions).
# Also cross-validated and worse on the papers' questions: rank 16 with an L2 of 0.01
# (the bundled questions gained most, the papers' passages ranked worse), an L2 of 0.03,
# and 50 steps; an L2 of 1 leaves W the identity.
GRID = (
    {"rank": 8, "l2": 0.1, "paper_weight": 10.0},
    {"rank": 8, "l2": 0.1, "paper_weight": 30.0},
    {"rank": 32, "l2": 0.1, "paper_weight": 10.0},
)


@dataclass(frozen=True)
class StoreVectors:
    """One store's passage and sentence vectors (unit rows), each sentence's passage row,
    and which records may be negatives (not a held-out paper's)."""

    name: str
    passages: list  # Passage, by row of `passage_unit`
    passage_unit: np.ndarray
    sentence_unit: np.ndarray
    sentence_passage: np.ndarray  # passage row of each sentence row
    sentence_text: list[str]
    trainable_passage: np.ndarray  # bool by passage row
    trainable_sentence: np.ndarray  # bool by sentence row


@dataclass(frozen=True)
class Example:
    """One question on one store: its raw vector, gold records and how a ranking scores."""

    qid: str
    store: StoreVectors
    fold: int
    vector: np.ndarray
    gold_passages: np.ndarray  # passage rows
    gold_sentences: np.ndarray  # sentence rows
    paper: bool  # a user paper's dev question (weighed by the settings' paper_weight)
    score: Callable[[list], tuple[float, float]]


def vectors_of(index: LiveIndex, name: str, documents: set[str] | None) -> StoreVectors:
    """The store's vectors; `documents`: those whose records may be negatives (all: None)."""
    view = index._view
    dense, sentences = view._dense.exact, view._dense_sentences.exact
    assert dense is not None and sentences is not None, "a store searched exactly"
    passages = [view.passages[view.order[int(i)]] for i in dense.passage]
    row = {p.id: r for r, p in enumerate(passages)}
    sentence_rows = np.asarray([row[sentence_passage(s)] for s in sentences.ids], dtype=int)
    trainable = np.asarray([documents is None or p.document in documents for p in passages])
    return StoreVectors(
        name=name,
        passages=passages,
        passage_unit=dense.unit,
        sentence_unit=sentences.unit,
        sentence_passage=sentence_rows,
        sentence_text=sentence_texts(sentences.ids, view.passages),
        trainable_passage=trainable,
        trainable_sentence=trainable[sentence_rows],
    )


def gold_rows(
    vectors: StoreVectors, gold: list[str], document: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """The passage and sentence rows holding a gold snippet (in `document`, when given)."""
    in_document = [document is None or p.document == document for p in vectors.passages]
    passages = [r for r, p in enumerate(vectors.passages) if in_document[r] and hit(p.text, gold)]
    of_sentence = zip(vectors.sentence_passage, vectors.sentence_text, strict=True)
    sentences = [s for s, (r, text) in enumerate(of_sentence) if in_document[r] and hit(text, gold)]
    return np.asarray(passages, dtype=int), np.asarray(sentences, dtype=int)


def bundled_examples(index: LiveIndex, vectors: StoreVectors, settings) -> list[Example]:
    sources = {d.info.id: d.text for d in parse_sources([], settings)}
    examples = []
    for fold in folds(K):
        for q in fold.validate:
            if not q.in_scope or q.expect or not q.gold:
                continue
            query = retrieval_query(q.question, q.history)
            vector = np.asarray(encode(index.embed_model, query).vector, dtype=np.float32)
            passages, sentences = gold_rows(vectors, q.gold, None)
            score = GoldScore(q.id, q.category, tuple(gold_spans(q, sources)))
            examples.append(
                Example(q.id, vectors, fold.index, vector, passages, sentences, False, score)
            )
    return examples


def paper_examples(index: LiveIndex, vectors: StoreVectors) -> list[Example]:
    docs = {paper_of(d.source): d.id for d in index.state.documents}
    examples = []
    for q, k in dev_folds(K):
        doc = docs[q["paper"]]
        vector = np.asarray(encode(index.embed_model, q["question"]).vector, dtype=np.float32)
        passages, sentences = gold_rows(vectors, q["gold"], doc)
        score = PaperScore(doc, q["gold"])
        examples.append(Example(q["id"], vectors, k, vector, passages, sentences, True, score))
    return examples


def collect(work: Path) -> tuple[list[Example], list[Example], str]:
    """The bundled questions on the bundled store and beside the Markdown papers, the
    papers' dev questions, and the embedding model's key."""
    settings = store(work, "bundled", [])
    index = LiveIndex(settings)
    bundled = vectors_of(index, "bundled", None)
    examples = bundled_examples(index, bundled, settings)
    files = sorted(PAPERS.glob(f"paper_*{SUFFIX['md']}"))
    settings = store(work, "papers-md", files)
    index = LiveIndex(settings, embed_model=index.embed_model)
    dev = {q["paper"] for q, _ in dev_folds(K)}
    fitted = {d.id for d in index.state.documents if not d.source.startswith("paper_")}
    fitted |= {d.id for d in index.state.documents if paper_of(d.source) in dev}
    papers = vectors_of(index, "papers-md", fitted)
    beside = bundled_examples(index, papers, settings)
    return examples + paper_examples(index, papers), beside, index.embed_model.token_space


def fit(examples: list[Example], settings: dict) -> Adapter:
    """The residual fitted on the examples: full-batch Adam on the weighted mean of each
    question's loss, -log of the softmax mass of its gold records among its store's
    trainable records, passages and sentences alike."""
    import torch  # fit-time only

    torch.manual_seed(0)
    torch.set_num_threads(1)
    kept = [e for e in examples if len(e.gold_passages) or len(e.gold_sentences)]
    dims = kept[0].vector.shape[0]
    rank = settings["rank"]
    u = torch.zeros(dims, rank, requires_grad=True)
    v = (0.01 * torch.randn(dims, rank)).requires_grad_()
    by_store: dict[str, list[Example]] = {}
    for e in kept:
        by_store.setdefault(e.store.name, []).append(e)
    batches = []
    for rows in by_store.values():
        s = rows[0].store
        query = torch.from_numpy(np.stack([e.vector for e in rows]))
        weight = weight_of(rows, settings)
        for unit, trainable, gold in (
            (s.passage_unit, s.trainable_passage, "gold_passages"),
            (s.sentence_unit, s.trainable_sentence, "gold_sentences"),
        ):
            at = np.cumsum(trainable) - 1  # row -> trainable row
            mask = np.zeros((len(rows), int(trainable.sum())), dtype=bool)
            for i, e in enumerate(rows):
                mask[i, at[getattr(e, gold)]] = True
            has = mask.any(axis=1)
            records = torch.from_numpy(unit[trainable])
            # q·r is fixed; each step adds (q V)(r U)^T and rescales by |W q|: the
            # questions times the records at full width is computed once.
            base = query[has] @ records.T
            batches.append((query[has], records, base, torch.from_numpy(mask[has]), weight[has]))
    total = float(weight_of(kept, settings).sum())
    optimiser = torch.optim.Adam([u, v], lr=LEARNING_RATE)
    for _ in range(EPOCHS):
        optimiser.zero_grad()
        loss = settings["l2"] * (u.square().sum() + v.square().sum())
        for query, records, base, mask, weight in batches:
            projected = query @ v
            norm = (query + projected @ u.T).norm(dim=1, keepdim=True)
            logits = (base + projected @ (records @ u).T) / (norm * TAU)
            gold = logits.masked_fill(~mask, float("-inf"))
            nll = torch.logsumexp(logits, dim=1) - torch.logsumexp(gold, dim=1)
            loss = loss + (weight * nll).sum() / total
        loss.backward()
        optimiser.step()
    return Adapter(u.detach().numpy().copy(), v.detach().numpy().copy())


def weight_of(rows: list[Example], settings: dict):
    import torch

    return torch.tensor(
        [settings["paper_weight"] if e.paper else 1.0 for e in rows], dtype=torch.float32
    )


def dense_orders(e: Example, vector: np.ndarray) -> dict[str, list]:
    """The top 10 passages of the example's store by the passage vectors and by the best
    sentence's, for a question vector."""
    s = e.store
    passage = s.passage_unit @ vector
    sentence = np.full(len(s.passages), -np.inf, dtype=np.float32)
    np.maximum.at(sentence, s.sentence_passage, s.sentence_unit @ vector)
    return {
        name: [s.passages[int(i)] for i in np.argsort(-scores, kind="stable")[:10]]
        for name, scores in (("dense", passage), ("sentence", sentence))
    }


def scores(examples: list[Example], vector: Callable[[Example], np.ndarray]) -> dict[str, dict]:
    """Recall@5 and MRR@10 per store and dense ranking."""
    rows: dict[str, list[tuple[float, float]]] = {}
    for e in examples:
        for name, ranked in dense_orders(e, vector(e)).items():
            questions = "papers" if e.paper else "bundled"
            rows.setdefault(f"{questions} on {e.store.name}/{name}", []).append(e.score(ranked))
    return {
        key: {
            "questions": len(r),
            "recall@5": round(fmean(x for x, _ in r), 3),
            "mrr@10": round(fmean(m for _, m in r), 3),
        }
        for key, r in sorted(rows.items())
    }


def cross_validate(
    examples: list[Example], beside: list[Example], settings: dict
) -> tuple[dict[str, dict], list[Adapter]]:
    """Out-of-fold figures, raw and adapted, and each fold's adapter, fitted without it."""
    adapters = [fit([e for e in examples if e.fold != k], settings) for k in range(K)]
    everything = examples + beside
    cv = {
        "raw": scores(everything, lambda e: e.vector),
        "adapted": scores(everything, lambda e: adapters[e.fold].apply(e.vector)),
    }
    return cv, adapters


def papers_only(cv: dict[str, dict]) -> dict[str, dict]:
    return {key: figures for key, figures in cv.items() if key.startswith("papers")}


def mean_of(cv: dict[str, dict]) -> float:
    return fmean(s["recall@5"] + s["mrr@10"] for s in cv.values())


def out_of_fold(model: str, path: Path = ARTEFACT) -> tuple[dict[str, int], list[Adapter]]:
    """Each fitting question's fold and each fold's adapter, fitted without it (the
    artefact's `out_of_fold`); no folds when there is no artefact."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, []
    if data["key"]["model"] != model:
        raise RuntimeError(f"{path} was fitted for another embedding model: refit it")
    left_out = data["out_of_fold"]
    return left_out["fold_of"], [Adapter.from_dict(a) for a in left_out["adapters"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="stores, kept for reruns")
    parser.add_argument("--out", type=Path, default=ARTEFACT)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    examples, beside, model_key = collect(args.work)
    tried = [cross_validate(examples, beside, settings) for settings in GRID]
    for settings, (cv, _) in zip(GRID, tried, strict=True):
        print(json.dumps({"settings": settings, "cv": cv}), flush=True)
    # Judged on the papers' questions, each on papers its adapter never saw: the bundled
    # questions gain most from any adapter, being of the one paper they are fitted on.
    best = max(range(len(GRID)), key=lambda i: mean_of(papers_only(tried[i][0]["adapted"])))
    cv, left_out = tried[best]
    print(json.dumps({"settings": GRID[best], "cv": cv}, indent=2))
    adapter = fit(examples, GRID[best])
    artefact = {
        "schema": SCHEMA,
        "key": {"model": model_key},
        **adapter.to_dict(),
        "fitted_on": {
            "settings": GRID[best],
            "tau": TAU,
            "epochs": EPOCHS,
            "folds": K,
            "questions": len(examples),
        },
        "cv": {"grid": [round(mean_of(papers_only(t["adapted"])), 4) for t, _ in tried], **cv},
        "out_of_fold": {
            "fold_of": {e.qid: e.fold for e in sorted(examples, key=lambda e: e.qid)},
            "adapters": [a.to_dict() for a in left_out],
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps(artefact), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
