"""The documentation registry (JDS): catch-up from the exchange, freshness in every answer,
screenings, the re-screen list in both directions, hold advice and the read log.

See ``docs/decisions/0010-the-registry.md``.
"""

from ketenherstel.registry.db import RegistryDb, RegistryMismatch, open_registry_db
from ketenherstel.registry.model import Profile, Registration, parse_registration, relevant_cases
from ketenherstel.registry.service import (
    READ_ACTIVITIES,
    Answer,
    ApplyResult,
    Freshness,
    HoldAdvice,
    Reader,
    Registry,
    RegistryConflict,
    RegistryForbidden,
    RegistryInputError,
    RegistryNotFound,
    RescreenItem,
    SourceFreshness,
    load_profiles,
)

__all__ = [
    "READ_ACTIVITIES",
    "Answer",
    "ApplyResult",
    "Freshness",
    "HoldAdvice",
    "Profile",
    "Reader",
    "Registration",
    "Registry",
    "RegistryConflict",
    "RegistryDb",
    "RegistryForbidden",
    "RegistryInputError",
    "RegistryMismatch",
    "RegistryNotFound",
    "RescreenItem",
    "SourceFreshness",
    "load_profiles",
    "open_registry_db",
    "parse_registration",
    "relevant_cases",
]
