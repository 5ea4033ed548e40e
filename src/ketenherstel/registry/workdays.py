"""Working days in the Netherlands: the ECRIS deadline is 30 working days, not 42 calendar days.

A working day is a weekday that is not a public holiday as the Algemene termijnenwet counts them
(art. 3): Nieuwjaarsdag, Tweede Paasdag, Koningsdag, the fifth of May, Hemelvaartsdag, Tweede
Pinksterdag and the two Christmas days. Goede Vrijdag is not among them.
"""

from __future__ import annotations

from datetime import date, timedelta

__all__ = ["add_working_days", "holidays"]


def _easter(year: int) -> date:
    """Easter Sunday (the anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def holidays(year: int) -> frozenset[date]:
    """The year's public holidays that fall on a weekday or not (see the module's text)."""
    easter = _easter(year)
    kings = date(year, 4, 27)
    if kings.weekday() == 6:  # on a Sunday, Koningsdag is the Saturday before
        kings = date(year, 4, 26)
    return frozenset(
        {
            date(year, 1, 1),
            easter + timedelta(days=1),
            kings,
            date(year, 5, 5),
            easter + timedelta(days=39),
            easter + timedelta(days=50),
            date(year, 12, 25),
            date(year, 12, 26),
        }
    )


def add_working_days(start: date, n: int) -> date:
    """The date ``n`` working days after ``start`` (``start`` itself not counted)."""
    if n < 0:
        raise ValueError("n must not be negative")
    day = start
    left = n
    while left:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in holidays(day.year):
            left -= 1
    return day
