"""The forecast's clock: buckets of messages per (flow, arrival step), drained step by step.

See :mod:`ketenherstel.golive.forecast` for the model; this module only runs it.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ketenherstel.chain import Chain
from ketenherstel.golive.channels import ChannelRule, Flow
from ketenherstel.golive.forecast import (
    Backlog,
    ChannelForecast,
    DayPoint,
    ForecastResult,
    Inflow,
    Missed,
)
from ketenherstel.golive.model import Plan
from ketenherstel.golive.priority import priorities

__all__ = ["simulate"]

_EPS = 1e-9
_MAX_HORIZON = timedelta(days=366)
_US = timedelta(microseconds=1)
_Budget = tuple[str, ChannelRule | str]


@dataclass(slots=True)
class _Bucket:
    step: int
    count: float


@dataclass(slots=True)
class _FlowState:
    flow: Flow
    order: int
    rank: int
    process: str
    deadline: timedelta | None
    per_step: float = 0.0
    buckets: deque[_Bucket] = field(default_factory=deque)
    # The sum of the buckets' counts, kept as they change: summing every bucket of every flow
    # at every step made the forecast quadratic in its horizon.
    waiting: float = 0.0
    held: bool = True
    budgets: tuple[_Budget, ...] = ()
    missed: float = 0.0
    first_missed: datetime | None = None

    def miss(self, count: float, due: datetime) -> None:
        self.missed += count
        self.first_missed = due if self.first_missed is None else min(self.first_missed, due)


@dataclass(slots=True)
class _Channel:
    peak: float = 0.0
    peak_at: datetime | None = None
    empty_at: datetime | None = None
    arrived: float = 0.0
    delivered: float = 0.0
    last_delivery: datetime | None = None
    days: dict[date, list[float]] = field(default_factory=dict)
    unlimited: bool = False  # delivered something with no rate limiting it


def simulate(
    plan: Plan,
    chain: Chain,
    start: datetime,
    backlog: list[Backlog],
    inflow: list[Inflow],
    rates: dict[str, float],
    until: datetime | None,
    step: timedelta,
) -> ForecastResult:
    """Run the forecast; inputs are already checked."""
    flows = _flows(chain, plan, start, backlog, inflow, step)
    channels = {pair: _Channel(empty_at=start) for pair in sorted({_pair(f) for f in flows})}
    changes = list(plan.changes())
    last_change = max([start, *changes])
    horizon = until or last_change + _MAX_HORIZON
    steps = math.ceil((horizon - start) / step)
    seconds = step.total_seconds()
    by_rank: dict[int, list[_FlowState]] = defaultdict(list)
    for state in sorted(flows.values(), key=lambda s: (s.rank, s.order)):
        by_rank[state.rank].append(state)
    phase = -1
    capacity: dict[_Budget, float] = {}
    end = start
    for k in range(steps):
        now = start + k * step
        end = now + step
        if bisect_right(changes, now) != phase:
            phase = bisect_right(changes, now)
            capacity = _decide(plan, flows.values(), now, rates, seconds)
        for state in flows.values():
            if state.per_step > 0:
                _add(state, k, state.per_step)
                channels[_pair(state.flow)].arrived += state.per_step
                _day(channels[_pair(state.flow)], now)[1] += state.per_step
        totals = _totals(flows.values())
        for pair, channel in channels.items():
            if totals[pair] > channel.peak + _EPS:
                channel.peak, channel.peak_at = totals[pair], now
            channel.last_delivery = None
        _drain(by_rank, capacity, channels, start, now, step)
        totals = _totals(flows.values())
        for pair, channel in channels.items():
            _day(channel, now)[0] = totals[pair]
            if totals[pair] > _EPS:
                channel.empty_at = None
            elif channel.empty_at is None:
                channel.empty_at = channel.last_delivery or now
        if until is None and now >= last_change and all(t <= _EPS for t in totals.values()):
            break
    for state in flows.values():
        for bucket in state.buckets:
            due = start + bucket.step * step + state.deadline if state.deadline else None
            if due is not None and end > due and bucket.count > _EPS:
                state.miss(bucket.count, due)
    return ForecastResult(
        plan=plan.name,
        start=start,
        until=end,
        step=step,
        channels=tuple(_result(pair, channels[pair], flows.values(), start) for pair in channels),
    )


def _pair(flow: Flow) -> tuple[str, str]:
    return (flow.sender, flow.receiver)


def _totals(flows: Iterable[_FlowState]) -> defaultdict[tuple[str, str], float]:
    totals: defaultdict[tuple[str, str], float] = defaultdict(float)
    for state in flows:
        totals[_pair(state.flow)] += state.waiting
    return totals


def _day(channel: _Channel, now: datetime) -> list[float]:
    return channel.days.setdefault(now.date(), [0.0, 0.0, 0.0])


def _add(state: _FlowState, step: int, count: float) -> None:
    buckets = state.buckets
    if buckets and buckets[-1].step == step:
        buckets[-1].count += count
    else:
        buckets.append(_Bucket(step, count))
    state.waiting += count


def _flows(
    chain: Chain,
    plan: Plan,
    start: datetime,
    backlog: list[Backlog],
    inflow: list[Inflow],
    step: timedelta,
) -> dict[Flow, _FlowState]:
    ranks = priorities(chain, plan)
    deadlines = {p.key: p.deadline.delta if p.deadline else None for p in chain.processes}
    keys = {Flow(b.receiver, b.sender, b.type) for b in backlog}
    keys |= {Flow(i.receiver, i.sender, i.type) for i in inflow}
    states: dict[Flow, _FlowState] = {}
    for order, flow in enumerate(sorted(keys)):
        message_type = chain.message_type(flow.type)
        process = message_type.process if message_type else ""
        rank = ranks.get(flow.type, len(ranks) + 1)
        states[flow] = _FlowState(flow, order, rank, process, deadlines.get(process))
    per_step = step / timedelta(days=1)
    for item in inflow:
        states[Flow(item.receiver, item.sender, item.type)].per_step += item.per_day * per_step
    waiting: dict[Flow, defaultdict[int, float]] = defaultdict(lambda: defaultdict(float))
    step_us = step // _US
    for entry in backlog:
        counts = waiting[Flow(entry.receiver, entry.sender, entry.type)]
        if entry.arrivals is not None:
            for at in entry.arrivals:
                counts[((at - start) // _US) // step_us] += 1
        else:
            _spread(counts, entry.count, (start - entry.oldest) // _US, step_us)
    for flow, counts in waiting.items():
        for index in sorted(counts):
            if counts[index] > 0:
                _add(states[flow], index, counts[index])
    return states


def _spread(counts: defaultdict[int, float], n: int, span: int, step_us: int) -> None:
    """Item i of n at ``-span + i·span/n`` µs from the start, counted per step bucket exactly."""
    if n <= 0:
        return
    if span <= 0:
        counts[0] += n
        return

    def first_item_at_or_after(offset: int) -> int:  # smallest i with -span + i·span/n ≥ offset
        return min(n, max(0, -((-(offset + span) * n) // span)))

    for index in range(-((span + step_us - 1) // step_us), 0):
        inside = first_item_at_or_after((index + 1) * step_us) - first_item_at_or_after(
            index * step_us
        )
        if inside:
            counts[index] += inside


def _decide(
    plan: Plan, flows: Iterable[_FlowState], now: datetime, rates: dict[str, float], seconds: float
) -> dict[_Budget, float]:
    """Set each flow's held state and budgets for the plan in force at ``now``."""
    state = plan.state_at(now)
    capacity: dict[_Budget, float] = {}
    for flow_state in flows:
        decision = state.decide(flow_state.flow, flow_state.process)
        flow_state.held = decision.held
        budgets: list[_Budget] = []
        for limit in decision.limits:
            key: _Budget = ("rule", limit.rule)
            capacity[key] = (limit.rate or 0.0) * seconds
            budgets.append(key)
        receiver = flow_state.flow.receiver
        if not budgets and receiver in rates:
            key = ("default", receiver)
            capacity[key] = rates[receiver] * seconds
            budgets.append(key)
        flow_state.budgets = tuple(budgets)
    return capacity


