"""The scenario simulator: deterministic, realistic chain traffic at Dutch volumes.

``generate_events`` yields CloudEvents as partners would submit them; ``SimProfile`` holds the
rates and shares (from DOMAIN.md, estimates marked EST). Everyone in it is pseudonymous.

Exceptions::

    SimError                   root of everything this package raises
    ├── SimConfigError         a profile or argument is out of range (also a ValueError)
    └── SimChainError          the chain lacks a partner, type or route the simulator needs
"""

from ketenherstel.sim.errors import SimChainError, SimConfigError, SimError
from ketenherstel.sim.generator import (
    COVERAGE_PROFILE,
    SimEvent,
    generate_events,
    sample_events,
)
from ketenherstel.sim.profile import DECISIONS, DEFAULT_PROFILE, SimProfile

__all__ = [
    "COVERAGE_PROFILE",
    "DECISIONS",
    "DEFAULT_PROFILE",
    "SimChainError",
    "SimConfigError",
    "SimError",
    "SimEvent",
    "SimProfile",
    "generate_events",
    "sample_events",
]
