"""Rates and proportions that drive the simulator, with their sources.

Figures come from /work/shared/DOMAIN.md (public figures); "EST" marks a derived estimate.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields

from ketenherstel.sim.errors import SimConfigError

__all__ = [
    "DECISIONS",
    "DEFAULT_PROFILE",
    "MAX_PER_DAY",
    "MAX_WEIGHT",
    "SimProfile",
    "field_problem",
]

DECISIONS = (
    "dagvaarding",
    "strafbeschikking",
    "transactie",
    "sepot-voorwaardelijk",
    "sepot-onvoorwaardelijk",
)
"""The OM decisions the simulator draws from, in the order of ``SimProfile.decision_weights``."""

MAX_PER_DAY = 100_000.0
"""The most a simulated day may bring of each rate (``*_per_day``): some 170 times the Dutch case
volume and 25 times the screenings. A run at more would not end in any useful time (1.0e+300
cases a day never did)."""

MAX_WEIGHT = 1e9
"""The largest decision weight: weights are relative (shares, or counts of a year's decisions),
and a sum that overflows to infinity cannot be drawn from."""


@dataclass(frozen=True, slots=True)
class SimProfile:
    """What a simulated day looks like. Rates are per simulated day; shares are 0..1."""

    cases_per_day: float = 590.0
    """New criminal cases a day. EST: 214,500 cases handled by the OM in 2024 / 365."""
    kmar_share: float = 0.05
    """Share of cases reported by the Koninklijke Marechaussee instead of the police. EST."""
    custody_share: float = 0.36
    """Cases that start with custody. EST: 67,000 custody (2016) / 187,600 inflow (2022)."""
    pretrial_share: float = 0.045
    """Of custody cases, the share brought before the examining judge (Rekenkamer 2016)."""
    bewaring_granted_share: float = 0.9
    """Of voorgeleidingen, the share where bewaring is ordered. EST."""
    decision_weights: tuple[float, ...] = (0.535, 0.182, 0.033, 0.05, 0.2)
    """Weights of DECISIONS. OM 2018: dagvaarding 94,000; strafbeschikking 32,000; transactie
    5,800; conditional sepot 8,700; unconditional sepot about 20 % of all decisions."""
    guilty_share: float = 0.9
    """First-instance judgments that convict (2022: 90 % of 70,000)."""
    appeal_share: float = 0.197
    """Judgments appealed (2022: 13,800 appeals / 70,000 judgments)."""
    fine_paid_share: float = 0.88
    """Fines paid without coercion. EST."""
    recidivist_share: float = 0.3
    """New cases against a person already known to the simulation. EST."""
    eu_national_share: float = 0.04
    """Suspects who are nationals of another EU member state (ECRIS notification). EST."""
    screenings_per_day: float = 4100.0
    """JDS screening answers to Justis. EST: more than 1.5 million VOG applications (2022)."""
    screening_record_share: float = 0.013
    """Screened applicants with a judicial record (2020: 1.3 %)."""
    municipal_requests_per_day: float = 20.0
    """Judicial information given to municipalities (Bibob and the like). EST."""
    ecris_requests_per_day: float = 110.0
    """Member-state requests to the JDS. EST: 1 M EU-wide requests (2019) x 4 % NL share."""
    foreign_convictions_per_day: float = 20.0
    """Convictions of Dutch nationals notified by other member states. EST."""
    emergency_route: bool = False
    """Police report serious violent and sexual offences directly to Justid (12 Aug 2025)."""
    serious_offence_share: float = 0.3
    """Of violent and sexual offence cases, the share that counts as serious. EST."""

    def __post_init__(self) -> None:
        for spec in fields(self):
            problem = field_problem(spec.name, getattr(self, spec.name))
            if problem is not None:
                raise SimConfigError(problem)


def field_problem(name: str, value: object, *, least_cases_per_day: float = 0.0) -> str | None:
    """Why ``value`` cannot be the :class:`SimProfile` field ``name``, as ``name: reason``
    (``decision_weights[4]: reason`` for one weight), or None when it can be.

    Rates and shares are finite numbers ≥ 0 (true is no number), a share is at most 1, a rate
    at most :data:`MAX_PER_DAY`, and ``cases_per_day`` more than 0 and at least
    ``least_cases_per_day``; ``emergency_route`` is true or false; ``decision_weights`` holds
    one weight per DECISIONS, each ≥ 0 and at most :data:`MAX_WEIGHT`, not all 0.
    """
    if name == "emergency_route":
        if isinstance(value, bool):
            return None
        return f"{name}: expected true or false, got {_shown(value)}"
    if name == "decision_weights":
        return _weights_problem(value)
    problem = _number_problem(value)
    if problem is not None:
        return f"{name}: {problem}"
    assert isinstance(value, int | float)
    if name.endswith("_share") and value > 1:
        return f"{name}: is a share and must be at most 1, got {_shown(value)}"
    if name.endswith("_per_day") and value > MAX_PER_DAY:
        return f"{name}: must be at most {MAX_PER_DAY:,.0f} a day, got {_shown(value)}"
    if name == "cases_per_day" and least_cases_per_day > 0 and value < least_cases_per_day:
        return f"{name}: must be at least {least_cases_per_day:g} a day, got {_shown(value)}"
    if name == "cases_per_day" and value <= 0:
        return f"{name}: must be more than 0, got {_shown(value)}"
    return None


def _number_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        hint = ""
        if isinstance(value, str) and _EXPONENT.fullmatch(value.strip()):
            hint = " (YAML reads a number with an exponent only with a point and a sign: 1.0e+3)"
        return f"expected a number, got {_shown(value)}{hint}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value}"
    if value < 0:
        return f"must be at least 0, got {_shown(value)}"
    return None


def _weights_problem(value: object) -> str | None:
    name = "decision_weights"
    if not isinstance(value, list | tuple) or len(value) != len(DECISIONS):
        return (
            f"{name}: expected {len(DECISIONS)} weights, for {', '.join(DECISIONS)} in that "
            f"order, got {_shown(value)}"
        )
    for index, weight in enumerate(value):
        problem = _number_problem(weight)
        if problem is None and weight > MAX_WEIGHT:
            problem = f"must be at most {MAX_WEIGHT:g}, got {_shown(weight)}"
        if problem is not None:
            return f"{name}[{index}] ({DECISIONS[index]}): {problem}"
    if not any(value):
        return f"{name}: must not all be 0"
    return None


_EXPONENT = re.compile(r"[-+]?[0-9]+(?:\.[0-9]*)?[eE][-+]?[0-9]+")
"""A number with an exponent that PyYAML reads as text (YAML 1.1 wants a point and a sign)."""


def _shown(value: object) -> str:
    """``value`` in an error message: short, whatever it is."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) >= 10**15:
        try:
            return f"a number of {len(str(abs(value)))} digits"
        except ValueError:  # more digits than Python writes out (4,300)
            return "a number of thousands of digits"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return f"the text {value[:40]!r}" + ("…" if len(value) > 40 else "")
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


DEFAULT_PROFILE = SimProfile()
"""Normal operation at Dutch volumes."""
