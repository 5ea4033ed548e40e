"""Interim procedures checked against the chain (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ketenherstel.chain import Chain
from ketenherstel.manual import ProcedureDraft, check_procedure


def test_a_procedure_resolves_partners_and_its_manual_type(chain: Chain) -> None:
    checked, problems = check_procedure(
        chain,
        ProcedureDraft(
            process="voorlopige-hechtenis",
            replaces="raadkamerbeslissingen per koerier",
            valid_from="21-07-2025",
            partners_informed=["Rechtspraak", "DJI"],
            emergency_route=" ",
            manual_type="voorlopige-hechtenis-beslist",
        ),
    )
    assert problems == [] and checked is not None
    assert checked.partners_informed == ("rechtspraak", "dji")
    assert checked.emergency_route is None
    assert checked.manual_type == "nl.strafrechtketen.vervolging.voorlopige-hechtenis-beslist.v1"
    assert checked.valid_from == datetime(2025, 7, 20, 22, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("valid_from", "side"),
    [
        ("01-01-0001", "before"),
        ("0001-01-01", "before"),
        ("31-12-1999 23:00", "before"),
        (datetime(2200, 1, 1, 12, tzinfo=UTC), "after"),
    ],
)
def test_a_date_outside_2000_to_2199_is_refused(
    chain: Chain, valid_from: str | datetime, side: str
) -> None:
    checked, problems = check_procedure(
        chain, ProcedureDraft("voorlopige-hechtenis", "papier", valid_from)
    )
    assert checked is None
    assert [p.column for p in problems] == ["validFrom"]
    assert f"lies {side} the dates taken here (01-01-2000 to 31-12-2199)" in problems[0].reason


def test_every_problem_of_a_procedure_is_named(chain: Chain) -> None:
    checked, problems = check_procedure(
        chain,
        ProcedureDraft(
            process="raadkamer",
            replaces="papier",
            valid_from="soon",
            partners_informed=["om", "om"],
            manual_type="nonsense",
        ),
    )
    assert checked is None
    assert [(p.column, p.reason.split(" ")[0]) for p in problems] == [
        ("process", "unknown"),
        ("validFrom", "bad"),
        ("partnersInformed", "om"),
        ("manualType", "unknown"),
    ]
