"""The documentation registry (JDS, decision 0010) over HTTP: catch-up, freshness, hold advice,
screenings and the consumer's decisions, a person's extract and read log, and the re-screen list.

Who may do what:

- viewers and operators read the freshness and the re-screen counts (no person in them);
- anyone authenticated asks for hold advice (it carries no personal data);
- a partner screens as itself (the consumer is its partner key, never the body's), records the
  decision on its own screenings and reads a person's extract; an operator does all three and
  names the consumer of a screening;
- only operators catch up, read a person's read log, and read and work the re-screen list (it
  holds SKNs).

Every read of a person's data is written to the registry's read log with the purpose and legal
ground the caller gives. Registry work is synchronous SQLite work: it runs in the threadpool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ketenherstel.exchange.auth import Principal
from ketenherstel.exchange.errors import Forbidden, InvalidInput, NotFound, Problem, StateConflict
from ketenherstel.registry import (
    Answer,
    ApplyResult,
    Freshness,
    Reader,
    Registry,
    RegistryConflict,
    RegistryForbidden,
    RegistryInputError,
    RegistryNotFound,
    export,
)
from ketenherstel.registry.db import ReadRecord
from ketenherstel.registry.limits import MAX_TEXT
from ketenherstel.web import schemas_registry as s
from ketenherstel.web.body import JsonBodyRoute
from ketenherstel.web.problems import CSV, PARQUET
from ketenherstel.web.problems import documented as _problem
from ketenherstel.web.problems import download as _download
from ketenherstel.web.schemas import ts
from ketenherstel.web.security import OperatorDep, PrincipalDep, ViewerDep

router = APIRouter(prefix="/v1", tags=["registry"], route_class=JsonBodyRoute)

T = TypeVar("T")


async def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.runtime.registry
    return registry


RegistryDep = Annotated[Registry, Depends(get_registry)]
Skn = Annotated[str, Path(pattern=s.SKN_PATTERN, description="The person's SKN")]
Reference = Annotated[
    str, Path(pattern=s.REFERENCE_PATTERN, description="The screening's reference")
]
Purpose = Annotated[
    str,
    Query(min_length=1, max_length=MAX_TEXT, description="Why the data is read (Logboek)"),
]
LegalGround = Annotated[
    str,
    Query(
        alias="legalGround",
        min_length=1,
        max_length=MAX_TEXT,
        description="The legal ground of the read",
    ),
]


_READ_PERSON = "Invalid input, or no purpose or legal ground; nothing was read"
_WRITE = "Invalid input: the problem is named; nothing was changed"


# -- errors ---------------------------------------------------------------------------------


# The registry names the problem in its message (RegistryInputError); the API names the field.
async def _call(fn: Callable[..., T], *, where: Mapping[str, str] | None = None, **kw: Any) -> T:
    """Run registry work off the event loop and answer its errors as the API does: bad input
    400 (naming the field; ``where`` says whether it is in the body, query or path), a state
    conflict 409, not found 404."""
    try:
        return await run_in_threadpool(fn, **kw)
    except RegistryNotFound as exc:
        raise NotFound(str(exc)) from None
    except RegistryForbidden as exc:
        raise Forbidden(str(exc)) from None
    except RegistryConflict as exc:
        raise StateConflict(str(exc)) from None
    except RegistryInputError as exc:
        message = str(exc)
        if exc.field is None:
            raise InvalidInput(message) from None
        place = (where or {}).get(exc.field, "body")
        raise InvalidInput(message, [Problem(None, f"{place}:{exc.field}", message)]) from None


def _partner_or_operator(principal: Principal, what: str) -> None:
    if not principal.is_operator and (principal.role != "partner" or not principal.partner_key):
        raise Forbidden(f"{what} needs a partner's credential or the operator role")


# -- conversions ----------------------------------------------------------------------------


def _freshness(fresh: Freshness) -> s.FreshnessRead:
    return s.FreshnessRead.model_validate(fresh.to_json())


FormatQuery = Annotated[
    Literal["json", "csv", "parquet"], Query(alias="format", description="The answer's format")
]


def _files(description: str, *, fresh: bool = False) -> dict[str, Any]:
    """The 200 response of a list that is also a CSV or Parquet file (``fresh``: it carries
    the registry's freshness in headers)."""
    response: dict[str, Any] = {
        "description": description,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            PARQUET: {"schema": {"type": "string", "format": "binary"}},
        },
    }
    if fresh:
        response["headers"] = _FRESH_HEADERS
        response["description"] += (
            ". A CSV or Parquet file ends every row with the same freshness as the headers "
            "(`freshnessAsOf`, `freshness`), and a Parquet file holds it in full (as "
            "`GET /v1/registry/freshness` gives it) in its key-value metadata "
            "`ketenherstel.registry.freshness`, also when the list is empty"
        )
    return response


