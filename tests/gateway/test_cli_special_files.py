"""Paths given to the gateway commands that are no regular file (a device such as /dev/full, a
FIFO, a socket): refused with one line and exit 2, nothing touched. The tests make FIFOs in
their own folder; they never write to /dev."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ketenherstel.cli import app
from tests.gateway.lines import connstat, login
from tests.stores import made

runner = CliRunner()


@pytest.fixture(autouse=True)
def _register(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "register.jsonl"
    monkeypatch.setenv("KETENHERSTEL_GATEWAY_REGISTER", str(path))
    monkeypatch.setenv("KETENHERSTEL_STORE", made(f"sqlite:///{tmp_path}/k.db"))
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


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
    tmp_path: Path, _register: Path, special: str
) -> None:
    log = _log(tmp_path)
    folder = tmp_path / "out"
    fifo = _fifo(folder / special)
    page = folder / "rapport.html"
    code, out, err = run("gateway", "report", str(log), "--as", "anna", "--out", str(page))
    assert code == 2 and "wrote" not in out, out
    assert "is not a regular file" in " ".join(err.split()) and str(fifo) in err.replace("\n", "")
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # not replaced with a file
    assert [p.name for p in folder.iterdir()] == [special] and not _register.exists()


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
