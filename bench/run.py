"""`make bench`: peerqa's performance on this machine, beside llama-index defaults.

Everything runs on a temporary data dir and 127.0.0.1 only, with bounded request counts
and time budgets:

- ingest: cold (`peerqa ingest` as a subprocess on an empty data dir: imports, model
  load, parsing, embedding, Chroma writes) and no-op re-ingest (subprocess again);
  embedding throughput in process (passages/s, sentences/s);
- in process: LiveIndex.search and compose (ask) beside llama-index's default retriever
  over the same passage collection and model, and the floor: embedding one query;
- HTTP: `peerqa serve` on a free port; /v1/search and /v1/ask sequentially and at
  concurrency 16 (async httpx), with throughput, errors and the server's peak RSS;
- ingest speed (bench/speed.py): cold ingest of real user papers against the bundled
  paper's, server start on a fresh cache dir, /v1/ask p95 during admin uploads against
  idle on the embedded store and a Chroma server;
- scale: the corpus plus synthetic passages (bench/synthetic.py: derived vectors, no
  model) at each of BENCH_SCALES (default "10000,100000"; "" skips): index build time,
  size on disk, search latency and the serving process's peak RSS (VmHWM).

Query embeddings are LRU-cached, so every "uncached" figure uses queries never sent
before in the run (bench/queries.py); "cached" figures re-send a set on purpose.

Writes bench/results.json and bench/results.md (BENCH_OUT to change the folder) and
prints the Markdown. BENCH_KEEP=1 keeps the temporary data dirs.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.load import run_load
from bench.queries import QueryPool
from bench.server import Server, child_env
from bench.speed import render_speed, run_speed, speed_targets, write_speed
from bench.stats import time_each
from peerqa.config import REPO_ROOT, Settings

CONCURRENCY = 16
# Requests per measurement: enough for a stable p95, bounded for a ~20 minute run.
N_FLOOR = 100
N_SEARCH = 100  # in process, each of ours / default
N_ASK = 60
N_WARM_ASK = 40  # fills the answer composer's sentence cache before measuring asks
N_HTTP_SEARCH = 200
N_HTTP_ASK = 100
N_HTTP_C16 = 600
N_HTTP_ASK_C16 = 160
N_SCALE_SEARCH = 150
N_SCALE_C16 = 300
N_SCALE_ASK = 20
BUDGET_S = 90.0  # per HTTP measurement

Targets = list[dict[str, Any]]


def main() -> int:
    out_dir = Path(os.environ.get("BENCH_OUT") or REPO_ROOT / "bench")
    scales = [int(s) for s in os.environ.get("BENCH_SCALES", "10000,100000").split(",") if s]
    work = Path(tempfile.mkdtemp(prefix="peerqa-bench-"))
    pool = QueryPool()
    results: dict[str, Any] = {"meta": _meta(work)}
    started = time.perf_counter()
    try:
        corpus_dir = work / "corpus" / "data"
        results["ingest"] = bench_ingest(corpus_dir)
        settings = Settings(data_dir=corpus_dir, chroma_url=None, collection_prefix="peerqa")
        results["embedding"] = bench_embedding(settings)
        results["in_process"] = bench_in_process(settings, pool)
        results["http"] = bench_http(corpus_dir, pool)
        try:
            results["speed"] = run_speed(work, pool)
        except Exception as err:  # the other parts still report
            _log(f"ingest speed failed: {err!r}")
            results["speed"] = {"error": repr(err)[:500]}
        results["scale"] = []
        for n in scales:
            try:
                results["scale"].append(bench_scale(n, settings, work, pool, results))
            except Exception as err:  # one failed scale still leaves a report
                _log(f"scale {n} failed: {err!r}")
                results["scale"].append({"passages": n, "error": repr(err)[:500]})
    finally:
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    results["meta"]["duration_s"] = round(time.perf_counter() - started, 1)
    results["meta"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    results["targets"] = targets(results)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    markdown = render(results)
    (out_dir / "results.md").write_text(markdown, encoding="utf-8")
    if results["speed"] and "error" not in results["speed"]:
        write_speed(dict(results["speed"]), out_dir)  # its part alone, as bench.speed writes it
    print(markdown)
    return 0


def _meta(work: Path) -> dict[str, Any]:
    import torch

    def git(*args: str) -> str:
        run = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True)
        return run.stdout.strip()

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        # Others may be running tests on the same cores: read every figure with this.
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "work_dir": str(work),
    }


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- ingest ------------------------------------------------------------------------------
def run_timed(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run to completion; wall time, the child's own CPU time and peak RSS (wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode:
        raise RuntimeError(f"{command} exited {proc.returncode}: {stderr[-2000:]}")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "max_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "stdout": stdout,
    }


def bench_ingest(data_dir: Path) -> dict[str, Any]:
    env = child_env(data_dir, REPO_ROOT)
    command = [sys.executable, "-m", "peerqa.cli", "ingest", "--json"]
    result = {}
    for name in ("cold", "noop"):
        _log(f"ingest ({name})")
        run = run_timed(command, env)
        run["report"] = json.loads(run.pop("stdout"))
        result[name] = run
    return result


def bench_embedding(settings: Settings) -> dict[str, Any]:
    """Real MiniLM throughput on the corpus's passages and sentences, through the model
    object ingest uses (ONNX Runtime, length-sorted batches, every core), and beside it
    on torch (SentenceTransformer.encode, as ingest embedded before)."""
    from llama_index.core.schema import MetadataMode

    from peerqa.embedding import load_embedding
    from peerqa.index.pipeline import parse_sources, sentence_nodes
    from peerqa.store import embed_text

    _log("embedding throughput")
    start = time.perf_counter()
    model = load_embedding()
    load_s = time.perf_counter() - start
    passages = [p for doc in parse_sources([], settings) for p in doc.passages]
    texts = {
        "passages": [embed_text(p) for p in passages],
        "sentences": [
            n.get_content(MetadataMode.EMBED) for p in passages for n in sentence_nodes(p)
        ],
    }
    model.get_text_embedding_batch(texts["sentences"][:64])  # warm-up
    model._forward(texts["sentences"][:64], "sentence_embedding")  # loads torch
    result: dict[str, Any] = {"model_load_s": round(load_s, 2)}
    for kind, batch in texts.items():
        start = time.perf_counter()
        model.get_text_embedding_batch(batch)
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        model._forward(batch, "sentence_embedding")
        torch_s = time.perf_counter() - start
        result[kind] = {
            "n": len(batch),
            "mean_chars": round(sum(map(len, batch)) / len(batch)),
            "seconds": round(seconds, 2),
            "per_s": round(len(batch) / seconds, 1),
            "torch_per_s": round(len(batch) / torch_s, 1),
        }
    return result


# -- in process --------------------------------------------------------------------------
@contextmanager
def _one_thread():
    """The floor runs with one intra-op thread, as peerqa embeds a query."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def bench_in_process(settings: Settings, pool: QueryPool) -> dict[str, Any]:
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore
    from sentence_transformers import SentenceTransformer

    from peerqa.answer.compose import compose
    from peerqa.retrieval.hybrid import LiveIndex

    _log("in process: search, ask, default retriever, floor")
    start = time.perf_counter()
    index = LiveIndex(settings)
    load_s = time.perf_counter() - start
    assert index.state is not None
    default = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=index.store.collection(index.state.collection)),
        embed_model=index.embed_model,
    ).as_retriever(similarity_top_k=5)
    # The floor: the same model files as a plain SentenceTransformer, one query, uncached.
    plain = SentenceTransformer(
        str(settings.resolved_model_path()), device="cpu", local_files_only=True
    )

    def embed_one(query: str) -> None:
        plain.encode([query], normalize_embeddings=True, show_progress_bar=False)

    def search(query: str) -> None:
        index.search(query, top_k=5)

    def ask(query: str) -> None:
        compose(index, query)

    def default_search(query: str) -> None:
        default.retrieve(query)

    for query in pool.take(5):  # warm-up: first calls pay one-off costs
        with _one_thread():
            embed_one(query)
        search(query)
        default_search(query)
    for query in pool.take(N_WARM_ASK):
        ask(query)

    ours_q, default_q, ask_q = pool.take(N_SEARCH), pool.take(N_SEARCH), pool.take(N_ASK)
    with _one_thread():
        floor = time_each(embed_one, pool.take(N_FLOOR))
    result = {
        "index_load_s": round(load_s, 2),
        "floor": floor,
        "search": time_each(search, ours_q),
        "search_cached": time_each(search, ours_q),
        "default": time_each(default_search, default_q),
        "default_cached": time_each(default_search, default_q),
        "ask": time_each(ask, ask_q),
        "ask_cached": time_each(ask, ask_q),
    }
    result["ratio_ours_default_p50"] = _ratio(result["search"], result["default"])
    result["ratio_ours_default_cached_p50"] = _ratio(
        result["search_cached"], result["default_cached"]
    )
    result["ratio_ours_floor_p50"] = _ratio(result["search"], floor)
    result["ratio_default_floor_p50"] = _ratio(result["default"], floor)
    return result


