"""``ketenherstel scenario …`` (check, show and run scenario files; om-2025 is built in) and
``ketenherstel plan steps|apply`` (run a go-live plan's step on the store), decision 0009.

The plan commands join the ``plan`` sub-app of :mod:`ketenherstel.golive.cli` here, because
``golive`` is pure and may not open a store. A scenario run drives the real exchange, in
process, on simulated time, on the store named by --store or KETENHERSTEL_STORE, and prints
the story (see :mod:`ketenherstel.story`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ketenherstel.chain import ChainError, load_chain
from ketenherstel.cli_common import fail as _fail
from ketenherstel.cli_common import operator as _operator
from ketenherstel.cli_common import require_store, writable_folder
from ketenherstel.exchange.errors import ExchangeError
from ketenherstel.golive.cli import ChainOpt, PlanArg, _rate, _row, _time
from ketenherstel.golive.cli import _chain as plan_chain
from ketenherstel.golive.cli import _load as plan_load
from ketenherstel.golive.cli import app as plan_app
from ketenherstel.recovery.scenario import (
    BUILTIN_SCENARIOS,
    Scenario,
    ScenarioError,
    builtin_scenario_path,
    load_scenario,
)
from ketenherstel.terminal import SafeConsole

__all__ = ["scenario_app"]

scenario_app = typer.Typer(
    help="Scenarios: what happens around a go-live plan, run through the real exchange.",
    no_args_is_help=True,
)
out = SafeConsole()

ScenarioArg = Annotated[
    str, typer.Argument(help="A scenario file, or the name of a built-in scenario (om-2025)")
]


def _path(spec: str) -> Path:
    path = Path(spec)
    if path.is_file():
        return path
    if path.suffix == "":
        try:
            return builtin_scenario_path(spec)
        except KeyError:
            pass
    known = ", ".join(sorted(p.stem for p in BUILTIN_SCENARIOS.glob("*.yaml")))
    raise _fail(f"no such scenario file: {spec} (the built-in scenarios are: {known})")


def _load(spec: str) -> Scenario:
    path = _path(spec)
    try:
        return load_scenario(path, load_chain(None))
    except ChainError as exc:
        raise _fail(str(exc)) from None
    except ScenarioError as exc:
        for problem in exc.problems:
            out.print(problem, markup=False, highlight=False, soft_wrap=True)
        noun = "problem" if len(exc.problems) == 1 else "problems"
        raise _fail(f"{len(exc.problems)} {noun} in {path}", code=1) from None


@scenario_app.command("validate")
def validate(scenario: ScenarioArg) -> None:
    """Check a scenario and its plan against the chain; list every problem, exit 1 if any."""
    loaded = _load(scenario)
    out.print(f"{loaded.source}: ok (plan {loaded.plan.name})", markup=False)


@scenario_app.command("show")
def show(scenario: ScenarioArg) -> None:
    """Show a scenario: its period, the plan's steps, the offline partners, the timeline."""
    from ketenherstel.recovery.steps import plan_steps

    s = _load(scenario)
    out.print(f"[bold]{escape(s.name)}[/]  {escape(s.description)}", highlight=False)
    out.print(
        f"from {s.start:%d-%m-%Y} (cases arrive until {s.arrivals_until:%d-%m-%Y}, at the "
        f"latest until {s.end:%d-%m-%Y}) · step {s.step} · seed {s.seed} · plan {s.plan.name}",
        highlight=False,
    )
    table = Table("when", "what", title="Timeline")
    rows = [(at, f"plan step {name}") for name, at in plan_steps(s.plan)]
    rows += [(e.at, f"{e.what} ({e.source})") for e in s.timeline]
    rows += [(o.since, f"{o.partner} cut off: its outbox keeps everything") for o in s.offline]
    rows += [(o.until, f"{o.partner} reconnects: its outbox forwards") for o in s.offline]
    if s.route_type and s.route_from:
        rows.append((s.route_from, f"emergency route: {s.route_type}"))
    if s.paper:
        rows.append(
            (
                s.paper.since,
                f"paper work: {len(s.paper.types)} types, imported every {s.paper.every}",
            )
        )
    for at, what in sorted(rows):
        table.add_row(f"{at:%d-%m-%Y %H:%M}", escape(what))
    out.print(table)


