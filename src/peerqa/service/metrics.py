"""Request metrics for `GET /metrics`, in the Prometheus text format (version 0.0.4).

Written by hand: a few counters, one histogram and some gauges do not need a client
library. The numbers live in this worker's memory (each worker exposes its own; Prometheus
adds them up). Only the event loop writes them (service.middleware), and /metrics renders
on the loop too, so no lock is needed.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field

from peerqa.store import IndexState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds. Searches take tens of milliseconds, answers up to about a second.
LATENCY_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Label values come from route templates and this set, never from raw client input, so the
# number of series stays bounded whatever clients send.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


@dataclass
class Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total += seconds


class Metrics:
    def __init__(self) -> None:
        self.started = time.time()
        self.requests: Counter[tuple[str, str, str]] = Counter()  # (method, route, status)
        self.latency: dict[str, Histogram] = {}  # by route
        self.answers: Counter[str] = Counter()  # by route
        self.abstentions: Counter[str] = Counter()  # by route
        self.rate_limited = 0
        self.in_flight = 0

    def observe(
        self, method: str, route: str, status: int, seconds: float, abstained: bool | None
    ) -> None:
        method = method if method in METHODS else "OTHER"
        self.requests[(method, route, str(status))] += 1
        self.latency.setdefault(route, Histogram()).observe(seconds)
        if abstained is not None:
            self.answers[route] += 1
            self.abstentions[route] += abstained

    def render(self, index: IndexState | None, passages: int) -> str:
        out: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")

        family("peerqa_http_requests_total", "counter", "HTTP requests by method, route, status.")
        for (method, route, status), n in sorted(self.requests.items()):
            labels = _labels(method=method, route=route, status=status)
            out.append(f"peerqa_http_requests_total{labels} {n}")

        name = "peerqa_http_request_duration_seconds"
        family(name, "histogram", "Time from request to the last byte of the response.")
        for route, hist in sorted(self.latency.items()):
            cumulative = 0
            bounds = [*(_number(b) for b in LATENCY_BUCKETS), "+Inf"]
            for bound, count in zip(bounds, hist.counts, strict=True):
                cumulative += count
                out.append(f"{name}_bucket{_labels(route=route, le=bound)} {cumulative}")
            out.append(f"{name}_sum{_labels(route=route)} {_number(hist.total)}")
            out.append(f"{name}_count{_labels(route=route)} {cumulative}")

        family("peerqa_http_requests_in_flight", "gauge", "Requests being served now.")
        out.append(f"peerqa_http_requests_in_flight {self.in_flight}")

        family("peerqa_answers_total", "counter", "Answers composed (ask, stream, chat).")
        for route, n in sorted(self.answers.items()):
            out.append(f"peerqa_answers_total{_labels(route=route)} {n}")
        family("peerqa_abstentions_total", "counter", "Answers that abstained.")
        for route, n in sorted(self.abstentions.items()):
            out.append(f"peerqa_abstentions_total{_labels(route=route)} {n}")

        family("peerqa_rate_limited_total", "counter", "Requests refused with 429.")
        out.append(f"peerqa_rate_limited_total {self.rate_limited}")

        family("peerqa_index_generation", "gauge", "Live index generation (0: none).")
        out.append(f"peerqa_index_generation {index.generation if index else 0}")
        family("peerqa_index_passages", "gauge", "Passages in the live index.")
        out.append(f"peerqa_index_passages {passages}")
        family("peerqa_index_documents", "gauge", "Documents in the live index.")
        out.append(f"peerqa_index_documents {len(index.documents) if index else 0}")

        family("peerqa_process_start_time_seconds", "gauge", "Start of this worker, Unix time.")
        out.append(f"peerqa_process_start_time_seconds {_number(self.started)}")
        return "\n".join(out) + "\n"


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))
