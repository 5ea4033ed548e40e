"""Ledgers: what one hop holds, in canonical columns (decision 0011).

A ledger is either live (read from the exchange's store or the registry) or a file (CSV,
Parquet, JSON Lines) whose columns are mapped onto the canonical ones. Parsing a hop or a
mapping never touches a file; :mod:`ketenherstel.reconcile.duck` reads and checks them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ketenherstel.chain import Chain
from ketenherstel.exchange.auth import hash_token
from ketenherstel.exchange.envelope import canonical, content_hash

__all__ = [
    "ARROW_SCHEMA",
    "CANONICAL",
    "FORMATS",
    "LIVE",
    "MIN_MEMORY",
    "LedgerSpec",
    "ReconcileError",
    "ReconcileInputError",
    "event_row",
    "parse_duration",
    "parse_hop",
    "parse_mapping",
    "parse_memory",
    "parse_slas",
    "to_arrow",
]

# Canonical column -> DuckDB type.
CANONICAL: dict[str, str] = {
    "source": "VARCHAR",
    "id": "VARCHAR",
    "sender": "VARCHAR",
    "receiver": "VARCHAR",
    "type": "VARCHAR",
    "bkey": "VARCHAR",
    "hash": "VARCHAR",
    "sequence": "BIGINT",
    "event_time": "TIMESTAMPTZ",
    "recorded_at": "TIMESTAMPTZ",
}
# How a ledger is written to Parquet (live exports, the scenario's sent ledger): event_time
# as the message's own RFC 3339 text, recorded_at as a UTC timestamp.
ARROW_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("id", pa.string()),
        ("sender", pa.string()),
        ("receiver", pa.string()),
        ("type", pa.string()),
        ("bkey", pa.string()),
        ("hash", pa.string()),
        ("sequence", pa.int64()),
        ("event_time", pa.string()),
        ("recorded_at", pa.timestamp("us", tz="UTC")),
    ]
)


def to_arrow(rows: Sequence[Sequence[Any]], *, blank: Sequence[int] = ()) -> pa.Table:
    """Rows in :data:`ARROW_SCHEMA`'s column order, ``recorded_at`` as epoch seconds; the
    columns at ``blank`` are written as nulls whatever the rows hold there."""
    cols = list(zip(*rows, strict=True))
    n = len(rows)
    arrays = [
        pa.nulls(n, ARROW_SCHEMA.field(i).type)
        if i in blank
        else pa.array(cols[i], ARROW_SCHEMA.field(i).type)
        for i in range(9)
    ]
    seconds = pa.array(cols[9], pa.float64())
    micros = pc.round(pc.multiply(seconds, 1e6)).cast(pa.int64())
    arrays.append(micros.cast(ARROW_SCHEMA.field(9).type))
    return pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA)


def event_row(
    chain: Chain, sender: str, event: Mapping[str, Any], recorded_at: float
) -> tuple[Any, ...]:
    """A CloudEvent as a ledger row, its business key and data hash computed as the exchange
    computes them (so a sender's ledger compares with the exchange's)."""
    data = event.get("data")
    key = chain.business_key(str(event.get("type")), data) if isinstance(data, Mapping) else None
    sequence = event.get("sequence")
    return (
        event.get("source"),
        event.get("id"),
        sender,
        None,
        event.get("type"),
        hash_token(key) if key is not None else None,
        content_hash(canonical({"data": data})),
        int(sequence) if sequence is not None and str(sequence).isdigit() else None,
        event.get("time"),
        recorded_at,
    )


LIVE = ("accepted", "routed", "delivered", "applied", "manual")
FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
OUTBOX = "outbox"
"""The format of an edge outbox's SQLite file (``sent=outbox:om.sqlite``): what a partner's
systems wrote to it, whether forwarded yet or not."""
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


class ReconcileError(Exception):
    """Root of reconciliation errors."""


class ReconcileInputError(ReconcileError):
    """Bad input: the message names the file, column and row where they are known."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        row: int | None = None,
    ) -> None:
        where = []
        if file is not None:
            where.append(f"file {file}")
        if column is not None:
            where.append(f"column {column!r}")
        if row is not None:
            where.append(f"row {row}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.file, self.column, self.row = file, column, row


@dataclass(frozen=True, slots=True)
class LedgerSpec:
    """One hop's ledger.

    ``path`` None means live: ``name`` is then one of :data:`LIVE`. ``mapping`` maps a canonical
    column to the file's column; ``constants`` sets a canonical column to one value for every
    row; ``fields`` are extra file columns compared when a record conflicts.
    """

    name: str
    path: Path | None = None
    format: str | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)
    fields: tuple[str, ...] = ()
    partial: bool = False
    """The ledger holds only part of what its neighbours hold (paper work): what is only in a
    neighbour is not missing here. The live ``manual`` ledger is partial."""

    @property
    def live(self) -> bool:
        return self.path is None

    @property
    def label(self) -> str:
        return self.name if self.path is None else f"{self.name} ({self.path.name})"


