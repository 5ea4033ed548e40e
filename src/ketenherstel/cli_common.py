"""What the CLI's command groups share: the one-line error and its exit code."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from ketenherstel.bootstrap import Runtime

__all__ = ["err", "fail", "local_runtime"]

err = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr (markup in the message is shown, not applied) and
    return the exit to raise: 2 for bad input, 1 for something that does not exist."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextlib.contextmanager
def local_runtime(store: str | None, registry: str | None = None) -> Iterator[Runtime]:
    """The runtime on the local store (and registry), closed after use; a store or chain that
    cannot be opened is a one-line error with exit code 2."""
    from ketenherstel.bootstrap import bootstrap
    from ketenherstel.chain import ChainError
    from ketenherstel.settings import Settings
    from ketenherstel.store import StoreError

    try:
        rt = bootstrap(Settings.from_env(store_url=store, registry_url=registry))
    except (ChainError, StoreError, ValueError, OSError) as exc:
        raise fail(str(exc)) from None
    try:
        yield rt
    finally:
        rt.close()
