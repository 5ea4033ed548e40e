"""Compiled JSON Schema validators for message data.

fastjsonschema is the fast path; only when it rejects a document does jsonschema's
Draft202012Validator list every problem with its path. The two agree on the keywords the chain's
schemas use; where jsonschema cannot check something fastjsonschema did (a format), the fast
path's own finding is reported instead, so a rejected document always comes with a reason.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import fastjsonschema
import jsonschema  # type: ignore[import-untyped,unused-ignore]

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


@functools.lru_cache(maxsize=1024)
def _compile_canonical(canonical: str) -> Callable[[object], object]:
    compiled: Callable[[object], object] = fastjsonschema.compile(json.loads(canonical))
    return compiled


def compile_schema(schema: Mapping[str, Any]) -> Callable[[object], object]:
    """Compile ``schema`` with fastjsonschema (cached by content).

    Raises ``fastjsonschema.JsonSchemaDefinitionException`` when the schema cannot be compiled.
    """
    return _compile_canonical(_canonical(schema))


def _truncate(reason: str) -> str:
    return reason if len(reason) <= _MAX_REASON else reason[: _MAX_REASON - 1] + "…"


def _fast_problem(exc: fastjsonschema.JsonSchemaValueException) -> DataProblem:
    name = exc.name or "data"
    path = "$" + name[len("data") :] if name.startswith("data") else "$"
    message = exc.message or "is not valid"
    reason = message[len(name) :].strip() if message.startswith(name) else message
    return path, _truncate(reason)


class DataValidator:
    """Validates message ``data`` per message type; compiles each schema on first use."""

    __slots__ = ("_fast", "_schemas", "_slow")

    def __init__(self, schemas: Mapping[str, Mapping[str, Any]]) -> None:
        self._schemas = dict(schemas)
        self._fast: dict[str, Callable[[object], object]] = {}
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

    def fast_validator(self, type_name: str) -> Callable[[object], object]:
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
        try:
            self.fast_validator(type_name)(data)
        except fastjsonschema.JsonSchemaValueException as exc:
            fast = _fast_problem(exc)
        else:
            return []
        problems: list[DataProblem] = []
        for error in self._slow_validator(type_name).iter_errors(data):
            problem = (json_path(error.absolute_path), _truncate(str(error.message)))
            if problem not in problems:
                problems.append(problem)
        if all(path != fast[0] for path, _ in problems):
            problems.append(fast)
        return sorted(problems)
