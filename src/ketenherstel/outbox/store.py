"""The outbox's own SQLite file: messages with their gap-free sequence, and exported bundles.

One file in WAL mode with ``synchronous=FULL``, so a write that returned survives a crash.
Each write is one ``BEGIN IMMEDIATE`` transaction that assigns the next sequence of its source
and inserts the message, so sequences have no gaps and a crash leaves no half-written batch.
Several processes (the HTTP endpoint, the forwarder, the CLI) may share the file.

A pending message is never deleted; this module has no DELETE statement for messages.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from ketenherstel.outbox.errors import (
    ConflictingWrite,
    OutboxConfigError,
    WriteProblem,
)

__all__ = [
    "BundleRecord",
    "NewMessage",
    "OutboxStore",
    "SourceSummary",
    "StoredMessage",
    "Written",
]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE config (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE sources (
    source        TEXT PRIMARY KEY,
    last_sequence INTEGER NOT NULL
);
CREATE TABLE messages (
    pos          INTEGER PRIMARY KEY,
    source       TEXT NOT NULL,
    sequence     INTEGER NOT NULL,
    id           TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    body         BLOB NOT NULL,
    written_at   REAL NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'forwarded')),
    forwarded_at REAL,
    UNIQUE (source, sequence),
    UNIQUE (source, id)
);
CREATE INDEX messages_pending ON messages (pos) WHERE state = 'pending';
CREATE TABLE bundles (
    digest          TEXT PRIMARY KEY,
    source          TEXT NOT NULL,
    first_sequence  INTEGER NOT NULL,
    last_sequence   INTEGER NOT NULL,
    count           INTEGER NOT NULL,
    previous_digest TEXT,
    created_at      TEXT NOT NULL,
    exported_at     REAL NOT NULL,
    data            BLOB NOT NULL
);
CREATE INDEX bundles_by_range ON bundles (source, last_sequence);
"""

