"""The isolation API (0008) through the ASGI app: partner states, emergency routes, quarantine."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ketenherstel.bootstrap import bootstrap
from ketenherstel.exchange.auth import LOCAL_OPERATOR
from ketenherstel.settings import Settings
from ketenherstel.sim import sample_events
from ketenherstel.web.app import create_app
from tests.factories import PV_TYPE, pv_event
from tests.web.conftest import Api

AFDOENING = "nl.strafrechtketen.registratie.om-afdoening-geregistreerd.v1"
STRUCTURED = "application/cloudevents+json"


def with_isolation(app: FastAPI) -> FastAPI:
    """The app factory mounts the isolation router (the OpenAPI test checks its routes)."""
    return app


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    rt = bootstrap(Settings(store_url=str(tmp_path / "iso.db")))
    tokens: dict[str, str] = {}
    for p in rt.chain.partners:
        rt.exchange.register_partner(principal=LOCAL_OPERATOR, key=p.key)
        tokens[p.key], _ = rt.exchange.create_token(
            principal=LOCAL_OPERATOR, role="partner", partner=p.key
        )
    people: list[tuple[str, Literal["operator", "viewer"], str]] = [
        ("operator", "operator", "op"),
        ("operator2", "operator", "op2"),  # the second operator who approves a release
        ("viewer", "viewer", "vw"),
    ]
    for name, role, person in people:
        tokens[name], _ = rt.exchange.create_token(
            principal=LOCAL_OPERATOR, role=role, person=person
        )
    with TestClient(with_isolation(create_app(rt))) as client:
        yield Api(client, rt, tokens)
    rt.close()


def assert_problem(response: Any, status: int, needle: str = "") -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    assert needle in response.text
    return body


def submit(api: Api, who: str, event: dict[str, Any]) -> None:
    r = api.client.post(
        "/v1/events",
        content=orjson.dumps(event),
        headers={**api.h(who), "Content-Type": STRUCTURED},
    )
    assert r.status_code == 201, r.text


def om_afdoening(api: Api, case: str) -> dict[str, Any]:
    event = copy.deepcopy(sample_events(api.runtime.chain)[AFDOENING].event)
    event["id"] = str(uuid.uuid4())
    event["partitionkey"] = case
    event["data"]["parketnummer"] = case
    event.pop("sequence", None)
    event.pop("sequencetype", None)
    return event


def isolate(api: Api, partner: str = "om", state: str = "isolated") -> Any:
    return api.client.put(
        f"/v1/partner-states/{partner}",
        json={"state": state, "reason": "Citrix down"},
        headers=api.h("operator"),
    )


ROUTE = {
    "type": PV_TYPE,
    "sender": "politie",
    "around": "om",
    "receiver": "justid",
    "supersededBy": AFDOENING,
    "reason": "spoedroute",
}


# -- partner states ------------------------------------------------------------------------


def test_an_operator_isolates_a_partner_and_viewers_see_state_and_history(api: Api) -> None:
    r = isolate(api)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["partner"], body["state"], body["changedBy"]) == ("om", "isolated", "op")
    states = {
        s["partner"]: s
        for s in api.client.get("/v1/partner-states", headers=api.h("viewer")).json()
    }
    assert states["om"]["state"] == "isolated"
    assert states["politie"]["state"] == "online"
    assert states["politie"]["changedAt"] is None
    r = api.client.get("/v1/partner-events?partner=om&limit=5", headers=api.h("viewer"))
    assert [(e["partner"], e["state"], e["reason"]) for e in r.json()] == [
        ("om", "isolated", "Citrix down")
    ]
    assert isolate(api, state="returning").json()["state"] == "returning"


@pytest.mark.parametrize(
    ("partner", "body", "needle"),
    [
        ("nobody", {"state": "isolated", "reason": "x"}, "not a partner"),
        ("om", {"state": "gone", "reason": "x"}, "state"),
        ("om", {"state": "isolated", "reason": " "}, "say why"),
        ("om", {"state": "isolated"}, "reason"),
        ("om", {"state": "isolated", "reason": "x", "extra": 1}, "extra"),
        ("*", {"state": "isolated", "reason": "x"}, "one partner at a time"),
        ("om", {"state": "isolated", "reason": "SKN-1643701197 ziek"}, "no SKN, BSN or e-mail"),
    ],
)
def test_bad_partner_state_changes_are_400_and_change_nothing(
    api: Api, partner: str, body: dict[str, Any], needle: str
) -> None:
    r = api.client.put(f"/v1/partner-states/{partner}", json=body, headers=api.h("operator"))
    assert_problem(r, 400, needle)
    assert api.runtime.exchange.partner_history() == []
    assert api.runtime.exchange.channels() == []


def test_a_state_change_out_of_order_is_a_conflict(api: Api) -> None:
    assert_problem(isolate(api, state="returning"), 409, "only an isolated partner returns")
    assert api.runtime.exchange.partner_history() == []


def test_one_operator_cannot_bring_a_dark_partner_online(api: Api) -> None:
    """Decision 0018: a 409 that says how (a release a second operator approves), in words
    the API's client reads: no command of the CLI."""
    isolate(api)
    body = assert_problem(isolate(api, state="online"), 409, "let it return first")
    assert "asked by one operator and approved by another" in body["detail"]
    isolate(api, state="returning")
    body = assert_problem(isolate(api, state="online"), 409, "om is returning")
    assert (
        "a quarantine release (also of nothing) asked by one operator and approved by "
        in (body["detail"])
    )
    assert "`" not in body["detail"] and "quarantine request" not in body["detail"]
    doc = api.client.app.openapi()  # type: ignore[attr-defined]
    said = doc["components"]["schemas"]["PartnerStateUpdate"]["properties"]["state"]
    assert "online is refused (409)" in said["description"]
    assert "POST /v1/quarantine-releases" in said["description"]
    states = [
        (e["state"])
        for e in api.client.get("/v1/partner-events?partner=om", headers=api.h("viewer")).json()
    ]
    assert states == ["returning", "isolated"]


