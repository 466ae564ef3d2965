"""Chat sessions in SQLite: shared by workers, expiring, bounded."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from peerqa.service.sessions import SessionStore

TTL = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def store(path: Path, clock: Clock | None = None, max_turns: int = 6) -> SessionStore:
    return SessionStore(path / "sessions.sqlite3", TTL, max_turns, clock=clock or Clock())


def turn_count(s: SessionStore) -> int:
    with sqlite3.connect(s.path) as db:
        return db.execute("SELECT COUNT(*) FROM turns").fetchone()[0]


def test_new_sessions_get_fresh_ids(tmp_path: Path):
    s = store(tmp_path)
    first, second = s.resume(None), s.resume(None)
    assert first.id != second.id
    assert first.history == second.history == []


def test_history_is_the_earlier_questions_in_order(tmp_path: Path):
    s = store(tmp_path)
    sid = s.resume(None).id
    s.record(sid, "What makes matching hard?", "answer 1")
    s.record(sid, "How do programmes fix that?", "answer 2")
    assert s.resume(sid).history == ["What makes matching hard?", "How do programmes fix that?"]


def test_unknown_id_starts_a_new_session(tmp_path: Path):
    s = store(tmp_path)
    resumed = s.resume("made-up-id")
    assert resumed.id != "made-up-id" and resumed.history == []


def test_sessions_survive_a_new_store_on_the_same_file(tmp_path: Path):
    """A second worker, or a restart: state is in the file, not the process."""
    clock = Clock()
    sid = store(tmp_path, clock).resume(None).id
    store(tmp_path, clock).record(sid, "q1", "a1")
    assert store(tmp_path, clock).resume(sid).history == ["q1"]


def test_sessions_expire_after_the_ttl_of_inactivity(tmp_path: Path):
    clock = Clock()
    s = store(tmp_path, clock)
    sid = s.resume(None).id
    s.record(sid, "q1", "a1")
    clock.now += TTL - 1
    assert s.resume(sid).history == ["q1"]
    s.record(sid, "q2", "a2")  # activity slides the expiry
    clock.now += TTL - 1
    assert s.resume(sid).id == sid
    clock.now += 2
    expired = s.resume(sid)
    assert expired.id != sid and expired.history == []


def test_expired_sessions_are_purged_on_write(tmp_path: Path):
    clock = Clock()
    s = store(tmp_path, clock)
    old = s.resume(None).id
    s.record(old, "q", "a")
    clock.now += TTL + 1
    s.record(s.resume(None).id, "q", "a")
    with sqlite3.connect(s.path) as db:
        ids = [i for (i,) in db.execute("SELECT id FROM sessions")]
    assert old not in ids and len(ids) == 1
    assert turn_count(s) == 1  # the expired session's turns went with it


def test_history_keeps_the_last_max_turns(tmp_path: Path):
    s = store(tmp_path, max_turns=3)
    sid = s.resume(None).id
    for i in range(1, 6):
        s.record(sid, f"q{i}", f"a{i}")
    assert s.resume(sid).history == ["q3", "q4", "q5"]
    assert turn_count(s) == 3  # older turns are deleted, not just hidden


def test_concurrent_writers_lose_no_turns(tmp_path: Path):
    s = store(tmp_path, max_turns=100)
    sid = s.resume(None).id
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(lambda i: store(tmp_path, max_turns=100).record(sid, f"q{i}", "a"), range(40))
        )
    assert sorted(s.resume(sid).history) == sorted(f"q{i}" for i in range(40))


def test_database_uses_wal(tmp_path: Path):
    s = store(tmp_path)
    with sqlite3.connect(s.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_turns_read_back_in_order_without_extending_the_session(tmp_path: Path):
    clock = Clock()
    s = store(tmp_path, clock, max_turns=2)
    sid = s.resume(None).id
    for i in range(1, 4):
        clock.now += 10
        s.record(sid, f"q{i}", f"a{i} [1]")
    turns, expires_at = s.turns(sid)
    assert [(t.question, t.answer, t.asked_at) for t in turns] == [
        ("q2", "a2 [1]", clock.now - 10),
        ("q3", "a3 [1]", clock.now),
    ]
    assert expires_at == clock.now + TTL
    clock.now += TTL - 1
    assert s.turns(sid)  # reading ...
    clock.now += 2
    assert s.turns(sid) is None  # ... did not slide the expiry


def test_turns_of_an_unknown_session_are_none(tmp_path: Path):
    s = store(tmp_path)
    assert s.turns("made-up-id") is None
    assert s.turns(s.resume(None).id) is None  # a fresh id holds nothing until a turn is recorded


def test_a_session_keeps_the_papers_its_last_turn_was_about(tmp_path: Path):
    s = store(tmp_path)
    sid = s.resume(None).id
    assert s.resume(None).focus is None  # a new session: nothing recorded
    s.record(sid, "What did Joo et al. find?", "a1", ("joo-2022-peer-support",))
    assert s.resume(sid).focus == ("joo-2022-peer-support",)
    s.record(sid, "and benefits across the evidence?", "a2", ())
    assert s.resume(sid).focus == ()  # the last turn spoke of several papers: no focus
    turns, _ = s.turns(sid)
    assert [t.documents for t in turns] == [("joo-2022-peer-support",), ()]


def test_a_version_1_session_file_gains_papers_and_keeps_its_turns(tmp_path: Path):
    path = tmp_path / "sessions.sqlite3"
    with sqlite3.connect(path) as db:  # the schema before turns kept their papers
        db.executescript(
            "CREATE TABLE sessions (id TEXT PRIMARY KEY, created_at REAL NOT NULL, "
            "last_seen REAL NOT NULL);"
            "CREATE TABLE turns (session_id TEXT NOT NULL, seq INTEGER NOT NULL, "
            "question TEXT NOT NULL, answer TEXT NOT NULL, asked_at REAL NOT NULL, "
            "PRIMARY KEY (session_id, seq));"
            "INSERT INTO sessions VALUES ('old', 1000000.0, 1000000.0);"
            "INSERT INTO turns VALUES ('old', 1, 'q1', 'a1', 1000000.0);"
        )
    s = store(tmp_path)
    resumed = s.resume("old")
    assert resumed.history == ["q1"] and resumed.focus is None  # unknown, not "none"
    s.record("old", "q2", "a2", ("paper-1571",))
    assert s.resume("old").focus == ("paper-1571",)