@scenario_app.command("run")
def run(
    scenario: ScenarioArg,
    store: Annotated[
        str | None,
        typer.Option("--store", help="sqlite:///path.db, a file path or postgresql://… (empty!)"),
    ] = None,
    scale: Annotated[
        float,
        typer.Option(
            min=0.001,
            max=1.0,
            help="Share of the real volumes the scenario file gives (1 = all of them)",
        ),
    ] = 1.0,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write the figures (JSON) and the chart (SVG) here")
    ] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Delete the SQLite file first (never PostgreSQL)")
    ] = False,
) -> None:
    """Run a scenario through the exchange on a store that has not run one yet."""
    from ketenherstel.settings import Settings
    from ketenherstel.store import StoreError
    from ketenherstel.story import fresh_sqlite, run_story

    path = _path(scenario)
    _load(scenario)  # every problem before anything is touched
    require_store(store, create=True)  # a file that is no store: refused, --fresh or not
    if out_dir is not None:  # before the run fills the store, as `briefing make --out`
        writable_folder(out_dir, f"--out {out_dir}")
    settings = Settings.from_env(store_url=store)
    if fresh:
        try:
            fresh_sqlite(settings.store_url, demo=False)
        except (ValueError, OSError) as exc:
            raise _fail(str(exc)) from None
    try:
        rt, _ = run_story(
            scenario_path=path,
            settings=settings,
            scale=scale,
            console=out,
            out_dir=out_dir,
            pdf=False,  # the demo prints the PDF; here `briefing export` does, on request
        )
    except (StoreError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    except ExchangeError as exc:
        raise _fail(exc.detail) from None
    rt.close()


# -- go-live plan steps (mounted on `ketenherstel plan`) -----------------------------------


@plan_app.command("steps")
def steps_cmd(plan: PlanArg, chain: ChainOpt = None) -> None:
    """List the steps of a plan that `plan apply` runs: the isolation, then each wave."""
    from ketenherstel.recovery.steps import plan_steps

    _, loaded = plan_load(plan, plan_chain(chain))
    table = Table("step", "at", title=f"Steps of {loaded.name}")
    for name, at in plan_steps(loaded):
        _row(table, name, _time(at))
    out.print(table)


@plan_app.command("apply")
def apply_cmd(
    plan: PlanArg,
    step: Annotated[str, typer.Argument(help="`isolation` or a wave's name (see `plan steps`)")],
    operator: Annotated[str, typer.Option("--as", help="Your name as operator")],
    store: Annotated[
        str | None,
        typer.Option("--store", help="sqlite:///path.db, a file path or postgresql://…"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what the step would change; change nothing")
    ] = False,
) -> None:
    """Run one step of a plan on the exchange's store: partner states, channel rules,
    priorities, quarantine release requests (a second operator approves them with
    `ketenherstel quarantine approve ID --as NAME`) and interim procedures retired."""
    from ketenherstel.bootstrap import bootstrap
    from ketenherstel.exchange.manual import ManualWork
    from ketenherstel.recovery.steps import apply_step
    from ketenherstel.settings import Settings
    from ketenherstel.store import StoreError
    from ketenherstel.store.manual_ports import manual_store

    principal = _operator(operator)
    require_store(store)
    try:
        rt = bootstrap(Settings.from_env(store_url=store))
    except (ChainError, StoreError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    try:
        _, loaded = plan_load(plan, rt.chain)
        manual = ManualWork(store=manual_store(rt.store), chain=rt.chain)
        result = apply_step(
            rt.exchange,
            loaded,
            step,
            principal=principal,
            manual=manual,
            dry_run=dry_run,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    except ExchangeError as exc:
        raise _fail(exc.detail) from None
    finally:
        rt.close()
    heading = f"{loaded.name} step {result.step} ({_time(result.at)})"
    verb = "would change" if dry_run else "changed"
    if not result.changed:
        # Applied again: what it restores was restored before; only its notes are news.
        out.print(f"{heading}: nothing {verb}, the store is already at this step", markup=False)
        for note in result.notes:
            out.print(f"  note: {note}", markup=False)
        return
    out.print(f"{heading} {verb}:", markup=False, highlight=False)
    for partner, state in result.partners:
        out.print(f"  partner {partner} → {state}", markup=False)
    table = Table("channel", "state", "rate", "why", title="Channel rules")
    for c in result.channels:
        _row(table, c.label, c.state, _rate(c.rate), c.why)
    if result.channels:
        out.print(table)
    for partner, release_id, messages in result.releases_requested:
        what = f"release {release_id}" if release_id else "a release"
        out.print(f"  quarantine: {what} of {partner}, {messages} messages", markup=False)
    if result.restored_processes:
        out.print(f"  restores: {', '.join(result.restored_processes)}", markup=False)
    if result.procedures_retired:
        ids = ", ".join(str(i) for i in result.procedures_retired)
        out.print(f"  interim procedures retired: {ids}", markup=False)
    if not dry_run:
        out.print(f"  {result.priorities_changed} pending deliveries re-prioritised")
    for note in result.notes:
        out.print(f"  note: {note}", markup=False)
