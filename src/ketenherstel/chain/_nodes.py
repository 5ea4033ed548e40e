"""Reading PyYAML's composed nodes with line/column marks, collecting every problem found.

``NodeReader.compose`` composes a file's text (chain files, and go-live plans through the same
reader): invalid YAML, and a file nested more than :data:`MAX_DEPTH` levels deep, become a
problem at its line and column, never a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import yaml

from ketenherstel.chain.errors import ChainProblem
from ketenherstel.chain.utf8 import not_utf8

__all__ = ["MAX_DEPTH", "NodeReader"]

MAX_DEPTH = 64
"""The most levels of mappings and lists inside one another a file may have (and of objects and
arrays in a schema file, whose JSON Schema check calls itself several times a level); the same
as ``ketenherstel.documents.MAX_DEPTH``, which this package may not import."""

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_FLOAT = "tag:yaml.org,2002:float"
_DECIMAL = re.compile(r"[-+]?[0-9]+")
_BOOL_VALUES: dict[str, bool] = yaml.constructor.SafeConstructor.bool_values


def describe(node: yaml.Node) -> str:
    """What a node holds, for error messages ("a list", "a number")."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return {
        _STR: "a string",
        _INT: "a number",
        _FLOAT: "a number",
        _BOOL: "a boolean",
        _NULL: "nothing (null)",
    }.get(node.tag, f"a value tagged {node.tag}")


class _TooDeep(yaml.MarkedYAMLError):
    pass


