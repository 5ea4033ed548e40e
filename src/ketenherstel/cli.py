"""The command line. Thin: every command calls the packages or the HTTP API.

Local commands (init, partner, token, channel, serve, chain, demo) open the store named by
--store or KETENHERSTEL_STORE directly, as the operator on this machine. Partner commands
(send, pull, ack, nack, trail) talk to a running exchange over HTTP with a bearer token.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ketenherstel import __version__
from ketenherstel.chain.utf8 import not_utf8
from ketenherstel.cli_common import (
    DEMO_STORE,
    HTTP_DEMO_STORE,
    AsOpt,
    ReaderOpt,
    fail,
    out_of_range,
    read_input,
    readable_input,
    reader,
    require_store,
    writable_folder,
    writable_output,
)
from ketenherstel.cli_common import operator as _operator
from ketenherstel.cli_gateway import gateway_app
from ketenherstel.cli_isolation import partner_state_app, quarantine_app, route_app
from ketenherstel.cli_manual import manual_app, procedures_app
from ketenherstel.cli_picture import briefing_app, picture_app
from ketenherstel.cli_reconcile import reconcile_app
from ketenherstel.cli_recovery import scenario_app
from ketenherstel.cli_registry import registry_app
from ketenherstel.documents import orjson_duplicates
from ketenherstel.exchange.errors import ExchangeError, NotFound
from ketenherstel.exchange.isolation import rate_problem
from ketenherstel.golive.cli import app as plan_app
from ketenherstel.outbox.cli import app as outbox_app
from ketenherstel.terminal import SafeConsole, whole_columns

if TYPE_CHECKING:
    from ketenherstel.bootstrap import Runtime

app = typer.Typer(
    help="Ketenherstel: keep the criminal justice chain whole when one partner goes dark.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
partner_app = typer.Typer(help="Register chain partners with the exchange.", no_args_is_help=True)
token_app = typer.Typer(help="Create, list, rotate and revoke bearer tokens.", no_args_is_help=True)
channel_app = typer.Typer(help="Hold or open delivery channels.", no_args_is_help=True)
chain_app = typer.Typer(help="Show and check the chain model.", no_args_is_help=True)
app.add_typer(partner_app, name="partner")
app.add_typer(token_app, name="token")
app.add_typer(channel_app, name="channel")
app.add_typer(chain_app, name="chain")
app.add_typer(manual_app, name="manual")
app.add_typer(procedures_app, name="procedure")
app.add_typer(outbox_app, name="outbox")
app.add_typer(plan_app, name="plan")
app.add_typer(partner_state_app, name="isolation")
app.add_typer(route_app, name="route")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(scenario_app, name="scenario")
app.add_typer(registry_app, name="registry")
app.add_typer(picture_app, name="picture")
app.add_typer(briefing_app, name="briefing")
app.add_typer(reconcile_app, name="reconcile")
app.add_typer(gateway_app, name="gateway")

out = SafeConsole(markup=False)  # what it prints comes from partners and the store
story = SafeConsole()  # the demos' own story, styled with markup (no partner's text in it)
err = SafeConsole(stderr=True)

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="sqlite:///path.db, a file path or postgresql://… (default: KETENHERSTEL_STORE "
        "or sqlite:///var/ketenherstel.db)",
    ),
]
UrlOpt = Annotated[
    str,
    typer.Option("--url", envvar="KETENHERSTEL_URL", help="The exchange's base URL"),
]
TokenOpt = Annotated[
    str,
    typer.Option("--token", envvar="KETENHERSTEL_TOKEN", help="Your bearer token"),
]


@contextlib.contextmanager
def runtime(store: str | None, *, create: bool = False) -> Iterator[Any]:
    """The runtime on the local store; ``create``: make the store if it does not exist (only
    `init` does; elsewhere a missing store is an error)."""
    from ketenherstel.bootstrap import bootstrap
    from ketenherstel.chain import ChainError
    from ketenherstel.settings import Settings
    from ketenherstel.store import StoreError

    require_store(store, create=create)
    try:
        rt = bootstrap(Settings.from_env(store_url=store))
    except (ChainError, StoreError, ValueError, OSError) as exc:
        raise fail(str(exc)) from None
    try:
        yield rt
    except ExchangeError as exc:
        # Exit codes as cli_common.fail says: 1 for something that does not exist (a
        # credential id), 2 for bad input or a change its state does not allow.
        raise fail(_describe(exc), 1 if isinstance(exc, NotFound) else 2) from None
    except OverflowError as exc:  # an id or count past what the store holds: nothing changed
        raise fail(out_of_range(exc)) from None
    finally:
        rt.close()


def _describe(exc: ExchangeError) -> str:
    lines = [exc.detail]
    for p in exc.problems[:30]:
        where = f"event {p.index} " if p.index is not None else ""
        lines.append(f"  {where}{p.field or '(event)'}: {p.reason}")
    return "\n".join(lines)


def version_callback(value: bool) -> None:
    if value:
        out.print(f"ketenherstel {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Print the version"
        ),
    ] = False,
) -> None:
    """Ketenherstel: keep the criminal justice chain whole when one partner goes dark."""


# -- setting up ----------------------------------------------------------------------------


@app.command()
def init(
    store: StoreOpt = None,
    partners: Annotated[
        bool, typer.Option(help="Register every partner of the chain model")
    ] = True,
    operator: Annotated[str, typer.Option(help="Name of the first operator")] = "operator",
) -> None:
    """Create (or migrate) the store, register the chain's partners, print an operator token.

    The first operator (--operator) is who did it, in the audit log."""
    principal = _operator(operator, blank="--operator names the first operator")
    with runtime(store, create=True) as rt:
        registered = {p.key for p in rt.exchange.partners()}
        if partners:
            for p in rt.chain.partners:
                if p.key not in registered:
                    rt.exchange.register_partner(principal=principal, key=p.key)
        token, record = rt.exchange.create_token(
            principal=principal, role="operator", person=principal.name, label="init"
        )
        out.print(f"store ready: {rt.settings.store_url}")
        out.print(f"partners registered: {len(rt.exchange.partners())}")
        out.print(f"operator token for {principal.name} ({record.id}), shown once:")
        out.print(token, highlight=False, soft_wrap=True)


@app.command()
def serve(
    store: StoreOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on")] = 8000,
    tls_cert: Annotated[
        Path | None, typer.Option(help="Server certificate (PEM) for HTTPS")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="Server key (PEM)")] = None,
    tls_ca: Annotated[
        Path | None, typer.Option(help="CA bundle (PEM) for client certificates: enables mTLS")
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /v1/openapi.json, docs at /v1/docs)."""
    from ketenherstel.web.server import check_port, check_tls, prepared

    if (tls_cert is None) != (tls_key is None):
        raise fail("--tls-cert and --tls-key go together")
    if tls_ca is not None and tls_cert is None:
        raise fail("--tls-ca (client certificates) needs --tls-cert and --tls-key")
    for option, path in (("--tls-cert", tls_cert), ("--tls-key", tls_key), ("--tls-ca", tls_ca)):
        if path is not None:
            readable_input(path, option)
    try:
        if tls_cert is not None and tls_key is not None:
            check_tls(tls_cert, tls_key, tls_ca)
        check_port(host, port)  # before anything is opened or announced
    except ValueError as exc:
        raise fail(str(exc)) from None
    with runtime(store) as rt:
        from ketenherstel.picture.db import PictureDbError

        try:  # the app opens the picture's file: one that is none is said here, plainly
            server = prepared(
                rt, host=host, port=port, certfile=tls_cert, keyfile=tls_key, ca_certs=tls_ca
            )
        except (OSError, PictureDbError) as exc:
            raise fail(f"cannot open the picture's file: {exc}") from None
        scheme = "https" if tls_cert else "http"
        mtls = " (client certificates required)" if tls_ca else ""
        err.print(
            f"serving {rt.settings.store_url} at {scheme}://{host}:{port}{mtls}; "
            f"docs at {scheme}://{host}:{port}/v1/docs; Ctrl-C stops",
            highlight=False,
        )
        server.run()


