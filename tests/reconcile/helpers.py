"""Ledger files and runs for reconciliation tests."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ketenherstel.reconcile import LedgerSpec, Report, parse_hop, parse_mapping, reconcile

COLUMNS = (
    "id",
    "source",
    "sender",
    "type",
    "bkey",
    "hash",
    "sequence",
    "event_time",
    "recorded_at",
)
T = "2025-07-01T10:00:00+02:00"


def row(ident: str | None, **kw: Any) -> dict[str, Any]:
    """A ledger row: id ``ident``, from om, type t.a, business key and hash derived from it."""
    base: dict[str, Any] = {
        "id": ident,
        "source": "om",
        "sender": "om",
        "type": "t.a",
        "bkey": f"k-{ident}",
        "hash": f"h-{ident}",
        "sequence": None,
        "event_time": T,
        "recorded_at": T,
    }
    base.update(kw)
    return base


def write(
    path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None
) -> Path:
    """Write rows as CSV, Parquet or JSON Lines, by the path's extension."""
    cols = list(columns or (rows[0].keys() if rows else COLUMNS))
    if path.suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(cols)
            for r in rows:
                w.writerow(["" if r.get(c) is None else r.get(c) for c in cols])
    elif path.suffix == ".parquet":
        table = pa.table(
            {
                c: pa.array(
                    [None if r.get(c) is None else str(r.get(c)) for r in rows], pa.string()
                )
                for c in cols
            }
        )
        pq.write_table(table, path)
    else:
        with path.open("w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps({c: r.get(c) for c in cols}) + "\n")
    return path


def run(
    tmp: Path,
    hops: Sequence[str],
    *,
    maps: Sequence[str] = (),
    limits: Mapping[str, timedelta] | None = None,
    hwm: bool = True,
) -> Report:
    specs: list[LedgerSpec] = [parse_mapping(parse_hop(h), maps) for h in hops]
    return reconcile(specs, out_dir=tmp / "reports", limits=limits, hwm=hwm)


def totals(report: Report, pair: int = 0) -> dict[str, int]:
    return report.to_json()["pairs"][pair]["totals"]


def details(report: Report) -> list[dict[str, Any]]:
    assert report.path is not None
    return pq.read_table(report.path / "details.parquet").to_pylist()


def classes(report: Report) -> dict[tuple[str, str | None, str | None], str | None]:
    """(class, id, hop) -> fields, for every detail row."""
    return {(d["class"], d["id"], d["hop"]): d["fields"] for d in details(report)}
