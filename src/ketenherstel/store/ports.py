"""The storage protocol of the exchange: value types and the `Store` protocol.

Only adapters in this package write SQL. Times are POSIX seconds (float, UTC).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

DeliveryState = Literal["ready", "leased", "acked", "dead"]
Role = Literal["partner", "operator", "viewer"]
ChannelState = Literal["open", "held"]
PartnerState = Literal["online", "isolated", "returning"]

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
    created_by: str | None = None  # who made it (and saw its token); None: not known


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    """A channel rule: (receiver or *, sender or *, scope) with its state and rate.

    scope is `*`, a message type, or `process:<key>` (see `store.rules`).
    """

    receiver: str
    sender: str
    scope: str
    state: ChannelState
    rate: float | None
    reason: str
    changed_at: float
    changed_by: str


@dataclass(frozen=True, slots=True)
class PartnerStateRecord:
    partner: str
    state: PartnerState
    reason: str
    changed_at: float
    changed_by: str


@dataclass(frozen=True, slots=True)
class RouteRecord:
    """An emergency route: `type` from `sender` also goes to `receiver` while `around` is
    dark; `around`'s later `superseded_by` message for the same case supersedes it."""

    id: int
    type: str
    sender: str
    around: str
    receiver: str
    superseded_by: str
    reason: str
    opened_at: float
    opened_by: str
    closed_at: float | None
    closed_by: str | None
    closed_reason: str | None  # None while open, and for a route closed before migration 0013


@dataclass(frozen=True, slots=True)
class QuarantineRelease:
    id: int
    partner: str
    up_to_pos: int
    messages: int
    checks: str
    reason: str
    requested_by: str
    requested_at: float
    approved_by: str | None
    approved_at: float | None


def same_person(a: str | None, b: str | None) -> bool:
    """Whether two operator names name one person for a two-person rule: compared in Unicode
    compatibility form, without case, surrounding space or invisible characters ("alice",
    " ALICE " and "ali\u200bce" are one operator)."""
    return a is not None and b is not None and person_key(a) == person_key(b)


def person_key(name: str) -> str:
    """A person's name as two-person rules compare it (see `same_person`)."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(c for c in folded if unicodedata.category(c) not in ("Cf", "Cc")).strip()


@dataclass(frozen=True, slots=True)
class BundleImport:
    digest: str
    source: str
    first_sequence: int
    last_sequence: int
    events: int
    imported_at: float
    imported_by: str


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
    process: str = ""
    bkey: str | None = None  # sha256 of the business key
    fact_hash: str | None = None  # sha256 of the data alone
    priority: int = 0
    via_route: int | None = None  # the emergency route that added a receiver


@dataclass(frozen=True, slots=True)
class AcceptRequest:
    """All events of one submission: stored together or not at all."""

    messages: Sequence[NewMessage]


@dataclass(frozen=True, slots=True)
class MessageOutcome:
    status: Literal["accepted", "duplicate"]
    position: int
    deliveries: int
    by: Literal["id", "business-key", ""] = ""  # what made it a duplicate
    supersedes: int | None = None  # the position of the message it replaces
    quarantined: bool = False


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
    supersedes: tuple[str, str] | None = None  # (source, id) of the message it replaces
    priority: int = 0


@dataclass(frozen=True, slots=True)
class LeaseParams:
    receiver: str
    limit: int
    now: float
    visibility: float
    max_attempts: int
    max_age: float
    actor: str
    burst_seconds: float = 1.0  # a rated channel may deliver rate x this at once


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
    held: bool = False
    quarantined: bool = False
    priority: int = 0
    supersedes: int | None = None


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
    quarantined: int = 0  # 0 never, 1 waiting in quarantine, 2 released
    supersedes: int | None = None


@dataclass(frozen=True, slots=True)
class TrailCause:
    """The recorded change behind a trail entry that held, opened, quarantined or released a
    message: a channel rule change (`channel_events`), a partner state change
    (`partner_events`) or an approved quarantine release (`quarantine_releases`)."""

    kind: Literal["channel", "partner", "quarantine-release"]
    id: int  # the row in its history table
    at: float  # when the change was made
    actor: str  # who made it (a release: who approved it)
    reason: str
    state: str  # channel: held/open; partner: online/isolated/returning; release: released
    receiver: str | None = None  # a channel's receiver (or *), the partner whose deliveries wait
    sender: str | None = None  # a channel's sender (or *), the partner whose messages wait
    scope: str | None = None  # a channel's scope: *, a message type or process:<key>
    rate: float | None = None
    requested_by: str | None = None  # a release: the first of its two operators


@dataclass(frozen=True, slots=True)
class TrailEntry:
    """One step of a message's trail. `held`, `opened`, `quarantined` and `released` entries
    carry the change that caused them."""

    at: float
    event: str
    delivery_id: int | None
    receiver: str | None
    actor: str
    detail: str
    cause: TrailCause | None = None


@dataclass(frozen=True, slots=True)
class SequenceState:
    source: str
    contiguous: int
    max_seen: int
    gaps: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class SourceCompleteness:
    """How complete one source is for one receiver (``Store.completeness``).

    ``watermark`` is the highest sequence number below which nothing from the source is missing
    at the exchange (a gap), still waiting for the receiver, or dead-lettered on the way to it;
    ``watermark_time`` is the event time (``time``) of the message with that number, where it
    has one.
    """

    source: str
    sender: str
    contiguous: int
    max_seen: int
    gaps: tuple[tuple[int, int], ...]
    waiting: int
    lowest_waiting: int | None
    oldest_waiting_time: str | None
    watermark: int
    watermark_time: str | None
    last_time: str | None
    """The event time of the source's highest sequence number the exchange holds."""
    dead: int = 0
    """Deliveries to the receiver from this source that failed for good (dead letters)."""