def _ratio(a: dict[str, Any], b: dict[str, Any]) -> float:
    return round(a["p50"] / b["p50"], 2)


# -- HTTP --------------------------------------------------------------------------------
def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(
    server: Server, path: str, bodies: list[dict[str, Any]], concurrency: int
) -> dict[str, Any]:
    """One load run, with the server's CPU time per request (robust to a busy machine)."""
    assert server.proc is not None
    cpu = _cpu_seconds(server.proc.pid)
    result = run_load(server.base_url, path, bodies, concurrency, BUDGET_S)
    used = _cpu_seconds(server.proc.pid) - cpu
    result["server_cpu_ms_per_request"] = round(1000 * used / max(result["requests"], 1), 2)
    return result


def _searches(queries: list[str], **extra: Any) -> list[dict[str, Any]]:
    return [{"query": q, "top_k": 5, **extra} for q in queries]


def _asks(queries: list[str]) -> list[dict[str, Any]]:
    return [{"question": q} for q in queries]


def bench_http(data_dir: Path, pool: QueryPool) -> dict[str, Any]:
    _log("HTTP: sequential and concurrent search and ask")
    env = child_env(data_dir, REPO_ROOT)
    with Server(env, data_dir.parent / "server.log", REPO_ROOT) as server:
        run_load(server.base_url, "/v1/search", _searches(pool.take(10)))  # warm-up
        run_load(server.base_url, "/v1/ask", _asks(pool.take(N_WARM_ASK)))
        seq = _searches(pool.take(N_HTTP_SEARCH))
        asks = _asks(pool.take(N_HTTP_ASK))
        result = {
            "startup_s": server.startup_s,
            "search_seq": _measure(server, "/v1/search", seq, 1),
            "search_seq_cached": _measure(server, "/v1/search", seq, 1),
            "ask_seq": _measure(server, "/v1/ask", asks, 1),
            "ask_seq_cached": _measure(server, "/v1/ask", asks, 1),
        }
        _log(f"HTTP: concurrency {CONCURRENCY}")
        result["search_c16"] = _measure(
            server, "/v1/search", _searches(pool.take(N_HTTP_C16)), CONCURRENCY
        )
        result["search_c16_cached"] = _measure(
            server, "/v1/search", (seq * 3)[:N_HTTP_C16], CONCURRENCY
        )
        result["ask_c16"] = _measure(
            server, "/v1/ask", _asks(pool.take(N_HTTP_ASK_C16)), CONCURRENCY
        )
        result["memory_mb"] = server.memory()
    return result


