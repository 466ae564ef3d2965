"""Faults: rebuilding while serving, an ingest killed with SIGKILL, a killed service,
writers taking turns, stores sharing a server.

Each test runs on a store of its own: on the embedded store by default, and on the Chroma
server in `make test`'s server pass (PEERQA_TEST_CHROMA_URL). Chroma documents its
embedded store as not process-safe; peerqa shares it between processes only as these
tests do (a service reading, another process writing, one writer at a time under the
data dir's admin lock, readers only of finished generations). Several service workers
need the server (tests/test_scaleout.py).
"""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from peerqa.config import Settings
from peerqa.index.pipeline import ingest
from peerqa.retrieval.hybrid import LiveIndex
from peerqa.service.app import create_app
from peerqa.service.deps import POINTER_CHECK_SECONDS
from peerqa.service.sessions import SessionStore
from peerqa.store import Store, admin_lock, sentence_collection
from tests.conftest import make_settings
from tests.workers import (
    child_pids,
    clone_index,
    ingest_command,
    peerqa_env,
    serving_in_thread,
    spawn,
    start_worker,
    stop,
    under_load,
)

pytestmark = [pytest.mark.server, pytest.mark.chroma_server]

PLANS = ("plan-a", "plan-b", "plan-c")
ROUNDS = 4
READERS = 3
REVISION = re.compile(r"Revision (\d+)\b")
PLAN_QUERY = "volunteer rota revision for the plan"


@pytest.fixture
def served(tmp_path: Path, corpus_settings: Settings) -> Settings:
    """A store of its own holding the ingested corpus (copied, not re-embedded)."""
    settings = make_settings(tmp_path / "data")
    clone_index(corpus_settings, settings)
    return settings


def write_plans(folder: Path, revision: int) -> None:
    """The user documents at `revision`: one passage each, naming the revision."""
    folder.mkdir(exist_ok=True)
    for plan in PLANS:
        (folder / f"{plan}.md").write_text(
            f"# {plan.title()} rota\n\n"
            f"Revision {revision} of the volunteer rota for {plan}: peer volunteers cover "
            f"{revision + 2} evening calls a week and meet their coordinator monthly.\n",
            encoding="utf-8",
        )


# Re-ingests the plans ROUNDS times in one process (one model load), a revision each.
WRITER = f"""
import json, sys
from pathlib import Path
from peerqa.index.pipeline import ingest
from tests.test_faults import write_plans
folder = Path(sys.argv[1])
for revision in range(1, {ROUNDS} + 1):
    write_plans(folder, revision)
    report = ingest([folder])
    print(json.dumps({{"revision": revision, "passages": report.passages}}), flush=True)
"""


@dataclass
class Observed:
    """What one reader thread saw."""

    revisions: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def read_until(url: str, done: threading.Event, seen: Observed) -> None:
    """Search the plans until `done`; each answer must be one whole generation: every
    plan present, all at one revision, never an older one than before."""
    body = {"query": PLAN_QUERY, "top_k": 10, "filters": {"document": list(PLANS)}}
    with httpx.Client(base_url=url, timeout=60, trust_env=False) as http:
        while not done.is_set():
            try:
                r = http.post("/v1/search", json=body)
            except httpx.HTTPError as err:
                seen.failures.append(f"{type(err).__name__}: {err}")
                continue
            if r.status_code != 200:
                seen.failures.append(f"{r.status_code}: {r.text[:300]}")
                continue
            results = r.json()["results"]
            plans = sorted(p["document"] for p in results)
            revisions = {int(m.group(1)) for p in results if (m := REVISION.search(p["text"]))}
            if plans != sorted(PLANS) or len(revisions) != 1:
                seen.failures.append(f"mixed or partial result set: {plans} {revisions}")
                continue
            (revision,) = revisions
            if seen.revisions and revision < seen.revisions[-1]:
                seen.failures.append(f"went back from revision {seen.revisions[-1]} to {revision}")
            seen.revisions.append(revision)


