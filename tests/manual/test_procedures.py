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


@pytest.mark.parametrize(
    ("valid_from", "says"),
    [
        # 1 January 2200 in UTC, as it would be stored; 2 January in Amsterdam
        ("2199-12-31T23:59:59-23:59", "is 02-01-2200 in Amsterdam time, which lies after"),
        ("2199-12-31T23:30:00Z", "is 01-01-2200 in Amsterdam time, which lies after"),
        ("2000-01-01T00:00+23:59", "is 31-12-1999 in Amsterdam time, which lies before"),
    ],
)
def test_an_offset_that_moves_a_date_out_of_2000_to_2199_is_refused(
    chain: Chain, valid_from: str, says: str
) -> None:
    checked, problems = check_procedure(
        chain, ProcedureDraft("voorlopige-hechtenis", "papier", valid_from)
    )
    assert checked is None
    assert [p.column for p in problems] == ["validFrom"]
    assert says in problems[0].reason and "(01-01-2000 to 31-12-2199)" in problems[0].reason


@pytest.mark.parametrize(
    ("valid_from", "expected"),
    [
        ("01-01-2000", datetime(1999, 12, 31, 23, 0, tzinfo=UTC)),
        ("2000-01-01T00:30+01:00", datetime(1999, 12, 31, 23, 30, tzinfo=UTC)),
        ("31-12-2199 23:59", datetime(2199, 12, 31, 22, 59, tzinfo=UTC)),
        ("2199-12-31T22:59:59Z", datetime(2199, 12, 31, 22, 59, 59, tzinfo=UTC)),
    ],
)
def test_the_first_and_last_days_in_amsterdam_are_taken(
    chain: Chain, valid_from: str, expected: datetime
) -> None:
    checked, problems = check_procedure(
        chain, ProcedureDraft("voorlopige-hechtenis", "papier", valid_from)
    )
    assert problems == [] and checked is not None
    assert checked.valid_from == expected.timestamp()


@pytest.mark.parametrize(
    ("valid_from", "hidden"),
    [
        ("2025-08-12T10:00:00Z\x00", "U+0000"),  # the NUL was dropped without a word
        ("2025-08-12T10:00:00+02:00\x00", "U+0000"),
        ("21-07-2025\x0b", "U+000B"),  # stripped as a space
        ("\x1b[2J21-07-2025", "U+001B"),
        ("2025-07-21\u200b", "U+200B"),
    ],
)
def test_a_date_with_a_control_or_invisible_character_is_refused(
    chain: Chain, valid_from: str, hidden: str
) -> None:
    checked, problems = check_procedure(
        chain, ProcedureDraft("voorlopige-hechtenis", "papier", valid_from)
    )
    assert checked is None
    assert [p.column for p in problems] == ["validFrom"]
    assert f"holds a control or invisible character ({hidden})" in problems[0].reason


@pytest.mark.parametrize(
    ("replaces", "hidden"),
    [("per koerier\x1b[2J", "U+001B"), ("per \u202ekoerier", "U+202E"), ("per\x00", "U+0000")],
)
def test_what_replaces_the_flow_holds_no_control_characters(
    chain: Chain, replaces: str, hidden: str
) -> None:
    """An escape sequence in it was stored, and shown to the next terminal listing it."""
    checked, problems = check_procedure(
        chain, ProcedureDraft("voorlopige-hechtenis", replaces, "21-07-2025")
    )
    assert checked is None
    assert [p.column for p in problems] == ["replaces"]
    assert f"holds a control or invisible character ({hidden})" in problems[0].reason
    checked, problems = check_procedure(
        chain, ProcedureDraft("voorlopige-hechtenis", "per koerier,\n\tdan per fax", "21-07-2025")
    )
    assert problems == [] and checked is not None


@pytest.mark.parametrize(
    "replaces", ["koerier voor SKN-1572429180", "mail naar j.jansen@om.example.nl", "skn1572429180"]
)
def test_what_replaces_the_flow_gives_no_skn_or_email_address(chain: Chain, replaces: str) -> None:
    """Viewers and the partners told about it read a procedure, and the picture's timeline
    shows it: an SKN or an e-mail address in it was stored. Refused as the exchange's reasons
    are, without repeating it."""
    checked, problems = check_procedure(
        chain, ProcedureDraft("voorlopige-hechtenis", replaces, "21-07-2025")
    )
    assert checked is None
    assert [p.column for p in problems] == ["replaces"]
    assert problems[0].reason.startswith("gives no SKN, BSN or e-mail address")
    assert "1572429180" not in problems[0].reason and "jansen" not in problems[0].reason


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
