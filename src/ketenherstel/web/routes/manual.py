"""Paper work: manual records (one at a time or a spreadsheet import with a dry run), their
confirmation, correction and withdrawal, the unmatched lists, and interim procedures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from ketenherstel.documents import orjson_duplicates
from ketenherstel.exchange.errors import InvalidInput, Problem, UnsupportedMedia
from ketenherstel.exchange.manual import ManualWork
from ketenherstel.web import schemas_manual as s
from ketenherstel.web.body import JsonBodyRoute, read_limited, refuse_keys_twice
from ketenherstel.web.problems import documented as _problem
from ketenherstel.web.security import OperatorDep, PrincipalDep

router = APIRouter(prefix="/v1", tags=["manual"], route_class=JsonBodyRoute)

MAX_CSV_BYTES = 16 * 1024 * 1024
_ENTRY_FIELDS = {"when": "happenedAt", "role": "registeredBy"}
T = TypeVar("T")


async def get_manual(request: Request) -> ManualWork:
    manual: ManualWork | None = getattr(request.app.state, "manual", None)
    if manual is None:
        raise RuntimeError("app.state.manual is not set: create_app must build a ManualWork")
    return manual


ManualDep = Annotated[ManualWork, Depends(get_manual)]


_WRITE: dict[int | str, dict[str, Any]] = {
    400: _problem("Invalid input: every problem is listed; nothing was stored"),
    403: _problem("Needs the operator role"),
}
_CHANGE: dict[int | str, dict[str, Any]] = {
    **_WRITE,
    404: _problem("No such manual record"),
    409: _problem("The record is withdrawn (or confirmed already), or the key is taken"),
}


async def _call(fn: Callable[..., T], **kwargs: Any) -> T:
    """Run a use case off the event loop, naming entry problems as the API names its fields."""
    try:
        return await run_in_threadpool(fn, **kwargs)
    except InvalidInput as exc:
        exc.problems = [
            Problem(p.index, _ENTRY_FIELDS.get(p.field, p.field), p.reason) for p in exc.problems
        ]
        raise


@router.post(
    "/manual-records",
    summary="Register one piece of paper work",
    operation_id="registerManualRecord",
    status_code=201,
    responses={**_WRITE, 409: _problem("Already registered for this partner and key")},
)
async def register(
    body: s.ManualRecordCreate, manual: ManualDep, principal: OperatorDep
) -> s.ManualRecordRead:
    record = await _call(
        manual.register,
        principal=principal,
        partner=body.partner,
        case=body.case,
        type=body.type,
        when=body.happened_at,
        role=body.registered_by,
        fields=body.fields,
    )
    return s.record(record)


_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "description": "A CSV export (text/csv, mapping as the `mapping` query parameter) or JSON",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": s.ManualImportCreate.model_json_schema()},
        },
    }
}


@router.post(
    "/manual-records/imports",
    summary="Import paper work from a spreadsheet export, or dry-run it",
    description=(
        "With dryRun=true nothing is stored and every refused row is reported with its line, "
        "column and reason (200). Otherwise a file with any refused row is refused whole (400, "
        "every refusal listed) unless skipRefused=true; the rows are stored in one transaction "
        "(201)."
    ),
    operation_id="importManualRecords",
    status_code=201,
    openapi_extra=_IMPORT_BODY,
    response_model=s.ManualImportRead,
    responses={
        200: {"description": "A dry run's report", "model": s.ManualImportRead},
        **_WRITE,
        409: _problem("A row was registered meanwhile"),
        413: _problem("The file is too large"),
        415: _problem("The body is neither text/csv nor JSON"),
    },
)
async def import_records(
    request: Request,
    manual: ManualDep,
    principal: PrincipalDep,
    dry_run: Annotated[bool, Query(alias="dryRun")] = False,
    skip_refused: Annotated[bool, Query(alias="skipRefused")] = False,
    mapping: Annotated[
        str | None, Query(description="The column mapping as JSON (with a text/csv body)")
    ] = None,
    name: Annotated[
        str,
        Query(
            max_length=200,
            description="The file's name, kept on the audit trail: no control characters, SKN "
            "or e-mail address",
        ),
    ] = "",
) -> Response:
    manual.may_import(principal, dry_run=dry_run)  # 403 before the body is read or checked
    body = await read_limited(request, MAX_CSV_BYTES, "the file", "; split it")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    name_field = "query:name"
    if ctype == "application/json":
        refuse_keys_twice(body)  # pydantic's JSON reader keeps the last of two equal keys
        try:
            upload = s.ManualImportCreate.model_validate_json(body)
        except ValidationError as exc:
            problems = [
                Problem(None, "body:" + ".".join(map(str, e["loc"])), e["msg"])
                for e in exc.errors()
            ]
            raise InvalidInput("the import does not match the API", problems) from None
        data, doc, name = upload.csv.encode("utf-8"), upload.mapping, upload.name or name
        name_field = "body:name" if upload.name else "query:name"
    elif ctype in ("text/csv", "text/plain"):
        if mapping is None:
            why = "give the column mapping as JSON in the mapping query parameter"
            raise InvalidInput(why, [Problem(None, "query:mapping", why)])
        try:
            # orjson, as a JSON body is read: nested too deep is named, never a RecursionError.
            doc = orjson.loads(mapping)
        except orjson.JSONDecodeError as exc:
            why = f"the mapping is not JSON: {exc}"
            raise InvalidInput(why, [Problem(None, "query:mapping", why)]) from None
        twice = orjson_duplicates(mapping, doc)  # orjson, too, keeps the last of two
        if twice:
            why = f"in the mapping, {twice[0]}; give each key once"
            raise InvalidInput(why, [Problem(None, "query:mapping", why)])
        data = body
    else:
        raise UnsupportedMedia(f"send text/csv or application/json, not {ctype or 'nothing'!r}")
    try:
        result = await _call(
            manual.import_csv,
            principal=principal,
            data=data,
            mapping=doc,
            dry_run=dry_run,
            skip_refused=skip_refused,
            name=name,
        )
    except InvalidInput as exc:
        # The file's name (refused as a reason is: no control characters, no SKN or e-mail
        # address) is named where it was sent; a row's problem has its line as index.
        exc.problems = [
            Problem(None, name_field, p.reason) if p.index is None and p.field == "name" else p
            for p in exc.problems
        ]
        raise
    return Response(
        s.imported(result).model_dump_json(by_alias=True),
        status_code=200 if dry_run else 201,
        media_type="application/json",
    )


@router.get(
    "/manual-records",
    summary="Manual records (a partner sees its own)",
    operation_id="listManualRecords",
    responses={403: _problem("Another partner's records")},
)
async def list_records(
    manual: ManualDep,
    principal: PrincipalDep,
    status: s.Status | None = None,
    partner: str | None = None,
    type: str | None = None,
    unmatched: bool = False,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> s.ManualRecordPage:
    records = await _call(
        manual.records,
        principal=principal,
        status=status,
        partner=partner,
        type=type,
        unmatched=unmatched,
        after=after,
        limit=limit,
    )
    more = records[-1].id if len(records) == limit else None
    return s.ManualRecordPage(records=[s.record(r) for r in records], next_after=more)


RecordId = Annotated[int, Path(alias="recordId")]


@router.get(
    "/manual-records/{recordId}",
    summary="One manual record with its history",
    operation_id="getManualRecord",
    responses={404: _problem("No such record that you may see")},
)
async def get_record(
    record_id: RecordId, manual: ManualDep, principal: PrincipalDep
) -> s.ManualRecordRead:
    return s.record(await _call(manual.record, principal=principal, record_id=record_id))


@router.post(
    "/manual-records/{recordId}/confirmation",
    summary="Confirm a manual record, with a reason",
    operation_id="confirmManualRecord",
    status_code=201,
    responses=_CHANGE,
)
async def confirm(
    record_id: RecordId, body: s.ManualReasonCreate, manual: ManualDep, principal: OperatorDep
) -> s.ManualRecordRead:
    record = await _call(
        manual.confirm, principal=principal, record_id=record_id, reason=body.reason
    )
    return s.record(record)


@router.post(
    "/manual-records/{recordId}/correction",
    summary="Correct a manual record's case, type, fields or date; it is matched again",
    operation_id="correctManualRecord",
    status_code=201,
    responses=_CHANGE,
)
async def correct(
    record_id: RecordId, body: s.ManualCorrectionCreate, manual: ManualDep, principal: OperatorDep
) -> s.ManualRecordRead:
    record = await _call(
        manual.correct,
        principal=principal,
        record_id=record_id,
        reason=body.reason,
        case=body.case,
        type=body.type,
        fields=body.fields,
        when=body.happened_at,
    )
    return s.record(record)


@router.post(
    "/manual-records/{recordId}/withdrawal",
    summary="Withdraw a manual record, with a reason",
    operation_id="withdrawManualRecord",
    status_code=201,
    responses=_CHANGE,
)
async def withdraw(
    record_id: RecordId, body: s.ManualReasonCreate, manual: ManualDep, principal: OperatorDep
) -> s.ManualRecordRead:
    record = await _call(
        manual.withdraw, principal=principal, record_id=record_id, reason=body.reason
    )
    return s.record(record)


@router.get(
    "/unmatched-messages",
    summary="Digital messages that no paper record accounts for",
    description=(
        "Messages of a (sender, type) pair that has manual records, received since that "
        "pair's earliest paper work, with no manual record of the same business key."
    ),
    operation_id="listUnmatchedMessages",
    responses={403: _problem("Another partner's messages")},
)
async def unmatched_messages(
    manual: ManualDep,
    principal: PrincipalDep,
    partner: str | None = None,
    type: str | None = None,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> s.UnmatchedMessagePage:
    found = await _call(
        manual.unmatched_messages,
        principal=principal,
        partner=partner,
        type=type,
        after=after,
        limit=limit,
    )
    more = found[-1].position if len(found) == limit else None
    return s.UnmatchedMessagePage(messages=[s.unmatched(m) for m in found], next_after=more)


@router.get(
    "/interim-procedures",
    summary="Interim procedures (a partner sees those it was told about)",
    operation_id="listInterimProcedures",
    responses={400: _problem("No such process in the chain model")},
)
async def list_procedures(
    manual: ManualDep,
    principal: PrincipalDep,
    process: str | None = None,
    active: bool | None = None,
) -> list[s.InterimProcedureRead]:
    found = await _call(manual.procedures, principal=principal, process=process, active=active)
    return [s.procedure(p) for p in found]


@router.post(
    "/interim-procedures",
    summary="Record an interim procedure for a process",
    operation_id="addInterimProcedure",
    status_code=201,
    responses={**_WRITE, 409: _problem("The same procedure is active already")},
)
async def add_procedure(
    body: s.InterimProcedureCreate, manual: ManualDep, principal: OperatorDep
) -> s.InterimProcedureRead:
    procedure = await _call(
        manual.add_procedure,
        principal=principal,
        process=body.process,
        replaces=body.replaces,
        valid_from=body.valid_from,
        partners_informed=body.partners_informed,
        emergency_route=body.emergency_route,
        manual_type=body.manual_type,
    )
    return s.procedure(procedure)


@router.post(
    "/interim-procedures/{procedureId}/retirement",
    summary="Retire an interim procedure: the go-live wave that restores its process opened",
    operation_id="retireInterimProcedure",
    status_code=201,
    responses={
        **_WRITE,
        404: _problem("No such procedure"),
        409: _problem("Retired already"),
    },
)
async def retire_procedure(
    procedure_id: Annotated[int, Path(alias="procedureId")],
    body: s.RetirementCreate,
    manual: ManualDep,
    principal: OperatorDep,
) -> s.InterimProcedureRead:
    procedure = await _call(
        manual.retire_procedure, principal=principal, procedure_id=procedure_id, wave=body.wave
    )
    return s.procedure(procedure)


__all__ = ["ManualDep", "get_manual", "router"]
