"""The chain as values: partners, processes, message types and the routing between them.

Everything here is immutable and free of I/O; ``loader`` builds a :class:`Chain` from data files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from ketenherstel.chain._validation import DataProblem, DataValidator
from ketenherstel.chain.errors import ChainLookupError

__all__ = [
    "OIN_PATTERN",
    "SYSTEM_PATTERN",
    "Chain",
    "Deadline",
    "MessageType",
    "Partner",
    "Phase",
    "Process",
    "compile_validators",
    "parse_iso_duration",
    "parse_source_urn",
    "source_urn",
]

OIN_PATTERN = re.compile(r"[0-9]{20}")
"""An organisation identification number (OIN): exactly 20 digits."""

SYSTEM_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
"""A partner system's name as it appears in a source URN."""

_SOURCE_URN = re.compile(r"urn:nld:oin:([0-9]{20}):systeem:([a-z0-9][a-z0-9-]{0,62})")

_ISO_DURATION = re.compile(
    r"P(?!$)(?:(?P<weeks>[0-9]+)W)?(?:(?P<days>[0-9]+)D)?"
    r"(?:T(?=[0-9])(?:(?P<hours>[0-9]+)H)?(?:(?P<minutes>[0-9]+)M)?(?:(?P<seconds>[0-9]+)S)?)?"
)
_ISO_ANY_DURATION = re.compile(r"P(?:[0-9]+[YMWD])*(?:T(?:[0-9]+[HMS])+)?")


class Phase(StrEnum):
    """Where a process sits in the criminal procedure.

    The four procedure phases follow each other in this order. ``REGISTRATIE`` (registration of
    judicial data in JDS) is not a fifth phase: it runs beside all four.
    """

    OPSPORING = "opsporing"
    VERVOLGING = "vervolging"
    BERECHTING = "berechting"
    TENUITVOERLEGGING = "tenuitvoerlegging"
    REGISTRATIE = "registratie"

    @classmethod
    def procedure_order(cls) -> tuple[Phase, ...]:
        """The procedure phases in criminal-procedure order (without the registration track)."""
        return (cls.OPSPORING, cls.VERVOLGING, cls.BERECHTING, cls.TENUITVOERLEGGING)

    @property
    def in_procedure(self) -> bool:
        """True for the four procedure phases, False for the registration track beside them."""
        return self is not Phase.REGISTRATIE

    @property
    def rank(self) -> int | None:
        """0 to 3 in procedure order; None for the registration track, which has no place in it."""
        return _RANKS.get(self)

    @property
    def label(self) -> str:
        """Dutch label for display."""
        return _LABELS[self]


_RANKS: dict[Phase, int] = {phase: i for i, phase in enumerate(Phase.procedure_order())}
_LABELS: dict[Phase, str] = {
    Phase.OPSPORING: "Opsporing",
    Phase.VERVOLGING: "Vervolging",
    Phase.BERECHTING: "Berechting",
    Phase.TENUITVOERLEGGING: "Tenuitvoerlegging",
    Phase.REGISTRATIE: "Registratie justitiële gegevens (naast alle fasen)",
}


