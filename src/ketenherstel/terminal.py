"""The consoles the command lines print with: received and stored text is shown, never obeyed.

What the commands print comes from partners (event ids, subjects), from logs an attacker may have
written (a gateway log's user names, an appliance's file names), from spreadsheets and from the
store, including records an older version kept unchecked. Rich writes a string's control
characters to the terminal as they are (only a few, such as a carriage return, are dropped), so
an escape sequence in such a text would clear the screen, rewrite what was printed before it, set
the window's title or hide itself. `SafeConsole` shows every control or invisible formatting
character of the content it prints as an escape (``\\x1b``, ``\\u202e``); line breaks and tabs
stay. Rich's own styling and cursor control (colours, progress bars) are not content and pass.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

__all__ = ["SafeConsole", "visible", "whole_columns"]


def _shown(ch: str) -> str:
    if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf"):
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with each control or invisible formatting character but a line break or a tab
    written as an escape."""
    if text.isprintable():  # false for every Cc and Cf character (tests/test_text.py)
        return text
    return "".join(_shown(ch) for ch in text)


def whole_columns(table: Table, *headers: str) -> Table:
    """``table`` with the columns named by ``headers`` kept whole, however narrow the terminal
    (or a pipe: 80 columns): an id or other value a user copies into the next command is
    neither cut short (``cred-5a88…``) nor broken over lines. Each such column is as wide as
    its widest value, as `SafeConsole` shows it; the other columns wrap to make room, a word
    too long for its column folded onto the next line rather than cut short with an ellipsis.
    Call it once the rows are added."""
    for column in table.columns:
        if column.header not in headers:
            column.overflow = "fold"
            continue
        widths = [
            cell_len(visible(line))
            for cell in column.cells
            if isinstance(cell, str | Text)
            for line in (cell.plain if isinstance(cell, Text) else cell).splitlines()
        ]
        column.no_wrap = True
        column.min_width = max(widths, default=None)
    return table


class SafeConsole(Console):
    """A Rich console whose printed content can hold no live control characters.

    Strings and `Text` are escaped before Rich lays them out, so a table's columns are as wide
    as the escapes (and nothing is cropped away); what any other renderable makes is escaped
    after, as a last resort."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(visible(text), **kwargs)

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        if isinstance(renderable, Text) and not renderable.plain.isprintable():
            shown = visible(renderable.plain)
            if shown != renderable.plain:  # its spans no longer fit: the text keeps its style
                renderable = Text(
                    shown,
                    style=renderable.style,
                    justify=renderable.justify,
                    overflow=renderable.overflow,
                    no_wrap=renderable.no_wrap,
                    end=renderable.end,
                )
        for segment in super().render(renderable, options):
            text, style, control = segment
            if control is None and text and not text.isprintable():
                shown = visible(text)
                if shown != text:
                    segment = Segment(shown, style, control)
            yield segment
