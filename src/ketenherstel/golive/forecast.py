"""A what-if forecast: for a plan and an inflow, when each channel's backlog is empty, and which
legal deadlines are missed on the way; afterwards, the forecast against what really happened.

The simulation is deterministic and pure. It steps the clock (an hour by default) from
``start``: a held flow accumulates, an open one drains at the rates that limit it, oldest first
within the priority order of :mod:`ketenherstel.golive.priority`. Messages are counted in
buckets per ``(flow, arrival step)``, never one by one, so a million-message backlog costs no
more than a small one. The model:

- a *channel* in the results is a ``sender->receiver`` pair; a *flow* one type on it;
- ``Backlog`` items waiting at ``start`` are spread evenly between ``oldest`` and ``start``
  (item *i* of *n* at ``oldest + i·(start - oldest)/n``) unless their ``arrivals`` are given;
- ``Inflow`` arrives evenly, ``per_day / 24`` an hour, stamped at the start of its step;
- every rule with a rate that matches a flow limits it, a rule's rate shared by the flows it
  matches; an open flow no rated rule matches takes its receiver's default rate (shared by all
  such flows of that receiver), or drains at once when the receiver has none;
- within a step, deliveries are spread over the step as the tightest rate is used up, so 100
  items at 10 an hour from ``t`` are delivered by ``t + 10h``;
- an item misses its deadline when it is delivered more than its process's legal deadline
  (``Deadline.delta``) after it arrived, or is still waiting that long at the end;
- per-case order (an item waiting for an earlier message of its own case) is not modelled.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ketenherstel.chain import Chain
from ketenherstel.golive._names import did_you_mean
from ketenherstel.golive.errors import ForecastInputError, PlanProblem
from ketenherstel.golive.model import Plan, outside_dates

__all__ = [
    "ActualPoint",
    "Backlog",
    "ChannelForecast",
    "Comparison",
    "DayPoint",
    "ForecastResult",
    "Inflow",
    "Missed",
    "check_flow",
    "compare",
    "forecast",
]


@dataclass(frozen=True, slots=True)
class Backlog:
    """``count`` messages of ``type`` from ``sender`` to ``receiver`` waiting at the start."""

    receiver: str
    sender: str
    type: str
    count: int
    oldest: datetime
    arrivals: tuple[datetime, ...] | None = None
    """When given, the arrival time of each item (``count`` of them)."""


@dataclass(frozen=True, slots=True)
class Inflow:
    """New messages of ``type`` from ``sender`` to ``receiver``: ``per_day`` a day."""

    receiver: str
    sender: str
    type: str
    per_day: float


@dataclass(frozen=True, slots=True)
class Missed:
    """Items of ``type`` that missed their legal deadline; ``first`` is when the first one did."""

    type: str
    count: float
    first: datetime


@dataclass(frozen=True, slots=True)
class DayPoint:
    """A channel on one (local) day: backlog at the day's end, arrived and delivered that day."""

    day: date
    backlog: float
    arrived: float
    delivered: float


@dataclass(frozen=True, slots=True)
class ChannelForecast:
    """What the forecast says about one ``sender->receiver`` channel."""

    sender: str
    receiver: str
    peak: float
    peak_at: datetime
    empty_at: datetime | None
    """When the backlog emptied for good; None when it is not empty at the horizon."""
    missed: tuple[Missed, ...]
    series: tuple[DayPoint, ...]
    arrived: float
    delivered: float
    remaining: float
    unlimited: bool = False
    """Some of it drained at once: open, with no rate in the plan and no default rate for its
    receiver (the forecast then knows no limit, and says so)."""

    @property
    def channel(self) -> str:
        """``sender->receiver``."""
        return f"{self.sender}->{self.receiver}"

    @property
    def missed_total(self) -> float:
        """Items that missed their deadline, all types together."""
        return sum(m.count for m in self.missed)


