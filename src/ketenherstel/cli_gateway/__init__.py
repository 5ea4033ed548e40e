"""``ketenherstel gateway …``: the watch on the access gateway's logs (decision 0012).

``scan`` reads NetScaler logs (plain or gzip), keeps the session ledger and runs every detection;
findings carry their evidence as file:offset. Bad input gives a one-line message on stderr and
exit code 2.

The commands live by what they do: `_scan` (scan), `_report` (report), `_triage` (triage),
`_live` (follow, listen: a running watch) and `_register` (findings, decide, allow, withdraw,
allowlist: the findings register); `_shared` holds what they share. They are registered here,
in the order ``gateway --help`` lists them.
"""

from __future__ import annotations

import typer

from ketenherstel.cli_gateway._live import follow_cmd, listen_cmd
from ketenherstel.cli_gateway._register import (
    allow_cmd,
    allowlist_cmd,
    decide_cmd,
    findings_cmd,
    withdraw_cmd,
)
from ketenherstel.cli_gateway._report import report_cmd
from ketenherstel.cli_gateway._scan import scan_cmd
from ketenherstel.cli_gateway._triage import triage_cmd

__all__ = ["gateway_app"]

gateway_app = typer.Typer(
    help="The watch on the access gateway (NetScaler): scan its logs for CitrixBleed-class "
    "abuse, keep the session ledger, list findings with their evidence.",
    no_args_is_help=True,
)
# In the order `gateway --help` lists them.
gateway_app.command("scan")(scan_cmd)
gateway_app.command("report")(report_cmd)
gateway_app.command("triage")(triage_cmd)
gateway_app.command("follow")(follow_cmd)
gateway_app.command("listen")(listen_cmd)
gateway_app.command("findings")(findings_cmd)
gateway_app.command("decide")(decide_cmd)
gateway_app.command("allow")(allow_cmd)
gateway_app.command("withdraw")(withdraw_cmd)
gateway_app.command("allowlist")(allowlist_cmd)
