"""``gateway report``: a scan joined to back-end logons, and a verdict per organisation with
what it rests on, written as Dutch HTML reports and verdicts.json (decision 0012)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ketenherstel.cli_common import fail, local_runtime, writable_folder
from ketenherstel.cli_gateway._scan import (
    WorkersOpt,
    _moment,
    _say_not_parsed,
    _scanned,
)
from ketenherstel.cli_gateway._shared import (
    RegisterOpt,
    _audit,
    _resolved,
    _store_register,
    _who,
    out,
)
from ketenherstel.gateway.indicators import load_indicators
from ketenherstel.gateway.verdict import (
    VERDICT_CODES,
    OrgVerdict,
    load_logons,
    report_files,
    verdicts,
    write_reports,
)
from ketenherstel.gateway.watch import GatewayInputError, Watch, load_rules

ReportStoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="The store whose audit trail records who made the report (sqlite:///path.db, a "
        "file path or postgresql://…; default KETENHERSTEL_STORE); its register is the "
        "default, and its gateway folder, where the API and the briefing read the reports, "
        "the default --out",
    ),
]


def report_cmd(
    files: Annotated[list[Path], typer.Argument(help="Log files, plain or gzip")],
    actor: Annotated[
        str,
        typer.Option(
            "--as", help="Who makes the report (it names users; kept in the store's audit trail)"
        ),
    ],
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="The Dutch HTML report for all organisations; one per organisation and "
            "verdicts.json are written beside it (default: the store's gateway folder, where "
            "the API and the briefing read them)",
        ),
    ] = None,
    logons: Annotated[
        list[Path] | None,
        typer.Option(
            "--logons",
            help="Back-end logons (CSV or JSON Lines: time, account, source, target); repeatable",
        ),
    ] = None,
    org: Annotated[
        list[str] | None,
        typer.Option(
            "--org",
            help="DOMAIN_OR_USER=ORGANISATION, repeatable (default: the user's mail domain)",
        ),
    ] = None,
    allow: Annotated[list[str] | None, typer.Option("--allow", help="Allowed network")] = None,
    kill_time: Annotated[str | None, typer.Option("--kill-time", help="Sessions killed")] = None,
    indicators: Annotated[
        list[Path] | None, typer.Option("--indicators", help="STIX, MISP or CSV indicators")
    ] = None,
    register: RegisterOpt = None,
    store: ReportStoreOpt = None,
    workers: WorkersOpt = min(2, os.cpu_count() or 1),
) -> None:
    """Scan, join sessions to back-end logons, and give each organisation a verdict with what
    it rests on (Dutch HTML report); the findings go into the register as a scan's do. The
    reports name users and addresses, so making them is audited in the store before anything
    is shown or written (gateway-report-written: '*' for the report of all organisations,
    and each organisation's slug). A place for the reports that cannot be written is refused
    before the scan, so before that record; should writing fail after all, a second record
    says so (gateway-report-write-failed)."""
    killed = _moment(kill_time, "--kill-time") if kill_time else None
    who = _who(actor, "a report names users and addresses; it needs the name of who makes it")
    if out_file is not None and out_file.is_dir():
        raise fail(f"--out {out_file}: is a directory; give the report's file name")
    if out_file is not None and out_file.suffix.lower() not in (".html", ".htm"):
        # `--out DIR/` (a folder not made yet) lost its slash on the way here: the report was
        # written as a file named DIR, the organisations' reports beside it, in DIR's parent.
        raise fail(
            f"--out {out_file}: give the report's file name, ending in .html (such as "
            f"{out_file / 'rapport.html'}); the organisations' reports and verdicts.json are "
            "written beside it"
        )
    files = _resolved(files)
    mapping: dict[str, str] = {}
    for item in org or []:
        key, sep, name = item.partition("=")
        if not sep or not key.strip() or not name.strip():
            raise fail(f"--org {item!r}: write DOMAIN_OR_USER=ORGANISATION")
        known = key.strip().lower() if "@" not in key else key.strip()
        if known in mapping and mapping[known] != name.strip():  # the last one won, unsaid
            raise fail(
                f"--org {item!r}: {known} is given to {mapping[known]!r} already; give each "
                "domain or user one organisation"
            )
        mapping[known] = name.strip()
    with local_runtime(store) as rt:
        if out_file is None:
            out_file = Path(rt.settings.gateway_report_location()) / "rapport.html"
        _no_special_file(out_file)
        writable_folder(out_file.absolute().parent, f"--out {out_file}")
        try:
            kept = _store_register(rt, register)
            iocs = load_indicators(indicators or [])
            joined = load_logons(logons or [])
            allowed = [*(allow or []), *kept.allowed_networks()]
            watch = Watch(load_rules(), allow=allowed, kill_time=killed, indicators=iocs)
        except GatewayInputError as exc:
            raise fail(str(exc)) from None
        # Not one line read: a report now would replace the last one (and verdicts.json,
        # which the API and the briefing read) with one that finds nothing in nothing.
        result = _scanned(watch, files, workers, refused="no report written (the last one is kept)")
        _say_not_parsed(result)
        found = verdicts(result, joined, mapping, kept.dismissed())
        # The findings into the register first: one it cannot write refuses the report before
        # the audit trail records it and before a report is written.
        try:
            new = kept.add(result.findings)
        except GatewayInputError as exc:
            raise fail(str(exc)) from None
        # Recorded before a user is shown or written: no report without who made it. Its
        # place was tried before the scan (writable_folder); should the write still fail (a
        # disk filled up since), a second record says so.
        for obj, written_to in report_files(out_file, found):
            _audit(rt, who, "gateway-report-written", obj, str(written_to))
        _verdict_table(found)
        try:
            written = write_reports(out_file, result, found, time.time())
        except OSError as exc:
            why = exc.strerror or str(exc)
            _audit(rt, who, "gateway-report-write-failed", "*", f"{out_file}: {why}")
            raise fail(f"--out {out_file}: {why}; writing the reports failed") from None
    out.print(f"wrote {out_file}")
    for row in written["verdicts"]:
        out.print(f"wrote {out_file.parent / row['report']} ({row['organisation']})")
    out.print(f"wrote {out_file.parent / 'verdicts.json'}")
    out.print(f"{len(new)} new findings in the register {kept.path}", highlight=False)


def _no_special_file(out_file: Path) -> None:
    """Refuse a report's place that is something other than a file (a device such as
    /dev/full, a FIFO, a socket), or a verdicts.json beside it that is: the report is
    written beside it and moved in its place, which would replace the device with a file
    and write the other reports into /dev. Nothing is touched."""
    for path in (out_file, out_file.parent / "verdicts.json"):
        if path.exists() and not path.is_file():
            raise fail(
                f"--out {out_file}: {path} is not a regular file (a device, FIFO or socket); "
                "give the report's file name in a folder for the reports"
            )


def _verdict_table(found: list[OrgVerdict]) -> None:
    table = Table("organisation", "verdict", "users", "rests on")
    for v in found:
        basis = "; ".join(
            f"session {view.session.session_id} ({view.session.user}): "
            + ", ".join(sorted({f.rule for f in view.findings}))
            + (f", reached {', '.join(view.reached[:3])}" if view.reached else "")
            for view in v.sessions
        )
        if v.dismissed:
            basis += f"{'; ' if basis else ''}{v.dismissed} false positive(s) not counted"
        table.add_row(v.organisation, VERDICT_CODES[v.verdict], str(v.users), basis[:160])
    out.print(table)
