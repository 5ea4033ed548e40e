"""The trail part of the store contract: a message's trail shows the changes that held, opened,
quarantined and released it, in time order among its other steps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ketenherstel.store import _sql_trail
from ketenherstel.store.ports import (
    AcceptRequest,
    ChannelRecord,
    NewMessage,
    PartnerStateRecord,
    Store,
    TrailCause,
    TrailEntry,
)
from tests.store.test_contract import lease, msg
from tests.store.test_isolation_contract import DV, PV, typed


def change(
    receiver: str, sender: str, scope: str, state: str, at: float, actor: str, reason: str
) -> ChannelRecord:
    return ChannelRecord(receiver, sender, scope, state, None, reason, at, actor)  # type: ignore[arg-type]


def accept(store: Store, message: NewMessage, *, now: float) -> int:
    [out] = store.accept([AcceptRequest([message])], now=now)
    return out.outcomes[0].position


def steps(trail: list[TrailEntry]) -> list[tuple[str, str | None, str]]:
    return [(e.event, e.receiver, e.actor) for e in trail]


def caused(trail: list[TrailEntry]) -> list[TrailEntry]:
    return [e for e in trail if e.cause is not None]


class TrailContract:
    def test_a_delivery_held_at_accept_shows_the_rule_in_force_and_the_change_that_opened_it(
        self, store: Store
    ) -> None:
        store.set_channel(change("om", "*", "*", "held", 10.0, "op-a", "Citrix storing"))
        pos = accept(store, msg("a", receivers=("om", "justid")), now=20.0)
        store.set_channel(change("om", "politie", "*", "open", 30.0, "op-b", "wave 1"))
        [d] = lease(store, now=40.0)
        store.ack(receiver="om", delivery_ids=[d.delivery_id], now=50.0, actor="om")
        trail = store.trail(pos)
        assert steps(trail) == [
            ("accepted", None, "politie"),
            ("routed", "om", "exchange"),
            ("routed", "justid", "exchange"),
            ("held", "om", "op-a"),
            ("opened", "om", "op-b"),
            ("leased", "om", "om"),
            ("acked", "om", "om"),
        ]
        held, opened = caused(trail)
        assert held.at == 20.0  # it held this message from its accept
        assert held.cause == TrailCause(
            "channel",
            held.cause.id,  # type: ignore[union-attr]
            10.0,
            "op-a",
            "Citrix storing",
            "held",
            receiver="om",
            sender="*",
            scope="*",
        )
        assert "since 1970-01-01T00:00:10Z: Citrix storing" in held.detail
        assert opened.at == 30.0
        assert opened.cause is not None
        assert (opened.cause.sender, opened.cause.state, opened.cause.reason) == (
            "politie",
            "open",
            "wave 1",
        )

    def test_the_most_specific_matching_rule_is_the_one_shown(self, store: Store) -> None:
        store.set_channel(change("om", "*", "*", "held", 1.0, "op-a", "everything"))
        store.set_channel(change("om", "politie", PV, "held", 2.0, "op-b", "processen-verbaal"))
        store.set_channel(change("om", "*", "process:p", "open", 3.0, "op-c", "process p"))
        store.set_channel(change("om", "*", DV, "open", 4.0, "op-d", "another type"))
        pos = accept(store, typed("pv", PV), now=5.0)
        store.set_channel(change("om", "*", DV, "held", 6.0, "op-d", "another type"))
        store.set_channel(change("om", "politie", PV, "open", 7.0, "op-e", "checked"))
        trail = caused(store.trail(pos))
        assert [(e.event, e.at, e.actor) for e in trail] == [
            ("held", 5.0, "op-b"),
            ("opened", 7.0, "op-e"),
        ]
        assert trail[0].cause is not None
        assert (trail[0].cause.scope, trail[0].cause.reason) == (PV, "processen-verbaal")

    def test_a_broader_change_before_accept_removes_the_narrower_hold(self, store: Store) -> None:
        store.set_channel(change("om", "politie", "*", "held", 1.0, "op-a", "narrow"))
        store.set_channel(change("om", "*", "*", "open", 2.0, "op-b", "all open"))
        pos = accept(store, msg("a"), now=3.0)
        assert caused(store.trail(pos)) == []

    def test_a_hold_after_accept_and_its_opening_are_shown_but_not_changes_after_the_ack(
        self, store: Store
    ) -> None:
        pos = accept(store, msg("a"), now=1.0)
        store.set_channel(change("om", "politie", "*", "held", 2.0, "op-a", "check"))
        store.set_channel(change("om", "politie", "*", "open", 3.0, "op-b", "checked"))
        [d] = lease(store, now=4.0)
        store.ack(receiver="om", delivery_ids=[d.delivery_id], now=5.0, actor="om")
        store.set_channel(change("om", "politie", "*", "held", 6.0, "op-a", "later"))
        trail = store.trail(pos)
        assert steps(trail) == [
            ("accepted", None, "politie"),
            ("routed", "om", "exchange"),
            ("held", "om", "op-a"),
            ("opened", "om", "op-b"),
            ("leased", "om", "om"),
            ("acked", "om", "om"),
        ]
        assert [e.at for e in trail] == [1.0, 1.0, 2.0, 3.0, 4.0, 5.0]

    def test_an_isolated_receiver_holds_and_its_return_opens(self, store: Store) -> None:
        store.set_partner_state(PartnerStateRecord("om", "isolated", "Citrix", 1.0, "op-a"))
        pos = accept(store, msg("a"), now=2.0)
        store.set_partner_state(PartnerStateRecord("om", "returning", "back", 3.0, "op-b"))
        held, opened = caused(store.trail(pos))
        assert (held.event, held.at, held.actor) == ("held", 2.0, "op-a")
        assert held.cause is not None and opened.cause is not None
        assert (held.cause.kind, held.cause.receiver, held.cause.state) == (
            "partner",
            "om",
            "isolated",
        )
        assert (opened.event, opened.at, opened.cause.state) == ("opened", 3.0, "returning")

    def test_a_change_that_leaves_the_delivery_as_it_was_is_not_on_the_trail(
        self, store: Store
    ) -> None:
        store.set_channel(change("om", "politie", "*", "held", 1.0, "op-a", "rule"))
        pos = accept(store, msg("a"), now=2.0)
        store.set_partner_state(PartnerStateRecord("om", "isolated", "Citrix", 3.0, "op-b"))
        store.set_partner_state(PartnerStateRecord("om", "returning", "back", 4.0, "op-b"))
        store.set_channel(change("om", "*", DV, "open", 5.0, "op-c", "another type"))
        assert [(e.event, e.actor) for e in caused(store.trail(pos))] == [("held", "op-a")]

    def test_a_quarantined_message_shows_why_and_the_release_that_let_it_out(
        self, store: Store
    ) -> None:
        store.set_partner_state(PartnerStateRecord("politie", "returning", "outage", 1.0, "op-a"))
        pos = accept(store, msg("a"), now=2.0)
        release = store.request_release(
            partner="politie", checks="{}", reason="1 message checked", now=3.0, actor="op-a"
        )
        store.approve_release(release_id=release.id, now=4.0, actor="op-b")
        trail = store.trail(pos)
        assert steps(trail) == [
            ("accepted", None, "politie"),
            ("quarantined", None, "op-a"),
            ("routed", "om", "exchange"),
            ("released", "om", "op-b"),
        ]
        quarantined, released = trail[1], trail[3]
        assert quarantined.cause is not None
        assert (quarantined.cause.kind, quarantined.cause.sender, quarantined.cause.state) == (
            "partner",
            "politie",
            "returning",
        )
        assert released.cause == TrailCause(
            "quarantine-release",
            release.id,
            4.0,
            "op-b",
            "1 message checked",
            "released",
            sender="politie",
            requested_by="op-a",
        )

    def test_a_dead_letter_re_sent_into_a_hold_shows_the_hold_from_its_re_send(
        self, store: Store
    ) -> None:
        pos = accept(store, msg("a"), now=1.0)
        [d] = lease(store, now=2.0)
        store.nack(
            receiver="om",
            delivery_id=d.delivery_id,
            reason="boom",
            now=3.0,
            delay=lambda n: 1.0,
            max_attempts=1,
            actor="om",
        )
        store.set_channel(change("om", "politie", "*", "held", 4.0, "op-a", "while dead"))
        store.resend(delivery_id=d.delivery_id, now=5.0, actor="op-b")
        store.set_channel(change("om", "*", "*", "held", 6.0, "op-c", "after the re-send"))
        trail = store.trail(pos)
        assert [e.event for e in trail] == [
            "accepted",
            "routed",
            "leased",
            "nacked",
            "dead-lettered",
            "resent",
            "held",
        ]
        # Held from the re-send by the rule set while it was dead; the later, broader hold
        # leaves it as it was, so it is not on the trail.
        held = trail[-1]
        assert (held.at, held.actor) == (5.0, "op-a")
        assert held.cause is not None and held.cause.reason == "while dead"
        assert "re-sent into a hold" in held.detail

    def test_a_dead_letter_re_sent_after_its_hold_was_lifted_shows_it_open(
        self, store: Store
    ) -> None:
        pos = accept(store, msg("a"), now=1.0)
        [d] = lease(store, now=2.0)
        store.set_channel(change("om", "*", "*", "held", 3.0, "op-a", "hold while out"))
        store.nack(
            receiver="om",
            delivery_id=d.delivery_id,
            reason="boom",
            now=4.0,
            delay=lambda n: 1.0,
            max_attempts=1,
            actor="om",
        )
        store.set_channel(change("om", "*", "*", "open", 5.0, "op-b", "lifted while dead"))
        store.resend(delivery_id=d.delivery_id, now=6.0, actor="op-c")
        trail = store.trail(pos)
        assert [e.event for e in trail][-4:] == ["nacked", "dead-lettered", "resent", "opened"]
        assert trail[-1].at == 6.0 and "hold it had" in trail[-1].detail
        assert [x.id for x in lease(store, now=7.0)] == ["a"]

    def test_each_delivery_shows_only_its_own_holds(self, store: Store) -> None:
        store.set_channel(change("justid", "politie", "*", "held", 1.0, "op-a", "justid only"))
        pos = accept(store, msg("a", receivers=("om", "justid")), now=2.0)
        assert [(e.event, e.receiver) for e in caused(store.trail(pos))] == [("held", "justid")]

    def test_a_history_longer_than_a_trail_reads_is_cut_and_says_so(
        self, store: Store, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(_sql_trail, "MAX_CHANGES", 2)
        pos = accept(store, msg("a"), now=1.0)
        for i, state in enumerate(["held", "open", "held", "open"], start=2):
            store.set_channel(change("om", "politie", "*", state, float(i), "op", f"change {i}"))
        assert [(e.event, e.at) for e in caused(store.trail(pos))] == [
            ("held", 2.0),
            ("opened", 3.0),
        ]
        assert store.trail(pos)[-1].event == "history-truncated"


class TestSqliteTrail(TrailContract):
    @pytest.fixture
    def store(self, tmp_path) -> Iterator[Store]:  # type: ignore[no-untyped-def]
        from ketenherstel.store.sqlite import SqliteStore

        s = SqliteStore(tmp_path / "x.db")
        s.migrate()
        yield s
        s.close()


@pytest.mark.postgres
class TestPostgresTrail(TrailContract):
    @pytest.fixture
    def store(self, pg_dsn: str, pg_schema: str) -> Iterator[Store]:
        from ketenherstel.store.postgres import PostgresStore

        s = PostgresStore(pg_dsn, schema=pg_schema)
        s.migrate()
        yield s
        s.close()