def test_partner_event_queries_are_checked(api: Api) -> None:
    h = api.h("viewer")
    assert_problem(api.client.get("/v1/partner-events?partner=nobody", headers=h), 400, "nobody")
    assert_problem(api.client.get("/v1/partner-events?limit=0", headers=h), 400, "limit")


# -- roles ---------------------------------------------------------------------------------

READS = [
    "/v1/partner-states",
    "/v1/partner-events",
    "/v1/emergency-routes",
    "/v1/quarantine",
    "/v1/quarantine/om/check",
    "/v1/quarantine-releases",
]
WRITES: list[tuple[str, str, dict[str, Any]]] = [
    ("PUT", "/v1/partner-states/om", {"state": "isolated", "reason": "x"}),
    ("POST", "/v1/emergency-routes", ROUTE),
    ("POST", "/v1/emergency-routes/1/closure", {"reason": "x"}),
    ("POST", "/v1/quarantine-releases", {"partner": "om", "reason": "x"}),
    ("POST", "/v1/quarantine-releases/1/approval", {}),
]


@pytest.mark.parametrize("path", READS)
def test_reads_are_for_viewers_and_operators_not_partners(api: Api, path: str) -> None:
    assert api.client.get(path, headers=api.h("viewer")).status_code == 200
    assert api.client.get(path, headers=api.h("operator")).status_code == 200
    assert_problem(api.client.get(path, headers=api.h("politie")), 403)
    assert_problem(api.client.get(path), 401)


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
@pytest.mark.parametrize("who", ["viewer", "politie", "om"])
def test_writes_are_for_operators_only(
    api: Api, method: str, path: str, body: dict[str, Any], who: str
) -> None:
    r = api.client.request(method, path, json=body, headers=api.h(who))
    assert_problem(r, 403)
    assert api.runtime.exchange.partner_history() == []
    assert api.runtime.exchange.routes() == []
    assert api.runtime.exchange.releases() == []


# -- emergency routes ----------------------------------------------------------------------


