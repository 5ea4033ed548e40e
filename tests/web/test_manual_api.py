"""Paper work through the HTTP API: registering, importing (dry run, refused, skip-refused),
settling, the unmatched lists and interim procedures. Bad input is a 400 with every problem
listed, and nothing is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ketenherstel.bootstrap import Runtime
from ketenherstel.chain import load_chain
from ketenherstel.exchange.auth import LOCAL_OPERATOR
from ketenherstel.exchange.manual import ManualWork
from ketenherstel.exchange.service import Exchange
from ketenherstel.registry import Registry, open_registry_db
from ketenherstel.settings import Settings
from ketenherstel.store.manual_ports import manual_store
from ketenherstel.web.app import create_app
from ketenherstel.web.routes import manual as manual_routes
from tests.manual.support import MAPPING, NOW, UITSPRAAK, csv_bytes, open_manual_sqlite, row
from tests.web.conftest import Api

RECORD = {
    "partner": "om",
    "case": "13-100001-25",
    "type": "uitspraak-geregistreerd",
    "happenedAt": "21-07-2025 14:30",
    "registeredBy": "parket Amsterdam",
    "fields": {"judgmentDate": "18-07-2025"},
}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    store = open_manual_sqlite(tmp_path / "api.db")
    chain = load_chain()
    exchange = Exchange(store=store, chain=chain, clock=lambda: NOW)
    registry = Registry(open_registry_db(":memory:"), chain, exchange=exchange)
    runtime = Runtime(
        Settings(store_url=str(tmp_path / "api.db")), chain, store, exchange, registry
    )
    tokens: dict[str, str] = {}
    for key in ("om", "rechtspraak", "justid"):
        exchange.register_partner(principal=LOCAL_OPERATOR, key=key)
        tokens[key], _ = exchange.create_token(
            principal=LOCAL_OPERATOR, role="partner", partner=key
        )
    for role in ("operator", "viewer"):
        tokens[role], _ = exchange.create_token(principal=LOCAL_OPERATOR, role=role, person=role)
    app = create_app(runtime)
    if getattr(app.state, "manual", None) is None:  # until app.py wires the router itself
        app.include_router(manual_routes.router)
        app.state.manual = ManualWork(store=manual_store(store), chain=chain, clock=lambda: NOW)
    with TestClient(app) as client:
        yield Api(client, runtime, tokens)
    store.close()


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def records(api: Api) -> list[Any]:
    return list(api.runtime.store.manual_records())


def test_an_operator_registers_paper_work(api: Api) -> None:
    r = api.client.post("/v1/manual-records", json=RECORD, headers=api.h("operator"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "registered" and body["typeAlias"] == "uitspraak-geregistreerd"
    assert body["fields"] == {"parketnummer": "13-100001-25", "judgmentDate": "2025-07-18"}
    assert body["happenedAt"] == "2025-07-21T12:30:00Z"
    assert body["history"][0]["action"] == "registered"
    got = api.client.get(f"/v1/manual-records/{body['id']}", headers=api.h("om")).json()
    assert got == body


def test_a_bad_record_is_a_400_naming_every_field_and_nothing_is_stored(api: Api) -> None:
    bad = {**RECORD, "partner": "politie", "happenedAt": "31-02-2025", "fields": {}}
    body = problem(api.client.post("/v1/manual-records", json=bad, headers=api.h("operator")), 400)
    assert {p["field"] for p in body["problems"]} == {
        "partner",
        "happenedAt",
        "fields.judgmentDate",
    }
    missing = problem(
        api.client.post("/v1/manual-records", json={"partner": "om"}, headers=api.h("operator")),
        400,
    )
    assert len(missing["problems"]) >= 4
    assert records(api) == []


def test_only_operators_write(api: Api) -> None:
    for who in ("viewer", "om"):
        problem(api.client.post("/v1/manual-records", json=RECORD, headers=api.h(who)), 403)
    problem(api.client.post("/v1/manual-records", json=RECORD), 401)


def test_a_dry_run_shows_every_refused_row_and_stores_nothing(api: Api) -> None:
    data = csv_bytes(row(), row(partner="politie"), row("13-100003-25", when="01-01-2031"))
    r = api.client.post(
        "/v1/manual-records/imports",
        params={"dryRun": "true", "mapping": json.dumps(MAPPING)},
        content=data,
        headers={**api.h("viewer"), "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["dryRun"], body["rows"], body["refusedRows"]) == (True, 3, 2)
    assert [a["line"] for a in body["accepted"]] == [2]
    assert [(x["line"], x["column"]) for x in body["refusals"]] == [(3, "Partij"), (4, "Datum")]
    assert body["stored"] == [] and records(api) == []
    # The real import would refuse the file whole: the dry run says so, and what skipping does.
    assert (body["refusedWhole"], body["wouldRegister"]) == (True, 0)
    r = api.client.post(
        "/v1/manual-records/imports",
        params={"dryRun": "true", "skipRefused": "true", "mapping": json.dumps(MAPPING)},
        content=data,
        headers={**api.h("viewer"), "Content-Type": "text/csv"},
    )
    assert (r.json()["refusedWhole"], r.json()["wouldRegister"]) == (False, 1)
    assert records(api) == []


def test_an_import_whose_first_line_is_one_huge_field_is_a_400(api: Api) -> None:
    r = api.client.post(
        "/v1/manual-records/imports",
        params={"mapping": json.dumps(MAPPING), "dryRun": "true"},
        content=b"a;" * 200_000 + b"\n",
        headers={**api.h("operator"), "Content-Type": "text/csv; charset=utf-8"},
    )
    assert "not valid CSV" in problem(r, 400)["detail"]
    assert records(api) == []


def test_an_upload_of_utf16_or_of_a_header_alone_is_a_400_dry_run_or_not(api: Api) -> None:
    """A header alone was 'nothing to register' (400) and in a dry run '0 rows' (200); UTF-16
    was 'the mapping names columns the file does not have'."""
    for data, says in [
        (csv_bytes(), "griffie.csv: no rows: the file has a header and no rows below it"),
        (csv_bytes(row()).decode().encode("utf-16"), "griffie.csv: the file is UTF-16, not UTF-8"),
    ]:
        for dry in ("true", "false"):
            r = api.client.post(
                "/v1/manual-records/imports",
                params={"dryRun": dry, "mapping": json.dumps(MAPPING), "name": "griffie.csv"},
                content=data,
                headers={**api.h("operator"), "Content-Type": "text/csv"},
            )
            assert problem(r, 400)["detail"].startswith(says), r.text
    assert records(api) == []


def test_a_caller_that_may_not_import_hears_403_whatever_it_sent(api: Api) -> None:
    """A viewer's import with no mapping heard 400 'give the column mapping' and 403 only once
    its request was good (a review): the role is asked first."""
    for who, dry in (("viewer", "false"), ("om", "false"), ("om", "true")):
        for ctype in ("text/csv", "application/json", "image/png"):
            r = api.client.post(
                "/v1/manual-records/imports",
                params={"dryRun": dry},
                content=b"a,b",
                headers={**api.h(who), "Content-Type": ctype},
            )
            problem(r, 403)
    assert records(api) == []


def test_an_import_with_a_refused_row_is_refused_whole(api: Api) -> None:
    data = csv_bytes(row(), row(partner="politie"))
    r = api.client.post(
        "/v1/manual-records/imports",
        params={"mapping": json.dumps(MAPPING)},
        content=data,
        headers={**api.h("operator"), "Content-Type": "text/csv; charset=utf-8"},
    )
    body = problem(r, 400)
    assert "the whole file is refused" in body["detail"]
    assert body["problems"] == [
        {
            "index": 3,
            "field": "Partij",
            "reason": "politie never sends uitspraak-geregistreerd per the chain; its senders "
            "are: om",
        }
    ]
    assert records(api) == []


def test_skip_refused_imports_the_good_rows_as_json(api: Api) -> None:
    upload = {
        "csv": csv_bytes(row(), row(partner="politie")).decode(),
        "mapping": MAPPING,
        "name": "griffie.csv",
    }
    r = api.client.post(
        "/v1/manual-records/imports",
        params={"skipRefused": "true"},
        json=upload,
        headers=api.h("operator"),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert [s["case"] for s in body["stored"]] == ["13-100001-25"]
    assert body["stored"][0]["history"][0]["detail"] == "csv griffie.csv line 2"
    assert len(records(api)) == 1


def test_import_mapping_and_media_problems_are_named(api: Api) -> None:
    h = {**api.h("operator"), "Content-Type": "text/csv"}
    url = "/v1/manual-records/imports"
    body = problem(api.client.post(url, content=csv_bytes(row()), headers=h), 400)
    assert body["problems"][0]["field"] == "query:mapping"
    body = problem(
        api.client.post(url, params={"mapping": "{"}, content=csv_bytes(row()), headers=h), 400
    )
    assert "not JSON" in body["detail"]
    wrong = {**MAPPING, "columns": {**MAPPING["columns"], "when": "Datum registratie"}}
    body = problem(
        api.client.post(
            url, params={"mapping": json.dumps(wrong)}, content=csv_bytes(row()), headers=h
        ),
        400,
    )
    assert body["problems"][0]["field"] == "mapping.columns.when"
    assert "'Datum registratie' is not in the header" in body["problems"][0]["reason"]
    problem(
        api.client.post(
            url, content=b"x", headers={**api.h("operator"), "Content-Type": "application/xml"}
        ),
        415,
    )
    body = problem(api.client.post(url, json={"csv": "a"}, headers=api.h("operator")), 400)
    assert any(p["field"] == "body:mapping" for p in body["problems"])
    assert records(api) == []


@pytest.mark.parametrize("dry_run", ["true", "false"])
def test_a_mapping_nested_too_deep_is_named_not_a_server_error(api: Api, dry_run: str) -> None:
    h = {**api.h("operator"), "Content-Type": "text/csv"}
    for mapping in ("[" * 3000 + "]" * 3000, '{"columns": ' + "[" * 3000 + "]" * 3000 + "}"):
        r = api.client.post(
            "/v1/manual-records/imports",
            params={"dryRun": dry_run, "mapping": mapping},
            content=b"a,b\n1,2\n",
            headers=h,
        )
        body = problem(r, 400)
        assert body["detail"].startswith("the mapping is not JSON: depth limit exceeded: line 1")
        assert body["problems"][0]["field"] == "query:mapping"
    assert records(api) == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("f\x1b[31m\x00.csv", "a file name holds no control or invisible characters (U+001B)"),
        ("griffie\n.csv", "a file name holds no control or invisible characters (U+000A)"),
        ("griffie\u202e.csv", "a file name holds no control or invisible characters (U+202E)"),
        ("zie SKN-1572429180 en jan@example.nl", "a file name gives no SKN, BSN or e-mail address"),
        ("x" * 201, "String should have at most 200 characters"),
    ],
)
def test_an_import_file_name_with_control_characters_or_personal_data_is_refused(
    api: Api, name: str, reason: str
) -> None:
    audit = api.runtime.store.audit_log(limit=100)
    as_csv = {**api.h("operator"), "Content-Type": "text/csv"}
    upload = {"csv": csv_bytes(row()).decode(), "mapping": MAPPING, "name": name}
    for dry_run in ("false", "true"):
        for r, field in (
            (
                api.client.post(
                    "/v1/manual-records/imports",
                    params={"mapping": json.dumps(MAPPING), "name": name, "dryRun": dry_run},
                    content=csv_bytes(row()),
                    headers=as_csv,
                ),
                "query:name",
            ),
            (
                api.client.post(
                    "/v1/manual-records/imports",
                    params={"dryRun": dry_run},
                    json=upload,
                    headers=api.h("operator"),
                ),
                "body:name",
            ),
        ):
            body = problem(r, 400)
            assert [(p["field"], p["reason"][: len(reason)]) for p in body["problems"]] == [
                (field, reason)
            ], body
            assert "1572429180" not in r.text and "jan@example" not in r.text
    assert records(api) == []
    assert api.runtime.store.audit_log(limit=100) == audit


def test_an_import_file_name_is_checked_after_the_role(api: Api) -> None:
    r = api.client.post(
        "/v1/manual-records/imports",
        params={"mapping": json.dumps(MAPPING), "name": "SKN-1572429180.csv"},
        content=csv_bytes(row()),
        headers={**api.h("viewer"), "Content-Type": "text/csv"},
    )
    problem(r, 403)


def test_listing_settling_and_history(api: Api) -> None:
    h = api.h("operator")
    first = api.client.post("/v1/manual-records", json=RECORD, headers=h).json()
    second = api.client.post(
        "/v1/manual-records", json={**RECORD, "case": "13-100009-25"}, headers=h
    ).json()
    page = api.client.get("/v1/manual-records", params={"limit": 1}, headers=h).json()
    assert [r["id"] for r in page["records"]] == [first["id"]]
    assert page["nextAfter"] == first["id"]
    later = api.client.get("/v1/manual-records", params={"after": first["id"]}, headers=h).json()
    assert [r["id"] for r in later["records"]] == [second["id"]] and later["nextAfter"] is None

    url = f"/v1/manual-records/{second['id']}"
    r = api.client.post(
        f"{url}/correction", json={"reason": "typo", "case": "13-100002-25"}, headers=h
    )
    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["case"]) == ("corrected", "13-100002-25")
    problem(api.client.post(f"{url}/correction", json={"case": "x"}, headers=h), 400)
    r = api.client.post(f"{url}/confirmation", json={"reason": "seen the file"}, headers=h)
    assert r.json()["history"][-1]["reason"] == "seen the file"
    problem(api.client.post(f"{url}/confirmation", json={"reason": "again"}, headers=h), 409)
    r = api.client.post(f"{url}/withdrawal", json={"reason": "double entry"}, headers=h)
    assert r.json()["status"] == "withdrawn"
    problem(
        api.client.post("/v1/manual-records/999/withdrawal", json={"reason": "x"}, headers=h), 404
    )

    unmatched = api.client.get("/v1/manual-records", params={"unmatched": "true"}, headers=h)
    assert [r["id"] for r in unmatched.json()["records"]] == [first["id"]]
    problem(api.client.get("/v1/manual-records", params={"status": "lost"}, headers=h), 400)
    problem(
        api.client.get(
            "/v1/manual-records", params={"partner": "rechtspraak"}, headers=api.h("om")
        ),
        403,
    )
    assert (
        api.client.get("/v1/manual-records", headers=api.h("rechtspraak")).json()["records"] == []
    )


def test_unmatched_messages_are_listed(api: Api) -> None:
    api.client.post("/v1/manual-records", json=RECORD, headers=api.h("operator"))
    r = api.client.get("/v1/unmatched-messages", headers=api.h("viewer"))
    assert r.status_code == 200, r.text
    assert r.json() == {"messages": [], "nextAfter": None}


def test_interim_procedures_are_added_listed_and_retired(api: Api) -> None:
    h = api.h("operator")
    create = {
        "process": "voorlopige-hechtenis",
        "replaces": "raadkamerbeslissingen per koerier naar het parket",
        "validFrom": "21-07-2025",
        "partnersInformed": ["rechtspraak", "dji"],
        "manualType": "voorlopige-hechtenis-beslist",
    }
    r = api.client.post("/v1/interim-procedures", json=create, headers=h)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert r.json()["active"] is True
    bad = {**create, "process": "raadkamer", "partnersInformed": ["ministerie"]}
    body = problem(api.client.post("/v1/interim-procedures", json=bad, headers=h), 400)
    assert {p["field"] for p in body["problems"]} == {"process", "partnersInformed"}
    no_route = {**create, "emergencyRoute": "3"}
    body = problem(api.client.post("/v1/interim-procedures", json=no_route, headers=h), 400)
    assert [p["field"] for p in body["problems"]] == ["emergencyRoute"]
    assert "there is no emergency route 3" in body["problems"][0]["reason"]
    year_1 = {**create, "validFrom": "01-01-0001"}
    body = problem(api.client.post("/v1/interim-procedures", json=year_1, headers=h), 400)
    assert [p["field"] for p in body["problems"]] == ["validFrom"]
    assert "01-01-0001 lies before" in body["problems"][0]["reason"]
    assert [p["id"] for p in api.client.get("/v1/interim-procedures", headers=h).json()] == [pid]
    assert [
        p["id"]
        for p in api.client.get("/v1/interim-procedures", headers=api.h("rechtspraak")).json()
    ] == [pid]
    assert api.client.get("/v1/interim-procedures", headers=api.h("om")).json() == []
    unknown = {"process": "raadkamer"}
    body = problem(api.client.get("/v1/interim-procedures", params=unknown, headers=h), 400)
    assert "no process 'raadkamer'" in body["detail"]
    url = f"/v1/interim-procedures/{pid}/retirement"
    r = api.client.post(url, json={"wave": "wave 2"}, headers=h)
    assert (r.status_code, r.json()["retiredBy"], r.json()["active"]) == (201, "wave 2", False)
    problem(api.client.post(url, json={"wave": "wave 3"}, headers=h), 409)
    problem(api.client.post(url, json={"wave": ""}, headers=h), 400)
    active = api.client.get("/v1/interim-procedures", params={"active": "true"}, headers=h)
    assert active.json() == []


def test_the_same_interim_procedure_added_twice_is_a_409(api: Api) -> None:
    h = api.h("operator")
    create = {"process": "voorlopige-hechtenis", "replaces": "koerier", "validFrom": "21-07-2025"}
    pid = api.client.post("/v1/interim-procedures", json=create, headers=h).json()["id"]
    body = problem(api.client.post("/v1/interim-procedures", json=create, headers=h), 409)
    assert f"interim procedure {pid} is already registered" in body["detail"]
    assert [p["id"] for p in api.client.get("/v1/interim-procedures", headers=h).json()] == [pid]


@pytest.mark.parametrize("wave", ["wave\x1b[31m2", "wave\u202e2", "wave\n2"])
def test_a_wave_name_with_a_control_character_is_a_400_and_retires_nothing(
    api: Api, wave: str
) -> None:
    """An escape sequence in the wave was kept as what retired the procedure, and shown."""
    h = api.h("operator")
    create = {"process": "voorlopige-hechtenis", "replaces": "koerier", "validFrom": "21-07-2025"}
    pid = api.client.post("/v1/interim-procedures", json=create, headers=h).json()["id"]
    url = f"/v1/interim-procedures/{pid}/retirement"
    body = problem(api.client.post(url, json={"wave": wave}, headers=h), 400)
    assert [p["field"] for p in body["problems"]] == ["wave"]
    assert body["problems"][0]["reason"].startswith(
        "a wave name holds no control or invisible characters, tabs or line breaks (U+"
    )
    [listed] = api.client.get("/v1/interim-procedures", headers=h).json()
    assert (listed["active"], listed["retiredBy"]) == (True, None)


@pytest.mark.parametrize(
    ("when", "needle"),
    [
        ("0000-01-01", "year 0 is out of range"),
        ("0000-01-01T00:00:00Z", "year 0 is out of range"),
        ("00-01-0000 10:00", "out of range"),
        ("0001-01-01T00:00:00+14:00", "lies before"),
        ("9999-12-31T23:59:59-14:00", "lies after"),
        # 1 January 2200 in UTC: stored as a year past the check
        ("2199-12-31T23:59:59-23:59", "is 02-01-2200 in Amsterdam time, which lies after"),
        # the NUL was dropped without a word
        ("2025-08-12T10:00:00Z\x00", "a control or invisible character (U+0000)"),
        ("21-07-2025\x0b", "a control or invisible character (U+000B)"),
    ],
)
def test_a_procedure_dated_out_of_range_is_a_400_naming_validfrom(
    api: Api, when: str, needle: str
) -> None:
    create = {"process": "voorlopige-hechtenis", "replaces": "per koerier", "validFrom": when}
    r = api.client.post("/v1/interim-procedures", json=create, headers=api.h("operator"))
    body = problem(r, 400)
    assert [p["field"] for p in body["problems"]] == ["validFrom"]
    assert needle in body["problems"][0]["reason"]
    assert api.client.get("/v1/interim-procedures", headers=api.h("operator")).json() == []


@pytest.mark.parametrize(
    ("when", "needle"),
    [
        ("2199-12-31T23:59:59-23:59", "is 02-01-2200 in Amsterdam time, which lies after"),
        ("2025-08-12T10:00:00Z\x00", "a control or invisible character (U+0000)"),
    ],
)
def test_a_record_dated_past_the_bounds_or_with_a_control_character_is_a_400(
    api: Api, when: str, needle: str
) -> None:
    h = api.h("operator")
    r = api.client.post("/v1/manual-records", json={**RECORD, "happenedAt": when}, headers=h)
    body = problem(r, 400)
    assert [p["field"] for p in body["problems"]] == ["happenedAt"]
    assert needle in body["problems"][0]["reason"]
    fields = {"judgmentDate": "18-07-2025\x00"}
    r = api.client.post("/v1/manual-records", json={**RECORD, "fields": fields}, headers=h)
    body = problem(r, 400)
    assert [p["field"] for p in body["problems"]] == ["fields.judgmentDate"]
    assert "a control or invisible character (U+0000)" in body["problems"][0]["reason"]
    assert records(api) == []


def test_a_procedure_whose_text_holds_a_control_character_is_a_400(api: Api) -> None:
    create = {
        "process": "voorlopige-hechtenis",
        "replaces": "koerier\x1b[2J",
        "validFrom": "21-07-2025",
    }
    body = problem(
        api.client.post("/v1/interim-procedures", json=create, headers=api.h("operator")), 400
    )
    assert [(p["field"], "(U+001B)" in p["reason"]) for p in body["problems"]] == [
        ("replaces", True)
    ]
    assert api.client.get("/v1/interim-procedures", headers=api.h("operator")).json() == []


def test_a_procedure_stored_with_a_date_out_of_range_is_listed_and_retired_not_a_500(
    api: Api,
) -> None:
    """Before dates were checked a year-0 procedure could be stored; listing it answered 500,
    and so did retiring it, after the retirement was stored."""
    from ketenherstel.store.manual_ports import NewProcedure

    for when in (-62135600000.0, 1e13):  # 31 December of year 0, and year 318857
        manual_store(api.runtime.store).add_procedure(
            NewProcedure("voorlopige-hechtenis", "per koerier", when, ("rechtspraak",)),
            now=NOW,
            actor="x",
        )
    for who in ("operator", "rechtspraak"):
        r = api.client.get("/v1/interim-procedures", headers=api.h(who))
        assert r.status_code == 200, r.text
        assert [(p["id"], p["validFrom"]) for p in r.json()] == [(1, None), (2, None)]
    r = api.client.post(
        "/v1/interim-procedures/1/retirement", json={"wave": "wave 2"}, headers=api.h("operator")
    )
    assert r.status_code == 201, r.text
    assert (r.json()["validFrom"], r.json()["retiredBy"]) == (None, "wave 2")
    doc = api.client.get("/v1/openapi.json").json()
    read = doc["components"]["schemas"]["InterimProcedureRead"]["properties"]["validFrom"]
    assert {"type": "null"} in read["anyOf"]


def test_a_record_stored_with_a_date_out_of_range_is_read_not_a_500(api: Api) -> None:
    """Before dates were checked a year-0 record could be stored; listing or showing it
    answered 500. Correcting it without a new date is refused, naming happenedAt, and changes
    nothing; with the right date it is corrected."""
    from ketenherstel.store.manual_ports import NewManualRecord

    h = api.h("operator")
    api.client.post("/v1/manual-records", json=RECORD, headers=h)
    # 31 December of year 0, year 318857, and 12 February 2201 (a date, but past the check)
    for case, when in [
        ("13-100002-25", -62135600000.0),
        ("13-100003-25", 1e13),
        ("13-100004-25", 7293283200.0),
    ]:
        manual_store(api.runtime.store).register_manual(
            [
                NewManualRecord(
                    "om",
                    case,
                    UITSPRAAK,
                    (("parketnummer", case), ("judgmentDate", "2025-07-18")),
                    None,
                    when,
                    "parket",
                )
            ],
            now=NOW,
            actor="x",
        )
    for who in ("operator", "viewer", "om"):
        r = api.client.get("/v1/manual-records", headers=api.h(who))
        assert r.status_code == 200, r.text
        shown = [(x["id"], x["happenedAt"]) for x in r.json()["records"]]
        assert shown == [
            (1, "2025-07-21T12:30:00Z"),
            (2, None),
            (3, None),
            (4, "2201-02-12T00:00:00Z"),
        ]
        r = api.client.get("/v1/manual-records/2", headers=api.h(who))
        assert r.status_code == 200, r.text
        assert r.json()["happenedAt"] is None
    for record_id, says in [
        (2, "the record's stored date is out of range (-62135600000): give the right date"),
        (3, "the record's stored date is out of range (10000000000000): give the right date"),
        (4, "the record's stored date 12-02-2201 lies after the dates taken here"),
    ]:
        before = api.client.get(f"/v1/manual-records/{record_id}", headers=h).json()
        r = api.client.post(
            f"/v1/manual-records/{record_id}/correction",
            json={"reason": "typo", "case": "13-100009-25"},
            headers=h,
        )
        body = problem(r, 400)
        assert [p["field"] for p in body["problems"]] == ["happenedAt"]
        assert says in body["problems"][0]["reason"], body
        assert api.client.get(f"/v1/manual-records/{record_id}", headers=h).json() == before
    r = api.client.post(
        "/v1/manual-records/2/correction",
        json={"reason": "typo", "case": "13-100009-25", "happenedAt": "22-07-2025"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert (r.json()["case"], r.json()["happenedAt"]) == ("13-100009-25", "2025-07-21T22:00:00Z")
    doc = api.client.get("/v1/openapi.json").json()
    read = doc["components"]["schemas"]["ManualRecordRead"]["properties"]["happenedAt"]
    assert {"type": "null"} in read["anyOf"]


def test_a_judgment_date_after_today_is_a_400_naming_the_field(api: Api) -> None:
    """A judgmentDate of 31-12-2199 was stored, by a registration and by a correction, while
    the work's own date (happenedAt) may not lie in the future. A record stored so before is
    corrected only with the right judgment date."""
    from ketenherstel.store.manual_ports import NewManualRecord

    h = api.h("operator")
    future = {**RECORD, "fields": {"judgmentDate": "31-12-2199"}}
    body = problem(api.client.post("/v1/manual-records", json=future, headers=h), 400)
    assert [p["field"] for p in body["problems"]] == ["fields.judgmentDate"]
    assert body["problems"][0]["reason"].startswith("judgmentDate 31-12-2199 is in the future")
    assert records(api) == []
    assert api.client.post("/v1/manual-records", json=RECORD, headers=h).status_code == 201
    before = api.client.get("/v1/manual-records/1", headers=h).json()
    r = api.client.post(
        "/v1/manual-records/1/correction",
        json={"reason": "typo", "fields": {"judgmentDate": "2199-12-31"}},
        headers=h,
    )
    body = problem(r, 400)
    assert [p["field"] for p in body["problems"]] == ["fields.judgmentDate"]
    assert api.client.get("/v1/manual-records/1", headers=h).json() == before
    case = "13-100002-25"
    manual_store(api.runtime.store).register_manual(
        [
            NewManualRecord(
                "om",
                case,
                UITSPRAAK,
                (("parketnummer", case), ("judgmentDate", "2199-12-31")),
                None,
                NOW - 86400,
                "parket",
            )
        ],
        now=NOW,
        actor="x",
    )
    r = api.client.post(
        "/v1/manual-records/2/correction",
        json={"reason": "typo", "case": "13-100003-25"},
        headers=h,
    )
    body = problem(r, 400)
    assert [p["field"] for p in body["problems"]] == ["fields.judgmentDate"]
    assert body["problems"][0]["reason"].startswith(
        "the record's stored judgmentDate 31-12-2199 is in the future"
    )
    assert body["problems"][0]["reason"].endswith(
        "; give the right judgmentDate with the correction"
    )
    r = api.client.post(
        "/v1/manual-records/2/correction",
        json={"reason": "typo", "fields": {"judgmentDate": "18-07-2025"}},
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert r.json()["fields"]["judgmentDate"] == "2025-07-18"


def test_the_routes_are_in_the_openapi_document(api: Api) -> None:
    doc = api.client.get("/v1/openapi.json").json()
    for path in (
        "/v1/manual-records",
        "/v1/manual-records/imports",
        "/v1/manual-records/{recordId}/correction",
        "/v1/unmatched-messages",
        "/v1/interim-procedures/{procedureId}/retirement",
    ):
        assert path in doc["paths"], path
    body = doc["paths"]["/v1/manual-records/imports"]["post"]["requestBody"]["content"]
    assert set(body) == {"text/csv", "application/json"}
