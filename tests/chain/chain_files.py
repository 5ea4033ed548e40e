"""Helpers for tests that break a copy of the built-in chain file (see the ``chain_file``
fixture in conftest) and look for the problems reported."""

from __future__ import annotations

from pathlib import Path

from ketenherstel.chain import Chain, ChainProblem

__all__ = [
    "HEARING",
    "HEARING_BLOCK",
    "VERDICT",
    "assert_problem",
    "at_line",
    "edit",
    "line_of",
    "type_index",
]

HEARING = "nl.strafrechtketen.berechting.zitting-gepland.v1"
VERDICT = "nl.strafrechtketen.berechting.vonnis-gewezen.v1"
HEARING_BLOCK = f"""  - type: {HEARING}
    name: Zitting gepland
    process: zittingsplanning
    senders: [rechtspraak]
    receivers: [om]
    personal_data: false
"""


def edit(path: Path, old: str, new: str) -> int:
    """Replace the one occurrence of ``old``; return the line (1-based) where it started."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"not exactly one {old!r} in the chain file"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return line_of(text, old)


def line_of(text: str, snippet: str) -> int:
    return text[: text.index(snippet)].count("\n") + 1


def at_line(problems: list[ChainProblem], line: int, file: str = "chain.yaml") -> list[str]:
    """Messages of the problems reported at ``file:line``."""
    return [p.message for p in problems if p.location.startswith(f"{file}:{line}:")]


def assert_problem(problems: list[ChainProblem], line: int, fragment: str) -> ChainProblem:
    found = [
        p
        for p in problems
        if p.location.startswith(f"chain.yaml:{line}:") and fragment in p.message
    ]
    assert found, f"no problem with {fragment!r} on line {line}; got {problems}"
    return found[0]


def type_index(chain: Chain, type_name: str) -> int:
    return [mt.type for mt in chain.message_types].index(type_name)
