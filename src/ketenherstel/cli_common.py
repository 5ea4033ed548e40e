"""What the CLI's command groups share: the one-line error and its exit code, the operator a
state-changing command names with ``--as``, and who reads (``--as``, else the machine's
login)."""

from __future__ import annotations

import contextlib
import getpass
import os
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from ketenherstel.terminal import SafeConsole

if TYPE_CHECKING:
    from ketenherstel.bootstrap import Runtime
    from ketenherstel.exchange.auth import Principal

__all__ = [
    "DEMO_STORE",
    "HTTP_DEMO_STORE",
    "AsOpt",
    "ReaderOpt",
    "err",
    "fail",
    "local_runtime",
    "operator",
    "out_of_range",
    "readable_input",
    "reader",
    "require_store",
    "writable_folder",
    "writable_output",
]

err = SafeConsole(stderr=True)

# The demos' own stores (`demo` and `demo-http` --store defaults): recreated whatever they
# hold, also when an earlier version of a demo made them without noting it (story.fresh_sqlite).
DEMO_STORE = "sqlite:///var/demo.db"
HTTP_DEMO_STORE = "sqlite:///var/demo-http.db"


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr (markup in the message is shown, not applied) and
    return the exit to raise: 2 for bad input, 1 for something that does not exist."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


AsOpt = Annotated[
    str,
    typer.Option("--as", help="Your name as operator (kept as who on the record and in the trail)"),
]


def operator(name: str, *, blank: str = "--as names you, the operator") -> Principal:
    """The operator ``--as`` names, checked as a token's holder is (not blank, not too long, no
    control or invisible characters, not the command line's own name): kept as who on the
    record, in the history, the trail and the audit log. A bad name is exit code 2, before
    anything changes."""
    from ketenherstel.exchange.auth import local_operator
    from ketenherstel.exchange.errors import ExchangeError

    if not name.strip():
        raise fail(blank)
    try:
        return local_operator(name)
    except ExchangeError as exc:
        raise fail(f"--as: {exc.detail}") from None


ReaderOpt = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Your name, kept in the audit log as who read (default: local-cli:LOGIN, the "
        "machine's login that runs the command)",
    ),
]


def reader(name: str | None) -> Principal:
    """Who reads personal data at the command line, as the audit log records it: the operator
    ``--as`` names (checked as for a change; a bad name is exit code 2, before anything is
    read), else ``local-cli:LOGIN`` with the machine's login (`_login`)."""
    from ketenherstel.exchange.auth import local_reader

    if name is not None:
        return operator(name)
    return local_reader(_login())


def _login() -> str:
    """The machine's login that runs the command (``getpass.getuser``: LOGNAME, USER, …, else
    the password database), or ``uid-N`` when there is none or it is no short printable name."""
    try:
        name = getpass.getuser().strip()
    except (OSError, KeyError):  # no login variable and no password entry for the uid
        name = ""
    bad = any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name)
    if not name or len(name) > 64 or bad:
        return f"uid-{os.getuid()}"
    return name


def require_store(store: str | None, *, create: bool = False) -> None:
    """Refuse a SQLite store whose file does not exist (a mistyped --store or
    KETENHERSTEL_STORE), before anything creates it: only `init` (and a scenario run or the
    demo, which make their own) create a store. Exit code 1. A file that is no store (empty,
    not SQLite, another database) or a directory is refused as it is, with exit code 2.

    ``create`` (`init`): a store that does not exist yet, or an empty file, is fine; a
    directory, a file that is not SQLite or another SQLite database is still refused."""
    from ketenherstel.settings import Settings
    from ketenherstel.store import sqlite_file
    from ketenherstel.store.sqlite import not_a_store

    try:
        url = Settings.from_env(store_url=store).store_url
        path = sqlite_file(url)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if path is None:
        return
    if path.is_dir():
        raise fail(f"store {path} is a directory; give a file (--store sqlite:///PATH)")
    if path.exists() and not path.is_file():  # /dev/full: SQLite wrote a journal beside it
        raise fail(f"store {path} is not a regular file (a device or pipe); give a file")
    if create:
        above = next(p for p in path.absolute().parents if p.exists())
        if not above.is_dir():
            raise fail(f"store {path}: {above} is not a directory")
        if not path.exists():  # /proc/self/x.db: SQLite said only 'unable to open database file'
            writable_folder(path.parent, f"store {path}")
    elif not path.is_file():
        raise fail(
            f"no store at {path}; create it with `ketenherstel init --store {url}`, "
            "or give the store you meant (--store, KETENHERSTEL_STORE)",
            1,
        )
    if path.exists():
        why = not_a_store(path, empty_ok=create)
        if why is not None:
            raise fail(f"{path} is not a store ({why}); give the store you meant (--store)")


