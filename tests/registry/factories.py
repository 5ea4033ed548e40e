"""Registration events for registry tests, built by hand with explicit dates and sequences."""

from __future__ import annotations

import uuid
from typing import Any

T0 = 1_752_782_400.0  # 2025-07-17T20:00:00Z


class Clock:
    """A clock the test moves by hand (the exchange's, which the registry reads)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


OM_SOURCE = "urn:nld:oin:00000001003214347000:systeem:gps"
POLITIE_SOURCE = "urn:nld:oin:00000001003214345000:systeem:bvh"
P = "nl.strafrechtketen.registratie."
DECISION = P + "om-afdoening-geregistreerd.v1"
JUDGMENT = P + "uitspraak-geregistreerd.v1"
EMERGENCY = P + "spoedmelding-zwaar-delict.v1"


def _event(type_: str, source: str, case: str, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": kw.pop("ident", None) or str(uuid.uuid4()),
        "source": source,
        "type": type_,
        "subject": case,
        "time": kw.pop("time", "2025-07-17T20:00:00Z"),
        "datacontenttype": "application/json",
        "partitionkey": case,
        "data": data,
    }
    sequence = kw.pop("sequence", None)
    if sequence is not None:
        event["sequence"] = str(sequence)
        event["sequencetype"] = "Integer"
    assert not kw, kw
    return event


def decision(
    case: str,
    skn: str,
    kind: str = "strafbeschikking",
    decided: str = "2025-06-01T10:00:00Z",
    category: str = "geweld",
    **kw: Any,
) -> dict[str, Any]:
    """The OM's decision on a case, registered in the JDS."""
    data = {
        "parketnummer": case,
        "skn": skn,
        "decisionKind": kind,
        "decidedAt": decided,
        "offences": [{"article": "art. 300 Sr", "category": category}],
    }
    return _event(DECISION, OM_SOURCE, case, data, **kw)


def judgment(
    case: str, skn: str, verdict: str = "veroordeling", day: str = "2025-06-20", **kw: Any
) -> dict[str, Any]:
    data = {
        "parketnummer": case,
        "skn": skn,
        "court": "rechtbank-amsterdam",
        "judgmentDate": day,
        "verdict": verdict,
        "sanctions": [],
        "final": True,
    }
    return _event(JUDGMENT, OM_SOURCE, case, data, **kw)


def emergency(case: str, skn: str, arrested: str = "2025-08-13T02:00:00Z") -> dict[str, Any]:
    data = {
        "policeCaseNumber": "PL1300-2025000001",
        "parketnummer": case,
        "skn": skn,
        "offenceCategory": "zwaar-geweldsdelict",
        "arrestedAt": arrested,
        "reportedAt": arrested,
    }
    return _event(EMERGENCY, POLITIE_SOURCE, case, data)


JUSTIS_SOURCE = "urn:nld:oin:00000001003214350000:systeem:vog"
SCREENING_DECISION = P + "screeningsbesluit-genomen.v1"


def screening_decision(
    reference: str, decision: str = "afgegeven", decided: str = "2025-07-19T09:00:00Z"
) -> dict[str, Any]:
    """Justis's decision on a screening the registry answered, sent back as a message."""
    data = {"screeningId": reference, "decision": decision, "decidedAt": decided}
    return _event(SCREENING_DECISION, JUSTIS_SOURCE, reference, data, time=decided)
