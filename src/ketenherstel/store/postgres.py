"""PostgreSQL adapter (psycopg 3): the server store; dequeue with FOR UPDATE SKIP LOCKED."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import errors

from ketenherstel.store.ports import LeasedDelivery, LeaseParams, StoreUnavailable
from ketenherstel.store.sql import Cursor, SqlStore

_CHANNEL_LOCK = 0x6B68_0001  # "kh" 1: the advisory lock of channel rules


class PostgresStore(SqlStore):
    """`dsn` is a libpq connection string, e.g. "postgresql://postgres@127.0.0.1:5432/test"."""

    dialect = "postgres"
    for_update = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, dsn: str, *, schema: str | None = None) -> None:
        super().__init__()
        self.dsn = dsn
        try:
            self._conn: psycopg.Connection[Any] = psycopg.connect(dsn, autocommit=True)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
        if schema is not None:
            self._conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            self._conn.execute(f'SET search_path TO "{schema}"')

    def _begin(self) -> Cursor:
        cur = self._conn.cursor()
        cur.execute("BEGIN")
        return cur

    def _commit(self, cur: Cursor) -> None:
        cur.execute("COMMIT")

    def _rollback(self, cur: Cursor) -> None:
        if not self._conn.closed:
            self._conn.execute("ROLLBACK")

    def _allocate(self, cur: Cursor, table: str, n: int) -> list[int]:
        seq = "messages_pos_seq" if table == "messages" else f"{table}_id_seq"
        cur.execute(f"SELECT nextval('{seq}') FROM generate_series(1, %s)", (n,))
        return sorted(int(r[0]) for r in cur.fetchall())

    def _lock_partitions(self, cur: Cursor, pairs: Sequence[tuple[str, str]]) -> None:
        if pairs:
            cur.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(r || chr(31) || k, 0)) "
                "FROM unnest(%s::text[], %s::text[]) AS p(r, k)",  # already sorted
                ([r for r, _ in pairs], [k for _, k in pairs]),
            )

    def _lock_channels(self, cur: Cursor, *, exclusive: bool) -> None:
        # Submissions share the lock; a change of rules or partner state takes it alone, so
        # every delivery row is stored with the held flag of the rules in force at its commit.
        fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        cur.execute(f"SELECT {fn}(%s)", (_CHANNEL_LOCK,))

    def lease(self, params: LeaseParams) -> list[LeasedDelivery]:
        """A lease may take per-case locks in two rounds (expired leases, then deliveries too
        old); two nodes doing that at once can deadlock, and PostgreSQL then aborts one. The
        lease was rolled back whole, so it is simply tried again."""
        for attempt in range(3):
            try:
                return super().lease(params)
            except errors.DeadlockDetected:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _pending_keys(self, cur: Cursor, receiver: str, keys: Sequence[str]) -> set[str]:
        # One index probe per key, whatever the planner's statistics say: an IN list was planned
        # as a scan of the receiver's whole backlog when the statistics were stale.
        cur.execute(
            "SELECT k FROM unnest(%s::text[]) AS k, LATERAL (SELECT 1 FROM deliveries d "
            "WHERE d.receiver = %s AND d.partitionkey = k AND d.settled = 0 "
            "LIMIT 1) AS hit",
            (list(keys), receiver),
        )
        return {r[0] for r in cur.fetchall()}

    def _pending_heads(self, cur: Cursor, receiver: str, keys: Sequence[str]) -> list[int]:
        # One index probe per key, as in _pending_keys.
        cur.execute(
            "SELECT h.id FROM unnest(%s::text[]) AS k, LATERAL (SELECT MIN(d.id) AS id "
            "FROM deliveries d WHERE d.receiver = %s AND d.partitionkey = k "
            "AND d.settled = 0) AS h WHERE h.id IS NOT NULL",
            (list(keys), receiver),
        )
        return [int(r[0]) for r in cur.fetchall()]

    def _pending_rows(
        self, cur: Cursor, receiver: str, keys: Sequence[str]
    ) -> list[tuple[str, int, int]]:
        # One index probe per key, as in _pending_keys.
        cur.execute(
            "SELECT k, x.id, x.blocked FROM unnest(%s::text[]) AS k, LATERAL (SELECT d.id, "
            "d.blocked FROM deliveries d WHERE d.receiver = %s AND d.partitionkey = k "
            "AND d.settled = 0) AS x",
            (list(keys), receiver),
        )
        return [(r[0], int(r[1]), int(r[2])) for r in cur.fetchall()]

    def _is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, errors.UniqueViolation)

    @functools.lru_cache(maxsize=512)  # noqa: B019 - statements are a small fixed set
    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
