"""Reading a plan file: every problem with ``file:line:column``, its path, wave and channel.

The YAML is composed (not constructed) so every value keeps its position; the chain package's
``NodeReader`` does the typed reading. Problems found under ``waves[i]`` are prefixed with the
wave's name and, under ``waves[i].open[j]``, with the channel (``wave 'wave-1' channel
om->justid: …``).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import yaml

from ketenherstel.chain import Chain
from ketenherstel.chain._nodes import NodeReader, describe
from ketenherstel.golive._checks import Cause, plan_findings
from ketenherstel.golive._fields import (
    ReadContext,
    WaveNodes,
    moment,
    partners_list,
    string_field,
)
from ketenherstel.golive._names import did_you_mean, hidden_in_name
from ketenherstel.golive._waves import read_waves
from ketenherstel.golive.channels import PROCESS_PREFIX
from ketenherstel.golive.errors import PlanProblem
from ketenherstel.golive.model import Isolation, Plan, PriorityDecision

__all__ = ["read_plan"]


def read_plan(path: Path, chain: Chain) -> tuple[Plan | None, list[PlanProblem]]:
    """The plan in ``path`` and every problem; the plan is None when there are problems."""
    ctx = ReadContext(NodeReader(file=path.name), chain)
    try:
        data = path.read_bytes()
    except OSError as exc:
        ctx.reader.add(None, "", f"cannot read the plan file {path}: {exc}")
        return None, _problems(ctx)
    text = ctx.reader.decode(data)
    if text is None:
        return None, _problems(ctx)
    root = ctx.reader.compose(text, empty="the file is empty; expected name and waves")
    plan = _plan(ctx, root, str(path)) if root is not None else None
    if plan is not None and not ctx.reader.has_problems:
        for finding in plan_findings(plan, chain):
            node, node_path = _cause_node(ctx.waves[finding.wave], finding.cause)
            ctx.reader.add_at(node, node_path, finding.message)
    problems = _problems(ctx)
    return (None if problems else plan), problems


def _problems(ctx: ReadContext) -> list[PlanProblem]:
    prefix = f"{ctx.reader.file}:"
    found = []
    for problem in ctx.reader.problems():
        match = re.fullmatch(r"[0-9]+:[0-9]+(?: (.*))?", problem.location.removeprefix(prefix))
        path = (match.group(1) or "") if match else ""
        keys = [k for k in ctx.contexts if path == k or path.startswith((f"{k}.", f"{k}["))]
        context = ctx.contexts[max(keys, key=len)] if keys else ""
        message = f"{context}: {problem.message}" if context else problem.message
        found.append(PlanProblem(problem.location, message))
    return found


def _cause_node(nodes: WaveNodes, cause: Cause) -> tuple[yaml.Node, str]:
    if cause.kind == "open" and 0 <= cause.opening < len(nodes.opens):
        return nodes.opens[cause.opening]
    return nodes.marks.get((cause.kind, cause.partner), (nodes.node, nodes.path))


def _plan(ctx: ReadContext, root: yaml.Node, source: str) -> Plan | None:
    reader = ctx.reader
    top = reader.mapping(
        root, "", required=("name", "waves"), optional=("description", "isolation", "priorities")
    )
    if top is None:
        return None
    name = string_field(ctx, top, "name", "", max_length=200)
    if name is not None and (hidden := hidden_in_name(name)) is not None:
        reader.add_at(
            top["name"][1],
            "name",
            f"a plan name holds no control or invisible characters, tabs or line breaks "
            f"({hidden}); every change `plan apply` makes names the plan in its reason",
        )
        name = None
    description = string_field(ctx, top, "description", "") or ""
    isolation = None
    given = "isolation" in top and not reader.is_null(top["isolation"][1])
    if given:
        isolation = _isolation(ctx, top["isolation"][1])
    priorities: list[PriorityDecision] = []
    if "priorities" in top and not reader.is_null(top["priorities"][1]):
        priorities = _priorities(ctx, top["priorities"][1])
    known = isolation is not None or not given
    waves = read_waves(ctx, top["waves"][1], isolation, known=known) if "waves" in top else []
    if name is None:
        return None
    return Plan(name, description, isolation, tuple(priorities), tuple(waves), source)


def _isolation(ctx: ReadContext, node: yaml.Node) -> Isolation | None:
    fields = ctx.reader.mapping(node, "isolation", required=("partners", "at"), optional=("note",))
    if fields is None:
        return None
    partners = partners_list(ctx, fields, "partners", "isolation")
    at = moment(ctx, fields, "at", "isolation")
    note = string_field(ctx, fields, "note", "isolation")
    if partners is None or not isinstance(at, datetime):
        return None
    return Isolation(tuple(key for key, _, _ in partners), at, note)


def _priorities(ctx: ReadContext, node: yaml.Node) -> list[PriorityDecision]:
    reader = ctx.reader
    if not isinstance(node, yaml.SequenceNode):
        reader.add_at(node, "priorities", f"expected a list of decisions, got {describe(node)}")
        return []
    decisions: list[PriorityDecision] = []
    seen: dict[str, int] = {}
    known = [process.key for process in ctx.chain.processes]
    for index, item in enumerate(node.value):
        path = f"priorities[{index}]"
        ctx.contexts[path] = f"priority decision {index + 1}"
        fields = reader.mapping(item, path, required=("process", "agreed_by", "at", "why"))
        if fields is None:
            continue
        process = string_field(ctx, fields, "process", path)
        if process is not None:
            ctx.contexts[path] = f"priority decision {index + 1} ({process})"
            process_node = fields["process"][1]
            if process not in known:
                hint = did_you_mean(process.removeprefix(PROCESS_PREFIX), known)
                reader.add_at(process_node, f"{path}.process", f"unknown process {process!r}{hint}")
                process = None
            elif process in seen:
                reader.add_at(
                    process_node,
                    f"{path}.process",
                    f"process {process!r} already has a priority decision (line {seen[process]}); "
                    "record one decision per process",
                )
                process = None
            else:
                seen[process] = process_node.start_mark.line + 1
        agreed = None
        if "agreed_by" in fields:
            agreed = reader.string_list(fields["agreed_by"][1], f"{path}.agreed_by")
        at = moment(ctx, fields, "at", path, dates=True)
        why = string_field(ctx, fields, "why", path)
        if process and agreed and at and why:
            decisions.append(PriorityDecision(process, tuple(v for v, _, _ in agreed), at, why))
    return decisions
