"""Fixtures of the manual tests."""

from __future__ import annotations

import pytest

from ketenherstel.store._sql_manual import ManualSql
from ketenherstel.store.sqlite import SqliteStore
from tests.manual.support import manual_sqlite_class


@pytest.fixture
def stores_keep_manual_records(monkeypatch: pytest.MonkeyPatch) -> None:
    """TEMPORARY until `SqlStore` includes `ManualSql`: the CLI opens such a store."""
    if not issubclass(SqliteStore, ManualSql):
        import ketenherstel.store.sqlite as module

        monkeypatch.setattr(module, "SqliteStore", manual_sqlite_class())
