"""Partners send and receive: events in, deliveries out, acknowledgements, failures, trails."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ketenherstel.exchange.bundles import BUNDLE_MEDIA_TYPE, MAX_BUNDLE_BYTES
from ketenherstel.exchange.envelope import BATCH, STRUCTURED, from_binary, parse_body
from ketenherstel.exchange.errors import InvalidInput, StateConflict, UnsupportedMedia
from ketenherstel.web import convert
from ketenherstel.web import schemas as s
from ketenherstel.web.body import JsonBodyRoute, read_limited
from ketenherstel.web.problems import documented as _problem
from ketenherstel.web.security import ExchangeDep, PrincipalDep, ReceiverDep

router = APIRouter(prefix="/v1", tags=["exchange"], route_class=JsonBodyRoute)

_EVENT_BODY = {
    "requestBody": {
        "required": True,
        "description": "One CloudEvent (structured mode), a batch, or binary mode (ce- headers)",
        "content": {
            STRUCTURED: {"schema": {"type": "object"}},
            BATCH: {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


@router.post(
    "/events",
    summary="Submit one CloudEvent or a batch",
    operation_id="submitEvents",
    status_code=201,
    response_model=s.SubmissionRead,
    openapi_extra=_EVENT_BODY,
    responses={
        200: {"description": "Every event was a duplicate of one already stored"},
        400: _problem("The submission is invalid; every problem is listed; nothing was stored"),
        403: _problem("An event's source is not the caller, or a type it may not send"),
        409: _problem("An event id was used before with a different body"),
        413: _problem("The request body is too large"),
        415: _problem("The content type is not a CloudEvents JSON format"),
    },
)
async def submit_events(
    request: Request, exchange: ExchangeDep, principal: PrincipalDep
) -> Response:
    body = await read_limited(request, exchange.settings.limits.max_body_bytes)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if "ce-specversion" in request.headers:
            raw_ctype = request.headers.get("content-type", "").strip()
            events: list[Any] = [from_binary(request.headers, body, raw_ctype)]
        elif ctype in (STRUCTURED, BATCH, "application/json"):
            events, _ = parse_body(body, ctype)
        else:
            raise UnsupportedMedia(
                f"send {STRUCTURED}, {BATCH}, or binary mode with ce- headers; not {ctype!r}"
            )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    result = await exchange.submit_async(principal=principal, events=events)
    # Built with orjson directly: for 1,000-event batches, validating the answer through
    # pydantic cost more than a tenth of the request. The shape is SubmissionRead's.
    answer = {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "results": [
            {
                "index": i,
                "id": env.id,
                "source": env.source,
                "status": out.status,
                "position": out.position,
                "deliveries": out.deliveries,
                "by": out.by or None,
                "quarantined": out.quarantined,
            }
            for i, (env, out) in enumerate(zip(result.envelopes, result.outcomes, strict=True))
        ],
        "sequenceGaps": [
            {"source": src, "missing": [{"first": a, "last": b} for a, b in ranges]}
            for src, ranges in result.gaps.items()
        ],
    }
    return Response(
        orjson.dumps(answer),
        status_code=201 if result.accepted else 200,
        media_type="application/json",
    )


@router.get(
    "/deliveries",
    summary="Lease the next deliveries addressed to the caller",
    operation_id="pullDeliveries",
    response_model=s.DeliveryPage,
    responses={400: _problem("A parameter is out of range"), 403: _problem("Not a partner")},
)
async def pull_deliveries(
    exchange: ExchangeDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    visibility_timeout: Annotated[
        float | None, Query(alias="visibilityTimeout", ge=1, le=3600)
    ] = None,
    wait: Annotated[float, Query(ge=0, le=30, description="Long-poll for up to this many s")] = 0,
) -> s.DeliveryPage:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        leased = await run_in_threadpool(
            exchange.pull, principal=principal, limit=limit, visibility=visibility_timeout
        )
        if leased or loop.time() >= deadline:
            break
        await asyncio.sleep(min(0.2, max(deadline - loop.time(), 0)))
    return s.DeliveryPage(
        deliveries=[
            s.DeliveryRead(
                delivery_id=d.delivery_id,
                attempt=d.attempts,
                lease_until=s.ts(d.lease_until),
                supersedes=f"{d.supersedes[0]} {d.supersedes[1]}" if d.supersedes else None,
                event=orjson.loads(d.body),
            )
            for d in leased
        ]
    )


@router.post(
    "/acknowledgements",
    summary="Acknowledge deliveries as processed",
    operation_id="acknowledgeDeliveries",
    response_model=s.AcknowledgementRead,
    responses={400: _problem("No or too many delivery ids"), 403: _problem("Not a partner")},
)
async def acknowledge(
    body: s.AcknowledgementCreate, exchange: ExchangeDep, principal: ReceiverDep
) -> s.AcknowledgementRead:
    results = await run_in_threadpool(
        exchange.ack, principal=principal, delivery_ids=body.delivery_ids
    )
    return s.AcknowledgementRead(
        results=[s.AckResultRead(delivery_id=r.delivery_id, status=r.status) for r in results]
    )


@router.post(
    "/deliveries/{deliveryId}/failures",
    summary="Report that a delivery could not be processed (nack)",
    operation_id="reportDeliveryFailure",
    response_model=s.FailureRead,
    responses={
        400: _problem(
            "No reason given, or one with control or invisible characters or personal data"
        ),
        403: _problem("Not a partner"),
        404: _problem("The caller has no such delivery"),
        409: _problem(
            "Already acknowledged or dead-lettered, never handed out (not-delivered), or not "
            "leased now (nacked already or its lease ran out: it is delivered again)"
        ),
    },
)
async def report_failure(
    delivery_id: Annotated[int, Path(alias="deliveryId")],
    body: s.FailureCreate,
    exchange: ExchangeDep,
    principal: ReceiverDep,
) -> s.FailureRead:
    result = await run_in_threadpool(
        exchange.nack,
        principal=principal,
        delivery_id=delivery_id,
        reason=body.reason,
        retry_after=body.retry_after,
    )
    if result.status == "retry" or result.status == "dead":
        return s.FailureRead(
            delivery_id=result.delivery_id,
            status=result.status,
            retry_at=s.ts(result.not_before),
            attempts=result.attempts,
        )
    if result.status == "not-leased":
        raise StateConflict(
            f"delivery {delivery_id} is not leased to you now (nacked already, or its lease ran "
            "out): it is delivered again; nothing changed"
        )
    raise StateConflict(f"delivery {delivery_id} is {result.status}; nothing changed")


@router.get(
    "/messages/{source}/{id:path}",
    summary="The trail of one message: accepted, routed, holds and openings, leases, acks, "
    "failures, re-sends",
    operation_id="getMessageTrail",
    response_model=s.TrailRead,
    responses={404: _problem("No such message that the caller may see")},
)
async def message_trail(
    source: str, id: str, exchange: ExchangeDep, principal: PrincipalDep
) -> s.TrailRead:
    t = await run_in_threadpool(exchange.trail, principal=principal, source=source, id=id)
    m = t.message
    return s.TrailRead(
        source=m.source,
        id=m.id,
        type=m.type,
        sender=m.sender,
        subject=m.subject,
        partitionkey=m.partitionkey,
        sequence=m.sequence,
        content_hash=m.content_hash,
        received_at=s.ts(m.received_at),
        deliveries=[convert.delivery(d) for d in t.deliveries],
        trail=[convert.trail_entry(e) for e in t.entries],
        answered_as_duplicate=t.asked is not None,
    )


@router.get(
    "/sequences/{source}",
    summary="A source's gap-free sequence watermark and its gaps",
    operation_id="getSequence",
    response_model=s.SequenceRead,
    responses={404: _problem("No sequenced events from this source that the caller may see")},
)
async def sequence(source: str, exchange: ExchangeDep, principal: PrincipalDep) -> s.SequenceRead:
    st = await run_in_threadpool(exchange.sequence, principal=principal, source=source)
    return s.SequenceRead(
        source=st.source,
        contiguous=st.contiguous,
        max_seen=st.max_seen,
        gaps=[s.Range(first=a, last=b) for a, b in st.gaps],
    )


@router.post(
    "/bundles",
    summary="Import a signed offline bundle an edge outbox exported while cut off",
    operation_id="importBundle",
    status_code=201,
    response_model=s.BundleImportRead,
    description=(
        "The body is the bundle file as `ketenherstel outbox export` wrote it, sent as "
        f"`Content-Type: {BUNDLE_MEDIA_TYPE}`; a body of another type (or with none) is "
        "refused with 415 before it is read."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The signed bundle file, byte for byte",
            "content": {BUNDLE_MEDIA_TYPE: {"schema": {"type": "string"}}},
        }
    },
    responses={
        400: _problem("The bundle is malformed, truncated, tampered, foreign or has a gap"),
        403: _problem("Viewers cannot import"),
        409: _problem("The bundle, or its sequences, were imported before"),
        413: _problem("The bundle is too large"),
        415: _problem(f"The body is not sent as a bundle (Content-Type: {BUNDLE_MEDIA_TYPE})"),
    },
)
async def import_bundle(
    request: Request, exchange: ExchangeDep, principal: PrincipalDep
) -> s.BundleImportRead:
    raw = request.headers.get("content-type", "")
    ctype = raw.split(";")[0].strip().lower()
    if ctype != BUNDLE_MEDIA_TYPE:  # before up to MAX_BUNDLE_BYTES of it are read
        sent = f"not as {ctype!r}" if ctype else "it came with no Content-Type"
        raise UnsupportedMedia(f"send the bundle file as {BUNDLE_MEDIA_TYPE}, {sent}")
    body = await read_limited(request, MAX_BUNDLE_BYTES, "the bundle")
    result = await run_in_threadpool(exchange.import_bundle, principal=principal, data=body)
    return s.BundleImportRead(
        source=result.source,
        first_sequence=result.first_sequence,
        last_sequence=result.last_sequence,
        digest=result.digest,
        accepted=result.accepted,
        duplicates=result.duplicates,
        quarantined=result.quarantined,
        crlf_line_ends=result.crlf,
    )
