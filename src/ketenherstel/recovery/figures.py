"""The figures of a scenario run (:func:`ketenherstel.recovery.runner.run_scenario`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ketenherstel.golive.forecast import Comparison
from ketenherstel.recovery.steps import StepResult
from ketenherstel.store.ports import LedgerCounts

__all__ = ["ChannelStats", "MissedDeadline", "ScenarioResult", "WaveDrain"]


@dataclass(slots=True)
class ChannelStats:
    """One ``sender->receiver`` channel over the run."""

    sender: str
    receiver: str
    arrived: int = 0
    delivered: int = 0
    backlog: int = 0
    peak: int = 0
    peak_at: datetime | None = None
    days: dict[date, list[int]] = field(default_factory=dict)
    """Local day -> [backlog at the day's end, arrived, delivered]."""

    @property
    def label(self) -> str:
        return f"{self.sender}->{self.receiver}"


@dataclass(frozen=True, slots=True)
class WaveDrain:
    """How the backlog of the channels a plan step opened drained."""

    step: str
    at: datetime
    channels: tuple[str, ...]
    backlog_at_open: int
    """Messages waiting (at the exchange or in a sender's outbox) on the flows it opened."""
    empty_at: datetime | None
    delivered: int


@dataclass(frozen=True, slots=True)
class MissedDeadline:
    process: str
    deadline: str
    count: int
    why: dict[str, int]


@dataclass(slots=True)
class RegistryFigures:
    """What Justid's registry did in a run: its catch-up, its answers, its re-screen list."""

    applied: int = 0
    same_fact: int = 0
    redelivered: int = 0
    replaced: int = 0
    not_registrations: int = 0
    failed: int = 0
    screenings: int = 0
    rescreen: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(direction, profile) -> items."""
    delay_median_days: float = 0.0
    delay_max_days: float = 0.0
    freshness: list[tuple[datetime, str, str]] = field(default_factory=list)
    """(when, at which step, the freshness text of the sources that were behind then)."""
    counts: dict[str, int] = field(default_factory=dict)
    ecris: dict[str, float] = field(default_factory=dict)
    """Notifications owed to member states: owed, onTime, late, unsent, late delay in days."""
    sim_notifications_left_out: int = 0

    def direction(self, name: str) -> int:
        return sum(n for (d, _), n in self.rescreen.items() if d == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "sameFact": self.same_fact,
            "redelivered": self.redelivered,
            "replaced": self.replaced,
            "notRegistrations": self.not_registrations,
            "failed": self.failed,
            "screenings": self.screenings,
            "rescreen": {
                "missed": self.direction("missed"),
                "wronglyShown": self.direction("wrongly-shown"),
                "byProfile": [
                    {"direction": d, "profile": p, "count": n}
                    for (d, p), n in sorted(self.rescreen.items())
                ],
                "delayMedianDays": self.delay_median_days,
                "delayMaxDays": self.delay_max_days,
            },
            "freshness": [
                {"at": at.isoformat(), "step": step, "text": text}
                for at, step, text in self.freshness
            ],
            "counts": self.counts,
            "ecris": self.ecris,
        }


@dataclass(slots=True)
class ScenarioResult:
    name: str
    seed: int
    scale: float
    start: datetime
    end: datetime
    generated: int = 0
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    duplicates_by_key: int = 0
    rejected: int = 0
    quarantined: int = 0
    expected_deliveries: int = 0
    delivered: int = 0
    redelivered: int = 0
    outbox_peak: dict[str, int] = field(default_factory=dict)
    resent: int = 0
    paper_registered: int = 0
    paper_matched: int = 0
    paper_unmatched: int = 0
    route_messages: int = 0
    channels: dict[str, ChannelStats] = field(default_factory=dict)
    steps: list[StepResult] = field(default_factory=list)
    drains: list[WaveDrain] = field(default_factory=list)
    missed: list[MissedDeadline] = field(default_factory=list)
    timeline: list[tuple[datetime, str]] = field(default_factory=list)
    comparison: list[Comparison] = field(default_factory=list)
    ledger: LedgerCounts | None = None
    accepted_per_source: dict[str, int] = field(default_factory=dict)
    applied: int = 0
    lost: int = 0
    applied_twice: int = 0
    registry: RegistryFigures | None = None

    def to_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready data."""
        return {
            "scenario": self.name,
            "seed": self.seed,
            "scale": self.scale,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "generated": self.generated,
            "sent": self.sent,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "duplicatesByBusinessKey": self.duplicates_by_key,
            "rejected": self.rejected,
            "quarantined": self.quarantined,
            "delivered": self.delivered,
            "resent": self.resent,
            "paper": {
                "registered": self.paper_registered,
                "matched": self.paper_matched,
                "unmatched": self.paper_unmatched,
            },
            "emergencyRouteMessages": self.route_messages,
            "outboxPeak": self.outbox_peak,
            "channels": {
                label: {
                    "arrived": c.arrived,
                    "delivered": c.delivered,
                    "backlog": c.backlog,
                    "peak": c.peak,
                    "peakAt": c.peak_at.isoformat() if c.peak_at else None,
                }
                for label, c in sorted(self.channels.items())
            },
            "drains": [
                {
                    "step": d.step,
                    "at": d.at.isoformat(),
                    "channels": list(d.channels),
                    "backlogAtOpen": d.backlog_at_open,
                    "emptyAt": d.empty_at.isoformat() if d.empty_at else None,
                    "delivered": d.delivered,
                }
                for d in self.drains
            ],
            "missedDeadlines": [
                {"process": m.process, "deadline": m.deadline, "count": m.count, "why": m.why}
                for m in self.missed
            ],
            "forecastVsActual": [
                {
                    "channel": c.channel,
                    "forecastEmpty": c.forecast_empty.isoformat() if c.forecast_empty else None,
                    "actualEmpty": c.actual_empty.isoformat() if c.actual_empty else None,
                    "differenceDays": c.difference_days,
                }
                for c in self.comparison
            ],
            "lost": self.lost,
            "appliedTwice": self.applied_twice,
            "registry": None if self.registry is None else self.registry.to_dict(),
        }
