"""Admin writes (upload, delete, reindex) run in a worker process, never in the server's.

Parsing and embedding a paper is seconds to minutes of CPU. In the server process it
holds the GIL and, on 2 cores, starves the requests answered meanwhile (an /v1/ask p95 of
46 s was measured during an upload). The worker runs at a lower priority (NICE) with
fewer threads (THREADS), so the kernel gives the server the cores whenever it wants them;
it takes the data dir's admin lock and publishes a generation as `peerqa ingest` does,
and the route then refreshes its index. One worker per server process, started by the
first admin write (spawned: no threads or Chroma handles are forked) and kept, with the
model loaded, for the next.

A refusal the worker decides (422 for an unusable file, 404, 409) comes back as an
AdminError and is raised in the route as the HTTP error it names; a worker that dies
mid-write (killed, out of memory) leaves the index as it was: the route answers 503 and
the next write starts a new worker.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError

from peerqa.config import Settings
from peerqa.models import DocumentInfo, IngestReport

if TYPE_CHECKING:
    from peerqa.retrieval.hybrid import LiveIndex

# The lowest priority: CFS then gives the worker ~1.5% of a core the server wants.
NICE = 19
# Intra-op threads for the worker's model: a core stays free for requests.
THREADS = max(1, (os.cpu_count() or 1) - 1)
PARENT_POLL_S = 0.5  # how often the worker checks that its server is still there
WORKER_GONE = "the ingest worker stopped before it finished; the index is unchanged: try again"
T = TypeVar("T")

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()
_writes = 0  # admin writes of this process under way (write)
_writes_lock = threading.Lock()


class AdminError(Exception):
    """A refusal for the client: its HTTP status and detail (for 422, the validation
    error list). Plain arguments, so it crosses the process boundary intact."""

    def __init__(self, status: int, detail: Any):
        super().__init__(status, detail)
        self.status, self.detail = status, detail


def write(index: LiveIndex, task: Callable[..., T], *args: Any) -> T:
    """`task(*args)` in the worker, then `index` refreshed on this thread so the change is
    served at once. Meanwhile (in_progress) requests leave the pointer alone: else the
    first to look after the worker publishes would load the generation itself, seconds on
    its own latency, instead of this thread."""
    global _writes
    with _writes_lock:
        _writes += 1
    try:
        result = run(task, *args)
        index.refresh()
        return result
    finally:
        with _writes_lock:
            _writes -= 1


def in_progress() -> bool:
    """An admin write of this process is running (or loading what it published)."""
    return _writes > 0


def run(task: Callable[..., T], *args: Any) -> T:
    """`task(*args)` in the worker; its refusals raised as HTTP errors here."""
    pool = _worker()
    try:
        return pool.submit(task, *args).result()
    except AdminError as err:
        if err.status == 422 and isinstance(err.detail, list):
            raise RequestValidationError(err.detail) from None
        raise HTTPException(err.status, err.detail) from None
    except BrokenProcessPool:
        _discard(pool)
        raise HTTPException(503, WORKER_GONE) from None


def worker_pids() -> list[int]:
    """The worker's process id, once started (tests watch it take the admin lock)."""
    pool = _pool
    return list(pool._processes) if pool is not None and pool._processes else []


def _worker() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_lower_priority,
            )
        return _pool


def shutdown() -> None:
    """Stop the worker with the server (its lifespan's end): a kept worker holds the model
    and would otherwise outlive a stopped server."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def _lower_priority() -> None:
    """In the worker, before any task: below the server's priority, fewer threads, and
    gone when the server is (killed too hard for its lifespan to stop the worker)."""
    from threadpoolctl import threadpool_limits

    import peerqa.onnx_encoder

    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    os.nice(NICE)
    threadpool_limits(THREADS)
    peerqa.onnx_encoder.BATCH_THREADS = THREADS
    # Torch reads these when (if ever) it is imported: the export, or embedding without ONNX.
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(THREADS)


def _exit_with_parent(parent: int) -> None:
    """Exit once the server process is gone (the worker is then re-parented). Not
    PR_SET_PDEATHSIG: that fires when the *thread* that spawned the worker ends, and the
    spawning thread is a request thread the server retires when idle."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(0)


# -- tasks: run in the worker --------------------------------------------------------------
# Each publish makes the answer values there (answer.values registers the hook that makes
# them), so the server only reads them.
def upload(settings: Settings, filename: str | None, data: bytes) -> DocumentInfo:
    """Parse and add (or replace) an uploaded document; its summary once published."""
    import peerqa.answer.values  # noqa: F401
    from peerqa.index.pipeline import index_documents
    from peerqa.service.documents import bundled_ids, parse_upload
    from peerqa.store import Store, admin_lock

    try:
        parsed = parse_upload(filename, data, settings)
    except RequestValidationError as err:
        raise AdminError(422, list(err.errors())) from None
    except HTTPException as err:
        raise AdminError(err.status_code, err.detail) from None
    with admin_lock(settings):
        store = Store(settings)
        if parsed.info.id in bundled_ids(settings, store.state()):
            raise AdminError(
                409, f"'{parsed.info.id}' is a bundled corpus document: rename the file"
            )
        index_documents(store, [parsed])
        state = store.state()
    assert state is not None  # just published
    return next(d for d in state.documents if d.id == parsed.info.id)


def delete(settings: Settings, document_id: str) -> None:
    import peerqa.answer.values  # noqa: F401
    from peerqa.index.pipeline import index_documents
    from peerqa.service.documents import bundled_ids
    from peerqa.store import Store, admin_lock

    with admin_lock(settings):
        store = Store(settings)
        state = store.state()
        if document_id in bundled_ids(settings, state):
            raise AdminError(409, f"'{document_id}' is a bundled corpus document")
        live = {d.id for d in state.documents} if state else set()
        if document_id not in live:
            raise AdminError(404, f"no document with id {document_id!r}")
        if live == {document_id}:
            # An index of nothing cannot be loaded (or searched): keep the last document.
            raise AdminError(409, f"'{document_id}' is the only document in the index")
        index_documents(store, [], remove=[document_id])


def reindex(settings: Settings) -> IngestReport:
    import peerqa.answer.values  # noqa: F401
    from peerqa.index.pipeline import ingest
    from peerqa.ingest.sources import SourceError
    from peerqa.store import admin_lock

    with admin_lock(settings):
        try:
            return ingest(settings=settings)
        except SourceError as err:
            raise AdminError(500, f"bundled corpus: {err} (index unchanged)") from None
