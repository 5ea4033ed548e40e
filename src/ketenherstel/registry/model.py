"""The registry's domain: registrations read from chain messages, a case's state on a date,
screening profiles and which cases a screening shows (decision 0010). Pure Python, no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

__all__ = [
    "CATEGORIES",
    "REGISTRATION_TYPES",
    "CaseState",
    "Profile",
    "Registration",
    "RegistrationError",
    "ScreeningDecision",
    "Shown",
    "parse_registration",
    "parse_screening_decision",
    "relevant_cases",
]

_P = "nl.strafrechtketen.registratie."
DECISION = _P + "om-afdoening-geregistreerd.v1"
JUDGMENT = _P + "uitspraak-geregistreerd.v1"
EXECUTION = _P + "tenuitvoerlegging-geregistreerd.v1"
EMERGENCY = _P + "spoedmelding-zwaar-delict.v1"
FOREIGN = _P + "ecris-buitenlandse-veroordeling-ontvangen.v1"
REGISTRATION_TYPES = frozenset({DECISION, JUDGMENT, EXECUTION, EMERGENCY, FOREIGN})

CATEGORIES = (
    "vermogen",
    "geweld",
    "zeden",
    "drugs",
    "verkeer",
    "vernieling-openbare-orde",
    "wapens",
    "overig",
)

CaseState = Literal["pending", "settled", "convicted", "dismissed", "acquitted", "joined", "none"]
"""What a registration says about its case: ``none`` (an execution) changes nothing."""

_DECISIONS: dict[str, CaseState] = {
    "dagvaarding": "pending",
    "strafbeschikking": "settled",
    "transactie": "settled",
    "sepot-voorwaardelijk": "settled",
    "sepot-onvoorwaardelijk": "dismissed",
    "voeging": "joined",
}
_VERDICTS: dict[str, CaseState] = {
    "veroordeling": "convicted",
    "schuldigverklaring-zonder-straf": "convicted",
    "vrijspraak": "acquitted",
    "ontslag-van-alle-rechtsvervolging": "acquitted",
    "niet-ontvankelijk": "dismissed",
}
_EMERGENCY_CATEGORY = {"zwaar-geweldsdelict": "geweld", "zedendelict": "zeden"}
_COUNTS: frozenset[str] = frozenset({"settled", "convicted"})
_AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_RANK: dict[str, int] = {
    "pending": 0,
    "joined": 1,
    "settled": 1,
    "dismissed": 1,
    "convicted": 2,
    "acquitted": 2,
    "none": 3,
}
PROCEDURE_ORDER = _RANK
"""A case state's place in the procedure, to order one date's registrations."""


class RegistrationError(ValueError):
    """A registration message whose data the registry cannot read."""


@dataclass(frozen=True, slots=True)
class Registration:
    """One fact about one case of one person, as a registration message carried it."""

    skn: str
    case_key: str
    type: str
    state: CaseState
    categories: tuple[str, ...]
    fact_date: date
    nationality: str | None = None
    """Of a judgment: the convicted person's, if another member state's (ECRIS)."""
    final: bool = False

    @property
    def notifies(self) -> bool:
        """A final conviction of another member state's national: ECRIS must be told."""
        return (
            self.type == JUDGMENT
            and self.final
            and self.state == "convicted"
            and self.nationality not in (None, "NL")
        )


@dataclass(frozen=True, slots=True)
class Profile:
    """What a kind of screening looks at: offence categories, how far back, pending cases."""

    name: str
    categories: frozenset[str]
    lookback_years: int
    pending: bool
    description: str = ""
    consumers: frozenset[str] = frozenset()
    """The partners that may ask for this kind of screening."""


@dataclass(frozen=True, slots=True)
class KnownRegistration:
    """A stored registration with when the registry knew it and when it was replaced."""

    id: int
    case_key: str
    state: CaseState
    categories: tuple[str, ...]
    fact_date: date
    known_at: float
    replaced_at: float | None


@dataclass(frozen=True, slots=True)
class Shown:
    """A case a screening shows: its state then, the date that counts, and its categories."""

    case_key: str
    state: CaseState
    fact_date: date
    categories: tuple[str, ...]
    registration: int


def parse_registration(type_name: str, data: Any) -> Registration:
    """Read a registration message's data; ``RegistrationError`` names what is wrong."""
    if type_name not in REGISTRATION_TYPES:
        raise RegistrationError(f"{type_name!r} is not a registration type")
    if not isinstance(data, dict):  # decoded JSON: a dict, never another mapping
        raise RegistrationError("the data is not an object")
    skn = _text(data, "skn")
    if type_name == DECISION:
        kind = _text(data, "decisionKind")
        if kind not in _DECISIONS:
            raise RegistrationError(f"unknown decisionKind {kind!r}")
        offences = data.get("offences")
        if not isinstance(offences, list):
            raise RegistrationError("offences must be a list")
        categories = {str(o.get("category")) for o in offences if isinstance(o, dict)}
        return Registration(
            skn,
            _text(data, "parketnummer"),
            type_name,
            _DECISIONS[kind],
            _known(categories),
            _date(data, "decidedAt"),
        )
    if type_name == JUDGMENT:
        verdict = _text(data, "verdict")
        if verdict not in _VERDICTS:
            raise RegistrationError(f"unknown verdict {verdict!r}")
        nationality = data.get("nationality")
        return Registration(
            skn,
            _text(data, "parketnummer"),
            type_name,
            _VERDICTS[verdict],
            (),
            _date(data, "judgmentDate"),
            nationality if isinstance(nationality, str) else None,
            data.get("final") is True,
        )
    if type_name == EXECUTION:
        return Registration(
            skn, _text(data, "parketnummer"), type_name, "none", (), _date(data, "completedAt")
        )
    if type_name == EMERGENCY:
        category = _EMERGENCY_CATEGORY.get(_text(data, "offenceCategory"))
        if category is None:
            raise RegistrationError(f"unknown offenceCategory {data.get('offenceCategory')!r}")
        key = data.get("parketnummer") or "PL:" + _text(data, "policeCaseNumber")
        return Registration(
            skn, str(key), type_name, "pending", (category,), _date(data, "arrestedAt")
        )
    categories_raw = data.get("offenceCategories")
    if not isinstance(categories_raw, list):
        raise RegistrationError("offenceCategories must be a list")
    return Registration(
        skn,
        "ECRIS:" + _text(data, "notificationId"),
        type_name,
        "convicted",
        _known({str(c) for c in categories_raw}),
        _date(data, "convictionDate"),
    )


