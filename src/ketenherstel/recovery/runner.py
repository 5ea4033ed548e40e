"""Run a scenario through a real exchange, in process, on simulated time.

The clock steps by the scenario's ``step``. In each step:

1. what is due happens: a plan step (through :func:`ketenherstel.recovery.steps.apply_step`, by
   two pseudonymous operators, so a quarantine release is asked by one and approved by
   another), a status on the timeline, a partner coming back online, which first forwards what
   its edge outbox kept (and re-sends its last day before the cut with new ids, as systems do);
2. every partner submits what its systems logged in the step, as itself (an offline partner's
   messages go to its outbox; the emergency-route type only while the route is in force);
3. work done on paper is imported from a spreadsheet every ``paper.every``;
4. every receiver pulls what the exchange lets it have and acknowledges it; the exchange's rate
   buckets hold one step's worth (``rate_burst_seconds`` = the step).

The runner counts per channel what arrived, what was delivered and the backlog after each step,
and the lead time of every delivery against its process's legal deadline. At the end it asks
the store (:meth:`Store.ledger_counts`) what it holds: **lost** and **applied twice** are
computed from that, never assumed.
"""

from __future__ import annotations

import bisect
import csv
import dataclasses
import functools
import io
import math
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from ketenherstel.exchange.auth import LOCAL_OPERATOR, Principal
from ketenherstel.exchange.manual import ManualWork
from ketenherstel.exchange.service import Exchange
from ketenherstel.golive.channels import Flow, chain_flows
from ketenherstel.golive.forecast import ActualPoint, Comparison, Inflow, compare, forecast
from ketenherstel.recovery.figures import ChannelStats, MissedDeadline, ScenarioResult, WaveDrain
from ketenherstel.recovery.registry_link import ECRIS_NOTIFIED, SCREENING_ANSWER, RegistryLink
from ketenherstel.recovery.scenario import Scenario
from ketenherstel.recovery.sent_ledger import SentLedger
from ketenherstel.recovery.steps import apply_step, plan_steps
from ketenherstel.recovery.traffic import events_from_child, events_in_process
from ketenherstel.registry import Registry
from ketenherstel.sim.generator import SimEvent
from ketenherstel.sim.profile import SimProfile
from ketenherstel.store.ports import MessageOutcome

__all__ = ["ChannelStats", "Progress", "ScenarioResult", "WaveDrain", "run_scenario"]

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
OPERATOR_A = Principal("operator-a", "operator", None, "local")
OPERATOR_B = Principal("operator-b", "operator", None, "local")
RESEND_WINDOW = timedelta(days=1)

Progress = Callable[[datetime, int], None]
"""Called after each step with the simulated time and the messages submitted so far."""


def scaled(profile: SimProfile, scale: float) -> SimProfile:
    """The profile with every daily rate multiplied by ``scale`` (shares stay)."""
    changes = {
        f.name: getattr(profile, f.name) * scale
        for f in dataclasses.fields(profile)
        if f.name.endswith("_per_day")
    }
    return dataclasses.replace(profile, **changes)