State = Literal["pending", "forwarded"]


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A checked event to append; the store stamps `sequence` and `sequencetype` on it."""

    source: str
    id: str
    content_hash: str
    event: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Written:
    source: str
    id: str
    sequence: int
    status: Literal["written", "duplicate"]


@dataclass(frozen=True, slots=True)
class StoredMessage:
    pos: int
    source: str
    sequence: int
    id: str
    body: bytes
    written_at: float
    state: State
    forwarded_at: float | None

    def event(self) -> dict[str, Any]:
        value: dict[str, Any] = orjson.loads(self.body)
        return value


@dataclass(frozen=True, slots=True)
class BundleRecord:
    digest: str
    source: str
    first_sequence: int
    last_sequence: int
    count: int
    previous_digest: str | None
    created_at: str
    exported_at: float


@dataclass(frozen=True, slots=True)
class SourceSummary:
    source: str
    last_sequence: int
    last_forwarded: int
    pending: int
    oldest_pending_at: float | None
    last_bundled: int


class OutboxStore:
    """The outbox's SQLite file. Thread-safe: one connection, one lock around each transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:  # a directory, a folder that cannot be written
            raise OutboxConfigError(f"cannot open the outbox file {path}: {exc}") from None
        try:
            self._conn.execute("PRAGMA busy_timeout=10000")
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise OutboxConfigError(f"{path} is not an outbox file: {exc}") from None

    @classmethod
    def create(cls, path: str | Path, *, oin: str, source: str) -> OutboxStore:
        """Create (or reopen) the file for `oin`, writing `source` when events name none.

        Re-running with the same values is harmless; other values are refused.
        """
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file where a folder must be, no permission
            raise OutboxConfigError(
                f"cannot make the folder of the outbox file {path}: {exc.strerror or exc}"
            ) from None
        store = cls(path)
        try:
            with store._tx() as cur:
                version = cur.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            cur.execute(statement)
                    cur.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    cur.executemany(
                        "INSERT INTO config (key, value) VALUES (?, ?)",
                        [("oin", oin), ("source", source), ("created_at", str(time.time()))],
                    )
                    return store
            config = store.config()
            if (config.get("oin"), config.get("source")) != (oin, source):
                raise OutboxConfigError(
                    f"{path} is the outbox of OIN {config.get('oin')} (source "
                    f"{config.get('source')}); it cannot be set up again for {oin} ({source})"
                )
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def open(cls, path: str | Path) -> OutboxStore:
        """Open an initialised outbox file; raises OutboxConfigError if there is none."""
        if not Path(path).is_file():
            raise OutboxConfigError(
                f"no outbox at {path}; create it with `ketenherstel outbox init --db {path} "
                "--oin OIN --source URN`"
            )
        store = cls(path)
        try:
            version = store._conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            store.close()
            raise OutboxConfigError(f"{path} is not an outbox file: {exc}") from None
        if version != SCHEMA_VERSION:
            store.close()
            raise OutboxConfigError(
                f"{path} is not an outbox file of this version (schema {version}, expected "
                f"{SCHEMA_VERSION})"
            )
        return store

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                if self._conn.in_transaction:
                    cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def config(self) -> dict[str, str]:
        with self._lock:
            rows = self._conn.execute("SELECT key, value FROM config").fetchall()
        return {str(k): str(v) for k, v in rows}

    def set_config(self, values: Mapping[str, str]) -> None:
        with self._tx() as cur:
            cur.executemany(
                "INSERT INTO config (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                list(values.items()),
            )

    # -- writing -------------------------------------------------------------------------------

    def append(self, messages: Sequence[NewMessage], *, now: float) -> list[Written]:
        """Append in one transaction, each with the next sequence of its source.

        An id already written with the same content hash is a duplicate (its sequence is
        returned); with another hash the whole write is refused with ConflictingWrite.
        """
        out: list[Written] = []
        conflicts: list[WriteProblem] = []
        with self._tx() as cur:
            for index, message in enumerate(messages):
                row = cur.execute(
                    "SELECT sequence, content_hash FROM messages WHERE source = ? AND id = ?",
                    (message.source, message.id),
                ).fetchone()
                if row is not None:
                    if row[1] != message.content_hash:
                        conflicts.append(
                            WriteProblem(
                                index,
                                "id",
                                f"{message.id} was written before (sequence {row[0]}) with "
                                f"another body: stored {row[1]}, now {message.content_hash}",
                            )
                        )
                    out.append(Written(message.source, message.id, int(row[0]), "duplicate"))
                    continue
                sequence = self._next_sequence(cur, message.source)
                body = orjson.dumps(
                    {**message.event, "sequence": str(sequence), "sequencetype": "Integer"},
                    option=orjson.OPT_SORT_KEYS,
                )
                cur.execute(
                    "INSERT INTO messages (source, sequence, id, content_hash, body, written_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (message.source, sequence, message.id, message.content_hash, body, now),
                )
                out.append(Written(message.source, message.id, sequence, "written"))
            if conflicts:
                raise ConflictingWrite(
                    "an event id was written before with a different body; nothing was stored",
                    conflicts,
                )
        return out

    @staticmethod
    def _next_sequence(cur: sqlite3.Cursor, source: str) -> int:
        row = cur.execute(
            "UPDATE sources SET last_sequence = last_sequence + 1 WHERE source = ? "
            "RETURNING last_sequence",
            (source,),
        ).fetchone()
        if row is not None:
            return int(row[0])
        cur.execute("INSERT INTO sources (source, last_sequence) VALUES (?, 1)", (source,))
        return 1

    # -- forwarding ----------------------------------------------------------------------------

    def pending(self, *, limit: int, max_bytes: int) -> list[StoredMessage]:
        """The oldest pending messages in write order (so each source in sequence order)."""
        with self._lock:
            cursor = self._conn.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE state = 'pending' ORDER BY pos LIMIT ?",
                (limit,),
            )
            out: list[StoredMessage] = []
            size = 0
            for row in cursor:
                message = _message(row)
                size += len(message.body)
                if out and size > max_bytes:
                    break
                out.append(message)
        return out

    def mark_forwarded(self, positions: Sequence[int], *, now: float) -> None:
        with self._tx() as cur:
            cur.executemany(
                "UPDATE messages SET state = 'forwarded', forwarded_at = ? "
                "WHERE pos = ? AND state = 'pending'",
                [(now, pos) for pos in positions],
            )

    # -- reading -------------------------------------------------------------------------------

    def messages(self, source: str, first: int, last: int) -> list[StoredMessage]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE source = ? AND sequence BETWEEN ? AND ? "
                "ORDER BY sequence",
                (source, first, last),
            ).fetchall()
        return [_message(row) for row in rows]

    def page(self, *, after: int, limit: int) -> list[StoredMessage]:
        """Every message in the order written, ``limit`` at a time after position ``after``
        (what this partner says it sent, for reconciliation)."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE pos > ? ORDER BY pos LIMIT ?",
                (after, limit),
            ).fetchall()
        return [_message(row) for row in rows]

    def all_messages(self, source: str) -> list[StoredMessage]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE source = ? ORDER BY sequence", (source,)
            ).fetchall()
        return [_message(row) for row in rows]

    def summaries(self) -> list[SourceSummary]:
        with self._lock:
            rows = self._conn.execute(
                """
                SELECT s.source, s.last_sequence,
                  (SELECT COALESCE(MAX(sequence), 0) FROM messages m
                    WHERE m.source = s.source AND m.state = 'forwarded'),
                  (SELECT COUNT(*) FROM messages m
                    WHERE m.source = s.source AND m.state = 'pending'),
                  (SELECT MIN(written_at) FROM messages m
                    WHERE m.source = s.source AND m.state = 'pending'),
                  (SELECT COALESCE(MAX(last_sequence), 0) FROM bundles b
                    WHERE b.source = s.source)
                FROM sources s ORDER BY s.source
                """
            ).fetchall()
        return [SourceSummary(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    # -- bundles -------------------------------------------------------------------------------

    def record_bundle(self, record: BundleRecord, data: bytes) -> None:
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO bundles (digest, source, first_sequence, last_sequence, count, "
                "previous_digest, created_at, exported_at, data) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    record.digest,
                    record.source,
                    record.first_sequence,
                    record.last_sequence,
                    record.count,
                    record.previous_digest,
                    record.created_at,
                    record.exported_at,
                    data,
                ),
            )

    def bundles(self, source: str) -> list[BundleRecord]:
        """Every bundle exported for `source`, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_BUNDLE_COLUMNS} FROM bundles WHERE source = ? ORDER BY rowid",
                (source,),
            ).fetchall()
        return [BundleRecord(*row) for row in rows]

    def bundle_data(self, digest: str) -> bytes | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT data FROM bundles WHERE digest = ?", (digest,)
            ).fetchone()
        return None if row is None else bytes(row[0])


_COLUMNS = "pos, source, sequence, id, body, written_at, state, forwarded_at"
_BUNDLE_COLUMNS = (
    "digest, source, first_sequence, last_sequence, count, previous_digest, created_at, exported_at"
)


def _message(row: Sequence[Any]) -> StoredMessage:
    return StoredMessage(
        pos=row[0],
        source=row[1],
        sequence=row[2],
        id=row[3],
        body=bytes(row[4]),
        written_at=row[5],
        state=row[6],
        forwarded_at=row[7],
    )
