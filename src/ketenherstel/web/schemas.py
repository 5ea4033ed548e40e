"""The HTTP API's schemas (lowerCamelCase on the wire). Storage rows never leak into these."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, overload

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from ketenherstel.exchange.auth import MAX_LABEL
from ketenherstel.exchange.isolation import rate_problem


@overload
def ts(value: float) -> datetime: ...
@overload
def ts(value: float | None) -> datetime | None: ...
def ts(value: float | None) -> datetime | None:
    """A stored POSIX time as an aware UTC datetime."""
    return None if value is None else datetime.fromtimestamp(value, UTC)


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class RequestModel(Model):
    """A request body: strict, so that a JSON value of the wrong type is refused, not
    converted (`true` is no delivery id 1, "no" is no dry run, "8" is no number). A date field
    takes its text through a validator of its own."""

    model_config = ConfigDict(strict=True)


class Range(Model):
    first: int
    last: int


class SequenceGap(Model):
    source: str
    missing: list[Range]


class EventResult(Model):
    index: int
    id: str
    source: str
    status: Literal["accepted", "duplicate"]
    position: int = Field(description="The exchange's own position of the stored event")
    deliveries: int = Field(description="Deliveries made for this event (0 for a duplicate)")
    by: Literal["id", "business-key"] | None = Field(
        default=None,
        description="For a duplicate, what made it one: the same source and id, or the same "
        "fact (business key and content) under another id",
    )
    quarantined: bool = Field(
        default=False,
        description="Kept in quarantine: its partner is returning from isolation, and an "
        "operator's release with a second operator's approval lets it flow",
    )


class SubmissionRead(Model):
    accepted: int
    duplicates: int
    results: list[EventResult]
    sequence_gaps: list[SequenceGap]


class DeliveryRead(Model):
    delivery_id: int
    attempt: int
    lease_until: datetime
    event: dict[str, Any] = Field(description="The CloudEvent as the sender sent it")
    supersedes: str | None = Field(
        default=None,
        description="'<source> <id>' of an earlier message this one replaces (a correction, "
        "or the returning partner's own message for an emergency-route fact)",
    )


class DeliveryPage(Model):
    deliveries: list[DeliveryRead]


class AcknowledgementCreate(RequestModel):
    delivery_ids: list[Annotated[int, Field(ge=1)]] = Field(min_length=1, max_length=1000)


class AckResultRead(Model):
    delivery_id: int
    status: Literal["acked", "already-acked", "not-found", "dead", "not-delivered"]


class AcknowledgementRead(Model):
    results: list[AckResultRead]


class FailureCreate(RequestModel):
    reason: str = Field(min_length=1, max_length=500)
    retry_after: float | None = Field(default=None, ge=0, le=86_400, allow_inf_nan=False)


class FailureRead(Model):
    delivery_id: int
    status: Literal["retry", "dead"]
    retry_at: datetime | None
    attempts: int | None = Field(
        default=None,
        description="How often the delivery was handed out; dead: dead-lettered after so many",
    )


class PartnerCreate(RequestModel):
    key: str = Field(min_length=1, max_length=40)
    oin: str | None = Field(default=None, pattern=r"^[0-9]{20}$")
    name: str | None = Field(default=None, max_length=200)


class PartnerRead(Model):
    key: str
    name: str
    oin: str
    webhook_url: str | None
    created_at: datetime


class WebhookUpdate(RequestModel):
    url: str | None = Field(max_length=2000)


class CredentialCreate(RequestModel):
    role: Literal["partner", "operator", "viewer"]
    partner: str | None = None
    person: str | None = Field(default=None, max_length=100)
    label: str = Field(default="", max_length=MAX_LABEL)


class CredentialRead(Model):
    id: str
    principal: str
    role: str
    partner: str | None
    label: str
    created_at: datetime
    revoked_at: datetime | None
    created_by: str | None = Field(
        default=None,
        description="Who made it and so saw its token: for a two-person rule (a quarantine "
        "release, a briefing) the maker and the holder do not count as two operators",
    )


class CredentialCreated(Model):
    credential: CredentialRead
    token: str = Field(description="Shown once; only its hash is stored")


def _rate(value: Any, handler: ValidatorFunctionWrapHandler) -> float | None:
    """A channel's rate, refused as the exchange and the CLI refuse it, quoting the JSON value
    given (pydantic said only 'Input should be greater than 0', also of NaN)."""
    given = value if isinstance(value, str) else json.dumps(value, default=repr)
    try:
        rate: float | None = handler(value)
    except ValidationError:
        rate = float("nan")  # no number at all (text, true, a list): refused below
    problem = None if rate is None else rate_problem(rate, given)
    if problem is not None:
        raise PydanticCustomError("rate", problem)
    return rate


class ChannelUpdate(RequestModel):
    state: Literal["open", "held"]
    reason: str = Field(default="", max_length=500)
    rate: Annotated[Annotated[float, Field(gt=0)] | None, WrapValidator(_rate)] = Field(
        default=None, description="Messages per second; only with state 'open'"
    )


class ChannelRead(Model):
    receiver: str
    sender: str
    scope: str = Field(description="'*', a message type, or 'process:<key>'")
    state: str
    rate: float | None
    reason: str
    changed_at: datetime
    changed_by: str


class DeliveryStateRead(Model):
    delivery_id: int
    position: int
    receiver: str
    sender: str
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class TrailCauseRead(Model):
    """The recorded change behind a held, opened, quarantined or released entry."""

    kind: Literal["channel", "partner", "quarantine-release"] = Field(
        description="A channel rule change, a partner state change or a quarantine release"
    )
    id: int = Field(description="The change in its history (channel or partner events, releases)")
    at: datetime = Field(description="When the change was made")
    actor: str = Field(description="Who made it; for a release, the operator who approved it")
    reason: str
    state: str = Field(
        description="held or open (channel), online, isolated or returning (partner), "
        "released (quarantine release)"
    )
    receiver: str | None = Field(
        default=None, description="The channel's receiver ('*' for any), or the partner held"
    )
    sender: str | None = Field(
        default=None,
        description="The channel's sender ('*' for any), or the partner whose messages waited",
    )
    scope: str | None = Field(
        default=None, description="The channel's scope: '*', a message type or 'process:<key>'"
    )
    rate: float | None = None
    requested_by: str | None = Field(
        default=None, description="A quarantine release: the operator who asked for it"
    )


class TrailEntryRead(Model):
    at: datetime
    event: str = Field(
        description="accepted, quarantined, routed, held, opened, released, leased, "
        "lease-expired, acked, nacked, dead-lettered, resent, purged"
    )
    delivery_id: int | None
    receiver: str | None
    actor: str
    detail: str
    cause: TrailCauseRead | None = Field(
        default=None,
        description="For held, opened, quarantined and released: the change that did it",
    )


class TrailRead(Model):
    source: str
    id: str
    type: str
    sender: str
    subject: str | None
    partitionkey: str | None
    sequence: int | None
    content_hash: str
    received_at: datetime
    deliveries: list[DeliveryStateRead]
    trail: list[TrailEntryRead]
    answered_as_duplicate: bool = Field(
        default=False,
        description=(
            "True when the id asked for was answered as a duplicate by business key (the "
            "same fact under a new id): the trail is of the stored message it repeats"
        ),
    )


class SequenceRead(Model):
    source: str
    contiguous: int = Field(description="Highest sequence number below which nothing is missing")
    max_seen: int
    gaps: list[Range]


class QueueRead(Model):
    receiver: str
    sender: str
    ready: int
    leased: int
    acked: int
    dead: int
    oldest_waiting: datetime | None


class PurgeCreate(RequestModel):
    older_than_days: float = Field(gt=0, le=36_500, allow_inf_nan=False)
    dry_run: bool = False


class PurgeRead(Model):
    messages: int = Field(description="Messages purged (or that would be, in a dry run)")
    dry_run: bool


class AuditRead(Model):
    at: datetime
    actor: str
    action: str
    object: str
    detail: str


class Health(Model):
    status: Literal["ok"]
    version: str


class BundleImportRead(Model):
    source: str
    first_sequence: int
    last_sequence: int
    digest: str
    accepted: int
    duplicates: int
    quarantined: int = Field(description="Events held in quarantine (the partner is not online)")
    crlf_line_ends: bool = Field(
        description="The file's line ends had been changed to CRLF on the way; it was read "
        "with LF, as it was signed, and its signature holds"
    )


class SigningKeyUpdate(RequestModel):
    public_key: str = Field(description="Base64 of the raw 32-byte Ed25519 public key")


class SigningKeyRead(Model):
    partner: str
    public_key: str
