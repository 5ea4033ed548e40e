"""Reading the fields of a plan file: the shared reading state and typed values.

Every function records what is wrong with the node it reads on the ``NodeReader`` and returns
None for a value it could not read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

import yaml

from ketenherstel.chain import Chain
from ketenherstel.chain._nodes import NodeReader, describe
from ketenherstel.golive._names import did_you_mean
from ketenherstel.golive.channels import ANY, PROCESS_PREFIX, RATE_FORMS, ChannelRule, parse_rate
from ketenherstel.golive.model import Wave, outside_dates, with_offset

__all__ = [
    "Draft",
    "Fields",
    "ReadContext",
    "WaveNodes",
    "carries_nothing",
    "moment",
    "partners_list",
    "party",
    "rate_value",
    "scope_field",
    "string_field",
]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_EXAMPLE = "2025-08-18T08:00:00+02:00"
Fields = dict[str, tuple[yaml.Node, yaml.Node]]


@dataclass(slots=True)
class WaveNodes:
    """Where a wave's parts are in the file, to put problems found later at the right line.

    ``opens`` holds each channel's node and path; ``marks`` maps ``("name", "")``, ``("at", "")``,
    ``("online", partner)`` and ``("release_quarantine", partner)`` to theirs.
    """

    node: yaml.Node
    path: str
    opens: list[tuple[yaml.Node, str]] = field(default_factory=list)
    marks: dict[tuple[str, str], tuple[yaml.Node, str]] = field(default_factory=dict)


@dataclass(slots=True)
class ReadContext:
    """The state of reading one plan file.

    ``contexts`` maps a path prefix (``waves[0]``, ``waves[0].open[1]``) to the words that start
    the messages of problems under it (``wave 'wave-1' channel om->justid``).
    """

    reader: NodeReader
    chain: Chain
    contexts: dict[str, str] = field(default_factory=dict)
    waves: list[WaveNodes] = field(default_factory=list)
    drafts: list[Draft] = field(default_factory=list)

    @property
    def partners(self) -> list[str]:
        return [partner.key for partner in self.chain.partners]


@dataclass(slots=True)
class Draft:
    """What could be read of one wave, for the checks across waves."""

    name: str | None = None
    at: datetime | None = None
    steps: dict[str, tuple[str, ...]] = field(default_factory=dict)
    wave: Wave | None = None


def carries_nothing(chain: Chain, rule: ChannelRule) -> str:
    """Why ``rule`` matches no flow of ``chain``, naming whom its sender does send to."""
    within = "" if rule.scope == ANY else f" in scope {rule.scope!r}"
    sender = "any partner" if rule.sender == ANY else repr(rule.sender)
    receiver = "any partner" if rule.receiver == ANY else repr(rule.receiver)
    message = f"carries no message type: no type of the chain{within} goes from {sender} to "
    message += receiver
    if rule.sender != ANY:
        others = sorted(
            {f.receiver for f in ChannelRule(ANY, rule.sender, rule.scope).flows(chain)}
        )
        message += f"; {sender} sends{within} to: {', '.join(others) or 'nobody'}"
    return message


def party(ctx: ReadContext, fields: Fields, key: str, path: str) -> str | None:
    """A partner key or ``*`` from ``fields[key]``."""
    value = string_field(ctx, fields, key, path, max_length=100)
    if value is None or value == ANY:
        return value
    if value not in ctx.partners:
        hint = did_you_mean(value, ctx.partners) or f"; the partners are: {', '.join(ctx.partners)}"
        ctx.reader.add_at(fields[key][1], f"{path}.{key}", f"unknown partner {value!r}{hint}")
        return None
    return value


def partners_list(
    ctx: ReadContext, fields: Fields, key: str, path: str
) -> list[tuple[str, yaml.Node, str]] | None:
    """A list of known partner keys as (key, node, path), or None."""
    if key not in fields:
        return None
    items = ctx.reader.string_list(fields[key][1], f"{path}.{key}")
    if items is None:
        return None
    known = []
    for value, node, item_path in items:
        if value in ctx.partners:
            known.append((value, node, item_path))
            continue
        hint = did_you_mean(value, ctx.partners) or f"; the partners are: {', '.join(ctx.partners)}"
        ctx.reader.add_at(node, item_path, f"unknown partner {value!r}{hint}")
    return known if len(known) == len(items) else None


def scope_field(ctx: ReadContext, fields: Fields, path: str) -> str | None:
    """A scope: ``*`` (the default), a message type or ``process:<key>``."""
    if "scope" not in fields:
        return ANY
    value = string_field(ctx, fields, "scope", path, max_length=200)
    if value is None or value == ANY:
        return value
    node, scope_path = fields["scope"][1], f"{path}.scope"
    processes = [process.key for process in ctx.chain.processes]
    if value.startswith(PROCESS_PREFIX):
        key = value.removeprefix(PROCESS_PREFIX)
        if key in processes:
            return value
        ctx.reader.add_at(
            node, scope_path, f"unknown process {key!r}{did_you_mean(key, processes)}"
        )
        return None
    if ctx.chain.message_type(value) is not None:
        return value
    if value in processes:
        hint = f"; to name the process write 'process:{value}'"
    else:
        hint = did_you_mean(value, [mt.type for mt in ctx.chain.message_types])
    ctx.reader.add_at(
        node,
        scope_path,
        f"unknown message type {value!r}{hint} (a scope is '*', a message type or 'process:<key>')",
    )
    return None


def rate_value(ctx: ReadContext, node: yaml.Node, path: str) -> float | None:
    """Messages per second from a number or ``N/s``, ``N/min``, ``N/h``, ``N/d``; None if bad."""
    if not isinstance(node, yaml.ScalarNode) or node.tag not in (_INT, _FLOAT, _STR):
        ctx.reader.add_at(node, path, f"expected a rate: {RATE_FORMS}, got {describe(node)}")
        return None
    try:
        return parse_rate(node.value.replace("_", "") if node.tag != _STR else node.value)
    except ValueError as exc:
        hint = "; leave rate out for no limit of its own" if "more than 0" in str(exc) else ""
        ctx.reader.add_at(node, path, f"{exc}{hint}")
        return None


def moment(
    ctx: ReadContext, fields: Fields, key: str, path: str, *, dates: bool = False
) -> date | None:
    """A date-time with a UTC offset (or, with ``dates``, also a plain date)."""
    if key not in fields:
        return None
    node, item_path = fields[key][1], f"{path}.{key}"
    expected = f"an ISO 8601 date-time with a UTC offset such as {_EXAMPLE}"
    if dates:
        expected = "a date (2025-08-12) or " + expected
    if not isinstance(node, yaml.ScalarNode) or node.tag not in (_STR, _TIMESTAMP):
        ctx.reader.add_at(node, item_path, f"expected {expected}, got {describe(node)}")
        return None
    text = node.value.strip()
    value: date
    if _DATE.fullmatch(text):
        if not dates:
            ctx.reader.add_at(node, item_path, f"{text!r} has no time; expected {expected}")
            return None
        try:
            value = date.fromisoformat(text)
        except ValueError as exc:
            ctx.reader.add_at(node, item_path, f"{text!r} is not a date: {exc}")
            return None
    else:
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            ctx.reader.add_at(node, item_path, f"{text!r} is not {expected}")
            return None
        if value.tzinfo is None:
            ctx.reader.add_at(
                node,
                item_path,
                f"{text!r} has no UTC offset; write it as {with_offset(text)} (CEST) or with Z",
            )
            return None
    why = outside_dates(value)
    if why is not None:
        ctx.reader.add_at(node, item_path, why)
        return None
    return value


def string_field(
    ctx: ReadContext, fields: Fields, key: str, path: str, *, max_length: int = 2000
) -> str | None:
    """A non-empty string from ``fields[key]``; None when absent, null or bad."""
    if key not in fields or ctx.reader.is_null(fields[key][1]):
        return None
    child = f"{path}.{key}" if path else key
    return ctx.reader.string(fields[key][1], child, max_length=max_length)