def run_scenario(
    scenario: Scenario,
    exchange: Exchange,
    manual: ManualWork,
    *,
    scale: float = 1.0,
    progress: Progress | None = None,
    parallel: bool = True,
    registry: Registry | None = None,
    sent_ledger: SentLedger | None = None,
) -> ScenarioResult:
    """Run ``scenario`` on ``exchange`` (whose clock it takes over) and return its figures.

    ``parallel``: generate the traffic in a child process (the simulator's own work then runs
    on the other core); the events and their order are the same either way.

    ``registry``: Justid's registry (on the same exchange) consumes Justid's deliveries and
    answers the screenings the simulator asks for; its figures land in ``result.registry``.

    ``sent_ledger``: every event a partner submits is recorded there too (what the senders say
    they sent, for reconciliation); the caller closes it.
    """
    if not 0 < scale <= 1:
        raise ValueError(f"scale is a share of the full volume, above 0 and at most 1: {scale}")
    held = sum(exchange.store.ledger_counts().messages.values())
    if held:
        raise ValueError(
            f"the store already holds {held:,} messages; a scenario runs on an empty store, "
            "so that its figures are its own (for SQLite, scenario run --fresh)"
        )
    if registry is not None and registry.exchange is not exchange:
        raise ValueError("the registry must consume from the exchange the scenario runs on")
    if registry is not None:
        counts = registry.db.counts()
        if counts["messages"] or counts["screenings"]:
            raise ValueError(
                f"the registry ({registry.db.path}) already holds {counts['messages']:,} "
                f"messages and {counts['screenings']:,} screenings; a scenario starts with an "
                "empty one (delete its file, or scenario run --fresh)"
            )
    link = RegistryLink(registry) if registry is not None else None
    return _Run(scenario, exchange, manual, scale, progress, parallel, link, sent_ledger).run()


