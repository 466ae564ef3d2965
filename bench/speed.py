"""Ingest speed as a user meets it (issue 14), part of `make bench`; alone:
`python -m bench.speed` (writes bench/speed.{json,md}).

- user papers: cold `peerqa ingest` of the bundled corpus on an empty data dir, then
  `peerqa ingest` of the real CC BY papers in tests/fixtures/papers (a new process: only
  the papers are embedded), BENCH_INGEST_RUNS times; the median of the per-run ratios;
- server start on a fresh cache dir (a new PEERQA_CACHE_DIR each time) over the data dir
  holding the corpus and the papers: to ready, START_RUNS times;
- /v1/ask p95 during admin uploads of papers against the same server's idle p95, on the
  embedded store and on a Chroma server (`chroma run` on a free loopback port). Asks are
  sent one at a time at ASK_PACE_S with queries never sent before: idle (half before the
  uploads, half after, so a load change on the machine weighs on both; each half after
  N_WARM_ASKS that fill the answer caches) and during (the publishes and the caches they
  empty count: that is what an upload costs); UPLOAD_REPEATS rounds, the median of the
  rounds' p95 ratios.

The machine is shared: every figure is a median of runs or a ratio within one run.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.queries import QueryPool
from bench.server import HOST, Server, child_env, free_port
from bench.stats import summarize
from peerqa.config import REPO_ROOT

# Four real CC BY papers (issue 14's "four user papers"), named so that fixtures added
# later do not change what is measured.
PAPERS = [
    REPO_ROOT / "tests" / "fixtures" / "papers" / f"paper_{n}.md"
    for n in ("0635", "1409", "1571", "1850")
]
UPLOADS = PAPERS[-2:]  # uploaded one after the other while asks are measured
INGEST_RUNS = int(os.environ.get("BENCH_INGEST_RUNS", "3"))
START_RUNS = 3
ASK_PACE_S = 0.25  # one ask every 0.25 s at most: a steady load, the same idle and during
N_IDLE_ASKS = 80  # per round, half before the uploads and half after
# Rounds of idle / during uploads / idle on one server: a p95 of one round's ~70 asks
# during two uploads moves with one slow ask, the median of the rounds' ratios less.
UPLOAD_REPEATS = int(os.environ.get("BENCH_UPLOAD_REPEATS", "3"))
# Before each idle half: asks that fill the answer composer's sentence cache (dropped
# whenever a generation is published), so idle means steady state.
N_WARM_ASKS = 30
MAX_UPLOAD_ASKS = 1000  # asks during a round's uploads, at most (the query pool is finite)
ADMIN_KEY = "bench-admin-key"
CHROMA_STARTUP_S = 60.0


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def run_speed(work: Path, pool: QueryPool) -> dict[str, Any]:
    from bench.run import run_timed  # bench.run imports this module

    load_start = _load()
    ingest = bench_papers_ingest(work, run_timed)
    data_dir = Path(ingest.pop("data_dir"))
    return {
        "papers": [p.name for p in PAPERS],
        "ingest": ingest,
        "fresh_start": bench_fresh_start(data_dir, work),
        "upload": {
            "embedded": bench_ask_during_upload(work / "upload-embedded" / "data", pool, None),
            "chroma_server": _on_chroma_server(work, pool),
        },
        "load_average": {"start": load_start, "end": _load()},
    }


def _load() -> list[float]:
    """1/5/15-minute load averages: the 2 cores are shared, read every figure with them."""
    return [round(x, 2) for x in os.getloadavg()]


# -- cold ingest: user papers against the bundled paper ----------------------------------
def bench_papers_ingest(work: Path, run_timed: Any) -> dict[str, Any]:
    command = [sys.executable, "-m", "peerqa.cli", "ingest", "--json"]
    runs = []
    for i in range(INGEST_RUNS):
        data_dir = work / f"papers-{i}" / "data"
        env = child_env(data_dir, REPO_ROOT)
        run: dict[str, Any] = {}
        for name, extra in (("bundled", []), ("papers", [str(p) for p in PAPERS])):
            _log(f"cold ingest {i + 1}/{INGEST_RUNS}: {name}")
            timed = run_timed(command + extra, env)
            report = json.loads(timed.pop("stdout"))
            run[name] = timed | {"embedded": report["embedded"], "passages": report["passages"]}
        run["ratio"] = round(run["papers"]["wall_s"] / run["bundled"]["wall_s"], 2)
        # CPU time moves less with the machine's load than wall time: shown beside it.
        run["cpu_ratio"] = round(run["papers"]["cpu_s"] / run["bundled"]["cpu_s"], 2)
        run["load_average"] = round(os.getloadavg()[0], 2)
        runs.append(run)
        if i + 1 < INGEST_RUNS and os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(data_dir.parent, ignore_errors=True)
    return {
        "runs": runs,
        "bundled_wall_s": _median([r["bundled"]["wall_s"] for r in runs]),
        "papers_wall_s": _median([r["papers"]["wall_s"] for r in runs]),
        "ratio": _median([r["ratio"] for r in runs]),
        "cpu_ratio": _median([r["cpu_ratio"] for r in runs]),
        "data_dir": str(data_dir),
    }


# -- server start on a fresh cache dir ---------------------------------------------------
def bench_fresh_start(data_dir: Path, work: Path) -> dict[str, Any]:
    starts, made = [], []
    for i in range(START_RUNS):
        cache = work / f"fresh-cache-{i}"
        env = child_env(data_dir, REPO_ROOT) | {"PEERQA_CACHE_DIR": str(cache)}
        _log(f"server start on a fresh cache dir {i + 1}/{START_RUNS}")
        with Server(env, work / "fresh-start.log", REPO_ROOT) as server:
            starts.append(server.startup_s)
            r = httpx.post(
                f"{server.base_url}/v1/search", json={"query": "peer support"}, trust_env=False
            )
            r.raise_for_status()
        # What the start had to make itself: with ingest-made files, nothing.
        made.append(sorted(p.name for p in cache.glob("*")) if cache.exists() else [])
    return {"startup_s": starts, "median_s": _median(starts), "made_in_cache_dir": made}


# -- /v1/ask during an admin upload ------------------------------------------------------
def _paced_asks(
    client: httpx.Client, queries: Iterator[str], errors: list[dict[str, Any]], until: Any = None
) -> list[float]:
    """Send asks one at a time, one every ASK_PACE_S at most, until the queries run out
    or `until()` is true; each answered one's latency in ms. A failed ask goes to `errors`
    (reported beside the figures) and the run goes on."""
    latencies = []
    for query in queries:
        if until is not None and until():
            break
        start = time.perf_counter()
        r = client.post("/v1/ask", json={"question": query})
        elapsed = time.perf_counter() - start
        if r.is_success:
            latencies.append(elapsed * 1000)
        else:
            errors.append({"status": r.status_code, "question": query})
        time.sleep(max(0.0, ASK_PACE_S - elapsed))
    return latencies


def bench_ask_during_upload(
    data_dir: Path, pool: QueryPool, chroma_url: str | None
) -> dict[str, Any]:
    """UPLOAD_REPEATS rounds on one server, each: idle asks, asks during the uploads,
    idle asks again, then the uploaded papers deleted (not measured) so the next round
    uploads them anew. The p95 ratio is each round's during / idle p95; the figure is their
    median, beside the pooled percentiles."""
    label = "Chroma server" if chroma_url else "embedded store"
    env = child_env(data_dir, REPO_ROOT) | {"PEERQA_API_KEY": ADMIN_KEY}
    if chroma_url:
        env |= {"PEERQA_CHROMA_URL": chroma_url, "NO_PROXY": "127.0.0.1,localhost"}
    _log(f"upload ({label}): ingest the bundled corpus")
    subprocess.run(
        [sys.executable, "-m", "peerqa.cli", "ingest", "--json"],
        env=env,
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    errors: list[dict[str, Any]] = []
    rounds = []
    with Server(env, data_dir.parent / "server.log", REPO_ROOT) as server:
        client = httpx.Client(base_url=server.base_url, timeout=600.0, trust_env=False)
        with client:
            for n in range(UPLOAD_REPEATS):
                _log(f"upload ({label}) round {n + 1}/{UPLOAD_REPEATS}")
                rounds.append(_upload_round(client, pool, errors))
    idle = [ms for r in rounds for ms in r.pop("idle")]
    during = [ms for r in rounds for ms in r.pop("during")]
    ratios = [r["p95_ratio"] for r in rounds if r["p95_ratio"] is not None]
    return {
        "idle_ms": summarize(idle),
        "during_ms": summarize(during),
        "rounds": rounds,
        "uploads": [u for r in rounds for u in r["uploads"]],
        "ask_errors": errors,
        "p95_ratio": _median(ratios) if ratios else None,
    }


def _upload_round(
    client: httpx.Client, pool: QueryPool, errors: list[dict[str, Any]]
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    _paced_asks(client, iter(pool.take(N_WARM_ASKS)), errors)
    idle = _paced_asks(client, iter(pool.take(N_IDLE_ASKS // 2)), errors)
    uploads: list[dict[str, Any]] = []
    added: list[str] = []

    def upload_all() -> None:
        for paper in UPLOADS:
            start = time.perf_counter()
            r = client.post(
                "/v1/documents", files={"file": (paper.name, paper.read_bytes())}, headers=headers
            )
            seconds = round(time.perf_counter() - start, 2)
            uploads.append({"paper": paper.name, "status": r.status_code, "s": seconds})
            if r.status_code == 201:
                added.append(r.json()["id"])

    uploader = threading.Thread(target=upload_all)
    uploader.start()
    queries = iter(pool.take(min(MAX_UPLOAD_ASKS, pool.left)))
    during = _paced_asks(client, queries, errors, until=lambda: not uploader.is_alive())
    uploader.join()
    _paced_asks(client, iter(pool.take(N_WARM_ASKS)), errors)
    idle += _paced_asks(client, iter(pool.take(N_IDLE_ASKS // 2)), errors)
    for document in added:  # the next round uploads them again
        client.delete(f"/v1/documents/{document}", headers=headers).raise_for_status()
    idle_s, during_s = summarize(idle), summarize(during)
    return {
        "idle": idle,
        "during": during,
        "idle_ms": idle_s,
        "during_ms": during_s,
        "uploads": uploads,
        "p95_ratio": round(during_s["p95"] / idle_s["p95"], 2) if during_s.get("n") else None,
    }


@contextmanager
def chroma_server(path: Path) -> Iterator[str]:
    """`chroma run` on a free loopback port (the venv's, as scripts/chroma-server.sh)."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    chroma = Path(sys.executable).parent / "chroma"
    log = (path.parent / "chroma.log").open("ab")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", HOST, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + CHROMA_STARTUP_S
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=2, trust_env=False).is_success:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chroma run did not start; see {log.name}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _on_chroma_server(work: Path, pool: QueryPool) -> dict[str, Any]:
    folder = work / "upload-chroma"
    folder.mkdir(parents=True, exist_ok=True)
    with chroma_server(folder / "chroma") as url:
        return bench_ask_during_upload(folder / "data", pool, url)


