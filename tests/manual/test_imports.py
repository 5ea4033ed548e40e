"""The manual package is domain: the standard library, the chain package and the text helper
(itself the standard library only), nothing else."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import ketenherstel.manual
import ketenherstel.text


def test_the_manual_package_imports_only_the_standard_library_and_the_chain() -> None:
    for node in ast.walk(ast.parse(Path(ketenherstel.text.__file__).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import | ast.ImportFrom) and getattr(node, "level", 0) == 0:
            module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            assert module is not None and module.split(".")[0] in {
                *sys.stdlib_module_names,
                "__future__",
            }
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
                ours = (
                    name.startswith(("ketenherstel.chain", "ketenherstel.manual"))
                    or name == "ketenherstel.text"
                )
                if not (top in sys.stdlib_module_names or top == "__future__" or ours):
                    offending.append(f"{path.name}: {name}")
    assert offending == []
