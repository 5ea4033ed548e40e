"""Use cases for paper work: manual records (one at a time or a spreadsheet import), their
confirmation, correction and withdrawal, the unmatched lists, and interim procedures.

Operators write; viewers and operators read everything; a partner reads only its own records
and messages, and the procedures it was told about. Every method takes keyword arguments and
the calling `Principal`; writes and reads of records are audited (never case data).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from ketenherstel.chain import Chain
from ketenherstel.exchange.auth import Principal
from ketenherstel.exchange.errors import Forbidden, InvalidInput, NotFound, Problem, StateConflict
from ketenherstel.manual import (
    CheckedEntry,
    ColumnMapping,
    CsvFileError,
    ImportReport,
    ManualEntry,
    MappingError,
    ProcedureDraft,
    Refusal,
    check_entry,
    check_procedure,
    parse_csv,
    resolve_partner,
    resolve_type,
    type_alias,
)
from ketenherstel.store import ports
from ketenherstel.store.manual_ports import (
    MANUAL_STATUSES,
    InterimProcedure,
    ManualCorrection,
    ManualRecord,
    ManualStateError,
    ManualStore,
    NewManualRecord,
    NewProcedure,
    UnmatchedMessage,
)
from ketenherstel.store.ports import AuditRecord
from ketenherstel.text import hidden_character, personal_identifier, text_problem

MAX_REASON = 500
MAX_FILE_NAME = 200


def file_name_problem(name: str) -> str | None:
    """What is wrong with an imported file's name, or None. The name is kept on the audit
    trail and in every imported record's history (``csv griffie.csv line 2``), so it is
    refused as a reason is: a control or invisible character, a tab or line break, or
    personal data (an SKN or an e-mail address, not repeated in the answer)."""
    problem = text_problem(name, "a file name", MAX_FILE_NAME, one_line=True)
    if problem is None and personal_identifier(name):
        problem = (
            "a file name gives no SKN, BSN or e-mail address: it is kept on the audit trail and in "
            "the history of every record imported"
        )
    return problem


@dataclass(frozen=True, slots=True)
class ImportResult:
    """A dry run's or an import's report; `stored` is empty for a dry run."""

    report: ImportReport
    stored: tuple[ManualRecord, ...]
    dry_run: bool
    skip_refused: bool = False

    @property
    def refused_whole(self) -> bool:
        """The file is (or, in a dry run, would be) refused whole: a row is refused and the
        import does not skip refused rows, or every row is refused."""
        refused = bool(self.report.refusals)
        return refused and (not self.skip_refused or not self.report.accepted)

    @property
    def would_register(self) -> int:
        """Rows the import registers (or would, in a dry run)."""
        return 0 if self.refused_whole else len(self.report.accepted)


def _problems(refusals: Sequence[Refusal]) -> list[Problem]:
    return [Problem(r.line, r.column, r.reason) for r in refusals]


def _about_file(name: str, detail: str, notes: Sequence[str]) -> str:
    """An import's refusal about the file itself: the file named (when it has a name) and how
    it was read (cp1252, say: a garbled header or name may be its doing)."""
    said = f"{name}: {detail}" if name else detail
    return "; ".join([said, *(f"note: {note}" for note in notes)])


@contextmanager
def _store_errors() -> Iterator[None]:
    try:
        yield
    except ports.NotFound as exc:
        raise NotFound(str(exc)) from None
    except (ports.AlreadyExists, ManualStateError) as exc:
        raise StateConflict(str(exc)) from None


def _new(entry: CheckedEntry, origin: str) -> NewManualRecord:
    return NewManualRecord(
        partner=entry.partner,
        case=entry.case,
        type=entry.type,
        fields=entry.fields,
        bkey=entry.bkey,
        happened_at=entry.happened_at,
        registered_by=entry.registered_by,
        origin=origin,
    )


class ManualWork:
    def __init__(
        self, *, store: ManualStore, chain: Chain, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.chain = chain
        self.clock = clock

    # -- access -------------------------------------------------------------------------------

    def _require_operator(self, principal: Principal) -> None:
        if not principal.is_operator:
            raise Forbidden("this needs the operator role")

    def _own_partner(self, principal: Principal, asked: str | None) -> str | None:
        """The partner filter a caller may use: anything for viewers, only itself otherwise."""
        if principal.can_view:
            return None if asked is None else self._partner(asked)
        if principal.partner_key is None:
            raise Forbidden("this needs a partner credential or the viewer role")
        if asked is not None and self._partner(asked) != principal.partner_key:
            raise Forbidden("a partner sees only its own paper work and messages")
        return principal.partner_key

    def _partner(self, text: str) -> str:
        try:
            return resolve_partner(self.chain, text)
        except LookupError as exc:
            raise InvalidInput(str(exc), [Problem(None, "partner", str(exc))]) from None

    def _type(self, text: str) -> str:
        try:
            return resolve_type(self.chain, text)
        except LookupError as exc:
            raise InvalidInput(str(exc), [Problem(None, "type", str(exc))]) from None

    def _audit(self, principal: Principal, action: str, obj: str, detail: str) -> None:
        self.store.audit(AuditRecord(self.clock(), principal.name, action, obj, detail))

    @staticmethod
    def _reason(reason: str) -> str:
        text = reason.strip()
        hidden = hidden_character(text)
        if not text or len(text) > MAX_REASON or hidden is not None:
            why = (
                f"give a reason of 1 to {MAX_REASON} characters"
                if hidden is None
                else f"a reason holds no control or invisible characters ({hidden})"
            )
            raise InvalidInput(why, [Problem(None, "reason", why)])
        if personal_identifier(text):
            # As the exchange's reasons: it goes to the audit trail and the record's history,
            # which carry no personal data; not repeated in the answer.
            why = "a reason gives no SKN, BSN or e-mail address: it is kept on the audit trail"
            raise InvalidInput(why, [Problem(None, "reason", why)])
        return text

    @staticmethod
    def _limit(limit: int) -> None:
        if not 1 <= limit <= 1000:
            raise InvalidInput(f"limit must be from 1 to 1000, not {limit}")

    # -- manual records ------------------------------------------------------------------------

    def register(
        self,
        *,
        principal: Principal,
        partner: str,
        case: str,
        type: str,
        when: str | datetime,
        role: str,
        fields: Mapping[str, str] | None = None,
    ) -> ManualRecord:
        """Register one piece of paper work; matched at once if its message is already here."""
        self._require_operator(principal)
        entry = ManualEntry(partner, case, type, when, role, dict(fields or {}))
        checked, refusals = check_entry(
            self.chain, entry, now=self.clock(), named=list(fields or {})
        )
        if checked is None:
            raise InvalidInput(
                "the manual record is refused; nothing was stored", _problems(refusals)
            )
        with _store_errors():
            [record] = self.store.register_manual(
                [_new(checked, "registered one at a time")], now=self.clock(), actor=principal.name
            )
        self._audit(principal, "manual-registered", f"manual-record {record.id}", record.partner)
        return record

    def may_import(self, principal: Principal, *, dry_run: bool) -> None:
        """Forbidden unless the caller may import (operators) or dry-run (viewers too): asked
        first, so that a caller who may not hears 403 whatever it sent."""
        if dry_run and not principal.can_view:
            raise Forbidden("a dry run needs the viewer or operator role")
        if not dry_run:
            self._require_operator(principal)

    def import_csv(
        self,
        *,
        principal: Principal,
        data: bytes,
        mapping: Mapping[str, object],
        dry_run: bool,
        skip_refused: bool = False,
        name: str = "",
        progress: Callable[[str, int, int], None] | None = None,
    ) -> ImportResult:
        """Check a spreadsheet export; unless `dry_run`, register its rows in one transaction.

        A file with any refused row is refused whole (400, every refusal listed) unless
        `skip_refused`, which registers the other rows and reports the refusals; a file whose
        rows are all refused is refused either way. `progress(what, done, total)` is told
        "checking lines" (lines of the file) and then "storing records" (0 of n, then n)."""
        self.may_import(principal, dry_run=dry_run)
        problem = file_name_problem(name)
        if problem is not None:
            raise InvalidInput(problem, [Problem(None, "name", problem)])
        try:
            columns = ColumnMapping.from_dict(mapping, self.chain)
        except MappingError as exc:  # the mapping in itself, whatever the file
            raise InvalidInput(exc.detail, _problems(exc.problems)) from None
        try:
            report = parse_csv(
                data,
                columns,
                self.chain,
                now=self.clock(),
                registered=self.store.registered_manual,
                progress=None if progress is None else partial(progress, "checking lines"),
            )
        except (MappingError, CsvFileError) as exc:  # the file, or its header and the mapping
            detail = _about_file(name, exc.detail, exc.notes)
            raise InvalidInput(detail, _problems(exc.problems)) from None
        result = ImportResult(report, (), dry_run, skip_refused)
        if dry_run:
            return result
        if result.refused_whole:
            if report.accepted:
                detail = (
                    f"{report.refused_rows} of {report.rows} rows are refused, so the whole file "
                    "is refused and nothing was stored; fix those rows, or import with "
                    f"skip-refused to register the other {len(report.accepted)}"
                )
            else:
                detail = (
                    f"every row is refused ({report.refused_rows} of {report.rows}), so nothing "
                    "was imported (nothing stored); fix those rows"
                )
            raise InvalidInput(_about_file(name, detail, report.notes), _problems(report.refusals))
        label = name or "upload"
        records = [_new(row.entry, f"csv {label} line {row.line}") for row in report.accepted]
        if progress is not None:
            progress("storing records", 0, len(records))
        with _store_errors():
            stored = self.store.register_manual(records, now=self.clock(), actor=principal.name)
        if progress is not None:
            progress("storing records", len(stored), len(records))
        detail = f"{label}: {report.rows} rows, {report.refused_rows} refused, {report.encoding}"
        self._audit(principal, "manual-imported", f"{len(stored)} manual records", detail)
        return ImportResult(report, tuple(stored), False, skip_refused)

    def records(
        self,
        *,
        principal: Principal,
        status: str | None = None,
        partner: str | None = None,
        type: str | None = None,
        unmatched: bool = False,
        after: int = 0,
        limit: int = 100,
    ) -> list[ManualRecord]:
        partner = self._own_partner(principal, partner)
        if status is not None and status not in MANUAL_STATUSES:
            why = f"status is one of {', '.join(MANUAL_STATUSES)}, not {status!r}"
            raise InvalidInput(why, [Problem(None, "status", why)])
        self._limit(limit)
        found = self.store.manual_records(
            status=status,
            partner=partner,
            type=None if type is None else self._type(type),
            unmatched=unmatched,
            after=after,
            limit=limit,
        )
        self._audit(principal, "manual-read", f"{len(found)} manual records", partner or "all")
        return found

    def record(self, *, principal: Principal, record_id: int) -> ManualRecord:
        found = self.store.manual_record(record_id)
        own = principal.can_view or (found is not None and found.partner == principal.partner_key)
        if found is None or not own:
            raise NotFound(f"no manual record {record_id} that you may see")
        self._audit(principal, "manual-read", f"manual-record {record_id}", found.partner)
        return found

    def confirm(self, *, principal: Principal, record_id: int, reason: str) -> ManualRecord:
        return self._change(principal, record_id, reason, self.store.confirm_manual, "confirmed")

    def withdraw(self, *, principal: Principal, record_id: int, reason: str) -> ManualRecord:
        return self._change(principal, record_id, reason, self.store.withdraw_manual, "withdrawn")

    def _change(
        self,
        principal: Principal,
        record_id: int,
        reason: str,
        change: Callable[..., ManualRecord],
        action: str,
    ) -> ManualRecord:
        self._require_operator(principal)
        why = self._reason(reason)
        with _store_errors():
            record = change(record_id=record_id, reason=why, actor=principal.name, now=self.clock())
        self._audit(principal, f"manual-{action}", f"manual-record {record_id}", why)
        return record

    def correct(
        self,
        *,
        principal: Principal,
        record_id: int,
        reason: str,
        case: str | None = None,
        type: str | None = None,
        fields: Mapping[str, str] | None = None,
        when: str | datetime | None = None,
    ) -> ManualRecord:
        """Correct case, type, business-key fields or date; the record keeps its history and
        is matched again under its new business key."""
        self._require_operator(principal)
        why = self._reason(reason)
        old = self.store.manual_record(record_id)
        if old is None:
            raise NotFound(f"no manual record {record_id}")
        if case is None and type is None and not fields and when is None:
            raise InvalidInput("nothing to correct: give a new case, type, fields or date")
        kept = when is None
        if when is None:
            try:
                when = datetime.fromtimestamp(old.happened_at, UTC)
            except (OverflowError, OSError, ValueError):
                # Stored before dates were checked (year 0, after 9999): no date can show it.
                why = (
                    f"the record's stored date is out of range ({old.happened_at:.0f}): give "
                    "the right date with the correction"
                )
                raise InvalidInput(
                    "the correction is refused; nothing was changed", [Problem(None, "when", why)]
                ) from None
        entry = ManualEntry(
            partner=old.partner,
            case=old.case if case is None else case,
            type=old.type if type is None else type,
            when=when,
            role=old.registered_by,
            fields={**dict(old.fields[1:]), **dict(fields or {})},  # [0] is the case
        )
        checked, refusals = check_entry(
            self.chain, entry, now=self.clock(), named=list(fields or {})
        )
        # A refused date or field the caller did not give is the stored one (stored before it
        # was checked so): say so, and that the correction must give the right one.
        stored = {f"fields.{name}" for name, _ in old.fields[1:]} - {
            f"fields.{name}" for name in fields or {}
        }
        refusals = [
            Refusal(r.line, r.column, f"the record's stored {r.reason}: give the right date")
            if kept and r.column == "when"
            else Refusal(
                r.line,
                r.column,
                f"the record's stored {r.reason}; give the right "
                f"{r.column.removeprefix('fields.')} with the correction",
            )
            if r.column in stored
            else r
            for r in refusals
        ]
        if checked is None:
            raise InvalidInput(
                "the correction is refused; nothing was changed", _problems(refusals)
            )
        correction = ManualCorrection(
            checked.case, checked.type, checked.fields, checked.bkey, checked.happened_at
        )
        if (old.case, old.type, old.fields, old.bkey, old.happened_at) == (
            correction.case,
            correction.type,
            correction.fields,
            correction.bkey,
            correction.happened_at,
        ):
            raise InvalidInput(
                f"nothing to correct: manual record {record_id} already has these values"
            )
        with _store_errors():
            record = self.store.correct_manual(
                record_id=record_id,
                correction=correction,
                reason=why,
                actor=principal.name,
                now=self.clock(),
            )
        self._audit(principal, "manual-corrected", f"manual-record {record_id}", why)
        return record

    def unmatched_messages(
        self,
        *,
        principal: Principal,
        partner: str | None = None,
        type: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[UnmatchedMessage]:
        """Digital messages of a (sender, type) with paper work, since that paper work began,
        that no manual record of the same business key accounts for."""
        partner = self._own_partner(principal, partner)
        self._limit(limit)
        found = self.store.unmatched_messages(
            partner=partner,
            type=None if type is None else self._type(type),
            after=after,
            limit=limit,
        )
        # Each names a case (its parketnummer): a read of personal data, audited as the
        # manual records' reads are.
        self._audit(
            principal, "unmatched-read", f"{len(found)} unmatched messages", partner or "all"
        )
        return found

    # -- interim procedures --------------------------------------------------------------------

    def add_procedure(
        self,
        *,
        principal: Principal,
        process: str,
        replaces: str,
        valid_from: str | datetime,
        partners_informed: Sequence[str] = (),
        emergency_route: str | None = None,
        manual_type: str | None = None,
    ) -> InterimProcedure:
        self._require_operator(principal)
        draft = ProcedureDraft(
            process, replaces, valid_from, partners_informed, emergency_route, manual_type
        )
        checked, refusals = check_procedure(self.chain, draft)
        route, why = self._route(emergency_route)
        if why is not None:
            refusals = [*refusals, Refusal(None, "emergencyRoute", why)]
        if checked is None or why is not None:
            raise InvalidInput(
                "the interim procedure is refused; nothing was stored", _problems(refusals)
            )
        with _store_errors():  # an identical active procedure: 409
            procedure = self.store.add_procedure(
                NewProcedure(
                    process=checked.process,
                    replaces=checked.replaces,
                    valid_from=checked.valid_from,
                    partners_informed=checked.partners_informed,
                    emergency_route=route,
                    manual_type=checked.manual_type,
                ),
                now=self.clock(),
                actor=principal.name,
            )
        self._audit(principal, "procedure-added", f"interim-procedure {procedure.id}", process)
        return procedure

    def _route(self, given: str | None) -> tuple[str | None, str | None]:
        """The id of the emergency route a procedure names, as stored, or why it names none
        (not an id, or no route has it); (None, None) when it names no route."""
        text = (given or "").strip()
        if not text:
            return None, None
        routes = self.store.routes()
        known = ", ".join(
            f"{r.id} ({r.sender} → {r.receiver}, {type_alias(r.type)})" for r in routes[-20:]
        )
        where = (
            f"the routes are: {known}"
            if routes
            else "there are no emergency routes yet; open one first (`ketenherstel route open`)"
        )
        if re.fullmatch(r"[0-9]{1,18}", text) is None:
            return None, f"emergency route {text!r} is not a route id (a number); {where}"
        if all(r.id != int(text) for r in routes):
            return None, f"there is no emergency route {int(text)}; {where}"
        return str(int(text)), None

    def procedures(
        self, *, principal: Principal, process: str | None = None, active: bool | None = None
    ) -> list[InterimProcedure]:
        if process is not None and all(p.key != process for p in self.chain.processes):
            why = f"there is no process {process!r} in the chain model"
            raise InvalidInput(why, [Problem(None, "process", why)])
        found = self.store.procedures(process=process, active=active)
        if principal.can_view:
            return found
        return [p for p in found if principal.partner_key in p.partners_informed]

    def retire_procedure(
        self, *, principal: Principal, procedure_id: int, wave: str
    ) -> InterimProcedure:
        self._require_operator(principal)
        name = self._wave(wave)
        with _store_errors():
            procedure = self.store.retire_procedure(
                procedure_id=procedure_id, wave=name, now=self.clock()
            )
        self._audit(principal, "procedure-retired", f"interim-procedure {procedure_id}", name)
        return procedure

    def retire_procedures(
        self, *, principal: Principal, processes: Sequence[str], wave: str
    ) -> list[InterimProcedure]:
        """A go-live wave opened: retire every active procedure of the processes it restores."""
        self._require_operator(principal)
        name = self._wave(wave)
        known = {p.key for p in self.chain.processes}
        unknown = [p for p in processes if p not in known]
        if unknown:
            why = f"unknown processes: {', '.join(unknown)}"
            raise InvalidInput(why, [Problem(None, "process", why)])
        retired = self.store.retire_procedures(list(processes), name, self.clock())
        for procedure in retired:
            self._audit(principal, "procedure-retired", f"interim-procedure {procedure.id}", name)
        return retired

    @staticmethod
    def _wave(wave: str) -> str:
        name = wave.strip()
        if not name or len(name) > 100:
            why = "name the go-live wave (1 to 100 characters)"
            raise InvalidInput(why, [Problem(None, "wave", why)])
        # Kept with each procedure it retires and shown in terminals and the UI; a plan file's
        # wave names are refused alike when the plan is read (golive `_waves`).
        hidden = hidden_character(name, one_line=True)
        if hidden is not None:
            why = (
                f"a wave name holds no control or invisible characters, tabs or line breaks "
                f"({hidden})"
            )
            raise InvalidInput(why, [Problem(None, "wave", why)])
        return name


__all__ = ["MAX_FILE_NAME", "ImportResult", "ManualWork", "file_name_problem"]
