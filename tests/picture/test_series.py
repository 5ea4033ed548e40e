"""The picture's series on constructed cases where the right answer is known, a property test
against a brute-force count, and the real stores' rows (SQLite and PostgreSQL)."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ketenherstel.chain import Chain, load_chain
from ketenherstel.picture.series import TZ, PictureCache, compute

DAGVAARDING = "nl.strafrechtketen.vervolging.dagvaarding-uitgebracht.v1"  # 10 days
VONNIS = "nl.strafrechtketen.berechting.vonnis-gewezen.v1"  # 14 days
AFDOENING = "nl.strafrechtketen.registratie.om-afdoening-geregistreerd.v1"  # no deadline


def at(day: int, hour: float = 0.0, month: int = 7) -> float:
    """Epoch of 2025-<month>-<day> <hour> in Europe/Amsterdam."""
    base = datetime(2025, month, day, tzinfo=TZ)
    return (base + timedelta(hours=hour)).timestamp()


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, TZ).isoformat()


class Rows:
    """What a store's ``picture_rows`` gives: constructed deliveries (no database needed)."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.trail: list[tuple[Any, ...]] = []  # (delivery id, at, event) of re-sent ones

    def add(
        self,
        sender: str,
        receiver: str,
        type_: str,
        logged: float,
        acked: float | None = None,
        *,
        received: float | None = None,
        state: str | None = None,
    ) -> None:
        state = state or ("acked" if acked is not None else "ready")
        received = logged if received is None else received
        updated = acked if acked is not None else received
        self.rows.append(
            (len(self.rows) + 1, sender, receiver, type_, iso(logged), received, state, updated)
        )

    def picture_rows(self, *, after: int, limit: int) -> list[tuple[object, ...]]:
        return [r for r in self.rows if r[0] > after][:limit]

    def picture_resends(self) -> list[tuple[object, ...]]:
        return sorted(self.trail, key=lambda t: t[0])

    def picture_fingerprint(self) -> tuple[int, int]:
        return len(self.rows), len(self.rows) + len(self.trail)

    def resend(self, ident: int, now: float) -> None:
        """Re-send delivery ``ident`` at ``now``: back to ready, as the store does."""
        row = self.rows[ident - 1]
        if not any(t[0] == ident for t in self.trail):
            self.trail.append((ident, row[7], "acked" if row[6] == "acked" else "dead-lettered"))
        self.trail.append((ident, now, "resent"))
        self.rows[ident - 1] = (*row[:6], "ready", now)

    def ack(self, ident: int, now: float) -> None:
        self.trail.append((ident, now, "acked"))
        self.rows[ident - 1] = (*self.rows[ident - 1][:6], "acked", now)


def test_one_item_counted_in_when_logged_out_when_acknowledged(chain: Chain) -> None:
    rows = Rows()
    rows.add("om", "justid", AFDOENING, at(1, 10), at(3, 9))
    snap = compute(rows, chain, now=at(4))  # type: ignore[arg-type]
    v = snap.view("channel", "om->justid")
    assert v.days == (date(2025, 7, 1), date(2025, 7, 2), date(2025, 7, 3))
    assert v.inflow == (1, 0, 0)
    assert v.outflow == (0, 0, 1)
    assert v.backlog == (1, 1, 0)
    assert v.oldest_hours[0] == pytest.approx(14.0)
    assert v.oldest_hours[1] == pytest.approx(38.0)
    assert v.oldest_hours[2] is None
    assert v.lead_median == (None, None, pytest.approx(47.0))
    assert (v.arrived, v.delivered, v.backlog_now, v.peak) == (1, 1, 0, 1)
    assert snap.as_of == at(3, 9)


def test_an_outbox_message_waits_from_its_own_time_not_its_arrival(chain: Chain) -> None:
    rows = Rows()
    # Logged on 1 July inside the OM, reached the exchange on 5 July, acknowledged on 6 July.
    rows.add("om", "justid", AFDOENING, at(1, 12), at(6, 12), received=at(5, 8))
    v = compute(rows, chain, now=at(7)).view("all")  # type: ignore[arg-type]
    assert v.backlog[:6] == (1, 1, 1, 1, 1, 0)
    assert v.lead_median_all == pytest.approx(120.0)


