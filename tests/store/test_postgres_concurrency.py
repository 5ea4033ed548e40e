"""Several exchange nodes on one PostgreSQL: accepts and acks race on the same cases, and every
case still has exactly one head, comes out in order, and loses nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from ketenherstel.store.ports import AcceptRequest, LeaseParams, Store
from ketenherstel.store.postgres import PostgresStore
from tests.store.test_contract import msg

pytestmark = pytest.mark.postgres

CASES = 8


@pytest.fixture
def nodes(pg_dsn: str, pg_schema: str) -> Iterator[list[Store]]:
    stores: list[Store] = [PostgresStore(pg_dsn, schema=pg_schema) for _ in range(3)]
    stores[0].migrate()
    yield stores
    for s in stores:
        s.close()


def lease_params(now: float) -> LeaseParams:
    return LeaseParams("om", 20, now, 30.0, 1000, 1e9, "om")


def test_concurrent_accepts_and_acks_keep_one_head_per_case(nodes: list[Store]) -> None:
    writer_a, writer_b, reader = nodes
    errors: list[BaseException] = []
    acked: list[str] = []
    done = threading.Event()

    def write(store: Store, prefix: str) -> None:
        try:
            for i in range(40):
                batch = [msg(f"{prefix}{i}-{c}", key=f"case-{c}") for c in range(CASES)]
                store.accept([AcceptRequest(batch)], now=float(i))
        except BaseException as exc:
            errors.append(exc)

    def consume() -> None:
        try:
            while True:
                got = reader.lease(lease_params(1_000.0))
                if got:
                    reader.ack(
                        receiver="om",
                        delivery_ids=[d.delivery_id for d in got],
                        now=1.0,
                        actor="om",
                    )
                    acked.extend(d.id for d in got)
                elif done.is_set():
                    return
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(writer_a, "a")),
        threading.Thread(target=write, args=(writer_b, "b")),
    ]
    consumer = threading.Thread(target=consume)
    for t in threads:
        t.start()
    consumer.start()
    for t in threads:
        t.join()
    done.set()
    consumer.join(timeout=60)
    assert not errors, errors
    # Nothing stuck: whatever the consumer did not get is still deliverable, one head per case.
    while got := reader.lease(lease_params(2_000.0)):
        reader.ack(receiver="om", delivery_ids=[d.delivery_id for d in got], now=2.0, actor="om")
        acked.extend(d.id for d in got)
    assert sorted(acked) == sorted(
        f"{p}{i}-{c}" for p in "ab" for i in range(40) for c in range(CASES)
    )
    assert len(acked) == len(set(acked))
    heads = reader._conn.execute(  # type: ignore[attr-defined]
        "SELECT count(*) FROM deliveries WHERE state IN ('ready', 'leased')"
    ).fetchone()
    assert heads == (0,)
    # Per case, each writer's events came out in the order that writer sent them.
    for case in range(CASES):
        for p in "ab":
            seen = [
                int(x[1:].split("-")[0])
                for x in acked
                if x.startswith(p) and x.endswith(f"-{case}")
            ]
            assert seen == sorted(seen)
