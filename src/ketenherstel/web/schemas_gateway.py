"""Schemas of the gateway watch API (decision 0012), lowerCamelCase on the wire."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel

from ketenherstel.web.schemas import Model, RequestModel

FINDING_PATTERN = r"^F[0-9a-f]{12}$"


class DecisionRead(Model):
    from_: str = Field(alias="from")
    to: str
    by: str
    reason: str
    at: str


class FindingRead(Model):
    id: str
    status: Literal["new", "under-review", "false-positive", "confirmed"]
    rule: str
    title: str
    confidence: Literal["high", "medium", "low"]
    at: str | None
    address: str
    user: str
    session: str
    context: str = Field(
        default="",
        description="With session, the session's key: its Context without the client address "
        "(empty in findings registered before this field)",
    )
    detail: str
    evidence: list[str] = Field(description="file:offset of the lines the finding rests on")
    history: list[DecisionRead]


class DecisionIn(RequestModel):
    status: Literal["under-review", "false-positive", "confirmed"]
    reason: str = Field(default="", max_length=500, description="Required for a false positive")


class CountRead(Model):
    rule: str
    status: str
    confidence: str
    count: int


class AllowRead(Model):
    id: str = Field(description="The entry's id, as the audit trail names it")
    network: str
    reason: str
    until: str
    added_by: str
    added_at: str
    active: bool
    withdrawn: str = Field(
        default="", description="Who withdrew it and why, when it ended before its date"
    )


class AllowIn(RequestModel):
    network: str = Field(min_length=1, max_length=64, description="A network (CIDR)")
    reason: str = Field(min_length=1, max_length=500)
    until: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description="YYYY-MM-DD")


class AllowWithdrawIn(RequestModel):
    network: str = Field(
        min_length=1, max_length=64, description="The allowed network to end, as listed"
    )
    reason: str = Field(min_length=1, max_length=500, description="Why it ends before its date")


ORGANISATION_PATTERN = r"^[a-z0-9][a-z0-9-]{0,79}$"


class OrgVerdictRead(Model):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    organisation: str
    slug: str = Field(description="The organisation's name in the report's address")
    verdict: Literal["misbruik gevonden", "verdacht", "geen aanwijzing voor misbruik"] = Field(
        description="The verdict as the Dutch report words it"
    )
    code: Literal["misuse-found", "suspicious", "no-sign-of-misuse"] | None = Field(
        default=None, description="The verdict (absent in a report made before this field)"
    )
    users: int = Field(description="Users of this organisation seen in the logs")
    dismissed: int = Field(
        default=0,
        description="Its session findings held as false positives in the register when the "
        "report was made (not counted)",
    )
    flagged_sessions: int = Field(description="Its sessions with a session finding")
    rules: list[str] = Field(description="The rules those findings came from")


class VerdictsRead(Model):
    """Read from the ``verdicts.json`` that `gateway report` wrote (its file names left out)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    made: str | None = Field(description="When the report was made (UTC)")
    files: int = Field(description="Log files scanned")
    lines: int
    unparsed: int = Field(description="Lines that could not be read (kept as evidence)")
    first: str | None = Field(description="The first logged moment the verdicts rest on")
    last: str | None = Field(description="The last logged moment the verdicts rest on")
    log_gaps: int = Field(description="Gaps in the logging found (sequence, rotation, silence)")
    verdicts: list[OrgVerdictRead]
