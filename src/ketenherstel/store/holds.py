"""Which recorded changes held a delivery and which opened it (pure, no I/O).

A delivery's `held` flag is computed at accept from the rules in force, and again by every
later change of a matching rule or of its receiver's state while the delivery is pending
(decision 0008). The history tables keep every change, so a message's trail can replay them
for each of its deliveries and name the change that held it and the change that opened it:

- Only changes that match the delivery can touch it. A rule a change removes is narrower than
  the change (`rules.replaces`), so it matches only what the change matches: replaying the
  matching changes alone yields exactly the matching rules in force.
- The rules in force at accept are the latest change of each matching rule key up to then,
  replayed in the order they were made (a later, broader change removes a narrower rule).
- While a delivery is acked or dead-lettered, changes move the rules but not its flag; a
  re-send keeps the flag it had.
- Channel changes sort before partner changes made at the same instant (isolating a partner
  records its held rules first), and both before the delivery's own steps at that instant.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ketenherstel.store.ports import TrailCause, TrailEntry
from ketenherstel.store.rules import ANY, Rule, RuleSet, replaces

# Where an entry goes among entries of the same instant.
PHASE_ACCEPTED = 0
PHASE_QUARANTINED = 1
PHASE_ROUTED = 2
PHASE_CHANGE = 3
PHASE_STEP = 4
PHASE_PURGED = 5

_ENDS = {"acked": False, "dead-lettered": False, "resent": True}

_Key = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class HeldDelivery:
    """What decides whether a delivery is held: its group and when it was made."""

    id: int
    receiver: str
    sender: str
    type: str
    process: str
    created_at: float


@dataclass(frozen=True, slots=True)
class _Step:
    at: float
    pending: bool


_Timed = tuple[float, int, "TrailCause | _Step"]


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(cause: TrailCause, *, since: bool = False) -> str:
    """One line an operator reads: what the change was and why."""
    when = f" since {_iso(cause.at)}" if since else ""
    if cause.kind == "channel":
        rate = f" at {cause.rate:g}/s" if cause.rate is not None else ""
        what = f"channel {cause.sender}->{cause.receiver} [{cause.scope}] {cause.state}{rate}"
    elif cause.kind == "partner":
        what = f"partner {cause.receiver or cause.sender} {cause.state}"
    else:
        what = (
            f"quarantine release {cause.id} of {cause.sender}, asked by {cause.requested_by}, "
            f"approved by {cause.actor}"
        )
    return f"{what}{when}: {cause.reason}"


def _rule_key(change: TrailCause) -> _Key:
    return (change.receiver or ANY, change.sender or ANY, change.scope or ANY)


def _apply(rules: dict[_Key, TrailCause], change: TrailCause) -> None:
    key = _rule_key(change)
    for old in [k for k in rules if replaces(key, k)]:
        del rules[old]
    rules[key] = change


def _holder(
    d: HeldDelivery, rules: dict[_Key, TrailCause], isolation: TrailCause | None
) -> TrailCause | None:
    """The change that holds the delivery now (the deciding held rule first), or None."""
    ruleset = RuleSet(tuple(Rule(*k, c.state == "held", c.rate) for k, c in rules.items()))
    best = ruleset.deciding(d.receiver, d.sender, d.type, d.process)
    if best is not None and best.held:
        return rules[best.key]
    return isolation


def delivery_holds(
    d: HeldDelivery,
    *,
    rules_before: Sequence[TrailCause],
    receiver_before: TrailCause | None,
    changes: Iterable[TrailCause],
    steps: Sequence[TrailEntry],
    complete: bool = True,
) -> list[tuple[int, TrailEntry]]:
    """The held and opened entries of one delivery, each with its phase.

    rules_before: the latest change of each matching rule key made up to `created_at`, in the
    order made. receiver_before: the receiver's latest state change up to then. changes: the
    matching channel changes and the receiver's state changes after `created_at` while the
    delivery could still wait, each kind in the order made. steps: the delivery's own trail
    entries. complete: False when `changes` was cut short at a limit.
    """
    rules: dict[_Key, TrailCause] = {}
    for change in rules_before:
        _apply(rules, change)
    isolation = (
        receiver_before
        if receiver_before is not None and receiver_before.state == "isolated"
        else None
    )
    out: list[tuple[int, TrailEntry]] = []
    holder = _holder(d, rules, isolation)
    if holder is not None:
        entry = TrailEntry(
            d.created_at,
            "held",
            d.id,
            d.receiver,
            holder.actor,
            describe(holder, since=True),
            holder,
        )
        out.append((PHASE_CHANGE, entry))
    held, pending = holder is not None, True
    channel: Iterator[_Timed] = ((c.at, 0, c) for c in changes if c.kind == "channel")
    partner: Iterator[_Timed] = ((c.at, 1, c) for c in changes if c.kind == "partner")
    ends: Iterator[_Timed] = (
        (s.at, 2, _Step(s.at, _ENDS[s.event])) for s in steps if s.event in _ENDS
    )
    last = d.created_at
    for at, _, item in heapq.merge(channel, partner, ends, key=lambda t: (t[0], t[1])):
        last = max(last, at)
        if isinstance(item, _Step):
            resumed = item.pending and not pending
            pending = item.pending
            if resumed:  # re-sent: the rules in force decide again (the store re-holds it)
                holder = _holder(d, rules, isolation)
                if (holder is not None) != held:
                    held = holder is not None
                    out.append((PHASE_STEP, _resent_entry(d, at, holder)))
            continue
        if item.kind == "channel":
            _apply(rules, item)
        else:
            isolation = item if item.state == "isolated" else None
        if not pending:
            continue
        holder = _holder(d, rules, isolation)
        if (holder is not None) == held:
            continue
        held = holder is not None
        detail = describe(item)
        if holder is not None and holder is not item:
            detail += f"; held by {describe(holder, since=True)}"
        event = "held" if held else "opened"
        out.append(
            (PHASE_CHANGE, TrailEntry(at, event, d.id, d.receiver, item.actor, detail, item))
        )
    if not complete:
        note = (
            "the channel and partner history of this delivery is longer than a trail shows; "
            "later holds and openings are left out"
        )
        out.append(
            (
                PHASE_CHANGE,
                TrailEntry(last, "history-truncated", d.id, d.receiver, "exchange", note),
            )
        )
    return out


def _resent_entry(d: HeldDelivery, at: float, holder: TrailCause | None) -> TrailEntry:
    """A re-sent dead letter meets the rules in force: held by one, or no longer held."""
    if holder is not None:
        detail = f"re-sent into a hold: {describe(holder, since=True)}"
        return TrailEntry(at, "held", d.id, d.receiver, holder.actor, detail, holder)
    detail = "re-sent; the hold it had before it was dead-lettered is gone"
    return TrailEntry(at, "opened", d.id, d.receiver, "exchange", detail)


def quarantined(received_at: float, sender: str, cause: TrailCause | None) -> TrailEntry:
    """The message was stored in quarantine: its sender was isolated or returning."""
    why = describe(cause, since=True) if cause is not None else f"{sender} was dark"
    return TrailEntry(
        received_at,
        "quarantined",
        None,
        None,
        cause.actor if cause is not None else "exchange",
        f"{why}; waits for a release by two operators",
        cause,
    )


def _phase(entry: TrailEntry) -> int:
    if entry.event == "accepted":
        return PHASE_ACCEPTED
    if entry.event == "routed":
        return PHASE_ROUTED
    if entry.event == "purged":
        return PHASE_PURGED
    return PHASE_STEP


def merge(base: Sequence[TrailEntry], extra: Iterable[tuple[int, TrailEntry]]) -> list[TrailEntry]:
    """The trail's own entries in their order, with the extra entries placed by time (and by
    phase within one instant)."""
    added = sorted(extra, key=lambda p: (p[1].at, p[0], p[1].delivery_id or 0))
    out: list[TrailEntry] = []
    i = 0
    for entry in base:
        while i < len(added) and (added[i][1].at, added[i][0]) < (entry.at, _phase(entry)):
            out.append(added[i][1])
            i += 1
        out.append(entry)
    out.extend(p[1] for p in added[i:])
    return out
