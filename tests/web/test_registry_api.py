"""The registry API (decision 0010) through the ASGI app over real SQLite stores: catch-up,
freshness and hold advice, screenings and decisions, a person's extract and read log, and the
re-screen list as JSON, CSV and Parquet with its work. Bad input is a 400 naming the field and
changes nothing; roles are checked on every route."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import orjson
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from ketenherstel.bootstrap import bootstrap
from ketenherstel.exchange.auth import LOCAL_OPERATOR
from ketenherstel.settings import Settings
from ketenherstel.web.app import create_app
from tests.registry.factories import Clock, decision
from tests.web.conftest import Api

DAY = 86_400.0
A, B = "SKN-0000000001", "SKN-0000000002"
STRUCTURED = "application/cloudevents+json"
SCREENINGS = "/v1/registry/screenings"
ACTIONS = "/v1/registry/rescreen-items/actions"
WHY = {"purpose": "herbeoordeling", "legalGround": "art. 39f Wjsg"}


@pytest.fixture
def api(tmp_path: Path, clock: Clock) -> Iterator[Api]:
    rt = bootstrap(Settings(store_url=str(tmp_path / "reg.db")))
    rt.exchange.clock = clock  # the registry reads the exchange's clock
    tokens: dict[str, str] = {}
    for p in rt.chain.partners:
        rt.exchange.register_partner(principal=LOCAL_OPERATOR, key=p.key)
        tokens[p.key], _ = rt.exchange.create_token(
            principal=LOCAL_OPERATOR, role="partner", partner=p.key
        )
    people: list[tuple[str, Literal["operator", "viewer"]]] = [
        ("operator", "operator"),
        ("viewer", "viewer"),
    ]
    for name, role in people:
        tokens[name], _ = rt.exchange.create_token(
            principal=LOCAL_OPERATOR, role=role, person=f"{name}-1"
        )
    with TestClient(create_app(rt)) as client:
        yield Api(client, rt, tokens)
    rt.close()


def problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    """A problem+json answer with ``status``; with ``field``, one of its problems names it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if field is not None:
        assert field in {p["field"] for p in body.get("problems", [])}, body
    return body


def submit(api: Api, *events: dict[str, Any]) -> None:
    for event in events:
        r = api.client.post(
            "/v1/events",
            content=orjson.dumps(event),
            headers={**api.h("om"), "Content-Type": STRUCTURED},
        )
        assert r.status_code == 201, r.text


def catch_up(api: Api, **body: Any) -> dict[str, Any]:
    r = api.client.post("/v1/registry/catch-ups", json=body, headers=api.h("operator"))
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def screening(reference: str, skn: str, **change: Any) -> dict[str, Any]:
    body = {
        "reference": reference,
        "profile": "vog-natuurlijk-persoon",
        "skn": skn,
        "queryDate": "2025-07-18",
        "purpose": "vog-aanvraag",
        "legalGround": "art. 35 Wjsg",
        "role": "screener",
    }
    return {**body, **change}


def screen(api: Api, reference: str, skn: str, who: str = "justis", **change: Any) -> Any:
    r = api.client.post(SCREENINGS, json=screening(reference, skn, **change), headers=api.h(who))
    assert r.status_code == 201, r.text
    return r.json()


def counts(api: Api) -> dict[str, int]:
    return api.runtime.registry.db.counts()


def reads(api: Api, skn: str) -> list[Any]:
    """The read log of a person, newest first; "*": the reads of the re-screen list."""
    return api.runtime.registry.db.reads_of(skn, 100)


def late_registration(api: Api, clock: Clock) -> None:
    """A's conviction before the screening on 18 July becomes known 40 days later."""
    clock.now += 40 * DAY
    submit(
        api,
        decision(
            "13-000001-25",
            A,
            decided="2025-07-15T10:00:00Z",
            sequence=2,
            time="2025-08-26T20:00:00Z",
        ),
    )
    assert catch_up(api)["applied"] == 1


def rescreen(api: Api, **params: str) -> Any:
    return api.client.get(
        "/v1/registry/rescreen-items", params={**WHY, **params}, headers=api.h("operator")
    )


