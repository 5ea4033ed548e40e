"""The JSON Schema files of a chain's message types: read, check, compile."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import yaml

from ketenherstel.chain._nodes import MAX_DEPTH, NodeReader
from ketenherstel.chain._validation import compile_schema, json_path

__all__ = ["SCHEMA_DIALECT", "load_schema"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
"""Every data schema declares this draft."""


def load_schema(
    reader: NodeReader, chain_dir: Path, type_name: str, type_node: yaml.Node, path: str
) -> dict[str, Any] | None:
    """The schema of ``type_name`` from ``schemas/`` beside the chain file, or None after
    reporting why it is missing, unreadable, not JSON, not a valid JSON Schema or not compilable.
    """
    relative = f"schemas/{type_name}.json"
    schema_path = chain_dir / "schemas" / f"{type_name}.json"
    try:
        data = schema_path.read_bytes()
    except FileNotFoundError:
        reader.add_at(type_node, path, f"schema file {relative} not found; every type needs one")
        return None
    except OSError as exc:
        reader.add_at(type_node, path, f"cannot read schema file {relative}: {exc}")
        return None
    text = reader.decode(data, file=relative)
    if text is None:
        return None
    try:
        schema = json.loads(text, object_pairs_hook=_once)
    except json.JSONDecodeError as exc:
        reader.add_in_file(relative, exc.lineno, exc.colno, "", f"not valid JSON: {exc.msg}")
        return None
    except RecursionError:  # json.loads calls itself for each level
        schema = _TOO_DEEP
    except _GivenTwice as exc:
        reader.add_at(
            type_node,
            path,
            f"schema {relative} gives the key {exc.key!r} twice in one object (which one counts "
            "is not for a reader to guess); give each key once",
        )
        return None
    if schema is _TOO_DEEP or _too_deep(schema):
        # the JSON Schema check below calls itself several times a level: about 130 levels
        # were a RecursionError too
        reader.add_at(
            type_node,
            path,
            f"schema {relative} is nested too deeply: more than {MAX_DEPTH} levels of objects "
            "and arrays inside one another",
        )
        return None
    if not isinstance(schema, dict):
        reader.add_at(type_node, path, f"schema {relative} must be a JSON object")
        return None
    problems = _schema_problems(schema)
    for problem in problems:
        reader.add_at(type_node, path, f"schema {relative} {problem}")
    if problems:
        return None
    try:
        compile_schema(schema)
    except Exception as exc:  # any failure to compile is a problem of the file, not a crash
        reader.add_at(type_node, path, f"schema {relative} cannot be compiled: {exc}")
        return None
    return schema


_TOO_DEEP = object()


def _too_deep(value: object) -> bool:
    """Whether ``value`` nests more than MAX_DEPTH levels of objects and arrays."""
    level: list[object] = [value]
    for _ in range(MAX_DEPTH):
        level = [
            item
            for node in level
            if isinstance(node, dict | list)
            for item in (node.values() if isinstance(node, dict) else node)
        ]
    return any(isinstance(node, dict | list) for node in level)


class _GivenTwice(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object of a schema file; json.loads would keep the last of two equal keys (a second
    "required" or "maximum" silently replacing the first). The chain reads only the standard
    library (tests/test_architecture.py), so this is its own ketenherstel.documents.load_json.
    """
    value: dict[str, Any] = {}
    for key, item in pairs:
        if key in value:
            raise _GivenTwice(key)
        value[key] = item
    return value


@functools.cache
def _meta_validator() -> Any:
    # What Draft202012Validator.check_schema does, but listing every error, not just the first.
    meta = jsonschema.Draft202012Validator.META_SCHEMA
    validator_class = jsonschema.validators.validator_for(
        meta, default=jsonschema.Draft202012Validator
    )
    return validator_class(meta, format_checker=validator_class.FORMAT_CHECKER)


def _schema_problems(schema: dict[str, Any]) -> list[str]:
    if schema.get("$schema") != SCHEMA_DIALECT:
        return [f'must declare "$schema": "{SCHEMA_DIALECT}"']
    return list(_meta_problems(json.dumps(schema, sort_keys=True)))


@functools.lru_cache(maxsize=1024)
def _meta_problems(canonical: str) -> tuple[str, ...]:
    schema = json.loads(canonical)
    problems = [
        f"is not a valid JSON Schema at {json_path(error.absolute_path)}: {error.message}"
        for error in _meta_validator().iter_errors(schema)
    ]
    if not problems and schema.get("type") != "object":
        problems.append('must describe a JSON object ("type": "object")')
    return tuple(problems)