def test_an_operator_opens_and_closes_an_emergency_route(api: Api) -> None:
    r = api.client.post("/v1/emergency-routes", json=ROUTE, headers=api.h("operator"))
    assert r.status_code == 201, r.text
    route = r.json()
    assert (route["type"], route["supersededBy"], route["closedAt"]) == (PV_TYPE, AFDOENING, None)
    listed = api.client.get("/v1/emergency-routes", headers=api.h("viewer")).json()
    assert [x["id"] for x in listed] == [route["id"]]
    assert_problem(
        api.client.post("/v1/emergency-routes", json=ROUTE, headers=api.h("operator")), 409
    )
    assert route["closedReason"] is None
    closure = f"/v1/emergency-routes/{route['id']}/closure"
    why = {"reason": "OM is terug"}
    r = api.client.post(closure, json=why, headers=api.h("operator"))
    assert r.status_code == 200, r.text
    assert (r.json()["closedBy"], r.json()["closedReason"]) == ("op", "OM is terug")
    listed = api.client.get("/v1/emergency-routes", headers=api.h("viewer")).json()
    assert listed == [r.json()]
    log = api.client.get("/v1/audit-log", headers=api.h("operator")).json()
    [entry] = [a for a in log if a["action"] == "route-closed"]
    assert (entry["actor"], entry["detail"]) == ("op", "OM is terug")
    named = f"{PV_TYPE} politie->justid (route {route['id']})"
    assert [a["object"] for a in log if a["action"].startswith("route-")] == [named, named]
    again = api.client.post(closure, json=why, headers=api.h("operator"))
    assert_problem(again, 409)
    missing = api.client.post(
        "/v1/emergency-routes/999/closure", json=why, headers=api.h("operator")
    )
    assert_problem(missing, 404)
    bad_id = api.client.post(
        "/v1/emergency-routes/abc/closure", json=why, headers=api.h("operator")
    )
    assert_problem(bad_id, 400, "routeId")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (None, "body"),
        ({}, "reason"),
        ({"reason": ""}, "say why"),
        ({"reason": "  "}, "say why"),
        ({"reason": 5}, "reason"),
        ({"reason": "y" * 501}, "reason"),
        ({"reason": "x", "extra": 1}, "extra"),
    ],
)
def test_a_route_closed_without_a_reason_is_400_and_stays_open(
    api: Api, body: Any, needle: str
) -> None:
    route = api.client.post("/v1/emergency-routes", json=ROUTE, headers=api.h("operator")).json()
    r = api.client.post(
        f"/v1/emergency-routes/{route['id']}/closure", json=body, headers=api.h("operator")
    )
    assert_problem(r, 400, needle)
    [still] = api.client.get("/v1/emergency-routes", headers=api.h("viewer")).json()
    assert (still["closedAt"], still["closedReason"]) == (None, None)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"sender": "nobody"}, "not a partner"),
        ({"around": "*"}, "not '*'"),
        ({"type": "nl.bogus.v1"}, "not a message type"),
        ({"supersededBy": "nl.bogus.v1"}, "the superseding type 'nl.bogus.v1' is not a message"),
        ({"receiver": "politie"}, "politie"),
        ({"reason": ""}, "say why"),
        ({"reason": "op verzoek van SKN-1643701197 jan.jansen@om.nl"}, "no SKN, BSN or e-mail"),
        ({"type": None}, "type"),
    ],
)
def test_bad_routes_are_400_and_open_nothing(api: Api, change: dict[str, Any], needle: str) -> None:
    body = {k: v for k, v in {**ROUTE, **change}.items() if v is not None}
    r = api.client.post("/v1/emergency-routes", json=body, headers=api.h("operator"))
    assert_problem(r, 400, needle)
    assert api.runtime.exchange.routes() == []


# -- quarantine ----------------------------------------------------------------------------