# -- scale -------------------------------------------------------------------------------
def _disk_mb(path: Path) -> float:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return round(total / 2**20, 1)


def bench_scale(
    n: int, real: Settings, work: Path, pool: QueryPool, results: dict[str, Any]
) -> dict[str, Any]:
    data_dir = work / f"scale-{n}" / "data"
    result = build_scale(n, real, data_dir, results["embedding"])
    result |= serve_scale(data_dir, REPO_ROOT, pool)
    if os.environ.get("BENCH_KEEP") != "1":
        shutil.rmtree(data_dir.parent, ignore_errors=True)
    return result


def build_scale(
    n: int, real: Settings, data_dir: Path, throughput: dict[str, Any]
) -> dict[str, Any]:
    """Ingest the corpus plus synthetic passages up to `n` into a new store at `data_dir`,
    through the real pipeline with vectors precomputed (bench/synthetic.py)."""
    from bench.synthetic import NOISE, PrecomputedVectors, live_vectors, synthetic_documents
    from peerqa.index.pipeline import index_documents, parse_sources
    from peerqa.store import Store

    _log(f"scale {n}: synthetic corpus")
    settings = Settings(data_dir=data_dir, chroma_url=None, collection_prefix="peerqa")
    parsed = parse_sources([], settings)
    real_passages = sum(len(d.passages) for d in parsed)
    start = time.perf_counter()
    vectors = live_vectors(Store(real))
    synthetic, derived = synthetic_documents(n - real_passages, parsed, vectors)
    generate_s = time.perf_counter() - start

    _log(f"scale {n}: ingest ({n} passages, vectors precomputed)")
    start = time.perf_counter()
    embedder = PrecomputedVectors(vectors | derived)
    report = index_documents(Store(settings), parsed + synthetic, embed_model=embedder)
    ingest_s = time.perf_counter() - start
    estimated_embedding_s = (
        report.passages / throughput["passages"]["per_s"]
        + report.sentences / throughput["sentences"]["per_s"]
    )
    return {
        "passages": report.passages,
        "sentences": report.sentences,
        "vectors": f"derived from the real corpus's, noise sigma {NOISE}: no model run",
        "generate_s": round(generate_s, 1),
        "ingest_s": round(ingest_s, 1),
        "estimated_embedding_s_at_measured_throughput": round(estimated_embedding_s),
        "disk_mb": _disk_mb(data_dir),
    }


