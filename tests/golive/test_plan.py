"""Plan files: the built-in plan loads, and every kind of mistake is refused with its line,
its wave and channel, and what to do about it."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from ketenherstel.chain import Chain
from ketenherstel.chain._nodes import MAX_DEPTH
from ketenherstel.golive import (
    ChannelRule,
    PlanError,
    PlanFileError,
    builtin_plan_path,
    check_plan_file,
    load_plan,
)
from ketenherstel.golive.model import outside_dates
from tests.golive.conftest import WritePlan
from tests.golive.support import ISOLATED_OM, line_of, only

WAVE_1 = """\
waves:
  - name: wave-1
    at: 2025-08-18T08:00:00+02:00
    open:
      - receiver: justid
        sender: om
        scope: process:registratie-justitiele-gegevens
    release_quarantine: [om]
"""

JUSTID_CHANNEL = (
    "receiver: justid\n        sender: om\n        scope: process:registratie-justitiele-gegevens"
)


def test_the_built_in_om_2025_plan_loads_and_follows_the_domain_table(chain: Chain) -> None:
    plan = load_plan(builtin_plan_path(), chain)
    assert plan.name == "om-2025"
    assert plan.isolation is not None and plan.isolation.partners == ("om",)
    assert plan.isolation.at == datetime.fromisoformat("2025-07-17T21:00:00+02:00")
    assert [(w.name, w.at.date()) for w in plan.waves] == [
        ("wave-1", date(2025, 8, 18)),
        ("wave-2", date(2025, 8, 25)),
        ("wave-3", date(2025, 9, 8)),
        ("restored", date(2025, 9, 25)),
    ]
    assert len(plan.priorities) == 1
    decision = plan.priorities[0]
    assert decision.process == "registratie-justitiele-gegevens"
    assert decision.at == date(2025, 8, 12)
    assert "ministerie JenV" in decision.agreed_by
    wave_1 = plan.wave("wave-1")
    assert ChannelRule("justid", "om", "process:registratie-justitiele-gegevens") in [
        o.rule for o in wave_1.opens
    ]
    custody = next(o for o in wave_1.opens if o.rule.scope == "process:inverzekeringstelling")
    assert custody.rate == pytest.approx(300 / 3600)
    assert plan.wave("restored").online == ("om",)
    assert check_plan_file(builtin_plan_path(), chain) == []


def test_a_plan_becomes_json_ready_data(chain: Chain) -> None:
    data = load_plan(builtin_plan_path(), chain).to_dict()
    again = json.loads(json.dumps(data))
    assert again["waves"][0]["open"][1]["rate_per_second"] == pytest.approx(600 / 3600)
    assert again["priorities"][0]["at"] == "2025-08-12"
    assert again["isolation"]["at"] == "2025-07-17T21:00:00+02:00"


def test_a_valid_small_plan_loads(chain: Chain, write_plan: WritePlan) -> None:
    plan = load_plan(write_plan(ISOLATED_OM + WAVE_1), chain)
    assert plan.waves[0].release_quarantine == ("om",)
    assert plan.waves[0].opens[0].rate is None


def test_an_unknown_partner_is_refused_with_the_wave_channel_and_a_suggestion(
    chain: Chain, write_plan: WritePlan
) -> None:
    path = write_plan(ISOLATED_OM + WAVE_1.replace("receiver: justid", "receiver: justd"))
    problem = only(check_plan_file(path, chain))
    assert problem.location.startswith(f"plan.yaml:{line_of(path, 'justd')}:19 ")
    assert problem.location.endswith("waves[0].open[0].receiver")
    assert problem.message.startswith("wave 'wave-1' channel om->justd [process:")
    assert "unknown partner 'justd'; did you mean 'justid'?" in problem.message
    with pytest.raises(PlanError) as raised:
        load_plan(path, chain)
    assert isinstance(raised.value, PlanFileError)
    assert raised.value.problems == (problem,)


def test_a_rate_given_twice_is_refused_with_both_lines(chain: Chain, write_plan: WritePlan) -> None:
    """The plan's own reader (the chain's NodeReader over composed nodes) refuses it already;
    this keeps it so: yaml.safe_load would keep the second rate and say nothing."""
    scope = "        scope: process:registratie-justitiele-gegevens\n"
    path = write_plan(
        ISOLATED_OM + WAVE_1.replace(scope, scope + "        rate: 600/h\n        rate: 60/h\n")
    )
    problem = only(check_plan_file(path, chain))
    first = line_of(path, "rate: 600/h")
    assert problem.location.startswith(f"plan.yaml:{first + 1}:9 ")
    assert problem.message.endswith(f"duplicate key 'rate' (first defined on line {first})")
    with pytest.raises(PlanError):
        load_plan(path, chain)


def test_an_unknown_message_type_is_refused_and_the_full_name_suggested(
    chain: Chain, write_plan: WritePlan
) -> None:
    text = ISOLATED_OM + WAVE_1.replace(
        "process:registratie-justitiele-gegevens", "uitspraak-geregistreerd"
    )
    problem = only(check_plan_file(write_plan(text), chain))
    assert "unknown message type 'uitspraak-geregistreerd'" in problem.message
    assert "did you mean 'nl.strafrechtketen.registratie.uitspraak-geregistreerd.v1'" in (
        problem.message
    )


def test_an_unknown_process_is_refused_and_a_bare_process_key_gets_a_hint(
    chain: Chain, write_plan: WritePlan
) -> None:
    typo = ISOLATED_OM + WAVE_1.replace("justitiele-gegevens", "justitiele-gegevns")
    assert (
        "did you mean 'registratie-justitiele-gegevens'"
        in only(check_plan_file(write_plan(typo), chain)).message
    )
    bare = ISOLATED_OM + WAVE_1.replace("process:registratie", "registratie")
    assert (
        "write 'process:registratie-justitiele-gegevens'"
        in only(check_plan_file(write_plan(bare, "bare.yaml"), chain)).message
    )


def test_a_channel_that_carries_no_message_type_is_refused(
    chain: Chain, write_plan: WritePlan
) -> None:
    text = ISOLATED_OM + WAVE_1.replace(
        JUSTID_CHANNEL,
        "receiver: dji\n        sender: om",
    )
    problem = only(check_plan_file(write_plan(text), chain))
    assert problem.message.startswith("wave 'wave-1' channel om->dji: carries no message type")
    assert "'om' sends to: cjib, justid, kmar, politie, rechtspraak" in problem.message


def test_a_channel_must_name_a_receiver_or_a_sender(chain: Chain, write_plan: WritePlan) -> None:
    text = ISOLATED_OM + WAVE_1.replace("receiver: justid", 'receiver: "*"').replace(
        "sender: om", 'sender: "*"'
    )
    assert (
        "names neither a receiver nor a sender"
        in only(check_plan_file(write_plan(text), chain)).message
    )


@pytest.mark.parametrize(
    ("rate", "says"),
    [
        *((r, "a rate must be more than 0") for r in ("0", "-2", "0/h", "-5/h")),
        # A plan with rate 1e300 validated; the exchange refuses such a rate on a channel.
        *(
            (r, f"a rate is at most 1,000,000 messages a second, got '{r}'")
            for r in ("1e300", "1000001", "100000000/min")
        ),
    ],
)
def test_a_rate_out_of_what_the_exchange_takes_is_refused(
    chain: Chain, write_plan: WritePlan, rate: str, says: str
) -> None:
    text = ISOLATED_OM + WAVE_1.replace(
        "scope: process:registratie-justitiele-gegevens",
        f"scope: process:registratie-justitiele-gegevens\n        rate: {rate}",
    )
    problem = only(check_plan_file(write_plan(text), chain))
    assert problem.location.endswith("waves[0].open[0].rate")
    assert says in problem.message
    assert problem.message.startswith("wave 'wave-1' channel om->justid")


def test_the_plans_and_the_exchanges_bounds_on_a_rate_are_one() -> None:
    from ketenherstel.exchange.isolation import MAX_RATE, MIN_RATE, rate_problem
    from ketenherstel.golive.channels import MAX_RATE as PLAN_MAX_RATE
    from ketenherstel.golive.channels import parse_rate

    assert PLAN_MAX_RATE == MAX_RATE
    assert rate_problem(parse_rate(f"{MAX_RATE}")) is None
    assert rate_problem(parse_rate("1/d")) is None and parse_rate("1/d") == pytest.approx(MIN_RATE)


def test_a_rate_in_words_is_refused_with_the_forms_that_work(
    chain: Chain, write_plan: WritePlan
) -> None:
    text = ISOLATED_OM + WAVE_1.replace(
        "scope: process:registratie-justitiele-gegevens",
        "scope: process:registratie-justitiele-gegevens\n        rate: fast",
    )
    assert (
        "N/s, N/min, N/h, N/d (e.g. 300/h), got 'fast'"
        in only(check_plan_file(write_plan(text), chain)).message
    )


def test_rates_are_read_per_second_per_minute_per_hour_and_per_day(
    chain: Chain, write_plan: WritePlan
) -> None:
    for rate, per_second in (("2.5", 2.5), ("3/s", 3.0), ("6/min", 0.1), ("7200/h", 2.0)):
        text = ISOLATED_OM + WAVE_1.replace(
            "scope: process:registratie-justitiele-gegevens",
            f"scope: process:registratie-justitiele-gegevens\n        rate: {rate}",
        )
        plan = load_plan(write_plan(text), chain)
        assert plan.waves[0].opens[0].rate == pytest.approx(per_second)


def test_waves_out_of_date_order_are_refused(chain: Chain, write_plan: WritePlan) -> None:
    text = (
        ISOLATED_OM
        + WAVE_1
        + ("  - name: wave-0\n    at: 2025-08-11T08:00:00+02:00\n    online: [om]\n")
    )
    problem = only(check_plan_file(write_plan(text), chain))
    assert problem.location.endswith("waves[1].at")
    assert problem.message == (
        "wave 'wave-0': 2025-08-11 08:00+02:00 is before the previous wave 'wave-1' "
        "(2025-08-18 08:00+02:00); list the waves in date order"
    )


def test_a_wave_name_used_twice_is_refused(chain: Chain, write_plan: WritePlan) -> None:
    path = write_plan(
        ISOLATED_OM + WAVE_1 + "  - name: wave-1\n    at: 2025-08-19T08:00:00+02:00\n"
        "    online: [om]\n"
    )
    problem = only(check_plan_file(path, chain))
    assert problem.location.startswith(f"plan.yaml:{line_of(path, 'name: wave-1', 2)}:")
    assert "the wave name 'wave-1' is used twice (first on line" in problem.message


@pytest.mark.parametrize("name", ["isolation", "Isolation"])
def test_a_wave_named_like_the_isolation_step_is_refused(
    chain: Chain, write_plan: WritePlan, name: str
) -> None:
    """`plan steps` listed `isolation` twice and `plan apply … isolation` ran the isolation."""
    path = write_plan(ISOLATED_OM + WAVE_1.replace("name: wave-1", f"name: {name}"))
    problem = only(check_plan_file(path, chain))
    assert problem.location.startswith(f"plan.yaml:{line_of(path, f'name: {name}')}:")
    assert problem.location.endswith("waves[0].name")
    assert f"a wave cannot be called {name!r}" in problem.message
    assert "plan apply isolation" in problem.message


@pytest.mark.parametrize("name", ['"wave\\e[31m1"', '"wave\\0-1"', '"wave\\u202E1"', '"wave\\t1"'])
def test_a_wave_name_with_a_control_or_invisible_character_is_refused_naming_the_wave(
    chain: Chain, write_plan: WritePlan, name: str
) -> None:
    """An escape sequence in a wave's name passed `plan validate`, went to the terminal with
    `plan steps` and stopped `plan apply` half-way (the reasons of its changes name the step,
    and the interim procedures it retires are named after the wave)."""
    path = write_plan(ISOLATED_OM + WAVE_1.replace("name: wave-1", f"name: {name}"))
    problem = only(check_plan_file(path, chain))
    line = line_of(path, 'name: "wave')
    assert problem.location.startswith(f"plan.yaml:{line}:")
    assert problem.location.endswith("waves[0].name")
    assert problem.message.startswith("wave 'wave\\")  # the wave, its character escaped
    assert "a wave name holds no control or invisible characters, tabs or line breaks (U+" in (
        problem.message
    )
    with pytest.raises(PlanError):
        load_plan(path, chain)


def test_a_plan_name_with_a_control_character_is_refused(
    chain: Chain, write_plan: WritePlan
) -> None:
    path = write_plan((ISOLATED_OM + WAVE_1).replace("name: test", 'name: "te\\e[2Jst"'))
    problem = only(check_plan_file(path, chain))
    assert problem.location == "plan.yaml:1:7 name"
    assert "a plan name holds no control or invisible characters" in problem.message
    assert "(U+001B)" in problem.message


def test_a_wave_before_the_isolation_is_refused(chain: Chain, write_plan: WritePlan) -> None:
    text = ISOLATED_OM + WAVE_1.replace("2025-08-18", "2025-07-01")
    assert (
        "is before the isolation (2025-07-17 21:00+02:00)"
        in only(check_plan_file(write_plan(text), chain)).message
    )


def test_a_time_without_a_utc_offset_is_refused(chain: Chain, write_plan: WritePlan) -> None:
    text = ISOLATED_OM + WAVE_1.replace("2025-08-18T08:00:00+02:00", "2025-08-18T08:00:00")
    assert "has no UTC offset" in only(check_plan_file(write_plan(text), chain)).message


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("2025-07-17T21:00:00+02:00", "0001-01-01T00:00:00+00:00", "isolation.at"),
        ("2025-08-18T08:00:00+02:00", "0001-01-01T08:00:00+02:00", "waves[0].at"),
        ("2025-08-18T08:00:00+02:00", "2200-01-01T08:00:00+01:00", "waves[0].at"),
        ("2025-08-12", "0001-01-01", "priorities[0].at"),
        # written in range, but 1 January 2200 in UTC (2 January in Amsterdam): it passed
        ("2025-08-18T08:00:00+02:00", "2199-12-31T23:59:59-23:59", "waves[0].at"),
        # written in range, but 31 December 1999 in Amsterdam
        ("2025-07-17T21:00:00+02:00", "2000-01-01T00:30:00+14:00", "isolation.at"),
    ],
)
def test_a_date_outside_2000_to_2199_is_refused_naming_its_field(
    chain: Chain, write_plan: WritePlan, old: str, new: str, path: str
) -> None:
    decision = (
        "priorities:\n  - process: registratie-justitiele-gegevens\n    agreed_by: [OM]\n"
        "    at: 2025-08-12\n    why: memo\n"
    )
    text = (ISOLATED_OM + decision + WAVE_1).replace(old, new)
    problem = only(check_plan_file(write_plan(text), chain))
    assert problem.location.endswith(path)
    assert "lies before" in problem.message or "lies after" in problem.message
    assert "(2000-01-01 to 2199-12-31)" in problem.message


def test_online_for_a_partner_the_plan_does_not_isolate_is_refused(
    chain: Chain, write_plan: WritePlan
) -> None:
    text = ISOLATED_OM + WAVE_1 + "    online: [justid]\n"
    problem = only(check_plan_file(write_plan(text), chain))
    assert problem.location.endswith("waves[0].online[0]")
    assert "'justid' is not isolated by this plan; online ends an isolation" in problem.message


def test_opening_an_isolated_partners_traffic_needs_its_quarantine_released(
    chain: Chain, write_plan: WritePlan
) -> None:
    text = ISOLATED_OM + WAVE_1.replace("    release_quarantine: [om]\n", "")
    problem = only(check_plan_file(write_plan(text), chain))
    assert problem.message.startswith("wave 'wave-1' channel om->justid")
    assert "add release_quarantine: [om] to this wave or an earlier one" in problem.message


def test_a_channel_that_opens_nothing_held_is_refused(chain: Chain, write_plan: WritePlan) -> None:
    # everything rechtspraak receives comes from the OM, and (*, om, *) is as specific as
    # (rechtspraak, *, *): on a tie held wins, so this opening would change nothing
    text = ISOLATED_OM + WAVE_1.replace(
        JUSTID_CHANNEL,
        'receiver: rechtspraak\n        sender: "*"',
    )
    problem = only(check_plan_file(write_plan(text), chain))
    assert "opens nothing" in problem.message
    assert "isolation of 'om' (rule om->*)" in problem.message


CUSTODY_FIRST = """\
waves:
  - name: wave-1
    at: 2025-08-18T08:00:00+02:00
    open:
      - receiver: om
        sender: politie
        scope: process:inverzekeringstelling
  - name: wave-2
    at: 2025-08-25T08:00:00+02:00
    open:
      - receiver: om
        sender: politie
  - name: restored
    at: 2025-09-25T08:00:00+02:00
    online: [om]
