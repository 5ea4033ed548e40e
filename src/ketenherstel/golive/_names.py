"""Suggesting the name that was probably meant, for error messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from ketenherstel.golive.channels import short_type

__all__ = ["did_you_mean"]


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
