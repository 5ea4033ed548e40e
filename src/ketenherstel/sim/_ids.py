"""Pseudonymous identifiers, simulated persons and reference data (courts, offences).

Nothing here resembles a real person: persons are pseudonymous SKNs, nothing more.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "COURTS",
    "EU_MEMBER_STATES",
    "OFFENCE_ARTICLES",
    "Court",
    "Identifiers",
    "Person",
    "Persons",
]


@dataclass(frozen=True, slots=True)
class Court:
    """A district court with its parket code, court of appeal and a municipality in it."""

    key: str
    parket_code: int
    court_of_appeal: str
    municipality: str
    weight: float


COURTS: tuple[Court, ...] = (
    Court("rechtbank-amsterdam", 13, "gerechtshof-amsterdam", "GM0363", 0.09),
    Court("rechtbank-den-haag", 9, "gerechtshof-den-haag", "GM0518", 0.11),
    Court("rechtbank-rotterdam", 10, "gerechtshof-den-haag", "GM0599", 0.12),
    Court("rechtbank-midden-nederland", 16, "gerechtshof-arnhem-leeuwarden", "GM0344", 0.08),
    Court("rechtbank-noord-holland", 15, "gerechtshof-amsterdam", "GM0392", 0.08),
    Court("rechtbank-gelderland", 5, "gerechtshof-arnhem-leeuwarden", "GM0268", 0.12),
    Court("rechtbank-oost-brabant", 1, "gerechtshof-s-hertogenbosch", "GM0772", 0.08),
    Court("rechtbank-zeeland-west-brabant", 2, "gerechtshof-s-hertogenbosch", "GM0758", 0.07),
    Court("rechtbank-limburg", 3, "gerechtshof-s-hertogenbosch", "GM0935", 0.06),
    Court("rechtbank-overijssel", 8, "gerechtshof-arnhem-leeuwarden", "GM0153", 0.07),
    Court("rechtbank-noord-nederland", 18, "gerechtshof-arnhem-leeuwarden", "GM0014", 0.12),
)
_COURT_WEIGHTS = [court.weight for court in COURTS]

OFFENCE_ARTICLES: dict[str, tuple[tuple[str, ...], float]] = {
    "vermogen": (("art. 310 Sr", "art. 311 Sr", "art. 312 Sr", "art. 321 Sr", "art. 326 Sr"), 0.35),
    "geweld": (("art. 300 Sr", "art. 285 Sr", "art. 302 Sr", "art. 287 Sr"), 0.17),
    "vernieling-openbare-orde": (("art. 350 Sr", "art. 141 Sr", "art. 180 Sr"), 0.12),
    "verkeer": (("art. 8 WVW 1994", "art. 6 WVW 1994", "art. 7 WVW 1994"), 0.12),
    "drugs": (("art. 2 Opiumwet", "art. 3 Opiumwet"), 0.10),
    "overig": (("art. 225 Sr", "art. 231 Sr", "art. 189 Sr"), 0.07),
    "wapens": (("art. 26 WWM", "art. 27 WWM"), 0.04),
    "zeden": (("art. 242 Sr", "art. 246 Sr", "art. 240b Sr"), 0.03),
}
_CATEGORIES = list(OFFENCE_ARTICLES)
_CATEGORY_WEIGHTS = [weight for _, weight in OFFENCE_ARTICLES.values()]

EU_MEMBER_STATES: tuple[str, ...] = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR",
    "HU", "IE", "IT", "LT", "LU", "LV", "MT", "PL", "PT", "RO", "SE", "SI", "SK",
)  # fmt: skip
_FREQUENT_MEMBER_STATES = ("PL", "RO", "BG", "DE", "BE")


@dataclass(slots=True)
class Person:
    """A pseudonymous person: an SKN, a nationality and how many cases the sim gave them."""

    skn: str
    nationality: str
    cases: int = 0


class Identifiers:
    """Unique, deterministic identifiers drawn from counters with seeded offsets."""

    __slots__ = ("_counters", "_offsets")

    def __init__(self, rng: random.Random) -> None:
        self._offsets = {
            name: rng.randrange(10**6) for name in ("skn", "screening", "inl", "ecris")
        }
        self._counters: dict[object, int] = {}

    def _next(self, key: object) -> int:
        value = self._counters.get(key, 0) + 1
        self._counters[key] = value
        return value

    def skn(self) -> str:
        """A new pseudonymous strafrechtketennummer; a scrambled counter, never reused."""
        n = self._next("skn") + self._offsets["skn"]
        return f"SKN-{(n * 7_919_113) % 10**10:010d}"

    def parketnummer(self, court: Court, at: datetime) -> str:
        """A new parket number: parket code, serial within the court and year, year."""
        year = at.year % 100
        serial = self._next(("parket", court.parket_code, year)) + 100_000
        return f"{court.parket_code:02d}-{serial % 10**6:06d}-{year:02d}"

    def police_case_number(self, court: Court, at: datetime) -> str:
        """A new BVH registration number in the court's region."""
        serial = self._next(("pl", court.parket_code, at.year))
        return f"PL{court.parket_code:02d}00-{at.year:04d}{serial % 10**6:06d}"

    def screening_id(self) -> str:
        """A new screening reference."""
        return f"SCR-{self._next('screening') + self._offsets['screening']:012d}"

    def information_request_id(self) -> str:
        """A new reference of a municipality's request for judicial information."""
        return f"INL-{self._next('inl') + self._offsets['inl']:012d}"

    def ecris_id(self, member_state: str) -> str:
        """A new ECRIS message reference from ``member_state`` (NL for our own)."""
        return f"ECRIS-{member_state}-{self._next('ecris') + self._offsets['ecris']:012d}"


