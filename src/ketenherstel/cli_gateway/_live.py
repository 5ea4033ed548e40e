"""``gateway follow`` and ``gateway listen``: a running watch, on a log directory as it grows
or on NetScaler syslog as it arrives; each finding goes out as it happens (`_Outlet`)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Annotated

import typer

from ketenherstel.cli_common import fail, local_runtime, writable_output
from ketenherstel.cli_gateway._shared import (
    RegisterOpt,
    StoreOpt,
    _audit,
    _sent_to,
    _store_register,
    _who,
    out,
)
from ketenherstel.gateway.export import SyslogTarget, send_cef, write_ecs
from ketenherstel.gateway.follow import Follower
from ketenherstel.gateway.listen import Listener, parse_address
from ketenherstel.gateway.register import Register, finding_id
from ketenherstel.gateway.watch import (
    Finding,
    GatewayInputError,
    ScanResult,
    Watch,
    allowed_network,
    load_rules,
)

#: The longest wait between two polls of `gateway follow` (an hour); a longer one is no watch.
MAX_INTERVAL = 3600.0


def _watch_times(seconds: float | None, interval: float | None = None) -> None:
    """Refuse a --for that is not a finite number of seconds, 0 or more (nan never stopped, a
    negative one was taken as 'at once', inf never stopped), and an --interval outside 0.1 to
    MAX_INTERVAL seconds (nan, or 1e308 overflowed the sleep after the start was audited):
    exit code 2, before anything is read, audited or started."""
    if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
        raise fail(f"--for {seconds:g}: give a finite number of seconds, 0 or more")
    if interval is not None and not (0.1 <= interval <= MAX_INTERVAL):
        raise fail(f"--interval {interval:g}: give 0.1 to {MAX_INTERVAL:g} seconds between polls")


class _Outlet:
    """Where a running watch's findings go as they happen: the console, the register, ECS
    JSON Lines (appended and flushed per finding) and CEF to a collector; each finding once.

    A register that cannot be written stops it (exit code 2): the finding is not sent on,
    nor is any after it. So does an --ecs file that cannot be opened or written once it runs
    (a full disk, its folder gone: exit code 1): the finding is in the register, and neither
    it nor any after it is sent on. ``failed`` keeps why and ``on_failure`` tells the running
    watch to stop; `close` makes it the command's one-line error."""

    def __init__(self, kept: Register, ecs: Path | None, target: SyslogTarget | None) -> None:
        self.kept, self.target = kept, target
        self.sent: set[str] = set()
        # Findings held until the watch's start is in the audit trail (`release`): a listener
        # may receive a message while it is still binding its second port.
        self.held: list[Finding] | None = []
        self.failed: str | None = None
        self.failed_code = 2
        self.on_failure: Callable[[], object] = lambda: None
        # Checked now (a directory, no such folder, not writable: exit code 2 before the watch
        # starts), opened at the first finding: a command refused later (no directory, a port
        # in use) leaves no file behind.
        writable_output(ecs, "--ecs")
        self.ecs_path = ecs
        self.ecs: IO[bytes] | None = None

    def _stop(self, why: str, code: int) -> None:
        # Raised in the listener's event loop it would be lost there (a traceback, and a watch
        # that goes on without its register or its --ecs file): kept, and the watch told to stop.
        self.failed, self.failed_code = why, code
        self.on_failure()

    def _ecs_failed(self, exc: OSError) -> None:
        """The --ecs file cannot be opened or written: closed (what it could not take is
        dropped) and the watch stopped, exit code 1."""
        if self.ecs is not None:
            with contextlib.suppress(OSError):  # it flushes what the disk refused once more
                self.ecs.close()
        self._stop(
            f"--ecs {self.ecs_path}: {exc.strerror or exc}; the watch stopped (its findings "
            f"until now are in the register {self.kept.path})",
            1,
        )

    def _write_ecs(self, f: Finding) -> bool:
        assert self.ecs_path is not None
        try:
            if self.ecs is None:
                self.ecs = self.ecs_path.open("ab")
            write_ecs([f], self.ecs)
            self.ecs.flush()
        except OSError as exc:  # a full disk, a folder gone: one line, not a traceback
            self._ecs_failed(exc)
            return False
        return True

    def release(self) -> None:
        """The start is audited: what was held, and from now on each finding, goes out."""
        held, self.held = self.held or [], None
        for f in held:
            self(f)

    def __call__(self, f: Finding) -> None:
        if self.held is not None:
            self.held.append(f)
            return
        ident = finding_id(f)
        if ident in self.sent or self.failed is not None:
            return
        self.sent.add(ident)
        first = f.evidence[0] if f.evidence else ""
        out.print(f"{f.rule} ({f.confidence}) {f.address} {f.user} {first}", highlight=False)
        try:
            self.kept.add([f])
        except GatewayInputError as exc:
            self._stop(str(exc), 2)
            return
        if self.ecs_path is not None and not self._write_ecs(f):
            return
        if self.target is not None:
            try:
                send_cef([f], self.target)
            except GatewayInputError as exc:  # the collector is down: the register keeps it
                out.print(str(exc), style="red")

    def close(self, rest: list[Finding]) -> None:
        """What the watch found when it finished (session-level findings), then close; a
        register or an --ecs file that could not be written is the command's one-line error."""
        for f in rest:
            self(f)
        if self.ecs is not None and not self.ecs.closed:
            try:
                self.ecs.close()
            except OSError as exc:
                if self.failed is None:
                    self._ecs_failed(exc)
        if self.failed is not None:
            raise fail(self.failed, self.failed_code)


