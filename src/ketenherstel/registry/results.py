"""The registry's results and errors: what an answer, the freshness, the re-screen list and
the ECRIS list look like, and the errors its use cases raise (decision 0010)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from ketenherstel.registry.limits import MAX_PARTNER, MAX_TEXT
from ketenherstel.registry.model import CaseState, Shown
from ketenherstel.text import hidden_character

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
Direction = Literal["missed", "wrongly-shown"]


class RegistryInputError(ValueError):
    """Bad input to the registry; the message names the problem. Nothing was changed.

    ``field`` is the input it is about, by its API name (``skn``, ``legalGround``, ...).
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class RegistryForbidden(PermissionError):
    """The asker may not have this: a profile that is not theirs to ask, an extract they have
    no ground for. Nothing was read or changed."""


class RegistryConflict(RegistryInputError):
    """The request is well-formed but the registry's state refuses it (a screening answered
    already, a re-screen item worked out of order)."""


class RegistryNotFound(LookupError):
    """No such screening, item or person data."""


def check_length(value: str | None, limit: int, field: str) -> None:
    """Refuse a text longer than ``limit`` (``registry.limits``), naming the input by its API
    name ``field`` (the CLI puts its option's name in its place)."""
    if value is not None and len(value) > limit:
        raise RegistryInputError(
            f"{field} is at most {limit:,} characters, not {len(value):,}", field
        )


def check_shown(value: str | None, field: str, what: str, *, one_line: bool = False) -> None:
    """Refuse a text the registry keeps and shows again (in a terminal, a list, a page) that
    holds a control or invisible character: an escape sequence would rewrite what is shown.
    ``what`` names it in the message (``"a person's name"``); ``one_line``: a name, where a
    tab or a line break counts too."""
    hidden = None if value is None else hidden_character(value, one_line=one_line)
    if hidden is not None:
        raise RegistryInputError(
            f"{what} holds no control or invisible characters ({hidden})", field
        )


_API = {
    "organisation": "consumer",
    "role": "role",
    "actor": "actor",
    "purpose": "purpose",
    "legal_ground": "legalGround",
}


_ARTICLE = {
    "organisation": "an",
    "role": "a",
    "actor": "an",
    "purpose": "a",
    "legal_ground": "a",
}


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads a person's data and why: the Logboek Dataverwerkingen's fields."""

    organisation: str
    role: str
    actor: str
    purpose: str
    legal_ground: str

    def check(self) -> None:
        for name in ("organisation", "role", "actor", "purpose", "legal_ground"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise RegistryInputError(
                    f"a read of personal data needs {_ARTICLE[name]} {name.replace('_', ' ')}",
                    _API[name],
                )
            check_length(value, MAX_PARTNER if name == "organisation" else MAX_TEXT, _API[name])
            hidden = hidden_character(value, one_line=True)
            if hidden is not None:
                # Each is a line of the read log (Logboek Dataverwerkingen), shown in a terminal
                # and a page: a line break or an escape sequence would forge or hide one.
                raise RegistryInputError(
                    f"{_ARTICLE[name]} {name.replace('_', ' ')} of a read holds no control or "
                    f"invisible characters ({hidden})",
                    _API[name],
                )


@dataclass(frozen=True, slots=True)
class SourceFreshness:
    """How complete one source is in the registry, as of ``as_of``."""

    partner: str
    name: str
    source: str | None
    """Its CloudEvents source; None for a partner that has sent the registry nothing yet."""
    state: str
    watermark: int
    complete_up_to: str | None
    gaps: tuple[tuple[int, int], ...]
    waiting: int
    catch_up_percent: float | None
    as_of: float
    failed: int = 0
    """Deliveries from this source the registry could not apply (dead letters)."""
    watermark_time: str | None = None
    """The event time of the watermark's message, as the sender gave it (``complete_up_to``
    is now for an online source with nothing missing)."""

    def text(self) -> str:
        """In Dutch, e.g. "OM: volledig tot 17-07-2025 21:40; 31.204 berichten wachten;
        inhaalslag 83 %"."""
        parts = [
            f"volledig tot {_local(self.complete_up_to)}"
            if self.complete_up_to
            else "nog niets ontvangen"
        ]
        if self.state != "online":
            parts.append(
                {"isolated": "afgesloten", "returning": "komt terug"}.get(self.state, self.state)
            )
        if self.gaps:
            missing = sum(b - a + 1 for a, b in self.gaps)
            parts.append(_count(missing, "bericht ontbreekt", "berichten ontbreken"))
        if self.waiting:
            parts.append(_count(self.waiting, "bericht wacht", "berichten wachten"))
        if self.failed:
            parts.append(_count(self.failed, "bericht geweigerd", "berichten geweigerd"))
        if self.catch_up_percent is None:
            parts.append("inhaalslag onbekend")
        elif self.catch_up_percent < 100:
            # Rounded down: 99.6 % with one message waiting read "inhaalslag 100 %" (a review).
            parts.append(f"inhaalslag {math.floor(self.catch_up_percent):d} %")
        return f"{self.name}: " + "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "partner": self.partner,
            "name": self.name,
            "source": self.source,
            "state": self.state,
            "watermark": self.watermark,
            "completeUpTo": self.complete_up_to,
            "watermarkTime": self.watermark_time,
            "gaps": [list(g) for g in self.gaps],
            "waiting": self.waiting,
            "catchUpPercent": self.catch_up_percent,
            "failed": self.failed,
            "asOf": _iso(self.as_of),
            "text": self.text(),
        }


