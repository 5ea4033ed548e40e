"""Autonomous systems for the session ledger (decision 0012): a table of prefixes
(CSV ``prefix,asn[,name]``, e.g. an export of a routing table) looked up by longest prefix."""

from __future__ import annotations

import csv
import io
import ipaddress
from pathlib import Path
from typing import Any

from ketenherstel.gateway.watch import GatewayInputError, read_text

__all__ = ["AsnTable", "load_asn_table"]


class AsnTable:
    def __init__(self, rows: list[tuple[Any, str]]) -> None:
        # Longest prefix first, per address family.
        self.rows = sorted(rows, key=lambda r: -r[0].prefixlen)
        self._cache: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def lookup(self, address: str) -> str:
        """``AS1234 name`` for an address, or '' when no prefix holds it."""
        if address in self._cache:
            return self._cache[address]
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return ""
        found = next((asn for net, asn in self.rows if ip.version == net.version and ip in net), "")
        if len(self._cache) < 100_000:
            self._cache[address] = found
        return found


def load_asn_table(path: Path) -> AsnTable:
    text = read_text(path, "ASN table")
    rows = []
    for row_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or row[0].startswith("#") or (row_no == 1 and row[0].strip() == "prefix"):
            continue
        if len(row) < 2:
            raise GatewayInputError(f"ASN table {path}: row {row_no}: write prefix,asn[,name]")
        try:
            net = ipaddress.ip_network(row[0].strip(), strict=False)
        except ValueError:
            raise GatewayInputError(
                f"ASN table {path}: row {row_no}: {row[0]!r} is not a prefix"
            ) from None
        asn = row[1].strip().upper()
        asn = asn if asn.startswith("AS") else f"AS{asn}"
        name = row[2].strip() if len(row) > 2 else ""
        rows.append((net, f"{asn} {name}".strip()))
    return AsnTable(rows)
