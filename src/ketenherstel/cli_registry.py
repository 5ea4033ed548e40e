"""``ketenherstel registry …``: Justid's documentation registry (JDS), decision 0010.

Local commands: they open the store named by --store or KETENHERSTEL_STORE (and the registry's
own SQLite file beside it, or --registry / KETENHERSTEL_REGISTRY) directly. The registry takes
its catch-up from the exchange as Justid; every read of a person's data names who reads it,
for what purpose and on which legal ground, and is logged. Times are shown in Europe/Amsterdam.

Bad input gives a one-line message on stderr and exit code 2 and changes nothing; something
that does not exist (a screening, a re-screen item) gives exit code 1.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.padding import Padding
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ketenherstel.cli_common import err, local_runtime, writable_output
from ketenherstel.cli_common import fail as _fail
from ketenherstel.exchange.errors import ExchangeError, NotFound
from ketenherstel.registry.model import parse_date
from ketenherstel.registry.service import (
    GROUP,
    READ_ACTIVITIES,
    Freshness,
    Reader,
    RegistryForbidden,
    RegistryInputError,
    RegistryNotFound,
    RescreenItem,
    load_profiles,
)
from ketenherstel.terminal import SafeConsole

if TYPE_CHECKING:
    from ketenherstel.bootstrap import Runtime

__all__ = ["registry_app"]

registry_app = typer.Typer(
    help="Justid's documentation registry (JDS): catch-up, freshness, screenings, the "
    "re-screen list and the read log.",
    no_args_is_help=True,
)

out = SafeConsole(markup=False)  # what it prints comes from partners and the store

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
DIRECTIONS = ("missed", "wrongly-shown")

StoreOpt = Annotated[
    str | None,
    typer.Option("--store", help="sqlite:///path.db, a file path or postgresql://…"),
]
RegistryOpt = Annotated[
    str | None,
    typer.Option(
        "--registry",
        help="The registry's own SQLite file (default: KETENHERSTEL_REGISTRY, or beside a "
        "SQLite store: x.db -> x.registry.sqlite)",
    ),
]
AsOpt = Annotated[str, typer.Option("--as", help="Your name: who reads or records (logged)")]
PurposeOpt = Annotated[
    str, typer.Option("--purpose", help="Why the person's data is read (logged), e.g. vog-aanvraag")
]
GroundOpt = Annotated[
    str,
    typer.Option(
        "--legal-ground", help="The legal ground of the read (logged), e.g. 'art. 35 Wjsg'"
    ),
]
SknArg = Annotated[str, typer.Argument(help="The person's SKN, e.g. SKN-0123456789")]


# The CLI's names of the registry's inputs (their API names), where a command has them.
_OPTIONS = {
    "maxAgeHours": "--max-age-hours",
    "maxWaiting": "--max-waiting",
    "legalGround": "--legal-ground",
    "queryDate": "--date",
    "decidedDate": "--date",
    "actor": "--as",
    "purpose": "--purpose",
    "role": "--role",
    "consumer": "--consumer",
    "profile": "--profile",
    "assignee": "--assignee",
    "outcome": "--outcome",
    "note": "--note",
    "caseKey": "CASE_KEY",
}


def _named(exc: RegistryInputError, names: Mapping[str, str] | None) -> str:
    """The registry's message, naming the option (or argument) instead of the API's name: in
    its place where the message starts with it, else before the message."""
    message = str(exc)
    option = {**_OPTIONS, **(names or {})}.get(exc.field or "")
    if option is None or exc.field is None:
        return message
    if message.startswith(exc.field):
        return option + message.removeprefix(exc.field)
    return f"{option}: {message}"


@contextlib.contextmanager
def _runtime(
    store: str | None, registry: str | None, names: Mapping[str, str] | None = None
) -> Iterator[Runtime]:
    """The runtime on the local store; the registry's and the exchange's errors become a
    one-line message: exit code 1 for something not found, 2 for bad input (naming the
    option; ``names``: where this command's option for an input is not the usual one)."""
    try:
        with local_runtime(store, registry) as rt:
            yield rt
    except RegistryInputError as exc:
        raise _fail(_named(exc, names)) from None
    except RegistryNotFound as exc:
        raise _fail(str(exc), 1) from None
    except RegistryForbidden as exc:
        raise _fail(str(exc)) from None
    except ExchangeError as exc:
        raise _fail(exc.detail, 1 if isinstance(exc, NotFound) else 2) from None


def _date(value: str, option: str) -> date:
    try:
        return parse_date(value, option)
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _local(at: float | None) -> str:
    if at is None:
        return ""
    return datetime.fromtimestamp(at, AMSTERDAM).strftime("%d-%m-%Y %H:%M")


def _local_iso(value: str | None) -> str:
    """An RFC 3339 moment (the exchange's event time) in Europe/Amsterdam."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        return moment.strftime("%d-%m-%Y %H:%M")
    return moment.astimezone(AMSTERDAM).strftime("%d-%m-%Y %H:%M")


def _day(day: date | str | None) -> str:
    if isinstance(day, date):
        return day.strftime("%d-%m-%Y")
    if not day:
        return ""
    try:
        return date.fromisoformat(day).strftime("%d-%m-%Y")
    except ValueError:
        return day


def _row(table: Table, *cells: str) -> None:
    table.add_row(*(Text(c) for c in cells))


def _freshness_lines(fresh: Freshness) -> None:
    out.print(f"Freshness as of {_local(fresh.as_of)}:", highlight=False)
    if not fresh.sources:
        out.print("  geen bronnen", highlight=False)
    for s in fresh.sources:
        out.print(f"  {s.text()}", markup=False, highlight=False, soft_wrap=True)


def _gaps(gaps: Sequence[tuple[int, int]]) -> str:
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in gaps)


# -- catch-up and freshness -------------------------------------------------------------------


@registry_app.command("catch-up")
def catch_up(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Deliveries per pull")] = 1000,
    max_batches: Annotated[
        int | None,
        typer.Option(
            min=1,
            help=f"Stop after this many batches, each up to {GROUP} pulls applied in one "
            "transaction (default: until nothing waits)",
        ),
    ] = None,
    store: StoreOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """Pull, apply and acknowledge Justid's deliveries until nothing waits: each registration
    is applied exactly once; one the registry cannot read is refused with its reason."""
    with _runtime(store, registry) as rt:
        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed} deliveries"),
            TimeElapsedColumn(),
            console=err,
        )
        with progress:
            task = progress.add_task("catching up", total=None)
            result = rt.registry.catch_up(
                limit=limit,
                max_batches=max_batches,
                progress=lambda n: progress.advance(task, n),
            )
        table = Table("outcome", "deliveries", title="Catch-up")
        for label, n in (
            ("applied", result.applied),
            ("same fact (new id)", result.same_fact),
            ("redelivered", result.redelivered),
            ("replaced an earlier registration", result.replaced),
            ("not a registration", result.not_registrations),
            ("refused", len(result.failed)),
        ):
            _row(table, label, str(n))
        out.print(table)
        out.print(
            f"applied {result.applied}, same fact {result.same_fact}, redelivered "
            f"{result.redelivered}, replaced {result.replaced}, not registrations "
            f"{result.not_registrations}, refused {len(result.failed)}",
            highlight=False,
        )
        if result.failed:
            refused = Table("delivery", "reason", title="Refused (nacked)")
            for ident, reason in result.failed:
                _row(refused, str(ident), reason)
            out.print(refused)


@registry_app.command("freshness")
def freshness(
    refresh: Annotated[
        bool, typer.Option("--refresh/--no-refresh", help="Ask the exchange, not the cache")
    ] = True,
    store: StoreOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """How complete each source is in the registry: watermark, complete up to, gaps, what
    still waits and how far its catch-up is."""
    with _runtime(store, registry) as rt:
        fresh = rt.registry.freshness(refresh=refresh)
        table = Table(
            "partner",
            "state",
            "watermark",
            "complete up to",
            "gaps",
            "waiting",
            "catch-up %",
            title="Freshness per source",
        )
        for s in fresh.sources:
            _row(
                table,
                s.partner,
                s.state,
                str(s.watermark),
                _local_iso(s.complete_up_to) or "nothing yet",
                _gaps(s.gaps),
                str(s.waiting),
                "unknown" if s.catch_up_percent is None else f"{s.catch_up_percent:.1f}",
            )
        out.print(table)
        _freshness_lines(fresh)


@registry_app.command("hold-advice")
def hold_advice(
    max_age_hours: Annotated[
        float, typer.Option(help="A source complete only up to longer ago than this is behind")
    ] = 48.0,
    max_waiting: Annotated[
        int, typer.Option(help="A source with more messages than this still waiting is behind")
    ] = 0,
    store: StoreOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """May a consumer rely on the registry now? Advice per source (exit code 0 either way)."""
    with _runtime(store, registry) as rt:
        advice = rt.registry.hold_advice(max_age_hours=max_age_hours, max_waiting=max_waiting)
        table = Table("partner", "rely", "reason", title="Hold advice")
        for a in advice:
            _row(table, a.partner, "yes" if a.rely else "no", a.reason)
        out.print(table)
        _freshness_lines(rt.registry.freshness())


# -- screenings ---------------------------------------------------------------------------------


@registry_app.command("profiles")
def profiles() -> None:
    """The screening profiles: offence categories, look-back period, pending cases."""
    try:
        loaded = load_profiles()
    except ValueError as exc:
        raise _fail(str(exc)) from None
    # One block per profile, its name (what --profile takes) on a line of its own: whole,
    # however narrow the terminal.
    for p in sorted(loaded.values(), key=lambda p: p.name):
        out.print(
            f"{p.name}\n"
            f"  {p.description}\n"
            f"  categories: {', '.join(sorted(p.categories))}\n"
            f"  look-back: {p.lookback_years} years; pending cases count: "
            f"{'yes' if p.pending else 'no'}\n"
            f"  consumers: {', '.join(sorted(p.consumers))}",
            markup=False,
            highlight=False,
        )


@registry_app.command("screen")
def screen(
    reference: Annotated[str, typer.Argument(help="The screening's reference (answered once)")],
    skn: Annotated[str, typer.Option("--skn", help="The person's SKN, e.g. SKN-0123456789")],
    profile: Annotated[str, typer.Option("--profile", help="A screening profile (see profiles)")],
    consumer: Annotated[
        str, typer.Option("--consumer", help="The requesting chain partner, e.g. justis")
    ],
    purpose: PurposeOpt,
    legal_ground: GroundOpt,
    role: Annotated[str, typer.Option("--role", help="The requester's role, e.g. screener")],
    actor: AsOpt,
    day: Annotated[
        str | None,
        typer.Option("--date", help="The query date, YYYY-MM-DD (default: today, Amsterdam)"),
    ] = None,
    store: StoreOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """Answer a screening: the relevant cases on the query date, and how complete each source
    is. The answer is stored (replayable) and the read is logged as Justid's operator's (--as),
    for the consumer named."""
    query_date = None if day is None else _date(day, "--date")
    reader = Reader("justid", role, actor, purpose, legal_ground)
    with _runtime(store, registry) as rt:
        answer = rt.registry.screen(
            reference=reference,
            consumer=consumer,
            profile=profile,
            skn=skn,
            query_date=query_date,
            reader=reader,
        )
        out.print(
            f"screening {answer.reference} ({answer.profile}) of {answer.skn} on "
            f"{_day(answer.query_date)}, answered {_local(answer.answered_at)}: "
            f"{len(answer.cases)} case{'' if len(answer.cases) == 1 else 's'}",
            markup=False,
            highlight=False,
        )
        if answer.cases:
            table = Table("case", "state", "fact date", "categories", title="Cases")
            for c in answer.cases:
                _row(table, c.case_key, c.state, _day(c.fact_date), ", ".join(c.categories))
            out.print(table)
        _freshness_lines(answer.freshness)


@registry_app.command("extract")
def extract(
    skn: SknArg,
    organisation: Annotated[str, typer.Option("--organisation", help="Who reads, e.g. ind")],
    role: Annotated[str, typer.Option("--role", help="The reader's role, e.g. beslisser")],
    actor: AsOpt,
    purpose: PurposeOpt,
    legal_ground: GroundOpt,
    store: StoreOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """Everything the registry holds on a person now, per case, with freshness (logged)."""
    reader = Reader(organisation, role, actor, purpose, legal_ground)
    with _runtime(store, registry, {"consumer": "--organisation"}) as rt:
        entries, fresh = rt.registry.extract(skn=skn, reader=reader)
        out.print(f"{len(entries)} registrations of {skn}", markup=False, highlight=False)
        table = Table("case", "type", "state", "categories", "fact date", "known at", "replaced at")
        for e in entries:
            _row(
                table,
                str(e["case"]),
                str(e["type"]).removeprefix("nl.strafrechtketen.registratie."),
                str(e["state"]),
                ", ".join(e["categories"]),
                _day(e["factDate"]),
                _local_iso(e["knownAt"]),
                _local_iso(e["replacedAt"]),
            )
        if entries:
            out.print(table)
        _freshness_lines(fresh)


@registry_app.command("decision")
def decision_cmd(
    reference: Annotated[str, typer.Argument(help="The screening's reference")],
    decision: Annotated[
        str,
        typer.Argument(help="afgegeven, geweigerd, ingetrokken, geen-bezwaar or bezwaar"),
    ],
    day: Annotated[str, typer.Option("--date", help="The decision's date, YYYY-MM-DD")],
    actor: AsOpt,
    store: StoreOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """Record the consumer's decision on a screening (e.g. Justis issues or refuses the VOG)."""
    decided = _date(day, "--date")
    with _runtime(store, registry) as rt:
        was = rt.registry.record_decision(
            reference=reference, decision=decision, decided_date=decided, actor=actor
        )
        said = f"screening {reference}: {decision} on {_day(decided)}"
        if was == (decision, decided):
            said += ", as recorded already; nothing changed"
        elif was is not None:  # an issued VOG reversed, say: not silently (a review)
            said += f", which replaces {was[0]} on {_day(was[1])} (kept in its history)"
        out.print(said, markup=False, highlight=False)


# -- the re-screen list -------------------------------------------------------------------------


def _writable(path: Path | None, option: str) -> None:
    """Refuse an export file that cannot be written before the list is read (and the read
    logged): no folder, a directory, a device or pipe (/dev/full), a folder that takes no
    file (/proc)."""
    if path is None:
        return
    if path == Path():  # '' arrives as '.', which is no file to write
        raise _fail(f"{option}: give a file's path, not an empty one")
    if not path.parent.is_dir():
        raise _fail(f"{option}: no such directory: {path.parent}")
    if path.is_dir():
        raise _fail(f"{option}: {path} is a directory")
    if path.exists() and not path.is_file():
        raise _fail(f"{option}: {path} is not a regular file (a device or pipe); give a file")
    writable_output(path, option)


def _states(item: RescreenItem) -> str:
    if not item.differs:
        return "no longer differs"
    return f"{item.state_then or '—'} → {item.state_now or '—'}"


@registry_app.command("rescreen")
def rescreen(
    actor: AsOpt,
    purpose: PurposeOpt,
    legal_ground: GroundOpt,
    direction: Annotated[
        str | None, typer.Option("--direction", help="Only missed or only wrongly-shown items")
    ] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Also write the items to this CSV file")
    ] = None,
    parquet_file: Annotated[
        Path | None, typer.Option("--parquet", help="Also write the items to this Parquet file")
    ] = None,
    store: StoreOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """The answers that the registry would now give differently: cases missed (the VOG may
    have been issued wrongly) and cases shown wrongly (dismissed, acquitted or corrected
    since). The read is logged for Justid's operator."""
    if direction is not None and direction not in DIRECTIONS:
        raise _fail(f"--direction must be missed or wrongly-shown, not {direction!r}")
    _writable(csv_file, "--csv")
    _writable(parquet_file, "--parquet")
    reader = Reader("justid", "operator", actor, purpose, legal_ground)
    with _runtime(store, registry) as rt:
        fresh = rt.registry.freshness()  # before the list: it is at least this fresh
        items = rt.registry.rescreen(reader=reader, direction=direction)
        _freshness_lines(fresh)
    counts = {d: sum(1 for i in items if i.direction == d and i.differs) for d in DIRECTIONS}
    undone = sum(1 for i in items if not i.differs)
    out.print(
        ", ".join(f"{d}: {counts[d]}" for d in DIRECTIONS if direction in (None, d))
        + (f"; {undone} being worked no longer differ (close them)" if undone else ""),
        highlight=False,
    )
    # One block per item, like `registry profiles`: its first line names the item as
    # `registry work` takes it (reference, case, direction), whole however narrow the
    # terminal; a table of eleven columns cut those to `SCR…` and `10-…` in 80 columns.
    if items:
        out.print("Re-screen list", style="bold", highlight=False)
    for i in items:
        out.print(
            f"screening {i.reference}, case {i.case_key}, {i.direction}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        worked = "; ".join(
            f"{name}: {value}"
            for name, value in (
                ("work state", i.work_state),
                ("profile", i.profile),
                ("decision", i.decision),
                ("note", i.note),
            )
            if value
        )
        for line in (
            f"{_states(i)}; fact date {_day(i.fact_date)}",
            f"known at {_local(i.known_at)}, {i.delay_days:.1f} days after the answer",
            worked,
        ):
            out.print(Padding(Text(line), (0, 0, 0, 2), expand=False))  # wrapped: indented
    from ketenherstel.registry import export

    _write_out(
        ((csv_file, export.to_csv), (parquet_file, export.to_parquet)), items, fresh, "items"
    )


T = TypeVar("T")


def _write_out(
    files: Iterable[tuple[Path | None, Callable[[Sequence[T], Freshness], bytes]]],
    rows: Sequence[T],
    fresh: Freshness,
    noun: str,
) -> None:
    """Write each export asked for (a None path: not asked), the freshness in every row."""
    for path, encode in files:
        if path is None:
            continue
        try:
            path.write_bytes(encode(rows, fresh))
        except OSError as exc:
            raise _fail(f"cannot write {path}: {exc.strerror}") from None
        out.print(f"wrote {len(rows)} {noun} to {path}", markup=False, highlight=False)


@registry_app.command("work")
def work(
    reference: Annotated[str, typer.Argument(help="The screening's reference")],
    case_key: Annotated[str, typer.Argument(help="The case (parketnummer or other case key)")],
    direction: Annotated[str, typer.Argument(help="missed or wrongly-shown")],
    action: Annotated[str, typer.Argument(help="assign, review or close (in that order)")],
    actor: AsOpt,
    assignee: Annotated[
        str | None, typer.Option("--assignee", help="The team or role (assign needs it)")
    ] = None,
    outcome: Annotated[
        str | None, typer.Option("--outcome", help="What was done (close needs it)")
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="A note kept on the item")] = None,
    store: StoreOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """Work a re-screen item: assign it, review it, close it with an outcome."""
    with _runtime(store, registry) as rt:
        state = rt.registry.work_item(
            reference=reference,
            case_key=case_key,
            direction=direction,
            action=action,
            actor=actor,
            assignee=assignee,
            outcome=outcome,
            note=note,
        )
        out.print(
            f"screening {reference}, case {case_key}, {direction}: {state}",
            markup=False,
            highlight=False,
        )


# -- the read log -------------------------------------------------------------------------------


@registry_app.command("reads")
def reads(
    skn: SknArg,
    actor: AsOpt,
    purpose: PurposeOpt,
    legal_ground: GroundOpt,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many")] = 100,
    since: Annotated[
        str | None, typer.Option(help="Only reads on or after this day (YYYY-MM-DD, Amsterdam)")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only reads on or before this day (YYYY-MM-DD, Amsterdam)")
    ] = None,
    activity: Annotated[
        str | None,
        typer.Option(help=f"Only reads of this activity: {', '.join(READ_ACTIVITIES)}"),
    ] = None,
    store: StoreOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """The read log for a person, newest first: who read what, when, why and on which ground.
    This read is logged too, for Justid's operator."""
    first = None if since is None else _date(since, "--since")
    last = None if until is None else _date(until, "--until")
    reader = Reader("justid", "operator", actor, purpose, legal_ground)
    with _runtime(store, registry) as rt:
        records = rt.registry.reads_of(
            skn=skn, reader=reader, limit=limit, since=first, until=last, activity=activity
        )
        more = f" (the newest {limit}: narrow with --until or --activity)"
        out.print(
            f"{len(records)} reads of {skn}" + (more if len(records) == limit else ""),
            markup=False,
            highlight=False,
        )
        table = Table(
            "when",
            "activity",
            "organisation",
            "role",
            "actor",
            "purpose",
            "legal ground",
            "detail",
        )
        for r in records:
            _row(
                table,
                _local(r.at),
                r.activity,
                r.organisation,
                r.role,
                r.actor,
                r.purpose,
                r.legal_ground,
                r.detail,
            )
        if records:
            out.print(table)


# -- notifications to member states (ECRIS) ---------------------------------------------------


@registry_app.command("notifications")
def notifications(
    actor: AsOpt,
    purpose: PurposeOpt,
    legal_ground: GroundOpt,
    state: Annotated[
        str | None,
        typer.Option(help="Only late (past the due date), unsent or on-time notifications"),
    ] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Also write the notifications to this CSV file")
    ] = None,
    parquet_file: Annotated[
        Path | None,
        typer.Option("--parquet", help="Also write the notifications to this Parquet file"),
    ] = None,
    store: StoreOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """The notifications owed to member states (ECRIS) for final convictions of their
    nationals: due date (30 working days), when each went out, and how late. They name
    persons: the read is logged for Justid's operator."""
    _writable(csv_file, "--csv")
    _writable(parquet_file, "--parquet")
    reader = Reader("justid", "operator", actor, purpose, legal_ground)
    with _runtime(store, registry) as rt:
        fresh = rt.registry.freshness()  # before the list: it is at least this fresh
        found = rt.registry.notifications(state=state, reader=reader)
        _freshness_lines(fresh)
        late = sum(1 for n in found if n.late)
        out.print(
            f"{len(found)} notifications: {late} late, "
            f"{sum(1 for n in found if n.sent_at is None)} not sent",
            markup=False,
            highlight=False,
        )
        table = Table("notification", "member state", "convicted", "due", "sent", "days late")
        for n in found:
            sent = _local(n.sent_at) if n.sent_at is not None else "not sent"
            _row(
                table,
                n.notification_id,
                n.member_state,
                n.conviction_date.strftime("%d-%m-%Y"),
                n.due_date.strftime("%d-%m-%Y"),
                sent,
                f"{n.delay_days:.0f}",
            )
        if found:
            out.print(table)
    from ketenherstel.registry import export

    _write_out(
        ((csv_file, export.notifications_csv), (parquet_file, export.notifications_parquet)),
        found,
        fresh,
        "notifications",
    )


@registry_app.command("notify")
def notify(store: StoreOpt = None, registry: RegistryOpt = None) -> None:
    """Send the notifications owed to member states through the exchange, as Justid."""
    with _runtime(store, registry) as rt:
        sent = rt.registry.notify()
        out.print(f"sent {sent} notifications", markup=False, highlight=False)
