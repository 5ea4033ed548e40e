"""Storage for the exchange: the protocol (`ports`) and its SQLite and PostgreSQL adapters.

Nothing outside this package writes SQL for the exchange's tables.
"""

from __future__ import annotations

import re
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

    The store is migrated before it is returned. A URL of another scheme, an empty URL or path,
    or a directory raises ValueError saying so.
    """
    store: Store
    if url.startswith(("postgresql://", "postgres://")):
        from ketenherstel.store.postgres import PostgresStore

        store = PostgresStore(url)
    else:
        from ketenherstel.store.sqlite import SqliteStore

        file = sqlite_file(url)
        if file is not None and file.is_dir():
            raise ValueError(f"store {file} is a directory; give a file (sqlite:///PATH)")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        store = SqliteStore(file or ":memory:", synchronous=synchronous)  # type: ignore[arg-type]
    store.migrate()
    return store


_FORMS = "sqlite:///PATH, a plain path or postgresql://…"
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite store URL (or plain path); None for PostgreSQL and ``:memory:``.

    An empty URL, ``sqlite:`` without ``///`` or a path, and a URL of another scheme
    (``mysql://…``) raise ValueError naming the problem: nothing is made of them.
    """
    if url.startswith(("postgresql://", "postgres://")):
        return None
    if not url.strip():
        raise ValueError(f"the store URL is empty; a store is {_FORMS}")
    if url.startswith("sqlite:") and not url.startswith("sqlite:///"):
        raise ValueError(f"a SQLite URL looks like sqlite:///path/to/file.db, not {url!r}")
    scheme = _SCHEME.match(url)
    if scheme is not None and scheme.group(1) != "sqlite":
        raise ValueError(
            f"{scheme.group(1)}:// is not a supported store ({url!r}); a store is {_FORMS}"
        )
    path = url.removeprefix("sqlite:///")
    if not path.strip():
        raise ValueError(f"a SQLite URL needs a path: sqlite:///path/to/file.db, not {url!r}")
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
