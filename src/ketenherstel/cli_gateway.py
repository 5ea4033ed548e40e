"""``ketenherstel gateway …``: the watch on the access gateway's logs (decision 0012).

``scan`` reads NetScaler logs (plain or gzip), keeps the session ledger and runs every detection;
findings carry their evidence as file:offset. Bad input gives a one-line message on stderr and
exit code 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

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

from ketenherstel.cli_common import (
    fail,
    local_runtime,
    require_store,
    writable_folder,
    writable_output,
)
from ketenherstel.gateway.asn import load_asn_table
from ketenherstel.gateway.export import SyslogTarget, send_cef, write_ecs
from ketenherstel.gateway.follow import Follower
from ketenherstel.gateway.indicators import load_indicators
from ketenherstel.gateway.listen import Listener, parse_address
from ketenherstel.gateway.register import (
    STATUSES,
    Register,
    finding_id,
    kept_name,
)
from ketenherstel.gateway.triage import checkable, triage_path
from ketenherstel.gateway.verdict import (
    VERDICT_CODES,
    OrgVerdict,
    load_logons,
    report_files,
    verdicts,
    write_reports,
)
from ketenherstel.gateway.watch import (
    Finding,
    GatewayInputError,
    ScanResult,
    Watch,
    allowed_network,
    load_rules,
)
from ketenherstel.terminal import SafeConsole

if TYPE_CHECKING:
    from ketenherstel.bootstrap import Runtime

__all__ = ["gateway_app"]

gateway_app = typer.Typer(
    help="The watch on the access gateway (NetScaler): scan its logs for CitrixBleed-class "
    "abuse, keep the session ledger, list findings with their evidence.",
    no_args_is_help=True,
)
# Logs are an attacker's text (user names, agents, paths): nothing printed is read as markup.
out = SafeConsole(markup=False)


RegisterOpt = Annotated[
    Path | None,
    typer.Option(
        "--register",
        help="The findings register (default: KETENHERSTEL_GATEWAY_REGISTER, or beside the "
        "store: var/ketenherstel.gateway-register.jsonl)",
    ),
]


StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="The store whose audit trail records who did this (sqlite:///path.db, a file path "
        "or postgresql://…; default KETENHERSTEL_STORE); its register is the default",
    ),
]
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


def _who(actor: str, needs: str) -> str:
    """The name ``--as`` gives, which the store's audit trail records; a blank one, one over
    200 characters or one with a control or invisible character is refused before anything is
    read or written (`register.kept_name`, as the register keeps who decided)."""
    try:
        return kept_name(actor, needed=needs)
    except GatewayInputError as exc:
        raise fail(f"--as: {exc}") from None


#: The longest wait between two polls of `gateway follow` (an hour); a longer one is no watch.
MAX_INTERVAL = 3600.0


def _watch_times(seconds: float | None, interval: float | None = None) -> None:
    """Refuse a --for that is not a finite number of seconds, 0 or more (nan never stopped, a
    negative one was taken as 'at once', inf never stopped), and an --interval outside 0.1 to
    MAX_INTERVAL seconds (nan, or 1e308 overflowed the sleep after the start was audited):
    exit code 2, before anything is read, audited or started."""
    if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
        raise fail(f"--for {seconds:g}: give a finite number of seconds, 0 or more")
    if interval is not None and not (0.1 <= interval <= MAX_INTERVAL):
        raise fail(f"--interval {interval:g}: give 0.1 to {MAX_INTERVAL:g} seconds between polls")


def _audit(rt: Runtime, actor: str, action: str, obj: str, detail: str = "") -> None:
    """One record in the store's audit trail, as the API's gateway routes write it: who, what
    (an id, a status, an organisation's slug), never a user or an address of the findings."""
    from ketenherstel.store.ports import AuditRecord

    rt.store.audit(AuditRecord(rt.exchange.clock(), actor, action, obj, detail))


def _register(path: Path) -> Register:
    try:
        return Register(path)
    except GatewayInputError as exc:
        raise fail(str(exc)) from None


def _store_register(rt: Runtime, path: Path | None) -> Register:
    """``--register``, or the store's register, with what a command killed before it could
    copy an audit record to the store's audit trail copied there first (decision 0019)."""
    kept = _register(path or Path(rt.settings.gateway_register_location()))
    try:
        kept.copy_audits(rt.store)
    except GatewayInputError as exc:
        raise fail(str(exc)) from None
    return kept


def _resolved(files: list[Path]) -> list[Path]:
    """Files by their full path: evidence (file + offset) and the findings' ids are then the
    same however the path was typed."""
    return [p.resolve() for p in files]


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


@gateway_app.command("scan")
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
            _scan_with_progress(watch, files, workers)
            result = watch.finish()
        except GatewayInputError as exc:
            raise fail(str(exc)) from None
        if not result.events:
            # Not one line read: "0 findings" would read as a clean gateway.
            raise fail(
                "; ".join(_unread(entry) for entry in result.files) + "; nothing scanned, "
                "nothing written"
            )
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
    for entry in result.files:
        if entry["lines"] and not entry["events"]:
            out.print(f"{_unread(entry)}: counted as not parsed", style="yellow", highlight=False)
    out.print(f"{len(new)} new findings in the register {kept.path}", highlight=False)
    out.print(
        f"{len(result.files)} files, {result.lines:,} lines, {result.events:,} events, "
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
        out.print(f"wrote {json_out}")
    _export(result.findings, ecs, target)


def _files(n: int) -> str:
    return f"{n} file{'' if n == 1 else 's'}"


def _sent_to(
    *,
    json_out: Path | None = None,
    ecs: Path | None = None,
    target: SyslogTarget | None = None,
    allow: list[str] | None = None,
) -> list[str]:
    """What an audit record of a scan or a watch says of where its findings go and which
    networks it was told to allow: file names, the SOC's collector and networks, never a
    user or an address of the findings."""
    said = [
        f"{option} {path.absolute()}"
        for option, path in (("--json", json_out), ("--ecs", ecs))
        if path
    ]
    if target is not None:
        said.append(f"--cef-to {target.host}:{target.port}/{target.protocol}")
    if allow:
        said.append(f"--allow {', '.join(allow)}")
    return said


def _export(findings: list[Finding], ecs: Path | None, target: SyslogTarget | None) -> None:
    if ecs is not None:
        with ecs.open("wb") as fh:
            n = write_ecs(findings, fh)
        out.print(f"wrote {n} findings as ECS to {ecs}")
    if target is not None:
        try:
            n = send_cef(findings, target)
        except GatewayInputError as exc:
            raise fail(str(exc)) from None
        out.print(f"sent {n} findings as CEF to {target.host}:{target.port}/{target.protocol}")


class _Outlet:
    """Where a running watch's findings go as they happen: the console, the register, ECS
    JSON Lines (appended and flushed per finding) and CEF to a collector; each finding once.

    A register that cannot be written stops it: the finding is not sent on, nor is any after
    it; ``failed`` keeps why and ``on_failure`` tells the running watch to stop."""

    def __init__(self, kept: Register, ecs: Path | None, target: SyslogTarget | None) -> None:
        self.kept, self.target = kept, target
        self.sent: set[str] = set()
        # Findings held until the watch's start is in the audit trail (`release`): a listener
        # may receive a message while it is still binding its second port.
        self.held: list[Finding] | None = []
        self.failed: GatewayInputError | None = None
        self.on_failure: Callable[[], object] = lambda: None
        # Checked now, opened at the first finding: a command refused later (no directory, a
        # port in use) leaves no file behind.
        writable_output(ecs, "--ecs")
        self.ecs_path = ecs
        self.ecs: IO[bytes] | None = None

    def _ecs(self) -> IO[bytes]:
        if self.ecs is None:
            assert self.ecs_path is not None
            try:
                self.ecs = self.ecs_path.open("ab")
            except OSError as exc:
                raise fail(f"--ecs {self.ecs_path}: {exc.strerror or exc}") from None
        return self.ecs

    def release(self) -> None:
        """The start is audited: what was held, and from now on each finding, goes out."""
        held, self.held = self.held or [], None
        for f in held:
            self(f)

    def __call__(self, f: Finding) -> None:
        if self.held is not None:
            self.held.append(f)
            return
        ident = finding_id(f)
        if ident in self.sent or self.failed is not None:
            return
        self.sent.add(ident)
        first = f.evidence[0] if f.evidence else ""
        out.print(f"{f.rule} ({f.confidence}) {f.address} {f.user} {first}", highlight=False)
        try:
            self.kept.add([f])
        except GatewayInputError as exc:
            # Raised here it would be lost in the listener's event loop (a traceback, and a
            # watch that goes on without its register): kept, and the watch told to stop.
            self.failed = exc
            self.on_failure()
            return
        if self.ecs_path is not None:
            ecs = self._ecs()
            write_ecs([f], ecs)
            ecs.flush()
        if self.target is not None:
            try:
                send_cef([f], self.target)
            except GatewayInputError as exc:  # the collector is down: the register keeps it
                out.print(str(exc), style="red")

    def close(self, rest: list[Finding]) -> None:
        """What the watch found when it finished (session-level findings), then close; a
        register that could not be written is the command's one-line error."""
        for f in rest:
            self(f)
        if self.ecs is not None:
            self.ecs.close()
        if self.failed is not None:
            raise fail(str(self.failed))


EcsOpt = Annotated[
    Path | None,
    typer.Option("--ecs", help="Append each finding as it happens as ECS JSON Lines here"),
]
CefOpt = Annotated[
    str | None,
    typer.Option(
        "--cef-to",
        help="Forward each finding as it happens as CEF: HOST:PORT (UDP) or HOST:PORT/tcp",
    ),
]


@gateway_app.command("report")
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
    files = _resolved(files)
    mapping: dict[str, str] = {}
    for item in org or []:
        key, sep, name = item.partition("=")
        if not sep or not key.strip() or not name.strip():
            raise fail(f"--org {item!r}: write DOMAIN_OR_USER=ORGANISATION")
        mapping[key.strip().lower() if "@" not in key else key.strip()] = name.strip()
    with local_runtime(store) as rt:
        if out_file is None:
            out_file = Path(rt.settings.gateway_report_location()) / "rapport.html"
        writable_folder(out_file.absolute().parent, f"--out {out_file}")
        try:
            kept = _store_register(rt, register)
            iocs = load_indicators(indicators or [])
            joined = load_logons(logons or [])
            allowed = [*(allow or []), *kept.allowed_networks()]
            watch = Watch(load_rules(), allow=allowed, kill_time=killed, indicators=iocs)
            _scan_with_progress(watch, files, workers)
            result = watch.finish()
        except GatewayInputError as exc:
            raise fail(str(exc)) from None
        if not result.events:
            # Not one line read: a report now would replace the last one (and verdicts.json,
            # which the API and the briefing read) with one that finds nothing in nothing.
            raise fail(
                "; ".join(_unread(entry) for entry in result.files)
                + "; no report written (the last one is kept)"
            )
        for entry in result.files:
            if entry["lines"] and not entry["events"]:
                out.print(
                    f"{_unread(entry)}: counted as not parsed", style="yellow", highlight=False
                )
        dismissed = {r.id for r in kept.listed("false-positive")}
        found = verdicts(result, joined, mapping, dismissed)
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


def _unread(entry: dict[str, Any]) -> str:
    """A scanned file of which no line was an event, and why."""
    if not entry["lines"]:
        return f"{entry['file']}: empty"
    return (
        f"{entry['file']}: none of its {entry['lines']:,} lines is a NetScaler log line "
        "(native, syslog or access log)"
    )


@gateway_app.command("triage")
def triage_cmd(
    collection: Annotated[
        Path, typer.Argument(help="What a responder collected: a directory or a tar(.gz)")
    ],
    actor: Annotated[
        str,
        typer.Option(
            "--as",
            help="Who runs the triage (its findings may name users and addresses; kept in the "
            "store's audit trail)",
        ),
    ],
    ecs: Annotated[
        Path | None, typer.Option("--ecs", help="ECS JSON Lines of the findings")
    ] = None,
    indicators: Annotated[
        list[Path] | None,
        typer.Option("--indicators", help="Indicators: STIX 2.1 or MISP JSON, or CSV; repeatable"),
    ] = None,
    register: RegisterOpt = None,
    cef_to: Annotated[
        str | None,
        typer.Option("--cef-to", help="Send the findings as CEF: HOST:PORT (UDP) or HOST:PORT/tcp"),
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Check an appliance's file listing, collected files, configuration and crontabs, and
    import NCSC-NL's check script output; the findings go into the register as a scan's do,
    and the triage is audited in the store as a scan is, before anything is shown or written
    (gateway-triage: the collection, how many artefacts and findings, where they were sent)."""
    who = _who(actor, "a triage shows what the appliance kept; it needs the name of who runs it")
    writable_output(ecs, "--ecs")
    try:
        target = SyslogTarget.parse(cef_to) if cef_to else None
    except GatewayInputError as exc:
        raise fail(str(exc)) from None
    with local_runtime(store) as rt:
        try:
            iocs = load_indicators(indicators or []) if indicators else None
            kept = _store_register(rt, register)
            artefacts, findings = triage_path(collection.resolve(), iocs)
        except GatewayInputError as exc:
            raise fail(str(exc)) from None
        if not checkable(artefacts):
            raise fail(
                f"{collection}: nothing to check in it ({len(artefacts)} files; expected a "
                "listing.txt, rc.netscaler, httpd.conf, crontabs, custom_checks.log or files "
                "from the appliance's web directories)"
            )
        try:
            new = kept.add(findings)
        except GatewayInputError as exc:  # nothing else is written yet: no --ecs, no CEF
            raise fail(str(exc)) from None
        # Recorded before a finding is shown or sent on.
        done = [f"{len(artefacts)} artefacts, {len(findings)} findings"]
        done += _sent_to(ecs=ecs, target=target)
        _audit(rt, who, "gateway-triage", str(collection.resolve()), "; ".join(done))
    out.print(f"{len(artefacts)} artefacts read, {len(findings)} findings", highlight=False)
    table = Table("rule", "confidence", "evidence", "detail")
    for f in findings:
        table.add_row(f.rule, f.confidence, str(f.evidence[0]), f.detail[:80])
    out.print(table)
    out.print(f"{len(new)} new findings in the register {kept.path}", highlight=False)
    _export(findings, ecs, target)


@gateway_app.command("follow")
def follow_cmd(
    directory: Annotated[
        Path, typer.Argument(help="A log directory (new lines are read as they come)")
    ],
    actor: Annotated[
        str,
        typer.Option(
            "--as",
            help="Who starts the watch (it names users and addresses; kept in the store's "
            "audit trail)",
        ),
    ],
    pattern: Annotated[str, typer.Option("--pattern", help="Which files, e.g. 'ns.log*'")] = "*",
    interval: Annotated[
        float,
        typer.Option("--interval", help=f"Seconds between polls (0.1 to {MAX_INTERVAL:g})"),
    ] = 2.0,
    seconds: Annotated[
        float | None, typer.Option("--for", help="Stop after this many seconds (default: Ctrl-C)")
    ] = None,
    allow: Annotated[list[str] | None, typer.Option("--allow", help="Allowed network")] = None,
    register: RegisterOpt = None,
    ecs: EcsOpt = None,
    cef_to: CefOpt = None,
    store: StoreOpt = None,
) -> None:
    """Follow a log directory as it grows (rotation included) and report findings as they
    happen: into the register, and to the SOC with --ecs and --cef-to. Its findings name users
    and addresses, so its start is audited in the store before it reads a line
    (gateway-follow-started: the directory and pattern, where findings go, --allow's
    networks); the store is not held open while it runs."""
    who = _who(actor, "a watch shows users and addresses; it needs the name of who starts it")
    _watch_times(seconds, interval)
    with local_runtime(store) as rt:
        kept = _store_register(rt, register)
        try:
            target = SyslogTarget.parse(cef_to) if cef_to else None
            given = [str(allowed_network(n, "--allow ")) for n in allow or []]
            watch = Watch(load_rules(), allow=[*given, *kept.allowed_networks()])
        except GatewayInputError as exc:
            raise fail(str(exc)) from None
        found = _Outlet(kept, ecs, target)
        try:
            follower = Follower(watch, directory, pattern=pattern, on_finding=found)
        except GatewayInputError as exc:
            found.close([])
            raise fail(str(exc)) from None
        done = [f"pattern {pattern}", *_sent_to(ecs=ecs, target=target, allow=given)]
        _audit(rt, who, "gateway-follow-started", str(follower.directory), "; ".join(done))
    found.release()
    out.print(f"following {directory} ({pattern}) every {interval:g} s", highlight=False)
    began = time.monotonic()
    # A service manager's stop (SIGTERM) ends it as Ctrl-C does: with the session findings.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        while True:
            follower.poll()
            if found.failed is not None:
                break
            if seconds is not None and time.monotonic() - began >= seconds:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    except GatewayInputError as exc:
        found.close([])
        raise fail(str(exc)) from None
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    result = watch.finish()
    found.close(result.findings if found.failed is None else [])
    out.print(
        f"read {follower.lines:,} lines from {len(follower.files)} files, "
        f"{result.unparsed:,} not parsed, {len(result.findings):,} findings"
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@gateway_app.command("listen")
def listen_cmd(
    actor: Annotated[
        str,
        typer.Option(
            "--as",
            help="Who starts the watch (it names users and addresses; kept in the store's "
            "audit trail)",
        ),
    ],
    udp: Annotated[
        str | None, typer.Option("--udp", help="Listen for syslog on HOST:PORT over UDP")
    ] = "127.0.0.1:5514",
    tcp: Annotated[
        str | None, typer.Option("--tcp", help="Listen for syslog on HOST:PORT over TCP")
    ] = None,
    spool: Annotated[
        Path, typer.Option("--spool", help="Every message received is kept here (evidence)")
    ] = Path("var/gateway/syslog.log"),
    seconds: Annotated[
        float | None, typer.Option("--for", help="Stop after this many seconds (default: Ctrl-C)")
    ] = None,
    allow: Annotated[
        list[str] | None,
        typer.Option("--allow", help="A network a session may move to (CIDR), repeatable"),
    ] = None,
    register: RegisterOpt = None,
    ecs: EcsOpt = None,
    cef_to: CefOpt = None,
    store: StoreOpt = None,
) -> None:
    """Receive NetScaler syslog (RFC 3164/5424, UDP and TCP) and report findings as they
    happen: into the register, and to the SOC with --ecs and --cef-to. Its findings name users
    and addresses, so its start is audited in the store once it listens and before a finding
    goes out (gateway-listen-started: where it listens, the spool, where findings go,
    --allow's networks); the store is not held open while it runs."""
    who = _who(actor, "a watch shows users and addresses; it needs the name of who starts it")
    _watch_times(seconds)
    opened = contextlib.ExitStack()
    rt = opened.enter_context(local_runtime(store))
    try:
        kept = _store_register(rt, register)
        target = SyslogTarget.parse(cef_to) if cef_to else None
        udp_at = parse_address(udp) if udp else None
        tcp_at = parse_address(tcp) if tcp else None
        given = [str(allowed_network(n, "--allow ")) for n in allow or []]
        watch = Watch(load_rules(), allow=[*given, *kept.allowed_networks()])
        if udp_at is None and tcp_at is None:
            raise fail("give --udp or --tcp (or both)")
        found = _Outlet(kept, ecs, target)
    except GatewayInputError as exc:
        opened.close()
        raise fail(str(exc)) from None
    except BaseException:
        opened.close()
        raise

    finished: list[ScanResult] = []

    async def main() -> ScanResult:
        task = asyncio.current_task()
        assert task is not None
        found.on_failure = task.cancel  # a register it cannot write stops it
        listener = Listener(watch, spool, found)
        await listener.start(udp=udp_at, tcp=tcp_at)
        # A service manager stops it with SIGTERM: as Ctrl-C, it ends with the session findings.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        where = ", ".join(f"{k} {h}:{p}" for k, (h, p) in listener.bound.items())
        done = [f"spool {spool.absolute()}", *_sent_to(ecs=ecs, target=target, allow=given)]
        try:
            _audit(rt, who, "gateway-listen-started", where, "; ".join(done))
        except BaseException:
            await listener.stop()
            raise
        finally:
            opened.close()
        found.release()
        out.print(f"listening on {where}; spool {spool}", highlight=False)
        try:
            if seconds is not None:
                await asyncio.sleep(seconds)
            else:
                await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass
        finally:
            result = await listener.stop()
            finished.append(result)
        out.print(
            f"received {listener.received:,} messages, {listener.unparsed:,} not parsed, "
            f"{len(result.findings):,} findings"
        )
        return result

    try:
        asyncio.run(main())
    except GatewayInputError as exc:
        found.close([])
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        pass  # stopped with Ctrl-C: what it found is still sent below
    except asyncio.CancelledError:
        pass  # the register failed while it was starting: said below
    finally:
        opened.close()  # closed already once it listens; here when it never did
    found.close(finished[0].findings if finished and found.failed is None else [])


@gateway_app.command("findings")
def findings_cmd(
    actor: Annotated[
        str, typer.Option("--as", help="Who reads the findings (kept in the store's audit trail)")
    ],
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only new, under-review, false-positive, confirmed"),
    ] = None,
    register: RegisterOpt = None,
    store: StoreOpt = None,
) -> None:
    """The findings register: every finding with its status and who decided. Findings name
    users and addresses, so each read is audited as the API's is (gateway-findings-read)."""
    if status is not None and status not in STATUSES:
        raise fail(f"--status {status!r}: one of {', '.join(STATUSES)}")
    who = _who(actor, "a read of the findings needs the name of who reads them")
    with local_runtime(store) as rt:
        kept = _store_register(rt, register)
        _audit(rt, who, "gateway-findings-read", status or "*")
    table = Table(
        "id",
        "status",
        "decided by",
        "reason",
        "rule",
        "confidence",
        "when (UTC)",
        "address",
        "evidence",
    )
    for r in kept.listed(status):
        f = r.finding
        last = r.history[-1] if r.history else {}
        table.add_row(
            r.id,
            r.status,
            str(last.get("by", "")),
            str(last.get("reason", ""))[:60],
            f["rule"],
            f["confidence"],
            (f["at"] or "")[:19],
            f["address"],
            (f["evidence"] or [""])[0],
        )
    out.print(table)


@gateway_app.command("decide")
def decide_cmd(
    finding: Annotated[str, typer.Argument(help="The finding's id (see 'gateway findings')")],
    status: Annotated[str, typer.Argument(help="under-review, false-positive or confirmed")],
    by: Annotated[
        str,
        typer.Option("--as", help="Who decides (kept in the register and the store's audit trail)"),
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (required for a false positive)")
    ] = "",
    register: RegisterOpt = None,
    store: StoreOpt = None,
) -> None:
    """Move a finding to another status, with who decided and why. The decision is audited in
    the store as the API's is (gateway-finding-decided, the finding's id and its new status;
    the reason stays in the register); a refused one changes nothing and records nothing."""
    who = _who(by, "a decision needs the name of who decides")
    with local_runtime(store) as rt:
        kept = _store_register(rt, register)
        try:  # audited in the store as the decision is kept (decision 0019)
            reg = kept.decide(
                finding, status, by=who, reason=reason, trail=rt.store, at=rt.exchange.clock()
            )
        except GatewayInputError as exc:
            raise fail(str(exc)) from None
    out.print(f"{reg.id} is now {reg.status}")


@gateway_app.command("allow")
def allow_cmd(
    network: Annotated[str, typer.Argument(help="A network sessions may move to (CIDR)")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is allowed")],
    until: Annotated[str, typer.Option("--until", help="Until when (YYYY-MM-DD)")],
    by: Annotated[
        str,
        typer.Option(
            "--as", help="Who allows it (kept in the register and the store's audit trail)"
        ),
    ],
    register: RegisterOpt = None,
    store: StoreOpt = None,
) -> None:
    """Allow a network (an office, a partner's exit) until a date, with a reason. An allowed
    network clears sessions that move into it from hijack detection, so the entry is audited
    in the store as the API's is (gateway-allow-added: the network, and the entry's id,
    network and end date; the reason stays in the register); a refused one changes nothing
    and records nothing."""
    who = _who(by, "an allowlist entry needs the name of who allows it")
    with local_runtime(store) as rt:
        kept = _store_register(rt, register)
        try:  # audited in the store as the entry is kept (decision 0019)
            entry = kept.allow(
                network, reason=reason, until=until, by=who, trail=rt.store, at=rt.exchange.clock()
            )
        except GatewayInputError as exc:
            raise fail(str(exc)) from None
    out.print(f"allowed {entry.network} until {entry.until} (entry {entry.id}): {entry.reason}")


@gateway_app.command("withdraw")
def withdraw_cmd(
    network: Annotated[str, typer.Argument(help="The allowed network to end, as listed")],
    reason: Annotated[str, typer.Option("--reason", help="Why it ends before its date")],
    by: Annotated[
        str,
        typer.Option(
            "--as", help="Who withdraws it (kept in the register and the store's audit trail)"
        ),
    ],
    register: RegisterOpt = None,
    store: StoreOpt = None,
) -> None:
    """Withdraw an allowlist entry before its date (kept in the register, with who and why).
    Audited in the store (gateway-allow-withdrawn: the network, and the id, network and end
    date of each entry it ends; the reason stays in the register); a refused one changes
    nothing and records nothing."""
    who = _who(by, "withdrawing an allowlist entry needs the name of who does it")
    with local_runtime(store) as rt:
        kept = _store_register(rt, register)
        try:  # audited in the store as the withdrawal is kept (decision 0019)
            ended = kept.withdraw(
                network, reason=reason, by=who, trail=rt.store, at=rt.exchange.clock()
            )
        except GatewayInputError as exc:
            raise fail(str(exc)) from None
    ids = ", ".join(a.id for a in ended)
    out.print(f"withdrew {network} ({len(ended)} entr{'y' if len(ended) == 1 else 'ies'}: {ids})")


ListStoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="The store whose register is listed (sqlite:///path.db, a file path or "
        "postgresql://…; default KETENHERSTEL_STORE); its register is the default",
    ),
]


@gateway_app.command("allowlist")
def allowlist_cmd(register: RegisterOpt = None, store: ListStoreOpt = None) -> None:
    """The allowlist, with expired entries marked: the store's register's, where `gateway
    allow` and `withdraw` keep it (or --register's). A store that does not exist is refused."""
    if register is None:
        from ketenherstel.settings import Settings

        # A store that does not exist is refused: its register is not there either, and an
        # empty list would read as "nothing is allowed".
        require_store(store)
        register = Path(Settings.from_env(store_url=store).gateway_register_location())
    kept = _register(register)
    today = datetime.now(UTC).date()
    table = Table("id", "network", "until", "active", "reason", "by")
    for a in kept.allowlist:
        state = (
            "yes"
            if a.active(today)
            else f"withdrawn by {a.withdrawn}"
            if a.withdrawn
            else "expired"
        )
        table.add_row(a.id, a.network, a.until, state, a.reason, a.added_by)
    count = len(kept.allowlist)
    out.print(
        f"{count} entr{'y' if count == 1 else 'ies'} in the register {kept.path}", highlight=False
    )
    out.print(table)
