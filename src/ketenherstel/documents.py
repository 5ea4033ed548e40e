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

Two packages may not import this (their layer tests say so) and keep a hook of their own: the
chain (its YAML goes through its ``NodeReader``, which refuses a key given twice, its schema
files through ``_schema_files._once``) and the outbox's bundle domain (``bundle._strict_object``).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import yaml

__all__ = [
    "DuplicateJsonKeys",
    "DuplicateKey",
    "DuplicateYamlKey",
    "StrictLoader",
    "json_duplicates",
    "load_all_yaml",
    "load_json",
    "load_yaml",
    "orjson_duplicates",
]

_MERGE = "tag:yaml.org,2002:merge"


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


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping."""

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


def load_json(text: str | bytes) -> Any:
    """``json.loads(text)``, but a key given twice in one object raises
    :class:`DuplicateJsonKeys` (a ``ValueError``) naming it; invalid JSON raises
    ``json.JSONDecodeError`` as before."""
    try:
        return json.loads(text, object_pairs_hook=_refuse_twice)
    except _Twice:
        raise DuplicateJsonKeys(json_duplicates(text)) from None


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
