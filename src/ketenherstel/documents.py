"""YAML and JSON that a person or a partner wrote: a key given twice in one mapping or object
is refused, named, never settled silently.

PyYAML's safe loader, the standard library's json, orjson and pydantic all keep the last of two
equal keys. A scenario file with ``seed:`` twice, an indicator feed or an event whose data names
``parketnummer`` twice would then mean something its author did not see. Here:

* YAML is read with :class:`StrictLoader` (``load_yaml``, ``load_all_yaml``): a key given twice
  raises :class:`DuplicateYamlKey`, a ``yaml.MarkedYAMLError`` that names the key and the
  line of each of the two (a ``<<`` merge may still be overridden, as YAML means it to);
* JSON read with the standard library goes through ``load_json``: a key given twice raises
  :class:`DuplicateJsonKeys`, a ``ValueError`` naming the key and the object that holds it;
* JSON read with orjson (event files, the outbox's endpoint) is checked after the fact with
  ``orjson_duplicates(raw, value)``, cheaply: see its docstring.

A document nested too deeply is refused too, never a ``RecursionError`` traceback: PyYAML
composes a node by calling itself for each level, as json.loads does, so 10,000 levels of
brackets (20 kB) exhausted Python's stack. :class:`StrictLoader` refuses more than
:data:`MAX_DEPTH` levels of mappings and lists with :class:`YamlTooDeep` (a
``yaml.MarkedYAMLError`` with the line and column), before it gets that deep, and counts what
an alias brings in; ``load_json`` turns json.loads' ``RecursionError`` into :class:`JsonTooDeep`
(a ``ValueError``).

Two packages may not import this (their layer tests say so) and keep a hook of their own: the
chain (its YAML goes through its ``NodeReader``, which refuses a key given twice and more than
its own ``MAX_DEPTH``, the same, levels; its schema files through ``_schema_files._once``) and
the outbox's bundle domain (``bundle._strict_object``).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import orjson
import yaml

__all__ = [
    "MAX_DEPTH",
    "DuplicateJsonKeys",
    "DuplicateKey",
    "DuplicateYamlKey",
    "JsonTooDeep",
    "StrictLoader",
    "YamlTooDeep",
    "json_duplicates",
    "load_all_yaml",
    "load_json",
    "load_yaml",
    "orjson_duplicates",
]

_MERGE = "tag:yaml.org,2002:merge"

MAX_DEPTH = 64
"""The most levels of mappings and lists inside one another a YAML document may have (the
top-level mapping is one). The files people write here nest a few levels; 64 leaves room and
keeps whatever reads the value recursively next (pySigma, a repr in an error message) well
within Python's stack of 1,000 calls."""


class DuplicateYamlKey(yaml.constructor.ConstructorError):
    """A mapping gives one key twice. ``key`` is the second as written, ``line`` its line and
    ``first_line`` the first's (from 1; ``problem_mark`` is yaml's, from 0); ``str()`` is one
    line: where, which key, where it was first."""

    def __init__(self, key: object, first: yaml.Mark, second: yaml.Mark) -> None:
        super().__init__(
            None,
            None,
            f"the key {key!r} is given twice in one mapping (first on line {first.line + 1}); "
            "give each key once",
            second,
        )
        self.key = key
        self.line = second.line + 1
        self.first_line = first.line + 1

    def __str__(self) -> str:
        mark = self.problem_mark
        assert mark is not None
        return f"line {mark.line + 1}, column {mark.column + 1}: {self.problem}"