def test_a_release_takes_two_operators_through_http(api: Api) -> None:
    assert isolate(api).status_code == 200
    api.runtime.exchange.set_channel(
        principal=LOCAL_OPERATOR, receiver="justid", sender="om", state="open", reason="wave 1"
    )
    submit(api, "om", om_afdoening(api, "10-000001-25"))

    q = api.client.get("/v1/quarantine?partner=om", headers=api.h("viewer")).json()
    assert q["counts"] == [{"sender": "om", "waiting": 1, "released": 0}]
    [m] = q["messages"]
    assert (m["sender"], m["type"]) == ("om", AFDOENING)
    assert set(m) == {"position", "source", "id", "sender", "type", "receivedAt"}  # no data

    check = api.client.get("/v1/quarantine/om/check?expected=1", headers=api.h("viewer")).json()
    assert (check["messages"], check["clean"], check["findings"]) == (1, True, [])
    loud = api.client.get("/v1/quarantine/om/check?expected=10", headers=api.h("viewer")).json()
    assert not loud["clean"] and "expected" in loud["findings"][0]

    r = api.client.post(
        "/v1/quarantine-releases",
        json={"partner": "om", "reason": "checked", "expected": 1},
        headers=api.h("operator"),
    )
    assert r.status_code == 201, r.text
    release = r.json()
    assert (release["messages"], release["requestedBy"], release["approvedAt"]) == (1, "op", None)
    assert release["check"]["clean"] is True

    same = api.client.post(
        f"/v1/quarantine-releases/{release['id']}/approval", headers=api.h("operator")
    )
    assert_problem(same, 409, "second operator")
    assert api.runtime.exchange.releases()[0].approved_by is None

    r = api.client.post(
        f"/v1/quarantine-releases/{release['id']}/approval", headers=api.h("operator2")
    )
    assert r.status_code == 200, r.text
    assert r.json()["approvedBy"] == "op2"
    assert r.json()["check"]["messages"] == 1

    listed = api.client.get("/v1/quarantine-releases?partner=om", headers=api.h("viewer")).json()
    assert [(x["id"], x["approvedBy"]) for x in listed] == [(release["id"], "op2")]
    q = api.client.get("/v1/quarantine", headers=api.h("viewer")).json()
    assert q["counts"] == [{"sender": "om", "waiting": 0, "released": 1}]
    assert q["messages"] == []


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"partner": "nobody", "reason": "x"}, "not a partner"),
        ({"partner": "om", "reason": " "}, "say why"),
        ({"partner": "om"}, "reason"),
        ({"partner": "om", "reason": "x", "expected": -1}, "expected"),
        ({"partner": "om", "reason": "x", "expected": 100_000_001}, "expected"),
        ({"partner": "om", "reason": "x", "expected": 10**23}, "expected"),
    ],
)
def test_bad_release_requests_are_400_and_change_nothing(
    api: Api, body: dict[str, Any], needle: str
) -> None:
    isolate(api)
    api.runtime.exchange.set_channel(
        principal=LOCAL_OPERATOR, receiver="justid", sender="om", state="open", reason="wave 1"
    )
    submit(api, "om", om_afdoening(api, "10-000001-25"))
    r = api.client.post("/v1/quarantine-releases", json=body, headers=api.h("operator"))
    assert_problem(r, 400, needle)
    assert api.runtime.exchange.releases() == []
    assert api.runtime.exchange.quarantine_counts() == {"om": (1, 0)}


def test_an_empty_quarantine_cannot_be_released(api: Api) -> None:
    r = api.client.post(
        "/v1/quarantine-releases", json={"partner": "om", "reason": "x"}, headers=api.h("operator")
    )
    assert_problem(r, 409)
    assert api.runtime.exchange.releases() == []


def test_approving_what_does_not_exist_is_404_or_400(api: Api) -> None:
    h = api.h("operator")
    assert_problem(api.client.post("/v1/quarantine-releases/42/approval", headers=h), 404)
    assert_problem(api.client.post("/v1/quarantine-releases/x/approval", headers=h), 400)


def test_quarantine_queries_are_checked(api: Api) -> None:
    h = api.h("viewer")
    assert_problem(api.client.get("/v1/quarantine?partner=nobody", headers=h), 400, "nobody")
    assert_problem(api.client.get("/v1/quarantine?limit=5000", headers=h), 400, "limit")
    assert_problem(api.client.get("/v1/quarantine/nobody/check", headers=h), 400, "nobody")
    assert_problem(api.client.get("/v1/quarantine/om/check?expected=-1", headers=h), 400)
    far = "/v1/quarantine/om/check?expected=99999999999999999999999"
    assert_problem(api.client.get(far, headers=h), 400, "expected")
    assert_problem(api.client.get("/v1/quarantine-releases?partner=nobody", headers=h), 400)


def test_politie_traffic_is_not_quarantined(api: Api) -> None:
    isolate(api)
    submit(api, "politie", pv_event(case="10-000007-25"))
    q = api.client.get("/v1/quarantine", headers=api.h("viewer")).json()
    assert q == {"counts": [], "messages": []}


def test_the_isolation_routes_are_in_the_openapi_document(api: Api) -> None:
    doc = api.client.app.openapi()  # type: ignore[attr-defined]
    ops = {op["operationId"] for path in doc["paths"].values() for op in path.values()}
    assert {
        "listPartnerStates",
        "setPartnerState",
        "listPartnerEvents",
        "listEmergencyRoutes",
        "openEmergencyRoute",
        "closeEmergencyRoute",
        "getQuarantine",
        "checkQuarantine",
        "listQuarantineReleases",
        "requestQuarantineRelease",
        "approveQuarantineRelease",
    } <= ops


BIG = str(2**70)  # past the 64 bits a store holds


