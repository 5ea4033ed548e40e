"""A message's trail in SQL, with the changes that held, opened, quarantined and released it.

The steps of a delivery (leases, acks, failures, re-sends) are rows in `trail`. Holds are not:
they follow from the history of channel rules (`channel_events`) and partner states
(`partner_events`), which `store.holds` replays for each delivery. The queries read one
message's deliveries, and for each only the changes that match it: the latest change of each
matching rule key up to its accept, and what changed while it could still wait.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

from ketenherstel.store import holds
from ketenherstel.store._sql_deliver import DeliverySql
from ketenherstel.store._sqlbase import Cursor
from ketenherstel.store.ports import TrailCause, TrailEntry
from ketenherstel.store.rules import PROCESS_PREFIX

# Changes replayed for one delivery after its accept: far more than any outage makes, and a
# bound on what one trail reads.
MAX_CHANGES = 5_000

_CHANNEL_COLS = "id, receiver, sender, scope, state, rate, reason, at, actor"
_PARTNER_COLS = "id, partner, state, reason, at, actor"
_MATCH = "receiver IN (?, '*') AND sender IN (?, '*') AND scope IN ('*', ?, ?)"


def _channel(r: Sequence[Any]) -> TrailCause:
    return TrailCause(
        "channel", r[0], r[7], r[8], r[6], r[4], receiver=r[1], sender=r[2], scope=r[3], rate=r[5]
    )


def _partner(r: Sequence[Any], *, side: Literal["receiver", "sender"]) -> TrailCause:
    """A partner's state change, as the receiver whose deliveries wait or the sender whose
    messages wait."""
    cause = TrailCause("partner", r[0], r[4], r[5], r[3], r[2])
    if side == "receiver":
        return dataclasses.replace(cause, receiver=r[1])
    return dataclasses.replace(cause, sender=r[1])


def _match(d: holds.HeldDelivery) -> tuple[str, str, str, str]:
    return (d.receiver, d.sender, d.type, PROCESS_PREFIX + d.process)


class TrailSql(DeliverySql):
    """`trail` with the holds and releases of each delivery."""

    def trail(self, position: int) -> list[TrailEntry]:
        entries = super().trail(position)
        if not entries:
            return entries
        extra: list[tuple[int, TrailEntry]] = []
        release: TrailCause | None = None
        with self._tx() as cur:
            msg = self._x(
                cur,
                "SELECT sender, received_at, quarantined FROM messages WHERE pos = ?",
                (position,),
            ).fetchone()
            if msg is None:
                return entries
            sender, received_at, quarantined = msg[0], msg[1], int(msg[2])
            if quarantined:
                cause = self._partner_before(cur, sender, received_at, side="sender")
                if cause is not None and cause.state == "online":
                    cause = None
                extra.append(
                    (holds.PHASE_QUARANTINED, holds.quarantined(received_at, sender, cause))
                )
            if quarantined == 2:
                release = self._release_of(cur, position, sender, received_at)
            for row in self._x(
                cur,
                "SELECT id, receiver, sender, type, process, created_at, state, updated_at "
                "FROM deliveries WHERE pos = ? ORDER BY id",
                (position,),
            ).fetchall():
                d = holds.HeldDelivery(*row[:6])
                end = row[7] if row[6] in ("acked", "dead") else None
                changes, complete = self._changes_while_waiting(cur, d, end)
                extra.extend(
                    holds.delivery_holds(
                        d,
                        rules_before=self._rules_before(cur, d),
                        receiver_before=self._partner_before(
                            cur, d.receiver, d.created_at, side="receiver"
                        ),
                        changes=changes,
                        steps=[e for e in entries if e.delivery_id == d.id],
                        complete=complete,
                    )
                )
        if release is not None:
            entries = [
                dataclasses.replace(e, cause=release)
                if e.event == "released" and e.cause is None
                else e
                for e in entries
            ]
        return holds.merge(entries, extra)

    def _rules_before(self, cur: Cursor, d: holds.HeldDelivery) -> list[TrailCause]:
        """The latest change of each rule key matching the delivery, made up to its accept."""
        rows = self._x(
            cur,
            f"SELECT {_CHANNEL_COLS} FROM channel_events WHERE id IN (SELECT MAX(id) "
            f"FROM channel_events WHERE {_MATCH} AND at <= ? GROUP BY receiver, sender, scope) "
            "ORDER BY id",
            (*_match(d), d.created_at),
        ).fetchall()
        return [_channel(r) for r in rows]

    def _partner_before(
        self, cur: Cursor, partner: str, at: float, *, side: Literal["receiver", "sender"]
    ) -> TrailCause | None:
        """The partner's latest state change made up to `at`."""
        row = self._x(
            cur,
            f"SELECT {_PARTNER_COLS} FROM partner_events WHERE partner = ? AND at <= ? "
            "ORDER BY id DESC LIMIT 1",
            (partner, at),
        ).fetchone()
        return None if row is None else _partner(row, side=side)

    def _changes_while_waiting(
        self, cur: Cursor, d: holds.HeldDelivery, end: float | None
    ) -> tuple[list[TrailCause], bool]:
        """Matching channel changes and the receiver's state changes after the accept, up to
        the delivery's ack or dead letter: each kind in the order made, at most MAX_CHANGES."""
        until, bound = ("AND at <= ? ", (end,)) if end is not None else ("", ())
        channel = [
            _channel(r)
            for r in self._x(
                cur,
                f"SELECT {_CHANNEL_COLS} FROM channel_events WHERE {_MATCH} AND at > ? "
                f"{until}ORDER BY id LIMIT ?",
                (*_match(d), d.created_at, *bound, MAX_CHANGES + 1),
            ).fetchall()
        ]
        partner = [
            _partner(r, side="receiver")
            for r in self._x(
                cur,
                f"SELECT {_PARTNER_COLS} FROM partner_events WHERE partner = ? AND at > ? "
                f"{until}ORDER BY id LIMIT ?",
                (d.receiver, d.created_at, *bound, MAX_CHANGES + 1),
            ).fetchall()
        ]
        complete = len(channel) <= MAX_CHANGES and len(partner) <= MAX_CHANGES
        if not complete:
            # Cut both kinds at the same instant, so that what is replayed is a true prefix.
            cut = min(
                kind[MAX_CHANGES - 1].at if len(kind) > MAX_CHANGES else float("inf")
                for kind in (channel, partner)
            )
            channel = [c for c in channel[:MAX_CHANGES] if c.at <= cut]
            partner = [c for c in partner[:MAX_CHANGES] if c.at <= cut]
        return channel + partner, complete

    def _release_of(
        self, cur: Cursor, position: int, sender: str, received_at: float
    ) -> TrailCause | None:
        """The approved release that let the message out of quarantine: the first approved
        one that covered its position."""
        row = self._x(
            cur,
            "SELECT id, partner, reason, requested_by, approved_by, approved_at "
            "FROM quarantine_releases WHERE partner = ? AND up_to_pos >= ? "
            "AND approved_at IS NOT NULL AND approved_at >= ? ORDER BY approved_at, id LIMIT 1",
            (sender, position, received_at),
        ).fetchone()
        if row is None:
            return None
        return TrailCause(
            "quarantine-release",
            row[0],
            row[5],
            row[4],
            row[2],
            "released",
            sender=row[1],
            requested_by=row[3],
        )