def parse_hop(text: str) -> LedgerSpec:
    """``NAME`` or ``NAME=store`` (a live ledger), ``NAME=PATH`` (a file; the format from the
    extension, or ``NAME=PATH:csv``), or ``NAME=outbox:PATH`` (an edge outbox's file). A ``~``
    after the name (``paper~=x.csv``) marks a partial ledger; the live ``manual`` ledger is
    always partial."""
    name, sep, where = text.partition("=")
    name = name.strip()
    partial = name.endswith("~")
    name = name.removesuffix("~")
    if not _NAME.match(name):
        raise ReconcileInputError(
            f"hop {text!r}: a hop's name is lower-case letters, digits, '-' or '_' (e.g. sent)"
        )
    if not sep or where in ("", "store"):
        if name not in LIVE:
            raise ReconcileInputError(
                f"hop {name!r}: a live ledger is one of {', '.join(LIVE)}; "
                "for another hop give a file: NAME=PATH"
            )
        return LedgerSpec(name, partial=partial or name == "manual")
    if where.startswith(OUTBOX + ":"):
        return LedgerSpec(name, path=Path(where[len(OUTBOX) + 1 :]), format=OUTBOX, partial=partial)
    fmt = None
    base, colon, suffix = where.rpartition(":")
    if colon and suffix in ("csv", "parquet", "jsonl"):
        where, fmt = base, suffix
    path = Path(where)
    if fmt is None:
        ext = "".join(path.suffixes[-1:]).lower()
        fmt = FORMATS.get(ext)
        if fmt is None:
            raise ReconcileInputError(
                f"hop {name!r}: cannot tell the format of {where!r} from its extension; "
                "use .csv, .parquet, .jsonl or .ndjson, or add :csv, :parquet or :jsonl"
            )
    return LedgerSpec(name, path=path, format=fmt, partial=partial)


