"""The picture's part of the store contract (decision 0013): every delivery with its message's
sender, type and event time and when it was acknowledged; the fingerprint that says the store
changed; the audit trail's actors."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ketenherstel.store.ports import AcceptRequest, AuditRecord, Store
from tests.store.test_contract import SRC, lease, msg

T = "nl.strafrechtketen.opsporing.proces-verbaal-ingezonden.v1"


class PictureContract:
    def test_rows_fingerprint_and_actors(self, store: Store) -> None:
        assert store.picture_rows(after=0, limit=10) == []
        assert store.picture_fingerprint() == (0, 0)
        store.accept(
            [
                AcceptRequest(
                    [
                        dataclasses.replace(msg("a", key="c1"), time="2025-07-17T19:00:00Z"),
                        dataclasses.replace(
                            msg("b", key="c2", receivers=("om", "justid")), time=None
                        ),
                    ]
                )
            ],
            now=10.0,
        )
        rows = store.picture_rows(after=0, limit=10)
        assert [r[1:7] for r in rows] == [
            ("politie", "om", T, "2025-07-17T19:00:00Z", 10.0, "ready"),
            ("politie", "om", T, None, 10.0, "ready"),
            ("politie", "justid", T, None, 10.0, "ready"),
        ]
        accepted = store.picture_fingerprint()
        assert accepted[0] == max(int(r[0]) for r in rows)  # type: ignore[call-overload]
        got = lease(store, now=20.0)
        leased = store.picture_fingerprint()
        assert leased[0] == accepted[0] and leased[1] > accepted[1]
        store.ack(receiver="om", delivery_ids=[got[0].delivery_id], now=21.0, actor="om")
        rows = store.picture_rows(after=0, limit=10)
        acked = [r for r in rows if r[6] == "acked"]
        assert len(acked) == 1 and acked[0][7] == 21.0
        assert store.picture_fingerprint()[1] > leased[1]
        # Paged by delivery id.
        first = store.picture_rows(after=0, limit=2)
        rest = store.picture_rows(after=int(first[-1][0]), limit=2)  # type: ignore[call-overload]
        assert [r[0] for r in first + rest] == [r[0] for r in rows]
        pending = {(q.receiver, q.sender): q for q in store.pending_stats()}
        for q in store.queue_stats():
            p = pending.get((q.receiver, q.sender))
            if q.ready + q.leased + q.dead == 0:
                assert p is None
                continue
            assert p is not None
            assert (p.ready, p.leased, p.dead, p.acked) == (q.ready, q.leased, q.dead, 0)
            assert p.oldest_waiting == q.oldest_waiting
        store.audit(AuditRecord(30.0, "Jan Jansen", "x", "y", ""))
        store.audit(AuditRecord(31.0, "Piet Pieters", "x", "y", ""))
        store.audit(AuditRecord(32.0, "Jan Jansen", "x", "z", ""))
        # the ack was audited too, by the receiving partner
        assert store.audit_actors() == ["Jan Jansen", "Piet Pieters", "om"]

    def test_a_resend_keeps_the_first_delivery_on_its_day(self, store: Store) -> None:
        """Reconciliation re-sends three deliveries a receiver lost, months after they were
        acknowledged: the picture's past stays as it was (decision 0013)."""
        from ketenherstel.chain import load_chain
        from ketenherstel.picture.series import compute

        chain = load_chain()
        june = datetime(2025, 6, 10, 9, tzinfo=UTC).timestamp()
        later = datetime(2025, 11, 20, 9, tzinfo=UTC).timestamp()
        store.accept(
            [
                AcceptRequest(
                    [
                        dataclasses.replace(msg(f"m{i}", key=f"c{i}"), time="2025-06-10T08:00:00Z")
                        for i in range(3)
                    ]
                )
            ],
            now=june,
        )
        got = lease(store, now=june + 60)
        store.ack(
            receiver="om", delivery_ids=[g.delivery_id for g in got], now=june + 120, actor="om"
        )
        late = dataclasses.replace(msg("x", key="cx"), time=None)  # waits from its arrival
        store.accept([AcceptRequest([late])], now=later - 3600)
        before = compute(store, chain, now=later).view("all")
        assert store.picture_resends() == []
        for i in range(3):
            status = store.redeliver(
                source=SRC, id=f"m{i}", receiver="om", now=later, actor="ops", reason="lost"
            )
            assert status == "resent"
        rows = store.picture_resends()
        assert [r[2] for r in rows] == ["acked", "resent"] * 3
        after = compute(store, chain, now=later + 60).view("all")
        assert after.days == before.days
        full = len(before.days) - 1  # the day of the re-send is today in both
        for name in ("inflow", "outflow", "backlog", "missed", "oldest_hours", "lead_median"):
            assert getattr(after, name)[:full] == getattr(before, name)[:full], name
        assert before.outflow[0] == 3 and before.backlog[0] == 0
        assert after.inflow[-1] == before.inflow[-1] + 3
        assert after.backlog_now == before.backlog_now + 3
        assert after.oldest_now_hours == pytest.approx(1.0)  # the later one, not June's
        # Delivered again: counted out again today.
        again = lease(store, now=later + 120)
        assert len(again) == 4
        store.ack(
            receiver="om", delivery_ids=[g.delivery_id for g in again], now=later + 180, actor="om"
        )
        done = compute(store, chain, now=later + 240).view("all")
        assert done.outflow[:full] == before.outflow[:full]
        assert (done.outflow[-1], done.backlog_now, done.delivered) == (4, 0, 7)


class TestSqlitePicture(PictureContract):
    @pytest.fixture
    def store(self, tmp_path) -> Iterator[Store]:  # type: ignore[no-untyped-def]
        from ketenherstel.store.sqlite import SqliteStore

        s = SqliteStore(tmp_path / "x.db")
        s.migrate()
        yield s
        s.close()


@pytest.mark.postgres
class TestPostgresPicture(PictureContract):
    @pytest.fixture
    def store(self, pg_dsn: str, pg_schema: str) -> Iterator[Store]:
        from ketenherstel.store.postgres import PostgresStore

        s = PostgresStore(pg_dsn, schema=pg_schema)
        s.migrate()
        yield s
        s.close()
