"""Paper work and interim procedures: value types and the `ManualStore` protocol.

A *manual record* is work done on paper while the digital flow was down (a detention review
decided, a judgment registered), registered after the fact so that the later digital message can
be matched to it by business key. An *interim procedure* is a work agreement in force while a
process runs without its digital flow; it is retired when the go-live wave that restores the
process opens.

Lifecycle of a manual record (every change is a `ManualEvent` in its history)::

    registered ──match──▶ matched ──┐
        │                           ├──▶ confirmed
        └──────── correct ─────▶ corrected (re-matched)
    any state but withdrawn ──withdraw──▶ withdrawn

Matching sets `matched_position`; it moves a *registered* record to *matched* and leaves the other
states as they are. Times are POSIX seconds (float, UTC), as in `ports`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from ketenherstel.store.ports import AuditRecord, RouteRecord, StoreError

ManualStatus = Literal["registered", "matched", "confirmed", "corrected", "withdrawn"]
ManualAction = Literal["registered", "matched", "confirmed", "corrected", "withdrawn"]
MANUAL_STATUSES: tuple[ManualStatus, ...] = (
    "registered",
    "matched",
    "confirmed",
    "corrected",
    "withdrawn",
)


@dataclass(frozen=True, slots=True)
class ManualEvent:
    """One change of a manual record: what happened, the status after it, why and by whom."""

    at: float
    action: ManualAction
    status: ManualStatus
    reason: str
    actor: str
    detail: str


@dataclass(frozen=True, slots=True)
class NewManualRecord:
    """A checked manual record ready to be stored.

    `fields` are the type's business-key field values in the chain's order; `bkey` is the
    business key's digest as messages carry it (None when the type has no business key).
    `registered_by` is the registering *role* ("griffie rechtbank"), never a person's name.
    `origin` says where it came from ("api", "csv export.csv line 4") for the history.
    """

    partner: str
    case: str
    type: str
    fields: tuple[tuple[str, str], ...]
    bkey: str | None
    happened_at: float
    registered_by: str
    origin: str = ""


@dataclass(frozen=True, slots=True)
class ManualRecord:
    id: int
    partner: str
    case: str
    type: str
    fields: tuple[tuple[str, str], ...]
    bkey: str | None
    happened_at: float
    registered_at: float
    registered_by: str
    status: ManualStatus
    matched_position: int | None
    history: tuple[ManualEvent, ...]


@dataclass(frozen=True, slots=True)
class ManualCorrection:
    """The corrected values of a record (all of them, not a patch); the record re-matches."""

    case: str
    type: str
    fields: tuple[tuple[str, str], ...]
    bkey: str | None
    happened_at: float


@dataclass(frozen=True, slots=True)
class UnmatchedMessage:
    """A digital message of a (sender, type) pair that also has paper work, received after the
    pair's earliest paper work, for which no manual record of the same business key exists."""

    position: int
    source: str
    id: str
    sender: str
    type: str
    partitionkey: str | None
    bkey: str
    received_at: float


@dataclass(frozen=True, slots=True)
class StoredFact:
    """What the store holds of a fact: a message or an open paper record. A quarantine check
    compares a returning partner's messages with them."""

    kind: Literal["message", "paper"]
    ref: int  # the message's position, or the manual record's id
    partner: str  # the message's sender, or the partner whose paper work the record is
    type: str
    bkey: str | None
    fact_hash: str | None = None  # a message's: the hash of its data
    via_route: bool = False  # a message sent over an emergency route
    case: str = ""  # a paper record's case number
    matched: bool = False  # a paper record that a message of its own business key matched
    status: str = ""  # a paper record's status
    fields: tuple[tuple[str, str], ...] = ()  # a paper record's business-key fields
    source: str = ""  # a message's source
    id: str = ""  # a message's id


