"""The scenario benchmark: the built-in scenario om-2025, end to end, through the real exchange.

`recovery.runner.run_scenario` drives the exchange on simulated time, step by step, as the demo
(`make demo`) does: four months of chain traffic (about 750,000 messages at scale 1.0), the OM's
outage, its outbox, quarantine, the paper work and the go-live waves. This measures how long
that takes, what it costs in CPU and memory, and reports the run's own figures (lost, applied
twice, the police's backlog to the OM).

Side by side in one run, each row in a fresh (spawned) process so that its memory is its own:

* `om-2025 sqlite NORMAL`: a new SQLite file, wired by `bootstrap()` as the demo wires it,
  with Justid's registry consuming its deliveries and answering the screenings (issue 4);
* `om-2025 postgres`: the same on PostgreSQL in a new schema, dropped afterwards;
* `simulator only`: the same scenario's events from `generate_events`, each serialised with
  orjson, no exchange: the floor any run of this scenario pays;
* `bare sqlite queue`: the same events in one plain SQLite table, one row per (message,
  receiver), each receiver taking and deleting its rows every simulated hour: a minimal
  store-and-forward, to show what the exchange's guarantees cost.

Prints a Rich table and writes `bench/results/scenario.json` and a chart of it.

    .venv/bin/python bench/scenario.py              # the full scenario (a few minutes)
    .venv/bin/python bench/scenario.py --quick      # scale 0.05, about two minutes
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import resource
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chart import write_chart
from exchange import PG_DSN, machine_info, postgres_version
from ketenherstel.bootstrap import bootstrap
from ketenherstel.chain import Chain, load_chain
from ketenherstel.exchange.manual import ManualWork
from ketenherstel.exchange.service import Exchange
from ketenherstel.golive.priority import priorities
from ketenherstel.recovery.runner import ScenarioResult, run_scenario, scaled
from ketenherstel.recovery.scenario import Scenario, builtin_scenario_path, load_scenario
from ketenherstel.registry import Registry, open_registry_db
from ketenherstel.settings import Settings
from ketenherstel.sim.generator import SimEvent, generate_events
from ketenherstel.sim.profile import SimProfile
from ketenherstel.store.manual_ports import manual_store
from ketenherstel.store.ports import Store

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "scenario.json"
SCENARIO = "om-2025"
QUICK_SCALE = 0.05

GOAL_WALL = 120.0  # the issue: the full om-2025 on SQLite "under 2 minutes on this machine"
ANALYZE_AT = (1_000, 10_000, 100_000)  # messages sent; see `_Analyzer`
PULL_LIMIT = 1000  # the bare queue's batch, as the runner's pulls (the exchange's maximum)

MEMORY_METHOD = (
    "resource.getrusage after the run, in the row's own fresh (spawned) process: ru_maxrss of "
    "RUSAGE_SELF for the process, of RUSAGE_CHILDREN for the traffic generator's child process "
    "(reaped before reading)"
)


# -- what every row shares: the scenario as the runner computes it ------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    scenario: Scenario
    profile: SimProfile
    cases: int


def plan_for(chain: Chain, scale: float) -> Plan:
    """The scenario, its scaled profile and its case count, as `runner._Run.__init__` does."""
    scenario = load_scenario(builtin_scenario_path(SCENARIO), chain)
    profile = scaled(scenario.profile, scale)
    cases = max(1, round(profile.cases_per_day * scenario.days()))
    return Plan(scenario, profile, cases)


def sent_by_scenario(sc: Scenario, event: dict[str, Any], at: datetime) -> bool:
    """The runner sends the emergency route's type only while the route is in force."""
    if sc.route_type is not None and event["type"] == sc.route_type:
        return bool(sc.route_from and sc.route_until and sc.route_from <= at < sc.route_until)
    return True


# -- in the row's process -------------------------------------------------------------------

_hours: Any = None  # simulated hours since the scenario's start (shared with the parent)
_sent: Any = None  # messages so far


