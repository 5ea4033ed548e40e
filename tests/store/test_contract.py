"""The store contract: one abstract suite, subclassed per adapter. A new backend is done when it
passes every test here."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from ketenherstel.store.ports import (
    AcceptRequest,
    AuditRecord,
    ChannelRecord,
    CredentialRecord,
    LeaseParams,
    NewMessage,
    NotFound,
    Refused,
    Store,
)

SRC = "urn:nld:oin:00000001003214345000:systeem:bvh"


def msg(
    ident: str,
    *,
    key: str | None = "case-1",
    seq: int | None = None,
    receivers: tuple[str, ...] = ("om",),
    body: bytes | None = None,
    source: str = SRC,
    sender: str = "politie",
) -> NewMessage:
    body = body if body is not None else f'{{"id":"{ident}"}}'.encode()
    return NewMessage(
        source=source,
        id=ident,
        sender=sender,
        type="nl.strafrechtketen.opsporing.proces-verbaal-ingezonden.v1",
        subject=key,
        partitionkey=key,
        sequence=seq,
        time="2025-07-17T21:00:00Z",
        content_hash="sha256:" + hashlib.sha256(body).hexdigest(),
        body=body,
        receivers=receivers,
    )


def lease(
    store: Store, receiver: str = "om", *, now: float = 100.0, limit: int = 100, **kw: object
):
    params = {
        "receiver": receiver,
        "limit": limit,
        "now": now,
        "visibility": 30.0,
        "max_attempts": 3,
        "max_age": 1e9,
        "actor": receiver,
    }
    params.update(kw)
    return store.lease(LeaseParams(**params))  # type: ignore[arg-type]


class StoreContract:
    """Subclasses provide the `store` fixture."""

    def test_accepted_message_gets_one_delivery_per_receiver(self, store: Store) -> None:
        [out] = store.accept([AcceptRequest([msg("a", receivers=("om", "justid"))])], now=1.0)
        assert out.outcomes[0].status == "accepted"
        assert out.outcomes[0].deliveries == 2
        assert [d.id for d in lease(store, "om")] == ["a"]
        assert [d.id for d in lease(store, "justid")] == ["a"]
        assert lease(store, "cjib") == []

    def test_duplicate_with_same_body_is_stored_once_and_makes_no_delivery(
        self, store: Store
    ) -> None:
        store.accept([AcceptRequest([msg("a")])], now=1.0)
        [out] = store.accept([AcceptRequest([msg("a")])], now=2.0)
        assert out.outcomes[0].status == "duplicate"
        assert out.outcomes[0].deliveries == 0
        assert len(lease(store)) == 1

    def test_duplicate_inside_one_submission_is_recognised(self, store: Store) -> None:
        [out] = store.accept([AcceptRequest([msg("a"), msg("a")])], now=1.0)
        assert [o.status for o in out.outcomes] == ["accepted", "duplicate"]
        assert out.outcomes[0].position == out.outcomes[1].position
        assert len(lease(store)) == 1

    def test_same_id_with_other_body_rejects_the_whole_submission(self, store: Store) -> None:
        store.accept([AcceptRequest([msg("a")])], now=1.0)
        [out] = store.accept(
            [AcceptRequest([msg("b", key="k2"), msg("a", body=b'{"other":1}')])], now=2.0
        )
        assert out.rejected
        assert out.conflicts[0].index == 1
        assert out.conflicts[0].stored_hash != out.conflicts[0].submitted_hash
        assert store.message(SRC, "b") is None  # nothing of the rejected submission was kept
        assert len(lease(store)) == 1

    def test_one_rejected_submission_does_not_touch_others_in_the_same_group(
        self, store: Store
    ) -> None:
        store.accept([AcceptRequest([msg("a")])], now=1.0)
        outs = store.accept(
            [
                AcceptRequest([msg("b", key="k2")]),
                AcceptRequest([msg("a", body=b"{}")]),
                AcceptRequest([msg("c", key="k3")]),
            ],
            now=2.0,
        )
        assert [o.rejected for o in outs] == [False, True, False]
        assert store.message(SRC, "b") is not None
        assert store.message(SRC, "c") is not None

    def test_same_partition_is_delivered_in_order_one_at_a_time(self, store: Store) -> None:
        store.accept([AcceptRequest([msg("1"), msg("2"), msg("3", key="other")])], now=1.0)
        first = lease(store)
        assert [d.id for d in first] == ["1", "3"]
        assert lease(store, now=101.0) == []  # "2" waits while "1" is leased
        store.ack(receiver="om", delivery_ids=[first[0].delivery_id], now=102.0, actor="om")
        assert [d.id for d in lease(store, now=103.0)] == ["2"]

    def test_unacked_lease_expires_and_is_delivered_again(self, store: Store) -> None:
        store.accept([AcceptRequest([msg("a")])], now=1.0)
        [d] = lease(store, now=100.0)
        assert lease(store, now=110.0) == []
        [again] = lease(store, now=131.0)
        assert again.delivery_id == d.delivery_id
        assert again.attempts == 2

    def test_lease_expiring_too_often_dead_letters_with_reason(self, store: Store) -> None:
        store.accept([AcceptRequest([msg("a")])], now=1.0)
        now = 100.0
        for _ in range(3):
            assert len(lease(store, now=now)) == 1
            now += 31
        assert lease(store, now=now) == []
        [dead] = store.dead_letters(receiver="om", limit=10)
        assert dead.state == "dead"
        assert "lease expired" in (dead.last_error or "")

    def test_nack_retries_later_then_dead_letters(self, store: Store) -> None:
        store.accept([AcceptRequest([msg("a")])], now=1.0)
        [d] = lease(store, now=100.0)
        r = store.nack(
            receiver="om",
            delivery_id=d.delivery_id,
            reason="parse error",
            now=101.0,
            delay=lambda attempts: 10.0,
            max_attempts=3,
            actor="om",
        )
        assert r.status == "retry"
        assert r.not_before == 111.0
        assert lease(store, now=105.0) == []
        assert len(lease(store, now=111.0)) == 1
        for now in (112.0, 114.0):  # each within its lease
            store.nack(
                receiver="om",
                delivery_id=d.delivery_id,
                reason="parse error",
                now=now,
                delay=lambda attempts: 0.0,
                max_attempts=3,
                actor="om",
            )
            lease(store, now=now + 1)
        dead = store.dead_letters(receiver="om", limit=10)
        assert [x.delivery_id for x in dead] == [d.delivery_id]
        assert "parse error" in (dead[0].last_error or "")

    def test_a_delivery_not_leased_now_cannot_be_nacked_again(self, store: Store) -> None:
        """A second nack of a delivery already back in the queue pushed its retry later each
        time without counting an attempt, so it never reached the dead letters (a review
        found it): refused, changing nothing."""
        store.accept([AcceptRequest([msg("a")])], now=1.0)
        [d] = lease(store, now=100.0)

        def nack(now: float) -> str:
            return store.nack(
                receiver="om",
                delivery_id=d.delivery_id,
                reason="parse error",
                now=now,
                delay=lambda attempts: 10.0,
                max_attempts=3,
                actor="om",
            ).status

        assert nack(101.0) == "retry"
        message = store.message(SRC, "a")
        assert message is not None
        before = store.deliveries_of(message.position), store.trail(message.position)
        assert nack(102.0) == "not-leased"
        assert nack(150.0) == "not-leased"  # also once its retry is due, until leased again
        assert (store.deliveries_of(message.position), store.trail(message.position)) == before
        [again] = lease(store, now=151.0)
        assert again.attempts == 2
        assert nack(152.0) == "retry"
        # A lease that ran out before any pull made the delivery ready again is not held
        # either (a review of c74ae71).
        [third] = lease(store, now=163.0)
        assert third.attempts == 3
        assert nack(163.0 + 31) == "not-leased"

    def test_dead_letter_resend_keeps_the_original_id(self, store: Store) -> None:
        store.accept([AcceptRequest([msg("a")])], now=1.0)
        lease(store, now=100.0)  # first attempt, never acked
        assert lease(store, now=131.0, max_age=10.0) == []  # failing too long: dead-lettered
        [dead] = store.dead_letters(receiver="om", limit=10)
        assert "maximum age" in (dead.last_error or "")
        again = store.resend(delivery_id=dead.delivery_id, now=200.0, actor="op")
        assert again.state == "ready"
        [d] = lease(store, now=201.0, max_age=10.0)  # a re-send starts its age again
        assert (d.delivery_id, d.id) == (dead.delivery_id, "a")
        events = [e.event for e in store.trail(d.position)]
        assert events == [
            "accepted",
            "routed",
            "leased",
            "lease-expired",
            "dead-lettered",
            "resent",
            "leased",
        ]

    def test_a_delivery_held_longer_than_the_maximum_age_does_not_expire(
        self, store: Store
    ) -> None:
        store.accept([AcceptRequest([msg("a")])], now=1.0)
        ten_weeks = 70 * 86_400.0
        store.set_channel(ChannelRecord("om", "*", "*", "held", None, "outage", 2.0, "op"))
        assert lease(store, now=ten_weeks) == []
        store.set_channel(ChannelRecord("om", "*", "*", "open", None, "back", ten_weeks, "op"))
        [d] = lease(store, now=ten_weeks + 1, max_age=86_400.0)
        assert d.id == "a"
        assert store.dead_letters(receiver="om", limit=10) == []

    def test_settled_follows_state_through_ack_dead_letter_and_resend(self, store: Store) -> None:
        """Migration 0010: the per-case index finds pending deliveries by `settled`, so every
        move into or out of acked and dead sets it; a case's next delivery waits for a
        re-sent earlier one again."""

        def settled() -> dict[str, tuple[str, int]]:
            sql: Any = store
            with sql._tx() as cur:
                rows = sql._x(
                    cur,
                    "SELECT m.id, d.state, d.settled FROM deliveries d "
                    "JOIN messages m ON m.pos = d.pos",
                ).fetchall()
            return {r[0]: (r[1], int(r[2])) for r in rows}

        store.accept([AcceptRequest([msg("a", key="K"), msg("b", key="K")])], now=1.0)
        assert settled() == {"a": ("ready", 0), "b": ("ready", 0)}
        [first] = lease(store, now=100.0)
        assert settled()["a"] == ("leased", 0)
        assert lease(store, now=131.0, max_age=10.0) == []  # a dead-lettered, b its next
        assert settled() == {"a": ("dead", 1), "b": ("ready", 0)}
        store.resend(delivery_id=first.delivery_id, now=200.0, actor="op")
        assert settled() == {"a": ("ready", 0), "b": ("ready", 0)}
        [d] = lease(store, now=201.0)
        assert d.id == "a"  # b waits for the re-sent a again
        store.ack(receiver="om", delivery_ids=[d.delivery_id], now=202.0, actor="om")
        assert settled() == {"a": ("acked", 1), "b": ("ready", 0)}
        [d] = lease(store, now=203.0)
        assert d.id == "b"

    def test_resend_of_a_live_delivery_is_refused(self, store: Store) -> None:
        store.accept([AcceptRequest([msg("a")])], now=1.0)
        [d] = lease(store)
        with pytest.raises(Refused, match="is leased, not dead-lettered"):
            store.resend(delivery_id=d.delivery_id, now=2.0, actor="op")
        with pytest.raises(NotFound, match="no delivery 99999"):
            store.resend(delivery_id=99999, now=2.0, actor="op")

    def test_ack_is_only_for_the_receiver_and_idempotent(self, store: Store) -> None:
        store.accept([AcceptRequest([msg("a", receivers=("om", "justid"))])], now=1.0)
        [d] = lease(store, "om")
        [other] = store.ack(receiver="justid", delivery_ids=[d.delivery_id], now=2.0, actor="x")
        assert other.status == "not-found"
        [first] = store.ack(receiver="om", delivery_ids=[d.delivery_id], now=3.0, actor="om")
        [second] = store.ack(receiver="om", delivery_ids=[d.delivery_id], now=4.0, actor="om")
        assert (first.status, second.status) == ("acked", "already-acked")

    def test_held_sender_is_not_delivered_but_still_blocks_its_partition(
        self, store: Store
    ) -> None:
        store.accept([AcceptRequest([msg("1")])], now=1.0)
        store.accept(
            [AcceptRequest([msg("2", source=SRC.replace("bvh", "x"), sender="kmar")])], now=2.0
        )
        store.set_channel(ChannelRecord("om", "politie", "*", "held", None, "w", 3.0, "op"))
        assert lease(store) == []
        store.set_channel(ChannelRecord("om", "politie", "*", "open", None, "w", 4.0, "op"))
        store.set_channel(ChannelRecord("om", "*", "*", "held", None, "w", 5.0, "op"))
        assert lease(store) == []
        store.set_channel(ChannelRecord("om", "*", "*", "open", None, "w", 6.0, "op"))
        assert [d.id for d in lease(store, now=200.0)] == ["1"]

    def test_sequence_gaps_are_recorded_and_closed(self, store: Store) -> None:
        [out] = store.accept([AcceptRequest([msg("1", seq=1), msg("2", seq=2)])], now=1.0)
        assert out.gaps == {}
        [out] = store.accept([AcceptRequest([msg("5", seq=5)])], now=2.0)
        assert out.gaps == {SRC: ((3, 4),)}
        state = store.sequence_state(SRC)
        assert state is not None
        assert (state.contiguous, state.max_seen, state.gaps) == (2, 5, ((3, 4),))
        store.accept([AcceptRequest([msg("3", seq=3), msg("4", seq=4)])], now=3.0)
        state = store.sequence_state(SRC)
        assert state is not None
        assert (state.contiguous, state.gaps) == (5, ())

    def test_trail_lists_every_step(self, store: Store) -> None:
        store.accept([AcceptRequest([msg("a")])], now=1.0)
        [d] = lease(store, now=10.0)
        store.ack(receiver="om", delivery_ids=[d.delivery_id], now=11.0, actor="om")
        trail = store.trail(d.position)
        assert [(e.event, e.at) for e in trail] == [
            ("accepted", 1.0),
            ("routed", 1.0),
            ("leased", 10.0),
            ("acked", 11.0),
        ]

    def test_partners_credentials_and_channels_round_trip(self, store: Store) -> None:
        store.add_partner(key="om", name="OM", oin="00000001003214345000", now=1.0)
        assert store.get_partner("om") is not None
        store.set_webhook(key="om", url="http://127.0.0.1:9/hook")
        assert store.list_partners()[0].webhook_url == "http://127.0.0.1:9/hook"
        with pytest.raises(NotFound):
            store.set_webhook(key="nobody", url=None)
        cred = CredentialRecord("cred-1", "om", "partner", "om", "h" * 64, "", 1.0, None)
        store.add_credential(cred)
        assert store.credential_by_hash("h" * 64) == cred
        revoked, _ = store.revoke_credential(credential_id="cred-1", now=5.0)
        assert revoked.revoked_at == 5.0
        with pytest.raises(NotFound):
            store.revoke_credential(credential_id="cred-x", now=5.0)
        store.set_channel(ChannelRecord("om", "*", "*", "held", None, "outage", 1.0, "op"))
        store.set_channel(ChannelRecord("om", "*", "*", "open", None, "back", 2.0, "op"))
        [ch] = store.list_channels("om")
        assert (ch.state, ch.reason) == ("open", "back")

    def test_a_lease_is_audited_in_the_same_transaction(self, store: Store) -> None:
        store.accept([AcceptRequest([msg("a"), msg("b", key="k")])], now=1.0)
        leased = lease(store, now=5.0)
        [record] = store.audit_log(limit=10)
        assert (record.actor, record.action, record.object) == ("om", "deliveries-read", "om")
        assert all(str(d.delivery_id) in record.detail for d in leased)
        assert lease(store, now=6.0) == []
        assert len(store.audit_log(limit=10)) == 1  # an empty pull reads nothing

    def test_a_dead_letter_lets_the_next_delivery_of_its_case_through(self, store: Store) -> None:
        store.accept([AcceptRequest([msg("1"), msg("2")])], now=1.0)
        [first] = lease(store, now=100.0, max_attempts=1)
        # The lease expires once: "1" is dead-lettered, and the same pull hands out "2".
        assert [d.id for d in lease(store, now=131.0, max_attempts=1)] == ["2"]
        [dead] = store.dead_letters(receiver="om", limit=10)
        assert dead.delivery_id == first.delivery_id

    def test_a_resent_dead_letter_goes_before_later_deliveries_of_its_case(
        self, store: Store
    ) -> None:
        store.accept([AcceptRequest([msg("1")])], now=1.0)
        lease(store, now=100.0)
        lease(store, now=131.0, max_age=10.0)  # "1" fails too long: dead-lettered
        store.accept([AcceptRequest([msg("2"), msg("3")])], now=101.0)
        [dead] = store.dead_letters(receiver="om", limit=10)
        store.resend(delivery_id=dead.delivery_id, now=102.0, actor="op")
        [d] = lease(store, now=103.0)
        assert d.id == "1"
        store.ack(receiver="om", delivery_ids=[d.delivery_id], now=104.0, actor="om")
        assert [x.id for x in lease(store, now=105.0)] == ["2"]

    def test_a_delivery_never_handed_out_cannot_be_acked_or_nacked(self, store: Store) -> None:
        store.accept([AcceptRequest([msg("1"), msg("2"), msg("3")])], now=1.0)
        [head] = lease(store, now=10.0)
        second = store.message(SRC, "2")
        assert second is not None
        [waiting] = store.deliveries_of(second.position)
        [result] = store.ack(
            receiver="om", delivery_ids=[waiting.delivery_id], now=11.0, actor="om"
        )
        assert result.status == "not-delivered"  # a guessed id skips nothing
        nacked = store.nack(
            receiver="om",
            delivery_id=waiting.delivery_id,
            reason="x",
            now=11.0,
            delay=lambda _: 1.0,
            max_attempts=3,
            actor="om",
        )
        assert nacked.status == "not-delivered"
        assert lease(store, now=12.0) == []  # "1" is still out: "2" waits its turn
        store.ack(receiver="om", delivery_ids=[head.delivery_id], now=13.0, actor="om")
        [d] = lease(store, now=14.0)
        assert d.id == "2"
        # A lease that ran out was handed out: its late ack counts.
        [late] = store.ack(receiver="om", delivery_ids=[d.delivery_id], now=1000.0, actor="om")
        assert late.status == "acked"
        assert [x.id for x in lease(store, now=1001.0)] == ["3"]

    def test_one_ack_of_many_cases_lets_each_case_through_once(self, store: Store) -> None:
        cases = [f"case-{c}" for c in range(30)]
        store.accept(
            [AcceptRequest([msg(f"{c}-{i}", key=c) for i in range(3) for c in cases])], now=1.0
        )
        now, got = 10.0, []
        while batch := lease(store, now=now, limit=1000):
            assert len({d.partitionkey for d in batch}) == len(batch)  # one per case at a time
            got += [d.id for d in batch]
            store.ack(
                receiver="om", delivery_ids=[d.delivery_id for d in batch], now=now, actor="om"
            )
            now += 1
        assert sorted(got) == sorted(f"{c}-{i}" for i in range(3) for c in cases)
        for c in cases:
            assert [g for g in got if g.startswith(f"{c}-")] == [f"{c}-{i}" for i in range(3)]

    def test_a_long_backlog_of_one_case_comes_out_one_by_one_in_order(self, store: Store) -> None:
        store.accept([AcceptRequest([msg(str(i)) for i in range(50)])], now=1.0)
        now, got = 10.0, []
        while batch := lease(store, now=now, limit=10):
            assert len(batch) == 1
            got.append(batch[0].id)
            store.ack(receiver="om", delivery_ids=[batch[0].delivery_id], now=now, actor="om")
            now += 1
        assert got == [str(i) for i in range(50)]

    def test_every_channel_change_is_kept_with_who_when_and_why(self, store: Store) -> None:
        store.set_channel(ChannelRecord("om", "*", "*", "held", None, "OM offline", 1.0, "op-a"))
        store.set_channel(ChannelRecord("om", "politie", "*", "held", None, "wave 2", 2.0, "op-b"))
        store.set_channel(ChannelRecord("om", "*", "*", "open", None, "back", 3.0, "op-a"))
        store.set_channel(ChannelRecord("justid", "*", "*", "held", None, "test", 4.0, "op-c"))
        history = store.channel_events(receiver="om", limit=10)
        assert [(c.sender, c.state, c.reason, c.changed_by) for c in history] == [
            ("*", "open", "back", "op-a"),
            ("politie", "held", "wave 2", "op-b"),
            ("*", "held", "OM offline", "op-a"),
        ]
        assert len(store.channel_events(receiver=None, limit=2)) == 2

    def test_purge_keeps_a_tombstone_and_never_touches_what_is_undelivered(
        self, store: Store
    ) -> None:
        store.accept([AcceptRequest([msg("a"), msg("b", key="k2")])], now=1.0)
        store.accept([AcceptRequest([msg("late", key="k3")])], now=500.0)
        [da, _db] = lease(store, now=10.0)
        store.ack(receiver="om", delivery_ids=[da.delivery_id], now=11.0, actor="om")
        assert store.purge(before=100.0, now=600.0, dry_run=True).messages == 1
        assert store.message(SRC, "a") is not None and store.message(SRC, "a").body  # type: ignore[union-attr]
        result = store.purge(before=100.0, now=600.0, dry_run=False)
        assert (result.messages, result.dry_run) == (1, False)
        purged = store.message(SRC, "a")
        assert purged is not None
        assert (purged.body, purged.subject, purged.partitionkey) == (b"", None, None)
        assert store.message(SRC, "b").body  # type: ignore[union-attr]  # leased, not acked
        assert store.message(SRC, "late").body  # type: ignore[union-attr]  # too young
        [out] = store.accept([AcceptRequest([msg("a")])], now=700.0)
        assert out.outcomes[0].status == "duplicate"  # the tombstone still knows it
        assert store.trail(purged.position)[-1].event == "purged"
        assert store.purge(before=100.0, now=800.0, dry_run=False).messages == 0

    def test_migrate_twice_changes_nothing(self, store: Store) -> None:
        store.accept([AcceptRequest([msg("a")])], now=1.0)
        store.migrate()
        assert store.message(SRC, "a") is not None

    def test_queue_stats_count_states(self, store: Store) -> None:
        store.accept([AcceptRequest([msg("a"), msg("b", key="k")])], now=1.0)
        [d, _] = lease(store)
        store.ack(receiver="om", delivery_ids=[d.delivery_id], now=2.0, actor="om")
        [q] = store.queue_stats()
        assert (q.receiver, q.sender, q.acked, q.leased, q.ready) == ("om", "politie", 1, 1, 0)

    def test_the_store_has_one_identity_and_knows_what_a_receiver_acknowledged(
        self, store: Store
    ) -> None:
        ident = store.store_id()
        assert len(ident) == 32 and store.store_id() == ident
        store.migrate()
        assert store.store_id() == ident  # a migration keeps it
        store.accept([AcceptRequest([msg("a")])], now=1.0)
        assert not store.has_acked("om")
        [d] = lease(store)
        assert not store.has_acked("om")  # handed out is not acknowledged
        store.ack(receiver="om", delivery_ids=[d.delivery_id], now=2.0, actor="om")
        assert store.has_acked("om") and not store.has_acked("justid")

    def test_an_audit_record_copied_twice_under_one_key_is_kept_once(self, store: Store) -> None:
        record = AuditRecord(5.0, "soc-1", "gateway-finding-decided", "F1 confirmed", "")
        assert store.audit_once(record, key="k1")
        assert not store.audit_once(record, key="k1")  # a copy made again adds nothing
        assert not store.audit_once(replace(record, actor="someone else"), key="k1")
        assert store.audit_once(record, key="k2")  # another key is another record
        store.audit(record)  # records without a key never conflict
        store.audit(record)
        assert store.audit_log(limit=10) == [record] * 4


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path) -> Iterator[Store]:  # type: ignore[no-untyped-def]
        from ketenherstel.store.sqlite import SqliteStore

        s = SqliteStore(tmp_path / "x.db")
        s.migrate()
        yield s
        s.close()


@pytest.mark.postgres
class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self, pg_dsn: str, pg_schema: str) -> Iterator[Store]:
        from ketenherstel.store.postgres import PostgresStore

        s = PostgresStore(pg_dsn, schema=pg_schema)
        s.migrate()
        yield s
        s.close()
