"""Errors of the edge outbox. Each says what was wrong and what to do.

OutboxError                 root of everything this package raises
 ├── OutboxConfigError      the outbox file is missing, not initialised, or set up differently
 ├── WriteRefused           events were refused; `problems` lists every fault; nothing stored
 │    └── ConflictingWrite  an id was written before with a different body
 ├── ExportError            nothing to export, or the chosen range cannot be exported
 ├── KeyFileError           a key file is missing, unreadable, or would be overwritten
 └── BundleError            a bundle is refused (`kind` and `problems` say why); nothing stored

This module imports only the standard library (bundle.py, the pure part, depends on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "BundleError",
    "BundleRefusal",
    "ConflictingWrite",
    "ExportError",
    "KeyFileError",
    "OutboxConfigError",
    "OutboxError",
    "WriteProblem",
    "WriteRefused",
]

BundleRefusal = Literal["malformed", "truncated", "tampered", "foreign", "replayed", "gap"]
"""Why a bundle was refused:

- ``malformed``: not a bundle (unreadable, garbled, fields missing or of the wrong type)
- ``truncated``: fewer events than the header announces, or the file is cut off
- ``tampered``: the payload hash or the signature does not match
- ``foreign``: no key is registered for its OIN, it was signed with another key, it is not from
  the expected partner, or an event's source belongs to another OIN
- ``replayed``: the bundle (or its sequences) was imported before
- ``gap``: sequences are missing before the bundle or inside it
"""


@dataclass(frozen=True, slots=True)
class WriteProblem:
    """One fault in a write: `index` is the event's position in the batch (None: the batch)."""

    index: int | None
    field: str
    reason: str


class OutboxError(Exception):
    """Root of the outbox's errors."""


class OutboxConfigError(OutboxError):
    """The outbox file is missing, not initialised, or initialised for another OIN or source."""


class WriteRefused(OutboxError):
    """The write was refused as a whole; `problems` lists every fault. Nothing was stored."""

    def __init__(self, detail: str, problems: list[WriteProblem]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = problems


class ConflictingWrite(WriteRefused):
    """An id was written before with a different body. Nothing was stored."""


class ExportError(OutboxError):
    """Nothing to export, or the chosen range cannot be exported."""


class KeyFileError(OutboxError):
    """A key file is missing or unreadable, or creating one would overwrite a file."""


class BundleError(OutboxError):
    """A bundle was refused. `kind` says why in one word; `problems` lists every finding.

    Nothing of a refused bundle may be stored.
    """

    def __init__(self, kind: BundleRefusal, problems: list[str]) -> None:
        self.kind: BundleRefusal = kind
        self.problems = list(problems)
        super().__init__(f"bundle refused ({kind}): " + "; ".join(self.problems))