_FRESH_HEADERS = {
    "Registry-Freshness-As-Of": {
        "description": "When the freshness below was measured (RFC 3339, UTC)",
        "schema": {"type": "string", "format": "date-time"},
    },
    "Registry-Freshness": {
        "description": "How complete each source was in the registry when it made this list, "
        "comma-separated: `SOURCE;partner=P;state=S;waiting=N;missing=M;failed=F;"
        "completeUpTo=TIME` (`-`: not known), or `none` while no source has sent it anything. "
        "`missing`: sequence numbers never received, `failed`: messages it could not apply. A "
        "source still behind may add to the list later; `GET /v1/registry/freshness` has the "
        "details",
        "schema": {"type": "string"},
    },
}


def _justid(principal: Principal, purpose: str, legal_ground: str) -> Reader:
    """Justid's operator as the reader of persons' data (logged)."""
    return Reader("justid", "operator", principal.name, purpose, legal_ground)


def _fresh_headers(response: Response, fresh: Freshness) -> None:
    """The registry's freshness on a list that is no single answer (the re-screen list, the
    ECRIS notifications): what it was computed from, in every format."""
    response.headers["Registry-Freshness-As-Of"] = fresh.as_of_iso()
    response.headers["Registry-Freshness"] = fresh.compact()


async def _file(
    fmt: str,
    rows: Sequence[T],
    to_csv: Callable[[Sequence[T], Freshness], bytes],
    to_parquet: Callable[[Sequence[T], Freshness], bytes],
    stem: str,
    fresh: Freshness,
) -> Response:
    """A list as a CSV or Parquet download, encoded off the event loop, with the freshness it
    was made with in its headers and in the file."""
    if fmt == "csv":
        response = _download(await run_in_threadpool(to_csv, rows, fresh), CSV, f"{stem}.csv")
    else:
        body = await run_in_threadpool(to_parquet, rows, fresh)
        response = _download(body, PARQUET, f"{stem}.parquet")
    _fresh_headers(response, fresh)
    return response


def _applied(r: ApplyResult) -> s.CatchUpRead:
    return s.CatchUpRead(
        applied=r.applied,
        same_fact=r.same_fact,
        redelivered=r.redelivered,
        replaced=r.replaced,
        not_registrations=r.not_registrations,
        failed=[s.FailedDeliveryRead(delivery_id=i, reason=why) for i, why in r.failed],
    )


def _answer(a: Answer) -> s.ScreeningRead:
    return s.ScreeningRead(
        reference=a.reference,
        consumer=a.consumer,
        profile=a.profile,
        skn=a.skn,
        query_date=a.query_date,
        answered_at=ts(a.answered_at),
        cases=[
            s.ShownCaseRead(
                case_key=c.case_key,
                state=c.state,
                fact_date=c.fact_date,
                categories=list(c.categories),
            )
            for c in a.cases
        ],
        freshness=_freshness(a.freshness),
    )


def _read(r: ReadRecord) -> s.ReadLogEntryRead:
    return s.ReadLogEntryRead(
        at=ts(r.at),
        activity=r.activity,
        organisation=r.organisation,
        role=r.role,
        actor=r.actor,
        purpose=r.purpose,
        legal_ground=r.legal_ground,
        detail=r.detail,
    )


# -- freshness and hold advice ----------------------------------------------------------------


@router.get(
    "/registry/freshness",
    summary="How complete each source is in the registry: watermark, gaps, what waits",
    operation_id="getRegistryFreshness",
    responses={
        400: _problem("Invalid input"),
        403: _problem("Needs the viewer or operator role"),
    },
)
async def get_freshness(
    registry: RegistryDep,
    _: ViewerDep,
    refresh: Annotated[
        bool, Query(description="Ask the exchange now instead of using the last minute's copy")
    ] = False,
) -> s.FreshnessRead:
    return _freshness(await _call(registry.freshness, refresh=refresh))


