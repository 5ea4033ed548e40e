"""The gateway watch API over the ASGI app: the findings register (operators, audited reads),
decisions, counts for viewers, the allowlist; bad input is a 400 and changes nothing."""

from __future__ import annotations

from pathlib import Path

from ketenherstel.gateway.register import Register, finding_id
from ketenherstel.gateway.watch import Evidence, Finding
from tests.web.conftest import Api

URL = "/v1/gateway/findings"


def seed(api: Api) -> str:
    f = Finding(
        "session-hijack",
        "A session moves",
        "high",
        1.0,
        address="203.0.113.66",
        user="ann",
        session="7",
        evidence=[Evidence("ns.log", 120)],
    )
    Register(Path(api.runtime.settings.gateway_register_location())).add([f])
    return finding_id(f)


def test_findings_decisions_and_audit(api: Api) -> None:
    fid = seed(api)
    assert api.client.get(URL, headers=api.h("viewer")).status_code == 403
    listed = api.client.get(URL, headers=api.h("operator")).json()
    assert [(x["id"], x["status"], x["evidence"]) for x in listed] == [(fid, "new", ["ns.log:120"])]
    assert any(a.action == "gateway-findings-read" for a in api.runtime.store.audit_log(limit=20))
    r = api.client.post(
        f"{URL}/{fid}/decisions", json={"status": "false-positive"}, headers=api.h("operator")
    )
    assert r.status_code == 400 and "reason" in r.json()["detail"]
    r = api.client.post(
        f"{URL}/{fid}/decisions", json={"status": "confirmed"}, headers=api.h("operator")
    )
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    assert r.json()["history"][0]["by"] == "op"
    r = api.client.post(
        f"{URL}/{fid}/decisions", json={"status": "confirmed"}, headers=api.h("operator")
    )
    assert r.status_code == 409
    assert api.client.get(f"{URL}/F000000000000", headers=api.h("operator")).status_code == 404
    assert api.client.get(f"{URL}/bad", headers=api.h("operator")).status_code == 400
    counts = api.client.get("/v1/gateway/summary", headers=api.h("viewer")).json()
    assert counts == [
        {"rule": "session-hijack", "status": "confirmed", "confidence": "high", "count": 1}
    ]


def test_allowlist(api: Api) -> None:
    body = {"network": "192.0.2.0/24", "reason": "office", "until": "2099-01-01"}
    assert (
        api.client.post("/v1/gateway/allowlist", json=body, headers=api.h("viewer")).status_code
        == 403
    )
    r = api.client.post("/v1/gateway/allowlist", json=body, headers=api.h("operator"))
    assert r.status_code == 201 and r.json()["addedBy"] == "op"
    bad = api.client.post(
        "/v1/gateway/allowlist", json={**body, "network": "office"}, headers=api.h("operator")
    )
    assert bad.status_code == 400 and "no network" in bad.json()["detail"]
    listed = api.client.get("/v1/gateway/allowlist", headers=api.h("operator")).json()
    assert [(a["network"], a["active"]) for a in listed] == [("192.0.2.0/24", True)]
