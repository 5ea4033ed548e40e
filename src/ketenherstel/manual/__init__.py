"""Paper work as first-class data: manual records and interim procedures, checked against the
chain. Pure: the standard library and `ketenherstel.chain` only; storing is the store's job and
the use cases are in `ketenherstel.exchange.manual`.

- `entries`: one registration (partner, case, type, when, role, business-key fields) checked,
  with the business key the later digital message will carry.
- `csv_import`: a spreadsheet export with a column mapping, every refused row with its line,
  column and reason.
- `procedures`: an interim procedure checked against the chain.

Errors: see `errors` (`ManualError` → `MappingError`, `CsvFileError`); refused rows are
`Refusal` values, not exceptions.
"""

from ketenherstel.manual.csv_import import ColumnMapping, ImportReport, ImportRow, parse_csv
from ketenherstel.manual.entries import (
    CheckedEntry,
    ManualEntry,
    business_key_digest,
    check_entry,
    resolve_partner,
    resolve_type,
    type_alias,
)
from ketenherstel.manual.errors import CsvFileError, ManualError, MappingError, Refusal
from ketenherstel.manual.procedures import CheckedProcedure, ProcedureDraft, check_procedure

__all__ = [
    "CheckedEntry",
    "CheckedProcedure",
    "ColumnMapping",
    "CsvFileError",
    "ImportReport",
    "ImportRow",
    "ManualEntry",
    "ManualError",
    "MappingError",
    "ProcedureDraft",
    "Refusal",
    "business_key_digest",
    "check_entry",
    "check_procedure",
    "parse_csv",
    "resolve_partner",
    "resolve_type",
    "type_alias",
]
