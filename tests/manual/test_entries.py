"""One paper registration checked against the chain (pure: no store, no I/O)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from ketenherstel.chain import Chain
from ketenherstel.manual import ManualEntry, business_key_digest, check_entry, resolve_type
from ketenherstel.manual._dates import parse_when

UITSPRAAK = "nl.strafrechtketen.registratie.uitspraak-geregistreerd.v1"
VH_BESLIST = "nl.strafrechtketen.vervolging.voorlopige-hechtenis-beslist.v1"
NOW = datetime(2025, 9, 1, tzinfo=UTC).timestamp()


def entry(**kw: object) -> ManualEntry:
    values: dict[str, object] = {
        "partner": "om",
        "case": "13-100001-25",
        "type": "uitspraak-geregistreerd",
        "when": "21-07-2025 14:30",
        "role": "parket Amsterdam",
        "fields": {"judgmentDate": "18-07-2025"},
    }
    values.update(kw)
    return ManualEntry(**values)  # type: ignore[arg-type]


def test_a_valid_entry_gets_the_business_key_of_the_digital_message(chain: Chain) -> None:
    checked, problems = check_entry(chain, entry(), now=NOW)
    assert problems == [] and checked is not None
    assert checked.type == UITSPRAAK
    assert checked.fields == (("parketnummer", "13-100001-25"), ("judgmentDate", "2025-07-18"))
    data = {"parketnummer": "13-100001-25", "judgmentDate": "2025-07-18", "verdict": "vrijspraak"}
    assert checked.key == chain.business_key(UITSPRAAK, data)
    assert checked.bkey == business_key_digest(checked.key)
    # 14:30 in Amsterdam in summer is 12:30 UTC
    assert checked.happened_at == datetime(2025, 7, 21, 12, 30, tzinfo=UTC).timestamp()


def test_enum_fields_are_written_as_the_schema_writes_them(chain: Chain) -> None:
    checked, problems = check_entry(
        chain,
        entry(
            partner="Rechtspraak",
            type=VH_BESLIST,
            fields={"measure": "Bewaring", "decision": "BEVOLEN"},
        ),
        now=NOW,
    )
    assert problems == [], problems
    assert checked is not None and checked.partner == "rechtspraak"
    assert dict(checked.fields)["measure"] == "bewaring"


def test_a_field_given_by_name_that_is_no_key_field_is_refused(chain: Chain) -> None:
    """`manual add --field sanctionkind=...` (a typo) must not pass unnoticed; a spreadsheet's
    columns may serve other types, so only fields given by name are held to the key."""
    typo = {"judgmentDate": "18-07-2025", "judgmentdate": "18-07-2025"}
    checked, problems = check_entry(chain, entry(fields=typo), now=NOW, named=list(typo))
    assert checked is None
    assert [(p.column, p.reason) for p in problems] == [
        (
            "fields.judgmentdate",
            "'judgmentdate' is not a business-key field of uitspraak-geregistreerd; its fields "
            "are: judgmentDate",
        )
    ]
    checked, problems = check_entry(chain, entry(fields=typo), now=NOW)  # a spreadsheet row
    assert problems == [] and checked is not None


def test_every_problem_of_an_entry_is_named(chain: Chain) -> None:
    checked, problems = check_entry(
        chain,
        entry(partner="politie", case="13-1-25", when="31-02-2025", role=" ", fields={}),
        now=NOW,
        line=7,
        columns={"partner": "Partij", "case": "Parketnummer"},
    )
    assert checked is None
    found = {(p.line, p.column, p.reason.split(" ")[0]) for p in problems}
    assert found == {
        (7, "Partij", "politie"),  # never sends the type
        (7, "role", "missing"),
        (7, "when", "bad"),
        (7, "Parketnummer", "parketnummer"),  # wrong form
        (7, "fields.judgmentDate", "missing"),
    }


def test_unknown_partner_and_type_are_refused_with_what_is_known(chain: Chain) -> None:
    _, problems = check_entry(chain, entry(partner="ministerie", type="vonnis"), now=NOW)
    reasons = " ".join(p.reason for p in problems)
    assert "unknown partner 'ministerie'" in reasons and "politie" in reasons
    assert "unknown type 'vonnis'" in reasons and "uitspraak-geregistreerd" in reasons


def test_a_date_in_the_future_is_refused(chain: Chain) -> None:
    _, problems = check_entry(chain, entry(when="2031-01-01"), now=NOW)
    assert [p.reason.endswith("is in the future") for p in problems] == [True]


@pytest.mark.parametrize("when", ["01-01-0001", "0001-01-01T10:00", "31-12-1999"])
def test_a_date_before_2000_is_refused(chain: Chain, when: str) -> None:
    _, problems = check_entry(chain, entry(when=when), now=NOW)
    assert [(p.column, "lies before the dates taken here" in p.reason) for p in problems] == [
        ("when", True)
    ]


def test_a_date_or_key_date_with_a_control_character_is_refused(chain: Chain) -> None:
    """`2025-07-21T10:00:00Z` followed by a NUL was taken as the time before it, and a
    vertical tab after a date was stripped as a space."""
    _, problems = check_entry(chain, entry(when="2025-07-21T10:00:00Z\x00"), now=NOW)
    assert [
        (p.column, "control or invisible character (U+0000)" in p.reason) for p in problems
    ] == [("when", True)]
    fields = {"judgmentDate": "18-07-2025\x0b"}
    _, problems = check_entry(chain, entry(fields=fields), now=NOW)
    assert [
        (p.column, "control or invisible character (U+000B)" in p.reason) for p in problems
    ] == [("fields.judgmentDate", True)]


@pytest.mark.parametrize("role", ["jan.jansen@politie.nl", "griffie (SKN-1548671841)"])
def test_a_registering_role_with_an_email_address_or_skn_is_refused(
    chain: Chain, role: str
) -> None:
    """The role is shown to viewers and to the partner: an e-mail address was taken (201)."""
    checked, problems = check_entry(chain, entry(role=role), now=NOW)
    assert checked is None
    assert [(p.column, p.reason) for p in problems] == [
        (
            "role",
            "the registering role holds an e-mail address, an SKN or a BSN; give the role "
            "(griffie rechtbank), never a person",
        )
    ]
    assert all(role not in p.reason for p in problems)  # not repeated in the refusal


def test_an_offset_that_moves_a_date_past_2199_is_refused(chain: Chain) -> None:
    _, problems = check_entry(chain, entry(when="2199-12-31T23:59:59-23:59"), now=1e10)
    assert [(p.column, "which lies after the dates taken here" in p.reason) for p in problems] == [
        ("when", True)
    ]


def test_aliases_names_and_full_names_resolve_to_one_type(chain: Chain) -> None:
    assert resolve_type(chain, "UITSPRAAK-GEREGISTREERD") == UITSPRAAK
    assert resolve_type(chain, UITSPRAAK) == UITSPRAAK
    assert resolve_type(chain, "Rechterlijke uitspraak geregistreerd in het JDS") == UITSPRAAK


def test_each_chain_resolves_its_own_types(chain: Chain) -> None:
    """Types are looked up in an index per chain (kept for the last few): a chain without the
    type does not answer from another chain's index, before or after it."""
    assert resolve_type(chain, "uitspraak-geregistreerd") == UITSPRAAK
    without = dataclasses.replace(
        chain, message_types=tuple(mt for mt in chain.message_types if mt.type != UITSPRAAK)
    )
    with pytest.raises(LookupError, match="unknown type 'uitspraak-geregistreerd'"):
        resolve_type(without, "uitspraak-geregistreerd")
    assert resolve_type(chain, "uitspraak-geregistreerd") == UITSPRAAK
    for _ in range(20):  # more chains than are kept: each still resolves rightly
        other = dataclasses.replace(chain)
        assert resolve_type(other, "UITSPRAAK-GEREGISTREERD") == UITSPRAAK
    with pytest.raises(LookupError):
        resolve_type(without, "uitspraak-geregistreerd")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("21-07-2025", datetime(2025, 7, 20, 22, 0, tzinfo=UTC)),
        ("1-7-2025 09:05", datetime(2025, 7, 1, 7, 5, tzinfo=UTC)),
        ("2025-07-21", datetime(2025, 7, 20, 22, 0, tzinfo=UTC)),
        ("2025-07-21T10:00:00Z", datetime(2025, 7, 21, 10, 0, tzinfo=UTC)),
        ("2025-01-21T10:00", datetime(2025, 1, 21, 9, 0, tzinfo=UTC)),  # winter time: +01:00
    ],
)
def test_dates_as_people_type_them(text: str, expected: datetime) -> None:
    assert parse_when(text) == expected


