"""The HTTP schemas of paper work and interim procedures (lowerCamelCase on the wire), and the
conversions from the service's records. Storage rows never leak into these."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from ketenherstel.exchange.manual import ImportResult
from ketenherstel.manual import type_alias
from ketenherstel.store.manual_ports import InterimProcedure, ManualRecord, UnmatchedMessage
from ketenherstel.web.schemas import Model, RequestModel, ts

_WHEN = (
    "When the work was done: dd-mm-yyyy, dd-mm-yyyy hh:mm or ISO 8601; Europe/Amsterdam when "
    "there is no offset"
)
_FIELDS = (
    "The type's business-key fields other than the case number, by name (e.g. judgmentDate); "
    "dates as dd-mm-yyyy or yyyy-mm-dd"
)
Status = Literal["registered", "matched", "confirmed", "corrected", "withdrawn"]


class ManualRecordCreate(RequestModel):
    partner: str = Field(min_length=1, max_length=200, description="Partner key or name")
    case: str = Field(min_length=1, max_length=200, description="The case number (parketnummer)")
    type: str = Field(
        min_length=1,
        max_length=200,
        description="Full message type or short alias, e.g. uitspraak-geregistreerd",
    )
    happened_at: str = Field(min_length=1, max_length=40, description=_WHEN)
    registered_by: str = Field(
        min_length=1,
        max_length=200,
        description="The registering role (e.g. griffie rechtbank), never a person's name",
    )
    fields: dict[str, str] = Field(default_factory=dict, max_length=10, description=_FIELDS)


class ManualEventRead(Model):
    at: datetime
    action: str
    status: str
    reason: str
    actor: str
    detail: str


class ManualRecordRead(Model):
    id: int
    partner: str
    case: str
    type: str
    type_alias: str
    fields: dict[str, str] = Field(description="The business-key fields, case number included")
    happened_at: datetime | None = Field(
        description="When the work was done; None for a date stored before dates were checked "
        "that no date can show (year 0, after year 9999)"
    )
    registered_at: datetime
    registered_by: str
    status: Status
    matched_position: int | None = Field(description="The matched digital message's position")
    history: list[ManualEventRead]


class ManualRecordPage(Model):
    records: list[ManualRecordRead]
    next_after: int | None = Field(description="Pass as `after` for the next page; null at the end")


class ManualReasonCreate(RequestModel):
    reason: str = Field(min_length=1, max_length=500)


class ManualCorrectionCreate(RequestModel):
    reason: str = Field(min_length=1, max_length=500)
    case: str | None = Field(default=None, min_length=1, max_length=200)
    type: str | None = Field(default=None, min_length=1, max_length=200)
    fields: dict[str, str] | None = Field(default=None, max_length=10, description=_FIELDS)
    happened_at: str | None = Field(default=None, min_length=1, max_length=40, description=_WHEN)


class ManualImportCreate(Model):
    """A spreadsheet export as JSON (instead of a text/csv body with the mapping as query)."""

    csv: str = Field(min_length=1, description="The file's text")
    mapping: dict[str, Any] = Field(
        description="columns, fields and defaults (the README's paper import section)"
    )
    name: str = Field(
        default="",
        max_length=200,
        description="The file's name, kept on the audit trail: no control characters, SKN or "
        "e-mail address",
    )


class RefusalRead(Model):
    line: int | None = Field(description="Line in the file (the header is line 1)")
    column: str
    reason: str


class ImportRowRead(Model):
    line: int
    partner: str
    case: str
    type: str


class ManualImportRead(Model):
    dry_run: bool
    encoding: str
    delimiter: str
    rows: int = Field(description="Data rows read (blank rows are skipped)")
    refused_rows: int
    accepted: list[ImportRowRead] = Field(description="Rows that pass every check")
    refused_whole: bool = Field(
        description="The file is refused whole (a row is refused and skipRefused is not set, "
        "or every row is refused); in a dry run: the import would be"
    )
    would_register: int = Field(
        description="Rows the import registers (or, in a dry run, would): 0 when refused whole"
    )
    refusals: list[RefusalRead]
    notes: list[str]
    stored: list[ManualRecordRead] = Field(description="Empty for a dry run")


class UnmatchedMessageRead(Model):
    position: int
    source: str
    id: str
    sender: str
    type: str
    partitionkey: str | None
    received_at: datetime


class UnmatchedMessagePage(Model):
    messages: list[UnmatchedMessageRead]
    next_after: int | None


class InterimProcedureCreate(RequestModel):
    process: str = Field(min_length=1, max_length=100, description="The chain process key")
    replaces: str = Field(
        min_length=1, max_length=2000, description="What replaces the digital flow, in words"
    )
    valid_from: str = Field(
        min_length=1,
        max_length=40,
        description="From when it applies: dd-mm-yyyy, dd-mm-yyyy hh:mm or ISO 8601",
    )
    partners_informed: list[str] = Field(default_factory=list, max_length=20)
    emergency_route: str | None = Field(
        default=None,
        max_length=200,
        description="The id of the emergency route that belongs to it (GET /v1/emergency-routes)",
    )
    manual_type: str | None = Field(
        default=None, max_length=200, description="Message type registered by hand under it"
    )


class InterimProcedureRead(Model):
    id: int
    process: str
    replaces: str
    valid_from: datetime | None = Field(
        description="From when it applies; None for a date stored before dates were checked "
        "that no date can show (year 0, after year 9999)"
    )
    partners_informed: list[str]
    emergency_route: str | None
    manual_type: str | None
    created_at: datetime
    created_by: str
    active: bool
    retired_at: datetime | None
    retired_by: str | None = Field(description="The go-live wave that retired it")


class RetirementCreate(RequestModel):
    wave: str = Field(min_length=1, max_length=100, description="The go-live wave that opened")


def _stored_when(stamp: float) -> datetime | None:
    """A stored date as the API shows it, or None for one stored before dates were checked
    (2000 to 2199, `manual._dates`) that no date can show: year 0 or after 9999 (the CLI lists
    it as '(out of range: N)'). Reading such a record or procedure answered 500."""
    try:
        return ts(stamp)
    except (OverflowError, OSError, ValueError):
        return None


def record(r: ManualRecord) -> ManualRecordRead:
    return ManualRecordRead(
        id=r.id,
        partner=r.partner,
        case=r.case,
        type=r.type,
        type_alias=type_alias(r.type),
        fields=dict(r.fields),
        happened_at=_stored_when(r.happened_at),
        registered_at=ts(r.registered_at),
        registered_by=r.registered_by,
        status=r.status,
        matched_position=r.matched_position,
        history=[
            ManualEventRead(
                at=ts(e.at),
                action=e.action,
                status=e.status,
                reason=e.reason,
                actor=e.actor,
                detail=e.detail,
            )
            for e in r.history
        ],
    )


def imported(result: ImportResult) -> ManualImportRead:
    report = result.report
    return ManualImportRead(
        dry_run=result.dry_run,
        encoding=report.encoding,
        delimiter=report.delimiter,
        rows=report.rows,
        refused_rows=report.refused_rows,
        accepted=[
            ImportRowRead(
                line=a.line, partner=a.entry.partner, case=a.entry.case, type=a.entry.type
            )
            for a in report.accepted
        ],
        refusals=[
            RefusalRead(line=x.line, column=x.column, reason=x.reason) for x in report.refusals
        ],
        notes=list(report.notes),
        stored=[record(r) for r in result.stored],
        refused_whole=result.refused_whole,
        would_register=result.would_register,
    )


def unmatched(m: UnmatchedMessage) -> UnmatchedMessageRead:
    return UnmatchedMessageRead(
        position=m.position,
        source=m.source,
        id=m.id,
        sender=m.sender,
        type=m.type,
        partitionkey=m.partitionkey,
        received_at=ts(m.received_at),
    )


def procedure(p: InterimProcedure) -> InterimProcedureRead:
    return InterimProcedureRead(
        id=p.id,
        process=p.process,
        replaces=p.replaces,
        valid_from=_stored_when(p.valid_from),
        partners_informed=list(p.partners_informed),
        emergency_route=p.emergency_route,
        manual_type=p.manual_type,
        created_at=ts(p.created_at),
        created_by=p.created_by,
        active=p.active,
        retired_at=ts(p.retired_at),
        retired_by=p.retired_by,
    )
