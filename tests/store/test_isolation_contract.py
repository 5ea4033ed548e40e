"""The isolation part of the store contract (decision 0008): scoped holds, isolation, rates,
priority, business keys, quarantine, emergency-route supersession and bundle imports."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest

from ketenherstel.store.ports import (
    AcceptRequest,
    AlreadyExists,
    BundleImport,
    ChannelRecord,
    NewMessage,
    PartnerStateRecord,
    QuarantineRelease,
    Refused,
    ReleaseWaiting,
    Store,
)
from tests.store.test_contract import SRC, lease, msg

PV = "nl.strafrechtketen.opsporing.proces-verbaal-ingezonden.v1"
DV = "nl.strafrechtketen.vervolging.dagvaarding-uitgebracht.v1"


def rule(
    receiver: str, sender: str, scope: str, state: str, rate: float | None = None
) -> ChannelRecord:
    return ChannelRecord(receiver, sender, scope, state, rate, "test", 1.0, "op")  # type: ignore[arg-type]


def typed(
    ident: str, type_name: str, *, key: str = "case-1", process: str = "p", **kw: object
) -> NewMessage:
    return dataclasses.replace(msg(ident, key=key, **kw), type=type_name, process=process)  # type: ignore[arg-type]


def ids(store: Store, **kw: object) -> list[str]:
    out = [d.id for d in lease(store, **kw)]  # type: ignore[arg-type]
    return out


class IsolationContract:
    def test_a_type_scoped_hold_holds_only_that_type(self, store: Store) -> None:
        store.set_channel(rule("om", "*", DV, "held"))
        store.accept([AcceptRequest([typed("pv", PV, key="a"), typed("dv", DV, key="b")])], now=1.0)
        assert ids(store) == ["pv"]

    def test_a_process_scoped_hold_and_the_most_specific_rule_wins(self, store: Store) -> None:
        store.set_channel(rule("om", "*", "*", "held"))
        store.set_channel(rule("om", "politie", "process:opsporing-pv", "open"))
        store.accept(
            [
                AcceptRequest(
                    [
                        typed("pv", PV, key="a", process="opsporing-pv"),
                        typed("other", DV, key="b", process="x"),
                    ]
                )
            ],
            now=1.0,
        )
        assert ids(store) == ["pv"]

    def test_holding_after_accept_re_holds_pending_rows_and_opening_releases_them(
        self, store: Store
    ) -> None:
        store.accept([AcceptRequest([msg(str(i), key=f"k{i}") for i in range(5)])], now=1.0)
        store.set_channel(rule("om", "politie", "*", "held"))
        assert ids(store) == []
        store.set_channel(rule("om", "politie", "*", "open"))
        assert ids(store) == [str(i) for i in range(5)]

    def test_an_isolated_receiver_gets_nothing_whatever_the_rules(self, store: Store) -> None:
        store.set_channel(rule("om", "politie", "*", "open"))
        store.set_partner_state(PartnerStateRecord("om", "isolated", "Citrix", 1.0, "op"))
        store.accept([AcceptRequest([msg("a")])], now=2.0)
        assert ids(store) == []
        store.set_partner_state(PartnerStateRecord("om", "returning", "back", 3.0, "op"))
        assert ids(store, now=200.0) == ["a"]
        [event, _] = store.partner_events(partner="om", limit=5)
        assert (event.state, event.reason) == ("returning", "back")

    def test_priority_orders_the_drain_but_a_case_keeps_its_order(self, store: Store) -> None:
        store.accept(
            [
                AcceptRequest(
                    [
                        dataclasses.replace(msg("late-1", key="x"), priority=5),
                        dataclasses.replace(msg("urgent", key="y"), priority=1),
                        dataclasses.replace(msg("late-2", key="x"), priority=0),
                    ]
                )
            ],
            now=1.0,
        )
        # late-2 has the best priority, but late-1 of its case must go first.
        assert ids(store) == ["urgent", "late-1"]

    def test_a_resent_dead_letter_honours_the_rules_in_force(self, store: Store) -> None:
        store.accept([AcceptRequest([msg("1")])], now=1.0)
        [d] = lease(store, now=2.0)
        store.nack(
            receiver="om",
            delivery_id=d.delivery_id,
            reason="broken",
            now=3.0,
            delay=lambda _: 1.0,
            max_attempts=1,
            actor="om",
        )
        store.set_channel(rule("om", "*", "*", "held"))  # held while it was dead
        resent = store.resend(delivery_id=d.delivery_id, now=4.0, actor="op")
        assert resent.held and lease(store, now=5.0) == []
        store.set_channel(rule("om", "*", "*", "open"))
        assert [x.id for x in lease(store, now=6.0)] == ["1"]

    def test_reprioritise_changes_pending_deliveries(self, store: Store) -> None:
        store.accept([AcceptRequest([typed("pv", PV, key="a"), typed("dv", DV, key="b")])], now=1.0)
        assert store.reprioritise({DV: -1}, now=2.0) == 1
        assert store.reprioritise({DV: -1}, now=3.0) == 0  # already so: nothing changes
        assert store.type_priorities() == {DV: -1}  # kept for a restarted exchange
        assert ids(store) == ["dv", "pv"]

    def test_a_rate_limits_each_lease_to_the_tokens_in_the_bucket(self, store: Store) -> None:
        store.set_channel(rule("om", "politie", "*", "open", rate=2.0))
        store.accept([AcceptRequest([msg(str(i), key=f"k{i}") for i in range(10)])], now=1.0)
        assert len(lease(store, now=100.0)) == 2  # a full bucket: rate x 1 s
        assert len(lease(store, now=100.0)) == 0  # empty
        assert len(lease(store, now=101.5)) == 2  # refilled 3 tokens, capped at 2
        assert len(lease(store, now=102.0, burst_seconds=3.0)) == 1  # 2.0 - 2 + 1

    def test_a_rate_on_one_channel_leaves_others_free(self, store: Store) -> None:
        store.set_channel(rule("om", "politie", PV, "open", rate=1.0))
        store.accept(
            [
                AcceptRequest(
                    [typed(f"pv{i}", PV, key=f"a{i}") for i in range(3)]
                    + [typed(f"dv{i}", DV, key=f"b{i}") for i in range(3)]
                )
            ],
            now=1.0,
        )
        assert sorted(ids(store)) == ["dv0", "dv1", "dv2", "pv0"]

    def test_the_same_fact_under_a_new_id_is_a_duplicate_by_business_key(
        self, store: Store
    ) -> None:
        a = dataclasses.replace(msg("a", seq=1), bkey="k1", fact_hash="f1")
        [out] = store.accept([AcceptRequest([a])], now=1.0)
        again = dataclasses.replace(msg("b", seq=2), bkey="k1", fact_hash="f1")
        [dup] = store.accept([AcceptRequest([again])], now=2.0)
        assert (dup.outcomes[0].status, dup.outcomes[0].by) == ("duplicate", "business-key")
        assert dup.outcomes[0].position == out.outcomes[0].position
        assert dup.gaps == {}  # its sequence number counts
        corrected = dataclasses.replace(msg("c", seq=3), bkey="k1", fact_hash="f2")
        [new] = store.accept([AcceptRequest([corrected])], now=3.0)
        assert new.outcomes[0].status == "accepted"
        assert new.outcomes[0].supersedes == out.outcomes[0].position
        [first] = lease(store)
        store.ack(receiver="om", delivery_ids=[first.delivery_id], now=4.0, actor="om")
        [second] = lease(store, now=5.0)
        assert second.supersedes == (SRC, "a")

    def test_an_id_answered_as_a_repeated_fact_is_taken(self, store: Store) -> None:
        """A new id answered as a duplicate by business key was not kept: the same id with
        another body was then accepted as a new message, and a retry of the first event got
        a conflict instead of its first answer."""
        a = dataclasses.replace(msg("a", seq=1), bkey="k1", fact_hash="f1")
        [out] = store.accept([AcceptRequest([a])], now=1.0)
        r1 = dataclasses.replace(msg("x", seq=2), bkey="k1", fact_hash="f1")
        [dup] = store.accept([AcceptRequest([r1])], now=2.0)
        assert (dup.outcomes[0].status, dup.outcomes[0].by) == ("duplicate", "business-key")
        r2 = dataclasses.replace(
            msg("x", seq=2, key="case-2", body=b'{"id":"x","other":1}'), bkey="k2", fact_hash="f2"
        )
        [refused] = store.accept([AcceptRequest([r2])], now=3.0)
        assert refused.rejected and [c.id for c in refused.conflicts] == ["x"]
        [retry] = store.accept([AcceptRequest([r1])], now=4.0)
        assert [(o.status, o.by, o.position) for o in retry.outcomes] == [
            ("duplicate", "business-key", out.outcomes[0].position)
        ]
        assert ids(store) == ["a"]
        # In one submission: the repeat takes its id, so the same id after it is no new message.
        b = dataclasses.replace(msg("b", seq=3, key="case-3"), bkey="k3", fact_hash="f3")
        y1 = dataclasses.replace(msg("y", seq=4, key="case-3"), bkey="k3", fact_hash="f3")
        y2 = dataclasses.replace(
            msg("y", seq=4, key="case-4", body=b'{"id":"y","other":2}'), bkey="k4", fact_hash="f4"
        )
        [both] = store.accept([AcceptRequest([b, y1, y2])], now=5.0)
        assert both.rejected and [c.id for c in both.conflicts] == ["y"]
        [again] = store.accept([AcceptRequest([b, y1, y1])], now=6.0)
        assert [(o.status, o.by) for o in again.outcomes] == [
            ("accepted", ""),
            ("duplicate", "business-key"),
            ("duplicate", "id"),
        ]
        assert again.outcomes[1].position == again.outcomes[0].position
        assert again.outcomes[2].position == again.outcomes[0].position

    def test_a_returning_partners_traffic_waits_for_two_operators(self, store: Store) -> None:
        store.set_partner_state(PartnerStateRecord("politie", "returning", "back", 1.0, "op"))
        [out] = store.accept([AcceptRequest([msg("a"), msg("b", key="z")])], now=2.0)
        assert all(o.quarantined for o in out.outcomes)
        assert ids(store) == []
        assert [m.id for m in store.quarantined(partner="politie", limit=10)] == ["a", "b"]
        release = store.request_release(
            partner="politie", checks="{}", reason="checked", now=3.0, actor="op-a"
        )
        assert release.messages == 2
        for same in ("op-a", "OP-A", " op-a "):  # one person, however the name is written
            with pytest.raises(Refused, match="a second operator approves"):
                store.approve_release(release_id=release.id, now=4.0, actor=same)
        assert ids(store) == []
        store.approve_release(release_id=release.id, now=4.0, actor="op-b")
        with pytest.raises(Refused):
            store.approve_release(release_id=release.id, now=4.0, actor="op-c")
        assert ids(store, now=200.0) == ["a", "b"]
        assert store.quarantine_counts() == {"politie": (0, 2)}

    def test_overlapping_releases_each_count_what_they_released(self, store: Store) -> None:
        store.set_partner_state(PartnerStateRecord("politie", "returning", "back", 1.0, "op"))
        store.accept([AcceptRequest([msg("a"), msg("b", key="z")])], now=2.0)
        first = store.request_release(
            partner="politie", checks="{}", reason="first", now=3.0, actor="op-a"
        )
        store.accept([AcceptRequest([msg("c", key="y")])], now=4.0)
        second = store.request_release(
            partner="politie", checks="{}", reason="all", now=5.0, actor="op-a"
        )
        assert (first.messages, second.messages) == (2, 3)
        assert store.approve_release(release_id=second.id, now=6.0, actor="op-b").messages == 3
        # The first has nothing left to release: refused, its count kept (it was written 0).
        with pytest.raises(Refused, match=f"release {second.id} released its 2 messages"):
            store.approve_release(release_id=first.id, now=7.0, actor="op-b")
        assert [r.messages for r in store.releases(partner="politie")] == [2, 3]
        assert [r.approved_by for r in store.releases(partner="politie")] == [None, "op-b"]
        assert store.quarantine_counts() == {"politie": (0, 3)}
        # One release by its id, also with its partner; another partner's or an unknown id: none.
        assert [r.id for r in store.releases(partner=None, release_id=first.id)] == [first.id]
        assert [r.reason for r in store.releases(partner="politie", release_id=second.id)] == [
            "all"
        ]
        assert store.releases(partner="om", release_id=first.id) == []
        assert store.releases(partner=None, release_id=second.id + 99) == []

    def test_a_request_the_waiting_release_already_asks_is_refused_naming_it(
        self, store: Store
    ) -> None:
        """Decided in the transaction that would store the request, so that two requests at
        once store one release (the race itself: tests/exchange/test_isolation.py)."""
        store.set_partner_state(PartnerStateRecord("politie", "returning", "back", 1.0, "op"))
        store.accept([AcceptRequest([msg("a")])], now=2.0)
        assert store.waiting_release(partner="politie") is None

        def ask(now: float, same_as: Callable[[QuarantineRelease], bool]) -> QuarantineRelease:
            return store.request_release(
                partner="politie", checks="{}", reason="r", now=now, actor="op-a", same_as=same_as
            )

        first = ask(3.0, lambda waiting: True)
        assert store.waiting_release(partner="politie") == first
        shown: list[QuarantineRelease] = []

        def same(waiting: QuarantineRelease) -> bool:
            shown.append(waiting)
            return True

        with pytest.raises(ReleaseWaiting, match=f"release {first.id} of politie") as no:
            ask(4.0, same)
        assert (no.value.release, shown) == (first, [first])
        assert store.releases(partner="politie") == [first]
        # One the waiting release does not already ask (a new finding) is stored, and waits.
        second = ask(5.0, lambda waiting: False)
        assert store.waiting_release(partner="politie") == second
        # A message after it: no release covers everything; nor one asked before a new state.
        store.accept([AcceptRequest([msg("b", key="z")])], now=6.0)
        assert store.waiting_release(partner="politie") is None
        third = ask(7.0, lambda waiting: True)
        assert (third.messages, store.waiting_release(partner="politie")) == (2, third)
        store.set_partner_state(PartnerStateRecord("politie", "isolated", "again", 8.0, "op"))
        assert store.waiting_release(partner="politie") is None
        assert store.waiting_release(partner="om") is None

    def test_an_emergency_route_message_is_superseded_by_the_returning_partners_own(
        self, store: Store
    ) -> None:
        route = store.open_route(
            type=PV,
            sender="politie",
            around="om",
            receiver="justid",
            superseded_by=DV,
            reason="spoedroute",
            now=1.0,
            actor="op",
        )
        emergency = dataclasses.replace(
            typed("pv", PV, key="case-9"), receivers=("om", "justid"), via_route=route.id
        )
        store.accept([AcceptRequest([emergency])], now=2.0)
        own = dataclasses.replace(
            typed("dv", DV, key="case-9", source=SRC.replace("bvh", "gps"), sender="om"),
            receivers=("justid",),
        )
        store.accept([AcceptRequest([own])], now=3.0)
        got = lease(store, "justid")
        assert [d.id for d in got] == ["pv"]
        store.ack(receiver="justid", delivery_ids=[got[0].delivery_id], now=4.0, actor="j")
        [d] = lease(store, "justid", now=5.0)
        assert (d.id, d.supersedes) == ("dv", (SRC, "pv"))
        closed = store.close_route(route_id=route.id, reason="om terug", now=6.0, actor="op")
        assert (closed.closed_by, closed.closed_reason) == ("op", "om terug")
        assert store.routes() == [closed]
        with pytest.raises(Refused):
            store.close_route(route_id=route.id, reason="again", now=7.0, actor="op")
        assert store.routes() == [closed]

    def test_a_bundle_is_stored_once_and_in_sequence(self, store: Store) -> None:
        def bundle(first: int, last: int, digest: str) -> BundleImport:
            return BundleImport(digest, SRC, first, last, last - first + 1, 1.0, "op")

        events = [msg(str(i), seq=i, key=f"k{i}") for i in (1, 2, 3)]
        store.import_bundle(AcceptRequest(events), bundle(1, 3, "d1"), now=1.0)
        assert store.last_bundle(SRC) == (3, "d1")
        with pytest.raises(AlreadyExists):
            store.import_bundle(AcceptRequest(events), bundle(1, 3, "d1"), now=2.0)
        with pytest.raises(AlreadyExists):
            store.import_bundle(AcceptRequest(events[2:]), bundle(3, 3, "d2"), now=2.0)
        assert len(ids(store)) == 3


class TestSqliteIsolation(IsolationContract):
    @pytest.fixture
    def store(self, tmp_path) -> Iterator[Store]:  # type: ignore[no-untyped-def]
        from ketenherstel.store.sqlite import SqliteStore

        s = SqliteStore(tmp_path / "x.db")
        s.migrate()
        yield s
        s.close()


@pytest.mark.postgres
class TestPostgresIsolation(IsolationContract):
    @pytest.fixture
    def store(self, pg_dsn: str, pg_schema: str) -> Iterator[Store]:
        from ketenherstel.store.postgres import PostgresStore

        s = PostgresStore(pg_dsn, schema=pg_schema)
        s.migrate()
        yield s
        s.close()
