"""JSON request bodies, read as `/v1/events` reads its events and refused by name.

FastAPI on its own reads a route's pydantic body with the standard library's `json`, and only
when the Content-Type says JSON: a body sent as text/plain (or with no Content-Type) is
validated as raw bytes ("Input should be a valid dictionary"), and one it cannot decode
(invalid UTF-8, 50,000 nested ``[``) is "There was an error parsing the body".

Every API router is an `APIRouter(route_class=JsonBodyRoute)`. A route of it whose body is a
pydantic model refuses a body of another media type with 415 (an empty one too: it is not
"Field required" when its Content-Type says it is not JSON), and one that is not JSON with
400 naming the fault and where, in `/v1/events`' words (`envelope.load_json`: "str is not
valid UTF-8", "depth limit exceeded: line 1 column 1026"). What is JSON is read as before, by
the standard library (a rate of NaN is still answered by the rate's own rule, a number past
64 bits as out of range), except that an object that gives a key twice is refused with 400
naming each such key and its object (json.loads, like pydantic's own reader, would keep the
last value: a channel opened with ``"rate": 1, "rate": 100`` ran at 100/s). The refusal is
answered where FastAPI answers the body's
validation errors: after the route's dependencies, so a caller without a credential still
hears 401 and a viewer on an operator's route 403, as on the routes that read their bodies
themselves. Nothing runs with the body: the route's function is never called.

A body is read no further than `JSON_BODY_LIMIT` (every model body is small: a thousand
delivery ids is 22 KB): one over it is refused with 413 as soon as its Content-Length says so,
or as soon as that many bytes have come (a chunked body has no Content-Length), before the
caller's credential is checked, so that no caller, with or without a token, makes the server
hold a body of any size.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import params
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from ketenherstel import documents
from ketenherstel.exchange.envelope import load_json
from ketenherstel.exchange.errors import (
    ExchangeError,
    InvalidInput,
    Problem,
    TooLarge,
    UnsupportedMedia,
)
from ketenherstel.web.openapi import PROBLEM_JSON

__all__ = [
    "JSON_413",
    "JSON_415",
    "JSON_BODY_LIMIT",
    "JsonBodyRoute",
    "body_refusal",
    "read_limited",
    "refuse_keys_twice",
]

JSON_BODY_LIMIT = 1024 * 1024
JSON_413: dict[str, Any] = {
    "description": f"The body is over {JSON_BODY_LIMIT:,} bytes",
    "content": {PROBLEM_JSON: {}},
}

JSON_415: dict[str, Any] = {
    "description": "The body is not sent as JSON (Content-Type: application/json)",
    "content": {PROBLEM_JSON: {}},
}

# Where the refusal waits, in the request's scope, for the validation error it replaces.
_REFUSAL = "ketenherstel.body_refusal"
# What FastAPI validates instead of a body that is not JSON: never a valid model.
_UNREADABLE = object()


async def read_limited(
    request: Request, limit: int, what: str = "the body", hint: str = ""
) -> bytes:
    """The request's body, read no further than ``limit`` bytes: TooLarge (413) as soon as its
    Content-Length, or what has come of it (a chunked body has none), is over (``hint`` says
    what to do then). Read once: the request keeps it for whoever reads it next. A client that
    goes away mid-body is answered 400 (nobody hears it), not a server error."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise TooLarge(f"{what} is {length} bytes; at most {limit} allowed{hint}")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"{what} is over {limit} bytes; at most {limit} allowed{hint}")
            chunks.append(chunk)
    except ClientDisconnect:
        raise InvalidInput(f"{what} ended early: the client went away") from None
    body = b"".join(chunks)
    request._body = body  # what Request.body() returns from now on
    return body


def body_refusal(request: Request) -> ExchangeError | None:
    """Why the request's JSON body was refused, or None: the answer to give instead of
    FastAPI's validation errors."""
    refusal: ExchangeError | None = request.scope.get(_REFUSAL)
    return refusal


def _is_json(media: str) -> bool:
    # FastAPI's own rule: application/json or a structured +json subtype.
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _not_json(body: bytes, error: Exception) -> str:
    """Why ``body`` is not JSON, as `/v1/events` says it; the standard library's reason when
    orjson reads it (nested deeper than Python's stack allows, yet within orjson's 1,024:
    documents.JsonTooDeep)."""
    try:
        load_json(body)
    except ValueError as exc:
        return str(exc)
    if isinstance(error, documents.JsonTooDeep):
        return "the body is not valid JSON: it is nested too deep"
    return f"the body is not valid JSON: {error}"


def _keys_twice(twice: list[documents.DuplicateKey]) -> InvalidInput:
    return InvalidInput(
        "the body gives a key twice in one object; give each key once",
        [Problem(None, f"body:{d.path}", str(d)) for d in twice],
    )


def refuse_keys_twice(body: bytes) -> None:
    """For a route that reads its JSON body itself: InvalidInput listing every key ``body``
    gives twice in one object (nothing when it gives none, or is no JSON)."""
    twice = documents.json_duplicates(body)
    if twice:
        raise _keys_twice(twice)


class _JsonRequest(Request):
    """A request whose body is JSON or noted as not JSON: a body that is not stands as a value
    no model accepts, so that the route's dependencies run first."""

    _document: Any

    async def json(self) -> Any:
        if not hasattr(self, "_document"):
            body = await self.body()
            try:
                self._document = documents.load_json(body)  # json.loads, keys given once
            except documents.DuplicateJsonKeys as exc:
                self.scope[_REFUSAL] = _keys_twice(exc.duplicates)
                self._document = _UNREADABLE
            except ValueError as exc:  # UnicodeDecodeError and JsonTooDeep are ValueErrors
                self.scope[_REFUSAL] = InvalidInput(_not_json(body, exc))
                self._document = _UNREADABLE
        return self._document


class JsonBodyRoute(APIRoute):
    """An API route that reads a pydantic body as JSON or refuses it by name (module doc)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if self._reads_json():
            self.responses = {413: JSON_413, 415: JSON_415, **self.responses}

    def _reads_json(self) -> bool:
        field = self.body_field
        return field is not None and not isinstance(field.field_info, params.Form)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not self._reads_json():
            return handler

        async def read_json(request: Request) -> Response:
            request = _JsonRequest(request.scope, request.receive)
            body = await read_limited(request, JSON_BODY_LIMIT)
            raw = request.headers.get("content-type", "")
            media = raw.split(";")[0].strip().lower()
            # An empty body said to be another type is that type's too: 415 as a full one is,
            # not "Field required". Nothing at all (no body, no Content-Type) stays a missing
            # body (400), and a route whose body may be left out runs without one.
            if not _is_json(media) and (body or media):
                # FastAPI validates these bytes as the model (an empty body as none), which
                # refuses them, and the refusal below is answered instead.
                sent = f"not as {media!r}" if media else "it came with no Content-Type"
                request.scope[_REFUSAL] = UnsupportedMedia(
                    f"send the body as JSON (Content-Type: application/json), {sent}"
                )
            return await handler(request)

        return read_json