# -- the happy path ---------------------------------------------------------------------------


def test_catch_up_then_screen_then_the_late_registration_lands_on_the_rescreen_list(
    api: Api, clock: Clock
) -> None:
    submit(api, decision("13-000002-25", B, sequence=1))
    result = catch_up(api, limit=10)
    assert result == {
        "applied": 1,
        "sameFact": 0,
        "redelivered": 0,
        "replaced": 0,
        "notRegistrations": 0,
        "failed": [],
    }
    assert catch_up(api, maxBatches=1)["applied"] == 0  # nothing waits any more

    clean = screen(api, "SCR-A", A)
    assert (clean["consumer"], clean["skn"], clean["queryDate"]) == ("justis", A, "2025-07-18")
    assert clean["cases"] == []
    assert clean["answeredAt"] == "2025-07-17T20:00:00Z"
    (om,) = [f for f in clean["freshness"]["sources"] if f["partner"] == "om"]
    assert (om["watermark"], om["waiting"], om["gaps"]) == (1, 0, [])
    assert om["text"].startswith("Openbaar Ministerie: volledig tot")
    shown = screen(api, "SCR-B", B)
    assert shown["cases"] == [
        {
            "caseKey": "13-000002-25",
            "state": "settled",
            "factDate": "2025-06-01",
            "categories": ["geweld"],
        }
    ]
    assert rescreen(api).json() == []

    late_registration(api, clock)
    r = rescreen(api)
    assert r.status_code == 200, r.text
    (item,) = r.json()
    assert item == {
        "reference": "SCR-A",
        "consumer": "justis",
        "profile": "vog-natuurlijk-persoon",
        "skn": A,
        "queryDate": "2025-07-18",
        "answeredAt": "2025-07-17T20:00:00Z",
        "direction": "missed",
        "caseKey": "13-000001-25",
        "stateThen": None,
        "stateNow": "settled",
        "factDate": "2025-07-15",
        "knownAt": "2025-08-26T20:00:00Z",
        "delayDays": 40.0,
        "workState": "open",
        "assignee": None,
        "outcome": None,
        "decision": None,
        "note": None,
        "differs": True,
    }
    assert reads(api, "*")[0].activity == "rescreen-list-read"  # the list read is logged
    # The list says how complete the registry was that made it: the OM's source, caught up.
    assert r.headers["Registry-Freshness-As-Of"] == "2025-08-26T20:00:00Z"
    (om_fresh,) = [f for f in r.headers["Registry-Freshness"].split(", ") if ";partner=om;" in f]
    assert om_fresh.endswith(
        ";partner=om;state=online;waiting=0;missing=0;failed=0;completeUpTo=2025-08-26T20:00:00Z"
    )
    assert om_fresh.startswith("urn:nld:oin:")  # keyed by source: a partner may have several
    assert rescreen(api, direction="wrongly-shown").json() == []
    assert rescreen(api, workState="assigned").json() == []

    as_csv = rescreen(api, format="csv")
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert 'filename="rescreen-items.csv"' in as_csv.headers["content-disposition"]
    (row,) = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert (row["reference"], row["skn"], row["knownAt"]) == ("SCR-A", A, "2025-08-26T20:00:00Z")
    # A file on disk keeps the freshness its headers carried, in every row.
    assert row["freshnessAsOf"] == as_csv.headers["Registry-Freshness-As-Of"]
    assert row["freshness"] == as_csv.headers["Registry-Freshness"]
    assert ";partner=om;state=online;waiting=0;missing=0;" in row["freshness"]

    as_parquet = rescreen(api, format="parquet")
    assert as_parquet.status_code == 200
    assert as_parquet.headers["content-type"] == "application/vnd.apache.parquet"
    assert "attachment" in as_parquet.headers["content-disposition"]
    (record,) = pq.read_table(io.BytesIO(as_parquet.content)).to_pylist()
    assert (record["reference"], record["caseKey"], record["direction"]) == (
        "SCR-A",
        "13-000001-25",
        "missed",
    )
    assert str(record["factDate"]) == "2025-07-15" and record["delayDays"] == 40.0
    assert record["freshnessAsOf"].isoformat() == "2025-08-26T20:00:00+00:00"
    assert record["freshness"] == as_parquet.headers["Registry-Freshness"]
    meta = pq.read_schema(io.BytesIO(as_parquet.content)).metadata
    full = json.loads(meta[b"ketenherstel.registry.freshness"])
    assert full["asOf"] == "2025-08-26T20:00:00Z"
    assert {f["partner"]: f["completeUpTo"] for f in full["sources"]}["om"] == (
        "2025-08-26T20:00:00Z"
    )

    summary = api.client.get("/v1/registry/rescreen-summary", headers=api.h("viewer"))
    # The counts carry the freshness they were made with, as the list does.
    assert summary.headers["Registry-Freshness-As-Of"] == "2025-08-26T20:00:00Z"
    assert summary.headers["Registry-Freshness"] == r.headers["Registry-Freshness"]
    assert summary.json() == [
        {
            "direction": "missed",
            "consumer": "justis",
            "profile": "vog-natuurlijk-persoon",
            "workState": "open",
            "count": 1,
        }
    ]
    assert A not in summary.text


