"""Forwarding to a real exchange served over HTTP: in order, kept while unreachable, once."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import orjson

from ketenherstel.client import ExchangeClient
from ketenherstel.outbox.agent import ForwardResult, Outbox
from tests.outbox.conftest import OM_SOURCE, LiveExchange, closed_port, summons


def states(outbox: Outbox) -> list[str]:
    return [m.state for m in outbox.store.all_messages(OM_SOURCE)]


def exchange_sequences(exchange: LiveExchange, ids: list[str]) -> list[int]:
    """The sequence the exchange stored for each id, in the order the exchange accepted them."""
    records = [exchange.stored(OM_SOURCE, ident) for ident in ids]
    assert all(r is not None for r in records), "a message did not reach the exchange"
    return [r.sequence for r in sorted(records, key=lambda r: r.position)]


def test_pending_messages_reach_the_exchange_in_sequence_order(
    outbox: Outbox, exchange: LiveExchange
) -> None:
    ids = [w.id for w in outbox.write([summons(case=f"10-00000{i}-25") for i in range(7)])]
    with ExchangeClient(exchange.url, exchange.token) as client:
        result = outbox.forward_once(client, batch_size=3)
    assert (result.status, result.forwarded, result.pending) == ("forwarded", 7, 0)
    assert exchange_sequences(exchange, ids) == [1, 2, 3, 4, 5, 6, 7]
    state = exchange.runtime.store.sequence_state(OM_SOURCE)
    assert state is not None and (state.contiguous, state.gaps) == (7, ())
    assert states(outbox) == ["forwarded"] * 7
    status = outbox.status()
    assert status.reachable is True and status.sources[0].last_forwarded == 7


def test_nothing_pending_is_idle(outbox: Outbox, exchange: LiveExchange) -> None:
    with ExchangeClient(exchange.url, exchange.token) as client:
        assert outbox.forward_once(client).status == "idle"


def test_an_unreachable_exchange_keeps_everything_pending_and_later_gets_it_in_order(
    outbox: Outbox, exchange: LiveExchange
) -> None:
    ids = [w.id for w in outbox.write([summons() for _ in range(3)])]
    with ExchangeClient(f"http://127.0.0.1:{closed_port()}", exchange.token, timeout=2) as dead:
        result = outbox.forward_once(dead)
        ids += [w.id for w in outbox.write([summons() for _ in range(2)])]
        assert outbox.forward_once(dead).status == "unreachable"
    assert (result.status, result.forwarded, result.pending) == ("unreachable", 0, 3)
    assert "cannot reach the exchange" in (result.detail or "")
    assert states(outbox) == ["pending"] * 5
    assert outbox.status().reachable is False
    assert all(exchange.stored(OM_SOURCE, i) is None for i in ids)

    with ExchangeClient(exchange.url, exchange.token) as client:
        assert outbox.forward_once(client).forwarded == 5
    assert exchange_sequences(exchange, ids) == [1, 2, 3, 4, 5]
    assert outbox.status().reachable is True


def test_a_refusal_stops_forwarding_keeps_the_messages_and_says_why(
    outbox: Outbox, exchange: LiveExchange
) -> None:
    outbox.write([summons(), summons()])
    with ExchangeClient(exchange.url, "kh_not-a-token") as client:
        result = outbox.forward_once(client)
    assert result.status == "refused" and result.http_status == 401
    assert "the exchange refused the batch: 401" in (result.detail or "")
    assert states(outbox) == ["pending", "pending"]
    assert outbox.status().last_problem == result.detail


def test_a_conflict_at_the_exchange_names_the_message(
    outbox: Outbox, exchange: LiveExchange
) -> None:
    [written] = outbox.write([summons(ident="taken")])
    other = {**summons(ident="taken", subject="10-999999-25"), "source": OM_SOURCE}
    with ExchangeClient(exchange.url, exchange.token) as client:
        client.submit([{**other, "sequence": "1", "sequencetype": "Integer"}])
        result = outbox.forward_once(client)
    assert result.status == "refused" and result.http_status == 409
    assert f"{OM_SOURCE} sequence {written.sequence} (id taken)" in (result.detail or "")
    assert states(outbox) == ["pending"]


class LosingAnswers(httpx.BaseTransport):
    """Delivers each request to the real exchange, but loses the first `n` answers."""

    def __init__(self, n: int) -> None:
        self.inner = httpx.HTTPTransport()
        self.n = n

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        if self.n > 0:
            self.n -= 1
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_lost_answer_is_sent_again_and_the_exchange_keeps_one_copy(
    outbox: Outbox, exchange: LiveExchange
) -> None:
    ids = [w.id for w in outbox.write([summons(), summons()])]
    transport = LosingAnswers(1)
    with ExchangeClient(exchange.url, exchange.token, transport=transport) as client:
        assert outbox.forward_once(client).status == "unreachable"
        assert states(outbox) == ["pending", "pending"]  # stored there, not known here
        again = outbox.forward_once(client)
    assert (again.status, again.forwarded, again.duplicates) == ("forwarded", 2, 2)
    assert exchange_sequences(exchange, ids) == [1, 2]


def test_a_server_error_or_throttling_is_retried_later(outbox: Outbox) -> None:
    outbox.write([summons()])
    for status in (503, 429):
        transport = httpx.MockTransport(
            lambda request, s=status: httpx.Response(s, json={"title": "busy"})
        )
        with ExchangeClient("http://exchange.invalid", "t", transport=transport) as client:
            result = outbox.forward_once(client)
        assert (result.status, result.http_status) == ("unreachable", status)
    assert states(outbox) == ["pending"]


def test_run_forwards_until_stopped(outbox: Outbox, exchange: LiveExchange) -> None:
    outbox.write([summons()])
    stop = threading.Event()
    seen: list[ForwardResult] = []

    def collect(result: ForwardResult) -> None:
        seen.append(result)
        if len(seen) == 1:
            outbox.write([summons()])
        if len(seen) >= 3:
            stop.set()

    with ExchangeClient(exchange.url, exchange.token) as client:
        runner = threading.Thread(
            target=outbox.run,
            kwargs={"client": client, "interval": 0.05, "stop": stop, "on_result": collect},
        )
        runner.start()
        runner.join(timeout=30)
    assert not runner.is_alive()
    assert [r.status for r in seen][:2] == ["forwarded", "forwarded"]
    assert states(outbox) == ["forwarded", "forwarded"]


def test_the_exchange_answer_is_summed_over_batches(outbox: Outbox) -> None:
    outbox.write([summons() for _ in range(5)])
    calls: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body: Any = orjson.loads(request.content)
        calls.append(len(body) if isinstance(body, list) else 1)
        return httpx.Response(201, json={"accepted": 1, "duplicates": 0, "sequenceGaps": []})

    transport = httpx.MockTransport(answer)
    with ExchangeClient("http://exchange.invalid", "t", transport=transport) as client:
        result = outbox.forward_once(client, batch_size=2)
    assert calls == [2, 2, 1]
    assert result.forwarded == 5