@pytest.mark.parametrize(
    ("method", "path", "body", "who"),
    [
        ("POST", f"/v1/emergency-routes/{BIG}/closure", {"reason": "x"}, "operator"),
        ("POST", f"/v1/quarantine-releases/{BIG}/approval", None, "operator2"),
        ("GET", f"/v1/manual-records/{BIG}", None, "operator"),
        ("GET", f"/v1/manual-records?after={BIG}", None, "operator"),
        ("GET", f"/v1/unmatched-messages?after={BIG}", None, "operator"),
        ("POST", f"/v1/dead-letters/{BIG}/resends", None, "operator"),
        ("POST", "/v1/acknowledgements", {"deliveryIds": [int(BIG)]}, "justid"),
    ],
)
def test_a_number_past_what_the_store_holds_is_a_400_not_a_500(
    api: Api, method: str, path: str, body: Any, who: str
) -> None:
    r = api.client.request(method, path, json=body, headers=api.h(who))
    assert_problem(r, 400, "out of range")
    assert "Python" not in r.text and "SQLite" not in r.text  # the driver's words (a review)


def test_a_release_stored_with_an_expected_volume_past_the_bound_still_shows_its_check(
    api: Api,
) -> None:
    """Before --expected was bounded the CLI stored 99999999999999999999999, and the list
    showed `"check": null` (orjson reads no integer that large); the check is read as it was
    written, and the release can still be approved, on the check its requester saw."""
    isolate(api)
    isolate(api, state="returning")
    ex = api.runtime.exchange
    huge = 99999999999999999999999
    stored = (
        '{"partner": "om", "messages": 0, "schemaFailures": 0, "sequenceGaps": {}, '
        '"keyConflicts": 0, "supersessions": 0, "paperConflicts": 0, "otherConflicts": 0, '
        f'"repeats": 0, "expected": {huge}, '
        f'"findings": ["only 0 messages where about {huge} were expected"]}}'
    )
    ex.store.request_release(
        partner="om", checks=stored, reason="x", now=ex.clock(), actor="op", allow_empty=True
    )
    [listed] = api.client.get("/v1/quarantine-releases", headers=api.h("viewer")).json()
    assert listed["check"] is not None
    assert listed["check"]["expected"] == huge and not listed["check"]["clean"]
    r = api.client.post(
        f"/v1/quarantine-releases/{listed['id']}/approval", headers=api.h("operator2")
    )
    assert r.status_code == 200, r.text
    assert r.json()["check"]["findings"] == [f"only 0 messages where about {huge} were expected"]


def test_a_release_asked_twice_is_a_conflict_naming_the_one_that_waits(api: Api) -> None:
    isolate(api)
    isolate(api, state="returning")
    ask = {"partner": "om", "reason": "trusted again"}
    first = api.client.post("/v1/quarantine-releases", json=ask, headers=api.h("operator"))
    assert first.status_code == 201, first.text
    again = api.client.post("/v1/quarantine-releases", json=ask, headers=api.h("operator2"))
    body = assert_problem(again, 409, f"release {first.json()['id']} of om, asked by op")
    assert f"POST /v1/quarantine-releases/{first.json()['id']}/approval" in body["detail"]
    assert len(api.runtime.exchange.releases()) == 1


def test_approving_a_release_asked_before_a_new_isolation_says_the_partner_stays(
    api: Api,
) -> None:
    isolate(api)
    isolate(api, state="returning")
    ask = {"partner": "om", "reason": "trusted again"}
    first = api.client.post("/v1/quarantine-releases", json=ask, headers=api.h("operator"))
    assert first.status_code == 201, first.text
    isolate(api)  # isolated again and back: the release asked before does not end it
    isolate(api, state="returning")
    r = api.client.post(
        f"/v1/quarantine-releases/{first.json()['id']}/approval", headers=api.h("operator2")
    )
    assert r.status_code == 200, r.text
    assert r.json()["note"].startswith(
        f"om stays returning: release {first.json()['id']} was asked for before om's current "
    )
    [listed] = api.client.get("/v1/quarantine-releases", headers=api.h("viewer")).json()
    assert listed["note"] is None  # said in the answer to the approval
    second = api.client.post("/v1/quarantine-releases", json=ask, headers=api.h("operator"))
    assert second.status_code == 201, second.text
    r = api.client.post(
        f"/v1/quarantine-releases/{second.json()['id']}/approval", headers=api.h("operator2")
    )
    assert r.status_code == 200 and r.json()["note"] is None
    states = api.client.get("/v1/partner-states", headers=api.h("viewer")).json()
    assert {s["partner"]: s["state"] for s in states}["om"] == "online"
