"""The registry's own SQLite database (decision 0010): nothing here touches the exchange's
tables, nothing in ``store/`` touches these."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from ketenherstel.registry.model import CaseState, KnownRegistration

__all__ = ["ReadRecord", "RegistryDb", "ScreeningRow", "message_key", "open_registry_db"]

_CHUNK = 500
PAGE_SIZE = 16_384  # bytes, for a new registry file
WAL_BYTES = 40_000_000  # checkpointed when the WAL holds about this much


def _chunked(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def message_key(source: str, ident: str) -> bytes:
    """How ``applied`` finds a message (decision 0015): the first 128 bits of SHA-256 of its
    source, a NUL and its id. Two messages sharing one would make the insert of the second fail
    (the key is unique), never pass for a redelivery: the lookups compare source and id too."""
    return hashlib.sha256(f"{source}\0{ident}".encode()).digest()[:16]


def _unhex(value: object) -> bytes | None:
    """A hash as migration 0006 keeps it: 32 hex characters become their 16 bytes."""
    if value is None:
        return None
    try:
        return bytes.fromhex(str(value))
    except ValueError:
        raise ValueError(f"not a hash in hex: {str(value)[:40]!r}") from None


@dataclass(frozen=True, slots=True)
class ScreeningRow:
    id: int
    reference: str
    consumer: str
    profile: str
    skn: str
    query_date: date
    answered_at: float
    cases: tuple[str, ...]
    freshness: int
    purpose: str
    legal_ground: str
    requester_role: str


@dataclass(frozen=True, slots=True)
class ReadRecord:
    at: float
    activity: str
    organisation: str
    role: str
    actor: str
    purpose: str
    legal_ground: str
    subject: str
    detail: str


class RegistryMismatch(ValueError):
    """A registry file that cannot serve this store: unreadable, another store's, or new while
    the store's registrations were applied by another file (decision 0014)."""