def _init_worker(hours: Any, sent: Any) -> None:
    global _hours, _sent
    _hours, _sent = hours, sent


def _tick(start: datetime, at: datetime, sent: int) -> None:
    if _hours is not None:
        _hours.value = (at - start).total_seconds() / 3600
        _sent.value = sent


def _usage() -> dict[str, Any]:
    """Peak RSS and CPU of this process and of its reaped children, after the run."""
    gc.collect()  # the runner's event iterator: closing it stops and joins the generator
    for child in multiprocessing.active_children():
        child.join(30)
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "rss_mib": own.ru_maxrss / 1024,  # KiB on Linux
        "child_rss_mib": kids.ru_maxrss / 1024 if kids.ru_maxrss else None,
        "child_cpu_s": kids.ru_utime + kids.ru_stime if kids.ru_maxrss else None,
    }


class _Analyzer:
    """Give PostgreSQL's planner statistics, as autovacuum would on a running server: this
    test server runs with autovacuum off and a new schema has none. `ANALYZE` of the schema's
    tables after 1,000, 10,000 and 100,000 messages, on its own connection; its time is taken
    out of the row's wall time and reported."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.todo = list(ANALYZE_AT)
        self.seconds = 0.0
        self.runs = 0

    def maybe(self, sent: int) -> None:
        if not self.todo or sent < self.todo[0]:
            return
        while self.todo and sent >= self.todo[0]:
            self.todo.pop(0)
        import psycopg

        began = time.perf_counter()
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            tables = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (self.schema,)
            ).fetchall()
            for (table,) in tables:
                conn.execute(f'ANALYZE "{self.schema}"."{table}"')
        self.seconds += time.perf_counter() - began
        self.runs += 1


def _drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _run_exchange(kind: str, scale: float, folder: Path) -> dict[str, Any]:
    """One run of the scenario on a fresh store; returns its figures (no references kept)."""
    store: Store
    schema = None
    if kind == "sqlite NORMAL":
        path = folder / f"scenario-{uuid.uuid4().hex[:8]}.db"
        rt = bootstrap(Settings(store_url=f"sqlite:///{path}", synchronous="NORMAL"))
        chain, store, exchange, registry = rt.chain, rt.store, rt.exchange, rt.registry
    else:
        from ketenherstel.store.postgres import PostgresStore

        chain = load_chain()
        schema = f"bench_scenario_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        store = PostgresStore(PG_DSN, schema=schema)
        store.migrate()
        # as tests/recovery/test_scenario.py `run_on` (and `bootstrap()`) wire it
        exchange = Exchange(store=store, chain=chain, priorities=priorities(chain))
        registry_file = folder / f"registry-{uuid.uuid4().hex[:8]}.sqlite"
        registry = Registry(
            open_registry_db(str(registry_file), synchronous="NORMAL"), chain, exchange=exchange
        )
    analyzer = _Analyzer(schema) if schema else None
    try:
        plan = plan_for(chain, scale)
        manual = ManualWork(store=manual_store(store), chain=chain)
        start = plan.scenario.start

        def progress(at: datetime, sent: int) -> None:
            _tick(start, at, sent)
            if analyzer is not None:
                analyzer.maybe(sent)

        began, cpu = time.perf_counter(), time.process_time()
        r = run_scenario(
            plan.scenario,
            exchange,
            manual,
            scale=scale,
            progress=progress,
            parallel=True,
            registry=registry,
        )
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    finally:
        registry.db.close()
        exchange.close()
        store.close()
        if schema:
            _drop_schema(schema)
    info: dict[str, Any] = {"generated": r.generated, "accepted": r.accepted}
    if analyzer is not None:
        wall -= analyzer.seconds
        info["analyze_seconds"] = round(analyzer.seconds, 3)
        info["analyze_runs"] = analyzer.runs
    return {"wall": wall, "cpu": cpu, "result": _figures(r), "info": info}


def _figures(r: ScenarioResult) -> dict[str, Any]:
    police = r.channels.get("politie->om")
    return {
        "sent": r.sent,
        "lost": r.lost,
        "applied_twice": r.applied_twice,
        "peak_backlog": police.peak if police else 0,
        "peak_backlog_at": police.peak_at.isoformat() if police and police.peak_at else None,
        "sim_days": (r.end - r.start) / timedelta(days=1),
        "end": r.end.isoformat(),
        "figures": r.to_dict(),
    }


def run_exchange(kind: str, scale: float, folder: Path) -> dict[str, Any]:
    found = _run_exchange(kind, scale, folder)
    return {**found, **_usage()}


def run_simulator(scale: float, end_iso: str) -> dict[str, Any]:
    """The peer's floor: the same events, generated and serialised in this process, until the
    scenario run's end (the runner stops taking events there)."""
    chain = load_chain()
    plan = plan_for(chain, scale)
    sc, end = plan.scenario, datetime.fromisoformat(end_iso)
    generated = sendable = size = 0
    began, cpu = time.perf_counter(), time.process_time()
    events = generate_events(
        chain, seed=sc.seed, cases=plan.cases, start=sc.start, profile=plan.profile
    )
    for sim in events:
        at = datetime.fromisoformat(sim.event["time"])
        if at >= end:
            break
        generated += 1
        size += len(orjson.dumps(sim.event))
        sendable += sent_by_scenario(sc, sim.event, at)
        if generated % 2000 == 0:
            _tick(sc.start, at, generated)
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    info = {"sendable": sendable, "event_bytes_avg": round(size / generated, 1) if generated else 0}
    return {"wall": wall, "cpu": cpu, "msgs": generated, "info": info, **_usage()}