@app.command()
def openapi(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the document")] = Path(
        "build/openapi.json"
    ),
) -> None:
    """Write the OpenAPI document the server publishes at /v1/openapi.json."""
    from ketenherstel.web.app import create_app

    if out_file.is_dir():
        raise fail(f"--out {out_file}: is a directory; give a file")
    if out_file.parent.is_dir():  # /proc/x, no permission: refused before any work
        writable_output(out_file, "--out")
    else:  # a folder to make; a file in the way (env.sh/x.json): refused
        writable_folder(out_file.parent, f"--out {out_file}")
    with runtime(":memory:") as rt:
        doc = create_app(rt).openapi()
    try:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    except OSError as exc:  # a full disk (/dev/full): found only by writing
        raise fail(f"--out {out_file}: cannot write it ({exc.strerror or exc})", 1) from None
    out.print(f"wrote {out_file}")


# -- partners, tokens, channels -------------------------------------------------------------


@partner_app.command("add")
def partner_add(
    key: Annotated[str, typer.Argument(help="The partner's key in the chain model, e.g. om")],
    oin: Annotated[str | None, typer.Option(help="Its OIN (default: the chain model's)")] = None,
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    *,
    operator: AsOpt,
    store: StoreOpt = None,
) -> None:
    """Register a chain partner with the exchange."""
    principal = _operator(operator)
    with runtime(store) as rt:
        record = rt.exchange.register_partner(principal=principal, key=key, oin=oin, name=name)
        out.print(f"registered {record.key} ({record.name}, OIN {record.oin})")


@partner_app.command("signing-key")
def partner_signing_key(
    key: Annotated[str, typer.Argument(help="The partner")],
    public_key: Annotated[str, typer.Argument(help="As `outbox keygen` printed it (base64)")],
    *,
    operator: AsOpt,
    store: StoreOpt = None,
) -> None:
    """Register the key a partner's edge outbox signs its offline bundles with."""
    principal = _operator(operator)
    with runtime(store) as rt:
        previous = rt.store.partner_keys().get(key)
        text = rt.exchange.register_signing_key(
            principal=principal, partner=key, public_key=public_key
        )
        if previous == text:
            out.print(f"{key} signs bundles with {text} already; nothing changed")
        elif previous is not None:
            out.print(
                f"{key} signs bundles with {text}, which replaces {previous}: bundles the old "
                "key signed are refused from now on"
            )
        else:
            out.print(f"{key} signs bundles with {text}")