EcsOpt = Annotated[
    Path | None,
    typer.Option("--ecs", help="Append each finding as it happens as ECS JSON Lines here"),
]
CefOpt = Annotated[
    str | None,
    typer.Option(
        "--cef-to",
        help="Forward each finding as it happens as CEF: HOST:PORT (UDP) or HOST:PORT/tcp",
    ),
]


def follow_cmd(
    directory: Annotated[
        Path, typer.Argument(help="A log directory (new lines are read as they come)")
    ],
    actor: Annotated[
        str,
        typer.Option(
            "--as",
            help="Who starts the watch (it names users and addresses; kept in the store's "
            "audit trail)",
        ),
    ],
    pattern: Annotated[str, typer.Option("--pattern", help="Which files, e.g. 'ns.log*'")] = "*",
    interval: Annotated[
        float,
        typer.Option("--interval", help=f"Seconds between polls (0.1 to {MAX_INTERVAL:g})"),
    ] = 2.0,
    seconds: Annotated[
        float | None, typer.Option("--for", help="Stop after this many seconds (default: Ctrl-C)")
    ] = None,
    allow: Annotated[list[str] | None, typer.Option("--allow", help="Allowed network")] = None,
    register: RegisterOpt = None,
    ecs: EcsOpt = None,
    cef_to: CefOpt = None,
    store: StoreOpt = None,
) -> None:
    """Follow a log directory as it grows (rotation included) and report findings as they
    happen: into the register, and to the SOC with --ecs and --cef-to. Its findings name users
    and addresses, so its start is audited in the store before it reads a line
    (gateway-follow-started: the directory and pattern, where findings go, --allow's
    networks); the store is not held open while it runs."""
    who = _who(actor, "a watch shows users and addresses; it needs the name of who starts it")
    _watch_times(seconds, interval)
    with local_runtime(store) as rt:
        kept = _store_register(rt, register)
        try:
            target = SyslogTarget.parse(cef_to) if cef_to else None
            given = [str(allowed_network(n, "--allow ")) for n in allow or []]
            watch = Watch(load_rules(), allow=[*given, *kept.allowed_networks()])
        except GatewayInputError as exc:
            raise fail(str(exc)) from None
        found = _Outlet(kept, ecs, target)
        try:
            follower = Follower(watch, directory, pattern=pattern, on_finding=found)
        except GatewayInputError as exc:
            found.close([])
            raise fail(str(exc)) from None
        done = [f"pattern {pattern}", *_sent_to(ecs=ecs, target=target, allow=given)]
        _audit(rt, who, "gateway-follow-started", str(follower.directory), "; ".join(done))
    found.release()
    out.print(f"following {directory} ({pattern}) every {interval:g} s", highlight=False)
    began = time.monotonic()
    # A service manager's stop (SIGTERM) ends it as Ctrl-C does: with the session findings.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        while True:
            follower.poll()
            if found.failed is not None:
                break
            if seconds is not None and time.monotonic() - began >= seconds:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    except GatewayInputError as exc:
        found.close([])
        raise fail(str(exc)) from None
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    result = watch.finish()
    found.close(result.findings if found.failed is None else [])
    out.print(
        f"read {follower.lines:,} lines from {len(follower.files)} files, "
        f"{result.unparsed:,} not parsed, {len(result.findings):,} findings"
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def listen_cmd(
    actor: Annotated[
        str,
        typer.Option(
            "--as",
            help="Who starts the watch (it names users and addresses; kept in the store's "
            "audit trail)",
        ),
    ],
    udp: Annotated[
        str | None, typer.Option("--udp", help="Listen for syslog on HOST:PORT over UDP")
    ] = "127.0.0.1:5514",
    tcp: Annotated[
        str | None, typer.Option("--tcp", help="Listen for syslog on HOST:PORT over TCP")
    ] = None,
    spool: Annotated[
        Path, typer.Option("--spool", help="Every message received is kept here (evidence)")
    ] = Path("var/gateway/syslog.log"),
    seconds: Annotated[
        float | None, typer.Option("--for", help="Stop after this many seconds (default: Ctrl-C)")
    ] = None,
    allow: Annotated[
        list[str] | None,
        typer.Option("--allow", help="A network a session may move to (CIDR), repeatable"),
    ] = None,
    register: RegisterOpt = None,
    ecs: EcsOpt = None,
    cef_to: CefOpt = None,
    store: StoreOpt = None,
) -> None:
    """Receive NetScaler syslog (RFC 3164/5424, UDP and TCP) and report findings as they
    happen: into the register, and to the SOC with --ecs and --cef-to. Its findings name users
    and addresses, so its start is audited in the store once it listens and before a finding
    goes out (gateway-listen-started: where it listens, the spool, where findings go,
    --allow's networks); the store is not held open while it runs."""
    who = _who(actor, "a watch shows users and addresses; it needs the name of who starts it")
    _watch_times(seconds)
    opened = contextlib.ExitStack()
    rt = opened.enter_context(local_runtime(store))
    try:
        kept = _store_register(rt, register)
        target = SyslogTarget.parse(cef_to) if cef_to else None
        udp_at = parse_address(udp) if udp else None
        tcp_at = parse_address(tcp) if tcp else None
        given = [str(allowed_network(n, "--allow ")) for n in allow or []]
        watch = Watch(load_rules(), allow=[*given, *kept.allowed_networks()])
        if udp_at is None and tcp_at is None:
            raise fail("give --udp or --tcp (or both)")
        found = _Outlet(kept, ecs, target)
    except GatewayInputError as exc:
        opened.close()
        raise fail(str(exc)) from None
    except BaseException:
        opened.close()
        raise

    finished: list[ScanResult] = []

    async def main() -> ScanResult:
        task = asyncio.current_task()
        assert task is not None
        found.on_failure = task.cancel  # a register it cannot write stops it
        listener = Listener(watch, spool, found)
        await listener.start(udp=udp_at, tcp=tcp_at)
        # A service manager stops it with SIGTERM: as Ctrl-C, it ends with the session findings.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        where = ", ".join(f"{k} {h}:{p}" for k, (h, p) in listener.bound.items())
        done = [f"spool {spool.absolute()}", *_sent_to(ecs=ecs, target=target, allow=given)]
        try:
            _audit(rt, who, "gateway-listen-started", where, "; ".join(done))
        except BaseException:
            await listener.stop()
            raise
        finally:
            opened.close()
        found.release()
        out.print(f"listening on {where}; spool {spool}", highlight=False)
        try:
            if seconds is not None:
                await asyncio.sleep(seconds)
            else:
                await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass
        finally:
            result = await listener.stop()
            finished.append(result)
        out.print(
            f"received {listener.received:,} messages, {listener.unparsed:,} not parsed, "
            f"{len(result.findings):,} findings"
        )
        return result

    try:
        asyncio.run(main())
    except GatewayInputError as exc:
        found.close([])
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        pass  # stopped with Ctrl-C: what it found is still sent below
    except asyncio.CancelledError:
        pass  # the register failed while it was starting: said below
    finally:
        opened.close()  # closed already once it listens; here when it never did
    found.close(finished[0].findings if finished and found.failed is None else [])
