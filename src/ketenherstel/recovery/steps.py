"""Run a go-live plan against a live exchange: one step (the isolation or a wave) at a time.

A step makes the exchange's state equal to the plan's state after that step:

- **partners**: at the isolation each listed partner is isolated (which holds everything to and
  from it); at the first wave after it an isolated partner starts *returning*, so the channels
  the wave opens deliver to it (an isolated receiver gets nothing, whatever the rules say); a
  wave's ``online`` asks for a release of the partner's quarantine, whose approval by a second
  operator brings it online (decision 0018);
- **channel rules**: the store's rules are made equal to the plan's rules in force after the
  step. Rules the plan does not have are cleared (set open without a rate), rules it has are
  set, broader before narrower, because the store lets a broader rule replace the narrower ones
  beneath it (decision 0008). So a hold an operator set by hand is cleared by the next step:
  ``dry_run`` shows every change first;
- **quarantine**: for a partner a wave releases (``release_quarantine``) or brings online, the
  operator asks for the release of what waits; with a second operator (``approver``) the
  release is approved at once, otherwise it waits for ``quarantine approve``. An approved
  release of a returning partner ends its quarantine (the exchange brings it online);
- **priorities**: the plan's agreed priorities, then the computed order, for new and pending
  deliveries;
- **interim procedures**: a process the step restores (some of its flows were held before the
  step, none is after it) has its interim procedures retired, named after the wave.

Every change goes through the exchange's own use cases, so it is checked, audited and on the
trail like a change made by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ketenherstel.golive.channels import ANY, ChannelRule, Flow, RuleState, chain_flows
from ketenherstel.golive.model import ISOLATION_STEP, Plan, PlanState
from ketenherstel.golive.priority import priorities

if TYPE_CHECKING:
    from ketenherstel.exchange.auth import Principal
    from ketenherstel.exchange.manual import ManualWork
    from ketenherstel.exchange.service import Exchange

__all__ = ["ISOLATION_STEP", "ChannelChange", "StepResult", "apply_step", "plan_steps"]


@dataclass(frozen=True, slots=True)
class ChannelChange:
    """One rule the step sets: ``state`` open or held, with a rate in messages per second."""

    receiver: str
    sender: str
    scope: str
    state: str
    rate: float | None
    why: str
    again: bool = False
    """Set again only because a broader rule set in the same step deleted it (decision 0008)."""

    @property
    def label(self) -> str:
        return ChannelRule(self.receiver, self.sender, self.scope).label


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one step changed (or, with ``dry_run``, would change)."""

    step: str
    at: datetime
    dry_run: bool
    partners: tuple[tuple[str, str], ...] = ()
    """(partner, new state), in the order they were set."""
    channels: tuple[ChannelChange, ...] = ()
    releases_requested: tuple[tuple[str, int, int], ...] = ()
    """(partner, release id, messages); release id 0 in a dry run."""
    releases_approved: tuple[int, ...] = ()
    priorities_changed: int = 0
    """Pending deliveries whose priority changed."""
    restored_processes: tuple[str, ...] = ()
    procedures_retired: tuple[int, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def changed(self) -> bool:
        """Whether the step changed (or would change) anything; False when the store was
        already at this step. ``restored_processes`` and ``notes`` describe, they change
        nothing."""
        return bool(
            self.partners
            or self.channels
            or self.releases_requested
            or self.releases_approved
            or self.priorities_changed
            or self.procedures_retired
        )


class StepOutOfOrder(ValueError):
    """A step that does not follow the store's state (a wave before the plan's isolation
    step); nothing was changed."""


def plan_steps(plan: Plan) -> tuple[tuple[str, datetime], ...]:
    """Every step of the plan in order, with its moment: the isolation (if any), then the waves."""
    steps = [(ISOLATION_STEP, plan.isolation.at)] if plan.isolation else []
    steps.extend((wave.name, wave.at) for wave in plan.waves)
    return tuple(steps)


def _index(plan: Plan, step: str) -> int:
    if step == ISOLATION_STEP:
        if plan.isolation is None:
            raise ValueError(f"plan {plan.name!r} isolates no partner; its steps are the waves")
        return -1
    for i, wave in enumerate(plan.waves):
        if wave.name == step:
            return i
    names = ", ".join(name for name, _ in plan_steps(plan))
    raise ValueError(f"plan {plan.name!r} has no step {step!r}; its steps are: {names}")


def apply_step(
    exchange: Exchange,
    plan: Plan,
    step: str,
    *,
    principal: Principal,
    approver: Principal | None = None,
    manual: ManualWork | None = None,
    dry_run: bool = False,
) -> StepResult:
    """Bring the exchange to the plan's state after ``step``; see the module docstring.

    Raises ``ValueError`` for an unknown step, and the exchange's own errors (``Forbidden`` for a
    principal that is no operator, ``StateConflict`` when the same operator approves).
    """
    index = _index(plan, step)
    if index >= 0 and plan.isolation is not None:
        # A wave follows the isolation: a partner the plan isolates that was never out of
        # online has not had it, and the wave's holds would describe what did not happen.
        states = {key: record.state for key, record in exchange.partner_states().items()}
        missing = [
            key
            for key in plan.isolation.partners
            if states.get(key, "online") == "online"
            and not exchange.partner_history(partner=key, limit=1)
        ]
        if missing:
            raise StepOutOfOrder(
                f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} online: this store "
                f"never had the plan's isolation step; apply `isolation` first"
            )
    # The isolation step always may run: it starts a run of the plan again (a new incident, or
    # going back to the start), setting partner states and holds alike.
    latest = _latest_applied(exchange, plan) if index >= 0 else None
    if latest is not None and _index(plan, latest) > index:
        # Going back (isolation after wave-2, wave-1 after wave-3) would hold channels again
        # while the partner states the later step set stay (a partner online, its traffic no
        # longer quarantined): the store would match no step of the plan.
        raise StepOutOfOrder(
            f"step {latest} of plan {plan.name}, which comes after {step}, is applied already: "
            "a plan goes forward only; hold or open channels by hand (`ketenherstel channel …`) "
            "to go back"
        )
    at = plan.isolation.at if index < 0 and plan.isolation else plan.waves[index].at
    reason = f"go-live plan {plan.name}, step {step}"
    notes: list[str] = []

    # 1. Partner states, before the rules: isolating adds the holds the rules then keep.
    partner_changes = _partner_changes(exchange, plan, index)
    # 2. The rules in force after the step.
    after = plan.state_after(index)
    changes = _rule_changes(exchange, after, reason)
    # A wave also does what the waves between the step applied last and it would have done,
    # had they been skipped (wave-2 applied after the isolation): their rules are in the
    # state after this one, but their releases and retirements would never be made. When no
    # step is found applied, every earlier wave counts (asking a release or retiring again
    # is harmless: a waiting release is not asked twice, a retired procedure stays retired).
    prev = index - 1
    if index >= 0:
        prev = min(prev, _index(plan, latest) if latest is not None else -1)
    carried = plan.waves[prev + 1 : index + 1] if index >= 0 else []
    skipped = [w.name for w in carried[:-1]]
    if skipped:
        notes.append(
            f"{', '.join(skipped)} {'was' if len(skipped) == 1 else 'were'} not found applied: "
            "this step also makes their quarantine releases and retires their procedures"
        )
    # 3. Processes the step restores.
    before = plan.state_after(prev) if index >= 0 else None
    restored = _restored(exchange, before, after) if before is not None else ()
    # 4. Quarantine releases.
    release_for = list(
        dict.fromkeys(key for w in carried for key in (*w.release_quarantine, *w.online))
    )
    waiting = exchange.quarantine_counts()
    wanted = priorities(exchange.chain, plan)
    # A partner the wave brings online that is (or by this step becomes) returning is asked a
    # release even with nothing in quarantine: its approval brings it online (decision 0018).
    returning = {key for key, r in exchange.partner_states().items() if r.state == "returning"}
    returning |= {p for p, to in partner_changes if to == "returning"}
    coming = {key for w in carried for key in w.online if key in returning}

    if dry_run:
        return StepResult(
            step,
            at,
            True,
            partners=tuple(partner_changes),
            channels=tuple(changes),
            releases_requested=tuple(
                (p, 0, waiting.get(p, (0, 0))[0])
                for p in release_for
                if waiting.get(p, (0, 0))[0] or p in coming
            ),
            restored_processes=restored,
            notes=tuple(notes),
        )

    for partner, state in partner_changes:
        exchange.set_partner_state(principal=principal, partner=partner, state=state, reason=reason)
    if partner_changes:
        # Isolating set the partner's holds itself: only what is still different is set.
        changes = _rule_changes(exchange, after, reason)
    for c in changes:
        exchange.set_channel(
            principal=principal,
            receiver=c.receiver,
            sender=c.sender,
            scope=c.scope,
            state=c.state,
            rate=c.rate,
            reason=f"{reason}: {c.why}",
        )
    changed = exchange.set_priorities(principal=principal, priorities=wanted)
    requested: list[tuple[str, int, int]] = []
    approved: list[int] = []
    for partner in release_for:
        if not waiting.get(partner, (0, 0))[0] and partner not in coming:
            continue
        since = exchange.partner_states()[partner].changed_at
        asked = [
            r
            for r in exchange.releases(partner=partner)
            if r.approved_by is None and r.requested_at >= since
        ]
        same = exchange.waiting_release(partner=partner)
        if (partner in coming and asked) or same is not None:
            # Applied again: the release the step asked for before still waits (the exchange
            # refuses a second one of the same messages).
            waits = same if same is not None else asked[-1]
            notes.append(f"release {waits.id} of {partner} waits for a second operator's approval")
            continue
        release, check = exchange.request_release(
            principal=principal, partner=partner, reason=reason
        )
        requested.append((partner, release.id, release.messages))
        notes.extend(f"{partner}: {finding}" for finding in check.findings)
        if approver is not None:
            exchange.approve_release(principal=approver, release_id=release.id)
            approved.append(release.id)
        else:
            notes.append(
                f"release {release.id} of {partner} waits for a second operator's approval"
            )
    retired: list[int] = []
    if manual is not None and restored:
        retired = [
            p.id
            for p in manual.retire_procedures(principal=principal, processes=restored, wave=step)
        ]
    return StepResult(
        step,
        at,
        False,
        partners=tuple(partner_changes),
        channels=tuple(changes),
        releases_requested=tuple(requested),
        releases_approved=tuple(approved),
        priorities_changed=changed,
        restored_processes=restored,
        procedures_retired=tuple(retired),
        notes=tuple(notes),
    )