@router.get(
    "/registry/hold-advice",
    summary="May a consumer rely on the registry now? Yes or no per source",
    description=(
        "Per source: rely or not, from two thresholds: how old its watermark may be and how "
        "many messages may still wait. Any authenticated caller may ask: no personal data."
    ),
    operation_id="getRegistryHoldAdvice",
    responses={400: _problem("A threshold out of range")},
)
async def get_hold_advice(
    registry: RegistryDep,
    _: PrincipalDep,
    max_age_hours: Annotated[
        float,
        Query(
            alias="maxAgeHours", description="How old (hours) a watermark may be; at most a year"
        ),
    ] = 48.0,
    max_waiting: Annotated[
        int, Query(alias="maxWaiting", description="How many messages may still wait")
    ] = 0,
) -> list[s.HoldAdviceRead]:
    advice = await _call(
        registry.hold_advice,
        max_age_hours=max_age_hours,
        max_waiting=max_waiting,
        where={"maxAgeHours": "query", "maxWaiting": "query"},
    )
    return [
        s.HoldAdviceRead(partner=a.partner, name=a.name, rely=a.rely, reason=a.reason)
        for a in advice
    ]


# -- catch-up --------------------------------------------------------------------------------


@router.post(
    "/registry/catch-ups",
    summary="Pull, apply and acknowledge the registry's deliveries until nothing waits",
    description=(
        "Each delivery is applied exactly once in effect and acknowledged after the "
        "registry's transaction committed; one it cannot read is refused (listed in `failed`). "
        "Without `maxBatches` it runs until nothing waits for the registry."
    ),
    operation_id="runRegistryCatchUp",
    responses={400: _problem(_WRITE), 403: _problem("Needs the operator role")},
)
async def run_catch_up(
    body: s.CatchUpCreate, registry: RegistryDep, _: OperatorDep
) -> s.CatchUpRead:
    result = await _call(registry.catch_up, limit=body.limit, max_batches=body.max_batches)
    return _applied(result)


# -- screenings and decisions ---------------------------------------------------------------


@router.post(
    "/registry/screenings",
    summary="Answer a screening (VOG, continuous screening) and store the answer",
    description=(
        "A partner screens as itself: the consumer is its partner key. An operator names the "
        "consumer, and the read is logged as Justid's operator's, for that consumer. The "
        "answer lists the relevant cases on the query date and carries the "
        "freshness of every source; the read is logged with the purpose and legal ground."
    ),
    operation_id="createRegistryScreening",
    status_code=201,
    responses={
        400: _problem(_WRITE),
        403: _problem("A viewer, or a partner naming another consumer"),
        409: _problem("A screening with this reference was answered already"),
    },
)
async def create_screening(
    body: s.ScreeningCreate, registry: RegistryDep, principal: PrincipalDep
) -> s.ScreeningRead:
    _partner_or_operator(principal, "a screening")
    if principal.is_operator:
        if body.consumer is None:
            why = "an operator names the consumer the screening is for"
            raise InvalidInput(why, [Problem(None, "body:consumer", why)])
        consumer = body.consumer
    else:
        consumer = str(principal.partner_key)
        if body.consumer is not None and body.consumer != consumer:
            raise Forbidden(f"a partner screens as itself ({consumer}), not as {body.consumer!r}")
    # The read log names who asked: an operator asks as Justid, for the consumer named.
    reader = Reader(
        organisation="justid" if principal.is_operator else consumer,
        role=body.role,
        actor=principal.name,
        purpose=body.purpose,
        legal_ground=body.legal_ground,
    )
    answer = await _call(
        registry.screen,
        reference=body.reference,
        consumer=consumer,
        profile=body.profile,
        skn=body.skn,
        query_date=body.query_date,
        reader=reader,
    )
    return _answer(answer)


def _decide(
    registry: Registry, principal: Principal, reference: str, body: s.DecisionCreate
) -> None:
    registry.record_decision(
        reference=reference,
        decision=body.decision,
        decided_date=body.decided_date,
        actor=principal.name,
        consumer=None if principal.is_operator else principal.partner_key,
    )


@router.post(
    "/registry/screenings/{reference}/decisions",
    summary="Record the consumer's decision on a screening (the VOG issued or refused, ...)",
    description=(
        "The consumer that asked, or an operator. A later decision replaces the earlier one."
    ),
    operation_id="createRegistryDecision",
    status_code=204,
    responses={
        400: _problem(_WRITE),
        403: _problem("A viewer"),
        404: _problem("No such screening that you may decide on"),
    },
)
async def create_decision(
    reference: Reference, body: s.DecisionCreate, registry: RegistryDep, principal: PrincipalDep
) -> None:
    _partner_or_operator(principal, "a decision")
    await _call(_decide, registry=registry, principal=principal, reference=reference, body=body)


