"""Replaying the history of rules for one delivery (pure: no store)."""

from __future__ import annotations

from ketenherstel.store import holds
from ketenherstel.store.ports import TrailCause, TrailEntry
from ketenherstel.store.rules import replaces

D = holds.HeldDelivery(1, "om", "politie", "pv", "p", 10.0)


def rule(ident: int, at: float, receiver: str, sender: str, scope: str, state: str) -> TrailCause:
    return TrailCause(
        "channel", ident, at, "op", "r", state, receiver=receiver, sender=sender, scope=scope
    )


def step(at: float, event: str, delivery_id: int | None = 1) -> TrailEntry:
    return TrailEntry(at, event, delivery_id, "om", "om", "")


def test_a_rule_replaces_itself_and_narrower_rules_but_never_broader_or_other_ones() -> None:
    assert replaces(("om", "*", "*"), ("om", "politie", "pv"))
    assert replaces(("om", "*", "*"), ("om", "*", "*"))
    assert not replaces(("om", "politie", "*"), ("om", "*", "*"))
    assert not replaces(("om", "*", "pv"), ("om", "*", "process:p"))
    assert not replaces(("om", "*", "*"), ("*", "politie", "*"))


def test_the_rules_in_force_replay_in_the_order_they_were_made() -> None:
    narrow = rule(1, 1.0, "om", "politie", "*", "held")
    broad = rule(2, 2.0, "om", "*", "*", "open")
    assert (
        holds.delivery_holds(
            D, rules_before=[narrow, broad], receiver_before=None, changes=[], steps=[]
        )
        == []
    )
    [(_, held)] = holds.delivery_holds(
        D, rules_before=[broad, narrow], receiver_before=None, changes=[], steps=[]
    )
    assert (held.event, held.at, held.cause) == ("held", 10.0, narrow)


def test_a_channel_change_sorts_before_a_partner_change_and_a_step_of_the_same_instant() -> None:
    isolated = TrailCause("partner", 1, 20.0, "op", "Citrix", "isolated", receiver="om")
    hold = rule(1, 20.0, "om", "*", "*", "held")
    out = holds.delivery_holds(
        D,
        rules_before=[],
        receiver_before=None,
        changes=[isolated, hold],
        steps=[step(20.0, "acked")],
    )
    assert [(e.event, e.cause) for _, e in out] == [("held", hold)]


def test_extra_entries_go_by_time_and_within_an_instant_by_phase() -> None:
    base = [
        step(1.0, "accepted", None),
        step(1.0, "routed"),
        step(2.0, "leased"),
        step(3.0, "acked"),
    ]
    held = step(1.0, "held")
    quarantined = step(1.0, "quarantined", None)
    opened = step(2.0, "opened")
    merged = holds.merge(
        base,
        [
            (holds.PHASE_CHANGE, opened),
            (holds.PHASE_CHANGE, held),
            (holds.PHASE_QUARANTINED, quarantined),
        ],
    )
    assert [e.event for e in merged] == [
        "accepted",
        "quarantined",
        "routed",
        "held",
        "opened",
        "leased",
        "acked",
    ]


def test_an_incomplete_history_ends_with_a_note() -> None:
    out = holds.delivery_holds(
        D,
        rules_before=[],
        receiver_before=None,
        changes=[rule(1, 11.0, "om", "*", "*", "held")],
        steps=[],
        complete=False,
    )
    assert [(e.event, e.at) for _, e in out] == [("held", 11.0), ("history-truncated", 11.0)]