def _latest_applied(exchange: Exchange, plan: Plan) -> str | None:
    """The step of ``plan`` applied last to this store, as the channel and partner changes it
    made record it (their reason names the plan and the step); None when none is found."""
    prefix = f"go-live plan {plan.name}, step "
    names = {name for name, _ in plan_steps(plan)}
    found: list[tuple[float, str]] = []
    records = [
        *((c.changed_at, c.reason) for c in exchange.channel_history(limit=1000)),
        *((p.changed_at, p.reason) for p in exchange.partner_history(limit=1000)),
    ]
    for at, why in records:
        if why.startswith(prefix):
            name = why[len(prefix) :].split(":", 1)[0]
            if name in names:
                found.append((at, name))
    if not found:
        return None
    # The newest record; of records made together, the step furthest on.
    newest = max(at for at, _ in found)
    return max((n for at, n in found if at == newest), key=lambda n: _index(plan, n))


def _partner_changes(exchange: Exchange, plan: Plan, index: int) -> list[tuple[str, str]]:
    if plan.isolation is None:
        return []
    states = {key: record.state for key, record in exchange.partner_states().items()}
    changes: list[tuple[str, str]] = []
    for key in plan.isolation.partners:
        current = states.get(key, "online")
        if index < 0:
            wanted = "isolated"
        elif current == "isolated":
            # The first wave after the isolation: the partner returns, so what the waves open
            # reaches it. A partner already returning, or released and online again, stays so.
            # Online it comes by a release two operators agree on (decision 0018), which the
            # step asks for when a wave names it in `online`.
            wanted = "returning"
        else:
            continue
        if wanted != current:
            changes.append((key, wanted))
    return changes