class YamlTooDeep(yaml.composer.ComposerError):
    """A document nests more than :data:`MAX_DEPTH` levels of mappings and lists; ``line`` and
    ``column`` (from 1) are where the first level too many starts, or the alias that brings it
    in. ``str()`` is one line."""

    def __init__(self, mark: yaml.Mark) -> None:
        super().__init__(
            None,
            None,
            f"nested too deeply: more than {MAX_DEPTH} levels of mappings and lists inside one "
            "another",
            mark,
        )
        self.line = mark.line + 1
        self.column = mark.column + 1

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.problem}"


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping, and a document
    nested more than :data:`MAX_DEPTH` levels deep."""

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self._open: list[int] = []  # per open collection: the height of its tallest child
        self._heights: dict[str, int] = {}  # per anchor of the document: its node's height

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        # Composing calls itself for each level: refuse the level too many before it is
        # entered. An alias adds the height of the node it names without a call of its own.
        event: yaml.NodeEvent = self.peek_event()  # type: ignore[no-untyped-call]
        mark = cast(yaml.Mark, event.start_mark)
        height = 0  # of the node composed: levels of mappings and lists, from it down
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)  # an undefined alias: refused here
            # 0: a scalar, or a collection still being composed (it holds itself)
            height = self._heights.get(event.anchor or "", 0)
            if len(self._open) + height > MAX_DEPTH:
                raise YamlTooDeep(mark)
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(self._open) >= MAX_DEPTH:
                raise YamlTooDeep(mark)
            if event.anchor is not None:
                self._heights.pop(event.anchor, None)  # the same name in an earlier document
            self._open.append(0)
            try:
                node = super().compose_node(parent, index)
            finally:
                height = self._open.pop() + 1
            if event.anchor is not None:
                self._heights[event.anchor] = height
        else:
            node = super().compose_node(parent, index)
        if self._open:
            self._open[-1] = max(self._open[-1], height)
        return node

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            return super().construct_yaml_int(node)
        except ValueError:  # int() takes at most 4,300 digits; PyYAML let its ValueError out
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"a number of {len(node.value):,} characters: more digits than this reader "
                "takes (4,300)",
                node.start_mark,
            ) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Hashable, yaml.Mark] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:
                    continue  # merged keys may be overridden: that is what a merge is for
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node.start_mark)
                except TypeError:
                    continue  # an unhashable key: SafeLoader refuses it itself, below
                if first is not key_node.start_mark:
                    written = key_node.value if isinstance(key_node, yaml.ScalarNode) else key
                    raise DuplicateYamlKey(written, first, key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)


def load_yaml(text: str | bytes) -> Any:
    """One YAML document, as ``yaml.safe_load`` reads it, or :class:`DuplicateYamlKey`."""
    return yaml.load(text, Loader=StrictLoader)  # a SafeLoader: nothing but plain data


def load_all_yaml(text: str | bytes) -> Iterator[Any]:
    """Every YAML document of ``text``, as ``yaml.safe_load_all`` reads them."""
    return yaml.load_all(text, Loader=StrictLoader)


# -- JSON -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DuplicateKey:
    """One key given twice in one JSON object; ``at`` leads to that object from the top (keys
    and list positions), so ``("data", "offences", 0)`` is ``data.offences[0]``."""

    at: tuple[str | int, ...]
    key: str

    @property
    def path(self) -> str:
        """``at`` written as a path: ``data.offences[0]``; "" for the top-level object."""
        out = ""
        for step in self.at:
            out += f"[{step}]" if isinstance(step, int) else f".{step}" if out else step
        return out

    @property
    def item(self) -> int | None:
        """In a top-level list (a batch of events): the position of the item that holds it."""
        return self.at[0] if self.at and isinstance(self.at[0], int) else None

    @property
    def within(self) -> DuplicateKey:
        """The same key as seen from its ``item`` (itself when it is in no list item)."""
        return DuplicateKey(self.at[1:], self.key) if self.item is not None else self

    def __str__(self) -> str:
        where = f"the object at {self.path}" if self.path else "the top-level object"
        return f"the key {self.key!r} appears twice in {where}"


class DuplicateJsonKeys(ValueError):
    """A JSON text gives a key twice in one object; ``duplicates`` lists every such key."""

    def __init__(self, duplicates: list[DuplicateKey]) -> None:
        more = len(duplicates) - 1
        extra = f" (and {more} more key{'s' if more > 1 else ''} given twice)" if more else ""
        super().__init__(f"{duplicates[0]}{extra}; give each key once")
        self.duplicates = duplicates


class _Twice(Exception):
    pass


def _refuse_twice(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _Twice
    return value


class JsonTooDeep(ValueError):
    """A JSON text nests objects and arrays deeper than json.loads can follow on Python's
    stack (about 1,000 levels, fewer when called deep in a program)."""

    def __init__(self) -> None:
        super().__init__(
            "nested too deeply: more objects and arrays inside one another than this reader "
            "can follow"
        )


def load_json(text: str | bytes) -> Any:
    """``json.loads(text)``, but a key given twice in one object raises
    :class:`DuplicateJsonKeys` (a ``ValueError``) naming it, and a text nested deeper than
    json.loads can follow raises :class:`JsonTooDeep` (a ``ValueError``; it was a
    ``RecursionError``); invalid JSON raises ``json.JSONDecodeError`` as before."""
    try:
        return json.loads(text, object_pairs_hook=_refuse_twice)
    except _Twice:
        raise DuplicateJsonKeys(json_duplicates(text)) from None
    except RecursionError:
        raise JsonTooDeep from None


class _Object:
    """An object as the text gives it: every pair, in order, even a key given twice."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs


def json_duplicates(text: str | bytes) -> list[DuplicateKey]:
    """Every key given twice in one object of ``text``, in the order of the text; [] when there
    is none, or when ``text`` is not JSON (saying so is the caller's parser's work)."""
    try:
        tree = json.loads(text, object_pairs_hook=_Object)
    except (ValueError, RecursionError):
        return []
    found: list[DuplicateKey] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), tree)]
    while stack:
        at, node = stack.pop()
        if isinstance(node, _Object):
            seen: set[str] = set()
            for key, _ in node.pairs:
                if key in seen:
                    found.append(DuplicateKey(at, key))
                seen.add(key)
            stack.extend(((*at, key), value) for key, value in reversed(node.pairs))
        elif isinstance(node, list):
            stack.extend(((*at, i), value) for i, value in reversed(list(enumerate(node))))
    return found


def orjson_duplicates(raw: bytes | str, value: Any) -> list[DuplicateKey]:
    """The keys given twice in ``raw``, whose ``orjson.loads`` is ``value``; fast when there
    are none, as for every well-formed event.

    orjson keeps the last of two equal keys and says nothing. Reading the text again with a
    hook on every object costs three times orjson's own parse, so first a count: outside its
    strings, valid JSON has exactly one ``:`` per object member, and orjson writes every ``:``
    of a string as itself. So ``orjson.dumps(value)`` holds as many colons as ``raw`` unless a
    member was dropped (a key given twice: fewer) or ``raw`` wrote a colon in a string as
    ``\\u003a`` (more). When the counts agree and ``raw`` has no ``\\u003`` escape, no key was
    given twice; otherwise the text is read again to name them (and may find none). For a
    batch of 1,000 events the count adds about half of what orjson.loads takes; reading again
    would add seven times as much.
    """
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    escapes = b"\\" in data and data.find(b"\\u003") >= 0  # memchr first: most have none
    if not escapes and orjson.dumps(value).count(b":") == data.count(b":"):
        return []
    return json_duplicates(data)
