"""Running the built-in om-2025 plan step by step against a real exchange on SQLite."""
# ruff: noqa: F811  (the fixture `rt` comes from tests.exchange.test_isolation)

from __future__ import annotations

import pytest

from ketenherstel.bootstrap import Runtime, bootstrap
from ketenherstel.exchange.auth import Principal
from ketenherstel.exchange.errors import Forbidden, StateConflict
from ketenherstel.exchange.manual import ManualWork
from ketenherstel.golive.channels import ChannelRule
from ketenherstel.golive.plan import builtin_plan_path, load_plan
from ketenherstel.golive.priority import priorities
from ketenherstel.recovery.steps import ISOLATION_STEP, StepOutOfOrder, apply_step, plan_steps
from ketenherstel.store.manual_ports import InterimProcedure, manual_store
from tests.exchange.test_isolation import OP_A, OP_B, om_afdoening, partner, rt  # noqa: F401
from tests.factories import pv_event

VIEWER = Principal("viewer", "viewer", None, "token")


def store_rules(rt: Runtime) -> dict[ChannelRule, tuple[str, float | None]]:
    return {
        ChannelRule(r.receiver, r.sender, r.scope): (r.state, r.rate)
        for r in rt.exchange.channels()
        if r.state == "held" or r.rate is not None
    }


def plan_rules(rt: Runtime, index: int) -> dict[ChannelRule, tuple[str, float | None]]:
    plan = load_plan(builtin_plan_path("om-2025"), rt.chain)
    return {
        s.rule: ("held" if s.held else "open", s.rate)
        for s in plan.state_after(index).states
        if s.held or s.rate is not None
    }


def test_each_step_leaves_the_store_with_the_plans_rules(rt: Runtime) -> None:
    plan = load_plan(builtin_plan_path("om-2025"), rt.chain)
    names = [name for name, _ in plan_steps(plan)]
    assert names == [ISOLATION_STEP, "wave-1", "wave-2", "wave-3", "restored"]
    for index, name in enumerate(names, start=-1):
        apply_step(rt.exchange, plan, name, principal=OP_A, approver=OP_B)
        assert store_rules(rt) == plan_rules(rt, index), name
    # Applying a step again changes nothing.
    again = apply_step(rt.exchange, plan, "restored", principal=OP_A, approver=OP_B)
    assert again.channels == () and again.partners == () and again.releases_requested == ()
    assert not again.changed
    assert rt.exchange.partner_states()["om"].state == "online"


def test_the_first_wave_brings_the_om_back_and_releases_its_checked_quarantine(
    rt: Runtime,
) -> None:
    ex = rt.exchange
    plan = load_plan(builtin_plan_path("om-2025"), rt.chain)
    apply_step(ex, plan, ISOLATION_STEP, principal=OP_A)
    assert ex.partner_states()["om"].state == "isolated"
    ex.submit(principal=partner("politie"), events=[pv_event(case="10-000001-25")])
    ex.submit(principal=partner("om"), events=[om_afdoening(rt, "10-000001-25")])
    assert ex.quarantine_counts()["om"][0] == 1
    assert ex.pull(principal=partner("om"), limit=10) == []
    assert ex.pull(principal=partner("justid"), limit=10) == []

    result = apply_step(ex, plan, "wave-1", principal=OP_A, approver=OP_B)
    assert ("om", "returning") in result.partners
    assert [(p, n) for p, _, n in result.releases_requested] == [("om", 1)]
    assert len(result.releases_approved) == 1
    # Released by two operators: the OM is trusted again and its registration reaches JDS.
    assert ex.partner_states()["om"].state == "online"
    got = ex.pull(principal=partner("justid"), limit=10)
    assert [d.type for d in got] == [om_afdoening(rt, "x")["type"]]
    # The police report to the OM stays held: wave-1 opens only arrests and custody notices.
    assert ex.pull(principal=partner("om"), limit=10) == []
    apply_step(ex, plan, "wave-2", principal=OP_A, approver=OP_B)
    assert len(ex.pull(principal=partner("om"), limit=10)) == 1


