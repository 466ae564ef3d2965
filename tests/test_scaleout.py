"""Scale-out: two service worker processes over one Chroma server and one data dir.

They answer alike, share chat sessions (SQLite in the data dir), and each serves what an
admin write through the other published, once its pointer check comes round. Chroma's
embedded store is not process-safe (the server is how several processes share one), so
this module runs in `make test`'s server pass, with PEERQA_TEST_CHROMA_URL.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest

from peerqa.config import Settings
from peerqa.service.deps import POINTER_CHECK_SECONDS
from peerqa.service.sessions import SessionStore
from tests.conftest import make_settings
from tests.workers import Worker, clone_index, running_workers

pytestmark = [pytest.mark.server, pytest.mark.chroma_server]


@pytest.fixture(scope="module", autouse=True)
def chroma_server() -> None:
    """These tests exist for the server pass of `make test`; without a server they fail
    rather than pass as skipped."""
    if not os.environ.get("PEERQA_TEST_CHROMA_URL"):
        pytest.fail("needs a Chroma server: run by `make test` (scripts/chroma-server.sh)")


FIRST = "What makes matching peers difficult?"
FOLLOW_UP = "How do programmes fix that?"
SEARCHES = [
    {"query": "how do programmes pair mentors with patients", "top_k": 8},
    {"query": "funding retreats donors", "filters": {"kind": ["quote"], "programme": ["F"]}},
    {"query": "K23MH100705", "top_k": 3},
]
UPLOAD_NAME = "harbour-notes.md"
UPLOAD_ID = "harbour-notes"
UPLOAD = (
    b"# Harbour ward notes\n\n"
    b"Lighthouse volunteers ring discharged cardiac patients every Thursday evening. "
    b"The lighthouse calls replaced the old discharge leaflet.\n"
)
UPLOAD_QUERY = "lighthouse volunteers ring discharged cardiac patients"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, corpus_settings: Settings) -> Settings:
    """A store of its own on the server, holding the ingested corpus."""
    settings = make_settings(tmp_path_factory.mktemp("scaleout") / "data")
    clone_index(corpus_settings, settings)
    return settings


@pytest.fixture(scope="module")
def workers(shared: Settings) -> Iterator[list[Worker]]:
    with running_workers(shared, shared.data_dir.parent / "logs", count=2) as started:
        yield started


@pytest.fixture(scope="module")
def clients(workers: list[Worker]) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    with workers[0].client() as one, workers[1].client() as two:
        yield one, two


def ok(response: httpx.Response) -> dict:
    assert response.status_code < 300, response.text
    return response.json()


def documents(client: httpx.Client) -> set[str]:
    return {d["id"] for d in ok(client.get("/v1/documents"))}


def test_workers_are_separate_processes_on_the_server(workers: list[Worker], shared: Settings):
    assert shared.chroma_url
    assert len({w.process.pid for w in workers}) == 2
    assert all(w.process.poll() is None for w in workers)
    # Nothing of the index is on local disk: only the server holds it.
    assert not (shared.data_dir / "chroma").exists()


def test_both_workers_answer_the_same_search_identically(clients):
    one, two = clients
    assert ok(one.get("/readyz")) == ok(two.get("/readyz"))
    for body in SEARCHES:
        first = ok(one.post("/v1/search", json=body))
        assert first["results"], body
        assert ok(two.post("/v1/search", json=body)) == first
    assert ok(one.get("/v1/themes")) == ok(two.get("/v1/themes"))


def test_a_session_started_on_one_worker_continues_on_the_other(clients, shared: Settings):
    one, two = clients
    started = ok(one.post("/v1/ask", json={"question": FIRST}))
    sid = started["session_id"]
    follow = ok(two.post("/v1/ask", json={"question": FOLLOW_UP, "session_id": sid}))
    assert follow["session_id"] == sid
    # The follow-up was resolved against the question asked on worker 1: it answers as the
    # same conversation held on one worker does, and not as the bare follow-up does.
    same_worker = ok(one.post("/v1/ask", json={"question": FIRST}))["session_id"]
    reference = ok(one.post("/v1/ask", json={"question": FOLLOW_UP, "session_id": same_worker}))
    alone = ok(two.post("/v1/ask", json={"question": FOLLOW_UP}))
    assert follow["answer"] == reference["answer"] != alone["answer"]
    assert follow["citations"] == reference["citations"]
    # Both turns are in the one shared session store.
    sessions = SessionStore(shared.data_dir / "sessions.sqlite3", ttl_seconds=60, max_turns=6)
    assert sessions.resume(sid).history == [FIRST, FOLLOW_UP]
    # And back on worker 1, the conversation has both turns.
    third = ok(one.post("/v1/ask", json={"question": "And for caregivers?", "session_id": sid}))
    assert third["session_id"] == sid
    assert sessions.resume(sid).history == [FIRST, FOLLOW_UP, "And for caregivers?"]


def wait_until_served(client: httpx.Client, present: bool, since: float) -> float:
    """Poll `client` until the upload's presence in /v1/documents is `present`; seconds
    from `since`. A request sent once POINTER_CHECK_SECONDS have passed must see it."""
    while True:
        sent = time.monotonic() - since
        if (UPLOAD_ID in documents(client)) == present:
            return time.monotonic() - since
        assert sent <= POINTER_CHECK_SECONDS, (
            f"still {'absent' if present else 'present'} {sent:.2f}s after the write"
        )
        time.sleep(0.05)


def test_an_admin_write_on_one_worker_is_served_by_the_other(workers, clients):
    one, two = clients
    assert UPLOAD_ID not in documents(two)
    with workers[0].admin() as admin:
        r = admin.post("/v1/documents", files={"file": (UPLOAD_NAME, UPLOAD)})
        written = time.monotonic()
        assert r.status_code == 201, r.text
    assert UPLOAD_ID in documents(one)  # the writer serves it at once
    seen_after = wait_until_served(two, present=True, since=written)
    body = {"query": UPLOAD_QUERY, "top_k": 3}
    hits = ok(two.post("/v1/search", json=body))
    assert hits["results"][0]["document"] == UPLOAD_ID
    assert ok(one.post("/v1/search", json=body)) == hits

    # And the other way round: a delete through worker 2 leaves worker 1's index.
    with workers[1].admin() as admin:
        r = admin.delete(f"/v1/documents/{UPLOAD_ID}")
        removed = time.monotonic()
        assert r.status_code == 204, r.text
    gone_after = wait_until_served(one, present=False, since=removed)
    assert UPLOAD_ID not in {
        h["document"] for h in ok(one.post("/v1/search", json=body))["results"]
    }
    print(
        f"upload served by the other worker after {seen_after:.2f}s, delete after {gone_after:.2f}s"
    )


def test_workers_logged_no_errors(workers: list[Worker]):
    for worker in workers:
        assert "Traceback" not in worker.output(), worker.output()
