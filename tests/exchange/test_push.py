"""Push delivery to a partner's webhook: a real HTTP receiver on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest

from ketenherstel.bootstrap import Runtime, bootstrap
from ketenherstel.exchange.auth import LOCAL_OPERATOR, Principal
from ketenherstel.exchange.push import Pusher
from ketenherstel.exchange.service import ExchangeSettings
from ketenherstel.settings import Settings
from tests.factories import pv_event


class Receiver:
    """A webhook that fails the first `failures` calls, then answers 204."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[dict[str, object]] = []
        self.headers: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.failures > 0:
                    outer.failures -= 1
                    self.send_response(503)
                else:
                    outer.received.append(orjson.loads(body))
                    outer.headers.append(dict(self.headers))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = bootstrap(
        Settings(store_url=str(tmp_path / "p.db"), exchange=ExchangeSettings(max_attempts=3))
    )
    for key in ("politie", "om"):
        runtime.exchange.register_partner(principal=LOCAL_OPERATOR, key=key)
    yield runtime
    runtime.close()


POLITIE = Principal("politie", "partner", "politie", "token")


def test_webhook_gets_each_delivery_in_order_and_it_is_acked(rt: Runtime) -> None:
    hook = Receiver()
    try:
        rt.exchange.set_webhook(principal=LOCAL_OPERATOR, key="om", url=hook.url)
        events = [pv_event(case="10-000001-25") for _ in range(3)]
        rt.exchange.submit(principal=POLITIE, events=events)
        pusher = Pusher(rt.exchange)
        total = 0
        for _ in range(5):
            total += pusher.push_once()
        pusher.close()
        assert total == 3
        assert [e["id"] for e in hook.received] == [e["id"] for e in events]
        assert hook.headers[0]["Content-Type"] == "application/cloudevents+json"
        [q] = rt.store.queue_stats()
        assert (q.acked, q.ready, q.leased) == (3, 0, 0)
    finally:
        hook.close()


def test_failing_webhook_is_retried_with_backoff_then_dead_lettered(rt: Runtime) -> None:
    hook = Receiver(failures=100)
    clock = [1_000.0]
    rt.exchange.clock = lambda: clock[0]
    try:
        rt.exchange.set_webhook(principal=LOCAL_OPERATOR, key="om", url=hook.url)
        rt.exchange.submit(principal=POLITIE, events=[pv_event()])
        pusher = Pusher(rt.exchange)
        assert pusher.push_once() == 0
        [d] = rt.store.deliveries_of(1)
        assert d.state == "ready" and d.not_before > clock[0]  # backoff before the retry
        assert pusher.push_once() == 0  # not yet due: nothing is sent
        assert rt.store.deliveries_of(1)[0].attempts == 1
        for _ in range(3):
            clock[0] += 10_000
            pusher.push_once()
        pusher.close()
        [dead] = rt.store.dead_letters(receiver="om", limit=10)
        assert "503" in (dead.last_error or "")
        assert hook.received == []
    finally:
        hook.close()


def test_unreachable_webhook_reports_the_failure(rt: Runtime) -> None:
    rt.exchange.set_webhook(principal=LOCAL_OPERATOR, key="om", url="http://127.0.0.1:9/none")
    rt.exchange.submit(principal=POLITIE, events=[pv_event()])
    pusher = Pusher(rt.exchange, timeout=2)
    assert pusher.push_once() == 0
    pusher.close()
    [d] = rt.store.deliveries_of(1)
    assert "unreachable" in (d.last_error or "")
