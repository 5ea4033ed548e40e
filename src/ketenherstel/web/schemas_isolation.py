"""Schemas of the isolation API: partner states, emergency routes and the quarantine (0008)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from ketenherstel.exchange.isolation import MAX_EXPECTED
from ketenherstel.web.schemas import Model, RequestModel, SequenceGap

_NAME = Field(min_length=1, max_length=200)


class PartnerStateUpdate(RequestModel):
    state: Literal["online", "isolated", "returning"] = Field(
        description="isolated (everything to and from the partner held, what it sends "
        "quarantined) or returning (from isolated: the holds and the quarantine stay). online "
        "is refused (409) for an isolated or returning partner: it comes online when one "
        "operator asks for a quarantine release (POST /v1/quarantine-releases, also with "
        "nothing in quarantine) and another operator approves it (POST "
        "/v1/quarantine-releases/{releaseId}/approval); decision 0018"
    )
    reason: str = Field(max_length=500, description="Why (kept on the partner's record)")


class PartnerStateRead(Model):
    partner: str
    state: str = Field(description="online, isolated or returning")
    reason: str
    changed_at: datetime | None = Field(description="None for a partner never changed")
    changed_by: str | None


class RouteCreate(RequestModel):
    type: str = _NAME
    sender: str = Field(min_length=1, max_length=40)
    around: str = Field(min_length=1, max_length=40, description="The partner that is dark")
    receiver: str = Field(min_length=1, max_length=40)
    superseded_by: str = Field(
        min_length=1,
        max_length=200,
        description="The dark partner's own message type that later supersedes the emergency one",
    )
    reason: str = Field(max_length=500)


class RouteClosureCreate(RequestModel):
    reason: str = Field(max_length=500, description="Why the route closes (kept on the route)")


class RouteRead(Model):
    id: int
    type: str
    sender: str
    around: str
    receiver: str
    superseded_by: str
    reason: str
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None
    closed_by: str | None
    closed_reason: str | None = Field(
        description="Why it closed; None while open and for a route closed before reasons were kept"
    )


class QuarantinedMessageRead(Model):
    """A quarantined message without its data (personal data is not listed)."""

    position: int
    source: str
    id: str
    sender: str
    type: str
    received_at: datetime


class QuarantineCountRead(Model):
    sender: str
    waiting: int
    released: int


class QuarantineRead(Model):
    counts: list[QuarantineCountRead]
    messages: list[QuarantinedMessageRead]


class QuarantineCheckRead(Model):
    partner: str
    messages: int
    schema_failures: int
    sequence_gaps: list[SequenceGap]
    key_conflicts: int = Field(
        description="Messages that change a fact the partner sent before and that was delivered"
    )
    paper_conflicts: int = Field(
        default=0,
        description="Messages without a paper record of their own where paper work for the same "
        "case and type, matched by no message, says otherwise",
    )
    other_conflicts: int = Field(
        default=0,
        description="Messages stating a fact another partner sent with other content",
    )
    repeats: int = Field(
        default=0,
        description="Messages repeating a fact another partner sent while this quarantine "
        "waited: released, the receivers get that fact a second time",
    )
    supersessions: int
    expected: int | None
    findings: list[str] = Field(description="One line per finding; none when the check is clean")
    clean: bool


class ReleaseCreate(RequestModel):
    partner: str = Field(min_length=1, max_length=40)
    reason: str = Field(max_length=500)
    expected: int | None = Field(
        default=None, ge=0, le=MAX_EXPECTED, description="Roughly how many messages to expect"
    )


class ReleaseRead(Model):
    id: int
    partner: str
    up_to_position: int
    messages: int
    reason: str
    requested_by: str
    requested_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    check: QuarantineCheckRead | None = Field(description="What the requesting operator saw")
    note: str | None = Field(
        default=None,
        description="In the answer to an approval: why the partner stays isolated or returning "
        "(it is isolated, or the release was asked for before its current state began; "
        "decision 0018). None when the approval brought it online, or it was online",
    )
