"""The command line for paper work (`manual …`) and interim procedures (`procedure …`).

Local commands: they open the store named by --store or KETENHERSTEL_STORE directly; a command
that changes something names its operator with --as, kept as who in the record's history. A
read of records (`manual list|show|unmatched`) may name its reader with --as too; without it,
the audit log records the machine's login (``local-cli:LOGIN``).
Times are shown in Europe/Amsterdam. Exit codes as everywhere (`cli_common.fail`): 2 for bad
input or a change a record's state does not allow (nothing changed), 1 for a record, procedure
or store that does not exist, and 1 for a dry run that finds the file would be refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
import yaml
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from ketenherstel.cli_common import (
    AsOpt,
    ReaderOpt,
    out_of_range,
    readable_input,
    reader,
    require_store,
)
from ketenherstel.cli_common import fail as _fail
from ketenherstel.cli_common import operator as _operator
from ketenherstel.documents import load_yaml
from ketenherstel.exchange.auth import LOCAL_OPERATOR
from ketenherstel.exchange.errors import ExchangeError, NotFound, Problem
from ketenherstel.exchange.manual import ManualWork, file_name_problem
from ketenherstel.manual import MappingError, type_alias
from ketenherstel.manual.csv_import import merge_options
from ketenherstel.store.manual_ports import InterimProcedure, ManualRecord
from ketenherstel.terminal import SafeConsole, whole_columns

manual_app = typer.Typer(
    help="Paper work: register, import, match, confirm, correct and withdraw manual records.",
    no_args_is_help=True,
)
procedures_app = typer.Typer(
    help="Interim procedures: the work agreements while a process runs without its digital flow.",
    no_args_is_help=True,
)

out = SafeConsole(markup=False)  # what it prints comes from partners and spreadsheets
err = SafeConsole(stderr=True)

StoreOpt = Annotated[
    str | None,
    typer.Option("--store", help="sqlite:///path.db, a file path or postgresql://…"),
]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (kept in the record's history)")]
FieldOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--field",
        help="A business-key field as NAME=VALUE, e.g. judgmentDate=18-07-2025 (each type's "
        "key: `ketenherstel chain show`)",
    ),
]


# The option each of the service's fields is typed as (`procedure add --from` is validFrom);
# a business-key field `fields.NAME` is `--field NAME=…`.
_OPTIONS = {
    "partner": "--partner",
    "case": "--case",
    "type": "--type",
    "when": "--when",
    "role": "--role",
    "status": "--status",
    "reason": "--reason",
    "process": "--process",
    "replaces": "--replaces",
    "validFrom": "--from",
    "partnersInformed": "--informed",
    "emergencyRoute": "--route",
    "manualType": "--manual-type",
    "wave": "--wave",
}


def _option(problem: Problem, options: Collection[str]) -> str:
    """The option a problem is about, as the user typed it; the field itself for a field the
    command takes no option for (a stored value, say)."""
    field = problem.field
    if field.startswith("fields.") and "fields" in options:
        return f"--field {field.removeprefix('fields.')}"
    if field not in options or field not in _OPTIONS:
        return field
    if problem.index is not None:  # the n-th of a repeated option, counted from 1
        return f"{_OPTIONS[field]} #{problem.index + 1}"
    return _OPTIONS[field]


def _refused(exc: ExchangeError, options: Collection[str]) -> str:
    """The one-line error, after the problems as a table unless that would only repeat it.

    With `options` (the service's fields the command takes as options) each problem names the
    option; without (a spreadsheet import), the file's line and column."""
    if not exc.problems:
        return exc.detail
    if [p.reason for p in exc.problems] == [exc.detail]:
        named = _option(exc.problems[0], options) if options else ""
        return f"{named}: {exc.detail}" if named.startswith("--") else exc.detail
    # Text cells: a reason quotes what was typed or a file's header ('[/x]'), never markup.
    if options:
        table = Table("option", "problem", title="problems", title_justify="left")
        for p in exc.problems:
            table.add_row(Text(_option(p, options)), Text(p.reason))
    else:
        table = Table(
            "line / #", "column / field", "problem", title="problems", title_justify="left"
        )
        for p in exc.problems:
            table.add_row("" if p.index is None else str(p.index), Text(p.field), Text(p.reason))
    err.print(table)
    return exc.detail


@contextlib.contextmanager
def _work(store: str | None, *options: str) -> Iterator[ManualWork]:
    """The use cases on the local store; `options`: the service's fields the command takes
    as options, which its errors name (`validFrom` is `--from`)."""
    from ketenherstel.bootstrap import bootstrap
    from ketenherstel.chain import ChainError
    from ketenherstel.settings import Settings
    from ketenherstel.store import StoreError
    from ketenherstel.store.manual_ports import manual_store

    require_store(store)
    try:
        rt = bootstrap(Settings.from_env(store_url=store))
    except (ChainError, StoreError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    try:
        try:
            store_ = manual_store(rt.store)
        except TypeError as exc:
            raise _fail(str(exc)) from None
        yield ManualWork(store=store_, chain=rt.chain, clock=rt.exchange.clock)
    except ExchangeError as exc:  # bad input exits 2, a record that does not exist 1
        raise _fail(_refused(exc, options), 1 if isinstance(exc, NotFound) else 2) from None
    except OverflowError as exc:  # an id past what the store holds: nothing changed
        raise _fail(out_of_range(exc)) from None
    finally:
        rt.close()


def _pairs(items: Sequence[str] | None, option: str) -> dict[str, str]:
    """NAME=VALUE options as a dict; a name given twice is refused, not the last one kept."""
    found: dict[str, str] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise _fail(f"{option} takes NAME=VALUE, not {item!r}")
        if name.strip() in found:
            raise _fail(
                f"{option} {name.strip()}: given twice ({found[name.strip()]!r} and "
                f"{value.strip()!r}); give each field once"
            )
        found[name.strip()] = value.strip()
    return found


def _local(stamp: float | None) -> str:
    if stamp is None:
        return ""
    try:
        moment = datetime.fromtimestamp(stamp, ZoneInfo("Europe/Amsterdam"))
    except (OverflowError, OSError, ValueError):
        # A date stored before dates were checked (year 1, year 9999): shown, not a crash.
        return f"(out of range: {stamp:.0f})"
    return moment.strftime("%d-%m-%Y %H:%M")


def _records(records: Sequence[ManualRecord]) -> Table:
    table = Table("id", "partner", "case", "type", "fields", "when", "role", "status", "message")
    for r in records:
        fields = ", ".join(f"{k}={v}" for k, v in r.fields[1:])
        table.add_row(
            str(r.id),
            r.partner,
            r.case,
            type_alias(r.type),
            fields,
            _local(r.happened_at),
            r.registered_by,
            r.status,
            "" if r.matched_position is None else str(r.matched_position),
        )
    return whole_columns(table, "id", "case")  # what the other manual commands take


# -- manual records ---------------------------------------------------------------------------


@manual_app.command("add")
def manual_add(
    partner: Annotated[str, typer.Option(help="Who did the work: partner key or name")],
    case: Annotated[str, typer.Option(help="The case number (parketnummer)")],
    type: Annotated[str, typer.Option(help="Message type or alias: uitspraak-geregistreerd")],
    # Typer renders help as Rich markup, where [hh:mm] is a tag and vanishes: \[ keeps it.
    when: Annotated[str, typer.Option(help=r"dd-mm-yyyy \[hh:mm] or ISO; Europe/Amsterdam")],
    role: Annotated[str, typer.Option(help="The registering role, e.g. 'griffie rechtbank'")],
    field: FieldOpt = None,
    *,
    operator: AsOpt,
    store: StoreOpt = None,
) -> None:
    """Register one piece of paper work; matched at once if its message is already here."""
    principal = _operator(operator)
    fields = _pairs(field, "--field")
    with _work(store, "partner", "case", "type", "when", "role", "fields") as work:
        record = work.register(
            principal=principal,
            partner=partner,
            case=case,
            type=type,
            when=when,
            role=role,
            fields=fields,
        )
        out.print(f"registered manual record {record.id} ({record.status})")


@manual_app.command("import")
def manual_import(
    file: Annotated[Path, typer.Argument(help="The CSV export (, or ; separated)")],
    mapping: Annotated[
        Path | None,
        typer.Option(help="The column mapping, YAML or JSON (README: the paper import's mapping)"),
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="PART=COLUMN or fields.NAME=COLUMN (overrides --mapping)"),
    ] = None,
    default: Annotated[
        list[str] | None, typer.Option(help="A fixed partner, type or role: PART=VALUE")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row and store nothing")
    ] = False,
    skip_refused: Annotated[
        bool, typer.Option("--skip-refused", help="Register the good rows even if some are refused")
    ] = False,
    *,
    operator: AsOpt,
    store: StoreOpt = None,
) -> None:
    """Import paper work from a spreadsheet export. Any refused row refuses the whole file
    (every refusal is shown) unless --skip-refused; --dry-run shows what would happen."""
    principal = _operator(operator)
    readable_input(file)
    # The file's name is kept on the audit trail and in each record's history, as through the
    # API: one with an SKN, an e-mail address or a control character is refused, not altered,
    # and not repeated here.
    problem = file_name_problem(file.name)
    if problem is not None:
        raise _fail(f"FILE: {problem}; rename the file (a copy) and import that")
    if mapping is not None:
        readable_input(mapping, "--mapping")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise _fail(f"{file}: cannot read ({exc.strerror or exc})") from None
    base = _read_mapping(mapping) if mapping else {}
    if base is not None and not isinstance(base, dict):
        raise _fail(f"{mapping}: a mapping is an object with columns, fields and defaults")
    try:
        doc = merge_options(base, map_ or [], default or [])
    except MappingError as exc:
        raise _fail("; ".join(p.reason for p in exc.problems)) from None
    with _work(store) as work:
        with _progress() as bar:
            steps: dict[str, TaskID] = {}  # a bar for each step: checking, then storing

            def step(what: str, done: int, total: int) -> None:
                if what not in steps:
                    steps[what] = bar.add_task(f"{file.name}: {what}", total=None)
                # Until something is done the bar pulses (the store's one transaction tells
                # only its end), and the time runs.
                if done:
                    bar.update(steps[what], completed=done, total=total)

            result = work.import_csv(
                principal=principal,
                data=data,
                mapping=doc,
                dry_run=dry_run,
                skip_refused=skip_refused,
                name=file.name,
                progress=step,
            )
        report = result.report
        for note in report.notes:
            err.print(f"[yellow]note:[/] {note}", highlight=False)
        out.print(
            f"{file.name}: {report.rows} rows ({report.encoding}, delimiter {report.delimiter!r}), "
            f"{len(report.accepted)} good, {report.refused_rows} refused"
        )
        if report.refusals:
            table = Table("line", "column", "reason", title="refused rows", title_justify="left")
            for r in report.refusals:
                table.add_row(str(r.line), r.column, r.reason)
            out.print(table)
        if dry_run and result.refused_whole:
            if report.accepted:
                out.print(
                    f"dry run: the whole file would be refused ({report.refused_rows} of "
                    f"{report.rows} rows are refused); with --skip-refused "
                    f"{len(report.accepted)} rows would be registered; nothing stored"
                )
            else:  # --skip-refused or not, as the import would refuse it
                out.print(
                    f"dry run: every row is refused ({report.refused_rows} of {report.rows}), "
                    "so nothing would be imported; nothing stored"
                )
            # A check that finds problems exits 1, as `chain check` and `plan validate` do;
            # the import itself refuses the file as bad input (2), as it does a bad mapping.
            raise typer.Exit(1)
        if dry_run:
            out.print(f"dry run: {result.would_register} rows would be registered; nothing stored")
        else:
            out.print(f"registered {len(result.stored)} manual records")


def _progress() -> Progress:
    """The import's progress on stderr, on a terminal only (elsewhere Rich would leave a blank
    line) and gone when done: checking the file's lines, then storing the records. The file's
    name is shown as it is, never as markup."""
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_interactive,
    )


