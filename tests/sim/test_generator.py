"""The simulator: deterministic CloudEvents that follow the NL GOV profile, carry valid data,
keep each sender's sequence gap-free and let every case run in criminal-procedure order."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from cloudevents.core.formats.json import JSONFormat

from ketenherstel.chain import Chain, Phase, parse_source_urn
from ketenherstel.sim import (
    DEFAULT_PROFILE,
    SimChainError,
    SimConfigError,
    SimEvent,
    SimProfile,
    generate_events,
    sample_events,
)

START = datetime(2025, 7, 1, 8, 0, tzinfo=UTC)
PARKET = re.compile(r"[0-9]{2}-[0-9]{6}-[0-9]{2}")
SKN = re.compile(r"SKN-[0-9]{10}")
RFC3339_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
ATTRIBUTES = {
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "partitionkey",
    "sequence",
    "sequencetype",
    "data",
}
_P = "nl.strafrechtketen."
REPORT = _P + "opsporing.proces-verbaal-ingezonden.v1"
SUMMONS = _P + "vervolging.dagvaarding-uitgebracht.v1"
JUDGMENT = _P + "berechting.vonnis-gewezen.v1"
DECISIONS = {
    _P + "vervolging.dagvaarding-uitgebracht.v1": "dagvaarding",
    _P + "vervolging.strafbeschikking-opgelegd.v1": "strafbeschikking",
    _P + "vervolging.transactie-aangeboden.v1": "transactie",
    _P + "vervolging.sepot-beslist.v1": "sepot",
}
CASES_ONLY = dataclasses.replace(
    DEFAULT_PROFILE,
    screenings_per_day=0,
    municipal_requests_per_day=0,
    ecris_requests_per_day=0,
    foreign_convictions_per_day=0,
)


@pytest.fixture(scope="module")
def events(chain: Chain) -> list[SimEvent]:
    return list(generate_events(chain, seed=11, cases=400, start=START))


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def by_case(events: list[SimEvent]) -> dict[str, list[SimEvent]]:
    cases: dict[str, list[SimEvent]] = defaultdict(list)
    for sim_event in events:
        if PARKET.fullmatch(sim_event.subject):
            cases[sim_event.subject].append(sim_event)
    return cases


def test_the_same_seed_gives_the_same_events(chain: Chain, events: list[SimEvent]) -> None:
    again = list(generate_events(chain, seed=11, cases=400, start=START))
    assert again == events


def test_another_seed_gives_other_events(chain: Chain, events: list[SimEvent]) -> None:
    other = list(generate_events(chain, seed=12, cases=400, start=START))
    assert [e.event["id"] for e in other[:50]] != [e.event["id"] for e in events[:50]]


def test_every_event_is_a_structured_cloudevent_of_the_nl_gov_profile(
    events: list[SimEvent],
) -> None:
    for sim_event in events:
        event = sim_event.event
        assert set(event) == ATTRIBUTES
        assert event["specversion"] == "1.0"
        assert event["datacontenttype"] == "application/json"
        assert event["sequencetype"] == "Integer"
        assert event["partitionkey"] == event["subject"]
        assert RFC3339_UTC.fullmatch(event["time"])
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", event["id"]
        )


def test_the_cloudevents_sdk_reads_the_events(events: list[SimEvent]) -> None:
    json_format = JSONFormat()
    for sim_event in events[:300]:
        read = json_format.read(None, orjson.dumps(sim_event.event))
        assert read.get_id() == sim_event.event["id"]
        assert read.get_type() == sim_event.type
        assert read.get_extension("partitionkey") == sim_event.subject


def test_every_events_data_is_valid_against_its_types_schema(
    chain: Chain, events: list[SimEvent]
) -> None:
    invalid = {
        e.event["id"]: problems
        for e in events
        if (problems := chain.validate_data(e.type, e.event["data"]))
    }
    assert invalid == {}


def test_each_senders_sequence_is_gap_free_from_one(events: list[SimEvent]) -> None:
    sequences: dict[str, list[int]] = defaultdict(list)
    for sim_event in events:
        sequences[sim_event.sender].append(int(sim_event.event["sequence"]))
    assert len(sequences) >= 8
    for sender, numbers in sequences.items():
        assert numbers == list(range(1, len(numbers) + 1)), sender


def test_ids_are_unique_per_source(events: list[SimEvent]) -> None:
    keys = Counter((e.event["source"], e.event["id"]) for e in events)
    assert keys.most_common(1)[0][1] == 1


def test_every_sender_may_send_its_type(chain: Chain, events: list[SimEvent]) -> None:
    assert all(chain.may_send(e.sender, e.type) for e in events)


def test_the_source_urn_names_the_senders_oin_and_one_of_its_systems(
    chain: Chain, events: list[SimEvent]
) -> None:
    for sim_event in events:
        parsed = parse_source_urn(sim_event.event["source"])
        assert parsed is not None
        partner = chain.partner(sim_event.sender)
        assert parsed[0] == partner.oin
        assert parsed[1] in partner.systems


def test_events_come_out_in_time_order(events: list[SimEvent]) -> None:
    times = [parse_time(e.event["time"]) for e in events]
    assert times == sorted(times)
    assert times[0] >= START


def test_subjects_are_pseudonymous_case_or_person_keys(events: list[SimEvent]) -> None:
    for sim_event in events:
        assert PARKET.fullmatch(sim_event.subject) or SKN.fullmatch(sim_event.subject)
        data = sim_event.event["data"]
        if "skn" in data:
            assert SKN.fullmatch(data["skn"])
        if PARKET.fullmatch(sim_event.subject) and "parketnummer" in data:
            assert data["parketnummer"] == sim_event.subject


def test_case_events_follow_the_criminal_procedure_order(
    chain: Chain, events: list[SimEvent]
) -> None:
    cases = by_case(events)
    assert len(cases) == 400
    for parket, case in cases.items():
        ranks = [
            rank
            for e in case
            if (rank := chain.process(chain.message_type(e.type).process).phase.rank)  # type: ignore[union-attr]
            is not None
        ]
        assert ranks == sorted(ranks), parket
        types = [e.type for e in case]
        assert REPORT in types, parket
        decisions = [t for t in types if t in DECISIONS]
        assert len(decisions) == 1, parket
        assert types.index(REPORT) < types.index(decisions[0])
        if JUDGMENT in types:
            assert types.index(SUMMONS) < types.index(JUDGMENT)


def test_registrations_follow_the_facts_they_register(events: list[SimEvent]) -> None:
    registered_after = {
        _P + "registratie.om-afdoening-geregistreerd.v1": set(DECISIONS),
        _P + "registratie.uitspraak-geregistreerd.v1": {JUDGMENT},
        _P + "registratie.ecris-veroordeling-genotificeerd.v1": {JUDGMENT},
    }
    for parket, case in by_case(events).items():
        seen: set[str] = set()
        for sim_event in case:
            required = registered_after.get(sim_event.type)
            if required is not None:
                assert seen & required, f"{parket}: {sim_event.type} before its fact"
                # a conviction is only registered after the arrest or report was recorded
                assert REPORT in seen
            seen.add(sim_event.type)


def test_the_time_inside_data_never_follows_the_envelope_time(events: list[SimEvent]) -> None:
    fact_keys = ("decidedAt", "completedAt", "issuedAt", "answeredAt", "notifiedAt", "filedAt")
    for sim_event in events:
        logged = parse_time(sim_event.event["time"])
        for key in fact_keys:
            if key in sim_event.event["data"]:
                assert parse_time(sim_event.event["data"][key]) <= logged, sim_event.type


def test_om_decisions_follow_the_domains_proportions(chain: Chain) -> None:
    events = list(generate_events(chain, seed=5, cases=3000, start=START, profile=CASES_ONLY))
    decisions = Counter(DECISIONS[e.type] for e in events if e.type in DECISIONS)
    total = sum(decisions.values())
    assert total == 3000
    assert 0.45 < decisions["dagvaarding"] / total < 0.62
    assert 0.18 < decisions["sepot"] / total < 0.32
    assert 0.13 < decisions["strafbeschikking"] / total < 0.23
    custody = sum(e.type == _P + "opsporing.inverzekeringstelling-gemeld.v1" for e in events)
    assert 0.3 < custody / 3000 < 0.42
    verdicts = Counter(e.event["data"]["verdict"] for e in events if e.type == JUDGMENT)
    assert 0.85 < verdicts["veroordeling"] / sum(verdicts.values()) < 0.95


def test_screenings_and_ecris_traffic_run_beside_the_cases(events: list[SimEvent]) -> None:
    types = Counter(e.type for e in events)
    screenings = types[_P + "registratie.screeningsantwoord-verstrekt.v1"]
    reports = types[REPORT]
    assert 4 < screenings / reports < 10  # about 4,100 screenings to 590 cases a day
    assert (
        types[_P + "registratie.ecris-verzoek-ingediend.v1"]
        == types[_P + "registratie.ecris-verzoek-beantwoord.v1"]
    )


def test_no_cases_means_no_events(chain: Chain) -> None:
    assert list(generate_events(chain, seed=1, cases=0, start=START)) == []


def test_the_samples_cover_every_message_type_of_the_chain(chain: Chain) -> None:
    samples = sample_events(chain)
    assert set(samples) == {mt.type for mt in chain.message_types}


def test_a_naive_start_is_refused(chain: Chain) -> None:
    with pytest.raises(SimConfigError, match="timezone-aware"):
        generate_events(chain, seed=1, cases=1, start=datetime(2025, 7, 1))


@pytest.mark.parametrize("cases", [-1, 1.5, True])
def test_a_bad_case_count_is_refused(chain: Chain, cases: object) -> None:
    with pytest.raises(SimConfigError, match="cases"):
        generate_events(chain, seed=1, cases=cases, start=START)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"custody_share": 1.5},
        {"cases_per_day": 0},
        {"screenings_per_day": -1},
        {"screenings_per_day": float("nan")},
        {"decision_weights": (1.0, 1.0)},
        {"decision_weights": (0.0, 0.0, 0.0, 0.0, 0.0)},
        # of the wrong type: it was kept, and the run failed on it (or never ended)
        {"serious_offence_share": "abc"},
        {"cases_per_day": True},
        {"emergency_route": "yes"},
        {"decision_weights": (1.0, 1.0, 1.0, 1.0, "x")},
        {"decision_weights": "abcde"},
        # too large to be meant: 10**400 was an OverflowError out of the check itself
        {"cases_per_day": 10**400},
        {"screenings_per_day": 1e300},
        {"decision_weights": (1e300, 1.0, 1.0, 1.0, 1.0)},
        {"decision_weights": (1.0, 1.0, 1.0, 1.0, float("inf"))},
    ],
)
def test_a_profile_out_of_range_or_of_the_wrong_type_is_refused_naming_the_field(
    changes: dict[str, object],
) -> None:
    (name,) = changes
    with pytest.raises(SimConfigError, match=rf"^{name}(\[[0-9]\] \([a-z-]+\))?: "):
        SimProfile(**changes)  # type: ignore[arg-type]


def test_a_chain_without_the_simulated_types_is_refused_before_any_event(chain: Chain) -> None:
    smaller = dataclasses.replace(
        chain, message_types=tuple(mt for mt in chain.message_types if mt.type != JUDGMENT)
    )
    with pytest.raises(SimChainError, match="vonnis-gewezen"):
        generate_events(smaller, seed=1, cases=1, start=START)


def test_no_two_events_share_mutable_data(events: list[SimEvent]) -> None:
    seen: dict[int, str] = {}
    for sim_event in events:
        for value in sim_event.event["data"].values():
            if isinstance(value, list | dict):
                assert id(value) not in seen
                seen[id(value)] = sim_event.event["id"]


def test_the_simulation_starts_at_start(chain: Chain) -> None:
    first = next(iter(generate_events(chain, seed=2, cases=5, start=START)))
    assert START <= parse_time(first.event["time"]) < START + timedelta(days=1)


def test_phase_ranks_cover_every_procedure_phase(chain: Chain, events: list[SimEvent]) -> None:
    phases = {chain.process(chain.message_type(e.type).process).phase for e in events}  # type: ignore[union-attr]
    assert phases == set(Phase)
