"""A log or a user's CSV that begins with UTF-8's byte order mark (an editor's or an export's):
its first line is read as the others, never lost to the mark."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketenherstel.cli import app
from ketenherstel.gateway.follow import Follower
from ketenherstel.gateway.listen import Listener
from ketenherstel.gateway.triage import Artefact
from ketenherstel.gateway.watch import Watch, read_lines, scan
from tests.aio import run as run_async
from tests.gateway.lines import login, probe
from tests.stores import made

BOM = b"\xef\xbb\xbf"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KETENHERSTEL_GATEWAY_REGISTER", str(tmp_path / "register.jsonl"))
    monkeypatch.setenv("KETENHERSTEL_STORE", made(f"sqlite:///{tmp_path}/k.db"))


def _log(path: Path) -> Path:
    path.write_bytes(BOM + (probe(0) + login(1, "1", "ann", "198.51.100.7")).encode("latin-1"))
    return path


def test_a_scan_reads_the_first_line_after_a_byte_order_mark(tmp_path: Path) -> None:
    log = _log(tmp_path / "ns.log")
    [(offset, first), _] = list(read_lines(log))
    assert offset == 0 and first.startswith("<134>")
    result = scan([log])
    assert result.unparsed == 0 and result.events == 2
    assert any(f.rule == "cb2-aaa-leaked-bytes" for f in result.findings)
    out = runner.invoke(app, ["gateway", "scan", str(log), "--as", "anna"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.stderr
    assert "0 lines not parsed" in out.stdout and "cb2-aaa-leaked-bytes" in out.stdout


def test_following_and_listening_read_past_a_byte_order_mark(tmp_path: Path) -> None:
    watch = Watch()
    follower = Follower(watch, tmp_path, pattern="ns.log*", on_finding=lambda f: None)
    _log(tmp_path / "ns.log")
    assert follower.poll() == 2 and watch.result.unparsed == 0
    listener = Listener(Watch(), tmp_path / "spool.log", lambda f: None)
    listener.receive(BOM + probe(0).encode("latin-1"))
    run_async(listener.stop())
    assert listener.received == 1 and listener.unparsed == 0
    [(_, line)] = list(Artefact("x.log", BOM + b"first\nsecond\n").lines())[:1]
    assert line == "first"


def test_report_and_indicators_accept_a_csv_with_a_byte_order_mark(tmp_path: Path) -> None:
    log = _log(tmp_path / "ns.log")
    logons = tmp_path / "logons.csv"
    logons.write_bytes(BOM + b"time,account,source,target\n2026-01-01T00:00:00+00:00,ann,1,fs\n")
    iocs = tmp_path / "iocs.csv"
    iocs.write_bytes(BOM + b"type,value\nip,198.51.100.7\n")
    args = ["gateway", "report", str(log), "--as", "anna", "--out", str(tmp_path / "r.html")]
    out = runner.invoke(app, [*args, "--logons", str(logons)], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.stderr
    out = runner.invoke(app, [*args, "--indicators", str(iocs)], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.stderr
    assert "indicator-match" in out.stdout
