"""Reading a plan's waves and the channels they open, and the checks between waves that need
no chain semantics: names, date order, the isolation, ``online`` and ``release_quarantine``."""

from __future__ import annotations

from datetime import datetime

import yaml

from ketenherstel.chain._nodes import describe
from ketenherstel.golive._checks import when
from ketenherstel.golive._fields import (
    Draft,
    Fields,
    ReadContext,
    WaveNodes,
    carries_nothing,
    moment,
    partners_list,
    party,
    rate_value,
    scope_field,
    string_field,
)
from ketenherstel.golive._names import hidden_in_name
from ketenherstel.golive.channels import ANY, ChannelRule
from ketenherstel.golive.model import ISOLATION_STEP, ChannelOpening, Isolation, Wave

__all__ = ["read_waves"]


def read_waves(
    ctx: ReadContext, node: yaml.Node, isolation: Isolation | None, *, known: bool
) -> list[Wave]:
    """The waves; ``known`` is False when the isolation was given but could not be read."""
    reader = ctx.reader
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        got = "an empty list" if isinstance(node, yaml.SequenceNode) else describe(node)
        reader.add_at(node, "waves", f"expected a list of at least one wave, got {got}")
        return []
    names: dict[str, int] = {}
    previous: Draft | None = None
    online: dict[str, str] = {}
    isolated = set(isolation.partners) if isolation else set()
    for index, item in enumerate(node.value):
        path = f"waves[{index}]"
        nodes = WaveNodes(item, path)
        ctx.waves.append(nodes)
        draft = _wave(ctx, item, path, nodes)
        if draft.name is not None:
            name_node = nodes.marks[("name", "")][0]
            if draft.name.strip().casefold() == ISOLATION_STEP:
                reader.add_at(
                    name_node,
                    f"{path}.name",
                    f"a wave cannot be called {draft.name!r}: `plan apply {ISOLATION_STEP}` "
                    "runs the plan's isolation step; give the wave another name",
                )
            elif draft.name in names:
                reader.add_at(
                    name_node,
                    f"{path}.name",
                    f"the wave name {draft.name!r} is used twice (first on line "
                    f"{names[draft.name]}); give every wave its own name",
                )
            names.setdefault(draft.name, name_node.start_mark.line + 1)
        if draft.at is not None:
            at_node = nodes.marks[("at", "")][0]
            if previous is not None and previous.at is not None and draft.at < previous.at:
                reader.add_at(
                    at_node,
                    f"{path}.at",
                    f"{when(draft.at)} is before the previous wave {previous.name!r} "
                    f"({when(previous.at)}); list the waves in date order",
                )
            if isolation is not None and draft.at < isolation.at:
                reader.add_at(
                    at_node,
                    f"{path}.at",
                    f"{when(draft.at)} is before the isolation ({when(isolation.at)})",
                )
            previous = draft
        if known:
            _check_partner_steps(ctx, draft, nodes, isolated, online)
    return [draft.wave for draft in ctx.drafts if draft.wave is not None]


def _check_partner_steps(
    ctx: ReadContext, draft: Draft, nodes: WaveNodes, isolated: set[str], online: dict[str, str]
) -> None:
    why = {
        "release_quarantine": "only an isolated partner's traffic is quarantined",
        "online": "online ends an isolation",
    }
    for kind in ("release_quarantine", "online"):
        for key in draft.steps.get(kind, ()):
            node, path = nodes.marks[(kind, key)]
            if key not in isolated:
                ctx.reader.add_at(node, path, f"{key!r} is not isolated by this plan; {why[kind]}")
            elif key in online:
                ctx.reader.add_at(
                    node, path, f"{key!r} is already online since wave {online[key]!r}"
                )
    for key in draft.steps.get("online", ()):
        online.setdefault(key, draft.name or "?")