@dataclass(frozen=True, slots=True)
class Freshness:
    as_of: float
    sources: tuple[SourceFreshness, ...]

    def text(self) -> str:
        return " | ".join(s.text() for s in self.sources) or "geen bronnen"

    def as_of_iso(self) -> str:
        return _iso(self.as_of)

    def compact(self) -> str:
        """One line a program can read, for a header or a file column: per source
        ``SOURCE;partner=;state=;waiting=;missing=;failed=;completeUpTo=``, comma-separated
        (``-`` for the source of a partner that sent nothing yet), or ``none`` when there are
        no sources."""
        return (
            ", ".join(
                f"{f.source or '-'};partner={f.partner};state={f.state};waiting={f.waiting};"
                f"missing={sum(b - a + 1 for a, b in f.gaps)};failed={f.failed};"
                f"completeUpTo={f.complete_up_to or '-'}"
                for f in self.sources
            )
            or "none"
        )

    def to_json(self) -> dict[str, Any]:
        return {"asOf": _iso(self.as_of), "sources": [s.to_json() for s in self.sources]}


@dataclass(slots=True)
class ApplyResult:
    applied: int = 0
    same_fact: int = 0
    redelivered: int = 0
    replaced: int = 0
    not_registrations: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)

    def add(self, other: ApplyResult) -> None:
        self.applied += other.applied
        self.same_fact += other.same_fact
        self.redelivered += other.redelivered
        self.replaced += other.replaced
        self.not_registrations += other.not_registrations
        self.failed += other.failed


@dataclass(frozen=True, slots=True)
class Answer:
    reference: str
    consumer: str
    profile: str
    skn: str
    query_date: date
    answered_at: float
    cases: tuple[Shown, ...]
    freshness: Freshness


@dataclass(frozen=True, slots=True)
class ScreeningRequest:
    reference: str
    consumer: str
    profile: str
    skn: str
    query_date: date | None
    reader: Reader


@dataclass(frozen=True, slots=True)
class RescreenItem:
    reference: str
    consumer: str
    profile: str
    skn: str
    query_date: date
    answered_at: float
    direction: Direction
    case_key: str
    state_then: CaseState | None
    state_now: CaseState | None
    fact_date: date
    known_at: float
    work_state: str = "open"
    assignee: str | None = None
    outcome: str | None = None
    decision: str | None = None
    """What the consumer decided on the answer (the VOG issued or refused), if it told us."""
    note: str | None = None
    """The last note given while working it."""
    differs: bool = True
    """False for an item being worked whose answer no longer differs (a later registration
    undid the difference): it stays listed until it is closed."""

    @property
    def delay_days(self) -> float:
        """How long after the answer the registry learnt what changes it."""
        return round(max(0.0, self.known_at - self.answered_at) / 86_400, 1)


@dataclass(frozen=True, slots=True)
class EcrisNotification:
    """A notification owed to a member state, and when it went out."""

    notification_id: str
    skn: str
    case_key: str
    member_state: str
    conviction_date: date
    due_date: date
    known_at: float
    sent_at: float | None
    as_of: float

    @property
    def late(self) -> bool:
        """Sent after its due date, or not sent and past it."""
        return self.delay_days > 0

    @property
    def state(self) -> str:
        if self.sent_at is None:
            return "unsent"
        return "late" if self.late else "on-time"

    @property
    def delay_days(self) -> float:
        """Days past the due date when it went out (or now, if it has not): 0 if in time."""
        moment = self.sent_at if self.sent_at is not None else self.as_of
        sent = datetime.fromtimestamp(moment, AMSTERDAM).date()
        return float(max(0, (sent - self.due_date).days))


@dataclass(frozen=True, slots=True)
class HoldAdvice:
    partner: str
    name: str
    rely: bool
    reason: str


def _epoch(value: object) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _local(value: str | None) -> str:
    at = _epoch(value)
    if at is None:
        return "onbekend"
    return datetime.fromtimestamp(at, AMSTERDAM).strftime("%d-%m-%Y %H:%M")


def _thousands(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _count(n: int, one: str, many: str) -> str:
    return f"1 {one}" if n == 1 else f"{_thousands(n)} {many}"
