"""The simulator depends only on the standard library and the chain model."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import ketenherstel.sim


def test_the_simulator_imports_only_the_standard_library_and_the_chain() -> None:
    package = Path(ketenherstel.sim.__file__).parent
    offending = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "__future__":
                    continue
                if name.split(".")[:2] in (["ketenherstel", "chain"], ["ketenherstel", "sim"]):
                    continue
                offending.append(f"{path.name}: {name}")
    assert offending == []