def test_an_event_time_later_than_arrival_counts_from_arrival(chain: Chain) -> None:
    rows = Rows()
    rows.add("om", "justid", AFDOENING, at(3, 12), at(3, 13), received=at(1, 12))
    v = compute(rows, chain, now=at(4)).view("all")  # type: ignore[arg-type]
    assert v.inflow[0] == 1


def test_a_dead_letter_leaves_the_backlog_and_is_counted_apart(chain: Chain) -> None:
    rows = Rows()
    rows.add("om", "cjib", AFDOENING, at(1, 8))
    rows.add("om", "cjib", AFDOENING, at(1, 9), state="dead", received=at(1, 9))
    rows.add("om", "cjib", AFDOENING, at(1, 10), at(1, 11))
    snap = compute(rows, chain, now=at(2, 8))  # type: ignore[arg-type]
    v = snap.view("receiver", "cjib")
    assert v.backlog_now == 1
    assert v.dead == (1,)
    assert v.delivered == 1
    # The oldest still waiting at the store's last change (1 July 11:00) was logged at 8:00.
    assert v.oldest_now_hours == pytest.approx(3.0)
    assert v.oldest_hours[-1] == pytest.approx(3.0)  # today's is aged now, not at midnight


def test_a_resent_delivery_keeps_its_first_delivery_on_its_day(chain: Chain) -> None:
    """Reconciliation re-sends a delivery the receiver lost: the past does not change."""
    rows = Rows()
    rows.add("om", "rechtspraak", DAGVAARDING, at(1, 12), at(2, 9))  # due 11 July, in time
    rows.add("om", "rechtspraak", DAGVAARDING, at(3, 12), at(3, 14))
    before = compute(rows, chain, now=at(25)).view("all")  # type: ignore[arg-type]
    rows.resend(1, at(25, 10))  # ready again, waiting since the re-send
    after = compute(rows, chain, now=at(25, 12)).view("all")  # type: ignore[arg-type]
    full = len(before.days) - 1  # its last day was cut at its last change (3 July 14:00)
    for name in ("inflow", "outflow", "backlog", "missed", "dead", "oldest_hours", "lead_median"):
        assert getattr(after, name)[:full] == getattr(before, name)[:full], name
    assert after.backlog[:24] == (1,) + (0,) * 23  # as before the re-send: nothing waits
    assert after.days[-1] == date(2025, 7, 25)
    assert (after.inflow[-1], after.backlog[-1], after.missed_total) == (1, 1, 0)
    assert after.oldest_now_hours == pytest.approx(0.0)  # waiting since 10:00, as of 10:00
    assert after.arrived == 3 and after.delivered == 2
    # Acknowledged again: a second delivery that day, its lead time from the re-send.
    rows.ack(1, at(25, 11))
    again = compute(rows, chain, now=at(26)).view("all")  # type: ignore[arg-type]
    assert again.outflow[:full] == before.outflow[:full]
    assert (again.outflow[-1], again.backlog[-1], again.delivered) == (1, 0, 3)
    assert again.lead_median[-1] == pytest.approx(1.0)


def test_a_resent_dead_letter_stays_dead_on_its_day(chain: Chain) -> None:
    rows = Rows()
    rows.add("om", "cjib", AFDOENING, at(1, 8), state="dead", received=at(1, 8))
    rows.rows[-1] = (*rows.rows[-1][:7], at(2, 8))  # dead-lettered on 2 July
    before = compute(rows, chain, now=at(5)).view("all")  # type: ignore[arg-type]
    rows.resend(1, at(5, 9))
    rows.ack(1, at(5, 10))
    after = compute(rows, chain, now=at(6)).view("all")  # type: ignore[arg-type]
    assert before.dead == (0, 1) and before.backlog == (1, 0)
    assert after.dead[:4] == (0, 1, 0, 0)
    assert after.backlog[:4] == (1, 0, 0, 0)
    assert (after.inflow[-1], after.outflow[-1], after.backlog[-1]) == (1, 1, 0)