class _Run:
    def __init__(
        self,
        scenario: Scenario,
        exchange: Exchange,
        manual: ManualWork,
        scale: float,
        progress: Progress | None,
        parallel: bool,
        link: RegistryLink | None = None,
        sent_ledger: SentLedger | None = None,
    ) -> None:
        self.sc = scenario
        self.link = link
        self.sent_ledger = sent_ledger
        self.ex = exchange
        self.manual = manual
        self.chain = exchange.chain
        self.progress = progress
        self.now = scenario.start
        exchange.clock = self._clock
        manual.clock = self._clock
        exchange.settings = dataclasses.replace(
            exchange.settings, rate_burst_seconds=scenario.step.total_seconds()
        )
        self.result = ScenarioResult(
            scenario.name, scenario.seed, scale, scenario.start, scenario.start
        )
        profile = scaled(scenario.profile, scale)
        cases = max(1, round(profile.cases_per_day * scenario.days()))
        args = (self.chain, scenario.seed, cases, scenario.start, profile)
        self.events: Iterator[SimEvent] = (
            events_from_child(*args) if parallel else events_in_process(*args)
        )
        self.step_seconds = scenario.step.total_seconds()
        self.credit: dict[str, float] = {}
        # a smaller run keeps the story's shape: receivers take in the same share per hour
        self.capacity = {k: v * scale for k, v in scenario.capacity.items()}
        self.peeked: SimEvent | None = None
        self.peeked_at: datetime | None = None
        self.sequences: Counter[str] = Counter()
        self.outbox: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.recent: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        self.paper_rows: list[dict[str, str]] = []
        self.next_import = scenario.paper.since + scenario.paper.every if scenario.paper else None
        self.process_of = {mt.type: mt.process for mt in self.chain.message_types}
        self.deadline_of = {
            p.key: p.deadline.delta for p in self.chain.processes if p.deadline is not None
        }
        self.deadline_text = {
            p.key: p.deadline.duration for p in self.chain.processes if p.deadline is not None
        }
        self.missed: dict[str, Counter[str]] = defaultdict(Counter)
        self.receivers_of: dict[tuple[str, str], tuple[str, ...]] = {}
        self.pending: Counter[str] = Counter()  # per receiver
        self.seen: set[tuple[str, str]] = set()  # (receiver, message) applied
        self.step_times = [at for _, at in plan_steps(scenario.plan)]
        self.decisions: dict[tuple[str, str, str, int], str] = {}
        self.normal_arrivals: Counter[tuple[str, str, str]] = Counter()
        self.flow_backlog: Counter[tuple[str, str, str]] = Counter()  # (receiver, sender, type)
        self.flows_delivered: Counter[tuple[str, str, str]] = Counter()
        self.open_drains: list[_Drain] = []

    def _clock(self) -> float:
        return self.now.timestamp()

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> ScenarioResult:
        sc, r = self.sc, self.result
        for p in self.chain.partners:
            if p.key not in {x.key for x in self.ex.partners()}:
                self.ex.register_partner(principal=LOCAL_OPERATOR, key=p.key)
        actions = self._actions()
        last_change = max([at for _, at, _ in actions] + [sc.start])
        t = sc.start
        while t < sc.end:
            t_next = t + sc.step
            while actions and actions[0][1] < t_next:
                _, at, action = actions.pop(0)
                self.now = max(at, t)
                action()
            self.now = t_next
            self._submit_until(t_next)
            if self.next_import is not None and t_next >= self.next_import:
                self._import_paper()
                assert sc.paper is not None
                self.next_import += sc.paper.every
            self._pull_all(t_next)
            self._record(t_next)
            if self.progress:
                self.progress(t_next, r.sent)
            t = t_next
            if t > last_change + timedelta(days=1) and self._all_drained():
                break
        self.now = t
        if self.paper_rows:
            self._import_paper()
        r.end = t
        self._finish()
        return r

    def _actions(self) -> list[tuple[int, datetime, Callable[[], None]]]:
        sc = self.sc
        acts: list[tuple[int, datetime, Callable[[], None]]] = []
        for name, at in plan_steps(sc.plan):
            for o in sc.offline:
                if o.until == at:
                    acts.append((0, at, functools.partial(self._reconnect, o.partner)))
            acts.append((1, at, functools.partial(self._plan_step, name, at)))
        for o in sc.offline:
            what = f"{o.partner} cut off from the exchange: its edge outbox keeps what it sends"
            acts.append((2, o.since, functools.partial(self._note, o.since, what)))
        for entry in sc.timeline:
            acts.append((2, entry.at, functools.partial(self._note, entry.at, entry.what)))
        acts.sort(key=lambda a: (a[1], a[0]))
        return acts

    def _note(self, at: datetime, what: str) -> None:
        self.result.timeline.append((at, what))
        if self.link is not None:  # what a consumer read from the registry that day
            self.link.sample(at, what if len(what) <= 40 else what[:39] + "…")

    def _plan_step(self, name: str, at: datetime) -> None:
        if self.link is not None:
            self.link.sample(at, name)
        plan = self.sc.plan
        result = apply_step(
            self.ex, plan, name, principal=OPERATOR_A, approver=OPERATOR_B, manual=self.manual
        )
        self.result.steps.append(result)
        self.result.timeline.append((at, f"go-live plan: {name}"))
        before, after = plan.state_at(at - timedelta(microseconds=1)), plan.state_at(at)
        flows = []
        for flow in chain_flows(self.chain):
            process = self.process_of.get(flow.type, "")
            if before.decide(flow, process).held and not after.decide(flow, process).held:
                flows.append((flow.receiver, flow.sender, flow.type))
        backlog = sum(self.flow_backlog[f] for f in flows)
        if backlog:
            labels = tuple(c.label for c in result.channels if c.state == "open" and not c.again)
            delivered = sum(self.flows_delivered[f] for f in flows)
            self.open_drains.append(_Drain(name, at, labels, tuple(flows), backlog, delivered))

    def _reconnect(self, partner: str) -> None:
        """The partner reaches the exchange again: its outbox forwards, it re-sends a day."""
        kept = self.outbox.pop(partner, [])
        resend = []
        for event in self.recent.pop(partner, []):
            again = dict(event)
            again["id"] = _derived_id(event["id"])
            resend.append(again)
        self.result.resent += len(resend)
        self.result.timeline.append(
            (self.now, f"{partner} reconnects: its outbox forwards {len(kept):,} messages")
        )
        self._send(partner, kept, counted=True)
        self._send(partner, resend)

    # -- submitting ------------------------------------------------------------------------

    def _next(self) -> SimEvent | None:
        if self.peeked is None:
            self.peeked = next(self.events, None)
            if self.peeked is not None:
                self.peeked_at = datetime.fromisoformat(self.peeked.event["time"])
        return self.peeked

    def _submit_until(self, t_next: datetime) -> None:
        sc, r = self.sc, self.result
        batch: dict[str, list[dict[str, Any]]] = defaultdict(list)
        while (sim := self._next()) is not None and self.peeked_at is not None:
            at = self.peeked_at
            if at >= t_next:
                break
            self.peeked = None
            r.generated += 1
            event = sim.event
            if self.link is not None and event["type"] == ECRIS_NOTIFIED:
                self.link.figures.sim_notifications_left_out += 1  # the registry sends its own
                continue
            if sc.route_type is not None and event["type"] == sc.route_type:
                if not (sc.route_from and sc.route_until and sc.route_from <= at < sc.route_until):
                    continue
                r.route_messages += 1
            self._maybe_paper(sim, at)
            if sc.offline_at(sim.sender, at):
                self._arrive(sim.sender, event["type"])
                self.outbox[sim.sender].append(event)
                peak = r.outbox_peak.get(sim.sender, 0)
                r.outbox_peak[sim.sender] = max(peak, len(self.outbox[sim.sender]))
                continue
            if at < (sc.plan.isolation.at if sc.plan.isolation else sc.end):
                for receiver in self._receivers(event["type"], sim.sender):
                    self.normal_arrivals[(receiver, sim.sender, event["type"])] += 1
                self._remember(sim.sender, event, at)
            batch[sim.sender].append(event)
        owed: list[tuple[int, dict[str, Any]]] = []
        if self.link is not None:
            self.link.answer(
                [e for e in batch.get(self.link.receiver, ()) if e["type"] == SCREENING_ANSWER]
            )
            owed = self.link.notifications()
            batch[self.link.receiver].extend(event for _, event in owed)
        self._send_all(batch)
        if self.link is not None and owed:
            self.link.notified([ident for ident, _ in owed])

    def _remember(self, sender: str, event: dict[str, Any], at: datetime) -> None:
        """What each partner sent in the last day before it goes offline (it re-sends that)."""
        if not any(o.partner == sender for o in self.sc.offline):
            return
        recent = self.recent[sender]
        recent.append(event)
        horizon = at - RESEND_WINDOW
        while recent and datetime.fromisoformat(recent[0]["time"]) < horizon:
            recent.popleft()

    def _send(self, sender: str, events: list[dict[str, Any]], *, counted: bool = False) -> None:
        """Submit as ``sender``; ``counted``: their arrival was counted when they were logged."""
        self._send_all({sender: events}, counted=counted)

    def _send_all(self, batches: dict[str, list[dict[str, Any]]], *, counted: bool = False) -> None:
        """Every sender's events, as each sender itself, in commits of up to 1,000 a sender."""
        r = self.result
        chunks: list[tuple[str, list[dict[str, Any]]]] = []
        for sender, events in batches.items():
            for start in range(0, len(events), 1000):
                chunk = events[start : start + 1000]
                for event in chunk:
                    self.sequences[sender] += 1
                    event["sequence"] = str(self.sequences[sender])
                chunks.append((sender, chunk))
        while chunks:
            group, chunks = chunks[:8], chunks[8:]
            results = self.ex.submit_many(
                [(Principal(sender, "partner", sender, "token"), chunk) for sender, chunk in group]
            )
            for (sender, chunk), result in zip(group, results, strict=True):
                r.sent += len(chunk)
                if self.sent_ledger is not None:
                    self.sent_ledger.record(sender, chunk, self.now)
                if isinstance(result, Exception):
                    r.rejected += len(chunk)
                    continue
                self._count(sender, chunk, result.outcomes, counted)

    def _count(
        self,
        sender: str,
        chunk: list[dict[str, Any]],
        outcomes: Sequence[MessageOutcome],
        counted: bool,
    ) -> None:
        r = self.result
        for event, outcome in zip(chunk, outcomes, strict=True):
            if outcome.status == "duplicate":
                r.duplicates += 1
                if outcome.by == "business-key":
                    r.duplicates_by_key += 1
                if counted:  # kept in the outbox, then recognised: nothing waits for it
                    self._arrive(sender, event["type"], -1)
                continue
            r.accepted += 1
            r.accepted_per_source[event["source"]] = (
                r.accepted_per_source.get(event["source"], 0) + 1
            )
            if outcome.quarantined:
                r.quarantined += 1
            r.expected_deliveries += outcome.deliveries
            if not counted:
                self._arrive(sender, event["type"])
            for receiver in self._receivers(event["type"], sender)[: outcome.deliveries]:
                self.pending[receiver] += 1

    def _arrive(self, sender: str, type_name: str, n: int = 1) -> None:
        """Count ``n`` messages waiting from ``sender`` for each of their receivers."""
        for receiver in self._receivers(type_name, sender):
            stats = self._channel(sender, receiver)
            stats.arrived += n
            stats.backlog += n
            self._day(stats)[1] += n
            self.flow_backlog[(receiver, sender, type_name)] += n

    def _receivers(self, type_name: str, sender: str) -> tuple[str, ...]:
        key = (type_name, sender)
        found = self.receivers_of.get(key)
        if found is None:
            found = self.receivers_of[key] = self.chain.receivers_for(type_name, sender)
        return found

    # -- paper -----------------------------------------------------------------------------

    def _maybe_paper(self, sim: SimEvent, at: datetime) -> None:
        paper = self.sc.paper
        if paper is None or at < paper.since or sim.type not in paper.types:
            return
        held = any(
            self._decision(receiver, sim.sender, sim.type, at) != ""
            for receiver in self._receivers(sim.type, sim.sender)
        )
        if not held:
            return
        data = sim.event["data"]
        row = {
            "Partij": sim.sender,
            "Parketnummer": sim.event["partitionkey"],
            "Soort": sim.type,
            "Datum": at.astimezone(AMSTERDAM).date().isoformat(),
            "Geregistreerd door": paper.roles.get(sim.sender, "medewerker"),
        }
        for name in self.chain.business_key_fields(sim.type):
            if name != "parketnummer":
                row[f"veld:{name}"] = str(data.get(name, ""))
        self.paper_rows.append(row)

    def _import_paper(self) -> None:
        rows, self.paper_rows = self.paper_rows, []
        if not rows:
            return
        header = sorted({k for row in rows for k in row}, key=_column_order)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=header, delimiter=";", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        mapping = {
            "columns": {
                "partner": "Partij",
                "case": "Parketnummer",
                "type": "Soort",
                "when": "Datum",
                "role": "Geregistreerd door",
            },
            "fields": {h.removeprefix("veld:"): h for h in header if h.startswith("veld:")},
        }
        result = self.manual.import_csv(
            principal=OPERATOR_A,
            data=buffer.getvalue().encode(),
            mapping=mapping,
            dry_run=False,
            name=f"paper {self.now.astimezone(AMSTERDAM):%Y-%m-%d}",
        )
        self.result.paper_registered += len(result.stored)

    # -- pulling ---------------------------------------------------------------------------

    def _pull_all(self, t_next: datetime) -> None:
        for receiver in sorted(self.pending):
            if self.pending[receiver] <= 0 or self.sc.offline_at(receiver, t_next):
                continue
            rate = self.capacity.get(receiver)
            room = math.inf
            if rate is not None:  # a token bucket holding one step's intake
                burst = rate * self.step_seconds
                room = self.credit[receiver] = min(burst, self.credit.get(receiver, burst) + burst)
                if room < 1:
                    continue
            principal = Principal(receiver, "partner", receiver, "token")
            taken = 0
            while taken + 1 <= room:
                limit = int(min(1000, room - taken))
                got = self.ex.pull(principal=principal, limit=limit)
                for d in got:
                    self._applied(d.receiver, d.sender, d.source, d.id, d.type, d.body, t_next)
                if got and self.link is not None and receiver == self.link.receiver:
                    self.link.consume(got)  # applies, then acknowledges
                elif got:
                    self.ex.ack(principal=principal, delivery_ids=[d.delivery_id for d in got])
                taken += len(got)
                if len(got) < limit:
                    break
            if rate is not None:
                self.credit[receiver] -= taken

    def _applied(
        self,
        receiver: str,
        sender: str,
        source: str,
        id: str,
        type_name: str,
        body: bytes,
        at: datetime,
    ) -> None:
        r = self.result
        key = (receiver, f"{source} {id}")
        if key in self.seen:  # a redelivery: the receiver applies by id, so once in effect
            r.redelivered += 1
            return
        self.seen.add(key)
        r.delivered += 1
        self.pending[receiver] -= 1
        stats = self._channel(sender, receiver)
        stats.delivered += 1
        stats.backlog -= 1
        self._day(stats)[2] += 1
        self.flow_backlog[(receiver, sender, type_name)] -= 1
        self.flows_delivered[(receiver, sender, type_name)] += 1
        process = self.process_of.get(type_name, "")
        limit = self.deadline_of.get(process)
        if limit is None:
            return
        logged = datetime.fromisoformat(orjson.loads(body)["time"])
        if at - logged > limit:
            self.missed[process][self._why(receiver, sender, type_name, logged)] += 1

    def _why(self, receiver: str, sender: str, type_name: str, logged: datetime) -> str:
        decision = self._decision(receiver, sender, type_name, logged)
        if decision:
            return decision
        if self.sc.offline_at(sender, logged):
            return "kept in the sender's outbox while it was cut off"
        return "the receiver's pace, a rate limit or waiting behind its own case"

    def _decision(self, receiver: str, sender: str, type_name: str, at: datetime) -> str:
        """Why the plan held this flow at ``at`` ("" when it did not)."""
        index = bisect.bisect_right(self.step_times, at)
        key = (receiver, sender, type_name, index)
        found = self.decisions.get(key)
        if found is None:
            process = self.process_of.get(type_name, "")
            decision = self.sc.plan.state_at(at).decide(Flow(receiver, sender, type_name), process)
            if decision.quarantined:
                found = f"quarantined: {sender} returning from isolation"
            elif decision.held and decision.deciding is not None:
                found = f"held by the {decision.deciding.origin}"
            else:
                found = ""
            self.decisions[key] = found
        return found

    # -- figures ---------------------------------------------------------------------------

    def _channel(self, sender: str, receiver: str) -> ChannelStats:
        label = f"{sender}->{receiver}"
        stats = self.result.channels.get(label)
        if stats is None:
            stats = self.result.channels[label] = ChannelStats(sender, receiver)
        return stats

    def _day(self, stats: ChannelStats) -> list[int]:
        day = self.now.astimezone(AMSTERDAM).date()
        found = stats.days.get(day)
        if found is None:
            found = stats.days[day] = [stats.backlog, 0, 0]
        return found

    def _record(self, t_next: datetime) -> None:
        for stats in self.result.channels.values():
            if stats.backlog > stats.peak:
                stats.peak, stats.peak_at = stats.backlog, t_next
            self._day(stats)[0] = stats.backlog
        still: list[_Drain] = []
        for drain in self.open_drains:
            if any(self.flow_backlog[f] for f in drain.flows):
                still.append(drain)
                continue
            delivered = sum(self.flows_delivered[f] for f in drain.flows) - drain.delivered_before
            self.result.drains.append(
                WaveDrain(drain.step, drain.at, drain.labels, drain.backlog, t_next, delivered)
            )
        self.open_drains = still

    def _all_drained(self) -> bool:
        return (
            not self.open_drains
            and not any(self.outbox.values())
            and all(s.backlog == 0 for s in self.result.channels.values())
        )

    def _finish(self) -> None:
        r = self.result
        for d in self.open_drains:
            delivered = sum(self.flows_delivered[f] for f in d.flows) - d.delivered_before
            r.drains.append(WaveDrain(d.step, d.at, d.labels, d.backlog, None, delivered))
        for process, why in sorted(self.missed.items()):
            r.missed.append(
                MissedDeadline(
                    process, self.deadline_text.get(process, ""), sum(why.values()), dict(why)
                )
            )
        r.timeline.sort(key=lambda item: item[0])
        counts = _paper_counts(self.manual)
        r.paper_matched, r.paper_unmatched = counts
        r.comparison = self._compare()
        ledger = self.ex.store.ledger_counts()
        r.ledger = ledger
        stored = sum(ledger.messages.get(source, 0) for source in r.accepted_per_source)
        missing_messages = max(0, r.accepted - stored)
        deliveries = sum(ledger.deliveries.values())
        missing_deliveries = max(0, r.expected_deliveries - deliveries)
        r.applied = ledger.deliveries.get("acked", 0)
        r.lost = missing_messages + missing_deliveries + ledger.deliveries.get("dead", 0)
        r.applied_twice = ledger.applied_twice_by_id + ledger.applied_twice_by_key
        if self.link is not None:
            self.link.sample(self.now, "end")
            r.registry = self.link.finish()

    def _compare(self) -> list[Comparison]:
        sc = self.sc
        if sc.plan.isolation is None:
            return []
        normal_days = max(1e-9, (sc.plan.isolation.at - sc.start) / timedelta(days=1))
        inflow = [
            Inflow(receiver, sender, type_name, count / normal_days)
            for (receiver, sender, type_name), count in sorted(self.normal_arrivals.items())
        ]
        partners = set(sc.plan.isolation.partners)
        inflow = [i for i in inflow if i.receiver in partners or i.sender in partners]
        if not inflow:
            return []
        predicted = forecast(
            sc.plan,
            self.chain,
            start=sc.plan.isolation.at,
            inflow=inflow,
            default_rates=self.capacity,
            until=max(self.result.end, sc.plan.waves[-1].at + timedelta(days=2))
            if sc.plan.waves
            else self.result.end,
        )
        actual = [
            ActualPoint(stats.sender, stats.receiver, day, values[0])
            for stats in self.result.channels.values()
            if stats.sender in partners or stats.receiver in partners
            for day, values in sorted(stats.days.items())
            if day >= sc.plan.isolation.at.astimezone(AMSTERDAM).date()
        ]
        return compare(predicted, actual)


def _paper_counts(manual: ManualWork) -> tuple[int, int]:
    """(matched, unmatched) manual records, read from the store page by page."""
    matched = unmatched = 0
    after = 0
    while page := manual.store.manual_records(after=after, limit=1000):
        for record in page:
            if record.matched_position is not None:
                matched += 1
            elif record.status != "withdrawn":
                unmatched += 1
        after = page[-1].id
    return matched, unmatched


@dataclass(frozen=True, slots=True)
class _Drain:
    step: str
    at: datetime
    labels: tuple[str, ...]
    flows: tuple[tuple[str, str, str], ...]
    backlog: int
    delivered_before: int


def _column_order(name: str) -> tuple[int, str]:
    fixed = ["Partij", "Parketnummer", "Soort", "Datum", "Geregistreerd door"]
    return (fixed.index(name), "") if name in fixed else (len(fixed), name)


def _derived_id(original: str) -> str:
    """A new id for a re-sent message, derived so the run stays deterministic."""
    import hashlib
    import uuid

    digest = hashlib.sha256(f"resend:{original}".encode()).digest()[:16]
    return str(uuid.UUID(bytes=digest, version=4))
