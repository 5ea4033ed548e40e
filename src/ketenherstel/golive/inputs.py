"""Forecast inputs from CSV files, every problem named by file, row and column.

Each file has a header row; columns may come in any order, and every column is required::

    backlog.csv   receiver,sender,type,count,oldest        oldest: ISO 8601 with UTC offset
    inflow.csv    receiver,sender,type,per_day             per_day: messages a day (may be 0.5)
    actual.csv    day,sender,receiver,backlog              day: 2025-09-01; backlog at day's end

Rows are numbered as lines of the file (the header is row 1). Nothing is returned unless the
whole file is right: :class:`ForecastInputError` lists every problem.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

from ketenherstel.chain import Chain
from ketenherstel.chain.utf8 import NotUtf8Error, read_utf8
from ketenherstel.golive.errors import ForecastInputError, PlanProblem
from ketenherstel.golive.forecast import MAX_MESSAGES, ActualPoint, Backlog, Inflow, check_flow
from ketenherstel.golive.model import outside_dates, with_offset

__all__ = ["read_actual_csv", "read_backlog_csv", "read_inflow_csv"]

_T = TypeVar("_T")
_Row = dict[str, str]


class _Problems:
    def __init__(self, file: str) -> None:
        self.file = file
        self.found: list[PlanProblem] = []

    def add(self, row: int | None, column: str | None, message: str) -> None:
        where = self.file
        if row is not None:
            where += f" row {row}"
        if column is not None:
            where += f" column {column!r}"
        self.found.append(PlanProblem(where, message))


def read_backlog_csv(
    path: Path | str, chain: Chain, *, start: datetime | None = None
) -> list[Backlog]:
    """Backlog rows; with ``start``, an ``oldest`` after it is refused too."""

    def parse(row: _Row, number: int, problems: _Problems) -> Backlog | None:
        flow_ok = _flow(row, number, problems, chain)
        count = _number(row, "count", number, problems, int, "a whole number (0 or more)")
        oldest = _moment(row, "oldest", number, problems)
        if oldest is not None and start is not None and oldest > start:
            problems.add(
                number, "oldest", f"{row['oldest']} is after the start {start.isoformat()}"
            )
            oldest = None
        if not flow_ok or count is None or oldest is None:
            return None
        return Backlog(row["receiver"], row["sender"], row["type"], int(count), oldest)

    columns = ("receiver", "sender", "type", "count", "oldest")
    return _read(Path(path), columns, parse, ("receiver", "sender", "type"))


def read_inflow_csv(path: Path | str, chain: Chain) -> list[Inflow]:
    """Inflow rows: messages a day per (receiver, sender, type)."""

    def parse(row: _Row, number: int, problems: _Problems) -> Inflow | None:
        flow_ok = _flow(row, number, problems, chain)
        per_day = _number(row, "per_day", number, problems, float, "a number of messages a day")
        if not flow_ok or per_day is None:
            return None
        return Inflow(row["receiver"], row["sender"], row["type"], float(per_day))

    columns = ("receiver", "sender", "type", "per_day")
    return _read(Path(path), columns, parse, ("receiver", "sender", "type"))


def read_actual_csv(path: Path | str, chain: Chain) -> list[ActualPoint]:
    """Measured backlog per channel at the end of each day."""
    partners = {p.key for p in chain.partners}

    def parse(row: _Row, number: int, problems: _Problems) -> ActualPoint | None:
        ok = True
        for column in ("sender", "receiver"):
            if row[column] not in partners:
                problems.add(number, column, f"unknown partner {row[column]!r}")
                ok = False
        backlog = _number(row, "backlog", number, problems, float, "a number (0 or more)")
        day: date | None = None
        try:
            day = date.fromisoformat(row["day"].strip())
        except ValueError:
            problems.add(number, "day", f"{row['day']!r} is not a date like 2025-09-01")
        if day is not None and (why := outside_dates(day)) is not None:
            problems.add(number, "day", why)
            day = None
        if not ok or backlog is None or day is None:
            return None
        return ActualPoint(row["sender"], row["receiver"], day, float(backlog))

    columns = ("day", "sender", "receiver", "backlog")
    return _read(Path(path), columns, parse, ("day", "sender", "receiver"))


def _read(
    path: Path,
    columns: tuple[str, ...],
    parse: Callable[[_Row, int, _Problems], _T | None],
    key: tuple[str, ...],
) -> list[_T]:
    """The file's rows, parsed; a row with the same ``key`` columns as an earlier one is a
    problem (two backlog rows for one flow were added up silently, whatever their oldest)."""
    problems = _Problems(path.name)
    items: list[_T] = []
    seen: dict[tuple[str, ...], int] = {}
    try:
        # A spreadsheet's "CSV UTF-8" starts with a byte order mark, and a Dutch one separates
        # with semicolons: both are read as such.
        text = read_utf8(path)
        first = next((line for line in text.splitlines() if line.strip()), "")
        delimiter = ";" if first.count(";") > first.count(",") else ","
        handle = io.StringIO(text, newline="")
        for number, row in _rows(handle, columns, problems, delimiter):
            same = tuple(row[c] for c in key)
            if same in seen:
                problems.add(
                    number,
                    None,
                    f"has the same {', '.join(key)} as row {seen[same]}: give each once",
                )
                continue
            seen[same] = number
            item = parse(row, number, problems)
            if item is not None:
                items.append(item)
    except NotUtf8Error as exc:  # a spreadsheet's plain "CSV" (cp1252), or UTF-16
        problems.add(None, None, f"{exc.problem.message} (a spreadsheet's 'CSV UTF-8')")
    except (OSError, csv.Error) as exc:
        problems.add(None, None, f"cannot read {path}: {exc}")
    if problems.found:
        raise ForecastInputError(problems.found)
    return items


def _rows(
    handle: Iterator[str], columns: tuple[str, ...], problems: _Problems, delimiter: str = ","
) -> Iterator[tuple[int, _Row]]:
    reader = csv.reader(handle, delimiter=delimiter, strict=True)
    header = next(reader, None)
    if header is None:
        problems.add(None, None, f"the file is empty; expected a header row: {','.join(columns)}")
        return
    names = [name.strip() for name in header]
    missing = [c for c in columns if c not in names]
    unknown = [n for n in names if n not in columns]
    if missing or unknown:
        detail = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"unknown {', '.join(unknown)}" if unknown else "",
            )
            if part
        )
        problems.add(1, None, f"the header has {detail}; expected the columns {','.join(columns)}")
        return
    for values in reader:
        number = reader.line_num
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(names):
            problems.add(number, None, f"has {len(values)} fields, the header {len(names)}")
            continue
        yield number, {name: value.strip() for name, value in zip(names, values, strict=True)}


def _flow(row: _Row, number: int, problems: _Problems, chain: Chain) -> bool:
    reasons = check_flow(chain, row["receiver"], row["sender"], row["type"])
    for column, reason in reasons:
        problems.add(number, column, reason)
    return not reasons


def _number(
    row: _Row,
    column: str,
    number: int,
    problems: _Problems,
    kind: Callable[[str], float | int],
    expected: str,
) -> float | int | None:
    """A count or a number of messages: 0 up to :data:`MAX_MESSAGES`; anything else (not a
    number, negative, infinite or NaN, or beyond that) is a problem of its row and column."""
    text = row[column]
    try:
        value = kind(text)
    except ValueError:
        if not (text.isascii() and text.isdigit()):
            problems.add(number, column, f"{_shown(text)} is not {expected}")
            return None
        value = MAX_MESSAGES + 1  # int() refuses more than 4,300 digits: too many anyway
    if isinstance(value, float) and value == math.inf and "inf" not in text.lower():
        value = MAX_MESSAGES + 1  # 1e400: too big for a float, not infinity as written
    # An int of 400 digits is no float (math.isfinite raised OverflowError): compared as is.
    if (isinstance(value, float) and not math.isfinite(value)) or value < 0:
        problems.add(number, column, f"{_shown(text)} is not {expected}")
        return None
    if value > MAX_MESSAGES:
        problems.add(
            number,
            column,
            f"{_shown(text)} is more than a forecast takes: at most {MAX_MESSAGES:,} messages",
        )
        return None
    return value


def _shown(text: str) -> str:
    """A cell for a message: quoted, a long one cut to its start and its length."""
    if len(text) <= 40:
        return repr(text)
    return f"{text[:20]!r}… ({len(text):,} characters)"


def _moment(row: _Row, column: str, number: int, problems: _Problems) -> datetime | None:
    text = row[column]
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        problems.add(number, column, f"{text!r} is not a date-time like 2025-07-18T09:00:00+02:00")
        return None
    if value.tzinfo is None:
        hint = f"{text!r} has no UTC offset; add one, e.g. {with_offset(text)}"
        problems.add(number, column, hint)
        return None
    why = outside_dates(value)
    if why is not None:
        problems.add(number, column, why)
        return None
    return value