@app.command("import-bundle")
def import_bundle(
    file: Annotated[Path, typer.Argument(help="A bundle exported by `outbox export`")],
    *,
    operator: AsOpt,
    store: StoreOpt = None,
) -> None:
    """Import a signed offline bundle (brought by courier): verified, stored once, or refused
    whole with the reason."""
    from ketenherstel.exchange.bundles import MAX_BUNDLE_BYTES

    principal = _operator(operator)
    data = read_input(file, MAX_BUNDLE_BYTES, "a bundle")
    with runtime(store) as rt:
        r = rt.exchange.import_bundle(principal=principal, data=data)
        out.print(
            f"imported {r.source} {r.first_sequence}-{r.last_sequence}: {r.accepted} accepted, "
            f"{r.duplicates} duplicates, {r.quarantined} in quarantine"
        )
        if r.crlf:
            out.print(
                "note: the file's line ends had been changed to CRLF on the way (on Windows, "
                "say); it was read with LF, as it was signed, and its signature holds",
                style="yellow",
                highlight=False,
            )


@partner_app.command("list")
def partner_list(store: StoreOpt = None) -> None:
    """List registered partners."""
    with runtime(store) as rt:
        table = Table("key", "name", "OIN", "webhook")
        for p in rt.exchange.partners():
            table.add_row(p.key, p.name, p.oin, p.webhook_url or "")
        out.print(table)


@token_app.command("create")
def token_create(
    partner: Annotated[str | None, typer.Option(help="A token for this partner")] = None,
    operator: Annotated[
        str | None, typer.Option(help="A token for this operator (a person)")
    ] = None,
    viewer: Annotated[str | None, typer.Option(help="A token for this viewer (a person)")] = None,
    label: Annotated[str, typer.Option(help="What the token is for")] = "",
    *,
    made_by: AsOpt,
    store: StoreOpt = None,
) -> None:
    """Create a bearer token; it is printed once and only its hash is stored. --as (who makes
    it) is kept as the token's maker."""
    given = (("partner", partner), ("operator", operator), ("viewer", viewer))
    chosen = [(r, v) for r, v in given if v is not None]
    if len(chosen) == 1 and not chosen[0][1]:  # it was given, empty: not "give one"
        what = "a partner's key" if chosen[0][0] == "partner" else "a person's name"
        raise fail(f"--{chosen[0][0]}: give {what}, not an empty text")
    if len(chosen) != 1:
        raise fail("give exactly one of --partner KEY, --operator NAME or --viewer NAME")
    role, who = chosen[0]
    principal = _operator(made_by)
    with runtime(store) as rt:
        token, record = rt.exchange.create_token(
            principal=principal,
            role=role,
            partner=who if role == "partner" else None,
            person=who if role != "partner" else None,
            label=label,
        )
        err.print(f"{role} token {record.id} for {who} (shown once):")
        out.print(token, highlight=False, soft_wrap=True)


@token_app.command("list")
def token_list(who: ReaderOpt = None, store: StoreOpt = None) -> None:
    """List credentials (never the tokens themselves); the read is audited."""
    principal = reader(who)
    with runtime(store) as rt:
        table = Table("id", "holder", "role", "label", "made by", "revoked")
        for c in rt.exchange.credentials(principal=principal):
            table.add_row(
                c.id,
                repr(c.principal) if not c.principal.isprintable() else c.principal,
                c.role,
                c.label,
                c.created_by or "(not known)",
                "yes" if c.revoked_at else "",
            )
        out.print(whole_columns(table, "id"))  # what `token revoke` and `rotate` take


@token_app.command("revoke")
def token_revoke(
    credential_id: Annotated[str, typer.Argument(help="The credential id (cred-…)")],
    *,
    operator: AsOpt,
    store: StoreOpt = None,
) -> None:
    """Revoke a token. A running server that checked it in the last 5 seconds may still take
    it until then (`DELETE /v1/credentials/ID` on that server stops it there at once). One
    revoked before stays as it was (nothing changes, nothing is logged again; exit code 0)."""
    from datetime import UTC, datetime

    principal = _operator(operator)
    with runtime(store) as rt:
        revocation = rt.exchange.revoke_token(principal=principal, credential_id=credential_id)
        if revocation.already:
            at = revocation.credential.revoked_at
            when = (
                ""
                if at is None
                else f" on {datetime.fromtimestamp(at, UTC):%Y-%m-%d %H:%M:%S} (UTC)"
            )
            out.print(f"{credential_id} was already revoked{when}; nothing changed")
            return
        out.print(f"revoked {credential_id}")


@token_app.command("rotate")
def token_rotate(
    credential_id: Annotated[str, typer.Argument(help="The credential id (cred-…)")],
    *,
    operator: AsOpt,
    store: StoreOpt = None,
) -> None:
    """Issue a new token for the same holder and revoke the old one."""
    principal = _operator(operator)
    with runtime(store) as rt:
        token, record = rt.exchange.rotate_token(principal=principal, credential_id=credential_id)
        err.print(f"new token {record.id} (shown once); {credential_id} is revoked:")
        out.print(token, highlight=False, soft_wrap=True)


def _set_channel(
    receiver: str,
    sender: str,
    scope: str,
    state: str,
    reason: str,
    rate: float | None,
    operator: str,
    store: str | None,
) -> None:
    principal = _operator(operator)
    with runtime(store) as rt:
        before = rt.exchange.channels()
        record = rt.exchange.set_channel(
            principal=principal,
            receiver=receiver,
            sender=sender,
            scope=scope,
            state=state,
            reason=reason,
            rate=rate,
        )
        limit = f" at {rate:g}/s" if rate else ""
        said = f"channel {sender} → {receiver} [{scope}]: {state}{limit}"
        if record in before:
            said += f", as set already by {record.changed_by} for the same reason; nothing changed"
        out.print(said, highlight=False)
        if state == "open":
            for note in _still_held(rt, receiver, sender, scope):
                out.print(f"note: {note}", style="yellow", highlight=False)
            for note in _dark_partners(rt, receiver, sender):
                out.print(f"note: {note}", style="yellow", highlight=False)


