"""The reconciliation API (decision 0011) through the ASGI app over a real SQLite store and
registry: run, list, summary, details as JSON/CSV/Parquet, the HTML section, the request list,
re-sends. Bad input is a 400 naming the problem and leaves no report; roles are checked."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from ketenherstel.exchange.auth import Principal
from tests.reconcile.helpers import write
from tests.registry.factories import OM_SOURCE, decision
from tests.web.conftest import Api

RUNS = "/v1/reconciliations"
JUSTID = Principal("justid", "partner", "justid", "token")
OM = Principal("om", "partner", "om", "token")


def reports(api: Api) -> Path:
    return Path(api.runtime.settings.reconcile_location())


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def lost(api: Api) -> Api:
    """Three OM decisions; justid acknowledged the third without applying it."""
    rt = api.runtime
    events = [decision(f"13-10000{i}-25", f"SKN-000000000{i}", ident=f"d{i}") for i in (1, 2)]
    rt.exchange.submit(principal=OM, events=events)
    rt.registry.catch_up()
    rt.exchange.submit(
        principal=OM, events=[decision("13-100003-25", "SKN-0000000003", ident="d3")]
    )
    leased = rt.exchange.pull(principal=JUSTID, limit=10)
    rt.exchange.ack(principal=JUSTID, delivery_ids=[d.delivery_id for d in leased])
    return api


def run(api: Api, body: dict[str, Any], who: str = "operator") -> Any:
    return api.client.post(RUNS, json=body, headers=api.h(who))


def ledgers(api: Api) -> Path:
    """The folder the API reads ledger files from, made."""
    folder = reports(api) / "ledgers"
    folder.mkdir(parents=True)
    return folder


def test_run_read_and_repair(lost: Api) -> None:
    api = lost
    r = run(api, {"hops": [{"name": "delivered"}, {"name": "applied"}]})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["missing"] == 1
    pair = body["pairs"][0]
    assert (pair["from"], pair["to"], pair["totals"]["missingAtTo"]) == ("delivered", "applied", 1)
    rid = body["id"]
    audit = api.runtime.store.audit_log(limit=10)
    assert any(a.action == "reconciled" and a.object == rid for a in audit)
    # Viewers read summaries and the HTML section.
    listed = api.client.get(RUNS, headers=api.h("viewer"))
    assert [x["id"] for x in listed.json()] == [rid]
    one = api.client.get(f"{RUNS}/{rid}", headers=api.h("viewer"))
    assert one.status_code == 200 and one.json()["missing"] == 1
    html = api.client.get(f"{RUNS}/{rid}/briefing-section", headers=api.h("viewer"))
    assert html.headers["content-type"].startswith("text/html")
    assert "Er ontbreekt 1 record;" in html.text
    # Details are for operators.
    assert api.client.get(f"{RUNS}/{rid}/details", headers=api.h("viewer")).status_code == 403
    details = api.client.get(f"{RUNS}/{rid}/details", headers=api.h("operator")).json()
    assert [(d["class"], d["id"], d["hop"], d["receiver"]) for d in details] == [
        ("missing", "d3", "applied", "justid")
    ]
    missing = api.client.get(f"{RUNS}/{rid}/details?class=missing", headers=api.h("operator"))
    assert [d["id"] for d in missing.json()] == ["d3"]
    assert (
        api.client.get(f"{RUNS}/{rid}/details?class=late", headers=api.h("operator")).json() == []
    )
    bogus = api.client.get(f"{RUNS}/{rid}/details?class=bogus", headers=api.h("operator"))
    found = problem(bogus, 400)
    assert "'bogus'" in found["detail"] and "missing" in found["detail"]
    assert [p["field"] for p in found["problems"]] == ["query:class"]
    as_csv = api.client.get(f"{RUNS}/{rid}/details?format=csv", headers=api.h("operator"))
    assert as_csv.headers["content-type"].startswith("text/csv") and "d3" in as_csv.text
    as_parquet = api.client.get(f"{RUNS}/{rid}/details?format=parquet", headers=api.h("operator"))
    assert pq.read_table(io.BytesIO(as_parquet.content)).num_rows == 1
    # Re-send: a dry run changes nothing, then the real one; the registry applies it once.
    dry = api.client.post(f"{RUNS}/{rid}/resends", json={"dryRun": True}, headers=api.h("operator"))
    assert dry.json()["items"][0]["outcome"] == "would-resend"
    assert (
        api.client.post(f"{RUNS}/{rid}/resends", json={}, headers=api.h("viewer")).status_code
        == 403
    )
    done = api.client.post(f"{RUNS}/{rid}/resends", json={}, headers=api.h("operator"))
    assert done.status_code == 200 and done.json()["resent"] == 1
    assert api.runtime.registry.catch_up().applied == 1
    again = run(api, {"hops": [{"name": "delivered"}, {"name": "applied"}]})
    assert again.json()["missing"] == 0


def test_files_from_the_ledger_folder_and_the_request_list(lost: Api) -> None:
    api = lost
    folder = ledgers(api)
    write(
        folder / "om-sent.csv",
        [
            {"MsgId": "d1", "Bron": OM_SOURCE, "Soort": decision("x", "SKN-0000000001")["type"]},
            {"MsgId": "d9", "Bron": OM_SOURCE, "Soort": decision("x", "SKN-0000000001")["type"]},
        ],
    )
    body = {
        "hops": [
            {
                "name": "sent",
                "file": "om-sent.csv",
                "mapping": {"id": "MsgId", "source": "Bron", "type": "Soort"},
                "constants": {"sender": "om"},
            },
            {"name": "accepted"},
        ]
    }
    r = run(api, body)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert r.json()["requests"] == 1
    requests = api.client.get(f"{RUNS}/{rid}/requests", headers=api.h("operator")).json()
    assert [(x["sender"], x["id"]) for x in requests] == [("om", "d9")]
    # A viewer sees the ledger file by its name, not where it lies on the server (a review).
    for who, shown in (("viewer", "om-sent.csv"), ("operator", str(folder / "om-sent.csv"))):
        for got in (
            api.client.get(f"{RUNS}/{rid}", headers=api.h(who)).json(),
            api.client.get(RUNS, headers=api.h(who)).json()[0],
        ):
            assert got["hops"][0]["source"] == shown, (who, got["hops"])


def test_a_ledger_row_of_a_type_the_chain_does_not_know_is_a_400_naming_file_and_row(
    lost: Api,
) -> None:
    """Classed missing, it would go on the sender's request list: refused instead."""
    api = lost
    folder = ledgers(api)
    kind = decision("x", "SKN-0000000001")["type"]
    write(
        folder / "om-sent.csv",
        [
            {"MsgId": "d1", "Bron": OM_SOURCE, "Soort": kind},
            {"MsgId": "d9", "Bron": OM_SOURCE, "Soort": "bogus.type"},
        ],
    )
    body = {
        "hops": [
            {
                "name": "sent",
                "file": "om-sent.csv",
                "mapping": {"id": "MsgId", "source": "Bron", "type": "Soort"},
                "constants": {"sender": "om"},
            },
            {"name": "accepted"},
        ]
    }
    found = problem(run(api, body), 400)
    detail = found["detail"]
    assert "om-sent.csv, column 'Soort', row 2: 'bogus.type' is not a message type" in detail
    assert str(folder) not in str(found)  # the server's own path is not told
    assert found["problems"][0]["field"] == "body:hops"
    assert api.client.get(RUNS, headers=api.h("operator")).json() == []


