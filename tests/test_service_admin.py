"""Admin routes: key checks, uploads (formats, limits, hostile files), delete, reindex.

Tiers: a write runs in the admin worker process, which embeds with the real model, so the
tests that write are marked `model`; key checks refuse before any write (`no_model`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from peerqa.config import Settings
from peerqa.service import admin_worker
from peerqa.service.app import create_app
from peerqa.store import Store, admin_lock
from tests.test_faults import waiting_for_a_lock
from tests.test_ingest_prose import make_pdf

KEY = "s3cret-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
PAPER = "joo-2022-peer-support"
MEMO = b"Ward memo.\n\nThe stroke ward pilots telephone peer support from March.\n"
NOTES_MD = (
    b"# Buddy scheme\n\n## Outcomes\n\nVolunteers in the kidney buddy scheme reported that "
    b"dialysis patients felt less alone.\n"
)


def admin_client(settings: Settings, **overrides) -> TestClient:
    return TestClient(
        create_app(settings.model_copy(update={"api_key": SecretStr(KEY), **overrides}))
    )


@pytest.fixture
def client(settings: Settings):
    with admin_client(settings) as c:
        yield c


def upload(client: TestClient, name: str, data: bytes, headers: dict | None = None):
    return client.post(
        "/v1/documents", files={"file": (name, data)}, headers=AUTH if headers is None else headers
    )


# -- auth ---------------------------------------------------------------------------------
ADMIN_CALLS = [
    ("post", "/v1/documents", {"files": {"file": ("memo.txt", MEMO)}}),
    ("delete", "/v1/documents/memo", {}),
    ("post", "/v1/admin/reindex", {}),
]


@pytest.mark.usefixtures("no_model")
@pytest.mark.parametrize(("method", "path", "kwargs"), ADMIN_CALLS)
def test_admin_routes_are_disabled_without_a_configured_key(settings, method, path, kwargs):
    with TestClient(create_app(settings)) as c:
        r = getattr(c, method)(path, headers=AUTH, **kwargs)
    assert r.status_code == 403
    assert "disabled" in r.json()["detail"]


@pytest.mark.usefixtures("no_model")
@pytest.mark.parametrize(("method", "path", "kwargs"), ADMIN_CALLS)
def test_missing_key_is_401_with_a_bearer_challenge(client, method, path, kwargs):
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.usefixtures("no_model")
@pytest.mark.parametrize(
    "header", [f"Bearer {KEY}x", "Bearer wrong", f"Bearer {KEY[:-1]}", "Bearer clé".encode()]
)
def test_wrong_key_is_403(client, header):
    r = upload(client, "memo.txt", MEMO, headers={"Authorization": header})
    assert r.status_code == 403
    assert client.get("/v1/documents").status_code == 503  # nothing was ingested


@pytest.mark.usefixtures("no_model")
def test_other_auth_schemes_count_as_missing(client):
    r = upload(client, "memo.txt", MEMO, headers={"Authorization": f"Basic {KEY}"})
    assert r.status_code == 401


# -- upload -------------------------------------------------------------------------------
@pytest.mark.model
def test_upload_txt_is_served_at_once(client):
    r = upload(client, "ward memo.txt", MEMO)
    assert r.status_code == 201
    doc = r.json()
    assert doc["id"] == "ward-memo"
    assert doc["source"] == "ward memo.txt"
    assert doc["media_type"] == "text/plain"
    assert doc["passages"] == 2 and doc["by_kind"] == {"paragraph": 2}
    assert [d["id"] for d in client.get("/v1/documents").json()] == ["ward-memo"]
    hits = client.post(
        "/v1/search",
        json={"query": "telephone peer support", "filters": {"document": ["ward-memo"]}},
    ).json()["results"]
    assert hits[0]["text"] == "The stroke ward pilots telephone peer support from March."


@pytest.mark.model
def test_upload_markdown_and_pdf(client):
    md = upload(client, "buddy.md", NOTES_MD)
    assert md.status_code == 201
    assert md.json()["media_type"] == "text/markdown"
    pdf = upload(client, "report.pdf", make_pdf(["Peer mentors phone new parents weekly."] * 2))
    assert pdf.status_code == 201, pdf.text
    assert pdf.json()["media_type"] == "application/pdf"
    assert pdf.json()["pages"] == 2
    assert {d["id"] for d in client.get("/v1/documents").json()} == {"buddy", "report"}


@pytest.mark.model
def test_same_name_replaces_the_earlier_upload(client):
    upload(client, "memo.txt", MEMO)
    r = upload(client, "memo.txt", b"Revised memo: the pilot moved to the cardiac ward.\n")
    assert r.status_code == 201
    docs = client.get("/v1/documents").json()
    assert len(docs) == 1 and docs[0]["passages"] == 1


@pytest.mark.model
@pytest.mark.parametrize(
    ("name", "stored_as", "doc_id"),
    [
        ("../../etc/passwd.txt", "passwd.txt", "passwd"),
        ("..\\..\\Windows\\win.ini.md", "win.ini.md", "win-ini"),
        ("/abs/path/.hidden.txt", "hidden.txt", "hidden"),
        ("notes:v2*?<>|.txt", "notes_v2_.txt", "notes-v2"),
        ("naïve café.md", "naive cafe.md", "naive-cafe"),
        ("日本語.md", "upload.md", "upload"),
    ],
)
def test_hostile_file_names_are_reduced_to_a_plain_name(client, name, stored_as, doc_id):
    r = upload(client, name, MEMO)
    assert r.status_code == 201
    assert (r.json()["source"], r.json()["id"]) == (stored_as, doc_id)


@pytest.mark.model
@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "PNG image"),
        ("blob.txt", bytes(range(256)) * 8, "binary file"),
        ("tool.exe", b"MZ\x90\x00", "unsupported file type '.exe'"),
        ("noext", MEMO, "unsupported file type without an extension"),
        ("fake.pdf", b"just text, no PDF header", "not a PDF file"),
        ("broken.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 50, "PDF"),
        ("empty.md", b"   \n", "empty document"),
        ("latin1.txt", "Café peer group".encode("latin-1"), "not valid UTF-8"),
        ("..", MEMO, "upload: unsupported file type without an extension"),
    ],
)
def test_unusable_files_are_422_naming_the_file_field(client, name, data, reason):
    r = upload(client, name, data)
    assert r.status_code == 422
    (error,) = r.json()["detail"]
    assert error["loc"] == ["body", "file"]
    assert reason in error["msg"]
    assert "/tmp" not in error["msg"]  # the server's temp path never leaks


@pytest.mark.usefixtures("no_model")
def test_upload_without_a_file_is_422(client):
    r = client.post("/v1/documents", data={"other": "x"}, headers=AUTH)
    assert r.status_code == 422
    assert "file" in str(r.json()["detail"])


@pytest.mark.model
def test_oversize_upload_is_413(settings):
    with admin_client(settings, max_upload_bytes=2000) as c:
        assert upload(c, "memo.txt", MEMO * 20).status_code == 201  # ~1.4 kB: under
        r = upload(c, "big.txt", MEMO * 40)  # ~2.8 kB: over the file limit
        assert r.status_code == 413
        r = upload(c, "huge.txt", MEMO * 2000)  # ~140 kB: over the body limit too
        assert r.status_code == 413
        assert [d["id"] for d in c.get("/v1/documents").json()] == ["memo"]


@pytest.mark.model
def test_pdf_over_the_page_limit_is_413(settings):
    with admin_client(settings, max_upload_pages=3) as c:
        r = upload(c, "long.pdf", make_pdf(["A page about peer support."] * 4))
        assert r.status_code == 413
        assert "4 pages" in r.json()["detail"]


@pytest.mark.model
def test_uploads_may_exceed_the_json_body_limit(settings):
    with admin_client(settings, max_request_bytes=4096) as c:
        big = b"Peer supporters call weekly.\n\n" * 400  # ~12 kB
        assert upload(c, "big.txt", big).status_code == 201
        r = c.post("/v1/search", json={"query": "x" * 5000})
        assert r.status_code == 413


# -- delete -------------------------------------------------------------------------------
@pytest.mark.model
def test_delete_removes_the_document_at_once(client):
    upload(client, "memo.txt", MEMO)
    upload(client, "buddy.md", NOTES_MD)
    r = client.delete("/v1/documents/memo", headers=AUTH)
    assert r.status_code == 204 and r.content == b""
    assert [d["id"] for d in client.get("/v1/documents").json()] == ["buddy"]
    r = client.post("/v1/search", json={"query": "ward", "filters": {"document": ["memo"]}})
    assert r.status_code == 422  # no longer a known document
    assert client.delete("/v1/documents/memo", headers=AUTH).status_code == 404


@pytest.mark.model
def test_delete_unknown_id_is_404(client):
    upload(client, "memo.txt", MEMO)
    assert client.delete("/v1/documents/nope", headers=AUTH).status_code == 404


@pytest.mark.model
def test_the_last_document_is_kept(client):
    upload(client, "memo.txt", MEMO)
    r = client.delete("/v1/documents/memo", headers=AUTH)
    assert r.status_code == 409
    assert client.get("/readyz").json()["documents"] == 1


# -- the bundled corpus -------------------------------------------------------------------
@pytest.mark.model
def test_reindex_bundled_paper_is_protected(client):
    first = client.post("/v1/admin/reindex", headers=AUTH)
    assert first.status_code == 200
    report = first.json()
    assert report["documents"] == 1 and report["passages"] > 150 and report["embedded"] > 0
    upload(client, "memo.txt", MEMO)
    again = client.post("/v1/admin/reindex", headers=AUTH).json()
    assert again["embedded"] == 0 and again["documents"] == 2  # no-op; uploads kept

    r = client.delete(f"/v1/documents/{PAPER}", headers=AUTH)
    assert r.status_code == 409
    assert "bundled" in r.json()["detail"]
    r = upload(client, f"{PAPER}.txt", MEMO)  # would replace the paper
    assert r.status_code == 409
    paper = next(d for d in client.get("/v1/documents").json() if d["id"] == PAPER)
    assert paper["passages"] == report["passages"]


# -- uploads run outside the request path -------------------------------------------------
def waiting_worker(deadline_s: float = 300.0) -> int:
    """The admin worker's pid once it is blocked on the admin lock (held by the test):
    an upload is then in progress, in another process."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        for pid in admin_worker.worker_pids():
            if waiting_for_a_lock(pid):
                assert pid != os.getpid()
                return pid
        time.sleep(0.05)
    raise AssertionError("no upload reached the admin lock")