def test_rescreen_items_are_worked_in_order_and_out_of_order_is_a_409(
    api: Api, clock: Clock
) -> None:
    screen(api, "SCR-A", A)
    late_registration(api, clock)
    key = {"reference": "SCR-A", "caseKey": "13-000001-25", "direction": "missed"}
    op = api.h("operator")
    early = api.client.post(ACTIONS, json={**key, "action": "close", "outcome": "x"}, headers=op)
    assert "cannot close an item that is open" in problem(early, 409)["detail"]
    steps = [
        ({"action": "assign", "assignee": "team-vog"}, "assigned"),
        ({"action": "review", "note": "VOG wrongly issued"}, "reviewed"),
        ({"action": "close", "outcome": "VOG ingetrokken"}, "closed"),
    ]
    for change, state in steps:
        r = api.client.post(ACTIONS, json={**key, **change}, headers=op)
        assert r.status_code == 200, r.text
        assert r.json() == {"workState": state}
    problem(api.client.post(ACTIONS, json={**key, "action": "review"}, headers=op), 409)
    (item,) = rescreen(api, workState="closed").json()
    assert (item["assignee"], item["outcome"]) == ("team-vog", "VOG ingetrokken")
    worked = [r.activity for r in reads(api, A) if r.activity.startswith("rescreen-item")]
    assert worked[:3] == ["rescreen-item-close", "rescreen-item-review", "rescreen-item-assign"]
    # each list read that showed A is in A's own read log too
    assert "rescreen-list-read" in {r.activity for r in reads(api, A)}
    unknown = {**key, "reference": "SCR-X", "action": "assign", "assignee": "t"}
    problem(api.client.post(ACTIONS, json=unknown, headers=op), 404)


