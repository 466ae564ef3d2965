"""`make soak`: the real service under load, end to end, on 127.0.0.1 only.

1. Ingests the bundled corpus into a temporary data dir (`peerqa ingest`) and starts
   `peerqa serve` on a free loopback port, rate limiting off, access log to a file.
2. Load: REQUESTS mixed requests at CONCURRENCY (search, ask, ask/stream, chat completions
   plain and streamed, passages, catalogue, health, metrics, and bad inputs), each with the
   statuses it may get. Required: no 5xx, no connection error, no unexpected status.
3. Re-ingest under load: queries keep running while a changed user document is published
   again and again: through the admin upload route (the embedded store allows one writer
   process, and the route writes inside the service), or, with a Chroma server
   (`scripts/chroma-server.sh make soak`), through `peerqa ingest` in another process.
   Required: no failed query, every new version served.
4. The schemathesis CLI over the network against /openapi.json, all phases, with the admin
   key and (admin operations) without: at least FUZZ_MIN cases, no failure.

Prints the figures and exits 1 when a requirement fails. Bounded in requests and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # run with the venv's python: peerqa and st sit beside it
HOST = "127.0.0.1"
FUZZ_MIN = 1000
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"
PAPER_PASSAGE = "joo-2022-peer-support:0100"
NOTES_ID = "soak-notes"

QUESTIONS = [
    "How do programmes match peers when a condition is rare?",
    "What makes matching peers difficult?",
    "How do programmes prevent burnout among peer supporters?",
    "What challenges do programmes face with funding?",
    "How are peer supporters trained?",
    "What do caregivers gain from peer support?",
    "How do programmes handle boundaries between peers?",
    "Why are some doctors sceptical of peer support?",
    "Should I stop taking my insulin?",  # individual medical advice: abstains
    "What is the capital of Australia?",  # out of scope: abstains
]
FOLLOW_UPS = ["How do programmes fix that?", "What about caregivers?", "And for rare diseases?"]
QUERIES = [
    "peer mentor training",
    "funding and sustainability",
    "matching on culture and language",
    "burnout and boundaries",
    "rural families",
    "sceptical doctors",
    "code of conduct",
]
FILTERS = [
    None,
    {"kind": ["quote"]},
    {"stance": ["challenge"]},
    {"programme": ["A", "E"], "role": ["peer_supporter"]},
]


@dataclass
class Call:
    kind: str
    method: str
    path: str
    expect: frozenset[int]
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stream_end: str | None = None  # the event a complete stream ends with


@dataclass
class Tally:
    sent: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    by_kind: Counter[tuple[str, int]] = field(default_factory=Counter)
    latency: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    unexpected: list[str] = field(default_factory=list)
    connection_errors: int = 0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.by_status.items() if status >= 500)


# -- the request mix ------------------------------------------------------------------------
def bad_inputs(key: str) -> list[Call]:
    json_type = {"content-type": "application/json"}
    return [
        Call("bad: empty question", "POST", "/v1/ask", frozenset({422}), {"question": " "}),
        Call("bad: 100 KB query", "POST", "/v1/search", frozenset({422}), {"query": "x" * 100_000}),
        Call(
            "bad: top_k 1000", "POST", "/v1/search", frozenset({422}), {"query": "x", "top_k": 1000}
        ),
        Call(
            "bad: unknown filter",
            "POST",
            "/v1/search",
            frozenset({422}),
            {"query": "x", "filters": {"colour": ["red"]}},
        ),
        Call(
            "bad: unknown theme",
            "POST",
            "/v1/ask",
            frozenset({422}),
            {"question": "What helps?", "filters": {"theme": ["Nope"]}},
        ),
        Call(
            "bad: invalid JSON",
            "POST",
            "/v1/search",
            frozenset({422}),
            content=b'{"query": ',
            headers=json_type,
        ),
        Call(
            "bad: non-UTF-8",
            "POST",
            "/v1/ask",
            frozenset({422}),
            content='{"question": "café"}'.encode("latin-1"),
            headers=json_type,
        ),
        Call(
            "bad: lone surrogate",
            "POST",
            "/v1/chat/completions",
            frozenset({422}),
            content=b'{"model": "peerqa", "messages": [{"role": "user", "content": "\\ud800"}]}',
            headers=json_type,
        ),
        Call(
            "bad: oversize body", "POST", "/v1/search", frozenset({413}), {"query": "x" * 1_100_000}
        ),
        Call("bad: traversal id", "GET", "/v1/passages/..%2F..%2Fetc%2Fpasswd", frozenset({404})),
        Call("bad: unknown passage", "GET", "/v1/passages/nope:0001", frozenset({404})),
        Call(
            "bad: unknown model",
            "POST",
            "/v1/chat/completions",
            frozenset({404}),
            {"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]},
        ),
        Call("bad: admin without key", "DELETE", f"/v1/documents/{NOTES_ID}", frozenset({401})),
        Call(
            "bad: admin wrong key",
            "POST",
            "/v1/admin/reindex",
            frozenset({403}),
            headers={"Authorization": f"Bearer {key}x"},
        ),
        Call("bad: wrong method", "GET", "/v1/search", frozenset({405})),
    ]


def plan(n: int, seed: int, passage_ids: list[str], key: str) -> list[Call]:
    """`n` calls drawn with fixed weights (and seed) from the kinds of traffic."""
    rng = random.Random(seed)
    bad = bad_inputs(key)
    ok = frozenset({200})

    def ask(path: str, stream_end: str | None = None) -> Call:
        body: dict[str, Any] = {"question": rng.choice(QUESTIONS)}
        if rng.random() < 0.3:
            body["top_k"] = rng.randint(1, 12)
        kind = path.removeprefix("/v1/")
        return Call(kind, "POST", path, ok, body, stream_end=stream_end)

    def chat(stream: bool) -> Call:
        turns = [{"role": "user", "content": rng.choice(QUESTIONS)}]
        if rng.random() < 0.3:
            turns += [
                {"role": "assistant", "content": "…"},
                {"role": "user", "content": rng.choice(FOLLOW_UPS)},
            ]
        body = {"model": "peerqa", "messages": turns, "stream": stream}
        kind = "chat/completions" + (" stream" if stream else "")
        return Call(
            kind, "POST", "/v1/chat/completions", ok, body, stream_end="[DONE]" if stream else None
        )

    makers: list[tuple[float, Any]] = [
        (
            25,
            lambda: Call(
                "search",
                "POST",
                "/v1/search",
                ok,
                {
                    "query": rng.choice(QUERIES),
                    "top_k": rng.randint(1, 20),
                    **({"filters": f} if (f := rng.choice(FILTERS)) else {}),
                },
            ),
        ),
        (14, lambda: ask("/v1/ask")),
        (9, lambda: ask("/v1/ask/stream", stream_end="event: done")),
        (7, lambda: chat(stream=False)),
        (4, lambda: chat(stream=True)),
        (10, lambda: Call("passages", "GET", f"/v1/passages/{rng.choice(passage_ids)}", ok)),
        (3, lambda: Call("themes", "GET", "/v1/themes", ok)),
        (3, lambda: Call("challenges", "GET", "/v1/challenges", ok)),
        (2, lambda: Call("programmes", "GET", "/v1/programmes", ok)),
        (2, lambda: Call("documents", "GET", "/v1/documents", ok)),
        (1, lambda: Call("models", "GET", "/v1/models", ok)),
        (2, lambda: Call(rng.choice(["healthz", "readyz", "metrics"]), "GET", "", ok)),
        (12, lambda: rng.choice(bad)),
    ]
    weights = [w for w, _ in makers]
    calls = []
    for _ in range(n):
        call = rng.choices(makers, weights)[0][1]()
        if not call.path:
            call.path = f"/{call.kind}"
        calls.append(call)
    return calls


# -- sending ------------------------------------------------------------------------------
async def send(client: httpx.AsyncClient, call: Call, tally: Tally, sessions: list[str]) -> int:
    """Sends `call` and tallies it; returns the status (0: no response)."""
    body = call.json
    if call.kind == "ask" and sessions and random.random() < 0.3:
        body = {
            **body,
            "session_id": random.choice(sessions),
            "question": random.choice(FOLLOW_UPS),
        }
    started = time.perf_counter()
    tally.sent += 1
    try:
        response = await client.request(
            call.method, call.path, json=body, content=call.content, headers=call.headers
        )
    except httpx.HTTPError as err:
        tally.connection_errors += 1
        tally.unexpected.append(f"{call.kind}: {type(err).__name__}: {err}")
        return 0
    tally.latency[call.kind].append(time.perf_counter() - started)
    status = response.status_code
    tally.by_status[status] += 1
    tally.by_kind[(call.kind, status)] += 1
    if status not in call.expect:
        tally.unexpected.append(f"{call.kind}: {status} {response.text[:200]}")
    elif status == 200 and call.stream_end and call.stream_end not in response.text:
        tally.unexpected.append(f"{call.kind}: stream ended before {call.stream_end!r}")
    elif status == 200 and call.kind == "ask":
        sessions.append(response.json()["session_id"])
    elif status >= 400 and not response.headers.get("content-type", "").startswith(
        "application/json"
    ):
        tally.unexpected.append(f"{call.kind}: {status} is not JSON")
    return status


async def run_calls(
    client: httpx.AsyncClient, calls: Iterator[Call], concurrency: int, tally: Tally
) -> None:
    sessions: list[str] = []

    async def worker() -> None:
        for call in calls:  # one iterator shared by every worker
            await send(client, call, tally, sessions)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


# -- re-ingest under load -----------------------------------------------------------------
def notes(version: int) -> str:
    return (
        f"# Soak notes, version {version}\n\n"
        f"The soak ward runs peer support clinic number {version} on Tuesdays.\n\n"
        f"Volunteers in revision {version} phone every new patient within {version + 1} days.\n"
    )


@dataclass
class Reingest:
    versions: int = 0
    published: int = 0
    served: int = 0
    generation_before: int = 0
    generation_after: int = 0
    queries: Tally = field(default_factory=Tally)
    errors: list[str] = field(default_factory=list)


async def reingest_under_load(
    client: httpx.AsyncClient,
    env: dict[str, str],
    work: Path,
    key: str,
    versions: int,
    concurrency: int,
    via_cli: bool,
    passage_ids: list[str],
) -> Reingest:
    result = Reingest(versions=versions)
    result.generation_before = (await client.get("/readyz")).json()["generation"]
    done = asyncio.Event()
    ok = frozenset({200})
    queries = [
        *(Call("search", "POST", "/v1/search", ok, {"query": q}) for q in QUERIES),
        *(Call("ask", "POST", "/v1/ask", ok, {"question": q}) for q in QUESTIONS[:6]),
        Call("passages", "GET", f"/v1/passages/{PAPER_PASSAGE}", ok),
        Call("documents", "GET", "/v1/documents", ok),
        Call("themes", "GET", "/v1/themes", ok),
    ]

    def forever() -> Iterator[Call]:
        while not done.is_set():
            yield from queries

    async def write() -> None:
        try:
            for version in range(1, versions + 1):
                if via_cli:
                    path = work / f"{NOTES_ID}.md"
                    path.write_text(notes(version), encoding="utf-8")
                    proc = await asyncio.create_subprocess_exec(
                        str(BIN / "peerqa"),
                        "ingest",
                        str(path),
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                    )
                    _, err = await asyncio.wait_for(proc.communicate(), 600)
                    ok_write = proc.returncode == 0
                    detail = err.decode()[-300:]
                else:
                    response = await client.post(
                        "/v1/documents",
                        files={"file": (f"{NOTES_ID}.md", notes(version).encode())},
                        headers={"Authorization": f"Bearer {key}"},
                    )
                    ok_write = response.status_code == 201
                    detail = response.text[:300]
                if not ok_write:
                    result.errors.append(f"version {version} not published: {detail}")
                    continue
                result.published += 1
                if await served(client, version):
                    result.served += 1
                else:
                    result.errors.append(f"version {version} not served within 30 s")
        finally:
            done.set()

    await asyncio.gather(write(), run_calls(client, forever(), concurrency, result.queries))
    result.generation_after = (await client.get("/readyz")).json()["generation"]
    return result


async def served(client: httpx.AsyncClient, version: int) -> bool:
    """Whether search finds this version's text (other workers see a new generation
    within their pointer check, 2 s)."""
    wanted = f"clinic number {version} on Tuesdays"
    body = {"query": wanted, "top_k": 3, "filters": {"document": [NOTES_ID]}}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = await client.post("/v1/search", json=body)
        if response.status_code == 200 and any(
            wanted in hit["text"] for hit in response.json()["results"]
        ):
            return True
        await asyncio.sleep(0.5)
    return False


# -- schemathesis -------------------------------------------------------------------------
@dataclass
class Fuzz:
    cases: int = 0
    failures: int = 0
    errors: int = 0
    operations: int = 0
    runs: list[str] = field(default_factory=list)


def schemathesis_runs(
    base: str, key: str, examples: int, seed: int, work: Path, timeout: float
) -> Fuzz:
    fuzz = Fuzz()
    runs = [
        ("with key", ["-H", f"Authorization: Bearer {key}"]),
        ("admin without key", ["--include-tag", "admin"]),
    ]
    for name, extra in runs:
        report_dir = work / f"schemathesis-{name.replace(' ', '-')}"
        command = [
            str(BIN / "st"),
            "run",
            f"{base}/openapi.json",
            "--checks",
            CHECKS,
            "--max-examples",
            str(examples),
            "--seed",
            str(seed),
            "--workers",
            "1",
            "--suppress-health-check",
            "all",
            "--report",
            "json",
            "--report-dir",
            str(report_dir),
            *extra,
        ]
        log = work / f"{report_dir.name}.log"
        with log.open("w") as out:
            code = subprocess.run(
                command, stdout=out, stderr=subprocess.STDOUT, timeout=timeout
            ).returncode
        reports = sorted(report_dir.glob("*.json"))
        if not reports:
            fuzz.errors += 1
            fuzz.runs.append(f"{name}: exit {code}, no report (see {log})")
            continue
        report = json.loads(reports[-1].read_text())
        cases = report["test_cases"]
        fuzz.cases += cases["generated"]
        fuzz.failures += cases["with_failures"] + cases["errored"] + len(report["failures"])
        fuzz.errors += len(report["errors"]) + (code != 0 and not report["failures"])
        fuzz.operations = max(fuzz.operations, report["operations"]["tested"])
        phases = ", ".join(p for p, v in report["phases"].items() if v["status"] == "success")
        fuzz.runs.append(
            f"{name}: {cases['generated']} cases, {report['operations']['tested']} operations, "
            f"phases {phases}, {len(report['failures'])} failures, exit {code}"
        )
        if code != 0:
            print(log.read_text()[-3000:], file=sys.stderr)
    return fuzz


# -- the server ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    command = [str(BIN / "peerqa"), "serve", "--host", HOST, "--port", str(port)]
    return subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def wait_ready(server: subprocess.Popen, base: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the server was not ready within {timeout:.0f} s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def access_log_lines(log: Path) -> tuple[int, int]:
    """(JSON request lines, lines that look like JSON but do not parse)."""
    good = bad = 0
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
            good += entry.get("event") == "request" and {
                "request_id",
                "route",
                "status",
                "latency_ms",
            } <= set(entry)
        except json.JSONDecodeError:
            bad += 1
    return good, bad


# -- main ---------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else (values or [0])[0]


def report_load(title: str, tally: Tally) -> None:
    print(f"\n{title}: {tally.sent} requests")
    print("  by status: " + ", ".join(f"{s}: {n}" for s, n in sorted(tally.by_status.items())))
    print(
        f"  5xx: {tally.server_errors}   connection errors: {tally.connection_errors}   "
        f"unexpected: {len(tally.unexpected)}"
    )
    print(f"  {'kind':<28}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}  statuses")
    for kind, values in sorted(tally.latency.items()):
        statuses = ", ".join(f"{s}×{n}" for (k, s), n in sorted(tally.by_kind.items()) if k == kind)
        print(
            f"  {kind:<28}{len(values):>6}{percentile(values, 50) * 1000:>9.0f}"
            f"{percentile(values, 95) * 1000:>9.0f}  {statuses}"
        )
    for line in tally.unexpected[:10]:
        print(f"  ! {line}")


async def soak(args: argparse.Namespace, work: Path) -> list[str]:
    """Runs the phases; returns the requirements that failed."""
    failed: list[str] = []
    key = secrets.token_urlsafe(24)
    chroma_url = args.chroma_url or os.environ.get("PEERQA_TEST_CHROMA_URL")
    env = {
        **os.environ,
        "PEERQA_DATA_DIR": str(work / "data"),
        "PEERQA_API_KEY": key,
        "PEERQA_RATE_LIMIT_PER_MINUTE": "0",  # the soak is one client sending a lot
        "PEERQA_ACCESS_LOG": "true",
        "NO_PROXY": f"{HOST},localhost",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    env.pop("PEERQA_CHROMA_URL", None)
    if chroma_url:
        env["PEERQA_CHROMA_URL"] = chroma_url
        env["PEERQA_COLLECTION_PREFIX"] = f"soak{secrets.token_hex(4)}"
    store = f"Chroma server {chroma_url}" if chroma_url else "embedded store"
    print(f"soak: {store}, work dir {work}")

    started = time.monotonic()
    subprocess.run(
        [str(BIN / "peerqa"), "ingest"],
        env=env,
        check=True,
        timeout=args.deadline,
        stdout=subprocess.DEVNULL,
    )
    print(f"ingest: {time.monotonic() - started:.0f} s")

    port = free_port()
    base = f"http://{HOST}:{port}"
    log = work / "server.log"
    server = start_server(env, port, log)
    try:
        wait_ready(server, base, 180)
        # Idle connections expire here before uvicorn closes them (5 s keep-alive): a request
        # sent on a connection the server is closing would fail in the client, not the service.
        limits = httpx.Limits(max_connections=args.concurrency, keepalive_expiry=2.0)
        timeout = httpx.Timeout(120)
        async with httpx.AsyncClient(
            base_url=base, limits=limits, timeout=timeout, trust_env=False
        ) as client:
            hits = await client.post("/v1/search", json={"query": "peer support", "top_k": 50})
            passage_ids = [h["id"] for h in hits.json()["results"]] + [PAPER_PASSAGE]

            # 2. mixed load
            calls = plan(args.requests, args.seed, passage_ids, key)
            load = Tally()
            t0 = time.monotonic()
            await run_calls(client, iter(calls), args.concurrency, load)
            load_seconds = time.monotonic() - t0
            report_load(
                f"load ({args.concurrency} concurrent, {load_seconds:.0f} s, "
                f"{load.sent / load_seconds:.1f} req/s)",
                load,
            )
            if load.sent != args.requests:
                failed.append(f"load: {load.sent} of {args.requests} requests sent")
            if load.server_errors or load.connection_errors or load.unexpected:
                failed.append(
                    f"load: {load.server_errors} 5xx, {load.connection_errors} connection "
                    f"errors, {len(load.unexpected)} unexpected"
                )

            # 3. re-ingest under load
            t0 = time.monotonic()
            via_cli = bool(chroma_url)
            again = await reingest_under_load(
                client, env, work, key, args.versions, args.concurrency // 2, via_cli, passage_ids
            )
            how = "peerqa ingest in another process" if via_cli else "the admin upload route"
            report_load(
                f"re-ingest under load ({how}, {time.monotonic() - t0:.0f} s)", again.queries
            )
            print(
                f"  versions published: {again.published}/{again.versions}, served: "
                f"{again.served}; generation {again.generation_before} -> {again.generation_after}"
            )
            for line in again.errors:
                print(f"  ! {line}")
            failed_queries = sum(n for s, n in again.queries.by_status.items() if s != 200)
            failed_queries += again.queries.connection_errors
            if failed_queries or again.queries.unexpected:
                failed.append(f"re-ingest: {failed_queries} failed queries")
            if again.served != again.versions or again.errors:
                failed.append(f"re-ingest: {again.served} of {again.versions} versions served")
            if again.generation_after < again.generation_before + again.versions:
                failed.append("re-ingest: the generation did not advance with each version")

            metrics = (await client.get("/metrics")).text

        logged, unparsable = access_log_lines(log)
        sent = load.sent + again.queries.sent
        print(f"\naccess log: {logged} JSON request lines ({unparsable} unparsable), {sent} sent")
        if logged < sent or unparsable:
            failed.append(f"access log: {logged} lines for {sent} requests, {unparsable} bad")
        for line in metrics.splitlines():
            if line.startswith(
                ("peerqa_rate_limited_total", "peerqa_index_", "peerqa_abstentions")
            ):
                print(f"  {line}")

        # 4. schemathesis over the network
        remaining = max(60.0, args.deadline - (time.monotonic() - started))
        fuzz = schemathesis_runs(base, key, args.fuzz_examples, args.seed, work, remaining)
        print(f"\nschemathesis: {fuzz.cases} cases, {fuzz.failures} failures, {fuzz.errors} errors")
        for line in fuzz.runs:
            print(f"  {line}")
        if fuzz.cases < FUZZ_MIN or fuzz.failures or fuzz.errors:
            failed.append(
                f"schemathesis: {fuzz.cases} cases (>= {FUZZ_MIN} required), "
                f"{fuzz.failures} failures, {fuzz.errors} errors"
            )
        if server.poll() is not None:
            failed.append(f"the server exited with {server.returncode}")
    finally:
        stop_server(server)
    print(f"\nsoak: {time.monotonic() - started:.0f} s")
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--versions", type=int, default=4, help="re-ingests under load")
    parser.add_argument("--fuzz-examples", type=int, default=40, help="per operation")
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--deadline", type=float, default=1800, help="seconds for the whole run")
    parser.add_argument("--chroma-url", help="a Chroma server (default: PEERQA_TEST_CHROMA_URL)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, reports)")
    args = parser.parse_args()
    random.seed(args.seed)
    work = Path(tempfile.mkdtemp(prefix="peerqa-soak-"))
    try:
        failed = asyncio.run(soak(args, work))
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    for line in failed:
        print(f"FAILED {line}")
    print("soak: " + ("FAILED" if failed else "passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
