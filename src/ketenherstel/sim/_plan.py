"""Planned chain messages and the time helpers the planners share."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ketenherstel.sim._ids import Identifiers, Persons
    from ketenherstel.sim.profile import SimProfile

__all__ = ["Planned", "Planner", "Track", "between", "day", "iso"]


@dataclass(slots=True)
class Planned:
    """A message a partner's system will record at ``at`` (before its logging delay)."""

    at: datetime
    sender: str
    type: str
    subject: str
    data: dict[str, Any]


class Planner:
    """What every planner draws on: the seeded random source, ids, people and the profile."""

    __slots__ = ("_ids", "_persons", "_profile", "_rng")

    def __init__(
        self, rng: random.Random, ids: Identifiers, persons: Persons, profile: SimProfile
    ) -> None:
        self._rng = rng
        self._ids = ids
        self._persons = persons
        self._profile = profile


class Track:
    """The planned messages of one subject (a case or a person), in the order of the facts."""

    __slots__ = ("items", "subject")

    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.items: list[Planned] = []

    def add(self, at: datetime, sender: str, type_name: str, data: dict[str, Any]) -> datetime:
        """Plan ``type_name`` from ``sender`` at ``at``; returns ``at`` for chaining."""
        self.items.append(Planned(at, sender, type_name, self.subject, data))
        return at


def between(rng: random.Random, at: datetime, low: timedelta, high: timedelta) -> datetime:
    """A moment uniformly between ``at + low`` and ``at + high``."""
    return at + low + (high - low) * rng.random()


def iso(at: datetime) -> str:
    """RFC 3339 in UTC with milliseconds: ``2025-07-17T21:00:00.000Z``."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def day(at: datetime) -> str:
    """The calendar date (UTC) of ``at``: ``2025-07-17``."""
    return at.astimezone(UTC).date().isoformat()
