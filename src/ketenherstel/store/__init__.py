"""Storage for the exchange: the protocol (`ports`) and its SQLite and PostgreSQL adapters.

Nothing outside this package writes SQL for the exchange's tables.
"""

from __future__ import annotations

from pathlib import Path

from ketenherstel.store.ports import (
    AlreadyExists,
    NotFound,
    Store,
    StoreError,
    StoreUnavailable,
)


def open_store(url: str, *, synchronous: str = "FULL") -> Store:
    """Open a store from a URL: `sqlite:///path/file.db`, a plain file path, or `postgresql://…`.

    The store is migrated before it is returned.
    """
    store: Store
    if url.startswith(("postgresql://", "postgres://")):
        from ketenherstel.store.postgres import PostgresStore

        store = PostgresStore(url)
    else:
        from ketenherstel.store.sqlite import SqliteStore

        path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
        if url.startswith("sqlite:") and not url.startswith("sqlite:///"):
            raise ValueError(f"a SQLite URL looks like sqlite:///path/to/file.db, not {url!r}")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        store = SqliteStore(Path(path) if path != ":memory:" else path, synchronous=synchronous)  # type: ignore[arg-type]
    store.migrate()
    return store


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite store URL (or plain path); None for PostgreSQL and ``:memory:``."""
    if url.startswith(("postgresql://", "postgres://")):
        return None
    if url.startswith("sqlite:") and not url.startswith("sqlite:///"):
        raise ValueError(f"a SQLite URL looks like sqlite:///path/to/file.db, not {url!r}")
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    return None if path == ":memory:" else Path(path)


__all__ = [
    "AlreadyExists",
    "NotFound",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "open_store",
    "sqlite_file",
]
