"""Which line of a JSON Lines ledger keeps DuckDB from reading it (decision 0011).

DuckDB's message names a line, but not the file's: it counts one past the bad line, and
leaves blank lines out of its count. A line that is JSON but no object (``[1, 2]``, ``3``)
among the lines DuckDB samples gets no message at all: the file is read as one column
``json`` of whole lines. A line ``null`` gets none either: it is read as a row whose every
column is empty (as ``{}`` is). Only in these three cases (an error; one column ``json``; a
row with no value at all) is the file read again here, once, as a stream, to name the first
line (counted as an editor counts them) that is not one JSON object, or that gives a key twice
in one object (DuckDB refuses that too, naming the key but, again, a line by its own count).
"""

from __future__ import annotations

import json
from pathlib import Path

from ketenherstel.documents import json_duplicates

__all__ = ["jsonl_line_problem"]


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON value")


def jsonl_line_problem(path: Path) -> str | None:
    """What is wrong with the first line that is not one JSON object (blank lines are
    skipped, as DuckDB skips them); None when every line is one, or the file cannot be read."""
    try:
        with path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                problem = _line_problem(raw, first=number == 1)
                if problem is not None:
                    return f"line {number} {problem}"
    except OSError:
        return None
    return None


def _line_problem(raw: bytes, *, first: bool) -> str | None:
    try:
        text = raw.decode("utf-8-sig" if first else "utf-8")
    except UnicodeDecodeError:
        return "is not UTF-8 text"
    if not text.strip():
        return None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        return f"is not JSON: {exc.msg} (at character {exc.colno})"
    except ValueError as exc:
        return f"is not JSON: {exc}"
    except RecursionError:
        return "is not JSON this reader can take: nested too deeply"
    if not isinstance(value, dict):
        return "is not a JSON object (one record per line: {...})"
    twice = json_duplicates(text)
    if twice:
        return f"gives a key twice: {twice[0]}; give each key once"
    return None
