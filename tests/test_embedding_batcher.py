"""QueryBatcher: concurrent queries share forward passes; each gets its own vector."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from peerqa.embedding import MAX_QUERY_BATCH, QueryBatcher


class FakeModel:
    def __init__(self, delay: float = 0.01):
        self.batches: list[list[str]] = []
        self.delay = delay
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            self.batches.append(list(texts))
        time.sleep(self.delay)  # the model is busy: later callers queue up
        return [[float(len(t)), float(sum(map(ord, t)))] for t in texts]


def test_a_lone_query_runs_alone():
    model = FakeModel()
    assert QueryBatcher(model)("abc") == [3.0, float(sum(map(ord, "abc")))]
    assert model.batches == [["abc"]]


def test_concurrent_queries_are_batched_and_each_gets_its_vector():
    model = FakeModel()
    batcher = QueryBatcher(model)
    texts = [f"query number {i}" for i in range(64)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        vectors = list(pool.map(batcher, texts))
    assert vectors == [[float(len(t)), float(sum(map(ord, t)))] for t in texts]
    assert sorted(t for batch in model.batches for t in batch) == sorted(texts)
    assert len(model.batches) < len(texts)  # some shared a forward pass
    assert max(map(len, model.batches)) <= MAX_QUERY_BATCH


def test_an_encoder_error_reaches_every_query_of_the_batch_and_the_batcher_recovers():
    calls = 0

    def flaky(texts: list[str]) -> list[list[float]]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        return [[1.0] for _ in texts]

    batcher = QueryBatcher(flaky)
    with pytest.raises(RuntimeError, match="boom"):
        batcher("first")
    assert batcher("second") == [1.0]
