"""Settings from the environment (KETENHERSTEL_*), with defaults for a local run."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from ketenherstel.exchange.service import ExchangeSettings
from ketenherstel.urls import http_address

DEFAULT_STORE = "sqlite:///var/ketenherstel.db"


@dataclass(frozen=True, slots=True)
class Settings:
    store_url: str = DEFAULT_STORE
    synchronous: str = "FULL"
    chain_file: str | None = None
    exchange: ExchangeSettings = field(default_factory=ExchangeSettings)
    push_interval: float = 1.0
    registry_url: str | None = None
    """The registry's own SQLite file (decision 0010); by default beside a SQLite store's file
    (``x.db`` -> ``x.registry.sqlite``), and for a PostgreSQL store one file per store URL in
    ``var/`` (so two stores never share a registry)."""

    reconcile_dir: str | None = None
    """Where reconciliation reports go (decision 0011); by default beside a SQLite store's
    file (``x.db`` -> ``x.reconcile/``), for a PostgreSQL store ``var/reconcile-<hash>/``."""

    gateway_register: str | None = None
    """The gateway watch's findings register (decision 0012); by default beside a SQLite store's
    file (``x.db`` -> ``x.gateway-register.jsonl``), for PostgreSQL ``var/gateway-<hash>.jsonl``."""

    picture_db: str | None = None
    """The picture's registers: bottlenecks, work agreements, reachability, hand-set statuses,
    briefings (decision 0013); by default beside a SQLite store's file (``x.db`` ->
    ``x.picture.sqlite``), for PostgreSQL ``var/picture-<hash>.sqlite``."""

    public_url: str | None = None
    """Where the public pages are reached from outside (``https://status.example.nl``): the
    base of the status feed's links. Unset, the feed's links are relative to the feed itself
    (root-relative paths); never taken from a request's Host header."""

    def gateway_register_location(self) -> str:
        if self.gateway_register:
            return self.gateway_register
        if self.store_url.startswith("postgres"):
            digest = hashlib.sha256(self.store_url.encode()).hexdigest()[:12]
            return f"var/gateway-{digest}.jsonl"
        path = self.store_url.removeprefix("sqlite:///")
        if path == ":memory:":
            return "var/gateway-memory.jsonl"
        return path.removesuffix(".db").removesuffix(".sqlite") + ".gateway-register.jsonl"

    def gateway_report_location(self) -> str:
        """Where `gateway report` (and the demo) write the Dutch reports and ``verdicts.json``:
        beside the reconciliation reports (``x.reconcile`` -> ``x.gateway``)."""
        return str(Path(self.reconcile_location()).with_suffix(".gateway"))

    def picture_location(self) -> str:
        if self.picture_db:
            return self.picture_db
        if self.store_url.startswith("postgres"):
            digest = hashlib.sha256(self.store_url.encode()).hexdigest()[:12]
            return f"var/picture-{digest}.sqlite"
        path = self.store_url.removeprefix("sqlite:///")
        if path == ":memory:":
            return ":memory:"
        return path.removesuffix(".db").removesuffix(".sqlite") + ".picture.sqlite"

    def reconcile_location(self) -> str:
        if self.reconcile_dir:
            return self.reconcile_dir
        if self.store_url.startswith("postgres"):
            digest = hashlib.sha256(self.store_url.encode()).hexdigest()[:12]
            return f"var/reconcile-{digest}"
        path = self.store_url.removeprefix("sqlite:///")
        if path == ":memory:":
            return "var/reconcile-memory"
        return path.removesuffix(".db").removesuffix(".sqlite") + ".reconcile"

    def registry_location(self) -> str:
        if self.registry_url:
            return self.registry_url
        if self.store_url.startswith("postgres"):
            digest = hashlib.sha256(self.store_url.encode()).hexdigest()[:12]
            return f"sqlite:///var/registry-{digest}.sqlite"
        path = self.store_url.removeprefix("sqlite:///")
        if path == ":memory:":
            return ":memory:"
        stem = path.removesuffix(".db").removesuffix(".sqlite")
        return f"sqlite:///{stem}.registry.sqlite"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Read KETENHERSTEL_* variables; a malformed number raises ValueError naming it."""
        env = os.environ
        defaults = ExchangeSettings()
        exchange = ExchangeSettings(
            visibility_timeout=_number(
                "KETENHERSTEL_VISIBILITY_TIMEOUT", defaults.visibility_timeout
            ),
            max_attempts=int(_number("KETENHERSTEL_MAX_ATTEMPTS", defaults.max_attempts)),
            max_age=_number("KETENHERSTEL_MAX_AGE_DAYS", defaults.max_age / 86_400) * 86_400,
        )
        values: dict[str, object] = {
            "store_url": env.get("KETENHERSTEL_STORE", DEFAULT_STORE),
            "synchronous": env.get("KETENHERSTEL_SYNCHRONOUS", "FULL").upper(),
            "chain_file": env.get("KETENHERSTEL_CHAIN") or None,
            "exchange": exchange,
            "registry_url": env.get("KETENHERSTEL_REGISTRY") or None,
            "reconcile_dir": env.get("KETENHERSTEL_RECONCILE_DIR") or None,
            "picture_db": env.get("KETENHERSTEL_PICTURE_DB") or None,
            "gateway_register": env.get("KETENHERSTEL_GATEWAY_REGISTER") or None,
            "public_url": _public_url(env.get("KETENHERSTEL_PUBLIC_URL") or None),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def _public_url(raw: str | None) -> str | None:
    """An absolute http(s) URL with a host and nothing after its path, without the final
    slash."""
    if raw is None:
        return None
    parts, _ = http_address(raw.strip())
    if parts is None or parts.query or parts.fragment:
        raise ValueError(
            f"KETENHERSTEL_PUBLIC_URL must be an http(s) URL such as https://status.example.nl, "
            f"not {raw!r}"
        )
    return raw.strip().rstrip("/")


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be greater than 0, not {raw!r}")
    return value