def test_freshness_and_hold_advice(api: Api, clock: Clock) -> None:
    submit(api, decision("13-000002-25", B, sequence=1, time="2025-07-17T19:40:00Z"))
    catch_up(api)
    r = api.client.get(
        "/v1/registry/freshness", params={"refresh": "true"}, headers=api.h("viewer")
    )
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert fresh["asOf"] == "2025-07-17T20:00:00Z"
    (om,) = [f for f in fresh["sources"] if f["partner"] == "om"]
    # caught up and online: complete up to now
    assert om["completeUpTo"] == "2025-07-17T20:00:00Z" and om["catchUpPercent"] == 100.0
    assert om["watermark"] == 1 and om["watermarkTime"] == "2025-07-17T19:40:00Z"  # its own
    assert api.client.get("/v1/registry/freshness", headers=api.h("operator")).status_code == 200

    for who in ("justis", "viewer", "operator"):  # any partner may ask: no personal data
        r = api.client.get("/v1/registry/hold-advice", headers=api.h(who))
        assert r.status_code == 200, r.text
        assert {a["partner"]: a["rely"] for a in r.json()}["om"] is True
    api.runtime.exchange.set_partner_state(
        principal=LOCAL_OPERATOR, partner="om", state="isolated", reason="Citrix"
    )
    clock.now += 5 * DAY
    r = api.client.get(
        "/v1/registry/hold-advice", params={"maxAgeHours": 48}, headers=api.h("justis")
    )
    (advice,) = [a for a in r.json() if a["partner"] == "om"]
    assert advice["rely"] is False and "complete only up to" in advice["reason"]
    assert set(advice) == {"partner", "name", "rely", "reason"}
    # A gap in the OM's sequence shows in the freshness that lists carry.
    submit(api, decision("13-000003-25", B, sequence=4, time="2025-07-22T10:00:00Z"))
    catch_up(api)
    r = rescreen(api)
    (om_fresh,) = [f for f in r.headers["Registry-Freshness"].split(", ") if ";partner=om;" in f]
    assert om_fresh.endswith(
        ";state=isolated;waiting=1;missing=2;failed=0;completeUpTo=2025-07-17T19:40:00Z"
    )  # in quarantine: the OM is cut off


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"maxAgeHours": "0"}, "query:maxAgeHours"),
        ({"maxAgeHours": "9000"}, "query:maxAgeHours"),
        ({"maxAgeHours": "soon"}, "query:maxAgeHours"),
        ({"maxWaiting": "-1"}, "query:maxWaiting"),
    ],
)
def test_bad_hold_advice_thresholds_are_a_400(api: Api, params: dict[str, str], field: str) -> None:
    r = api.client.get("/v1/registry/hold-advice", params=params, headers=api.h("justis"))
    problem(r, 400, field)


def test_decisions_by_the_consumer_or_an_operator(api: Api) -> None:
    screen(api, "SCR-1", A)
    url = f"{SCREENINGS}/SCR-1/decisions"
    body = {"decision": "afgegeven", "decidedDate": "2025-07-20"}
    r = api.client.post(url, json=body, headers=api.h("justis"))
    assert r.status_code == 204 and r.content == b""
    assert _decision(api, "SCR-1") == ("afgegeven", "2025-07-20", "justis")
    problem(api.client.post(url, json=body, headers=api.h("gemeenten")), 404)  # not its screening
    problem(api.client.post(url, json=body, headers=api.h("viewer")), 403)
    again = {"decision": "ingetrokken", "decidedDate": "2025-09-01"}
    assert api.client.post(url, json=again, headers=api.h("operator")).status_code == 204
    assert _decision(api, "SCR-1") == ("ingetrokken", "2025-09-01", "operator-1")
    problem(
        api.client.post(f"{SCREENINGS}/SCR-2/decisions", json=body, headers=api.h("justis")), 404
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "misschien", "decidedDate": "2025-07-20"}, "body:decision"),
        ({"decision": "afgegeven", "decidedDate": "20-07-2025"}, "body:decidedDate"),
        ({"decision": "afgegeven"}, "body:decidedDate"),
        ({"decision": "afgegeven", "decidedDate": "2025-07-20", "actor": "x"}, "body:actor"),
        # answered on 17 July 2025: a decision cannot come before its answer
        ({"decision": "afgegeven", "decidedDate": "2020-01-01"}, "body:decidedDate"),
        ({"decision": "afgegeven", "decidedDate": "2025-07-16"}, "body:decidedDate"),
    ],
)
def test_a_bad_decision_is_a_400_and_records_nothing(
    api: Api, body: dict[str, Any], field: str
) -> None:
    screen(api, "SCR-1", A)
    r = api.client.post(f"{SCREENINGS}/SCR-1/decisions", json=body, headers=api.h("justis"))
    problem(r, 400, field)
    assert _decision(api, "SCR-1") is None


def test_a_reference_is_answered_once(api: Api) -> None:
    screen(api, "SCR-1", A)
    r = api.client.post(SCREENINGS, json=screening("SCR-1", B), headers=api.h("justis"))
    assert "answered already" in problem(r, 409)["detail"]
    assert counts(api)["screenings"] == 1 and reads(api, B) == []