# -- a person --------------------------------------------------------------------------------


@router.get(
    "/registry/persons/{skn}",
    summary="Everything the registry holds on a person, per case, with freshness",
    description=(
        "A partner reads as its own organisation; an operator as Justid. Every call is logged "
        "in the registry's read log with the purpose, legal ground and role given. `role` is "
        "required for a partner; an operator's is `operator` unless given."
    ),
    operation_id="getRegistryPerson",
    responses={
        400: _problem(_READ_PERSON),
        403: _problem("A viewer"),
    },
)
async def get_person(
    skn: Skn,
    registry: RegistryDep,
    principal: PrincipalDep,
    purpose: Purpose,
    legal_ground: LegalGround,
    role: Annotated[
        str | None, Query(min_length=1, max_length=MAX_TEXT, description="The reader's role")
    ] = None,
) -> s.PersonRead:
    _partner_or_operator(principal, "reading a person's data")
    if not principal.is_operator:  # a partner that may not read persons: 403 before the rest
        await _call(registry.may_extract, organisation=str(principal.partner_key))
    if principal.is_operator:
        reader = Reader("justid", role or "operator", principal.name, purpose, legal_ground)
    elif role is None:
        why = "a partner names the role it reads in"
        raise InvalidInput(why, [Problem(None, "query:role", why)])
    else:
        reader = Reader(str(principal.partner_key), role, principal.name, purpose, legal_ground)
    entries, fresh = await _call(
        registry.extract,
        skn=skn,
        reader=reader,
        where={"skn": "path", "purpose": "query", "legalGround": "query", "role": "query"},
    )
    return s.PersonRead(
        skn=skn,
        entries=[s.PersonEntryRead.model_validate(e) for e in entries],
        freshness=_freshness(fresh),
    )


@router.get(
    "/registry/persons/{skn}/reads",
    summary="The read log of a person: who read their data, when, why and on what ground",
    operation_id="listRegistryPersonReads",
    responses={400: _problem("Invalid input"), 403: _problem("Needs the operator role")},
)
async def list_person_reads(
    skn: Skn,
    registry: RegistryDep,
    principal: OperatorDep,
    purpose: Purpose,
    legal_ground: LegalGround,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    since: Annotated[
        date | None, Query(description="Only reads on or after this day (Amsterdam time)")
    ] = None,
    until: Annotated[
        date | None, Query(description="Only reads on or before this day (Amsterdam time)")
    ] = None,
    activity: Annotated[
        s.ReadActivity | None,
        Query(description="Only reads of this activity"),
    ] = None,
) -> list[s.ReadLogEntryRead]:
    reads = await _call(
        registry.reads_of,
        skn=skn,
        reader=_justid(principal, purpose, legal_ground),
        limit=limit,
        since=since,
        until=until,
        activity=activity,
        where={
            "skn": "path",
            "limit": "query",
            "purpose": "query",
            "legalGround": "query",
            "since": "query",
            "until": "query",
            "activity": "query",
        },
    )
    return [_read(r) for r in reads]


# -- the re-screen list ----------------------------------------------------------------------


@router.get(
    "/registry/rescreen-items",
    summary="The re-screen list: answers the caught-up data would change, both ways",
    description=(
        "`missed`: a case relevant now that the answer did not show; `wrongly-shown`: a case "
        "the answer showed that is not relevant now. As JSON, CSV or Parquet (`format`). It "
        "holds SKNs: operators only, and every read is logged with the purpose and legal "
        "ground given."
    ),
    operation_id="listRegistryRescreenItems",
    response_model=list[s.RescreenItemRead],
    responses={
        200: _files("The items (JSON), or a CSV or Parquet file of them", fresh=True),
        400: _problem(_READ_PERSON),
        403: _problem("Needs the operator role"),
    },
)
async def list_rescreen_items(
    registry: RegistryDep,
    principal: OperatorDep,
    purpose: Purpose,
    legal_ground: LegalGround,
    response: Response,
    direction: s.Direction | None = None,
    work_state: Annotated[s.WorkState | None, Query(alias="workState")] = None,
    fmt: FormatQuery = "json",
) -> Response | list[s.RescreenItemRead]:
    reader = _justid(principal, purpose, legal_ground)
    fresh = await _call(registry.freshness)  # measured first: the list holds no less
    items = await _call(
        registry.rescreen,
        reader=reader,
        direction=direction,
        work_state=work_state,
        where={"purpose": "query", "legalGround": "query"},
    )
    if fmt != "json":
        return await _file(fmt, items, export.to_csv, export.to_parquet, "rescreen-items", fresh)
    _fresh_headers(response, fresh)
    return [s.RescreenItemRead.model_validate(row) for row in export.item_rows(items)]


