"""SQLite adapter: one file in WAL mode, one writer, nothing to install."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from ketenherstel.store.sql import Cursor, SqlStore

Synchronous = Literal["FULL", "NORMAL"]


def is_busy(exc: BaseException) -> bool:
    """Whether an error (or what it was raised from) is SQLite's 'database is locked': another
    process held the write lock past the busy timeout, and nothing was changed."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sqlite3.OperationalError) and "database is locked" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class SqliteStore(SqlStore):
    """The default store. `path` may be ":memory:" for a private in-memory database."""

    dialect = "sqlite"

    def __init__(self, path: str | Path, *, synchronous: Synchronous = "FULL") -> None:
        super().__init__()
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        self.path = str(path)
        self.synchronous = synchronous
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={synchronous}")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.execute("PRAGMA cache_size=-262144")  # 256 MiB: keeps the id index hot
        self._conn.execute("PRAGMA temp_store=MEMORY")
        # Checkpoints copy the WAL into the database file and sync it. Run inside a commit they
        # stall the writer (a 1,000-event commit took 37 ms instead of 3); a background thread
        # checkpoints instead, and the automatic one is only a backstop against a growing WAL.
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        if self.path != ":memory:":
            self._conn.execute("PRAGMA wal_autocheckpoint=50000")
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop, name="sqlite-checkpoint", daemon=True
            )
            self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=1000")
            while not self._stop.wait(0.25):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:  # busy or closing: try again on the next tick
                    continue
        finally:
            conn.close()

    def _begin(self) -> Cursor:
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        return cur

    def _commit(self, cur: Cursor) -> None:
        cur.execute("COMMIT")

    def _rollback(self, cur: Cursor) -> None:
        if self._conn.in_transaction:
            cur.execute("ROLLBACK")

    def _allocate(self, cur: Cursor, table: str, n: int) -> list[int]:
        column = "pos" if table == "messages" else "id"
        row = cur.execute(f"SELECT COALESCE(MAX({column}), 0) FROM {table}").fetchone()
        return list(range(int(row[0]) + 1, int(row[0]) + 1 + n))

    def _lock_partitions(self, cur: Cursor, pairs: Sequence[tuple[str, str]]) -> None:
        """Nothing to do: BEGIN IMMEDIATE makes this the only writer."""

    def _is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)

    def _sql(self, statement: str) -> str:
        return statement

    def close(self) -> None:
        self._stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=5)
        with self._lock:
            self._conn.close()


_DEMO_MARK = ("made_by", "demo")


def mark_made_by_a_demo(path: Path) -> None:
    """Note in a store (migrated) that a demo made it, so that a demo may recreate it."""
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("INSERT OR REPLACE INTO store_meta (key, value) VALUES (?, ?)", _DEMO_MARK)


def kept_by_someone(path: Path) -> str | None:
    """What a store that no demo made holds (messages, credentials, partners), or None when
    it holds none of them or a demo made it: what a demo must not delete. Read-only."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:  # what cannot be read is kept: never taken for empty
        return f"what could not be read ({exc})"
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "store_meta" in names:
            mark = conn.execute(
                "SELECT value FROM store_meta WHERE key = ?", (_DEMO_MARK[0],)
            ).fetchone()
            if mark is not None and mark[0] == _DEMO_MARK[1]:
                return None
        held = [
            f"{n:,} {table}"
            for table in ("messages", "credentials", "partners")
            if table in names
            and (n := int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]))
        ]
    except sqlite3.DatabaseError as exc:  # damaged pages: a store to keep, not to remake
        return f"tables that could not be read ({exc})"
    finally:
        conn.close()
    return ", ".join(held) or None


def not_a_store(path: Path, *, empty_ok: bool = False) -> str | None:
    """Why a SQLite file is no store (opened read-only: nothing is written to it), or None.

    ``empty_ok``: an empty file (or a SQLite database without tables) is fine, as for `init`,
    which makes it a store."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        return f"not a SQLite database: {exc}"
    finally:
        conn.close()
    if not names and empty_ok:
        return None
    if not names:
        return "an empty file; `ketenherstel init` makes a store"
    if not {"messages", "deliveries", "schema_migrations"} <= names:
        return "a SQLite database of something else"
    return None
