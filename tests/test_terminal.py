"""ketenherstel.terminal: what the command lines print is shown, never obeyed by a terminal."""

from __future__ import annotations

import io

from rich.table import Table
from rich.text import Text

from ketenherstel.terminal import SafeConsole, visible

HOSTILE = "u\x1b]0;title\x07ser\x1b[2J\r\x08\u202eevil\u200b"
SHOWN = "u\\x1b]0;title\\x07ser\\x1b[2J\\x0d\\x08\\u202eevil\\u200b"


def printed(*objects: object, terminal: bool = True) -> str:
    buffer = io.StringIO()
    console = SafeConsole(
        file=buffer,
        force_terminal=terminal,
        width=200,
        color_system="standard" if terminal else None,
    )
    console.print(*objects, highlight=False)
    return buffer.getvalue()


def test_visible_escapes_control_and_format_characters_but_keeps_lines_and_tabs() -> None:
    assert visible(HOSTILE) == SHOWN
    assert visible("regel één\n\tregel twee\u00a0nbsp") == "regel één\n\tregel twee\u00a0nbsp"
    assert visible("") == ""


def test_plain_text_a_table_and_a_text_object_are_shown_escaped() -> None:
    table = Table("who")
    table.add_row(HOSTILE)
    # Rich's Text drops a bell, backspace and carriage return itself when it is made.
    dropped = SHOWN.replace("\\x07", "").replace("\\x0d\\x08", "")
    for obj, shown in ((HOSTILE, SHOWN), (table, SHOWN), (Text(HOSTILE), dropped)):
        for terminal in (True, False):
            out = printed(obj, terminal=terminal)
            assert "\x07" not in out and "\u202e" not in out and "\x08" not in out
            assert "\x1b]" not in out and "\x1b[2J" not in out
            assert shown in out, (obj, terminal, out)  # whole: a table cell is not cropped


def test_the_consoles_own_styling_still_reaches_the_terminal() -> None:
    out = printed(Text("rood", style="red"), "\n", "[bold]vet[/]")
    assert "\x1b[31mrood\x1b[0m" in out and "\x1b[1mvet\x1b[0m" in out
    assert printed("[bold]vet[/]", terminal=False) == "vet\n"
