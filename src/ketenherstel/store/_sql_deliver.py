"""Delivering in SQL: leases, acknowledgements, failures, dead letters, re-sends, per-case
heads, trails and queue figures."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ketenherstel.store._sqlbase import Cursor, SqlBase, _chunks, _marks
from ketenherstel.store.ports import (
    AckResult,
    DeliveryRecord,
    LeasedDelivery,
    LeaseParams,
    MessageRecord,
    NackResult,
    NotFound,
    PurgeResult,
    QueueStats,
    Refused,
    TrailEntry,
)
from ketenherstel.store.rules import RuleSet

_RATED_PAGE = 500
_MAX_RATED_SCAN = 50_000  # rows a rated lease looks at before it gives up for this call


class DeliverySql(SqlBase):
    """Deliveries out: leases, acks, failures, dead letters, re-sends, trails."""

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
        self._rehead_pairs(cur, pairs)

    def _rehead_pairs(self, cur: Cursor, pairs: Iterable[tuple[str, str]]) -> None:
        """In each (receiver, partitionkey): unblock the lowest pending delivery, block the rest.

        Only rows whose flag changes are written; after an ack that is the case's next delivery
        alone. An unchanged row rewritten still costs a page in SQLite's WAL (and its index
        entries) and a dead tuple in PostgreSQL.
        """
        ordered = sorted(pairs)
        if not ordered:
            return
        self._lock_partitions(cur, ordered)
        by_receiver: dict[str, list[str]] = {}
        for receiver, key in ordered:
            by_receiver.setdefault(receiver, []).append(key)
        unblock: list[int] = []
        block: list[int] = []
        for receiver, keys in by_receiver.items():
            for chunk in _chunks(keys):
                rows = self._pending_rows(cur, receiver, chunk)
                heads: dict[str, int] = {}
                for key, ident, _ in rows:
                    if ident < heads.get(key, ident + 1):
                        heads[key] = ident
                for key, ident, blocked in rows:
                    if ident == heads[key]:
                        if blocked:
                            unblock.append(ident)
                    elif not blocked:
                        block.append(ident)
        for flag, ids in ((0, unblock), (1, block)):
            for chunk in _chunks(ids):
                self._x(
                    cur,
                    f"UPDATE deliveries SET blocked = ? WHERE id IN ({_marks(len(chunk))})",
                    (flag, *chunk),
                )

    def _unblock_heads(self, cur: Cursor, pairs: Iterable[tuple[str, str]]) -> None:
        """After acks: unblock the lowest pending delivery of each of these partitions.

        The rest of a partition is blocked already: accept blocks every delivery but a
        partition's lowest pending one, and an ack only takes deliveries out. So only the new
        heads are read and written (`_rehead_pairs` checks every pending row; a dead letter or
        a re-send, which can change which row is lowest, uses it).
        """
        ordered = sorted(pairs)
        if not ordered:
            return
        self._lock_partitions(cur, ordered)
        by_receiver: dict[str, list[str]] = {}
        for receiver, key in ordered:
            by_receiver.setdefault(receiver, []).append(key)
        heads: list[int] = []
        for receiver, keys in by_receiver.items():
            for chunk in _chunks(keys):
                heads += self._pending_heads(cur, receiver, chunk)
        for chunk in _chunks(heads):
            self._x(
                cur,
                "UPDATE deliveries SET blocked = 0 "
                f"WHERE id IN ({_marks(len(chunk))}) AND blocked <> 0",
                chunk,
            )

    def _pending_heads(self, cur: Cursor, receiver: str, keys: Sequence[str]) -> list[int]:
        """The lowest pending delivery id of each of these partitions that has one (read from
        the per-case index alone)."""
        rows = self._x(
            cur,
            "SELECT MIN(id) FROM deliveries WHERE receiver = ? "
            f"AND settled = 0 AND partitionkey IN ({_marks(len(keys))}) "
            "GROUP BY partitionkey",
            (receiver, *keys),
        ).fetchall()
        return [int(r[0]) for r in rows]

    def _pending_rows(
        self, cur: Cursor, receiver: str, keys: Sequence[str]
    ) -> list[tuple[str, int, int]]:
        """(partitionkey, id, blocked) of the receiver's pending deliveries in these partitions."""
        rows = self._x(
            cur,
            "SELECT partitionkey, id, blocked FROM deliveries WHERE receiver = ? "
            f"AND settled = 0 AND partitionkey IN ({_marks(len(keys))})",
            (receiver, *keys),
        ).fetchall()
        return [(r[0], int(r[1]), int(r[2])) for r in rows]

    # -- delivering ---------------------------------------------------------------------

    def lease(self, params: LeaseParams) -> list[LeasedDelivery]:
        p = params
        if p.limit <= 0:
            return []
        with self._tx() as cur:
            self._expire_leases(cur, p)
            rules = self._ruleset(cur)
            if p.receiver in rules.isolated:
                return []
            if rules.has_rates(p.receiver):
                rows = self._rated_candidates(cur, p, rules)
            else:
                rows = self._x(
                    cur,
                    "SELECT d.id, d.first_attempt_at FROM deliveries d "
                    "WHERE d.receiver = ? AND d.state = 'ready' AND d.blocked = 0 "
                    "AND d.held = 0 AND d.quarantined = 0 AND d.not_before <= ? "
                    f"ORDER BY d.priority, d.id LIMIT ?{self.skip_locked}",
                    (p.receiver, p.now, p.limit),
                ).fetchall()
            # Age counts from the first attempt: a delivery held through an outage of any length
            # has not been failing, and must not expire.
            too_old = [r[0] for r in rows if r[1] is not None and p.now - r[1] > p.max_age]
            chosen = [r[0] for r in rows if r[1] is None or p.now - r[1] <= p.max_age]
            if too_old:
                self._dead_letter(cur, too_old, p.now, p.actor, "older than the maximum age")
            if not chosen:
                return []
            lease_until = p.now + p.visibility
            marks = _marks(len(chosen))
            self._x(
                cur,
                "UPDATE deliveries SET state = 'leased', attempts = attempts + 1, "
                "first_attempt_at = COALESCE(first_attempt_at, ?), "
                f"lease_until = ?, updated_at = ? WHERE id IN ({marks})",
                (p.now, lease_until, p.now, *chosen),
            )
            got = self._x(
                cur,
                "SELECT d.id, d.pos, d.receiver, d.sender, m.source, m.id, m.type, "
                "d.partitionkey, d.attempts, d.lease_until, m.body, s.source, s.id, d.priority "
                "FROM deliveries d JOIN messages m ON m.pos = d.pos "
                "LEFT JOIN messages s ON s.pos = d.supersedes "
                f"WHERE d.id IN ({marks}) ORDER BY d.priority, d.id",
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
                    supersedes=(r[11], r[12]) if r[11] is not None else None,
                    priority=r[13],
                )
                for r in got
            ]
            self._x(
                cur,
                "INSERT INTO trail (pos, delivery_id, receiver, at, event, actor, detail) "
                "SELECT pos, id, receiver, ?, 'leased', ?, 'attempt ' || attempts "
                f"FROM deliveries WHERE id IN ({marks})",
                (p.now, p.actor, *chosen),
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

    def _rated_candidates(
        self, cur: Cursor, p: LeaseParams, rules: RuleSet
    ) -> list[tuple[int, float | None]]:
        """Ready deliveries in priority order, taken while every rate that applies to each one
        has a token left. Each rated rule is a token bucket holding at most rate x burst."""
        buckets: dict[tuple[str, str, str], list[float]] = {}  # key -> [tokens, rate]
        for receiver, sender, scope, rate, tokens, refreshed in self._x(
            cur,
            "SELECT receiver, sender, scope, rate, tokens, refreshed_at FROM channel_rules "
            f"WHERE receiver IN (?, '*') AND rate IS NOT NULL{self.for_update}",
            (p.receiver,),
        ).fetchall():
            capacity = max(1.0, rate * p.burst_seconds)
            level = (
                capacity
                if tokens is None
                else min(capacity, tokens + rate * max(0.0, p.now - (refreshed or p.now)))
            )
            buckets[(receiver, sender, scope)] = [level, rate]
        chosen: list[tuple[int, float | None]] = []
        after: tuple[int, int] = (-(2**62), 0)
        scanned = 0
        while len(chosen) < p.limit and scanned < _MAX_RATED_SCAN:
            page = self._x(
                cur,
                "SELECT d.id, d.first_attempt_at, d.sender, d.type, d.process, d.priority "
                "FROM deliveries d WHERE d.receiver = ? AND d.state = 'ready' AND d.blocked = 0 "
                "AND d.held = 0 AND d.quarantined = 0 AND d.not_before <= ? "
                "AND (d.priority > ? OR (d.priority = ? AND d.id > ?)) "
                f"ORDER BY d.priority, d.id LIMIT ?{self.skip_locked}",
                (p.receiver, p.now, after[0], after[0], after[1], _RATED_PAGE),
            ).fetchall()
            if not page:
                break
            scanned += len(page)
            for ident, first, sender, type_, process, priority in page:
                after = (priority, ident)
                keys = rules.rates(p.receiver, sender, type_, process)
                if any(buckets[k][0] < 1.0 for k in keys):
                    continue
                for k in keys:
                    buckets[k][0] -= 1.0
                chosen.append((ident, first))
                if len(chosen) >= p.limit:
                    break
            if all(level < 1.0 for level, _ in buckets.values()):
                break
        self._xm(
            cur,
            "UPDATE channel_rules SET tokens = ?, refreshed_at = ? "
            "WHERE receiver = ? AND sender = ? AND scope = ?",
            [(level, p.now, *key) for key, (level, _) in buckets.items()],
        )
        return chosen

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
                "UPDATE deliveries SET state = 'dead', settled = 1, lease_until = NULL, "
                f"last_error = ?, updated_at = ? WHERE id IN ({_marks(len(chunk))})",
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
            keys: dict[int, str | None] = {}
            for chunk in _chunks(list(dict.fromkeys(delivery_ids))):
                for ident, state, key, attempts, quarantined in self._x(
                    cur,
                    "SELECT id, state, partitionkey, attempts, quarantined FROM deliveries "
                    f"WHERE receiver = ? AND id IN ({_marks(len(chunk))}){self.for_update}",
                    (receiver, *chunk),
                ).fetchall():
                    # Only what was handed out may be acknowledged: a leased delivery, or one
                    # whose lease ran out. A receiver cannot acknowledge (and so skip) what it
                    # never got, such as a held or quarantined delivery guessed by its id.
                    handed_out = state == "leased" or (
                        state == "ready" and attempts > 0 and not quarantined
                    )
                    states[ident] = (
                        "not-delivered" if state == "ready" and not handed_out else state
                    )
                    keys[ident] = key
            to_ack = [i for i, s in states.items() if s in ("ready", "leased")]
            for chunk in _chunks(to_ack):
                self._x(
                    cur,
                    "UPDATE deliveries SET state = 'acked', settled = 1, lease_until = NULL, "
                    f"updated_at = ? WHERE id IN ({_marks(len(chunk))})",
                    (now, *chunk),
                )
            self._trail(cur, to_ack, now, "acked", actor, "")
            self._unblock_heads(cur, {(receiver, k) for i in to_ack if (k := keys[i]) is not None})
        for ident in delivery_ids:
            state = states.get(ident)
            if state is None:
                results[ident] = AckResult(ident, "not-found")
            elif state == "acked":
                results[ident] = AckResult(ident, "already-acked")
            elif state == "dead":
                results[ident] = AckResult(ident, "dead")
            elif state == "not-delivered":
                results[ident] = AckResult(ident, "not-delivered")
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
                f"SELECT state, attempts, quarantined, lease_until FROM deliveries WHERE id = ? "
                f"AND receiver = ?{self.for_update}",
                (delivery_id, receiver),
            ).fetchone()
            if row is None:
                return NackResult(delivery_id, "not-found")
            state, attempts, quarantined, lease_until = row
            if state == "leased" and lease_until is not None and lease_until <= now:
                # Its lease ran out (it is made ready again at the receiver's next pull): no
                # longer the receiver's to report on, as once it was made ready (a review).
                return NackResult(delivery_id, "not-leased")
            if state == "ready" and (attempts == 0 or quarantined):
                return NackResult(delivery_id, "not-delivered")  # as for an ack
            if state == "ready":
                # Handed out before, but not held now (nacked already, or its lease ran out):
                # it is delivered again. A nack would only push its retry later, and without
                # counting an attempt it would never reach the dead letters (a review saw it).
                return NackResult(delivery_id, "not-leased")
            if state == "acked":
                return NackResult(delivery_id, "already-acked")
            if state == "dead":
                return NackResult(delivery_id, "already-dead")
            self._trail(cur, [delivery_id], now, "nacked", actor, reason)
            if attempts >= max_attempts:
                self._dead_letter(
                    cur, [delivery_id], now, "exchange", f"{attempts} attempts failed: {reason}"
                )
                return NackResult(delivery_id, "dead", attempts=attempts)
            retry_at = now + delay(attempts)
            self._x(
                cur,
                "UPDATE deliveries SET state = 'ready', lease_until = NULL, not_before = ?, "
                "last_error = ?, updated_at = ? WHERE id = ?",
                (retry_at, reason, now, delivery_id),
            )
        return NackResult(delivery_id, "retry", retry_at, attempts)

    _DELIVERY_COLS = (
        "id, pos, receiver, sender, state, attempts, lease_until, not_before, last_error, "
        "created_at, updated_at, held, quarantined, priority, supersedes"
    )

    def latest_delivery(self) -> int:
        """The highest delivery id made so far (0 for none): it grows with every delivery the
        exchange makes, so a reader caching what waits can tell that it may have changed."""
        with self._tx() as cur:
            row = self._x(cur, "SELECT COALESCE(MAX(id), 0) FROM deliveries", ()).fetchone()
        return int(row[0])

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
        return [_delivery(r) for r in rows]

    def resend(self, *, delivery_id: int, now: float, actor: str) -> DeliveryRecord:
        with self._tx() as cur:
            row = self._x(
                cur,
                "SELECT state, receiver, sender, type, process FROM deliveries WHERE id = ?"
                f"{self.for_update}",
                (delivery_id,),
            ).fetchone()
            if row is None:
                raise NotFound(f"no delivery {delivery_id}")
            if row[0] != "dead":
                raise Refused(f"delivery {delivery_id} is {row[0]}, not dead-lettered")
            # The rules may have changed while it was dead: a re-send honours the ones in force.
            self._back_to_ready(
                cur,
                delivery_id,
                (row[1], row[2], row[3], row[4]),
                now,
                actor,
                "re-sent with its original id",
            )
            out = self._x(
                cur, f"SELECT {self._DELIVERY_COLS} FROM deliveries WHERE id = ?", (delivery_id,)
            ).fetchone()
        return _delivery(out)

    def redeliver(
        self,
        *,
        source: str,
        id: str,
        receiver: str,
        now: float,
        actor: str,
        reason: str,
        dry_run: bool = False,
    ) -> str:
        """Deliver a message to a receiver again with its original id (reconciliation's
        repair): its one delivery row goes back to ready; nothing is inserted, so there is never
        a second delivery. Returns ``resent``, or ``pending`` when it is on its way already, or
        ``not-found`` when the exchange holds no such message for that receiver. ``dry_run``:
        change nothing, and say ``would-resend`` where it would be re-sent."""
        with self._tx() as cur:
            row = self._x(
                cur,
                "SELECT d.id, d.state, d.sender, d.type, d.process FROM deliveries d "
                "JOIN messages m ON m.pos = d.pos WHERE m.source = ? AND m.id = ? "
                f"AND d.receiver = ?{self.for_update}",
                (source, id, receiver),
            ).fetchone()
            if row is None:
                return "not-found"
            delivery_id, state = int(row[0]), str(row[1])
            if state in ("ready", "leased"):
                return "pending"
            if dry_run:
                return "would-resend"
            self._back_to_ready(
                cur, delivery_id, (receiver, row[2], row[3], row[4]), now, actor, reason
            )
        return "resent"

    def _back_to_ready(
        self,
        cur: Cursor,
        delivery_id: int,
        channel: tuple[str, str, str, str],
        now: float,
        actor: str,
        why: str,
    ) -> None:
        """One delivery ready again from now, held if the rules in force (receiver, sender,
        type, process) hold it; a ``resent`` trail event says why."""
        self._lock_channels(cur, exclusive=False)
        held = 1 if self._ruleset(cur).held(*channel) else 0
        self._x(
            cur,
            "UPDATE deliveries SET state = 'ready', settled = 0, attempts = 0, not_before = ?, "
            "first_attempt_at = NULL, lease_until = NULL, held = ?, updated_at = ? "
            "WHERE id = ?",
            (now, held, now, delivery_id),
        )
        self._trail(cur, [delivery_id], now, "resent", actor, why)
        self._rehead(cur, [delivery_id])

    # -- reading ------------------------------------------------------------------------

    _MESSAGE_COLS = (
        "pos, source, id, sender, type, subject, partitionkey, sequence, content_hash, "
        "received_at, body, quarantined, supersedes"
    )

    def message(self, source: str, id: str) -> MessageRecord | None:
        with self._tx() as cur:
            row = self._x(
                cur,
                f"SELECT {self._MESSAGE_COLS} FROM messages WHERE source = ? AND id = ?",
                (source, id),
            ).fetchone()
        return _message(row)

    def alias_of(self, source: str, id: str) -> int | None:
        with self._tx() as cur:
            row = self._x(
                cur, "SELECT pos FROM id_aliases WHERE source = ? AND id = ?", (source, id)
            ).fetchone()
        return None if row is None else int(row[0])

    def message_at(self, position: int) -> MessageRecord | None:
        with self._tx() as cur:
            row = self._x(
                cur, f"SELECT {self._MESSAGE_COLS} FROM messages WHERE pos = ?", (position,)
            ).fetchone()
        return _message(row)

    def purge(self, *, before: float, now: float, dry_run: bool) -> PurgeResult:
        """Remove the body and case keys of messages received before `before` whose every
        delivery was acknowledged. The row stays as a tombstone: duplicates stay recognisable.
        Nothing undelivered is ever purged."""
        eligible = (
            "FROM messages m WHERE m.purged_at IS NULL AND m.received_at < ? "
            "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.pos = m.pos "
            "AND d.state <> 'acked')"
        )
        with self._tx() as cur:
            positions = [r[0] for r in self._x(cur, f"SELECT m.pos {eligible}", (before,))]
            if dry_run or not positions:
                return PurgeResult(len(positions), dry_run)
            for chunk in _chunks(positions):
                marks = _marks(len(chunk))
                self._x(
                    cur,
                    "UPDATE messages SET body = ?, subject = NULL, partitionkey = NULL, "
                    f"purged_at = ? WHERE pos IN ({marks})",
                    (b"", now, *chunk),
                )
                self._x(
                    cur,
                    f"UPDATE deliveries SET partitionkey = NULL WHERE pos IN ({marks})",
                    chunk,
                )
        return PurgeResult(len(positions), dry_run)

    def deliveries_of(self, position: int) -> list[DeliveryRecord]:
        with self._tx() as cur:
            rows = self._x(
                cur,
                f"SELECT {self._DELIVERY_COLS} FROM deliveries WHERE pos = ? ORDER BY id",
                (position,),
            ).fetchall()
        return [_delivery(r) for r in rows]

    def trail(self, position: int) -> list[TrailEntry]:
        with self._tx() as cur:
            msg = self._x(
                cur,
                "SELECT received_at, sender, purged_at FROM messages WHERE pos = ?",
                (position,),
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
            if msg[2] is not None:
                entries.append(
                    TrailEntry(msg[2], "purged", None, None, "retention", "body removed")
                )
        return entries

    def pending_stats(self) -> list[QueueStats]:
        """Like :meth:`queue_stats`, but only what waits or failed (``acked`` is 0): read
        through the partial indexes on pending and dead deliveries, so it costs what waits, not
        the whole history (for ``/metrics``)."""
        with self._tx() as cur:
            pending = self._x(
                cur,
                "SELECT receiver, sender, "
                "SUM(CASE WHEN state = 'ready' THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN state = 'leased' THEN 1 ELSE 0 END), MIN(created_at) "
                "FROM deliveries WHERE settled = 0 GROUP BY receiver, sender",
            ).fetchall()
            dead = self._x(
                cur,
                "SELECT receiver, sender, COUNT(*) FROM deliveries WHERE state = 'dead' "
                "GROUP BY receiver, sender",
            ).fetchall()
        out: dict[tuple[str, str], list[Any]] = {}
        for receiver, sender, ready, leased, oldest in pending:
            out[(receiver, sender)] = [int(ready), int(leased), 0, oldest]
        for receiver, sender, n in dead:
            out.setdefault((receiver, sender), [0, 0, 0, None])[2] = int(n)
        return [QueueStats(r, s, v[0], v[1], 0, v[2], v[3]) for (r, s), v in sorted(out.items())]

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


def _delivery(r: Sequence[object]) -> DeliveryRecord:
    values: list[Any] = list(r)
    values[11] = bool(values[11])
    values[12] = bool(values[12])
    return DeliveryRecord(*values)


def _message(row: Sequence[Any] | None) -> MessageRecord | None:
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
        quarantined=int(row[11]),
        supersedes=row[12],
    )
