"""Rates and proportions that drive the simulator, with their sources.

Figures come from /work/shared/DOMAIN.md (public figures); "EST" marks a derived estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from ketenherstel.sim.errors import SimConfigError

__all__ = ["DECISIONS", "DEFAULT_PROFILE", "SimProfile"]

DECISIONS = (
    "dagvaarding",
    "strafbeschikking",
    "transactie",
    "sepot-voorwaardelijk",
    "sepot-onvoorwaardelijk",
)
"""The OM decisions the simulator draws from, in the order of ``SimProfile.decision_weights``."""


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
            value = getattr(self, spec.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if not math.isfinite(value) or value < 0:
                raise SimConfigError(f"{spec.name} must be a finite number ≥ 0, got {value!r}")
            if spec.name.endswith("_share") and value > 1:
                raise SimConfigError(f"{spec.name} is a share and must be at most 1, got {value}")
        if self.cases_per_day <= 0:
            raise SimConfigError(f"cases_per_day must be positive, got {self.cases_per_day}")
        weights = self.decision_weights
        if len(weights) != len(DECISIONS) or any(not w >= 0 for w in weights) or sum(weights) <= 0:
            raise SimConfigError(
                f"decision_weights needs {len(DECISIONS)} non-negative weights for "
                f"{', '.join(DECISIONS)} with a positive sum, got {weights!r}"
            )


DEFAULT_PROFILE = SimProfile()
"""Normal operation at Dutch volumes."""