def _drain(
    by_rank: dict[int, list[_FlowState]],
    capacity: dict[_Budget, float],
    channels: dict[tuple[str, str], _Channel],
    start: datetime,
    now: datetime,
    step: timedelta,
) -> None:
    """One step: open flows take what their budgets allow, by rank, oldest bucket first."""
    used: dict[_Budget, float] = dict.fromkeys(capacity, 0.0)
    for rank in sorted(by_rank):
        heap = [(s.buckets[0].step, s.order, s) for s in by_rank[rank] if not s.held and s.buckets]
        heapq.heapify(heap)
        while heap:
            _, _, state = heapq.heappop(heap)
            room = min((capacity[b] - used[b] for b in state.budgets), default=math.inf)
            if room <= _EPS:
                continue  # this flow's rate is used up for this step
            bucket = state.buckets[0]
            amount = min(bucket.count, room)
            begin = max((used[b] / capacity[b] for b in state.budgets), default=0.0)
            for budget in state.budgets:
                used[budget] += amount
            finish = max((used[b] / capacity[b] for b in state.budgets), default=0.0)
            _deliver(state, bucket, amount, now + begin * step, now + finish * step, start, step)
            channel = channels[_pair(state.flow)]
            channel.unlimited = channel.unlimited or not state.budgets
            channel.delivered += amount
            _day(channel, now)[2] += amount
            delivered_at = now + finish * step
            channel.last_delivery = max(channel.last_delivery or delivered_at, delivered_at)
            bucket.count -= amount
            state.waiting -= amount
            if bucket.count <= _EPS:
                state.buckets.popleft()
                # What rounding left in the bucket goes with it; an empty flow waits for nothing.
                state.waiting = state.waiting - bucket.count if state.buckets else 0.0
            if state.buckets:
                heapq.heappush(heap, (state.buckets[0].step, state.order, state))


