"""Errors of the exchange. Each says what was wrong and what to do; the web layer maps each
class to one HTTP status.

ExchangeError
 ├── InvalidInput       400  the request is malformed; `problems` lists every fault
 ├── Unauthenticated    401  no valid credential
 ├── Forbidden          403  authenticated, but not allowed (wrong source, wrong role)
 ├── NotFound           404  no such partner, message, delivery or credential
 ├── ConflictingEvent   409  an id was reused with a different body
 ├── StateConflict      409  the object is not in a state that allows this
 ├── TooLarge           413  the request body exceeds the limit
 └── UnsupportedMedia   415  the content type is not one we read
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One fault: `index` is the event's position in a batch (None for the request itself)."""

    index: int | None
    field: str
    reason: str


class ExchangeError(Exception):
    status = 500
    title = "Exchange error"

    def __init__(self, detail: str, problems: list[Problem] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = problems or []


class InvalidInput(ExchangeError):
    status = 400
    title = "Invalid input"


class Unauthenticated(ExchangeError):
    status = 401
    title = "Not authenticated"


class Forbidden(ExchangeError):
    status = 403
    title = "Forbidden"


class NotFound(ExchangeError):
    status = 404
    title = "Not found"


class ConflictingEvent(ExchangeError):
    status = 409
    title = "Conflicting event"


class StateConflict(ExchangeError):
    status = 409
    title = "State conflict"


class TooLarge(ExchangeError):
    status = 413
    title = "Request too large"


class UnsupportedMedia(ExchangeError):
    status = 415
    title = "Unsupported media type"
