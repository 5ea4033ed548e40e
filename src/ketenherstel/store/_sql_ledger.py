"""Whole-store counts that prove nothing was lost or applied twice (the scenario's last word),
and the store's ledgers for reconciliation (decision 0011).

Read-only; each call is one transaction, so the counts agree with each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ketenherstel.store._sqlbase import Cursor, SqlBase, _marks
from ketenherstel.store.ports import LedgerCounts, SourceCompleteness


class LedgerSql(SqlBase):
    def ledger_counts(self) -> LedgerCounts:
        with self._tx() as cur:
            per_source = {
                str(source): int(n)
                for source, n in self._x(
                    cur, "SELECT source, COUNT(*) FROM messages GROUP BY source"
                ).fetchall()
            }
            states = {
                str(state): int(n)
                for state, n in self._x(
                    cur, "SELECT state, COUNT(*) FROM deliveries GROUP BY state"
                ).fetchall()
            }
            held, quarantined = self._x(
                cur,
                "SELECT COALESCE(SUM(held), 0), COALESCE(SUM(CASE WHEN quarantined <> 0 "
                "THEN 1 ELSE 0 END), 0) FROM deliveries WHERE settled = 0",
            ).fetchone()
            # One row per (message, receiver) is the schema's promise; count any breach.
            twice_by_id = self._x(
                cur,
                "SELECT COUNT(*) FROM (SELECT pos, receiver FROM deliveries "
                "GROUP BY pos, receiver HAVING COUNT(*) > 1) t",
            ).fetchone()[0]
            # The same fact (business key) acknowledged more than once by one receiver, other
            # than as a supersession that replaces the earlier one.
            twice_by_key = self._x(
                cur,
                "SELECT COUNT(*) FROM (SELECT d.receiver, m.bkey FROM deliveries d "
                "JOIN messages m ON m.pos = d.pos "
                "WHERE d.state = 'acked' AND m.bkey IS NOT NULL AND d.supersedes IS NULL "
                "GROUP BY d.receiver, m.bkey HAVING COUNT(*) > 1) t",
            ).fetchone()[0]
            without_delivery = self._x(
                cur,
                "SELECT COUNT(*) FROM messages m WHERE NOT EXISTS "
                "(SELECT 1 FROM deliveries d WHERE d.pos = m.pos)",
            ).fetchone()[0]
        return LedgerCounts(
            messages=per_source,
            deliveries=states,
            pending_held=int(held),
            pending_quarantined=int(quarantined),
            applied_twice_by_id=int(twice_by_id),
            applied_twice_by_key=int(twice_by_key),
            messages_without_delivery=int(without_delivery),
        )

    def completeness(self, receiver: str, senders: Sequence[str]) -> list[SourceCompleteness]:
        """Per source of these senders: its sequence state at the exchange, what still waits for
        the receiver, and the watermark below which the receiver misses nothing from it."""
        if not senders:
            return []
        out: list[SourceCompleteness] = []
        with self._tx() as cur:
            waiting = {
                (str(r[0]), str(r[1])): (int(r[2]), r[3], r[4])
                for r in self._x(
                    cur,
                    "SELECT m.source, d.sender, COUNT(*), MIN(m.sequence), MIN(m.time) "
                    "FROM deliveries d JOIN messages m ON m.pos = d.pos "
                    "WHERE d.receiver = ? AND d.settled = 0 "
                    f"AND d.sender IN ({_marks(len(senders))}) GROUP BY m.source, d.sender",
                    (receiver, *senders),
                ).fetchall()
            }
            dead = {
                (str(r[0]), str(r[1])): (int(r[2]), r[3])
                for r in self._x(
                    cur,
                    "SELECT m.source, d.sender, COUNT(*), MIN(m.sequence) "
                    "FROM deliveries d JOIN messages m ON m.pos = d.pos "
                    "WHERE d.receiver = ? AND d.state = 'dead' "
                    f"AND d.sender IN ({_marks(len(senders))}) GROUP BY m.source, d.sender",
                    (receiver, *senders),
                ).fetchall()
            }
            sources: dict[str, str] = {source: sender for source, sender in [*waiting, *dead]}
            # Every source's sequence state, and its sender (any of its messages names it),
            # read in one statement.
            states: dict[str, tuple[int, int]] = {}
            for source, contiguous, max_seen, sender in self._x(
                cur,
                "SELECT s.source, s.contiguous, s.max_seen, "
                "(SELECT m.sender FROM messages m WHERE m.source = s.source LIMIT 1) "
                "FROM sequences s ORDER BY s.source",
            ).fetchall():
                states[str(source)] = (int(contiguous), int(max_seen))
                if source not in sources and sender is not None and sender in senders:
                    sources[str(source)] = str(sender)
            for source in sorted(sources):
                sender = sources[source]
                contiguous, max_seen = states.get(source, (0, 0))
                count, lowest, oldest = waiting.get((source, sender), (0, None, None))
                failed, lowest_dead = dead.get((source, sender), (0, None))
                watermark = contiguous
                for first in (lowest, lowest_dead):
                    if first is not None:
                        watermark = min(watermark, int(first) - 1)
                times = self._times_at(cur, source, (watermark, max_seen))
                out.append(
                    SourceCompleteness(
                        source=source,
                        sender=sender,
                        contiguous=contiguous,
                        max_seen=max_seen,
                        gaps=self._gap_list(cur, source) if contiguous < max_seen else (),
                        waiting=count,
                        lowest_waiting=None if lowest is None else int(lowest),
                        oldest_waiting_time=oldest,
                        watermark=watermark,
                        watermark_time=times.get(watermark),
                        last_time=times.get(max_seen),
                        dead=failed,
                    )
                )
        return out

    def _times_at(self, cur: Cursor, source: str, sequences: Sequence[int]) -> dict[int, str]:
        """The event time of the message with each of these sequence numbers from ``source``
        (one statement); a number with no message, or a message without a time, is left out."""
        wanted = sorted({n for n in sequences if n > 0})
        if not wanted:
            return {}
        found: dict[int, str] = {}
        for sequence, time in self._x(
            cur,
            "SELECT sequence, time FROM messages "
            f"WHERE source = ? AND sequence IN ({_marks(len(wanted))})",
            (source, *wanted),
        ).fetchall():
            if time is not None:
                found.setdefault(int(sequence), str(time))
        return found

    def _gap_list(self, cur: Cursor, source: str) -> tuple[tuple[int, int], ...]:
        rows = self._x(
            cur,
            "SELECT gap_first, gap_last FROM sequence_gaps WHERE source = ? ORDER BY gap_first",
            (source,),
        ).fetchall()
        return tuple((int(a), int(b)) for a, b in rows)

    # Each ledger: (cursor, source, id, sender, receiver, type, bkey, hash, sequence,
    # event_time (RFC 3339 text or None), at (epoch seconds)); ``cursor`` orders the pages.
    _LEDGERS: ClassVar[dict[str, str]] = {
        "accepted": (
            "SELECT pos, source, id, sender, NULL, type, bkey, fact_hash, sequence, time, "
            "received_at FROM messages WHERE pos > ? ORDER BY pos LIMIT ?"
        ),
        "routed": (
            "SELECT d.id, m.source, m.id, m.sender, d.receiver, m.type, m.bkey, m.fact_hash, "
            "m.sequence, m.time, d.created_at FROM deliveries d JOIN messages m ON m.pos = d.pos "
            "WHERE d.id > ? ORDER BY d.id LIMIT ?"
        ),
        "delivered": (
            "SELECT d.id, m.source, m.id, m.sender, d.receiver, m.type, m.bkey, m.fact_hash, "
            "m.sequence, m.time, d.updated_at FROM deliveries d JOIN messages m ON m.pos = d.pos "
            "WHERE d.state = 'acked' AND d.id > ? ORDER BY d.id LIMIT ?"
        ),
        "manual": (
            "SELECT id, NULL, NULL, partner, NULL, type, bkey, NULL, NULL, NULL, registered_at "
            "FROM manual_records WHERE status <> 'withdrawn' AND id > ? ORDER BY id LIMIT ?"
        ),
    }

    def ledger_rows(self, kind: str, *, after: int, limit: int) -> list[tuple[object, ...]]:
        """One page of a ledger: ``accepted`` (every stored message), ``routed`` (every
        delivery the exchange owes a receiver), ``delivered`` (acknowledged deliveries, at the
        acknowledgement), ``manual`` (paper records not withdrawn)."""
        sql = self._LEDGERS.get(kind)
        if sql is None:
            raise ValueError(f"no ledger {kind!r}; the store has {', '.join(self._LEDGERS)}")
        with self._tx() as cur:
            return [tuple(r) for r in self._x(cur, sql, (after, limit)).fetchall()]

    # The picture (decision 0013): every delivery with its message's sender, type, event time
    # and arrival, and when it was acknowledged; paged by delivery id.
    def picture_rows(self, *, after: int, limit: int) -> list[tuple[object, ...]]:
        """(delivery id, sender, receiver, type, event time (text or None), received_at,
        state, updated_at) of the deliveries after ``after``, in id order."""
        with self._tx() as cur:
            return [
                tuple(r)
                for r in self._x(
                    cur,
                    "SELECT d.id, m.sender, d.receiver, m.type, m.time, m.received_at, d.state, "
                    "d.updated_at FROM deliveries d JOIN messages m ON m.pos = d.pos "
                    "WHERE d.id > ? ORDER BY d.id LIMIT ?",
                    (after, limit),
                ).fetchall()
            ]

    def picture_resends(self) -> list[tuple[object, ...]]:
        """(delivery id, at, event) of every ``acked``, ``dead-lettered`` and ``resent`` trail
        entry of the deliveries ever re-sent, in delivery id and trail order: a re-send puts
        a delivery row back to ready, so only the trail still says how it ended before."""
        with self._tx() as cur:
            return [
                tuple(r)
                for r in self._x(
                    cur,
                    "SELECT t.delivery_id, t.at, t.event FROM trail t "
                    "WHERE t.pos IN (SELECT pos FROM trail WHERE event = 'resent') "
                    "AND t.delivery_id IN (SELECT delivery_id FROM trail WHERE event = 'resent') "
                    "AND t.event IN ('acked', 'dead-lettered', 'resent') "
                    "ORDER BY t.delivery_id, t.id",
                ).fetchall()
            ]

    def picture_fingerprint(self) -> tuple[int, int]:
        """(last delivery id, last trail entry id): every change the picture counts (a new
        delivery, a lease, an acknowledgement, a dead letter, a re-send) adds to one of them.
        Both are primary keys, so this costs two index lookups however large the store."""
        with self._tx() as cur:
            d = self._x(cur, "SELECT COALESCE(MAX(id), 0) FROM deliveries").fetchone()[0]
            t = self._x(cur, "SELECT COALESCE(MAX(id), 0) FROM trail").fetchone()[0]
        return int(d), int(t)
