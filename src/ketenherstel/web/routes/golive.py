"""Go-live plans: read the built-in plans and run one step of a plan on the exchange.

Viewers read; operators run a step. A step's quarantine releases are only asked for here: a
second operator approves each through the quarantine API.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from ketenherstel.exchange.errors import InvalidInput, NotFound, StateConflict
from ketenherstel.golive.errors import PlanError
from ketenherstel.golive.model import Plan
from ketenherstel.golive.plan import BUILTIN_PLANS, builtin_plan_path, load_plan
from ketenherstel.recovery.steps import StepOutOfOrder, StepResult, apply_step, plan_steps
from ketenherstel.web import schemas_golive as sg
from ketenherstel.web.body import JsonBodyRoute
from ketenherstel.web.problems import documented as _problem
from ketenherstel.web.routes.manual import ManualDep
from ketenherstel.web.security import ExchangeDep, OperatorDep, ViewerDep

router = APIRouter(prefix="/v1", tags=["go-live"], route_class=JsonBodyRoute)

PlanName = Annotated[str, Path(alias="planName", pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


def _plan(exchange: Any, name: str) -> Plan:
    try:
        path = builtin_plan_path(name)
    except KeyError as exc:
        raise NotFound(str(exc.args[0])) from None
    try:
        return load_plan(path, exchange.chain)
    except PlanError as exc:  # a built-in plan that no longer fits the chain model
        raise InvalidInput(f"plan {name!r} does not fit the chain model: {exc}") from None


def _summary(plan: Plan) -> sg.PlanSummaryRead:
    return sg.PlanSummaryRead(
        name=plan.name,
        description=plan.description,
        steps=[sg.PlanStepRead(name=n, at=at) for n, at in plan_steps(plan)],
    )


@router.get(
    "/go-live-plans",
    summary="The built-in go-live plans with their steps",
    operation_id="listGoLivePlans",
    responses={403: _problem("Needs the viewer or operator role")},
)
async def list_plans(exchange: ExchangeDep, _: ViewerDep) -> list[sg.PlanSummaryRead]:
    names = sorted(p.stem for p in BUILTIN_PLANS.glob("*.yaml"))
    return [_summary(_plan(exchange, name)) for name in names]


@router.get(
    "/go-live-plans/{planName}",
    summary="One go-live plan: isolation, agreed priorities, waves and steps",
    operation_id="getGoLivePlan",
    responses={403: _problem("Needs the viewer role"), 404: _problem("No such plan")},
)
async def get_plan(name: PlanName, exchange: ExchangeDep, _: ViewerDep) -> sg.PlanRead:
    plan = _plan(exchange, name)
    summary = _summary(plan)
    return sg.PlanRead(**summary.model_dump(), plan=plan.to_dict())


def _result(plan: Plan, r: StepResult) -> sg.StepRunRead:
    return sg.StepRunRead(
        plan=plan.name,
        step=r.step,
        at=r.at,
        dry_run=r.dry_run,
        changed=r.changed,
        partners=[sg.PartnerChangeRead(partner=p, state=s) for p, s in r.partners],
        channels=[
            sg.ChannelChangeRead(
                receiver=c.receiver,
                sender=c.sender,
                scope=c.scope,
                state=c.state,
                rate_per_second=c.rate,
                why=c.why,
            )
            for c in r.channels
        ],
        releases_requested=[
            sg.ReleaseRequestRead(partner=p, release_id=i or None, messages=n)
            for p, i, n in r.releases_requested
        ],
        priorities_changed=r.priorities_changed,
        restored_processes=list(r.restored_processes),
        procedures_retired=list(r.procedures_retired),
        notes=list(r.notes),
    )


@router.post(
    "/go-live-plans/{planName}/steps/{stepName}/runs",
    summary="Run one step of a plan: partner states, channel rules, priorities, "
    "quarantine release requests, interim procedures retired",
    operation_id="runGoLiveStep",
    responses={
        400: _problem("Invalid input or unknown step; nothing was changed"),
        403: _problem("Needs the operator role"),
        404: _problem("No such plan"),
        409: _problem(
            "The store is not at a state this step follows (a wave before the plan's "
            "isolation step); nothing was changed"
        ),
    },
)
async def run_step(
    name: PlanName,
    step: Annotated[str, Path(alias="stepName", min_length=1, max_length=100)],
    body: sg.StepRunCreate,
    exchange: ExchangeDep,
    manual: ManualDep,
    principal: OperatorDep,
) -> sg.StepRunRead:
    plan = _plan(exchange, name)
    if step not in {n for n, _ in plan_steps(plan)}:
        known = ", ".join(n for n, _ in plan_steps(plan))
        raise InvalidInput(f"plan {name!r} has no step {step!r}; its steps are: {known}")
    try:
        result = await run_in_threadpool(
            apply_step,
            exchange,
            plan,
            step,
            principal=principal,
            manual=manual,
            dry_run=body.dry_run,
        )
    except StepOutOfOrder as exc:  # as the CLI says it: the step does not follow the store
        raise StateConflict(str(exc)) from None
    return _result(plan, result)