def test_an_operator_screens_for_a_named_consumer_and_a_partner_only_as_itself(
    api: Api,
) -> None:
    answer = screen(api, "IND-1", A, who="operator", consumer="ind", profile="ind-verblijf")
    assert answer["consumer"] == "ind"
    # The read log names who asked: Justid's operator, for the IND (not the IND itself).
    (read,) = reads(api, A)
    assert (read.organisation, read.actor, read.role) == ("justid", "operator-1", "screener")
    assert read.detail == "IND-1 ind-verblijf for ind"
    # a profile is asked for by its own consumers only: a municipality's Bibob check goes
    # through Justis, and the IND cannot ask for a VOG
    bibob = screening("BIBOB-1", A, consumer="gemeenten", profile="bibob")
    assert (
        "may not ask for a bibob"
        in problem(api.client.post(SCREENINGS, json=bibob, headers=api.h("operator")), 403)[
            "detail"
        ]
    )
    problem(api.client.post(SCREENINGS, json=screening("IND-2", A), headers=api.h("ind")), 403)
    same = screen(api, "SCR-2", A, consumer="justis")  # naming itself is fine
    assert same["consumer"] == "justis"
    own = reads(api, A)[0]  # a partner asks as itself
    assert (own.organisation, own.actor, own.detail) == (
        "justis",
        "justis",
        "SCR-2 vog-natuurlijk-persoon",
    )
    other = api.client.post(
        SCREENINGS, json=screening("SCR-3", A, consumer="gemeenten"), headers=api.h("justis")
    )
    problem(other, 403)
    problem(api.client.post(SCREENINGS, json=screening("SCR-4", A), headers=api.h("viewer")), 403)
    problem(api.client.post(SCREENINGS, json=screening("SCR-5", A)), 401)
    assert counts(api)["screenings"] == 2


@pytest.mark.parametrize(
    ("who", "change", "field"),
    [
        ("justis", {"skn": "123"}, "body:skn"),
        ("justis", {"reference": "no spaces"}, "body:reference"),
        ("justis", {"profile": "nope"}, "body:profile"),
        ("justis", {"queryDate": "18-07-2025"}, "body:queryDate"),
        ("justis", {"queryDate": "2025-07-18T00:00:00"}, "body:queryDate"),
        ("justis", {"purpose": None}, "body:purpose"),
        ("justis", {"purpose": "   "}, "body:purpose"),
        ("justis", {"legalGround": ""}, "body:legalGround"),
        ("justis", {"legalGround": " "}, "body:legalGround"),
        ("justis", {"role": "x" * 201}, "body:role"),
        ("justis", {"subject": "someone"}, "body:subject"),
        ("operator", {}, "body:consumer"),
        ("operator", {"consumer": "nobody"}, "body:consumer"),
    ],
)
def test_a_bad_screening_is_a_400_naming_the_field_and_stores_nothing(
    api: Api, who: str, change: dict[str, Any], field: str
) -> None:
    body = {k: v for k, v in {**screening("SCR-1", A), **change}.items() if v is not None}
    r = api.client.post(SCREENINGS, json=body, headers=api.h(who))
    problem(r, 400, field)
    assert counts(api)["screenings"] == 0
    assert reads(api, A) == []


# -- a person ---------------------------------------------------------------------------------


