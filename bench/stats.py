"""Latency summaries: percentiles over milliseconds."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np


def summarize(latencies_ms: Iterable[float]) -> dict[str, float | int]:
    values = np.asarray(list(latencies_ms), dtype=float)
    if not values.size:
        return {"n": 0}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "n": int(values.size),
        "p50": round(float(p50), 2),
        "p95": round(float(p95), 2),
        "p99": round(float(p99), 2),
        "mean": round(float(values.mean()), 2),
        "max": round(float(values.max()), 2),
    }


def time_each(fn: Callable[[Any], object], inputs: Iterable[Any]) -> dict[str, float | int]:
    """Call `fn` on each input in turn; the summary of the wall times."""
    latencies = []
    for item in inputs:
        start = time.perf_counter()
        fn(item)
        latencies.append((time.perf_counter() - start) * 1000)
    return summarize(latencies)
