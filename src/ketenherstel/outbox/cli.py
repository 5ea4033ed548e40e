"""`ketenherstel outbox …`: run a partner's edge outbox from the command line.

Every command takes ``--db`` (or KETENHERSTEL_OUTBOX_DB, default var/outbox.db); ``keygen``,
``pubkey`` and ``export`` take ``--key`` (or KETENHERSTEL_OUTBOX_KEY); ``forward`` and ``serve``
take the exchange's ``--url`` and the partner's ``--token`` (KETENHERSTEL_URL,
KETENHERSTEL_TOKEN) as the other partner commands do; a ``--url`` that is no http(s) address
with a host is refused before anything starts (exit code 2), never retried as an exchange that
is down. The chain model is the built-in one or KETENHERSTEL_CHAIN.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from ketenherstel.chain.utf8 import not_utf8
from ketenherstel.cli_common import fail, readable_input, writable_folder, writable_output
from ketenherstel.documents import orjson_duplicates
from ketenherstel.outbox.errors import OutboxError, WriteRefused
from ketenherstel.terminal import SafeConsole

app = typer.Typer(
    help="The edge outbox: keep and forward a partner's messages, also while cut off.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = SafeConsole(highlight=False, soft_wrap=True, markup=False)  # partners' own text
err = SafeConsole(stderr=True, highlight=False, soft_wrap=True)

DbOpt = Annotated[
    Path,
    typer.Option("--db", envvar="KETENHERSTEL_OUTBOX_DB", help="The outbox's SQLite file"),
]
KeyOpt = Annotated[
    Path,
    typer.Option(
        "--key", envvar="KETENHERSTEL_OUTBOX_KEY", help="The outbox's private key file (PEM)"
    ),
]
UrlOpt = Annotated[
    str, typer.Option("--url", envvar="KETENHERSTEL_URL", help="The exchange's base URL")
]
TokenOpt = Annotated[
    str,
    typer.Option("--token", envvar="KETENHERSTEL_TOKEN", help="The partner's bearer token"),
]
DEFAULT_DB = Path("var/outbox.db")
DEFAULT_KEY = Path("var/outbox-key.pem")


def _chain() -> Any:
    from ketenherstel.chain import ChainError, load_chain

    path = os.environ.get("KETENHERSTEL_CHAIN")
    try:
        return load_chain(Path(path) if path else None)
    except ChainError as exc:
        raise fail(str(exc)) from None


def _db_file(db: Path) -> None:
    """Refuse a --db that is a directory (exit code 2): SQLite could not open it, and said only
    'unable to open database file'; or that is there and no regular file (a device, a pipe)."""
    if db.is_dir():
        raise fail(f"--db {db} is a directory; give the outbox's file (such as {db / 'outbox.db'})")
    if db.exists() and not db.is_file():  # /dev/full: SQLite left /dev/full-journal behind
        raise fail(f"--db {db} is not a regular file (a device or pipe); give the outbox's file")


@contextlib.contextmanager
def _outbox(db: Path) -> Iterator[Any]:
    from ketenherstel.outbox.agent import Outbox

    _db_file(db)
    try:
        box = Outbox.open(db, chain=_chain())
    except OutboxError as exc:
        raise fail(str(exc)) from None
    try:
        yield box
    except OutboxError as exc:
        raise fail(str(exc)) from None
    finally:
        box.close()


@app.command()
def init(
    oin: Annotated[str, typer.Option(help="The partner's OIN (20 digits)")],
    source: Annotated[str, typer.Option(help="Source URN written into events that name none")],
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Create the outbox's SQLite file for a partner (harmless to repeat with the same values).
    A folder of --db that is not there yet is made."""
    from ketenherstel.outbox.agent import Outbox

    _db_file(db)
    writable_folder(db.parent, f"--db {db}")  # a file in the way, no permission: refused
    try:
        Outbox.create(db, oin=oin, source=source, chain=_chain()).close()
    except OutboxError as exc:
        raise fail(str(exc)) from None
    out.print(f"outbox {db} ready for OIN {oin}, source {source}")


@app.command()
def keygen(key: KeyOpt = DEFAULT_KEY) -> None:
    """Create the signing key (mode 0600) and print its public key for the exchange operator."""
    from ketenherstel.outbox.keys import create_key_file, key_id, public_key_b64, public_key_raw

    try:
        private = create_key_file(key)
    except OutboxError as exc:
        raise fail(str(exc)) from None
    err.print(f"wrote {key} (mode 0600), key id {key_id(public_key_raw(private))}")
    err.print("register this public key for your OIN with the exchange operator:")
    out.print(public_key_b64(private))


@app.command()
def pubkey(key: KeyOpt = DEFAULT_KEY) -> None:
    """Print the public key of a key file again (base64 of its 32 raw bytes)."""
    from ketenherstel.outbox.keys import public_key_b64, read_key_file

    try:
        out.print(public_key_b64(read_key_file(key)))
    except OutboxError as exc:
        raise fail(str(exc)) from None