def run_bare(scale: float, end_iso: str, folder: Path) -> dict[str, Any]:
    """The same events through one plain table, step by step, until the scenario run's end."""
    # The runner's own pipe from its generator child (a private helper, used so that the
    # events, their order and where they are generated are exactly as in the `om-2025` rows).
    from ketenherstel.recovery.traffic import events_from_child

    chain = load_chain()
    plan = plan_for(chain, scale)
    sc, end = plan.scenario, datetime.fromisoformat(end_iso)
    path = folder / f"bare-{uuid.uuid4().hex[:8]}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE queue (id INTEGER PRIMARY KEY, receiver TEXT NOT NULL, body BLOB NOT NULL)"
    )
    conn.execute("CREATE INDEX queue_receiver ON queue (receiver, id)")
    receivers_of: dict[tuple[str, str], tuple[str, ...]] = {}
    receivers: set[str] = set()
    generated = sent = rows = delivered = peak = 0
    began, cpu = time.perf_counter(), time.process_time()
    events: Iterator[SimEvent] = events_from_child(
        chain, sc.seed, plan.cases, sc.start, plan.profile
    )
    peeked: SimEvent | None = None
    peeked_at = sc.start
    try:
        t = sc.start
        while t < end:
            t_next = t + sc.step
            batch: list[tuple[str, bytes]] = []
            police_to_om = 0
            while True:
                if peeked is None:
                    peeked = next(events, None)
                    if peeked is None:
                        break
                    peeked_at = datetime.fromisoformat(peeked.event["time"])
                if peeked_at >= t_next:
                    break
                sim, peeked = peeked, None
                generated += 1
                if not sent_by_scenario(sc, sim.event, peeked_at):
                    continue
                sent += 1
                key = (sim.type, sim.sender)
                to = receivers_of.get(key)
                if to is None:
                    to = receivers_of[key] = chain.receivers_for(*key)
                    receivers.update(to)
                body = orjson.dumps(sim.event)
                batch.extend((receiver, body) for receiver in to)
                police_to_om += sim.sender == "politie" and "om" in to
            if batch:
                conn.execute("BEGIN")
                conn.executemany("INSERT INTO queue (receiver, body) VALUES (?, ?)", batch)
                conn.execute("COMMIT")
                rows += len(batch)
            peak = max(peak, police_to_om)
            for receiver in sorted(receivers):
                while True:
                    got = conn.execute(
                        "SELECT id, body FROM queue WHERE receiver = ? ORDER BY id LIMIT ?",
                        (receiver, PULL_LIMIT),
                    ).fetchall()
                    if not got:
                        break
                    conn.execute("BEGIN")
                    conn.executemany("DELETE FROM queue WHERE id = ?", [(i,) for i, _ in got])
                    conn.execute("COMMIT")
                    delivered += len(got)
                    if len(got) < PULL_LIMIT:
                        break
            t = t_next
            _tick(sc.start, t, sent)
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    finally:
        if isinstance(events, Generator):
            events.close()  # stops and joins the generator child
    (left,) = conn.execute("SELECT count(*) FROM queue").fetchone()
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return {
        "wall": wall,
        "cpu": cpu,
        "msgs": sent,
        "lost": rows - delivered - left,
        "peak_backlog": peak,
        "sim_days": (end - sc.start) / timedelta(days=1),
        "info": {"generated": generated, "rows": rows, "delivered": delivered, "left": left},
        **_usage(),
    }


