"""Schemas of the go-live API: the built-in plans, their steps and running a step."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from ketenherstel.web.schemas import Model, RequestModel


class PlanStepRead(Model):
    name: str = Field(description="`isolation` or a wave's name")
    at: datetime


class PlanSummaryRead(Model):
    name: str
    description: str
    steps: list[PlanStepRead]


class PlanRead(PlanSummaryRead):
    plan: dict[str, Any] = Field(description="The whole plan: isolation, priorities and waves")


class StepRunCreate(RequestModel):
    dry_run: bool = Field(False, description="Show what the step would change; change nothing")


class ChannelChangeRead(Model):
    receiver: str
    sender: str
    scope: str
    state: str = Field(description="open or held")
    rate_per_second: float | None
    why: str


class PartnerChangeRead(Model):
    partner: str
    state: str


class ReleaseRequestRead(Model):
    partner: str
    release_id: int | None = Field(description="None in a dry run")
    messages: int


class StepRunRead(Model):
    plan: str
    step: str
    at: datetime
    dry_run: bool
    changed: bool = Field(
        description="Whether the run changed (or, in a dry run, would change) anything; false "
        "when the store was already at this step (restoredProcesses and notes change nothing)"
    )
    partners: list[PartnerChangeRead]
    channels: list[ChannelChangeRead]
    releases_requested: list[ReleaseRequestRead] = Field(
        description="A second operator approves each: POST /v1/quarantine-releases/{id}/approval"
    )
    priorities_changed: int
    restored_processes: list[str]
    procedures_retired: list[int]
    notes: list[str]