def test_a_persons_extract_is_logged_and_its_read_log_is_for_operators(api: Api) -> None:
    submit(api, decision("13-000002-25", B, sequence=1))
    catch_up(api)
    url = f"/v1/registry/persons/{B}"
    r = api.client.get(url, params=WHY, headers=api.h("operator"))
    assert r.status_code == 200, r.text
    person = r.json()
    (entry,) = person["entries"]
    assert person["skn"] == B and person["freshness"]["sources"]
    assert entry["case"] == "13-000002-25" and entry["state"] == "settled"
    assert entry["factDate"] == "2025-06-01" and entry["replacedAt"] is None
    assert entry["knownAt"] == "2025-07-17T20:00:00Z"

    params = {"purpose": "verblijfsaanvraag", "legalGround": "art. 107 Vw", "role": "beslisser"}
    assert api.client.get(url, params=params, headers=api.h("ind")).status_code == 200
    # the police have no ground to read a person's registrations here
    problem(api.client.get(url, params=params, headers=api.h("politie")), 403)

    audit = {"purpose": "toezicht", "legalGround": "art. 39f Wjsg"}
    r = api.client.get(f"{url}/reads", params={"limit": 10, **audit}, headers=api.h("operator"))
    assert r.status_code == 200, r.text
    log = r.json()
    assert [(e["organisation"], e["role"], e["actor"], e["legalGround"]) for e in log] == [
        ("ind", "beslisser", "ind", "art. 107 Vw"),
        ("justid", "operator", "operator-1", "art. 39f Wjsg"),
    ]
    # Reading the read log is a read of the person's data too: the next look shows it.
    again = api.client.get(f"{url}/reads", params=audit, headers=api.h("operator")).json()
    assert (again[0]["activity"], again[0]["detail"], again[0]["purpose"]) == (
        "read-log-read",
        "2 entries",
        "toezicht",
    )
    assert log[0]["activity"] == "extract-read" and log[0]["detail"] == "1 registrations"
    assert set(log[0]) == {
        "at",
        "activity",
        "organisation",
        "role",
        "actor",
        "purpose",
        "legalGround",
        "detail",
    }
    for who in ("gemeenten", "viewer"):
        problem(api.client.get(f"{url}/reads", params=audit, headers=api.h(who)), 403)
    bad = {"limit": 0, **audit}
    problem(api.client.get(f"{url}/reads", params=bad, headers=api.h("operator")), 400)
    no_ground = {"purpose": "toezicht"}
    problem(api.client.get(f"{url}/reads", params=no_ground, headers=api.h("operator")), 400)
    # Narrowed to an activity or to days (Amsterdam time).
    only = {"activity": "extract-read", **audit}
    r = api.client.get(f"{url}/reads", params=only, headers=api.h("operator"))
    assert [(e["activity"], e["organisation"]) for e in r.json()] == [
        ("extract-read", "ind"),
        ("extract-read", "justid"),
    ]
    later = {"since": "2025-07-18", **audit}  # everything so far was read on 17 July
    assert api.client.get(f"{url}/reads", params=later, headers=api.h("operator")).json() == []
    for params, field in (
        ({"activity": "peek"}, "query:activity"),
        ({"since": "18-07-2025"}, "query:since"),
        ({"since": "2025-07-18", "until": "2025-07-17"}, "query:until"),
    ):
        r = api.client.get(f"{url}/reads", params={**params, **audit}, headers=api.h("operator"))
        problem(r, 400, field)


@pytest.mark.parametrize(
    ("who", "skn", "params", "status", "field"),
    [
        ("operator", B, {"legalGround": "art. 39f Wjsg"}, 400, "query:purpose"),
        ("operator", B, {"purpose": "herbeoordeling"}, 400, "query:legalGround"),
        ("operator", B, {**WHY, "legalGround": " "}, 400, "query:legalGround"),
        ("justis", B, WHY, 400, "query:role"),
        ("gemeenten", B, WHY, 403, None),  # it heard 400 'names the role' first (a review)
        ("gemeenten", B, {**WHY, "role": "officier"}, 403, None),
        ("operator", "SKN-1", WHY, 400, "path:skn"),
        ("viewer", B, WHY, 403, None),
    ],
)
def test_a_bad_or_forbidden_person_read_reads_and_logs_nothing(
    api: Api, who: str, skn: str, params: dict[str, str], status: int, field: str | None
) -> None:
    r = api.client.get(f"/v1/registry/persons/{skn}", params=params, headers=api.h(who))
    problem(r, status, field)
    assert reads(api, B) == []


# -- roles and bad writes ---------------------------------------------------------------------


