"""What is wrong with the shape of a CSV ledger that DuckDB could not read as a table: a row
with more or fewer fields than the header, or mixed line endings (decision 0011).

DuckDB's sniffer answers such a file with a dialect error that names no row, or reads it as
one column named after the whole header. Only then is the file read again here, once, as a
stream, to name the first row (and its line) that does not fit.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CsvShapeProblem", "csv_shape_problem", "looks_unsplit"]

_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True, slots=True)
class CsvShapeProblem:
    message: str
    row: int | None
    """The data row (from 1, after the header), as the other checks count rows."""


def looks_unsplit(columns: list[str]) -> bool:
    """A CSV read as one column whose name holds a delimiter: DuckDB gave up splitting it."""
    return len(columns) == 1 and any(d in columns[0] for d in _DELIMITERS)


def csv_shape_problem(path: Path) -> CsvShapeProblem | None:
    """The first row whose field count is not the header's, else the first line whose ending
    differs from the header's; None when neither is found (or the file cannot be read)."""
    try:
        return _fields(path) or _endings(path)
    except (OSError, csv.Error, UnicodeError):
        return None


def _fields(path: Path) -> CsvShapeProblem | None:
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        first = fh.readline()
        counts = {d: first.count(d) for d in _DELIMITERS}
        delimiter = max(_DELIMITERS, key=lambda d: counts[d])
        if counts[delimiter] == 0:
            return None  # one column: every row fits
        fh.seek(0)
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            return None
        row = 0
        for fields in reader:
            if not fields:
                continue  # a blank line is no row
            row += 1
            if len(fields) != len(header):
                return CsvShapeProblem(
                    f"the row has {len(fields)} fields instead of the header's {len(header)} "
                    f"(line {reader.line_num}, delimiter {delimiter!r})",
                    row,
                )
    return None


def _endings(path: Path) -> CsvShapeProblem | None:
    with path.open("rb") as fh:
        first: bytes | None = None
        for line, raw in enumerate(fh, start=1):
            if not raw.endswith(b"\n"):
                break  # the last line, without an ending
            ending = b"\r\n" if raw.endswith(b"\r\n") else b"\n"
            if first is None:
                first = ending
            elif ending != first:
                return CsvShapeProblem(
                    f"line {line} ends in {_NAME[ending]} where line 1 ends in {_NAME[first]} "
                    "(mixed line endings); save the file with one kind of line ending",
                    None,
                )
    return None


_NAME = {b"\r\n": "CRLF", b"\n": "LF"}
