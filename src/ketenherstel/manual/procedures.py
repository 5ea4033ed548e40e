"""Interim procedures (werkprocessen in de tussentijd): a work agreement per process while its
digital flow is down, checked against the chain before it is kept.

A procedure names its process, what replaces the digital flow (in words), from when it applies,
which partners were told, and optionally the emergency route or the message type registered by
hand under it. That type must belong to the process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ketenherstel.chain import Chain, ChainLookupError
from ketenherstel.manual._dates import amsterdam, outside_dates, parse_when
from ketenherstel.manual.entries import MAX_TEXT, resolve_partner, resolve_type
from ketenherstel.manual.errors import Refusal
from ketenherstel.text import hidden_character, personal_identifier

MAX_REPLACES = 2_000


@dataclass(frozen=True, slots=True)
class ProcedureDraft:
    process: str
    replaces: str
    valid_from: str | datetime
    partners_informed: Sequence[str] = ()
    emergency_route: str | None = None
    manual_type: str | None = None


@dataclass(frozen=True, slots=True)
class CheckedProcedure:
    process: str
    replaces: str
    valid_from: float
    partners_informed: tuple[str, ...]
    emergency_route: str | None
    manual_type: str | None


def check_procedure(
    chain: Chain, draft: ProcedureDraft
) -> tuple[CheckedProcedure | None, list[Refusal]]:
    """The checked procedure, or None and every problem (field, reason)."""
    out: list[Refusal] = []
    process = draft.process.strip()
    try:
        chain.process(process)
    except ChainLookupError:
        known = ", ".join(p.key for p in chain.processes_in_order())
        out.append(Refusal(None, "process", f"unknown process {process!r}; known: {known}"))
        process = ""
    replaces = draft.replaces.strip()
    if not replaces:
        out.append(Refusal(None, "replaces", "say what replaces the digital flow"))
    elif len(replaces) > MAX_REPLACES:
        out.append(Refusal(None, "replaces", f"longer than {MAX_REPLACES} characters"))
    elif (hidden := hidden_character(replaces)) is not None:  # shown in terminals and the UI
        reason = f"holds a control or invisible character ({hidden}); line breaks are fine"
        out.append(Refusal(None, "replaces", reason))
    elif personal_identifier(replaces):
        # As the exchange's reasons; not repeated in the answer, it is the personal data itself.
        reason = (
            "gives no SKN, BSN or e-mail address: a procedure is read by viewers and the partners "
            "told about it, and is on the picture's timeline, which carry no personal data"
        )
        out.append(Refusal(None, "replaces", reason))
    valid_from: float | None = None
    moment: datetime | None = None
    if isinstance(draft.valid_from, datetime):
        moment = draft.valid_from
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=amsterdam())
    else:
        try:
            moment = parse_when(draft.valid_from)
        except ValueError as exc:
            out.append(Refusal(None, "validFrom", str(exc)))
    if moment is not None:
        why = outside_dates(moment)
        if why is not None:
            out.append(Refusal(None, "validFrom", why))
        else:
            valid_from = moment.timestamp()
    partners: list[str] = []
    for index, name in enumerate(draft.partners_informed):
        try:
            key = resolve_partner(chain, name)
        except LookupError as exc:
            out.append(Refusal(index, "partnersInformed", str(exc)))
            continue
        if key in partners:
            out.append(Refusal(index, "partnersInformed", f"{key} is named twice"))
        partners.append(key)
    route = (draft.emergency_route or "").strip() or None
    if route is not None and len(route) > MAX_TEXT:
        out.append(Refusal(None, "emergencyRoute", f"longer than {MAX_TEXT} characters"))
    manual_type = None
    if draft.manual_type and draft.manual_type.strip():
        try:
            manual_type = resolve_type(chain, draft.manual_type)
        except LookupError as exc:
            out.append(Refusal(None, "manualType", str(exc)))
        else:
            owner = chain.message_type(manual_type).process  # type: ignore[union-attr]
            if process and owner != process:
                reason = f"{manual_type} belongs to process {owner}, not {process}"
                out.append(Refusal(None, "manualType", reason))
    if out or valid_from is None:
        return None, out
    return (
        CheckedProcedure(process, replaces, valid_from, tuple(partners), route, manual_type),
        [],
    )


__all__ = ["CheckedProcedure", "ProcedureDraft", "check_procedure"]
