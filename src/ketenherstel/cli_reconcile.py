"""``ketenherstel reconcile …``: compare the ledgers of a chain of hops (decision 0011).

``run`` takes the hops in chain order: a live ledger by name (``accepted``, ``routed``,
``delivered``, ``applied``, ``manual``) or a file (``sent=om-sent.csv``), with ``--map`` for a
file's own column names. Reports go to KETENHERSTEL_RECONCILE_DIR (by default beside a SQLite
store: x.db -> x.reconcile/). Bad input gives a one-line message on stderr, exit code 2, and no
report; a report that does not exist gives exit code 1.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ketenherstel.cli_common import AsOpt, err, local_runtime, operator, require_store
from ketenherstel.cli_common import fail as _fail
from ketenherstel.reconcile import (
    LiveSources,
    ReconcileError,
    ReconcileInputError,
    find_report,
    legal_limits,
    list_reports,
    parse_hop,
    parse_mapping,
    parse_memory,
    parse_slas,
    reconcile,
    request_list,
    resend,
)
from ketenherstel.reconcile.ledger import OUTBOX
from ketenherstel.reconcile.report import Report, pair_totals
from ketenherstel.terminal import SafeConsole, whole_columns

if TYPE_CHECKING:
    from ketenherstel.chain import Chain

__all__ = ["print_report", "reconcile_app"]

reconcile_app = typer.Typer(
    help="Reconciliation: compare what each hop holds (sent, accepted, routed, delivered, "
    "applied, manual, or files) and repair what is missing.",
    no_args_is_help=True,
)

out = SafeConsole()

StoreOpt = Annotated[
    str | None, typer.Option("--store", help="sqlite:///path.db, a file path or postgresql://…")
]
RegistryOpt = Annotated[
    str | None, typer.Option("--registry", help="The registry's own SQLite file (for 'applied')")
]
DirOpt = Annotated[
    Path | None,
    typer.Option(
        "--out", help="Reports directory (default: KETENHERSTEL_RECONCILE_DIR or beside the store)"
    ),
]
IdArg = Annotated[str, typer.Argument(help="The report's id (see 'reconcile list')")]


def _reports_dir(store: str | None, given: Path | None) -> Path:
    from ketenherstel.settings import Settings

    if given is not None:
        return given
    return Path(Settings.from_env(store_url=store).reconcile_location())


def _reports_to_read(store: str | None, given: Path | None) -> Path:
    """The reports folder to read from (list, show, requests, resend). Without --out it is
    KETENHERSTEL_RECONCILE_DIR or the store's: one that is a file is refused, and where there
    is no such folder, a store that is not there is said as every command says it (a mistyped
    --store read as 'no reports'). A folder that is there is read with or without a store: a
    run of file ledgers alone writes its report without one."""
    if given is not None:
        if not given.exists():  # a mistyped --out: not 'no reports'
            raise _fail(f"--out {given}: there is no such folder", 1)
        if not given.is_dir():
            raise _fail(f"--out {given}: is a file, not a folder; give the reports folder")
        return given
    folder = _reports_dir(store, None)
    if folder.exists():
        if not folder.is_dir():
            raise _fail(
                f"the reports folder {folder} (KETENHERSTEL_RECONCILE_DIR) is a file, not a folder"
            )
        return folder
    require_store(store)
    return folder


def _writable_reports_dir(folder: Path, given: bool) -> None:
    """Refuse a reports folder that cannot be one (a file, under a file, not writable) before
    any ledger is read."""
    what = f"--out {folder}" if given else f"the reports folder {folder}"
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is None:
        return
    if existing == folder and not folder.is_dir():
        raise _fail(
            f"{what}: a file of that name exists; give a folder for the reports (an existing "
            "one or a new one, which is made)"
        )
    if not existing.is_dir():
        raise _fail(f"{what}: {existing} is a file, not a folder; give a folder for the reports")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise _fail(f"{what}: {existing} is not writable")


def _n(value: int) -> str:
    return f"{value:,}"  # the CLI is English (the HTML section for the briefing is Dutch)


def print_report(report: Report | dict[str, Any], console: Console = out) -> None:
    """The summary: one column per pair of hops, one row per class."""
    data = report.to_json() if isinstance(report, Report) else report
    table = Table(title=f"Reconciliation {data['id']}", title_justify="left")
    table.add_column("")
    for pair in data["pairs"]:
        table.add_column(f"{pair['from']} →\n{pair['to']}", justify="right")

    def row(label: str, value: Callable[[dict[str, Any]], str]) -> None:
        table.add_row(label, *(value(p) for p in data["pairs"]))

    def total(*names: str) -> Callable[[dict[str, Any]], str]:
        return lambda p: _n(sum(p["totals"][n] for n in names))

    row("rows (from)", lambda p: _n(p["rowsFrom"]))
    row("rows (to)", lambda p: _n(p["rowsTo"]))
    row("matched", total("matched"))
    row("  of which by high-water mark", total("confirmedByHighWaterMark"))
    row("same fact, other id", total("matchedByBusinessKeyFrom", "matchedByBusinessKeyTo"))
    row("missing at from", total("missingAtFrom"))
    row("missing at to", total("missingAtTo"))
    row(
        "duplicate",
        total("duplicateFrom", "duplicateTo", "duplicateBusinessKeyFrom", "duplicateBusinessKeyTo"),
    )
    row("conflicting", total("conflicting"))
    row("late", total("late"))
    row("unkeyed", total("unkeyedFrom", "unkeyedTo"))
    row("fan-out (to)", total("fanOutTo"))
    row(
        "beyond a partial ledger",
        total("onlyInToBeyondPartialFrom", "onlyInFromBeyondPartialTo"),
    )

    def mark(p: dict[str, Any]) -> str:
        hwm = p["highWaterMark"]
        if hwm["cleanGroups"] or hwm["dirtyGroups"]:
            return f"{hwm['cleanGroups']} groups clean, {hwm['dirtyGroups']} differ"
        return "n/a"

    row("high-water mark", mark)
    console.print(table)
    verdict = (
        "[green]nothing missing[/]"
        if data["missing"] == 0
        else f"[red]{_n(data['missing'])} missing[/]"
    )
    console.print(
        f"{verdict}; {_n(data['detailRows'])} detail rows; "
        f"{_n(data['requests'])} records to request from their senders"
    )


def print_by_type(data: dict[str, Any], console: Console = out) -> None:
    """Per pair, one row per message type: every class counted."""
    columns = (
        ("matched", ("matched",)),
        ("by bkey", ("matchedByBusinessKeyFrom", "matchedByBusinessKeyTo")),
        ("missing", ("missingAtFrom", "missingAtTo")),
        (
            "dup",
            (
                "duplicateFrom",
                "duplicateTo",
                "duplicateBusinessKeyFrom",
                "duplicateBusinessKeyTo",
            ),
        ),
        ("conflict", ("conflicting",)),
        ("late", ("late",)),
        ("no key", ("unkeyedFrom", "unkeyedTo")),
    )
    for pair in data["pairs"]:
        table = Table(title=f"{pair['from']} → {pair['to']} per message type", title_justify="left")
        table.add_column("type", min_width=20, overflow="fold")
        # matched and missing always; the other classes where a type has any
        shown = [
            (name, keys)
            for name, keys in columns
            if name in ("matched", "missing")
            or any(c.get(k, 0) for c in pair["perType"].values() for k in keys)
        ]
        for name, _ in shown:
            table.add_column(name, justify="right")
        for type_name, counts in pair["perType"].items():
            table.add_row(
                re.sub(r"\.v[0-9]+$", "", type_name.removeprefix("nl.strafrechtketen.")),
                *(_n(sum(counts.get(k, 0) for k in keys)) for _, keys in shown),
            )
        console.print(table)


def _chain() -> Chain:
    """The chain model (KETENHERSTEL_CHAIN or the built-in one), for a run of files only."""
    from ketenherstel.chain import ChainError, load_chain
    from ketenherstel.settings import Settings

    try:
        settings = Settings.from_env()
        return load_chain(Path(settings.chain_file) if settings.chain_file else None)
    except (ChainError, ValueError) as exc:
        raise _fail(str(exc)) from None


@reconcile_app.command("run")
def run_cmd(
    hops: Annotated[
        list[str],
        typer.Argument(
            help="Hops in chain order: a live ledger (accepted, routed, delivered, applied, "
            "manual), NAME=FILE (.csv, .parquet, .jsonl; or NAME=FILE:csv) or "
            "NAME=outbox:FILE (an edge outbox: what the partner sent)"
        ),
    ],
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="HOP.COLUMN=FILECOLUMN, HOP.COLUMN=:constant or HOP.fields=a,b (repeatable). "
            "Columns: source, id, sender, receiver, type, bkey, hash, sequence, event_time, "
            "recorded_at",
        ),
    ] = None,
    sla: Annotated[
        list[str] | None,
        typer.Option("--sla", help="TYPE=DURATION (7d, 4h; '*' for every type), repeatable"),
    ] = None,
    legal: Annotated[
        bool,
        typer.Option("--legal-deadlines", help="Late = beyond the type's legal deadline (chain)"),
    ] = False,
    full: Annotated[
        bool,
        typer.Option("--full", help="Compare every row, also of hops the high-water mark confirms"),
    ] = False,
    memory: Annotated[
        str,
        typer.Option(
            "--memory",
            help="DuckDB's memory limit: a size such as 2GB, 512MB or 1.5GiB (at least 100MB)",
        ),
    ] = "2GB",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
    by_type: Annotated[
        bool, typer.Option("--by-type", help="Also a table per message type")
    ] = False,
    store: StoreOpt = None,
    registry: RegistryOpt = None,
    reports: DirOpt = None,
) -> None:
    """Compare each adjacent pair of hops; write summary, details (Parquet, CSV), HTML and the
    request list."""
    try:
        specs = [parse_mapping(parse_hop(h), mapping or []) for h in hops]
        names = {s.name for s in specs}
        for item in mapping or []:
            hop = item.partition(".")[0]
            if hop not in names:
                raise ReconcileInputError(f"mapping {item!r}: there is no hop {hop!r}")
        limits = parse_slas(sla or [])
        parse_memory(memory, name="--memory")
    except ReconcileInputError as exc:
        raise _fail(str(exc)) from None
    out_dir = _reports_dir(store, reports)
    _writable_reports_dir(out_dir, reports is not None)
    live = any(s.live or s.format == OUTBOX for s in specs)
    with contextlib.ExitStack() as stack:
        sources = None
        if live or legal:
            rt = stack.enter_context(local_runtime(store, registry))
            sources = LiveSources(rt.store, rt.registry.db, rt.registry.receiver, rt.chain)
            chain = rt.chain
            if legal:
                limits = legal_limits(rt.chain) | limits
        else:
            chain = _chain()
        types = {mt.type for mt in chain.message_types}
        progress = stack.enter_context(
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            )
        )
        task = progress.add_task("reconcile", total=None)

        def step(what: str, done: int, total: int) -> None:
            progress.update(task, description=what, completed=done, total=total or None)

        try:
            report = reconcile(
                specs,
                out_dir=out_dir,
                sources=sources,
                limits=limits,
                hwm=not full,
                memory=memory,
                progress=step,
                types=types,
                partners={p.key for p in chain.partners},
            )
        except ReconcileInputError as exc:
            raise _fail(str(exc)) from None
        except OSError as exc:
            raise _fail(f"cannot write the report: {exc}") from None
    if as_json:
        out.print_json(json.dumps(report.to_json(), ensure_ascii=False))
        return
    print_report(report)
    if by_type:
        print_by_type(report.to_json())
    out.print(f"report: {report.path}")


@reconcile_app.command("list")
def list_cmd(store: StoreOpt = None, reports: DirOpt = None) -> None:
    """The reports made so far, newest first."""
    folder = _reports_to_read(store, reports)
    table = Table("id", "made", "hops", "missing", "detail rows")
    for r in list_reports(folder):
        table.add_row(
            r["id"],
            r["createdAt"][:16],
            " → ".join(h["name"] for h in r["hops"]),
            _n(r["missing"]),
            _n(r["detailRows"]),
        )
    out.print(whole_columns(table, "id"))  # what show, requests and resend take


def _find(store: str | None, reports: Path | None, report_id: str) -> Path:
    try:
        return find_report(_reports_to_read(store, reports), report_id)
    except ReconcileError as exc:
        raise _fail(str(exc), 1) from None


@reconcile_app.command("show")
def show_cmd(
    report_id: IdArg,
    by_type: Annotated[
        bool, typer.Option("--by-type", help="Also a table per message type")
    ] = False,
    store: StoreOpt = None,
    reports: DirOpt = None,
) -> None:
    """One report's summary (and where its files are)."""
    path = _find(store, reports, report_id)
    data = json.loads((path / "summary.json").read_text(encoding="utf-8"))
    print_report(data)
    if by_type:
        print_by_type(data)
    out.print(f"details: {path / 'details.parquet'} and details.csv; html: report.html")