@dataclass(frozen=True, slots=True)
class AckResult:
    delivery_id: int
    status: Literal["acked", "already-acked", "not-found", "dead", "not-delivered"]


@dataclass(frozen=True, slots=True)
class NackResult:
    delivery_id: int
    status: Literal[
        "retry", "dead", "already-acked", "already-dead", "not-found", "not-delivered", "not-leased"
    ]
    not_before: float | None = None
    attempts: int | None = None
    """How often the delivery was handed out (retry and dead): dead-lettered after so many."""


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


@dataclass(frozen=True, slots=True)
class LedgerCounts:
    """Counts over the whole store, in one transaction (see ``Store.ledger_counts``)."""

    messages: dict[str, int]
    """Stored messages per source (tombstones included)."""
    deliveries: dict[str, int]
    """Deliveries per state: ready, leased, acked, dead."""
    pending_held: int
    pending_quarantined: int
    applied_twice_by_id: int
    """(message, receiver) pairs with more than one delivery."""
    applied_twice_by_key: int
    """(receiver, business key) pairs acknowledged more than once, supersessions aside."""
    messages_without_delivery: int


class StoreError(Exception):
    """Root of store errors.

    StoreError
     ├── NotFound        a referenced row does not exist
     ├── AlreadyExists   a unique key is taken
     ├── Refused         the change is not allowed in the current state
     │    └── ReleaseWaiting  a release of the same messages already waits
     └── StoreUnavailable the backend cannot be reached
    """


class NotFound(StoreError):
    pass


class AlreadyExists(StoreError):
    pass


class Refused(StoreError):
    pass