class _DepthLimitedLoader(yaml.SafeLoader):
    """Composes a document by calling itself for each level, as PyYAML does, but refuses the
    level too many before it is entered: 10,000 levels of brackets (20 kB) exhausted Python's
    stack. Aliases add no call (the readers follow only the keys they know)."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if not self.check_event(yaml.CollectionStartEvent):
            return super().compose_node(parent, index)
        if self._depth >= MAX_DEPTH:
            event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
            raise _TooDeep(
                problem=f"nested too deeply: more than {MAX_DEPTH} levels of mappings and lists "
                "inside one another",
                problem_mark=cast(yaml.Mark, event.start_mark),
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


@dataclass(slots=True)
class _Found:
    file: str
    line: int
    column: int
    path: str
    message: str


@dataclass(slots=True)
class NodeReader:
    """Typed accessors over composed YAML nodes; every mismatch becomes a problem."""

    file: str
    _found: list[_Found] = field(default_factory=list)

    def compose(self, text: str, *, empty: str) -> yaml.Node | None:
        """The root node of ``text``, or None after recording why there is none: not valid
        YAML (at its mark), nested too deeply (at the level too many), or ``empty``."""
        try:
            root = yaml.compose(text, Loader=_DepthLimitedLoader)
        except _TooDeep as exc:
            self.add(exc.problem_mark, "", str(exc.problem))
            return None
        except yaml.MarkedYAMLError as exc:
            what = "; ".join(str(part) for part in (exc.context, exc.problem) if part)
            self.add(exc.problem_mark or exc.context_mark, "", f"not valid YAML: {what}")
            return None
        except yaml.YAMLError as exc:
            self.add(None, "", f"not valid YAML: {exc}")
            return None
        if root is None:
            self.add(None, "", empty)
        return root

    def add(
        self, mark: yaml.Mark | None, path: str, message: str, *, file: str | None = None
    ) -> None:
        """Record a problem at ``mark`` (1-based line/column in the report)."""
        line = mark.line + 1 if mark is not None else 1
        column = mark.column + 1 if mark is not None else 1
        self._found.append(_Found(file or self.file, line, column, path, message))

    def add_at(self, node: yaml.Node, path: str, message: str) -> None:
        """Record a problem at the start of ``node``."""
        self.add(node.start_mark, path, message)

    def add_in_file(self, file: str, line: int, column: int, path: str, message: str) -> None:
        """Record a problem in another file (a schema file) at an explicit position."""
        self._found.append(_Found(file, line, column, path, message))

    def decode(self, data: bytes, *, file: str | None = None) -> str | None:
        """``data`` (a file's bytes) as UTF-8 text, or None after recording that it is not,
        at the line and column of its first byte that is not (``file``: another file than the
        reader's, such as a schema file). PyYAML would read UTF-16 too, and said of a cp1252
        file only 'position 2325'; ``bytes.decode``'s error named no line either (the problem
        was put at line 1)."""
        problem = not_utf8(data)
        if problem is None:
            return data.decode("utf-8")
        self.add_in_file(file or self.file, problem.line, problem.column, "", problem.message)
        return None

    @property
    def has_problems(self) -> bool:
        """Whether anything has been recorded."""
        return bool(self._found)

    def problems(self) -> list[ChainProblem]:
        """Every problem, the chain file first, each file by position."""
        ordered = sorted(self._found, key=lambda f: (f.file != self.file, f.file, f.line, f.column))
        return [
            ChainProblem(
                location=f"{f.file}:{f.line}:{f.column}" + (f" {f.path}" if f.path else ""),
                message=f.message,
            )
            for f in ordered
        ]

    def mapping(
        self,
        node: yaml.Node,
        path: str,
        *,
        required: Sequence[str] = (),
        optional: Sequence[str] = (),
        open_keys: bool = False,
    ) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        """The entries of a mapping node as key → (key node, value node).

        Reports a node that is not a mapping, non-string and duplicate keys, unknown keys (unless
        ``open_keys``) and missing required keys. Returns None only when ``node`` is no mapping.
        """
        if not isinstance(node, yaml.MappingNode):
            self.add_at(node, path, f"expected a mapping, got {describe(node)}")
            return None
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        allowed = (*required, *optional)
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR:
                self.add_at(key_node, path, f"keys must be strings, got {describe(key_node)}")
                continue
            key = key_node.value
            child = _join(path, key)
            if key in entries:
                first = entries[key][0].start_mark.line + 1
                self.add_at(
                    key_node, child, f"duplicate key {key!r} (first defined on line {first})"
                )
                continue
            if not open_keys and key not in allowed:
                self.add_at(
                    key_node, child, f"unknown key {key!r}; expected one of: {', '.join(allowed)}"
                )
                continue
            entries[key] = (key_node, value_node)
        for key in required:
            if key not in entries:
                self.add_at(node, path, f"missing key {key!r}")
        return entries

    def string(
        self,
        node: yaml.Node,
        path: str,
        *,
        pattern: re.Pattern[str] | None = None,
        expected: str = "",
        max_length: int = 2000,
    ) -> str | None:
        """A non-empty string (optionally matching ``pattern``), or None after reporting."""
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            hint = " (put it in quotes)" if node.tag in (_INT, _FLOAT, _BOOL) else ""
            self.add_at(node, path, f"expected a string, got {describe(node)}{hint}")
            return None
        value: str = node.value
        if not value.strip():
            self.add_at(node, path, "must not be empty")
            return None
        if len(value) > max_length:
            self.add_at(node, path, f"is longer than {max_length} characters")
            return None
        if pattern is not None and pattern.fullmatch(value) is None:
            self.add_at(node, path, f"{value!r} is not {expected or 'well-formed'}")
            return None
        return value

    def integer(self, node: yaml.Node, path: str, *, minimum: int = 0) -> int | None:
        """A whole number ≥ ``minimum``, or None after reporting."""
        if (
            not isinstance(node, yaml.ScalarNode)
            or node.tag != _INT
            or _DECIMAL.fullmatch(node.value) is None
        ):
            self.add_at(node, path, f"expected a whole number, got {describe(node)}")
            return None
        try:
            value = int(node.value)
        except ValueError:  # int() takes at most 4,300 digits
            self.add_at(node, path, f"is too large a number ({len(node.value):,} digits)")
            return None
        if value < minimum:
            self.add_at(node, path, f"must be at least {minimum}, got {value}")
            return None
        return value

    def boolean(self, node: yaml.Node, path: str) -> bool | None:
        """true or false, or None after reporting."""
        if not isinstance(node, yaml.ScalarNode) or node.tag != _BOOL:
            self.add_at(node, path, f"expected true or false, got {describe(node)}")
            return None
        return _BOOL_VALUES[node.value.lower()]

    def is_null(self, node: yaml.Node) -> bool:
        """Whether ``node`` is YAML null (``null``, ``~`` or empty)."""
        return isinstance(node, yaml.ScalarNode) and node.tag == _NULL

    def string_list(
        self,
        node: yaml.Node,
        path: str,
        *,
        pattern: re.Pattern[str] | None = None,
        expected: str = "",
    ) -> list[tuple[str, yaml.Node, str]] | None:
        """A non-empty list of distinct strings as (value, node, path) triples, or None."""
        if not isinstance(node, yaml.SequenceNode):
            self.add_at(node, path, f"expected a list, got {describe(node)}")
            return None
        if not node.value:
            self.add_at(node, path, "must list at least one entry")
            return None
        items: list[tuple[str, yaml.Node, str]] = []
        seen: set[str] = set()
        for index, item in enumerate(node.value):
            item_path = f"{path}[{index}]"
            value = self.string(item, item_path, pattern=pattern, expected=expected)
            if value is None:
                continue
            if value in seen:
                self.add_at(item, item_path, f"{value!r} is listed twice")
                continue
            seen.add(value)
            items.append((value, item, item_path))
        return items


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