def _read_mapping(path: Path) -> Any:
    """The mapping file's document; a file that cannot be read, is not UTF-8 or is not YAML
    (JSON is YAML; a key given twice is no YAML either) is one line naming the file and, for
    YAML, the line and column."""
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _fail(f"--mapping {path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        why = f"{exc.reason} at byte {exc.start}"
        raise _fail(f"{path}: the mapping is not UTF-8 text ({why})") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        what = ", ".join(part for part in (exc.problem, exc.context) if part)
        raise _fail(f"{where}: the mapping is not valid YAML or JSON ({what})") from None
    except yaml.YAMLError as exc:
        what = " ".join(str(exc).split())
        raise _fail(f"{path}: the mapping is not valid YAML or JSON ({what})") from None


@manual_app.command("list")
def manual_list(
    status: Annotated[str | None, typer.Option(help="registered, matched, confirmed, …")] = None,
    partner: Annotated[str | None, typer.Option(help="Only this partner's")] = None,
    type: Annotated[str | None, typer.Option(help="Only this type (or alias)")] = None,
    unmatched: Annotated[bool, typer.Option("--unmatched", help="Only unmatched ones")] = False,
    after: Annotated[int, typer.Option(min=0, help="Only ids above this")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    who: ReaderOpt = None,
    store: StoreOpt = None,
) -> None:
    """List manual records; the read is audited."""
    principal = reader(who)
    with _work(store, "status", "partner", "type") as work:
        records = work.records(
            principal=principal,
            status=status,
            partner=partner,
            type=type,
            unmatched=unmatched,
            after=after,
            limit=limit,
        )
        out.print(_records(records))


@manual_app.command("show")
def manual_show(
    record_id: Annotated[int, typer.Argument(help="The record's id")],
    who: ReaderOpt = None,
    store: StoreOpt = None,
) -> None:
    """One record with its history: every change, why and by whom; the read is audited."""
    principal = reader(who)
    with _work(store) as work:
        record = work.record(principal=principal, record_id=record_id)
        out.print(_records([record]))
        table = Table("when", "action", "status", "by", "reason", "detail")
        for e in record.history:
            table.add_row(_local(e.at), e.action, e.status, e.actor, e.reason, e.detail)
        out.print(table)


def _settle(action: str, record_id: int, reason: str, operator: str, store: str | None) -> None:
    principal = _operator(operator)
    with _work(store, "reason") as work:
        change = work.confirm if action == "confirm" else work.withdraw
        record = change(principal=principal, record_id=record_id, reason=reason)
        out.print(f"manual record {record.id}: {record.status}")


@manual_app.command("confirm")
def manual_confirm(
    record_id: Annotated[int, typer.Argument()],
    reason: ReasonOpt,
    operator: AsOpt,
    store: StoreOpt = None,
) -> None:
    """Confirm a manual record."""
    _settle("confirm", record_id, reason, operator, store)


@manual_app.command("withdraw")
def manual_withdraw(
    record_id: Annotated[int, typer.Argument()],
    reason: ReasonOpt,
    operator: AsOpt,
    store: StoreOpt = None,
) -> None:
    """Withdraw a manual record (it stays in the list, as withdrawn)."""
    _settle("withdraw", record_id, reason, operator, store)


@manual_app.command("correct")
def manual_correct(
    record_id: Annotated[int, typer.Argument()],
    reason: ReasonOpt,
    case: Annotated[str | None, typer.Option(help="The right case number")] = None,
    type: Annotated[str | None, typer.Option(help="The right type")] = None,
    when: Annotated[str | None, typer.Option(help="The right date")] = None,
    field: FieldOpt = None,
    *,
    operator: AsOpt,
    store: StoreOpt = None,
) -> None:
    """Correct a record's case, type, fields or date; its history is kept and it is matched
    again."""
    principal = _operator(operator)
    fields = _pairs(field, "--field") or None
    with _work(store, "reason", "case", "type", "when", "fields") as work:
        record = work.correct(
            principal=principal,
            record_id=record_id,
            reason=reason,
            case=case,
            type=type,
            fields=fields,
            when=when,
        )
        out.print(f"manual record {record.id}: corrected; {record.history[-1].detail}")


@manual_app.command("unmatched")
def manual_unmatched(
    partner: Annotated[str | None, typer.Option(help="Only this sender's")] = None,
    type: Annotated[str | None, typer.Option(help="Only this type (or alias)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    who: ReaderOpt = None,
    store: StoreOpt = None,
) -> None:
    """Unmatched work both ways: manual records without a message, and messages (of a sender
    and type with paper work, since that paper work began) without a manual record; the read
    is audited."""
    principal = reader(who)
    with _work(store, "partner", "type") as work:
        records = work.records(
            principal=principal, partner=partner, type=type, unmatched=True, limit=limit
        )
        out.print(f"manual records without a digital message: {len(records)}")
        out.print(_records(records))
        messages = work.unmatched_messages(
            principal=principal, partner=partner, type=type, limit=limit
        )
        out.print(f"digital messages without a manual record: {len(messages)}")
        # One block per message, as `registry rescreen` prints its items: the case and the
        # message's id (what a user looks up next, `trail SOURCE ID`) are never cut, however
        # narrow the terminal, as six columns of a table were.
        for m in messages:
            out.print(
                f"case {m.partitionkey or '(none)'}: {type_alias(m.type)} from {m.sender}, "
                f"received {_local(m.received_at)} (position {m.position})",
                highlight=False,
            )
            out.print(f"  source {m.source}", highlight=False, soft_wrap=True)
            out.print(f"  id {m.id}", highlight=False, soft_wrap=True)


# -- interim procedures -----------------------------------------------------------------------


def _procedures(procedures: Sequence[InterimProcedure]) -> Table:
    table = Table(
        "id", "process", "replaced by", "from", "informed", "route / manual type", "retired"
    )
    for p in procedures:
        extra = " / ".join(
            x
            for x in (
                p.emergency_route and f"route {p.emergency_route}",
                p.manual_type and type_alias(p.manual_type),
            )
            if x
        )
        retired = f"{_local(p.retired_at)} ({p.retired_by})" if p.retired_at is not None else ""
        table.add_row(
            str(p.id),
            p.process,
            p.replaces,
            _local(p.valid_from),
            ", ".join(p.partners_informed),
            extra,
            retired,
        )
    return table


@procedures_app.command("add")
def procedure_add(
    process: Annotated[str, typer.Option(help="The chain process, e.g. voorlopige-hechtenis")],
    replaces: Annotated[str, typer.Option(help="What replaces the digital flow, in words")],
    valid_from: Annotated[str, typer.Option("--from", help=r"From when: dd-mm-yyyy \[hh:mm]")],
    informed: Annotated[
        list[str] | None, typer.Option("--informed", help="A partner that was told (repeat)")
    ] = None,
    route: Annotated[
        str | None,
        typer.Option(help="The id of the emergency route that belongs to it (`route list`)"),
    ] = None,
    manual_type: Annotated[
        str | None, typer.Option(help="The message type registered by hand under it")
    ] = None,
    *,
    operator: AsOpt,
    store: StoreOpt = None,
) -> None:
    """Record an interim procedure (werkproces in de tussentijd) for a process."""
    principal = _operator(operator)
    with _work(
        store,
        "process",
        "replaces",
        "validFrom",
        "partnersInformed",
        "emergencyRoute",
        "manualType",
    ) as work:
        procedure = work.add_procedure(
            principal=principal,
            process=process,
            replaces=replaces,
            valid_from=valid_from,
            partners_informed=informed or [],
            emergency_route=route,
            manual_type=manual_type,
        )
        out.print(f"interim procedure {procedure.id} for {procedure.process}")


@procedures_app.command("list")
def procedure_list(
    process: Annotated[str | None, typer.Option(help="Only this process")] = None,
    active: Annotated[
        bool | None, typer.Option("--active/--retired", help="Only active or only retired ones")
    ] = None,
    store: StoreOpt = None,
) -> None:
    """List interim procedures."""
    with _work(store, "process") as work:
        out.print(
            _procedures(work.procedures(principal=LOCAL_OPERATOR, process=process, active=active))
        )


@procedures_app.command("retire")
def procedure_retire(
    wave: Annotated[str, typer.Option(help="The go-live wave that restores the process")],
    procedure_id: Annotated[int | None, typer.Argument(help="One procedure's id")] = None,
    process: Annotated[
        list[str] | None, typer.Option(help="Retire every active procedure of this process")
    ] = None,
    *,
    operator: AsOpt,
    store: StoreOpt = None,
) -> None:
    """Retire a procedure, or every active one of the given processes, when a wave opens."""
    principal = _operator(operator)
    if procedure_id is not None and process:
        raise _fail("give a procedure id or --process (one or more), not both")
    if procedure_id is None and not process:
        raise _fail("say which: give a procedure id, or --process (one or more)")
    with _work(store, "wave", "process") as work:
        if procedure_id is not None:
            retired = [
                work.retire_procedure(principal=principal, procedure_id=procedure_id, wave=wave)
            ]
        else:
            retired = work.retire_procedures(
                principal=principal, processes=process or [], wave=wave
            )
        out.print(f"retired {len(retired)} interim procedures ({wave})")
        if retired:
            out.print(_procedures(retired))


__all__ = ["manual_app", "procedures_app"]