def _deliver(
    state: _FlowState,
    bucket: _Bucket,
    amount: float,
    begin: datetime,
    finish: datetime,
    start: datetime,
    step: timedelta,
) -> None:
    """Count the part of ``amount`` (delivered evenly from begin to finish) that was late."""
    if state.deadline is None:
        return
    due = start + bucket.step * step + state.deadline
    if finish <= due:
        return
    late = amount if finish <= begin else amount * ((finish - max(begin, due)) / (finish - begin))
    state.miss(late, due)


def _result(
    pair: tuple[str, str], channel: _Channel, flows: Iterable[_FlowState], start: datetime
) -> ChannelForecast:
    states = [s for s in flows if _pair(s.flow) == pair]
    counts: defaultdict[str, float] = defaultdict(float)
    firsts: dict[str, datetime] = {}
    for state in states:
        if state.missed > _EPS and state.first_missed is not None:
            name = state.flow.type
            counts[name] += state.missed
            firsts[name] = min(firsts.get(name, state.first_missed), state.first_missed)
    series = tuple(
        DayPoint(day, values[0], values[1], values[2])
        for day, values in sorted(channel.days.items())
    )
    return ChannelForecast(
        sender=pair[0],
        receiver=pair[1],
        peak=channel.peak,
        peak_at=channel.peak_at or start,
        empty_at=channel.empty_at,
        missed=tuple(Missed(name, counts[name], firsts[name]) for name in sorted(counts)),
        series=series,
        arrived=channel.arrived,
        delivered=channel.delivered,
        remaining=sum(sum(b.count for b in s.buckets) for s in states),
        unlimited=channel.unlimited,
    )