def test_without_a_second_operator_the_release_waits(rt: Runtime) -> None:
    ex = rt.exchange
    plan = load_plan(builtin_plan_path("om-2025"), rt.chain)
    apply_step(ex, plan, ISOLATION_STEP, principal=OP_A)
    ex.submit(principal=partner("om"), events=[om_afdoening(rt, "10-000002-25")])
    result = apply_step(ex, plan, "wave-1", principal=OP_A)
    assert result.releases_approved == ()
    assert any("waits for a second operator" in n for n in result.notes)
    assert ex.partner_states()["om"].state == "returning"
    assert ex.pull(principal=partner("justid"), limit=10) == []
    ((_, release_id, _),) = result.releases_requested
    # Applied again, the step does not ask a second time for the same messages (the
    # exchange would refuse it): it says which release waits.
    again = apply_step(ex, plan, "wave-1", principal=OP_A)
    assert again.releases_requested == ()
    assert f"release {release_id} of om waits for a second operator's approval" in again.notes
    assert [r.id for r in ex.releases(partner="om")] == [release_id]
    with pytest.raises(StateConflict):
        ex.approve_release(principal=OP_A, release_id=release_id)
    ex.approve_release(principal=OP_B, release_id=release_id)
    assert len(ex.pull(principal=partner("justid"), limit=10)) == 1


def test_a_wave_brings_a_partner_online_only_with_a_second_operator(rt: Runtime) -> None:
    """Decision 0018: `online` in a wave asks for a release of the partner's quarantine (here
    of nothing); the partner stays returning until another operator approves it, and the step
    applied again does not ask twice."""
    ex = rt.exchange
    plan = load_plan(builtin_plan_path("om-2025"), rt.chain)
    for name in (ISOLATION_STEP, "wave-1", "wave-2", "wave-3"):
        apply_step(ex, plan, name, principal=OP_A)
    assert ex.partner_states()["om"].state == "returning"
    assert ex.releases(partner="om") == []  # nothing waited: wave-1 asked for no release
    preview = apply_step(ex, plan, "restored", principal=OP_A, dry_run=True)
    assert preview.releases_requested == (("om", 0, 0),)
    result = apply_step(ex, plan, "restored", principal=OP_A)
    ((_, release_id, messages),) = result.releases_requested
    assert messages == 0 and result.releases_approved == ()
    assert f"release {release_id} of om waits for a second operator's approval" in result.notes
    assert ex.partner_states()["om"].state == "returning"
    again = apply_step(ex, plan, "restored", principal=OP_A)
    assert again.releases_requested == ()
    assert f"release {release_id} of om waits for a second operator's approval" in again.notes
    assert [r.id for r in ex.releases(partner="om")] == [release_id]
    with pytest.raises(StateConflict):
        ex.approve_release(principal=OP_A, release_id=release_id)
    assert ex.partner_states()["om"].state == "returning"
    ex.approve_release(principal=OP_B, release_id=release_id)
    assert ex.partner_states()["om"].state == "online"
    # With a second operator the same wave brings it online at once.
    apply_step(ex, plan, ISOLATION_STEP, principal=OP_A)
    for name in ("wave-1", "wave-2", "wave-3"):
        apply_step(ex, plan, name, principal=OP_A)
    result = apply_step(ex, plan, "restored", principal=OP_A, approver=OP_B)
    assert len(result.releases_approved) == 1
    assert ex.partner_states()["om"].state == "online"


def test_a_plan_goes_forward_only(rt: Runtime) -> None:
    """wave-1 after wave-2 re-held the OM's channels while the OM stayed online (its traffic no
    longer quarantined), and said nothing of going back."""
    ex = rt.exchange
    plan = load_plan(builtin_plan_path("om-2025"), rt.chain)
    for name in (ISOLATION_STEP, "wave-1", "wave-2"):
        apply_step(ex, plan, name, principal=OP_A, approver=OP_B)
    before = (store_rules(rt), ex.partner_states()["om"].state)
    for dry_run in (True, False):
        said = r"step wave-2 of plan .*, which comes after wave-1, is applied already"
        with pytest.raises(StepOutOfOrder, match=said):
            apply_step(ex, plan, "wave-1", principal=OP_A, approver=OP_B, dry_run=dry_run)
    assert (store_rules(rt), ex.partner_states()["om"].state) == before
    again = apply_step(ex, plan, "wave-2", principal=OP_A, approver=OP_B)  # the same: fine
    assert again.channels == () and again.partners == ()
    for name in ("wave-3", "restored"):
        apply_step(ex, plan, name, principal=OP_A, approver=OP_B)
    # A new incident: the plan runs again from its isolation step, which always may run.
    apply_step(ex, plan, ISOLATION_STEP, principal=OP_A)
    assert ex.partner_states()["om"].state == "isolated"
    apply_step(ex, plan, "wave-1", principal=OP_A, approver=OP_B)
    assert store_rules(rt) == plan_rules(rt, 0)


