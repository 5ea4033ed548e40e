"""``ketenherstel plan …``: check, show and rank go-live plans and forecast their backlogs.

A Typer sub-app; the main CLI mounts it. Exit codes: 0 fine, 1 the plan or the forecast input
has problems (each is listed), 2 the command was used wrongly (a missing file, a bad option).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ketenherstel.chain import Chain, ChainError, load_chain
from ketenherstel.golive.channels import parse_rate, short_type
from ketenherstel.golive.errors import ForecastInputError, PlanError, PlanProblem
from ketenherstel.golive.model import Plan, outside_dates, with_offset
from ketenherstel.golive.plan import BUILTIN_PLANS, check_plan_file, load_plan
from ketenherstel.terminal import SafeConsole

__all__ = ["app"]

app = typer.Typer(
    help="Go-live plans: check and show them, rank the processes, forecast the backlogs.",
    no_args_is_help=True,
)


def out() -> Console:
    """Standard output, sized at each call (so COLUMNS set by a caller counts)."""
    return SafeConsole()


def err() -> Console:
    """Standard error."""
    return SafeConsole(stderr=True)


PlanArg = Annotated[
    str, typer.Argument(help="A plan file, or the name of a built-in plan (om-2025)")
]
ChainOpt = Annotated[
    Path | None, typer.Option("--chain", help="A chain file (default: the built-in chain)")
]


def _row(table: Table, *cells: str) -> None:
    """Add a row of plain text: labels like ``om->justid [process:x]`` are no Rich markup."""
    table.add_row(*(Text(cell) for cell in cells))


def _fail(message: str, code: int = 2) -> typer.Exit:
    err().print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _problems(problems: list[PlanProblem] | tuple[PlanProblem, ...], what: str) -> typer.Exit:
    for problem in problems:
        out().print(str(problem), highlight=False, markup=False, soft_wrap=True)
    noun = "problem" if len(problems) == 1 else "problems"
    return _fail(f"{len(problems)} {noun} in {what}", code=1)


def _chain(path: Path | None) -> Chain:
    try:
        return load_chain(path)
    except ChainError as exc:
        raise _fail(str(exc)) from None


def _plan_path(spec: str) -> Path:
    if not spec.strip():  # Path("") is the current folder: it was 'is a directory'
        known = ", ".join(sorted(p.stem for p in BUILTIN_PLANS.glob("*.yaml")))
        raise _fail(f"the plan path is empty; give a plan file or a built-in plan ({known})")
    path = Path(spec)
    if path.is_file():
        return path
    if path.is_dir():
        raise _fail(f"{spec}: is a directory; give a plan file")
    builtin = BUILTIN_PLANS / f"{spec}.yaml"
    if path.suffix == "" and builtin.is_file():
        return builtin
    known = ", ".join(sorted(p.stem for p in BUILTIN_PLANS.glob("*.yaml")))
    raise _fail(f"no such plan file: {spec} (the built-in plans are: {known})")


def _load(spec: str, chain: Chain) -> tuple[Path, Plan]:
    path = _plan_path(spec)
    problems = check_plan_file(path, chain)
    if problems:
        raise _problems(problems, str(path))
    return path, load_plan(path, chain)


def _time(value: datetime | None) -> str:
    return value.strftime("%d-%m-%Y %H:%M") if value else "—"


def _rate(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 3600:,.0f}/h"


def _waves_table(plan: Plan, title: str) -> Table:
    table = Table("wave", "at", "opens", "rate", "release quarantine", "online", title=title)
    for wave in plan.waves:
        opens = [o.label for o in wave.opens] or ["—"]
        rates = [_rate(o.rate) for o in wave.opens] or [""]
        _row(
            table,
            wave.name,
            _time(wave.at),
            "\n".join(opens),
            "\n".join(rates),
            ", ".join(wave.release_quarantine),
            ", ".join(wave.online),
        )
    return table


@app.command()
def validate(plan: PlanArg, chain: ChainOpt = None) -> None:
    """Check a plan against the chain; list every problem and exit 1 if there are any."""
    path, loaded = _load(plan, _chain(chain))
    isolation = loaded.isolation
    cut = (
        f"; isolates {', '.join(isolation.partners)} from {_time(isolation.at)}"
        if isolation
        else ""
    )
    out().print(_waves_table(loaded, f"Plan {loaded.name}: {len(loaded.waves)} waves{cut}"))
    out().print(f"{path}: ok, {len(loaded.priorities)} agreed priorities", markup=False)


@app.command()
def show(
    plan: PlanArg,
    chain: ChainOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON")] = False,
) -> None:
    """Show a plan: isolation, agreed priorities and every wave with its channels."""
    _, loaded = _load(plan, _chain(chain))
    if as_json:
        out().print_json(json.dumps(loaded.to_dict()))
        return
    out().print(f"[bold]{escape(loaded.name)}[/]  {escape(loaded.description)}", highlight=False)
    if loaded.isolation is not None:
        iso = loaded.isolation
        partners = ", ".join(iso.partners)
        out().print(f"Isolated from {_time(iso.at)}: {partners}. {iso.note or ''}", markup=False)
    decisions = Table("process", "agreed by", "on", "why", title="Agreed priorities")
    for d in loaded.priorities:
        _row(decisions, d.process, ", ".join(d.agreed_by), f"{d.at:%d-%m-%Y}", d.why)
    out().print(decisions, _waves_table(loaded, "Waves"))
    for wave in loaded.waves:
        if wave.note:
            out().print(f"[bold]{escape(wave.name)}[/]: {escape(wave.note)}", highlight=False)


@app.command()
def priorities(
    plan: Annotated[
        str | None, typer.Argument(help="A plan file or built-in plan (default: none)")
    ] = None,
    chain: ChainOpt = None,
) -> None:
    """Rank the processes for the go-live: agreed first, then legal deadlines, then procedure."""
    from ketenherstel.golive.priority import ranking

    model = _chain(chain)
    loaded = _load(plan, model)[1] if plan else None
    title = f"Go-live order ({'plan ' + loaded.name if loaded else 'no plan'})"
    table = Table("rank", "process", "basis", "why", "types", title=title)
    for rank in ranking(model, loaded):
        types = ", ".join(short_type(t) for t in rank.types)
        _row(table, str(rank.rank), rank.process, rank.basis, rank.reason, types)
    out().print(table)
    out().print("Inside one rank, the oldest message goes first.")


def _start(text: str, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(f"{option} {text!r} is not an ISO 8601 date-time") from None
    if value.tzinfo is None:
        raise _fail(f"{option} {text!r} has no UTC offset; write e.g. {with_offset(text)}")
    why = outside_dates(value)
    if why is not None:
        raise _fail(f"{option} {why}")
    return value


def _default_rates(values: list[str]) -> dict[str, float]:
    rates = {}
    for value in values:
        receiver, sep, rate = value.partition("=")
        if not sep:
            raise _fail(f"--default-rate {value!r}: write RECEIVER=RATE, e.g. justid=2000/h")
        try:
            rates[receiver.strip()] = parse_rate(rate)
        except ValueError as exc:
            raise _fail(f"--default-rate {value!r}: {exc}") from None
    return rates


@app.command()
def forecast(
    plan: PlanArg,
    backlog: Annotated[
        Path, typer.Option(help="CSV: receiver,sender,type,count,oldest", show_default=False)
    ],
    start: Annotated[str, typer.Option(help="ISO 8601 with offset, e.g. 2025-08-18T00:00+02:00")],
    inflow: Annotated[Path | None, typer.Option(help="CSV: receiver,sender,type,per_day")] = None,
    until: Annotated[str | None, typer.Option(help="Horizon (default: until empty)")] = None,
    default_rate: Annotated[
        list[str] | None, typer.Option(help="RECEIVER=RATE for open channels without a rate")
    ] = None,
    step_minutes: Annotated[
        int, typer.Option(min=1, max=1440, help="Simulation step (it divides a day)")
    ] = 60,
    actual: Annotated[
        Path | None, typer.Option(help="CSV day,sender,receiver,backlog to compare with")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the result as JSON")
    ] = None,
    chart: Annotated[Path | None, typer.Option(help="Write a backlog chart as SVG")] = None,
    chain: ChainOpt = None,
) -> None:
    """What if: when is each channel's backlog empty, and which deadlines are missed?"""
    from ketenherstel.golive.chart import render_svg
    from ketenherstel.golive.forecast import compare
    from ketenherstel.golive.forecast import forecast as run
    from ketenherstel.golive.inputs import read_actual_csv, read_backlog_csv, read_inflow_csv

    model = _chain(chain)
    _, loaded = _load(plan, model)
    begin = _start(start, "--start")
    horizon = _start(until, "--until") if until else None
    rates = _default_rates(default_rate or [])
    for option, path in (("--backlog", backlog), ("--inflow", inflow), ("--actual", actual)):
        if path is not None and path.is_dir():
            raise _fail(f"{option} {path}: is a directory; give a file")
        if path is not None and not path.is_file():
            raise _fail(f"no such file: {path}")
    for option, path in (("--json", json_out), ("--chart", chart)):  # before the forecast runs
        if path is not None and (path.is_dir() or not path.parent.is_dir()):
            why = "is a directory" if path.is_dir() else "its folder does not exist"
            raise _fail(f"{option} {path}: {why}")
    try:
        items = read_backlog_csv(backlog, model, start=begin)
        flows = read_inflow_csv(inflow, model) if inflow else []
        measured = read_actual_csv(actual, model) if actual else None
        result = run(
            loaded,
            model,
            start=begin,
            backlog=items,
            inflow=flows,
            default_rates=rates,
            until=horizon,
            step=timedelta(minutes=step_minutes),
        )
    except ForecastInputError as exc:
        raise _problems(exc.problems, "the forecast input") from None
    except PlanError as exc:
        raise _fail(str(exc)) from None
    table = Table(
        "channel", "peak", "peak at", "empty at", "deadlines missed", "remaining",
        title=f"Forecast of {loaded.name} from {_time(begin)} to {_time(result.until)}",
    )  # fmt: skip
    for c in result.channels:
        missed = "\n".join(
            f"{m.count:,.0f} {short_type(m.type)} (first {_time(m.first)})" for m in c.missed
        )
        _row(
            table,
            c.channel,
            f"{c.peak:,.0f}",
            _time(c.peak_at),
            _time(c.empty_at) if c.empty_at else "not within the horizon",
            missed or "none",
            f"{c.remaining:,.0f}",
        )
    out().print(table)
    unlimited = [c.channel for c in result.channels if c.unlimited]
    if unlimited:
        out().print(
            f"not limited: {', '.join(unlimited)} drained at once while open, as neither the "
            "plan nor --default-rate RECEIVER=RATE gives a rate; their empty dates are as early "
            "as can be",
            style="yellow",
            highlight=False,
        )
    if measured is not None:
        versus = Table(
            "channel", "forecast empty", "actual empty", "days late", title="Forecast vs actual"
        )
        for row in compare(result, measured):
            _row(
                versus,
                row.channel,
                f"{row.forecast_empty:%d-%m-%Y}" if row.forecast_empty else "—",
                f"{row.actual_empty:%d-%m-%Y}" if row.actual_empty else "—",
                "—" if row.difference_days is None else f"{row.difference_days:+d}",
            )
        out().print(versus)
    writes: list[tuple[str, Path | None, Callable[[], str]]] = [
        ("--json", json_out, lambda: json.dumps(result.to_dict(), indent=2)),
        ("--chart", chart, lambda: render_svg(result, loaded)),
    ]
    for option, path, text in writes:
        if path is not None:
            try:
                path.write_text(text(), encoding="utf-8")
            except OSError as exc:  # no permission, a full disk
                raise _fail(f"{option} {path}: {exc.strerror or exc}") from None
            out().print(f"wrote {path}", markup=False)
