"""Schemas of the registry API (decision 0010): catch-up, freshness, hold advice, screenings and
decisions, a person's extract and read log, and the re-screen list (lowerCamelCase on the wire).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from ketenherstel.registry.limits import (
    MAX_NOTE,
    MAX_OUTCOME,
    MAX_PARTNER,
    MAX_PROFILE,
    MAX_TEXT,
)
from ketenherstel.registry.service import GROUP
from ketenherstel.web.schemas import Model, RequestModel

SKN_PATTERN = r"^SKN-[0-9]{10}$"
"""As ``registry.service`` checks it: the pseudonymous strafrechtketennummer."""
REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
"""As ``registry.service`` checks a screening's reference."""

Direction = Literal["missed", "wrongly-shown"]
WorkState = Literal["open", "assigned", "reviewed", "closed"]
ReadActivity = Literal[
    "screening-answered",
    "extract-read",
    "rescreen-list-read",
    "rescreen-item-assign",
    "rescreen-item-review",
    "rescreen-item-close",
    "ecris-list-read",
    "read-log-read",
]
"""``registry.READ_ACTIVITIES`` (a test keeps the two equal)."""
Decision = Literal["afgegeven", "geweigerd", "ingetrokken", "geen-bezwaar", "bezwaar"]

_DATE = "A date as YYYY-MM-DD"
_YMD = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _ymd(value: object) -> object:
    """Only YYYY-MM-DD: no timestamp, no date-time (the body arrives as Python values, so
    pydantic's strict mode would refuse every string)."""
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _YMD.match(value):
        try:
            return date.fromisoformat(value)  # a request body is strict: a date, not its text
        except ValueError:
            pass
    raise ValueError("a date as YYYY-MM-DD is required")


Day = Annotated[date, BeforeValidator(_ymd)]
_SKN = Field(pattern=SKN_PATTERN, description="The person's strafrechtketennummer (SKN)")
_PURPOSE = Field(
    min_length=1,
    max_length=MAX_TEXT,
    description="Why the person's data is read (Logboek Dataverwerkingen), e.g. vog-aanvraag",
)
_GROUND = Field(
    min_length=1,
    max_length=MAX_TEXT,
    description="The legal ground of the read, e.g. art. 35 Wjsg",
)


# -- freshness ----------------------------------------------------------------------------


class SourceFreshnessRead(Model):
    partner: str
    name: str = Field(description="The partner's name")
    source: str | None = Field(
        description="The CloudEvents source; null for a partner that sends to the registry but "
        "has sent nothing yet (listed all the same: an answer never looks complete without it)"
    )
    state: str = Field(description="The partner's state at the exchange: online, isolated, ...")
    watermark: int = Field(description="The highest sequence number below which nothing misses")
    complete_up_to: str | None = Field(
        description="The event time (RFC 3339, as the sender gave it) of the watermark's "
        "message; now, for an online source with nothing missing, waiting or failed"
    )
    watermark_time: str | None = Field(
        default=None,
        description="The event time (RFC 3339, as the sender gave it) of the watermark's "
        "message, also when the source is complete up to now; null before anything arrived "
        "(and in answers stored before this field)",
    )
    gaps: list[Annotated[list[int], Field(min_length=2, max_length=2)]] = Field(
        description="Missing sequence numbers as [first, last] ranges"
    )
    waiting: int = Field(description="Messages from this source still waiting for the registry")
    catch_up_percent: float | None = Field(
        description="How far the catch-up is; null when unknown (an isolated partner)"
    )
    failed: int = Field(
        description="Messages from this source that failed for good on the way (dead letters)"
    )
    as_of: datetime
    text: str = Field(description="The same in one line of Dutch")


class FreshnessRead(Model):
    """How complete each source is in the registry: carried by every answer."""

    as_of: datetime
    sources: list[SourceFreshnessRead]


class HoldAdviceRead(Model):
    partner: str
    name: str
    rely: bool = Field(description="Whether a consumer may rely on this source's data now")
    reason: str


# -- catch-up -----------------------------------------------------------------------------


class CatchUpCreate(RequestModel):
    limit: int = Field(1000, ge=1, le=1000, description="Deliveries per pull")
    max_batches: int | None = Field(
        None,
        ge=1,
        description=f"Stop after this many batches, each up to {GROUP} pulls applied in one "
        "transaction; none: until nothing waits",
    )


class FailedDeliveryRead(Model):
    delivery_id: int
    reason: str = Field(description="Why the registry could not read it (it was refused)")


