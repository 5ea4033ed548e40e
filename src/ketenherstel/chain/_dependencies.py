"""Checking the ``depends_on`` lists of message types: known types, procedure order, no cycles."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from ketenherstel.chain._nodes import NodeReader
from ketenherstel.chain.model import Process

__all__ = ["Declared", "check_dependencies", "read_depends_on"]


@dataclass(frozen=True, slots=True)
class Declared:
    """One type's ``depends_on`` as written: its own name and process (None when broken)."""

    type_name: str | None
    process: str | None
    entries: tuple[tuple[str, yaml.Node, str], ...]


def read_depends_on(
    reader: NodeReader, node: yaml.Node, path: str
) -> tuple[tuple[str, yaml.Node, str], ...] | None:
    """The (type, node, path) entries of a ``depends_on`` list; an empty list is allowed.

    None after reporting a list that is not one of distinct, non-empty strings.
    """
    if isinstance(node, yaml.SequenceNode) and not node.value:
        return ()
    items = reader.string_list(node, path)
    if items is None or len(items) != len(node.value):
        return None
    return tuple(items)


def check_dependencies(
    reader: NodeReader,
    declared: list[Declared],
    type_names: set[str],
    process_of: Mapping[str, str],
    processes: Mapping[str, Process] | None,
) -> None:
    """Report unknown, self-, out-of-order and cyclic dependencies.

    ``type_names`` holds every type named in the file (broken definitions included), so one
    broken type does not turn each reference to it into a second problem; ``process_of`` maps
    each well-defined type to its process. The order check compares processes in the same
    track only: the procedure (opsporing to tenuitvoerlegging, by phase, then ``order``) or the
    registration track beside it (by ``order``).
    """
    edges: dict[str, list[tuple[str, yaml.Node, str]]] = {}
    for own in declared:
        for dependency, node, path in own.entries:
            if dependency not in type_names:
                reader.add_at(node, path, f"unknown message type {dependency!r}")
                continue
            if dependency == own.type_name:
                reader.add_at(node, path, "a message type cannot depend on itself")
                continue
            later = _later_process(processes, own.process, process_of.get(dependency))
            if later is not None:
                reader.add_at(node, path, f"{dependency!r} {later}")
            if own.type_name is not None:
                edges.setdefault(own.type_name, []).append((dependency, node, path))
    for cycle, node, path in _cycles(edges):
        reader.add_at(
            node,
            path,
            "dependency cycle: "
            + " → ".join(cycle)
            + "; remove one of these dependencies so the types can be applied in order",
        )


def _later_process(
    processes: Mapping[str, Process] | None, own_key: str | None, dependency_key: str | None
) -> str | None:
    """Why the dependency's process comes after the dependent's, or None when it does not."""
    if processes is None or own_key is None or dependency_key is None:
        return None
    own, dependency = processes.get(own_key), processes.get(dependency_key)
    if own is None or dependency is None:
        return None
    if own.phase.in_procedure != dependency.phase.in_procedure:
        return None  # the procedure and the registration track beside it are not ordered
    if _rank(dependency) <= _rank(own):
        return None
    track = "procedure" if own.phase.in_procedure else "registration track"
    return (
        f"belongs to process {dependency.key!r} ({dependency.phase.value}, order "
        f"{dependency.order}), which comes after this type's process {own.key!r} "
        f"({own.phase.value}, order {own.order}) in the {track}; a type can depend only on "
        "types of its own or an earlier process"
    )


def _rank(process: Process) -> tuple[int, int]:
    rank = process.phase.rank
    return (0 if rank is None else rank, process.order)


def _cycles(
    edges: Mapping[str, list[tuple[str, yaml.Node, str]]],
) -> list[tuple[list[str], yaml.Node, str]]:
    """Each back edge of a depth-first search, in file order, as (cycle, entry node, path).

    The cycle starts and ends at the type the back edge points to.
    """
    found: list[tuple[list[str], yaml.Node, str]] = []
    done: set[str] = set()
    for start in edges:
        if start in done:
            continue
        stack: list[str] = [start]
        on_stack = {start}
        iterators = [iter(edges.get(start, []))]
        while iterators:
            step = next(iterators[-1], None)
            if step is None:
                iterators.pop()
                finished = stack.pop()
                on_stack.discard(finished)
                done.add(finished)
                continue
            target, node, path = step
            if target in on_stack:
                found.append(([*stack[stack.index(target) :], target], node, path))
            elif target not in done:
                stack.append(target)
                on_stack.add(target)
                iterators.append(iter(edges.get(target, [])))
    return found
