"""The timeline drawn on every chart and the recovery matrix (decision 0013).

The matrix has a cell per partner and channel: each process the partner sends or receives on,
plus ``email`` and ``telefoon``, which only people can judge and set by hand with a reason. An
exchange cell is derived per day from the store: ``down`` while the partner is isolated,
``manual`` if an interim procedure for the process was in force then, ``draining`` once it is
back while something on the process has waited longer than a day, ``normal`` otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ketenherstel.chain.model import Chain
from ketenherstel.picture.db import HandStatus
from ketenherstel.picture.series import TZ, Snapshot, View
from ketenherstel.store.manual_ports import InterimProcedure
from ketenherstel.store.ports import ChannelRecord, PartnerStateRecord, RouteRecord

__all__ = [
    "HAND_CHANNELS",
    "STATES",
    "Cell",
    "Change",
    "Event",
    "Matrix",
    "build_matrix",
    "hand_changes",
    "timeline",
]

STATES = {
    "down": "Storing",
    "manual": "Handmatige omweg",
    "draining": "Hersteld, achterstand loopt terug",
    "normal": "Normaal",
}
HAND_CHANNELS = {"email": "E-mail", "telefoon": "Telefoon"}
_DRAINING_HOURS = 24.0
_WAVE = re.compile(r"go-live plan (?P<plan>[^,]+), step (?P<step>[^:]+)")
# The names the built-in plans give their steps (golive/plans/*.yaml): `wave-<n>` and the last,
# `restored`. An operator's plan names its waves as it likes; those names are shown as written.
_NUMBERED_WAVE = re.compile(r"wave-(?P<n>[0-9]+)")
_NAMED_STEPS = {"restored": "hersteld"}


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened, drawn on the charts: ``kind`` is partner, wave, route,
    procedure or status. ``detail`` is why, where a record says so (a hand-set status, an
    emergency route's opening or closing): shown in the timeline's table, not on the charts."""

    at: float
    kind: str
    label: str
    detail: str = ""


def timeline(
    chain: Chain,
    partner_events: Sequence[PartnerStateRecord],
    channel_events: Sequence[ChannelRecord],
    routes: Sequence[RouteRecord],
    procedures: Sequence[InterimProcedure],
    statuses: Sequence[HandStatus],
) -> list[Event]:
    """The events in time order, labelled in Dutch; a go-live wave is drawn once, at its first
    channel change."""
    names = {p.key: p.name for p in chain.partners}
    short = {p.key: p.key.upper() if len(p.key) <= 4 else p.name for p in chain.partners}
    out: list[Event] = []
    verbs = {"isolated": "afgesloten", "returning": "keert terug", "online": "weer online"}
    for e in partner_events:
        out.append(
            Event(
                e.changed_at,
                "partner",
                f"{short.get(e.partner, e.partner)} {verbs.get(e.state, e.state)}",
                # Not its reason: written in English through the API or the command line, it
                # may name operators (a release from quarantine names both), which viewers
                # may not see; a hand-set status's reason is checked for names where it is
                # typed.
            )
        )
    waves: dict[str, float] = {}
    for c in channel_events:
        m = _WAVE.match(c.reason)
        if m is None or m["step"] == "isolation":
            continue
        waves[m["step"]] = min(waves.get(m["step"], c.changed_at), c.changed_at)
    out.extend(Event(at, "wave", _wave_label(step)) for step, at in waves.items())
    for r in routes:
        label = f"spoedroute {short.get(r.sender, r.sender)} → {names.get(r.receiver, r.receiver)}"
        out.append(Event(r.opened_at, "route", f"{label} open", r.reason))
        if r.closed_at is not None:
            # A route closed before migration 0013 has no reason on record.
            out.append(Event(r.closed_at, "route", f"{label} dicht", r.closed_reason or ""))
    first_procedure: dict[str, float] = {}
    for p in procedures:
        first_procedure[p.process] = min(first_procedure.get(p.process, p.valid_from), p.valid_from)
    if first_procedure:
        at = min(first_procedure.values())
        out.append(Event(at, "procedure", "werkprocessen in de tussentijd"))
    for s in hand_changes(statuses):
        channel = HAND_CHANNELS.get(s.channel, s.channel)
        out.append(
            Event(
                s.at,
                "status",
                f"{short.get(s.partner, s.partner)} {channel.lower()}: "
                f"{STATES.get(s.state, s.state).lower()}",
                s.reason,
            )
        )
    out.sort(key=lambda e: (e.at, e.kind, e.label))
    return out


def _wave_label(step: str) -> str:
    """A go-live step in Dutch: ``wave-2`` is ``golf 2``, ``restored`` is ``hersteld``; a name
    of the operator's own (``fase A``) is kept as written, as ``golf fase A``."""
    if step in _NAMED_STEPS:
        return _NAMED_STEPS[step]
    numbered = _NUMBERED_WAVE.fullmatch(step)
    if numbered is not None:
        return f"golf {int(numbered['n'])}"
    return f"golf {step}"


@dataclass(frozen=True, slots=True)
class Change:
    at: float
    partner: str
    channel: str
    state: str
    reason: str


@dataclass(frozen=True, slots=True)
class Cell:
    partner: str
    channel: str
    label: str
    state: str
    since: float | None
    reason: str
    backlog: int
    forecast: date | None
    """When the backlog is expected to be gone, from the last week's net outflow."""
    hand_set: bool


@dataclass(frozen=True, slots=True)
class Matrix:
    as_of: float
    partners: tuple[str, ...]
    cells: tuple[Cell, ...]
    changes: tuple[Change, ...]  # newest first

    def cell(self, partner: str, channel: str) -> Cell | None:
        for c in self.cells:
            if c.partner == partner and c.channel == channel:
                return c
        return None


