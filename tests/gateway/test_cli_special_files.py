"""Paths given to the gateway commands that are no regular file (a device such as /dev/full, a
FIFO, a socket): refused with one line and exit 2, nothing touched. The tests make FIFOs in
their own folder; they never make or replace anything in /dev. An output that fails as it is
written (a full disk) is one line and exit 1: a watch's --ecs, which may be a device or a pipe,
is tested on /dev/full itself, only ever opened for writing."""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.cli import run
from tests.gateway.lines import connstat, login

pytestmark = pytest.mark.usefixtures("gateway_register")


def _log(tmp_path: Path) -> Path:
    log = tmp_path / "ns.log"
    log.write_text(
        login(0, "7", "ann@om.nl", "198.51.100.7")
        + connstat(9, "7", "ann@om.nl", "198.51.100.7", "203.0.113.66", "10.0.0.9:445"),
        encoding="latin-1",
    )
    return log


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("special", ["rapport.html", "verdicts.json"])
def test_a_report_place_that_is_a_device_or_fifo_is_refused_and_left_as_it_is(
    tmp_path: Path, gateway_register: Path, special: str
) -> None:
    log = _log(tmp_path)
    folder = tmp_path / "out"
    fifo = _fifo(folder / special)
    page = folder / "rapport.html"
    code, out, err = run("gateway", "report", str(log), "--as", "anna", "--out", str(page))
    assert code == 2 and "wrote" not in out, out
    assert "is not a regular file" in " ".join(err.split()) and str(fifo) in err.replace("\n", "")
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # not replaced with a file
    assert [p.name for p in folder.iterdir()] == [special] and not gateway_register.exists()


@pytest.fixture
def socket_path() -> Iterator[Path]:
    """A Unix socket: a path that exists and is no regular file, that opening does not block
    on (a FIFO would, and /dev/zero read as a register never ends). In a short folder, as a
    socket's path is at most 108 bytes."""
    folder = Path(tempfile.mkdtemp(prefix="gw", dir="/tmp"))
    path = folder / "r.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        yield path
    shutil.rmtree(folder)


def test_a_register_that_is_no_regular_file_is_refused_by_every_command(
    tmp_path: Path, socket_path: Path
) -> None:
    log = _log(tmp_path)
    register = str(socket_path)
    for args in (
        ("scan", str(log), "--as", "anna"),
        ("findings", "--as", "anna"),
        ("allowlist",),
    ):
        code, out, err = run("gateway", *args, "--register", register)
        assert code == 2, (args, out, err)
        assert f"register {register}: is not a regular file" in " ".join(err.split()), args
        assert stat.S_ISSOCK(socket_path.stat().st_mode)


def test_a_register_of_binary_garbage_is_refused_naming_the_file_and_line(tmp_path: Path) -> None:
    register = tmp_path / "garbage.jsonl"
    register.write_bytes(b"\xff\xfe\x00garbage\n")
    code, out, err = run("gateway", "findings", "--as", "anna", "--register", str(register))
    assert code == 2 and "Traceback" not in out + err, out
    assert f"{register}: line 1: not UTF-8 text" in " ".join(err.split())


class _Full:
    """A file on a full disk: every write fails with ENOSPC (never /dev/full itself)."""

    def __enter__(self) -> _Full:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize(
    ("command", "option"),
    [("scan", "--json"), ("scan", "--ecs"), ("triage", "--ecs")],
)
def test_an_output_on_a_full_disk_is_one_line_naming_it_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, option: str
) -> None:
    from tests.gateway.test_triage import TAMPERED, write_dir

    given = write_dir(tmp_path / "c", TAMPERED) if command == "triage" else _log(tmp_path)
    target = tmp_path / "out.jsonl"
    real_open = Path.open

    def open_(self: Path, *args: Any, **kwargs: Any) -> Any:
        return _Full() if self == target else real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)
    code, out, err = run("gateway", command, str(given), "--as", "anna", option, str(target))
    assert code == 1 and "Traceback" not in err, (out, err)
    said = " ".join(err.split())
    assert said.startswith(f"error: {option} {target}: No space left on device"), said


FULL_DISK = Path("/dev/full")


def _listen(tmp_path: Path, *options: str) -> tuple[int, str, str]:
    """`gateway listen` on a free UDP port with ``options``, sent a probe (a finding) every
    0.1 s from another thread until it ends; stopped after 10 s at most."""
    import threading

    from tests.gateway.lines import probe

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = threading.Event()

    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            while not done.wait(0.1):  # until it listens (a datagram before that is lost)
                s.sendto(probe(1).encode("latin-1"), ("127.0.0.1", port))

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        return run(
            "gateway", "listen", "--as", "soc-1", "--udp", f"127.0.0.1:{port}",
            "--spool", str(tmp_path / "spool.log"), "--for", "10", *options,
        )  # fmt: skip
    finally:
        done.set()
        sender.join()


