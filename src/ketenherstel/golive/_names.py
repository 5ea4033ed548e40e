"""Suggesting the name that was probably meant, for error messages; what a name may not hold."""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable

from ketenherstel.golive.channels import short_type

__all__ = ["did_you_mean", "hidden_in_name"]


def hidden_in_name(name: str) -> str | None:
    """The first character a plan's or a wave's name may not hold, named (``U+001B``): a
    control character (a tab or a line break too: a name is one line) or an invisible
    formatting one (a right-to-left override); None when it has none.

    The names go into the reason of every change `plan apply` makes and into the interim
    procedures it retires, which refuse such characters (``ketenherstel.text``, which this
    package does not import); refused here, a step never stops half-way over a name."""
    for ch in name:
        if unicodedata.category(ch) in ("Cc", "Cf"):
            return f"U+{ord(ch):04X}"
    return None


def did_you_mean(value: str, candidates: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the closest candidate (also by short type name), or ``""``."""
    names = sorted(candidates)
    folded = {name.lower(): name for name in names}
    if value.lower() in folded and folded[value.lower()] != value:
        return f"; did you mean {folded[value.lower()]!r}?"
    shorts = {short_type(name): name for name in names}
    if value in shorts and shorts[value] != value:
        return f"; did you mean {shorts[value]!r}?"
    close = difflib.get_close_matches(value, names, n=1, cutoff=0.6)
    if not close:
        close = [shorts[c] for c in difflib.get_close_matches(value, list(shorts), n=1, cutoff=0.6)]
    return f"; did you mean {close[0]!r}?" if close else ""
