"""The SQL shared by the SQLite and PostgreSQL adapters.

Statements are written with `?` placeholders; the PostgreSQL adapter rewrites them to `%s`.
Each public method is one transaction. `accept` takes several submissions at once (group
commit) and isolates each one in a savepoint, so one rejected submission never touches another.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any

from ketenherstel.store.ports import (
    ALL_SENDERS,
    AcceptOutcome,
    AcceptRequest,
    AckResult,
    AuditRecord,
    ChannelRecord,
    Conflict,
    CredentialRecord,
    DeliveryRecord,
    LeasedDelivery,
    LeaseParams,
    MessageOutcome,
    MessageRecord,
    NackResult,
    NewMessage,
    NotFound,
    PartnerRecord,
    QueueStats,
    SequenceState,
    TrailEntry,
)

Cursor = Any
_CHUNK = 400
_PENDING = "('ready', 'leased')"


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


class SqlStore(abc.ABC):
    """Everything but connections, placeholders and id allocation."""

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
                for statement in path.read_text(encoding="utf-8").split(";"):
                    if statement.strip():
                        cur.execute(statement)
                self._x(
                    cur,
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                    (version, path.name),
                )

    # -- partners, credentials, channels -----------------------------------------------

    def add_partner(self, *, key: str, name: str, oin: str, now: float) -> PartnerRecord:
        with self._tx() as cur:
            self._x(
                cur,
                "INSERT INTO partners (key, name, oin, webhook_url, created_at) "
                "VALUES (?, ?, ?, NULL, ?)",
                (key, name, oin, now),
            )
        return PartnerRecord(key, name, oin, None, now)

    def get_partner(self, key: str) -> PartnerRecord | None:
        with self._tx() as cur:
            row = self._x(
                cur,
                "SELECT key, name, oin, webhook_url, created_at FROM partners WHERE key = ?",
                (key,),
            ).fetchone()
        return PartnerRecord(*row) if row else None

    def list_partners(self) -> list[PartnerRecord]:
        with self._tx() as cur:
            rows = self._x(
                cur, "SELECT key, name, oin, webhook_url, created_at FROM partners ORDER BY key"
            ).fetchall()
        return [PartnerRecord(*r) for r in rows]

    def set_webhook(self, *, key: str, url: str | None) -> None:
        with self._tx() as cur:
            if (
                self._x(
                    cur, "UPDATE partners SET webhook_url = ? WHERE key = ?", (url, key)
                ).rowcount
                != 1
            ):
                raise NotFound(f"no partner {key!r}")

    _CRED_COLS = "id, principal, role, partner_key, token_hash, label, created_at, revoked_at"

    def add_credential(self, record: CredentialRecord) -> None:
        with self._tx() as cur:
            self._x(
                cur,
                f"INSERT INTO credentials ({self._CRED_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.principal,
                    record.role,
                    record.partner_key,
                    record.token_hash,
                    record.label,
                    record.created_at,
                    record.revoked_at,
                ),
            )

    def credential_by_hash(self, token_hash: str) -> CredentialRecord | None:
        with self._tx() as cur:
            row = self._x(
                cur,
                f"SELECT {self._CRED_COLS} FROM credentials WHERE token_hash = ?",
                (token_hash,),
            ).fetchone()
        return CredentialRecord(*row) if row else None

    def list_credentials(self, principal: str | None = None) -> list[CredentialRecord]:
        with self._tx() as cur:
            if principal is None:
                rows = self._x(
                    cur, f"SELECT {self._CRED_COLS} FROM credentials ORDER BY created_at"
                ).fetchall()
            else:
                rows = self._x(
                    cur,
                    f"SELECT {self._CRED_COLS} FROM credentials WHERE principal = ? "
                    "ORDER BY created_at",
                    (principal,),
                ).fetchall()
        return [CredentialRecord(*r) for r in rows]

    def revoke_credential(self, *, credential_id: str, now: float) -> CredentialRecord:
        with self._tx() as cur:
            self._x(
                cur,
                "UPDATE credentials SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (now, credential_id),
            )
            row = self._x(
                cur,
                f"SELECT {self._CRED_COLS} FROM credentials WHERE id = ?",
                (credential_id,),
            ).fetchone()
        if row is None:
            raise NotFound(f"no credential {credential_id!r}")
        return CredentialRecord(*row)

    def set_channel(self, record: ChannelRecord) -> None:
        with self._tx() as cur:
            self._x(
                cur,
                "INSERT INTO channels (receiver, sender, state, reason, changed_at, changed_by) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (receiver, sender) DO UPDATE SET "
                "state = excluded.state, reason = excluded.reason, "
                "changed_at = excluded.changed_at, changed_by = excluded.changed_by",
                (
                    record.receiver,
                    record.sender,
                    record.state,
                    record.reason,
                    record.changed_at,
                    record.changed_by,
                ),
            )

    def list_channels(self, receiver: str | None = None) -> list[ChannelRecord]:
        cols = "receiver, sender, state, reason, changed_at, changed_by"
        with self._tx() as cur:
            if receiver is None:
                rows = self._x(
                    cur, f"SELECT {cols} FROM channels ORDER BY receiver, sender"
                ).fetchall()
            else:
                rows = self._x(
                    cur,
                    f"SELECT {cols} FROM channels WHERE receiver = ? ORDER BY sender",
                    (receiver,),
                ).fetchall()
        return [ChannelRecord(*r) for r in rows]

    # -- accepting ----------------------------------------------------------------------

    def accept(self, requests: Sequence[AcceptRequest], *, now: float) -> list[AcceptOutcome]:
        results: list[AcceptOutcome] = []
        with self._tx() as cur:
            for request in requests:
                self._x(cur, "SAVEPOINT submission")
                try:
                    outcome = self._accept_one(cur, request, now, optimistic=True)
                except Exception as exc:
                    if not self._is_unique_violation(exc):
                        raise
                    self._x(cur, "ROLLBACK TO SAVEPOINT submission")
                    outcome = self._accept_one(cur, request, now, optimistic=False)
                if outcome.rejected:
                    self._x(cur, "ROLLBACK TO SAVEPOINT submission")
                self._x(cur, "RELEASE SAVEPOINT submission")
                results.append(outcome)
        return results

    def _stored(
        self, cur: Cursor, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[str, int]]:
        found: dict[tuple[str, str], tuple[str, int]] = {}
        by_source: dict[str, list[str]] = {}
        for source, ident in keys:
            by_source.setdefault(source, []).append(ident)
        for source, ids in by_source.items():
            for chunk in _chunks(ids):
                rows = self._x(
                    cur,
                    "SELECT id, content_hash, pos FROM messages "
                    f"WHERE source = ? AND id IN ({_marks(len(chunk))})",
                    (source, *chunk),
                ).fetchall()
                for ident, digest, pos in rows:
                    found[(source, ident)] = (digest, pos)
        return found

    def _accept_one(
        self, cur: Cursor, request: AcceptRequest, now: float, *, optimistic: bool
    ) -> AcceptOutcome:
        messages = request.messages
        # Duplicates: within the submission, and (on the slow path) against the store.
        seen: dict[tuple[str, str], tuple[str, int]] = {}
        stored = {} if optimistic else self._stored(cur, [(m.source, m.id) for m in messages])
        conflicts: list[Conflict] = []
        fresh: list[tuple[int, NewMessage]] = []
        plan: list[tuple[str, int]] = []  # ("new", index into fresh) or ("dup", position)
        for index, msg in enumerate(messages):
            key = (msg.source, msg.id)
            prior = stored.get(key) or seen.get(key)
            if prior is not None:
                if prior[0] != msg.content_hash:
                    conflicts.append(
                        Conflict(index, msg.source, msg.id, prior[0], msg.content_hash)
                    )
                plan.append(("dup", prior[1]))
                continue
            seen[key] = (msg.content_hash, -1 - len(fresh))
            plan.append(("new", len(fresh)))
            fresh.append((index, msg))
        if conflicts:
            return AcceptOutcome(conflicts=tuple(conflicts))

        # Lock the cases first, then take ids: on PostgreSQL a concurrent writer on the same case
        # then gets higher ids, so the lowest pending id of a case is always its head.
        self._lock_partitions(
            cur,
            sorted({(r, m.partitionkey) for _, m in fresh for r in m.receivers if m.partitionkey}),
        )
        positions = self._allocate(cur, "messages", len(fresh)) if fresh else []
        n_deliveries = sum(len(m.receivers) for _, m in fresh)
        delivery_ids = iter(self._allocate(cur, "deliveries", n_deliveries) if n_deliveries else [])
        message_rows = []
        delivery_rows = []
        for offset, (_, m) in enumerate(fresh):
            pos = positions[offset]
            message_rows.append(
                (
                    pos,
                    m.source,
                    m.id,
                    m.sender,
                    m.type,
                    m.subject,
                    m.partitionkey,
                    m.sequence,
                    m.time,
                    m.content_hash,
                    m.body,
                    now,
                )
            )
            for receiver in m.receivers:
                delivery_rows.append(
                    (next(delivery_ids), pos, receiver, m.sender, m.partitionkey, now, now, now)
                )
        self._xm(
            cur,
            "INSERT INTO messages (pos, source, id, sender, type, subject, partitionkey, "
            "sequence, time, content_hash, body, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            message_rows,
        )
        delivery_rows = self._mark_blocked(cur, delivery_rows)
        self._xm(
            cur,
            "INSERT INTO deliveries (id, pos, receiver, sender, partitionkey, state, attempts, "
            "lease_until, not_before, last_error, created_at, updated_at, blocked) "
            "VALUES (?, ?, ?, ?, ?, 'ready', 0, NULL, ?, NULL, ?, ?, ?)",
            delivery_rows,
        )
        gaps = self._track_sequences(cur, [m for _, m in fresh])

        outcomes = []
        for kind, value in plan:
            if kind == "new":
                m = fresh[value][1]
                outcomes.append(MessageOutcome("accepted", positions[value], len(m.receivers)))
            elif value < 0:  # duplicate of an earlier event in this same submission
                outcomes.append(MessageOutcome("duplicate", positions[-1 - value], 0))
            else:
                outcomes.append(MessageOutcome("duplicate", value, 0))
        return AcceptOutcome(outcomes=tuple(outcomes), gaps=gaps)

    def _mark_blocked(self, cur: Cursor, rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Append `blocked` to each new delivery row: 1 when an earlier delivery of its
        (receiver, partitionkey) is still pending, in the store or earlier in these rows."""
        pairs = sorted({(r[2], r[4]) for r in rows if r[4] is not None})  # locked by the caller
        pending: set[tuple[str, str]] = set()
        by_receiver: dict[str, list[str]] = {}
        for receiver, key in pairs:
            by_receiver.setdefault(receiver, []).append(key)
        for receiver, keys in by_receiver.items():
            for chunk in _chunks(keys):
                pending.update((receiver, key) for key in self._pending_keys(cur, receiver, chunk))
        out = []
        for row in rows:
            pair = (row[2], row[4])
            if row[4] is None:
                out.append((*row, 0))
            elif pair in pending:
                out.append((*row, 1))
            else:
                pending.add(pair)
                out.append((*row, 0))
        return out

    def _pending_keys(self, cur: Cursor, receiver: str, keys: Sequence[str]) -> set[str]:
        """Which of these partition keys have a pending delivery for the receiver."""
        rows = self._x(
            cur,
            "SELECT DISTINCT partitionkey FROM deliveries WHERE receiver = ? "
            f"AND state IN {_PENDING} AND partitionkey IN ({_marks(len(keys))})",
            (receiver, *keys),
        ).fetchall()
        return {r[0] for r in rows}

    def _rehead(self, cur: Cursor, delivery_ids: Sequence[int]) -> None:
        """After these deliveries left or re-entered the pending set: in each of their
        partitions, unblock the lowest pending delivery and block the rest."""
        pairs: set[tuple[str, str]] = set()
        for chunk in _chunks(delivery_ids):
            pairs.update(
                (r, k)
                for r, k in self._x(
                    cur,
                    "SELECT receiver, partitionkey FROM deliveries "
                    f"WHERE id IN ({_marks(len(chunk))}) AND partitionkey IS NOT NULL",
                    chunk,
                ).fetchall()
            )
        ordered = sorted(pairs)
        self._lock_partitions(cur, ordered)
        self._xm(
            cur,
            "UPDATE deliveries SET blocked = CASE WHEN id = (SELECT MIN(h.id) FROM deliveries h "
            f"WHERE h.receiver = ? AND h.partitionkey = ? AND h.state IN {_PENDING}) "
            "THEN 0 ELSE 1 END "
            f"WHERE receiver = ? AND partitionkey = ? AND state IN {_PENDING}",
            [(r, k, r, k) for r, k in ordered],
        )

    def _track_sequences(
        self, cur: Cursor, messages: Sequence[NewMessage]
    ) -> dict[str, tuple[tuple[int, int], ...]]:
        """Advance each source's sequence state and return the gaps of sources that have any.

        Per source the store keeps the highest number seen and the missing ranges below it, so
        the work per submission follows its own events and the number of gaps, never the
        source's history.
        """
        by_source: dict[str, set[int]] = {}
        for m in messages:
            if m.sequence is not None:
                by_source.setdefault(m.source, set()).add(m.sequence)
        gaps: dict[str, tuple[tuple[int, int], ...]] = {}
        for source, new in by_source.items():
            self._x(
                cur,
                "INSERT INTO sequences (source, contiguous, max_seen) VALUES (?, 0, 0) "
                "ON CONFLICT (source) DO NOTHING",
                (source,),
            )
            contiguous, max_seen = self._x(
                cur,
                f"SELECT contiguous, max_seen FROM sequences WHERE source = ?{self.for_update}",
                (source,),
            ).fetchone()
            had_gaps = contiguous < max_seen
            known = self._gaps(cur, source) if had_gaps else []
            fills = sorted(s for s in new if s <= max_seen)
            if fills and known:
                known = _fill(known, fills)
            added: list[tuple[int, int]] = []
            for s in sorted(s for s in new if s > max_seen):
                if s > max_seen + 1:
                    added.append((max_seen + 1, s - 1))
                max_seen = s
            if had_gaps:
                self._x(cur, "DELETE FROM sequence_gaps WHERE source = ?", (source,))
            current = known + added
            self._xm(
                cur,
                "INSERT INTO sequence_gaps (source, gap_first, gap_last) VALUES (?, ?, ?)",
                [(source, a, b) for a, b in current],
            )
            contiguous = current[0][0] - 1 if current else max_seen
            self._x(
                cur,
                "UPDATE sequences SET contiguous = ?, max_seen = ? WHERE source = ?",
                (contiguous, max_seen, source),
            )
            if current:
                gaps[source] = tuple(current)
        return gaps

    def _gaps(self, cur: Cursor, source: str) -> list[tuple[int, int]]:
        rows = self._x(
            cur,
            "SELECT gap_first, gap_last FROM sequence_gaps WHERE source = ? ORDER BY gap_first",
            (source,),
        ).fetchall()
        return [(int(a), int(b)) for a, b in rows]

    def sequence_state(self, source: str) -> SequenceState | None:
        with self._tx() as cur:
            row = self._x(
                cur, "SELECT contiguous, max_seen FROM sequences WHERE source = ?", (source,)
            ).fetchone()
            if row is None:
                return None
            gaps = self._gaps(cur, source)
        return SequenceState(source, row[0], row[1], tuple(gaps))

    # -- delivering ---------------------------------------------------------------------

    def lease(self, params: LeaseParams) -> list[LeasedDelivery]:
        p = params
        if p.receiver_held or p.limit <= 0:
            return []
        with self._tx() as cur:
            self._expire_leases(cur, p)
            held = sorted(p.held_senders)
            not_held = f" AND d.sender NOT IN ({_marks(len(held))})" if held else ""
            rows = self._x(
                cur,
                "SELECT d.id, d.created_at FROM deliveries d "
                "WHERE d.receiver = ? AND d.state = 'ready' AND d.blocked = 0 "
                f"AND d.not_before <= ?{not_held} "
                f"ORDER BY d.id LIMIT ?{self.skip_locked}",
                (p.receiver, p.now, *held, p.limit),
            ).fetchall()
            too_old = [r[0] for r in rows if p.now - r[1] > p.max_age]
            chosen = [r[0] for r in rows if p.now - r[1] <= p.max_age]
            if too_old:
                self._dead_letter(cur, too_old, p.now, p.actor, "older than the maximum age")
            if not chosen:
                return []
            lease_until = p.now + p.visibility
            marks = _marks(len(chosen))
            self._x(
                cur,
                "UPDATE deliveries SET state = 'leased', attempts = attempts + 1, "
                f"lease_until = ?, updated_at = ? WHERE id IN ({marks})",
                (lease_until, p.now, *chosen),
            )
            got = self._x(
                cur,
                "SELECT d.id, d.pos, d.receiver, d.sender, m.source, m.id, m.type, "
                "d.partitionkey, d.attempts, d.lease_until, m.body FROM deliveries d "
                f"JOIN messages m ON m.pos = d.pos WHERE d.id IN ({marks}) ORDER BY d.id",
                chosen,
            ).fetchall()
            leased = [
                LeasedDelivery(
                    delivery_id=r[0],
                    position=r[1],
                    receiver=r[2],
                    sender=r[3],
                    source=r[4],
                    id=r[5],
                    type=r[6],
                    partitionkey=r[7],
                    attempts=r[8],
                    lease_until=r[9],
                    body=bytes(r[10]),
                )
                for r in got
            ]
            self._xm(
                cur,
                "INSERT INTO trail (pos, delivery_id, receiver, at, event, actor, detail) "
                "VALUES (?, ?, ?, ?, 'leased', ?, ?)",
                [
                    (d.position, d.delivery_id, d.receiver, p.now, p.actor, f"attempt {d.attempts}")
                    for d in leased
                ],
            )
            # A read of personal data: audited in the same transaction as the lease.
            self._x(
                cur,
                "INSERT INTO audit (at, actor, action, object, detail) VALUES (?, ?, ?, ?, ?)",
                (
                    p.now,
                    p.actor,
                    "deliveries-read",
                    p.receiver,
                    f"{len(leased)} deliveries: " + ",".join(str(d.delivery_id) for d in leased),
                ),
            )
        return leased

    def _expire_leases(self, cur: Cursor, p: LeaseParams) -> None:
        rows = self._x(
            cur,
            "SELECT id, attempts FROM deliveries "
            f"WHERE receiver = ? AND state = 'leased' AND lease_until <= ?{self.skip_locked}",
            (p.receiver, p.now),
        ).fetchall()
        if not rows:
            return
        spent = [r[0] for r in rows if r[1] >= p.max_attempts]
        retry = [r[0] for r in rows if r[1] < p.max_attempts]
        if spent:
            self._dead_letter(
                cur, spent, p.now, "exchange", f"lease expired after {p.max_attempts} attempts"
            )
        if retry:
            self._x(
                cur,
                "UPDATE deliveries SET state = 'ready', lease_until = NULL, updated_at = ? "
                f"WHERE id IN ({_marks(len(retry))})",
                (p.now, *retry),
            )
            self._trail(cur, retry, p.now, "lease-expired", "exchange", "not acked in time")

    def _trail(
        self,
        cur: Cursor,
        delivery_ids: Sequence[int],
        now: float,
        event: str,
        actor: str,
        detail: str,
    ) -> None:
        for chunk in _chunks(delivery_ids):
            self._x(
                cur,
                "INSERT INTO trail (pos, delivery_id, receiver, at, event, actor, detail) "
                "SELECT pos, id, receiver, ?, ?, ?, ? FROM deliveries "
                f"WHERE id IN ({_marks(len(chunk))})",
                (now, event, actor, detail, *chunk),
            )

    def _dead_letter(
        self, cur: Cursor, delivery_ids: Sequence[int], now: float, actor: str, reason: str
    ) -> None:
        for chunk in _chunks(delivery_ids):
            self._x(
                cur,
                "UPDATE deliveries SET state = 'dead', lease_until = NULL, last_error = ?, "
                f"updated_at = ? WHERE id IN ({_marks(len(chunk))})",
                (reason, now, *chunk),
            )
        self._trail(cur, delivery_ids, now, "dead-lettered", actor, reason)
        self._rehead(cur, delivery_ids)

    def ack(
        self, *, receiver: str, delivery_ids: Sequence[int], now: float, actor: str
    ) -> list[AckResult]:
        results: dict[int, AckResult] = {}
        with self._tx() as cur:
            states: dict[int, str] = {}
            for chunk in _chunks(list(dict.fromkeys(delivery_ids))):
                for ident, state in self._x(
                    cur,
                    "SELECT id, state FROM deliveries WHERE receiver = ? "
                    f"AND id IN ({_marks(len(chunk))}){self.for_update}",
                    (receiver, *chunk),
                ).fetchall():
                    states[ident] = state
            to_ack = [i for i, s in states.items() if s in ("ready", "leased")]
            for chunk in _chunks(to_ack):
                self._x(
                    cur,
                    "UPDATE deliveries SET state = 'acked', lease_until = NULL, updated_at = ? "
                    f"WHERE id IN ({_marks(len(chunk))})",
                    (now, *chunk),
                )
            self._trail(cur, to_ack, now, "acked", actor, "")
            self._rehead(cur, to_ack)
        for ident in delivery_ids:
            state = states.get(ident)
            if state is None:
                results[ident] = AckResult(ident, "not-found")
            elif state == "acked":
                results[ident] = AckResult(ident, "already-acked")
            elif state == "dead":
                results[ident] = AckResult(ident, "dead")
            else:
                results.setdefault(ident, AckResult(ident, "acked"))
        return [results[i] for i in delivery_ids]

    def nack(
        self,
        *,
        receiver: str,
        delivery_id: int,
        reason: str,
        now: float,
        delay: Callable[[int], float],
        max_attempts: int,
        actor: str,
    ) -> NackResult:
        with self._tx() as cur:
            row = self._x(
                cur,
                f"SELECT state, attempts FROM deliveries WHERE id = ? AND receiver = ?"
                f"{self.for_update}",
                (delivery_id, receiver),
            ).fetchone()
            if row is None:
                return NackResult(delivery_id, "not-found")
            state, attempts = row
            if state == "acked":
                return NackResult(delivery_id, "already-acked")
            if state == "dead":
                return NackResult(delivery_id, "already-dead")
            self._trail(cur, [delivery_id], now, "nacked", actor, reason)
            if attempts >= max_attempts:
                self._dead_letter(
                    cur, [delivery_id], now, "exchange", f"{attempts} attempts failed: {reason}"
                )
                return NackResult(delivery_id, "dead")
            retry_at = now + delay(attempts)
            self._x(
                cur,
                "UPDATE deliveries SET state = 'ready', lease_until = NULL, not_before = ?, "
                "last_error = ?, updated_at = ? WHERE id = ?",
                (retry_at, reason, now, delivery_id),
            )
        return NackResult(delivery_id, "retry", retry_at)

    _DELIVERY_COLS = (
        "id, pos, receiver, sender, state, attempts, lease_until, not_before, last_error, "
        "created_at, updated_at"
    )

    def dead_letters(self, *, receiver: str | None, limit: int) -> list[DeliveryRecord]:
        with self._tx() as cur:
            if receiver is None:
                rows = self._x(
                    cur,
                    f"SELECT {self._DELIVERY_COLS} FROM deliveries WHERE state = 'dead' "
                    "ORDER BY id LIMIT ?",
                    (limit,),
                ).fetchall()
            else:
                rows = self._x(
                    cur,
                    f"SELECT {self._DELIVERY_COLS} FROM deliveries WHERE receiver = ? "
                    "AND state = 'dead' ORDER BY id LIMIT ?",
                    (receiver, limit),
                ).fetchall()
        return [DeliveryRecord(*r) for r in rows]

    def resend(self, *, delivery_id: int, now: float, actor: str) -> DeliveryRecord:
        with self._tx() as cur:
            row = self._x(
                cur,
                f"SELECT state FROM deliveries WHERE id = ?{self.for_update}",
                (delivery_id,),
            ).fetchone()
            if row is None:
                raise NotFound(f"no delivery {delivery_id}")
            if row[0] != "dead":
                raise NotFound(f"delivery {delivery_id} is {row[0]}, not dead-lettered")
            self._x(
                cur,
                "UPDATE deliveries SET state = 'ready', attempts = 0, not_before = ?, "
                "lease_until = NULL, updated_at = ? WHERE id = ?",
                (now, now, delivery_id),
            )
            self._trail(cur, [delivery_id], now, "resent", actor, "re-sent with its original id")
            self._rehead(cur, [delivery_id])
            out = self._x(
                cur, f"SELECT {self._DELIVERY_COLS} FROM deliveries WHERE id = ?", (delivery_id,)
            ).fetchone()
        return DeliveryRecord(*out)

    # -- reading ------------------------------------------------------------------------

    def message(self, source: str, id: str) -> MessageRecord | None:
        with self._tx() as cur:
            row = self._x(
                cur,
                "SELECT pos, source, id, sender, type, subject, partitionkey, sequence, "
                "content_hash, received_at, body FROM messages WHERE source = ? AND id = ?",
                (source, id),
            ).fetchone()
        if row is None:
            return None
        return MessageRecord(
            position=row[0],
            source=row[1],
            id=row[2],
            sender=row[3],
            type=row[4],
            subject=row[5],
            partitionkey=row[6],
            sequence=row[7],
            content_hash=row[8],
            received_at=row[9],
            body=bytes(row[10]),
        )

    def deliveries_of(self, position: int) -> list[DeliveryRecord]:
        with self._tx() as cur:
            rows = self._x(
                cur,
                f"SELECT {self._DELIVERY_COLS} FROM deliveries WHERE pos = ? ORDER BY id",
                (position,),
            ).fetchall()
        return [DeliveryRecord(*r) for r in rows]

    def trail(self, position: int) -> list[TrailEntry]:
        with self._tx() as cur:
            msg = self._x(
                cur, "SELECT received_at, sender FROM messages WHERE pos = ?", (position,)
            ).fetchone()
            if msg is None:
                return []
            entries = [TrailEntry(msg[0], "accepted", None, None, msg[1], "")]
            for ident, receiver, created in self._x(
                cur,
                "SELECT id, receiver, created_at FROM deliveries WHERE pos = ? ORDER BY id",
                (position,),
            ).fetchall():
                entries.append(TrailEntry(created, "routed", ident, receiver, "exchange", ""))
            for row in self._x(
                cur,
                "SELECT at, event, delivery_id, receiver, actor, detail FROM trail "
                "WHERE pos = ? ORDER BY id",
                (position,),
            ).fetchall():
                entries.append(TrailEntry(*row))
        return entries

    def queue_stats(self) -> list[QueueStats]:
        with self._tx() as cur:
            rows = self._x(
                cur,
                "SELECT receiver, sender, "
                "SUM(CASE WHEN state = 'ready' THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN state = 'leased' THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN state = 'acked' THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END), "
                "MIN(CASE WHEN state IN ('ready', 'leased') THEN created_at END) "
                "FROM deliveries GROUP BY receiver, sender ORDER BY receiver, sender",
            ).fetchall()
        return [
            QueueStats(r[0], r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5]), r[6]) for r in rows
        ]

    def audit(self, record: AuditRecord) -> None:
        with self._tx() as cur:
            self._x(
                cur,
                "INSERT INTO audit (at, actor, action, object, detail) VALUES (?, ?, ?, ?, ?)",
                (record.at, record.actor, record.action, record.object, record.detail),
            )

    def audit_log(self, *, limit: int) -> list[AuditRecord]:
        with self._tx() as cur:
            rows = self._x(
                cur,
                "SELECT at, actor, action, object, detail FROM audit ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [AuditRecord(*r) for r in rows]


def _fill(gaps: list[tuple[int, int]], numbers: Sequence[int]) -> list[tuple[int, int]]:
    """The gaps left when these numbers arrive (each gap split around the ones inside it)."""
    out: list[tuple[int, int]] = []
    wanted = sorted(set(numbers))
    i = 0
    for first, last in gaps:
        while i < len(wanted) and wanted[i] < first:
            i += 1
        start = first
        while i < len(wanted) and wanted[i] <= last:
            if wanted[i] > start:
                out.append((start, wanted[i] - 1))
            start = wanted[i] + 1
            i += 1
        if start <= last:
            out.append((start, last))
    return out


__all__ = ["ALL_SENDERS", "SqlStore"]
