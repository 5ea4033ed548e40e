"""The go-live priority of every message type: agreed decisions first, then the computed order.

Ranks (1 is first, lower drains earlier) go to processes; every type of a process has its
process's rank:

1. processes with an agreed priority decision in the plan, in the plan's decision order;
2. then processes with a legal deadline, shortest deadline first (``Deadline.delta``); equal
   deadlines in procedure order;
3. then processes without a legal deadline, in procedure order (``Chain.processes_in_order``).

Inside one rank, case age breaks the tie: older first. The exchange orders a receiver's held
deliveries by ``(priority, arrival)``, and the forecast drains in that order too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ketenherstel.chain import Chain, Process
from ketenherstel.golive.errors import PlanError
from ketenherstel.golive.model import Plan

__all__ = ["Rank", "explain", "format_duration", "priorities", "ranking"]


@dataclass(frozen=True, slots=True)
class Rank:
    """One process's place in the go-live order, and why it has it."""

    rank: int
    process: str
    types: tuple[str, ...]
    basis: str
    """``agreed``, ``deadline`` or ``procedure``."""
    reason: str


def ranking(chain: Chain, plan: Plan | None = None) -> tuple[Rank, ...]:
    """Every process of ``chain`` in go-live order with its rank and reason.

    Raises :class:`PlanError` when a decision names a process ``chain`` does not have (a plan
    loaded against another chain).
    """
    in_order = chain.processes_in_order()
    position = {process.key: i + 1 for i, process in enumerate(in_order)}
    decisions = plan.priorities if plan is not None else ()
    agreed: dict[str, str] = {}
    for decision in decisions:
        if decision.process not in position:
            raise PlanError(
                f"the plan's priority decision names process {decision.process!r}, which this "
                "chain does not have; load the plan against the same chain"
            )
        roles = ", ".join(decision.agreed_by)
        agreed.setdefault(
            decision.process, f"agreed {decision.at:%d-%m-%Y} by {roles}: {decision.why}"
        )
    rest = [process for process in in_order if process.key not in agreed]
    timed = sorted(
        (p for p in rest if p.deadline is not None),
        key=lambda p: (_delta(p), position[p.key]),
    )
    untimed = [p for p in rest if p.deadline is None]
    ranks: list[Rank] = []
    for key, reason in agreed.items():
        ranks.append(_rank(chain, len(ranks) + 1, chain.process(key), "agreed", reason))
    for process in timed:
        reason = f"deadline {format_duration(_delta(process))}"
        if process.deadline is not None and process.deadline.legal_basis:
            reason += f" ({process.deadline.legal_basis})"
        ranks.append(_rank(chain, len(ranks) + 1, process, "deadline", reason))
    for process in untimed:
        reason = f"no legal deadline; procedure order {position[process.key]}"
        ranks.append(_rank(chain, len(ranks) + 1, process, "procedure", reason))
    return tuple(ranks)


def priorities(chain: Chain, plan: Plan | None = None) -> dict[str, int]:
    """Message type name → rank (1 first; lower drains earlier). See the module docstring."""
    return {type_name: rank.rank for rank in ranking(chain, plan) for type_name in rank.types}


def explain(chain: Chain, plan: Plan | None = None) -> dict[str, str]:
    """Message type name → why it has its rank (``deadline 3 days (art. 58 Sv)``, …)."""
    return {type_name: rank.reason for rank in ranking(chain, plan) for type_name in rank.types}


def format_duration(delta: timedelta) -> str:
    """``9 hours``, ``3 days``, ``3 days 18 hours``, ``1 day 30 minutes``."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [
        f"{value} {unit}{'' if value == 1 else 's'}"
        for value, unit in ((days, "day"), (hours, "hour"), (minutes, "minute"))
        if value
    ]
    return " ".join(parts) or "0 minutes"


def _delta(process: Process) -> timedelta:
    return process.deadline.delta if process.deadline is not None else timedelta.max


def _rank(chain: Chain, rank: int, process: Process, basis: str, reason: str) -> Rank:
    types = tuple(mt.type for mt in chain.types_for_process(process.key))
    return Rank(rank, process.key, types, basis, reason)