@dataclass(frozen=True, slots=True)
class NewProcedure:
    """A work agreement for a process while its digital flow is down."""

    process: str
    replaces: str  # what replaces the digital flow, in words
    valid_from: float
    partners_informed: tuple[str, ...]
    emergency_route: str | None = None  # the id of a stored emergency route (decision 0008)
    manual_type: str | None = None  # the message type registered by hand under it


@dataclass(frozen=True, slots=True)
class InterimProcedure:
    id: int
    process: str
    replaces: str
    valid_from: float
    partners_informed: tuple[str, ...]
    emergency_route: str | None
    manual_type: str | None
    created_at: float
    created_by: str
    retired_at: float | None
    retired_by: str | None  # the go-live wave that retired it

    @property
    def active(self) -> bool:
        return self.retired_at is None


class ManualStateError(StoreError):
    """The record or procedure is not in a state that allows this change."""


@runtime_checkable
class ManualStore(Protocol):
    """What paper work and interim procedures need from a store. Every method is one
    transaction; writes that would break a rule store nothing."""

    def register_manual(
        self, records: Sequence[NewManualRecord], *, now: float, actor: str
    ) -> list[ManualRecord]:
        """Store all or none; each is matched to a stored message of its partner and business
        key. Raises `AlreadyExists` when a record of the same partner and key is open."""
        ...

    def manual_record(self, record_id: int) -> ManualRecord | None: ...

    def manual_records(
        self,
        *,
        status: ManualStatus | None = None,
        partner: str | None = None,
        type: str | None = None,
        unmatched: bool = False,
        after: int = 0,
        limit: int = 100,
    ) -> list[ManualRecord]:
        """Records with an id above `after`, in id order. `unmatched`: not withdrawn and no
        message matched."""
        ...

    def registered_manual(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Of these (partner, bkey) pairs, those with an open (not withdrawn) record: its id."""
        ...

    def confirm_manual(
        self, *, record_id: int, reason: str, actor: str, now: float
    ) -> ManualRecord: ...

    def correct_manual(
        self, *, record_id: int, correction: ManualCorrection, reason: str, actor: str, now: float
    ) -> ManualRecord: ...

    def withdraw_manual(
        self, *, record_id: int, reason: str, actor: str, now: float
    ) -> ManualRecord: ...

    def facts_for_check(
        self, bkeys: Sequence[str], cases: Sequence[tuple[str, str]]
    ) -> list[StoredFact]: ...

    def unmatched_messages(
        self, *, partner: str | None = None, type: str | None = None, after: int = 0, limit: int
    ) -> list[UnmatchedMessage]: ...

    def add_procedure(
        self, procedure: NewProcedure, *, now: float, actor: str
    ) -> InterimProcedure: ...

    def procedure(self, procedure_id: int) -> InterimProcedure | None: ...

    def procedures(
        self, *, process: str | None = None, active: bool | None = None
    ) -> list[InterimProcedure]: ...

    def retire_procedure(self, *, procedure_id: int, wave: str, now: float) -> InterimProcedure: ...

    def retire_procedures(
        self, processes: Sequence[str], wave: str, now: float
    ) -> list[InterimProcedure]:
        """Retire every active procedure of these processes (a go-live wave opened)."""
        ...

    def routes(self) -> list[RouteRecord]:
        """The emergency routes, open and closed (a procedure names one by its id)."""
        ...

    def audit(self, record: AuditRecord) -> None: ...


def manual_store(store: object) -> ManualStore:
    """`store` as a `ManualStore`, or a TypeError that says what is missing."""
    if not isinstance(store, ManualStore):
        raise TypeError(
            f"{type(store).__name__} cannot keep manual records: its class needs the "
            "ManualSql mixin (ketenherstel.store._sql_manual)"
        )
    return store


__all__ = [
    "MANUAL_STATUSES",
    "InterimProcedure",
    "ManualAction",
    "ManualCorrection",
    "ManualEvent",
    "ManualRecord",
    "ManualStateError",
    "ManualStatus",
    "ManualStore",
    "NewManualRecord",
    "NewProcedure",
    "UnmatchedMessage",
    "manual_store",
]
