"""The built-in chain model: partners, processes in procedure order, routing, source URNs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from ketenherstel.chain import (
    Chain,
    ChainError,
    ChainLookupError,
    Phase,
    check_type_name,
    compile_validators,
    load_chain,
    parse_iso_duration,
    parse_source_urn,
    source_urn,
)
from ketenherstel.chain._validation import DataValidator

PV = "nl.strafrechtketen.opsporing.proces-verbaal-ingezonden.v1"
VERDICT = "nl.strafrechtketen.berechting.vonnis-gewezen.v1"


def test_built_in_chain_loads_with_a_semantic_version_and_at_least_fifteen_types(
    chain: Chain,
) -> None:
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", chain.version)
    assert len(chain.message_types) >= 15


def test_loading_twice_gives_equal_chains() -> None:
    assert load_chain() == load_chain(None)


def test_every_procedure_phase_and_the_registration_track_have_processes_with_types(
    chain: Chain,
) -> None:
    for phase in Phase:
        processes = [p for p in chain.processes if p.phase is phase]
        assert processes, f"no process in phase {phase}"
        assert any(chain.types_for_process(p.key) for p in processes), phase


def test_registration_runs_beside_the_procedure_not_as_a_fifth_phase() -> None:
    assert Phase.procedure_order() == (
        Phase.OPSPORING,
        Phase.VERVOLGING,
        Phase.BERECHTING,
        Phase.TENUITVOERLEGGING,
    )
    assert Phase.REGISTRATIE not in Phase.procedure_order()
    assert Phase.REGISTRATIE.rank is None
    assert not Phase.REGISTRATIE.in_procedure
    assert "naast alle fasen" in Phase.REGISTRATIE.label
    assert [phase.rank for phase in Phase.procedure_order()] == [0, 1, 2, 3]


def test_processes_in_order_follow_the_procedure_with_the_registration_track_last(
    chain: Chain,
) -> None:
    ordered = chain.processes_in_order()
    assert sorted(ordered, key=lambda p: p.key) == sorted(chain.processes, key=lambda p: p.key)
    ranks = [4 if p.phase.rank is None else p.phase.rank for p in ordered]
    assert ranks == sorted(ranks)
    assert ordered[0].key == "aanhouding"
    assert ordered[-1].phase is Phase.REGISTRATIE


@pytest.mark.parametrize(
    ("process", "duration", "delta", "legal_basis"),
    [
        ("aanhouding", "PT9H", timedelta(hours=9), "art. 56a Sv"),
        ("inverzekeringstelling", "P3D", timedelta(days=3), "art. 58 Sv"),
        ("voorgeleiding", "P3DT18H", timedelta(days=3, hours=18), "art. 59a Sv"),
        ("voorlopige-hechtenis", "P14D", timedelta(days=14), "art. 64 en 66 Sv"),
        ("dagvaarding", "P10D", timedelta(days=10), "art. 265 Sv"),
        ("hoger-beroep", "P14D", timedelta(days=14), "art. 408 Sv"),
    ],
)
def test_processes_carry_the_legal_deadlines_of_the_domain(
    chain: Chain, process: str, duration: str, delta: timedelta, legal_basis: str
) -> None:
    deadline = chain.process(process).deadline
    assert deadline is not None
    assert (deadline.duration, deadline.delta, deadline.legal_basis) == (
        duration,
        delta,
        legal_basis,
    )


def test_processes_without_a_legal_deadline_have_none(chain: Chain) -> None:
    assert chain.process("proces-verbaal").deadline is None


def test_partners_have_unique_fictitious_twenty_digit_oins(chain: Chain) -> None:
    oins = [p.oin for p in chain.partners]
    assert len(set(oins)) == len(oins)
    assert all(re.fullmatch(r"00000001[0-9]{12}", oin) for oin in oins)


def test_the_chain_names_every_partner_of_the_domain(chain: Chain) -> None:
    assert {p.key for p in chain.partners} == {
        "politie",
        "kmar",
        "om",
        "rechtspraak",
        "justid",
        "justis",
        "cjib",
        "dji",
        "reclassering",
        "gemeenten",
        "ind",  # asks the registry, sends no chain messages
        "eu-lidstaten",
    }
    assert chain.partner("om").systems == ("gps", "compas")  # COMPAS: the older one
    assert "jds" in chain.partner("justid").systems
    assert "bvh" in chain.partner("politie").systems


def test_unknown_partner_process_or_type_raises_a_lookup_error(chain: Chain) -> None:
    with pytest.raises(ChainLookupError, match="no partner 'advocatuur'"):
        chain.partner("advocatuur")
    with pytest.raises(ChainLookupError, match="no process"):
        chain.process("nope")
    with pytest.raises(ChainLookupError, match="no message type"):
        chain.receivers_for("nl.example.nope.v1", "om")
    assert issubclass(ChainLookupError, ChainError)
    assert issubclass(ChainLookupError, LookupError)


def test_partner_by_oin_and_by_source(chain: Chain) -> None:
    politie = chain.partner("politie")
    assert chain.partner_by_oin(politie.oin) == politie
    assert chain.partner_by_oin("99999999999999999999") is None
    assert chain.partner_by_source(source_urn(politie)) == politie
    assert chain.partner_by_source(f"urn:nld:oin:{politie.oin}:systeem:gps") is None
    assert chain.partner_by_source("not-a-urn") is None


def test_receivers_for_never_include_the_sender(chain: Chain) -> None:
    assert chain.receivers_for(PV, "politie") == ("om",)
    for mt in chain.message_types:
        for sender in mt.senders:
            receivers = chain.receivers_for(mt.type, sender)
            assert receivers
            assert sender not in receivers


def test_may_send_only_for_the_types_senders(chain: Chain) -> None:
    assert chain.may_send("politie", PV)
    assert chain.may_send("kmar", PV)
    assert not chain.may_send("om", PV)
    assert not chain.may_send("politie", "nl.example.unknown.v1")


def test_the_om_sends_judicial_data_to_the_jds(chain: Chain) -> None:
    registrations = [
        mt
        for mt in chain.message_types
        if chain.process(mt.process).phase is Phase.REGISTRATIE and "om" in mt.senders
    ]
    assert registrations
    assert all(mt.receivers == ("justid",) for mt in registrations)


def test_type_names_are_reverse_dns_after_the_domain_phase_of_their_process(
    chain: Chain,
) -> None:
    for mt in chain.message_types:
        assert check_type_name(mt.type) is None
        prefix, phase, _name, version = mt.type.rsplit(".", 3)
        assert prefix == "nl.strafrechtketen"
        assert phase == chain.process(mt.process).phase.value
        assert re.fullmatch(r"v[0-9]+", version)


def test_source_urn_uses_the_partners_oin_and_system(chain: Chain) -> None:
    justid = chain.partner("justid")
    assert source_urn(justid) == f"urn:nld:oin:{justid.oin}:systeem:jds"
    assert source_urn(justid, "skdb") == f"urn:nld:oin:{justid.oin}:systeem:skdb"
    with pytest.raises(ChainLookupError, match="no system 'gps'"):
        source_urn(justid, "gps")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("urn:nld:oin:00000001003214345000:systeem:bvh", ("00000001003214345000", "bvh")),
        ("urn:nld:oin:00000001003214345000:systeem:a", ("00000001003214345000", "a")),
        ("urn:nld:oin:00000001003214345000:systeem:9-x-1", ("00000001003214345000", "9-x-1")),
        (
            "urn:nld:oin:00000001003214345000:systeem:" + "a" * 63,
            ("00000001003214345000", "a" * 63),
        ),
    ],
)
def test_parse_source_urn_accepts_an_oin_and_a_system(text: str, expected: tuple[str, str]) -> None:
    assert parse_source_urn(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "urn:nld:oin:0000000100321434500:systeem:bvh",  # 19 digits
        "urn:nld:oin:000000010032143450001:systeem:bvh",  # 21 digits
        "urn:nld:oin:0000000100321434500X:systeem:bvh",
        "urn:nld:oin:00000001003214345000:systeem:BVH",
        "urn:nld:oin:00000001003214345000:systeem:-bvh",
        "urn:nld:oin:00000001003214345000:systeem:" + "a" * 64,
        "urn:nld:oin:00000001003214345000:systeem:",
        "urn:nld:oin:00000001003214345000:systeem:bvh\n",
        "urn:nld:oin:00000001003214345000:systeem:bvh:extra",
        "urn:nld:oin:00000001003214345000:system:bvh",
        "urn:nl:oin:00000001003214345000:systeem:bvh",
        " urn:nld:oin:00000001003214345000:systeem:bvh",
    ],
)
def test_parse_source_urn_rejects_anything_else(text: str) -> None:
    assert parse_source_urn(text) is None


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("P3D", timedelta(days=3)),
        ("PT9H", timedelta(hours=9)),
        ("P3DT18H", timedelta(days=3, hours=18)),
        ("P2W", timedelta(weeks=2)),
        ("PT1H30M15S", timedelta(hours=1, minutes=30, seconds=15)),
    ],
)
def test_iso_durations_in_weeks_days_and_time_parse(text: str, delta: timedelta) -> None:
    assert parse_iso_duration(text) == delta


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("P1M", "years or months"),
        ("P1Y2D", "years or months"),
        ("3 dagen", "not an ISO 8601 duration"),
        ("P", "not an ISO 8601 duration"),
        ("PT", "not an ISO 8601 duration"),
        ("P3DT", "not an ISO 8601 duration"),
        ("p3d", "not an ISO 8601 duration"),
        ("P0D", "not a positive duration"),
    ],
)
def test_iso_durations_without_a_fixed_positive_length_are_refused(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_iso_duration(text)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("nl.strafrechtketen.vervolging.sepot-beslist.v1", None),
        ("nl.strafrechtketen.vervolging.sepot-beslist", None),
        ("NL.strafrechtketen.vervolging.sepot-beslist.v1", "lowercase"),
        ("nl.strafrechtketen.vervolging.sepot-beslist.v1.v2", "more than one version"),
        ("nl.strafrechtketen.v1.sepot-beslist", "in the middle"),
        ("sepot-beslist.v1", "not reverse-DNS"),
        ("nl.strafrechtketen.-sepot.v1", "invalid label"),
        ("nl..sepot.v1", "invalid label"),
        ("nl.strafrechtketen/../x.v1", "invalid label"),
    ],
)
def test_type_names_are_checked_for_reverse_dns_and_one_version_suffix(
    name: str, reason: str | None
) -> None:
    found = check_type_name(name)
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found


def test_compile_validators_gives_a_validator_per_type(chain: Chain) -> None:
    validators = compile_validators(chain)
    assert set(validators) == {mt.type for mt in chain.message_types}
    assert all(callable(v) for v in validators.values())


def test_validate_data_lists_every_problem_with_its_json_path(chain: Chain) -> None:
    data = {
        "policeCaseNumber": "PL1300-2025000001",
        "parketnummer": "13-12345-25",
        "completedAt": "yesterday",
        "offences": [{"article": "art. 310 Sr", "category": "moord"}],
        "suspectDetained": "no",
        "shoeSize": 44,
    }
    problems = chain.validate_data(PV, data)
    paths = [path for path, _ in problems]
    assert "$.parketnummer" in paths
    assert "$.offences[0].category" in paths
    assert "$.suspectDetained" in paths
    assert "$.completedAt" in paths
    assert any("skn" in reason for path, reason in problems if path == "$")
    assert any("shoeSize" in reason for path, reason in problems if path == "$")
    assert all(reason for _, reason in problems)


def test_validate_data_accepts_valid_data_and_rejects_non_objects(chain: Chain) -> None:
    good = {
        "parketnummer": "13-123456-25",
        "skn": "SKN-0000000001",
        "court": "rechtbank-amsterdam",
        "judgmentDate": "2025-07-17",
        "verdict": "vrijspraak",
        "sanctions": [],
    }
    assert chain.validate_data(VERDICT, good) == []
    assert chain.validate_data(VERDICT, [good]) != []
    assert chain.validate_data(VERDICT, {**good, "judgmentDate": "2025-02-30"}) == [
        ("$.judgmentDate", "'2025-02-30' is not a 'date'")
    ]


def test_validate_data_names_what_only_the_fast_path_refuses() -> None:
    """A pattern ends at the end of the text: jsonschema's own check lets a trailing newline
    through (Python's ``$``), the compiled validator does not; its finding is the reason."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}$"}},
    }
    validator = DataValidator({"t": schema})
    assert validator.validate("t", {"code": "ABC"}) == []
    problems = validator.validate("t", {"code": "ABC\n"})
    assert [path for path, _ in problems] == ["$.code"]
    assert "ABC" in problems[0][1]


def test_validate_data_of_something_that_is_not_json_is_a_problem_not_a_crash(
    chain: Chain,
) -> None:
    problems = chain.validate_data(VERDICT, {1: "a key that is not a string"})
    assert problems and all(reason for _, reason in problems)


def test_validate_data_of_an_unknown_type_raises(chain: Chain) -> None:
    with pytest.raises(ChainLookupError):
        chain.validate_data("nl.example.unknown.v1", {})
