"""A go-live plan as values: who is isolated, which priorities were agreed, the waves.

Build one with :func:`ketenherstel.golive.plan.load_plan`. The plan's view of the exchange:

- from ``isolation.at`` on, everything to and from each isolated partner is held: the held rules
  ``(partner, *, *)`` and ``(*, partner, *)``; a channel a wave opens overrides them where it is
  more specific (it names both partners, or a scope), and on a tie held wins (see
  :mod:`ketenherstel.golive.channels`);
- an isolated partner's own traffic is also quarantined: even on an opened channel it stays held
  until a wave lists the partner under ``release_quarantine`` (or brings it ``online``);
- ``online: [partner]`` ends the isolation: its held rules and its quarantine are gone, so every
  channel to and from it is open; rates set by earlier waves stay in force;
- a wave that opens a channel already opened sets its rate anew (no rate: no limit of its own).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ketenherstel.golive.channels import (
    ANY,
    ChannelRule,
    Decision,
    Flow,
    RuleState,
    decide,
    merge,
)

__all__ = [
    "FIRST_DAY",
    "ISOLATION_STEP",
    "LAST_DAY",
    "ChannelOpening",
    "Isolation",
    "Plan",
    "PlanState",
    "PriorityDecision",
    "Wave",
    "outside_dates",
    "with_offset",
]

ISOLATION_STEP = "isolation"
"""The name of the step that isolates the plan's partners (`plan steps`, `plan apply`); the
waves have their own names, and none may be this one."""

# A go-live, a forecast or an outage is dated in this range; a date outside it (a year typed as
# 0001 or 9999) is a typo, and one the forecast and the store cannot count from. The registry
# bounds its facts the same way (`registry.model._LAST_FACT_DATE`), the picture its registers
# (`picture.service.EARLIEST`).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2199, 12, 31)


@functools.cache
def _amsterdam() -> ZoneInfo:
    """Europe/Amsterdam, loaded on first use (never at import time)."""
    return ZoneInfo("Europe/Amsterdam")


def with_offset(text: str) -> str:
    """``text`` (a date-time or a date without a UTC offset) as it would be written with the
    Dutch summer offset: what a refusal suggests. A plain date gets a time first: Python reads
    ``2025-08-18+02:00`` as two o'clock local time, again without an offset."""
    stripped = text.strip()
    if "T" not in stripped.upper() and " " not in stripped:
        return f"{stripped}T00:00+02:00"
    return f"{stripped}+02:00"


def outside_dates(value: date | datetime) -> str | None:
    """Why a date cannot be meant (it lies outside FIRST_DAY to LAST_DAY), or None.

    A moment with an offset must lie in the range both as written and in Amsterdam time, as
    paper work's dates must (`manual._dates.outside_dates`): an offset could push a moment
    written 2199-12-31 into 2200 (`2199-12-31T23:59:59-23:59` is 1 January 2200 in UTC), which
    a forecast or a scenario run would then count to and store.
    """
    taken = f"the dates taken here ({FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()})"
    day = value.date() if isinstance(value, datetime) else value
    if not FIRST_DAY <= day <= LAST_DAY:
        return f"{value.isoformat()} lies {'before' if day < FIRST_DAY else 'after'} {taken}"
    if not isinstance(value, datetime) or value.tzinfo is None:
        return None
    day = value.astimezone(_amsterdam()).date()
    if not FIRST_DAY <= day <= LAST_DAY:
        side = "before" if day < FIRST_DAY else "after"
        return (
            f"{value.isoformat()} is {day.isoformat()} in Amsterdam time, which lies {side} {taken}"
        )
    return None


@dataclass(frozen=True, slots=True)
class ChannelOpening:
    """A channel a wave opens, with its rate in messages per second (None: no limit of its own)."""

    rule: ChannelRule
    rate: float | None = None
    note: str | None = None

    @property
    def label(self) -> str:
        """``sender->receiver``, with the scope in brackets unless it is ``*``."""
        return self.rule.label


@dataclass(frozen=True, slots=True)
class Wave:
    """One step of the go-live, at one moment."""

    name: str
    at: datetime
    opens: tuple[ChannelOpening, ...] = ()
    note: str | None = None
    release_quarantine: tuple[str, ...] = ()
    online: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Isolation:
    """Partners cut off at ``at``: everything to and from them held, their traffic quarantined."""

    partners: tuple[str, ...]
    at: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True)
