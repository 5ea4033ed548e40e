"""The registry tests' fixtures: a runtime on SQLite (``rt``) and Justid's registry (``reg``)."""

from tests.registry.test_registry import reg, rt

__all__ = ["reg", "rt"]
