"""One paper registration checked against the chain: who did the work, which message type it
stands for, which case, when, and the business key that the later digital message of the same
fact will carry.

The case number is the first field of the type's business key (the parketnummer, or the id the
type has); the other key fields (a judgment date, a measure) are given by name. Values are
normalised the way the type's JSON Schema writes them (`21-07-2025` → `2025-07-21` for a date,
`Bewaring` → `bewaring` for an enum) so that the key equals the digital message's.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from ketenherstel.chain import Chain
from ketenherstel.manual._dates import amsterdam, outside_dates, parse_day, parse_when
from ketenherstel.manual.errors import Refusal
from ketenherstel.text import hidden_character, personal_identifier

MAX_TEXT = 200

# Business-key dates that name a day planned ahead of the work: a summons (dagvaarding) and a
# planned hearing (zitting-gepland) carry the day of the hearing, which may well lie ahead.
# Every other business-key date (a judgment date …) names something that has happened, so it
# cannot lie after today any more than the work itself (`when`).
DATES_AHEAD = frozenset({"hearingDate"})


@dataclass(frozen=True, slots=True)
class ManualEntry:
    """A registration as typed: partner key or name, type name or alias, `when` as text or a
    datetime (naive means Europe/Amsterdam), the registering role, and business-key fields."""

    partner: str
    case: str
    type: str
    when: str | datetime
    role: str
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckedEntry:
    partner: str
    case: str
    type: str
    fields: tuple[tuple[str, str], ...]  # the business-key fields, in key order
    key: str  # the business key, as `Chain.business_key` builds it
    bkey: str  # its digest, as stored messages carry it
    happened_at: float
    registered_by: str


def business_key_digest(key: str) -> str:
    """The digest under which messages and manual records keep a business key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def type_alias(type_name: str) -> str:
    """`nl.strafrechtketen.registratie.uitspraak-geregistreerd.v1` → `uitspraak-geregistreerd`."""
    parts = type_name.split(".")
    return parts[-2] if len(parts) >= 2 else type_name


def resolve_partner(chain: Chain, text: str) -> str:
    """A partner key from its key or name (any case); LookupError says what is known."""
    wanted = text.strip().casefold()
    for partner in chain.partners:
        if wanted in (partner.key.casefold(), partner.name.casefold()):
            return partner.key
    known = ", ".join(p.key for p in chain.partners)
    raise LookupError(f"unknown partner {text.strip()!r}; the chain's partners are: {known}")


# Each chain's types by every name they answer to: a spreadsheet import resolves a type per
# row, and scanning every type each time was 40 % of checking 50,000 rows. Keyed by the chain
# object itself (kept alive here, so its id is not reused), for the last few chains.
_TYPE_NAMES: dict[int, tuple[Chain, dict[str, list[str]]]] = {}
_TYPE_NAMES_KEPT = 8
_TYPE_NAMES_LOCK = threading.Lock()  # the API imports in a thread pool


def _type_names(chain: Chain) -> dict[str, list[str]]:
    with _TYPE_NAMES_LOCK:
        found = _TYPE_NAMES.get(id(chain))
        if found is not None and found[0] is chain:
            return found[1]
        names: dict[str, list[str]] = {}
        for mt in chain.message_types:
            for name in {mt.type.casefold(), type_alias(mt.type).casefold(), mt.name.casefold()}:
                names.setdefault(name, []).append(mt.type)
        if len(_TYPE_NAMES) >= _TYPE_NAMES_KEPT:
            del _TYPE_NAMES[next(iter(_TYPE_NAMES))]
        _TYPE_NAMES[id(chain)] = (chain, names)
        return names


def resolve_type(chain: Chain, text: str) -> str:
    """A full type name from the name, a short alias or the display name (any case)."""
    hits = _type_names(chain).get(text.strip().casefold(), [])
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise LookupError(f"type {text.strip()!r} is ambiguous: {', '.join(hits)}")
    raise LookupError(
        f"unknown type {text.strip()!r}; use a full type name or a short alias such as "
        "'uitspraak-geregistreerd' (see `ketenherstel chain show`)"
    )


def _normalise(prop: Mapping[str, Any], name: str, value: str) -> str:
    """`value` as the schema writes it; ValueError with the reason when it cannot be."""
    if prop.get("type") == "integer":
        if not re.fullmatch(r"[+-]?[0-9]+", value):
            raise ValueError(f"{name} must be a whole number, not {value!r}")
        return str(int(value))
    enum = prop.get("enum")
    if isinstance(enum, list):
        for option in enum:
            if str(option).casefold() == value.casefold():
                return str(option)
        raise ValueError(f"{name} {value!r} is not one of: {', '.join(map(str, enum))}")
    if prop.get("format") == "date":
        return parse_day(value).isoformat()
    pattern = prop.get("pattern")
    if isinstance(pattern, str) and re.search(pattern, value) is None:
        raise ValueError(f"{name} {value!r} does not have the expected form ({pattern})")
    return value


def _text(raw: str, what: str, where: str, line: int | None, out: list[Refusal]) -> str:
    value = raw.strip()
    if not value:
        out.append(Refusal(line, where, f"missing {what}"))
    elif len(value) > MAX_TEXT:
        out.append(Refusal(line, where, f"{what} is longer than {MAX_TEXT} characters"))
    elif (hidden := hidden_character(value, one_line=True)) is not None:  # one line, too
        why = f"{what} holds a control or invisible character ({hidden})"
        out.append(Refusal(line, where, why))
    return value