def _rule_changes(exchange: Exchange, after: PlanState, reason: str) -> list[ChannelChange]:
    """The set_channel calls that make the store's rules equal to ``after``'s, in order."""
    desired: dict[ChannelRule, RuleState] = {s.rule: s for s in after.states}
    current = {ChannelRule(r.receiver, r.sender, r.scope): r for r in exchange.channels()}
    touched: list[ChannelRule] = []
    again: set[ChannelRule] = set()
    for rule, record in current.items():
        if rule not in desired and (record.state != "open" or record.rate is not None):
            touched.append(rule)
    for rule, wanted in desired.items():
        found = current.get(rule)
        if found is None or (found.state == "held") != wanted.held or found.rate != wanted.rate:
            touched.append(rule)
    # Setting a rule deletes the narrower rules beneath it: set those again after it.
    for rule in desired:
        if rule not in touched and any(_beneath(rule, broad) for broad in touched):
            touched.append(rule)
            again.add(rule)
    touched.sort(key=lambda r: (r.specificity, r.receiver, r.sender, r.scope))
    out: list[ChannelChange] = []
    for rule in touched:
        setting = desired.get(rule)
        if setting is None:
            out.append(
                ChannelChange(rule.receiver, rule.sender, rule.scope, "open", None, "cleared")
            )
        else:
            out.append(
                ChannelChange(
                    rule.receiver,
                    rule.sender,
                    rule.scope,
                    "held" if setting.held else "open",
                    setting.rate,
                    setting.origin or reason,
                    rule in again,
                )
            )
    return out


def _beneath(narrow: ChannelRule, broad: ChannelRule) -> bool:
    """Whether setting ``broad`` deletes ``narrow`` in the store (decision 0008)."""
    if narrow == broad:
        return False
    return all(
        b == ANY or n == b
        for n, b in (
            (narrow.receiver, broad.receiver),
            (narrow.sender, broad.sender),
            (narrow.scope, broad.scope),
        )
    )


def _restored(exchange: Exchange, before: PlanState, after: PlanState) -> tuple[str, ...]:
    chain = exchange.chain
    process_of = {mt.type: mt.process for mt in chain.message_types}
    held_before: dict[str, list[Flow]] = {}
    held_after: set[str] = set()
    for flow in chain_flows(chain):
        process = process_of.get(flow.type, "")
        if before.decide(flow, process).held:
            held_before.setdefault(process, []).append(flow)
        if after.decide(flow, process).held:
            held_after.add(process)
    return tuple(sorted(p for p in held_before if p not in held_after))


def steps_until(plan: Plan, moment: datetime) -> Sequence[str]:
    """The names of the steps due at ``moment`` (their time is at or before it), in order."""
    return [name for name, at in plan_steps(plan) if at <= moment]
