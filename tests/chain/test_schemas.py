"""Every message type's JSON Schema accepts what the simulator produces and rejects nonsense,
and follows the chain's conventions for data."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from ketenherstel.chain import BUILTIN_CHAIN_PATH, Chain
from ketenherstel.sim import SimEvent, sample_events

SCHEMA_DIR = BUILTIN_CHAIN_PATH.parent / "schemas"
TYPES = sorted(path.name.removesuffix(".json") for path in SCHEMA_DIR.glob("*.json"))
LOWER_CAMEL = re.compile(r"[a-z][a-zA-Z0-9]*")


@pytest.fixture(scope="module")
def samples(chain: Chain) -> dict[str, SimEvent]:
    return sample_events(chain, seed=3)


def load_schema(type_name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMA_DIR / f"{type_name}.json").read_text("utf-8"))
    return loaded


def subschemas(schema: dict[str, Any], path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from subschemas(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from subschemas(schema["items"], f"{path}[]")


def test_there_is_exactly_one_schema_file_per_message_type(chain: Chain) -> None:
    assert sorted(mt.type for mt in chain.message_types) == TYPES


@pytest.mark.parametrize("type_name", TYPES)
def test_the_schema_accepts_the_simulated_sample(
    chain: Chain, samples: dict[str, SimEvent], type_name: str
) -> None:
    assert chain.validate_data(type_name, samples[type_name].event["data"]) == []


@pytest.mark.parametrize("type_name", TYPES)
def test_the_schema_rejects_obviously_bad_data(
    chain: Chain, samples: dict[str, SimEvent], type_name: str
) -> None:
    sample = samples[type_name].event["data"]
    required = load_schema(type_name)["required"]

    empty = chain.validate_data(type_name, {})
    assert {reason for _, reason in empty} >= {
        f"'{key}' is a required property" for key in required
    }

    extra = chain.validate_data(type_name, {**sample, "fullName": "Jan Jansen"})
    assert [path for path, _ in extra] == ["$"]
    assert "fullName" in extra[0][1]

    wrong = chain.validate_data(type_name, {**sample, required[0]: 12345})
    assert [path for path, _ in wrong] == [f"$.{required[0]}"]

    assert chain.validate_data(type_name, "not an object") != []


@pytest.mark.parametrize("type_name", TYPES)
def test_the_schema_follows_the_data_conventions(chain: Chain, type_name: str) -> None:
    schema = load_schema(type_name)
    message_type = chain.message_type(type_name)
    assert message_type is not None
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == message_type.name
    for path, sub in subschemas(schema):
        if sub.get("type") == "object":
            assert sub.get("additionalProperties") is False, path
            assert set(sub.get("required", [])) <= set(sub["properties"]), path
            assert all(LOWER_CAMEL.fullmatch(name) for name in sub["properties"]), path
        if sub.get("type") == "string":
            assert "enum" in sub or "maxLength" in sub, f"{path} has no maxLength"
        if sub.get("type") == "array":
            assert "maxItems" in sub, f"{path} has no maxItems"


@pytest.mark.parametrize("type_name", TYPES)
def test_the_schema_carries_the_moment_of_the_fact(type_name: str) -> None:
    properties = load_schema(type_name)["properties"]
    formats = {sub.get("format") for sub in properties.values()}
    assert formats & {"date-time", "date"}


@pytest.mark.parametrize("type_name", TYPES)
def test_persons_appear_only_as_a_pseudonymous_skn(chain: Chain, type_name: str) -> None:
    schema = load_schema(type_name)
    properties = schema["properties"]
    message_type = chain.message_type(type_name)
    assert message_type is not None
    if "skn" in properties:
        assert properties["skn"]["pattern"] == "^SKN-[0-9]{10}$"
        assert message_type.personal_data
    else:
        assert not message_type.personal_data
    if "parketnummer" in properties:
        assert properties["parketnummer"]["pattern"] == "^[0-9]{2}-[0-9]{6}-[0-9]{2}$"
    forbidden = re.compile(r"(?i)name|birth|address|bsn|phone|email")
    assert not [path for path, _ in subschemas(schema) if forbidden.search(path.split(".")[-1])]
