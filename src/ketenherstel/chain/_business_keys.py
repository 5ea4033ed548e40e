"""Checking a message type's ``business_key`` against the JSON Schema of its data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from ketenherstel.chain._nodes import NodeReader

__all__ = ["read_business_key"]

_SCALAR_TYPES = frozenset({"string", "integer"})


def read_business_key(
    reader: NodeReader,
    node: yaml.Node,
    path: str,
    type_name: str | None,
    schema: Mapping[str, Any] | None,
) -> tuple[str, ...] | None:
    """The key fields listed at ``node``, or None after reporting what is wrong with them.

    The list must be non-empty and free of repeats; every field must be a required top-level
    property of ``schema`` typed string or integer. Without a schema (it is missing or broken,
    which is reported elsewhere) only the list itself is checked.
    """
    items = reader.string_list(node, path)
    if items is None:
        return None
    ok = len(items) == len(node.value)
    if schema is None:
        return None
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    required = schema.get("required")
    required = set(required) if isinstance(required, list) else set()
    where = f"schemas/{type_name}.json" if type_name else "the type's schema"
    for value, item, item_path in items:
        problem = None
        if value not in properties:
            problem = (
                f"unknown field {value!r}: {where} has no top-level property {value!r}; "
                "a business key names top-level data fields"
            )
        elif value not in required:
            problem = (
                f"field {value!r} is not required by {where}; a business key field must always "
                'be present (list it in "required" there, or choose another field)'
            )
        elif not _is_scalar(properties[value]):
            problem = (
                f"field {value!r} is not a string or an integer in {where}; a business key "
                "field must be one (not an array, object, boolean, number or null)"
            )
        if problem is not None:
            reader.add_at(item, item_path, problem)
            ok = False
    return tuple(value for value, _, _ in items) if ok else None


def _is_scalar(property_schema: object) -> bool:
    if not isinstance(property_schema, Mapping):
        return False
    declared = property_schema.get("type")
    if isinstance(declared, str):
        return declared in _SCALAR_TYPES
    if isinstance(declared, list) and declared:
        return all(isinstance(item, str) and item in _SCALAR_TYPES for item in declared)
    return False