class ReleaseWaiting(Refused):
    """A quarantine release of the same messages already waits for approval: ``release``."""

    def __init__(self, release: QuarantineRelease) -> None:
        super().__init__(
            f"release {release.id} of {release.partner}, asked by {release.requested_by}, "
            "waits for another operator's approval"
        )
        self.release = release


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

    def revoke_credential(self, *, credential_id: str, now: float) -> tuple[CredentialRecord, bool]:
        """The credential, revoked (at the first revocation's time), and whether this call
        revoked it (False: it was revoked before)."""
        ...

    # channels
    def set_channel(self, record: ChannelRecord) -> int: ...

    def list_channels(self, receiver: str | None = None) -> list[ChannelRecord]: ...

    def channel_events(self, *, receiver: str | None, limit: int) -> list[ChannelRecord]: ...

    # isolation (decision 0008)
    def set_partner_state(self, record: PartnerStateRecord) -> None: ...

    def partner_states(self) -> list[PartnerStateRecord]: ...

    def partner_events(self, *, partner: str | None, limit: int) -> list[PartnerStateRecord]: ...

    def open_route(
        self,
        *,
        type: str,
        sender: str,
        around: str,
        receiver: str,
        superseded_by: str,
        reason: str,
        now: float,
        actor: str,
    ) -> RouteRecord: ...

    def close_route(self, *, route_id: int, reason: str, now: float, actor: str) -> RouteRecord: ...

    def routes(self) -> list[RouteRecord]: ...

    def reprioritise(self, priorities: Mapping[str, int], *, now: float) -> int: ...

    def type_priorities(self) -> dict[str, int]: ...

    def quarantined(
        self, *, partner: str | None, limit: int, after: int = 0
    ) -> list[MessageRecord]: ...

    def quarantine_counts(self) -> dict[str, tuple[int, int]]: ...

    def request_release(
        self,
        *,
        partner: str,
        checks: str,
        reason: str,
        now: float,
        actor: str,
        allow_empty: bool = False,
        same_as: Callable[[QuarantineRelease], bool] | None = None,
    ) -> QuarantineRelease: ...

    def waiting_release(self, *, partner: str) -> QuarantineRelease | None: ...

    def approve_release(self, *, release_id: int, now: float, actor: str) -> QuarantineRelease: ...

    def releases(
        self, *, partner: str | None, release_id: int | None = None
    ) -> list[QuarantineRelease]: ...

    def set_partner_key(self, *, partner: str, public_key: str, now: float, actor: str) -> None: ...

    def partner_keys(self) -> dict[str, str]: ...

    def last_bundle(self, source: str) -> tuple[int, str | None] | None: ...

    def import_bundle(
        self, request: AcceptRequest, record: BundleImport, *, now: float
    ) -> AcceptOutcome: ...

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

    def latest_delivery(self) -> int: ...

    def dead_letters(self, *, receiver: str | None, limit: int) -> list[DeliveryRecord]: ...

    def resend(self, *, delivery_id: int, now: float, actor: str) -> DeliveryRecord: ...

    def message(self, source: str, id: str) -> MessageRecord | None: ...

    def message_at(self, position: int) -> MessageRecord | None: ...

    def alias_of(self, source: str, id: str) -> int | None:
        """The position of the stored message an id was answered as a repeat of (a duplicate
        by business key: the id is kept, the message is not), or None."""
        ...

    def deliveries_of(self, position: int) -> list[DeliveryRecord]: ...

    def trail(self, position: int) -> list[TrailEntry]: ...

    def sequence_state(self, source: str) -> SequenceState | None: ...

    def queue_stats(self) -> list[QueueStats]: ...

    def pending_stats(self) -> list[QueueStats]: ...

    def ledger_counts(self) -> LedgerCounts: ...

    def store_id(self) -> str:
        """The store's identity, made when it was created (decision 0014)."""
        ...

    def has_acked(self, receiver: str) -> bool:
        """Whether ``receiver`` ever acknowledged a delivery."""
        ...

    def ledger_rows(self, kind: str, *, after: int, limit: int) -> list[tuple[object, ...]]: ...

    def redeliver(
        self,
        *,
        source: str,
        id: str,
        receiver: str,
        now: float,
        actor: str,
        reason: str,
        dry_run: bool = False,
    ) -> str: ...

    def completeness(self, receiver: str, senders: Sequence[str]) -> list[SourceCompleteness]: ...

    def picture_rows(self, *, after: int, limit: int) -> list[tuple[object, ...]]: ...

    def picture_resends(self) -> list[tuple[object, ...]]: ...

    def picture_fingerprint(self) -> tuple[int, int]: ...

    def purge(self, *, before: float, now: float, dry_run: bool) -> PurgeResult: ...

    def audit(self, record: AuditRecord) -> None: ...

    def audit_once(self, record: AuditRecord, *, key: str) -> bool:
        """Add ``record`` unless a record with ``key`` is there already; True when added. For
        an audit record kept first elsewhere and copied here, perhaps again after a crash
        (the gateway register's, decision 0019)."""
        ...

    def audit_log(self, *, limit: int) -> list[AuditRecord]: ...

    def audit_actors(self) -> list[str]: ...
