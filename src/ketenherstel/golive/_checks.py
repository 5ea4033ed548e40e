"""Checks across waves: quarantine, openings that open nothing, and the dependency rule.

They work on a :class:`Plan` whose waves are otherwise sound and return findings by wave and
opening index; the reader turns them into problems at the right line.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from ketenherstel.chain import Chain
from ketenherstel.golive.channels import Flow, chain_flows, short_type
from ketenherstel.golive.model import Plan, PlanState

__all__ = ["Cause", "Finding", "describe_cause", "plan_findings", "when"]


@dataclass(frozen=True, slots=True, order=True)
class Cause:
    """What in a wave released a flow: an opening (by index), ``online`` or ``release_quarantine``
    (by partner key)."""

    kind: str
    opening: int = -1
    partner: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """A problem found in wave ``wave`` (index), caused by ``cause``."""

    wave: int
    cause: Cause
    message: str


def when(at: datetime) -> str:
    """A moment for messages: ``2025-08-25 08:00+02:00``."""
    return at.isoformat(sep=" ", timespec="minutes")


def plan_findings(plan: Plan, chain: Chain) -> list[Finding]:
    """Quarantine, no-effect and dependency findings for every wave of ``plan``."""
    processes = {mt.type: mt.process for mt in chain.message_types}
    flows = chain_flows(chain)
    states = [plan.state_after(index) for index in range(-1, len(plan.waves))]
    findings: list[Finding] = []
    for index in range(len(plan.waves)):
        before, after = states[index], states[index + 1]
        findings += _opening_findings(plan, chain, index, after, processes)
        findings += _dependency_findings(plan, chain, index, before, after, states, flows)
    return findings


def _opening_findings(
    plan: Plan, chain: Chain, index: int, after: PlanState, processes: dict[str, str]
) -> list[Finding]:
    found: list[Finding] = []
    for j, opening in enumerate(plan.waves[index].opens):
        flows = opening.rule.flows(chain)
        decisions = [after.decide(flow, processes[flow.type]) for flow in flows]
        quarantined = sorted(
            {
                flow.sender
                for flow, decision in zip(flows, decisions, strict=True)
                if decision.quarantined
                and decision.deciding is not None
                and decision.deciding.ref == (index, j)
            }
        )
        if quarantined:
            names = ", ".join(quarantined)
            found.append(
                Finding(
                    index,
                    Cause("open", j),
                    f"opens traffic from {names}, which is isolated: its messages stay "
                    f"quarantined until released; add release_quarantine: [{names}] to this wave "
                    "or an earlier one",
                )
            )
        held_by_rule = [d for d in decisions if d.held and not d.quarantined]
        if flows and len(held_by_rule) == len(decisions):
            blocker = held_by_rule[0].deciding
            what = f"{blocker.origin} (rule {blocker.rule.label})" if blocker else "another rule"
            found.append(
                Finding(
                    index,
                    Cause("open", j),
                    f"opens nothing: all it carries stays held by {what}, which is at least as "
                    "specific; name the receiver, the sender or the scope",
                )
            )
    return found


def _cause(index: int, after: PlanState, flow: Flow, process: str, plan: Plan) -> Cause:
    deciding = after.decide(flow, process).deciding
    if deciding is not None and deciding.ref is not None and deciding.ref[0] == index:
        return Cause("open", deciding.ref[1])
    wave = plan.waves[index]
    for key in wave.online:
        if key in (flow.sender, flow.receiver):
            return Cause("online", partner=key)
    for key in wave.release_quarantine:
        if key == flow.sender:
            return Cause("release_quarantine", partner=key)
    return Cause("open")


def _dependency_findings(
    plan: Plan,
    chain: Chain,
    index: int,
    before: PlanState,
    after: PlanState,
    states: list[PlanState],
    flows: tuple[Flow, ...],
) -> list[Finding]:
    processes = {mt.type: mt.process for mt in chain.message_types}
    by_type: dict[str, list[Flow]] = defaultdict(list)
    for flow in flows:
        by_type[flow.type].append(flow)
    groups: dict[tuple[Cause, Flow, int | None, str], tuple[set[str], set[str], set[str]]] = {}
    for flow in flows:
        process = processes[flow.type]
        if not before.decide(flow, process).held or after.decide(flow, process).held:
            continue  # not released by this wave
        cause = _cause(index, after, flow, process, plan)
        for dependency in chain.dependencies_of(flow.type):
            for other in by_type.get(dependency, ()):
                decision = after.decide(other, processes[dependency])
                if not decision.held:
                    continue
                held_by = (
                    f"quarantine of {other.sender!r}"
                    if decision.quarantined
                    else (decision.deciding.origin if decision.deciding else "a held rule")
                )
                opens = next(
                    (
                        k
                        for k in range(index + 1, len(plan.waves))
                        if not states[k + 1].decide(other, processes[dependency]).held
                    ),
                    None,
                )
                opener = ""
                if opens is not None:
                    releaser = _cause(opens, states[opens + 1], other, processes[dependency], plan)
                    opener = describe_cause(plan, opens, releaser)
                key = (cause, Flow(other.receiver, other.sender, ""), opens, opener)
                types, dependencies, holders = groups.setdefault(key, (set(), set(), set()))
                types.add(flow.type)
                dependencies.add(dependency)
                holders.add(held_by)
    found = []
    for (cause, channel, opens, opener), (types, dependencies, holders) in sorted(
        groups.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or -1)
    ):
        released = ", ".join(sorted(short_type(t) for t in types))
        needed = ", ".join(sorted(short_type(t) for t in dependencies))
        verb = "it depends" if len(types) == 1 else "they depend"
        message = (
            f"releases {released} before what {verb} on: {needed} on channel "
            f"{channel.channel} is still held ({', '.join(sorted(holders))})"
        )
        if opens is None:
            message += " and no wave releases it; open that channel in this wave or earlier"
        else:
            wave = plan.waves[opens]
            message += (
                f" until wave {wave.name!r} ({when(wave.at)}, {opener}); open that channel in "
                f"this wave or earlier, or move this one to wave {wave.name!r} or later"
            )
        found.append(Finding(index, cause, message))
    return found


def describe_cause(plan: Plan, index: int, cause: Cause) -> str:
    """``channel om->justid``, ``online: [om]`` or ``release_quarantine: [om]``."""
    wave = plan.waves[index]
    if cause.kind == "open" and 0 <= cause.opening < len(wave.opens):
        return f"channel {wave.opens[cause.opening].label}"
    if cause.kind == "open":
        return "its channels"
    return f"{cause.kind}: [{cause.partner}]"
