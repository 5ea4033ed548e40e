"""Compiled JSON Schema validators for message data.

jsonschema-rs (compiled, Rust) is the fast path: it only says whether a document is valid.
Only when it rejects one does jsonschema's Draft202012Validator list every problem with its
path. The two agree on the keywords the chain's schemas use; where jsonschema cannot check
something the fast path did (a format, a pattern's end of text), the fast path's own finding is
reported instead, so a rejected document always comes with a reason.

A schema must be self-contained: a reference outside it is never fetched (no network at run
time), so such a schema cannot be compiled.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import jsonschema_rs

__all__ = ["DataProblem", "DataValidator", "compile_schema", "json_path"]

DataProblem = tuple[str, str]
"""A (JSON path, reason) pair, e.g. ``("$.offences[0].category", "'x' is not one of [...]")``."""

_MAX_REASON = 300
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)

_FORMAT_CHECKER = jsonschema.FormatChecker()


@_FORMAT_CHECKER.checks("date-time")  # type: ignore[untyped-decorator,unused-ignore]
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # formats only constrain strings
    if _RFC3339.fullmatch(value) is None:
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def json_path(parts: Iterable[str | int]) -> str:
    """Render a path into a JSON document as JSONPath: ``$.offences[0].article``."""
    rendered = ["$"]
    for part in parts:
        if isinstance(part, int):
            rendered.append(f"[{part}]")
        elif _IDENTIFIER.fullmatch(part):
            rendered.append(f".{part}")
        else:
            escaped = part.replace("\\", "\\\\").replace("'", "\\'")
            rendered.append(f"['{escaped}']")
    return "".join(rendered)


def _canonical(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))


def _not_fetched(uri: str) -> Any:
    raise ValueError(f"the reference {uri!r} is outside the schema and is not fetched")


@functools.lru_cache(maxsize=1024)
def _compile_canonical(canonical: str) -> jsonschema_rs.Draft202012Validator:
    return jsonschema_rs.Draft202012Validator(
        json.loads(canonical), validate_formats=True, retriever=_not_fetched
    )


def compile_schema(schema: Mapping[str, Any]) -> jsonschema_rs.Draft202012Validator:
    """Compile ``schema`` with jsonschema-rs (cached by content), checking formats too.

    Raises ``ValueError`` (``jsonschema_rs.ValidationError``) when the schema cannot be compiled,
    among others when it refers to a document outside itself.
    """
    return _compile_canonical(_canonical(schema))


def _truncate(reason: str) -> str:
    return reason if len(reason) <= _MAX_REASON else reason[: _MAX_REASON - 1] + "…"


def _fast_problem(validator: jsonschema_rs.Draft202012Validator, data: object) -> DataProblem:
    """The fast path's first finding on a document it rejected."""
    try:
        validator.validate(data)
    except jsonschema_rs.ValidationError as exc:
        return json_path(exc.instance_path), _truncate(exc.message or "is not valid")
    except ValueError as exc:  # not a JSON document: a key that is not a string, say
        return "$", _truncate(str(exc))
    return "$", "is not valid"


class DataValidator:
    """Validates message ``data`` per message type; compiles each schema on first use."""

    __slots__ = ("_fast", "_schemas", "_slow")

    def __init__(self, schemas: Mapping[str, Mapping[str, Any]]) -> None:
        self._schemas = dict(schemas)
        self._fast: dict[str, jsonschema_rs.Draft202012Validator] = {}
        self._slow: dict[str, Any] = {}

    def __contains__(self, type_name: object) -> bool:
        return type_name in self._schemas

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to another process) without the compiled validators, which are rebuilt on
        first use there: compiled code does not pickle."""
        return {"_schemas": self._schemas}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._schemas = state["_schemas"]
        self._fast = {}
        self._slow = {}

    def fast_validator(self, type_name: str) -> jsonschema_rs.Draft202012Validator:
        """The compiled validator for ``type_name``; raises ``KeyError`` for an unknown type."""
        validator = self._fast.get(type_name)
        if validator is None:
            validator = compile_schema(self._schemas[type_name])
            self._fast[type_name] = validator
        return validator

    def _slow_validator(self, type_name: str) -> Any:
        validator = self._slow.get(type_name)
        if validator is None:
            validator = jsonschema.Draft202012Validator(
                self._schemas[type_name], format_checker=_FORMAT_CHECKER
            )
            self._slow[type_name] = validator
        return validator

    def validate(self, type_name: str, data: object) -> list[DataProblem]:
        """Every problem with ``data`` as a (JSON path, reason) pair; empty when valid."""
        fast_validator = self.fast_validator(type_name)
        try:
            if fast_validator.is_valid(data):
                return []
        except ValueError:  # not a JSON document; the slow path says where
            pass
        fast = _fast_problem(fast_validator, data)
        problems: list[DataProblem] = []
        for error in self._slow_validator(type_name).iter_errors(data):
            problem = (json_path(error.absolute_path), _truncate(str(error.message)))
            if problem not in problems:
                problems.append(problem)
        if all(path != fast[0] for path, _ in problems):
            problems.append(fast)
        return sorted(problems)
