"""The findings register's commands: ``gateway findings`` lists it, ``decide`` moves a
finding to another status, ``allow`` and ``withdraw`` keep the allowlist, ``allowlist``
shows it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ketenherstel.cli_common import fail, local_runtime, require_store
from ketenherstel.cli_gateway._shared import (
    RegisterOpt,
    StoreOpt,
    _audit,
    _register,
    _store_register,
    _who,
    out,
)
from ketenherstel.gateway.register import STATUSES
from ketenherstel.gateway.watch import GatewayInputError


def findings_cmd(
    actor: Annotated[
        str, typer.Option("--as", help="Who reads the findings (kept in the store's audit trail)")
    ],
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only new, under-review, false-positive, confirmed"),
    ] = None,
    register: RegisterOpt = None,
    store: StoreOpt = None,
) -> None:
    """The findings register: every finding with its status and who decided. Findings name
    users and addresses, so each read is audited as the API's is (gateway-findings-read)."""
    if status is not None and status not in STATUSES:
        raise fail(f"--status {status!r}: one of {', '.join(STATUSES)}")
    who = _who(actor, "a read of the findings needs the name of who reads them")
    with local_runtime(store) as rt:
        kept = _store_register(rt, register)
        _audit(rt, who, "gateway-findings-read", status or "*")
    table = Table(
        "id",
        "status",
        "decided by",
        "reason",
        "rule",
        "confidence",
        "when (UTC)",
        "address",
        "evidence",
    )
    for r in kept.listed(status):
        f = r.finding
        last = r.history[-1] if r.history else {}
        table.add_row(
            r.id,
            r.status,
            str(last.get("by", "")),
            str(last.get("reason", ""))[:60],
            f["rule"],
            f["confidence"],
            (f["at"] or "")[:19],
            f["address"],
            (f["evidence"] or [""])[0],
        )
    out.print(table)


def decide_cmd(
    finding: Annotated[str, typer.Argument(help="The finding's id (see 'gateway findings')")],
    status: Annotated[str, typer.Argument(help="under-review, false-positive or confirmed")],
    by: Annotated[
        str,
        typer.Option("--as", help="Who decides (kept in the register and the store's audit trail)"),
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (required for a false positive)")
    ] = "",
    register: RegisterOpt = None,
    store: StoreOpt = None,
) -> None:
    """Move a finding to another status, with who decided and why. The decision is audited in
    the store as the API's is (gateway-finding-decided, the finding's id and its new status;
    the reason stays in the register); a refused one changes nothing and records nothing."""
    who = _who(by, "a decision needs the name of who decides")
    with local_runtime(store) as rt:
        kept = _store_register(rt, register)
        try:  # audited in the store as the decision is kept (decision 0019)
            reg = kept.decide(
                finding, status, by=who, reason=reason, trail=rt.store, at=rt.exchange.clock()
            )
        except GatewayInputError as exc:
            raise fail(str(exc)) from None
    out.print(f"{reg.id} is now {reg.status}")


def allow_cmd(
    network: Annotated[str, typer.Argument(help="A network sessions may move to (CIDR)")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is allowed")],
    until: Annotated[str, typer.Option("--until", help="Until when (YYYY-MM-DD)")],
    by: Annotated[
        str,
        typer.Option(
            "--as", help="Who allows it (kept in the register and the store's audit trail)"
        ),
    ],
    register: RegisterOpt = None,
    store: StoreOpt = None,
) -> None:
    """Allow a network (an office, a partner's exit) until a date, with a reason. An allowed
    network clears sessions that move into it from hijack detection, so the entry is audited
    in the store as the API's is (gateway-allow-added: the network, and the entry's id,
    network and end date; the reason stays in the register); a refused one changes nothing
    and records nothing."""
    who = _who(by, "an allowlist entry needs the name of who allows it")
    with local_runtime(store) as rt:
        kept = _store_register(rt, register)
        try:  # audited in the store as the entry is kept (decision 0019)
            entry = kept.allow(
                network, reason=reason, until=until, by=who, trail=rt.store, at=rt.exchange.clock()
            )
        except GatewayInputError as exc:
            raise fail(str(exc)) from None
    out.print(f"allowed {entry.network} until {entry.until} (entry {entry.id}): {entry.reason}")


def withdraw_cmd(
    network: Annotated[str, typer.Argument(help="The allowed network to end, as listed")],
    reason: Annotated[str, typer.Option("--reason", help="Why it ends before its date")],
    by: Annotated[
        str,
        typer.Option(
            "--as", help="Who withdraws it (kept in the register and the store's audit trail)"
        ),
    ],
    register: RegisterOpt = None,
    store: StoreOpt = None,
) -> None:
    """Withdraw an allowlist entry before its date (kept in the register, with who and why).
    Audited in the store (gateway-allow-withdrawn: the network, and the id, network and end
    date of each entry it ends; the reason stays in the register); a refused one changes
    nothing and records nothing."""
    who = _who(by, "withdrawing an allowlist entry needs the name of who does it")
    with local_runtime(store) as rt:
        kept = _store_register(rt, register)
        try:  # audited in the store as the withdrawal is kept (decision 0019)
            ended = kept.withdraw(
                network, reason=reason, by=who, trail=rt.store, at=rt.exchange.clock()
            )
        except GatewayInputError as exc:
            raise fail(str(exc)) from None
    ids = ", ".join(a.id for a in ended)
    out.print(f"withdrew {network} ({len(ended)} entr{'y' if len(ended) == 1 else 'ies'}: {ids})")


ListStoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="The store whose register is listed (sqlite:///path.db, a file path or "
        "postgresql://…; default KETENHERSTEL_STORE); its register is the default",
    ),
]


def allowlist_cmd(register: RegisterOpt = None, store: ListStoreOpt = None) -> None:
    """The allowlist, with expired entries marked: the store's register's, where `gateway
    allow` and `withdraw` keep it (or --register's). A store that does not exist is refused."""
    if register is None:
        from ketenherstel.settings import Settings

        # A store that does not exist is refused: its register is not there either, and an
        # empty list would read as "nothing is allowed".
        require_store(store)
        register = Path(Settings.from_env(store_url=store).gateway_register_location())
    kept = _register(register)
    today = datetime.now(UTC).date()
    table = Table("id", "network", "until", "active", "reason", "by")
    for a in kept.allowlist:
        state = (
            "yes"
            if a.active(today)
            else f"withdrawn by {a.withdrawn}"
            if a.withdrawn
            else "expired"
        )
        table.add_row(a.id, a.network, a.until, state, a.reason, a.added_by)
    count = len(kept.allowlist)
    out.print(
        f"{count} entr{'y' if count == 1 else 'ies'} in the register {kept.path}", highlight=False
    )
    out.print(table)