def test_a_sender_clock_error_counts_from_arrival(chain: Chain) -> None:
    rows = Rows()
    rows.rows.append(
        (1, "om", "justid", AFDOENING, "1970-01-01T00:00:00Z", at(2, 12), "acked", at(2, 13))
    )
    rows.rows.append(
        (2, "om", "justid", AFDOENING, "0001-01-01T00:00:00Z", at(2, 12), "ready", at(2, 12))
    )
    v = compute(rows, chain, now=at(3)).view("all")  # type: ignore[arg-type]
    assert v.days == (date(2025, 7, 2),)
    assert v.inflow == (2,)


def test_a_deadline_is_missed_on_the_day_it_passes(chain: Chain) -> None:
    rows = Rows()
    rows.add("om", "rechtspraak", DAGVAARDING, at(1, 12), at(20, 12))  # due 11 July 12:00
    rows.add("om", "rechtspraak", DAGVAARDING, at(2, 12), at(5, 12))  # in time
    rows.add("om", "rechtspraak", DAGVAARDING, at(3, 12))  # never, due 13 July
    snap = compute(rows, chain, now=at(25))  # type: ignore[arg-type]
    v = snap.view("process", "dagvaarding")
    missed = {d: n for d, n in zip(v.days, v.missed, strict=True) if n}
    assert missed == {date(2025, 7, 11): 1, date(2025, 7, 13): 1}
    assert v.missed_total == 2


def test_days_follow_amsterdam_midnight_across_the_clock_change(chain: Chain) -> None:
    rows = Rows()
    # 26 October 2025 has 25 hours in Amsterdam; 23:30 local that day is still that day.
    rows.add("om", "justid", AFDOENING, at(26, 23.5, month=10), at(27, 1, month=10))
    v = compute(rows, chain, now=at(28, month=10)).view("all")  # type: ignore[arg-type]
    assert v.days[0] == date(2025, 10, 26)
    assert v.inflow == (1, 0)
    assert v.outflow == (0, 1)


def test_views_add_up(chain: Chain) -> None:
    rows = Rows()
    rows.add("om", "justid", AFDOENING, at(1, 1), at(2, 1))
    rows.add("om", "rechtspraak", DAGVAARDING, at(1, 2))
    rows.add("rechtspraak", "om", VONNIS, at(2, 2), at(2, 3))
    snap = compute(rows, chain, now=at(3))  # type: ignore[arg-type]
    total = snap.view("all")
    channels = [snap.view("channel", c) for c in snap.channels()]
    assert snap.channels() == ["om->justid", "om->rechtspraak", "rechtspraak->om"]
    for i in range(len(total.days)):
        assert total.backlog[i] == sum(c.backlog[i] for c in channels)
        assert total.inflow[i] == sum(c.inflow[i] for c in channels)
    om = snap.view("partner", "om")
    assert om.arrived == 3  # as sender or receiver
    assert snap.view("sender", "om").arrived == 2
    with pytest.raises(ValueError, match="no view kind"):
        snap.keys("nonsense")


items = st.lists(
    st.tuples(
        st.floats(0, 10 * 24, allow_nan=False),  # logged, hours after 1 July
        st.one_of(st.none(), st.floats(0, 12 * 24, allow_nan=False)),  # wait until it left
        st.sampled_from(["acked", "dead"]),  # how it left
        st.sampled_from([DAGVAARDING, AFDOENING]),
        st.sampled_from(["justid", "rechtspraak"]),
    ),
    min_size=1,
    max_size=40,
)


CHAIN = load_chain()


