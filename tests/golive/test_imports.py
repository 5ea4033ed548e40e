"""The go-live package is domain code: it imports only the standard library, PyYAML and the
chain package; only its command line (``cli``) may use Typer and Rich, and print with the
project's safe console (``ketenherstel.terminal``, Rich alone). It never touches the store,
the exchange, the web app or the main CLI."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import ketenherstel.golive

PACKAGE = Path(ketenherstel.golive.__file__).parent


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_golive_imports_only_the_standard_library_yaml_and_the_chain(path: Path) -> None:
    allowed = {"yaml", "__future__"} | ({"typer", "rich"} if path.name == "cli.py" else set())
    for name in imported(path):
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top in allowed:
            continue
        terminal = ("ketenherstel.terminal",) if path.name == "cli.py" else ()
        assert name.startswith(("ketenherstel.golive", "ketenherstel.chain", *terminal)), (
            f"{path.name} imports {name}"
        )


def test_the_built_in_plans_ship_inside_the_package() -> None:
    assert (PACKAGE / "plans" / "om-2025.yaml").is_file()