@pytest.mark.model
def test_searches_answer_while_an_upload_is_in_progress(client, settings):
    assert upload(client, "memo.txt", MEMO).status_code == 201
    documents = client.get("/v1/documents").json()
    with ThreadPoolExecutor(1) as pool, admin_lock(settings):
        pending = pool.submit(upload, client, "buddy.md", NOTES_MD)
        waiting_worker()
        # The upload holds nothing this process needs: searches and answers go on.
        hits = client.post("/v1/search", json={"query": "telephone peer support"}).json()
        assert hits["results"][0]["document"] == "memo"
        assert client.post("/v1/ask", json={"question": "When does the pilot start?"}).is_success
        assert client.get("/v1/documents").json() == documents
        assert not pending.done()
    # The lock released, the upload finishes: 201 with its summary, served at once.
    r = pending.result(timeout=600)
    assert r.status_code == 201 and r.json()["id"] == "buddy"
    assert {d["id"] for d in client.get("/v1/documents").json()} == {"memo", "buddy"}


@pytest.mark.model
def test_a_failed_upload_leaves_the_index_unchanged(client, settings):
    assert upload(client, "memo.txt", MEMO).status_code == 201
    state = Store(settings).state()
    assert upload(client, "broken.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 50).status_code == 422
    assert Store(settings).state() == state
    # A worker killed mid-upload: 503, nothing published, and the next upload works.
    with ThreadPoolExecutor(1) as pool:
        with admin_lock(settings):
            pending = pool.submit(upload, client, "buddy.md", NOTES_MD)
            os.kill(waiting_worker(), signal.SIGKILL)
            r = pending.result(timeout=600)
    assert r.status_code == 503 and "unchanged" in r.json()["detail"]
    assert Store(settings).state() == state
    assert [d["id"] for d in client.get("/v1/documents").json()] == ["memo"]
    assert upload(client, "buddy.md", NOTES_MD).status_code == 201


@pytest.mark.model
def test_the_worker_embeds_not_the_server(client, monkeypatch):
    """Nothing of an upload is embedded by the serving process."""
    from peerqa.embedding import MiniLMEmbedding

    embedded = []
    real = MiniLMEmbedding._encode
    monkeypatch.setattr(
        MiniLMEmbedding, "_encode", lambda self, texts: embedded.extend(texts) or real(self, texts)
    )
    assert upload(client, "buddy.md", NOTES_MD).status_code == 201
    assert embedded == []
    assert client.post("/v1/search", json={"query": "kidney buddy scheme"}).is_success


def gone(pid: int, within_s: float = 30.0) -> bool:
    """The process has exited (a zombie awaiting its reaper counts as exited)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.model
def test_a_stopped_server_stops_its_worker(settings):
    """The worker keeps the model loaded between uploads, never past its server."""
    with admin_client(settings) as c:
        assert upload(c, "memo.txt", MEMO).status_code == 201
        pids = admin_worker.worker_pids()
        assert pids
    assert all(gone(pid) for pid in pids)


def started_worker(from_thread: bool) -> tuple[subprocess.Popen, int]:
    """A stand-in server process that starts the admin worker (from a request-like thread
    that then ends, or from its main thread), and the worker's pid."""
    submit = "admin_worker._worker().submit(os.getpid).result()"
    start = (
        f"got = []\nt = threading.Thread(target=lambda: got.append({submit}))\n"
        "t.start(); t.join()\nprint(got[0], flush=True)\n"
        if from_thread
        else f"print({submit}, flush=True)\n"
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import os, threading, time\nfrom peerqa.service import admin_worker\n{start}"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    return server, int(server.stdout.readline())


@pytest.mark.server
def test_the_worker_outlives_the_request_thread_that_started_it():
    """The server retires idle request threads; the worker one of them started stays."""
    server, worker = started_worker(from_thread=True)
    try:
        assert not gone(worker, within_s=2.0)
    finally:
        server.kill()
        server.wait()
    assert gone(worker)


@pytest.mark.server
def test_a_killed_server_takes_its_worker_with_it():
    """SIGKILL skips the lifespan: the worker sees its server gone and exits."""
    server, worker = started_worker(from_thread=False)
    try:
        assert not gone(worker, within_s=0.5)
        server.kill()
        server.wait()
        assert gone(worker)
    finally:
        server.kill()
