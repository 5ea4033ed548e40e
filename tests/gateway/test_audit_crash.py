"""Crash tests: `gateway decide`, `allow` and `withdraw` are killed with SIGKILL between keeping
the change in the register and its record reaching the store's audit trail (two stores, the
register's JSON Lines file and the store's database; decision 0019).

Before, the register had the change and the store never got its audit record: a retry was
refused ("it cannot become confirmed") and recorded nothing. Now the change's line carries its
audit record, so the two are kept together or not at all, and the next gateway command on that
store copies what a killed one left, once: however often it is retried or killed again, the
register holds the change once and the audit trail its record once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ketenherstel.gateway.register import Register
from ketenherstel.store import open_store
from tests.gateway.lines import connstat, login
from tests.stores import made

pytestmark = pytest.mark.slow

SOON = (datetime.now(UTC).date() + timedelta(days=90)).isoformat()

# The CLI, in a process that kills itself (SIGKILL, nothing cleaned up) at the store's first
# audit write: "before" just before the INSERT reaches the database, "after" just after the
# transaction that holds it is committed.
_KILLED_CLI = """
import os, signal, sys
from ketenherstel.store._sqlbase import SqlBase
from ketenherstel.store.sqlite import SqliteStore

when = sys.argv.pop(1)
real_x, real_commit = SqlBase._x, SqliteStore._commit
inserted = []

def _x(self, cur, statement, params=()):
    if statement.lstrip().upper().startswith("INSERT INTO AUDIT"):
        if when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        inserted.append(statement)
    return real_x(self, cur, statement, params)

def _commit(self, cur):
    real_commit(self, cur)
    if inserted and when == "after":
        os.kill(os.getpid(), signal.SIGKILL)

SqlBase._x = _x
SqliteStore._commit = _commit
from ketenherstel.cli import app
app()
"""


def _cli(tmp_path: Path, *args: str, kill: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KETENHERSTEL_STORE": f"sqlite:///{tmp_path}/k.db",
        "KETENHERSTEL_GATEWAY_REGISTER": str(tmp_path / "register.jsonl"),
        "COLUMNS": "200",
    }
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-m", "ketenherstel.cli", *args]
    if kill is not None:
        cmd = [sys.executable, "-c", _KILLED_CLI, kill, *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def _audited(tmp_path: Path, action: str) -> list[tuple[str, str, str]]:
    store = open_store(f"sqlite:///{tmp_path}/k.db")
    try:
        return [
            (a.actor, a.object, a.detail)
            for a in reversed(store.audit_log(limit=1000))
            if a.action == action
        ]
    finally:
        store.close()


def _kept(tmp_path: Path, kind: str) -> list[dict[str, object]]:
    """The register's records of ``kind``, as written."""
    lines = (tmp_path / "register.jsonl").read_bytes().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return [r for r in records if r.get("record") == kind]


@pytest.fixture
def finding(tmp_path: Path) -> str:
    made(f"sqlite:///{tmp_path}/k.db")
    log = tmp_path / "ns.log"
    log.write_text(
        login(0, "7", "ann", "198.51.100.7")
        + connstat(9, "7", "ann", "198.51.100.7", "203.0.113.66", "10.0.0.9:445"),
        encoding="latin-1",
    )
    done = _cli(tmp_path, "gateway", "scan", "--as", "soc-1", str(log))
    assert done.returncode == 0, done.stderr
    [fid] = list(Register(tmp_path / "register.jsonl").findings)
    return fid


@pytest.mark.parametrize("kill", ["before", "after"])
def test_a_decision_killed_before_its_audit_record_is_kept_is_audited_once_at_the_retry(
    tmp_path: Path, finding: str, kill: str
) -> None:
    decide = ("gateway", "decide", finding, "confirmed", "--as", "soc-1", "--reason", "ann")
    killed = _cli(tmp_path, *decide, kill=kill)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # What the killed command kept in the register carries its audit record with it.
    [decision] = _kept(tmp_path, "decision")
    assert decision["audit"]["action"] == "gateway-finding-decided"  # type: ignore[index]
    for _ in range(2):  # the retry, and one more
        again = _cli(tmp_path, *decide)
        assert again.returncode == 2 and "cannot become confirmed" in again.stderr, again.stderr
        assert len(_kept(tmp_path, "decision")) == 1
        wanted = [("soc-1", f"{finding} confirmed", "")]
        assert _audited(tmp_path, "gateway-finding-decided") == wanted
    assert Register(tmp_path / "register.jsonl").findings[finding].status == "confirmed"


def test_any_gateway_command_on_the_store_copies_what_a_killed_decision_left(
    tmp_path: Path, finding: str
) -> None:
    """Not only a retry: reading the findings (which shows the decision) copies its audit
    record first, and a second kill while copying it adds nothing twice."""
    decide = ("gateway", "decide", finding, "under-review", "--as", "soc-1")
    assert _cli(tmp_path, *decide, kill="before").returncode == -signal.SIGKILL
    assert _audited(tmp_path, "gateway-finding-decided") == []
    read = ("gateway", "findings", "--as", "soc-2")
    assert _cli(tmp_path, *read, kill="after").returncode == -signal.SIGKILL
    shown = _cli(tmp_path, *read)
    assert shown.returncode == 0 and "under-review" in shown.stdout, shown.stderr
    assert _audited(tmp_path, "gateway-finding-decided") == [
        ("soc-1", f"{finding} under-review", "")
    ]
    assert [who for who, _, _ in _audited(tmp_path, "gateway-findings-read")] == ["soc-2"]


@pytest.mark.parametrize("kill", ["before", "after"])
def test_an_allowlist_entry_and_its_withdrawal_killed_mid_way_are_audited_once(
    tmp_path: Path, kill: str
) -> None:
    made(f"sqlite:///{tmp_path}/k.db")
    allow = ("gateway", "allow", "192.0.2.0/24", "--until", SOON, "--reason", "r", "--as", "a")
    assert _cli(tmp_path, *allow, kill=kill).returncode == -signal.SIGKILL
    again = _cli(tmp_path, *allow)
    assert again.returncode == 2 and "already allowed" in again.stderr, again.stderr
    [entry] = Register(tmp_path / "register.jsonl").allowlist
    audited = [("a", "192.0.2.0/24", f"{entry.id} 192.0.2.0/24 until {SOON}")]
    assert _audited(tmp_path, "gateway-allow-added") == audited
    withdraw = ("gateway", "withdraw", "192.0.2.0/24", "--reason", "gone", "--as", "b")
    assert _cli(tmp_path, *withdraw, kill=kill).returncode == -signal.SIGKILL
    again = _cli(tmp_path, *withdraw)
    assert again.returncode == 2 and "not on the allowlist" in again.stderr, again.stderr
    assert len(_kept(tmp_path, "allow")) == len(_kept(tmp_path, "withdraw")) == 1
    assert _audited(tmp_path, "gateway-allow-added") == audited
    assert _audited(tmp_path, "gateway-allow-withdrawn") == [
        ("b", "192.0.2.0/24", f"{entry.id} 192.0.2.0/24 until {SOON}")
    ]