def _wave(ctx: ReadContext, node: yaml.Node, path: str, nodes: WaveNodes) -> Draft:
    reader = ctx.reader
    draft = Draft()
    ctx.drafts.append(draft)
    ctx.contexts[path] = f"wave #{len(ctx.waves)}"
    fields = reader.mapping(
        node,
        path,
        required=("name", "at"),
        optional=("open", "note", "release_quarantine", "online"),
    )
    if fields is None:
        return draft
    draft.name = string_field(ctx, fields, "name", path, max_length=100)
    if draft.name is not None:
        ctx.contexts[path] = f"wave {draft.name!r}"
        hidden = hidden_in_name(draft.name)
        if hidden is not None:
            reader.add_at(
                fields["name"][1],
                f"{path}.name",
                f"a wave name holds no control or invisible characters, tabs or line breaks "
                f"({hidden}); it names the step for `plan apply` and the interim procedures "
                "it retires",
            )
            draft.name = None
        else:
            nodes.marks[("name", "")] = (fields["name"][1], f"{path}.name")
    at = moment(ctx, fields, "at", path)
    if isinstance(at, datetime):
        draft.at = at
        nodes.marks[("at", "")] = (fields["at"][1], f"{path}.at")
    note = string_field(ctx, fields, "note", path)
    opens = _openings(ctx, fields, path, nodes)
    for kind in ("release_quarantine", "online"):
        items = partners_list(ctx, fields, kind, path)
        for key, item, item_path in items or ():
            nodes.marks[(kind, key)] = (item, item_path)
        draft.steps[kind] = tuple(key for key, _, _ in items or ())
    if not fields.keys() & {"open", "release_quarantine", "online"}:
        reader.add_at(node, path, "the wave does nothing: give open, release_quarantine or online")
    if draft.name is not None and draft.at is not None and opens is not None:
        draft.wave = Wave(
            draft.name,
            draft.at,
            opens,
            note,
            draft.steps["release_quarantine"],
            draft.steps["online"],
        )
    return draft


def _openings(
    ctx: ReadContext, fields: Fields, path: str, nodes: WaveNodes
) -> tuple[ChannelOpening, ...] | None:
    if "open" not in fields or ctx.reader.is_null(fields["open"][1]):
        return ()
    node = fields["open"][1]
    if not isinstance(node, yaml.SequenceNode):
        ctx.reader.add_at(
            node, f"{path}.open", f"expected a list of channels, got {describe(node)}"
        )
        return None
    opens: list[ChannelOpening] = []
    seen: dict[ChannelRule, int] = {}
    for index, item in enumerate(node.value):
        item_path = f"{path}.open[{index}]"
        nodes.opens.append((item, item_path))
        opening = _opening(ctx, item, item_path)
        if opening is None:
            continue
        if opening.rule in seen:
            ctx.reader.add_at(
                item, item_path, f"opened twice in this wave (first on line {seen[opening.rule]})"
            )
            continue
        seen[opening.rule] = item.start_mark.line + 1
        opens.append(opening)
    return tuple(opens) if len(opens) == len(node.value) else None


def _opening(ctx: ReadContext, node: yaml.Node, path: str) -> ChannelOpening | None:
    reader = ctx.reader
    fields = reader.mapping(
        node, path, required=("receiver", "sender"), optional=("scope", "rate", "note")
    )
    if fields is None:
        return None
    raw = {k: v.value for k, (_, v) in fields.items() if isinstance(v, yaml.ScalarNode)}
    label = f"{raw.get('sender', '?')}->{raw.get('receiver', '?')}"
    scope_raw = raw.get("scope", ANY)
    ctx.contexts[path] = f"{ctx.contexts[path.rpartition('.')[0]]} channel " + (
        label if scope_raw == ANY else f"{label} [{scope_raw}]"
    )
    receiver = party(ctx, fields, "receiver", path)
    sender = party(ctx, fields, "sender", path)
    scope = scope_field(ctx, fields, path)
    rate = rate_value(ctx, fields["rate"][1], f"{path}.rate") if "rate" in fields else None
    note = string_field(ctx, fields, "note", path)
    if receiver is None or sender is None or scope is None:
        return None
    rule = ChannelRule(receiver, sender, scope)
    if receiver == ANY and sender == ANY:
        reader.add_at(
            node,
            path,
            "names neither a receiver nor a sender; to end an isolation use online: [partner]",
        )
        return None
    if not rule.flows(ctx.chain):
        reader.add_at(node, path, carries_nothing(ctx.chain, rule))
        return None
    if "rate" in fields and rate is None:
        return None
    return ChannelOpening(rule, rate, note)
