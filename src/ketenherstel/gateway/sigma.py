"""Sigma rules for single-line patterns (decision 0012), read with pySigma and evaluated on parsed
gateway events.

A rule's condition tree (pySigma resolves identifiers, ``1 of``/``all of`` and modifiers) becomes a
Python predicate. Fields: ``kind`` (``SSLVPN LOGIN``, ``ACCESS``), ``message`` (the line's body),
and every field as the parser names it (``User``, ``Client_ip``, ``Command``, ``method``, ``uri``,
``body``…). Strings match case-insensitively with Sigma's wildcards; ``|re`` is a Python regular
expression searched in the value; keywords without a field search the message. ``level`` gives
the confidence: critical and high are high, medium is medium, the rest low.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule as PySigmaRule
from sigma.types import (
    SigmaCasedString,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
)

from ketenherstel.documents import load_all_yaml
from ketenherstel.gateway.parse import Event
from ketenherstel.gateway.watch import GatewayInputError, read_text

__all__ = ["SigmaRule", "builtin_sigma", "load_sigma", "read_sigma", "sigma_rules"]

Predicate = Callable[[Event], bool]
_LEVEL = {"critical": "high", "high": "high", "medium": "medium"}


@dataclass(frozen=True, slots=True)
class SigmaRule:
    """Quacks like a line rule: ``id``, ``title``, ``confidence``, ``matches``."""

    id: str
    title: str
    confidence: str
    predicate: Predicate
    kinds: frozenset[str] | None = None
    """The kinds (lower case) the rule can match; None: any (see :func:`_kinds`)."""

    def matches(self, event: Event) -> bool:
        return self.predicate(event)


def _value_of(field: str) -> Callable[[Event], str | None]:
    if field == "kind":
        return lambda e: e.kind
    if field in ("message", "text"):
        return lambda e: e.text
    return lambda e: e.fields.get(field)


def _matcher(value: Any) -> Callable[[str | None], bool]:
    if isinstance(value, SigmaNull):
        return lambda have: not have
    if isinstance(value, SigmaNumber):
        plain = str(value.to_plain())
        return lambda have: have is not None and have.strip() == plain
    if isinstance(value, SigmaRegularExpression):
        pattern = re.compile(value.regexp.to_plain(), re.S)
        return lambda have: have is not None and pattern.search(have) is not None
    if isinstance(value, SigmaString):
        flags = re.S if isinstance(value, SigmaCasedString) else re.S | re.I
        if not value.contains_special():
            plain = value.to_plain()
            if flags & re.I:
                low = plain.lower()
                return lambda have: have is not None and have.lower() == low
            return lambda have: have == plain
        pattern = re.compile(value.to_regex().regexp.to_plain(), flags)
        return lambda have: have is not None and pattern.fullmatch(have) is not None
    raise GatewayInputError(f"a Sigma value of type {type(value).__name__} is not supported")


def _compile(node: Any) -> Predicate:
    if isinstance(node, ConditionAND):
        parts = [_compile(a) for a in node.args]
        return lambda e: all(p(e) for p in parts)
    if isinstance(node, ConditionOR):
        parts = [_compile(a) for a in node.args]
        return lambda e: any(p(e) for p in parts)
    if isinstance(node, ConditionNOT):
        inner = _compile(node.args[0])
        return lambda e: not inner(e)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        get, match = _value_of(node.field), _matcher(node.value)
        return lambda e: match(get(e))
    if isinstance(node, ConditionValueExpression):
        value = node.value
        if isinstance(value, SigmaString) and not value.contains_special():
            needle = value.to_plain().lower()
            return lambda e: needle in e.text.lower()
        match = _matcher(value)
        return lambda e: match(e.text)
    raise GatewayInputError(f"a Sigma condition part {type(node).__name__} is not supported")


def _kinds(node: Any) -> frozenset[str] | None:
    """The event kinds (lower case) a condition can hold for at most, None for any: a ``kind``
    compared with a plain string restricts it, ``and`` takes the restricted parts' common kinds,
    ``or`` their union (unless one part holds for any kind). A superset is safe: the scan uses
    it to skip rules, and the predicate still decides."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        value = node.value
        if node.field == "kind" and isinstance(value, SigmaString) and not value.contains_special():
            return frozenset((value.to_plain().lower(),))
        return None
    if isinstance(node, ConditionAND):
        restricted = [k for k in (_kinds(a) for a in node.args) if k is not None]
        return frozenset.intersection(*restricted) if restricted else None
    if isinstance(node, ConditionOR):
        return _union([_kinds(a) for a in node.args])
    return None  # NOT, a keyword: any kind


def _union(kinds: list[frozenset[str] | None]) -> frozenset[str] | None:
    """The kinds either of several conditions can hold for: None (any) if one holds for any."""
    if any(k is None for k in kinds):
        return None
    return frozenset().union(*(k for k in kinds if k is not None))


def sigma_rules(text: str, where: str) -> list[SigmaRule]:
    """The rules of one Sigma file's text (YAML, one or more rules); ``where`` names it in
    errors."""
    try:
        # SigmaCollection.from_yaml reads with yaml.safe_load_all, which keeps the last of two
        # equal keys: read here, a key given twice is refused with its line.
        collection = SigmaCollection.from_dicts(list(load_all_yaml(text)))
    except (SigmaError, yaml.YAMLError) as exc:
        raise GatewayInputError(f"Sigma {where}: {str(exc).splitlines()[0]}") from None
    out = []
    for rule in collection.rules:
        if not isinstance(rule, PySigmaRule):
            raise GatewayInputError(
                f"Sigma {where}: {rule.title!r} is a correlation rule; only single-line rules"
            )
        try:
            trees = [c.parse() for c in rule.detection.parsed_condition]
        except SigmaError as exc:
            raise GatewayInputError(f"Sigma {where}: rule {rule.title!r}: {exc}") from None
        parts = [_compile(t) for t in trees]
        level = str(rule.level.name).lower() if rule.level is not None else "low"
        rid = rule.name or (f"sigma-{rule.id}" if rule.id else "sigma-" + rule.title.lower())
        out.append(
            SigmaRule(
                rid,
                rule.title,
                _LEVEL.get(level, "low"),
                _any(parts),
                _union([_kinds(t) for t in trees]),
            )
        )
    return out


def _any(parts: list[Predicate]) -> Predicate:
    return lambda e: any(p(e) for p in parts)


def read_sigma(paths: Iterable[Path]) -> list[tuple[str, str]]:
    """The texts and names of Sigma files (read, not yet parsed)."""
    out: list[tuple[str, str]] = []
    for path in paths:
        out.append((read_text(path, "Sigma"), str(path)))
    return out


def load_sigma(paths: Iterable[Path]) -> list[SigmaRule]:
    """Sigma rules from files (YAML, one or more rules each)."""
    return [r for text, where in read_sigma(paths) for r in sigma_rules(text, where)]


def builtin_sigma() -> list[SigmaRule]:
    """The package's own Sigma rules (``gateway/sigma/*.yml``)."""
    folder = resources.files("ketenherstel.gateway").joinpath("sigma")
    out: list[SigmaRule] = []
    for entry in sorted(folder.iterdir(), key=lambda x: x.name):
        if entry.name.endswith((".yml", ".yaml")):
            out += sigma_rules(entry.read_text(encoding="utf-8"), f"gateway/sigma/{entry.name}")
    return out