def _dark_partners(rt: Any, receiver: str, sender: str) -> list[str]:
    """What the partner states do to an opened channel (decision 0008): an isolated receiver
    gets nothing, whatever the rules say, until it returns; what an isolated or returning
    sender sends waits in quarantine until a release of it is approved. A returning receiver
    gets what the open channels carry (that is how a go-live wave works): nothing to say."""
    states = rt.exchange.partner_states()
    notes = []
    to = states.get(receiver)
    if to is not None and to.state == "isolated":
        notes.append(
            f"{receiver} is isolated: nothing flows to it on this channel until it returns "
            f"(`ketenherstel isolation return {receiver} --reason … --as NAME`)"
        )
    by = states.get(sender)
    if by is not None and by.state in ("isolated", "returning"):
        notes.append(
            f"{sender} is {by.state}: what it sends waits in quarantine and flows on this "
            "channel only once one operator asks for a release of it and another approves it "
            f"(`ketenherstel quarantine request {sender} --reason … --as NAME`, then "
            "`quarantine approve ID --as OTHER`)"
        )
    return notes


def _still_held(rt: Any, receiver: str, sender: str, scope: str) -> list[str]:
    """The flows an open rule covers that another rule (as specific, or more) still holds,
    named by that rule: `channel open justid` leaves `om → *` holding om's traffic to justid."""
    from ketenherstel.store.rules import Rule, RuleSet

    rules = RuleSet(
        tuple(
            Rule(c.receiver, c.sender, c.scope, c.state == "held", c.rate)
            for c in rt.exchange.channels()
        )
    )
    opened = Rule(receiver, sender, scope, held=False)
    holding: dict[tuple[str, str, str], set[str]] = {}
    for mt in rt.chain.message_types:
        for s in mt.senders:
            for r in mt.receivers:
                if r == s or not opened.matches(r, s, mt.type, mt.process):
                    continue
                rule = rules.deciding(r, s, mt.type, mt.process)
                if rule is not None and rule.held and rule.key != opened.key:
                    holding.setdefault(rule.key, set()).add(f"{s} → {r}")
    return [
        f"{', '.join(sorted(flows)[:5])}{' …' if len(flows) > 5 else ''} "
        f"{'stays' if len(flows) == 1 else 'stay'} held by the rule "
        f"{rule_sender} → {rule_receiver} [{rule_scope}] (`channel open` it, or a narrower rule)"
        for (rule_receiver, rule_sender, rule_scope), flows in sorted(holding.items())
    ]


ScopeOpt = Annotated[str, typer.Option(help="'*' (everything), a message type, or process:<key>")]
ReasonOpt = Annotated[str, typer.Option(help="Why (kept on the channel's record)")]


@channel_app.command("hold")
def channel_hold(
    receiver: Annotated[str, typer.Argument(help="Partner whose deliveries are held ('*' = all)")],
    reason: ReasonOpt,
    operator: AsOpt,
    sender: Annotated[str, typer.Option("--from", help="Only from this sender ('*' = all)")] = "*",
    scope: ScopeOpt = "*",
    store: StoreOpt = None,
) -> None:
    """Hold a channel: the exchange keeps accepting and storing, but delivers nothing on it."""
    _set_channel(receiver, sender, scope, "held", reason, None, operator, store)


@channel_app.command("list")
def channel_list(
    receiver: Annotated[str | None, typer.Argument(help="Only channels to this partner")] = None,
    store: StoreOpt = None,
) -> None:
    """The channel rules in force now (the most specific rule for a message decides)."""
    from datetime import UTC, datetime

    with runtime(store) as rt:
        rules = rt.exchange.channels(receiver)
        table = Table()
        for column in ("sender → receiver", "scope", "state", "rate"):
            table.add_column(column, no_wrap=True)
        for column in ("since (UTC)", "by", "why"):
            table.add_column(column)
        for c in sorted(rules, key=lambda c: (c.receiver, c.sender, c.scope)):
            table.add_row(
                f"{c.sender} → {c.receiver}",
                c.scope,
                c.state,
                f"{c.rate:g}/s" if c.rate else "",
                datetime.fromtimestamp(c.changed_at, UTC).strftime("%Y-%m-%d %H:%M:%S"),
                c.changed_by,
                c.reason,
            )
        out.print(table if rules else "no channel rules: every channel is open")