"""


def test_a_custody_notice_may_not_be_released_before_the_arrest_it_follows(
    chain: Chain, write_plan: WritePlan
) -> None:
    path = write_plan(ISOLATED_OM + CUSTODY_FIRST)
    problems = check_plan_file(path, chain)
    messages = [p.message for p in problems]
    # wave-1: the police's and the KMar's arrests are still held; wave-2: the police's reports
    # need the KMar's arrests too, as dependencies are between types, not between senders
    assert len(problems) == 3, messages
    first = next(p for p in problems if "channel politie->om is still held" in p.message)
    assert first.location.startswith(f"plan.yaml:{line_of(path, 'receiver: om')}:")
    assert first.message == (
        "wave 'wave-1' channel politie->om [process:inverzekeringstelling]: releases "
        "inverzekeringstelling-gemeld before what it depends on: aanhouding-geregistreerd on "
        "channel politie->om is still held (isolation of 'om') until wave 'wave-2' "
        "(2025-08-25 08:00+02:00, channel politie->om); open that channel in this wave or "
        "earlier, or move this one to wave 'wave-2' or later"
    )
    kmar = next(p for p in problems if "kmar->om" in p.message)
    assert "until wave 'restored' (2025-09-25 08:00+02:00, online: [om])" in kmar.message
    reports = problems[2]
    assert reports.message.startswith("wave 'wave-2' channel politie->om: releases proces-verbaal")


def test_a_dependency_released_in_the_same_wave_is_fine(
    chain: Chain, write_plan: WritePlan
) -> None:
    text = ISOLATED_OM + CUSTODY_FIRST.replace(
        "        sender: politie\n        scope: process:inverzekeringstelling\n",
        '        sender: "*"\n        scope: process:inverzekeringstelling\n'
        '      - receiver: om\n        sender: "*"\n        scope: process:aanhouding\n',
    )
    assert check_plan_file(write_plan(text), chain) == []


def test_a_dependency_no_wave_releases_is_named(chain: Chain, write_plan: WritePlan) -> None:
    text = ISOLATED_OM + CUSTODY_FIRST.split("  - name: wave-2")[0]
    problems = check_plan_file(write_plan(text), chain)
    assert problems and all("and no wave releases it" in p.message for p in problems)


def test_every_problem_is_reported_not_just_the_first(chain: Chain, write_plan: WritePlan) -> None:
    text = (
        "name: test\nisolation:\n  partners: [OM]\n  at: 2025-07-17T21:00:00+02:00\n"
        "priorities:\n  - process: registratie\n    agreed_by: [OM]\n    at: 2025-08-12\n"
        "    why: memo\n"
        "waves:\n  - name: a\n    at: tomorrow\n    open:\n      - receiver: justid\n"
        "        sender: om\n        rate: 0\n  - name: a\n    at: 2025-08-01T00:00:00Z\n"
        "    colour: red\n"
    )
    problems = check_plan_file(write_plan(text), chain)
    text_of = "\n".join(str(p) for p in problems)
    assert "unknown partner 'OM'; did you mean 'om'?" in text_of
    assert "priority decision 1 (registratie): unknown process 'registratie'" in text_of
    assert "'tomorrow' is not an ISO 8601 date-time" in text_of
    assert "a rate must be more than 0" in text_of
    assert "unknown key 'colour'" in text_of
    assert "the wave does nothing" in text_of
    assert "is used twice" in text_of
    assert len(problems) == 7, text_of


def test_a_file_that_is_not_yaml_is_refused_with_its_position(
    chain: Chain, write_plan: WritePlan
) -> None:
    problem = only(check_plan_file(write_plan("name: [unclosed\nwaves: []\n"), chain))
    assert problem.location.startswith("plan.yaml:2:")
    assert problem.message.startswith("not valid YAML")


def test_a_plan_nested_too_deeply_is_one_problem_at_its_line(
    chain: Chain, write_plan: WritePlan
) -> None:
    """yaml.compose calls itself for each level: 10,000 (20 kB) were a RecursionError traceback
    out of `plan validate`, `plan forecast` and a scenario's plan."""
    path = write_plan("name: x\nwaves: " + "[" * 10_000 + "]" * 10_000 + "\n")
    problem = only(check_plan_file(path, chain))
    assert problem.location == f"plan.yaml:2:{7 + MAX_DEPTH}"
    assert problem.message == (
        f"nested too deeply: more than {MAX_DEPTH} levels of mappings and lists inside one another"
    )
    with pytest.raises(PlanFileError, match="nested too deeply"):
        load_plan(path, chain)


