"""The base of the SQL store: adapter hooks, transactions, migrations and small helpers.

Statements are written with `?` placeholders; the PostgreSQL adapter rewrites them to `%s`.
Each public method is one transaction. `accept` takes several submissions at once (group
commit) and isolates each one in a savepoint, so one rejected submission never touches another.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any

from ketenherstel.store.rules import Rule, RuleSet

Cursor = Any
_CHUNK = 400
# A delivery is pending (ready or leased) while `settled = 0`; acked and dead ones have
# `settled = 1` (migration 0010, decision 0017). The per-case and per-channel indexes are
# partial on `settled`, not on `state`, so that a lease (ready -> leased) leaves them alone.
# Every statement that moves `state` into or out of acked and dead sets `settled` with it.


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


class SqlBase(abc.ABC):
    """Connections, transactions, placeholders and id allocation: what every part shares."""

    dialect: str = ""
    for_update: str = ""  # row lock that waits
    skip_locked: str = ""  # row lock that skips rows another transaction holds

    def __init__(self) -> None:
        self._lock = threading.RLock()

    # -- what an adapter provides ---------------------------------------------------------

    @abc.abstractmethod
    def _begin(self) -> Cursor: ...

    @abc.abstractmethod
    def _commit(self, cur: Cursor) -> None: ...

    @abc.abstractmethod
    def _rollback(self, cur: Cursor) -> None: ...

    @abc.abstractmethod
    def _allocate(self, cur: Cursor, table: str, n: int) -> list[int]:
        """Reserve n new ids in `table`, ascending."""

    @abc.abstractmethod
    def _is_unique_violation(self, exc: BaseException) -> bool: ...

    @abc.abstractmethod
    def _sql(self, statement: str) -> str: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def _lock_partitions(self, cur: Cursor, pairs: Sequence[tuple[str, str]]) -> None:
        """Serialise work on these (receiver, partitionkey) pairs across concurrent writers."""

    def _lock_channels(self, cur: Cursor, *, exclusive: bool) -> None:  # noqa: B027
        """Order rule changes against submissions (a no-op where there is one writer)."""

    def _match_manual(  # noqa: B027 - the manual-records mixin overrides it
        self, cur: Cursor, rows: Sequence[tuple[int, str, str, str]], now: float
    ) -> None:
        """Match new messages (position, bkey, sender, type) to manual (paper) records."""

    def _ruleset(self, cur: Cursor) -> RuleSet:
        rules = tuple(
            Rule(r[0], r[1], r[2], r[3] == "held", r[4])
            for r in self._x(
                cur, "SELECT receiver, sender, scope, state, rate FROM channel_rules"
            ).fetchall()
        )
        isolated = frozenset(
            r[0]
            for r in self._x(
                cur, "SELECT partner FROM partner_states WHERE state = 'isolated'"
            ).fetchall()
        )
        return RuleSet(rules, isolated)

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[Cursor]:
        with self._lock:
            cur = self._begin()
            try:
                yield cur
            except BaseException:
                self._rollback(cur)
                raise
            self._commit(cur)

    def _x(self, cur: Cursor, statement: str, params: Sequence[Any] = ()) -> Cursor:
        cur.execute(self._sql(statement), params)
        return cur

    def _xm(self, cur: Cursor, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            cur.executemany(self._sql(statement), rows)

    def migrate(self) -> None:
        with self._tx() as cur:
            self._x(
                cur,
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL)",
            )
            done = {r[0] for r in self._x(cur, "SELECT version FROM schema_migrations")}
            folder = resources.files("ketenherstel.store") / "migrations" / self.dialect
            files = sorted(
                (p for p in folder.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name
            )
            for path in files:
                version = int(path.name.split("_", 1)[0])
                if version in done:
                    continue
                text = "\n".join(
                    line
                    for line in path.read_text(encoding="utf-8").splitlines()
                    if not line.lstrip().startswith("--")
                )
                for statement in text.split(";"):
                    if statement.strip():
                        cur.execute(statement)
                self._x(
                    cur,
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                    (version, path.name),
                )
