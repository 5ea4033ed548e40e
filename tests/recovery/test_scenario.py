"""The om-2025 scenario: its file, its checks, and its end figures on a small seed, run through
the real exchange on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from ketenherstel.chain import Chain
from ketenherstel.documents import MAX_DEPTH
from ketenherstel.exchange.manual import ManualWork
from ketenherstel.exchange.service import Exchange
from ketenherstel.golive.priority import priorities
from ketenherstel.recovery.runner import ScenarioResult, run_scenario
from ketenherstel.recovery.scenario import ScenarioError, builtin_scenario_path, load_scenario
from ketenherstel.registry import Registry, open_registry_db
from ketenherstel.store.manual_ports import manual_store
from ketenherstel.store.ports import Store
from ketenherstel.store.postgres import PostgresStore
from ketenherstel.store.sqlite import SqliteStore

SCALE = 0.01  # about 6 cases a day: every part of the story happens, in seconds
STEP = timedelta(hours=4)  # coarser than the built-in hour, so the test is quick


def run_on(
    store: Store, chain: Chain, registry_file: Path, *, parallel: bool = False
) -> ScenarioResult:
    store.migrate()
    exchange = Exchange(store=store, chain=chain, priorities=priorities(chain))
    registry = Registry(open_registry_db(str(registry_file)), chain, exchange=exchange)
    try:
        scenario = load_scenario(builtin_scenario_path("om-2025"), chain)
        scenario = dataclasses.replace(scenario, step=STEP)
        manual = ManualWork(store=manual_store(store), chain=chain)
        return run_scenario(
            scenario, exchange, manual, scale=SCALE, parallel=parallel, registry=registry
        )
    finally:
        registry.db.close()
        exchange.close()
        store.close()


def sqlite(path: Path) -> Store:
    return SqliteStore(path, synchronous="NORMAL")


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory, chain: Chain) -> ScenarioResult:
    folder = tmp_path_factory.mktemp("om2025")
    return run_on(sqlite(folder / "s.db"), chain, folder / "registry.sqlite", parallel=True)


def test_the_built_in_scenario_loads_with_its_plan(chain: Chain) -> None:
    scenario = load_scenario(builtin_scenario_path("om-2025"), chain)
    assert scenario.plan.name == "om-2025"
    assert [o.partner for o in scenario.offline] == ["om"]
    assert scenario.offline[0].since == scenario.plan.isolation.at  # type: ignore[union-attr]
    assert scenario.paper is not None and scenario.paper.types
    assert {e.source for e in scenario.timeline} <= {"record", "assumed"}


def test_nothing_is_lost_or_applied_twice_and_the_store_agrees(result: ScenarioResult) -> None:
    r = result
    assert r.lost == 0 and r.applied_twice == 0
    assert r.ledger is not None
    assert sum(r.ledger.messages.values()) == r.accepted
    assert sum(r.ledger.deliveries.values()) == r.expected_deliveries
    assert r.ledger.deliveries.get("acked") == r.delivered == r.expected_deliveries
    assert r.ledger.pending_held == r.ledger.pending_quarantined == 0
    assert r.rejected == 0 and r.sent == r.accepted + r.duplicates


def test_the_outage_leaves_its_marks(result: ScenarioResult) -> None:
    r = result
    # The OM's outbox kept its traffic, it went to quarantine and two operators released it.
    assert r.outbox_peak["om"] > 0 and r.quarantined >= r.outbox_peak["om"]
    wave1 = next(s for s in r.steps if s.step == "wave-1")
    assert wave1.releases_approved and ("om", "returning") in wave1.partners
    # Re-sent with new ids on return, recognised by business key, applied once.
    assert r.resent > 0 and r.duplicates_by_key == r.resent
    # The police's backlog to the OM peaked when the first wave opened.
    peak = r.channels["politie->om"]
    assert peak.peak > 0 and peak.peak_at is not None
    assert peak.peak_at.date().isoformat() <= "2025-08-25"
    # Every wave drained, in the order of the plan.
    assert [d.step for d in r.drains][:3] == ["wave-1", "wave-2", "wave-3"]
    assert all(d.empty_at is not None and d.empty_at >= d.at for d in r.drains)
    # Custody notices waited weeks: their 3-day deadline was missed because of the isolation.
    missed = {m.process: m for m in r.missed}
    assert missed["inverzekeringstelling"].count > 0
    assert any("isolation" in why for why in missed["inverzekeringstelling"].why)
    # Paper work was imported and matched to the later digital messages.
    assert r.paper_registered > 0 and r.paper_matched == r.paper_registered
    # The emergency route ran only while it was in force.
    assert r.route_messages > 0
    # The forecast was compared with what happened for the OM's channels.
    assert {c.channel for c in r.comparison} >= {"politie->om", "om->justid"}


def test_the_registry_caught_up_once_and_said_how_fresh_it_was(result: ScenarioResult) -> None:
    f = result.registry
    assert f is not None and f.failed == 0
    # Every delivery to Justid was applied once in effect, by the registry itself.
    to_justid = sum(c.delivered for c in result.channels.values() if c.receiver == "justid")
    assert f.applied + f.same_fact + f.not_registrations == to_justid
    assert f.counts["registrations"] == f.applied and f.screenings > 0
    assert f.freshness[0][1] == "isolation"
    wave1 = next(text for _, step, text in f.freshness if step == "wave-1")
    assert wave1.startswith("Openbaar Ministerie: volledig tot 1") and "afgesloten" in wave1
    assert f.freshness[-1][1:] == ("end", "geen achterstand bij enige bron")
    # What the registry got wrong during the gap, computed: answers that missed an antecedent.
    assert f.direction("missed") > 0


def test_a_run_is_deterministic(result: ScenarioResult, tmp_path: Path, chain: Chain) -> None:
    # in process this time: the same events
    again = run_on(sqlite(tmp_path / "again.db"), chain, tmp_path / "again.registry.sqlite")
    assert again.to_dict() == result.to_dict()


def test_the_scenario_runs_on_postgresql(
    pg_schema: str, pg_dsn: str, chain: Chain, tmp_path: Path
) -> None:
    r = run_on(PostgresStore(pg_dsn, schema=pg_schema), chain, tmp_path / "registry.sqlite")
    assert r.lost == 0 and r.applied_twice == 0 and r.delivered == r.expected_deliveries > 0


def test_the_built_in_scenarios_channel_statuses_give_the_picture_a_dutch_reason(
    chain: Chain,
) -> None:
    """The picture is Dutch; a status change's reason was the timeline's English `what`."""
    scenario = load_scenario(builtin_scenario_path("om-2025"), chain)
    statuses = [e.status for e in scenario.timeline if e.status is not None]
    assert statuses
    assert all(s.get("reason") for s in statuses)
    assert "werkt weer" in statuses[0]["reason"]


def _with_status(**extra: str) -> dict[str, object]:
    """A scenario change: a timeline of one channel status, with ``extra`` keys in it."""
    status = {"partner": "om", "channel": "e-mail", "state": "restored", **extra}
    entry = {"at": "2025-08-07T12:00:00+02:00", "what": "x", "source": "record"}
    return {"timeline": [{**entry, "status": status}]}


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"colour": "red"}, "colour: unknown key"),
        ({"start": "2025-06-01"}, "start: a time with its zone"),
        ({"start": "0001-01-01T00:00:00+00:00"}, "start: 0001-01-01T00:00:00+00:00 lies before"),
        (
            {"offline": [{"partner": "om", "from": "isolation", "until": "9999-01-01T00:00Z"}]},
            "offline[0].until: 9999-01-01T00:00:00+00:00 lies after",
        ),
        ({"step": "an hour"}, "step: a duration"),
        ({"plan": "nope"}, "plan:"),
        ({"offline": [{"partner": "om", "from": "isolation", "until": "wave-9"}]}, "until"),
        ({"offline": [{"partner": "xx", "from": "isolation", "until": "wave-1"}]}, "partner"),
        ({"capacity": {"om": "fast"}}, "capacity.om"),
        ({"profile": {"cases_per_day": -1}}, "profile"),
        ({"paper": {"from": "isolation", "import_every": "7d", "types": ["x"]}}, "paper.types[0]"),
        (_with_status(colour="red"), "timeline[0].status: needs partner, channel and state"),
        (_with_status(reason=""), "timeline[0].status"),
    ],
)
def test_bad_scenario_files_name_the_key(
    tmp_path: Path, chain: Chain, change: dict[str, object], needle: str
) -> None:
    doc = yaml.safe_load(builtin_scenario_path("om-2025").read_text(encoding="utf-8"))
    doc.update(change)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, chain)
    assert any(p.startswith("bad.yaml: ") and needle in p for p in caught.value.problems), (
        caught.value.problems
    )


def _with_profile(tmp_path: Path, text: str) -> Path:
    """The built-in scenario with ``text`` (YAML, as a person writes it) as its profile."""
    doc = builtin_scenario_path("om-2025").read_text(encoding="utf-8")
    start = doc.index("\nprofile:")
    end = doc.index("\n", doc.index("\n", start + 1) + 1)  # the profile is two lines
    path = tmp_path / "profile.yaml"
    path.write_text(doc[: start + 1] + "profile:\n" + text + doc[end:], encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "says"),
    [
        # not a number at all
        (
            "  serious_offence_share: abc",
            "serious_offence_share: expected a number, got the text 'abc'",
        ),
        ("  cases_per_day: true", "cases_per_day: expected a number, got true"),
        ("  cases_per_day: [590]", "cases_per_day: expected a number, got a list"),
        ("  screenings_per_day: null", "screenings_per_day: expected a number, got nothing (null)"),
        ("  emergency_route: 'yes'", "emergency_route: expected true or false, got the text 'yes'"),
        ("  emergency_route: 1", "emergency_route: expected true or false, got 1"),
        (
            "  decision_weights: dagvaarding",
            "decision_weights: expected 5 weights, for dagvaarding",
        ),
        (
            "  decision_weights: [1, 1, 1, 1, x]",
            "decision_weights[4] (sepot-onvoorwaardelijk): expected a number, got the text 'x'",
        ),
        # PyYAML reads 1e400 as text (YAML 1.1 wants a point and a sign: 1.0e+400)
        ("  cases_per_day: 1e400", "cases_per_day: expected a number, got the text '1e400' (YAML"),
        # not finite, or too large to be meant
        ("  cases_per_day: 1.0e+400", "cases_per_day: must be a finite number, got inf"),
        ("  kmar_share: .nan", "kmar_share: must be a finite number, got nan"),
        (
            "  decision_weights: [1, 1, 1, 1, .inf]",
            "decision_weights[4] (sepot-onvoorwaardelijk): must be a finite number, got inf",
        ),
        ("  cases_per_day: 1.0e+300", "cases_per_day: must be at most 100,000 a day, got 1e+300"),
        (
            "  ecris_requests_per_day: " + "9" * 400,
            "ecris_requests_per_day: must be at most 100,000 a day, got a number of 400 digits",
        ),
        ("  cases_per_day: " + "9" * 5_000, "more digits than this reader takes"),
        (
            "  decision_weights: [1.0e+300, 1, 1, 1, 1]",
            "decision_weights[0] (dagvaarding): must be at most 1e+09, got 1e+300",
        ),
        # out of range
        ("  custody_share: 1.5", "custody_share: is a share and must be at most 1, got 1.5"),
        ("  appeal_share: -0.1", "appeal_share: must be at least 0, got -0.1"),
        (
            "  municipal_requests_per_day: -1",
            "municipal_requests_per_day: must be at least 0, got -1",
        ),
        ("  cases_per_day: 0", "cases_per_day: must be at least 1 a day"),
        ("  cases_per_day: 0.001", "cases_per_day: must be at least 1 a day"),
        ("  decision_weights: [1, 1, 1]", "decision_weights: expected 5 weights, for dagvaarding"),
        ("  decision_weights: [0, 0, 0, 0, 0]", "decision_weights: must not all be 0"),
        (
            "  decision_weights: [1, -1, 1, 1, 1]",
            "decision_weights[1] (strafbeschikking): must be at least 0, got -1",
        ),
    ],
)
def test_each_profile_field_is_checked_for_its_type_and_range_and_named(
    tmp_path: Path, chain: Chain, text: str, says: str
) -> None:
    """SimProfile checked only the fields that were numbers: 'abc' as a share was kept, and the
    run failed on it (a TypeError); 1e400 (text to PyYAML) as the cases a day was refused as
    "'<=' not supported between instances of 'str' and 'int'"; a 400-digit rate was an
    OverflowError traceback, 1.0e+300 cases a day never ended, and a 5,000-digit number was a
    ValueError traceback out of PyYAML."""
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_with_profile(tmp_path, text), chain)
    assert any(p.startswith("profile.yaml: ") and says in p for p in caught.value.problems), (
        caught.value.problems
    )
    assert len(caught.value.problems) == 1, caught.value.problems


def test_every_bad_profile_field_is_listed_and_good_ones_are_read_as_numbers(
    tmp_path: Path, chain: Chain
) -> None:
    bad = "  cases_per_day: many\n  kmar_share: 2\n  emergency_route: maybe"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_with_profile(tmp_path, bad), chain)
    assert [p.split(":")[1].strip() for p in caught.value.problems] == [
        "profile.cases_per_day",
        "profile.kmar_share",
        "profile.emergency_route",
    ]
    good = "  cases_per_day: 600\n  decision_weights: [94000, 32000, 5800, 8700, 20000]"
    profile = load_scenario(_with_profile(tmp_path, good), chain).profile
    assert profile.cases_per_day == 600.0 and isinstance(profile.cases_per_day, float)
    assert profile.decision_weights == (94000.0, 32000.0, 5800.0, 8700.0, 20000.0)
    assert profile.emergency_route is False


def test_an_unreadable_scenario_file_is_refused(tmp_path: Path, chain: Chain) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml", chain)
    (tmp_path / "broken.yaml").write_text("name: [", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(tmp_path / "broken.yaml", chain)


def test_a_scenario_nested_too_deeply_is_refused_with_its_line(
    tmp_path: Path, chain: Chain
) -> None:
    """PyYAML composes a node by calling itself for each level: 10,000 levels (20 kB) were a
    RecursionError traceback out of `scenario validate`, `show` and `run`."""
    path = tmp_path / "deep.yaml"
    path.write_text("profile: " + "[" * 10_000 + "]" * 10_000 + "\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, chain)
    assert caught.value.problems == [
        f"deep.yaml: not valid YAML: line 1, column {9 + MAX_DEPTH}: nested too deeply: more "
        f"than {MAX_DEPTH} levels of mappings and lists inside one another"
    ]


def test_a_scenario_that_gives_a_key_twice_is_refused_with_its_line(
    tmp_path: Path, chain: Chain
) -> None:
    """yaml.safe_load kept the second seed: the run would not be the one the file seems to
    describe, and nothing said so."""
    text = builtin_scenario_path("om-2025").read_text(encoding="utf-8")
    first = next(i for i, line in enumerate(text.splitlines(), start=1) if line.startswith("seed:"))
    path = tmp_path / "twice.yaml"
    path.write_text(text.replace("\nseed:", "\nseed: 7\nseed:", 1), encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, chain)
    assert caught.value.problems == [
        f"twice.yaml: not valid YAML: line {first + 1}, column 1: the key 'seed' is given twice "
        f"in one mapping (first on line {first}); give each key once"
    ]