@app.command()
def write(
    file: Annotated[Path, typer.Argument(help="Events as JSON (one or an array) or JSON Lines")],
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Write events into the outbox; each gets its source's next sequence. All or nothing."""
    events, origins = _read_events(file)
    with _outbox(db) as box:
        try:
            written = box.write(events)
        except WriteRefused as exc:
            lines = [f"{file}: {exc.detail}"]
            for p in exc.problems[:30]:
                where = f"{origins[p.index]} " if p.index is not None else ""
                lines.append(f"  {where}{p.field or '(event)'}: {p.reason}")
            if len(exc.problems) > 30:
                lines.append(f"  … and {len(exc.problems) - 30} more")
            raise fail("\n".join(lines)) from None
    fresh = [w for w in written if w.status == "written"]
    span = f"; sequences {fresh[0].sequence}-{fresh[-1].sequence}" if fresh else ""
    out.print(f"{len(fresh)} written, {len(written) - len(fresh)} duplicates{span}")


def _read_events(file: Path) -> tuple[list[Any], list[str]]:
    """The events of a file, and for each where it stands ("line 3", "event 2"). A key given
    twice in one object refuses the file: orjson would have kept the last value."""
    readable_input(file)
    data = file.read_bytes()
    if not data.strip():
        raise fail(f"{file} is empty; nothing was written")
    encoding = not_utf8(data)  # orjson's own words named a surrogate at column 1
    if encoding is not None:
        raise fail(f"{file}: {encoding.message}; nothing was written")
    lines = data.splitlines()
    if file.suffix not in (".jsonl", ".ndjson"):
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            if sum(1 for line in lines if line.strip()) <= 1:
                raise fail(f"{file} is not valid JSON ({exc}); nothing was written") from None
        else:
            _refuse_twice(
                file,
                [
                    str(d) if d.item is None else f"event {d.item}: {d.within}"
                    for d in orjson_duplicates(data, doc)
                ],
            )
            events = doc if isinstance(doc, list) else [doc]
            return events, [f"event {i}" for i in range(len(events))]
    events, origins, bad, twice = [], [], [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append(orjson.loads(line))
            origins.append(f"line {number}")
        except orjson.JSONDecodeError as exc:
            bad.append(f"  line {number}: not valid JSON: {exc}")
        else:
            twice += [f"line {number}: {d}" for d in orjson_duplicates(line, events[-1])]
    if bad:
        raise fail("\n".join([f"{file} has lines that are not JSON; nothing was written:", *bad]))
    _refuse_twice(file, twice)
    return events, origins


def _refuse_twice(file: Path, twice: list[str]) -> None:
    if twice:
        more = [f"  … and {len(twice) - 30} more"] if len(twice) > 30 else []
        head = f"{file} gives a key twice in one object (give each key once); nothing was written:"
        raise fail("\n".join([head, *(f"  {t}" for t in twice[:30]), *more]))


@app.command()
def status(
    db: DbOpt = DEFAULT_DB,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Pending messages, the oldest one, the last forwarded sequence per source, reachability."""
    with _outbox(db) as box:
        state = box.status()
    if as_json:
        out.print_json(orjson.dumps(state.to_json()).decode())
        return
    doc = state.to_json()
    reach = {None: "not tried yet", True: "reachable", False: "unreachable"}[state.reachable]
    out.print(f"outbox of OIN {state.oin}: {state.pending} pending; exchange {reach}")
    if doc["oldestPendingAt"]:
        out.print(f"oldest pending message written {doc['oldestPendingAt']}")
    if state.last_problem:
        out.print(f"last problem: {state.last_problem}")
    for s in state.sources:
        out.print(
            f"  {s.source}: written up to {s.last_sequence}, forwarded up to {s.last_forwarded}, "
            f"bundled up to {s.last_bundled}, {s.pending} pending"
        )


@app.command()
def forward(
    db: DbOpt = DEFAULT_DB,
    url: UrlOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
    once: Annotated[bool, typer.Option("--once", help="One round, then exit")] = False,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between rounds")] = 5.0,
    batch_size: Annotated[int, typer.Option(min=1, max=10000)] = 500,
) -> None:
    """Forward pending messages to the exchange; with --once exit 0 when done, 1 when the
    exchange is unreachable (all kept pending), 2 when it refused."""
    from ketenherstel.client import ExchangeClient, bad_url

    if not token:
        raise fail("give --token or set KETENHERSTEL_TOKEN (the partner's token)")
    why = bad_url(url)
    if why is not None:
        raise fail(why)
    with _outbox(db) as box, ExchangeClient(url, token, timeout=30) as client:
        if once:
            result = box.forward_once(client, batch_size=batch_size)
            _report(result)
            raise typer.Exit({"unreachable": 1, "refused": 2}.get(result.status, 0))
        stop = threading.Event()
        err.print(f"forwarding to {url} every {interval:g} s; Ctrl-C stops")
        try:
            box.run(client, interval=interval, stop=stop, on_result=_Reporter())
        except KeyboardInterrupt:
            stop.set()


class _Reporter:
    """Prints each round's outcome; in a loop, an unchanged "unreachable" only once."""

    def __init__(self) -> None:
        self.last: str | None = None

    def __call__(self, result: Any) -> None:
        repeated = result.status == self.last and result.status in ("unreachable", "idle")
        self.last = result.status
        if not repeated:
            _report(result)


def _report(result: Any) -> None:
    now = datetime.now(UTC).strftime("%H:%M:%S")
    if result.status == "refused":
        detail = escape(str(result.detail))  # the exchange's words, shown as they are
        err.print(f"{now} [bold red]refused:[/] {detail}; {result.pending} kept pending")
    elif result.status == "unreachable":
        err.print(
            f"{now} unreachable ({result.detail}); forwarded {result.forwarded}, "
            f"{result.pending} kept pending"
        )
    elif result.status == "forwarded":
        err.print(
            f"{now} forwarded {result.forwarded} ({result.duplicates} already at the exchange);"
            f" {result.pending} pending"
        )
    else:
        err.print(f"{now} nothing pending")
    for gap in result.sequence_gaps:
        ranges = ", ".join(
            str(r["first"]) if r["first"] == r["last"] else f"{r['first']}-{r['last']}"
            for r in gap.get("missing", [])
        )
        err.print(f"{now} the exchange misses sequences of {gap.get('source')}: {ranges}")


@app.command()
def serve(
    db: DbOpt = DEFAULT_DB,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on")] = 8700,
    local_token: Annotated[
        str,
        typer.Option(
            envvar="KETENHERSTEL_OUTBOX_TOKEN", help="Token your systems must send (optional)"
        ),
    ] = "",
    url: Annotated[
        str, typer.Option("--url", envvar="KETENHERSTEL_URL", help="Also forward to this exchange")
    ] = "",
    token: TokenOpt = "",
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between rounds")] = 5.0,
) -> None:
    """Serve POST /events and GET /status for your systems; with --url also forward."""
    from ketenherstel.client import ExchangeClient, bad_url
    from ketenherstel.outbox.http import OutboxHTTPServer

    # A typo in --url is refused before anything listens, as `forward` refuses it: the
    # forwarder took it for an exchange that is down and tried again every round, forever.
    why = bad_url(url) if url else None
    if why is not None:
        raise fail(why)
    if url and not token:
        raise fail("forwarding to --url needs --token (or KETENHERSTEL_TOKEN)")
    with _outbox(db) as box:
        try:
            server = OutboxHTTPServer(box, host=host, port=port, token=local_token)
        except OSError as exc:
            raise fail(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        stop = threading.Event()
        forwarder: threading.Thread | None = None
        client = ExchangeClient(url, token, timeout=30) if url else None
        if client is not None:
            forwarder = threading.Thread(
                target=box.run,
                kwargs={
                    "client": client,
                    "interval": interval,
                    "stop": stop,
                    "on_result": _Reporter(),
                },
                name="outbox-forwarder",
                daemon=True,
            )
            forwarder.start()
        err.print(f"outbox {db} listening on {server.url}; Ctrl-C stops")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            server.server_close()
            if forwarder is not None:
                forwarder.join(timeout=60)
            if client is not None:
                client.close()


@app.command()
def export(
    out_file: Annotated[Path, typer.Option("--out", help="The bundle file to write (new)")],
    key: KeyOpt = DEFAULT_KEY,
    db: DbOpt = DEFAULT_DB,
    source: Annotated[
        str | None,
        typer.Option(help="Source URN (default: the outbox's own); a bundle holds one source"),
    ] = None,
    first: Annotated[int | None, typer.Option(min=1, help="First sequence")] = None,
    last: Annotated[int | None, typer.Option(min=1, help="Last sequence")] = None,
    max_events: Annotated[
        int,
        typer.Option(
            min=1,
            help="At most this many events, the first of the range (also of --first/--last); "
            "the rest waits for the next bundle",
        ),
    ] = 50_000,
) -> None:
    """Export a signed offline bundle of one source: by default every message of the
    outbox's own source not yet forwarded or bundled. Messages written with another source of
    the OIN go in a bundle of their own (--source); the export names any that wait."""
    from ketenherstel.outbox.keys import read_key_file

    writable_output(out_file, "--out")  # before anything is read or recorded
    try:
        private = read_key_file(key)
    except OutboxError as exc:
        raise fail(str(exc)) from None
    with _outbox(db) as box:
        done = box.export_bundle(
            out_file,
            private_key=private,
            source=source,
            first=first,
            last=last,
            max_events=max_events,
        )
    again = " (written again: the same bundle as before)" if done.reissued else ""
    out.print(
        f"wrote {done.path}{again}: {done.count} events of {done.source}, sequences "
        f"{done.first_sequence}-{done.last_sequence}, digest {done.digest}"
    )
    if done.left is not None:
        a, b = done.left
        how = "export again" if first is None and last is None else f"export --first {a} --last {b}"
        out.print(
            f"sequences {a}-{b} wait for the next bundle (at most {max_events:,} events in "
            f"one): {how}"
        )
    for other, waiting in done.others:
        out.print(
            f"note: {waiting} message{'' if waiting == 1 else 's'} of {other} not yet forwarded "
            f"or bundled: a bundle holds one source; export them with --source {other}"
        )
