"""Reconciliation over HTTP (decision 0011).

Operators run a reconciliation (live ledgers, or files from the server's ledger folder), read
its details and request list, and re-send what a receiver never applied. Viewers read the
summaries and the HTML section: counts and types only, no record in them. A run is synchronous
DuckDB work: it runs in the threadpool, one at a time.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

import pyarrow.parquet as pq
from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ketenherstel.exchange.auth import Principal
from ketenherstel.exchange.errors import InvalidInput, NotFound, Problem
from ketenherstel.reconcile import (
    DETAIL_CLASSES,
    LedgerSpec,
    LiveSources,
    ReconcileError,
    ReconcileInputError,
    check_limit_types,
    find_report,
    legal_limits,
    list_reports,
    parse_duration,
    reconcile,
    request_list,
    resend,
)
from ketenherstel.reconcile.ledger import CANONICAL, FORMATS, OUTBOX
from ketenherstel.store.ports import AuditRecord
from ketenherstel.web import schemas_reconcile as s
from ketenherstel.web.body import JsonBodyRoute
from ketenherstel.web.problems import CSV, PARQUET
from ketenherstel.web.problems import documented as _problem
from ketenherstel.web.problems import download as _download
from ketenherstel.web.security import OperatorDep, ViewerDep

router = APIRouter(prefix="/v1", tags=["reconciliation"], route_class=JsonBodyRoute)
ReportId = Annotated[str, Path(pattern=s.REPORT_PATTERN, description="The report's id")]
_ONE_AT_A_TIME = asyncio.Lock()


def _reports(request: Request) -> FsPath:
    return FsPath(request.app.state.runtime.settings.reconcile_location())


def _report(request: Request, report_id: str) -> FsPath:
    try:
        return find_report(_reports(request), report_id)
    except ReconcileError as exc:
        raise NotFound(str(exc)) from None


def _spec(hop: s.HopIn, index: int, folder: FsPath) -> LedgerSpec:
    """A hop of the body as a ledger spec; a file only by its name in the ledger folder."""
    where = f"body:hops[{index}]"
    if hop.file is None:
        for what in ("mapping", "constants", "fields"):
            if getattr(hop, what):
                message = f"hop {hop.name!r} is a live ledger; only file ledgers take {what}"
                raise InvalidInput(message, [Problem(None, f"{where}.{what}", message)])
        return LedgerSpec(hop.name, partial=hop.partial or hop.name == "manual")
    name = hop.file
    if "/" in name or "\\" in name or name.startswith("."):
        message = f"file {name!r}: name a file in the ledger folder, without a path"
        raise InvalidInput(message, [Problem(None, f"{where}.file", message)])
    fmt = hop.format or FORMATS.get(FsPath(name).suffix.lower())
    if fmt == OUTBOX:
        if hop.mapping or hop.constants or hop.fields:
            message = f"hop {hop.name!r} is an edge outbox; it is not mapped"
            raise InvalidInput(message, [Problem(None, f"{where}.mapping", message)])
        return LedgerSpec(hop.name, folder / name, OUTBOX, partial=hop.partial)
    if fmt is None:
        message = f"file {name!r}: give its format (csv, parquet, jsonl)"
        raise InvalidInput(message, [Problem(None, f"{where}.format", message)])
    for column in [*hop.mapping, *hop.constants]:
        if column not in CANONICAL:
            message = f"{column!r} is not a ledger column; the columns are {', '.join(CANONICAL)}"
            raise InvalidInput(message, [Problem(None, f"{where}.mapping", message)])
    return LedgerSpec(
        hop.name,
        folder / name,
        fmt,
        dict(hop.mapping),
        dict(hop.constants),
        tuple(hop.fields),
        hop.partial,
    )


@router.post(
    "/reconciliations",
    status_code=201,
    summary="Reconcile a chain of hops",
    description=(
        "Compares each adjacent pair of hops: live ledgers (`accepted`, `routed`, `delivered`, "
        "`applied`, `manual`) or files from the server's ledger folder, and writes a report: "
        "per record missing, duplicate, conflicting, late or matched. Bad input is answered "
        "with the file, column and row, and leaves no report."
    ),
    operation_id="createReconciliation",
    responses={400: _problem("Invalid input; no report was made"), 403: _problem("Operators")},
)
async def create_reconciliation(
    request: Request, body: s.ReconcileIn, principal: OperatorDep
) -> s.ReconciliationRead:
    rt = request.app.state.runtime
    folder = _reports(request) / "ledgers"
    specs = [_spec(hop, i, folder) for i, hop in enumerate(body.hops)]
    limits = {}
    for type_name, text in body.sla.items():
        try:
            limits[type_name] = parse_duration(text)
        except ReconcileInputError as exc:
            raise InvalidInput(str(exc), [Problem(None, "body:sla", str(exc))]) from None
    types = {mt.type for mt in rt.chain.message_types}
    try:
        check_limit_types(limits, types)
    except ReconcileInputError as exc:
        raise InvalidInput(str(exc), [Problem(None, "body:sla", str(exc))]) from None
    if body.legal_deadlines:
        limits = legal_limits(rt.chain) | limits
    sources = LiveSources(rt.store, rt.registry.db, rt.registry.receiver, rt.chain)
    async with _ONE_AT_A_TIME:
        try:
            report = await run_in_threadpool(
                reconcile,
                specs,
                out_dir=_reports(request),
                sources=sources,
                limits=limits,
                hwm=not body.full,
                types=types,
                partners={p.key for p in rt.chain.partners},
            )
        except ReconcileInputError as exc:
            # A file is named as the caller named it (in the ledger folder), never by the
            # server's own path.
            message = str(exc).replace(f"{folder}{os.sep}", "").replace(str(folder), "ledgers")
            raise InvalidInput(message, [Problem(None, "body:hops", message)]) from None
    hops = " ".join(h.name if h.file is None else f"{h.name}={h.file}" for h in body.hops)
    rt.store.audit(AuditRecord(rt.exchange.clock(), principal.name, "reconciled", report.id, hops))
    return s.ReconciliationRead.model_validate(report.to_json())


@router.get(
    "/reconciliations",
    summary="The reconciliation reports, newest first",
    operation_id="listReconciliations",
    responses={403: _problem("Viewers and operators")},
)
async def list_reconciliations(
    request: Request, principal: ViewerDep
) -> list[s.ReconciliationRead]:
    found = await run_in_threadpool(list_reports, _reports(request))
    return [s.ReconciliationRead.model_validate(_as_shown(r, principal)) for r in found]


def _as_shown(summary: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """A report's summary as the caller sees it: a viewer sees a ledger file by its name, not
    where it lies on the server (a review saw /tmp/… paths); operators see the path."""
    if principal.is_operator:
        return summary
    hops = [
        {**h, "source": FsPath(h["source"]).name}
        if isinstance(h.get("source"), str) and not h.get("live")
        else h
        for h in summary.get("hops", [])
    ]
    return {**summary, "hops": hops}


@router.get(
    "/reconciliations/{report_id}",
    summary="One reconciliation report's summary",
    operation_id="getReconciliation",
    responses={403: _problem("Viewers and operators"), 404: _problem("No such report")},
)
async def get_reconciliation(
    request: Request, report_id: ReportId, principal: ViewerDep
) -> s.ReconciliationRead:
    path = _report(request, report_id)
    data = json.loads((path / "summary.json").read_text(encoding="utf-8"))
    return s.ReconciliationRead.model_validate(_as_shown(data, principal))


@router.get(
    "/reconciliations/{report_id}/briefing-section",
    summary="The report as a Dutch HTML section for the briefing",
    operation_id="getReconciliationHtml",
    response_class=Response,
    responses={
        200: {
            "description": "An HTML section",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        403: _problem("Viewers and operators"),
        404: _problem("No such report"),
    },
)
async def get_reconciliation_html(request: Request, report_id: ReportId, _: ViewerDep) -> Response:
    path = _report(request, report_id)
    return Response((path / "report.html").read_bytes(), media_type="text/html; charset=utf-8")


@router.get(
    "/reconciliations/{report_id}/details",
    summary="Every record that did not simply match, as JSON, CSV or Parquet",
    operation_id="listReconciliationDetails",
    response_model=list[s.DetailRead],
    responses={
        200: {
            "description": "The detail rows (JSON, a page), or the whole CSV or Parquet file",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                PARQUET: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        400: _problem("An unknown class"),
        403: _problem("Operators"),
        404: _problem("No such report"),
    },
)
async def list_details(
    request: Request,
    report_id: ReportId,
    _: OperatorDep,
    fmt: Annotated[
        Literal["json", "csv", "parquet"], Query(alias="format", description="The answer's format")
    ] = "json",
    cls: Annotated[
        str | None,
        Query(alias="class", description=f"Only this class: {', '.join(DETAIL_CLASSES)}"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1_000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response | list[s.DetailRead]:
    if cls is not None and cls not in DETAIL_CLASSES:
        message = f"class {cls!r}: no such class; one of {', '.join(DETAIL_CLASSES)}"
        raise InvalidInput(message, [Problem(None, "query:class", message)])
    path = _report(request, report_id)
    if fmt == "csv":
        return _download((path / "details.csv").read_bytes(), CSV, f"{report_id}-details.csv")
    if fmt == "parquet":
        data = (path / "details.parquet").read_bytes()
        return _download(data, PARQUET, f"{report_id}-details.parquet")
    rows = await run_in_threadpool(lambda: pq.read_table(path / "details.parquet").to_pylist())
    if cls is not None:
        rows = [r for r in rows if r["class"] == cls]
    page = rows[offset : offset + limit]
    for r in page:
        for at in ("at_a", "at_b"):
            r[at] = r[at].isoformat() if r[at] is not None else None
    return [s.DetailRead.model_validate(r) for r in page]


@router.get(
    "/reconciliations/{report_id}/requests",
    summary="The request list: what senders hold that the exchange never accepted",
    operation_id="listReconciliationRequests",
    responses={403: _problem("Operators"), 404: _problem("No such report")},
)
async def list_requests(
    request: Request, report_id: ReportId, _: OperatorDep
) -> list[s.RequestRead]:
    path = _report(request, report_id)
    return [s.RequestRead.model_validate(r) for r in request_list(path)]


@router.post(
    "/reconciliations/{report_id}/resends",
    summary="Re-send, with the original id, what a receiver never applied",
    description=(
        "Every record the report found delivered or routed by the exchange but missing at the "
        "next hop goes back to the receiver with its original id: its one delivery is made "
        "ready again (never a second delivery); the receiver's de-duplication keeps it from "
        "being applied twice. `dryRun` lists them and changes nothing."
    ),
    operation_id="createReconciliationResends",
    responses={403: _problem("Operators"), 404: _problem("No such report")},
)
async def create_resends(
    request: Request, report_id: ReportId, body: s.ResendIn, principal: OperatorDep
) -> s.ResendRead:
    path = _report(request, report_id)
    exchange = request.app.state.runtime.exchange
    redeliver = functools.partial(exchange.redeliver, principal=principal)

    result = await run_in_threadpool(resend, path, redeliver, dry_run=body.dry_run)
    return s.ResendRead.model_validate(result.to_json())
