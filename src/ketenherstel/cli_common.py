"""What the CLI's command groups share: the one-line error and its exit code."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["err", "fail"]

err = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr (markup in the message is shown, not applied) and
    return the exit to raise: 2 for bad input, 1 for something that does not exist."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)
