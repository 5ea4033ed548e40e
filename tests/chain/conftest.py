"""Fixtures of the chain tests: a writable copy of the built-in chain file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ketenherstel.chain import BUILTIN_CHAIN_PATH


@pytest.fixture
def chain_file(tmp_path: Path) -> Path:
    """A writable copy of the built-in chain file with its schemas directory."""
    shutil.copytree(BUILTIN_CHAIN_PATH.parent, tmp_path / "data")
    return tmp_path / "data" / "chain.yaml"
