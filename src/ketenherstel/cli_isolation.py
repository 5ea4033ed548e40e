"""The command line for isolation (0008): partner states, emergency routes, the quarantine.

Local commands: they open the store named by --store or KETENHERSTEL_STORE directly, as the
operator on this machine. Every command that changes something names that operator with --as,
kept as who on the record, in the history and the trail; a quarantine release takes two.
`quarantine list` may name its reader with --as too; without it, the audit log records the
machine's login (``local-cli:LOGIN``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from ketenherstel.cli_common import AsOpt, ReaderOpt, out_of_range, reader, require_store
from ketenherstel.cli_common import fail as _fail
from ketenherstel.cli_common import operator as _operator
from ketenherstel.exchange.errors import ExchangeError, NotFound
from ketenherstel.exchange.isolation import MAX_EXPECTED, QuarantineCheck, stored_check
from ketenherstel.exchange.service import Exchange
from ketenherstel.store.ports import PartnerStateRecord, QuarantineRelease, RouteRecord
from ketenherstel.terminal import SafeConsole

partner_state_app = typer.Typer(
    help="Isolate a partner, let it return, bring it online; show states and history.",
    no_args_is_help=True,
)
route_app = typer.Typer(
    help="Emergency routes: send a type also to another receiver while a partner is dark.",
    no_args_is_help=True,
)
quarantine_app = typer.Typer(
    help="The quarantine of a returning partner: list, check, request and approve a release.",
    no_args_is_help=True,
)

out = SafeConsole(markup=False)  # what it prints comes from partners and the store

StoreOpt = Annotated[
    str | None,
    typer.Option("--store", help="sqlite:///path.db, a file path or postgresql://…"),
]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (kept on the record)")]
PartnerArg = Annotated[str, typer.Argument(help="The partner's key in the chain model, e.g. om")]
ExpectedOpt = Annotated[
    int | None,
    typer.Option("--expected", min=0, max=MAX_EXPECTED, help="Roughly how many messages to expect"),
]


@contextlib.contextmanager
def _exchange(store: str | None) -> Iterator[Exchange]:
    """The exchange on the local store; its errors become a message and exit code 2."""
    from ketenherstel.bootstrap import bootstrap
    from ketenherstel.chain import ChainError
    from ketenherstel.settings import Settings
    from ketenherstel.store import StoreError

    require_store(store)
    try:
        rt = bootstrap(Settings.from_env(store_url=store))
    except (ChainError, StoreError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    try:
        yield rt.exchange
    except ExchangeError as exc:
        lines = [exc.detail, *(f"  {p.field}: {p.reason}" for p in exc.problems[:30])]
        # 1 for a release or route that does not exist, 2 for bad input (cli_common.fail).
        raise _fail("\n".join(lines), 1 if isinstance(exc, NotFound) else 2) from None
    except OverflowError as exc:  # an id past what the store holds: nothing changed
        raise _fail(out_of_range(exc)) from None
    finally:
        rt.close()


def _when(stamp: float | None) -> str:
    if not stamp:
        return ""
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


# -- partner states --------------------------------------------------------------------------


def _set_state(partner: str, state: str, reason: str, operator: str, store: str | None) -> None:
    principal = _operator(operator)
    with _exchange(store) as ex:
        ex.set_partner_state(principal=principal, partner=partner, state=state, reason=reason)
        out.print(f"{partner}: {state}")


@partner_state_app.command("isolate")
def state_isolate(
    partner: PartnerArg, reason: ReasonOpt, operator: AsOpt, store: StoreOpt = None
) -> None:
    """Isolate a partner: everything to and from it is held; what it sends is quarantined."""
    _set_state(partner, "isolated", reason, operator, store)


@partner_state_app.command("return")
def state_return(
    partner: PartnerArg, reason: ReasonOpt, operator: AsOpt, store: StoreOpt = None
) -> None:
    """Let an isolated partner return: the holds and the quarantine stay."""
    _set_state(partner, "returning", reason, operator, store)


@partner_state_app.command("online")
def state_online(
    partner: PartnerArg, reason: ReasonOpt, operator: AsOpt, store: StoreOpt = None
) -> None:
    """Ask to bring a returning partner online: a release of its quarantine (also of nothing)
    that another operator approves with `quarantine approve`; then its new traffic is no
    longer quarantined (the holds stay)."""
    principal = _operator(operator)
    with _exchange(store) as ex:
        state = ex.partner_states().get(partner)
        if state is not None and state.state == "isolated":
            raise _fail(
                f"{partner} is isolated: let it return first "
                f"(`isolation return {partner} --reason … --as NAME`)"
            )
        if state is not None and state.state == "online":
            raise _fail(f"{partner} is already online")
        release, check = ex.request_release(principal=principal, partner=partner, reason=reason)
        _print_check(check)
        out.print(
            f"release {release.id} asked by {release.requested_by} for {release.messages} "
            f"message{'' if release.messages == 1 else 's'}; {partner} comes online when another "
            f"operator approves it with `quarantine approve {release.id} --as NAME`",
            highlight=False,
        )


def _states_table(records: list[PartnerStateRecord], title: str) -> Table:
    table = Table("partner", "state", "since (UTC)", "by", "why", title=title)
    for r in records:
        table.add_row(r.partner, r.state, _when(r.changed_at), r.changed_by, r.reason)
    return table


@partner_state_app.command("states")
def state_list(store: StoreOpt = None) -> None:
    """Every partner's state."""
    with _exchange(store) as ex:
        out.print(_states_table(list(ex.partner_states().values()), "partner states"))


