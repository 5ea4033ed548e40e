"""Isolation (0008): partner states, emergency routes and the quarantine of a returning partner.

Viewers read; operators write. Releasing a quarantine takes two operators: one asks, another
approves.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from ketenherstel.exchange.isolation import MAX_EXPECTED, QuarantineCheck
from ketenherstel.store.ports import (
    MessageRecord,
    PartnerStateRecord,
    QuarantineRelease,
    RouteRecord,
)
from ketenherstel.web import schemas_isolation as si
from ketenherstel.web.body import JsonBodyRoute
from ketenherstel.web.problems import documented as _problem
from ketenherstel.web.schemas import Range, SequenceGap, ts
from ketenherstel.web.security import ExchangeDep, OperatorDep, ViewerDep

router = APIRouter(prefix="/v1", tags=["isolation"], route_class=JsonBodyRoute)


_READ: dict[int | str, dict[str, Any]] = {
    400: _problem("Unknown partner or limit out of range"),
    403: _problem("Needs the viewer or operator role"),
}
_WRITE: dict[int | str, dict[str, Any]] = {
    400: _problem("Invalid input; nothing was changed"),
    403: _problem("Needs the operator role"),
}


# -- conversions ---------------------------------------------------------------------------


def _state(r: PartnerStateRecord) -> si.PartnerStateRead:
    changed = bool(r.changed_by)
    return si.PartnerStateRead(
        partner=r.partner,
        state=r.state,
        reason=r.reason,
        changed_at=ts(r.changed_at) if changed else None,
        changed_by=r.changed_by if changed else None,
    )


def _route(r: RouteRecord) -> si.RouteRead:
    return si.RouteRead(
        id=r.id,
        type=r.type,
        sender=r.sender,
        around=r.around,
        receiver=r.receiver,
        superseded_by=r.superseded_by,
        reason=r.reason,
        opened_at=ts(r.opened_at),
        opened_by=r.opened_by,
        closed_at=ts(r.closed_at),
        closed_by=r.closed_by,
        closed_reason=r.closed_reason,
    )


def _message(m: MessageRecord) -> si.QuarantinedMessageRead:
    return si.QuarantinedMessageRead(
        position=m.position,
        source=m.source,
        id=m.id,
        sender=m.sender,
        type=m.type,
        received_at=ts(m.received_at),
    )


def _gaps(gaps: dict[str, Any]) -> list[SequenceGap]:
    return [
        SequenceGap(source=source, missing=[Range(first=a, last=b) for a, b in ranges])
        for source, ranges in gaps.items()
    ]


def _check(c: QuarantineCheck) -> si.QuarantineCheckRead:
    return si.QuarantineCheckRead(
        partner=c.partner,
        messages=c.messages,
        schema_failures=c.schema_failures,
        sequence_gaps=_gaps(c.sequence_gaps),
        key_conflicts=c.key_conflicts,
        paper_conflicts=c.paper_conflicts,
        other_conflicts=c.other_conflicts,
        repeats=c.repeats,
        supersessions=c.supersessions,
        expected=c.expected,
        findings=c.findings,
        clean=c.clean,
    )


def _stored_check(text: str) -> si.QuarantineCheckRead | None:
    """The check as stored with the release (`QuarantineCheck.to_json`), read as it was
    written (by the standard library's json, which also reads an integer orjson cannot, such
    as an expected volume stored before it was bounded); None if it cannot be read."""
    try:
        doc = json.loads(text)
        findings = [str(f) for f in doc.get("findings", [])]
        return si.QuarantineCheckRead(
            partner=doc["partner"],
            messages=doc["messages"],
            schema_failures=doc["schemaFailures"],
            sequence_gaps=_gaps(doc.get("sequenceGaps", {})),
            key_conflicts=doc["keyConflicts"],
            paper_conflicts=doc.get("paperConflicts", 0),  # checks stored before they existed
            other_conflicts=doc.get("otherConflicts", 0),
            repeats=doc.get("repeats", 0),
            supersessions=doc["supersessions"],
            expected=doc.get("expected"),
            findings=findings,
            clean=not findings,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _release(
    r: QuarantineRelease, check: si.QuarantineCheckRead | None, note: str | None = None
) -> si.ReleaseRead:
    return si.ReleaseRead(
        id=r.id,
        partner=r.partner,
        up_to_position=r.up_to_pos,
        messages=r.messages,
        reason=r.reason,
        requested_by=r.requested_by,
        requested_at=ts(r.requested_at),
        approved_by=r.approved_by,
        approved_at=ts(r.approved_at),
        check=check,
        note=note,
    )


# -- partner states ------------------------------------------------------------------------


@router.get(
    "/partner-states",
    summary="Every partner's state: online, isolated or returning",
    operation_id="listPartnerStates",
    responses={403: _READ[403]},
)
async def list_partner_states(exchange: ExchangeDep, _: ViewerDep) -> list[si.PartnerStateRead]:
    states = await run_in_threadpool(exchange.partner_states)
    return [_state(r) for r in states.values()]


@router.put(
    "/partner-states/{partner}",
    summary="Isolate a partner or let it return (it comes online by an approved release)",
    operation_id="setPartnerState",
    responses={
        **_WRITE,
        409: _problem(
            "Not allowed from the partner's current state (online is refused to an isolated "
            "or returning partner: an approved quarantine release brings it online)"
        ),
    },
)
async def set_partner_state(
    partner: str, body: si.PartnerStateUpdate, exchange: ExchangeDep, principal: OperatorDep
) -> si.PartnerStateRead:
    record = await run_in_threadpool(
        exchange.set_partner_state,
        principal=principal,
        partner=partner,
        state=body.state,
        reason=body.reason,
    )
    return _state(record)


@router.get(
    "/partner-events",
    summary="Every change of a partner's state, newest first: who, when and why",
    operation_id="listPartnerEvents",
    responses=_READ,
)
async def list_partner_events(
    exchange: ExchangeDep,
    _: ViewerDep,
    partner: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[si.PartnerStateRead]:
    records = await run_in_threadpool(exchange.partner_history, partner=partner, limit=limit)
    return [_state(r) for r in records]


# -- emergency routes ----------------------------------------------------------------------


@router.get(
    "/emergency-routes",
    summary="Emergency routes, open and closed",
    operation_id="listEmergencyRoutes",
    responses={403: _READ[403]},
)
async def list_routes(exchange: ExchangeDep, _: ViewerDep) -> list[si.RouteRead]:
    return [_route(r) for r in await run_in_threadpool(exchange.routes)]


@router.post(
    "/emergency-routes",
    summary="Send a type from a sender also to a receiver while another partner is dark",
    operation_id="openEmergencyRoute",
    status_code=201,
    responses={**_WRITE, 409: _problem("Such a route is already open")},
)
async def open_route(
    body: si.RouteCreate, exchange: ExchangeDep, principal: OperatorDep
) -> si.RouteRead:
    record = await run_in_threadpool(
        exchange.open_route,
        principal=principal,
        type=body.type,
        sender=body.sender,
        around=body.around,
        receiver=body.receiver,
        superseded_by=body.superseded_by,
        reason=body.reason,
    )
    return _route(record)


@router.post(
    "/emergency-routes/{routeId}/closure",
    summary="Close an emergency route",
    operation_id="closeEmergencyRoute",
    responses={**_WRITE, 404: _problem("No such route"), 409: _problem("Already closed")},
)
async def close_route(
    route_id: Annotated[int, Path(alias="routeId")],
    body: si.RouteClosureCreate,
    exchange: ExchangeDep,
    principal: OperatorDep,
) -> si.RouteRead:
    record = await run_in_threadpool(
        exchange.close_route, principal=principal, route_id=route_id, reason=body.reason
    )
    return _route(record)


# -- quarantine ----------------------------------------------------------------------------


@router.get(
    "/quarantine",
    summary="What returning partners sent: counts per sender and the waiting messages "
    "(without their data)",
    operation_id="getQuarantine",
    responses=_READ,
)
async def get_quarantine(
    exchange: ExchangeDep,
    principal: ViewerDep,
    partner: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> si.QuarantineRead:
    messages = await run_in_threadpool(
        exchange.quarantined, principal=principal, partner=partner, limit=limit
    )
    counts = await run_in_threadpool(exchange.quarantine_counts)
    return si.QuarantineRead(
        counts=[
            si.QuarantineCountRead(sender=sender, waiting=waiting, released=released)
            for sender, (waiting, released) in sorted(counts.items())
            if partner is None or sender == partner
        ],
        messages=[_message(m) for m in messages],
    )


@router.get(
    "/quarantine/{partner}/check",
    summary="Check a partner's quarantine: schemas, sequences, business keys, volume",
    operation_id="checkQuarantine",
    responses=_READ,
)
async def check_quarantine(
    partner: str,
    exchange: ExchangeDep,
    _: ViewerDep,
    expected: Annotated[int | None, Query(ge=0, le=MAX_EXPECTED)] = None,
) -> si.QuarantineCheckRead:
    check = await run_in_threadpool(exchange.check_quarantine, partner=partner, expected=expected)
    return _check(check)


@router.get(
    "/quarantine-releases",
    summary="Releases asked for and approved, with the check each was asked on",
    operation_id="listQuarantineReleases",
    responses=_READ,
)
async def list_releases(
    exchange: ExchangeDep, _: ViewerDep, partner: str | None = None
) -> list[si.ReleaseRead]:
    records = await run_in_threadpool(exchange.releases, partner=partner)
    return [_release(r, _stored_check(r.checks)) for r in records]


@router.post(
    "/quarantine-releases",
    summary="Check a partner's quarantine and ask for its release (a second operator approves)",
    operation_id="requestQuarantineRelease",
    status_code=201,
    responses={
        **_WRITE,
        409: _problem(
            "Nothing waits in the partner's quarantine, or a release of the same messages with "
            "the same check waits for approval"
        ),
    },
)
async def request_release(
    body: si.ReleaseCreate, exchange: ExchangeDep, principal: OperatorDep
) -> si.ReleaseRead:
    release, check = await run_in_threadpool(
        exchange.request_release,
        principal=principal,
        partner=body.partner,
        reason=body.reason,
        expected=body.expected,
    )
    return _release(release, _check(check))


@router.post(
    "/quarantine-releases/{releaseId}/approval",
    summary="Approve a release; it must be another operator than the one who asked",
    operation_id="approveQuarantineRelease",
    responses={
        **_WRITE,
        404: _problem("No such release"),
        409: _problem("Already approved, or asked for by the same operator"),
    },
)
async def approve_release(
    release_id: Annotated[int, Path(alias="releaseId")],
    exchange: ExchangeDep,
    principal: OperatorDep,
) -> si.ReleaseRead:
    approval = await run_in_threadpool(
        exchange.approve_release, principal=principal, release_id=release_id
    )
    release = approval.release
    return _release(release, _stored_check(release.checks), approval.note)