# -- targets and report ------------------------------------------------------------------
def speed_targets(s: dict[str, Any]) -> list[tuple[str, float | None, str, float, str]]:
    """(target, measured, op, limit, unit) rows for bench.run.targets."""
    rows: list[tuple[str, float | None, str, float, str]] = [
        ("cold ingest: user papers / bundled paper (median)", s["ingest"]["ratio"], "≤", 2, "×"),
        ("server start on a fresh cache dir (median)", s["fresh_start"]["median_s"], "≤", 15, " s"),
    ]
    for store, name in (("embedded", "embedded store"), ("chroma_server", "Chroma server")):
        ratio = s["upload"][store].get("p95_ratio")
        rows.append((f"/v1/ask p95 during an upload / idle p95, {name}", ratio, "≤", 2, "×"))
        failed = len(s["upload"][store].get("ask_errors", []))
        rows.append((f"/v1/ask failed in the upload part, {name}", failed, "=", 0, ""))
    return rows


def render_speed(s: dict[str, Any]) -> list[str]:
    ing, start = s["ingest"], s["fresh_start"]
    load = s.get("load_average", {})
    lines = [
        "## Ingest speed (user papers, fresh caches, uploads)",
        "",
        f"Load average (1/5/15 min) at the start of this part {load.get('start')}, at its end "
        f"{load.get('end')}, on {os.cpu_count()} CPUs.",
        "",
        f"Cold `peerqa ingest` of the user papers ({', '.join(s['papers'])}: real CC BY papers "
        "in tests/fixtures/papers) into a store holding the bundled corpus, against the "
        f"bundled corpus's cold ingest on an empty data dir, {len(ing['runs'])} runs:",
        "",
        "| run | bundled wall s (embedded) | papers wall s (embedded) | papers peak RSS MB "
        "| ratio | CPU s bundled / papers (ratio) | load average after |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| {i + 1} | {r['bundled']['wall_s']} ({r['bundled']['embedded']}) "
            f"| {r['papers']['wall_s']} ({r['papers']['embedded']}) "
            f"| {r['papers']['max_rss_mb']} | {r['ratio']} | {r['bundled']['cpu_s']} / "
            f"{r['papers']['cpu_s']} ({r.get('cpu_ratio')}) | {r.get('load_average')} |"
            for i, r in enumerate(ing["runs"])
        ],
        f"| median | {ing['bundled_wall_s']} | {ing['papers_wall_s']} | | {ing['ratio']} "
        f"| ({ing.get('cpu_ratio')}) | |",
        "",
        f"Server start to ready on a fresh cache dir (corpus + papers): {start['startup_s']} s, "
        f"median {start['median_s']} s; files the start made in the cache dir: "
        f"{start['made_in_cache_dir']}.",
        "",
        f"`/v1/ask` one at a time (every {ASK_PACE_S} s at most), idle and while "
        f"{' then '.join(p.name for p in UPLOADS)} are uploaded (POST /v1/documents), "
        f"{UPLOAD_REPEATS} rounds per store (the papers deleted after each); percentiles "
        "pooled over the rounds, the ratio the median of the rounds' p95 ratios; the slowest "
        "ask beside them (a stall after a publish shows there first):",
        "",
        "| store | idle p50 / p95 / max ms (n) | during uploads p50 / p95 / max ms (n) "
        "| p95 ratio (rounds) | uploads (status, s) | failed asks |",
        "|---|---|---|---|---|---|",
    ]
    for store, name in (("embedded", "embedded"), ("chroma_server", "Chroma server")):
        u = s["upload"][store]
        idle, during = u["idle_ms"], u["during_ms"]
        ups = ", ".join(f"{x['paper']} {x['status']} {x['s']}" for x in u["uploads"])
        rounds = [r["p95_ratio"] for r in u.get("rounds", [])]
        lines.append(
            f"| {name} | {idle.get('p50')} / {idle.get('p95')} / {idle.get('max')} "
            f"({idle.get('n')}) | {during.get('p50')} / {during.get('p95')} / "
            f"{during.get('max')} ({during.get('n')}) "
            f"| {u['p95_ratio']} ({', '.join(map(str, rounds))}) | {ups} "
            f"| {_failed(u.get('ask_errors', []))} |"
        )
    return [*lines, ""]


