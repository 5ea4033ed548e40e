"""The re-screen list as rows, CSV and Parquet, and as counts that expose no person."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ketenherstel.registry.results import RescreenItem

__all__ = ["COLUMNS", "item_rows", "rescreen_summary", "to_csv", "to_parquet"]

COLUMNS = (
    "reference",
    "consumer",
    "profile",
    "skn",
    "queryDate",
    "answeredAt",
    "direction",
    "caseKey",
    "stateThen",
    "stateNow",
    "factDate",
    "knownAt",
    "delayDays",
    "workState",
    "assignee",
    "outcome",
    "decision",
)
_SCHEMA = pa.schema(
    [
        ("reference", pa.string()),
        ("consumer", pa.string()),
        ("profile", pa.string()),
        ("skn", pa.string()),
        ("queryDate", pa.date32()),
        ("answeredAt", pa.timestamp("s", tz="UTC")),
        ("direction", pa.string()),
        ("caseKey", pa.string()),
        ("stateThen", pa.string()),
        ("stateNow", pa.string()),
        ("factDate", pa.date32()),
        ("knownAt", pa.timestamp("s", tz="UTC")),
        ("delayDays", pa.float64()),
        ("workState", pa.string()),
        ("assignee", pa.string()),
        ("outcome", pa.string()),
        ("decision", pa.string()),
    ]
)


def item_rows(items: Iterable[RescreenItem]) -> list[dict[str, Any]]:
    """One dict per item, keyed by ``COLUMNS``; dates as dates, moments as aware datetimes."""
    return [
        {
            "reference": i.reference,
            "consumer": i.consumer,
            "profile": i.profile,
            "skn": i.skn,
            "queryDate": i.query_date,
            "answeredAt": datetime.fromtimestamp(int(i.answered_at), UTC),
            "direction": i.direction,
            "caseKey": i.case_key,
            "stateThen": i.state_then,
            "stateNow": i.state_now,
            "factDate": i.fact_date,
            "knownAt": datetime.fromtimestamp(int(i.known_at), UTC),
            "delayDays": i.delay_days,
            "workState": i.work_state,
            "assignee": i.assignee,
            "outcome": i.outcome,
            "decision": i.decision,
        }
        for i in items
    ]


def to_csv(items: Sequence[RescreenItem]) -> bytes:
    """UTF-8 CSV with a header; dates as YYYY-MM-DD, moments as RFC 3339 in UTC."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in item_rows(items):
        writer.writerow(
            {
                k: (
                    v.isoformat().replace("+00:00", "Z")
                    if isinstance(v, datetime)
                    else ("" if v is None else v)
                )
                for k, v in row.items()
            }
        )
    return out.getvalue().encode("utf-8")


def to_parquet(items: Sequence[RescreenItem]) -> bytes:
    rows = item_rows(items)
    table = pa.Table.from_pylist(rows, schema=_SCHEMA)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def rescreen_summary(items: Iterable[RescreenItem]) -> list[dict[str, Any]]:
    """Counts per (direction, consumer, profile, work state): no person in them."""
    counts = Counter((i.direction, i.consumer, i.profile, i.work_state) for i in items)
    return [
        {"direction": d, "consumer": c, "profile": p, "workState": w, "count": n}
        for (d, c, p, w), n in sorted(counts.items())
    ]