def test_a_constant_sender_is_a_partner_of_the_chain(lost: Api) -> None:
    """An unknown one is a 400 (every record would be requested from it); a partner's key in
    another case is that partner."""
    api = lost
    folder = ledgers(api)
    kind = decision("x", "SKN-0000000001")["type"]
    write(
        folder / "om-sent.csv",
        [{"MsgId": f"d{i}", "Bron": OM_SOURCE, "Soort": kind} for i in (1, 2, 3)],
    )

    def body(sender: str) -> dict[str, Any]:
        hop = {
            "name": "sent",
            "file": "om-sent.csv",
            "mapping": {"id": "MsgId", "source": "Bron", "type": "Soort"},
            "constants": {"sender": sender},
        }
        return {"hops": [hop, {"name": "accepted"}]}

    found = problem(run(api, body("bogus")), 400)
    assert "unknown partner 'bogus' (the constant sender)" in found["detail"]
    assert api.client.get(RUNS, headers=api.h("operator")).json() == []
    r = run(api, body("OM"))
    assert r.status_code == 201, r.text
    assert (r.json()["missing"], r.json()["requests"]) == (0, 0)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"hops": [{"name": "accepted"}]}, "hops"),
        ({"hops": [{"name": "sent"}, {"name": "accepted"}]}, "live ledger is one of"),
        ({"hops": [{"name": "sent", "file": "../x.csv"}, {"name": "accepted"}]}, "without a path"),
        ({"hops": [{"name": "sent", "file": "nope.csv"}, {"name": "accepted"}]}, "no such file"),
        (
            {"hops": [{"name": "accepted", "mapping": {"id": "x"}}, {"name": "routed"}]},
            "only file ledgers",
        ),
        ({"hops": [{"name": "accepted"}, {"name": "routed"}], "sla": {"*": "soon"}}, "duration"),
        (
            {"hops": [{"name": "accepted"}, {"name": "routed"}], "sla": {"*": "999999999999d"}},
            "a limit is at most 3650 days",
        ),
        (
            {"hops": [{"name": "accepted"}, {"name": "routed"}], "sla": {"bogus.type": "7d"}},
            "SLA for 'bogus.type': not a message type of the chain",
        ),
        ({"hops": [{"name": "Accepted"}, {"name": "routed"}]}, "pattern"),
        ({"hops": [{"name": "accepted"}, {"name": "routed"}], "extra": 1}, "extra"),
    ],
)
def test_bad_input_is_a_400_and_leaves_no_report(api: Api, body: dict[str, Any], says: str) -> None:
    body_text = str(problem(run(api, body), 400))
    assert says in body_text
    assert api.client.get(RUNS, headers=api.h("operator")).json() == []


def test_roles_and_unknown_reports(api: Api) -> None:
    body = {"hops": [{"name": "accepted"}, {"name": "routed"}]}
    assert run(api, body, who="viewer").status_code == 403
    assert run(api, body, who="om").status_code == 403
    assert api.client.post(RUNS, json=body).status_code == 401
    assert api.client.get(RUNS, headers=api.h("om")).status_code == 403
    problem(api.client.get(f"{RUNS}/r20250101T000000-abcdef", headers=api.h("viewer")), 404)
    problem(api.client.get(f"{RUNS}/not-an-id", headers=api.h("viewer")), 400)