def _state_at(events: Sequence[PartnerStateRecord], at: float) -> str:
    state = "online"
    for e in events:
        if e.changed_at <= at:
            state = e.state
        else:
            break
    return state


def _procedure_at(procedures: Sequence[InterimProcedure], process: str, at: float) -> bool:
    return any(
        p.process == process and p.valid_from <= at and (p.retired_at is None or at < p.retired_at)
        for p in procedures
    )


def forecast(view: View, as_of: float) -> date | None:
    """The day the backlog is expected to be gone at the last week's net outflow."""
    if view.backlog_now <= 0 or len(view.backlog) < 8:
        return None
    drained = view.backlog[-8] - view.backlog[-1]
    if drained <= 0:
        return None
    days = view.backlog_now / (drained / 7)
    return (datetime.fromtimestamp(as_of, TZ) + timedelta(days=days)).date()


def build_matrix(
    snap: Snapshot,
    chain: Chain,
    partner_events: Sequence[PartnerStateRecord],
    procedures: Sequence[InterimProcedure],
    statuses: Sequence[HandStatus],
) -> Matrix:
    proc_names = {p.key: p.name for p in chain.processes}
    events_of: dict[str, list[PartnerStateRecord]] = {}
    for e in sorted(partner_events, key=lambda e: e.changed_at):
        events_of.setdefault(e.partner, []).append(e)
    cells: list[Cell] = []
    changes: list[Change] = []
    partners = snap.partners()
    for partner in partners:
        processes = sorted(
            {snap.process_of.get(t, "") for s, r, t in snap.per_key if partner in (s, r)} - {""}
        )
        for process in processes:
            keys = [
                k
                for k in snap.per_key
                if partner in (k[0], k[1]) and snap.process_of.get(k[2]) == process
            ]
            view = snap.view_of(f"partner:{partner}|process:{process}", keys)
            previous: str | None = None
            since: float | None = None
            reason = ""
            causes = sorted(
                [e.changed_at for e in events_of.get(partner, [])]
                + [p.valid_from for p in procedures if p.process == process]
                + [p.retired_at for p in procedures if p.process == process and p.retired_at]
            )
            start = snap.ends[0] - 86400 * 2  # before the first day
            for i, day in enumerate(view.days):
                end = snap.ends[i] if i < len(view.days) - 1 else snap.as_of
                # The state just after each partner event or interim procedure of the day, and
                # at the day's end: an outage that began and ended within one day is a change
                # too, dated by its own events.
                for point in [t for t in causes if start < t < end] + [end]:
                    state, why = _exchange_state(
                        events_of.get(partner, []), procedures, process, point, view.oldest_hours[i]
                    )
                    if state == previous:
                        continue
                    # When a partner event or an interim procedure caused it: its own time;
                    # a backlog that drained: the day.
                    at = (
                        point
                        if point < end
                        or (point in causes and state in ("down", "manual", "normal"))
                        else datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp()
                    )
                    if previous is not None:
                        changes.append(Change(at, partner, process, state, why))
                    previous, since, reason = state, at, why
                start = end
            cells.append(
                Cell(
                    partner=partner,
                    channel=process,
                    label=proc_names.get(process, process),
                    state=previous or "normal",
                    since=since,
                    reason=reason,
                    backlog=view.backlog_now,
                    forecast=forecast(view, snap.as_of),
                    hand_set=False,
                )
            )
    hand: dict[tuple[str, str], HandStatus] = {}  # the latest, for its reason
    since_of: dict[tuple[str, str], float] = {}  # when its state began
    for s in hand_changes(statuses):
        changes.append(Change(s.at, s.partner, s.channel, s.state, s.reason))
        since_of[(s.partner, s.channel)] = s.at
    for s in sorted(statuses, key=lambda s: (s.at, s.id)):
        hand[(s.partner, s.channel)] = s
    for (partner, channel), s in sorted(hand.items()):
        cells.append(
            Cell(
                partner=partner,
                channel=channel,
                label=HAND_CHANNELS.get(channel, channel),
                state=s.state,
                since=since_of[(partner, channel)],
                reason=s.reason,
                backlog=0,
                forecast=None,
                hand_set=True,
            )
        )
    all_partners = sorted({c.partner for c in cells})
    changes.sort(key=lambda c: (c.at, c.partner, c.channel), reverse=True)
    return Matrix(snap.as_of, tuple(all_partners), tuple(cells), tuple(changes))


def hand_changes(statuses: Sequence[HandStatus]) -> list[HandStatus]:
    """The hand-set statuses that changed their channel's state, in time order. Setting the
    state a channel already has (a new reason, or a confirmation) is kept in the register and
    its reason shown, but it is not a change: the status page, its feed and the charts do not
    list it."""
    out: list[HandStatus] = []
    current: dict[tuple[str, str], str] = {}
    for s in sorted(statuses, key=lambda s: (s.at, s.id)):
        if current.get((s.partner, s.channel)) != s.state:
            out.append(s)
        current[(s.partner, s.channel)] = s.state
    return out


def _exchange_state(
    events: Sequence[PartnerStateRecord],
    procedures: Sequence[InterimProcedure],
    process: str,
    at: float,
    oldest_hours: float | None,
) -> tuple[str, str]:
    if _state_at(events, at) == "isolated":
        if _procedure_at(procedures, process, at):
            return "manual", "partner afgesloten; werkproces in de tussentijd van kracht"
        return "down", "partner afgesloten van de uitwisseling"
    if oldest_hours is not None and oldest_hours > _DRAINING_HOURS:
        return "draining", f"oudste wachtende bericht {oldest_hours:.0f} uur oud"
    return "normal", "niets wacht langer dan een dag"