def _failed(errors: list[dict[str, Any]]) -> str:
    return "; ".join(f"{e['status']}: {e['question']!r}" for e in errors) or "0"


def main() -> int:
    out_dir = Path(os.environ.get("BENCH_OUT") or REPO_ROOT / "bench")
    work = Path(tempfile.mkdtemp(prefix="peerqa-bench-speed-"))
    started = time.perf_counter()
    try:
        speed = run_speed(work, QueryPool())
    finally:
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    speed["duration_s"] = round(time.perf_counter() - started, 1)
    speed["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(write_speed(speed, out_dir))
    return 0


def write_speed(speed: dict[str, Any], out_dir: Path) -> str:
    """bench/speed.{json,md} (`make bench` writes them too); the Markdown."""
    from bench.run import _target

    targets = [_target(*row) for row in speed_targets(speed)]
    speed["targets"] = targets
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "speed.json").write_text(json.dumps(speed, indent=2) + "\n", encoding="utf-8")
    markdown = "\n".join(
        [
            "| target | goal | measured | met |",
            "|---|---|---|---|",
            *[
                f"| {t['target']} | {t['goal']} | {t['measured']} "
                f"| {'yes' if t['met'] else '**no**'} |"
                for t in targets
            ],
            "",
            *render_speed(speed),
        ]
    )
    (out_dir / "speed.md").write_text(markdown, encoding="utf-8")
    return markdown


if __name__ == "__main__":
    raise SystemExit(main())
