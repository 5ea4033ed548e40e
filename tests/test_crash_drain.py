"""Crash test of a drain: OM was held, a backlog of thousands of police reports over many cases
waits for it, the channel opens, and the server is killed with SIGKILL while OM drains.

After a restart the drain finishes and, from the store and from what OM saw:

- every accepted message reached OM (nothing lost);
- every delivery is acknowledged exactly once in the store; only what OM had leased, but whose
  acknowledgement the exchange had not recorded at the kill, comes a second time (at-least-once);
- per case, OM first saw the messages in the order they were sent;
- nothing is left ready or leased.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from ketenherstel.exchange.auth import LOCAL_OPERATOR, Principal
from ketenherstel.settings import Settings
from tests.factories import POLITIE_SOURCE, pv_event
from tests.test_crash import Server, prepare

pytestmark = pytest.mark.slow

EVENTS = 3_000
CASES = 40  # 75 reports per case
BATCH = 100  # deliveries per pull; a case hands out one message at a time, so at most CASES
VISIBILITY = 2  # seconds: what the kill leaves leased comes back this soon after
KILL_AFTER = EVENTS // 3  # acknowledgements before the kill
POLITIE = Principal("politie", "partner", "politie", "token")
OM = Principal("om", "partner", "om", "token")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/drain.db"
        return
    dsn = request.getfixturevalue("pg_dsn")  # with CI=true a missing server fails
    schema = request.getfixturevalue("pg_schema")  # a fresh schema, dropped afterwards
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    # The server process gets only a URL: libpq's options put the schema on its search path.
    yield f"{dsn}{'&' if '?' in dsn else '?'}options=-csearch_path%3D{schema}"


def case_of(i: int) -> str:
    return f"10-{i % CASES:06d}-25"


def stage_held_backlog(store_url: str) -> list[dict[str, Any]]:
    """Hold the channel to OM, store the backlog (held: nothing goes out), then open it."""
    from ketenherstel.bootstrap import bootstrap

    events = [pv_event(case=case_of(i), sequence=i + 1) for i in range(EVENTS)]
    rt = bootstrap(Settings(store_url=store_url))
    try:
        ex = rt.exchange
        ex.set_channel(
            principal=LOCAL_OPERATOR,
            receiver="om",
            sender="*",
            scope="*",
            state="held",
            reason="OM dark: Citrix outage",
        )
        for start in range(0, EVENTS, 500):
            chunk = events[start : start + 500]
            assert ex.submit(principal=POLITIE, events=chunk).accepted == len(chunk)
        assert ex.pull(principal=OM, limit=1000) == [], "a held channel handed out a delivery"
        [queue] = [q for q in rt.store.queue_stats() if q.receiver == "om"]
        assert (queue.ready, queue.leased, queue.acked) == (EVENTS, 0, 0)
        ex.set_channel(
            principal=LOCAL_OPERATOR,
            receiver="om",
            sender="*",
            scope="*",
            state="open",
            reason="OM back: drain the backlog",
        )
    finally:
        rt.close()
    return events


@dataclass
class Receiver:
    """OM's consumer: pulls a batch, processes it, acknowledges it, and remembers everything.

    An acknowledgement that gets no answer is not retried: the exchange either recorded it (the
    deliveries never come back) or not (they come back when their lease ends).
    """

    token: str
    seen: list[tuple[str, str, int]] = field(default_factory=list)  # (id, partitionkey, seq)
    delivery_of: dict[str, int] = field(default_factory=dict)  # event id -> delivery id
    answers: dict[int, list[str]] = field(default_factory=dict)  # delivery id -> ack statuses
    unanswered: list[int] = field(default_factory=list)  # the batch whose ack got no answer
    acked: int = 0  # "acked" answers so far (read by the thread that kills the server)
    acking: threading.Event = field(default_factory=threading.Event)  # an ack is in flight

    def drain(self, server: Server, *, until: float, deadline: float) -> bool:
        """Drain until a pull after `until` comes back empty; False if the server went away."""
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=5) as client:
            while True:
                assert time.monotonic() < deadline, "the drain did not finish in time"
                try:
                    page = client.get(
                        "/v1/deliveries", params={"limit": BATCH, "visibilityTimeout": VISIBILITY}
                    )
                    page.raise_for_status()
                    batch = page.json()["deliveries"]
                    if not batch:
                        if time.monotonic() >= until:
                            return True
                        time.sleep(0.1)  # leases the kill left behind have not ended yet
                        continue
                    cases = [d["event"]["partitionkey"] for d in batch]
                    assert len(cases) == len(set(cases)), "a case handed out two messages at once"
                    for d in batch:
                        event = d["event"]
                        self.seen.append(
                            (event["id"], event["partitionkey"], int(event["sequence"]))
                        )
                        previous = self.delivery_of.setdefault(event["id"], d["deliveryId"])
                        assert previous == d["deliveryId"], "a message got a second delivery"
                    self.unanswered = [d["deliveryId"] for d in batch]
                    self.acking.set()
                    answer = client.post(
                        "/v1/acknowledgements", json={"deliveryIds": self.unanswered}
                    )
                    self.acking.clear()
                    answer.raise_for_status()
                except httpx.HTTPError:
                    return False
                for result in answer.json()["results"]:
                    self.answers.setdefault(result["deliveryId"], []).append(result["status"])
                    self.acked += result["status"] == "acked"
                self.unanswered = []


def kill_during_an_ack(server: Server, receiver: Receiver, acks: int, killed: list[float]) -> None:
    """SIGKILL the server while OM's next acknowledgement after `acks` is in flight: a little
    before or after the exchange records it, so either outcome is tested over many runs."""
    deadline = time.monotonic() + 60
    while receiver.acked < acks and time.monotonic() < deadline:
        time.sleep(0.001)
    receiver.acking.wait(timeout=10)
    time.sleep(random.uniform(0, 0.01))
    server.kill()
    killed.append(time.monotonic())


def test_killing_the_server_while_om_drains_a_held_backlog_loses_and_repeats_nothing(
    store_url: str,
) -> None:
    tokens = prepare(store_url)
    events = stage_held_backlog(store_url)
    server = Server(store_url)
    om = Receiver(tokens["om"])
    killed: list[float] = []
    server.start()
    try:
        killer = threading.Thread(
            target=kill_during_an_ack, args=(server, om, KILL_AFTER, killed), daemon=True
        )
        killer.start()
        finished = om.drain(server, until=float("inf"), deadline=time.monotonic() + 60)
        killer.join(timeout=30)
        assert not finished and killed, "the drain was not interrupted by the kill"
        assert server.proc is not None and server.proc.returncode == -signal.SIGKILL
        assert KILL_AFTER <= om.acked < EVENTS, "the kill did not land mid-drain"
        in_flight = set(om.unanswered)  # OM's answer was lost; the exchange may have it or not
        om.unanswered = []

        server.start()
        # Done when a pull comes back empty after every lease taken before the kill has ended.
        assert om.drain(
            server, until=killed[0] + VISIBILITY + 0.5, deadline=time.monotonic() + 60
        ), "the server went away during the second drain"
    finally:
        server.stop()

    ids = [e["id"] for e in events]
    seen_ids = [ident for ident, _, _ in om.seen]

    # Nothing lost: OM saw every accepted message.
    assert set(seen_ids) == set(ids), f"{len(set(ids) - set(seen_ids))} messages never reached OM"

    # At-least-once, no more: only the batch OM had leased and whose acknowledgement got no
    # answer may come again, once, and then all of it (an acknowledgement is recorded whole or
    # not at all).
    again = Counter(seen_ids) - Counter(set(seen_ids))
    assert all(n == 1 for n in again.values()), "a message came more than twice"
    redelivered = {om.delivery_of[i] for i in again}
    assert redelivered in (set(), in_flight), (
        f"{len(redelivered - in_flight)} deliveries came again although their acknowledgement "
        f"was answered; {len(in_flight - redelivered)} of the unanswered batch did not"
    )

    # Every delivery was acknowledged once: one "acked" answer each, except a delivery of the
    # batch in flight whose acknowledgement the exchange recorded just before the kill.
    for ident in ids:
        answers = om.answers.get(om.delivery_of[ident], [])
        assert answers in (["acked"], []), (ident, answers)
        if not answers:
            assert om.delivery_of[ident] in in_flight and ident not in again, ident

    # Per case, first seen in the order sent, and never back to an earlier message except to
    # repeat the one in flight at the kill (sequence numbers rise within a case).
    per_case: dict[str, list[tuple[str, int]]] = {}
    for ident, key, sequence in om.seen:
        per_case.setdefault(key, []).append((ident, sequence))
    for key, delivered in per_case.items():
        sequences = [s for _, s in delivered]
        assert sequences == sorted(sequences), f"case {key} was delivered out of order"
        first_seen = list(dict.fromkeys(i for i, _ in delivered))
        assert first_seen == [e["id"] for e in events if e["partitionkey"] == key], key

    # The store agrees: each message has one delivery to OM, acknowledged once, and the queue
    # holds nothing ready or leased.
    from ketenherstel.store import open_store

    store = open_store(store_url)
    try:
        for ident in ids:
            message = store.message(POLITIE_SOURCE, ident)
            assert message is not None, f"{ident} is not in the store"
            [delivery] = store.deliveries_of(message.position)
            assert (delivery.receiver, delivery.state) == ("om", "acked"), ident
            acks = [e for e in store.trail(message.position) if e.event == "acked"]
            assert len(acks) == 1, f"{ident} was acknowledged {len(acks)} times"
        [queue] = [q for q in store.queue_stats() if q.receiver == "om"]
        assert (queue.ready, queue.leased, queue.acked, queue.dead) == (0, 0, EVENTS, 0)
    finally:
        store.close()
