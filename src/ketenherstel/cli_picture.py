"""``ketenherstel picture …`` and ``ketenherstel briefing …``: the picture, the recovery matrix
and hand-set statuses, and briefings, on the local store (decision 0013)."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ketenherstel.cli_common import fail, local_runtime, operator, writable_folder
from ketenherstel.picture.charts import format_date
from ketenherstel.picture.matrix import HAND_CHANNELS, STATES
from ketenherstel.picture.series import KINDS, TZ
from ketenherstel.terminal import SafeConsole

if TYPE_CHECKING:
    from ketenherstel.briefings import BriefingService
    from ketenherstel.exchange.auth import Principal
    from ketenherstel.picture.service import Picture

picture_app = typer.Typer(
    help="The situational picture: measured series, the recovery matrix, hand-set statuses.",
    no_args_is_help=True,
)
briefing_app = typer.Typer(
    help="Briefings: make one as of a date (HTML, PDF, publication version), list, approve.",
    no_args_is_help=True,
)
out = SafeConsole(markup=False)  # what it prints comes from the store and the registers

StoreOpt = Annotated[
    str | None, typer.Option("--store", help="sqlite:///path.db, a file path or postgresql://…")
]
AsOpt = Annotated[str, typer.Option("--as", help="Your name (kept in the audit trail only)")]


@contextlib.contextmanager
def _picture(store: str | None) -> Iterator[tuple[Picture, BriefingService]]:
    from ketenherstel.briefings import BriefingService
    from ketenherstel.picture.db import PictureDbError, open_picture_db
    from ketenherstel.picture.service import Picture
    from ketenherstel.store.manual_ports import manual_store

    with local_runtime(store) as rt:
        try:
            db = open_picture_db(rt.settings.picture_location())
        except (OSError, PictureDbError) as exc:
            raise fail(f"cannot open the picture's file: {exc}") from None
        try:
            picture = Picture(rt.store, manual_store(rt.store), rt.chain, db, rt.exchange.clock)
            yield picture, BriefingService(rt, picture)
        finally:
            db.close()


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return format_date(datetime.fromtimestamp(epoch, TZ), with_time=True)


def _person(name: str) -> Principal:
    """The operator ``--as`` names, checked as a token's holder is (it is kept in the audit
    trail and on a briefing)."""
    return operator(name, blank="--as: give your name")


@picture_app.command("show")
def show_cmd(
    kind: Annotated[str, typer.Option(help=f"One of {', '.join(KINDS)}")] = "all",
    key: Annotated[str, typer.Option(help="e.g. om->justid, a process or partner key")] = "",
    days: Annotated[int, typer.Option(min=1, max=10_000, help="The last N days")] = 14,
    store: StoreOpt = None,
) -> None:
    """One selection's series per day, as of the store's last change."""
    from ketenherstel.picture.service import PictureInputError

    if kind not in KINDS:
        raise fail(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "all" and key:
        raise fail(
            f"--key {key!r} goes with a --kind ({', '.join(k for k in KINDS if k != 'all')})"
        )
    if kind != "all" and not key.strip():
        raise fail(f"--kind {kind} needs --key (e.g. om->justid, a process or partner key)")
    with _picture(store) as (picture, _):
        problem = picture.key_problem(kind, key)  # a partner or process there is not: typed
        if problem is not None:
            raise fail(f"--key: {problem.en}")
        try:
            view = picture.selection(kind, key)
        except PictureInputError as exc:  # one there is, with nothing measured for it
            raise fail("; ".join(exc.english().values()), 1) from None
        snap = picture.snapshot()
        table = Table(title=f"{kind} {key} · as of {_when(snap.as_of)}", title_justify="left")
        for col in (
            "day",
            "in",
            "out",
            "backlog",
            "oldest h",
            "lead p50 h",
            "lead p90 h",
            "missed",
        ):
            table.add_column(col, justify="left" if col == "day" else "right")
        for i in range(max(0, len(view.days) - days), len(view.days)):

            def n(v: float | None, d: int = 0) -> str:  # English figures, as the footer's
                return "-" if v is None or not math.isfinite(v) else f"{v:,.{d}f}"

            table.add_row(
                view.days[i].isoformat(),
                n(view.inflow[i]),
                n(view.outflow[i]),
                n(view.backlog[i]),
                n(view.oldest_hours[i]),
                n(view.lead_median[i], 1),
                n(view.lead_p90[i], 1),
                n(view.missed[i]),
            )
        out.print(table)
        out.print(
            f"now: backlog {view.backlog_now:,}; peak {view.peak:,} on {view.peak_day}; "
            f"deadlines missed {view.missed_total:,}",
            highlight=False,
        )


@picture_app.command("matrix")
def matrix_cmd(
    store: StoreOpt = None,
    history: Annotated[int, typer.Option(min=0, help="Also the last N changes")] = 0,
) -> None:
    """The recovery matrix: state per partner and channel, with a forecast back to normal."""

    with _picture(store) as (picture, _):
        m = picture.matrix()
        table = Table(title=f"Recovery matrix · as of {_when(m.as_of)}", title_justify="left")
        for col in ("partner", "channel", "state", "since", "backlog", "forecast", "reason"):
            table.add_column(col)
        for c in m.cells:
            table.add_row(
                c.partner,
                c.label + (" (hand)" if c.hand_set else ""),
                c.state,
                _when(c.since),
                f"{c.backlog:,}",
                c.forecast.isoformat() if c.forecast else "-",
                c.reason,
            )
        out.print(table)
        for ch in m.changes[:history]:
            out.print(
                f"{_when(ch.at)} {ch.partner} {ch.channel}: {ch.state} ({ch.reason})",
                markup=False,
                highlight=False,
            )


@picture_app.command("status")
def status_cmd(
    partner: Annotated[str, typer.Argument(help="Partner key, e.g. om")],
    channel: Annotated[str, typer.Argument(help=f"One of {', '.join(HAND_CHANNELS)}")],
    state: Annotated[str, typer.Argument(help=f"One of {', '.join(STATES)}")],
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            help="Why: shown to signed-in users on the herstelmatrix (and by `picture matrix`), "
            "never on the public status page, which shows the state alone",
        ),
    ],
    actor: AsOpt,
    store: StoreOpt = None,
) -> None:
    """Set the state of a channel only people can judge (e-mail, telephone), with a reason.
    Setting the state it already has records the new reason but is not listed as a change."""
    from ketenherstel.picture.service import PictureInputError
    from ketenherstel.store.ports import AuditRecord

    actor = _person(actor).name
    # As the service reads them (stripped), so that the unchanged note and the audit record
    # name the partner and channel the status was stored under.
    partner, channel, state = partner.strip(), channel.strip(), state.strip()
    with _picture(store) as (picture, _):
        form = {"partner": partner, "kanaal": channel, "status": state, "reden": reason}
        before = [s for s in picture.db.statuses() if (s.partner, s.channel) == (partner, channel)]
        try:
            picture.set_status(form, actor=actor)
        except PictureInputError as exc:
            names = {"kanaal": "channel", "status": "state", "reden": "--reason"}
            raise fail(
                "; ".join(f"{names.get(k, k)}: {v}" for k, v in exc.english().items())
            ) from None
        picture.store.audit(
            AuditRecord(picture.clock(), actor, "status-set", f"status/{partner}/{channel}", state)
        )
        note = ""
        if before and before[-1].state == state:
            note = " (unchanged: the reason is recorded; the status page lists no change)"
        out.print(f"{partner} {channel}: {state}{note}", markup=False, highlight=False)


@briefing_app.command("make")
def make_cmd(
    day: Annotated[str, typer.Option("--date", help="Reference date, YYYY-MM-DD")],
    actor: AsOpt,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Also write HTML, PDF and the Woo version here")
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Make a draft briefing with its figures frozen at the end of the reference date (it
    says which sections are as of its making instead)."""
    from ketenherstel.picture.service import PictureInputError

    if out_dir is not None:  # before the briefing is made: a refused one leaves none
        writable_folder(out_dir, f"--out {out_dir}")
    with _picture(store) as (_, service):
        try:
            new_id = service.create(day, _person(actor))
        except PictureInputError as exc:
            raise fail("--date: " + "; ".join(exc.english().values())) from None
        out.print(
            f"briefing {new_id} as of {day}: draft (another operator approves it)", highlight=False
        )
        if out_dir is not None:
            for path in _write(service, new_id, out_dir):
                out.print(f"wrote {path}", highlight=False)


