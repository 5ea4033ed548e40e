"""The syslog listener receiving real packets on loopback (UDP and TCP, newline-delimited and
octet-counted), and the CEF export reaching a syslog receiver; ECS documents."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from pathlib import Path

import pytest

from ketenherstel.gateway.export import SyslogTarget, send_cef, to_cef, to_ecs, write_ecs
from ketenherstel.gateway.listen import Listener, parse_address
from ketenherstel.gateway.watch import Evidence, Finding, GatewayInputError, Watch
from tests.aio import run as run_async
from tests.gateway.lines import login, probe


def run(coro: object) -> object:
    return run_async(coro)  # type: ignore[arg-type]


async def _listen_and_send(spool: Path) -> tuple[Listener, list[Finding]]:
    seen: list[Finding] = []
    listener = Listener(Watch(), spool, seen.append)
    await listener.start(udp=("127.0.0.1", 0), tcp=("127.0.0.1", 0))
    udp_port = listener.bound["udp"][1]
    tcp_port = listener.bound["tcp"][1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(probe(1).encode("latin-1"), ("127.0.0.1", udp_port))
    _reader, writer = await asyncio.open_connection("127.0.0.1", tcp_port)
    writer.write(login(0, "1", "ann", "198.51.100.7").encode("latin-1"))  # newline-delimited
    framed = probe(2).rstrip("\n").encode("latin-1")
    writer.write(str(len(framed)).encode() + b" " + framed)  # octet-counted
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    for _ in range(100):
        if listener.received >= 3:
            break
        await asyncio.sleep(0.02)
    await listener.stop()
    return listener, seen


def test_the_listener_receives_udp_and_tcp_and_keeps_evidence(tmp_path: Path) -> None:
    spool = tmp_path / "spool.log"
    listener, seen = run(_listen_and_send(spool))  # type: ignore[misc]
    assert listener.received == 3 and listener.unparsed == 0
    probes = [f for f in seen if f.rule == "cb2-aaa-leaked-bytes"]
    assert len(probes) == 2
    data = spool.read_bytes()
    for f in probes:
        offset = f.evidence[0].offset
        assert (
            data[offset:].startswith(b"<134>")
            and b"Authentication is rejected" in data[offset:].split(b"\n")[0]
        )
        assert b"\xa0\x91\xfe" in data[offset:].split(b"\n")[0]  # the leaked bytes, kept as sent


async def _send_tcp(spool: Path, data: bytes, expect: int) -> Listener:
    listener = Listener(Watch(), spool, lambda f: None)
    await listener.start(udp=None, tcp=("127.0.0.1", 0))
    _reader, writer = await asyncio.open_connection("127.0.0.1", listener.bound["tcp"][1])
    writer.write(data)
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    for _ in range(200):
        if listener.received >= expect:
            break
        await asyncio.sleep(0.02)
    await listener.stop()
    return listener


def test_tcp_lines_without_a_priority_that_begin_with_a_date_are_kept(tmp_path: Path) -> None:
    """A native line begins with digits ("07/09/2025:…"): newline framed, not octet counted."""
    bare = [x.removeprefix("<134> ") for x in (login(0, "1", "ann", "198.51.100.7"), probe(1))]
    huge = b"A" * 200_000 + b"\n"  # longer than a message may be: kept, cut at 64 KiB
    counted = probe(2).rstrip("\n").encode("latin-1")
    data = (
        "".join(bare).encode("latin-1")
        + huge
        + str(len(counted)).encode()
        + b" "
        + counted
        + b"0123 no count\n"  # digits, but a leading zero: a line
        + b"12 cut off"  # octet counted, the connection ends inside it: kept as it came
    )
    spool = tmp_path / "spool.log"
    listener = run(_send_tcp(spool, data, 6))
    assert isinstance(listener, Listener)
    assert listener.received == 6 and listener.unparsed == 3  # the huge, the 0123, the cut
    kept = spool.read_bytes().split(b"\n")
    assert kept[0].startswith(b"07/") and kept[1].startswith(b"07/")
    assert kept[2] == b"A" * 65_536
    assert kept[3] == counted and kept[4] == b"0123 no count" and kept[5] == b"cut off"


def test_the_listener_binds_to_loopback_by_default_and_refuses_bad_addresses() -> None:
    assert parse_address(":5514") == ("127.0.0.1", 5514)
    with pytest.raises(GatewayInputError):
        parse_address("nowhere")


def _finding() -> Finding:
    return Finding(
        "session-hijack",
        "A session | moves",
        "high",
        1752134400.0,
        address="203.0.113.66",
        user="ann=x",
        session="7",
        detail="from a\nto b",
        evidence=[Evidence("ns.log", 120), Evidence("ns.log", 480)],
    )


def test_cef_escapes_and_carries_the_evidence() -> None:
    line = to_cef(_finding())
    assert line.startswith("CEF:0|Ketenherstel|GatewayWatch|")
    assert "|session-hijack|A session \\| moves|8|" in line
    assert "suser=ann\\=x" in line and "src=203.0.113.66" in line
    assert "cs3=ns.log:120 ns.log:480" in line and "msg=from a\\nto b" in line


def test_ecs_documents() -> None:
    doc = to_ecs(_finding())
    assert doc["event"]["kind"] == "alert" and doc["rule"]["id"] == "session-hijack"
    assert doc["source"]["ip"] == "203.0.113.66" and doc["user"]["name"] == "ann=x"
    assert doc["ketenherstel"]["evidence"][1] == {"file": "ns.log", "offset": 480}
    fh = io.BytesIO()
    assert write_ecs([_finding(), _finding()], fh) == 2
    assert [json.loads(x)["rule"]["id"] for x in fh.getvalue().splitlines()] == [
        "session-hijack"
    ] * 2


async def _cef_into_listener(spool: Path, protocol: str) -> Listener:
    listener = Listener(Watch(), spool)
    if protocol == "udp":
        await listener.start(udp=("127.0.0.1", 0), tcp=None)
    else:
        await listener.start(udp=None, tcp=("127.0.0.1", 0))
    port = listener.bound[protocol][1]
    target = SyslogTarget("127.0.0.1", port, protocol)
    await asyncio.to_thread(send_cef, [_finding(), _finding()], target)
    for _ in range(100):
        if listener.received >= 2:
            break
        await asyncio.sleep(0.02)
    await listener.stop()
    return listener


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_cef_export_reaches_a_syslog_receiver(tmp_path: Path, protocol: str) -> None:
    spool = tmp_path / f"{protocol}.log"
    listener = run(_cef_into_listener(spool, protocol))
    assert listener.received == 2  # type: ignore[attr-defined]
    lines = spool.read_text(encoding="latin-1").splitlines()
    assert all("CEF:0|Ketenherstel|GatewayWatch|" in x and x.startswith("<164>1 ") for x in lines)


def test_an_unreachable_collector_is_named() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
    with pytest.raises(GatewayInputError, match=f"127.0.0.1:{port}/tcp"):
        send_cef([_finding()], SyslogTarget("127.0.0.1", port, "tcp"))
    with pytest.raises(GatewayInputError, match="HOST:PORT"):
        SyslogTarget.parse("collector")
