"""Business keys: each message type names the data fields that, with the type, identify one fact,
so a re-send under a new id or a paper record entered later is recognised as the same fact."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ketenherstel.chain import (
    Chain,
    ChainFileError,
    ChainLookupError,
    check_chain_file,
    load_chain,
)
from ketenherstel.sim import (
    COVERAGE_PROFILE,
    DEFAULT_PROFILE,
    SimProfile,
    generate_events,
    sample_events,
)
from tests.chain.chain_files import (
    HEARING,
    HEARING_BLOCK,
    assert_problem,
    edit,
    line_of,
    type_index,
)

DETENTION = "nl.strafrechtketen.vervolging.voorlopige-hechtenis-beslist.v1"
SCREENING = "nl.strafrechtketen.registratie.screeningsantwoord-verstrekt.v1"
HEARING_KEY_LINE = "    business_key: [parketnummer, hearingDate]\n"
HEARING_WITH_KEY = HEARING_BLOCK + HEARING_KEY_LINE
KEY_LINE = 7  # the business_key line within HEARING_WITH_KEY
START = datetime(2025, 6, 1, tzinfo=UTC)


# --- the built-in chain ------------------------------------------------------------------------


def test_every_type_has_a_key_of_required_string_or_integer_fields(chain: Chain) -> None:
    for mt in chain.message_types:
        assert mt.business_key, mt.type
        assert chain.business_key_fields(mt.type) == mt.business_key
        for name in mt.business_key:
            assert name in mt.schema["required"], (mt.type, name)
            assert mt.schema["properties"][name]["type"] in ("string", "integer"), (mt.type, name)


def test_a_key_starts_with_the_case_number_where_the_type_has_one(chain: Chain) -> None:
    """Manual (paper) records fill the first key field from their case column."""
    for mt in chain.message_types:
        if "parketnummer" in mt.schema["required"]:
            assert mt.business_key[0] == "parketnummer", mt.type


def test_a_key_is_the_type_and_the_field_values_in_key_order(chain: Chain) -> None:
    data = {
        "skn": "SKN-0000000001",
        "decision": "bevolen",
        "measure": "bewaring",
        "parketnummer": "13-100001-25",
    }
    assert chain.business_key_fields(DETENTION) == ("parketnummer", "measure", "decision")
    assert chain.business_key(DETENTION, data) == f"{DETENTION}|13-100001-25|bewaring|bevolen"


def test_key_values_are_taken_as_given(chain: Chain) -> None:
    assert chain.business_key(SCREENING, {"screeningId": " SCR-1 "}) == f"{SCREENING}| SCR-1 "
    assert chain.business_key(SCREENING, {"screeningId": 42}) == f"{SCREENING}|42"


@pytest.mark.parametrize(
    "data",
    [
        {"parketnummer": "13-100001-25", "measure": "bewaring"},
        {"parketnummer": "13-100001-25", "measure": "bewaring", "decision": None},
        {},
    ],
)
def test_no_key_when_a_key_field_is_missing_or_none(chain: Chain, data: dict[str, object]) -> None:
    assert chain.business_key(DETENTION, data) is None


def test_no_key_for_an_unknown_type_and_a_lookup_error_for_its_fields(chain: Chain) -> None:
    assert chain.business_key("nl.strafrechtketen.onbekend.v1", {"parketnummer": "x"}) is None
    with pytest.raises(ChainLookupError, match="no message type"):
        chain.business_key_fields("nl.strafrechtketen.onbekend.v1")


def test_a_paper_record_with_only_the_key_fields_gets_the_key_of_the_digital_message(
    chain: Chain,
) -> None:
    for type_name, sample in sample_events(chain).items():
        data = sample.event["data"]
        record = {name: data[name] for name in chain.business_key_fields(type_name)}
        key = chain.business_key(type_name, data)
        assert key is not None
        assert chain.business_key(type_name, record) == key


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
@pytest.mark.parametrize(
    "profile", [DEFAULT_PROFILE, COVERAGE_PROFILE], ids=["default", "coverage"]
)
def test_every_simulated_event_has_a_key_and_no_two_events_share_one(
    chain: Chain, seed: int, profile: SimProfile
) -> None:
    first: dict[str, dict[str, object]] = {}
    for sim in generate_events(chain, seed=seed, cases=300, start=START, profile=profile):
        key = chain.business_key(sim.type, sim.event["data"])
        assert key is not None, sim.event
        assert key not in first, f"{key} is both\n  {first[key]}\nand\n  {sim.event}"
        first[key] = sim.event
    assert len(first) > 1000


# --- the loader refuses bad keys ---------------------------------------------------------------


def hearing_key(chain_file: Path, key_line: str) -> int:
    """Give the hearing type ``key_line`` instead of its key; the line it is on."""
    return edit(chain_file, HEARING_WITH_KEY, HEARING_BLOCK + key_line) + KEY_LINE - 1


def test_a_missing_business_key_is_reported_at_the_type(chain_file: Path) -> None:
    line = hearing_key(chain_file, "")
    assert_problem(check_chain_file(chain_file), line - KEY_LINE + 1, "missing key 'business_key'")


def test_an_empty_business_key_is_reported(chain_file: Path, chain: Chain) -> None:
    line = hearing_key(chain_file, "    business_key: []\n")
    problem = assert_problem(check_chain_file(chain_file), line, "at least one entry")
    assert problem.location.endswith(f"message_types[{type_index(chain, HEARING)}].business_key")


def test_a_business_key_that_is_no_list_is_reported(chain_file: Path) -> None:
    line = hearing_key(chain_file, "    business_key: parketnummer\n")
    assert_problem(check_chain_file(chain_file), line, "expected a list, got a string")


def test_an_unknown_field_is_reported_at_the_field(chain_file: Path, chain: Chain) -> None:
    key_line = "    business_key: [parketnummer, zaaknummer]\n"
    line = hearing_key(chain_file, key_line)
    problem = assert_problem(check_chain_file(chain_file), line, "unknown field 'zaaknummer'")
    column = key_line.index("zaaknummer") + 1
    index = type_index(chain, HEARING)
    assert problem.location == f"chain.yaml:{line}:{column} message_types[{index}].business_key[1]"
    assert f"schemas/{HEARING}.json" in problem.message


def test_a_field_the_schema_does_not_require_is_reported(chain_file: Path) -> None:
    schema_path = chain_file.parent / "schemas" / f"{HEARING}.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    schema["required"].remove("hearingDate")
    schema_path.write_text(json.dumps(schema), encoding="utf-8")
    line = line_of(chain_file.read_text(encoding="utf-8"), HEARING_WITH_KEY) + KEY_LINE - 1
    assert_problem(check_chain_file(chain_file), line, "'hearingDate' is not required")


def test_a_duplicate_field_is_reported(chain_file: Path) -> None:
    line = hearing_key(chain_file, "    business_key: [parketnummer, parketnummer]\n")
    assert_problem(check_chain_file(chain_file), line, "'parketnummer' is listed twice")


def test_a_field_that_is_not_a_string_or_integer_is_reported(chain_file: Path) -> None:
    line = hearing_key(chain_file, "    business_key: [parketnummer, suspectDetained]\n")
    assert_problem(
        check_chain_file(chain_file), line, "'suspectDetained' is not a string or an integer"
    )


def test_a_chain_with_a_bad_key_never_loads(chain_file: Path) -> None:
    hearing_key(chain_file, "    business_key: [zaaknummer]\n")
    with pytest.raises(ChainFileError, match="unknown field 'zaaknummer'"):
        load_chain(chain_file)
