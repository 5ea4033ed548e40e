"""Isolation in SQL: channel rules, partner states, emergency routes, priorities, quarantine
and signed bundles (decision 0008).

A change of rules or of a partner's state re-computes the `held` flag of the pending deliveries
it touches, in the same transaction, so a lease never scans held rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ketenherstel.store._sql_accept import AcceptSql
from ketenherstel.store._sql_deliver import DeliverySql
from ketenherstel.store._sqlbase import Cursor, _chunks
from ketenherstel.store.ports import (
    AcceptOutcome,
    AcceptRequest,
    AlreadyExists,
    BundleImport,
    ChannelRecord,
    MessageRecord,
    NotFound,
    PartnerStateRecord,
    QuarantineRelease,
    Refused,
    ReleaseWaiting,
    RouteRecord,
    same_person,
)
from ketenherstel.store.rules import ANY, parse_scope

_RULE_COLS = "receiver, sender, scope, state, rate, reason, changed_at, changed_by"
_ROUTE_COLS = (
    "id, type, sender, around, receiver, superseded_by, reason, opened_at, opened_by, "
    "closed_at, closed_by, closed_reason"
)
_RELEASE_COLS = (
    "id, partner, up_to_pos, messages, checks, reason, requested_by, requested_at, "
    "approved_by, approved_at"
)
_RELEASE_LOCK = 0x6B68_0007  # "kh" 7: asking for and approving quarantine releases


class IsolationSql(AcceptSql, DeliverySql):
    """Channel rules, partner states, routes, priorities, quarantine and bundles."""

    # -- channel rules ------------------------------------------------------------------------

    def set_channel(self, record: ChannelRecord) -> int:
        """Set a rule, append the change to its history and re-hold what it touches.
        Returns the number of pending deliveries whose held flag changed."""
        r = record
        with self._tx() as cur:
            self._lock_channels(cur, exclusive=True)
            # A broader rule replaces the narrower ones beneath it: "hold om" after "open om
            # from politie" holds everything to om, as an operator expects.
            conds, params = (
                ["NOT (receiver = ? AND sender = ? AND scope = ?)"],
                [r.receiver, r.sender, r.scope],
            )
            for column, value in (
                ("receiver", r.receiver),
                ("sender", r.sender),
                ("scope", r.scope),
            ):
                if value != ANY:
                    conds.append(f"{column} = ?")
                    params.append(value)
            self._x(cur, f"DELETE FROM channel_rules WHERE {' AND '.join(conds)}", params)
            self._x(
                cur,
                f"INSERT INTO channel_rules ({_RULE_COLS}, tokens, refreshed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL) "
                "ON CONFLICT (receiver, sender, scope) DO UPDATE SET state = excluded.state, "
                "rate = excluded.rate, reason = excluded.reason, tokens = NULL, "
                "refreshed_at = NULL, changed_at = excluded.changed_at, "
                "changed_by = excluded.changed_by",
                (
                    r.receiver,
                    r.sender,
                    r.scope,
                    r.state,
                    r.rate,
                    r.reason,
                    r.changed_at,
                    r.changed_by,
                ),
            )
            self._x(
                cur,
                "INSERT INTO channel_events (receiver, sender, scope, state, rate, reason, at, "
                "actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    r.receiver,
                    r.sender,
                    r.scope,
                    r.state,
                    r.rate,
                    r.reason,
                    r.changed_at,
                    r.changed_by,
                ),
            )
            return self._rehold(cur, r.receiver, r.sender, r.scope)

    def _rehold(self, cur: Cursor, receiver: str, sender: str, scope: str) -> int:
        """Re-compute `held` for the pending deliveries matching this pattern."""
        conds = ["settled = 0"]
        params: list[object] = []
        if receiver != ANY:
            conds.append("receiver = ?")
            params.append(receiver)
        if sender != ANY:
            conds.append("sender = ?")
            params.append(sender)
        kind, name = parse_scope(scope)
        if kind == "type":
            conds.append("type = ?")
            params.append(name)
        elif kind == "process":
            conds.append("process = ?")
            params.append(name)
        where = " AND ".join(conds)
        groups = self._x(
            cur,
            f"SELECT DISTINCT receiver, sender, type, process FROM deliveries WHERE {where}",
            params,
        ).fetchall()
        if not groups:
            return 0
        rules = self._ruleset(cur)
        changed = 0
        for g in groups:
            held = 1 if rules.held(*g) else 0
            cur2 = self._x(
                cur,
                "UPDATE deliveries SET held = ? WHERE receiver = ? AND sender = ? AND type = ? "
                "AND process = ? AND settled = 0 AND held <> ?",
                (held, *g, held),
            )
            changed += max(cur2.rowcount, 0)
        return changed

    def list_channels(self, receiver: str | None = None) -> list[ChannelRecord]:
        with self._tx() as cur:
            if receiver is None:
                rows = self._x(
                    cur, f"SELECT {_RULE_COLS} FROM channel_rules ORDER BY receiver, sender, scope"
                ).fetchall()
            else:
                rows = self._x(
                    cur,
                    f"SELECT {_RULE_COLS} FROM channel_rules WHERE receiver IN (?, '*') "
                    "ORDER BY receiver, sender, scope",
                    (receiver,),
                ).fetchall()
        return [ChannelRecord(*r) for r in rows]

    def channel_events(self, *, receiver: str | None, limit: int) -> list[ChannelRecord]:
        """Changes of channel rules, newest first."""
        cols = "receiver, sender, scope, state, rate, reason, at, actor"
        with self._tx() as cur:
            if receiver is None:
                rows = self._x(
                    cur, f"SELECT {cols} FROM channel_events ORDER BY id DESC LIMIT ?", (limit,)
                ).fetchall()
            else:
                rows = self._x(
                    cur,
                    f"SELECT {cols} FROM channel_events WHERE receiver IN (?, '*') "
                    "ORDER BY id DESC LIMIT ?",
                    (receiver, limit),
                ).fetchall()
        return [ChannelRecord(*r) for r in rows]

    # -- partner states -----------------------------------------------------------------------

    def set_partner_state(self, record: PartnerStateRecord) -> None:
        r = record
        with self._tx() as cur:
            self._lock_channels(cur, exclusive=True)
            self._x(
                cur,
                "INSERT INTO partner_states (partner, state, reason, changed_at, changed_by) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (partner) DO UPDATE SET "
                "state = excluded.state, reason = excluded.reason, "
                "changed_at = excluded.changed_at, changed_by = excluded.changed_by",
                (r.partner, r.state, r.reason, r.changed_at, r.changed_by),
            )
            self._x(
                cur,
                "INSERT INTO partner_events (partner, state, reason, at, actor) "
                "VALUES (?, ?, ?, ?, ?)",
                (r.partner, r.state, r.reason, r.changed_at, r.changed_by),
            )
            self._rehold(cur, r.partner, ANY, ANY)

    def partner_states(self) -> list[PartnerStateRecord]:
        with self._tx() as cur:
            rows = self._x(
                cur,
                "SELECT partner, state, reason, changed_at, changed_by FROM partner_states "
                "ORDER BY partner",
            ).fetchall()
        return [PartnerStateRecord(*r) for r in rows]

    def partner_events(self, *, partner: str | None, limit: int) -> list[PartnerStateRecord]:
        cols = "partner, state, reason, at, actor"
        with self._tx() as cur:
            if partner is None:
                rows = self._x(
                    cur, f"SELECT {cols} FROM partner_events ORDER BY id DESC LIMIT ?", (limit,)
                ).fetchall()
            else:
                rows = self._x(
                    cur,
                    f"SELECT {cols} FROM partner_events WHERE partner = ? ORDER BY id DESC LIMIT ?",
                    (partner, limit),
                ).fetchall()
        return [PartnerStateRecord(*r) for r in rows]

    # -- emergency routes ---------------------------------------------------------------------

    def open_route(
        self,
        *,
        type: str,
        sender: str,
        around: str,
        receiver: str,
        superseded_by: str,
        reason: str,
        now: float,
        actor: str,
    ) -> RouteRecord:
        with self._tx() as cur:
            self._lock_channels(cur, exclusive=True)
            open_ = self._x(
                cur,
                "SELECT id FROM emergency_routes WHERE type = ? AND sender = ? AND receiver = ? "
                "AND closed_at IS NULL",
                (type, sender, receiver),
            ).fetchone()
            if open_ is not None:
                raise AlreadyExists(
                    f"route {open_[0]} already sends {type} from {sender} to {receiver}"
                )
            ident = self._allocate(cur, "emergency_routes", 1)[0]
            self._x(
                cur,
                f"INSERT INTO emergency_routes ({_ROUTE_COLS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
                (ident, type, sender, around, receiver, superseded_by, reason, now, actor),
            )
        return RouteRecord(
            ident,
            type,
            sender,
            around,
            receiver,
            superseded_by,
            reason,
            now,
            actor,
            None,
            None,
            None,
        )

    def close_route(self, *, route_id: int, reason: str, now: float, actor: str) -> RouteRecord:
        with self._tx() as cur:
            self._lock_channels(cur, exclusive=True)
            row = self._x(
                cur, f"SELECT {_ROUTE_COLS} FROM emergency_routes WHERE id = ?", (route_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no emergency route {route_id}")
            if row[9] is not None:
                raise Refused(f"emergency route {route_id} is already closed")
            self._x(
                cur,
                "UPDATE emergency_routes SET closed_at = ?, closed_by = ?, closed_reason = ? "
                "WHERE id = ?",
                (now, actor, reason, route_id),
            )
        return RouteRecord(*row[:9], now, actor, reason)  # type: ignore[call-arg]

    def routes(self) -> list[RouteRecord]:
        with self._tx() as cur:
            rows = self._x(
                cur, f"SELECT {_ROUTE_COLS} FROM emergency_routes ORDER BY id"
            ).fetchall()
        return [RouteRecord(*r) for r in rows]

    # -- priorities -----------------------------------------------------------------------------

    def reprioritise(self, priorities: Mapping[str, int], *, now: float) -> int:
        """Give every pending delivery of these types its new priority (one pass)."""
        if not priorities:
            return 0
        items = sorted(priorities.items())
        case = " ".join("WHEN ? THEN ?" for _ in items)
        params: list[object] = [v for item in items for v in item]
        types = [t for t, _ in items]
        marks = ",".join("?" * len(types))
        with self._tx() as cur:
            self._xm(
                cur,
                "INSERT INTO type_priorities (type, priority, changed_at) VALUES (?, ?, ?) "
                "ON CONFLICT (type) DO UPDATE SET priority = excluded.priority, "
                "changed_at = excluded.changed_at "
                "WHERE type_priorities.priority <> excluded.priority",  # the same: no change
                [(t, p, now) for t, p in items],
            )
            done = self._x(
                cur,
                f"UPDATE deliveries SET priority = CASE type {case} ELSE priority END, "
                f"updated_at = ? WHERE settled = 0 AND type IN ({marks}) "
                f"AND priority <> CASE type {case} ELSE priority END",
                (*params, now, *types, *params),
            )
            return int(max(done.rowcount, 0))

    def type_priorities(self) -> dict[str, int]:
        """The priorities last set per message type (empty before any was set)."""
        with self._tx() as cur:
            rows = self._x(cur, "SELECT type, priority FROM type_priorities").fetchall()
        return {str(t): int(p) for t, p in rows}

    # -- quarantine -----------------------------------------------------------------------------

    def quarantined(
        self, *, partner: str | None, limit: int, after: int = 0
    ) -> list[MessageRecord]:
        cols = (
            "pos, source, id, sender, type, subject, partitionkey, sequence, content_hash, "
            "received_at, body, quarantined, supersedes"
        )
        with self._tx() as cur:
            if partner is None:
                rows = self._x(
                    cur,
                    f"SELECT {cols} FROM messages WHERE quarantined = 1 AND pos > ? "
                    "ORDER BY pos LIMIT ?",
                    (after, limit),
                ).fetchall()
            else:
                rows = self._x(
                    cur,
                    f"SELECT {cols} FROM messages WHERE quarantined = 1 AND sender = ? "
                    "AND pos > ? ORDER BY pos LIMIT ?",
                    (partner, after, limit),
                ).fetchall()
        return [
            MessageRecord(*r[:10], bytes(r[10]), r[11], r[12])  # type: ignore[call-arg]
            for r in rows
        ]

    def quarantine_counts(self) -> dict[str, tuple[int, int]]:
        """sender -> (waiting in quarantine, released from it)."""
        with self._tx() as cur:
            rows = self._x(
                cur,
                "SELECT sender, SUM(CASE WHEN quarantined = 1 THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN quarantined = 2 THEN 1 ELSE 0 END) FROM messages "
                "WHERE quarantined > 0 GROUP BY sender ORDER BY sender",
            ).fetchall()
        return {r[0]: (int(r[1]), int(r[2])) for r in rows}

    def request_release(
        self,
        *,
        partner: str,
        checks: str,
        reason: str,
        now: float,
        actor: str,
        allow_empty: bool = False,
        same_as: Callable[[QuarantineRelease], bool] | None = None,
    ) -> QuarantineRelease:
        """Ask to release everything the partner has in quarantine now (up to its newest
        message); a second, different operator must approve it. With ``allow_empty`` a
        partner with nothing in quarantine gets a release of nothing (decision 0018).

        ``same_as``: whether the release that waits (`waiting_release`) already asks what
        this request would; if so the request is refused with ReleaseWaiting naming it. It is
        decided in the transaction that stores the request, under a lock on PostgreSQL
        (SQLite's BEGIN IMMEDIATE makes this the one writer), so two requests at once cannot
        both find none waiting and both be stored."""
        with self._tx() as cur:
            self._lock_releases(cur)
            if same_as is not None:
                waiting = self._waiting_release(cur, partner)
                if waiting is not None and same_as(waiting):
                    raise ReleaseWaiting(waiting)
            row = self._x(
                cur,
                "SELECT MAX(pos), COUNT(*) FROM messages WHERE sender = ? AND quarantined = 1",
                (partner,),
            ).fetchone()
            if row is None or row[0] is None:
                if not allow_empty:
                    raise NotFound(f"{partner} has nothing in quarantine")
                row = (0, 0)
            ident = self._allocate(cur, "quarantine_releases", 1)[0]
            record = QuarantineRelease(
                ident, partner, int(row[0]), int(row[1]), checks, reason, actor, now, None, None
            )
            self._x(
                cur,
                f"INSERT INTO quarantine_releases ({_RELEASE_COLS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                (ident, partner, record.up_to_pos, record.messages, checks, reason, actor, now),
            )
        return record

    def waiting_release(self, *, partner: str) -> QuarantineRelease | None:
        """The release of ``partner`` that waits for a second operator and covers everything
        in its quarantine now: asked for since the partner's current state began (one asked
        earlier does not bring it online, decision 0018) and with no message in quarantine
        after it; the newest such. None when none waits."""
        with self._tx() as cur:
            return self._waiting_release(cur, partner)

    def _waiting_release(self, cur: Cursor, partner: str) -> QuarantineRelease | None:
        state = self._x(
            cur, "SELECT changed_at FROM partner_states WHERE partner = ?", (partner,)
        ).fetchone()
        since = 0.0 if state is None else float(state[0])
        row = self._x(
            cur,
            f"SELECT {_RELEASE_COLS} FROM quarantine_releases r WHERE r.partner = ? "
            "AND r.approved_by IS NULL AND r.requested_at >= ? AND NOT EXISTS (SELECT 1 "
            "FROM messages m WHERE m.sender = ? AND m.quarantined = 1 AND m.pos > r.up_to_pos) "
            "ORDER BY r.id DESC LIMIT 1",
            (partner, since, partner),
        ).fetchone()
        return None if row is None else QuarantineRelease(*row)

    def _lock_releases(self, cur: Cursor) -> None:
        # Requests and approvals one at a time: a request sees every release stored or
        # approved before it, so it neither misses one that waits nor names one approved.
        if self.dialect == "postgres":
            self._x(cur, "SELECT pg_advisory_xact_lock(?)", (_RELEASE_LOCK,))

    def approve_release(self, *, release_id: int, now: float, actor: str) -> QuarantineRelease:
        with self._tx() as cur:
            self._lock_releases(cur)
            row = self._x(
                cur,
                f"SELECT {_RELEASE_COLS} FROM quarantine_releases WHERE id = ?{self.for_update}",
                (release_id,),
            ).fetchone()
            if row is None:
                raise NotFound(f"no quarantine release {release_id}")
            release = QuarantineRelease(*row)
            if release.approved_by is not None:
                raise Refused(f"release {release_id} was approved already; one approval is all")
            if same_person(release.requested_by, actor):
                raise Refused(
                    f"release {release_id} was requested by {release.requested_by}; a second "
                    "operator approves"
                )
            positions = [
                r[0]
                for r in self._x(
                    cur,
                    "SELECT pos FROM messages WHERE sender = ? AND quarantined = 1 AND pos <= ?",
                    (release.partner, release.up_to_pos),
                ).fetchall()
            ]
            if release.messages and not positions:
                # A later release, approved first, released all it was asked for: approving it
                # would release nothing and write its count as 0 (a review approved one).
                later = self._x(
                    cur,
                    "SELECT MIN(id) FROM quarantine_releases WHERE partner = ? AND id > ? "
                    "AND approved_by IS NOT NULL",
                    (release.partner, release_id),
                ).fetchone()[0]
                by = f"release {later}" if later is not None else "a later release"
                raise Refused(
                    f"release {release_id} has nothing left to release: {by} released its "
                    f"{release.messages} message{'s' if release.messages != 1 else ''} already; "
                    "nothing changed"
                )
            ids: list[int] = []
            for chunk in _chunks(positions):
                marks = ",".join("?" * len(chunk))
                self._x(cur, f"UPDATE messages SET quarantined = 2 WHERE pos IN ({marks})", chunk)
                ids.extend(
                    r[0]
                    for r in self._x(
                        cur,
                        f"SELECT id FROM deliveries WHERE pos IN ({marks}) AND quarantined = 1",
                        chunk,
                    ).fetchall()
                )
                self._x(
                    cur,
                    "UPDATE deliveries SET quarantined = 0, updated_at = ? "
                    f"WHERE pos IN ({marks}) AND quarantined = 1",
                    (now, *chunk),
                )
            self._trail(cur, ids, now, "released", actor, f"quarantine release {release_id}")
            # What it released: a later release approved first may have taken some or all of
            # what this one was asked for.
            self._x(
                cur,
                "UPDATE quarantine_releases SET approved_by = ?, approved_at = ?, messages = ? "
                "WHERE id = ?",
                (actor, now, len(positions), release_id),
            )
        return QuarantineRelease(  # type: ignore[call-arg]
            *row[:3], len(positions), *row[4:8], actor, now
        )

    def releases(
        self, *, partner: str | None, release_id: int | None = None
    ) -> list[QuarantineRelease]:
        """A partner's releases (or all), or with ``release_id`` that one (or none)."""
        where: list[str] = []
        params: list[object] = []
        if partner is not None:
            where.append("partner = ?")
            params.append(partner)
        if release_id is not None:
            where.append("id = ?")
            params.append(release_id)
        sql = f"SELECT {_RELEASE_COLS} FROM quarantine_releases"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._tx() as cur:
            rows = self._x(cur, f"{sql} ORDER BY id", params).fetchall()
        return [QuarantineRelease(*r) for r in rows]

    # -- partner keys and signed bundles --------------------------------------------------------

    def set_partner_key(self, *, partner: str, public_key: str, now: float, actor: str) -> None:
        with self._tx() as cur:
            self._x(
                cur,
                "INSERT INTO partner_keys (partner, public_key, registered_at, registered_by) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (partner) DO UPDATE SET "
                "public_key = excluded.public_key, registered_at = excluded.registered_at, "
                "registered_by = excluded.registered_by",
                (partner, public_key, now, actor),
            )

    def partner_keys(self) -> dict[str, str]:
        with self._tx() as cur:
            rows = self._x(cur, "SELECT partner, public_key FROM partner_keys").fetchall()
        return {r[0]: r[1] for r in rows}

    def _last_bundle(self, cur: Cursor, source: str) -> tuple[int, str | None] | None:
        bundle = self._x(
            cur,
            "SELECT last_sequence, digest FROM bundle_imports WHERE source = ? "
            "ORDER BY last_sequence DESC LIMIT 1",
            (source,),
        ).fetchone()
        seq = self._x(
            cur, "SELECT contiguous FROM sequences WHERE source = ?", (source,)
        ).fetchone()
        contiguous = int(seq[0]) if seq is not None else 0
        if bundle is None:
            return (contiguous, None) if contiguous > 0 else None
        held = max(int(bundle[0]), contiguous)
        # The digest links the next bundle only when the last bundle ends where the exchange's
        # gap-free run ends; messages forwarded online after it leave nothing to link to.
        return (held, bundle[1] if int(bundle[0]) == held else None)

    def last_bundle(self, source: str) -> tuple[int, str | None] | None:
        """(the highest sequence the exchange holds without a gap, the digest of the last
        bundle imported for this source), or None when it has nothing from the source."""
        with self._tx() as cur:
            return self._last_bundle(cur, source)

    def import_bundle(
        self, request: AcceptRequest, record: BundleImport, *, now: float
    ) -> AcceptOutcome:
        """Store a verified bundle's events and the record of its import, or nothing."""
        with self._tx() as cur:
            self._lock_partitions(cur, [("bundle", record.source)])
            if self._x(
                cur, "SELECT 1 FROM bundle_imports WHERE digest = ?", (record.digest,)
            ).fetchone():
                raise AlreadyExists(f"bundle {record.digest} was imported before")
            last = self._last_bundle(cur, record.source)
            if last is not None and record.first_sequence <= last[0]:
                raise AlreadyExists(
                    f"the exchange already holds {record.source} up to sequence {last[0]}"
                )
            ctx = self._accept_context(cur)
            outcome = self._accept_guarded(cur, request, now, ctx)
            if outcome.rejected:
                return outcome
            self._x(
                cur,
                "INSERT INTO bundle_imports (digest, source, first_sequence, last_sequence, "
                "events, imported_at, imported_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.digest,
                    record.source,
                    record.first_sequence,
                    record.last_sequence,
                    record.events,
                    record.imported_at,
                    record.imported_by,
                ),
            )
        return outcome