def test_only_operators_catch_up_and_read_the_list_viewers_read_counts(
    api: Api, clock: Clock
) -> None:
    submit(api, decision("13-000002-25", B, sequence=1))
    for who in ("viewer", "justid", "justis"):
        problem(api.client.post("/v1/registry/catch-ups", json={}, headers=api.h(who)), 403)
    assert counts(api)["registrations"] == 0
    for who in ("justis", "viewer"):
        r = api.client.get("/v1/registry/rescreen-items", params=WHY, headers=api.h(who))
        problem(r, 403)
    problem(api.client.get("/v1/registry/rescreen-summary", headers=api.h("justis")), 403)
    problem(api.client.get("/v1/registry/freshness", headers=api.h("justis")), 403)
    problem(api.client.get("/v1/registry/hold-advice"), 401)
    late = {"reference": "SCR-A", "caseKey": "1", "direction": "missed", "action": "assign"}
    problem(api.client.post(ACTIONS, json={**late, "assignee": "t"}, headers=api.h("viewer")), 403)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"limit": 0}, "body:limit"),
        ({"limit": 1001}, "body:limit"),
        ({"maxBatches": 0}, "body:maxBatches"),
        ({"max": 1}, "body:max"),
    ],
)
def test_a_bad_catch_up_is_a_400_and_pulls_nothing(
    api: Api, body: dict[str, Any], field: str
) -> None:
    submit(api, decision("13-000002-25", B, sequence=1))
    r = api.client.post("/v1/registry/catch-ups", json=body, headers=api.h("operator"))
    problem(r, 400, field)
    assert counts(api)["registrations"] == 0
    assert catch_up(api)["applied"] == 1  # it was still waiting, not leased


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"direction": "sideways"}, "body:direction"),
        ({"action": "delete"}, "body:action"),
        ({"action": "assign", "assignee": None}, "body:assignee"),
        ({"action": "assign", "assignee": "  "}, "body:assignee"),
        ({"action": "assign", "assignee": "team\u001b[31m"}, "body:assignee"),
        ({"note": "zie\u001b[2Jbrief"}, "body:note"),
        ({"caseKey": ""}, "body:caseKey"),
        ({"reference": "a b"}, "body:reference"),
        ({"colour": "red"}, "body:colour"),
    ],
)
def test_a_bad_action_is_a_400_and_changes_nothing(
    api: Api, clock: Clock, change: dict[str, Any], field: str
) -> None:
    screen(api, "SCR-A", A)
    late_registration(api, clock)
    body = {
        "reference": "SCR-A",
        "caseKey": "13-000001-25",
        "direction": "missed",
        "action": "assign",
        "assignee": "team-vog",
        **change,
    }
    body = {k: v for k, v in body.items() if v is not None}
    problem(api.client.post(ACTIONS, json=body, headers=api.h("operator")), 400, field)
    (item,) = rescreen(api).json()
    assert item["workState"] == "open" and item["assignee"] is None


def test_closing_needs_an_outcome(api: Api, clock: Clock) -> None:
    screen(api, "SCR-A", A)
    late_registration(api, clock)
    key = {"reference": "SCR-A", "caseKey": "13-000001-25", "direction": "missed"}
    op = api.h("operator")
    for action in ({"action": "assign", "assignee": "t"}, {"action": "review"}):
        assert api.client.post(ACTIONS, json={**key, **action}, headers=op).status_code == 200
    problem(api.client.post(ACTIONS, json={**key, "action": "close"}, headers=op), 400)
    r = api.client.post(ACTIONS, json={**key, "action": "close", "outcome": " "}, headers=op)
    problem(r, 400, "body:outcome")
    assert rescreen(api).json()[0]["workState"] == "reviewed"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"format": "xlsx"}, "query:format"),
        ({"direction": "up"}, "query:direction"),
        ({"workState": "done"}, "query:workState"),
        ({"purpose": ""}, "query:purpose"),
    ],
)
def test_a_bad_rescreen_list_query_is_a_400(api: Api, params: dict[str, str], field: str) -> None:
    problem(rescreen(api, **params), 400, field)
    r = api.client.get(
        "/v1/registry/rescreen-items", params={"purpose": "x"}, headers=api.h("operator")
    )
    problem(r, 400, "query:legalGround")
    assert reads(api, "*") == []


