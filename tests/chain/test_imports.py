"""The chain package is the domain: it imports only the standard library, PyYAML and the two
JSON Schema libraries, and nothing else of ours."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import ketenherstel.chain

ALLOWED_THIRD_PARTY = {"yaml", "jsonschema_rs", "jsonschema"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_chain_package_imports_only_the_standard_library_yaml_and_json_schema() -> None:
    package = Path(ketenherstel.chain.__file__).parent
    offending = {}
    for path in package.rglob("*.py"):
        for name in imported_modules(path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY or top == "__future__":
                continue
            if name == "ketenherstel.chain" or name.startswith("ketenherstel.chain."):
                continue
            offending[f"{path.name}: {name}"] = True
    assert not offending, sorted(offending)