def parse_mapping(spec: LedgerSpec, items: Sequence[str]) -> LedgerSpec:
    """Apply ``HOP.COLUMN=FILECOLUMN``, ``HOP.COLUMN=:constant`` and ``HOP.fields=a,b`` items that
    name this hop; items for other hops are left alone."""
    mapping = dict(spec.mapping)
    constants = dict(spec.constants)
    fields = list(spec.fields)
    for item in items:
        target, sep, value = item.partition("=")
        hop, dot, column = target.partition(".")
        if not sep or not dot or not hop or not column:
            raise ReconcileInputError(
                f"mapping {item!r}: write HOP.COLUMN=FILECOLUMN, HOP.COLUMN=:value or "
                "HOP.fields=a,b"
            )
        if hop != spec.name:
            continue
        if spec.live:
            raise ReconcileInputError(
                f"mapping {item!r}: hop {hop!r} is a live ledger; only file ledgers are mapped"
            )
        if spec.format == OUTBOX:  # its columns and its one sender are known from the file
            raise ReconcileInputError(
                f"mapping {item!r}: hop {hop!r} is an edge outbox, whose columns and sender "
                "are read from its file; only csv, parquet and jsonl ledgers are mapped"
            )
        if column == "fields":
            fields.extend(v.strip() for v in value.split(",") if v.strip())
            continue
        if column not in CANONICAL:
            raise ReconcileInputError(
                f"mapping {item!r}: {column!r} is not a ledger column; "
                f"the columns are {', '.join(CANONICAL)}"
            )
        if value.startswith(":"):
            constants[column] = value[1:]
            mapping.pop(column, None)
        elif value:
            mapping[column] = value
            constants.pop(column, None)
        else:
            raise ReconcileInputError(f"mapping {item!r}: no file column after '='")
    return LedgerSpec(
        spec.name, spec.path, spec.format, mapping, constants, tuple(fields), spec.partial
    )


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_DURATION_DAYS = 3650
"""The longest limit (ten years): far beyond any legal deadline of the chain, and far below
what a timedelta (or DuckDB's interval) can hold."""


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``4h``, ``7d``, ``2w``; at most :data:`MAX_DURATION_DAYS` days."""
    found = _DURATION.match(text.strip())
    if found is None or float(found.group(1)) <= 0:
        raise ReconcileInputError(
            f"duration {text!r}: write a positive number and a unit s, m, h, d or w (e.g. 7d)"
        )
    seconds = float(found.group(1)) * _UNIT[found.group(2)]
    if seconds > MAX_DURATION_DAYS * 86400:
        raise ReconcileInputError(
            f"duration {text!r}: too long; a limit is at most {MAX_DURATION_DAYS} days "
            f"({MAX_DURATION_DAYS}d, ten years)"
        )
    return timedelta(seconds=seconds)


def parse_slas(items: Sequence[str]) -> dict[str, timedelta]:
    """``TYPE=DURATION`` items; ``*`` is every type without its own."""
    out: dict[str, timedelta] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ReconcileInputError(f"SLA {item!r}: write TYPE=DURATION, e.g. '*=7d'")
        out[name.strip()] = parse_duration(value)
    return out


MIN_MEMORY = 100_000_000
"""The least memory limit a run takes, in bytes (100MB). DuckDB reads a CSV ledger in buffers
of up to about 32 MB, and each thread pins blocks of 256 KiB besides: with less, a run of a few
thousand rows failed with DuckDB's 'Out of Memory' (at 1MB, and at 8MB with two threads),
reported as a ledger that 'cannot be read'. At 100MB two CSV ledgers of 4 million rows were
reconciled on two threads (more threads need more: 16 threads ran out at 100MB with 1.5
million rows, and that is said as a memory limit too small, see ``duck.Engine``)."""
MAX_MEMORY = 1000 * 1000**4
"""The most a memory limit may be: 1000TB (DuckDB's own limit is 2**64 bytes)."""

_MEMORY = re.compile(r"([-+]?[0-9]+(?:\.[0-9]+)?)\s*([kmgt]i?b)", re.IGNORECASE)
_MEMORY_UNIT = {
    f"{prefix}{infix}b": (1024 if infix else 1000) ** power
    for power, prefix in enumerate("kmgt", start=1)
    for infix in ("", "i")
}
MEMORY_FORMS = "a size such as 2GB, 512MB or 1.5GiB (KB, MB, GB, TB; KiB, MiB, GiB, TiB)"


def parse_memory(text: str, *, name: str = "the memory limit") -> int:
    """The bytes of a memory limit such as ``2GB`` (10**9 bytes a GB) or ``1.5GiB`` (2**30 a
    GiB), as DuckDB counts them; at least :data:`MIN_MEMORY`. ``name`` is how the message calls
    the setting (``--memory``). DuckDB itself took ``-1GB`` (and ``-0``) for no limit at all,
    ``50%`` for half the machine's memory, and ``1KB`` for a limit no ledger can be read in."""
    least = f"{MIN_MEMORY // 1000**2}MB"
    found = _MEMORY.fullmatch(text.strip())
    if found is None:
        raise ReconcileInputError(f"{name} {text!r}: give {MEMORY_FORMS}, at least {least}")
    number = float(found.group(1))
    if number <= 0:
        raise ReconcileInputError(
            f"{name} {text!r}: must be more than 0; the least accepted is {least}"
        )
    size = int(number * _MEMORY_UNIT[found.group(2).lower()])
    if size < MIN_MEMORY:
        raise ReconcileInputError(
            f"{name} {text!r} is too small: the least accepted is {least}, as a "
            "reconciliation cannot read its ledgers in less"
        )
    if size > MAX_MEMORY:
        raise ReconcileInputError(f"{name} {text!r} is too large: at most 1000TB")
    return size