@dataclass(frozen=True, slots=True)
class ForecastResult:
    """The forecast of every channel that had a backlog or an inflow."""

    plan: str
    start: datetime
    until: datetime
    step: timedelta
    channels: tuple[ChannelForecast, ...]

    def channel(self, label: str) -> ChannelForecast:
        """The forecast of ``sender->receiver``; raises ``KeyError`` naming the known ones."""
        for channel in self.channels:
            if channel.channel == label:
                return channel
        known = ", ".join(c.channel for c in self.channels)
        raise KeyError(f"the forecast has no channel {label!r}; it has: {known}")

    def to_table(self) -> list[dict[str, Any]]:
        """One row per channel: peak, when, empty date, deadlines missed (for tables and CSV)."""
        rows = []
        for c in self.channels:
            first = min((m.first for m in c.missed), default=None)
            rows.append(
                {
                    "channel": c.channel,
                    "peak": round(c.peak),
                    "peak_at": c.peak_at.isoformat(timespec="minutes"),
                    "empty_at": c.empty_at.isoformat(timespec="minutes") if c.empty_at else None,
                    "missed": round(c.missed_total),
                    "first_missed": first.isoformat(timespec="minutes") if first else None,
                    "remaining": round(c.remaining),
                    "unlimited": c.unlimited,
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        """The whole forecast as JSON-ready data, the daily series included."""
        return {
            "plan": self.plan,
            "start": self.start.isoformat(),
            "until": self.until.isoformat(),
            "step_seconds": self.step.total_seconds(),
            "channels": [
                {
                    **row,
                    "arrived": round(c.arrived, 3),
                    "delivered": round(c.delivered, 3),
                    "missed_by_type": [
                        {"type": m.type, "count": round(m.count, 3), "first": m.first.isoformat()}
                        for m in c.missed
                    ],
                    "series": [
                        {
                            "day": p.day.isoformat(),
                            "backlog": round(p.backlog, 3),
                            "arrived": round(p.arrived, 3),
                            "delivered": round(p.delivered, 3),
                        }
                        for p in c.series
                    ],
                }
                for c, row in zip(self.channels, self.to_table(), strict=True)
            ],
        }


@dataclass(frozen=True, slots=True)
class ActualPoint:
    """A measured backlog of a ``sender->receiver`` channel at the end of ``day``."""

    sender: str
    receiver: str
    day: date
    backlog: float


@dataclass(frozen=True, slots=True)
class Comparison:
    """Forecast against actual for one channel; ``difference_days`` is actual minus forecast."""

    channel: str
    forecast_empty: date | None
    actual_empty: date | None
    difference_days: int | None = None


def check_flow(chain: Chain, receiver: str, sender: str, type_name: str) -> list[tuple[str, str]]:
    """Why ``(receiver, sender, type)`` is no flow of ``chain``, as (field, reason); [] if it is."""
    message_type = chain.message_type(type_name)
    partners = [p.key for p in chain.partners]
    found = []
    for name, key in (("receiver", receiver), ("sender", sender)):
        if key not in partners:
            found.append((name, f"unknown partner {key!r}{did_you_mean(key, partners)}"))
    if message_type is None:
        hint = did_you_mean(type_name, [mt.type for mt in chain.message_types])
        found.append(("type", f"unknown message type {type_name!r}{hint}"))
        return found
    if sender in partners and sender not in message_type.senders:
        found.append(
            (
                "sender",
                f"{sender!r} does not send {type_name}; its senders are: "
                + ", ".join(message_type.senders),
            )
        )
    if receiver in partners and receiver not in message_type.receivers:
        found.append(
            (
                "receiver",
                f"{receiver!r} does not receive {type_name}; its receivers are: "
                + ", ".join(message_type.receivers),
            )
        )
    return found


MAX_STEPS = 200_000
"""The most steps a forecast runs (a year in hours is 8,784; in 5-minute steps 105,408)."""

MAX_MESSAGES = 1_000_000_000
"""The most messages a backlog's count, an inflow a day or a measured backlog may give: the
whole chain carries about 750,000 messages in four months (the om-2025 scenario), so a figure
beyond a billion is a slip of the keyboard. Unbounded, an inflow of 1e308 a day summed to
infinity ('inf' in the table, a crash writing --json and --chart) and a count of 400 digits
could not be compared with a float; a billion a day for the longest forecast (366 days) stays
far inside a float's exact whole numbers."""


def forecast(
    plan: Plan,
    chain: Chain,
    *,
    start: datetime,
    backlog: Iterable[Backlog] = (),
    inflow: Iterable[Inflow] = (),
    default_rates: Mapping[str, float] | None = None,
    until: datetime | None = None,
    step: timedelta = timedelta(hours=1),
) -> ForecastResult:
    """Simulate ``plan`` from ``start`` (see the module docstring for the model).

    ``default_rates`` maps a receiver to the messages per second it takes on open channels no
    rated rule limits. ``until`` is the horizon; without one the forecast runs until every
    backlog is empty after the plan's last change (at most 366 days). Raises
    :class:`ForecastInputError` listing every bad input.
    """
    from ketenherstel.golive._simulate import simulate  # it builds this module's results

    backlog, inflow = list(backlog), list(inflow)
    rates = dict(default_rates or {})
    _check_inputs(chain, start, backlog, inflow, rates, until, step)
    return simulate(plan, chain, start, backlog, inflow, rates, until, step)


def compare(result: ForecastResult, actual: Iterable[ActualPoint]) -> list[Comparison]:
    """Per channel, the forecast empty date against the actual one (the first day from which the
    measured backlog stays 0; None when it never does)."""
    series: dict[str, list[ActualPoint]] = {}
    for point in actual:
        series.setdefault(f"{point.sender}->{point.receiver}", []).append(point)
    tz = result.start.tzinfo
    labels = [c.channel for c in result.channels]
    labels += sorted(label for label in series if label not in labels)
    found = []
    for label in labels:
        forecast_empty = None
        match = [c for c in result.channels if c.channel == label]
        if match and match[0].empty_at is not None:
            forecast_empty = match[0].empty_at.astimezone(tz).date()
        actual_empty = _empty_day(series.get(label, []))
        difference = None
        if forecast_empty is not None and actual_empty is not None:
            difference = (actual_empty - forecast_empty).days
        found.append(Comparison(label, forecast_empty, actual_empty, difference))
    return found


def _empty_day(points: Sequence[ActualPoint]) -> date | None:
    empty = None
    for point in sorted(points, key=lambda p: p.day):
        if point.backlog > 0:
            empty = None
        elif empty is None:
            empty = point.day
    return empty


def _check_inputs(
    chain: Chain,
    start: datetime,
    backlog: list[Backlog],
    inflow: list[Inflow],
    rates: dict[str, float],
    until: datetime | None,
    step: timedelta,
) -> None:
    problems: list[PlanProblem] = []

    def add(where: str, message: str) -> None:
        problems.append(PlanProblem(where, message))

    for name, moment in (("start", start), ("until", until)):
        why = None if moment is None else outside_dates(moment)
        if why is not None:
            add(name, why)
    if start.tzinfo is None:
        add("start", f"{start.isoformat()} has no UTC offset")
    elif until is not None and (until.tzinfo is None or until <= start):
        add("until", f"{until.isoformat()} must have a UTC offset and come after the start")
    if step <= timedelta(0) or timedelta(days=1) % step:
        add("step", f"{step} must be positive and divide a day (e.g. 1 hour, 15 minutes)")
    elif start.tzinfo is not None and until is not None and until.tzinfo is not None:
        steps = (until - start) / step
        if steps > MAX_STEPS:
            add(
                "until",
                f"{until.isoformat()} is {steps:,.0f} steps of {step} after the start; at most "
                f"{MAX_STEPS:,} (a longer step, or an earlier until)",
            )
    for i, item in enumerate(backlog):
        where = f"backlog[{i}] {item.sender}->{item.receiver} {item.type}"
        for name, reason in check_flow(chain, item.receiver, item.sender, item.type):
            add(f"{where} {name}", reason)
        if item.count < 0:
            add(f"{where} count", f"must be 0 or more, got {item.count}")
        elif item.count > MAX_MESSAGES:
            add(f"{where} count", f"must be at most {MAX_MESSAGES:,}, got {_figure(item.count)}")
        times = [item.oldest, *(item.arrivals or ())]
        if any(t.tzinfo is None for t in times):
            add(f"{where} oldest", "times need a UTC offset")
        elif start.tzinfo is not None and any(t > start for t in times):
            add(f"{where} oldest", f"an item arrives after the start ({start.isoformat()})")
        if item.arrivals is not None and len(item.arrivals) != item.count:
            add(f"{where} arrivals", f"lists {len(item.arrivals)} times for {item.count} items")
    for i, flow in enumerate(inflow):
        where = f"inflow[{i}] {flow.sender}->{flow.receiver} {flow.type}"
        for name, reason in check_flow(chain, flow.receiver, flow.sender, flow.type):
            add(f"{where} {name}", reason)
        if not math.isfinite(flow.per_day) or flow.per_day < 0:
            add(f"{where} per_day", f"must be 0 or more, got {flow.per_day}")
        elif flow.per_day > MAX_MESSAGES:
            add(f"{where} per_day", f"must be at most {MAX_MESSAGES:,} a day, got {flow.per_day}")
    partners = {p.key for p in chain.partners}
    for receiver, rate in rates.items():
        if receiver not in partners:
            add(f"default rate {receiver}", f"unknown partner {receiver!r}")
        if not math.isfinite(rate) or rate <= 0:
            add(f"default rate {receiver}", f"must be more than 0 messages per second, got {rate}")
    if problems:
        raise ForecastInputError(problems)


def _figure(value: int) -> str:
    """A count for a message: one of 400 digits is given by its size (``str`` of more than
    4,300 digits raises)."""
    if value < 10**30:
        return f"{value:,}"
    return f"a whole number of about {round(value.bit_length() * math.log10(2))} digits"