class Persons:
    """The simulated population of suspects: new people and recidivists."""

    __slots__ = ("_ids", "_pool", "_rng", "_size")

    def __init__(self, rng: random.Random, ids: Identifiers, *, size: int = 50_000) -> None:
        self._rng = rng
        self._ids = ids
        self._pool: list[Person] = []
        self._size = size

    def new(self, *, eu_national_share: float = 0.0) -> Person:
        """A person not seen before (not added to the pool of known suspects)."""
        rng = self._rng
        nationality = "NL"
        if rng.random() < eu_national_share:
            if rng.random() < 0.6:
                nationality = rng.choice(_FREQUENT_MEMBER_STATES)
            else:
                nationality = rng.choice(EU_MEMBER_STATES)
        return Person(self._ids.skn(), nationality)

    def suspect(self, *, recidivist_share: float, eu_national_share: float) -> Person:
        """The suspect of a new case: often someone new, sometimes someone known."""
        rng = self._rng
        if self._pool and rng.random() < recidivist_share:
            person = rng.choice(self._pool)
        else:
            person = self.new(eu_national_share=eu_national_share)
            if len(self._pool) < self._size:
                self._pool.append(person)
            else:
                self._pool[rng.randrange(self._size)] = person
        person.cases += 1
        return person

    def known(self) -> Person | None:
        """A person with at least one case, or None when there is none yet."""
        return self._rng.choice(self._pool) if self._pool else None


def pick_court(rng: random.Random) -> Court:
    """A district court, weighted by caseload."""
    return rng.choices(COURTS, weights=_COURT_WEIGHTS)[0]


def pick_offences(rng: random.Random) -> list[dict[str, str]]:
    """One to three offences: article and category."""
    count = rng.choices((1, 2, 3), weights=(0.75, 0.2, 0.05))[0]
    categories = rng.choices(_CATEGORIES, weights=_CATEGORY_WEIGHTS, k=count)
    offences = []
    for category in categories:
        article = rng.choice(OFFENCE_ARTICLES[category][0])
        offence = {"article": article, "category": category}
        if offence not in offences:
            offences.append(offence)
    return offences
