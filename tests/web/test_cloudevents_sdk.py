"""Interoperability with the official CloudEvents Python SDK (`cloudevents` 2.x).

Events are built with the SDK and sent, as the SDK encodes them, to a real server over HTTP in
structured, binary and batch mode; what the exchange stores and what a receiver pulls is read back
with the SDK and compared attribute for attribute, data included.

The SDK has no batch encoder, so a batch is the JSON array of the SDK's own structured encodings
(the JSON event format), sent as `application/cloudevents-batch+json`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from cloudevents.v1 import http as ce_v1_http

from ketenherstel.bootstrap import Runtime, bootstrap
from ketenherstel.exchange.auth import LOCAL_OPERATOR
from ketenherstel.settings import Settings
from ketenherstel.web.server import ServerThread

POLITIE_OIN = "00000001003214345000"
PV = "nl.strafrechtketen.opsporing.proces-verbaal-ingezonden.v1"
BATCH = "application/cloudevents-batch+json"
FORMAT = JSONFormat()


@dataclass
class Exchange:
    runtime: Runtime
    politie: httpx.Client
    om: httpx.Client

    def stored(self, event: BaseCloudEvent) -> BaseCloudEvent:
        """The event as the exchange stored it, read with the SDK."""
        record = self.runtime.store.message(event.get_source(), event.get_id())
        assert record is not None, f"{event.get_id()} was not stored"
        return FORMAT.read(None, record.body)

    def pull(self) -> list[dict[str, Any]]:
        response = self.om.get("/v1/deliveries", params={"limit": 100})
        assert response.status_code == 200, response.text
        deliveries: list[dict[str, Any]] = response.json()["deliveries"]
        return deliveries


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[Exchange]:
    runtime = bootstrap(Settings(store_url=str(tmp_path / "x.db")))
    try:
        tokens = {}
        for key in ("politie", "om"):
            runtime.exchange.register_partner(principal=LOCAL_OPERATOR, key=key)
            tokens[key], _ = runtime.exchange.create_token(
                principal=LOCAL_OPERATOR, role="partner", partner=key
            )
        with (
            ServerThread(runtime) as server,
            httpx.Client(
                base_url=server.url,
                headers={"Authorization": f"Bearer {tokens['politie']}"},
                timeout=20,
            ) as politie,
            httpx.Client(
                base_url=server.url,
                headers={"Authorization": f"Bearer {tokens['om']}"},
                timeout=20,
            ) as om,
        ):
            yield Exchange(runtime, politie, om)
    finally:
        runtime.close()


def sdk_event(n: int, **overrides: Any) -> CloudEvent:
    """A 'proces-verbaal ingezonden' built with the SDK, with the NL GOV profile's extensions."""
    case = f"SKN-{n:010d}"
    attributes: dict[str, Any] = {
        "specversion": "1.0",
        "id": f"pv-sdk-{n}",
        "source": f"urn:nld:oin:{POLITIE_OIN}:systeem:bvh",
        "type": PV,
        "subject": case,
        "time": datetime(2025, 7, 17, 21, n % 60, 0, 125000, tzinfo=UTC),
        "datacontenttype": "application/json",
        "dataschema": f"urn:nld:strafrechtketen:schema:{PV}",
        "partitionkey": case,
        "sequence": n,
        "sequencetype": "Integer",
    }
    attributes.update(overrides)
    data = {
        "policeCaseNumber": f"PL0900-{2025000000 + n}",
        "parketnummer": f"09-{n:06d}-25",
        "skn": case,
        "completedAt": "2025-07-17T20:30:00+02:00",
        "offences": [
            {"article": "art. 310 Sr", "category": "vermogen"},
            {"article": "art. 300 Sr", "category": "geweld"},
        ],
        "suspectDetained": n % 2 == 0,
        "victimCount": n,
    }
    return CloudEvent(attributes=attributes, data=data)


