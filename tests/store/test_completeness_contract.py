"""The completeness part of the store contract: per source, the watermark below which a
receiver misses nothing, its event time, the gaps and what still waits (decision 0010)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from ketenherstel.store.ports import AcceptRequest, NewMessage, Store
from tests.store.test_contract import SRC, lease, msg


def timed(message: NewMessage, at: str) -> NewMessage:
    return dataclasses.replace(message, time=at)


class CompletenessContract:
    def test_watermark_gaps_and_waiting(self, store: Store) -> None:
        assert store.completeness("om", ["politie"]) == []
        store.accept(
            [
                AcceptRequest(
                    [
                        timed(msg("a", seq=1, key="c1"), "2025-07-17T19:00:00Z"),
                        timed(
                            msg("b", seq=2, key="c2", receivers=("justid",)), "2025-07-17T19:30:00Z"
                        ),
                        timed(msg("c", seq=3, key="c3"), "2025-07-17T20:00:00Z"),
                        timed(msg("e", seq=5, key="c5"), "2025-07-17T21:00:00Z"),
                    ]
                )
            ],
            now=10.0,
        )
        (row,) = store.completeness("om", ["politie"])
        assert (row.source, row.sender, row.contiguous, row.max_seen) == (SRC, "politie", 3, 5)
        assert row.gaps == ((4, 4),)
        # the om's first waiting delivery is sequence 1: nothing is complete yet
        assert (row.waiting, row.lowest_waiting, row.watermark, row.watermark_time) == (
            3,
            1,
            0,
            None,
        )
        assert row.last_time == "2025-07-17T21:00:00Z"
        got = lease(store, now=20.0)
        store.ack(
            receiver="om",
            delivery_ids=[d.delivery_id for d in got if d.id in ("a", "c")],
            now=21.0,
            actor="om",
        )
        (row,) = store.completeness("om", ["politie"])
        # 1 and 3 delivered, 2 was never for the om, 4 is missing, 5 waits
        assert (row.waiting, row.lowest_waiting, row.watermark) == (1, 5, 3)
        assert row.watermark_time == "2025-07-17T20:00:00Z"
        assert store.completeness("om", ["rechtspraak"]) == []
        # 5 fails for good: the om will never have it, so the watermark stays below it
        (last,) = [d for d in got if d.id == "e"]
        store.nack(
            receiver="om",
            delivery_id=last.delivery_id,
            reason="unreadable",
            now=31.0,
            delay=lambda attempts: 0.0,
            max_attempts=1,
            actor="om",
        )
        (row,) = store.completeness("om", ["politie"])
        assert (row.waiting, row.dead, row.watermark) == (0, 1, 3)


class TestSqliteCompleteness(CompletenessContract):
    @pytest.fixture
    def store(self, tmp_path) -> Iterator[Store]:  # type: ignore[no-untyped-def]
        from ketenherstel.store.sqlite import SqliteStore

        s = SqliteStore(tmp_path / "x.db")
        s.migrate()
        yield s
        s.close()


@pytest.mark.postgres
class TestPostgresCompleteness(CompletenessContract):
    @pytest.fixture
    def store(self, pg_dsn: str, pg_schema: str) -> Iterator[Store]:
        from ketenherstel.store.postgres import PostgresStore

        s = PostgresStore(pg_dsn, schema=pg_schema)
        s.migrate()
        yield s
        s.close()
