"""The outbox's local HTTP endpoint, over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import orjson
import pytest

from ketenherstel.outbox.agent import Outbox
from ketenherstel.outbox.http import OutboxServerThread
from tests.factories import given_twice
from tests.outbox.conftest import OM_SOURCE, summons


@pytest.fixture
def local(outbox: Outbox) -> Iterator[httpx.Client]:
    with (
        OutboxServerThread(outbox, port=0) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        yield client


def test_it_binds_to_loopback_by_default(outbox: Outbox) -> None:
    with OutboxServerThread(outbox, port=0) as server:
        assert server.url.startswith("http://127.0.0.1:")


def test_a_single_event_and_a_batch_get_their_sequences(local: httpx.Client) -> None:
    one = local.post("/events", content=orjson.dumps(summons(ident="a")))
    assert one.status_code == 201
    assert one.json()["results"] == [
        {"index": 0, "id": "a", "source": OM_SOURCE, "sequence": 1, "status": "written"}
    ]
    batch = local.post("/events", json=[summons(ident="b"), summons(ident="c")])
    assert [r["sequence"] for r in batch.json()["results"]] == [2, 3]


def test_sending_the_same_event_again_answers_200_with_its_sequence(local: httpx.Client) -> None:
    event = summons(ident="a")
    local.post("/events", json=event)
    again = local.post("/events", json=event)
    assert again.status_code == 200
    [result] = again.json()["results"]
    assert (result["sequence"], result["status"]) == (1, "duplicate")


def test_bad_input_lists_every_problem_and_changes_nothing(
    local: httpx.Client, outbox: Outbox
) -> None:
    response = local.post("/events", json=[summons(), summons(type="x.v1"), {"id": 1}])
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problems = response.json()["problems"]
    assert {p["index"] for p in problems} == {1, 2}
    assert outbox.status().pending == 0
    broken = local.post("/events", content=b"{not json")
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["detail"]


def test_a_key_given_twice_is_refused_naming_event_and_key_and_nothing_is_written(
    local: httpx.Client, outbox: Outbox
) -> None:
    """orjson kept the second value: the outbox wrote the event as if the first had never
    been in the body."""
    twice = given_twice(orjson.dumps(summons()), "parketnummer", "10-999999-25")
    response = local.post("/events", content=b"[" + orjson.dumps(summons()) + b"," + twice + b"]")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    doc = response.json()
    assert doc["detail"] == (
        "the body gives a key twice in one object (give each key once); nothing was written"
    )
    assert doc["problems"] == [
        {
            "index": 1,
            "field": "data",
            "reason": "the key 'parketnummer' appears twice in the object at data",
        }
    ]
    single = local.post("/events", content=given_twice(orjson.dumps(summons()), "id", "x"))
    assert single.status_code == 400
    assert single.json()["problems"] == [
        {"index": None, "field": "", "reason": "the key 'id' appears twice in the top-level object"}
    ]
    assert outbox.status().pending == 0


def test_a_refused_post_says_the_connection_closes_and_the_next_request_works(
    local: httpx.Client,
) -> None:
    # The server drops the connection after a refused POST (an unread body must not be read as
    # the next request). Unless it says so, the client sends its next request into the closing
    # socket and gets "server disconnected".
    for _ in range(30):
        refused = local.post("/events", content=b"{not json")
        assert refused.status_code == 400
        assert refused.headers["connection"] == "close"
        assert local.get("/health").json() == {"status": "ok"}


def test_an_id_reused_with_another_body_is_409(local: httpx.Client, outbox: Outbox) -> None:
    local.post("/events", json=summons(ident="a"))
    response = local.post("/events", json=summons(ident="a", subject="10-999999-25"))
    assert response.status_code == 409
    assert "written before" in response.json()["problems"][0]["reason"]
    assert outbox.status().pending == 1


def test_status_reports_pending_messages(local: httpx.Client) -> None:
    local.post("/events", json=[summons(), summons()])
    status = local.get("/status").json()
    assert status["pending"] == 2
    assert status["sources"][0]["lastSequence"] == 2
    assert local.get("/health").json() == {"status": "ok"}
    assert local.get("/nowhere").status_code == 404


def test_with_a_token_only_callers_that_send_it_get_in(outbox: Outbox) -> None:
    with OutboxServerThread(outbox, port=0, token="s3cret") as server:
        assert httpx.get(server.url + "/status").status_code == 401
        response = httpx.post(
            server.url + "/events",
            json=summons(),
            headers={"Authorization": "Bearer s3cret"},
        )
        assert response.status_code == 201
        assert httpx.post(server.url + "/events", json=summons()).status_code == 401
    assert outbox.status().pending == 1
