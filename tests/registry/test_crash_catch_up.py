"""Crash test of the registry's catch-up: `ketenherstel registry catch-up` is killed with SIGKILL
while it applies a backlog; a second run finishes it. Every registration is then applied exactly
once, every delivery to Justid is acknowledged, and what the killed run applied but had not yet
acknowledged came back as a redelivery, recognised and not applied again."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ketenherstel.bootstrap import bootstrap
from ketenherstel.exchange.auth import LOCAL_OPERATOR, Principal
from ketenherstel.registry.service import GROUP
from ketenherstel.settings import Settings
from tests.registry.factories import decision

pytestmark = pytest.mark.slow

EVENTS = 3_000
OM = Principal("om", "partner", "om", "token")


def _count(path: Path) -> int:
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM registrations").fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet
        return 0
    finally:
        conn.close()


def test_a_killed_catch_up_applies_every_registration_exactly_once(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/x.db"
    registry_file = tmp_path / "registry.sqlite"
    settings = Settings(store_url=store, registry_url=str(registry_file))
    rt = bootstrap(settings)
    try:
        for p in rt.chain.partners:
            rt.exchange.register_partner(principal=LOCAL_OPERATOR, key=p.key)
        events = [
            decision(f"13-{i:06d}-25", f"SKN-{i % 700:010d}", sequence=i + 1) for i in range(EVENTS)
        ]
        for k in range(0, EVENTS, 500):
            assert rt.exchange.submit(principal=OM, events=events[k : k + 500]).accepted == 500
    finally:
        rt.close()
    env = {
        **os.environ,
        "KETENHERSTEL_STORE": store,
        "KETENHERSTEL_REGISTRY": str(registry_file),
        "KETENHERSTEL_VISIBILITY_TIMEOUT": "1",
    }
    cmd = [sys.executable, "-m", "ketenherstel.cli", "registry", "catch-up", "--limit", "10"]
    errors = tmp_path / "stderr.txt"
    with errors.open("wb") as err:
        child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 60
    while _count(registry_file) < EVENTS // 3:
        assert child.poll() is None, errors.read_text()
        assert time.monotonic() < deadline, "the catch-up did not get going"
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    killed_at = _count(registry_file)
    assert EVENTS // 3 <= killed_at < EVENTS, "the kill came too late to test anything"
    time.sleep(1.5)  # the leases the kill left behind run out
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rt = bootstrap(settings)
    try:
        counts = rt.registry.db.counts()
        assert counts["registrations"] == counts["messages"] == EVENTS
        with rt.registry.db.tx() as cur:
            (distinct,) = cur.execute("SELECT COUNT(DISTINCT msg_id) FROM registrations").fetchone()
        assert distinct == EVENTS
        [queue] = [q for q in rt.store.queue_stats() if q.receiver == "justid"]
        assert (queue.acked, queue.ready, queue.leased, queue.dead) == (EVENTS, 0, 0, 0)
    finally:
        rt.close()
    # The second run applied exactly what the killed one had not committed; what the killed
    # run had committed but not acknowledged came again and was recognised, not applied again.
    found = re.search(r"applied ([\d,]+), same fact \d+, redelivered ([\d,]+)", done.stdout)
    assert found is not None, done.stdout
    applied, redelivered = (int(g.replace(",", "")) for g in found.groups())
    assert applied == EVENTS - killed_at
    assert redelivered <= GROUP * 10  # at most the batch in flight at the kill (pulls of ten)
