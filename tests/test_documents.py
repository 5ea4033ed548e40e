"""ketenherstel.documents: a key given twice in one YAML mapping or JSON object is refused,
named with where it is; everything else reads as the safe loader and json.loads read it."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ketenherstel.documents import (
    MAX_DEPTH,
    DuplicateJsonKeys,
    DuplicateKey,
    DuplicateYamlKey,
    JsonTooDeep,
    YamlTooDeep,
    json_duplicates,
    load_all_yaml,
    load_json,
    load_yaml,
    orjson_duplicates,
)

# -- YAML -------------------------------------------------------------------------------------


def test_a_yaml_key_given_twice_is_named_with_both_lines() -> None:
    text = "name: om-2025\nwaves:\n  - name: wave-1\n    rate: 600/h\n    rate: 60/h\n"
    with pytest.raises(DuplicateYamlKey) as caught:
        load_yaml(text)
    error = caught.value
    assert (error.key, error.line, error.first_line) == ("rate", 5, 4)
    assert str(error) == (
        "line 5, column 5: the key 'rate' is given twice in one mapping (first on line 4); "
        "give each key once"
    )
    assert isinstance(error, yaml.MarkedYAMLError)  # handlers of YAML errors report it as one


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("{a: 1, a: 2}\n", "a"),  # flow style
        ("a: 1\n'a': 2\n", "a"),  # quoted or not, one key
        ("1: x\n0x1: y\n", "0x1"),  # the same number written twice over
        ("? [1]\n: x\nb: 1\nb: 2\n", "b"),
    ],
)
def test_keys_that_are_the_same_value_are_refused_however_they_are_written(
    text: str, key: str
) -> None:
    with pytest.raises(DuplicateYamlKey) as caught:
        load_yaml(text) if "?" not in text else list(load_all_yaml(text))
    assert caught.value.key == key


def test_a_merge_may_be_overridden_and_everything_else_reads_as_safe_load() -> None:
    text = "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  x: 3\nlist: [1, {a: 1}]\nwhen: 2025-07-17\n"
    assert load_yaml(text) == yaml.safe_load(text)
    assert load_yaml(text)["other"] == {"x": 3, "y": 2}
    assert list(load_all_yaml("a: 1\n---\nb: 2\n")) == [{"a": 1}, {"b": 2}]
    with pytest.raises(yaml.constructor.ConstructorError, match="could not determine"):
        load_yaml("!!python/object:os.system {}\n")  # still only plain data


def test_the_same_key_in_two_mappings_is_no_duplicate() -> None:
    assert load_yaml("a: {k: 1}\nb: {k: 2}\n") == {"a": {"k": 1}, "b": {"k": 2}}


# -- nested too deeply ------------------------------------------------------------------------

DEEP = 10_000


def _block(levels: int) -> str:
    """``levels`` block mappings inside one another, each on its own line."""
    return "".join(f"{'  ' * i}k:\n" for i in range(levels - 1)) + "  " * (levels - 1) + "k: v\n"


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("a: " + "[" * DEEP + "]" * DEEP + "\n", 1, 3 + MAX_DEPTH),  # flow lists
        ('{"a": ' * DEEP + "1" + "}" * DEEP + "\n", 1, 1 + 6 * MAX_DEPTH),  # JSON, as YAML
        (_block(1_000), MAX_DEPTH + 1, 2 * MAX_DEPTH + 1),  # block mappings
    ],
    ids=["lists", "json-objects", "block-mappings"],
)
def test_a_yaml_document_nested_too_deeply_is_refused_at_its_line_not_a_recursion_error(
    text: str, line: int, column: int
) -> None:
    """PyYAML composes a node by calling itself for each child: 10,000 levels (20 kB) were a
    RecursionError traceback out of every loader that reads a person's YAML."""
    for read in (load_yaml, lambda t: list(load_all_yaml(t))):
        with pytest.raises(YamlTooDeep) as caught:
            read(text)
        error = caught.value
        assert isinstance(error, yaml.MarkedYAMLError)  # handlers of YAML errors report it
        assert (error.line, error.column) == (line, column)
        assert str(error) == (
            f"line {line}, column {column}: nested too deeply: more than {MAX_DEPTH} levels of "
            "mappings and lists inside one another"
        )


def test_a_yaml_document_may_nest_max_depth_levels_and_no_more() -> None:
    at_most = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert load_yaml(at_most) == yaml.safe_load(at_most)
    assert load_yaml(_block(MAX_DEPTH)) == yaml.safe_load(_block(MAX_DEPTH))
    deeper = ("[" + at_most + "]", _block(MAX_DEPTH + 1), _block(MAX_DEPTH).replace(": v", ": [v]"))
    for text in deeper:
        with pytest.raises(YamlTooDeep):
            load_yaml(text)


def test_an_alias_counts_the_levels_it_brings_in() -> None:
    """Each list holds the one before it: 1,000 short lines compose without calling deeper,
    yet the value nests 1,000 levels, too deep for whatever reads it recursively next (repr of
    it in an error message was a RecursionError)."""
    lines = ["a0: &a0 []", *(f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 1_000))]
    with pytest.raises(YamlTooDeep) as caught:
        load_yaml("\n".join(lines))
    # a{i} is i + 1 lists deep in the top-level mapping: a{MAX_DEPTH - 1} is one too many
    too_many = lines[MAX_DEPTH - 1]
    assert (caught.value.line, caught.value.column) == (MAX_DEPTH, too_many.index("*") + 1)
    deepest = load_yaml("\n".join(lines[: MAX_DEPTH - 1]))[f"a{MAX_DEPTH - 2}"]
    assert _depth(deepest) == MAX_DEPTH - 1


