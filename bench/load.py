"""HTTP load: an async httpx client, sequential (concurrency 1) or N requests in flight."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import httpx

from bench.stats import summarize


async def _run(
    base_url: str, path: str, bodies: list[dict[str, Any]], concurrency: int, budget_s: float
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    cursor = iter(bodies)
    deadline = time.perf_counter() + budget_s
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(
        base_url=base_url, timeout=60.0, limits=limits, trust_env=False
    ) as client:

        async def worker() -> None:
            for body in cursor:  # one shared iterator: each body is sent once
                if time.perf_counter() > deadline:
                    return
                start = time.perf_counter()
                try:
                    response = await client.post(path, json=body)
                    await response.aread()
                except httpx.HTTPError as err:
                    errors[type(err).__name__] += 1
                    continue
                if response.status_code == 200:
                    latencies.append((time.perf_counter() - start) * 1000)
                else:
                    errors[str(response.status_code)] += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - began
    return {
        "concurrency": concurrency,
        "requests": len(latencies) + sum(errors.values()),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "wall_s": round(wall, 2),
        "rps": round(len(latencies) / wall, 1) if wall else 0.0,
        "latency_ms": summarize(latencies),
        "budget_hit": time.perf_counter() > deadline,
    }


def run_load(
    base_url: str,
    path: str,
    bodies: list[dict[str, Any]],
    concurrency: int = 1,
    budget_s: float = 90.0,
) -> dict[str, Any]:
    """POST each body once, `concurrency` at a time, stopping early after `budget_s`."""
    return asyncio.run(_run(base_url, path, bodies, concurrency, budget_s))
