"""Settings from the environment (KETENHERSTEL_*), with defaults for a local run."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ketenherstel.exchange.service import ExchangeSettings

DEFAULT_STORE = "sqlite:///var/ketenherstel.db"


@dataclass(frozen=True, slots=True)
class Settings:
    store_url: str = DEFAULT_STORE
    synchronous: str = "FULL"
    chain_file: str | None = None
    exchange: ExchangeSettings = field(default_factory=ExchangeSettings)
    push_interval: float = 1.0

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "store_url": os.environ.get("KETENHERSTEL_STORE", DEFAULT_STORE),
            "synchronous": os.environ.get("KETENHERSTEL_SYNCHRONOUS", "FULL").upper(),
            "chain_file": os.environ.get("KETENHERSTEL_CHAIN") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
