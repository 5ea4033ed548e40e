"""A store made (migrated) the way `ketenherstel init` makes one, for tests of commands that
refuse a store that does not exist."""

from __future__ import annotations

from ketenherstel.store import open_store


def made(url: str) -> str:
    """Create the store at ``url`` (empty, migrated) and return ``url``."""
    open_store(url).close()
    return url
