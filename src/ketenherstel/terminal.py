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

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.text import Text

__all__ = ["SafeConsole", "visible"]


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
