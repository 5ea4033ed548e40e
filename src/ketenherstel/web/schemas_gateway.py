"""Schemas of the gateway watch API (decision 0012), lowerCamelCase on the wire."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ketenherstel.web.schemas import Model

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
    detail: str
    evidence: list[str] = Field(description="file:offset of the lines the finding rests on")
    history: list[DecisionRead]


class DecisionIn(Model):
    status: Literal["under-review", "false-positive", "confirmed"]
    reason: str = Field(default="", max_length=500, description="Required for a false positive")


class CountRead(Model):
    rule: str
    status: str
    confidence: str
    count: int


class AllowRead(Model):
    network: str
    reason: str
    until: str
    added_by: str
    added_at: str
    active: bool


class AllowIn(Model):
    network: str = Field(min_length=1, max_length=64, description="A network (CIDR)")
    reason: str = Field(min_length=1, max_length=500)
    until: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description="YYYY-MM-DD")
