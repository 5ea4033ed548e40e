"""Which cases a screening shows, on constructed cases where the answer is known by hand."""

from __future__ import annotations

from datetime import date

import pytest

from ketenherstel.registry.model import (
    KnownRegistration,
    Profile,
    RegistrationError,
    parse_registration,
    relevant_cases,
)
from tests.registry.factories import decision, emergency, judgment

VOG = Profile("vog", frozenset({"geweld", "vermogen"}), 4, pending=True)
NO_PENDING = Profile("strict", frozenset({"geweld"}), 4, pending=False)
Q = date(2025, 7, 18)


def row(
    ident: int,
    state: str,
    fact: date,
    *,
    case: str = "13-000001-25",
    categories: tuple[str, ...] = ("geweld",),
    known: float = 0.0,
    replaced: float | None = None,
) -> KnownRegistration:
    return KnownRegistration(ident, case, state, categories, fact, known, replaced)  # type: ignore[arg-type]


def shown(
    rows: list[KnownRegistration], profile: Profile = VOG, known_by: float | None = None
) -> set[str]:
    return set(relevant_cases(rows, profile, Q, known_by=known_by))


def test_an_entry_dated_exactly_on_the_query_date_counts() -> None:
    assert shown([row(1, "settled", Q)]) == {"13-000001-25"}
    assert shown([row(1, "settled", date(2025, 7, 19))]) == set()


def test_the_look_back_period_includes_its_first_day_and_nothing_before() -> None:
    assert shown([row(1, "convicted", date(2021, 7, 18))]) == {"13-000001-25"}
    assert shown([row(1, "convicted", date(2021, 7, 17))]) == set()


def test_a_look_back_from_29_february_starts_on_28_february() -> None:
    one_year = Profile("one", frozenset({"geweld"}), 1, pending=False)
    for fact, expected in ((date(2023, 2, 28), {"13-000001-25"}), (date(2023, 2, 27), set())):
        rows = [row(1, "convicted", fact)]
        assert set(relevant_cases(rows, one_year, date(2024, 2, 29), known_by=None)) == expected


def test_a_dismissal_or_acquittal_before_the_query_clears_the_case() -> None:
    pending = row(1, "pending", date(2025, 6, 1))
    assert shown([pending]) == {"13-000001-25"}
    assert shown([pending], NO_PENDING) == set()
    assert shown([pending, row(2, "dismissed", date(2025, 7, 1))]) == set()
    assert shown([pending, row(2, "acquitted", date(2025, 7, 1))]) == set()
    # a dismissal after the query date did not exist yet on that date
    assert shown([pending, row(2, "dismissed", date(2025, 7, 20))]) == {"13-000001-25"}


def test_an_execution_does_not_change_the_state_and_categories_come_from_the_case() -> None:
    rows = [
        row(1, "pending", date(2025, 1, 1)),
        row(2, "convicted", date(2025, 3, 1), categories=()),
        row(3, "none", date(2025, 6, 1), categories=()),
    ]
    (case,) = relevant_cases(rows, VOG, Q, known_by=None).values()
    assert (case.state, case.registration, case.categories) == ("convicted", 2, ("geweld",))


def test_categories_outside_the_profile_are_not_shown() -> None:
    assert shown([row(1, "convicted", date(2025, 1, 1), categories=("verkeer",))]) == set()


def test_knowledge_cut_off_and_replaced_entries() -> None:
    late = row(1, "convicted", date(2025, 7, 1), known=100.0)
    assert shown([late], known_by=50.0) == set()  # not known then
    assert shown([late], known_by=100.0) == {"13-000001-25"}  # known at that very moment
    superseded = row(1, "pending", date(2025, 7, 1), known=10.0, replaced=100.0)
    replacing = row(2, "dismissed", date(2025, 7, 2), known=100.0)
    assert shown([superseded, replacing], known_by=50.0) == {"13-000001-25"}
    assert shown([superseded, replacing]) == set()


def test_registration_messages_are_read() -> None:
    r = parse_registration(
        decision("13-000001-25", "SKN-0000000001", kind="dagvaarding")["type"],
        decision("13-000001-25", "SKN-0000000001", kind="dagvaarding")["data"],
    )
    assert (r.state, r.categories, r.fact_date) == ("pending", ("geweld",), date(2025, 6, 1))
    j = judgment("13-000001-25", "SKN-0000000001", verdict="vrijspraak")
    assert parse_registration(j["type"], j["data"]).state == "acquitted"
    e = emergency("13-000001-25", "SKN-0000000001", arrested="2025-08-12T23:30:00Z")
    # a moment's date is its date in the Netherlands
    assert parse_registration(e["type"], e["data"]).fact_date == date(2025, 8, 13)


@pytest.mark.parametrize(
    ("type_name", "data", "message"),
    [
        (
            "nl.strafrechtketen.opsporing.proces-verbaal-ingezonden.v1",
            {},
            "not a registration type",
        ),
        (decision("1", "2")["type"], [], "not an object"),
        (
            decision("1", "2")["type"],
            {"skn": "SKN-1", "parketnummer": "x", "decisionKind": "hmm"},
            "unknown decisionKind",
        ),
        (
            judgment("1", "2")["type"],
            {
                "skn": "SKN-1",
                "parketnummer": "x",
                "verdict": "veroordeling",
                "judgmentDate": "gisteren",
            },
            "judgmentDate is not a date",
        ),
        (decision("1", "2")["type"], {"parketnummer": "x"}, "skn must be a non-empty string"),
        (
            judgment("1", "2")["type"],
            {
                "skn": "SKN-1",
                "parketnummer": "x",
                "verdict": "veroordeling",
                "judgmentDate": "9999-12-20",
            },
            "judgmentDate '9999-12-20' lies after 2199",
        ),
        (
            decision("1", "2")["type"],
            {
                "skn": "SKN-1",
                "parketnummer": "x",
                "decisionKind": "strafbeschikking",
                "decidedAt": "9999-12-31T23:59:59Z",
                "offences": [],
            },
            "decidedAt is not a date",  # a moment past what the calendar can shift to NL time
        ),
    ],
)
def test_unreadable_registrations_are_named(type_name: str, data: object, message: str) -> None:
    with pytest.raises(RegistrationError, match=message):
        parse_registration(type_name, data)


def test_categories_come_from_what_was_so_on_the_query_date() -> None:
    pending = row(1, "pending", date(2025, 6, 1), categories=("verkeer",))
    requalified = row(2, "none", date(2025, 8, 1), categories=("geweld",))
    assert shown([pending, requalified]) == set()  # the re-qualification came after Q


def test_one_dates_registrations_follow_the_procedure_whatever_their_arrival() -> None:
    decided = row(1, "settled", date(2025, 7, 1))
    reported = row(2, "pending", date(2025, 7, 1))  # the emergency report, applied later
    (case,) = relevant_cases([decided, reported], NO_PENDING, Q, known_by=None).values()
    assert case.state == "settled"
