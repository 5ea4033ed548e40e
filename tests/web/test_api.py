"""The HTTP API end to end through the ASGI app: every route, and each kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from ketenherstel.exchange.envelope import Limits, check_events
from tests.factories import KMAR_OIN, OM_OIN, POLITIE_SOURCE, PV_TYPE, pv_event
from tests.web.conftest import Api

BATCH = "application/cloudevents-batch+json"
STRUCTURED = "application/cloudevents+json"


def post(api: Api, who: str, body: Any, ctype: str = STRUCTURED, **headers: str) -> Any:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return api.client.post(
        "/v1/events", content=raw, headers={**api.h(who), "Content-Type": ctype, **headers}
    )


def stored_count(api: Api) -> int:
    return sum(q.ready + q.leased + q.acked + q.dead for q in api.runtime.store.queue_stats())


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


# -- submitting ---------------------------------------------------------------------------


def test_structured_event_is_accepted_after_commit_and_routed_to_the_om(api: Api) -> None:
    event = pv_event()
    r = post(api, "politie", event)
    assert r.status_code == 201, r.text
    assert r.headers["API-Version"] == "0.1.0"
    body = r.json()
    assert body["accepted"] == 1
    assert body["results"][0] == {
        "index": 0,
        "id": event["id"],
        "source": POLITIE_SOURCE,
        "status": "accepted",
        "position": body["results"][0]["position"],
        "deliveries": 1,
        "by": None,
        "quarantined": False,
    }
    assert api.runtime.store.message(POLITIE_SOURCE, event["id"]) is not None


def test_batch_is_accepted_whole(api: Api) -> None:
    events = [pv_event(case=f"10-00000{i}-25") for i in range(5)]
    r = post(api, "politie", events, BATCH)
    assert r.status_code == 201
    assert r.json()["accepted"] == 5


def test_duplicate_is_stored_once_and_answered_as_duplicate(api: Api) -> None:
    event = pv_event()
    assert post(api, "politie", event).status_code == 201
    r = post(api, "politie", event)
    assert r.status_code == 200
    [same] = r.json()["results"]
    assert (same["status"], same["by"], same["quarantined"]) == ("duplicate", "id", False)
    assert stored_count(api) == 1
    # The same fact re-sent under a new id: recognised by its business key.
    r = post(api, "politie", {**event, "id": "another-id-for-the-same-fact"})
    [fact] = r.json()["results"]
    assert (r.status_code, fact["status"], fact["by"]) == (200, "duplicate", "business-key")
    assert stored_count(api) == 1
    # Its id was acknowledged: the trail asked by it is the stored message's, and says so (it
    # was 404, as if the event had never arrived); a partner that is neither sender nor
    # receiver still sees nothing.
    url = f"/v1/messages/{event['source']}/another-id-for-the-same-fact"
    trail = api.client.get(url, headers=api.h("politie"))
    assert trail.status_code == 200, trail.text
    assert trail.json()["id"] == event["id"] and trail.json()["answeredAsDuplicate"] is True
    own = api.client.get(f"/v1/messages/{event['source']}/{event['id']}", headers=api.h("politie"))
    assert own.json()["answeredAsDuplicate"] is False
    assert api.client.get(url, headers=api.h("justid")).status_code == 404


def test_same_id_with_other_body_is_409_naming_both_hashes(api: Api) -> None:
    event = pv_event()
    post(api, "politie", event)
    changed = {**event, "subject": "10-999999-25"}
    body = assert_problem(post(api, "politie", changed), 409)
    assert body["detail"].count("sha256:") == 2
    assert stored_count(api) == 1


def test_a_batch_with_one_bad_event_is_rejected_whole_with_every_problem_listed(api: Api) -> None:
    good = pv_event(case="10-000001-25")
    bad_data = pv_event(case="10-000002-25")
    bad_data["data"]["skn"] = "not-an-skn"
    no_type = pv_event(case="10-000003-25", type=None)
    wrong_version = pv_event(case="10-000004-25", specversion="0.3")
    body = assert_problem(
        post(api, "politie", [good, bad_data, no_type, wrong_version], BATCH), 400
    )
    where = {(p["index"], p["field"]) for p in body["problems"]}
    assert (1, "data.skn") in where or any(i == 1 and f.startswith("data") for i, f in where)
    assert (2, "type") in where
    assert (3, "specversion") in where
    assert stored_count(api) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": None}, "id"),
        ({"id": ""}, "id"),
        ({"source": None}, "source"),
        ({"type": "nl.strafrechtketen.bestaat-niet.v1"}, "type"),
        ({"time": "yesterday"}, "time"),
        ({"datacontenttype": "text/plain"}, "datacontenttype"),
        ({"sequence": "-4"}, "sequence"),
        ({"sequence": "1", "sequencetype": "String"}, "sequencetype"),
        ({"BadExtension": "x"}, "BadExtension"),
        ({"nested": {"a": 1}}, "nested"),
        ({"data": None}, "data"),
        ({"data_base64": "AAAA"}, "data_base64"),
        ({"source": "http://example.org/not-a-urn"}, "source"),
    ],
)
def test_each_kind_of_bad_envelope_is_400_naming_the_field(
    api: Api, change: dict[str, Any], field: str
) -> None:
    event = pv_event()
    for k, v in change.items():
        if v is None:
            event.pop(k, None)
        else:
            event[k] = v
    body = assert_problem(post(api, "politie", event), 400)
    assert any(p["field"] == field for p in body["problems"]), body
    assert stored_count(api) == 0


def test_a_dataref_without_data_is_400_for_a_type_whose_schema_requires_data(api: Api) -> None:
    """A 'dataref' alone would skip the type's schema and business key: every chain type's
    schema asks for an object, so the event is refused naming 'data' and nothing is routed."""
    event = pv_event()
    del event["data"]
    event["dataref"] = "http://x"
    body = assert_problem(post(api, "politie", event), 400)
    (found,) = body["problems"]
    assert found["field"] == "data"
    assert PV_TYPE in found["reason"] and "dataref" in found["reason"]
    assert stored_count(api) == 0
    # A type whose schema needs no data (none in the chain today) may still point elsewhere.
    envelopes, problems = check_events(
        [event], limits=Limits(), known_type=lambda _: True, validate_data=lambda _t, _d: []
    )
    assert problems == [] and len(envelopes) == 1


def test_data_not_matching_the_type_schema_is_400_with_its_path(api: Api) -> None:
    event = pv_event()
    event["data"]["offences"] = []
    event["data"]["extra"] = 1
    body = assert_problem(post(api, "politie", event), 400)
    fields = [p["field"] for p in body["problems"]]
    assert any("offences" in f for f in fields)
    assert len(body["problems"]) >= 2


def test_not_json_and_wrong_shapes_are_400(api: Api) -> None:
    assert_problem(post(api, "politie", b"{not json"), 400)
    assert_problem(post(api, "politie", [pv_event()], STRUCTURED), 400)
    assert_problem(post(api, "politie", pv_event(), BATCH), 400)
    assert_problem(post(api, "politie", [], BATCH), 400)
    assert_problem(post(api, "politie", ["just a string"], BATCH), 400)
    assert stored_count(api) == 0


def test_unsupported_content_type_is_415(api: Api) -> None:
    assert_problem(post(api, "politie", b"<xml/>", "application/xml"), 415)


def test_event_over_the_size_limit_is_rejected(api: Api) -> None:
    event = pv_event()
    event["padding"] = "x" * (300 * 1024)
    body = assert_problem(post(api, "politie", event), 400)
    assert "bytes" in body["problems"][0]["reason"]


def test_batch_over_the_count_limit_is_rejected(api: Api) -> None:
    limit = api.runtime.exchange.settings.limits.max_batch_events
    events = [pv_event(ident=f"e{i}") for i in range(limit + 1)]
    body = assert_problem(post(api, "politie", events, BATCH), 400)
    assert str(limit) in body["problems"][0]["reason"]
    assert stored_count(api) == 0


def test_body_over_the_size_limit_is_413(api: Api) -> None:
    limit = api.runtime.exchange.settings.limits.max_body_bytes
    assert_problem(post(api, "politie", b" " * (limit + 1)), 413)


def test_chunked_body_over_the_size_limit_is_413(api: Api) -> None:
    limit = api.runtime.exchange.settings.limits.max_body_bytes
    sent = 0

    def chunks():  # type: ignore[no-untyped-def]
        nonlocal sent
        while sent < limit * 3:
            sent += 1 << 20
            yield b" " * (1 << 20)

    r = api.client.post(
        "/v1/events",
        content=chunks(),
        headers={**api.h("politie"), "Content-Type": STRUCTURED},
    )
    assert_problem(r, 413)
    assert stored_count(api) == 0


def test_sending_as_another_partner_is_403_and_stores_nothing(api: Api) -> None:
    event = pv_event(source=f"urn:nld:oin:{KMAR_OIN}:systeem:bvh")
    body = assert_problem(post(api, "politie", event), 403)
    assert body["problems"][0]["field"] == "source"
    assert stored_count(api) == 0


def test_sending_from_a_system_the_chain_does_not_give_the_partner_is_refused(api: Api) -> None:
    """It was accepted, opening a sequence of its own that completeness and reconciliation,
    which count the chain's systems, never see (a review sent one)."""
    event = pv_event(source="urn:nld:oin:00000001003214345000:systeem:zzz")  # politie's OIN
    [problem] = assert_problem(post(api, "politie", event), 403)["problems"]
    assert problem["field"] == "source"
    assert problem["reason"] == "politie has no system 'zzz' in the chain model; its systems: bvh"
    assert stored_count(api) == 0


