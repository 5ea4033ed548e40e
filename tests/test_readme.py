"""The README's command table agrees with the CLI (STYLE 15: docs are tested).

Each row of the table names commands in code spans (`ketenherstel isolation isolate\\|return
PARTNER --reason R --as NAME` / `isolation states\\|history`). For each command a span names:
it exists; every option the span shows is one of the commands' options; and every option a
command requires is shown, so that a user who copies the line is not refused for a missing one.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
import typer

from ketenherstel.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"
ROOT = typer.main.get_command(app)


def _spans() -> list[str]:
    spans = []
    for line in README.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `ketenherstel "):
            continue
        first_cell = line.split(" | ")[0]
        spans += re.findall(r"`([^`]+)`", first_cell)
    return spans


def _commands(span: str) -> tuple[list[Any], set[str]]:
    """The commands a span names, and the options it shows."""
    words = span.replace("\\|", "|").replace("|", " | ").split()
    if words[0] == "ketenherstel":
        words = words[1:]
    options = {
        w.strip("[]…").split("=")[0]
        for w in words
        if w.lstrip("[").startswith("--") and w.strip("[]…") != "--"
    }
    top = ROOT.commands[words[0]]  # type: ignore[attr-defined]
    if not hasattr(top, "commands"):  # a command, not a group (Typer may bring its own click)
        return [top], options
    names = [words[1]]
    names += [b for a, b in itertools.pairwise(words) if a == "|" and b in top.commands]
    return [top.commands[n] for n in names if n != "|"], options


SPANS = _spans()


def test_the_readme_names_commands() -> None:
    assert len(SPANS) > 40  # the table was found and read


@pytest.mark.parametrize("span", SPANS)
def test_each_command_in_the_readme_exists_with_the_options_it_shows(span: str) -> None:
    commands, shown = _commands(span)
    assert commands, span
    known = {
        o
        for c in commands
        for p in c.params
        for o in [*getattr(p, "opts", []), *getattr(p, "secondary_opts", [])]
    }
    assert shown <= known, f"{span}: no such option {sorted(shown - known)}"
    if not shown and len(commands) >= 3:
        return  # an overview of a group's commands (`manual add|import|list|…`), told below
    for command in commands:
        required = {
            p.opts[0]
            for p in command.params
            if getattr(p, "param_type_name", "") == "option" and p.required and not p.envvar
        }
        assert required <= shown, f"{span}: {command.name} requires {sorted(required - shown)}"
