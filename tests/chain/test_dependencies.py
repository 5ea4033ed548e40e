"""Type dependencies: a type names the types whose fact must be recorded before it can be applied
consistently ("a conviction only after the arrest and the case"). The loader refuses unknown
types, self-dependencies, dependencies on a later process of the same track and cycles."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ketenherstel.chain import (
    Chain,
    ChainFileError,
    ChainLookupError,
    check_chain_file,
    load_chain,
)
from ketenherstel.sim import COVERAGE_PROFILE, generate_events
from tests.chain.chain_files import HEARING, VERDICT, assert_problem, type_index

_P = "nl.strafrechtketen."
ARREST = _P + "opsporing.aanhouding-geregistreerd.v1"
REPORT = _P + "opsporing.proces-verbaal-ingezonden.v1"
DETENTION_REQUESTED = _P + "vervolging.voorlopige-hechtenis-gevorderd.v1"
DETENTION_DECIDED = _P + "vervolging.voorlopige-hechtenis-beslist.v1"
SUMMONS = _P + "vervolging.dagvaarding-uitgebracht.v1"
CUSTODIAL_ASSIGNED = _P + "tenuitvoerlegging.vrijheidsbeneming-opgedragen.v1"
COMMUNITY_SERVICE_ASSIGNED = _P + "tenuitvoerlegging.taakstraf-opgedragen.v1"
ARREST_ASSIGNED = _P + "tenuitvoerlegging.aanhouding-opgedragen.v1"
DECISION_REGISTERED = _P + "registratie.om-afdoening-geregistreerd.v1"
JUDGMENT_REGISTERED = _P + "registratie.uitspraak-geregistreerd.v1"
EXECUTION_REGISTERED = _P + "registratie.tenuitvoerlegging-geregistreerd.v1"
EMERGENCY_REPORT = _P + "registratie.spoedmelding-zwaar-delict.v1"
SCREENING = _P + "registratie.screeningsantwoord-verstrekt.v1"
MUNICIPAL = _P + "registratie.justitiele-inlichtingen-verstrekt.v1"
FOREIGN_CONVICTION = _P + "registratie.ecris-buitenlandse-veroordeling-ontvangen.v1"
ECRIS_REQUEST = _P + "registratie.ecris-verzoek-ingediend.v1"
START = datetime(2025, 6, 1, tzinfo=UTC)


def add_dependency(chain_file: Path, type_name: str, dependency: str) -> int:
    """Add ``dependency`` to the ``depends_on`` of ``type_name``; the line of the new entry."""
    lines = chain_file.read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines.index(f"  - type: {type_name}\n")
    end = next(
        (i for i in range(start + 1, len(lines)) if not lines[i].startswith("    ")), len(lines)
    )
    entry = f"      - {dependency}\n"
    if "    depends_on:\n" in lines[start:end]:
        at = lines.index("    depends_on:\n", start) + 1
        lines.insert(at, entry)
    else:
        at = end + 1
        lines[end:end] = ["    depends_on:\n", entry]
    chain_file.write_text("".join(lines), encoding="utf-8")
    return at + 1


def direct(chain: Chain, type_name: str) -> tuple[str, ...]:
    """The ``depends_on`` of ``type_name`` as written."""
    message_type = chain.message_type(type_name)
    assert message_type is not None, type_name
    return message_type.depends_on


# --- the built-in chain ------------------------------------------------------------------------


def test_a_conviction_depends_on_the_arrest_the_case_and_the_summons(chain: Chain) -> None:
    closure = chain.dependencies_of(VERDICT)
    assert {ARREST, REPORT, SUMMONS, HEARING} <= set(closure)
    assert list(closure) == sorted(closure)


def test_judgments_in_jds_follow_the_om_decision_and_executions_follow_both(chain: Chain) -> None:
    assert direct(chain, JUDGMENT_REGISTERED) == (DECISION_REGISTERED,)
    assert chain.dependencies_of(EXECUTION_REGISTERED) == (
        DECISION_REGISTERED,
        JUDGMENT_REGISTERED,
    )
    assert chain.dependencies_of(DECISION_REGISTERED) == ()


def test_the_closure_is_the_direct_dependencies_and_their_closures(chain: Chain) -> None:
    for mt in chain.message_types:
        expected = set(mt.depends_on)
        for dependency in mt.depends_on:
            expected |= set(chain.dependencies_of(dependency))
        assert chain.dependencies_of(mt.type) == tuple(sorted(expected)), mt.type
        assert mt.type not in expected, f"{mt.type} depends on itself"


def test_dependencies_of_an_unknown_type_is_a_lookup_error(chain: Chain) -> None:
    with pytest.raises(ChainLookupError, match="no message type"):
        chain.dependencies_of(_P + "onbekend.v1")


def rewired(chain: Chain, edges: dict[str, tuple[str, ...]]) -> Chain:
    types = tuple(
        dataclasses.replace(mt, depends_on=edges[mt.type]) if mt.type in edges else mt
        for mt in chain.message_types
    )
    return dataclasses.replace(chain, message_types=types)


def test_the_closure_follows_every_path_once_and_is_sorted(chain: Chain) -> None:
    diamond = rewired(
        chain,
        {
            SCREENING: (MUNICIPAL, FOREIGN_CONVICTION),
            MUNICIPAL: (ECRIS_REQUEST,),
            FOREIGN_CONVICTION: (ECRIS_REQUEST,),
        },
    )
    assert diamond.dependencies_of(SCREENING) == tuple(
        sorted((MUNICIPAL, FOREIGN_CONVICTION, ECRIS_REQUEST))
    )
    assert diamond.dependencies_of(ECRIS_REQUEST) == ()


def test_a_chain_built_by_hand_with_a_cycle_still_answers_without_the_type_itself(
    chain: Chain,
) -> None:
    looped = rewired(chain, {SCREENING: (MUNICIPAL,), MUNICIPAL: (SCREENING,)})
    assert looped.dependencies_of(SCREENING) == (MUNICIPAL,)


def correlation(
    chain: Chain, type_name: str, dependency: str, event: dict[str, Any]
) -> tuple[Any, ...]:
    """What ties an event to its dependency's events: the case (partition key) and the key
    fields both types share (a request id, a judgment date)."""
    shared = sorted(
        set(chain.business_key_fields(type_name)) & set(chain.business_key_fields(dependency))
    )
    return (event["partitionkey"], *(event["data"][name] for name in shared))


def test_in_simulated_cases_a_dependency_always_comes_first(chain: Chain) -> None:
    """Where a case has both facts, the dependency's comes first (the simulator emits each case
    in the order of its facts), and every declared dependency is seen at least once."""
    checked: Counter[tuple[str, str]] = Counter()
    for seed in (1, 2, 3, 4, 5):
        events = [
            sim.event
            for sim in generate_events(
                chain, seed=seed, cases=300, start=START, profile=COVERAGE_PROFILE
            )
        ]
        at: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        for position, event in enumerate(events):
            at[(event["type"], event["partitionkey"])].append((position, event))
        for position, event in enumerate(events):
            for dependency in direct(chain, event["type"]):
                tie = correlation(chain, event["type"], dependency, event)
                for earlier, other in at[(dependency, event["partitionkey"])]:
                    if correlation(chain, event["type"], dependency, other) != tie:
                        continue
                    checked[(event["type"], dependency)] += 1
                    assert earlier < position, (
                        f"{dependency} came after {event['type']} in case {event['subject']}"
                    )
    declared = {(mt.type, d) for mt in chain.message_types for d in mt.depends_on}
    assert declared <= set(checked), f"never seen together: {sorted(declared - set(checked))}"


# --- the loader refuses bad dependencies -------------------------------------------------------


def test_an_empty_or_missing_depends_on_means_no_dependencies(chain_file: Path) -> None:
    text = chain_file.read_text(encoding="utf-8")
    block = f"  - type: {ECRIS_REQUEST}\n"
    chain_file.write_text(text.replace(block, block + "    depends_on: []\n"), encoding="utf-8")
    loaded = load_chain(chain_file)
    assert direct(loaded, ECRIS_REQUEST) == ()
    assert direct(loaded, SCREENING) == ()


def test_an_unknown_type_is_reported_at_its_entry(chain_file: Path, chain: Chain) -> None:
    unknown = _P + "berechting.onbekend.v1"
    line = add_dependency(chain_file, HEARING, unknown)
    problem = assert_problem(
        check_chain_file(chain_file), line, f"unknown message type {unknown!r}"
    )
    assert (
        problem.location
        == f"chain.yaml:{line}:9 message_types[{type_index(chain, HEARING)}].depends_on[0]"
    )


def test_a_type_that_depends_on_itself_is_reported(chain_file: Path) -> None:
    line = add_dependency(chain_file, HEARING, HEARING)
    assert_problem(check_chain_file(chain_file), line, "cannot depend on itself")


def test_a_repeated_dependency_is_reported(chain_file: Path) -> None:
    add_dependency(chain_file, HEARING, SUMMONS)
    line = add_dependency(chain_file, HEARING, REPORT)
    assert_problem(check_chain_file(chain_file), line + 2, f"{SUMMONS!r} is listed twice")


def test_a_depends_on_that_is_no_list_is_reported(chain_file: Path) -> None:
    text = chain_file.read_text(encoding="utf-8")
    block = f"  - type: {ECRIS_REQUEST}\n"
    chain_file.write_text(
        text.replace(block, block + f"    depends_on: {SCREENING}\n"), encoding="utf-8"
    )
    line = text[: text.index(block)].count("\n") + 2
    assert_problem(check_chain_file(chain_file), line, "expected a list, got a string")


def test_a_dependency_on_a_later_procedure_process_is_reported(chain_file: Path) -> None:
    line = add_dependency(chain_file, SUMMONS, HEARING)
    problem = assert_problem(check_chain_file(chain_file), line, "comes after this type's process")
    assert "'zittingsplanning' (berechting, order 90)" in problem.message
    assert "'dagvaarding' (vervolging, order 70) in the procedure" in problem.message


def test_a_dependency_on_a_later_registration_process_is_reported(chain_file: Path) -> None:
    line = add_dependency(chain_file, DECISION_REGISTERED, ECRIS_REQUEST)
    problem = assert_problem(check_chain_file(chain_file), line, "comes after this type's process")
    assert "in the registration track" in problem.message


def test_dependencies_across_the_two_tracks_and_within_a_process_are_allowed(
    chain_file: Path,
) -> None:
    add_dependency(chain_file, EMERGENCY_REPORT, VERDICT)  # registratie 20 on berechting 100
    add_dependency(chain_file, DETENTION_DECIDED, DETENTION_REQUESTED)  # one process
    assert check_chain_file(chain_file) == []
    loaded = load_chain(chain_file)
    assert {VERDICT, ARREST, SUMMONS} <= set(loaded.dependencies_of(EMERGENCY_REPORT))


def test_a_cycle_is_reported_once_with_its_path(chain_file: Path) -> None:
    add_dependency(chain_file, DETENTION_REQUESTED, DETENTION_DECIDED)
    line = add_dependency(chain_file, DETENTION_DECIDED, DETENTION_REQUESTED)
    problems = [p for p in check_chain_file(chain_file) if "cycle" in p.message]
    assert len(problems) == 1, problems
    assert problems[0].location.startswith(f"chain.yaml:{line}:")
    cycle = f"{DETENTION_REQUESTED} → {DETENTION_DECIDED} → {DETENTION_REQUESTED}"
    assert f"dependency cycle: {cycle}" in problems[0].message


def test_a_longer_cycle_names_every_type_on_it_and_never_loads(chain_file: Path) -> None:
    add_dependency(chain_file, CUSTODIAL_ASSIGNED, COMMUNITY_SERVICE_ASSIGNED)
    add_dependency(chain_file, COMMUNITY_SERVICE_ASSIGNED, ARREST_ASSIGNED)
    add_dependency(chain_file, ARREST_ASSIGNED, CUSTODIAL_ASSIGNED)
    problems = [p for p in check_chain_file(chain_file) if "cycle" in p.message]
    assert len(problems) == 1, problems
    path = re.search(r"dependency cycle: (.*?);", problems[0].message)
    assert path is not None
    names = path[1].split(" → ")
    assert len(names) == 4 and names[0] == names[-1]
    assert set(names) == {CUSTODIAL_ASSIGNED, COMMUNITY_SERVICE_ASSIGNED, ARREST_ASSIGNED}
    with pytest.raises(ChainFileError, match="dependency cycle"):
        load_chain(chain_file)
