"""The manual package is domain: the standard library and the chain package, nothing else."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import ketenherstel.manual


def test_the_manual_package_imports_only_the_standard_library_and_the_chain() -> None:
    package = Path(ketenherstel.manual.__file__).parent
    offending = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                ours = name.startswith(("ketenherstel.chain", "ketenherstel.manual"))
                if not (top in sys.stdlib_module_names or top == "__future__" or ours):
                    offending.append(f"{path.name}: {name}")
    assert offending == []
