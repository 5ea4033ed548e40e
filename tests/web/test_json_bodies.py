"""Every route whose body is a JSON object reads it as /v1/events does: a body sent as another
media type is 415, one that is not JSON (not UTF-8, nested too deep) is 400 naming the fault,
and so is one that gives a key twice in one object (json.loads kept the last value); either way
nothing changes."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from starlette.requests import Request

from ketenherstel.exchange.errors import InvalidInput, TooLarge
from ketenherstel.web.body import JSON_BODY_LIMIT, read_limited
from tests.aio import run as run_async
from tests.manual.support import MAPPING, csv_bytes, row
from tests.web.conftest import Api

# Sent where a JSON object is expected: (Content-Type or None, what the answer names).
WRONG_TYPES = [
    ("text/plain", "'text/plain'"),
    ("application/xml", "'application/xml'"),
    ("application/x-www-form-urlencoded", "'application/x-www-form-urlencoded'"),
    ("multipart/form-data; boundary=x", "'multipart/form-data'"),
    (None, "no Content-Type"),
]
NOT_JSON = [
    (b'{"deliveryIds": "\xff\xfe"}', "is not valid UTF-8"),
    (b"[" * 50_000, "depth limit exceeded: line 1 column 1026"),
    (b'{"url": ', "the body is not valid JSON"),
]


def json_routes(api: Api) -> list[tuple[str, str]]:
    """(method, path) of every documented operation whose body is JSON only, path parameters
    filled in."""
    doc = api.client.get("/v1/openapi.json").json()
    found = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            body = op.get("requestBody")
            if body and list(body["content"]) == ["application/json"]:
                found.append((method.upper(), re.sub(r"\{[^}]+\}", "1", path)))
    return found


def audit(api: Api) -> list[Any]:
    return api.runtime.store.audit_log(limit=1000)


# Routes only a partner calls (what it receives): the body is read after the role is checked.
RECEIVER_ROUTES = ("/v1/acknowledgements", "/v1/deliveries/1/failures")


def allowed(path: str, who: str) -> str:
    """``who``, or a partner where the route is a receiver's and ``who`` is the operator the
    tests of every route send as."""
    return "politie" if who == "operator" and path in RECEIVER_ROUTES else who


def send(api: Api, method: str, path: str, body: bytes, ctype: str | None, who: str) -> Any:
    headers = api.h(who) if who else {}
    if ctype is not None:
        headers["Content-Type"] = ctype
    return api.client.request(method, path, content=body, headers=headers)


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def test_every_json_route_is_found_in_the_document(api: Api) -> None:
    routes = json_routes(api)
    assert len(routes) >= 32
    assert ("PUT", "/v1/partners/1/webhook") in routes
    assert ("POST", "/v1/acknowledgements") in routes


def test_a_json_body_sent_as_another_media_type_is_415_naming_it(api: Api) -> None:
    before = audit(api)
    wrong = []
    for method, path in json_routes(api):
        for ctype, named in WRONG_TYPES:
            r = send(api, method, path, b'{"url":null}', ctype, allowed(path, "operator"))
            if r.status_code != 415 or named not in r.json().get("detail", ""):
                wrong.append((method, path, ctype, r.status_code, r.text))
    assert not wrong, wrong
    assert audit(api) == before


def test_an_empty_body_sent_as_another_media_type_is_the_same_415(api: Api) -> None:
    """An empty body with Content-Type: text/plain was pydantic's "Field required" (400), a
    full one 415: both are 415 naming the type. With no Content-Type, or as JSON, an empty
    body is still a missing one (400, Field required)."""
    before = audit(api)
    wrong = []
    for method, path in json_routes(api):
        for ctype, named in WRONG_TYPES:
            r = send(api, method, path, b"", ctype, allowed(path, "operator"))
            if ctype is None:
                said = [(p["field"], p["reason"]) for p in r.json().get("problems") or []]
                if r.status_code != 400 or ("body:", "Field required") not in said:
                    wrong.append((method, path, ctype, r.status_code, r.text))
            elif r.status_code != 415 or named not in r.json().get("detail", ""):
                wrong.append((method, path, ctype, r.status_code, r.text))
    assert not wrong, wrong
    assert audit(api) == before
    r = send(api, "PUT", "/v1/partners/om/webhook", b"", "text/plain", "operator")
    assert problem(r, 415)["detail"] == (
        "send the body as JSON (Content-Type: application/json), not as 'text/plain'"
    )
    r = send(api, "PUT", "/v1/partners/om/webhook", b"", "application/json", "operator")
    assert [p["reason"] for p in problem(r, 400)["problems"]] == ["Field required"]


def test_the_webhook_stays_when_its_body_is_text_plain(api: Api) -> None:
    h = api.h("operator")
    assert api.client.put(
        "/v1/partners/om/webhook", json={"url": "http://127.0.0.1:9/h"}, headers=h
    ).is_success
    r = send(api, "PUT", "/v1/partners/om/webhook", b'{"url":null}', "text/plain", "operator")
    body = problem(r, 415)
    assert body["title"] == "Unsupported media type"
    assert body["detail"] == (
        "send the body as JSON (Content-Type: application/json), not as 'text/plain'"
    )
    assert api.runtime.exchange.partner("om").webhook_url == "http://127.0.0.1:9/h"


@pytest.mark.parametrize("ctype", ["application/json", "application/json; charset=utf-8"])
def test_a_json_body_sent_as_json_is_read(api: Api, ctype: str) -> None:
    r = send(api, "PUT", "/v1/partners/om/webhook", b'{"url":null}', ctype, "operator")
    assert r.status_code == 200, r.text


def test_a_body_that_is_not_json_is_400_naming_the_fault_on_every_json_route(api: Api) -> None:
    before = audit(api)
    wrong = []
    for method, path in json_routes(api):
        for body, named in NOT_JSON:
            r = send(api, method, path, body, "application/json", allowed(path, "operator"))
            if r.status_code != 400 or named not in r.json().get("detail", ""):
                wrong.append((method, path, body[:20], r.status_code, r.text))
    assert not wrong, wrong
    assert audit(api) == before


def test_an_acknowledgement_that_is_not_utf8_is_named_as_events_name_it(api: Api) -> None:
    r = send(
        api,
        "POST",
        "/v1/acknowledgements",
        b'{"deliveryIds": "\xff\xfe"}',
        "application/json",
        "politie",
    )
    body = problem(r, 400)
    assert body["detail"].startswith("the body is not valid JSON: str is not valid UTF-8")
    events = send(api, "POST", "/v1/events", b'{"id": "\xff\xfe"}', "application/json", "politie")
    assert problem(events, 400)["detail"] == body["detail"]


def test_a_body_nested_too_deep_is_400_with_where(api: Api) -> None:
    r = send(api, "POST", "/v1/acknowledgements", b"[" * 50_000, "application/json", "politie")
    assert problem(r, 400)["detail"] == (
        "the body is not valid JSON: depth limit exceeded: line 1 column 1026 (char 1025)"
    )


def test_a_body_nested_deeper_than_the_stack_yet_within_1024_levels_is_400(api: Api) -> None:
    deep = b"[" * 1020 + b"]" * 1020
    r = send(api, "POST", "/v1/acknowledgements", deep, "application/json", "politie")
    assert problem(r, 400)["detail"] == "the body is not valid JSON: it is nested too deep"


def test_what_is_json_is_read_as_before_nan_answered_by_the_field_own_rule(api: Api) -> None:
    body = b'{"state": "open", "reason": "wave 1", "rate": NaN}'
    r = send(api, "PUT", "/v1/channels/om/*", body, "application/json", "operator")
    [named] = problem(r, 400)["problems"]
    assert named["field"] == "body:rate" and named["reason"].endswith("not 'NaN'")


TWICE = "the body gives a key twice in one object; give each key once"


def test_a_body_that_gives_a_key_twice_is_400_naming_it_on_every_json_route(api: Api) -> None:
    before = audit(api)
    wrong = []
    for method, path in json_routes(api):
        r = send(
            api,
            method,
            path,
            b'{"url": null, "url": null}',
            "application/json",
            allowed(path, "operator"),
        )
        if r.status_code != 400 or r.json().get("detail") != TWICE:
            wrong.append((method, path, r.status_code, r.text))
    assert not wrong, wrong
    assert audit(api) == before


def test_a_channel_opened_with_two_rates_is_refused_and_stays_as_it_was(api: Api) -> None:
    """It was opened at 100/s, the rate given last."""
    body = b'{"state": "open", "reason": "wave 1", "rate": 1, "rate": 100}'
    answer = problem(
        send(api, "PUT", "/v1/channels/om/*", body, "application/json", "operator"), 400
    )
    assert answer["detail"] == TWICE
    assert answer["problems"] == [
        {
            "index": None,
            "field": "body:",
            "reason": "the key 'rate' appears twice in the top-level object",
        }
    ]
    h = api.h("operator")
    assert api.client.get("/v1/channel-events", headers=h).json() == []
    assert api.client.get("/v1/channels", headers=h).json() == []


def test_a_partner_state_given_twice_is_refused_and_the_partner_stays_online(api: Api) -> None:
    body = b'{"state": "online", "reason": "Citrix down", "state": "isolated"}'
    r = send(api, "PUT", "/v1/partner-states/om", body, "application/json", "operator")
    assert problem(r, 400)["detail"] == TWICE
    listed = api.client.get("/v1/partner-states", headers=api.h("operator")).json()
    assert {s["partner"]: s["state"] for s in listed}["om"] == "online"


def test_an_import_whose_json_or_mapping_gives_a_key_twice_is_refused_storing_nothing(
    api: Api,
) -> None:
    """The import reads its body itself: pydantic's model_validate_json, and orjson for the
    mapping parameter, kept the column named last and stored the row."""
    url = "/v1/manual-records/imports"
    mapping = json.dumps(MAPPING).replace('"case": ', '"case": "Zaak", "case": ', 1)
    upload = json.dumps({"csv": csv_bytes(row()).decode(), "name": "g.csv"})
    upload = upload[:-1] + ', "mapping": ' + mapping + "}"
    answer = problem(send(api, "POST", url, upload.encode(), "application/json", "operator"), 400)
    assert answer["detail"] == TWICE
    assert answer["problems"] == [
        {
            "index": None,
            "field": "body:mapping.columns",
            "reason": "the key 'case' appears twice in the object at mapping.columns",
        }
    ]
    h = {**api.h("operator"), "Content-Type": "text/csv"}
    r = api.client.post(url, params={"mapping": mapping}, content=csv_bytes(row()), headers=h)
    answer = problem(r, 400)
    assert answer["detail"] == (
        "in the mapping, the key 'case' appears twice in the object at columns; give each key once"
    )
    assert answer["problems"] == [
        {"index": None, "field": "query:mapping", "reason": answer["detail"]}
    ]
    assert list(api.runtime.store.manual_records()) == []


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (b"x", "text/plain"),
        (b"\xff", "application/json"),
        (b'{"url": 1, "url": 2}', "application/json"),
    ],
)
def test_credentials_and_roles_are_checked_before_the_body(
    api: Api, body: bytes, ctype: str
) -> None:
    path = "/v1/partners/om/webhook"
    problem(send(api, "PUT", path, body, ctype, ""), 401)
    problem(send(api, "PUT", path, body, ctype, "viewer"), 403)


def test_a_json_body_over_the_limit_is_413_on_every_route_with_or_without_a_token(
    api: Api,
) -> None:
    """A body of any size used to be read whole before the credential was checked (300 MB
    sent without a token took the server from 160 to 846 MB before its 401). Now no JSON route
    reads past JSON_BODY_LIMIT: 413 naming the limit, for every caller, and nothing changes."""
    before = audit(api)
    big = b" " * (JSON_BODY_LIMIT + 1)
    wrong = []
    for method, path in json_routes(api):
        for who in ("", "viewer", "operator"):
            r = send(api, method, path, big, "application/json", who)
            detail = r.json().get("detail", "") if r.status_code == 413 else ""
            if f"at most {JSON_BODY_LIMIT} allowed" not in detail:
                wrong.append((method, path, who, r.status_code, r.text[:200]))
    assert not wrong, wrong
    assert audit(api) == before


def test_a_chunked_json_body_is_refused_over_the_limit(api: Api) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(4 * JSON_BODY_LIMIT >> 16):
            yield b" " * (1 << 16)

    r = api.client.post(
        "/v1/acknowledgements", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert problem(r, 413)["detail"] == (
        f"the body is over {JSON_BODY_LIMIT} bytes; at most {JSON_BODY_LIMIT} allowed"
    )


def test_a_body_without_a_length_is_read_no_further_than_the_limit() -> None:
    """The test client sends a body whole; here the server's side reads from a sender that
    would go on for 64 MiB, and stops once the limit has come."""
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1 << 16
        return {"type": "http.request", "body": b" " * (1 << 16), "more_body": True}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    with pytest.raises(TooLarge, match=f"at most {JSON_BODY_LIMIT} allowed"):
        run_async(read_limited(Request(scope, receive), JSON_BODY_LIMIT))
    assert JSON_BODY_LIMIT < received <= JSON_BODY_LIMIT + (1 << 16)


def test_a_json_body_just_within_the_limit_is_read(api: Api) -> None:
    body = b'{"deliveryIds": [1]}'
    padded = body + b" " * (JSON_BODY_LIMIT - len(body))
    r = send(api, "POST", "/v1/acknowledgements", padded, "application/json", "politie")
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["status"] == "not-found"


@pytest.mark.parametrize("who", ["viewer", "operator"])
def test_a_caller_that_receives_nothing_hears_403_whatever_its_body(api: Api, who: str) -> None:
    """A viewer sending `{}` to the acknowledgements heard 400 (the body checked first), one
    sending a valid body 403; now 403 both, and nothing is read or changed."""
    before = audit(api)
    for path, body in (
        ("/v1/acknowledgements", b"{}"),
        ("/v1/acknowledgements", b'{"deliveryIds": [1]}'),
        ("/v1/deliveries/1/failures", b"{}"),
        ("/v1/deliveries/1/failures", b'{"reason": "x"}'),
    ):
        r = send(api, "POST", path, body, "application/json", who)
        assert problem(r, 403)["detail"] == "only a partner credential receives deliveries", path
    assert audit(api) == before


def test_a_client_that_goes_away_mid_body_is_400_not_a_server_error() -> None:
    """Read before FastAPI's own reader (which answered 400), a disconnect escaped as a 500
    with a traceback in the log."""
    messages = [
        {"type": "http.request", "body": b'{"deliveryIds": [', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    with pytest.raises(InvalidInput, match="the body ended early: the client went away"):
        run_async(read_limited(Request(scope, receive), JSON_BODY_LIMIT))
