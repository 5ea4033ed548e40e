"""Checking chain files: every problem is reported, with its line and path, and a broken file
never loads. Each test breaks a copy of the built-in chain (schemas included) in one way."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ketenherstel import documents
from ketenherstel.chain import (
    Chain,
    ChainError,
    ChainFileError,
    ChainProblem,
    check_chain_file,
    load_chain,
)
from ketenherstel.chain._nodes import MAX_DEPTH
from tests.chain.chain_files import (
    HEARING,
    HEARING_BLOCK,
    VERDICT,
    assert_problem,
    at_line,
    edit,
    line_of,
    type_index,
)


def test_an_unbroken_copy_has_no_problems_and_loads(chain_file: Path, chain: Chain) -> None:
    assert check_chain_file(chain_file) == []
    assert load_chain(chain_file) == chain


def test_yaml_syntax_errors_are_reported_at_their_mark(chain_file: Path) -> None:
    line = edit(chain_file, "    name: Politie\n", "    name: Politie: de nationale\n")
    problems = check_chain_file(chain_file)
    assert len(problems) == 1
    assert problems[0].location == f"chain.yaml:{line}:18"
    assert "not valid YAML" in problems[0].message


def test_a_chain_file_nested_too_deeply_is_one_problem_at_its_line(chain_file: Path) -> None:
    """yaml.compose calls itself for each level: 10,000 levels of brackets (20 kB) were a
    RecursionError traceback out of `chain check` and out of every command given --chain."""
    chain_file.write_text("version: " + "[" * 10_000 + "]" * 10_000 + "\n", encoding="utf-8")
    too_deep = (
        f"nested too deeply: more than {MAX_DEPTH} levels of mappings and lists inside one another"
    )
    assert check_chain_file(chain_file) == [
        ChainProblem(location=f"chain.yaml:1:{9 + MAX_DEPTH}", message=too_deep)
    ]
    with pytest.raises(ChainFileError, match="nested too deeply"):
        load_chain(chain_file)


def test_the_chain_reader_nests_as_deep_as_the_documents_reader() -> None:
    assert MAX_DEPTH == documents.MAX_DEPTH


def test_a_number_of_more_digits_than_python_reads_is_a_problem_not_a_traceback(
    chain_file: Path,
) -> None:
    """int() refuses more than 4,300 digits: a process order of 5,000 was a ValueError."""
    arrest = "    name: Aanhouding en ophouden voor onderzoek\n    phase: opsporing\n    order: "
    line = edit(chain_file, f"{arrest}10\n", f"{arrest}{'1' * 5_000}\n") + 2
    problem = assert_problem(check_chain_file(chain_file), line, "is too large a number")
    assert problem.message == "is too large a number (5,000 digits)"


def test_a_missing_key_is_reported_at_its_mapping(chain_file: Path) -> None:
    text = chain_file.read_text(encoding="utf-8")
    line = line_of(text, "    name: Politie\n")
    edit(
        chain_file,
        '    oin: "00000001003214345000"\n    kind: police\n',
        '    oin: "00000001003214345000"\n',
    )
    problem = assert_problem(check_chain_file(chain_file), line, "missing key 'kind'")
    assert problem.location == f"chain.yaml:{line}:5 partners.politie"


def test_an_unknown_key_is_reported_at_the_key(chain_file: Path) -> None:
    line = edit(chain_file, "    name: Politie\n", "    name: Politie\n    colour: blue\n") + 1
    problem = assert_problem(check_chain_file(chain_file), line, "unknown key 'colour'")
    assert problem.location.endswith(" partners.politie.colour")


def test_a_duplicate_key_in_a_mapping_is_reported_with_the_first_line(chain_file: Path) -> None:
    first = edit(chain_file, "    name: Politie\n", "    name: Politie\n    name: Politie bis\n")
    problem = assert_problem(check_chain_file(chain_file), first + 1, "duplicate key 'name'")
    assert f"line {first}" in problem.message


def test_a_duplicate_partner_key_is_reported(chain_file: Path) -> None:
    line = edit(chain_file, "  kmar:\n", "  politie:\n")
    assert_problem(check_chain_file(chain_file), line, "duplicate key 'politie'")


def test_wrong_value_types_are_reported(chain_file: Path) -> None:
    block_line = edit(
        chain_file,
        HEARING_BLOCK,
        HEARING_BLOCK.replace("personal_data: false", 'personal_data: "no"'),
    )
    order_line = (
        edit(
            chain_file,
            "    phase: opsporing\n    order: 10\n",
            "    phase: opsporing\n    order: tien\n",
        )
        + 1
    )
    problems = check_chain_file(chain_file)
    assert_problem(problems, block_line + 5, "expected true or false, got a string")
    assert_problem(problems, order_line, "expected a whole number, got a string")


def test_an_unknown_partner_reference_is_reported_with_its_path(
    chain_file: Path, chain: Chain
) -> None:
    line = edit(chain_file, HEARING_BLOCK, HEARING_BLOCK.replace("[om]", "[om, advocatuur]")) + 4
    problem = assert_problem(check_chain_file(chain_file), line, "unknown partner 'advocatuur'")
    assert (
        problem.location
        == f"chain.yaml:{line}:21 message_types[{type_index(chain, HEARING)}].receivers[1]"
    )


def test_an_unknown_process_reference_is_reported(chain_file: Path) -> None:
    line = edit(chain_file, HEARING_BLOCK, HEARING_BLOCK.replace("zittingsplanning", "zitting")) + 2
    assert_problem(check_chain_file(chain_file), line, "unknown process 'zitting'")


def test_an_unknown_phase_is_reported_with_the_allowed_phases(chain_file: Path) -> None:
    line = edit(
        chain_file, "    phase: opsporing\n    order: 10\n", "    phase: onderzoek\n    order: 10\n"
    )
    problem = assert_problem(check_chain_file(chain_file), line, "unknown phase 'onderzoek'")
    assert "registratie" in problem.message


@pytest.mark.parametrize(
    ("oin", "fragment"),
    [
        ('"0000000100321434500"', "is not 20 digits"),
        ('"0000000100321434500X"', "is not 20 digits"),
        ("00000001003214345000", "put it in quotes"),
    ],
)
def test_a_bad_oin_is_reported(chain_file: Path, oin: str, fragment: str) -> None:
    line = edit(chain_file, '    oin: "00000001003214345000"\n', f"    oin: {oin}\n")
    assert_problem(check_chain_file(chain_file), line, fragment)


def test_a_duplicate_oin_is_reported_naming_the_other_partner(chain_file: Path) -> None:
    line = edit(
        chain_file, '    oin: "00000001003214346000"\n', '    oin: "00000001003214345000"\n'
    )
    problem = assert_problem(check_chain_file(chain_file), line, "already used by 'politie'")
    assert problem.location.endswith("partners.kmar.oin")


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("NL.Strafrechtketen.berechting.zitting-gepland.v1", "must be lowercase"),
        ("nl.strafrechtketen.berechting.zitting-gepland.v1.v2", "more than one version suffix"),
        ("zitting-gepland.v1", "not reverse-DNS"),
    ],
)
def test_a_bad_type_name_is_reported(chain_file: Path, name: str, fragment: str) -> None:
    line = edit(chain_file, HEARING_BLOCK, HEARING_BLOCK.replace(HEARING, name))
    assert_problem(check_chain_file(chain_file), line, fragment)


def test_a_duplicate_type_is_reported_at_the_second_definition(
    chain_file: Path, chain: Chain
) -> None:
    first = line_of(chain_file.read_text(encoding="utf-8"), f"  - type: {HEARING}\n")
    line = edit(chain_file, f"  - type: {VERDICT}\n", f"  - type: {HEARING}\n")
    problem = assert_problem(check_chain_file(chain_file), line, "already defined")
    assert f"line {first}" in problem.message
    assert problem.location.endswith(f"message_types[{type_index(chain, VERDICT)}].type")


def test_a_partner_that_both_sends_and_receives_a_type_is_reported(chain_file: Path) -> None:
    line = edit(chain_file, HEARING_BLOCK, HEARING_BLOCK.replace("[om]", "[om, rechtspraak]")) + 4
    assert_problem(check_chain_file(chain_file), line, "both a sender and a receiver")


def test_a_missing_schema_file_is_reported_at_the_type(chain_file: Path) -> None:
    (chain_file.parent / "schemas" / f"{HEARING}.json").unlink()
    line = line_of(chain_file.read_text(encoding="utf-8"), HEARING_BLOCK)
    assert_problem(check_chain_file(chain_file), line, f"schemas/{HEARING}.json not found")


def test_a_schema_file_that_is_not_json_is_reported_at_its_own_line_and_column(
    chain_file: Path,
) -> None:
    (chain_file.parent / "schemas" / f"{HEARING}.json").write_text(
        '{\n  "type": "object",\n  oops\n}\n', encoding="utf-8"
    )
    problems = check_chain_file(chain_file)
    assert at_line(problems, 3, file=f"schemas/{HEARING}.json")
    assert any(
        p.location == f"schemas/{HEARING}.json:3:3" and "not valid JSON" in p.message
        for p in problems
    )


def test_a_schema_that_is_not_a_valid_json_schema_is_reported(chain_file: Path) -> None:
    path = chain_file.parent / "schemas" / f"{HEARING}.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["properties"]["parketnummer"]["type"] = "strin"
    schema["properties"]["hearingDate"]["maxLength"] = -1
    path.write_text(json.dumps(schema), encoding="utf-8")
    line = line_of(chain_file.read_text(encoding="utf-8"), HEARING_BLOCK)
    problems = check_chain_file(chain_file)
    assert_problem(problems, line, "not a valid JSON Schema at $.properties.parketnummer.type")
    assert_problem(problems, line, "not a valid JSON Schema at $.properties.hearingDate.maxLength")


def test_a_schema_that_refers_outside_itself_is_reported_and_nothing_is_fetched(
    chain_file: Path,
) -> None:
    """No network at run time: a reference to another document makes the schema one that
    cannot be compiled, named at its type, instead of a download."""
    path = chain_file.parent / "schemas" / f"{HEARING}.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["properties"]["parketnummer"] = {"$ref": "https://example.org/parketnummer.json"}
    path.write_text(json.dumps(schema), encoding="utf-8")
    line = line_of(chain_file.read_text(encoding="utf-8"), HEARING_BLOCK)
    problems = check_chain_file(chain_file)
    assert_problem(problems, line, "cannot be compiled")
    assert_problem(problems, line, "https://example.org/parketnummer.json")


def test_a_schema_of_another_draft_is_reported(chain_file: Path) -> None:
    path = chain_file.parent / "schemas" / f"{HEARING}.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    path.write_text(json.dumps(schema), encoding="utf-8")
    line = line_of(chain_file.read_text(encoding="utf-8"), HEARING_BLOCK)
    assert_problem(check_chain_file(chain_file), line, "2020-12")


def test_a_schema_that_gives_a_key_twice_is_reported_at_the_type(chain_file: Path) -> None:
    """json.loads kept the second of two additionalProperties and said nothing: which of the
    two the author meant, the file does not say."""
    path = chain_file.parent / "schemas" / f"{HEARING}.json"
    once = '"additionalProperties": false,'
    text = path.read_text(encoding="utf-8")
    assert once in text
    path.write_text(text.replace(once, '"additionalProperties": true, ' + once, 1), "utf-8")
    line = line_of(chain_file.read_text(encoding="utf-8"), HEARING_BLOCK)
    assert_problem(
        check_chain_file(chain_file),
        line,
        f"schema schemas/{HEARING}.json gives the key 'additionalProperties' twice in one object",
    )


def _nest_in_schema(chain_file: Path, levels: int) -> None:
    """Give the schema of HEARING ``levels`` of objects and arrays inside one another."""
    path = chain_file.parent / "schemas" / f"{HEARING}.json"
    schema = path.read_text(encoding="utf-8").rstrip()
    assert schema.endswith("}")
    inner = levels - 2  # the schema itself, and $defs
    deep = '{"type": "array", "items": ' * (inner - 1) + "{}" + "}" * (inner - 1)
    path.write_text(schema[:-1] + f', "$defs": {{"deep": {deep}}}}}', encoding="utf-8")


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 10_000])
def test_a_schema_file_nested_too_deeply_is_reported_at_the_type(
    chain_file: Path, levels: int
) -> None:
    """json.loads of 10,000 levels, and the JSON Schema check of about 130 (which calls itself
    several times a level), were a RecursionError traceback."""
    _nest_in_schema(chain_file, levels)
    line = line_of(chain_file.read_text(encoding="utf-8"), HEARING_BLOCK)
    assert_problem(
        check_chain_file(chain_file),
        line,
        f"schema schemas/{HEARING}.json is nested too deeply: more than {MAX_DEPTH} levels of "
        "objects and arrays inside one another",
    )


def test_a_schema_file_nested_max_depth_levels_is_checked_as_any_other(chain_file: Path) -> None:
    _nest_in_schema(chain_file, MAX_DEPTH)
    assert check_chain_file(chain_file) == []


@pytest.mark.parametrize(
    ("duration", "fragment"),
    [("P1M", "years or months"), ("9 uur", "not an ISO 8601 duration"), ("P0D", "positive")],
)
def test_a_bad_iso_duration_is_reported(chain_file: Path, duration: str, fragment: str) -> None:
    line = edit(chain_file, "      duration: PT9H\n", f"      duration: {duration}\n")
    problem = assert_problem(check_chain_file(chain_file), line, fragment)
    assert problem.location.endswith("processes.aanhouding.deadline.duration")


def test_a_version_that_is_not_semver_is_reported(chain_file: Path) -> None:
    line = edit(chain_file, 'version: "1.2.0"\n', 'version: "1.0"\n')
    assert_problem(check_chain_file(chain_file), line, "semantic version")


def test_an_empty_file_is_reported(chain_file: Path) -> None:
    chain_file.write_text("# nothing here\n", encoding="utf-8")
    problems = check_chain_file(chain_file)
    assert len(problems) == 1
    assert "empty" in problems[0].message


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    problems = check_chain_file(tmp_path / "chain.yaml")
    assert len(problems) == 1
    assert "cannot read" in problems[0].message


def test_a_file_with_several_problems_reports_all_of_them_in_line_order(
    chain_file: Path,
) -> None:
    lines = [
        edit(chain_file, 'version: "1.2.0"\n', 'version: "one"\n'),
        edit(chain_file, '    oin: "00000001003214346000"\n', '    oin: "123"\n'),
        edit(
            chain_file,
            "    phase: opsporing\n    order: 10\n",
            "    phase: onderzoek\n    order: 10\n",
        ),
        edit(chain_file, "      duration: PT9H\n", "      duration: P1M\n"),
        edit(chain_file, HEARING_BLOCK, HEARING_BLOCK.replace("[om]", "[om, advocatuur]")) + 4,
    ]
    problems = check_chain_file(chain_file)
    assert len(problems) == len(lines)
    reported = [int(re.match(r"chain\.yaml:([0-9]+):", p.location)[1]) for p in problems]  # type: ignore[index]
    assert reported == sorted(lines)


def test_a_broken_file_never_loads(chain_file: Path) -> None:
    edit(chain_file, 'version: "1.2.0"\n', 'version: "one"\n')
    edit(chain_file, HEARING_BLOCK, HEARING_BLOCK.replace("[om]", "[om, rechtspraak]"))
    with pytest.raises(ChainFileError) as caught:
        load_chain(chain_file)
    assert len(caught.value.problems) == 2
    assert isinstance(caught.value, ChainError)
    assert "2 problems" in str(caught.value)
    assert "semantic version" in str(caught.value)


def test_problems_render_as_location_and_message() -> None:
    problem = ChainProblem("chain.yaml:3:5 partners.om", "missing key 'oin'")
    assert str(problem) == "chain.yaml:3:5 partners.om: missing key 'oin'"
