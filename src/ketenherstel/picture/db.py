"""What people register for the picture, in its own SQLite file (decision 0013): bottlenecks
(knelpunten) and their work agreements (werkafspraken), reachability contacts, hand-set statuses
of the recovery matrix, and briefings. Nothing here touches the exchange's tables."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Agreement",
    "Bottleneck",
    "BriefingRow",
    "Contact",
    "HandStatus",
    "PictureDb",
    "PictureDbError",
    "open_picture_db",
]


class PictureDbError(ValueError):
    """The picture's file is there but is not a picture database (nor any SQLite file)."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS bottlenecks (
  id INTEGER PRIMARY KEY,
  title TEXT NOT NULL,
  category TEXT NOT NULL,
  severity TEXT NOT NULL,
  partner TEXT NOT NULL,
  process TEXT,
  series_kind TEXT NOT NULL,
  series_key TEXT NOT NULL,
  description TEXT NOT NULL,
  started_at REAL NOT NULL,
  ended_at REAL,
  registered_at REAL NOT NULL,
  registered_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agreements (
  id INTEGER PRIMARY KEY,
  bottleneck_id INTEGER NOT NULL REFERENCES bottlenecks(id),
  text TEXT NOT NULL,
  owner_role TEXT NOT NULL,
  starts_at REAL NOT NULL,
  expected_effect TEXT NOT NULL,
  residual_risk TEXT NOT NULL,
  risk_accepted_role TEXT NOT NULL,
  risk_accepted_by TEXT NOT NULL,
  risk_accepted_until REAL,
  registered_at REAL NOT NULL,
  registered_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS contacts (
  id INTEGER PRIMARY KEY,
  partner TEXT NOT NULL,
  channel TEXT NOT NULL,
  caller TEXT NOT NULL,
  received_at REAL NOT NULL,
  answered_at REAL,
  registered_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS contacts_partner ON contacts (partner, channel, received_at);
CREATE TABLE IF NOT EXISTS statuses (
  id INTEGER PRIMARY KEY,
  partner TEXT NOT NULL,
  channel TEXT NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL,
  at REAL NOT NULL,
  actor TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS briefings (
  id INTEGER PRIMARY KEY,
  reference_at REAL NOT NULL,
  created_at REAL NOT NULL,
  created_by TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('draft', 'approved')),
  approved_at REAL,
  approved_by TEXT,
  figures TEXT NOT NULL,
  html TEXT NOT NULL,
  public_html TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Bottleneck:
    id: int
    title: str
    category: str
    severity: str
    partner: str
    process: str | None
    series_kind: str
    series_key: str
    description: str
    started_at: float
    ended_at: float | None
    registered_at: float
    registered_by: str


@dataclass(frozen=True, slots=True)
class Agreement:
    id: int
    bottleneck_id: int
    text: str
    owner_role: str
    starts_at: float
    expected_effect: str
    residual_risk: str
    risk_accepted_role: str
    risk_accepted_by: str
    risk_accepted_until: float | None
    registered_at: float
    registered_by: str


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    partner: str
    channel: str
    caller: str
    received_at: float
    answered_at: float | None
    registered_by: str


@dataclass(frozen=True, slots=True)
class HandStatus:
    id: int
    partner: str
    channel: str
    state: str
    reason: str
    at: float
    actor: str


@dataclass(frozen=True, slots=True)
class BriefingRow:
    id: int
    reference_at: float
    created_at: float
    created_by: str
    state: str
    approved_at: float | None
    approved_by: str | None
    figures: str
    html: str
    public_html: str


class PictureDb:
    """One connection, serialised by a lock; every write is one transaction."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self._conn = conn
        self.path = path
        self._lock = threading.RLock()

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
                self._conn.rollback()
                raise
            else:
                self._conn.commit()
            finally:
                cur.close()

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return [tuple(r) for r in self._conn.execute(sql, args).fetchall()]

    # -- bottlenecks and work agreements ----------------------------------------------------

    def add_bottleneck(self, **values: Any) -> int:
        cols = list(values)
        with self._tx() as cur:
            cur.execute(
                f"INSERT INTO bottlenecks ({', '.join(cols)}) "
                f"VALUES ({', '.join('?' * len(cols))})",
                tuple(values[c] for c in cols),
            )
            return int(cur.lastrowid or 0)

    def end_bottleneck(self, bottleneck_id: int, at: float) -> bool:
        with self._tx() as cur:
            cur.execute(
                "UPDATE bottlenecks SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
                (at, bottleneck_id),
            )
            return cur.rowcount == 1

    def bottlenecks(self) -> list[Bottleneck]:
        cols = ", ".join(Bottleneck.__slots__)
        return [Bottleneck(*r) for r in self._all(f"SELECT {cols} FROM bottlenecks ORDER BY id")]

    def bottleneck(self, bottleneck_id: int) -> Bottleneck | None:
        cols = ", ".join(Bottleneck.__slots__)
        rows = self._all(f"SELECT {cols} FROM bottlenecks WHERE id = ?", (bottleneck_id,))
        return Bottleneck(*rows[0]) if rows else None

    def add_agreement(self, **values: Any) -> int:
        cols = list(values)
        with self._tx() as cur:
            found = cur.execute(
                "SELECT 1 FROM bottlenecks WHERE id = ?", (values["bottleneck_id"],)
            ).fetchone()
            if found is None:
                raise LookupError(f"there is no bottleneck {values['bottleneck_id']}")
            cur.execute(
                f"INSERT INTO agreements ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                tuple(values[c] for c in cols),
            )
            return int(cur.lastrowid or 0)

    def agreements(self, bottleneck_id: int | None = None) -> list[Agreement]:
        cols = ", ".join(Agreement.__slots__)
        if bottleneck_id is None:
            rows = self._all(f"SELECT {cols} FROM agreements ORDER BY id")
        else:
            rows = self._all(
                f"SELECT {cols} FROM agreements WHERE bottleneck_id = ? ORDER BY id",
                (bottleneck_id,),
            )
        return [Agreement(*r) for r in rows]

    # -- reachability ----------------------------------------------------------------------

    def add_contacts(self, rows: list[tuple[str, str, str, float, float | None, str]]) -> int:
        with self._tx() as cur:
            cur.executemany(
                "INSERT INTO contacts (partner, channel, caller, received_at, answered_at, "
                "registered_by) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def contacts(self, partner: str | None = None) -> list[Contact]:
        cols = ", ".join(Contact.__slots__)
        if partner is None:
            rows = self._all(f"SELECT {cols} FROM contacts ORDER BY received_at, id")
        else:
            rows = self._all(
                f"SELECT {cols} FROM contacts WHERE partner = ? ORDER BY received_at, id",
                (partner,),
            )
        return [Contact(*r) for r in rows]

    # -- hand-set statuses -----------------------------------------------------------------

    def set_status(
        self, *, partner: str, channel: str, state: str, reason: str, at: float, actor: str
    ) -> int:
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO statuses (partner, channel, state, reason, at, actor) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (partner, channel, state, reason, at, actor),
            )
            return int(cur.lastrowid or 0)

    def statuses(self) -> list[HandStatus]:
        cols = ", ".join(HandStatus.__slots__)
        return [HandStatus(*r) for r in self._all(f"SELECT {cols} FROM statuses ORDER BY at, id")]

    # -- briefings -------------------------------------------------------------------------

    def add_briefing(
        self,
        *,
        reference_at: float,
        created_at: float,
        created_by: str,
        figures: str,
        html: str,
        public_html: str,
    ) -> int:
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO briefings (reference_at, created_at, created_by, state, figures, "
                "html, public_html) VALUES (?, ?, ?, 'draft', ?, ?, ?)",
                (reference_at, created_at, created_by, figures, html, public_html),
            )
            return int(cur.lastrowid or 0)

    def approve_briefing(
        self, briefing_id: int, *, at: float, by: str, html: str, public_html: str
    ) -> bool:
        """Approve a draft (its documents now say so); False if it is not a draft."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE briefings SET state = 'approved', approved_at = ?, approved_by = ?, "
                "html = ?, public_html = ? WHERE id = ? AND state = 'draft'",
                (at, by, html, public_html, briefing_id),
            )
            return cur.rowcount == 1

    def briefings(self) -> list[BriefingRow]:
        cols = ", ".join(BriefingRow.__slots__)
        return [
            BriefingRow(*r) for r in self._all(f"SELECT {cols} FROM briefings ORDER BY id DESC")
        ]

    def briefing(self, briefing_id: int) -> BriefingRow | None:
        cols = ", ".join(BriefingRow.__slots__)
        rows = self._all(f"SELECT {cols} FROM briefings WHERE id = ?", (briefing_id,))
        return BriefingRow(*rows[0]) if rows else None

    def names(self) -> set[str]:
        """Every person's name this file holds: who registered, accepted, set or approved."""
        found: set[str] = set()
        for sql in (
            "SELECT registered_by FROM bottlenecks",
            "SELECT registered_by FROM agreements",
            "SELECT risk_accepted_by FROM agreements",
            "SELECT registered_by FROM contacts",
            "SELECT actor FROM statuses",
            "SELECT created_by FROM briefings",
            "SELECT approved_by FROM briefings WHERE approved_by IS NOT NULL",
        ):
            found.update(str(r[0]) for r in self._all(sql) if r[0])
        return found


def open_picture_db(path: str | Path, *, synchronous: str = "NORMAL") -> PictureDb:
    """Open (and create) the picture's file; ``:memory:`` for tests."""
    target = str(path)
    if target != ":memory:":
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:  # a directory, a folder that cannot be written
        raise PictureDbError(
            f"{target} cannot be opened as the picture's database ({exc}); give a file with "
            "KETENHERSTEL_PICTURE_DB"
        ) from None
    try:
        if target != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.executescript(_SCHEMA)
    except sqlite3.Error as exc:  # another kind of file, or another SQLite database
        conn.close()
        raise PictureDbError(
            f"{target} is not the picture's database ({exc}); give its file with "
            "KETENHERSTEL_PICTURE_DB, or a new name for a new one"
        ) from None
    return PictureDb(conn, target)
