"""The outbox's dependency rules, read from its imports."""

from __future__ import annotations

import re

import pytest

from tests.test_architecture import SRC, STDLIB, imports_of

OUTBOX = SRC / "outbox"


@pytest.mark.parametrize("name", ["bundle.py", "keys.py", "errors.py"])
def test_the_bundle_domain_imports_only_the_standard_library_and_cryptography(name: str) -> None:
    siblings = {"ketenherstel.outbox.errors", "ketenherstel.outbox.keys"}
    for imported in imports_of(OUTBOX / name):
        top = imported.split(".")[0]
        assert top in STDLIB or top == "cryptography" or imported in siblings, (
            f"{name} imports {imported}"
        )


def test_the_package_root_does_not_pull_in_the_agent() -> None:
    for imported in imports_of(OUTBOX / "__init__.py"):
        assert imported in {
            "ketenherstel.outbox.bundle",
            "ketenherstel.outbox.errors",
            "ketenherstel.outbox.keys",
        }, imported


def test_the_outbox_uses_no_web_framework_and_not_the_exchange_cli() -> None:
    for path in OUTBOX.glob("*.py"):
        for imported in imports_of(path):
            assert imported.split(".")[0] not in ("fastapi", "starlette", "uvicorn"), path.name
            assert imported != "ketenherstel.cli", path.name
            assert not imported.startswith(("ketenherstel.web", "ketenherstel.cli.")), path.name


def test_only_the_store_module_talks_sql() -> None:
    for path in OUTBOX.glob("*.py"):
        if path.name != "store.py":
            assert "sqlite3" not in imports_of(path), path.name


def test_the_store_never_deletes_a_message() -> None:
    text = (OUTBOX / "store.py").read_text(encoding="utf-8")
    assert re.search(r"DELETE\s+FROM\s+messages", text, re.IGNORECASE) is None
