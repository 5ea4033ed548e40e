"""Fixtures for the edge outbox: an outbox on a temporary file, OM events, a live exchange."""

from __future__ import annotations

import itertools
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ketenherstel.bootstrap import Runtime, bootstrap
from ketenherstel.chain import Chain
from ketenherstel.exchange.auth import LOCAL_OPERATOR
from ketenherstel.outbox.agent import Outbox
from ketenherstel.settings import Settings
from ketenherstel.web.server import ServerThread

OM_OIN = "00000001003214347000"
OM_SOURCE = f"urn:nld:oin:{OM_OIN}:systeem:gps"
SUMMONS = "nl.strafrechtketen.vervolging.dagvaarding-uitgebracht.v1"


_CASES = itertools.count(1)


def summons(
    *, ident: str | None = None, case: str | None = None, **overrides: Any
) -> dict[str, Any]:
    """A summons (dagvaarding) the OM sends to the courts, without source or sequence.

    Each gets its own case unless told: the exchange treats a second summons in the same case
    as the same fact (a business-key duplicate).
    """
    case = case or f"10-{next(_CASES):06d}-25"
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": ident or str(uuid.uuid4()),
        "type": SUMMONS,
        "subject": case,
        "time": "2025-07-20T09:00:00Z",
        "datacontenttype": "application/json",
        "partitionkey": case,
        "data": {
            "parketnummer": case,
            "skn": "SKN-0000012345",
            "issuedAt": "2025-07-20T08:30:00Z",
            "hearingDate": "2025-09-01",
            "court": "rechtbank-amsterdam",
            "chamber": "politierechter",
            "offences": [{"article": "art. 310 Sr", "category": "vermogen"}],
            "suspectDetained": False,
        },
    }
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not None}


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def outbox(tmp_path: Path, chain: Chain) -> Iterator[Outbox]:
    box = Outbox.create(tmp_path / "outbox.db", oin=OM_OIN, source=OM_SOURCE, chain=chain)
    yield box
    box.close()


@dataclass
class LiveExchange:
    """The real exchange app served over HTTP, with the OM registered and its token."""

    url: str
    runtime: Runtime
    token: str

    def stored(self, source: str, ident: str) -> Any:
        return self.runtime.store.message(source, ident)


def start_exchange(db: Path, chain_file: Path | None = None) -> tuple[Runtime, str]:
    chain = None if chain_file is None else str(chain_file)
    rt = bootstrap(Settings(store_url=str(db), chain_file=chain))
    for key in ("om", "rechtspraak"):
        rt.exchange.register_partner(principal=LOCAL_OPERATOR, key=key)
    token, _ = rt.exchange.create_token(principal=LOCAL_OPERATOR, role="partner", partner="om")
    return rt, token


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[LiveExchange]:
    rt, token = start_exchange(tmp_path / "exchange.db")
    with ServerThread(rt) as server:
        yield LiveExchange(server.url, rt, token)
    rt.close()
