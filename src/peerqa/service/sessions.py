"""Chat sessions in SQLite, in the data dir: every worker on the machine sees the same
conversations, and they survive restarts.

One connection per call (sqlite3 connections must not cross threads) in WAL mode, so
readers never wait for a writer. A session expires `ttl` seconds after its last turn;
expired sessions are purged on each write. Only the last `max_turns` turns are kept.
Each turn keeps the papers it was about (answer.scope), so that the next question that
names none ("how many did they interview?") stays on the paper the conversation is on.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_last_seen ON sessions (last_seen);
CREATE TABLE IF NOT EXISTS turns (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    asked_at REAL NOT NULL,
    documents TEXT,
    PRIMARY KEY (session_id, seq)
);
"""
# Version 1 files (no documents column) gain it; their turns' papers stay unknown (NULL).
_MIGRATE = {2: "ALTER TABLE turns ADD COLUMN documents TEXT"}
_BUSY_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Session:
    id: str
    history: list[str] = field(default_factory=list)  # earlier questions, oldest first
    # The papers the last turn was about (a JSON list in the turn), () for none, None when
    # unknown (a turn recorded before papers were kept: the history's names decide).
    focus: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str
    asked_at: float  # Unix seconds
    documents: tuple[str, ...] | None = None  # the papers it was about (see Session.focus)


class SessionStore:
    def __init__(
        self,
        path: Path,
        ttl_seconds: float,
        max_turns: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.ttl = ttl_seconds
        self.max_turns = max_turns
        self.clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")  # persistent: set once per database file
            db.executescript(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(turns)")}
            if "documents" not in columns:
                db.execute(_MIGRATE[2])
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(
            sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None)
        ) as db:
            db.execute("PRAGMA foreign_keys=ON")
            yield db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the lock up front (no upgrade deadlocks)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def resume(self, session_id: str | None) -> Session:
        """The live session with its recent questions, or a new, empty one (with a new id)
        when `session_id` is absent, unknown or expired."""
        kept = self.turns(session_id) if session_id else None
        if session_id and kept is not None:
            turns = kept[0]
            focus = turns[-1].documents if turns else ()
            return Session(session_id, [turn.question for turn in turns], focus)
        return Session(uuid.uuid4().hex)

    def turns(self, session_id: str) -> tuple[list[Turn], float] | None:
        """The live session's kept turns, oldest first, and when it expires (Unix seconds);
        None when the session is unknown or expired. Reading does not extend its life."""
        with self._connect() as db:
            row = db.execute(
                "SELECT last_seen FROM sessions WHERE id = ? AND last_seen >= ?",
                (session_id, self.clock() - self.ttl),
            ).fetchone()
            if not row:
                return None
            rows = db.execute(
                "SELECT question, answer, asked_at, documents FROM turns WHERE session_id = ? "
                "ORDER BY seq DESC LIMIT ?",
                (session_id, self.max_turns),
            ).fetchall()
        turns = [
            Turn(q, a, at, tuple(json.loads(d)) if d is not None else None)
            for q, a, at, d in reversed(rows)
        ]
        return turns, row[0] + self.ttl

    def record(
        self,
        session_id: str,
        question: str,
        answer: str,
        documents: tuple[str, ...] | None = None,
    ) -> None:
        """Append a turn (creating or reviving the session) with the papers it was about,
        keep the last `max_turns`, and purge expired sessions."""
        now = self.clock()
        with self._write() as db:
            db.execute("DELETE FROM sessions WHERE last_seen < ?", (now - self.ttl,))
            db.execute(
                "INSERT INTO sessions (id, created_at, last_seen) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen",
                (session_id, now, now),
            )
            (seq,) = db.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM turns WHERE session_id = ?", (session_id,)
            ).fetchone()
            db.execute(
                "INSERT INTO turns (session_id, seq, question, answer, asked_at, documents) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    seq,
                    question,
                    answer,
                    now,
                    json.dumps(list(documents)) if documents is not None else None,
                ),
            )
            db.execute(
                "DELETE FROM turns WHERE session_id = ? AND seq <= ?",
                (session_id, seq - self.max_turns),
            )