class PriorityDecision:
    """An agreed priority: ``process`` comes back first; who agreed, when (``at``) and why."""

    process: str
    agreed_by: tuple[str, ...]
    at: date
    why: str


@dataclass(frozen=True, slots=True)
class PlanState:
    """The rules in force and the quarantined partners at one point of a plan."""

    states: tuple[RuleState, ...]
    quarantined: frozenset[str]

    def decide(self, flow: Flow, process: str) -> Decision:
        """How this point of the plan treats ``flow`` (whose type belongs to ``process``)."""
        decision = decide(flow, process, self.states)
        if not decision.held and flow.sender in self.quarantined:
            return Decision(True, decision.deciding, decision.limits, quarantined=True)
        return decision


@dataclass(frozen=True, slots=True)
class Plan:
    """A validated go-live plan; build one with :func:`load_plan`."""

    name: str
    description: str
    isolation: Isolation | None
    priorities: tuple[PriorityDecision, ...]
    waves: tuple[Wave, ...]
    source: str | None = None

    def wave(self, name: str) -> Wave:
        """The wave called ``name``; raises ``KeyError`` when there is none."""
        for wave in self.waves:
            if wave.name == name:
                return wave
        raise KeyError(f"the plan has no wave {name!r}")

    def changes(self) -> tuple[datetime, ...]:
        """The moments the plan changes something, in order: the isolation, then each wave."""
        moments = [self.isolation.at] if self.isolation else []
        return tuple(sorted({*moments, *(wave.at for wave in self.waves)}))

    def state_after(self, index: int) -> PlanState:
        """The plan after wave ``index`` (``-1``: isolated, before any wave)."""
        return self._state(range(index + 1), isolated=self.isolation is not None)

    def state_at(self, at: datetime) -> PlanState:
        """The plan in force at ``at``: the isolation from its moment, each wave from its own."""
        isolated = self.isolation is not None and at >= self.isolation.at
        waves = [i for i, wave in enumerate(self.waves) if wave.at <= at]
        return self._state(waves, isolated=isolated)

    def _state(self, indices: Iterable[int], *, isolated: bool) -> PlanState:
        chosen = [(i, self.waves[i]) for i in indices]
        online = {key for _, wave in chosen for key in wave.online}
        released = {key for _, wave in chosen for key in wave.release_quarantine}
        states: list[RuleState] = []
        quarantined: set[str] = set()
        if isolated and self.isolation is not None:
            for key in self.isolation.partners:
                if key in online:
                    continue
                origin = f"isolation of {key!r}"
                states.append(RuleState(ChannelRule(key, ANY), held=True, origin=origin))
                states.append(RuleState(ChannelRule(ANY, key), held=True, origin=origin))
                if key not in released:
                    quarantined.add(key)
        for i, wave in chosen:
            for j, opening in enumerate(wave.opens):
                origin = f"wave {wave.name!r}"
                states.append(RuleState(opening.rule, False, opening.rate, origin, (i, j)))
        return PlanState(merge(states), frozenset(quarantined))

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data (rates in messages per second, times in ISO 8601)."""
        isolation = None
        if self.isolation is not None:
            isolation = {
                "partners": list(self.isolation.partners),
                "at": self.isolation.at.isoformat(),
                "note": self.isolation.note,
            }
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "isolation": isolation,
            "priorities": [
                {
                    "process": d.process,
                    "agreed_by": list(d.agreed_by),
                    "at": d.at.isoformat(),
                    "why": d.why,
                }
                for d in self.priorities
            ],
            "waves": [
                {
                    "name": w.name,
                    "at": w.at.isoformat(),
                    "note": w.note,
                    "open": [
                        {
                            "receiver": o.rule.receiver,
                            "sender": o.rule.sender,
                            "scope": o.rule.scope,
                            "rate_per_second": o.rate,
                            "note": o.note,
                        }
                        for o in w.opens
                    ],
                    "release_quarantine": list(w.release_quarantine),
                    "online": list(w.online),
                }
                for w in self.waves
            ],
        }