# -- results and goals --------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    scenario: str  # "om-2025", "simulator only", "bare sqlite queue"
    store: str
    msgs: int
    seconds: float
    rate: float
    cpu_s: float
    rss_mib: float
    child_rss_mib: float | None
    child_cpu_s: float | None
    lost: int | None = None
    applied_twice: int | None = None
    peak_backlog: int | None = None
    sim_days: float | None = None
    goals: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    # for bench/chart.py, which draws msg/s per (scenario, store, batch) and phase
    batch: str = "—"
    phase: str = "e2e"

    @property
    def passed(self) -> bool | None:
        return None if not self.goals else all(g["passed"] for g in self.goals)


def _row(scenario: str, store: str, msgs: int, found: dict[str, Any]) -> Row:
    wall = found["wall"]
    return Row(
        scenario=scenario,
        store=store,
        msgs=msgs,
        seconds=wall,
        rate=msgs / wall if wall else 0.0,
        cpu_s=found["cpu"],
        rss_mib=found["rss_mib"],
        child_rss_mib=found["child_rss_mib"],
        child_cpu_s=found["child_cpu_s"],
        info=found.get("info", {}),
    )


def apply_goals(rows: list[Row], scale: float) -> None:
    for r in rows:
        if r.scenario != SCENARIO:
            continue
        if r.store.startswith("sqlite") and scale == 1.0:
            r.goals.append(_goal(f"<{GOAL_WALL:.0f} s", r.seconds < GOAL_WALL, GOAL_WALL))
        r.goals.append(_goal("lost 0", r.lost == 0, 0))
        r.goals.append(_goal("twice 0", r.applied_twice == 0, 0))


def _goal(name: str, passed: bool, target: float) -> dict[str, Any]:
    return {"goal": name, "target": target, "passed": passed}


# -- the parent: one fresh process per row ------------------------------------------------


@dataclass(slots=True)
class Runner:
    ctx: Any
    hours: Any
    sent: Any
    progress: Progress

    def run(self, label: str, days: float, fn: Callable[..., dict[str, Any]], *args: Any) -> Any:
        """`fn(*args)` in a fresh spawned process, with a progress bar in simulated days."""
        self.hours.value, self.sent.value = 0.0, 0
        task = self.progress.add_task(label, total=days, messages=0)
        try:
            with ProcessPoolExecutor(
                1, mp_context=self.ctx, initializer=_init_worker, initargs=(self.hours, self.sent)
            ) as pool:
                future = pool.submit(fn, *args)
                while True:
                    try:
                        return future.result(timeout=0.25)
                    except TimeoutError:
                        self.progress.update(
                            task,
                            completed=min(days, self.hours.value / 24),
                            messages=self.sent.value,
                        )
        finally:
            self.progress.remove_task(task)


