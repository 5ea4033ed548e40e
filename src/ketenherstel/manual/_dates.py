"""Dates as people type them in Dutch spreadsheets: `dd-mm-yyyy`, `dd-mm-yyyy hh:mm`, ISO 8601.

A time without an offset is Europe/Amsterdam time; a date alone is midnight there.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from ketenherstel.text import hidden_character

_DMY = re.compile(
    r"(?P<d>[0-9]{1,2})[-/.](?P<m>[0-9]{1,2})[-/.](?P<y>[0-9]{4})"
    r"(?:[ T]+(?P<H>[0-9]{1,2})[:.](?P<M>[0-9]{2})(?:[:.](?P<S>[0-9]{2}))?)?"
)
WHEN_FORMATS = "dd-mm-yyyy, dd-mm-yyyy hh:mm or ISO 8601 (yyyy-mm-dd[Thh:mm[:ss][+hh:mm]])"

# Paper work and interim procedures are dated in this range; a year typed as 0001 or 9999 is a
# typo (and a year-1 date cannot even be shown in Amsterdam time). The go-live plan bounds its
# dates the same way (`golive.model.FIRST_DAY`), the registry its facts.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2199, 12, 31)


@functools.cache
def amsterdam() -> ZoneInfo:
    """Europe/Amsterdam, loaded on first use (never at import time)."""
    return ZoneInfo("Europe/Amsterdam")


def _visible(text: str) -> str:
    """The text without its outer spaces; raises ValueError for a control or invisible
    character anywhere in it (a NUL after an ISO time was dropped without a word, a vertical
    tab stripped as a space), which is no part of a date someone typed."""
    hidden = hidden_character(text)
    if hidden is not None:
        raise ValueError(f"bad date {text!r}: it holds a control or invisible character ({hidden})")
    return text.strip()


def parse_when(text: str) -> datetime:
    """An aware datetime; raises ValueError naming the accepted formats."""
    value = _visible(text)
    match = _DMY.fullmatch(value)
    try:
        if match is not None:
            parts = {k: int(v) for k, v in match.groupdict().items() if v is not None}
            moment = datetime(
                parts["y"],
                parts["m"],
                parts["d"],
                parts.get("H", 0),
                parts.get("M", 0),
                parts.get("S", 0),
            )
        elif re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            moment = datetime.combine(date.fromisoformat(value), time())
        elif re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]", value):
            moment = datetime.fromisoformat(value)
        else:
            raise ValueError("unknown format")
    except ValueError as exc:
        why = "" if str(exc) == "unknown format" else f" ({exc})"
        raise ValueError(f"bad date {text!r}{why}: use {WHEN_FORMATS}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=amsterdam())
    return moment


def outside_dates(moment: datetime) -> str | None:
    """Why a moment cannot be meant (its date lies outside FIRST_DAY to LAST_DAY), or None.

    Both the date as given and the date in Amsterdam time (the time of a date without an
    offset, and the time the CLI and the UI show) must lie in the range: an offset could push
    a moment dated 31-12-2199 into 2200 (`2199-12-31T23:59:59-23:59` is 1 January 2200 in UTC,
    as it is stored). Amsterdam is ahead of UTC, so a stored moment is never after 2199 in UTC.
    """
    taken = f"the dates taken here ({FIRST_DAY:%d-%m-%Y} to {LAST_DAY:%d-%m-%Y})"
    day = moment.date()
    if not FIRST_DAY <= day <= LAST_DAY:
        side = "before" if day < FIRST_DAY else "after"
        return f"date {day.day:02d}-{day.month:02d}-{day.year:04d} lies {side} {taken}"
    if moment.tzinfo is None:
        return None
    day = moment.astimezone(amsterdam()).date()
    if not FIRST_DAY <= day <= LAST_DAY:
        side = "before" if day < FIRST_DAY else "after"
        where = f"{moment.isoformat()} is {day:%d-%m-%Y} in Amsterdam time"
        return f"{where}, which lies {side} {taken}"
    return None


def parse_day(text: str) -> date:
    """A calendar date from `dd-mm-yyyy` or `yyyy-mm-dd`; raises ValueError."""
    value = _visible(text)
    match = _DMY.fullmatch(value)
    try:
        if match is not None and match.group("H") is None:
            return date(int(match.group("y")), int(match.group("m")), int(match.group("d")))
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"bad date {text!r} ({exc}): use dd-mm-yyyy or yyyy-mm-dd") from None
    raise ValueError(f"bad date {text!r}: use dd-mm-yyyy or yyyy-mm-dd")
