"""The main job: run a scenario (om-2025 by default) through the real exchange and tell its story.

``make demo`` runs :func:`run_story` on a fresh SQLite file at full volume: progress bars while
the simulated months pass, then each channel's backlog at its peak, each wave's drain, the
deadlines missed and why, the forecast against what happened, the paper work and the outbox,
and at the end **lost** and **applied twice**, computed from the store, and a reconciliation
across every hop (sent, accepted, routed, delivered, applied; and the paper work) with the
counts behind its zero. The figures are also written as JSON, and the backlog per channel as a
chart (SVG).
"""

from __future__ import annotations

import dataclasses
import resource
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from ketenherstel.bootstrap import Runtime, bootstrap
from ketenherstel.cli_common import DEMO_STORE, HTTP_DEMO_STORE
from ketenherstel.cli_reconcile import print_report
from ketenherstel.exchange.manual import ManualWork
from ketenherstel.gateway.register import Register
from ketenherstel.gateway.verdict import (
    VERDICT_CODES,
    load_logons,
    report_files,
    verdicts,
    write_reports,
)
from ketenherstel.gateway.watch import Watch, load_rules
from ketenherstel.golive.chart import render_svg
from ketenherstel.golive.forecast import ChannelForecast, DayPoint, ForecastResult
from ketenherstel.reconcile import LedgerSpec, LiveSources, Report, reconcile
from ketenherstel.recovery.figures import RegistryFigures
from ketenherstel.recovery.runner import ScenarioResult, run_scenario
from ketenherstel.recovery.scenario import Scenario, load_scenario
from ketenherstel.recovery.sent_ledger import SentLedger
from ketenherstel.settings import Settings
from ketenherstel.sim.portal import generate_portal
from ketenherstel.store import sqlite_file
from ketenherstel.store.manual_ports import manual_store
from ketenherstel.store.ports import AuditRecord
from ketenherstel.store.sqlite import (
    SqliteStore,
    kept_by_someone,
    mark_made_by_a_demo,
    not_a_store,
)
from ketenherstel.story_picture import AUTHOR, picture_story

__all__ = ["demo_settings", "fresh_sqlite", "print_story", "run_story"]

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def demo_settings(store_url: str) -> Settings:
    """The settings a demo runs on: KETENHERSTEL_* as set, but for a SQLite store its
    registry, reconciliation reports, findings register and picture always beside its own
    store, whatever KETENHERSTEL_REGISTRY, _RECONCILE_DIR, _GATEWAY_REGISTER or _PICTURE_DB
    say (those name files of a real store that a demo must neither fill nor delete). A
    PostgreSQL store has nothing beside it: its settings are left as they are."""
    settings = Settings.from_env(store_url=store_url)
    if sqlite_file(settings.store_url) is None:
        return settings
    return dataclasses.replace(
        settings, registry_url=None, reconcile_dir=None, gateway_register=None, picture_db=None
    )


def fresh_sqlite(store_url: str, *, demo: bool = True) -> None:
    """Delete a SQLite store's files and what the project keeps beside them (its registry,
    reconciliation reports, gateway reports and findings register: the demo always starts
    empty); PostgreSQL is left alone. Only the files beside the store are touched, never
    those KETENHERSTEL_* settings name elsewhere (see :func:`demo_settings`).

    Raises ValueError, deleting nothing, when the store's file is a directory or a file that
    is not a store (not SQLite, another database), or the registry's file is not SQLite:
    only what this project made is deleted. ``demo``: a demo recreates only a store a demo
    made (or its own default one); one holding messages, credentials or partners that no demo
    made is refused (a demo once wiped a working store given by mistake). The new store is
    made and noted as a demo's. Without ``demo`` (`scenario run --fresh`, asked for by name)
    the store is deleted whatever it holds."""
    path = sqlite_file(store_url)
    if path is None:
        return
    if path.is_dir():
        raise ValueError(f"store {path} is a directory; give a file (--store sqlite:///PATH)")
    if path.exists():
        why = not_a_store(path, empty_ok=True)
        if why is not None:
            raise ValueError(f"{path} is not a store ({why}); give the store you meant (--store)")
        own = {p.resolve() for u in (DEMO_STORE, HTTP_DEMO_STORE) if (p := sqlite_file(u))}
        held = kept_by_someone(path) if demo and path.resolve() not in own else None
        if held is not None:
            raise ValueError(
                f"store {path} holds {held} that no demo made; a demo recreates its store, so "
                "give it a new file (--store), or remove that one yourself"
            )
    beside = Settings(store_url=f"sqlite:///{path}")  # defaults only: no KETENHERSTEL_*
    registry = Path(beside.registry_location().removeprefix("sqlite:///"))
    if registry.is_dir() or (registry.exists() and not _sqlite_or_empty(registry)):
        raise ValueError(
            f"{registry} is not the store's registry (not a SQLite file); move it away first"
        )
    shutil.rmtree(beside.reconcile_location(), ignore_errors=True)
    shutil.rmtree(_gateway_dir(beside), ignore_errors=True)
    Path(beside.gateway_register_location()).unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    for file in (path, registry):
        for suffix in ("", "-wal", "-shm"):
            Path(str(file) + suffix).unlink(missing_ok=True)
    if demo:
        made = SqliteStore(path)
        try:
            made.migrate()
        finally:
            made.close()
        mark_made_by_a_demo(path)


