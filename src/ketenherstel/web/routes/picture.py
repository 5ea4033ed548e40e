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
from ketenherstel.exchange.errors import Forbidden, InvalidInput, NotFound, Problem, StateConflict
from ketenherstel.picture import briefing
from ketenherstel.picture.series import KINDS, TZ
from ketenherstel.picture.service import Picture, PictureInputError
from ketenherstel.store.ports import AuditRecord
from ketenherstel.web.body import JsonBodyRoute
from ketenherstel.web.problems import documented as _problem
from ketenherstel.web.security import OperatorDep, PrincipalDep, ViewerDep

router = APIRouter(prefix="/v1", tags=["picture"], route_class=JsonBodyRoute)
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


@router.get(
    "/picture/series",
    summary="One selection's measured series per day (Europe/Amsterdam)",
    operation_id="getPictureSeries",
    responses={
        400: _problem("Unknown kind, a key with kind all, or a partner or process unknown"),
        404: _problem("Nothing measured for that key"),
    },
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
    # As the CLI refuses them: a key with kind all (it was ignored) or naming nothing there is.
    problem = await run_in_threadpool(picture.key_problem, kind, key)
    if problem is not None:
        raise InvalidInput(problem.en, [Problem(None, "query:key", problem.en)])
    try:
        view = await run_in_threadpool(picture.selection, kind, key)
    except PictureInputError as exc:
        raise NotFound("; ".join(exc.english().values())) from None
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
        raise _fields(exc, {"peildatum": "referenceDate"}) from None
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
        raise StateConflict("; ".join(exc.english().values())) from None
    row = service.picture.db.briefing(briefing_id)
    assert row is not None
    return _read(row)


# -- bottlenecks over the API: the team, or a partner about itself ------------------------


class BottleneckIn(_Model):
    title: str = Field(max_length=200)
    category: str = Field(description="werklast, vertraging, informatie, bereikbaarheid, risico")
    severity: str = Field(description="laag, middel, hoog, kritiek")
    partner: str = Field(description="The partner it is about (a partner: itself only)")
    process: str | None = None
    series: str = Field(description="all, or kind:key, e.g. channel:om->justid")
    metric: str = Field(description="backlog, inflow, outflow, lead, oldest, missed, unanswered")
    since: str = Field(pattern=_DATE)
    description: str = ""


class AgreementIn(_Model):
    text: str
    owner_role: str = Field(alias="ownerRole")
    start_date: str = Field(alias="startDate", pattern=_DATE)
    expected_effect: str = Field(alias="expectedEffect")
    residual_risk: str = Field(alias="residualRisk")
    risk_accepted_role: str = Field(alias="riskAcceptedRole")
    risk_accepted_by: str = Field(alias="riskAcceptedBy", description="Kept in the register only")
    risk_accepted_until: str | None = Field(default=None, alias="riskAcceptedUntil", pattern=_DATE)


class AgreementRead(_Model):
    id: int
    text: str
    owner_role: str = Field(alias="ownerRole")
    start_date: str = Field(alias="startDate")
    expected_effect: str = Field(alias="expectedEffect")
    measured_effect: str = Field(alias="measuredEffect")
    before: float | None
    after: float | None
    residual_risk: str = Field(alias="residualRisk")
    risk_accepted_role: str = Field(alias="riskAcceptedRole")
    risk_accepted_until: str | None = Field(alias="riskAcceptedUntil")


class BottleneckRead(_Model):
    id: int
    title: str
    category: str
    severity: str
    partner: str
    process: str | None
    series: str
    metric: str
    since: str
    ended: str | None
    description: str
    agreements: list[AgreementRead]


_BOTTLENECK_FIELDS = {
    "titel": "title",
    "categorie": "category",
    "ernst": "severity",
    "partner": "partner",
    "proces": "process",
    "reeks": "series",
    "maat": "metric",
    "begin": "since",
    "omschrijving": "description",
}
_AGREEMENT_FIELDS = {
    "afspraak": "text",
    "eigenaar": "ownerRole",
    "ingang": "startDate",
    "verwacht_effect": "expectedEffect",
    "restrisico": "residualRisk",
    "risico_rol": "riskAcceptedRole",
    "risico_door": "riskAcceptedBy",
    "risico_tot": "riskAcceptedUntil",
    "knelpunt": "bottleneckId",
}


def _fields(exc: PictureInputError, names: dict[str, str]) -> InvalidInput:
    problems = [Problem(None, names.get(k, k), v) for k, v in exc.english().items()]
    detail = "; ".join(f"{p.field}: {p.reason}" for p in problems)
    return InvalidInput(detail, problems)


def _day_text(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, TZ).date().isoformat()


def _bottleneck_read(picture: Picture, b: Any) -> BottleneckRead:
    kind_key, _, metric = b.series_key.rpartition("#")
    agreements = []
    for a in picture.db.agreements(b.id):
        effect = picture.effect(b, a)
        agreements.append(
            AgreementRead(
                id=a.id,
                text=a.text,
                ownerRole=a.owner_role,
                startDate=_day_text(a.starts_at) or "",
                expectedEffect=a.expected_effect,
                measuredEffect=effect.text(),
                before=effect.before,
                after=effect.after,
                residualRisk=a.residual_risk,
                riskAcceptedRole=a.risk_accepted_role,
                riskAcceptedUntil=_day_text(a.risk_accepted_until),
            )
        )
    return BottleneckRead(
        id=b.id,
        title=b.title,
        category=b.category,
        severity=b.severity,
        partner=b.partner,
        process=b.process,
        series=b.series_kind if b.series_kind == "all" else f"{b.series_kind}:{kind_key}",
        metric=metric,
        since=_day_text(b.started_at) or "",
        ended=_day_text(b.ended_at),
        description=b.description,
        agreements=agreements,
    )


def _may_register(principal: Any, partner: str | None, what: str = "registers bottlenecks") -> None:
    """The team (operators) for anyone; a partner only about itself; viewers never. With no
    ``partner`` (not looked up yet): whether the caller may do this at all, so that a viewer
    hears 403 whichever bottleneck it names, not 404 for one there is not."""
    if principal.is_operator:
        return
    if principal.partner_key is None:
        raise Forbidden("this needs the operator role or a partner's own credential")
    if partner is None or principal.partner_key == partner:
        return
    raise Forbidden(f"a partner {what} about itself ({principal.partner_key})")


def _own_series(principal: Any, series: str) -> None:
    """A partner measures its bottleneck on its own figures: a channel it sends or receives
    on, or itself as partner, sender or receiver (or the chain, a process); not on a channel
    or a partner of others."""
    key = principal.partner_key
    if principal.is_operator or key is None:
        return
    kind, _, name = series.strip().partition(":")
    if kind == "channel":
        sender, _, receiver = name.partition("->")
        ours = key in (sender.strip(), receiver.strip())
    elif kind in ("partner", "sender", "receiver"):
        ours = name.strip() == key
    else:
        ours = True
    if not ours:
        message = f"a partner measures its bottleneck on its own figures ({key}), not on {series!r}"
        raise InvalidInput(message, [Problem(None, "body:series", message)])


@router.get(
    "/bottlenecks",
    summary="The bottlenecks with their work agreements and measured effect",
    operation_id="listBottlenecks",
)
async def list_bottlenecks(request: Request, principal: ViewerDep) -> list[BottleneckRead]:
    picture = _picture(request)

    def read() -> list[BottleneckRead]:
        return [_bottleneck_read(picture, b) for b in picture.db.bottlenecks()]

    return await run_in_threadpool(read)


@router.post(
    "/bottlenecks",
    status_code=201,
    summary="Register a bottleneck (the team, or a partner about itself)",
    operation_id="createBottleneck",
    responses={400: _problem("Bad input; nothing is stored"), 403: _problem("Not yours")},
)
async def create_bottleneck(
    request: Request, body: BottleneckIn, principal: PrincipalDep
) -> BottleneckRead:
    _may_register(principal, body.partner)
    _own_series(principal, body.series)
    picture = _picture(request)
    form = {
        "titel": body.title,
        "categorie": body.category,
        "ernst": body.severity,
        "partner": body.partner,
        "proces": body.process or "",
        "reeks": body.series,
        "maat": body.metric,
        "begin": body.since,
        "omschrijving": body.description,
    }
    try:
        new_id = await run_in_threadpool(
            lambda: picture.register_bottleneck(form, actor=principal.name)
        )
    except PictureInputError as exc:
        raise _fields(exc, _BOTTLENECK_FIELDS) from None
    _audit(request, principal.name, "bottleneck-registered", f"knelpunt/{new_id}")
    made = picture.db.bottleneck(new_id)
    return await run_in_threadpool(_bottleneck_read, picture, made)


@router.post(
    "/bottlenecks/{bottleneckId}/work-agreements",
    status_code=201,
    summary="Add a work agreement to a bottleneck (the team, or the partner it is about)",
    operation_id="createWorkAgreement",
    responses={
        400: _problem("Bad input; nothing is stored"),
        403: _problem("Not yours"),
        404: _problem("No such bottleneck"),
    },
)
async def create_agreement(
    request: Request,
    body: AgreementIn,
    principal: PrincipalDep,
    bottleneck_id: Annotated[int, Path(alias="bottleneckId", ge=1, le=2**63 - 1)],
) -> BottleneckRead:
    _may_register(principal, None)
    picture = _picture(request)
    b = picture.db.bottleneck(bottleneck_id)
    if b is None:
        raise NotFound(f"there is no bottleneck {bottleneck_id}")
    _may_register(principal, b.partner, "adds work agreements to bottlenecks")
    form = {
        "afspraak": body.text,
        "eigenaar": body.owner_role,
        "ingang": body.start_date,
        "verwacht_effect": body.expected_effect,
        "restrisico": body.residual_risk,
        "risico_rol": body.risk_accepted_role,
        "risico_door": body.risk_accepted_by,
        "risico_tot": body.risk_accepted_until or "",
    }
    try:
        await run_in_threadpool(
            lambda: picture.add_agreement(bottleneck_id, form, actor=principal.name)
        )
    except PictureInputError as exc:
        raise _fields(exc, _AGREEMENT_FIELDS) from None
    _audit(request, principal.name, "agreement-registered", f"knelpunt/{bottleneck_id}")
    return await run_in_threadpool(_bottleneck_read, picture, picture.db.bottleneck(bottleneck_id))


def _audit(request: Request, actor: str, action: str, obj: str) -> None:
    rt = request.app.state.runtime
    rt.store.audit(AuditRecord(rt.exchange.clock(), actor, action, obj, ""))