def test_a_missing_file_is_a_problem_not_a_crash(chain: Chain, tmp_path: object) -> None:
    problem = only(check_plan_file(f"{tmp_path}/nothing.yaml", chain))
    assert "cannot read the plan file" in problem.message


def test_a_second_decision_for_the_same_process_is_refused(
    chain: Chain, write_plan: WritePlan
) -> None:
    decision = (
        "  - process: aanhouding\n    agreed_by: [OM, Politie]\n    at: 2025-08-12\n"
        "    why: arrests first\n"
    )
    text = ISOLATED_OM + "priorities:\n" + decision + decision + WAVE_1
    assert (
        "already has a priority decision" in only(check_plan_file(write_plan(text), chain)).message
    )


def test_a_moment_is_held_to_the_dates_taken_here_in_amsterdam_time_too() -> None:
    """As paper work's dates are: the date as written passed, whatever its offset."""
    assert outside_dates(datetime.fromisoformat("2199-12-31T23:59:59-23:59")) == (
        "2199-12-31T23:59:59-23:59 is 2200-01-02 in Amsterdam time, which lies after the dates "
        "taken here (2000-01-01 to 2199-12-31)"
    )
    assert outside_dates(datetime.fromisoformat("2000-01-01T00:30:00+14:00")) == (
        "2000-01-01T00:30:00+14:00 is 1999-12-31 in Amsterdam time, which lies before the dates "
        "taken here (2000-01-01 to 2199-12-31)"
    )
    for fine in ("2199-12-31T22:59:59+00:00", "2000-01-01T00:00:00+01:00"):
        assert outside_dates(datetime.fromisoformat(fine)) is None, fine
    assert outside_dates(date(2199, 12, 31)) is None