@router.get(
    "/registry/rescreen-summary",
    summary="The re-screen list in counts per direction, consumer, profile and work state",
    description=(
        "Counts only: no person in them. Like the list, it carries the freshness it was made "
        "with in its headers: a source still behind may add to the counts later."
    ),
    operation_id="getRegistryRescreenSummary",
    responses={
        200: {"description": "The counts", "headers": _FRESH_HEADERS},
        403: _problem("Needs the viewer or operator role"),
    },
)
async def get_rescreen_summary(
    registry: RegistryDep, _: ViewerDep, response: Response
) -> list[s.RescreenCountRead]:
    fresh = await _call(registry.freshness)  # measured first: the counts hold no less
    items = await _call(registry.rescreen)
    _fresh_headers(response, fresh)
    return [s.RescreenCountRead.model_validate(c) for c in export.rescreen_summary(items)]


@router.post(
    "/registry/rescreen-items/actions",
    summary="Work a re-screen item: assign, review, close",
    description=(
        "The order is assign (again, if need be), review, close; an action out of that order "
        "is a 409 and changes nothing."
    ),
    operation_id="createRegistryRescreenAction",
    responses={
        400: _problem(_WRITE),
        403: _problem("Needs the operator role"),
        404: _problem("No such re-screen item"),
        409: _problem("The item's work state does not allow this action"),
    },
)
async def create_rescreen_action(
    body: s.RescreenActionCreate, registry: RegistryDep, principal: OperatorDep
) -> s.RescreenActionRead:
    state = await _call(
        registry.work_item,
        reference=body.reference,
        case_key=body.case_key,
        direction=body.direction,
        action=body.action,
        actor=principal.name,
        assignee=body.assignee,
        outcome=body.outcome,
        note=body.note,
    )
    return s.RescreenActionRead.model_validate({"workState": state})


# -- notifications to member states (ECRIS) -------------------------------------------------


@router.get(
    "/registry/ecris-notifications",
    summary="Notifications owed to member states (ECRIS), with how late each went out",
    description=(
        "One per final conviction of another member state's national, due 30 working days "
        "after the conviction. `state`: `late` (sent after the due date, or due and not sent), "
        "`unsent` or `on-time`. They name persons and their convictions: operators only, and "
        "every read is logged with the purpose and legal ground given (once for the list, once "
        "per person). `format`: JSON, CSV or Parquet."
    ),
    operation_id="listRegistryEcrisNotifications",
    response_model=list[s.EcrisNotificationRead],
    responses={
        200: _files("The notifications (JSON), or a CSV or Parquet file of them", fresh=True),
        400: _problem("A bad state, or no purpose or legal ground for the read"),
        403: _problem("Needs the operator role"),
    },
)
async def list_ecris_notifications(
    registry: RegistryDep,
    principal: OperatorDep,
    purpose: Purpose,
    legal_ground: LegalGround,
    response: Response,
    state: Annotated[Literal["late", "unsent", "on-time"] | None, Query()] = None,
    fmt: FormatQuery = "json",
) -> Response | list[s.EcrisNotificationRead]:
    reader = _justid(principal, purpose, legal_ground)
    fresh = await _call(registry.freshness)  # measured first: the list holds no less
    found = await _call(
        registry.notifications,
        state=state,
        reader=reader,
        where={"state": "query", "purpose": "query", "legalGround": "query"},
    )
    if fmt != "json":
        return await _file(
            fmt,
            found,
            export.notifications_csv,
            export.notifications_parquet,
            "ecris-notifications",
            fresh,
        )
    _fresh_headers(response, fresh)
    return [s.EcrisNotificationRead.model_validate(r) for r in export.notification_rows(found)]


@router.post(
    "/registry/ecris-notifications/sends",
    summary="Send the notifications owed to member states through the exchange, as Justid",
    operation_id="createRegistryEcrisSend",
    responses={400: _problem(_WRITE), 403: _problem("Needs the operator role")},
)
async def send_ecris_notifications(registry: RegistryDep, _: OperatorDep) -> s.EcrisSendRead:
    return s.EcrisSendRead(sent=await _call(registry.notify))
