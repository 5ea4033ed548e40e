"""Channel rules: which deliveries are held, and which rates limit them (pure, no I/O).

A rule is (receiver or `*`, sender or `*`, scope), where scope is `*`, a message type, or
`process:<key>`. For one delivery (receiver, sender, type, process):

- the **most specific** matching rule decides whether it is held (a named receiver and a named
  sender each count 1, a type scope 2, a process scope 1); on a tie, held wins;
- **every** matching rule with a rate limits it, so a receiver-wide rate is never exceeded by
  the sum of its channels;
- a receiver that is isolated holds everything addressed to it, whatever the rules say;
- setting a rule removes the narrower rules beneath it (same or named receiver, sender and
  scope where the new rule names them), so "hold om" after "open om from politie" holds all.

Decision 0008 explains the choice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ANY = "*"
PROCESS_PREFIX = "process:"


@dataclass(frozen=True, slots=True)
class Rule:
    receiver: str
    sender: str
    scope: str
    held: bool
    rate: float | None = None

    def matches(self, receiver: str, sender: str, type_name: str, process: str) -> bool:
        if self.receiver not in (ANY, receiver) or self.sender not in (ANY, sender):
            return False
        if self.scope == ANY:
            return True
        if self.scope.startswith(PROCESS_PREFIX):
            return self.scope[len(PROCESS_PREFIX) :] == process
        return self.scope == type_name

    @property
    def specificity(self) -> int:
        scope = 0 if self.scope == ANY else 1 if self.scope.startswith(PROCESS_PREFIX) else 2
        return (self.receiver != ANY) + (self.sender != ANY) + scope

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.receiver, self.sender, self.scope)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The rules in force and the partners that are isolated."""

    rules: tuple[Rule, ...] = ()
    isolated: frozenset[str] = frozenset()

    def held(self, receiver: str, sender: str, type_name: str, process: str) -> bool:
        if receiver in self.isolated:
            return True
        best = self.deciding(receiver, sender, type_name, process)
        return best is not None and best.held

    def deciding(self, receiver: str, sender: str, type_name: str, process: str) -> Rule | None:
        """The most specific matching rule (held on a tie), whatever the partner states."""
        best: Rule | None = None
        for rule in self.rules:
            if not rule.matches(receiver, sender, type_name, process):
                continue
            if (
                best is None
                or rule.specificity > best.specificity
                or (rule.specificity == best.specificity and rule.held)
            ):
                best = rule
        return best

    def rates(
        self, receiver: str, sender: str, type_name: str, process: str
    ) -> tuple[tuple[str, str, str], ...]:
        """The keys of every matching rule that has a rate."""
        return tuple(
            r.key
            for r in self.rules
            if r.rate is not None and r.matches(receiver, sender, type_name, process)
        )

    def has_rates(self, receiver: str) -> bool:
        return any(r.rate is not None and r.receiver in (ANY, receiver) for r in self.rules)


def replaces(new: tuple[str, str, str], old: tuple[str, str, str]) -> bool:
    """Whether setting the rule keyed `new` removes the rule keyed `old`: the same key, or a
    narrower one (it names everything `new` names, with the same values)."""
    return all(n in (ANY, o) for n, o in zip(new, old, strict=True))


def held_groups(
    rules: RuleSet, groups: Iterable[tuple[str, str, str, str]]
) -> Mapping[tuple[str, str, str, str], bool]:
    """Whether each (receiver, sender, type, process) group is held."""
    return {g: rules.held(*g) for g in groups}


def parse_scope(scope: str) -> tuple[str, str]:
    """("any" | "type" | "process", name)."""
    if scope == ANY:
        return ("any", "")
    if scope.startswith(PROCESS_PREFIX):
        return ("process", scope[len(PROCESS_PREFIX) :])
    return ("type", scope)