def test_sending_a_type_the_partner_may_not_send_is_403(api: Api) -> None:
    event = pv_event(source="urn:nld:oin:00000001003214347000:systeem:gps")  # the OM's OIN
    assert_problem(post(api, "om", event), 403)


def test_binary_mode_is_accepted(api: Api) -> None:
    event = pv_event()
    headers = {f"ce-{k}": str(v) for k, v in event.items() if k not in ("data", "datacontenttype")}
    r = api.client.post(
        "/v1/events",
        content=orjson.dumps(event["data"]),
        headers={**api.h("politie"), **headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    stored = orjson.loads(api.runtime.store.message(POLITIE_SOURCE, event["id"]).body)  # type: ignore[union-attr]
    assert stored["data"] == event["data"]


@pytest.mark.parametrize(
    ("change", "field", "named"),
    [
        ({"id": "ctl\u0000\u001b[31mred\u007f"}, "id", "U+0000"),
        ({"partitionkey": "pk\u0000"}, "partitionkey", "U+0000"),
        ({"subject": "10-000001-25\u001b[2J"}, "subject", "U+001B"),
        ({"traceparent": "00\u0085"}, "traceparent", "U+0085"),  # an extension's string
    ],
)
def test_a_string_attribute_with_a_control_character_is_400_naming_it_and_stores_nothing(
    api: Api, change: dict[str, str], field: str, named: str
) -> None:
    """They were 201: CloudEvents 1.0 allows no U+0000-U+001F or U+007F-U+009F in a String,
    and the id, subject and partition key are shown again on the trail and in terminals."""
    body = assert_problem(post(api, "politie", pv_event(**change)), 400)
    assert [(p["field"], p["reason"].split(":")[0]) for p in body["problems"]] == [
        (field, f"'{field}' holds {named}")
    ]
    assert stored_count(api) == 0


def post_binary(api: Api, event: dict[str, Any], **changed: str) -> Any:
    """``event`` sent by the police in binary mode (ce- headers), with ``changed`` headers."""
    headers = {f"ce-{k}": str(v) for k, v in event.items() if k not in ("data", "datacontenttype")}
    headers.update(changed)
    return api.client.post(
        "/v1/events",
        content=orjson.dumps(event["data"]),
        headers={**api.h("politie"), **headers, "Content-Type": "application/json"},
    )


def test_binary_mode_refuses_a_control_character_in_a_header_attribute(api: Api) -> None:
    """Percent-decoded (the HTTP binding's rule), a ce-id of ctl%00 is a NUL in the id."""
    changed = {"ce-id": "ctl%00x", "ce-partitionkey": "pk%1B"}
    body = assert_problem(post_binary(api, pv_event(), **changed), 400)
    assert sorted((p["field"], p["reason"].split(":")[0]) for p in body["problems"]) == [
        ("id", "'id' holds U+0000"),
        ("partitionkey", "'partitionkey' holds U+001B"),
    ]
    assert stored_count(api) == 0


def test_binary_mode_refuses_a_header_percent_encoded_not_as_utf8(api: Api) -> None:
    """ce-id: pct-%FF was stored as "pct-\ufffd", so that pct-%FE, another id, was then "used
    before with a different body" (409). Now 400 naming the header; the well-formed
    %C3%A9 stays é."""
    event = pv_event()
    for bad in ("pct-%FF", "pct-%C3"):
        assert assert_problem(post_binary(api, event, **{"ce-id": bad}), 400)["detail"] == (
            f"the header 'ce-id' is percent-encoded, but not as UTF-8: {bad!r}"
        )
    assert stored_count(api) == 0
    r = post_binary(api, event, **{"ce-id": "caf%C3%A9"})
    assert r.status_code == 201, r.text
    assert api.runtime.store.message(POLITIE_SOURCE, "caf\u00e9") is not None


def test_sequence_gaps_are_reported_not_hidden(api: Api) -> None:
    post(api, "politie", [pv_event(sequence=1), pv_event(sequence=2)], BATCH)
    r = post(api, "politie", pv_event(sequence=5))
    assert r.json()["sequenceGaps"] == [
        {"source": POLITIE_SOURCE, "missing": [{"first": 3, "last": 4}]}
    ]
    s = api.client.get(f"/v1/sequences/{POLITIE_SOURCE}", headers=api.h("politie")).json()
    assert (s["contiguous"], s["maxSeen"]) == (2, 5)
    assert api.client.get(f"/v1/sequences/{POLITIE_SOURCE}", headers=api.h("om")).status_code == 404


# -- authentication ------------------------------------------------------------------------


def test_missing_bad_and_revoked_tokens_are_401(api: Api) -> None:
    event = orjson.dumps(pv_event())
    ct = {"Content-Type": STRUCTURED}
    assert_problem(api.client.post("/v1/events", content=event, headers=ct), 401)
    cached = len(api.runtime.exchange._tokens)
    bad = {"Authorization": "Bearer kh_" + "x" * 43, **ct}
    assert_problem(api.client.post("/v1/events", content=event, headers=bad), 401)
    assert len(api.runtime.exchange._tokens) == cached  # unknown tokens are not remembered
    malformed = {"Authorization": "Bearer nonsense", **ct}
    assert_problem(api.client.post("/v1/events", content=event, headers=malformed), 401)
    short = {"Authorization": "Bearer kh_bad", **ct}
    problem = assert_problem(api.client.post("/v1/events", content=event, headers=short), 401)
    assert "a token is kh_ and 43 letters" in problem["detail"]
    basic = {"Authorization": f"Basic {api.tokens['politie']}", **ct}
    assert_problem(api.client.post("/v1/events", content=event, headers=basic), 401)
    empty = {"Authorization": "Bearer ", **ct}
    assert_problem(api.client.post("/v1/events", content=event, headers=empty), 401)
    cred = next(c for c in api.runtime.store.list_credentials("politie"))
    r = api.client.delete(f"/v1/credentials/{cred.id}", headers=api.h("operator"))
    assert r.status_code == 200
    assert_problem(post(api, "politie", pv_event()), 401)
    assert stored_count(api) == 0


def test_tokens_are_stored_only_as_hashes(api: Api) -> None:
    hashes = {c.token_hash for c in api.runtime.store.list_credentials()}
    for token in api.tokens.values():
        assert token not in hashes
        assert all(token not in h for h in hashes)


@pytest.mark.parametrize("frozen", [False, True], ids=["clock", "frozen-clock"])
def test_revoking_a_revoked_credential_again_changes_nothing_and_logs_nothing(
    api: Api, frozen: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second DELETE wrote a second token-revoked audit record; it is answered as the
    first was now (200, revokedAt the first time's), and logged once. Also when the two come
    at the same moment of the clock."""
    if frozen:
        monkeypatch.setattr(api.runtime.exchange, "clock", lambda: 1_800_000_000.0)
    cred = api.runtime.store.list_credentials("politie")[0]
    first = api.client.delete(f"/v1/credentials/{cred.id}", headers=api.h("operator"))
    again = api.client.delete(f"/v1/credentials/{cred.id}", headers=api.h("operator"))
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and first.json()["revokedAt"] is not None
    logged = [a for a in api.runtime.store.audit_log(limit=1000) if a.action == "token-revoked"]
    assert [(a.actor, a.object) for a in logged] == [("op", cred.id)]


def test_rotated_token_replaces_the_old_one(api: Api) -> None:
    cred = api.runtime.store.list_credentials("politie")[0]
    r = api.client.post(f"/v1/credentials/{cred.id}/rotations", headers=api.h("operator"))
    assert r.status_code == 201
    new = r.json()["token"]
    assert_problem(post(api, "politie", pv_event()), 401)
    api.tokens["politie"] = new
    assert post(api, "politie", pv_event()).status_code == 201


def test_partners_cannot_use_operator_routes(api: Api) -> None:
    assert_problem(api.client.get("/v1/credentials", headers=api.h("politie")), 403)
    assert_problem(
        api.client.put("/v1/channels/om/*", json={"state": "held"}, headers=api.h("viewer")), 403
    )
    assert_problem(api.client.post("/v1/events", headers=api.h("operator"), json=pv_event()), 403)


# -- delivering ----------------------------------------------------------------------------


def pull(api: Api, who: str, **params: Any) -> list[dict[str, Any]]:
    r = api.client.get("/v1/deliveries", params=params, headers=api.h(who))
    assert r.status_code == 200, r.text
    deliveries: list[dict[str, Any]] = r.json()["deliveries"]
    return deliveries


def test_receiver_pulls_acks_and_others_see_nothing(api: Api) -> None:
    event = pv_event()
    post(api, "politie", event)
    assert pull(api, "justid") == []
    assert pull(api, "politie") == []
    [d] = pull(api, "om")
    assert d["event"] == event
    assert d["attempt"] == 1
    r = api.client.post(
        "/v1/acknowledgements", json={"deliveryIds": [d["deliveryId"]]}, headers=api.h("justid")
    )
    assert r.json()["results"][0]["status"] == "not-found"
    r = api.client.post(
        "/v1/acknowledgements", json={"deliveryIds": [d["deliveryId"]]}, headers=api.h("om")
    )
    assert r.json()["results"][0]["status"] == "acked"
    assert pull(api, "om", visibilityTimeout=1) == []


def test_pull_and_ack_bad_input_is_400(api: Api) -> None:
    for params in ({"limit": 0}, {"limit": 5000}, {"visibilityTimeout": 0}, {"wait": 99}):
        assert_problem(api.client.get("/v1/deliveries", params=params, headers=api.h("om")), 400)
    for body in ({}, {"deliveryIds": []}, {"deliveryIds": ["x"]}, {"ids": [1]}):
        assert_problem(api.client.post("/v1/acknowledgements", json=body, headers=api.h("om")), 400)


def test_failure_report_retries_then_dead_letters_and_resend_keeps_the_id(api: Api) -> None:
    api.runtime.exchange.settings = type(api.runtime.exchange.settings)(max_attempts=2)
    event = pv_event()
    post(api, "politie", event)
    [d] = pull(api, "om")
    r = api.client.post(
        f"/v1/deliveries/{d['deliveryId']}/failures",
        json={"reason": "kan niet verwerken", "retryAfter": 0},
        headers=api.h("om"),
    )
    assert (r.json()["status"], r.json()["attempts"]) == ("retry", 1)
    [d2] = pull(api, "om")
    assert d2["deliveryId"] == d["deliveryId"]
    r = api.client.post(
        f"/v1/deliveries/{d['deliveryId']}/failures", json={"reason": "weer"}, headers=api.h("om")
    )
    assert r.json() == {
        "deliveryId": d["deliveryId"],
        "status": "dead",
        "retryAt": None,
        "attempts": 2,
    }
    dead = api.client.get("/v1/dead-letters", headers=api.h("operator")).json()
    assert [x["deliveryId"] for x in dead] == [d["deliveryId"]]
    assert "weer" in dead[0]["lastError"]
    r = api.client.post(f"/v1/dead-letters/{d['deliveryId']}/resends", headers=api.h("operator"))
    assert r.status_code == 201
    [d3] = pull(api, "om")
    assert d3["event"]["id"] == event["id"]
    assert d3["deliveryId"] == d["deliveryId"]
    again = api.client.post(
        f"/v1/dead-letters/{d['deliveryId']}/resends", headers=api.h("operator")
    )
    assert "not dead-lettered" in assert_problem(again, 409)["detail"]
    assert_problem(
        api.client.post("/v1/dead-letters/99999/resends", headers=api.h("operator")), 404
    )


def test_dead_letters_of_another_partner_are_403_and_of_no_partner_400(api: Api) -> None:
    api.runtime.exchange.settings = type(api.runtime.exchange.settings)(max_attempts=1)
    post(api, "politie", pv_event())
    [d] = pull(api, "om")
    r = api.client.post(
        f"/v1/deliveries/{d['deliveryId']}/failures", json={"reason": "kapot"}, headers=api.h("om")
    )
    assert r.json()["status"] == "dead"

    def dead(who: str, **params: str) -> Any:
        return api.client.get("/v1/dead-letters", params=params, headers=api.h(who))

    # A partner sees its own, asked or not; another partner's is refused, not swapped.
    assert [x["deliveryId"] for x in dead("om").json()] == [d["deliveryId"]]
    assert [x["deliveryId"] for x in dead("om", receiver="om").json()] == [d["deliveryId"]]
    refused = assert_problem(dead("politie", receiver="om"), 403)["detail"]
    assert refused.startswith("a partner sees only its own dead letters")
    assert "receiver=politie" in refused
    # A receiver that is no partner is named, for viewers and partners alike.
    for who, receiver in (("viewer", "nosuch"), ("operator", "*"), ("politie", "nosuch")):
        detail = assert_problem(dead(who, receiver=receiver), 400)["detail"]
        assert detail.startswith(f"receiver {receiver!r} is not a partner in the chain model")
    assert [x["deliveryId"] for x in dead("viewer", receiver="om").json()] == [d["deliveryId"]]
    assert dead("viewer", receiver="politie").json() == []


def test_failure_report_bad_input(api: Api) -> None:
    assert_problem(
        api.client.post("/v1/deliveries/1/failures", json={"reason": ""}, headers=api.h("om")), 400
    )
    assert_problem(
        api.client.post("/v1/deliveries/999/failures", json={"reason": "x"}, headers=api.h("om")),
        404,
    )


@pytest.mark.parametrize(
    ("reason", "says"),
    [
        (
            "\u001b[2J\u202eSKN-1572429180 a@b.nl",
            "a reason holds no control or invisible characters (U+001B)",
        ),
        ("kapot \u202e", "a reason holds no control or invisible characters (U+202E)"),
        ("kapot \x7f", "a reason holds no control or invisible characters (U+007F)"),
        ("zaak SKN-1572429180 kapot", "a reason gives no SKN, BSN or e-mail address"),
        ("meld aan a@b.nl", "a reason gives no SKN, BSN or e-mail address"),
    ],
)
def test_a_nack_reason_with_control_characters_or_personal_data_is_400_and_changes_nothing(
    api: Api, reason: str, says: str
) -> None:
    """It was 200 and stored as sent: viewers saw it in the trail and in dead letters'
    lastError. As the exchange's other reasons (decision 0012), refused; the delivery stays
    leased as it was, and the personal data is not repeated in the answer."""
    post(api, "politie", pv_event())
    [d] = pull(api, "om")
    r = api.client.post(
        f"/v1/deliveries/{d['deliveryId']}/failures",
        # json.dumps escapes each character (a lone surrogate too) as a client's JSON would
        content=json.dumps({"reason": reason, "retryAfter": 0}),
        headers={**api.h("om"), "Content-Type": "application/json"},
    )
    problem = assert_problem(r, 400)
    assert says in problem["detail"]
    assert [(p["field"], says in p["reason"]) for p in problem["problems"]] == [("reason", True)]
    assert "1572429180" not in r.text and "a@b.nl" not in r.text
    store = api.runtime.store
    message = store.message(d["event"]["source"], d["event"]["id"])
    assert message is not None
    [delivery] = store.deliveries_of(message.position)
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("leased", 1, None)
    assert [e.detail for e in store.trail(message.position) if "1572429180" in e.detail] == []
    assert pull(api, "om") == []  # still leased: not made ready for a retry


def test_an_id_no_delivery_can_have_is_400_naming_it(api: Api) -> None:
    """-1 and 0 were answered 200, each 'not-found' (a review): no delivery has them."""
    r = api.client.post(
        "/v1/acknowledgements", json={"deliveryIds": [5, -1, 0]}, headers=api.h("om")
    )
    fields = [p["field"] for p in assert_problem(r, 400)["problems"]]
    assert fields == ["body:deliveryIds.1", "body:deliveryIds.2"]


def test_a_second_nack_of_a_delivery_no_longer_leased_is_409(api: Api) -> None:
    post(api, "politie", pv_event())
    [d] = pull(api, "om")
    url = f"/v1/deliveries/{d['deliveryId']}/failures"
    r = api.client.post(url, json={"reason": "parse error", "retryAfter": 60}, headers=api.h("om"))
    assert r.status_code == 200 and r.json()["attempts"] == 1
    message = api.runtime.store.message(d["event"]["source"], d["event"]["id"])
    assert message is not None
    before = api.runtime.store.deliveries_of(message.position)
    r = api.client.post(url, json={"reason": "again", "retryAfter": 600}, headers=api.h("om"))
    problem = assert_problem(r, 409)
    assert problem["detail"] == (
        f"delivery {d['deliveryId']} is not leased to you now (nacked already, or its lease ran "
        "out): it is delivered again; nothing changed"
    )
    assert api.runtime.store.deliveries_of(message.position) == before
    assert (before[0].attempts, before[0].last_error) == (1, "parse error")


def test_same_case_is_delivered_in_order(api: Api) -> None:
    first, second = pv_event(case="10-000007-25"), pv_event(case="10-000007-25")
    post(api, "politie", [first, second], BATCH)
    [d] = pull(api, "om")
    assert d["event"]["id"] == first["id"]
    assert pull(api, "om") == []
    api.client.post(
        "/v1/acknowledgements", json={"deliveryIds": [d["deliveryId"]]}, headers=api.h("om")
    )
    [d2] = pull(api, "om")
    assert d2["event"]["id"] == second["id"]


def test_held_channel_keeps_accepting_but_delivers_nothing(api: Api) -> None:
    r = api.client.put(
        "/v1/channels/om/*",
        json={"state": "held", "reason": "OM offline"},
        headers=api.h("operator"),
    )
    assert r.status_code == 200
    assert post(api, "politie", pv_event()).status_code == 201
    assert pull(api, "om") == []
    r = api.client.put("/v1/channels/om/*", json={"state": "open"}, headers=api.h("operator"))
    assert_problem(r, 400)  # every change says why
    api.client.put(
        "/v1/channels/om/*", json={"state": "open", "reason": "back"}, headers=api.h("operator")
    )
    assert len(pull(api, "om")) == 1


def test_channel_history_lists_every_change_to_viewers(api: Api) -> None:
    h = api.h("operator")
    api.client.put("/v1/channels/om/*", json={"state": "held", "reason": "OM offline"}, headers=h)
    api.client.put("/v1/channels/om/*", json={"state": "open", "reason": "wave 1"}, headers=h)
    r = api.client.get("/v1/channel-events", params={"receiver": "om"}, headers=api.h("viewer"))
    assert r.status_code == 200
    assert [(e["state"], e["reason"], e["changedBy"]) for e in r.json()] == [
        ("open", "wave 1", "op"),
        ("held", "OM offline", "op"),
    ]
    assert_problem(api.client.get("/v1/channel-events", headers=api.h("politie")), 403)
    assert_problem(api.client.get("/v1/channel-events", params={"receiver": "x"}, headers=h), 400)
    assert_problem(api.client.get("/v1/channel-events", params={"limit": 0}, headers=h), 400)


def test_channel_bad_input(api: Api) -> None:
    h = api.h("operator")
    assert_problem(api.client.put("/v1/channels/nobody/*", json={"state": "held"}, headers=h), 400)
    assert_problem(api.client.put("/v1/channels/om/*", json={"state": "shut"}, headers=h), 400)
    held = {"state": "held", "reason": "x"}
    body = assert_problem(api.client.put("/v1/channels/dji/gemeenten", json=held, headers=h), 400)
    assert "channel gemeenten → dji: the chain carries nothing" in body["detail"]
    url = "/v1/channels/justid/om/process:aanhouding"
    body = assert_problem(api.client.put(url, json=held, headers=h), 400)
    assert "in scope 'process:aanhouding'" in body["detail"]
    for hidden, named in (
        ("x\u0000y", "U+0000"),
        ("\u001b[31mred", "U+001B"),
        ("a\u202eb", "U+202E"),
    ):
        held = {"state": "held", "reason": hidden}
        body = assert_problem(api.client.put("/v1/channels/om/*", json=held, headers=h), 400)
        assert f"a reason holds no control or invisible characters ({named})" in body["detail"]
    assert api.client.get("/v1/channel-events", headers=h).json() == []
    held = {"state": "held", "reason": "two lines:\n\tthe OM is dark"}  # tabs and breaks are text
    assert api.client.put("/v1/channels/om/*", json=held, headers=h).is_success


@pytest.mark.parametrize(
    ("raw", "quoted"),
    [
        ("NaN", "'NaN'"),
        ("Infinity", "'Infinity'"),
        ("-Infinity", "'-Infinity'"),
        ("1e400", "'Infinity'"),
        ("-1", "'-1'"),
        ("0", "'0'"),
        ("0.0", "'0.0'"),
        ("1e-300", "'1e-300'"),  # open, yet as good as nothing delivered
        ("1e300", "'1e+300'"),  # a limit that limits nothing (a review set it)
        ('"fast"', "'fast'"),
        ("true", "'true'"),
    ],
)
def test_a_bad_rate_is_refused_saying_what_a_rate_is_and_quoting_it(
    api: Api, raw: str, quoted: str
) -> None:
    h = {**api.h("operator"), "Content-Type": "application/json"}
    body = '{"state": "open", "reason": "wave 1", "rate": ' + raw + "}"  # NaN is no JSON
    r = api.client.put("/v1/channels/om/*", content=body, headers=h)
    [problem] = assert_problem(r, 400)["problems"]
    assert problem["field"] == "body:rate"
    assert problem["reason"] == (
        "a rate is a positive number of messages per second (such as 5 or 0.5), at least one a "
        f"day (0.0000116) and at most 1,000,000 a second, not {quoted}"
    )
    assert api.client.get("/v1/channel-events", headers=h).json() == []


def test_trail_shows_every_step_to_sender_receiver_and_operator_only(api: Api) -> None:
    event = pv_event()
    post(api, "politie", event)
    [d] = pull(api, "om")
    api.client.post(
        "/v1/acknowledgements", json={"deliveryIds": [d["deliveryId"]]}, headers=api.h("om")
    )
    url = f"/v1/messages/{POLITIE_SOURCE}/{event['id']}"
    for who in ("politie", "om", "operator", "viewer"):
        t = api.client.get(url, headers=api.h(who))
        assert t.status_code == 200, who
        assert [e["event"] for e in t.json()["trail"]] == ["accepted", "routed", "leased", "acked"]
    assert_problem(api.client.get(url, headers=api.h("justid")), 404)
    assert_problem(api.client.get(f"/v1/messages/{POLITIE_SOURCE}/nope", headers=api.h("om")), 404)


def test_a_receiver_reads_only_its_own_deliveries_in_a_trail(api: Api) -> None:
    """A sepot goes from the OM to the police and the KMar: the police saw the KMar's delivery,
    its state and its nack reason in the trail (a review found it). The sender sees both."""
    case = "10-000009-25"
    event = pv_event(
        source=f"urn:nld:oin:{OM_OIN}:systeem:gps",
        type="nl.strafrechtketen.vervolging.sepot-beslist.v1",
        subject=case,
        partitionkey=case,
        data={
            "parketnummer": case,
            "skn": "SKN-0000012345",
            "decidedAt": "2025-07-17T19:00:00Z",
            "kind": "onvoorwaardelijk",
            "ground": "beleid",
            "reasonCode": "02",
        },
    )
    post(api, "om", event)
    [k] = pull(api, "kmar")
    r = api.client.post(
        f"/v1/deliveries/{k['deliveryId']}/failures",
        json={"reason": "kmar parser kapot"},
        headers=api.h("kmar"),
    )
    assert r.status_code == 200
    url = f"/v1/messages/urn:nld:oin:{OM_OIN}:systeem:gps/{event['id']}"
    seen = {}
    for who in ("politie", "kmar", "om", "operator"):
        t = api.client.get(url, headers=api.h(who))
        assert t.status_code == 200, (who, t.text)
        seen[who] = t.json()
    assert {d["receiver"] for d in seen["politie"]["deliveries"]} == {"politie"}
    assert {e.get("receiver") for e in seen["politie"]["trail"]} <= {"politie", None}
    assert "kmar parser kapot" not in json.dumps(seen["politie"])
    assert {d["receiver"] for d in seen["kmar"]["deliveries"]} == {"kmar"}
    assert "kmar parser kapot" in json.dumps(seen["kmar"])
    for who in ("om", "operator"):
        assert {d["receiver"] for d in seen[who]["deliveries"]} == {"politie", "kmar"}, who
        assert "kmar parser kapot" in json.dumps(seen[who]), who


def test_trail_shows_the_change_that_held_a_message_and_the_one_that_opened_it(
    api: Api,
) -> None:
    h = api.h("operator")
    api.client.put("/v1/channels/om/*", json={"state": "held", "reason": "OM offline"}, headers=h)
    event = pv_event()
    post(api, "politie", event)
    api.client.put(
        f"/v1/channels/om/politie/{PV_TYPE}", json={"state": "open", "reason": "wave 1"}, headers=h
    )
    [d] = pull(api, "om")
    api.client.post(
        "/v1/acknowledgements", json={"deliveryIds": [d["deliveryId"]]}, headers=api.h("om")
    )
    t = api.client.get(f"/v1/messages/{POLITIE_SOURCE}/{event['id']}", headers=api.h("viewer"))
    assert t.status_code == 200, t.text
    trail = t.json()["trail"]
    # The sender sees the same entries, with "operator" for the officials' names.
    own = api.client.get(f"/v1/messages/{POLITIE_SOURCE}/{event['id']}", headers=api.h("politie"))
    seen = own.json()["trail"]
    assert [e["event"] for e in seen] == [e["event"] for e in trail]
    assert {seen[2]["actor"], seen[2]["cause"]["actor"], seen[3]["actor"]} == {"operator"}
    assert "op" not in seen[2]["detail"].split()
    assert [e["event"] for e in trail] == [
        "accepted",
        "routed",
        "held",
        "opened",
        "leased",
        "acked",
    ]
    held, opened = trail[2], trail[3]
    assert (held["actor"], held["receiver"], held["deliveryId"]) == ("op", "om", d["deliveryId"])
    assert "OM offline" in held["detail"]
    assert held["cause"] == {
        "kind": "channel",
        "id": held["cause"]["id"],
        "at": held["cause"]["at"],
        "actor": "op",
        "reason": "OM offline",
        "state": "held",
        "receiver": "om",
        "sender": "*",
        "scope": "*",
        "rate": None,
        "requestedBy": None,
    }
    assert held["cause"]["at"] <= held["at"]
    assert opened["cause"]["scope"] == PV_TYPE and opened["cause"]["reason"] == "wave 1"
    assert trail[0]["cause"] is None  # every other step as before
    doc = api.client.get("/v1/openapi.json").json()
    entry = doc["components"]["schemas"]["TrailEntryRead"]
    assert "cause" in entry["properties"] and "cause" not in entry.get("required", [])
    assert "TrailCauseRead" in doc["components"]["schemas"]


def test_reads_of_personal_data_are_audited(api: Api) -> None:
    post(api, "politie", pv_event())
    pull(api, "om")
    log = api.client.get("/v1/audit-log", headers=api.h("operator")).json()
    assert any(a["action"] == "deliveries-read" and a["actor"] == "om" for a in log)


# -- admin ----------------------------------------------------------------------------------


def test_partner_registration_and_bad_input(api: Api) -> None:
    h = api.h("operator")
    r = api.client.post("/v1/partners", json={"key": "cjib"}, headers=h)
    assert r.status_code == 201
    assert r.json()["oin"] == "00000001003214351000"
    assert_problem(api.client.post("/v1/partners", json={"key": "cjib"}, headers=h), 409)
    assert_problem(api.client.post("/v1/partners", json={"key": "nobody"}, headers=h), 400)
    assert_problem(
        api.client.post("/v1/partners", json={"key": "dji", "oin": "123"}, headers=h), 400
    )
    assert_problem(
        api.client.post("/v1/partners", json={"key": "dji", "oin": KMAR_OIN}, headers=h), 409
    )
    assert api.client.get("/v1/partners/cjib", headers=h).status_code == 200
    assert_problem(api.client.get("/v1/partners/dji", headers=h), 404)


def test_credentials_listing_never_shows_tokens(api: Api) -> None:
    r = api.client.get("/v1/credentials", headers=api.h("operator"))
    text = r.text
    for token in api.tokens.values():
        assert token not in text
    r = api.client.post(
        "/v1/credentials", json={"role": "partner", "partner": "nobody"}, headers=api.h("operator")
    )
    assert_problem(r, 404)
    r = api.client.post("/v1/credentials", json={"role": "viewer"}, headers=api.h("operator"))
    assert_problem(r, 400)


def test_a_credentials_label_is_checked_as_a_reason_is_and_nothing_is_made(api: Api) -> None:
    """At most 200 characters, no control or invisible characters: a NUL and an escape
    sequence were taken (201); the CLI refuses the same."""
    h = api.h("operator")
    before = api.runtime.store.list_credentials()
    audit = len(api.runtime.store.audit_log(limit=1000))
    for label, why in (
        ("a\u0000b\u001b[31m", "control or invisible characters (U+0000)"),
        ("x\u202ey", "control or invisible characters (U+202E)"),
        ("x" * 201, "200 characters"),
    ):
        r = api.client.post(
            "/v1/credentials", json={"role": "viewer", "person": "lab", "label": label}, headers=h
        )
        assert_problem(r, 400)
        assert why in r.text, r.text
    assert api.runtime.store.list_credentials() == before
    assert len(api.runtime.store.audit_log(limit=1000)) == audit
    r = api.client.post(
        "/v1/credentials",
        json={"role": "viewer", "person": "lab", "label": "dashboards\tof the lab " + "x" * 178},
        headers=h,
    )
    assert r.status_code == 201, r.text


def test_a_rotation_keeps_a_label_kept_before_labels_were_checked(api: Api) -> None:
    """A credential whose label an older version kept unchecked can still be rotated."""
    import dataclasses

    old = api.runtime.store.list_credentials("politie")[0]
    api.runtime.store.add_credential(
        dataclasses.replace(
            old, id="cred-0000000000000001", token_hash="0" * 64, label="\x1b" * 300
        )
    )
    r = api.client.post(
        "/v1/credentials/cred-0000000000000001/rotations", headers=api.h("operator")
    )
    assert r.status_code == 201, r.text
    assert r.json()["credential"]["label"] == "\x1b" * 300


def test_webhook_setting_validates_the_url(api: Api) -> None:
    h = api.h("operator")
    assert_problem(
        api.client.put("/v1/partners/om/webhook", json={"url": "ftp://x"}, headers=h), 400
    )
    r = api.client.put("/v1/partners/om/webhook", json={"url": "http://127.0.0.1:9/h"}, headers=h)
    assert r.json()["webhookUrl"] == "http://127.0.0.1:9/h"
    for bad, why in (
        ("http://", "names a host"),
        ("https://:443/h", "names a host"),
        ("http://h:99999/x", "port is a number from 0 to 65535 (host 'h')"),
        ("http://h/a b", "no spaces or control characters"),
        ("http://h/\u0000", "no spaces or control characters"),
        ("http://[::1/x", "brackets hold an IPv6 address"),  # urlsplit's ValueError: was a 500
        ("http://host[x]/", "brackets hold an IPv6 address"),
        ("http://169.254.169.254/latest", "169.254.169.254 is a link-local"),  # a review set it
        ("http://[fe80::1]/h", "fe80::1 is a link-local"),
        ("http://0.0.0.0:8000/h", "unspecified"),
        # The same addresses written as a resolver also takes them (a review of c159eea).
        ("http://[::ffff:169.254.169.254]/", "is a link-local"),
        ("http://169.254.169.254./", "is a link-local"),
        ("http://2852039166/", "is a link-local"),
        ("http://0251.0376.0251.0376/", "is a link-local"),
        ("http://0/", "unspecified"),
    ):
        r = api.client.put("/v1/partners/om/webhook", json={"url": bad}, headers=h)
        assert_problem(r, 400)
        assert why in r.text, r.text
    secret = "https://om.example/hook?token=s3cr3t x"  # refused, and the secret not repeated
    r = api.client.put("/v1/partners/om/webhook", json={"url": secret}, headers=h)
    assert_problem(r, 400)
    assert "s3cr3t" not in r.text
    # still the last good one
    assert api.runtime.exchange.partner("om").webhook_url == "http://127.0.0.1:9/h"


def test_a_webhook_url_is_shown_to_operators_and_its_own_partner_only(api: Api) -> None:
    """It may carry the receiver's secret: any partner could read every partner's."""
    secret = "https://om.example/hook?key=abc123"
    h = api.h("operator")
    assert api.client.put("/v1/partners/om/webhook", json={"url": secret}, headers=h).is_success
    for who, shown in (("operator", secret), ("om", secret), ("politie", None), ("viewer", None)):
        listed = api.client.get("/v1/partners", headers=api.h(who)).json()
        assert {p["key"]: p["webhookUrl"] for p in listed}["om"] == shown, who
        one = api.client.get("/v1/partners/om", headers=api.h(who)).json()
        assert one["webhookUrl"] == shown, who
    # the audit names the host, not the secret
    [entry] = [a for a in api.runtime.store.audit_log(limit=50) if a.action == "webhook-set"]
    assert entry.detail == "https://om.example" and "abc123" not in str(entry)


def test_what_the_readme_gives_operators_only_is_refused_to_a_partner_and_a_viewer(
    api: Api,
) -> None:
    """The README's API table said `GET /v1/partners` was the operators', while a partner's
    token read it (200). Each GET in a row for operators alone is refused to the others."""
    import re

    readme = Path(__file__).resolve().parents[2] / "README.md"
    checked = []
    for line in readme.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) != 3 or cells[1] != "operator" or "/v1/" not in cells[0]:
            continue
        for span in re.findall(r"`([^`]+)`", cells[0]):
            methods, _, path = span.partition(" ")
            if "GET" not in methods.split("/") or "{" in path or "…" in path:
                continue
            path = path.split("?")[0]
            for who in ("politie", "viewer"):
                r = api.client.get(path, headers=api.h(who))
                assert r.status_code == 403, (span, who, r.status_code)
            checked.append(path)
    assert "/v1/credentials" in checked, checked  # the table was read


def test_chain_model_and_schemas_are_served(api: Api) -> None:
    chain = api.client.get("/v1/chain", headers=api.h("viewer")).json()
    assert len(chain["messageTypes"]) >= 15
    schema = api.client.get(f"/v1/chain/message-types/{PV_TYPE}/schema", headers=api.h("om"))
    assert schema.json()["type"] == "object"
    assert_problem(api.client.get("/v1/chain/message-types/x/schema", headers=api.h("om")), 404)


def test_openapi_is_public_versioned_and_lists_problem_json(api: Api) -> None:
    r = api.client.get("/v1/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["info"]["version"] == "0.1.0"
    post_events = doc["paths"]["/v1/events"]["post"]["responses"]
    assert "application/problem+json" in post_events["400"]["content"]
    assert "422" not in post_events
    assert {"bearer": []} in doc["paths"]["/v1/events"]["post"]["security"]
    assert "security" not in doc["paths"]["/v1/health"]["get"]


def test_trailing_slash_is_not_redirected(api: Api) -> None:
    r = api.client.get("/v1/health/", follow_redirects=False)
    assert r.status_code == 404


def test_docs_page_uses_only_local_assets(api: Api) -> None:
    import re

    r = api.client.get("/v1/docs")
    assert r.status_code == 200
    assert "/v1/docs/assets/swagger-ui-bundle.js" in r.text  # `make test` installs Swagger UI
    assert not re.findall(r"https?://", r.text)  # no CDN: every asset is served from here
    for url in re.findall(r'(?:src|href)="(/[^"]+)"', r.text):
        assert api.client.get(url).status_code == 200, url


def test_purge_route_is_for_operators_and_checks_its_input(api: Api) -> None:
    event = pv_event()
    post(api, "politie", event)
    [d] = pull(api, "om")
    api.client.post(
        "/v1/acknowledgements", json={"deliveryIds": [d["deliveryId"]]}, headers=api.h("om")
    )
    h = api.h("operator")
    assert_problem(api.client.post("/v1/purges", json={"olderThanDays": 0}, headers=h), 400)
    assert_problem(api.client.post("/v1/purges", json={}, headers=h), 400)
    assert_problem(
        api.client.post("/v1/purges", json={"olderThanDays": 1}, headers=api.h("viewer")), 403
    )
    # NaN was told it should be at most 36500 (a review): it is no finite number.
    for body, path in (
        ('{"olderThanDays": NaN}', "/v1/purges"),
        ('{"reason": "x", "retryAfter": NaN}', f"/v1/deliveries/{d['deliveryId']}/failures"),
    ):
        who = h if path == "/v1/purges" else api.h("om")
        r = api.client.post(path, content=body, headers={**who, "Content-Type": "application/json"})
        [problem] = assert_problem(r, 400)["problems"]
        assert problem["reason"] == "Input should be a finite number", (path, problem)
    clock = api.runtime.exchange.clock
    api.runtime.exchange.clock = lambda: clock() + 40 * 86_400
    r = api.client.post("/v1/purges", json={"olderThanDays": 30, "dryRun": True}, headers=h)
    assert r.status_code == 200 and r.json() == {"messages": 1, "dryRun": True}  # made nothing
    assert api.runtime.store.message(event["source"], event["id"]).body  # type: ignore[union-attr]
    assert [a for a in api.runtime.store.audit_log(limit=100) if a.action == "purged"] == []
    r = api.client.post("/v1/purges", json={"olderThanDays": 30}, headers=h)
    assert r.status_code == 201 and r.json() == {"messages": 1, "dryRun": False}
    assert api.runtime.store.message(event["source"], event["id"]).body == b""  # type: ignore[union-attr]
    assert post(api, "politie", event).json()["results"][0]["status"] == "duplicate"


def test_the_purge_route_documents_a_dry_run_as_200_and_a_purge_as_201(api: Api) -> None:
    responses = api.client.get("/v1/openapi.json").json()["paths"]["/v1/purges"]["post"][
        "responses"
    ]
    assert {"200", "201"} <= responses.keys()
    for status in ("200", "201"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/PurgeRead"}


def _police_bundle(api: Api) -> tuple[Any, Any]:
    """The police's outbox key, registered by an operator, and a first bundle signed with it
    (one proces-verbaal, sequence 1)."""
    from ketenherstel.outbox.bundle import build_bundle
    from ketenherstel.outbox.keys import generate_private_key, public_key_b64

    key = generate_private_key()
    r = api.client.put(
        "/v1/partners/politie/signing-key",
        json={"publicKey": public_key_b64(key)},
        headers=api.h("operator"),
    )
    assert r.status_code == 200
    bundle = build_bundle(
        private_key=key,
        source=POLITIE_SOURCE,
        events=[pv_event(sequence=1)],
        previous_digest=None,
        created_at="2025-08-01T10:00:00Z",
    )
    return key, bundle


def test_a_bundle_is_imported_over_http_and_a_bad_one_is_refused(api: Api) -> None:
    from ketenherstel.outbox.bundle import build_bundle

    key, bundle = _police_bundle(api)
    headers = {**api.h("politie"), "Content-Type": "application/vnd.ketenherstel.bundle"}
    bad = api.client.post("/v1/bundles", content=b"garbage", headers=headers)
    assert "malformed" in str(assert_problem(bad, 400)["problems"])
    viewer = {**api.h("viewer"), "Content-Type": "application/vnd.ketenherstel.bundle"}
    assert_problem(api.client.post("/v1/bundles", content=bundle.data, headers=viewer), 403)
    ok = api.client.post("/v1/bundles", content=bundle.data, headers=headers)
    assert ok.status_code == 201 and ok.json()["accepted"] == 1
    assert ok.json()["crlfLineEnds"] is False
    assert_problem(api.client.post("/v1/bundles", content=bundle.data, headers=headers), 409)
    # The same bundle with CRLF line ends (a courier's Windows machine): the same bundle.
    crlf = bundle.data.replace(b"\n", b"\r\n")
    assert_problem(api.client.post("/v1/bundles", content=crlf, headers=headers), 409)
    after = build_bundle(
        private_key=key,
        source=POLITIE_SOURCE,
        events=[pv_event(sequence=2)],
        previous_digest=bundle.digest,
        created_at="2025-08-02T10:00:00Z",
    )
    crlf = after.data.replace(b"\n", b"\r\n")
    ok = api.client.post("/v1/bundles", content=crlf, headers=headers)
    assert ok.status_code == 201, ok.text
    assert (ok.json()["accepted"], ok.json()["crlfLineEnds"]) == (1, True)


def test_a_bundle_sent_as_another_media_type_is_415_naming_the_bundle_type(api: Api) -> None:
    """POST /v1/bundles read any body as a bundle whatever its Content-Type said (text/plain,
    JSON, none at all): now only the type its OpenAPI document gives, other types 415 naming
    it, and nothing is imported (the same bundle sent as a bundle afterwards is new)."""
    from ketenherstel.exchange.bundles import BUNDLE_MEDIA_TYPE

    _key, bundle = _police_bundle(api)
    audited = api.runtime.store.audit_log(limit=1000)
    for ctype, named in [
        ("text/plain", "not as 'text/plain'"),
        ("application/json", "not as 'application/json'"),
        ("application/octet-stream", "not as 'application/octet-stream'"),
        ("application/x-ndjson", "not as 'application/x-ndjson'"),
        (None, "it came with no Content-Type"),
    ]:
        headers = {**api.h("politie"), **({"Content-Type": ctype} if ctype else {})}
        for body in (bundle.data, b""):
            refused = assert_problem(
                api.client.post("/v1/bundles", content=body, headers=headers), 415
            )
            assert refused["detail"] == f"send the bundle file as {BUNDLE_MEDIA_TYPE}, {named}"
    assert api.runtime.store.audit_log(limit=1000) == audited
    sent_as = {**api.h("politie"), "Content-Type": f"{BUNDLE_MEDIA_TYPE}; charset=utf-8"}
    ok = api.client.post("/v1/bundles", content=bundle.data, headers=sent_as)
    assert ok.status_code == 201 and ok.json()["accepted"] == 1, ok.text
    op = api.client.get("/v1/openapi.json").json()["paths"]["/v1/bundles"]["post"]
    assert list(op["requestBody"]["content"]) == [BUNDLE_MEDIA_TYPE]
    assert "415" in op["responses"] and BUNDLE_MEDIA_TYPE in op["description"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/acknowledgements", {"deliveryIds": [True]}, "deliveryIds"),
        ("/v1/acknowledgements", {"deliveryIds": ["8"]}, "deliveryIds"),
        ("/v1/acknowledgements", {"deliveryIds": [8.0]}, "deliveryIds"),
        ("/v1/purges", {"olderThanDays": 36500, "dryRun": "no"}, "dryRun"),
        ("/v1/purges", {"olderThanDays": 36500, "dryRun": 0}, "dryRun"),
        ("/v1/purges", {"olderThanDays": "0", "dryRun": True}, "olderThanDays"),
    ],
)
def test_a_json_value_of_the_wrong_type_is_refused_not_converted(
    api: Api, path: str, body: dict[str, Any], field: str
) -> None:
    """`true` was read as delivery 1 (and acknowledged it), "no" as a real purge."""
    who = "justid" if "acknowledgements" in path else "operator"
    r = api.client.post(path, json=body, headers=api.h(who))
    problem = assert_problem(r, 400)
    assert problem["problems"][0]["field"].startswith(f"body:{field}")
    assert not [a for a in api.runtime.store.audit_log(limit=100) if a.action == "purged"]
