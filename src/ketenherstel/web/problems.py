"""Errors as `application/problem+json` (RFC 9457), with our list of problems inside."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ketenherstel.exchange.errors import ExchangeError, Problem
from ketenherstel.web.body import body_refusal

PROBLEM_JSON = "application/problem+json"
CSV = "text/csv; charset=utf-8"
PARQUET = "application/vnd.apache.parquet"


def documented(description: str) -> dict[str, Any]:
    """An error response in a route's OpenAPI ``responses``: problem+json with a description."""
    return {"description": description, "content": {PROBLEM_JSON: {}}}


def download(data: bytes, media_type: str, filename: str) -> Response:
    """A file to save (CSV, Parquet), with its name."""
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def problem_response(
    status: int,
    title: str,
    detail: str,
    problems: list[Problem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "status": status,
        "title": title,
        "detail": shortened(detail),
    }
    if problems:
        body["problems"] = [
            {"index": p.index, "field": p.field, "reason": shortened(p.reason)} for p in problems
        ]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


MAX_SAID = 1_000  # characters of a detail or a reason


def shortened(text: str) -> str:
    """An error's text as answered: one quoting a value of 100,000 characters answered with
    200 kB (a review sent one); its start and its end are kept, what lies between is counted."""
    if len(text) <= MAX_SAID:
        return text
    head, tail = MAX_SAID * 3 // 5, MAX_SAID // 5
    return f"{text[:head]} … [{len(text) - head - tail:,} characters not shown] … {text[-tail:]}"


def install(app: FastAPI) -> None:
    @app.exception_handler(ExchangeError)
    async def exchange_error(_: Request, exc: ExchangeError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem_response(exc.status, exc.title, exc.detail, exc.problems, headers)

    @app.exception_handler(OverflowError)
    async def out_of_range(_: Request, exc: OverflowError) -> JSONResponse:
        # An id or a count past what the store holds (64 bits): refused before any change
        # (the statement failed, its transaction rolled back). The driver's words ("Python int
        # too large to convert to SQLite INTEGER") are not the API's.
        return problem_response(
            400,
            "Invalid input",
            f"a number in the request is out of range: ids and counts are at most {2**63 - 1}",
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        refused = body_refusal(request)
        if refused is not None:  # a JSON body sent as another type, or not JSON at all
            return await exchange_error(request, refused)
        problems = []
        for err in exc.errors():
            loc = [str(x) for x in err.get("loc", ())]
            where = (
                ".".join(loc[1:]) if loc and loc[0] in ("body", "query", "path") else ".".join(loc)
            )
            problems.append(Problem(None, f"{loc[0]}:{where}" if loc else "", err.get("msg", "")))
        return problem_response(
            400, "Invalid input", "the request does not match the API", problems
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return http_problem(exc)


def http_problem(exc: StarletteHTTPException) -> JSONResponse:
    """Starlette's own refusals (no such route, a method it does not take) as problem+json."""
    headers = dict(exc.headers) if exc.headers else None
    return problem_response(exc.status_code, str(exc.detail), str(exc.detail), None, headers)