def render(rows: list[Row], console: Console, title: str, scale: float) -> None:
    table = Table(title=title, title_justify="left")
    for name, justify in (
        ("scenario", "left"),
        ("store", "left"),
        ("msgs", "right"),
        ("seconds", "right"),
        ("msg/s", "right"),
        ("cpu s", "right"),
        ("RSS MiB", "right"),
        ("gen. RSS MiB", "right"),
        ("lost", "right"),
        ("twice", "right"),
        ("peak politie→om", "right"),
        ("sim days", "right"),
        ("goal", "left"),
        ("", "center"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]

    def num(value: float | None, fmt: str = ",.0f") -> str:
        return "—" if value is None else format(value, fmt)

    for r in rows:
        goal = "; ".join(("✓ " if g["passed"] else "✗ ") + g["goal"] for g in r.goals)
        if r.scenario == SCENARIO and r.store.startswith("sqlite") and scale != 1.0:
            goal += f"; [dim]<{GOAL_WALL:.0f} s at scale 1.0 only[/]"
        verdict = {None: "", True: "[green]pass[/]", False: "[red]FAIL[/]"}[r.passed]
        table.add_row(
            r.scenario,
            r.store,
            f"{r.msgs:,}",
            f"{r.seconds:,.1f}",
            f"{r.rate:,.0f}",
            f"{r.cpu_s:,.1f}",
            f"{r.rss_mib:,.0f}",
            num(r.child_rss_mib),
            num(r.lost),
            num(r.applied_twice),
            num(r.peak_backlog),
            num(r.sim_days, ".1f"),
            goal,
            verdict,
        )
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help=f"scale {QUICK_SCALE} (a smoke run)")
    size.add_argument("--scale", type=float, default=1.0, help="share of the full volume, (0, 1]")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL row")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)
    scale = QUICK_SCALE if args.quick else args.scale
    if not 0 < scale <= 1:
        parser.error(f"--scale is a share of the full volume, above 0 and at most 1: {scale}")
    console = Console()
    if not console.is_terminal:  # piped or redirected: do not squeeze the table into 80 columns
        console = Console(width=200)

    chain = load_chain()
    plan = plan_for(chain, scale)
    sc = plan.scenario
    last_change = max(sc.plan.changes(), default=sc.start)
    horizon = (min(sc.end, last_change + timedelta(days=2)) - sc.start) / timedelta(days=1)

    notes: list[str] = []
    info = machine_info()
    info["postgres"] = None if args.no_postgres else postgres_version()
    if info["postgres"] is None and not args.no_postgres:
        notes.append(f"PostgreSQL at {PG_DSN} is not reachable: its row is missing")
    stores = ["sqlite NORMAL"] + ([] if info["postgres"] is None else ["postgres"])

    rows: list[Row] = []
    began = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} days · {task.fields[messages]:,} msgs"),
        TimeElapsedColumn(),
    )
    with (
        tempfile.TemporaryDirectory(prefix="kh-bench-scenario-") as tmpdir,
        Progress(*columns, console=console, transient=True) as progress,
    ):
        folder = Path(tmpdir)
        runner = Runner(
            ctx, ctx.Value("d", 0.0, lock=False), ctx.Value("q", 0, lock=False), progress
        )
        end_iso = None
        for kind in stores:
            found = runner.run(f"{SCENARIO} {kind}", horizon, run_exchange, kind, scale, folder)
            res = found["result"]
            row = _row(SCENARIO, kind, res["sent"], found)
            row.batch = str(PULL_LIMIT)
            row.lost, row.applied_twice = res["lost"], res["applied_twice"]
            row.peak_backlog, row.sim_days = res["peak_backlog"], res["sim_days"]
            row.info.update(peak_backlog_at=res["peak_backlog_at"], figures=res["figures"])
            rows.append(row)
            end_iso = end_iso or res["end"]
            progress.console.print(
                f"  {SCENARIO} {kind:<13} {row.msgs:>9,} msgs in {row.seconds:7.1f} s "
                f"= {row.rate:>8,.0f}/s, lost {row.lost}, applied twice {row.applied_twice}"
            )
        assert end_iso is not None
        # The peers stop where the SQLite run stopped: the runner takes no events after it.
        days = (datetime.fromisoformat(end_iso) - sc.start) / timedelta(days=1)
        found = runner.run("simulator only", days, run_simulator, scale, end_iso)
        rows.append(_row("simulator only", "none", found["msgs"], found))
        found = runner.run("bare sqlite queue", days, run_bare, scale, end_iso, folder)
        bare = _row("bare sqlite queue", "sqlite NORMAL", found["msgs"], found)
        bare.batch = str(PULL_LIMIT)
        bare.lost, bare.peak_backlog = found["lost"], found["peak_backlog"]
        bare.sim_days = found["sim_days"]
        rows.append(bare)
        for r in rows[-2:]:
            progress.console.print(
                f"  {r.scenario:<17} {r.msgs:>9,} msgs in {r.seconds:7.1f} s = {r.rate:>8,.0f}/s"
            )
    total = time.perf_counter() - began

    apply_goals(rows, scale)
    first, sim = rows[0], next(r for r in rows if r.scenario == "simulator only")
    if sim.msgs != first.info["generated"]:
        notes.append(
            f"the simulator generated {sim.msgs:,} events before the run's end, the runner "
            f"took {first.info['generated']:,}: the peers did not see the same events"
        )
    for r in rows:
        if r.info.get("analyze_runs"):
            notes.append(
                f"{r.store}: ANALYZE ran {r.info['analyze_runs']} times "
                f"({r.info['analyze_seconds']:.2f} s, not counted in its seconds)"
            )
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    title = (
        f"Scenario benchmark: {SCENARIO} at scale {scale:g} ({plan.cases:,} cases, step "
        f"{sc.step}, seed {sc.seed}); {info['cores']} cores, {info['ram_gb']} GB, Python "
        f"{info['python']}, SQLite {info['sqlite']}, PostgreSQL {info['postgres']}; "
        f"load average {info['loadavg_start'][0]} at start, {info['loadavg_end'][0]} at end"
    )
    render(rows, console, title, scale)
    console.print(f"memory: {MEMORY_METHOD}; cpu s: this row's process only (time.process_time)")
    bare_row = rows[-1]
    for r in rows:
        if r.scenario == SCENARIO and sim.seconds and bare_row.seconds:
            console.print(
                f"{SCENARIO} {r.store}: {r.seconds / sim.seconds:.1f}x the simulator's floor, "
                f"{r.seconds / bare_row.seconds:.1f}x the bare queue's wall time"
            )
    failed = [r for r in rows if r.passed is False]
    console.print(
        f"{sum(1 for r in rows if r.passed)} rows meet their goals, {len(failed)} miss; "
        f"run took {total:.0f} s"
    )
    for note in notes:
        console.print(f"[yellow]note:[/] {note}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "benchmark": "scenario",
        "mode": "quick" if args.quick else "full" if scale == 1.0 else "scaled",
        "machine": info,
        "scenario": {
            "name": sc.name,
            "seed": sc.seed,
            "scale": scale,
            "cases": plan.cases,
            "step_seconds": sc.step.total_seconds(),
            "start": sc.start.isoformat(),
            "end": end_iso,
        },
        "goals": {
            "sqlite_wall_seconds_at_full_scale": GOAL_WALL,
            "lost": 0,
            "applied_twice": 0,
        },
        "memory_method": MEMORY_METHOD,
        "seconds_total": round(total, 1),
        "notes": notes,
        "results": [
            {
                **asdict(r),
                "seconds": round(r.seconds, 3),
                "rate": round(r.rate, 1),
                "pass": r.passed,
            }
            for r in rows
        ],
    }
    args.out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    console.print(f"wrote {args.out}")
    console.print(f"wrote {write_chart(args.out)} (a chart of msg/s per row)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