@reconcile_app.command("resend")
def resend_cmd(
    report_id: IdArg,
    as_: AsOpt,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List, change nothing")] = False,
    store: StoreOpt = None,
    registry: RegistryOpt = None,
    reports: DirOpt = None,
) -> None:
    """Deliver again, with the original id, what the exchange delivered but the next hop
    never recorded (missing at delivered or applied)."""
    from ketenherstel.exchange.errors import ExchangeError

    principal = operator(as_)
    path = _find(store, reports, report_id)
    with local_runtime(store, registry) as rt:
        redeliver = functools.partial(rt.exchange.redeliver, principal=principal)

        try:
            result = resend(path, redeliver, dry_run=dry_run)
        except ExchangeError as exc:
            raise _fail(exc.detail) from None
    verb = "would re-send" if dry_run else "re-sent"
    count = result.resent  # a dry run's would-resend
    out.print(
        f"{verb} {count}; already on their way {result.pending}; not at the exchange "
        f"{result.not_found}; without a receiver (not re-sendable) {result.skipped}"
    )


@reconcile_app.command("requests")
def requests_cmd(report_id: IdArg, store: StoreOpt = None, reports: DirOpt = None) -> None:
    """The request list: records a sender holds that the exchange never accepted."""
    path = _find(store, reports, report_id)
    rows = request_list(path)
    table = Table("sender", "source", "id", "type", "row in sender's ledger")
    for r in rows:
        table.add_row(r["sender"], r["source"], r["id"], r["type"], r["row_in_sender_ledger"])
    out.print(table)
    out.print(f"{len(rows)} to request; file: {path / 'requests.csv'}")


def pair_line(report: Report) -> list[str]:
    """One line per pair for the demo's story."""
    lines = []
    for p in report.pairs:
        t = pair_totals(p)
        lines.append(
            f"{p.a} → {p.b}: {_n(p.rows_a)} / {_n(p.rows_b)} rows, {_n(t['matched'])} matched, "
            f"{_n(t['bkey-a'] + t['bkey-b'])} same fact under another id, "
            f"{_n(t['missing-a'] + t['missing-b'])} missing"
        )
    return lines