class CatchUpRead(Model):
    applied: int = Field(description="Registrations applied")
    same_fact: int = Field(description="The same fact under a new id: recorded, not applied")
    redelivered: int = Field(description="Deliveries the registry had applied already")
    replaced: int = Field(description="Earlier registrations replaced (corrections, supersedes)")
    not_registrations: int = Field(description="Messages of a type that registers nothing")
    failed: list[FailedDeliveryRead]


# -- screenings and decisions ---------------------------------------------------------------


class ScreeningCreate(RequestModel):
    reference: str = Field(
        pattern=REFERENCE_PATTERN,
        description="The consumer's own reference, unique: 1-64 letters, digits, '.', '_', ':' "
        "or '-'",
    )
    consumer: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_PARTNER,
        description="The consumer (a partner key); only an operator names it, a partner "
        "screens as itself",
    )
    profile: str = Field(
        min_length=1,
        max_length=MAX_PROFILE,
        description="A screening profile, e.g. vog-natuurlijk-persoon",
    )
    skn: str = _SKN
    query_date: Day | None = Field(
        None, description=f"{_DATE}; by default today (Europe/Amsterdam)"
    )
    purpose: str = _PURPOSE
    legal_ground: str = _GROUND
    role: str = Field(
        min_length=1, max_length=MAX_TEXT, description="The requester's role, e.g. screener"
    )


class ShownCaseRead(Model):
    case_key: str = Field(description="The parketnummer, or the police or ECRIS case number")
    state: str = Field(description="The case's state on the query date")
    fact_date: date
    categories: list[str]


class ScreeningRead(Model):
    reference: str
    consumer: str
    profile: str
    skn: str
    query_date: date
    answered_at: datetime
    cases: list[ShownCaseRead]
    freshness: FreshnessRead


class DecisionCreate(RequestModel):
    decision: Decision
    decided_date: Day = Field(description=_DATE)


# -- a person -----------------------------------------------------------------------------


class PersonEntryRead(Model):
    registration: int
    case: str
    type: str
    state: str
    categories: list[str]
    fact_date: date
    known_at: datetime = Field(description="When the registry applied it")
    replaced_at: datetime | None = Field(description="When a later registration replaced it")


class PersonRead(Model):
    skn: str
    entries: list[PersonEntryRead]
    freshness: FreshnessRead


class ReadLogEntryRead(Model):
    at: datetime
    activity: str
    organisation: str
    role: str
    actor: str
    purpose: str
    legal_ground: str
    detail: str


# -- the re-screen list ---------------------------------------------------------------------


class RescreenItemRead(Model):
    """An answer that would now be different, as ``registry.export.item_rows`` has it."""

    reference: str
    consumer: str
    profile: str
    skn: str
    query_date: date
    answered_at: datetime
    direction: Direction
    case_key: str
    state_then: str | None
    state_now: str | None
    fact_date: date
    known_at: datetime = Field(description="When the registry learnt what changes the answer")
    delay_days: float
    work_state: WorkState
    assignee: str | None
    outcome: str | None
    decision: str | None = Field(
        description="What the consumer decided on the answer (the VOG issued or refused)"
    )
    note: str | None = Field(default=None, description="The last note given while working it")
    differs: bool = Field(
        default=True,
        description="False for an item being worked whose answer no longer differs (a later "
        "registration undid the difference): it stays listed until closed",
    )


class RescreenCountRead(Model):
    direction: Direction
    consumer: str
    profile: str
    work_state: WorkState
    count: int


class RescreenActionCreate(RequestModel):
    reference: str = Field(pattern=REFERENCE_PATTERN)
    case_key: str = Field(min_length=1, max_length=MAX_TEXT)
    direction: Direction
    action: Literal["assign", "review", "close"] = Field(
        description="In this order: assign (again, if need be), review, close"
    )
    assignee: str | None = Field(
        None, min_length=1, max_length=MAX_TEXT, description="A team or role; assign needs it"
    )
    outcome: str | None = Field(
        None, min_length=1, max_length=MAX_OUTCOME, description="close needs it"
    )
    note: str | None = Field(None, max_length=MAX_NOTE)


class RescreenActionRead(Model):
    work_state: WorkState


# -- notifications to member states (ECRIS) -------------------------------------------------


class EcrisNotificationRead(Model):
    notification_id: str = Field(description="The ECRIS notification's reference")
    skn: str
    case_key: str
    member_state: str = Field(description="The member state of the convicted person's nationality")
    conviction_date: date
    due_date: date = Field(
        description="The conviction date plus 30 working days (weekends and public holidays "
        "not counted)"
    )
    sent_at: datetime | None = Field(description="When it went out through the exchange")
    state: Literal["on-time", "late", "unsent"]
    days_late: float = Field(description="Days past the due date when sent (or now, if not)")


class EcrisSendRead(Model):
    sent: int = Field(description="Notifications sent through the exchange, as Justid")
