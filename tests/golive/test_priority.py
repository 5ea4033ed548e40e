"""The go-live order: agreed decisions first, then legal deadlines shortest first, then the
processes without a deadline in procedure order; every rank says why."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ketenherstel.chain import Chain
from ketenherstel.golive import PlanError, builtin_plan_path, explain, load_plan, priorities
from ketenherstel.golive.priority import format_duration, ranking
from tests.golive.conftest import WritePlan
from tests.golive.support import ARREST, CUSTODY, DISPOSAL_REG, ISOLATED_OM, JUDGMENT_REG, REPORT

WAVE = """\
waves:
  - name: wave-1
    at: 2025-08-18T08:00:00+02:00
    online: [om]
"""


def deadline(chain: Chain, process: str) -> timedelta:
    found = chain.process(process).deadline
    assert found is not None
    return found.delta


def test_without_a_plan_deadlines_come_first_shortest_first(chain: Chain) -> None:
    ranks = ranking(chain)
    timed = [r for r in ranks if r.basis == "deadline"]
    deltas = [deadline(chain, r.process) for r in timed]
    assert deltas == sorted(deltas)
    assert [r.process for r in timed[:3]] == [
        "aanhouding",
        "inverzekeringstelling",
        "voorgeleiding",
    ]
    assert all(r.basis == "procedure" for r in ranks[len(timed) :])
    assert [r.rank for r in ranks] == list(range(1, len(chain.processes) + 1))


def test_equal_deadlines_keep_procedure_order(chain: Chain) -> None:
    fourteen = [
        r.process
        for r in ranking(chain)
        if r.basis == "deadline" and deadline(chain, r.process) == timedelta(days=14)
    ]
    in_order = [p.key for p in chain.processes_in_order() if p.key in fourteen]
    assert fourteen == in_order


def test_processes_without_a_deadline_follow_procedure_order(chain: Chain) -> None:
    untimed = [r.process for r in ranking(chain) if r.basis == "procedure"]
    assert untimed == [p.key for p in chain.processes_in_order() if p.deadline is None]
    ranks = priorities(chain)
    assert ranks[REPORT] < ranks[DISPOSAL_REG]


def test_agreed_processes_come_first_in_decision_order(chain: Chain, write_plan: WritePlan) -> None:
    decisions = (
        "priorities:\n"
        "  - process: proces-verbaal\n    agreed_by: [OM, Politie]\n    at: 2025-08-10\n"
        "    why: cases must reach the OM\n"
        "  - process: registratie-justitiele-gegevens\n"
        "    agreed_by: [ministerie JenV, OM, Justid]\n    at: 2025-08-12\n    why: memo\n"
    )
    plan = load_plan(write_plan(ISOLATED_OM + decisions + WAVE), chain)
    ranks = priorities(chain, plan)
    assert ranks[REPORT] == 1
    assert ranks[DISPOSAL_REG] == ranks[JUDGMENT_REG] == 2
    assert ranks[ARREST] == 3 < ranks[CUSTODY] == 4
    assert sorted(set(ranks.values())) == list(range(1, len(chain.processes) + 1))


def test_every_type_has_a_rank_and_types_of_one_process_share_it(chain: Chain) -> None:
    ranks = priorities(chain)
    assert set(ranks) == {mt.type for mt in chain.message_types}
    for process in chain.processes:
        assert len({ranks[mt.type] for mt in chain.types_for_process(process.key)}) <= 1


def test_each_rank_explains_itself(chain: Chain) -> None:
    plan = load_plan(builtin_plan_path(), chain)
    why = explain(chain, plan)
    assert why[DISPOSAL_REG].startswith("agreed 12-08-2025 by ministerie JenV, OM, Justid: ")
    assert why[CUSTODY] == "deadline 3 days (art. 58 Sv)"
    assert why[ARREST] == "deadline 9 hours (art. 56a Sv)"
    assert why[REPORT] == "no legal deadline; procedure order 3"


def test_the_om_2025_plan_puts_the_jds_registrations_first(chain: Chain) -> None:
    ranks = priorities(chain, load_plan(builtin_plan_path(), chain))
    assert ranks[DISPOSAL_REG] == ranks[JUDGMENT_REG] == 1
    assert ranks[ARREST] == 2


def test_a_decision_for_a_process_the_chain_lacks_is_an_error(chain: Chain) -> None:
    from dataclasses import replace
    from datetime import date

    from ketenherstel.golive import PriorityDecision

    plan = load_plan(builtin_plan_path(), chain)
    odd = replace(plan, priorities=(PriorityDecision("verkeer", ("RDW",), date(2025, 1, 1), "x"),))
    with pytest.raises(PlanError, match="process 'verkeer', which this chain does not have"):
        priorities(chain, odd)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(hours=9), "9 hours"),
        (timedelta(days=1), "1 day"),
        (timedelta(days=3, hours=18), "3 days 18 hours"),
        (timedelta(minutes=90), "1 hour 30 minutes"),
    ],
)
def test_durations_read_as_words(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text
