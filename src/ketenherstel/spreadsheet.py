"""Text cells that a spreadsheet would run as a formula (OWASP: CSV injection).

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is taken for a
formula (or a DDE call) by Excel and LibreOffice. Where a CSV file holds text that someone
else typed (an operator's note, a partner's message id), such a text is written behind an
apostrophe, which shows it as the text it is.
"""

from __future__ import annotations

__all__ = ["FORMULA_START", "guard", "guard_reversibly", "unguard"]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def guard(text: str) -> str:
    """``text`` behind an apostrophe when a spreadsheet would run it; else as it is."""
    return "'" + text if text.startswith(FORMULA_START) else text


def guard_reversibly(text: str) -> str:
    """As :func:`guard`, and a text that begins with an apostrophe gets one more, so that
    :func:`unguard` gives back exactly the text (for a file that is also read back)."""
    return "'" + text if text.startswith((*FORMULA_START, "'")) else text


def unguard(text: str) -> str:
    """What :func:`guard_reversibly` was given."""
    return text[1:] if text.startswith("'") else text