def check_entry(
    chain: Chain,
    entry: ManualEntry,
    *,
    now: float,
    line: int | None = None,
    columns: Mapping[str, str] | None = None,
    named: Collection[str] = (),
) -> tuple[CheckedEntry | None, list[Refusal]]:
    """The checked entry, or None and every reason it is refused.

    `columns` names where each part came from (`partner`, `case`, `type`, `when`, `role`,
    `fields.<name>` → a column header) for the refusals; by default the part's own name.
    `named`: the fields someone gave by name (not a spreadsheet's columns, which may serve
    other types); each must be a business-key field of the type, or it is refused.
    """
    names = columns or {}

    def col(part: str) -> str:
        return names.get(part, part)

    out: list[Refusal] = []
    partner = type_name = None
    if _text(entry.partner, "partner", col("partner"), line, out):
        try:
            partner = resolve_partner(chain, entry.partner)
        except LookupError as exc:
            out.append(Refusal(line, col("partner"), str(exc)))
    if _text(entry.type, "message type", col("type"), line, out):
        try:
            type_name = resolve_type(chain, entry.type)
        except LookupError as exc:
            out.append(Refusal(line, col("type"), str(exc)))
    if partner and type_name and not chain.may_send(partner, type_name):
        senders = ", ".join(chain.message_type(type_name).senders)  # type: ignore[union-attr]
        out.append(
            Refusal(
                line,
                col("partner"),
                f"{partner} never sends {type_alias(type_name)} per the chain; its senders "
                f"are: {senders}",
            )
        )
    case = _text(entry.case, "case number", col("case"), line, out)
    role = _text(entry.role, "registering role", col("role"), line, out)
    if role and personal_identifier(role):  # shown to viewers and the partner: never a person
        why = (
            "the registering role holds an e-mail address, an SKN or a BSN; give the role "
            "(griffie rechtbank), never a person"
        )
        out.append(Refusal(line, col("role"), why))
    happened = _when(entry.when, now, line, col("when"), out)
    if type_name is None:
        return None, out
    key_fields = chain.business_key_fields(type_name)
    props = chain.message_type(type_name).schema.get("properties", {})  # type: ignore[union-attr]
    for name in sorted(set(named) - set(key_fields)):
        out.append(
            Refusal(
                line,
                col(f"fields.{name}"),
                f"{name!r} is not a business-key field of {type_alias(type_name)}; "
                f"its fields are: {', '.join(key_fields[1:]) or 'none besides the case'}",
            )
        )
    values: dict[str, str] = {}
    for index, name in enumerate(key_fields):
        raw = entry.fields.get(name, "")
        given = raw.strip()
        where = col(f"fields.{name}")
        if index == 0 and case:
            if given and given != case:
                out.append(
                    Refusal(line, where, f"{name} {given!r} differs from the case number {case!r}")
                )
            raw = given = case
            where = col("case")
        if not given:
            if index > 0:  # a missing case number is refused above
                out.append(Refusal(line, where, f"missing business-key field {name}"))
            continue
        # Checked before stripping (an escape at an edge is not stripped away unseen), and one
        # line: a line break inside a key is no part of it.
        hidden = hidden_character(raw) or hidden_character(raw.strip(), one_line=True)
        if hidden is not None:
            why = f"{name} holds a control or invisible character ({hidden})"
            out.append(Refusal(line, where, why))
            continue
        try:
            values[name] = _normalise(props.get(name, {}), name, given)
        except ValueError as exc:
            out.append(Refusal(line, where, str(exc)))
            continue
        if props.get(name, {}).get("format") == "date":
            bad_day = _day(name, values[name], now)
            if bad_day is not None:
                out.append(Refusal(line, where, bad_day))
    if out or partner is None or happened is None:
        return None, out
    key = chain.business_key(type_name, values)
    if key is None:  # every field was checked above; this would be a chain model fault
        return None, [Refusal(line, col("type"), f"{type_name} has no usable business key")]
    return (
        CheckedEntry(
            partner=partner,
            case=values[key_fields[0]],
            type=type_name,
            fields=tuple((name, values[name]) for name in key_fields),
            key=key,
            bkey=business_key_digest(key),
            happened_at=happened,
            registered_by=role,
        ),
        [],
    )


def _day(name: str, value: str, now: float) -> str | None:
    """Why a business-key date (`yyyy-mm-dd`, as normalised) cannot be meant, or None: it lies
    outside the dates taken here, or (unless it names a day planned ahead, DATES_AHEAD) after
    today in Amsterdam time, where the work itself (`when`) may not lie after now."""
    day = date.fromisoformat(value)
    why = outside_dates(datetime.combine(day, time()))
    if why is not None:
        return f"{name}: {why}"
    today = datetime.fromtimestamp(now, amsterdam()).date()
    if day > today and name not in DATES_AHEAD:
        return (
            f"{name} {day:%d-%m-%Y} is in the future (today is {today:%d-%m-%Y}): it dates "
            "what has happened, as the work does"
        )
    return None


def _when(
    raw: str | datetime, now: float, line: int | None, where: str, out: list[Refusal]
) -> float | None:
    if isinstance(raw, datetime):
        moment = raw if raw.tzinfo is not None else raw.replace(tzinfo=amsterdam())
    elif not raw.strip():
        out.append(Refusal(line, where, "missing date (when the work was done)"))
        return None
    else:
        try:
            moment = parse_when(raw)
        except ValueError as exc:
            out.append(Refusal(line, where, str(exc)))
            return None
    why = outside_dates(moment)
    if why is not None:
        out.append(Refusal(line, where, why))
        return None
    stamp = moment.timestamp()
    if stamp > now:
        out.append(Refusal(line, where, f"date {moment.isoformat()} is in the future"))
        return None
    return stamp


__all__ = [
    "CheckedEntry",
    "ManualEntry",
    "business_key_digest",
    "check_entry",
    "resolve_partner",
    "resolve_type",
    "type_alias",
]
