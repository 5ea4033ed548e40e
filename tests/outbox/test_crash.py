"""Crash test: processes writing to one outbox file are killed with SIGKILL mid-writes.

After a restart the sequences are gap-free and every write that returned is there, with the
sequence it was given.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from ketenherstel.chain import Chain
from ketenherstel.outbox.agent import Outbox
from tests.outbox.conftest import OM_OIN, OM_SOURCE, summons

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
WRITER = textwrap.dedent(
    """
    import sys
    from ketenherstel.outbox.agent import Outbox
    from tests.outbox.conftest import summons

    box = Outbox.open(sys.argv[1])
    n = 0
    while True:
        n += 1
        written = box.write([summons() for _ in range(1 + n % 3)])
        print(" ".join(f"{w.sequence}:{w.id}" for w in written), flush=True)
    """
)


def start_writer(db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def collect(proc: subprocess.Popen[str], into: list[tuple[int, str]]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if not line.endswith("\n"):
            break  # a line cut by the kill: its write returned, but we cannot read it whole
        for item in line.split():
            sequence, ident = item.split(":", 1)
            into.append((int(sequence), ident))


def test_every_returned_write_survives_sigkill_and_sequences_stay_gap_free(
    tmp_path: Path, chain: Chain
) -> None:
    db = tmp_path / "outbox.db"
    Outbox.create(db, oin=OM_OIN, source=OM_SOURCE, chain=chain).close()
    writers = [start_writer(db), start_writer(db)]
    returned: list[list[tuple[int, str]]] = [[], []]
    readers = [
        threading.Thread(target=collect, args=(proc, seen))
        for proc, seen in zip(writers, returned, strict=True)
    ]
    for reader in readers:
        reader.start()
    try:
        for proc, seen in zip(writers, returned, strict=True):
            while len(seen) < 300 and proc.poll() is None:
                threading.Event().wait(0.01)
            os.kill(proc.pid, signal.SIGKILL)  # mid-write: the other keeps writing meanwhile
            proc.wait(timeout=10)
    finally:
        for proc in writers:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    for reader in readers:
        reader.join(timeout=10)
    for proc in writers:
        assert proc.stdout is not None
        proc.stdout.close()
    assert all(len(seen) >= 300 for seen in returned), "a writer died before it was killed"

    box = Outbox.open(db, chain=chain)
    try:
        stored = {m.id: m.sequence for m in box.store.all_messages(OM_SOURCE)}
        sequences = sorted(stored.values())
        assert sequences == list(range(1, len(sequences) + 1)), "a gap in the sequences"
        lost = [(s, i) for seen in returned for s, i in seen if stored.get(i) != s]
        assert not lost, f"{len(lost)} returned writes are missing or renumbered"
        assert box.status().pending == len(sequences)
        assert box.write([summons()])[0].sequence == len(sequences) + 1
    finally:
        box.close()
