"""Crash test: `ketenherstel reconcile run` is killed with SIGKILL mid-run. No report appears
(the run writes into a work directory renamed into place only at its end); the next run
removes what the killed one left and makes a complete report."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from ketenherstel.chain import load_chain

pytestmark = pytest.mark.slow

ROWS = 2_000_000


def _ledgers(folder: Path) -> tuple[Path, Path]:
    con = duckdb.connect()
    # five of the chain's types: the CLI refuses a type the chain does not know
    kinds = ", ".join(f"'{t}'" for t in sorted(m.type for m in load_chain().message_types)[:5])
    rows = (
        f"SELECT 'om' AS source, 'm' || i AS id, 'om' AS sender, [{kinds}][i % 5 + 1] AS type, "
        f"md5(CAST(i AS VARCHAR)) AS hash, i AS sequence, i FROM range({ROWS}) t(i)"
    )
    a, b = folder / "a.parquet", folder / "b.parquet"
    con.execute(f"COPY (SELECT * EXCLUDE (i) FROM ({rows})) TO '{a}' (FORMAT parquet)")
    con.execute(
        f"COPY (SELECT * EXCLUDE (i) FROM ({rows}) WHERE i % 100 <> 7) TO '{b}' (FORMAT parquet)"
    )
    con.close()
    return a, b


def _run(reports: Path, a: Path, b: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ketenherstel.cli",
            "reconcile",
            "run",
            f"sent={a}",
            f"accepted={b}",
            "--full",
            "--out",
            str(reports),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_a_killed_run_leaves_no_report_and_the_next_one_completes(tmp_path: Path) -> None:
    a, b = _ledgers(tmp_path)
    reports = tmp_path / "reports"
    proc = _run(reports, a, b)
    deadline = time.monotonic() + 60
    # Kill it once it has started comparing (its work directory holds the spill folder).
    while time.monotonic() < deadline and not list(reports.glob(".tmp-*/spill")):
        time.sleep(0.01)
    time.sleep(0.3)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert list(reports.glob("r*")) == []  # no report, not even a partial one
    assert len(list(reports.glob(".tmp-*"))) == 1  # what it left behind

    done = _run(reports, a, b)
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err.decode()
    assert "20,000 missing" in out.decode()
    assert list(reports.glob(".tmp-*")) == []  # swept: its process is gone
    [report] = list(reports.glob("r*"))
    assert sorted(p.name for p in report.iterdir()) == [
        "details.csv",
        "details.parquet",
        "report.html",
        "requests.csv",
        "summary.json",
    ]


def test_a_run_sweeps_only_what_dead_runs_left(tmp_path: Path) -> None:
    from ketenherstel.reconcile import parse_hop, reconcile
    from tests.reconcile.helpers import row, write

    reports = tmp_path / "reports"
    alive, dead, unmarked = (reports / n for n in (".tmp-alive", ".tmp-dead", ".tmp-unmarked"))
    for folder in (alive, dead, unmarked):
        folder.mkdir(parents=True)
    (alive / "pid").write_text(str(os.getpid()))
    gone = subprocess.Popen(["true"])
    gone.wait()
    (dead / "pid").write_text(str(gone.pid))
    ledger = write(tmp_path / "a.csv", [row("m1")])
    reconcile([parse_hop(f"sent={ledger}"), parse_hop(f"accepted={ledger}")], out_dir=reports)
    assert alive.is_dir() and not dead.exists() and not unmarked.exists()