def test_a_dry_run_changes_nothing(rt: Runtime) -> None:
    ex = rt.exchange
    plan = load_plan(builtin_plan_path("om-2025"), rt.chain)
    apply_step(ex, plan, ISOLATION_STEP, principal=OP_A)
    before = (store_rules(rt), ex.partner_states()["om"].state)
    preview = apply_step(ex, plan, "wave-1", principal=OP_A, dry_run=True)
    assert preview.dry_run and preview.channels and ("om", "returning") in preview.partners
    assert (store_rules(rt), ex.partner_states()["om"].state) == before


def test_unknown_steps_and_non_operators_are_refused(rt: Runtime) -> None:
    plan = load_plan(builtin_plan_path("om-2025"), rt.chain)
    with pytest.raises(ValueError, match=r"no step 'wave-9'.*isolation, wave-1"):
        apply_step(rt.exchange, plan, "wave-9", principal=OP_A)
    with pytest.raises(Forbidden):
        apply_step(rt.exchange, plan, ISOLATION_STEP, principal=VIEWER)
    assert rt.exchange.partner_states()["om"].state == "online"
    assert store_rules(rt) == {}


def paper_procedure(rt: Runtime) -> tuple[ManualWork, InterimProcedure]:
    """The interim procedure for OM registrations to JDS (restored by wave-1)."""
    manual = ManualWork(store=manual_store(rt.store), chain=rt.chain)
    added = manual.add_procedure(
        principal=OP_A,
        process="registratie-justitiele-gegevens",
        replaces="OM registrations to JDS on paper",
        valid_from="2025-07-21",
        partners_informed=["justid"],
    )
    return manual, added


def test_the_plans_priorities_apply_and_restored_processes_retire_their_procedures(
    rt: Runtime,
) -> None:
    ex = rt.exchange
    plan = load_plan(builtin_plan_path("om-2025"), rt.chain)
    manual, added = paper_procedure(rt)
    apply_step(ex, plan, ISOLATION_STEP, principal=OP_A, manual=manual)
    result = apply_step(ex, plan, "wave-1", principal=OP_A, approver=OP_B, manual=manual)
    assert "registratie-justitiele-gegevens" in result.restored_processes
    assert result.procedures_retired == (added.id,)
    assert ex._priorities == {**ex._priorities, **priorities(rt.chain, plan)}


def test_a_wave_applied_after_a_skipped_one_also_does_the_skipped_ones_work(rt: Runtime) -> None:
    """wave-2 right after the isolation set wave-1's rules (they are in the state after it)
    but asked no release of the OM's quarantine and retired no procedure of wave-1's process;
    wave-1 could then never be applied (a plan goes forward only), and that work was lost."""
    ex = rt.exchange
    plan = load_plan(builtin_plan_path("om-2025"), rt.chain)
    manual, added = paper_procedure(rt)
    apply_step(ex, plan, ISOLATION_STEP, principal=OP_A, manual=manual)
    ex.submit(principal=partner("om"), events=[om_afdoening(rt, "10-000003-25")])
    preview = apply_step(ex, plan, "wave-2", principal=OP_A, manual=manual, dry_run=True)
    assert preview.releases_requested == (("om", 0, 1),)
    assert "registratie-justitiele-gegevens" in preview.restored_processes
    assert any(n.startswith("wave-1 was not found applied") for n in preview.notes)
    result = apply_step(ex, plan, "wave-2", principal=OP_A, approver=OP_B, manual=manual)
    assert [(p, n) for p, _, n in result.releases_requested] == [("om", 1)]
    assert len(result.releases_approved) == 1 and added.id in result.procedures_retired
    assert ex.quarantine_counts()["om"][0] == 0
    assert len(ex.pull(principal=partner("justid"), limit=10)) == 1
    # In order, a wave carries nothing over.
    again = apply_step(ex, plan, "wave-3", principal=OP_A, manual=manual, dry_run=True)
    assert not any("not found applied" in n for n in again.notes)


def test_a_restarted_exchange_keeps_the_priorities_the_plan_set(rt: Runtime) -> None:
    plan = load_plan(builtin_plan_path("om-2025"), rt.chain)
    apply_step(rt.exchange, plan, ISOLATION_STEP, principal=OP_A)
    wanted = priorities(rt.chain, plan)
    assert wanted != priorities(rt.chain)  # the agreed priority changes the computed order
    again = bootstrap(rt.settings)
    try:
        assert again.exchange._priorities == wanted
        assert again.store.type_priorities() == wanted
    finally:
        again.close()
