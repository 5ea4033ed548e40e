"""Accepting submissions in SQL: duplicates, positions, routing rows, per-case heads and
sequence tracking. Each submission runs in its own savepoint."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ketenherstel.store._sqlbase import Cursor, SqlBase, _chunks, _marks
from ketenherstel.store.ports import (
    AcceptOutcome,
    AcceptRequest,
    Conflict,
    MessageOutcome,
    NewMessage,
    SequenceState,
)
from ketenherstel.store.rules import RuleSet


@dataclass(frozen=True, slots=True)
class _Context:
    rules: RuleSet
    dark: frozenset[str]  # partners whose own traffic goes to quarantine
    routes: dict[tuple[str, str], list[tuple[int, str]]]  # (around, superseding type) -> routes


class AcceptSql(SqlBase):
    """Submissions in: duplicates, positions, deliveries, per-case heads, sequences."""

    def accept(self, requests: Sequence[AcceptRequest], *, now: float) -> list[AcceptOutcome]:
        results: list[AcceptOutcome] = []
        with self._tx() as cur:
            ctx = self._accept_context(cur)
            for request in requests:
                results.append(self._accept_guarded(cur, request, now, ctx))
        return results

    def _accept_guarded(
        self, cur: Cursor, request: AcceptRequest, now: float, ctx: _Context
    ) -> AcceptOutcome:
        """One submission in its own savepoint: stored whole or not at all."""
        self._x(cur, "SAVEPOINT submission")
        try:
            outcome = self._accept_one(cur, request, now, ctx, optimistic=True)
        except Exception as exc:
            if not self._is_unique_violation(exc):
                raise
            self._x(cur, "ROLLBACK TO SAVEPOINT submission")
            outcome = self._accept_one(cur, request, now, ctx, optimistic=False)
        if outcome.rejected:
            self._x(cur, "ROLLBACK TO SAVEPOINT submission")
        self._x(cur, "RELEASE SAVEPOINT submission")
        return outcome

    def _accept_context(self, cur: Cursor) -> _Context:
        """The channel rules, partner states and emergency routes, read under the shared
        channel lock so that no rule changes between reading them and storing the rows."""
        self._lock_channels(cur, exclusive=False)
        rules = self._ruleset(cur)
        dark = {
            r[0]
            for r in self._x(
                cur, "SELECT partner FROM partner_states WHERE state IN ('isolated', 'returning')"
            ).fetchall()
        }
        routes: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for ident, around, superseded_by, receiver in self._x(
            cur, "SELECT id, around, superseded_by, receiver FROM emergency_routes"
        ).fetchall():
            routes.setdefault((around, superseded_by), []).append((int(ident), receiver))
        return _Context(rules, frozenset(dark), routes)

    def _by_bkey(
        self, cur: Cursor, bkeys: Sequence[str]
    ) -> dict[str, list[tuple[int, str | None, int, str]]]:
        """The stored messages of each business key, oldest first: (position, fact hash,
        quarantined, sender)."""
        found: dict[str, list[tuple[int, str | None, int, str]]] = {}
        for chunk in _chunks(sorted(set(bkeys))):
            for bkey, pos, fact, quarantined, sender in self._x(
                cur,
                "SELECT bkey, pos, fact_hash, quarantined, sender FROM messages "
                f"WHERE bkey IN ({_marks(len(chunk))}) ORDER BY pos",
                chunk,
            ).fetchall():
                found.setdefault(bkey, []).append((int(pos), fact, int(quarantined), sender))
        return found

    def _route_supersedes(self, cur: Cursor, msg: NewMessage, ctx: _Context) -> dict[str, int]:
        """receiver -> the position of an emergency-route message this one supersedes."""
        out: dict[str, int] = {}
        if msg.partitionkey is None:
            return out
        for route_id, receiver in ctx.routes.get((msg.sender, msg.type), ()):
            row = self._x(
                cur,
                "SELECT MAX(pos) FROM messages WHERE via_route = ? AND partitionkey = ?",
                (route_id, msg.partitionkey),
            ).fetchone()
            if row is not None and row[0] is not None:
                out[receiver] = int(row[0])
        return out

    def _aliases(
        self, cur: Cursor, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[str, int]]:
        """(source, id) -> (content hash, the fact's position) of ids answered as a repeat of a
        stored fact (migration 0015)."""
        return self._stored(cur, keys, table="id_aliases")

    def _stored(
        self, cur: Cursor, keys: Sequence[tuple[str, str]], *, table: str = "messages"
    ) -> dict[tuple[str, str], tuple[str, int]]:
        found: dict[tuple[str, str], tuple[str, int]] = {}
        by_source: dict[str, list[str]] = {}
        for source, ident in keys:
            by_source.setdefault(source, []).append(ident)
        for source, ids in by_source.items():
            for chunk in _chunks(ids):
                rows = self._x(
                    cur,
                    f"SELECT id, content_hash, pos FROM {table} "
                    f"WHERE source = ? AND id IN ({_marks(len(chunk))})",
                    (source, *chunk),
                ).fetchall()
                for ident, digest, pos in rows:
                    found[(source, ident)] = (digest, pos)
        return found

    def _accept_one(
        self,
        cur: Cursor,
        request: AcceptRequest,
        now: float,
        ctx: _Context,
        *,
        optimistic: bool,
    ) -> AcceptOutcome:
        messages = request.messages
        # Duplicates: within the submission, and (on the slow path) against the store; then
        # the same fact under a new id, by business key, over the whole retention.
        seen: dict[tuple[str, str], tuple[str, int]] = {}
        keys = [(m.source, m.id) for m in messages]
        # Ids answered before as a repeat of a stored fact: no unique index catches them.
        aliased = self._aliases(cur, keys)
        stored = dict(aliased) if optimistic else {**self._stored(cur, keys), **aliased}
        new_aliases: list[tuple[NewMessage, int]] = []  # (message, the fact's position)
        by_bkey = self._by_bkey(cur, [m.bkey for m in messages if m.bkey is not None])
        conflicts: list[Conflict] = []
        fresh: list[tuple[int, NewMessage]] = []
        supersedes: list[int | None] = []  # per fresh message
        # ("new", index into fresh), ("dup", position) or ("fact", position)
        plan: list[tuple[str, int]] = []
        same_fact: list[NewMessage] = []
        for index, msg in enumerate(messages):
            key = (msg.source, msg.id)
            fact = _latest(by_bkey.get(msg.bkey, ()), msg.sender) if msg.bkey is not None else None
            if optimistic and fact is not None and key not in seen:
                # The optimistic path leaves id duplicates to the unique index, but a business-
                # key duplicate is never inserted: look the id up first.
                stored.update(self._stored(cur, [key]))
            prior = stored.get(key) or seen.get(key)
            if prior is not None:
                if prior[0] != msg.content_hash:
                    conflicts.append(
                        Conflict(index, msg.source, msg.id, prior[0], msg.content_hash)
                    )
                # A retry of an id answered as a repeat of a fact gets that answer again.
                plan.append(("fact" if key in aliased else "dup", prior[1]))
                continue
            if fact is not None and fact[1] == msg.fact_hash:
                plan.append(("fact", fact[0]))
                same_fact.append(msg)  # not stored again, but its sequence number counts
                # Its id is taken: kept, and a later event of this submission with it is a
                # duplicate (or a conflict), not a new message.
                seen[key] = (msg.content_hash, fact[0])
                new_aliases.append((msg, fact[0]))
                continue
            seen[key] = (msg.content_hash, -1 - len(fresh))
            plan.append(("new", len(fresh)))
            fresh.append((index, msg))
            supersedes.append(fact[0] if fact is not None else None)
            if msg.bkey is not None:
                waits = 1 if msg.sender in ctx.dark else 0
                by_bkey.setdefault(msg.bkey, []).append(
                    (-1 - (len(fresh) - 1), msg.fact_hash, waits, msg.sender)
                )
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
        keyed: list[tuple[int, str, str, str]] = []
        resolved: list[int | None] = []
        for offset, (_, m) in enumerate(fresh):
            pos = positions[offset]
            earlier = supersedes[offset]
            if earlier is not None and earlier < 0:  # an earlier event of this submission
                earlier = positions[-1 - earlier]
            resolved.append(earlier)
            quarantined = 1 if m.sender in ctx.dark else 0
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
                    m.bkey,
                    m.fact_hash,
                    quarantined,
                    earlier,
                    m.via_route,
                )
            )
            if m.bkey is not None:
                keyed.append((pos, m.bkey, m.sender, m.type))
            routed = self._route_supersedes(cur, m, ctx) if ctx.routes else {}
            for receiver in m.receivers:
                held = 1 if ctx.rules.held(receiver, m.sender, m.type, m.process) else 0
                delivery_rows.append(
                    (
                        next(delivery_ids),
                        pos,
                        receiver,
                        m.sender,
                        m.partitionkey,
                        now,
                        now,
                        now,
                        m.type,
                        m.process,
                        held,
                        quarantined,
                        m.priority,
                        routed.get(receiver, earlier),
                    )
                )
        self._xm(
            cur,
            "INSERT INTO messages (pos, source, id, sender, type, subject, partitionkey, "
            "sequence, time, content_hash, body, received_at, bkey, fact_hash, quarantined, "
            "supersedes, via_route) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            message_rows,
        )
        delivery_rows = self._mark_blocked(cur, delivery_rows)
        self._xm(
            cur,
            "INSERT INTO deliveries (id, pos, receiver, sender, partitionkey, state, attempts, "
            "lease_until, not_before, last_error, created_at, updated_at, type, process, held, "
            "quarantined, priority, supersedes, blocked) "
            "VALUES (?, ?, ?, ?, ?, 'ready', 0, NULL, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            delivery_rows,
        )
        if new_aliases:
            self._xm(
                cur,
                "INSERT INTO id_aliases (source, id, content_hash, pos, received_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (m.source, m.id, m.content_hash, positions[-1 - at] if at < 0 else at, now)
                    for m, at in new_aliases
                ],
            )
        gaps = self._track_sequences(cur, [m for _, m in fresh] + same_fact)
        if keyed:
            self._match_manual(cur, keyed, now)

        outcomes = []
        for kind, value in plan:
            if kind == "new":
                m = fresh[value][1]
                outcomes.append(
                    MessageOutcome(
                        "accepted",
                        positions[value],
                        len(m.receivers),
                        supersedes=resolved[value],
                        quarantined=m.sender in ctx.dark,
                    )
                )
            elif kind == "fact":
                at = positions[-1 - value] if value < 0 else value
                outcomes.append(MessageOutcome("duplicate", at, 0, by="business-key"))
            elif value < 0:  # duplicate of an earlier event in this same submission
                outcomes.append(MessageOutcome("duplicate", positions[-1 - value], 0, by="id"))
            else:
                outcomes.append(MessageOutcome("duplicate", value, 0, by="id"))
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
            f"AND settled = 0 AND partitionkey IN ({_marks(len(keys))})",
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


def _latest(
    rows: Sequence[tuple[int, str | None, int, str]], sender: str
) -> tuple[int, str | None] | None:
    """The latest stored message of a business key that ``sender``'s message is compared with:
    a message still waiting in quarantine counts only for its own sender. A returning partner
    is not yet trusted, so what it sent may neither swallow another partner's message as the
    same fact nor be what that message supersedes."""
    for pos, fact, quarantined, by in reversed(rows):
        if quarantined != 1 or by == sender:
            return pos, fact
    return None
