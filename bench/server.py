"""`peerqa serve` as a subprocess on a free loopback port, with its memory from /proc."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def proc_memory_mb(pid: int) -> dict[str, float]:
    """VmHWM (peak resident set) and VmRSS of a live process, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return fields


class Server:
    def __init__(self, env: dict[str, str], log: Path, cwd: Path):
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self._env, self._log, self._cwd = env, log, cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s = 0.0

    def __enter__(self) -> Server:
        command = [sys.executable, "-m", "peerqa.cli", "serve", "--host", HOST]
        command += ["--port", str(self.port)]
        start = time.perf_counter()
        with self._log.open("ab") as log:
            self.proc = subprocess.Popen(
                command, env=self._env, cwd=self._cwd, stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_ready(timeout_s=600)
        self.startup_s = round(time.perf_counter() - start, 2)
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self._log}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2, trust_env=False).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"server not ready after {timeout_s}s; see {self._log}")

    def memory(self) -> dict[str, float]:
        assert self.proc is not None
        return proc_memory_mb(self.proc.pid)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def child_env(data_dir: Path, repo: Path) -> dict[str, str]:
    """The bench's own environment for subprocesses: its data dir, the embedded store
    (never a Chroma server someone configured), this checkout's code, and no per-client
    rate limit (the load comes from one loopback client; it measures capacity)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERQA_")}
    env.update(
        PEERQA_DATA_DIR=str(data_dir),
        PEERQA_RATE_LIMIT_PER_MINUTE="0",
        PYTHONPATH=str(repo),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    return env