def _sqlite_or_empty(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(16)
    return head in (b"", b"SQLite format 3\x00")


def run_story(
    *,
    scenario_path: Path,
    settings: Settings,
    scale: float,
    console: Console,
    out_dir: Path | None,
    parallel: bool = True,
    pdf: bool = True,
) -> tuple[Runtime, ScenarioResult]:
    """Run the scenario on ``settings``' store and print its story; returns the open runtime
    (the caller closes it, or serves it first) and the figures. ``pdf``: also print the last
    briefing as PDF (the HTML is always written)."""
    rt = bootstrap(settings)
    try:
        scenario = load_scenario(scenario_path, rt.chain)
        manual = ManualWork(store=manual_store(rt.store), chain=rt.chain)
        console.rule(f"[bold]Ketenherstel: scenario {scenario.name}")
        console.print(scenario.description, highlight=False)
        console.print(
            f"store {settings.store_url} (SQLite synchronous={settings.synchronous}) · "
            f"volume {scale:.0%} of the real one · seed {scenario.seed} · step {scenario.step}",
            highlight=False,
        )
        reports = Path(settings.reconcile_location())
        sent = SentLedger(reports / f"sent-{scenario.name}.parquet", rt.chain)
        began, cpu = time.perf_counter(), time.process_time()
        try:
            result = _run_with_progress(scenario, rt, manual, scale, console, parallel, sent)
        finally:
            sent.close()
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
        print_story(scenario, result, console)
        reconcile_story(rt, sent.path, reports, console)
        gateway_story(rt, console)
        picture_story(rt, scenario, out_dir or reports.parent, console, pdf=pdf)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        console.print(
            f"ran {result.sent:,} messages over {(result.end - result.start).days} simulated "
            f"days in {wall:,.1f} s wall ({cpu:,.1f} s CPU in this process), peak memory "
            f"{peak_mb:,.0f} MB",
            highlight=False,
        )
        if out_dir is not None:
            _write(scenario, result, out_dir, console, wall, peak_mb)
        return rt, result
    except BaseException:
        rt.close()
        raise


def _run_with_progress(
    scenario: Scenario,
    rt: Runtime,
    manual: ManualWork,
    scale: float,
    console: Console,
    parallel: bool,
    sent: SentLedger | None = None,
) -> ScenarioResult:
    last_step = max((at for at in scenario.plan.changes()), default=scenario.start)
    horizon = min(scenario.end, last_step + timedelta(days=2))
    total_days = max(1, (horizon - scenario.start).days)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days · {task.fields[messages]:,} messages · {task.fields[at]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("simulated time", total=total_days, messages=0, at="")

        def tick(at: datetime, sent: int) -> None:
            done = min(total_days, (at - scenario.start).days)
            local = at.astimezone(AMSTERDAM)
            progress.update(task, completed=done, messages=sent, at=f"{local:%d-%m-%Y %H:%M}")

        result = run_scenario(
            scenario,
            rt.exchange,
            manual,
            scale=scale,
            progress=tick,
            parallel=parallel,
            registry=rt.registry,
            sent_ledger=sent,
        )
        progress.update(task, completed=total_days)
    return result


def reconcile_story(rt: Runtime, sent: Path, reports: Path, console: Console) -> list[Report]:
    """Reconcile every hop after the scenario: what the senders sent, what the exchange accepted,
    routed and delivered, what the registry applied; and the paper work against the exchange."""
    sources = LiveSources(rt.store, rt.registry.db, rt.registry.receiver, rt.chain)
    chains = [
        [
            LedgerSpec("sent", sent, "parquet"),
            LedgerSpec("accepted"),
            LedgerSpec("routed"),
            LedgerSpec("delivered"),
            LedgerSpec("applied"),
        ],
        [LedgerSpec("manual", partial=True), LedgerSpec("accepted")],
    ]
    made = []
    began = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("reconciliation", total=None)

        def step(what: str, done: int, total: int) -> None:
            progress.update(
                task, description=f"reconciliation: {what}", completed=done, total=total
            )

        for hops in chains:
            made.append(reconcile(hops, out_dir=reports, sources=sources, progress=step))
    for report in made:
        print_report(report, console)
    missing = sum(r.missing for r in made)
    style = "bold green" if missing == 0 else "bold red"
    console.print(
        f"[{style}]reconciliation across all hops: {missing:,} missing[/] "
        f"({time.perf_counter() - began:,.1f} s; reports in {reports}: details per record as "
        "Parquet and CSV, an HTML section for the briefing)",
        highlight=False,
    )
    return made


def _when(at: datetime | None) -> str:
    return at.astimezone(AMSTERDAM).strftime("%d-%m-%Y %H:%M") if at else "—"


def _row(table: Table, *cells: str) -> None:
    table.add_row(*(Text(c) for c in cells))


def print_story(scenario: Scenario, r: ScenarioResult, console: Console) -> None:
    """The story in tables: timeline, peaks, waves, deadlines, forecast, paper, the last word."""
    timeline = Table("when (Amsterdam)", "what", title="What happened")
    for at, what in r.timeline:
        _row(timeline, _when(at), what)
    console.print(timeline)

    peaks = Table(
        "channel", "peak backlog", "at", "arrived", "delivered", "still waiting",
        title="Each channel's backlog at its peak (at the exchange or in the sender's outbox)",
    )  # fmt: skip
    for c in sorted(r.channels.values(), key=lambda c: -c.peak):
        if c.peak == 0:
            continue
        _row(
            peaks,
            c.label,
            f"{c.peak:,}",
            _when(c.peak_at),
            f"{c.arrived:,}",
            f"{c.delivered:,}",
            f"{c.backlog:,}",
        )
    console.print(peaks)

    waves = Table(
        "step", "at", "opens", "waiting then", "empty at", "took", "delivered",
        title="Each wave's drain (priority order, per-case order kept, at the receivers' pace)",
    )  # fmt: skip
    for d in r.drains:
        took = "not yet" if d.empty_at is None else _hours(d.empty_at - d.at)
        _row(
            waves,
            d.step,
            _when(d.at),
            "\n".join(d.channels),
            f"{d.backlog_at_open:,}",
            _when(d.empty_at),
            took,
            f"{d.delivered:,}",
        )
    console.print(waves)

    missed = Table("process", "legal deadline", "missed", "why", title="Deadlines missed")
    for m in sorted(r.missed, key=lambda m: -m.count):
        why = "\n".join(
            f"{n:,} {reason}" for reason, n in sorted(m.why.items(), key=lambda i: -i[1])
        )
        _row(missed, m.process, m.deadline, f"{m.count:,}", why)
    if not r.missed:
        _row(missed, "—", "", "0", "")
    console.print(missed)

    versus = Table(
        "channel", "forecast empty", "actual empty", "days late",
        title="Forecast against actual (forecast at the isolation, from the inflow before it "
        "and the receivers' pace)",
    )  # fmt: skip
    for cmp in r.comparison:
        _row(
            versus,
            cmp.channel,
            f"{cmp.forecast_empty:%d-%m-%Y}" if cmp.forecast_empty else "—",
            f"{cmp.actual_empty:%d-%m-%Y}" if cmp.actual_empty else "—",
            "—" if cmp.difference_days is None else f"{cmp.difference_days:+d}",
        )
    console.print(versus)

    outbox = ", ".join(f"{p} {n:,}" for p, n in sorted(r.outbox_peak.items())) or "none"
    console.print(
        f"outbox at its peak: {outbox} · re-sent with new ids on return: {r.resent:,}, "
        f"recognised by business key: {r.duplicates_by_key:,} · quarantined {r.quarantined:,}, "
        f"released by two operators · emergency-route messages: {r.route_messages:,}",
        highlight=False,
    )
    console.print(
        f"paper: {r.paper_registered:,} manual records imported, {r.paper_matched:,} matched to "
        f"their digital message by business key, {r.paper_unmatched:,} unmatched",
        highlight=False,
    )
    ledger = r.ledger
    if ledger is not None:
        stored = sum(ledger.messages.values())
        deliveries = sum(ledger.deliveries.values())
        waiting = ledger.deliveries.get("ready", 0) + ledger.deliveries.get("leased", 0)
        console.print(
            f"the store holds {stored:,} messages (accepted: {r.accepted:,}) and {deliveries:,} "
            f"deliveries (expected: {r.expected_deliveries:,}): {r.applied:,} acknowledged, "
            f"{waiting:,} waiting, {ledger.deliveries.get('dead', 0):,} dead; the same message "
            f"twice to one receiver: {ledger.applied_twice_by_id:,}; the same fact (business "
            f"key) acknowledged twice by one receiver: {ledger.applied_twice_by_key:,}",
            highlight=False,
        )
    if r.registry is not None:
        print_registry(r.registry, console)
    style = "bold green" if r.lost == 0 and r.applied_twice == 0 else "bold red"
    console.print(f"[{style}]lost: {r.lost:,}, applied twice: {r.applied_twice:,}[/]")


def print_registry(f: RegistryFigures, console: Console) -> None:
    """Justid's registry: how fresh it said it was, what it caught up, what it got wrong."""
    fresh = Table(
        "when (Amsterdam)",
        "step or event",
        "the sources that were behind, as every answer said",
        title="The registry's freshness, as its answers carried it",
    )
    for at, step, text in f.freshness:
        _row(fresh, _when(at), step, text)
    console.print(fresh)
    rescreen = Table("direction", "profile", "answers", title="Re-screen list (computed)")
    for (direction, profile), n in sorted(f.rescreen.items()):
        what = "missed an antecedent" if direction == "missed" else "showed what is gone"
        _row(rescreen, what, profile, f"{n:,}")
    console.print(rescreen)
    console.print(
        f"registry: {f.applied:,} registrations applied once ({f.same_fact:,} the same fact "
        f"again, {f.redelivered:,} redelivered, {f.replaced:,} replaced by a correction or "
        f"the OM's own registration, {f.failed:,} refused) · {f.screenings:,} screenings "
        f"answered · re-screen: {f.direction('missed'):,} answers missed an antecedent (the VOG "
        f"may have been issued wrongly), {f.direction('wrongly-shown'):,} showed a case since "
        f"dismissed or acquitted · the registry learnt of it a median {f.delay_median_days:,.1f} "
        f"days (at most {f.delay_max_days:,.1f}) after the answer",
        highlight=False,
    )
    e = f.ecris
    if e:
        console.print(
            f"ECRIS: {e['owed']:,.0f} notifications owed to member states, {e['onTime']:,.0f} "
            f"in time, {e['late']:,.0f} late (a median {e['lateMedianDays']:,.0f} and at most "
            f"{e['lateMaxDays']:,.0f} days past the 30 working days); at the end "
            f"{e['unsent']:,.0f} not sent yet, {e['unsentLate']:,.0f} of them past due",
            highlight=False,
        )


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:,.0f} h" if hours < 48 else f"{hours / 24:,.1f} days"


def _write(
    scenario: Scenario,
    r: ScenarioResult,
    out_dir: Path,
    console: Console,
    wall: float,
    peak_mb: float,
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {**r.to_dict(), "wallSeconds": wall, "peakMemoryMb": peak_mb}
    json_path = out_dir / f"{scenario.name}.json"
    json_path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    chart_path = out_dir / f"{scenario.name}-backlog.svg"
    chart_path.write_text(_chart(scenario, r), encoding="utf-8")
    console.print(f"wrote {json_path} and {chart_path}", highlight=False)


def _chart(scenario: Scenario, r: ScenarioResult) -> str:
    """The measured backlog per channel at the end of each day, the plan's waves marked."""
    channels = []
    top = sorted((c for c in r.channels.values() if c.peak), key=lambda c: -c.peak)[:8]
    for c in top:
        series = tuple(DayPoint(day, v[0], v[1], v[2]) for day, v in sorted(c.days.items()))
        channels.append(
            ChannelForecast(
                c.sender,
                c.receiver,
                float(c.peak),
                c.peak_at or r.start,
                None,
                (),
                series,
                float(c.arrived),
                float(c.delivered),
                float(c.backlog),
            )
        )
    result = ForecastResult(scenario.plan.name, r.start, r.end, scenario.step, tuple(channels))
    title = f"Scenario {scenario.name}: measured backlog per channel at the end of each day"
    return render_svg(result, scenario.plan, title=title)


def _gateway_dir(settings: Settings) -> Path:
    return Path(settings.gateway_report_location())


def gateway_story(rt: Runtime, console: Console) -> None:
    """The access portal during om-2025: its logs (ordinary use of the client organisations and
    five injected attacks), scanned; each attack against what found it, a verdict per
    organisation, the Dutch report, the findings in the register. The reports name users:
    the store's audit trail records who made them (the demo's operator), as `gateway report`
    does, before they are written."""
    settings = rt.settings
    out_dir = _gateway_dir(settings)
    began = time.perf_counter()
    logs = generate_portal(out_dir)
    watch = Watch(load_rules(), allow=logs.allow, kill_time=logs.kill_time.timestamp())
    for path in (logs.native, logs.access):
        watch.scan_file(path)
    result = watch.finish()
    found = verdicts(result, load_logons([logs.logons]))
    # The reports, and for the API and the briefing the verdicts without accounts or addresses;
    # recorded as made by the demo's operator at the moment the reports say they were made.
    made = time.time()
    for obj, written_to in report_files(out_dir / "rapport.html", found):
        rt.store.audit(
            AuditRecord(made, AUTHOR.name, "gateway-report-written", obj, str(written_to))
        )
    write_reports(out_dir / "rapport.html", result, found, made)
    new = Register(Path(settings.gateway_register_location())).add(result.findings)
    table = Table(
        title="The access portal: injected attacks and what found them", title_justify="left"
    )
    for column in ("attack", "expected rule", "found", "evidence"):
        table.add_column(column)
    explained: set[int] = set()
    for attack in logs.attacks:
        hits = [
            i
            for i, f in enumerate(result.findings)
            if f.rule == attack["rule"]
            and (f.address == attack["address"] or f.session == attack.get("session", "-"))
        ]
        at = datetime.fromisoformat(attack["at"]).timestamp()
        explained.update(
            i
            for i, f in enumerate(result.findings)
            if f.address == attack["address"]
            or (f.session and f.session == attack.get("session"))
            or (f.rule == attack.get("also") and f.at is not None and abs(f.at - at) < 3600)
        )
        evidence = str(result.findings[hits[0]].evidence[0]) if hits else ""
        table.add_row(attack["attack"], attack["rule"], "yes" if hits else "[red]no[/]", evidence)
    console.print(table)
    verdict_table = Table(title="Verdict per organisation", title_justify="left")
    for column in ("organisation", "verdict", "users"):
        verdict_table.add_column(column)
    for v in found:
        verdict_table.add_row(v.organisation, VERDICT_CODES[v.verdict], str(v.users))
    console.print(verdict_table)
    unexplained = [
        f for i, f in enumerate(result.findings) if i not in explained and f.confidence == "high"
    ]
    console.print(
        f"gateway: {result.lines:,} log lines, {len(result.sessions):,} sessions, "
        f"{len(result.findings):,} findings ({len(new):,} new in the register); high-confidence "
        f"findings not explained by an injected attack: {len(unexplained)} "
        f"({time.perf_counter() - began:,.1f} s; report {out_dir / 'rapport.html'})",
        highlight=False,
    )
