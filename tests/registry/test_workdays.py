"""Working days for the ECRIS deadline (30 working days): weekends and the public holidays of
the Algemene termijnenwet are not counted."""

from __future__ import annotations

from datetime import date

import pytest

from ketenherstel.registry.workdays import _easter, add_working_days, holidays


@pytest.mark.parametrize(
    ("year", "easter"),
    [(2024, date(2024, 3, 31)), (2025, date(2025, 4, 20)), (2026, date(2026, 4, 5))],
)
def test_easter(year: int, easter: date) -> None:
    assert _easter(year) == easter


def test_the_holidays_of_2025() -> None:
    assert sorted(holidays(2025)) == [
        date(2025, 1, 1),
        date(2025, 4, 21),  # Tweede Paasdag
        date(2025, 4, 26),  # Koningsdag: 27 April was a Sunday
        date(2025, 5, 5),
        date(2025, 5, 29),  # Hemelvaartsdag
        date(2025, 6, 9),  # Tweede Pinksterdag
        date(2025, 12, 25),
        date(2025, 12, 26),
    ]


def test_working_days_skip_weekends_and_holidays() -> None:
    assert add_working_days(date(2025, 7, 1), 30) == date(2025, 8, 12)  # no holidays between
    assert add_working_days(date(2025, 4, 17), 1) == date(2025, 4, 18)  # Goede Vrijdag counts
    assert add_working_days(date(2025, 4, 18), 1) == date(2025, 4, 22)  # weekend, Paasmaandag
    assert add_working_days(date(2025, 12, 19), 5) == date(2025, 12, 30)
    assert add_working_days(date(2025, 5, 1), 0) == date(2025, 5, 1)
    with pytest.raises(ValueError):
        add_working_days(date(2025, 5, 1), -1)
