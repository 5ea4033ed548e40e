"""A syslog listener for the gateway watch (decision 0012): RFC 3164 and RFC 5424 messages over
UDP and TCP (newline-delimited or octet-counted frames, RFC 6587), bound to loopback unless told
otherwise. Every message is appended to a spool file first, so a finding's evidence is
``spool:offset`` like any file's; then it is parsed and fed to the watch. Single-line findings are
reported as they happen; session findings when the listener stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ketenherstel.gateway.parse import LineParser
from ketenherstel.gateway.watch import BOM, Finding, GatewayInputError, ScanResult, Watch

__all__ = ["Listener", "parse_address"]

MAX_MESSAGE = 64 * 1024


def parse_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise GatewayInputError(f"address {text!r}: write HOST:PORT, e.g. 127.0.0.1:5514")
    return host.strip("[]") or "127.0.0.1", int(port)


class Listener:
    """Receives syslog messages into a spool and a :class:`Watch`."""

    def __init__(
        self,
        watch: Watch,
        spool: Path,
        on_finding: Callable[[Finding], None] = lambda _f: None,
    ) -> None:
        self.watch = watch
        # Evidence names the spool by its full path, however it was typed.
        self.spool_path = spool = spool.resolve()
        if spool.is_dir():
            raise GatewayInputError(f"--spool {spool}: is a directory; give a file")
        self._spool: IO[bytes] | None = None  # opened once listening (or at the first message)
        self.offset = 0
        self.on_finding = on_finding
        self.parser = LineParser("mdy")
        self.received = 0
        self.unparsed = 0
        self.bound: dict[str, tuple[str, int]] = {}
        self._servers: list[Any] = []

    def _open_spool(self) -> IO[bytes]:
        if self._spool is None:
            try:
                self.spool_path.parent.mkdir(parents=True, exist_ok=True)
                self._spool = self.spool_path.open("ab")
            except OSError as exc:
                raise GatewayInputError(
                    f"--spool {self.spool_path}: {exc.strerror or exc}"
                ) from None
            self.offset = self._spool.tell()
        return self._spool

    def receive(self, data: bytes) -> None:
        """One syslog message (or several lines of one)."""
        spool = self._open_spool()
        for line_bytes in data.splitlines():
            raw = line_bytes.removeprefix(BOM)  # a sender's byte order mark is no text
            if not raw.strip():
                continue
            raw = raw[:MAX_MESSAGE]
            offset = self.offset
            spool.write(raw + b"\n")
            self.offset += len(raw) + 1
            self.received += 1
            line = raw.decode("latin-1")
            event = self.parser.parse(line, str(self.spool_path), offset)
            if event is None:
                # Perhaps day-first dates: switch if the other order reads it.
                other = LineParser("dmy" if self.parser.date_order == "mdy" else "mdy")
                event = other.parse(line, str(self.spool_path), offset)
                if event is not None:
                    self.parser = other
            if event is None:
                self.unparsed += 1
                self.watch.result.unparsed += 1
                continue
            before = len(self.watch.result.findings)
            self.watch.result.events += 1
            self.watch.feed(event)
            for finding in self.watch.result.findings[before:]:
                self.on_finding(finding)
        spool.flush()

    async def start(self, *, udp: tuple[str, int] | None, tcp: tuple[str, int] | None) -> None:
        loop = asyncio.get_running_loop()
        listener = self

        class Datagram(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                listener.receive(data)

        where = ""
        try:
            if udp is not None:
                where = f"udp {udp[0]}:{udp[1]}"
                transport, _ = await loop.create_datagram_endpoint(Datagram, local_addr=udp)
                self._servers.append(transport)
                self.bound["udp"] = transport.get_extra_info("sockname")[:2]
            if tcp is not None:
                where = f"tcp {tcp[0]}:{tcp[1]}"
                server = await asyncio.start_server(self._stream, tcp[0], tcp[1])
                self._servers.append(server)
                self.bound["tcp"] = server.sockets[0].getsockname()[:2]
        except OSError as exc:
            await self.stop()
            raise GatewayInputError(f"cannot listen on {where}: {exc.strerror or exc}") from None
        try:
            self._open_spool()
        except GatewayInputError:
            await self.stop()
            raise

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """RFC 6587 framing: octet counting (``LEN SP MSG``) or a line ending in LF. A line may
        begin with digits too (a native NetScaler date, ``07/14/2025:…``): it is octet counted
        only when the digits end in a space. What arrives is kept, never dropped: an oversized
        message or line up to MAX_MESSAGE bytes, a message cut off by the connection as far
        as it came."""
        try:
            while True:
                head = b""
                byte = await reader.read(1)
                while byte.isdigit() and len(head) < 10:
                    head += byte
                    byte = await reader.read(1)
                if not head and not byte:
                    break
                if head and byte == b" " and not head.startswith(b"0"):
                    self.receive(await _counted(reader, int(head)))
                elif byte in (b"\n", b""):
                    self.receive(head)
                    if not byte:
                        break
                else:
                    self.receive(head + byte + await _rest_of_line(reader))
        except asyncio.IncompleteReadError as exc:
            self.receive(exc.partial)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def stop(self) -> ScanResult:
        for server in self._servers:
            server.close()
            if isinstance(server, asyncio.Server):
                await server.wait_closed()
        self._servers.clear()
        if self._spool is not None and not self._spool.closed:
            self._spool.close()
        return self.watch.finish()


async def _counted(reader: asyncio.StreamReader, size: int) -> bytes:
    """An octet-counted message: its first MAX_MESSAGE bytes; the rest is read past."""
    kept = await reader.readexactly(min(size, MAX_MESSAGE))
    rest = size - len(kept)
    while rest > 0:
        chunk = await reader.read(min(rest, 65_536))
        if not chunk:
            break  # the connection ended inside the message: what came is kept
        rest -= len(chunk)
    return kept


async def _rest_of_line(reader: asyncio.StreamReader) -> bytes:
    """The rest of a line, up to MAX_MESSAGE bytes of it; a longer line's rest is read past."""
    try:
        return await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        return exc.partial  # the connection ended mid-line
    except asyncio.LimitOverrunError as exc:
        kept = await reader.readexactly(exc.consumed)
    while True:
        try:
            await reader.readuntil(b"\n")
            return kept[:MAX_MESSAGE]
        except asyncio.IncompleteReadError:
            return kept[:MAX_MESSAGE]
        except asyncio.LimitOverrunError as more:
            await reader.readexactly(more.consumed)
