"""The gateway watch over HTTP (decision 0012): the findings register, the allowlist, and the
verdicts and reports the last `gateway report` wrote.

Findings and reports name users and addresses: operators only, and every read is audited.
Viewers get the counts per rule, status and confidence, and each organisation's verdict.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from ketenherstel.exchange.errors import InvalidInput, NotFound, StateConflict
from ketenherstel.gateway.register import AllowEntry, Register, RegisterConflict, kept_reason
from ketenherstel.gateway.verdict import read_verdicts
from ketenherstel.gateway.watch import GatewayInputError
from ketenherstel.store.ports import AuditRecord
from ketenherstel.web import schemas_gateway as s
from ketenherstel.web.body import JsonBodyRoute
from ketenherstel.web.problems import documented as _problem
from ketenherstel.web.security import OperatorDep, ViewerDep

router = APIRouter(prefix="/v1", tags=["gateway"], route_class=JsonBodyRoute)
FindingId = Annotated[str, Path(pattern=s.FINDING_PATTERN, description="The finding's id")]
Organisation = Annotated[
    str, Path(pattern=s.ORGANISATION_PATTERN, description="The organisation's slug")
]
NO_REPORT = (
    "no gateway report has been made for this store yet "
    "(ketenherstel gateway report FILES --as NAME, or the demo, makes one)"
)


def _register(request: Request) -> Register:
    """The store's register, with what a process killed before it could copy an audit record
    to the store's audit trail copied there first (decision 0019)."""
    rt = request.app.state.runtime
    try:
        kept = Register(FsPath(rt.settings.gateway_register_location()))
        kept.copy_audits(rt.store)
    except GatewayInputError as exc:
        raise StateConflict(str(exc)) from None
    return kept


def _audit(request: Request, who: str, action: str, obj: str, detail: str = "") -> None:
    rt = request.app.state.runtime
    rt.store.audit(AuditRecord(rt.exchange.clock(), who, action, obj, detail))


@router.get(
    "/gateway/findings",
    summary="The findings register (operators; every read is audited)",
    operation_id="listGatewayFindings",
    responses={403: _problem("Operators")},
)
async def list_findings(
    request: Request,
    principal: OperatorDep,
    status: Annotated[
        str | None, Query(pattern=r"^(new|under-review|false-positive|confirmed)$")
    ] = None,
) -> list[s.FindingRead]:
    kept = await run_in_threadpool(_register, request)
    _audit(request, principal.name, "gateway-findings-read", status or "*")
    return [s.FindingRead.model_validate(r.to_json()) for r in kept.listed(status)]


@router.get(
    "/gateway/findings/{finding_id}",
    summary="One finding with its evidence and decisions",
    operation_id="getGatewayFinding",
    responses={403: _problem("Operators"), 404: _problem("No such finding")},
)
async def get_finding(
    request: Request, finding_id: FindingId, principal: OperatorDep
) -> s.FindingRead:
    kept = await run_in_threadpool(_register, request)
    reg = kept.findings.get(finding_id)
    if reg is None:
        raise NotFound(f"no finding {finding_id!r} in the register")
    _audit(request, principal.name, "gateway-finding-read", finding_id)
    return s.FindingRead.model_validate(reg.to_json())


@router.post(
    "/gateway/findings/{finding_id}/decisions",
    summary="Decide on a finding: under review, false positive (with a reason), confirmed",
    operation_id="createGatewayFindingDecision",
    responses={
        400: _problem(
            "A bad status, no reason for a false positive, or a reason over 500 characters "
            "or with a control character"
        ),
        403: _problem("Operators"),
        404: _problem("No such finding"),
        409: _problem("The finding's status does not allow this move"),
    },
)
async def decide(
    request: Request, finding_id: FindingId, body: s.DecisionIn, principal: OperatorDep
) -> s.FindingRead:
    kept = await run_in_threadpool(_register, request)
    if finding_id not in kept.findings:
        raise NotFound(f"no finding {finding_id!r} in the register")
    needed = "a false positive needs a reason" if body.status == "false-positive" else ""
    try:  # bad input is a 400 (the register's own refusal below is a state it is in: 409)
        kept_reason(body.reason, needed=needed)
    except GatewayInputError as exc:
        raise InvalidInput(str(exc)) from None
    rt = request.app.state.runtime
    try:  # audited in the store as `gateway decide` audits it, as it is kept (decision 0019)
        reg = await run_in_threadpool(
            kept.decide,
            finding_id,
            body.status,
            by=principal.name,
            reason=body.reason,
            trail=rt.store,
            at=rt.exchange.clock(),
        )
    except GatewayInputError as exc:
        raise StateConflict(str(exc)) from None
    return s.FindingRead.model_validate(reg.to_json())


@router.get(
    "/gateway/summary",
    summary="The register in counts per rule, status and confidence (no person in them)",
    operation_id="getGatewaySummary",
    responses={403: _problem("Viewers and operators")},
)
async def summary(request: Request, _: ViewerDep) -> list[s.CountRead]:
    kept = await run_in_threadpool(_register, request)
    counts = Counter(
        (r.finding["rule"], r.status, r.finding["confidence"]) for r in kept.findings.values()
    )
    return [
        s.CountRead(rule=rule, status=status, confidence=conf, count=n)
        for (rule, status, conf), n in sorted(counts.items())
    ]


