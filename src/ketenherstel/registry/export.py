"""The re-screen list and the notifications owed to member states as rows, CSV and Parquet, and
the re-screen list as counts that expose no person."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from ketenherstel.registry.results import EcrisNotification, Freshness, RescreenItem
from ketenherstel.spreadsheet import guard

__all__ = [
    "COLUMNS",
    "FRESHNESS_COLUMNS",
    "FRESHNESS_METADATA",
    "NOTIFICATION_COLUMNS",
    "item_rows",
    "notification_rows",
    "notifications_csv",
    "notifications_parquet",
    "rescreen_summary",
    "to_csv",
    "to_parquet",
]

FRESHNESS_COLUMNS = ("freshnessAsOf", "freshness")
"""Every exported file ends each row with the registry's freshness when the list was made
(``Freshness.as_of_iso`` and ``Freshness.compact``, as the API's ``Registry-Freshness-As-Of``
and ``Registry-Freshness`` headers): a file on disk, or a row copied out of it, still says how
complete the registry was."""
FRESHNESS_METADATA = b"ketenherstel.registry.freshness"
"""A Parquet file's key-value metadata also holds the freshness in full, as the API's JSON."""
_FRESHNESS_FIELDS = [("freshnessAsOf", pa.timestamp("s", tz="UTC")), ("freshness", pa.string())]

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
    "note",
    "differs",
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
        ("note", pa.string()),
        ("differs", pa.bool_()),
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
            "note": i.note,
            "differs": i.differs,
        }
        for i in items
    ]


def to_csv(items: Sequence[RescreenItem], fresh: Freshness) -> bytes:
    """UTF-8 CSV with a header; dates as YYYY-MM-DD, moments as RFC 3339 in UTC; a text that a
    spreadsheet would take for a formula behind an apostrophe; each row ends with the freshness
    (``FRESHNESS_COLUMNS``)."""
    return _csv(item_rows(items), COLUMNS, fresh)


def to_parquet(items: Sequence[RescreenItem], fresh: Freshness) -> bytes:
    return _parquet(item_rows(items), _SCHEMA, fresh)


NOTIFICATION_COLUMNS = (
    "notificationId",
    "skn",
    "caseKey",
    "memberState",
    "convictionDate",
    "dueDate",
    "sentAt",
    "state",
    "daysLate",
)
_NOTIFICATION_SCHEMA = pa.schema(
    [
        ("notificationId", pa.string()),
        ("skn", pa.string()),
        ("caseKey", pa.string()),
        ("memberState", pa.string()),
        ("convictionDate", pa.date32()),
        ("dueDate", pa.date32()),
        ("sentAt", pa.timestamp("s", tz="UTC")),
        ("state", pa.string()),
        ("daysLate", pa.float64()),
    ]
)


def notification_rows(found: Iterable[EcrisNotification]) -> list[dict[str, Any]]:
    """One dict per notification owed to a member state, keyed by ``NOTIFICATION_COLUMNS``."""
    return [
        {
            "notificationId": n.notification_id,
            "skn": n.skn,
            "caseKey": n.case_key,
            "memberState": n.member_state,
            "convictionDate": n.conviction_date,
            "dueDate": n.due_date,
            "sentAt": None if n.sent_at is None else datetime.fromtimestamp(int(n.sent_at), UTC),
            "state": n.state,
            "daysLate": n.delay_days,
        }
        for n in found
    ]


def notifications_csv(found: Sequence[EcrisNotification], fresh: Freshness) -> bytes:
    return _csv(notification_rows(found), NOTIFICATION_COLUMNS, fresh)


def notifications_parquet(found: Sequence[EcrisNotification], fresh: Freshness) -> bytes:
    return _parquet(notification_rows(found), _NOTIFICATION_SCHEMA, fresh)


def _cell(value: Any) -> Any:
    """One CSV cell: a moment as RFC 3339 in UTC, None empty, a text that a spreadsheet would
    run as a formula behind an apostrophe; numbers as they are."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if value is None:
        return ""
    if isinstance(value, str):  # a note or an outcome typed by one operator, read by another
        return guard(value)
    return value


def _csv(rows: Iterable[dict[str, Any]], columns: Sequence[str], fresh: Freshness) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=(*columns, *FRESHNESS_COLUMNS), lineterminator="\n")
    writer.writeheader()
    tail = dict(zip(FRESHNESS_COLUMNS, (fresh.as_of_iso(), fresh.compact()), strict=True))
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()} | tail)
    return out.getvalue().encode("utf-8")


def _parquet(rows: list[dict[str, Any]], schema: pa.Schema, fresh: Freshness) -> bytes:
    table = pa.Table.from_pylist(rows, schema=schema)
    as_of = datetime.fromisoformat(fresh.as_of_iso().replace("Z", "+00:00"))  # as in a CSV
    for (name, kind), value in zip(_FRESHNESS_FIELDS, (as_of, fresh.compact()), strict=True):
        table = table.append_column(name, pa.repeat(pa.scalar(value, kind), table.num_rows))
    table = table.replace_schema_metadata({FRESHNESS_METADATA: orjson.dumps(fresh.to_json())})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def rescreen_summary(items: Iterable[RescreenItem]) -> list[dict[str, Any]]:
    """Counts per (direction, consumer, profile, work state) of the answers that differ: no
    person in them."""
    counts = Counter((i.direction, i.consumer, i.profile, i.work_state) for i in items if i.differs)
    return [
        {"direction": d, "consumer": c, "profile": p, "workState": w, "count": n}
        for (d, c, p, w), n in sorted(counts.items())
    ]
