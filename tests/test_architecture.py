"""The dependency rules of DESIGN.md and STYLE.md, read from the imports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "ketenherstel"
STDLIB = set(sys.stdlib_module_names)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


@pytest.mark.parametrize("path", modules("chain"), ids=lambda p: p.name)
def test_chain_imports_only_the_standard_library_and_schema_tools(path: Path) -> None:
    allowed = STDLIB | {"yaml", "jsonschema_rs", "jsonschema"}
    for name in imports_of(path):
        top = name.split(".")[0]
        assert top in allowed or name.startswith("ketenherstel.chain"), f"{path.name}: {name}"


@pytest.mark.parametrize(
    "package",
    [
        "chain",
        "exchange",
        "store",
        "sim",
        "golive",
        "recovery",
        "registry",
        "reconcile",
        "gateway",
        "picture",
    ],
)
def test_capabilities_never_import_web_or_cli(package: str) -> None:
    for path in modules(package):
        for name in imports_of(path):
            assert not name.startswith(("ketenherstel.web", "ketenherstel.cli")), (
                f"{path.relative_to(SRC)} imports {name}"
            )


def test_only_store_adapters_import_database_drivers() -> None:
    drivers = {"sqlite3", "psycopg", "duckdb", "nats"}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        for name in imports_of(path):
            if name.split(".")[0] in drivers:
                # The edge outbox runs in a partner's own network with its own SQLite file; the
                # registry (Justid's JDS) keeps its own database (decision 0010); reconciliation
                # runs in DuckDB (decision 0011); the picture keeps its registers in its own
                # file (decision 0013).
                adapters = (
                    "store/sqlite.py",
                    "store/postgres.py",
                    "outbox/store.py",
                    "reconcile/duck.py",
                    "registry/db.py",
                    "picture/db.py",
                )
                assert rel in adapters, f"{rel} imports {name}"


def test_only_web_imports_the_web_framework() -> None:
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        for name in imports_of(path):
            if name.split(".")[0] in ("fastapi", "starlette", "uvicorn"):
                # The edge outbox serves its own small local endpoint.
                assert rel.startswith("web/") or rel == "outbox/http.py", f"{rel} imports {name}"


def test_importing_the_package_connects_to_nothing() -> None:
    import importlib
    import socket

    real = socket.socket.connect

    def refuse(*args: object) -> None:
        raise AssertionError("a module connected at import time")

    socket.socket.connect = refuse  # type: ignore[method-assign,assignment]
    try:
        for path in SRC.rglob("*.py"):
            rel = path.relative_to(SRC.parent).with_suffix("").as_posix().replace("/", ".")
            importlib.import_module(rel.removesuffix(".__init__"))
    finally:
        socket.socket.connect = real  # type: ignore[method-assign]
