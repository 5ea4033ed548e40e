"""Findings out to the security operations centre (decision 0012): JSON Lines in the Elastic
Common Schema, and CEF over syslog (RFC 5424 framing, UDP or TCP) to a configured collector."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from ketenherstel.gateway.watch import Finding, GatewayInputError

__all__ = ["SyslogTarget", "send_cef", "to_cef", "to_ecs", "write_ecs"]

_SEVERITY = {"high": 8, "medium": 5, "low": 3}
_ECS_SEVERITY = {"high": 73, "medium": 47, "low": 21}
VERSION = "0.1.0"


def to_ecs(f: Finding) -> dict[str, Any]:
    """A finding as an ECS alert document."""
    doc: dict[str, Any] = {
        "@timestamp": f.to_json()["at"] or datetime.now(UTC).isoformat(),
        "ecs": {"version": "8.11.0"},
        "event": {
            "kind": "alert",
            "category": ["intrusion_detection"],
            "type": ["indicator"],
            "module": "ketenherstel.gateway",
            "severity": _ECS_SEVERITY.get(f.confidence, 21),
        },
        "rule": {"id": f.rule, "name": f.title},
        "message": f.title + (f": {f.detail}" if f.detail else ""),
        "observer": {"vendor": "Citrix", "product": "NetScaler", "type": "gateway"},
        "ketenherstel": {
            "confidence": f.confidence,
            "session": f.session or None,
            "evidence": [{"file": e.file, "offset": e.offset} for e in f.evidence],
        },
    }
    if f.address:
        doc["source"] = {"ip": f.address} if _is_ip(f.address) else {"address": f.address}
    if f.user:
        doc["user"] = {"name": f.user}
    return doc


def _is_ip(value: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def write_ecs(findings: Iterable[Finding], fh: IO[bytes]) -> int:
    n = 0
    for f in findings:
        fh.write(orjson.dumps(to_ecs(f)) + b"\n")
        n += 1
    return n


def _header(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _ext(value: str) -> str:
    return value.replace("\\", "\\\\").replace("=", "\\=").replace("\r", "\\r").replace("\n", "\\n")


def to_cef(f: Finding) -> str:
    """A finding as one CEF:0 line."""
    ext = []
    if f.at is not None:
        ext.append(f"rt={int(f.at * 1000)}")
    if f.address:
        ext.append(f"src={_ext(f.address)}" if _is_ip(f.address) else f"shost={_ext(f.address)}")
    if f.user:
        ext.append(f"suser={_ext(f.user)}")
    if f.session:
        ext.append(f"cs1Label=session cs1={_ext(f.session)}")
    ext.append(f"cs2Label=confidence cs2={f.confidence}")
    if f.evidence:
        ext.append(f"cs3Label=evidence cs3={_ext(' '.join(str(e) for e in f.evidence[:10]))}")
    if f.detail:
        ext.append(f"msg={_ext(f.detail[:500])}")
    return (
        f"CEF:0|Ketenherstel|GatewayWatch|{VERSION}|{_header(f.rule)}|{_header(f.title)}|"
        f"{_SEVERITY.get(f.confidence, 3)}|" + " ".join(ext)
    )


class SyslogTarget:
    """``host:port`` with ``udp`` or ``tcp``; ``parse("127.0.0.1:514/tcp")``."""

    def __init__(self, host: str, port: int, protocol: str = "udp") -> None:
        if protocol not in ("udp", "tcp"):
            raise GatewayInputError(f"syslog protocol is udp or tcp, not {protocol!r}")
        if not 0 < port < 65536:
            raise GatewayInputError(f"syslog port {port} is out of range")
        self.host, self.port, self.protocol = host, port, protocol

    @classmethod
    def parse(cls, text: str) -> SyslogTarget:
        where, _, protocol = text.partition("/")
        host, sep, port = where.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise GatewayInputError(
                f"collector {text!r}: write HOST:PORT or HOST:PORT/tcp (e.g. 127.0.0.1:514/udp)"
            )
        name = host.strip("[]")
        # Checked before any scan, so that a collector that cannot be one is said before the
        # register and --json are written (256.1.1.1 was found out only when sending).
        if not 0 < int(port) < 65536:
            raise GatewayInputError(f"collector {text!r}: a port is 1 to 65535")
        if (protocol or "udp") not in ("udp", "tcp"):
            raise GatewayInputError(f"collector {text!r}: the protocol is udp or tcp")
        if re.fullmatch(r"[0-9.]+", name) or ":" in name:
            try:
                ipaddress.ip_address(name)
            except ValueError:
                raise GatewayInputError(f"collector {text!r}: {name} is no IP address") from None
        elif not re.fullmatch(
            r"(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*", name
        ):
            raise GatewayInputError(f"collector {text!r}: {name!r} is no host name")
        return cls(name, int(port), protocol or "udp")


def _frame(line: str, at: float | None) -> bytes:
    stamp = datetime.fromtimestamp(at, UTC) if at is not None else datetime.now(UTC)
    host = socket.gethostname() or "-"
    # facility local4 (20), severity warning (4): <164>
    return f"<164>1 {stamp.isoformat()} {host} ketenherstel - gateway - {line}".encode()


def send_cef(findings: Iterable[Finding], target: SyslogTarget) -> int:
    """Send each finding as a CEF line in an RFC 5424 syslog message (TCP: one per line)."""
    messages = [_frame(to_cef(f), f.at) for f in findings]
    try:
        if target.protocol == "udp":
            with socket.socket(
                socket.AF_INET6 if ":" in target.host else socket.AF_INET, socket.SOCK_DGRAM
            ) as sock:
                for m in messages:
                    sock.sendto(m[:65000], (target.host, target.port))
        else:
            with socket.create_connection((target.host, target.port), timeout=10) as sock:
                for m in messages:
                    sock.sendall(m + b"\n")
    except OSError as exc:
        raise GatewayInputError(
            f"collector {target.host}:{target.port}/{target.protocol}: {exc.strerror or exc}"
        ) from None
    return len(messages)