@partner_state_app.command("history")
def state_history(
    partner: Annotated[str | None, typer.Argument(help="Only this partner")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many")] = 100,
    store: StoreOpt = None,
) -> None:
    """Every change of a partner's state, newest first: who, when and why."""
    with _exchange(store) as ex:
        records = ex.partner_history(partner=partner, limit=limit)
        out.print(_states_table(records, "partner state changes"))


# -- emergency routes ------------------------------------------------------------------------


def _route_line(r: RouteRecord) -> str:
    return f"route {r.id}: {r.type} {r.sender} → {r.receiver} while {r.around} is dark"


@route_app.command("open")
def route_open(
    type: Annotated[str, typer.Option("--type", help="The message type to send along")],
    sender: Annotated[str, typer.Option("--from", help="Its sender")],
    around: Annotated[str, typer.Option("--around", help="The partner that is dark")],
    receiver: Annotated[str, typer.Option("--to", help="The extra receiver")],
    superseded_by: Annotated[
        str,
        typer.Option("--superseded-by", help="The dark partner's type that later supersedes it"),
    ],
    reason: ReasonOpt,
    operator: AsOpt,
    store: StoreOpt = None,
) -> None:
    """Open an emergency route around a dark partner."""
    principal = _operator(operator)
    with _exchange(store) as ex:
        record = ex.open_route(
            principal=principal,
            type=type,
            sender=sender,
            around=around,
            receiver=receiver,
            superseded_by=superseded_by,
            reason=reason,
        )
        out.print(f"opened {_route_line(record)}", highlight=False)


@route_app.command("close")
def route_close(
    route_id: Annotated[int, typer.Argument(help="The route's id")],
    reason: ReasonOpt,
    operator: AsOpt,
    store: StoreOpt = None,
) -> None:
    """Close an emergency route."""
    principal = _operator(operator)
    with _exchange(store) as ex:
        record = ex.close_route(principal=principal, route_id=route_id, reason=reason)
        out.print(f"closed {_route_line(record)}", highlight=False)


@route_app.command("list")
def route_list(store: StoreOpt = None) -> None:
    """Emergency routes, open and closed."""
    with _exchange(store) as ex:
        table = Table(
            "id",
            "type",
            "from → to",
            "around",
            "superseded by",
            "opened",
            "why opened",
            "closed",
            "why closed",
        )
        for r in ex.routes():
            table.add_row(
                str(r.id),
                r.type,
                f"{r.sender} → {r.receiver}",
                r.around,
                r.superseded_by,
                f"{_when(r.opened_at)} {r.opened_by}",
                r.reason,
                f"{_when(r.closed_at)} {r.closed_by or ''}".strip(),
                r.closed_reason or "",
            )
        out.print(table)


# -- quarantine ------------------------------------------------------------------------------


@quarantine_app.command("list")
def quarantine_list(
    partner: Annotated[str | None, typer.Option("--partner", help="Only this sender")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many")] = 100,
    who: ReaderOpt = None,
    store: StoreOpt = None,
) -> None:
    """Counts per sender and the waiting messages (never their data); the read is audited."""
    principal = reader(who)
    with _exchange(store) as ex:
        messages = ex.quarantined(principal=principal, partner=partner, limit=limit)
        counts = Table("sender", "waiting", "released", title="quarantine")
        for sender, (waiting, released) in sorted(ex.quarantine_counts().items()):
            if partner is None or sender == partner:
                counts.add_row(sender, str(waiting), str(released))
        table = Table("position", "sender", "received (UTC)")
        table.add_column("type", overflow="fold")
        table.add_column("id", overflow="fold")
        for m in messages:
            table.add_row(str(m.position), m.sender, _when(m.received_at), m.type, m.id)
        out.print(counts, table)


def _print_check(check: QuarantineCheck) -> None:
    out.print(
        f"{check.partner}: {check.messages} messages, {check.schema_failures} schema failures, "
        f"{check.key_conflicts} key conflicts, {check.paper_conflicts} against paper work, "
        f"{check.other_conflicts} against other partners, {check.repeats} repeats, "
        f"{check.supersessions} supersessions",
        highlight=False,
    )
    for finding in check.findings:
        out.print(f"  finding: {finding}", highlight=False, markup=False)
    out.print("clean" if check.clean else f"{len(check.findings)} finding(s)")


@quarantine_app.command("check")
def quarantine_check(
    partner: PartnerArg, expected: ExpectedOpt = None, store: StoreOpt = None
) -> None:
    """Check a partner's quarantine: schemas, sequences, business keys, volume."""
    with _exchange(store) as ex:
        _print_check(ex.check_quarantine(partner=partner, expected=expected))


@quarantine_app.command("request")
def quarantine_request(
    partner: PartnerArg,
    reason: ReasonOpt,
    operator: AsOpt,
    expected: ExpectedOpt = None,
    store: StoreOpt = None,
) -> None:
    """Check the quarantine and ask for its release; another operator approves."""
    principal = _operator(operator)
    with _exchange(store) as ex:
        release, check = ex.request_release(
            principal=principal, partner=partner, reason=reason, expected=expected
        )
        _print_check(check)
        out.print(
            f"release {release.id} asked by {release.requested_by} for {release.messages} "
            f"message{'' if release.messages == 1 else 's'}; another operator approves it with "
            f"`quarantine approve {release.id}`",
            highlight=False,
        )


@quarantine_app.command("approve")
def quarantine_approve(
    release_id: Annotated[int, typer.Argument(help="The release's id")],
    operator: AsOpt,
    store: StoreOpt = None,
) -> None:
    """Approve a release asked for by another operator: its messages flow."""
    principal = _operator(operator)
    with _exchange(store) as ex:
        approval = ex.approve_release(principal=principal, release_id=release_id)
        release = approval.release
        out.print(
            f"release {release.id} of {release.partner} approved by {release.approved_by}",
            highlight=False,
        )
        if approval.note is not None:
            out.print(f"note: {approval.note}", style="yellow", highlight=False)
        findings = _stored_findings(release.checks)
        out.print(
            f"the check {release.requested_by} saw when asking: "
            + (f"{len(findings)} finding(s)" if findings else "clean"),
            highlight=False,
            markup=False,
        )
        for finding in findings:
            out.print(f"  finding: {finding}", highlight=False, markup=False)


def _stored_findings(checks: str) -> list[str]:
    """The findings of the check stored with a release."""
    return stored_check(checks)[0]


def _releases_table(records: list[QuarantineRelease]) -> Table:
    table = Table("id", "partner", "messages", "findings", "asked", "approved", "why")
    for r in records:
        table.add_row(
            str(r.id),
            r.partner,
            str(r.messages),
            str(len(_stored_findings(r.checks))),
            f"{_when(r.requested_at)} {r.requested_by}",
            f"{_when(r.approved_at)} {r.approved_by or ''}".strip(),
            r.reason,
        )
    return table


@quarantine_app.command("releases")
def quarantine_releases(
    partner: Annotated[str | None, typer.Option("--partner", help="Only this partner")] = None,
    store: StoreOpt = None,
) -> None:
    """Releases asked for and approved."""
    with _exchange(store) as ex:
        out.print(_releases_table(ex.releases(partner=partner)))
