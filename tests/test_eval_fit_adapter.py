"""The query adapter's fitting script: it moves questions towards their gold records, and
the same examples give the same artefact."""

from __future__ import annotations

import numpy as np

from peerqa.eval.fit_adapter import Example, StoreVectors, dense_orders, fit
from peerqa.retrieval.adapter import dumps

SETTINGS = {"rank": 4, "l2": 0.01, "paper_weight": 1.0}


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def synthetic(questions: int = 60, records: int = 40, dims: int = 16) -> list[Example]:
    """Records in one store, each question its gold record seen through a fixed low-rank
    distortion (the register a question is typed in), plus noise."""
    rng = np.random.default_rng(0)
    passages = unit(rng.normal(size=(records, dims)))
    distortion = np.eye(dims) + 1.5 * rng.normal(size=(dims, 2)) @ rng.normal(size=(2, dims))
    store = StoreVectors(
        name="bundled",
        passages=list(range(records)),
        passage_unit=passages,
        sentence_unit=passages,
        sentence_passage=np.arange(records),
        sentence_text=[""] * records,
        trainable_passage=np.ones(records, dtype=bool),
        trainable_sentence=np.ones(records, dtype=bool),
    )
    examples = []
    for i in range(questions):
        gold = i % records
        vector = unit(distortion @ passages[gold] + 0.05 * rng.normal(size=dims))
        rows = np.asarray([gold])

        def score(ranked, gold=gold):
            rank = ranked.index(gold) + 1 if gold in ranked else None
            return float(bool(rank and rank <= 5)), 1 / rank if rank else 0.0

        examples.append(Example(f"q{i}", store, i % 5, vector, rows, rows, False, score))
    return examples


def mrr(examples: list[Example], vector) -> float:
    return float(np.mean([e.score(dense_orders(e, vector(e))["dense"])[1] for e in examples]))


def test_the_fitted_adapter_brings_held_out_questions_nearer_their_gold():
    examples = synthetic()
    train = [e for e in examples if e.fold]
    held_out = [e for e in examples if not e.fold]
    adapter = fit(train, SETTINGS)
    assert mrr(held_out, lambda e: adapter.apply(e.vector)) > mrr(held_out, lambda e: e.vector)


def test_the_same_examples_give_the_same_artefact():
    examples = synthetic()
    assert dumps(fit(examples, SETTINGS).to_dict()) == dumps(fit(examples, SETTINGS).to_dict())
