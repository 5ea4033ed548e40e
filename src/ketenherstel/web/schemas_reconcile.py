"""Schemas of the reconciliation API (decision 0011), lowerCamelCase on the wire."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ketenherstel.web.schemas import Model, RequestModel

HOP_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"
REPORT_PATTERN = r"^r[0-9]{8}T[0-9]{6}-[0-9a-f]{6}$"


class HopIn(RequestModel):
    name: str = Field(
        pattern=HOP_PATTERN,
        description="The hop's name; without `file` a live ledger: accepted, routed, delivered, "
        "applied or manual",
    )
    file: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="A ledger file in the server's ledger folder (KETENHERSTEL_RECONCILE_DIR/"
        "ledgers), by its name: CSV, Parquet or JSON Lines",
    )
    format: Literal["csv", "parquet", "jsonl", "outbox"] | None = Field(
        default=None,
        description="The file's format (default: from its extension); `outbox`: an edge "
        "outbox's SQLite file, what the partner's systems wrote to it",
    )
    mapping: dict[str, str] = Field(
        default_factory=dict,
        description="Ledger column -> the file's column (source, id, sender, receiver, type, "
        "bkey, hash, sequence, event_time, recorded_at)",
    )
    constants: dict[str, str] = Field(
        default_factory=dict, description="Ledger column -> one value for every row"
    )
    fields: list[str] = Field(
        default_factory=list, description="Extra file columns compared when a record conflicts"
    )
    partial: bool = Field(
        default=False,
        description="The ledger holds only part of its neighbours' records (paper work)",
    )


class ReconcileIn(RequestModel):
    hops: list[HopIn] = Field(min_length=2, max_length=8, description="The hops in chain order")
    sla: dict[str, str] = Field(
        default_factory=dict,
        description="Message type (or `*`) -> a limit such as 7d or 4h: beyond it a record is late",
    )
    legal_deadlines: bool = Field(
        default=False, description="Also late: beyond the legal deadline of the type's process"
    )
    full: bool = Field(
        default=False, description="Compare every row, also where the high-water mark agrees"
    )


class HopRead(Model):
    name: str
    source: str | None = Field(description="The file, or the live ledger")
    rows: int
    live: bool


class HwmGroupRead(Model):
    sender: str | None = None
    receiver: str | None = None
    type: str
    rows_from: int
    sequence_from: list[int | None]
    rows_to: int
    sequence_to: list[int | None]
    clean: bool


class HighWaterMarkRead(Model):
    clean_groups: int
    dirty_groups: int
    note: str = Field(description="Why the check did not apply, where it did not")
    groups: list[HwmGroupRead]


class PairRead(Model):
    from_: str = Field(alias="from")
    to: str
    from_live: bool
    to_live: bool
    match_on: Literal["id", "bkey"]
    rows_from: int
    rows_to: int
    totals: dict[str, int] = Field(description="Every class, counted over the types")
    per_type: dict[str, dict[str, int]]
    high_water_mark: HighWaterMarkRead
    compared_rows: int = Field(description="Rows compared one by one (the rest confirmed)")


class ReconciliationRead(Model):
    id: str
    created_at: str = Field(description="When it ran (Europe/Amsterdam)")
    hops: list[HopRead]
    pairs: list[PairRead]
    missing: int = Field(description="Records missing at some hop, over every pair")
    detail_rows: int
    requests: int = Field(description="Records to request again from their senders")
    limits: dict[str, float] = Field(description="The limits applied, in seconds per type")


class ResendIn(RequestModel):
    dry_run: bool = Field(default=False, description="List what would be re-sent; change nothing")


class ResendItemRead(Model):
    source: str
    id: str
    receiver: str
    outcome: str = Field(description="resent, pending (on its way), not-found or would-resend")


class ResendRead(Model):
    resent: int
    pending: int
    not_found: int
    skipped: int = Field(description="Missing records without a receiver: not re-sendable")
    items: list[ResendItemRead]


class RequestRead(Model):
    sender: str
    source: str
    id: str
    type: str
    bkey: str
    row_in_sender_ledger: str


class DetailRead(Model):
    pair: str
    class_: str = Field(
        alias="class",
        description="missing, matched-bkey, conflicting, late, duplicate, duplicate-bkey, unkeyed",
    )
    hop: str | None = Field(description="Where it is missing, or which side holds the copies")
    source: str | None
    id: str | None
    receiver: str | None
    sender: str | None
    type: str | None
    bkey: str | None
    copies: int | None
    hash_a: str | None
    hash_b: str | None
    fields: str | None = Field(description="The fields that differ (conflicting)")
    at_a: str | None
    at_b: str | None
    delay_s: float | None
    limit_s: float | None
    row_a: int | None = Field(description="The row in the upstream ledger's file")
    row_b: int | None
