"""Every route whose body is a JSON object refuses a body sent as another media type with 415
naming it, as /v1/events does, and changes nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import Api

# Sent where a JSON object is expected: (Content-Type or None, what the answer names).
WRONG_TYPES = [
    ("text/plain", "'text/plain'"),
    ("application/xml", "'application/xml'"),
    ("application/x-www-form-urlencoded", "'application/x-www-form-urlencoded'"),
    ("multipart/form-data; boundary=x", "'multipart/form-data'"),
    (None, "no Content-Type"),
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
            r = send(api, method, path, b'{"url":null}', ctype, "operator")
            if r.status_code != 415 or named not in r.json().get("detail", ""):
                wrong.append((method, path, ctype, r.status_code, r.text))
    assert not wrong, wrong
    assert audit(api) == before


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


@pytest.mark.parametrize(("body", "ctype"), [(b"x", "text/plain")])
def test_credentials_and_roles_are_checked_before_the_body(
    api: Api, body: bytes, ctype: str
) -> None:
    path = "/v1/partners/om/webhook"
    problem(send(api, "PUT", path, body, ctype, ""), 401)
    problem(send(api, "PUT", path, body, ctype, "viewer"), 403)
