"""The storage protocol of the exchange: value types and the `Store` protocol.

Only adapters in this package write SQL. Times are POSIX seconds (float, UTC).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

DeliveryState = Literal["ready", "leased", "acked", "dead"]
Role = Literal["partner", "operator", "viewer"]
ChannelState = Literal["open", "held"]

ALL_SENDERS = "*"


@dataclass(frozen=True, slots=True)
class PartnerRecord:
    key: str
    name: str
    oin: str
    webhook_url: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    id: str
    principal: str
    role: Role
    partner_key: str | None
    token_hash: str
    label: str
    created_at: float
    revoked_at: float | None


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    receiver: str
    sender: str
    state: ChannelState
    reason: str
    changed_at: float
    changed_by: str


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A validated event ready to be stored, with the receivers routing gave it."""

    source: str
    id: str
    sender: str
    type: str
    subject: str | None
    partitionkey: str | None
    sequence: int | None
    time: str | None
    content_hash: str
    body: bytes
    receivers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AcceptRequest:
    """All events of one submission: stored together or not at all."""

    messages: Sequence[NewMessage]


@dataclass(frozen=True, slots=True)
class MessageOutcome:
    status: Literal["accepted", "duplicate"]
    position: int
    deliveries: int


@dataclass(frozen=True, slots=True)
class Conflict:
    index: int
    source: str
    id: str
    stored_hash: str
    submitted_hash: str


@dataclass(frozen=True, slots=True)
class AcceptOutcome:
    """Per request: either every event's outcome, or the conflicts that rejected it whole."""

    outcomes: tuple[MessageOutcome, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    gaps: dict[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)

    @property
    def rejected(self) -> bool:
        return bool(self.conflicts)


@dataclass(frozen=True, slots=True)
class LeasedDelivery:
    delivery_id: int
    position: int
    receiver: str
    sender: str
    source: str
    id: str
    type: str
    partitionkey: str | None
    attempts: int
    lease_until: float
    body: bytes


@dataclass(frozen=True, slots=True)
class LeaseParams:
    receiver: str
    limit: int
    now: float
    visibility: float
    max_attempts: int
    max_age: float
    held_senders: frozenset[str]
    receiver_held: bool
    actor: str


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    delivery_id: int
    position: int
    receiver: str
    sender: str
    state: DeliveryState
    attempts: int
    lease_until: float | None
    not_before: float
    last_error: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class MessageRecord:
    position: int
    source: str
    id: str
    sender: str
    type: str
    subject: str | None
    partitionkey: str | None
    sequence: int | None
    content_hash: str
    received_at: float
    body: bytes


@dataclass(frozen=True, slots=True)
class TrailEntry:
    at: float
    event: str
    delivery_id: int | None
    receiver: str | None
    actor: str
    detail: str


@dataclass(frozen=True, slots=True)
class SequenceState:
    source: str
    contiguous: int
    max_seen: int
    gaps: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class AckResult:
    delivery_id: int
    status: Literal["acked", "already-acked", "not-found", "dead"]


@dataclass(frozen=True, slots=True)
class NackResult:
    delivery_id: int
    status: Literal["retry", "dead", "already-acked", "already-dead", "not-found"]
    not_before: float | None = None


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """Messages whose every delivery was acked and that are older than the cut-off."""

    messages: int
    dry_run: bool


@dataclass(frozen=True, slots=True)
class AuditRecord:
    at: float
    actor: str
    action: str
    object: str
    detail: str


@dataclass(frozen=True, slots=True)
class QueueStats:
    receiver: str
    sender: str
    ready: int
    leased: int
    acked: int
    dead: int
    oldest_waiting: float | None


class StoreError(Exception):
    """Root of store errors.

    StoreError
     ├── NotFound        a referenced row does not exist
     ├── AlreadyExists   a unique key is taken
     └── StoreUnavailable the backend cannot be reached
    """


class NotFound(StoreError):
    pass


class AlreadyExists(StoreError):
    pass


class StoreUnavailable(StoreError):
    pass


class Store(Protocol):
    """What the exchange needs from a store. Every method is one transaction."""

    def migrate(self) -> None: ...

    def close(self) -> None: ...

    # partners and credentials
    def add_partner(self, *, key: str, name: str, oin: str, now: float) -> PartnerRecord: ...

    def get_partner(self, key: str) -> PartnerRecord | None: ...

    def list_partners(self) -> list[PartnerRecord]: ...

    def set_webhook(self, *, key: str, url: str | None) -> None: ...

    def add_credential(self, record: CredentialRecord) -> None: ...

    def credential_by_hash(self, token_hash: str) -> CredentialRecord | None: ...

    def list_credentials(self, principal: str | None = None) -> list[CredentialRecord]: ...

    def revoke_credential(self, *, credential_id: str, now: float) -> CredentialRecord: ...

    # channels
    def set_channel(self, record: ChannelRecord) -> None: ...

    def list_channels(self, receiver: str | None = None) -> list[ChannelRecord]: ...

    def channel_events(self, *, receiver: str | None, limit: int) -> list[ChannelRecord]: ...

    # messages and deliveries
    def accept(self, requests: Sequence[AcceptRequest], *, now: float) -> list[AcceptOutcome]: ...

    def lease(self, params: LeaseParams) -> list[LeasedDelivery]: ...

    def ack(
        self, *, receiver: str, delivery_ids: Sequence[int], now: float, actor: str
    ) -> list[AckResult]: ...

    def nack(
        self,
        *,
        receiver: str,
        delivery_id: int,
        reason: str,
        now: float,
        delay: Callable[[int], float],
        max_attempts: int,
        actor: str,
    ) -> NackResult: ...

    def dead_letters(self, *, receiver: str | None, limit: int) -> list[DeliveryRecord]: ...

    def resend(self, *, delivery_id: int, now: float, actor: str) -> DeliveryRecord: ...

    def message(self, source: str, id: str) -> MessageRecord | None: ...

    def deliveries_of(self, position: int) -> list[DeliveryRecord]: ...

    def trail(self, position: int) -> list[TrailEntry]: ...

    def sequence_state(self, source: str) -> SequenceState | None: ...

    def queue_stats(self) -> list[QueueStats]: ...

    def purge(self, *, before: float, now: float, dry_run: bool) -> PurgeResult: ...

    def audit(self, record: AuditRecord) -> None: ...

    def audit_log(self, *, limit: int) -> list[AuditRecord]: ...