def test_the_registry_routes_are_in_the_openapi_document(api: Api) -> None:
    doc = api.client.get("/v1/openapi.json").json()
    assert "registry" in {t["name"] for t in doc["tags"]}
    ops = {
        op["operationId"]
        for path, item in doc["paths"].items()
        if path.startswith("/v1/registry/")
        for op in item.values()
    }
    assert ops == {
        "getRegistryFreshness",
        "getRegistryHoldAdvice",
        "runRegistryCatchUp",
        "createRegistryScreening",
        "createRegistryDecision",
        "getRegistryPerson",
        "listRegistryPersonReads",
        "listRegistryRescreenItems",
        "getRegistryRescreenSummary",
        "createRegistryRescreenAction",
        "listRegistryEcrisNotifications",
        "createRegistryEcrisSend",
    }
    listed = doc["paths"]["/v1/registry/rescreen-items"]["get"]["responses"]["200"]
    assert set(listed["content"]) == {
        "application/json",
        "text/csv",
        "application/vnd.apache.parquet",
    }
    assert {"Registry-Freshness-As-Of", "Registry-Freshness"} <= set(listed["headers"])
    counted = doc["paths"]["/v1/registry/rescreen-summary"]["get"]["responses"]["200"]
    assert {"Registry-Freshness-As-Of", "Registry-Freshness"} <= set(counted["headers"])
    assert counted["content"]["application/json"]["schema"]["type"] == "array"


def _decision(api: Api, reference: str) -> tuple[str, str, str] | None:
    with api.runtime.registry.db.tx() as cur:
        row = cur.execute(
            "SELECT d.decision, d.decided_date, d.actor FROM decisions d "
            "JOIN screenings s ON s.id = d.screening_id WHERE s.reference = ?",
            (reference,),
        ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]), str(row[2]))


def test_ecris_notifications_are_listed_with_their_delay_and_sent(api: Api, clock: Clock) -> None:
    from tests.registry.factories import judgment

    german = judgment("13-000001-25", "SKN-0000000001", day="2025-07-01")
    german["data"]["nationality"] = "DE"
    submit(api, decision("13-000001-25", "SKN-0000000001", kind="dagvaarding"), german)
    catch_up(api)
    url = "/v1/registry/ecris-notifications"
    why = {"purpose": "ECRIS-toezicht", "legalGround": "art. 4 Kaderbesluit 2009/315/JBZ"}
    assert api.client.get(url, params=why, headers=api.h("viewer")).status_code == 403
    problem(api.client.get(url, params={**why, "state": "soon"}, headers=api.h("operator")), 400)
    problem(api.client.get(url, headers=api.h("operator")), 400)  # who reads persons, and why
    clock.now += 30 * DAY
    [owed] = api.client.get(url, params={**why, "state": "late"}, headers=api.h("operator")).json()
    assert (owed["memberState"], owed["dueDate"], owed["state"], owed["daysLate"]) == (
        "DE",
        "2025-08-12",
        "unsent",
        4.0,
    )
    assert api.client.post(f"{url}/sends", headers=api.h("justis")).status_code == 403
    r = api.client.post(f"{url}/sends", headers=api.h("operator"))
    assert r.status_code == 200 and r.json() == {"sent": 1}
    [sent] = api.client.get(url, params=why, headers=api.h("operator")).json()
    assert sent["state"] == "late" and sent["sentAt"] is not None
    r = api.client.get(url, params={**why, "format": "csv"}, headers=api.h("operator"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    # The list says how complete the registry was that made it, in every format (these
    # messages carry no sequence: no source to tell of, so each partner that sends to the
    # registry is listed as having sent nothing yet).
    assert r.headers["Registry-Freshness-As-Of"] == "2025-08-16T20:00:00Z"
    fresh = r.headers["Registry-Freshness"].split(", ")
    assert fresh[0] == "-;partner=cjib;state=online;waiting=0;missing=0;failed=0;completeUpTo=-"
    assert len(fresh) == 6
    assert "SKN-0000000001" in r.text
    reads = api.client.get(
        "/v1/registry/persons/SKN-0000000001/reads", params=why, headers=api.h("operator")
    ).json()
    assert [x["activity"] for x in reads].count("ecris-list-read") == 3


def test_the_api_knows_every_read_activity_the_registry_logs() -> None:
    from typing import get_args

    from ketenherstel.registry import READ_ACTIVITIES
    from ketenherstel.web.schemas_registry import ReadActivity

    assert get_args(ReadActivity) == READ_ACTIVITIES