@router.get(
    "/gateway/allowlist",
    summary="Networks sessions may move to, with reason and expiry",
    operation_id="listGatewayAllowlist",
    responses={403: _problem("Operators")},
)
async def allowlist(request: Request, _: OperatorDep) -> list[s.AllowRead]:
    kept = await run_in_threadpool(_register, request)
    today = datetime.now(UTC).date()
    return [_allow_read(a, today) for a in kept.allowlist]


@router.post(
    "/gateway/allowlist",
    status_code=201,
    summary="Allow a network until a date, with a reason (audited)",
    operation_id="createGatewayAllowEntry",
    responses={
        400: _problem("Not a network, no reason (or one with a control character), or a past date"),
        403: _problem("Operators"),
        409: _problem("The network is allowed already (withdraw it first to change it)"),
    },
)
async def allow(request: Request, body: s.AllowIn, principal: OperatorDep) -> s.AllowRead:
    kept = await run_in_threadpool(_register, request)
    rt = request.app.state.runtime
    # An allowed network clears hijacks into it: who allowed it is in the audit trail, as
    # `gateway allow` records it (the reason, which may name someone, stays in the register),
    # kept with the entry (decision 0019).
    try:
        a = await run_in_threadpool(
            kept.allow,
            body.network,
            reason=body.reason,
            until=body.until,
            by=principal.name,
            trail=rt.store,
            at=rt.exchange.clock(),
        )
    except RegisterConflict as exc:
        raise StateConflict(str(exc)) from None
    except GatewayInputError as exc:
        raise InvalidInput(str(exc)) from None
    return _allow_read(a, datetime.now(UTC).date())


@router.post(
    "/gateway/allowlist/withdrawals",
    status_code=201,
    summary="End a network's allowlist entries before their date, with a reason (audited)",
    operation_id="createGatewayAllowWithdrawal",
    responses={
        400: _problem("Not on the allowlist, or no reason (or one with a control character)"),
        403: _problem("Operators"),
        409: _problem("The network's entries were withdrawn already"),
    },
)
async def withdraw_allowed(
    request: Request, body: s.AllowWithdrawIn, principal: OperatorDep
) -> list[s.AllowRead]:
    """As `gateway withdraw`: the entries it ends, with who withdrew them and why; from then on
    a session moving into the network is a hijack again."""
    kept = await run_in_threadpool(_register, request)
    rt = request.app.state.runtime
    try:  # audited as `gateway withdraw` audits it, as it is kept (decision 0019)
        ended = await run_in_threadpool(
            kept.withdraw,
            body.network,
            reason=body.reason,
            by=principal.name,
            trail=rt.store,
            at=rt.exchange.clock(),
        )
    except RegisterConflict as exc:
        raise StateConflict(str(exc)) from None
    except GatewayInputError as exc:
        raise InvalidInput(str(exc)) from None
    today = datetime.now(UTC).date()
    return [_allow_read(a, today) for a in ended]


def _verdicts(request: Request) -> tuple[FsPath, dict[str, Any]]:
    folder = FsPath(request.app.state.runtime.settings.gateway_report_location())
    try:
        data = read_verdicts(folder)
    except GatewayInputError as exc:
        raise StateConflict(str(exc)) from None
    if data is None:
        raise NotFound(NO_REPORT)
    return folder, data


@router.get(
    "/gateway/verdicts",
    summary="Each client organisation's verdict from the last report, and what it rests on",
    operation_id="getGatewayVerdicts",
    responses={403: _problem("Viewers and operators"), 404: _problem("No report made yet")},
)
async def get_verdicts(request: Request, _: ViewerDep) -> s.VerdictsRead:
    _folder, data = await run_in_threadpool(_verdicts, request)
    try:
        return s.VerdictsRead.model_validate(data)
    except ValidationError as exc:
        raise StateConflict(
            f"verdicts.json is not in the current form ({exc.error_count()} problems); "
            "make the report again"
        ) from None


@router.get(
    "/gateway/reports/{organisation}",
    summary="The Dutch report for one organisation (operators; names users; the read is audited)",
    operation_id="getGatewayReport",
    responses={
        200: {"content": {"text/html": {}}, "description": "The report"},
        403: _problem("Operators"),
        404: _problem("No report made yet, or none for this organisation"),
    },
)
async def get_report(
    request: Request, organisation: Organisation, principal: OperatorDep
) -> Response:
    folder, data = await run_in_threadpool(_verdicts, request)
    row = next((v for v in data["verdicts"] if v.get("slug") == organisation), None)
    if row is None:
        known = ", ".join(str(v.get("slug")) for v in data["verdicts"]) or "none"
        raise NotFound(f"the last report has no organisation {organisation!r} (it has: {known})")
    try:
        body = await run_in_threadpool((folder / str(row["report"])).read_bytes)
    except OSError:
        raise NotFound(f"the report for {organisation!r} is missing from {folder}") from None
    _audit(request, principal.name, "gateway-report-read", organisation)
    return Response(body, media_type="text/html")


def _allow_read(a: AllowEntry, today: date) -> s.AllowRead:
    return s.AllowRead(
        id=a.id,
        network=a.network,
        reason=a.reason,
        until=a.until,
        added_by=a.added_by,
        added_at=a.added_at,
        active=a.active(today),
        withdrawn=a.withdrawn,
    )