def _write(service: BriefingService, briefing_id: int, out_dir: Path) -> list[Path]:
    row = service.picture.db.briefing(briefing_id)
    assert row is not None
    stem = f"briefing-{briefing_id}"
    paths = [
        out_dir / f"{stem}.html",
        out_dir / f"{stem}-publicatie.html",
        out_dir / f"{stem}.pdf",
        out_dir / f"{stem}-publicatie.pdf",
    ]
    contents = [
        row.html.encode("utf-8"),
        row.public_html.encode("utf-8"),
        service.pdf(briefing_id, False),
        service.pdf(briefing_id, True),
    ]
    try:  # the folder was tried before; it can still fill up or vanish
        out_dir.mkdir(parents=True, exist_ok=True)
        for path, content in zip(paths, contents, strict=True):
            path.write_bytes(content)
    except OSError as exc:
        raise fail(
            f"--out {out_dir}: cannot write there ({exc.strerror or exc}); briefing "
            f"{briefing_id} is kept: `briefing export {briefing_id} --out DIR` writes it"
        ) from None
    return paths


@briefing_app.command("list")
def list_cmd(store: StoreOpt = None) -> None:
    """The briefings, newest first."""

    with _picture(store) as (picture, _):
        table = Table(title="Briefings", title_justify="left")
        for col in ("id", "reference date", "made", "state", "approved"):
            table.add_column(col)
        for b in picture.db.briefings():
            table.add_row(
                str(b.id),
                json.loads(b.figures)["peildatum"],
                _when(b.created_at),
                b.state,
                _when(b.approved_at),
            )
        out.print(table)


@briefing_app.command("approve")
def approve_cmd(
    briefing_id: Annotated[int, typer.Argument(min=1, help="The briefing's number")],
    actor: AsOpt,
    store: StoreOpt = None,
) -> None:
    """Approve a draft briefing (an operator other than the one who made it)."""
    from ketenherstel.picture.service import PictureInputError

    with _picture(store) as (_, service):
        if service.picture.db.briefing(briefing_id) is None:
            raise fail(f"there is no briefing {briefing_id}", 1)
        try:
            service.approve(briefing_id, _person(actor))
        except PictureInputError as exc:
            raise fail("; ".join(exc.english().values())) from None
        out.print(f"briefing {briefing_id}: approved", highlight=False)


@briefing_app.command("export")
def export_cmd(
    briefing_id: Annotated[int, typer.Argument(min=1, help="The briefing's number")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for HTML, PDF, Woo version")],
    store: StoreOpt = None,
) -> None:
    """Write a briefing's HTML and PDF, and its publication version's, to a directory."""
    writable_folder(out_dir, f"--out {out_dir}")
    with _picture(store) as (picture, service):
        if picture.db.briefing(briefing_id) is None:
            raise fail(f"there is no briefing {briefing_id}", 1)
        for path in _write(service, briefing_id, out_dir):
            out.print(f"wrote {path}", highlight=False)
