"""``gateway scan``: NetScaler logs (plain or gzip) scanned into the session ledger and every
detection, findings with their evidence as file:offset; and what ``gateway report`` scans
with it (`_scanned`: input it cannot read, or not one event in it, is refused)."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ketenherstel.cli_common import fail, local_runtime, writable_output
from ketenherstel.cli_gateway._shared import (
    RegisterOpt,
    StoreOpt,
    _audit,
    _export,
    _resolved,
    _sent_to,
    _store_register,
    _who,
    out,
)
from ketenherstel.gateway.asn import load_asn_table
from ketenherstel.gateway.export import SyslogTarget
from ketenherstel.gateway.indicators import load_indicators
from ketenherstel.gateway.watch import (
    GatewayInputError,
    ScanResult,
    Watch,
    allowed_network,
    load_rules,
)
from ketenherstel.terminal import SafeConsole

# A moment is dated as the rest of the system dates things (`golive.model.FIRST_DAY`,
# `manual._dates`, the registry's facts): a year typed as 0001 or 9999 is a typo, and a kill
# time then would call every session after it (or none) abuse.
_FIRST_DAY = date(2000, 1, 1)
_LAST_DAY = date(2199, 12, 31)


def _moment(text: str, option: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"{option} {text!r}: give a moment as 2025-07-17T20:59:00+02:00") from None
    if moment.tzinfo is None:
        raise fail(f"{option} {text!r}: give the offset too (+02:00, Z)")
    # As written, then in UTC (2199-12-31T23:59:59-23:59 is in 2200 there); a date far out
    # as written is not converted (year 1 or 9999 would overflow).
    day = moment.date()
    if _FIRST_DAY <= day <= _LAST_DAY:
        day = moment.astimezone(UTC).date()
    if not _FIRST_DAY <= day <= _LAST_DAY:
        raise fail(
            f"{option} {text!r}: lies {'before' if day < _FIRST_DAY else 'after'} the dates "
            f"taken here ({_FIRST_DAY.isoformat()} to {_LAST_DAY.isoformat()} UTC)"
        )
    return moment.timestamp()


def _scan_with_progress(watch: Watch, files: list[Path], workers: int) -> None:
    """Scan the files one after the other, a large plain one over ``workers`` processes,
    with a progress bar (bytes of the file being scanned) on stderr."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        console=SafeConsole(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("scan", total=None)
        for path in files:
            progress.update(task, description=f"scan {path.name}", completed=0, total=None)
            watch.scan_file(
                path,
                workers=workers,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )


WorkersOpt = Annotated[
    int,
    typer.Option(
        "--workers",
        min=1,
        max=64,
        help="Processes a large plain file is scanned in (split at line starts)",
    ),
]