def test_reingest_while_serving_never_exposes_a_partial_index(served: Settings, tmp_path: Path):
    """Readers in a serving app keep searching while another process publishes ROUNDS new
    generations: no query fails, each answer comes from one complete generation."""
    plans = tmp_path / "plans"
    write_plans(plans, 0)
    ingest([plans], served)
    with serving_in_thread(create_app(under_load(served))) as url:
        done = threading.Event()
        observed = [Observed() for _ in range(READERS)]
        readers = [
            threading.Thread(target=read_until, args=(url, done, seen), daemon=True)
            for seen in observed
        ]
        for reader in readers:
            reader.start()
        writer = spawn(
            [sys.executable, "-c", WRITER, str(plans)], peerqa_env(served), tmp_path / "writer.log"
        )
        try:
            status = writer.wait(timeout=600)
        finally:
            stop(writer)
        # Keep reading until the last revision is served: at most a pointer check away.
        deadline = time.monotonic() + POINTER_CHECK_SECONDS + 30
        while time.monotonic() < deadline and any(
            not s.revisions or s.revisions[-1] < ROUNDS for s in observed
        ):
            time.sleep(0.1)
        done.set()
        for reader in readers:
            reader.join(60)
    log = (tmp_path / "writer.log").read_text()
    assert status == 0, log
    assert [json.loads(line)["revision"] for line in log.splitlines() if line.startswith("{")] == [
        *range(1, ROUNDS + 1)
    ]
    failures = [f for s in observed for f in s.failures]
    queries = sum(len(s.revisions) for s in observed) + len(failures)
    assert failures == [], f"{len(failures)} of {queries} queries failed: {failures[:5]}"
    for seen in observed:
        assert seen.revisions[-1] == ROUNDS
        assert len(set(seen.revisions)) >= 2  # the reader was there while generations flipped
    print(f"{queries} queries by {READERS} readers over {ROUNDS} publishes, none failed")


def big_folder(folder: Path, documents: int = 10, paragraphs: int = 4) -> Path:
    """User documents enough to keep an ingest embedding for several seconds."""
    folder.mkdir()
    for d in range(documents):
        text = [f"# Field report {d}\n"]
        for p in range(paragraphs):
            text.append(
                f"Site {d} visit {p}: the peer mentors of ward {d * paragraphs + p} met "
                f"{p + 3} families. Coordinators logged {d + p} follow-up calls and two "
                f"referrals to the dietitian. Volunteers asked for supervision every "
                f"{p + 1} weeks. The next visit plans a session on sleep and fatigue.\n"
            )
        (folder / f"report-{d:02d}.md").write_text("\n".join(text), encoding="utf-8")
    return folder


def generations(store: Store) -> set[str]:
    return set(store._collections())


