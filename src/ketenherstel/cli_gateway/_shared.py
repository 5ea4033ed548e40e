"""What the ``gateway`` commands share: the console, the ``--register`` and ``--store``
options, who ``--as`` names, the store's audit trail, the register, and where findings are
sent (ECS, CEF) and what the audit trail says of that."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ketenherstel.cli_common import fail
from ketenherstel.gateway.export import SyslogTarget, send_cef, write_ecs
from ketenherstel.gateway.register import Register, kept_name
from ketenherstel.gateway.watch import Finding, GatewayInputError
from ketenherstel.terminal import SafeConsole

if TYPE_CHECKING:
    from ketenherstel.bootstrap import Runtime

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


def _who(actor: str, needs: str) -> str:
    """The name ``--as`` gives, which the store's audit trail records; a blank one, one over
    200 characters or one with a control or invisible character is refused before anything is
    read or written (`register.kept_name`, as the register keeps who decided)."""
    try:
        return kept_name(actor, needed=needs)
    except GatewayInputError as exc:
        raise fail(f"--as: {exc}") from None


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
    same however the path was typed. A file given twice is read once (its findings were
    counted twice); a device or a pipe is refused (a FIFO was waited on for ever)."""
    out: list[Path] = []
    for p in files:
        full = p.resolve()
        if full.exists() and not full.is_file() and not full.is_dir():
            raise fail(f"{p}: is not a regular file (a device or a pipe); give a log file")
        if full not in out:
            out.append(full)
    return out


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
        try:
            with ecs.open("wb") as fh:
                n = write_ecs(findings, fh)
        except OSError as exc:  # a full disk, a folder gone: one line, not a traceback
            raise fail(f"--ecs {ecs}: {exc.strerror or exc}; not written", 1) from None
        out.print(f"wrote {n} findings as ECS to {ecs}")
    if target is not None:
        try:
            n = send_cef(findings, target)
        except GatewayInputError as exc:  # the collector did not take them: said as such
            raise fail(
                f"{exc}: the findings were not sent; they are in the register, and the other "
                "outputs asked for were written",
                1,
            ) from None
        out.print(f"sent {n} findings as CEF to {target.host}:{target.port}/{target.protocol}")
