"""Errors of the manual (paper work) package. Refused rows are data (`Refusal`), not errors.

ManualError
 ├── MappingError   the column mapping does not fit (`problems`: every fault, named up front)
 └── CsvFileError   the file cannot be read as a spreadsheet export (encoding, no rows, too big)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a row (or a single entry) is refused: `line` in the file (None for a single entry),
    the `column` (or field) at fault, and the reason."""

    line: int | None
    column: str
    reason: str


class ManualError(Exception):
    """`notes`: how the file was read (not UTF-8, read as cp1252), for an error about a file;
    a header that does not fit the mapping may be the encoding's doing."""

    def __init__(
        self, detail: str, problems: list[Refusal] | None = None, notes: tuple[str, ...] = ()
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = problems or []
        self.notes = notes


class MappingError(ManualError):
    pass


class CsvFileError(ManualError):
    pass