@settings(max_examples=150, deadline=None)
@given(items)
@example(  # a deadline falling due a fraction of a microsecond after the last change
    [(h, None, "acked", DAGVAARDING, "justid") for h in (0.0, 0.0, 240.0, 5.3834342177370654e-11)]
)
def test_every_figure_equals_a_brute_force_count(generated: list[Any]) -> None:
    chain = CHAIN
    rows = Rows()
    start = at(1)
    for logged_h, wait_h, how, type_, receiver in generated:
        # Whole seconds: the event time is an ISO text in microseconds, and a time a fraction
        # of a microsecond after another (5e-11 hours) read back as the other, which the
        # brute force below, reading the exact float, did not.
        logged = start + round(logged_h * 3600)
        left = None if wait_h is None else logged + wait_h * 3600
        if how == "dead" and left is not None:
            rows.add("om", receiver, type_, logged, None, state="dead", received=logged)
            rows.rows[-1] = (*rows.rows[-1][:7], left)
        else:
            rows.add("om", receiver, type_, logged, left)
    snap = compute(rows, chain, now=at(28))  # type: ignore[arg-type]
    v = snap.view("all")
    limit = {DAGVAARDING: 10 * 86400.0, AFDOENING: None}
    for i, _ in enumerate(v.days):
        # A day is [midnight, next midnight); the last one ends at the store's last change.
        left = ("acked", "dead")
        if i < len(v.days) - 1:
            age_at = snap.ends[i]
            waiting = [
                r
                for r in rows.rows
                if float(r[5]) < age_at and not (r[6] in left and r[7] < age_at)
            ]
        else:
            age_at = snap.as_of
            waiting = [
                r
                for r in rows.rows
                if float(r[5]) <= age_at and not (r[6] in left and r[7] <= age_at)
            ]
        assert v.backlog[i] == len(waiting)
        oldest = min((float(r[5]) for r in waiting), default=None)
        if oldest is None:
            assert v.oldest_hours[i] is None
        else:
            assert v.oldest_hours[i] == pytest.approx(max(0.0, (age_at - oldest) / 3600), abs=1e-6)
    assert sum(v.inflow) == len(rows.rows)
    assert sum(v.outflow) == sum(1 for r in rows.rows if r[6] == "acked")
    assert sum(v.dead) == sum(1 for r in rows.rows if r[6] == "dead")
    missed = 0
    for r in rows.rows:
        lim = limit[r[3]]
        if lim is None:
            continue
        due = float(r[5]) + lim
        if due <= min(snap.as_of, snap.ends[-1]) and not (r[6] == "acked" and r[7] <= due):
            missed += 1
    assert v.missed_total == missed
    leads = sorted((float(r[7]) - float(r[5])) / 3600 for r in rows.rows if r[6] == "acked")
    if leads:
        assert v.lead_median_all == pytest.approx(leads[math.ceil(0.5 * len(leads)) - 1], abs=1e-6)


def test_the_cache_recomputes_only_when_the_store_changed(chain: Chain) -> None:
    rows = Rows()
    rows.add("om", "justid", AFDOENING, at(1, 1))
    cache = PictureCache(rows, chain, lambda: at(5))  # type: ignore[arg-type]
    first = cache.get()
    assert cache.get() is first
    rows.add("om", "justid", AFDOENING, at(1, 2), at(1, 3))
    second = cache.get()
    assert second is not first
    assert second.view("all").arrived == 2


def test_in_the_background_the_last_snapshot_is_served_while_the_next_is_computed(
    chain: Chain,
) -> None:
    rows = Rows()
    rows.add("om", "justid", AFDOENING, at(1, 1))
    cache = PictureCache(rows, chain, lambda: at(5), background=True, min_interval=0.0)  # type: ignore[arg-type]
    first = cache.get()  # the first one is computed in the foreground
    assert first.view("all").arrived == 1
    rows.add("om", "justid", AFDOENING, at(1, 2), at(1, 3))
    assert cache.get() is first  # answered at once with what was measured before
    cache.wait()
    second = cache.get()
    assert second is not first
    assert second.view("all").arrived == 2