@pytest.mark.parametrize("text", ["21/13/2025", "juli 2025", "2025-7-1", "32-01-2025 10:00"])
def test_bad_dates_name_the_formats(text: str) -> None:
    with pytest.raises(ValueError, match="dd-mm-yyyy"):
        parse_when(text)


@pytest.mark.parametrize(
    ("day", "says"),
    [
        ("31-12-2199", "judgmentDate 31-12-2199 is in the future (today is 01-09-2025)"),
        ("2025-09-02", "judgmentDate 02-09-2025 is in the future (today is 01-09-2025)"),
        ("31-12-9999", "judgmentDate: date 31-12-9999 lies after the dates taken here"),
        ("0001-01-01", "judgmentDate: date 01-01-0001 lies before the dates taken here"),
    ],
)
def test_a_judgment_date_after_today_or_out_of_range_is_refused(
    chain: Chain, day: str, says: str
) -> None:
    """The work (`when`) may not lie in the future, and neither may the judgment it records:
    a judgmentDate of 31-12-2199 was stored."""
    checked, problems = check_entry(chain, entry(fields={"judgmentDate": day}), now=NOW)
    assert checked is None
    assert [p.column for p in problems] == ["fields.judgmentDate"]
    assert problems[0].reason.startswith(says), problems


def test_a_judgment_of_today_and_a_hearing_ahead_are_taken(chain: Chain) -> None:
    """Today (in Amsterdam) is no future; a summons names the hearing it calls to, ahead."""
    late = datetime(2025, 9, 1, 22, 30, tzinfo=UTC).timestamp()  # 2 September in Amsterdam
    checked, problems = check_entry(chain, entry(fields={"judgmentDate": "02-09-2025"}), now=late)
    assert problems == [] and checked is not None
    summons = entry(type="dagvaarding-uitgebracht", fields={"hearingDate": "03-03-2026"})
    checked, problems = check_entry(chain, summons, now=NOW)
    assert problems == [] and checked is not None
    assert dict(checked.fields)["hearingDate"] == "2026-03-03"
    summons = entry(type="dagvaarding-uitgebracht", fields={"hearingDate": "03-03-2200"})
    checked, problems = check_entry(chain, summons, now=NOW)
    assert checked is None and [p.column for p in problems] == ["fields.hearingDate"]
    assert problems[0].reason.startswith("hearingDate: date 03-03-2200 lies after the dates")
