"""``gateway triage``: what a responder collected from an appliance (its file listing, files,
configuration, crontabs and NCSC-NL's check script output) checked; the findings go into the
register as a scan's do."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ketenherstel.cli_common import fail, local_runtime, writable_output
from ketenherstel.cli_gateway._shared import (
    RegisterOpt,
    StoreOpt,
    _audit,
    _export,
    _sent_to,
    _store_register,
    _who,
    out,
)
from ketenherstel.gateway.export import SyslogTarget
from ketenherstel.gateway.indicators import load_indicators
from ketenherstel.gateway.triage import checkable, triage_path
from ketenherstel.gateway.watch import GatewayInputError


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