class RegistryDb:
    """One SQLite file in WAL mode; one writer at a time (a lock), transactions explicit."""

    def __init__(self, path: str, *, synchronous: str = "FULL") -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        self.path = path
        if path != ":memory:":
            if Path(path).is_dir():
                raise RegistryMismatch(f"registry {path}: is a directory; give its file")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            # Another program's database is refused before anything (WAL mode included) is
            # written to it.
            tables = {
                r[0]
                for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            if tables and "registrations" not in tables:
                self._conn.close()
                shown = ", ".join(sorted(tables)[:5])
                raise RegistryMismatch(
                    f"registry {path}: not a registry database (it holds other tables: {shown}); "
                    "it is left as it was"
                )
            if not tables:
                # A new file: pages of 16 KiB. A catch-up transaction dirties pages all over
                # the key indexes, and fewer, larger pages cost SQLite less to find, change
                # and log (measured in bench/registry.py). An existing file keeps its size.
                self._conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            self._conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            raise RegistryMismatch(f"registry {path}: not a registry database ({exc})") from None
        self._conn.execute(f"PRAGMA synchronous={synchronous}")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.execute("PRAGMA cache_size=-262144")  # 256 MiB: the key indexes stay hot
        # A catch-up transaction touches pages all over the key indexes (ids and business keys
        # are random); checkpointing less often copies a page rewritten by several of them
        # once: a WAL of about WAL_BYTES, whatever the file's page size.
        page = int(self._conn.execute("PRAGMA page_size").fetchone()[0])
        self._conn.execute(f"PRAGMA wal_autocheckpoint={max(1, WAL_BYTES // page)}")
        # Used by migration 0006 to key the rows applied before it.
        self._conn.create_function("registry_key", 2, message_key, deterministic=True)
        self._conn.create_function("registry_unhex", 1, _unhex, deterministic=True)
        self._lock = threading.RLock()
        self._migrate()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def bound_store(self) -> str | None:
        """The store this registry file belongs to (decision 0014), None while unbound."""
        with self.tx() as cur:
            row = cur.execute("SELECT value FROM registry_meta WHERE key = 'store_id'").fetchone()
        return None if row is None else str(row[0])

    def is_empty(self) -> bool:
        """Nothing applied yet: a new registry file."""
        with self.tx() as cur:
            return cur.execute("SELECT 1 FROM applied LIMIT 1").fetchone() is None

    def bind(self, store_id: str) -> None:
        with self.tx() as cur:
            cur.execute(
                "INSERT INTO registry_meta (key, value) VALUES ('store_id', ?) "
                "ON CONFLICT (key) DO NOTHING",
                (store_id,),
            )

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Cursor]:
        """A write transaction: committed on leaving, rolled back on an exception."""
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

    def _migrate(self) -> None:
        """Bring the file to the current schema, all migrations in one transaction: a file
        a migration cannot take (not a registry, damaged, or changed by hand) is refused as it
        was, with the migration named."""
        name = "the migrations table"
        try:
            with self.tx() as cur:
                cur.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY)"
                )
                done = {r[0] for r in cur.execute("SELECT version FROM schema_migrations")}
                folder = resources.files("ketenherstel.registry") / "migrations"
                for item in sorted(folder.iterdir(), key=lambda f: f.name):
                    if not item.name.endswith(".sql") or item.name in done:
                        continue
                    name = f"migration {item.name}"
                    text = item.read_text(encoding="utf-8")
                    code = "\n".join(line.split("--")[0] for line in text.splitlines())
                    for statement in code.split(";"):
                        if statement.strip():
                            cur.execute(statement)
                    cur.execute("INSERT INTO schema_migrations (version) VALUES (?)", (item.name,))
        except sqlite3.Error as exc:
            self._conn.close()
            raise RegistryMismatch(
                f"registry {self.path}: {name} cannot bring this file up to date ({exc}); it is "
                "left as it was. Is it a registry file, and unchanged by hand? Restore it from a "
                "backup, or move it away to start a new registry"
            ) from None

    # -- catch-up ----------------------------------------------------------------------

    def applied(
        self, cur: sqlite3.Cursor, keys: Mapping[tuple[str, str], bytes]
    ) -> set[tuple[str, str]]:
        """Which of these (source, id) the registry has seen already; ``keys`` gives each its
        `message_key` (the caller keeps them for the rows it writes)."""
        return {(s, i) for s, i, _ in self._by_key(cur, keys, "")}

    def _by_key(
        self, cur: sqlite3.Cursor, keys: Mapping[tuple[str, str], bytes], where: str
    ) -> Iterator[tuple[str, str, int | None]]:
        """(source, id, registration) of the rows of ``applied`` for these (source, id), found
        through their key; a row is only the message's when its source and id are its own."""
        for chunk in _chunked(list(keys.values())):
            for source, ident, registration in cur.execute(
                f"SELECT source, id, registration FROM applied WHERE key IN "
                f"({_marks(len(chunk))}){where}",
                chunk,
            ):
                if (source, ident) in keys:
                    yield str(source), str(ident), registration

    def by_bkeys(
        self, cur: sqlite3.Cursor, bkeys: Sequence[bytes]
    ) -> dict[bytes, tuple[bytes, int]]:
        """Per business key: (fact hash, registration) of the latest applied registration."""
        found: dict[bytes, tuple[bytes, int]] = {}
        for chunk in _chunked(bkeys):
            for bkey, fact, registration in cur.execute(
                "SELECT bkey, fact_hash, registration FROM applied WHERE outcome = 'applied' "
                f"AND bkey IN ({_marks(len(chunk))}) ORDER BY registration",
                chunk,
            ):
                found[bytes(bkey)] = (bytes(fact), int(registration))
        return found

    def registrations_of(
        self, cur: sqlite3.Cursor, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        """The registration each of these (source, id) messages made, where it made one."""
        keyed = {(source, ident): message_key(source, ident) for source, ident in keys}
        rows = self._by_key(cur, keyed, " AND registration IS NOT NULL AND outcome = 'applied'")
        return {(s, i): int(r) for s, i, r in rows if r is not None}

    def aliases(self, cur: sqlite3.Cursor, skns: Sequence[str]) -> dict[tuple[str, str], str]:
        found: dict[tuple[str, str], str] = {}
        for chunk in _chunked(skns):
            for skn, alias, case_key in cur.execute(
                "SELECT skn, alias, case_key FROM case_aliases "
                f"WHERE skn IN ({_marks(len(chunk))})",
                chunk,
            ):
                found[(str(skn), str(alias))] = str(case_key)
        return found

    def registration_cases(
        self, cur: sqlite3.Cursor, ids: Sequence[int]
    ) -> dict[int, tuple[str, str]]:
        found: dict[int, tuple[str, str]] = {}
        for chunk in _chunked(ids):
            for ident, skn, case_key in cur.execute(
                f"SELECT id, skn, case_key FROM registrations WHERE id IN ({_marks(len(chunk))})",
                chunk,
            ):
                found[int(ident)] = (str(skn), str(case_key))
        return found

    def next_registration_id(self, cur: sqlite3.Cursor) -> int:
        """Ids are taken by the one writer (BEGIN IMMEDIATE) for its whole batch."""
        return int(cur.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM registrations").fetchone()[0])

    def last_applied(self) -> int:
        """A number that grows whenever this registry applies anything, by any process (0 for
        never): the last row of the applied counts, found by its rowid, not by a scan."""
        with self.tx() as cur:
            row = cur.execute("SELECT COALESCE(MAX(rowid), 0) FROM applied_counts").fetchone()
        return int(row[0])

    def decision_changes(self, reference: str) -> list[tuple[str, str, float, str]]:
        """The decisions on a screening that later ones replaced: (decision, decided date,
        recorded at, who), oldest first."""
        with self.tx() as cur:
            return [
                (str(r[0]), str(r[1]), float(r[2]), str(r[3]))
                for r in cur.execute(
                    "SELECT c.decision, c.decided_date, c.recorded_at, c.actor "
                    "FROM decision_changes c JOIN screenings s ON s.id = c.screening_id "
                    "WHERE s.reference = ? ORDER BY c.rowid",
                    (reference,),
                )
            ]

    def record_decisions(
        self, cur: sqlite3.Cursor, decisions: Sequence[tuple[str, str, str, str]], now: float
    ) -> None:
        """Consumers' decisions (reference, decision, decided date, who) beside their answers;
        a decision on a screening the registry never answered, or that another consumer asked
        for, is not kept."""
        # A decision that replaces another keeps the one it replaces.
        cur.executemany(
            "INSERT INTO decision_changes (screening_id, decision, decided_date, recorded_at, "
            "actor, replaced_at) SELECT d.screening_id, d.decision, d.decided_date, "
            "d.recorded_at, d.actor, ? FROM decisions d JOIN screenings s ON s.id = "
            "d.screening_id WHERE s.reference = ? AND s.consumer = ? "
            "AND (d.decision <> ? OR d.decided_date <> ?)",
            [(now, ref, who, dec, day) for ref, dec, day, who in decisions],
        )
        cur.executemany(
            "INSERT INTO decisions (screening_id, decision, decided_date, recorded_at, actor) "
            "SELECT id, ?, ?, ?, ? FROM screenings WHERE reference = ? AND consumer = ? "
            "ON CONFLICT (screening_id) DO UPDATE SET decision = excluded.decision, "
            "decided_date = excluded.decided_date, recorded_at = excluded.recorded_at, "
            "actor = excluded.actor WHERE decisions.decision <> excluded.decision "
            "OR decisions.decided_date <> excluded.decided_date",  # a repeat changes nothing
            [(dec, day, now, who, ref, who) for ref, dec, day, who in decisions],
        )

    def write_batch(
        self,
        cur: sqlite3.Cursor,
        *,
        registrations: Sequence[tuple[Any, ...]],
        applied: Sequence[tuple[Any, ...]],
        replaced: Sequence[tuple[float, int, int]],
        aliases: Sequence[tuple[str, str, str]],
        notifications: Sequence[tuple[Any, ...]] = (),
    ) -> None:
        cur.executemany(
            "INSERT INTO registrations (id, skn, case_key, sender, source, msg_id, sequence, "
            "type, state, categories, fact_date, event_at, known_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            registrations,
        )
        cur.executemany(
            "INSERT INTO applied (key, source, id, type, bkey, fact_hash, outcome, registration, "
            "applied_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            applied,
        )
        counts = Counter((row[1], row[8]) for row in applied)
        cur.executemany(
            "INSERT INTO applied_counts (source, applied_at, n) VALUES (?, ?, ?) "
            "ON CONFLICT (source, applied_at) DO UPDATE SET n = n + excluded.n",
            [(source, at, n) for (source, at), n in counts.items()],
        )
        cur.executemany(
            "UPDATE registrations SET replaced_at = ?, replaced_by = ? "
            "WHERE id = ? AND replaced_at IS NULL",
            replaced,
        )
        cur.executemany(
            "INSERT INTO case_aliases (skn, alias, case_key) VALUES (?, ?, ?) "
            "ON CONFLICT (skn, alias) DO NOTHING",
            aliases,
        )
        cur.executemany(
            "INSERT INTO ecris_notifications (notification_id, registration, skn, case_key, "
            "member_state, conviction_date, due_date, known_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            notifications,
        )

    # -- reading -----------------------------------------------------------------------

    def person_rows(self, cur: sqlite3.Cursor, skn: str) -> list[KnownRegistration]:
        return [
            _known(r)
            for r in cur.execute(
                "SELECT id, case_key, state, categories, fact_date, known_at, replaced_at "
                "FROM registrations WHERE skn = ? ORDER BY id",
                (skn,),
            )
        ]

    def people_rows(
        self, cur: sqlite3.Cursor, skns: Sequence[str]
    ) -> dict[str, list[KnownRegistration]]:
        out: dict[str, list[KnownRegistration]] = {s: [] for s in skns}
        for i in range(0, len(skns), _CHUNK):
            chunk = skns[i : i + _CHUNK]
            for r in cur.execute(
                "SELECT id, case_key, state, categories, fact_date, known_at, replaced_at, skn "
                f"FROM registrations WHERE skn IN ({','.join('?' * len(chunk))}) ORDER BY id",
                chunk,
            ):
                out[r[7]].append(_known(r))
        return out

    def applied_rows(self, *, after: int, limit: int) -> list[tuple[object, ...]]:
        """One page of what the registry applied, for reconciliation: (rowid, source, id, type,
        applied_at). Every delivery it processed is here, registrations or not."""
        with self.tx() as cur:
            return [
                tuple(r)
                for r in cur.execute(
                    "SELECT rowid, source, id, type, applied_at FROM applied WHERE rowid > ? "
                    "ORDER BY rowid LIMIT ?",
                    (after, limit),
                ).fetchall()
            ]

    def freshness_history(self) -> list[tuple[float, str]]:
        """Each local day's last freshness the registry gave in an answer: (as-of, JSON body),
        in time order (the day taken in UTC+1, close enough for a daily series)."""
        with self.tx() as cur:
            rows = cur.execute(
                "SELECT as_of, body FROM freshness_snapshots WHERE id IN "
                "(SELECT MAX(id) FROM freshness_snapshots "
                "GROUP BY CAST((as_of + 3600) / 86400 AS INTEGER)) ORDER BY as_of"
            ).fetchall()
        return [(float(a), str(b)) for a, b in rows]

    def freshness_at(self, at: float) -> tuple[int, float, str] | None:
        """The last freshness the registry gave in an answer at or before ``at``: (snapshot
        id, its as-of, its JSON body), or None when it had answered nothing by then."""
        with self.tx() as cur:
            row = cur.execute(
                "SELECT id, as_of, body FROM freshness_snapshots WHERE as_of <= ? "
                "ORDER BY as_of DESC, id DESC LIMIT 1",
                (at,),
            ).fetchone()
        return None if row is None else (int(row[0]), float(row[1]), str(row[2]))

    def counts(self) -> dict[str, int]:
        with self.tx() as cur:
            row = cur.execute(
                "SELECT (SELECT COUNT(*) FROM registrations), "
                "(SELECT COUNT(*) FROM registrations WHERE replaced_at IS NOT NULL), "
                "(SELECT COUNT(*) FROM applied), "
                "(SELECT COUNT(*) FROM applied WHERE outcome = 'same-fact'), "
                "(SELECT COUNT(DISTINCT skn) FROM registrations), "
                "(SELECT COUNT(*) FROM screenings)"
            ).fetchone()
        names = ("registrations", "replaced", "messages", "same_fact", "persons", "screenings")
        return {name: int(v) for name, v in zip(names, row, strict=True)}

    # -- audit -------------------------------------------------------------------------

    def log_read(self, cur: sqlite3.Cursor, record: ReadRecord) -> None:
        self.log_reads(cur, [record])

    def log_reads(self, cur: sqlite3.Cursor, records: Sequence[ReadRecord]) -> None:
        cur.executemany(
            "INSERT INTO reads (at, activity, organisation, role, actor, purpose, legal_ground, "
            "subject, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.at,
                    r.activity,
                    r.organisation,
                    r.role,
                    r.actor,
                    r.purpose,
                    r.legal_ground,
                    r.subject,
                    r.detail,
                )
                for r in records
            ],
        )

    def answered(self, cur: sqlite3.Cursor, references: Sequence[str]) -> list[str]:
        """Which of these screening references have an answer already."""
        found: list[str] = []
        for i in range(0, len(references), _CHUNK):
            chunk = references[i : i + _CHUNK]
            found += [
                str(r[0])
                for r in cur.execute(
                    f"SELECT reference FROM screenings WHERE reference IN "
                    f"({','.join('?' * len(chunk))}) ORDER BY reference",
                    chunk,
                )
            ]
        return found

    def answers(
        self, cur: sqlite3.Cursor, references: Sequence[str]
    ) -> dict[str, tuple[str, float]]:
        """The consumer and the moment of the answer of each of these screenings answered."""
        found: dict[str, tuple[str, float]] = {}
        for chunk in _chunked(references):
            for r in cur.execute(
                "SELECT reference, consumer, answered_at FROM screenings "
                f"WHERE reference IN ({_marks(len(chunk))})",
                chunk,
            ):
                found[str(r[0])] = (str(r[1]), float(r[2]))
        return found

    def reads_of(
        self,
        subject: str,
        limit: int,
        *,
        since: float | None = None,
        before: float | None = None,
        activity: str | None = None,
    ) -> list[ReadRecord]:
        """The newest ``limit`` reads of ``subject``, read at or after ``since`` and before
        ``before``, of one ``activity`` (each None: any)."""
        where, args = ["subject = ?"], list[object]([subject])
        for clause, value in (("at >= ?", since), ("at < ?", before), ("activity = ?", activity)):
            if value is not None:
                where.append(clause)
                args.append(value)
        with self.tx() as cur:
            return [
                ReadRecord(*r)
                for r in cur.execute(
                    "SELECT at, activity, organisation, role, actor, purpose, legal_ground, "
                    f"subject, detail FROM reads WHERE {' AND '.join(where)} "
                    "ORDER BY id DESC LIMIT ?",
                    (*args, limit),
                )
            ]


def _known(r: Sequence[object]) -> KnownRegistration:
    categories = str(r[3])
    state: CaseState = r[2]  # type: ignore[assignment]
    return KnownRegistration(
        id=int(r[0]),  # type: ignore[call-overload]
        case_key=str(r[1]),
        state=state,
        categories=tuple(categories.split(",")) if categories else (),
        fact_date=date.fromisoformat(str(r[4])),
        known_at=float(r[5]),  # type: ignore[arg-type]
        replaced_at=None if r[6] is None else float(r[6]),  # type: ignore[arg-type]
    )


def open_registry_db(url: str, *, synchronous: str = "FULL") -> RegistryDb:
    """``sqlite:///path`` or a plain path; ``ValueError`` for anything else."""
    if url.startswith("postgres"):
        raise ValueError("the registry keeps its own SQLite file; PostgreSQL is not supported yet")
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    if not path or "://" in path:
        raise ValueError(f"a registry database is sqlite:///PATH or a path, not {url!r}")
    return RegistryDb(path, synchronous=synchronous)
