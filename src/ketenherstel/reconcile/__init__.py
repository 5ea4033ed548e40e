"""Reconciliation (PRODUCT.md M6, decision 0011): compare what each hop of the chain holds and
say what is missing, duplicated, conflicting or late, and repair it."""

from ketenherstel.reconcile._pair import DETAIL_CLASSES
from ketenherstel.reconcile.ledger import (
    CANONICAL,
    LIVE,
    MIN_MEMORY,
    LedgerSpec,
    ReconcileError,
    ReconcileInputError,
    parse_duration,
    parse_hop,
    parse_mapping,
    parse_memory,
    parse_slas,
)
from ketenherstel.reconcile.report import Report
from ketenherstel.reconcile.service import (
    LiveSources,
    RepairResult,
    check_limit_types,
    check_partner_constants,
    find_report,
    legal_limits,
    list_reports,
    reconcile,
    request_list,
    resend,
)

__all__ = [
    "CANONICAL",
    "DETAIL_CLASSES",
    "LIVE",
    "MIN_MEMORY",
    "LedgerSpec",
    "LiveSources",
    "ReconcileError",
    "ReconcileInputError",
    "RepairResult",
    "Report",
    "check_limit_types",
    "check_partner_constants",
    "find_report",
    "legal_limits",
    "list_reports",
    "parse_duration",
    "parse_hop",
    "parse_mapping",
    "parse_memory",
    "parse_slas",
    "reconcile",
    "request_list",
    "resend",
]