def wait_for_orphan(store: Store, live: set[str], timeout: float = 300.0) -> str:
    """The name of a new generation's passage collection, once it holds records."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name in generations(store) - live:
            if not name.endswith("_s") and store.collection(name).count() > 0:
                return name
        time.sleep(0.02)
    raise AssertionError("the ingest never wrote a new generation")


def test_ingest_killed_mid_way_leaves_the_index_serving(served: Settings, tmp_path: Path):
    """kill -9 between writing a generation and publishing it: the old index serves on,
    the next ingest removes the orphan, and the next publish completes."""
    store = Store(served)
    before = store.state()
    assert before is not None
    live = {before.collection, sentence_collection(before.collection)}
    query = "matching peer supporters when the condition is rare"
    with (
        serving_in_thread(create_app(under_load(served))) as url,
        httpx.Client(base_url=url, timeout=60, trust_env=False) as http,
    ):
        answer = http.post("/v1/search", json={"query": query}).json()
        folder = big_folder(tmp_path / "reports")
        ingest_log = tmp_path / "ingest.log"
        process = spawn(ingest_command(folder), peerqa_env(served), ingest_log)
        try:
            orphan = wait_for_orphan(store, live)
            process.send_signal(signal.SIGKILL)
        finally:
            status = stop(process)
        assert status == -signal.SIGKILL, ingest_log.read_text()
        after = store.state()
        assert after == before, "the killed ingest published (grow big_folder)"
        assert orphan in generations(store)  # left behind, half-built
        time.sleep(POINTER_CHECK_SECONDS + 0.1)  # the app looks at the pointer again
        assert http.post("/v1/search", json={"query": query}).json() == answer
        assert http.get("/readyz").json()["generation"] == before.generation
    assert LiveIndex(served).search(query, top_k=5)  # a fresh reader loads fine too

    # The next ingest, even one with nothing to publish, removes the orphan...
    assert ingest([], served).embedded == 0
    assert store.state() == before
    assert generations(store) == live
    # ...and the next publish completes.
    write_plans(tmp_path / "plans", 1)
    report = ingest([tmp_path / "plans"], served)
    state = store.state()
    assert state is not None and state.generation == before.generation + 1
    assert report.documents == len(before.documents) + len(PLANS)
    assert generations(store) == {
        state.collection,
        sentence_collection(state.collection),
        *live,  # the previous generation, kept for readers mid-query
    }


def test_a_killed_and_restarted_service_keeps_all_data(served: Settings, tmp_path: Path):
    """Everything a worker acknowledged survives kill -9: a new worker over the same
    data dir serves the same documents, passages and sessions."""
    logs = tmp_path / "logs"
    logs.mkdir()
    note = b"# Canal walks\n\nThe canal walking group pairs new members with a walking buddy.\n"
    first = start_worker(served, logs / "first.log")
    try:
        with first.admin() as http:
            assert http.post("/v1/documents", files={"file": ("canal.md", note)}).status_code == 201
            snapshot = observe(http)
            asked = http.post("/v1/ask", json={"question": "What makes matching peers difficult?"})
            assert asked.status_code == 200, asked.text
            sid = asked.json()["session_id"]
    finally:
        assert stop(first.process, signal.SIGKILL) == -signal.SIGKILL
    second = start_worker(served, logs / "second.log")
    try:
        with second.client() as http:
            assert observe(http) == snapshot
            follow = http.post(
                "/v1/ask", json={"question": "How do programmes fix that?", "session_id": sid}
            ).json()
    finally:
        stop(second.process)
    assert follow["session_id"] == sid
    history = SessionStore(served.data_dir / "sessions.sqlite3", 60, 6).resume(sid).history
    assert history == ["What makes matching peers difficult?", "How do programmes fix that?"]


def observe(http: httpx.Client) -> dict:
    """What a client can see of the data: readiness, documents, a passage, searches."""
    search = {"query": "walking buddy for new members", "top_k": 5}
    return {
        "ready": http.get("/readyz").json(),
        "documents": http.get("/v1/documents").json(),
        "passage": http.get("/v1/passages/canal:0000").json(),
        "search": http.post("/v1/search", json=search).json(),
        "themes": http.get("/v1/themes").json(),
    }


def waiting_for_a_lock(pid: int) -> bool:
    """Whether process `pid` is blocked on a flock (Linux /proc/locks: "N: -> FLOCK ...")."""
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if fields[1:3] == ["->", "FLOCK"] and int(fields[5]) == pid:
            return True
    return False


def test_cli_ingest_waits_for_an_admin_write(served: Settings, tmp_path: Path):
    """`peerqa ingest` and the service's admin writes take turns (the data dir's admin
    lock): each publish drops unpublished generations, so two writers at once could drop
    each other's."""
    log = tmp_path / "ingest.log"
    with admin_lock(served):
        process = spawn(ingest_command(), peerqa_env(served), log)
        try:
            deadline = time.monotonic() + 120
            while not waiting_for_a_lock(process.pid):
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "peerqa ingest never asked for the lock"
                time.sleep(0.05)
        except BaseException:
            stop(process)
            raise
    # Then it runs: here a no-op, the corpus being unchanged.
    assert process.wait(timeout=120) == 0, log.read_text()
    assert json.loads(log.read_text().splitlines()[-1])["embedded"] == 0


def test_stores_sharing_a_server_keep_their_generations_apart(
    served: Settings, corpus_settings: Settings, tmp_path: Path
):
    """A store whose prefix begins another's ("t1" and "t1_green") never collects the
    other's collections when it publishes."""
    green = served.model_copy(update={"collection_prefix": f"{served.collection_prefix}_green"})
    clone_index(corpus_settings, green)
    before = Store(green).state()
    write_plans(tmp_path / "plans", 1)
    ingest([tmp_path / "plans"], served)  # publishes, and collects garbage, in `served`
    assert Store(green).state() == before
    assert LiveIndex(green).search("matching peer supporters", top_k=3)


@pytest.fixture(autouse=True)
def _no_stray_children() -> Iterator[None]:
    """Every process a test starts is gone when it ends (others, like a browser of the
    session, may outlive it)."""
    before = set(child_pids())
    yield
    assert set(child_pids()) <= before
