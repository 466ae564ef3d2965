"""Real processes for the scale-out and fault tests: service workers (uvicorn) and
`peerqa ingest`, each configured only through PEERQA_* variables like a deployment.

Every child is stopped by the fixture or context manager that started it, and dies with
the test process should that be killed (PR_SET_PDEATHSIG), so no run leaves one behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from peerqa.config import REPO_ROOT, Settings
from peerqa.store import Store, sentence_collection

API_KEY = "scaleout-test-key"
STARTUP_SECONDS = 120.0  # model load + index load on a busy 2-core CI machine
STOP_SECONDS = 15.0

# Run as `python -c SHIM CMD...`: ask the kernel to SIGTERM the child when the test
# process dies, then exec CMD (the setting survives exec).
_SHIM = """
import ctypes, os, signal, sys
parent = int(sys.argv[1])
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
if os.getppid() != parent:  # the parent died before prctl took effect
    sys.exit(1)
os.execvp(sys.argv[2], sys.argv[2:])
"""


def child_pids() -> list[int]:
    """Live child processes of this one (from /proc: Linux, like the CI machine)."""
    me, found = os.getpid(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
            state, ppid = stat.read_text().rpartition(")")[2].split()[:2]
            if int(ppid) == me and state != "Z":
                found.append(int(stat.parent.name))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peerqa_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a process needs to use the same store (and sessions) as `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERQA_")}
    env |= {
        "PEERQA_DATA_DIR": str(settings.data_dir),
        "PEERQA_COLLECTION_PREFIX": settings.collection_prefix,
        "PEERQA_CORPUS_DIR": str(settings.corpus_dir),
        # Loopback only; a proxy from the environment must never see it.
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    if settings.chroma_url:
        env["PEERQA_CHROMA_URL"] = settings.chroma_url
    return env | extra


def spawn(cmd: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `cmd` (stdout and stderr to `log`) as a child that dies with this process."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", _SHIM, str(os.getpid()), *cmd],
            cwd=REPO_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    """Signal `process`, wait for it, SIGKILL it if it lingers; its exit status."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            return process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


@dataclass
class Worker:
    """One service worker process (`uvicorn service.app:create_app`)."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def client(self, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout, trust_env=False)

    def admin(self) -> httpx.Client:
        client = self.client()
        client.headers["authorization"] = f"Bearer {API_KEY}"
        return client

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def launch_worker(settings: Settings, log: Path) -> Worker:
    """A worker starting on a free loopback port (see wait_ready)."""
    port = free_port()
    env = peerqa_env(
        settings,
        PEERQA_API_KEY=API_KEY,
        PEERQA_RATE_LIMIT_PER_MINUTE="0",  # see under_load()
        PEERQA_ACCESS_LOG="false",
    )
    cmd = ["uvicorn", "peerqa.service.app:create_app", "--factory", "--host", "127.0.0.1"]
    process = spawn(
        [sys.executable, "-m", *cmd, "--port", str(port), "--log-level", "warning"], env, log
    )
    return Worker(process, f"http://127.0.0.1:{port}", log)


def wait_ready(worker: Worker) -> Worker:
    """`worker` once it answers /healthz (uvicorn listens once the app's startup, which
    loads the model and the index, is done); stopped, and an error, if it never does."""
    deadline = time.monotonic() + STARTUP_SECONDS
    with worker.client(timeout=5.0) as http:
        while time.monotonic() < deadline:
            if worker.process.poll() is not None:
                raise RuntimeError(
                    f"worker exited ({worker.process.returncode}):\n{worker.output()}"
                )
            with suppress(httpx.TransportError):
                if http.get("/healthz").status_code == 200:
                    return worker
            time.sleep(0.2)
    stop(worker.process)
    raise RuntimeError(f"worker silent for {STARTUP_SECONDS:.0f}s:\n{worker.output()}")


def start_worker(settings: Settings, log: Path) -> Worker:
    return wait_ready(launch_worker(settings, log))


@contextmanager
def running_workers(settings: Settings, logs: Path, count: int = 1) -> Iterator[list[Worker]]:
    """`count` workers over one store, started side by side; all stopped on exit, even
    when a test fails."""
    logs.mkdir(parents=True, exist_ok=True)
    workers: list[Worker] = []
    try:
        for n in range(1, count + 1):
            workers.append(launch_worker(settings, logs / f"worker{n}.log"))
        yield [wait_ready(w) for w in workers]
    finally:
        for worker in workers:
            stop(worker.process)


@contextmanager
def serving_in_thread(app: FastAPI) -> Iterator[str]:
    """`app` under uvicorn in this process (a thread pool like production, no model load
    of its own) on a free loopback port; its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(STOP_SECONDS)


def under_load(settings: Settings) -> Settings:
    """`settings` for driving the service harder than a person would: no per-client rate
    limit, no line per request on stderr (settings that do not exist are left out)."""
    update = {"rate_limit_per_minute": 0, "access_log": False}
    return settings.model_copy(
        update={k: v for k, v in update.items() if k in Settings.model_fields}
    )


def ingest_command(*paths: Path) -> list[str]:
    return [sys.executable, "-m", "peerqa.cli", "ingest", "--json", *map(str, paths)]


def clone_index(source: Settings, target: Settings) -> None:
    """Publish `source`'s live index as generation 1 of the empty store `target`, records
    and vectors copied as they are: a served corpus in a second without re-embedding it."""
    src = Store(source)
    state = src.state()
    assert state is not None, "the source store is empty"
    dst = Store(target)
    passages = dst.new_collection(1)
    sentences = dst.new_collection(1, passages.name)
    for name, copy in (
        (state.collection, passages),
        (sentence_collection(state.collection), sentences),
    ):
        got = src.collection(name).get(include=["documents", "metadatas", "embeddings"])
        copy.add(
            ids=got["ids"],
            documents=got["documents"],
            metadatas=got["metadatas"],
            embeddings=got["embeddings"],
        )
    dst.publish(
        state.model_copy(update={"collection": passages.name, "generation": 1, "previous": None})
    )
