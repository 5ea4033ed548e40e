"""Following a directory as it grows: new lines only, partial lines waited for, rotation, gzip."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from ketenherstel.gateway.follow import Follower
from ketenherstel.gateway.watch import Finding, GatewayInputError, Watch
from tests.gateway.lines import login, probe


def test_new_lines_partial_lines_rotation_and_gzip(tmp_path: Path) -> None:
    seen: list[Finding] = []
    follower = Follower(Watch(), tmp_path, pattern="ns.log*", on_finding=seen.append)
    log = tmp_path / "ns.log"
    first = login(0, "1", "ann", "198.51.100.7")
    log.write_text(first, encoding="latin-1")
    assert follower.poll() == 1 and seen == []
    half = probe(1)
    with log.open("a", encoding="latin-1") as fh:
        fh.write(half[:40])  # the appliance is still writing this line
    assert follower.poll() == 0
    with log.open("a", encoding="latin-1") as fh:
        fh.write(half[40:])
    assert follower.poll() == 1
    [finding] = [f for f in seen if f.rule == "cb2-aaa-leaked-bytes"]
    assert str(finding.evidence[0]) == f"{log}:{len(first.encode('latin-1'))}"
    assert follower.poll() == 0  # nothing new: nothing read twice
    log.rename(tmp_path / "ns.log.0")  # rotation: the old file keeps its name's state
    log.write_text(probe(2), encoding="latin-1")
    assert follower.poll() == 1  # the new ns.log from its start; ns.log.0 is known by its inode
    gz = tmp_path / "ns.log.1.gz"
    gz.write_bytes(gzip.compress(probe(3).encode("latin-1")))
    assert follower.poll() == 1 and follower.poll() == 0
    assert len([f for f in seen if f.rule == "cb2-aaa-leaked-bytes"]) == 3  # none twice


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(GatewayInputError, match="not a directory"):
        Follower(Watch(), tmp_path / "nope")
