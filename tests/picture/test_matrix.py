"""The recovery matrix on constructed cases: states and changes dated by their own events."""

from __future__ import annotations

from ketenherstel.chain import Chain
from ketenherstel.picture.db import HandStatus
from ketenherstel.picture.matrix import HAND_CHANNELS, build_matrix, timeline
from ketenherstel.picture.series import compute
from ketenherstel.store.ports import ChannelRecord, PartnerStateRecord, RouteRecord
from tests.picture.test_series import AFDOENING, Rows, at


def _rows() -> Rows:
    rows = Rows()
    for day in range(1, 6):
        rows.add("om", "justid", AFDOENING, at(day, 9), at(day, 9.5))
    return rows


def _event(state: str, when: float) -> PartnerStateRecord:
    return PartnerStateRecord("om", state, "test", when, "operator-a")  # type: ignore[arg-type]


def test_an_outage_within_one_day_is_a_change_dated_by_its_events(chain: Chain) -> None:
    snap = compute(_rows(), chain, now=at(6))  # type: ignore[arg-type]
    events = [_event("isolated", at(2, 10)), _event("online", at(2, 15))]
    m = build_matrix(snap, chain, events, [], [])
    mine = [(c.at, c.state) for c in m.changes if c.partner == "om"]
    assert sorted(mine) == [(at(2, 10), "down"), (at(2, 15), "normal")]
    cell = next(c for c in m.cells if c.partner == "om")
    assert (cell.state, cell.since) == ("normal", at(2, 15))


def test_an_outage_over_days_keeps_its_event_times(chain: Chain) -> None:
    snap = compute(_rows(), chain, now=at(6))  # type: ignore[arg-type]
    events = [_event("isolated", at(2, 21)), _event("online", at(4, 8))]
    m = build_matrix(snap, chain, events, [], [])
    mine = sorted((c.at, c.state) for c in m.changes if c.partner == "om")
    assert mine == [(at(2, 21), "down"), (at(4, 8), "normal")]


def test_setting_the_same_hand_status_again_is_not_a_change(chain: Chain) -> None:
    snap = compute(_rows(), chain, now=at(6))  # type: ignore[arg-type]
    statuses = [
        HandStatus(1, "om", "email", "down", "e-mail gaat verloren", at(2, 10), "a"),
        HandStatus(2, "om", "email", "down", "nog steeds, nu ook de bijlagen", at(3, 10), "b"),
        HandStatus(3, "om", "email", "normal", "hersteld", at(4, 10), "a"),
        HandStatus(4, "om", "telefoon", "down", "centrale onbereikbaar", at(4, 11), "a"),
    ]
    m = build_matrix(snap, chain, [], [], statuses[:2])
    assert [(c.channel, c.at, c.state) for c in m.changes if c.channel == "email"] == [
        ("email", at(2, 10), "down")
    ]
    cell = m.cell("om", "email")
    assert cell is not None
    assert (cell.state, cell.since, cell.reason) == ("down", at(2, 10), statuses[1].reason)
    m = build_matrix(snap, chain, [], [], statuses)
    hand = sorted((c.at, c.channel, c.state) for c in m.changes if c.channel in HAND_CHANNELS)
    assert hand == [
        (at(2, 10), "email", "down"),
        (at(4, 10), "email", "normal"),
        (at(4, 11), "telefoon", "down"),
    ]
    drawn = [e for e in timeline(chain, [], [], [], [], statuses) if e.kind == "status"]
    assert [e.at for e in drawn] == [at(2, 10), at(4, 10), at(4, 11)]
    # Each with its reason in the timeline's table (a review found the column always empty).
    assert [e.detail for e in drawn] == [
        "e-mail gaat verloren",
        "hersteld",
        "centrale onbereikbaar",
    ]


def test_a_partners_change_on_the_timeline_keeps_its_reason_from_viewers(chain: Chain) -> None:
    """A partner's reason is written through the API or the command line, unchecked for names:
    a release from quarantine names the two operators. The timeline, which viewers read, shows
    the change without it."""
    released = "quarantine released (release 3, asked by anna, approved by bram)"
    changes = [
        PartnerStateRecord("om", "isolated", "Citrix flaw: OM off the internet", at(1), "a"),
        PartnerStateRecord("om", "online", released, at(5), "bram"),
    ]
    drawn = [e for e in timeline(chain, changes, [], [], [], []) if e.kind == "partner"]
    assert [(e.label, e.detail) for e in drawn] == [("OM afgesloten", ""), ("OM weer online", "")]


def test_an_emergency_route_on_the_timeline_says_why_it_opened_and_why_it_closed(
    chain: Chain,
) -> None:
    pv = "nl.strafrechtketen.opsporing.proces-verbaal-ingezonden.v1"
    route = RouteRecord(
        1, pv, "politie", "om", "justid", AFDOENING, "zware delicten", at(2), "a", None, None, None
    )
    closed = RouteRecord(
        2, pv, "politie", "om", "justid", AFDOENING, "opnieuw", at(3), "a", at(4), "b", "OM terug"
    )
    # Closed before migration 0013: no reason on record, and none made up.
    old = RouteRecord(
        3, pv, "politie", "om", "justid", AFDOENING, "eerder", at(5), "a", at(6), "b", None
    )
    drawn = [e for e in timeline(chain, [], [], [route, closed, old], [], []) if e.kind == "route"]
    assert [(e.at, e.label.rsplit(" ", 1)[1], e.detail) for e in drawn] == [
        (at(2), "open", "zware delicten"),
        (at(3), "open", "opnieuw"),
        (at(4), "dicht", "OM terug"),
        (at(5), "open", "eerder"),
        (at(6), "dicht", ""),
    ]


def test_a_go_live_wave_on_the_timeline_has_a_dutch_label_unless_the_operator_named_it(
    chain: Chain,
) -> None:
    def change(step: str, when: float) -> ChannelRecord:
        reason = f"go-live plan om-2025, step {step}"
        return ChannelRecord("om", "*", "*", "open", None, reason, when, "operator-a")

    changes = [
        change("isolation", at(1)),
        change("wave-1", at(2)),
        change("wave-2", at(3)),
        change("wave-2", at(3, 12)),
        change("restored", at(4)),
        change("fase A", at(5)),
    ]
    drawn = [e for e in timeline(chain, [], changes, [], [], []) if e.kind == "wave"]
    assert [(e.at, e.label) for e in drawn] == [
        (at(2), "golf 1"),
        (at(3), "golf 2"),
        (at(4), "hersteld"),
        (at(5), "golf fase A"),
    ]