def serve_scale(data_dir: Path, repo: Path, pool: QueryPool) -> dict[str, Any]:
    """`peerqa serve` (the code in `repo`) over a scale store: startup, search latency
    sequential, filtered and at concurrency 16, a few asks, peak RSS."""
    _log(f"scale: serving {data_dir}")
    result: dict[str, Any] = {}
    with Server(child_env(data_dir, repo), data_dir.parent / "server.log", repo) as server:
        result["startup_s"] = server.startup_s
        result["memory_after_startup_mb"] = server.memory()
        run_load(server.base_url, "/v1/search", _searches(pool.take(10)))  # warm-up
        result["search_seq"] = _measure(
            server, "/v1/search", _searches(pool.take(N_SCALE_SEARCH)), 1
        )
        filtered = _searches(pool.take(N_SCALE_SEARCH // 3), filters={"kind": ["quote"]})
        result["search_seq_filtered"] = _measure(server, "/v1/search", filtered, 1)
        result["search_c16"] = _measure(
            server, "/v1/search", _searches(pool.take(N_SCALE_C16)), CONCURRENCY
        )
        result["ask_seq"] = _measure(server, "/v1/ask", _asks(pool.take(N_SCALE_ASK)), 1)
        result["memory_mb"] = server.memory()
    return result


# -- targets and report ------------------------------------------------------------------
def _target(
    name: str, measured: float | None, op: str, limit: float, unit: str = ""
) -> dict[str, Any]:
    """A target row; a figure that could not be measured (None) is not met."""
    met = measured is not None and {"≤": measured <= limit, "≥": measured >= limit}.get(
        op, measured == limit
    )
    return {"target": name, "goal": f"{op} {limit}{unit}", "measured": measured, "met": met}


def targets(r: dict[str, Any]) -> Targets:
    """The issue's targets for this machine, judged on uncached (distinct) queries."""
    http, ingest = r["http"], r["ingest"]
    search, ask = http["search_seq"]["latency_ms"], http["ask_seq"]["latency_ms"]
    c16 = http["search_c16"]
    rows = [
        _target("HTTP /v1/search p50, sequential", search["p50"], "≤", 20, " ms"),
        _target("HTTP /v1/search p95, sequential", search["p95"], "≤", 40, " ms"),
        _target("HTTP /v1/ask p50, sequential", ask["p50"], "≤", 40, " ms"),
        _target("HTTP /v1/search at concurrency 16", c16["rps"], "≥", 100, " req/s"),
        _target("HTTP /v1/search errors at concurrency 16", c16["errors"], "=", 0),
        _target(
            "in-process search p50 / floor p50",
            r["in_process"]["ratio_ours_floor_p50"],
            "≤",
            2,
            "×",
        ),
        _target("cold ingest (subprocess)", ingest["cold"]["wall_s"], "≤", 20, " s"),
        _target("no-op re-ingest (subprocess)", ingest["noop"]["wall_s"], "≤", 3, " s"),
    ]
    speed = r.get("speed", {})
    if "error" in speed:
        rows.append(_target("ingest speed (bench/speed.py)", None, "=", 0))
    elif speed:
        rows += [_target(*row) for row in speed_targets(speed)]
    for scale in r["scale"]:
        if scale["passages"] >= 100_000 and "error" not in scale:
            n = scale["passages"]
            p95 = scale["search_seq"]["latency_ms"]["p95"]
            rows.append(_target(f"{n} passages: HTTP /v1/search p95", p95, "≤", 60, " ms"))
            peak = scale["memory_mb"]["VmHWM"]
            rows.append(_target(f"{n} passages: serving peak RSS", peak, "≤", 2560, " MB"))
    return rows


def _lat(summary: dict[str, Any]) -> str:
    return f"{summary['p50']} / {summary['p95']} / {summary['p99']}"


def render(r: dict[str, Any]) -> str:
    meta, ing, emb, ip, http = r["meta"], r["ingest"], r["embedding"], r["in_process"], r["http"]
    lines = [
        "# peerqa bench",
        "",
        f"{meta['date']} · commit {meta['commit']}{' (dirty)' if meta['dirty'] else ''} · "
        f"Python {meta['python']} · torch {meta['torch']} · {meta['cpus']} CPUs · "
        f"run {meta['duration_s']} s",
        f"Load average at start {meta['load_average_start']}, at end "
        f"{meta['load_average_end']} (1/5/15 min): other work on these cores slows every "
        "wall-clock figure; server CPU ms per request is less sensitive to it.",
        "",
        "## Targets",
        "",
        "| target | goal | measured | met |",
        "|---|---|---|---|",
        *[
            f"| {t['target']} | {t['goal']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |"
            for t in r["targets"]
        ],
        "",
        "## Ingest (bundled corpus, `peerqa ingest` subprocess)",
        "",
        "| run | wall s | CPU s | peak RSS MB | embedded |",
        "|---|---|---|---|---|",
        *[
            f"| {name} | {ing[name]['wall_s']} | {ing[name]['cpu_s']} | {ing[name]['max_rss_mb']} "
            f"| {ing[name]['report']['embedded']} |"
            for name in ("cold", "noop")
        ],
        "",
        f"Embedding throughput (in process, model loaded in {emb['model_load_s']} s): "
        f"{emb['passages']['per_s']} passages/s ({emb['passages']['n']} passages with context, "
        f"mean {emb['passages']['mean_chars']} chars), {emb['sentences']['per_s']} sentences/s "
        f"({emb['sentences']['n']}, mean {emb['sentences']['mean_chars']} chars) on ONNX "
        f"Runtime; on torch {emb['passages'].get('torch_per_s')} passages/s, "
        f"{emb['sentences'].get('torch_per_s')} sentences/s.",
        "",
        "## In process (ms: p50 / p95 / p99)",
        "",
        "| what | uncached | cached |",
        "|---|---|---|",
        "| floor: embed one query (SentenceTransformer.encode, 1 thread) "
        f"| {_lat(ip['floor'])} | — |",
        f"| ours: LiveIndex.search, top 5 | {_lat(ip['search'])} | {_lat(ip['search_cached'])} |",
        f"| llama-index default retriever, top 5 | {_lat(ip['default'])} | "
        f"{_lat(ip['default_cached'])} |",
        f"| ours: compose (ask), top 8 | {_lat(ip['ask'])} | {_lat(ip['ask_cached'])} |",
        "",
        f"Median ratios: ours / default {ip['ratio_ours_default_p50']} uncached, "
        f"{ip['ratio_ours_default_cached_p50']} cached; ours / floor "
        f"{ip['ratio_ours_floor_p50']}, default / floor {ip['ratio_default_floor_p50']}. "
        f"Overhead above the floor (p50): ours "
        f"{round(ip['search']['p50'] - ip['floor']['p50'], 2)} ms, default "
        f"{round(ip['default']['p50'] - ip['floor']['p50'], 2)} ms. Ours is hybrid (passage "
        "and sentence vectors, BM25, fusion) over expanded queries; the default is one "
        "dense query. Index load "
        f"{ip['index_load_s']} s.",
        "",
        f"## HTTP (`peerqa serve`, 127.0.0.1; startup to ready {http['startup_s']} s)",
        "",
        "| route | mode | requests | errors | req/s | latency ms p50 / p95 / p99 "
        "| server CPU ms/req |",
        "|---|---|---|---|---|---|---|",
        *[
            _http_row(route, mode, http[key])
            for route, mode, key in (
                ("/v1/search", "sequential", "search_seq"),
                ("/v1/search", "sequential, cached", "search_seq_cached"),
                ("/v1/ask", "sequential", "ask_seq"),
                ("/v1/ask", "sequential, cached", "ask_seq_cached"),
                ("/v1/search", f"concurrency {CONCURRENCY}", "search_c16"),
                ("/v1/search", f"concurrency {CONCURRENCY}, cached", "search_c16_cached"),
                ("/v1/ask", f"concurrency {CONCURRENCY}", "ask_c16"),
            )
        ],
        "",
        f"Server memory after the HTTP runs: VmHWM {http['memory_mb']['VmHWM']} MB, "
        f"VmRSS {http['memory_mb']['VmRSS']} MB.",
        "",
    ]
    speed = r.get("speed", {})
    if "error" in speed:
        lines += ["## Ingest speed", "", f"failed: {speed['error']}", ""]
    elif speed:
        lines += render_speed(speed)
    if r["scale"]:
        lines += [
            "## Scale (synthetic corpora)",
            "",
            "Synthetic passages are shuffled windows of 2-4 corpus sentences in "
            "`synthetic-NNNNN` documents; their vectors are derived from the real ones "
            "(noise, no model run; see bench/synthetic.py), so ingest time excludes "
            "embedding: the estimate beside it uses the measured throughput.",
            "",
            "| passages | sentences | ingest s (est. embedding s) | disk MB | startup s "
            "| search p50 / p95 / p99 ms | filtered (kind=quote) p50 / p95 | c16 req/s "
            "| ask p50 ms | peak RSS MB |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *[_scale_row(s) for s in r["scale"]],
            "",
        ]
    return "\n".join(lines)


def _scale_row(s: dict[str, Any]) -> str:
    if "error" in s:
        return f"| {s['passages']} | failed: {s['error']} |"
    filtered = s["search_seq_filtered"]["latency_ms"]
    return (
        f"| {s['passages']} | {s['sentences']} | {s['ingest_s']} "
        f"({s['estimated_embedding_s_at_measured_throughput']}) | {s['disk_mb']} "
        f"| {s['startup_s']} | {_lat(s['search_seq']['latency_ms'])} "
        f"| {filtered['p50']} / {filtered['p95']} | {s['search_c16']['rps']} "
        f"| {s['ask_seq']['latency_ms']['p50']} | {s['memory_mb']['VmHWM']} |"
    )


def _http_row(route: str, mode: str, m: dict[str, Any]) -> str:
    return (
        f"| {route} | {mode} | {m['requests']} | {m['errors']} | {m['rps']} "
        f"| {_lat(m['latency_ms'])} | {m['server_cpu_ms_per_request']} |"
    )


if __name__ == "__main__":
    raise SystemExit(main())
