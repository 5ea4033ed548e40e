"""The picture over HTTP (decision 0013): the measured series, the recovery matrix, the
briefing's figures for any reference date, and briefings. Aggregates only: nothing personal, and
people appear by role. Viewers read; operators make and approve briefings."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ketenherstel.briefings import BriefingService
from ketenherstel.exchange.errors import InvalidInput, NotFound, Problem, StateConflict
from ketenherstel.picture import briefing
from ketenherstel.picture.series import KINDS, TZ
from ketenherstel.picture.service import Picture, PictureInputError
from ketenherstel.web.problems import documented as _problem
from ketenherstel.web.security import OperatorDep, ViewerDep

router = APIRouter(prefix="/v1", tags=["picture"])
_DATE = r"^\d{4}-\d{2}-\d{2}$"


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class SeriesDay(_Model):
    date: str
    inflow: int
    outflow: int
    backlog: int
    missed: int
    oldest_hours: float | None = Field(alias="oldestHours")
    lead_median_hours: float | None = Field(alias="leadMedianHours")
    lead_p90_hours: float | None = Field(alias="leadP90Hours")


class SeriesRead(_Model):
    kind: str
    key: str
    as_of: str = Field(alias="asOf", description="The store's last change the figures include")
    days: list[SeriesDay]


class MatrixCell(_Model):
    partner: str
    channel: str
    label: str
    state: str = Field(description="down, manual, draining or normal")
    since: str | None
    reason: str
    backlog: int
    forecast: str | None = Field(description="Expected back to normal (date), if draining")
    hand_set: bool = Field(alias="handSet")


class MatrixChange(_Model):
    at: str
    partner: str
    channel: str
    state: str
    reason: str


class MatrixRead(_Model):
    as_of: str = Field(alias="asOf")
    cells: list[MatrixCell]
    changes: list[MatrixChange]


class BriefingIn(_Model):
    reference_date: str = Field(alias="referenceDate", pattern=_DATE, examples=["2025-08-15"])


class BriefingRead(_Model):
    id: int
    reference_date: str = Field(alias="referenceDate")
    state: str = Field(description="draft or approved")
    created_at: str = Field(alias="createdAt")
    approved_at: str | None = Field(alias="approvedAt")
    figures: dict[str, Any] = Field(description="Every figure, frozen at the reference date")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, TZ).isoformat()


def _picture(request: Request) -> Picture:
    picture: Picture = request.app.state.picture
    return picture


def _briefings(request: Request) -> BriefingService:
    service: BriefingService = request.app.state.briefings
    return service


def _day(service: BriefingService, text: str) -> date:
    """The reference date, a day the picture measured; InvalidInput naming the field."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"referenceDate {text!r} is not a date (YYYY-MM-DD)",
            [Problem(None, "referenceDate", "not a date (YYYY-MM-DD)")],
        ) from None
    snap = service.picture.snapshot()
    first, last = snap.days[0], snap.days[-1]
    if not first <= day <= last:
        reason = f"the picture measured {first.isoformat()} to {last.isoformat()} only"
        raise InvalidInput(
            f"referenceDate {text}: {reason}", [Problem(None, "referenceDate", reason)]
        )
    return day


def _bad(exc: PictureInputError) -> InvalidInput:
    return InvalidInput(
        str(exc), [Problem(None, field, reason) for field, reason in exc.problems.items()]
    )


@router.get(
    "/picture/series",
    summary="One selection's measured series per day (Europe/Amsterdam)",
    operation_id="getPictureSeries",
    responses={400: _problem("Unknown kind"), 404: _problem("Nothing measured for that key")},
)
async def get_series(
    request: Request,
    principal: ViewerDep,
    kind: Annotated[str, Query(description=f"One of {', '.join(KINDS)}")] = "all",
    key: Annotated[str, Query(description="e.g. om->justid, a process key, a partner key")] = "",
) -> SeriesRead:
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    picture = _picture(request)
    try:
        view = await run_in_threadpool(picture.selection, kind, key)
    except PictureInputError as exc:
        raise NotFound(str(exc)) from None
    snap = picture.snapshot()
    days = [
        SeriesDay(
            date=d.isoformat(),
            inflow=view.inflow[i],
            outflow=view.outflow[i],
            backlog=view.backlog[i],
            missed=view.missed[i],
            oldestHours=view.oldest_hours[i],
            leadMedianHours=view.lead_median[i],
            leadP90Hours=view.lead_p90[i],
        )
        for i, d in enumerate(view.days)
    ]
    return SeriesRead(kind=kind, key=key, asOf=_iso(snap.as_of), days=days)


