"""Accepting submissions in SQL: duplicates, positions, routing rows, per-case heads and
sequence tracking. Each submission runs in its own savepoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ketenherstel.store._sqlbase import _PENDING, Cursor, SqlBase, _chunks, _marks
from ketenherstel.store.ports import (
    AcceptOutcome,
    AcceptRequest,
    Conflict,
    MessageOutcome,
    NewMessage,
    SequenceState,
)


class AcceptSql(SqlBase):
    """Submissions in: duplicates, positions, deliveries, per-case heads, sequences."""

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