def post(client: httpx.Client, message: ce_http.HTTPMessage) -> dict[str, Any]:
    response = client.post("/v1/events", headers=message.headers, content=message.body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def assert_same(got: BaseCloudEvent, sent: BaseCloudEvent) -> None:
    assert got.get_attributes() == sent.get_attributes()
    assert got.get_data() == sent.get_data()


def read_delivery(delivery: dict[str, Any]) -> BaseCloudEvent:
    """A pulled event read with the SDK as a structured-mode message."""
    message = ce_http.HTTPMessage(
        headers={"content-type": FORMAT.get_content_type()}, body=orjson.dumps(delivery["event"])
    )
    return ce_http.from_http(message, FORMAT)


# -- the SDK sends ------------------------------------------------------------------------------


def test_sdk_structured_mode_event_is_accepted_and_stored_attribute_for_attribute(
    exchange: Exchange,
) -> None:
    sent = sdk_event(1)
    message = ce_http.to_structured(sent, FORMAT)
    assert message.headers["content-type"] == "application/cloudevents+json"

    result = post(exchange.politie, message)

    assert result["accepted"] == 1
    assert result["results"][0]["id"] == sent.get_id()
    assert_same(exchange.stored(sent), sent)
    record = exchange.runtime.store.message(sent.get_source(), sent.get_id())
    assert record is not None
    assert (record.partitionkey, record.sequence) == ("SKN-0000000001", 1)


def test_sdk_binary_mode_event_is_accepted_and_stored_attribute_for_attribute(
    exchange: Exchange,
) -> None:
    sent = sdk_event(2)
    message = ce_http.to_binary(sent, FORMAT)
    assert message.headers["ce-partitionkey"] == "SKN-0000000002"
    assert message.headers["content-type"] == "application/json"

    result = post(exchange.politie, message)

    assert result["accepted"] == 1
    # Binary mode carries every attribute as a header string, so the SDK's own reading of the
    # message it sent is the reference (it has `sequence` as the string "2").
    as_sdk_reads_it = ce_http.from_binary(message, FORMAT)
    assert_same(exchange.stored(sent), as_sdk_reads_it)
    record = exchange.runtime.store.message(sent.get_source(), sent.get_id())
    assert record is not None
    assert (record.partitionkey, record.sequence) == ("SKN-0000000002", 2)


def test_sdk_binary_mode_percent_encoded_attribute_values_are_decoded(
    exchange: Exchange,
) -> None:
    sent = sdk_event(3, subject="zaak 09/000003-25 \u201cDen Haag\u201d 100%")
    message = ce_http.to_binary(sent, FORMAT)
    assert message.headers["ce-subject"] != sent.get_subject()  # the SDK did encode it

    post(exchange.politie, message)

    assert exchange.stored(sent).get_subject() == sent.get_subject()


def test_sdk_binary_mode_datacontenttype_keeps_its_parameters(exchange: Exchange) -> None:
    sent = sdk_event(14, datacontenttype="application/json; charset=utf-8")
    message = ce_http.to_binary(sent, FORMAT)

    post(exchange.politie, message)

    assert_same(exchange.stored(sent), ce_http.from_binary(message, FORMAT))


def test_sdk_events_sent_as_a_batch_are_accepted_and_stored_attribute_for_attribute(
    exchange: Exchange,
) -> None:
    sent = [sdk_event(n) for n in range(4, 9)]
    body = b"[" + b",".join(FORMAT.write(event) for event in sent) + b"]"

    response = exchange.politie.post("/v1/events", headers={"Content-Type": BATCH}, content=body)

    assert response.status_code == 201, response.text
    result = response.json()
    assert result["accepted"] == len(sent)
    assert [r["id"] for r in result["results"]] == [e.get_id() for e in sent]
    for event in sent:
        assert_same(exchange.stored(event), event)


def test_sdk_structured_resend_of_the_same_event_is_a_duplicate_not_a_conflict(
    exchange: Exchange,
) -> None:
    sent = sdk_event(9)
    post(exchange.politie, ce_http.to_structured(sent, FORMAT))

    again = exchange.politie.post(
        "/v1/events",
        headers={"Content-Type": BATCH},
        content=b"[" + FORMAT.write(sent) + b"]",
    )

    assert again.status_code == 200, again.text
    assert again.json()["duplicates"] == 1


# -- the SDK reads what we deliver -------------------------------------------------------------


def test_pulled_events_parse_with_the_sdk_into_what_was_sent(exchange: Exchange) -> None:
    structured = sdk_event(10)
    binary = sdk_event(11)
    batch = [sdk_event(12), sdk_event(13)]
    post(exchange.politie, ce_http.to_structured(structured, FORMAT))
    binary_message = ce_http.to_binary(binary, FORMAT)
    post(exchange.politie, binary_message)
    response = exchange.politie.post(
        "/v1/events",
        headers={"Content-Type": BATCH},
        content=b"[" + b",".join(FORMAT.write(e) for e in batch) + b"]",
    )
    assert response.status_code == 201, response.text
    expected = {
        e.get_id(): e for e in [structured, ce_http.from_binary(binary_message, FORMAT), *batch]
    }

    deliveries = exchange.pull()

    received = {e.get_id(): e for e in map(read_delivery, deliveries)}
    assert received.keys() == expected.keys()
    for ident, event in received.items():
        assert_same(event, expected[ident])
        assert event.get_extension("partitionkey") == expected[ident].get_subject()
        assert int(event.get_extension("sequence")) == int(ident.rsplit("-", 1)[1])
        assert event.get_extension("sequencetype") == "Integer"


def test_pulled_events_parse_with_the_sdk_v1_api(exchange: Exchange) -> None:
    sent = sdk_event(20)
    post(exchange.politie, ce_http.to_structured(sent, FORMAT))

    (delivery,) = exchange.pull()

    from_dict = ce_v1_http.from_dict(delivery["event"])
    from_json = ce_v1_http.from_json(orjson.dumps(delivery["event"]))
    for event in (from_dict, from_json):
        assert event["id"] == sent.get_id()
        assert event["source"] == sent.get_source()
        assert event["type"] == PV
        assert event["subject"] == sent.get_subject()
        assert event["datacontenttype"] == "application/json"
        assert event["dataschema"] == sent.get_dataschema()
        assert event["partitionkey"] == sent.get_extension("partitionkey")
        assert event["sequence"] == 20
        assert event["sequencetype"] == "Integer"
        assert datetime.fromisoformat(event["time"]) == sent.get_time()
        assert event.get_data() == sent.get_data()