def test_an_anchor_named_again_in_a_later_document_counts_as_the_new_one() -> None:
    """The new node may even hold itself (PyYAML builds a list that holds itself)."""
    earlier = "a: &a " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    first, second = load_all_yaml(f"{earlier}\n---\nb: &a [[*a]]\n")
    assert _depth(first["a"]) == MAX_DEPTH - 1
    assert second["b"][0][0] is second["b"]


def _depth(value: Any) -> int:
    """Levels of lists inside one another in ``value``, a chain of lists of one item."""
    depth = 0
    while isinstance(value, list):
        depth, value = depth + 1, value[0] if value else None
    return depth


def test_a_number_of_more_digits_than_python_reads_is_a_yaml_error_with_its_line() -> None:
    """int() refuses more than 4,300 digits, and PyYAML let that ValueError out of load_yaml:
    a traceback from any loader that caught YAML errors (a scenario's cases_per_day)."""
    with pytest.raises(yaml.MarkedYAMLError) as caught:
        load_yaml("a: 1\nb: " + "9" * 5_000 + "\n")
    assert caught.value.problem_mark is not None and caught.value.problem_mark.line == 1
    assert caught.value.problem == (
        "a number of 5,000 characters: more digits than this reader takes (4,300)"
    )
    assert load_yaml("b: " + "9" * 4_300) == {"b": 10**4_300 - 1}


def test_a_json_text_nested_too_deeply_is_refused_not_a_recursion_error() -> None:
    for text in ("[" * DEEP + "]" * DEEP, '{"a": ' * DEEP + "1" + "}" * DEEP):
        with pytest.raises(JsonTooDeep) as caught:
            load_json(text)
        assert isinstance(caught.value, ValueError)  # as a JSONDecodeError is
        assert str(caught.value).startswith("nested too deeply: ")
        assert caught.value.__cause__ is None and caught.value.__suppress_context__


# -- JSON -------------------------------------------------------------------------------------


def test_every_json_key_given_twice_is_named_with_the_object_that_holds_it() -> None:
    text = '[{"id": 1}, {"data": {"x": [{"k": 1, "k": 2}], "x": 3}, "id": 1, "id": 2}]'
    assert json_duplicates(text) == [
        DuplicateKey((1,), "id"),
        DuplicateKey((1, "data"), "x"),
        DuplicateKey((1, "data", "x", 0), "k"),
    ]
    assert [str(d) for d in json_duplicates(text)] == [
        "the key 'id' appears twice in the object at [1]",
        "the key 'x' appears twice in the object at [1].data",
        "the key 'k' appears twice in the object at [1].data.x[0]",
    ]
    inner = json_duplicates(text)[2]
    assert (inner.item, str(inner.within)) == (
        1,
        "the key 'k' appears twice in the object at data.x[0]",
    )
    with pytest.raises(DuplicateJsonKeys) as caught:
        load_json(text)
    assert str(caught.value) == (
        "the key 'id' appears twice in the object at [1] (and 2 more keys given twice); give "
        "each key once"
    )
    assert caught.value.duplicates == json_duplicates(text)


def test_json_without_duplicates_reads_as_json_loads() -> None:
    text = '{"a": [1, 2.5, null, true], "b": {"c": "\\u00e9"}, "n": NaN}'
    assert json.dumps(load_json(text)) == json.dumps(json.loads(text))
    assert json_duplicates(text) == [] and json_duplicates("{not json") == []
    with pytest.raises(json.JSONDecodeError):
        load_json("{not json")


def test_orjsons_reading_is_checked_even_where_the_counts_would_mislead() -> None:
    """A colon written as \\u003a in a string adds one to the re-written text's count: with a
    key given twice as well, the counts would agree."""
    tricky = b'{"t": "12\\u003a00", "a": 1, "a": 2}'
    assert orjson_duplicates(tricky, orjson.loads(tricky)) == [DuplicateKey((), "a")]
    fine = b'{"t": "12\\u003a00", "u": "urn:x:y", "a": {"b": ":"}}'
    assert orjson_duplicates(fine, orjson.loads(fine)) == []
    text = '{"a": 1, "a": 2}'
    assert orjson_duplicates(text, orjson.loads(text)) == [DuplicateKey((), "a")]


_KEYS = st.sampled_from(["a", "b", "c", "a:b", "\u00e9", ":"])
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.sampled_from('ab:"\\\u00e9\n '), max_size=6),
)


def _render(node: Any, draw: Any) -> str:
    """JSON text of ``node``; an object is a list of pairs (so keys may repeat), and strings
    are written plainly or with every character escaped, at random."""
    if isinstance(node, tuple):
        pairs = ", ".join(f"{_string(k, draw)}: {_render(v, draw)}" for k, v in node)
        return "{" + pairs + "}"
    if isinstance(node, list):
        return "[" + ", ".join(_render(v, draw) for v in node) + "]"
    if isinstance(node, str):
        return _string(node, draw)
    return json.dumps(node)


def _string(text: str, draw: Any) -> str:
    if draw(st.booleans()):
        return json.dumps(text, ensure_ascii=False)
    return '"' + "".join(f"\\u{ord(c):04x}" for c in text) + '"'


_TREES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(st.tuples(_KEYS, inner), max_size=4).map(tuple),
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_the_fast_check_after_orjson_finds_what_reading_again_finds(data: st.DataObject) -> None:
    """orjson_duplicates answers [] without reading again only when there is no duplicate."""
    text = _render(data.draw(_TREES), data.draw).encode("utf-8")
    value = orjson.loads(text)
    assert orjson_duplicates(text, value) == json_duplicates(text)