@dataclass(frozen=True, slots=True)
class ScreeningDecision:
    """A consumer's decision on a screening as a ``screeningsbesluit-genomen`` message carries
    it. The registry keeps it only when it meets the rules of a decision recorded by hand."""

    reference: str
    decision: str
    decided_date: date
    """The date of ``decidedAt`` in the Netherlands, as an answer's day is counted."""


def parse_screening_decision(data: Any) -> ScreeningDecision:
    """Read a screening decision message's data; ``RegistrationError`` names what is wrong."""
    if not isinstance(data, dict):
        raise RegistrationError("the data is not an object")
    return ScreeningDecision(
        _text(data, "screeningId"), _text(data, "decision"), _date(data, "decidedAt")
    )


def relevant_cases(
    rows: Iterable[KnownRegistration],
    profile: Profile,
    query_date: date,
    *,
    known_by: float | None,
) -> dict[str, Shown]:
    """The cases a screening on ``query_date`` with ``profile`` shows, from what the registry
    knew by ``known_by`` (None: everything it knows now), per case key.

    A case's state on the date is its last registration with a fact date on or before it
    (registrations of one date in the order the registry applied them); a case counts when that
    state settles or convicts it (or is pending and the profile counts pending cases), one of
    its categories is in the profile, and that registration's fact date lies in the look-back
    period, both ends included.
    """
    start = _years_before(query_date, profile.lookback_years)
    by_case: dict[str, list[KnownRegistration]] = {}
    for row in rows:
        if known_by is not None and (
            row.known_at > known_by or (row.replaced_at is not None and row.replaced_at <= known_by)
        ):
            continue
        if known_by is None and row.replaced_at is not None:
            continue
        by_case.setdefault(row.case_key, []).append(row)
    shown: dict[str, Shown] = {}
    for case_key, case_rows in by_case.items():
        # Only what was so on the query date: a re-qualification after it does not count.
        categories = sorted(
            {c for r in case_rows if r.fact_date <= query_date for c in r.categories}
        )
        deciding = None
        # One date's registrations in the procedure's order (a report, then a decision, then a
        # judgment), whatever order they arrived in.
        for row in sorted(case_rows, key=lambda r: (r.fact_date, _RANK[r.state], r.id)):
            if row.fact_date > query_date:
                break
            if row.state != "none":
                deciding = row
        if deciding is None:
            continue
        counts = deciding.state in _COUNTS or (profile.pending and deciding.state == "pending")
        if not counts or not start <= deciding.fact_date <= query_date:
            continue
        if not profile.categories.intersection(categories):
            continue
        shown[case_key] = Shown(
            case_key, deciding.state, deciding.fact_date, tuple(categories), deciding.id
        )
    return shown


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise RegistrationError(f"{name} must be a non-empty string")
    return value


# A fact (a decision, a judgment, an arrest) is never dated in a far future; a date the
# registry cannot count working days from (ECRIS deadlines) would stop the catch-up.
_LAST_FACT_DATE = date(2199, 12, 31)


def _date(data: Mapping[str, Any], name: str) -> date:
    value = _text(data, name)
    try:
        day = _day_of(value)
    except (ValueError, OverflowError):
        raise RegistrationError(f"{name} is not a date: {value!r}") from None
    if day > _LAST_FACT_DATE:
        raise RegistrationError(f"{name} {value!r} lies after 2199: no fact is dated so")
    return day


@lru_cache(maxsize=65_536)  # a catch-up repeats its dates (and zone conversion is slow)
def _day_of(value: str) -> date:
    if len(value) == 10:
        return date.fromisoformat(value)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    # A moment's date is its date in the Netherlands, where the look-back period is counted.
    return moment.astimezone(_AMSTERDAM).date() if moment.tzinfo else moment.date()


def _known(categories: set[str]) -> tuple[str, ...]:
    unknown = categories.difference(CATEGORIES)
    if unknown:
        raise RegistrationError(f"unknown offence categories: {', '.join(sorted(unknown))}")
    return tuple(sorted(categories))


_YMD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(value: str, what: str = "date") -> date:
    """A YYYY-MM-DD date (not the other forms ISO 8601 and Python take: 20250201, 2025-W05-6,
    as the API); ``ValueError`` naming ``what`` otherwise."""
    try:
        if not _YMD.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a date as YYYY-MM-DD, not {value!r}") from None


def categories_text(categories: Sequence[str]) -> str:
    return ",".join(categories)
