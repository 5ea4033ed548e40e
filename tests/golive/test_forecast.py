"""The what-if forecast on inputs small enough to check by hand, its invariants, its speed, and
the comparison with what really happened."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketenherstel.chain import Chain
from ketenherstel.golive import (
    ActualPoint,
    Backlog,
    ChannelOpening,
    ChannelRule,
    ForecastInputError,
    Inflow,
    Isolation,
    Plan,
    PriorityDecision,
    Wave,
    builtin_plan_path,
    compare,
    forecast,
    load_plan,
)
from ketenherstel.golive.chart import render_svg
from ketenherstel.golive.forecast import MAX_MESSAGES
from tests.golive.support import ARREST, CUSTODY, DISPOSAL_REG, NS, REPORT

T = datetime.fromisoformat("2025-08-18T08:00:00+02:00")
H = timedelta(hours=1)
SUMMONS = f"{NS}.vervolging.dagvaarding-uitgebracht.v1"


def per_hour(count: float) -> float:
    return count / 3600


def plan_opening(
    *opens: ChannelOpening, at: datetime = T, decisions: tuple[PriorityDecision, ...] = ()
) -> Plan:
    """OM isolated 30 days before ``at``; one wave at ``at`` opening ``opens``."""
    wave = Wave("wave-1", at, opens, release_quarantine=("om",))
    return Plan("test", "", Isolation(("om",), at - timedelta(days=30)), decisions, (wave,))


def test_100_items_at_10_an_hour_opened_at_t_are_delivered_by_t_plus_10_hours(
    chain: Chain,
) -> None:
    plan = plan_opening(ChannelOpening(ChannelRule("justid", "om"), per_hour(10)))
    start = T - 5 * H
    backlog = [Backlog("justid", "om", DISPOSAL_REG, 100, start - 10 * H)]
    result = forecast(plan, chain, start=start, backlog=backlog)
    channel = result.channel("om->justid")
    assert channel.peak == 100
    assert channel.peak_at == start  # held from the start until t
    assert channel.empty_at == T + 10 * H
    assert channel.delivered == pytest.approx(100)
    assert channel.remaining == 0
    assert channel.missed == ()  # JDS registrations have no legal deadline


def test_a_held_channel_accumulates_its_inflow_and_drains_when_opened(chain: Chain) -> None:
    plan = plan_opening(ChannelOpening(ChannelRule("justid", "om")))
    inflow = [Inflow("justid", "om", DISPOSAL_REG, per_day=24)]
    result = forecast(plan, chain, start=T - 10 * H, inflow=inflow)
    channel = result.channel("om->justid")
    assert channel.peak == pytest.approx(11)  # ten held hours, and the hour that opens it
    assert channel.peak_at == T
    assert channel.empty_at == T  # no rate and no default rate: all at once
    assert result.until == T + H  # stops once everything is empty after the last change


def test_items_waiting_longer_than_their_deadline_are_counted_as_missed(chain: Chain) -> None:
    # 100 custody notices (3 days) spread over the 4 days before the channel opens at once
    plan = plan_opening(ChannelOpening(ChannelRule("om", "politie")))
    backlog = [Backlog("om", "politie", CUSTODY, 100, T - timedelta(days=4))]
    channel = forecast(plan, chain, start=T, backlog=backlog).channel("politie->om")
    assert len(channel.missed) == 1
    assert channel.missed[0].type == CUSTODY
    assert channel.missed[0].count == pytest.approx(25)  # the first day's 25
    assert channel.missed[0].first == T - timedelta(days=1)  # 4 days ago + 3 days


def test_items_delivered_too_late_at_the_rate_are_counted_as_missed(chain: Chain) -> None:
    # 100 arrests (9 hours) arrive at t and drain at 10 an hour: the last 10 come after 9 hours
    plan = plan_opening(ChannelOpening(ChannelRule("om", "politie"), per_hour(10)))
    backlog = [Backlog("om", "politie", ARREST, 100, T)]
    channel = forecast(plan, chain, start=T, backlog=backlog).channel("politie->om")
    assert channel.empty_at == T + 10 * H
    assert channel.missed[0].count == pytest.approx(10)
    assert channel.missed[0].first == T + 9 * H


def test_the_shortest_deadline_drains_first_unless_a_decision_says_otherwise(
    chain: Chain,
) -> None:
    opening = ChannelOpening(ChannelRule("om", "politie"), per_hour(10))
    backlog = [
        Backlog("om", "politie", REPORT, 100, T - timedelta(days=10)),  # older, no deadline
        Backlog("om", "politie", ARREST, 100, T),
    ]
    computed = forecast(plan_opening(opening), chain, start=T, backlog=backlog)
    assert computed.channel("politie->om").missed[0].count == pytest.approx(10)
    reports_first = PriorityDecision("proces-verbaal", ("OM", "Politie"), date(2025, 8, 1), "x")
    agreed = forecast(
        plan_opening(opening, decisions=(reports_first,)), chain, start=T, backlog=backlog
    )
    assert agreed.channel("politie->om").missed[0].count == pytest.approx(100)


def test_a_rules_rate_is_shared_by_every_flow_it_matches(chain: Chain) -> None:
    plan = plan_opening(ChannelOpening(ChannelRule("om", "*", "process:aanhouding"), per_hour(10)))
    backlog = [
        Backlog("om", "politie", ARREST, 50, T - H),
        Backlog("om", "kmar", ARREST, 50, T - H),
    ]
    result = forecast(plan, chain, start=T, backlog=backlog)
    assert result.channel("kmar->om").empty_at == T + 5 * H
    assert result.channel("politie->om").empty_at == T + 10 * H  # not 5: one rate for both


def test_an_open_channel_without_a_rate_takes_its_receivers_default_rate(chain: Chain) -> None:
    plan = plan_opening(ChannelOpening(ChannelRule("justid", "om")))
    backlog = [Backlog("justid", "om", DISPOSAL_REG, 100, T - H)]
    result = forecast(plan, chain, start=T, backlog=backlog, default_rates={"justid": per_hour(10)})
    assert result.channel("om->justid").empty_at == T + 10 * H


def test_a_channel_that_never_opens_is_not_empty_and_misses_its_deadlines_at_the_end(
    chain: Chain,
) -> None:
    plan = plan_opening(ChannelOpening(ChannelRule("justid", "om")))
    backlog = [Backlog("rechtspraak", "om", SUMMONS, 10, T)]
    soon = forecast(plan, chain, start=T, backlog=backlog, until=T + timedelta(days=5))
    channel = soon.channel("om->rechtspraak")
    assert channel.empty_at is None
    assert channel.remaining == 10
    assert channel.missed == ()
    late = forecast(plan, chain, start=T, backlog=backlog, until=T + timedelta(days=12))
    missed = late.channel("om->rechtspraak").missed
    assert missed[0].count == 10
    assert missed[0].first == T + timedelta(days=10)


def test_arrival_times_can_be_given_item_by_item(chain: Chain) -> None:
    plan = plan_opening(ChannelOpening(ChannelRule("om", "politie")))
    arrivals = (T - 80 * H, T - 30 * H, T - H)
    backlog = [Backlog("om", "politie", CUSTODY, 3, arrivals[0], arrivals)]
    channel = forecast(plan, chain, start=T, backlog=backlog).channel("politie->om")
    assert channel.missed[0].count == 1
    assert channel.missed[0].first == T - 8 * H


def test_the_daily_series_adds_up_to_the_totals(chain: Chain) -> None:
    plan = plan_opening(ChannelOpening(ChannelRule("justid", "om"), per_hour(5)))
    start = T - timedelta(days=2)
    backlog = [Backlog("justid", "om", DISPOSAL_REG, 300, start - timedelta(days=3))]
    inflow = [Inflow("justid", "om", DISPOSAL_REG, per_day=48)]
    channel = forecast(plan, chain, start=start, backlog=backlog, inflow=inflow).channel(
        "om->justid"
    )
    assert sum(p.arrived for p in channel.series) == pytest.approx(channel.arrived)
    assert sum(p.delivered for p in channel.series) == pytest.approx(channel.delivered)
    assert channel.series[-1].backlog == pytest.approx(channel.remaining)
    assert [p.day for p in channel.series] == sorted({p.day for p in channel.series})
    assert channel.series[0].day == date(2025, 8, 16)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    counts=st.lists(st.integers(0, 500), min_size=3, max_size=3),
    ages=st.lists(st.integers(0, 200), min_size=3, max_size=3),
    per_day=st.lists(st.floats(0, 300), min_size=3, max_size=3),
    rate=st.one_of(st.none(), st.floats(1, 100)),
    opens_after=st.integers(-10, 100),
)
def test_nothing_is_lost_or_made_up(
    chain: Chain,
    counts: list[int],
    ages: list[int],
    per_day: list[float],
    rate: float | None,
    opens_after: int,
) -> None:
    plan = plan_opening(
        ChannelOpening(
            ChannelRule("om", "*", "process:aanhouding"), None if rate is None else per_hour(rate)
        ),
        ChannelOpening(ChannelRule("justid", "om")),
        at=T + opens_after * H,
    )
    flows = [("om", "politie", ARREST), ("om", "kmar", ARREST), ("justid", "om", DISPOSAL_REG)]
    backlog = [
        Backlog(r, s, t, n, T - a * H) for (r, s, t), n, a in zip(flows, counts, ages, strict=True)
    ]
    inflow = [Inflow(r, s, t, d) for (r, s, t), d in zip(flows, per_day, strict=True)]
    result = forecast(
        plan, chain, start=T, backlog=backlog, inflow=inflow, until=T + timedelta(days=8)
    )
    for (receiver, sender, _), count in zip(flows, counts, strict=True):
        channel = result.channel(f"{sender}->{receiver}")
        assert count + channel.arrived == pytest.approx(channel.delivered + channel.remaining)
        assert 0 <= channel.missed_total <= count + channel.arrived + 1e-6
        if channel.remaining > 1e-6:
            assert channel.empty_at is None


def test_a_million_held_messages_are_forecast_to_empty(chain: Chain) -> None:
    """The forecast's speed is measured in bench/, not asserted here: this checks that a
    backlog of a million messages is forecast to the end."""
    plan = load_plan(builtin_plan_path(), chain)
    start = datetime.fromisoformat("2025-08-18T00:00:00+02:00")
    isolated = datetime.fromisoformat("2025-07-17T21:00:00+02:00")
    backlog, inflow = [], []
    for mt in chain.message_types:
        for sender in mt.senders:
            for receiver in mt.receivers:
                if "om" in (sender, receiver):
                    backlog.append(Backlog(receiver, sender, mt.type, 50_000, isolated))
                    inflow.append(Inflow(receiver, sender, mt.type, 200))
    assert sum(b.count for b in backlog) >= 1_000_000
    rates = {key: 1.0 for key in ("om", "justid", "rechtspraak", "cjib", "politie", "kmar")}
    result = forecast(plan, chain, start=start, backlog=backlog, inflow=inflow, default_rates=rates)
    assert all(c.empty_at is not None and c.remaining == 0 for c in result.channels)


def _refused(chain: Chain, **inputs: Any) -> ForecastInputError:
    """What a forecast of opening justid <- om from T refuses these inputs with."""
    plan = plan_opening(ChannelOpening(ChannelRule("justid", "om")))
    with pytest.raises(ForecastInputError) as raised:
        forecast(plan, chain, start=T, **inputs)
    return raised.value


def test_bad_inputs_are_refused_each_named(chain: Chain) -> None:
    text = str(
        _refused(
            chain,
            backlog=[
                Backlog("justid", "om", f"{NS}.registratie.uitspraak-geregisteerd.v1", 1, T),
                Backlog("justid", "politie", DISPOSAL_REG, -1, T + H),
                Backlog("justid", "om", DISPOSAL_REG, 1, datetime(2025, 8, 1)),
            ],
            inflow=[Inflow("om", "justid", DISPOSAL_REG, -3)],
            default_rates={"justid": 0, "jds": 1},
            until=T + timedelta(days=1000),
            step=timedelta(minutes=1),
        )
    )
    assert "1,440,000 steps of 0:01:00 after the start; at most 200,000" in text
    assert "unknown message type 'nl.strafrechtketen.registratie.uitspraak-geregisteerd.v1'" in text
    assert "did you mean 'nl.strafrechtketen.registratie.uitspraak-geregistreerd.v1'" in text
    assert "backlog[1] politie->justid" in text and "'politie' does not send" in text
    assert "count: must be 0 or more, got -1" in text
    assert "an item arrives after the start" in text
    assert "times need a UTC offset" in text
    assert "inflow[0] justid->om" in text and "per_day: must be 0 or more" in text
    assert "default rate justid: must be more than 0" in text
    assert "default rate jds: unknown partner 'jds'" in text


def test_figures_beyond_a_billion_messages_are_refused(chain: Chain) -> None:
    """An inflow of 1e308 a day summed to infinity ('inf' in the table, a crash in --json and
    --chart); a count of 400 digits raised OverflowError where it met a float."""
    refused = _refused(
        chain,
        backlog=[
            Backlog("justid", "om", DISPOSAL_REG, 10**400, T - H),
            Backlog("justid", "om", DISPOSAL_REG, 1_000_000_001, T - H),
        ],
        inflow=[
            Inflow("justid", "om", DISPOSAL_REG, 1e308),
            Inflow("justid", "om", DISPOSAL_REG, float("inf")),
            Inflow("justid", "om", DISPOSAL_REG, float("nan")),
        ],
        until=T + timedelta(days=2),
    )
    text = str(refused)
    assert "backlog[0] om->justid" in text
    assert "count: must be at most 1,000,000,000, got a whole number of about 400 digits" in text
    assert "count: must be at most 1,000,000,000, got 1,000,000,001" in text
    assert "inflow[0] om->justid" in text
    assert "per_day: must be at most 1,000,000,000 a day, got 1e+308" in text
    assert "per_day: must be 0 or more, got inf" in text
    assert "per_day: must be 0 or more, got nan" in text
    assert len(refused.problems) == 5


def test_a_billion_messages_forecast_stays_finite_in_every_output(chain: Chain) -> None:
    """The most the inputs take, a billion waiting and a billion a day for the longest horizon,
    gives finite figures: the table, the JSON and the chart take them."""
    plan = plan_opening(ChannelOpening(ChannelRule("justid", "om"), 100.0))
    result = forecast(
        plan,
        chain,
        start=T,
        backlog=[Backlog("justid", "om", DISPOSAL_REG, MAX_MESSAGES, T - H)],
        inflow=[Inflow("justid", "om", DISPOSAL_REG, MAX_MESSAGES)],
    )
    [channel] = result.channels
    assert channel.peak > 300 * MAX_MESSAGES and channel.empty_at is None
    numbers = [channel.peak, channel.remaining, channel.arrived, channel.delivered]
    numbers += [p.backlog for p in channel.series] + [m.count for m in channel.missed]
    assert all(math.isfinite(n) for n in numbers)
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["channels"][0]["peak"] == round(channel.peak)
    svg = render_svg(result, plan)
    assert "inf" not in svg and "nan" not in svg.lower()
    assert ET.fromstring(svg).tag.endswith("svg")


def test_a_start_or_horizon_outside_2000_to_2199_is_refused(chain: Chain) -> None:
    plan = plan_opening(ChannelOpening(ChannelRule("justid", "om")))
    year_1 = datetime.fromisoformat("0001-01-01T00:00:00+00:00")
    with pytest.raises(ForecastInputError) as raised:
        forecast(plan, chain, start=year_1, backlog=[], until=T)
    assert "start: 0001-01-01T00:00:00+00:00 lies before" in str(raised.value)
    far = datetime.fromisoformat("2200-01-01T00:00:00+00:00")
    with pytest.raises(ForecastInputError) as raised:
        forecast(plan, chain, start=T, backlog=[], until=far, step=timedelta(days=1))
    assert "until: 2200-01-01T00:00:00+00:00 lies after" in str(raised.value)


def test_the_forecast_is_compared_with_what_really_happened(chain: Chain) -> None:
    plan = plan_opening(ChannelOpening(ChannelRule("justid", "om"), per_hour(10)))
    backlog = [
        Backlog("justid", "om", DISPOSAL_REG, 100, T - H),
        Backlog("om", "politie", ARREST, 5, T - H),
    ]
    result = forecast(plan, chain, start=T, backlog=backlog)
    actual = [
        ActualPoint("om", "justid", date(2025, 8, 17), 100),
        ActualPoint("om", "justid", date(2025, 8, 18), 60),
        ActualPoint("om", "justid", date(2025, 8, 20), 0),
        ActualPoint("om", "justid", date(2025, 8, 19), 0),
        ActualPoint("om", "cjib", date(2025, 8, 19), 7),
    ]
    rows = {row.channel: row for row in compare(result, actual)}
    assert rows["om->justid"].forecast_empty == date(2025, 8, 18)
    assert rows["om->justid"].actual_empty == date(2025, 8, 19)
    assert rows["om->justid"].difference_days == 1
    assert rows["politie->om"].actual_empty is None and rows["politie->om"].difference_days is None
    assert rows["om->cjib"].forecast_empty is None and rows["om->cjib"].actual_empty is None


def test_results_become_table_rows_json_data_and_a_chart(chain: Chain) -> None:
    plan = plan_opening(ChannelOpening(ChannelRule("om", "politie"), per_hour(10)))
    result = forecast(plan, chain, start=T, backlog=[Backlog("om", "politie", ARREST, 100, T)])
    assert result.to_table() == [
        {
            "channel": "politie->om",
            "peak": 100,
            "peak_at": "2025-08-18T08:00+02:00",
            "empty_at": "2025-08-18T18:00+02:00",
            "missed": 10,
            "first_missed": "2025-08-18T17:00+02:00",
            "remaining": 0,
            "unlimited": False,
        }
    ]
    data = result.to_dict()
    assert data["channels"][0]["missed_by_type"][0]["type"] == ARREST
    assert data["channels"][0]["series"][0]["delivered"] == pytest.approx(100)
    svg = ET.fromstring(render_svg(result, plan))
    assert svg.tag.endswith("svg")
    assert len(svg.findall("{http://www.w3.org/2000/svg}polyline")) == 1
