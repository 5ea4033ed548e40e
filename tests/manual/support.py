"""Shared by the manual tests: a store that keeps manual records, and a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ketenherstel.store._sql_manual import ManualSql
from ketenherstel.store.sqlite import SqliteStore

NOW = datetime(2025, 9, 1, 12, 0, tzinfo=UTC).timestamp()
UITSPRAAK = "nl.strafrechtketen.registratie.uitspraak-geregistreerd.v1"
VH_BESLIST = "nl.strafrechtketen.vervolging.voorlopige-hechtenis-beslist.v1"
HEADER = "Partij;Parketnummer;Soort;Datum;Geregistreerd door;Uitspraakdatum"
MAPPING: dict[str, Any] = {
    "columns": {
        "partner": "Partij",
        "case": "Parketnummer",
        "type": "Soort",
        "when": "Datum",
        "role": "Geregistreerd door",
    },
    "fields": {"judgmentDate": "Uitspraakdatum"},
}


def row(case: str = "13-100001-25", **kw: str) -> str:
    values = {
        "partner": "OM",
        "type": "uitspraak-geregistreerd",
        "when": "21-07-2025",
        "role": "parket Amsterdam",
        "judgment": "18-07-2025",
    }
    values.update(kw)
    return ";".join(
        [
            values["partner"],
            case,
            values["type"],
            values["when"],
            values["role"],
            values["judgment"],
        ]
    )


def csv_bytes(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def manual_sqlite_class() -> type[Any]:
    """SqliteStore with the manual mixin (SqliteStore itself once `SqlStore` includes it)."""
    if issubclass(SqliteStore, ManualSql):
        return SqliteStore
    return type("ManualSqliteStore", (SqliteStore, ManualSql), {})


def open_manual_sqlite(path: Path) -> Any:
    store = manual_sqlite_class()(path)
    store.migrate()
    return store