@channel_app.command("history")
def channel_history(
    receiver: Annotated[str | None, typer.Argument(help="Only channels to this partner")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many")] = 100,
    store: StoreOpt = None,
) -> None:
    """Every change of channel state, newest first: who, when and why."""
    from datetime import UTC, datetime

    with runtime(store) as rt:
        table = Table("when (UTC)", "sender → receiver", "scope", "state", "rate", "by", "why")
        for c in rt.exchange.channel_history(receiver=receiver, limit=limit):
            when = datetime.fromtimestamp(c.changed_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
            table.add_row(
                when,
                f"{c.sender} → {c.receiver}",
                c.scope,
                c.state,
                f"{c.rate:g}/s" if c.rate else "",
                c.changed_by,
                c.reason,
            )
        out.print(table)


def _rate(text: str) -> float:
    """--rate as the exchange takes it, refused in its words with the text as given (Typer's
    own check said only 'greater than or equal to 0.001', also of nan)."""
    try:
        rate = float(text)
    except ValueError:
        rate = math.nan  # not a number at all: refused below, quoting the text
    problem = rate_problem(rate, text)
    if problem is not None:
        raise typer.BadParameter(problem)
    return rate


@channel_app.command("open")
def channel_open(
    receiver: Annotated[str, typer.Argument(help="Partner whose deliveries resume ('*' = all)")],
    reason: ReasonOpt,
    operator: AsOpt,
    sender: Annotated[str, typer.Option("--from", help="Only from this sender ('*' = all)")] = "*",
    scope: ScopeOpt = "*",
    rate: Annotated[
        float | None,
        typer.Option(parser=_rate, metavar="<float>", help="At most this many messages per second"),
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Open a channel, optionally with a rate: its backlog drains in priority order."""
    _set_channel(receiver, sender, scope, "open", reason, rate, operator, store)


# -- the chain model --------------------------------------------------------------------------


@chain_app.command("show")
def chain_show(
    file: Annotated[
        Path | None, typer.Argument(help="A chain file (default: the built-in)")
    ] = None,
    mermaid: Annotated[bool, typer.Option(help="Print only the Mermaid flow diagram")] = False,
) -> None:
    """Render the chain: partners, processes in procedure order, message types, a flow diagram."""
    from ketenherstel.chain import ChainFileError, load_chain
    from ketenherstel.chain.diagram import mermaid as to_mermaid

    try:
        chain = load_chain(file)
    except ChainFileError as exc:
        raise fail(str(exc)) from None
    if mermaid:
        out.print(to_mermaid(chain), highlight=False, markup=False)
        return
    partners = Table("key", "name", "OIN", "systems", title=f"Partners (chain {chain.version})")
    for p in chain.partners:
        partners.add_row(p.key, p.name, p.oin, ", ".join(p.systems))
    # The key is what `--scope process:KEY`, `--process` and plans take.
    processes = Table("phase", "key", "process", "deadline", title="Processes in procedure order")
    for pr in chain.processes_in_order():
        deadline = f"{pr.deadline.duration} ({pr.deadline.text})" if pr.deadline else ""
        processes.add_row(pr.phase.label, pr.key, pr.name, deadline)
    types = Table(
        "type",
        "name",
        "from",
        "to",
        "business key",
        title=f"{len(chain.message_types)} message types",
    )
    for m in chain.message_types:
        types.add_row(
            m.type, m.name, ", ".join(m.senders), ", ".join(m.receivers), ", ".join(m.business_key)
        )
    out.print(partners, processes, types)
    out.print("\nFlow diagram (Mermaid)", style="bold")
    out.print(to_mermaid(chain), highlight=False, markup=False)


@chain_app.command("check")
def chain_check(file: Annotated[Path, typer.Argument(help="The chain file to check")]) -> None:
    """Report every error in a chain file with its location; exit 1 if there are any."""
    from ketenherstel.chain import check_chain_file

    readable_input(file)
    problems = check_chain_file(file)
    for problem in problems:
        out.print(f"{problem.location}: {problem.message}", highlight=False, markup=False)
    if problems:
        raise fail(f"{len(problems)} problem(s) in {file}", code=1)
    out.print(f"{file}: ok")


# -- partner traffic over HTTP -----------------------------------------------------------------


@contextlib.contextmanager
def client(url: str, token: str) -> Iterator[Any]:
    import httpx

    from ketenherstel.client import ClientError, ExchangeClient, bad_url

    if not token:
        raise fail("give --token or set KETENHERSTEL_TOKEN")
    why = bad_url(url)
    if why is not None:
        raise fail(why)
    with ExchangeClient(url, token) as c:
        try:
            yield c
        except ClientError as exc:
            raise fail(str(exc)) from None
        except httpx.HTTPError as exc:
            raise fail(f"cannot reach the exchange at {url}: {exc}") from None


_LINES_SUFFIXES = (".jsonl", ".ndjson")


def _read_events(file: Path) -> tuple[list[Any], list[str]]:
    """The file's events, and where each one is in it (``line 12`` in JSON Lines, ``event 3``
    in a JSON array), for messages a user can find them by. A key given twice in one object
    refuses the file (orjson would keep the last value), with or without ``--check``."""
    readable_input(file)
    text = file.read_bytes()
    encoding = not_utf8(text)  # orjson's own words named a surrogate at column 1
    if encoding is not None:
        raise fail(f"{file}: {encoding.message}; nothing was sent")
    twice: list[str] = []
    if file.suffix.lower() in _LINES_SUFFIXES:
        events: list[Any] = []
        where: list[str] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                events.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                raise fail(f"{file} line {number} is not valid JSON: {exc}") from None
            twice += [f"line {number}: {d}" for d in orjson_duplicates(line, events[-1])]
            where.append(f"line {number}")
        _refuse_twice(file, twice)
        return events, where
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise fail(f"{file} is not valid JSON: {exc}") from None
    for d in orjson_duplicates(text, doc):
        twice.append(str(d) if d.item is None else f"event {d.item + 1}: {d.within}")
    _refuse_twice(file, twice)
    events = doc if isinstance(doc, list) else [doc]
    return events, [f"event {i}" for i in range(1, len(events) + 1)]


def _refuse_twice(file: Path, twice: list[str]) -> None:
    if twice:
        more = [f"  … and {len(twice) - 30} more"] if len(twice) > 30 else []
        head = f"{file} gives a key twice in one object (give each key once); nothing was sent:"
        raise fail("\n".join([head, *(f"  {t}" for t in twice[:30]), *more]))


def _problem_lines(problems: Sequence[Any], where: Sequence[str], offset: int = 0) -> list[str]:
    """One line per problem (at most 30), each at its place in the file. A problem is a
    ``Problem`` or the API's problem dict; its index counts from ``offset`` in the file."""
    lines = []
    for p in problems[:30]:
        index, field, reason = (
            (p.get("index"), p.get("field"), p.get("reason"))
            if isinstance(p, dict)
            else (p.index, p.field, p.reason)
        )
        at = offset + index if isinstance(index, int) else None
        place = f"{where[at]} " if at is not None and 0 <= at < len(where) else ""
        lines.append(f"  {place}{field or '(event)'}: {reason}")
    if len(problems) > 30:
        lines.append(f"  … and {len(problems) - 30} more")
    return lines


def _check_file(file: Path, events: list[Any], where: list[str]) -> None:
    """Every check that can be made here, so that a bad file sends nothing: the envelope and
    the data schema (against the chain model in KETENHERSTEL_CHAIN or the built-in one), and
    that one partner sends them all: each source carries the same partner's OIN, and the
    chain lets that partner send each type (the exchange refuses anything else, but only in
    the batch that holds it, after the batches before it were stored)."""
    from ketenherstel.chain import ChainError, load_chain
    from ketenherstel.chain.model import parse_source_urn
    from ketenherstel.exchange.envelope import Limits, check_events, sender_problems
    from ketenherstel.exchange.errors import Problem
    from ketenherstel.settings import Settings

    try:
        settings = Settings.from_env()
        chain = load_chain(Path(settings.chain_file) if settings.chain_file else None)
    except (ChainError, ValueError) as exc:
        raise fail(str(exc)) from None
    envelopes, problems = check_events(
        events,
        limits=Limits(max_batch_events=max(len(events), 1)),
        known_type=lambda t: chain.message_type(t) is not None,
        validate_data=chain.validate_data,
    )
    first = parse_source_urn(envelopes[0].source) if envelopes and not problems else None
    if first is not None:
        sender = chain.partner_by_oin(first[0])
        if sender is None:
            reason = f"OIN {first[0]} is no partner's in the chain model"
            problems.append(Problem(0, "source", reason))
        else:
            problems += sender_problems(
                envelopes,
                key=sender.key,
                oin=sender.oin,
                may_send=chain.may_send,
                who=f"the file's first event is {sender.key}'s (OIN {sender.oin}) and a file "
                "is sent by one partner",
                systems=sender.systems,
            )
    if problems:
        lines = [f"{len(problems)} problem(s) in {file}; nothing was sent:"]
        raise fail("\n".join(lines + _problem_lines(problems, where)))


@app.command()
def send(
    file: Annotated[Path, typer.Argument(help="Events as JSON (one or an array) or JSON Lines")],
    url: UrlOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
    batch_size: Annotated[int, typer.Option(min=1, max=10000, help="Events per request")] = 1000,
    check: Annotated[
        bool, typer.Option(help="Check every event against the chain model before sending any")
    ] = True,
) -> None:
    """Submit CloudEvents from a file (JSON, or JSON Lines: .jsonl or .ndjson), in batches,
    with a progress bar.

    The whole file is checked first (envelope and data schema against the chain model in
    KETENHERSTEL_CHAIN or the built-in one, and one sender for all), so a bad file sends
    nothing. Should the exchange still refuse a batch, the error says how many events before
    it were stored and where to send from again (sending a stored event again is harmless: it
    is a duplicate).
    """
    from ketenherstel.client import ClientError

    events, where = _read_events(file)
    if check:
        _check_file(file, events, where)
    accepted = duplicates = 0
    with client(url, token) as c, _progress() as progress:
        task = progress.add_task("sending", total=len(events))
        for start in range(0, len(events), batch_size):
            chunk = events[start : start + batch_size]
            try:
                result = c.submit(chunk)
            except ClientError as exc:
                raise fail(_refused_batch(exc, file, where, start, len(chunk))) from None
            accepted += result["accepted"]
            duplicates += result["duplicates"]
            for gap in result["sequenceGaps"]:
                ranges = ", ".join(
                    str(r["first"]) if r["first"] == r["last"] else f"{r['first']}-{r['last']}"
                    for r in gap["missing"]
                )
                err.print(f"sequence gap from {gap['source']}: missing {ranges}")
            progress.advance(task, len(chunk))
    out.print(f"{accepted} accepted, {duplicates} duplicates")


def _refused_batch(exc: Any, file: Path, where: list[str], start: int, size: int) -> str:
    """The exchange's refusal of the batch of ``size`` events from index ``start``, each
    problem at its place in the file, and what of the file was stored before it."""
    problem = exc.problem
    lines = [
        f"{exc.status} {problem.get('title', '')}: {problem.get('detail', '')}",
        *_problem_lines(problem.get("problems", []), where, offset=start),
    ]
    span = f"{where[start]} to {where[start + size - 1]}"
    if start == 0:
        lines.append(f"nothing of {file} was stored (the refused batch was {span})")
    else:
        lines.append(
            f"the {start} events before this batch ({where[0]} to {where[start - 1]}) were "
            f"stored; this batch ({span}) and the rest were not: send {file} again once it is "
            "put right (what was stored counts as duplicates)"
        )
    return "\n".join(lines)


@app.command()
def pull(
    url: UrlOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many")] = 100,
    wait: Annotated[float, typer.Option(min=0, max=30, help="Long-poll seconds")] = 0,
    visibility: Annotated[float | None, typer.Option(min=1, max=3600, help="Lease seconds")] = None,
    ack: Annotated[bool, typer.Option(help="Acknowledge what was pulled at once")] = False,
) -> None:
    """Lease your next deliveries and print them as JSON Lines."""
    with client(url, token) as c:
        deliveries = c.pull(limit=limit, wait=wait, visibility=visibility)
        try:
            for d in deliveries:
                sys.stdout.write(orjson.dumps(d).decode() + "\n")
            sys.stdout.flush()
        except OSError as exc:  # a full disk, a closed pipe: nothing is acknowledged then
            raise fail(
                f"cannot write the {len(deliveries)} deliveries ({exc.strerror or exc}); none "
                "was acknowledged: they are delivered again when their lease runs out",
                1,
            ) from None
        if ack and deliveries:
            c.ack([d["deliveryId"] for d in deliveries])
    err.print(f"{len(deliveries)} deliveries{' (acked)' if ack and deliveries else ''}")


@app.command("ack")
def ack_cmd(
    delivery_ids: Annotated[list[int], typer.Argument(help="Delivery ids to acknowledge")],
    url: UrlOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
) -> None:
    """Acknowledge deliveries as processed. Exit code 1 when one of them could not be: not
    yours or no such delivery, never handed out, or dead-lettered (already acked is fine)."""
    with client(url, token) as c:
        results = c.ack(delivery_ids)
    for r in results:
        out.print(f"{r['deliveryId']}: {r['status']}")
    refused = [r for r in results if r["status"] not in ("acked", "already-acked")]
    if refused:
        raise fail(f"{len(refused)} of {len(results)} not acknowledged (see above)", 1)


@app.command()
def nack(
    delivery_id: Annotated[int, typer.Argument(help="The delivery that failed")],
    reason: Annotated[str, typer.Option(help="Why it could not be processed")],
    url: UrlOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
) -> None:
    """Report a delivery as failed; it is retried with backoff, then dead-lettered."""
    from ketenherstel.exchange.service import nack_reason_problem

    # The exchange's rule, here first: a byte that is not UTF-8 in argv (a lone surrogate)
    # could not even be sent.
    why = nack_reason_problem(reason)
    if why is not None:
        raise fail(f"--reason: {why}")
    with client(url, token) as c:
        r = c.nack(delivery_id, reason)
    if r["status"] == "dead":  # no retry: it printed `dead (retry at None)`
        attempts = r.get("attempts")  # an older exchange does not say
        after = f" after {attempts} attempt{'' if attempts == 1 else 's'}" if attempts else ""
        out.print(f"{r['deliveryId']}: dead-lettered{after}; it is not retried", highlight=False)
    else:
        out.print(f"{r['deliveryId']}: to be retried at {r['retryAt']}", highlight=False)


@app.command()
def trail(
    source: Annotated[str, typer.Argument(help="The event's source URN")],
    id: Annotated[str, typer.Argument(help="The event's id")],
    url: UrlOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
) -> None:
    """Show a message's trail: accepted, routed, leases, acks, failures, re-sends."""
    with client(url, token) as c:
        t = c.trail(source, id)
    table = Table(
        "at", "event", "delivery", "receiver", "actor", "detail", title=f"{t['type']} {id}"
    )
    for e in t["trail"]:
        table.add_row(
            e["at"],
            e["event"],
            str(e["deliveryId"] or ""),
            e["receiver"] or "",
            e["actor"],
            e["detail"],
        )
    out.print(whole_columns(table, "at", "delivery"))
    if t.get("answeredAsDuplicate"):
        out.print(
            f"{id} was answered as a duplicate by business key (the same fact under another "
            f"id): this is the trail of {t['source']} {t['id']}, the message it repeats",
            highlight=False,
        )


@app.command()
def purge(
    older_than_days: Annotated[
        float, typer.Option(help="Purge what was acked by every receiver and is older than this")
    ],
    dry_run: Annotated[bool, typer.Option(help="Only count what would be purged")] = False,
    *,
    operator: AsOpt,
    store: StoreOpt = None,
) -> None:
    """Apply retention: acked messages lose their body; a tombstone keeps duplicates known.

    Nothing that is still waiting for any receiver is ever purged.
    """
    principal = _operator(operator)
    with runtime(store) as rt:
        result = rt.exchange.purge(
            principal=principal, older_than_days=older_than_days, dry_run=dry_run
        )
        verb = "would purge" if dry_run else "purged"
        out.print(f"{verb} {result.messages} messages")


@app.command()
def simulate(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the JSON Lines")],
    cases: Annotated[int, typer.Option(min=1, max=1_000_000, help="Simulated criminal cases")] = 20,
    sender: Annotated[
        str | None, typer.Option(help="Only the events this partner sends (e.g. politie)")
    ] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same events")] = 2025,
) -> None:
    """Write simulated chain events (CloudEvents, pseudonymous) as JSON Lines, ready for `send`."""
    from datetime import UTC, datetime

    from ketenherstel.chain import load_chain
    from ketenherstel.sim import generate_events

    writable_output(out_file, "--out")  # a directory, or a folder that is not there: refused
    chain = load_chain()
    if sender is not None and all(p.key != sender for p in chain.partners):
        raise fail(f"{sender!r} is not a partner in the chain model")
    start = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
    written = 0
    try:
        with out_file.open("wb") as fh:
            for sim in generate_events(chain, seed=seed, cases=cases, start=start):
                if sender is None or sim.sender == sender:
                    fh.write(orjson.dumps(sim.event) + b"\n")
                    written += 1
    except OSError as exc:  # a full disk (/dev/full): found only by writing
        raise fail(f"--out {out_file}: cannot write it ({exc.strerror or exc})", 1) from None
    out.print(f"wrote {written} events to {out_file}")
    if written == 0:  # `send` and `outbox write` refuse an empty file: say why it is one
        err.print(
            f"note: {sender} sent nothing in {cases} simulated cases (seed {seed}); give more "
            "--cases for events of it",
            highlight=False,
        )


# -- the demo ----------------------------------------------------------------------------------


@app.command()
def demo(
    store: Annotated[
        str, typer.Option(help="Store for the demo (a SQLite file is recreated)")
    ] = DEMO_STORE,
    scale: Annotated[
        float,
        typer.Option(
            min=0.001,
            max=1.0,
            help="Share of the real volumes the scenario file gives (1 = all of them)",
        ),
    ] = 1.0,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where the figures (JSON) and the chart (SVG) go")
    ] = Path("var"),
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Port to serve the result on (default 8000)"),
    ] = None,
    serve: Annotated[bool, typer.Option(help="Keep serving the API after the run")] = True,
) -> None:
    """The main job: the om-2025 scenario through the real exchange on a fresh SQLite file
    (10 weeks of OM isolation, paper work, emergency route, phased go-live), with its story
    and, computed from the store, lost and applied twice."""
    from ketenherstel.recovery.scenario import builtin_scenario_path
    from ketenherstel.store import StoreError
    from ketenherstel.story import demo_settings, fresh_sqlite, run_story

    require_store(store, create=True)  # a file that is no store is refused, untouched
    writable_folder(out_dir, f"--out {out_dir}")  # before the run fills the store
    try:
        fresh_sqlite(store)
        settings = demo_settings(store)
    except (ValueError, OSError) as exc:
        raise fail(str(exc)) from None
    if not store.startswith("postgres"):
        # WAL with synchronous=NORMAL: a crash of the process loses nothing; a power cut may
        # lose the last commits. The demo is no production store.
        settings = dataclasses.replace(settings, synchronous="NORMAL")
    try:
        rt, _ = run_story(
            scenario_path=builtin_scenario_path("om-2025"),
            settings=settings,
            scale=scale,
            console=story,
            out_dir=out_dir,
        )
    except ExchangeError as exc:
        raise fail(_describe(exc)) from None
    except (StoreError, ValueError, OSError) as exc:  # e.g. a PostgreSQL store already used
        raise fail(str(exc)) from None
    try:
        if serve:
            _serve_result(rt, port if port is not None else 8000)
    finally:
        rt.close()


def _serve_result(rt: Runtime, port: int) -> None:
    from ketenherstel.exchange.auth import LOCAL_OPERATOR
    from ketenherstel.web.server import ServerThread

    token, _ = rt.exchange.create_token(
        principal=LOCAL_OPERATOR, role="operator", person="demo-operator", label="demo"
    )
    try:
        server = ServerThread(rt, port=port)
        server.__enter__()
    except RuntimeError as exc:
        raise fail(f"{exc}; try another --port (0 picks a free one)") from None
    try:
        # The picture's first snapshot reads every delivery once: done before the address is
        # shown, so the first page opens at once.
        with out.status("computing the picture's series for the web UI"):
            server.app.state.picture.snapshot()
        out.print(
            f"\nThe picture of the scenario: {server.url}/ui/ (sign in with the token below); "
            f"the public status page: {server.url}/status. The API: {server.url}/v1/docs "
            "(try GET /v1/channels, /v1/partner-states, /v1/quarantine-releases, "
            "/v1/registry/freshness, /v1/registry/rescreen-summary, /v1/reconciliations). "
            "Press Ctrl-C to stop.",
            highlight=False,
        )
        out.print(f"operator token (shown once): {token}", highlight=False)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        out.print("stopped")
    finally:
        server.__exit__(None, None, None)


@app.command("demo-http")
def demo_http(
    store: Annotated[str, typer.Option(help="Store for the demo (recreated)")] = HTTP_DEMO_STORE,
    cases: Annotated[int, typer.Option(min=1, max=100000, help="Simulated criminal cases")] = 30,
    port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help="Port (0: any free port; default 8000, or any with --no-serve)"
        ),
    ] = None,
    serve: Annotated[bool, typer.Option(help="Keep serving the API after the run")] = True,
) -> None:
    """The exchange over HTTP: partners submit, receivers pull and acknowledge, a re-sent
    batch is recognised."""
    from ketenherstel.demo_http import run_http_demo

    require_store(store, create=True)  # a file that is no store is refused, untouched
    try:
        chosen = port if port is not None else (8000 if serve else 0)
        run_http_demo(store_url=store, cases=cases, port=chosen, serve=serve, console=story)
    except ExchangeError as exc:
        raise fail(_describe(exc)) from None
    except RuntimeError as exc:  # the server could not start
        raise fail(f"{exc}; try another --port (0 picks a free one)") from None
    except ValueError as exc:  # a file beside the store that the demo did not make
        raise fail(str(exc)) from None


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    )


BUSY = "the store is busy (another process holds its write lock): try again"


def main() -> None:
    """The command line; a store another process kept locked past the busy timeout (10 s) is
    a one-line error with exit code 1, not a traceback: the command changed nothing."""
    try:
        app()
    except Exception as exc:
        from ketenherstel.store.sqlite import is_busy

        if not is_busy(exc):
            raise
        fail(BUSY, 1)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