@contextlib.contextmanager
def local_runtime(store: str | None, registry: str | None = None) -> Iterator[Runtime]:
    """The runtime on the local store (and registry), closed after use; a store or chain that
    cannot be opened is a one-line error with exit code 2, a store that does not exist one
    with exit code 1."""
    from ketenherstel.bootstrap import bootstrap
    from ketenherstel.chain import ChainError
    from ketenherstel.settings import Settings
    from ketenherstel.store import StoreError

    require_store(store)
    try:
        rt = bootstrap(Settings.from_env(store_url=store, registry_url=registry))
    except (ChainError, StoreError, ValueError, OSError) as exc:
        raise fail(str(exc)) from None
    try:
        yield rt
    except OverflowError as exc:  # an id or count past what the store holds: nothing changed
        raise fail(out_of_range(exc)) from None
    finally:
        rt.close()


def out_of_range(exc: OverflowError) -> str:
    """The one line for a number past what a store holds (SQLite and PostgreSQL: 64 bits); the
    driver's own words ("Python int too large to convert to SQLite INTEGER") are not ours."""
    del exc
    return f"a number given is out of range: ids and counts are at most {2**63 - 1}"


def read_input(path: Path, limit: int, what: str) -> bytes:
    """A whole input file of at most ``limit`` bytes, refused before it is read when it is
    larger, is no regular file (a device or a pipe never ends: `/dev/zero` was read until
    memory ran out) or cannot be read (exit code 2). ``what`` names it: "a bundle"."""
    readable_input(path)
    try:
        size = path.stat().st_size
        if size > limit:
            raise fail(f"{path}: {what} is at most {limit:,} bytes; this file has {size:,}")
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limit:  # it grew while read
        raise fail(f"{path}: {what} is at most {limit:,} bytes")
    return data


def readable_input(path: Path, option: str = "") -> None:
    """Refuse an input file that is not there, or a directory given for it (exit code 2)."""
    named = f"{option} {path}" if option else str(path)
    if path.is_dir():
        raise fail(f"{named}: is a directory; give a file")
    if path.exists() and not path.is_file():
        raise fail(f"{named}: is no regular file (a device or a pipe); give a file")
    if not path.is_file():
        raise fail(f"{option} {path}: no such file" if option else f"no such file: {path}")


def writable_output(path: Path | None, option: str) -> None:
    """Refuse an output path that cannot be written, before any work is done for it."""
    if path is None:
        return
    if path == Path():  # '' arrives as '.', which is no file to write
        raise fail(f"{option}: give a file's path, not an empty one")
    if path.is_dir():
        raise fail(f"{option} {path}: is a directory; give a file")
    if not path.parent.is_dir():
        raise fail(f"{option} {path}: there is no directory {path.parent}")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise fail(f"{option} {path}: not writable")
    # os.access says yes to root whatever the file system does (/proc, a read-only mount):
    # the folder must really take a file, and a file that is there must open for writing.
    try:
        if path.exists():
            with path.open("ab"):
                pass
        else:
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".ketenherstel-"):
                pass
    except OSError as exc:
        raise fail(f"{option} {path}: not writable ({exc.strerror or exc})") from None


def writable_folder(folder: Path, what: str) -> None:
    """Refuse a folder that output cannot be written to (a file where a folder must be, no
    permission, a folder that cannot be made) before any work is done or recorded for it.
    Tried, not asked: its missing folders are made and a file is written in it (`os.access`
    says yes to root for /proc/x, where nothing can be made); what was made for the try is
    removed again, so a command refused later leaves nothing behind. ``what`` names it in
    the error: ``--out PATH``."""
    folder = folder.absolute()
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    above = folder.parents[len(missing) - 1] if missing else folder
    if not above.is_dir():
        raise fail(f"{what}: {above} is not a directory")
    try:
        for p in reversed(missing):
            p.mkdir()
        with tempfile.TemporaryFile(dir=folder, prefix=".ketenherstel-"):
            pass
    except OSError as exc:
        raise fail(f"{what}: cannot write there ({exc.strerror or exc})") from None
    finally:
        for p in missing:
            with contextlib.suppress(OSError):  # another writer put something there since
                p.rmdir()
