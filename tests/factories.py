"""Valid chain events for tests, built by hand so each test says exactly what it sends."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import orjson

POLITIE_OIN = "00000001003214345000"
KMAR_OIN = "00000001003214346000"
OM_OIN = "00000001003214347000"
PV_TYPE = "nl.strafrechtketen.opsporing.proces-verbaal-ingezonden.v1"
POLITIE_SOURCE = f"urn:nld:oin:{POLITIE_OIN}:systeem:bvh"
_PAGES = itertools.count(1)


def pv_event(
    *,
    ident: str | None = None,
    case: str = "10-000001-25",
    sequence: int | None = None,
    source: str = POLITIE_SOURCE,
    **overrides: Any,
) -> dict[str, Any]:
    """A police report (proces-verbaal) sent by the police to the OM."""
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": ident or str(uuid.uuid4()),
        "source": source,
        "type": PV_TYPE,
        "subject": case,
        "time": "2025-07-17T20:15:00Z",
        "datacontenttype": "application/json",
        "partitionkey": case,
        "data": {
            "policeCaseNumber": "PL1300-2025123456",
            "parketnummer": case,
            "skn": "SKN-0000012345",
            "completedAt": "2025-07-17T19:00:00Z",
            "offences": [{"article": "art. 310 Sr", "category": "vermogen"}],
            "suspectDetained": False,
            # Each call is a new version of the case's report, so two calls are two facts (the
            # second supersedes the first), never the same fact re-sent.
            "pageCount": next(_PAGES),
        },
    }
    if sequence is not None:
        event["sequence"] = str(sequence)
        event["sequencetype"] = "Integer"
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not None}


def bring_online(exchange: Any, partner: str, reason: str = "back") -> None:
    """A dark partner back online the one way there is (decision 0018): it returns, one
    operator asks for a release of its quarantine and a second approves it."""
    from ketenherstel.exchange.auth import Principal

    first = Principal("op-a", "operator", None, "token")
    second = Principal("op-b", "operator", None, "token")
    if exchange.partner_states()[partner].state == "isolated":
        exchange.set_partner_state(
            principal=first, partner=partner, state="returning", reason=reason
        )
    release, _ = exchange.request_release(principal=first, partner=partner, reason=reason)
    exchange.approve_release(principal=second, release_id=release.id)
    assert exchange.partner_states()[partner].state == "online"


def given_twice(body: bytes, key: str, first: object) -> bytes:
    """``body`` (JSON) with ``key`` given twice in the first object that has it: ``first``,
    then the value it had, which a parser that keeps the last value reads without a word."""
    name = orjson.dumps(key) + b":"
    assert name in body, f"{key!r} is not in the body"
    return body.replace(name, name + orjson.dumps(first) + b"," + name, 1)
