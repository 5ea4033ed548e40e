"""Channel rules and how they decide a delivery: the exchange's routing switches, as values.

A channel rule is ``(receiver, sender, scope)``: the receiver and sender are partner keys or
``*``, the scope is ``*``, a message type name or ``process:<process key>``. A *flow* is one
``(receiver, sender, type)`` the chain carries. Rules are set ``open`` or ``held``, optionally with
a rate (messages per second):

- the most specific rule that matches a flow decides whether it is held: a named receiver and a
  named sender count 1 each, a type scope 2 and a process scope 1 (the store's rule, decision
  0008); between equally specific rules that disagree, *held* wins (the safe choice);
- every matching rule with a rate limits the flow, and a rule's rate is shared by all the flows it
  matches;
- a flow no rule matches is open.

How a plan's isolation of a partner becomes rules is in :mod:`ketenherstel.golive.model`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ketenherstel.chain import Chain

__all__ = [
    "ANY",
    "PROCESS_PREFIX",
    "ChannelRule",
    "Decision",
    "Flow",
    "RuleState",
    "chain_flows",
    "decide",
    "merge",
    "parse_rate",
    "short_type",
]

ANY = "*"
"""The wildcard for a receiver, a sender or a scope."""

PROCESS_PREFIX = "process:"
"""A scope that names a process: ``process:<process key>``."""


_RATE = re.compile(r"([-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))\s*/\s*(s|min|h|d)")
_PER_SECOND = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
RATE_FORMS = "a number of messages per second or N/s, N/min, N/h, N/d (e.g. 300/h)"
MAX_RATE = 1_000_000.0
"""The most messages a second a rate may say: the exchange's bound on a channel's rate
(`exchange.isolation.MAX_RATE`, which this package does not import; a test keeps them equal)."""


def parse_rate(text: str) -> float:
    """Messages per second from ``2.5``, ``300/h``, ``5/min``, ``7200/d`` or ``3/s``.

    Raises ``ValueError`` with the reason for anything else, zero or a negative rate included.
    """
    cleaned = text.strip()
    match = _RATE.fullmatch(cleaned)
    try:
        value = float(match.group(1)) / _PER_SECOND[match.group(2)] if match else float(cleaned)
    except ValueError:
        raise ValueError(f"expected a rate: {RATE_FORMS}, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"expected a rate: {RATE_FORMS}, got {text!r}")
    if value <= 0:
        raise ValueError(f"a rate must be more than 0, got {text!r}")
    if value < 1 / _PER_SECOND["d"] * (1 - 1e-9):  # the exchange's least rate: one a day
        raise ValueError(f"a rate is at least one message a day (1/d), got {text!r}")
    if value > MAX_RATE:
        raise ValueError(f"a rate is at most {MAX_RATE:,.0f} messages a second, got {text!r}")
    return value


def short_type(type_name: str) -> str:
    """A type name without its namespace and version: ``uitspraak-geregistreerd``."""
    labels = type_name.split(".")
    if len(labels) > 1 and labels[-1].startswith("v") and labels[-1][1:].isdigit():
        labels = labels[:-1]
    return labels[-1]


@dataclass(frozen=True, slots=True, order=True)
class Flow:
    """One ``(receiver, sender, type)`` that the chain carries."""

    receiver: str
    sender: str
    type: str

    @property
    def channel(self) -> str:
        """The sender→receiver pair as ``sender->receiver``."""
        return f"{self.sender}->{self.receiver}"


@dataclass(frozen=True, slots=True)
class ChannelRule:
    """A channel rule ``(receiver, sender, scope)``; see the module docstring for matching."""

    receiver: str
    sender: str
    scope: str = ANY

    @property
    def label(self) -> str:
        """``sender->receiver``, with the scope in brackets unless it is ``*``."""
        pair = f"{self.sender}->{self.receiver}"
        return pair if self.scope == ANY else f"{pair} [{self.scope}]"

    @property
    def process(self) -> str | None:
        """The process key of a ``process:`` scope, else None."""
        return self.scope.removeprefix(PROCESS_PREFIX) if self.scope_level == 1 else None

    @property
    def scope_level(self) -> int:
        """0 for ``*``, 1 for a process, 2 for a message type."""
        if self.scope == ANY:
            return 0
        return 1 if self.scope.startswith(PROCESS_PREFIX) else 2

    @property
    def specificity(self) -> int:
        """Named receiver 1 + named sender 1 + scope level (type 2, process 1): larger decides."""
        return (self.receiver != ANY) + (self.sender != ANY) + self.scope_level

    def matches(self, flow: Flow, process: str) -> bool:
        """Whether the rule covers ``flow``, whose type belongs to ``process``."""
        if self.receiver not in (ANY, flow.receiver) or self.sender not in (ANY, flow.sender):
            return False
        level = self.scope_level
        if level == 0:
            return True
        if level == 1:
            return self.scope == PROCESS_PREFIX + process
        return self.scope == flow.type

    def flows(self, chain: Chain) -> tuple[Flow, ...]:
        """Every flow of the chain this rule matches (empty: the channel carries nothing)."""
        return tuple(
            flow for flow in chain_flows(chain) if self.matches(flow, _process_of(chain, flow))
        )


@dataclass(frozen=True, slots=True)
class RuleState:
    """A rule set to open or held, with an optional rate and where the setting came from."""

    rule: ChannelRule
    held: bool
    rate: float | None = None
    origin: str = ""
    ref: tuple[int, int] | None = None
    """(wave index, opening index) of the plan entry that set it; None for an isolation."""


@dataclass(frozen=True, slots=True)
class Decision:
    """How the rules in force treat one flow."""

    held: bool
    deciding: RuleState | None
    limits: tuple[RuleState, ...]
    quarantined: bool = False
    """Held because the sender is isolated and its traffic not released from quarantine."""


def chain_flows(chain: Chain) -> tuple[Flow, ...]:
    """Every ``(receiver, sender, type)`` of the chain, sorted."""
    return tuple(
        sorted(
            Flow(receiver, sender, mt.type)
            for mt in chain.message_types
            for sender in mt.senders
            for receiver in mt.receivers
            if receiver != sender
        )
    )


def decide(flow: Flow, process: str, states: Sequence[RuleState]) -> Decision:
    """Whether ``flow`` is held under ``states``, the rule that decided it and its rate limits."""
    matching = [state for state in states if state.rule.matches(flow, process)]
    limits = tuple(state for state in matching if state.rate is not None)
    if not matching:
        return Decision(held=False, deciding=None, limits=limits)
    best = max(state.rule.specificity for state in matching)
    top = [state for state in matching if state.rule.specificity == best]
    held = [state for state in top if state.held]
    deciding = held[0] if held else top[0]
    return Decision(held=deciding.held, deciding=deciding, limits=limits)


def merge(states: Iterable[RuleState]) -> tuple[RuleState, ...]:
    """The states in force: a later setting of the same rule replaces the earlier one."""
    latest: dict[ChannelRule, RuleState] = {}
    for state in states:
        latest.pop(state.rule, None)
        latest[state.rule] = state
    return tuple(latest.values())


def _process_of(chain: Chain, flow: Flow) -> str:
    message_type = chain.message_type(flow.type)
    return "" if message_type is None else message_type.process