def parse_iso_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration made of weeks, days, hours, minutes and seconds.

    ``P3D``, ``PT9H``, ``P3DT18H``, ``P2W``. Years and months are refused: they have no fixed
    length, so a deadline must be written in days. Raises ``ValueError`` with the reason.
    """
    match = _ISO_DURATION.fullmatch(text)
    if match is None:
        date_part = text.partition("T")[0]
        if _ISO_ANY_DURATION.fullmatch(text) and re.search(r"[0-9][YM]", date_part):
            raise ValueError(
                f"{text!r} uses years or months, which have no fixed length; write it in days"
            )
        raise ValueError(
            f"{text!r} is not an ISO 8601 duration of the form PnW or PnDTnHnMnS (e.g. P3D, PT9H)"
        )
    parts = {name: int(value) for name, value in match.groupdict().items() if value is not None}
    delta = timedelta(**parts)
    if delta <= timedelta(0):
        raise ValueError(f"{text!r} is not a positive duration")
    return delta


@dataclass(frozen=True, slots=True)
class Deadline:
    """A legal deadline of a process: ``duration`` as ISO 8601 (``P3D``), text and legal basis."""

    duration: str
    text: str
    legal_basis: str | None = None

    @property
    def delta(self) -> timedelta:
        """The duration as a timedelta."""
        return parse_iso_duration(self.duration)


@dataclass(frozen=True, slots=True)
class Partner:
    """A chain partner (or a class of them, such as all municipalities)."""

    key: str
    name: str
    oin: str
    kind: str
    systems: tuple[str, ...]
    description: str


@dataclass(frozen=True, slots=True)
class Process:
    """A chain process; ``order`` sorts processes within the procedure."""

    key: str
    name: str
    phase: Phase
    order: int
    deadline: Deadline | None
    description: str


@dataclass(frozen=True, slots=True)
class MessageType:
    """A chain message type: who sends it, who receives it, and the JSON Schema of its data.

    ``schema`` is a JSON Schema (draft 2020-12) document; treat it as read-only.

    ``business_key`` names the top-level ``data`` fields that, with the type, identify one fact
    in the chain (see :meth:`Chain.business_key`): a re-send under a new CloudEvents id, or a
    paper registration entered later, has the same key. Each is a required string or integer
    property of the schema.

    ``depends_on`` names the types whose fact, for the same case (or request), comes earlier in
    the procedure and must be recorded on the receiving side before this one can be registered
    consistently ("a conviction only after the arrest"). It orders types, not instances: not every
    case has every dependency (a transaction's execution has no judgment), so read it as "apply
    those first where they exist", never as "wait until they exist".
    """

    type: str
    name: str
    process: str
    senders: tuple[str, ...]
    receivers: tuple[str, ...]
    personal_data: bool
    schema: Mapping[str, Any] = field(hash=False)
    business_key: tuple[str, ...]
    depends_on: tuple[str, ...] = ()


def source_urn(partner: Partner, system: str | None = None) -> str:
    """The CloudEvents ``source`` of ``partner``'s ``system``: ``urn:nld:oin:<OIN>:systeem:<name>``.

    ``system`` defaults to the partner's first system and must be one of its systems.
    """
    chosen = partner.systems[0] if system is None else system
    if chosen not in partner.systems:
        known = ", ".join(partner.systems)
        raise ChainLookupError(
            f"partner {partner.key!r} has no system {chosen!r}; its systems are: {known}"
        )
    return f"urn:nld:oin:{partner.oin}:systeem:{chosen}"


def parse_source_urn(text: str) -> tuple[str, str] | None:
    """``(oin, system)`` from a source URN, or None when ``text`` is not exactly one."""
    match = _SOURCE_URN.fullmatch(text)
    if match is None:
        return None
    return match.group(1), match.group(2)


@dataclass(frozen=True, slots=True)
class Chain:
    """A version of the chain: its partners, processes and message types.

    Build one with :func:`ketenherstel.chain.load_chain`, which checks every reference first.
    """

    version: str
    partners: tuple[Partner, ...]
    processes: tuple[Process, ...]
    message_types: tuple[MessageType, ...]
    _partners: dict[str, Partner] = field(init=False, repr=False, compare=False)
    _partners_by_oin: dict[str, Partner] = field(init=False, repr=False, compare=False)
    _processes: dict[str, Process] = field(init=False, repr=False, compare=False)
    _types: dict[str, MessageType] = field(init=False, repr=False, compare=False)
    _validator: DataValidator = field(init=False, repr=False, compare=False)
    _closures: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        setter = object.__setattr__
        setter(self, "_partners", {partner.key: partner for partner in self.partners})
        setter(self, "_partners_by_oin", {partner.oin: partner for partner in self.partners})
        setter(self, "_processes", {process.key: process for process in self.processes})
        setter(self, "_types", {mt.type: mt for mt in self.message_types})
        setter(self, "_validator", DataValidator({mt.type: mt.schema for mt in self.message_types}))
        direct = {mt.type: mt.depends_on for mt in self.message_types}
        setter(self, "_closures", {name: _closure(direct, name) for name in direct})

    def partner(self, key: str) -> Partner:
        """The partner with ``key``; raises :class:`ChainLookupError` if there is none."""
        try:
            return self._partners[key]
        except KeyError:
            raise ChainLookupError(f"the chain has no partner {key!r}") from None

    def partner_by_oin(self, oin: str) -> Partner | None:
        """The partner with this OIN, or None."""
        return self._partners_by_oin.get(oin)

    def partner_by_source(self, source: str) -> Partner | None:
        """The partner whose system ``source`` (a source URN) names, or None."""
        parsed = parse_source_urn(source)
        if parsed is None:
            return None
        partner = self._partners_by_oin.get(parsed[0])
        if partner is None or parsed[1] not in partner.systems:
            return None
        return partner

    def process(self, key: str) -> Process:
        """The process with ``key``; raises :class:`ChainLookupError` if there is none."""
        try:
            return self._processes[key]
        except KeyError:
            raise ChainLookupError(f"the chain has no process {key!r}") from None

    def legal_limits(self) -> dict[str, timedelta]:
        """Per message type, the legal deadline of its process (types without one have none)."""
        out: dict[str, timedelta] = {}
        for mt in self.message_types:
            deadline = self.process(mt.process).deadline
            if deadline is not None:
                out[mt.type] = deadline.delta
        return out

    def message_type(self, type_name: str) -> MessageType | None:
        """The message type named ``type_name``, or None."""
        return self._types.get(type_name)

    def _require_type(self, type_name: str) -> MessageType:
        message_type = self._types.get(type_name)
        if message_type is None:
            raise ChainLookupError(f"the chain has no message type {type_name!r}")
        return message_type

    def receivers_for(self, type_name: str, sender_key: str) -> tuple[str, ...]:
        """Partner keys that receive ``type_name`` when ``sender_key`` sends it (never the sender).

        Raises :class:`ChainLookupError` for an unknown type.
        """
        receivers = self._require_type(type_name).receivers
        return tuple(key for key in receivers if key != sender_key)

    def may_send(self, partner_key: str, type_name: str) -> bool:
        """Whether ``partner_key`` is one of the senders of ``type_name`` (False if unknown)."""
        message_type = self._types.get(type_name)
        return message_type is not None and partner_key in message_type.senders

    def processes_in_order(self) -> tuple[Process, ...]:
        """Procedure processes in procedure order, then the registration track beside them."""

        def key(process: Process) -> tuple[int, int, str]:
            rank = process.phase.rank
            return (len(_RANKS) if rank is None else rank, process.order, process.key)

        return tuple(sorted(self.processes, key=key))

    def types_for_process(self, process_key: str) -> tuple[MessageType, ...]:
        """Message types that belong to ``process_key``, in chain-file order."""
        return tuple(mt for mt in self.message_types if mt.process == process_key)

    def business_key_fields(self, type_name: str) -> tuple[str, ...]:
        """The ``data`` fields of ``type_name``'s business key, in key order.

        Raises :class:`ChainLookupError` for an unknown type.
        """
        return self._require_type(type_name).business_key

    def business_key(self, type_name: str, data: Mapping[str, object]) -> str | None:
        """The business key of one fact: the type and its key fields' values, ``|``-separated.

        The format is ``<type>|<value>|<value>...`` with the values of
        :meth:`business_key_fields` in that order, each as ``str(value)`` of the value as given
        (no trimming, no case folding), for example
        ``nl.strafrechtketen.vervolging.voorlopige-hechtenis-beslist.v1|13-100001-25|bewaring|bevolen``.
        Two messages with the same key are the same fact, whatever their CloudEvents ids.

        Build the key only through this method: code that has the fields without a message
        (manual paper records imported from a spreadsheet) calls it with a dict of just those
        fields, so both sides always agree on the format.

        None when the type is unknown, ``data`` is no mapping, or a key field is missing or None.
        """
        message_type = self._types.get(type_name)
        if message_type is None or not isinstance(data, Mapping):
            return None
        values = [data.get(name) for name in message_type.business_key]
        if any(value is None for value in values):
            return None
        return f"{type_name}|" + "|".join(str(value) for value in values)

    def dependencies_of(self, type_name: str) -> tuple[str, ...]:
        """Every type ``type_name`` depends on, directly or through others; sorted by name.

        Raises :class:`ChainLookupError` for an unknown type.
        """
        self._require_type(type_name)
        return self._closures[type_name]

    def data_validator(self, type_name: str) -> Callable[[object], object]:
        """The compiled (jsonschema-rs) validator of ``type_name``'s data.

        It returns None when the data is valid and raises ``jsonschema_rs.ValidationError``
        (a ``ValueError``) with the first problem otherwise; use :meth:`validate_data` to get
        every problem with its path.
        """
        self._require_type(type_name)
        validate: Callable[[object], object] = self._validator.fast_validator(type_name).validate
        return validate

    def validate_data(self, type_name: str, data: object) -> list[DataProblem]:
        """Every problem of ``data`` against the type's schema, as (JSON path, reason) pairs.

        Empty when valid. Raises :class:`ChainLookupError` for an unknown type.
        """
        self._require_type(type_name)
        return self._validator.validate(type_name, data)


def _closure(direct: Mapping[str, tuple[str, ...]], start: str) -> tuple[str, ...]:
    """Everything reachable from ``start`` over ``direct`` (not ``start`` itself), sorted."""
    seen: set[str] = set()
    stack = list(direct.get(start, ()))
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(direct.get(name, ()))
    seen.discard(start)
    return tuple(sorted(seen))


def compile_validators(chain: Chain) -> dict[str, Callable[[object], object]]:
    """Compile every message type's data schema now; keyed by type name."""
    return {mt.type: chain.data_validator(mt.type) for mt in chain.message_types}