def scan_cmd(
    files: Annotated[list[Path], typer.Argument(help="Log files, plain or gzip")],
    actor: Annotated[
        str,
        typer.Option(
            "--as",
            help="Who runs the scan (its findings name users and addresses; kept in the "
            "store's audit trail)",
        ),
    ],
    allow: Annotated[
        list[str] | None,
        typer.Option("--allow", help="A network a session may move to (CIDR), repeatable"),
    ] = None,
    kill_time: Annotated[
        str | None,
        typer.Option("--kill-time", help="Sessions killed at this moment (ISO 8601 with offset)"),
    ] = None,
    rules: Annotated[
        Path | None, typer.Option("--rules", help="A rules file instead of the built-in one")
    ] = None,
    sigma: Annotated[
        list[Path] | None, typer.Option("--sigma", help="Sigma rules (YAML) to add, repeatable")
    ] = None,
    asn: Annotated[
        Path | None, typer.Option("--asn", help="An ASN table (CSV prefix,asn[,name])")
    ] = None,
    workers: WorkersOpt = min(2, os.cpu_count() or 1),
    json_out: Annotated[
        Path | None,
        typer.Option("--json", help="Write the findings and sessions here (JSON Lines)"),
    ] = None,
    sessions: Annotated[bool, typer.Option("--sessions", help="Also list the sessions")] = False,
    register: RegisterOpt = None,
    ecs: Annotated[
        Path | None, typer.Option("--ecs", help="Write the findings as ECS JSON Lines here")
    ] = None,
    indicators: Annotated[
        list[Path] | None,
        typer.Option("--indicators", help="Indicators: STIX 2.1 or MISP JSON, or CSV; repeatable"),
    ] = None,
    cef_to: Annotated[
        str | None,
        typer.Option(
            "--cef-to",
            help="Send the findings as CEF over syslog: HOST:PORT (UDP) or HOST:PORT/tcp",
        ),
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Scan logs: session ledger and every detection, with evidence. Findings and sessions
    name users and addresses, and --allow clears hijacks into a network, so each scan is
    audited in the store before anything is shown or written (gateway-scan: how many files,
    findings and sessions, the files and collector written to, the networks --allow gave)."""
    killed = _moment(kill_time, "--kill-time") if kill_time else None
    who = _who(actor, "a scan shows users and addresses; it needs the name of who runs it")
    writable_output(json_out, "--json")
    writable_output(ecs, "--ecs")
    files = _resolved(files)
    try:
        target = SyslogTarget.parse(cef_to) if cef_to else None
        given = [str(allowed_network(n, "--allow ")) for n in allow or []]
    except GatewayInputError as exc:
        raise fail(str(exc)) from None
    with local_runtime(store) as rt:
        kept = _store_register(rt, register)
        try:
            iocs = load_indicators(indicators or [])
            allowed = [*given, *kept.allowed_networks()]
            loaded = load_rules(rules, sigma or [])
            asn_table = load_asn_table(asn) if asn else None
            watch = Watch(loaded, allow=allowed, kill_time=killed, indicators=iocs, asn=asn_table)
        except GatewayInputError as exc:
            raise fail(str(exc)) from None
        # Not one line read: "0 findings" would read as a clean gateway.
        result = _scanned(watch, files, workers, refused="nothing scanned, nothing written")
        try:
            new = kept.add(result.findings)
        except GatewayInputError as exc:  # nothing else written yet: no --json, --ecs, CEF
            raise fail(str(exc)) from None
        # Recorded before a user or an address is shown or written.
        counts = f"{len(result.findings)} findings, {len(result.sessions)} sessions" + (
            " (listed)" if sessions else ""
        )
        done = [counts, *_sent_to(json_out=json_out, ecs=ecs, target=target, allow=given)]
        _audit(rt, who, "gateway-scan", _files(len(files)), "; ".join(done))
    _say_not_parsed(result)
    out.print(f"{len(new)} new findings in the register {kept.path}", highlight=False)
    out.print(
        f"{_files(len(result.files))}, {result.lines:,} lines, {result.events:,} events, "
        f"{result.unparsed:,} lines not parsed (each kept with file and offset"
        + (
            f", the first {len(result.unparsed_kept):,} with their text"
            if result.unparsed > len(result.unparsed_kept)
            else ""
        )
        + "), "
        f"{len(result.sessions):,} sessions, {len(result.findings):,} findings",
        highlight=False,
    )
    table = Table("when (UTC)", "rule", "confidence", "address", "user", "evidence")
    for f in result.findings:
        when = f.to_json()["at"] or ""
        evidence = ", ".join(str(e) for e in f.evidence[:2])
        table.add_row(when[:19], f.rule, f.confidence, f.address, f.user, evidence)
    out.print(table)
    if sessions:
        st = Table("session", "user", "start", "end", "addresses", "ASN", "login", "reached")
        for s in result.sessions.values():
            j = s.to_json()
            st.add_row(
                s.session_id,
                s.user,
                (j["start"] or "")[:19],
                (j["end"] or "")[:19],
                ", ".join(j["addresses"]),
                ", ".join(j["asns"]),
                "yes" if s.login_at else "no",
                str(len(s.reached)),
            )
        out.print(st)
    for entry in result.files:
        if entry.get("dateOrderAssumed"):
            out.print(
                f"{entry['file']}: no date in it has a day above 12, so whether its dates are "
                "month-first or day-first cannot be told; read as month-first (NetScaler's "
                "default)",
                style="yellow",
                highlight=False,
            )
    if result.unparsed_kept:
        name, offset, line = result.unparsed_kept[0]
        out.print(f"first line not parsed: {name}:{offset}: {line[:100]!r}", highlight=False)
    if json_out is not None:
        try:
            with json_out.open("w", encoding="utf-8") as fh:
                for f in result.findings:
                    fh.write(json.dumps({"finding": f.to_json()}, ensure_ascii=False) + "\n")
                for s in result.sessions.values():
                    fh.write(json.dumps({"session": s.to_json()}, ensure_ascii=False) + "\n")
                for name, at, text in result.unparsed_lines():
                    row: dict[str, object] = {"file": name, "offset": at}
                    if text is not None:
                        row["line"] = text
                    fh.write(json.dumps({"unparsed": row}) + "\n")
        except OSError as exc:  # a full disk, a folder gone: one line, not a traceback
            raise fail(f"--json {json_out}: {exc.strerror or exc}; not written", 1) from None
        out.print(f"wrote {json_out}")
    _export(result.findings, ecs, target)


def _files(n: int) -> str:
    return f"{n} file{'' if n == 1 else 's'}"


def _unread(entry: dict[str, Any]) -> str:
    """A scanned file of which no line was an event, and why."""
    if not entry["lines"]:
        return f"{entry['file']}: empty"
    return (
        f"{entry['file']}: none of its {entry['lines']:,} lines is a NetScaler log line "
        "(native, syslog or access log)"
    )


def _scanned(watch: Watch, files: list[Path], workers: int, *, refused: str) -> ScanResult:
    """The files scanned by ``watch`` (`_scan_with_progress`). Input it cannot read is the
    command's one-line error (exit code 2), and so is input of which not one line is an event:
    each file and why, then ``refused``, what the command therefore did not do."""
    try:
        _scan_with_progress(watch, files, workers)
        result = watch.finish()
    except GatewayInputError as exc:
        raise fail(str(exc)) from None
    if not result.events:
        raise fail("; ".join(_unread(entry) for entry in result.files) + f"; {refused}")
    return result


def _say_not_parsed(result: ScanResult) -> None:
    """A warning for each file scanned of which no line was an event, among files that had."""
    for entry in result.files:
        if entry["lines"] and not entry["events"]:
            out.print(f"{_unread(entry)}: counted as not parsed", style="yellow", highlight=False)