@router.get(
    "/recovery-matrix",
    summary="The recovery matrix: state per partner and channel, with its history",
    operation_id="getRecoveryMatrix",
)
async def get_matrix(request: Request, principal: ViewerDep) -> MatrixRead:
    m = await run_in_threadpool(_picture(request).matrix)
    return MatrixRead(
        asOf=_iso(m.as_of),
        cells=[
            MatrixCell(
                partner=c.partner,
                channel=c.channel,
                label=c.label,
                state=c.state,
                since=_iso(c.since) if c.since is not None else None,
                reason=c.reason,
                backlog=c.backlog,
                forecast=c.forecast.isoformat() if c.forecast else None,
                handSet=c.hand_set,
            )
            for c in m.cells
        ],
        changes=[
            MatrixChange(
                at=_iso(c.at), partner=c.partner, channel=c.channel, state=c.state, reason=c.reason
            )
            for c in m.changes
        ],
    )


@router.get(
    "/picture/figures",
    summary="The briefing's figures as of the end of a reference date, computed now",
    operation_id="getPictureFigures",
    responses={400: _problem("A bad or unmeasured date")},
)
async def get_figures(
    request: Request,
    principal: ViewerDep,
    reference_date: Annotated[str, Query(alias="referenceDate", pattern=_DATE)],
) -> dict[str, Any]:
    service = _briefings(request)

    def compute() -> dict[str, Any]:
        day = _day(service, reference_date)
        end = datetime.combine(day, time(23, 59, 59, 999999), TZ).timestamp()
        return briefing.figures(service.picture, day, service.extras(end), previous=None)

    return await run_in_threadpool(compute)


def _read(row: Any) -> BriefingRead:
    figures = json.loads(row.figures)
    return BriefingRead(
        id=row.id,
        referenceDate=figures["peildatum"],
        state=row.state,
        createdAt=_iso(row.created_at),
        approvedAt=_iso(row.approved_at) if row.approved_at is not None else None,
        figures=figures,
    )


@router.get("/briefings", summary="The briefings, newest first", operation_id="listBriefings")
async def list_briefings(request: Request, principal: ViewerDep) -> list[BriefingRead]:
    rows = await run_in_threadpool(_picture(request).db.briefings)
    return [_read(r) for r in rows]


BriefingId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The briefing's number")]


@router.get(
    "/briefings/{briefingId}",
    summary="One briefing with its frozen figures",
    operation_id="getBriefing",
    responses={404: _problem("No such briefing")},
)
async def get_briefing(
    request: Request,
    principal: ViewerDep,
    briefing_id: Annotated[BriefingId, Path(alias="briefingId")],
) -> BriefingRead:
    row = await run_in_threadpool(_picture(request).db.briefing, briefing_id)
    if row is None:
        raise NotFound(f"there is no briefing {briefing_id}")
    return _read(row)


@router.get(
    "/briefings/{briefingId}/document",
    summary="The briefing as HTML or PDF; publication=true gives the Woo version",
    operation_id="getBriefingDocument",
    responses={
        200: {"content": {"text/html": {}, "application/pdf": {}}, "description": "The document"},
        404: _problem("No such briefing"),
    },
)
async def get_document(
    request: Request,
    principal: ViewerDep,
    briefing_id: Annotated[BriefingId, Path(alias="briefingId")],
    format: Annotated[str, Query(pattern="^(html|pdf)$")] = "html",
    publication: bool = False,
) -> Response:
    row = await run_in_threadpool(_picture(request).db.briefing, briefing_id)
    if row is None:
        raise NotFound(f"there is no briefing {briefing_id}")
    if format == "pdf":
        body = await run_in_threadpool(_briefings(request).pdf, briefing_id, publication)
        return Response(body, media_type="application/pdf")
    return Response(row.public_html if publication else row.html, media_type="text/html")


@router.post(
    "/briefings",
    status_code=201,
    summary="Make a draft briefing as of the end of a reference date",
    operation_id="createBriefing",
    responses={400: _problem("A bad or unmeasured date"), 403: _problem("Operators")},
)
async def create_briefing(
    request: Request, body: BriefingIn, principal: OperatorDep
) -> BriefingRead:
    service = _briefings(request)
    await run_in_threadpool(_day, service, body.reference_date)
    try:
        new_id = await run_in_threadpool(service.create, body.reference_date, principal)
    except PictureInputError as exc:
        raise _bad(exc) from None
    row = service.picture.db.briefing(new_id)
    assert row is not None
    return _read(row)


@router.post(
    "/briefings/{briefingId}/approvals",
    status_code=201,
    summary="Approve a draft briefing (an operator other than its author)",
    operation_id="createBriefingApproval",
    responses={
        400: _problem("No body is needed"),
        403: _problem("Operators"),
        404: _problem("No such briefing"),
        409: _problem("Already approved, or the author approving their own"),
    },
)
async def approve_briefing(
    request: Request,
    principal: OperatorDep,
    briefing_id: Annotated[BriefingId, Path(alias="briefingId")],
) -> BriefingRead:
    service = _briefings(request)
    if service.picture.db.briefing(briefing_id) is None:
        raise NotFound(f"there is no briefing {briefing_id}")
    try:
        await run_in_threadpool(service.approve, briefing_id, principal)
    except PictureInputError as exc:
        raise StateConflict(str(exc)) from None
    row = service.picture.db.briefing(briefing_id)
    assert row is not None
    return _read(row)