def _started(tmp_path: Path) -> list[str]:
    """The watches whose start the store's audit trail records."""
    from ketenherstel.store import open_store

    store = open_store(f"sqlite:///{tmp_path}/k.db")
    try:
        return [a.action for a in store.audit_log(limit=100) if a.action.endswith("-started")]
    finally:
        store.close()


def _watch(command: str, tmp_path: Path, *options: str) -> tuple[int, str, str]:
    """`gateway follow` of a log with a finding in it, or `gateway listen` sent findings."""
    if command == "listen":
        return _listen(tmp_path, *options)
    logs = tmp_path / "logs"
    logs.mkdir()
    _log(logs)
    return run("gateway", "follow", "--as", "soc-1", str(logs), "--for", "0", *options)


@pytest.mark.skipif(
    not FULL_DISK.is_char_device(), reason="/dev/full (a disk that is always full) is not here"
)
@pytest.mark.parametrize("command", ["follow", "listen"])
def test_a_watchs_ecs_on_a_full_disk_stops_it_with_one_line_and_exit_1(
    tmp_path: Path, gateway_register: Path, command: str
) -> None:
    """`--ecs /dev/full` was an OSError traceback at the first finding (follow), or one
    logged from the event loop at each finding while the listener went on (listen). Now the
    watch stops at once with one line naming the file, exit 1; the finding is in the register.
    /dev/full is only opened for writing, as a SIEM's pipe or /dev/stdout would be."""
    code, out, err = _watch(command, tmp_path, "--ecs", str(FULL_DISK))
    said = " ".join(err.split())
    assert code == 1 and "Traceback" not in err, (out, err)
    assert said.startswith(f"error: --ecs {FULL_DISK}: No space left on device; the watch stop")
    assert f"in the register {gateway_register}" in said
    assert [
        json.loads(x)["finding"]["rule"] for x in gateway_register.read_text().splitlines()
    ] == ["session-hijack" if command == "follow" else "cb2-aaa-leaked-bytes"]
    assert FULL_DISK.is_char_device()


@pytest.mark.parametrize("command", ["follow", "listen"])
def test_a_watchs_ecs_folder_gone_once_it_runs_stops_it_with_one_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """The folder of --ecs was there when the watch started and gone at its first finding:
    it was a traceback (follow) or a logged one at each finding (listen); now one line and
    exit 1, and no folder or file is made."""
    from ketenherstel.cli_gateway import _live

    folder = tmp_path / "soc"
    folder.mkdir()
    ecs = folder / "ecs.jsonl"
    checked = _live.writable_output

    def check_then_remove(path: Path | None, option: str) -> None:
        checked(path, option)
        folder.rmdir()  # as if someone removed it while the watch ran

    monkeypatch.setattr(_live, "writable_output", check_then_remove)
    code, out, err = _watch(command, tmp_path, "--ecs", str(ecs))
    said = " ".join(err.split())
    assert code == 1 and "Traceback" not in err, (out, err)
    assert said.startswith(f"error: --ecs {ecs}: No such file or directory; the watch stopped")
    assert not folder.exists()


@pytest.mark.parametrize("command", ["follow", "listen"])
@pytest.mark.parametrize("where", ["a directory", "in a missing folder"])
def test_a_watchs_ecs_that_cannot_be_a_file_is_refused_before_it_starts(
    tmp_path: Path, command: str, where: str
) -> None:
    ecs = tmp_path if where == "a directory" else tmp_path / "missing" / "ecs.jsonl"
    spool = tmp_path / "spool.log"
    given = (
        ["follow", str(tmp_path)]
        if command == "follow"
        else ["listen", "--udp", "127.0.0.1:0", "--spool", str(spool)]
    )
    code, out, err = run("gateway", *given, "--as", "soc-1", "--for", "0", "--ecs", str(ecs))
    said = " ".join(err.split())
    assert code == 2 and "Traceback" not in err and not out, (out, err)
    needle = "is a directory; give a file" if ecs == tmp_path else "there is no directory"
    assert said.startswith(f"error: --ecs {ecs}: {needle}"), said
    assert not spool.exists() and not (tmp_path / "missing").exists()
    assert _started(tmp_path) == []  # refused before the watch started


def test_a_log_that_is_a_fifo_is_refused_and_one_given_twice_is_read_once(
    tmp_path: Path, gateway_register: Path
) -> None:
    """A FIFO given as a log was waited on for ever, and a log given twice was scanned twice,
    its findings counted twice (a gateway review)."""
    fifo = _fifo(tmp_path / "in" / "ns.log")
    for command in ("scan", "report"):
        code, out, err = run("gateway", command, str(fifo), "--as", "anna")
        said = " ".join(err.split())
        assert code == 2 and "is not a regular file (a device or a pipe)" in said, (command, err)
        assert not gateway_register.exists()
    log = _log(tmp_path)
    code, out, _ = run("gateway", "scan", str(log), str(tmp_path / "." / "ns.log"), "--as", "anna")
    said = " ".join(out.split())
    assert code == 0 and "1 file," in said, said
