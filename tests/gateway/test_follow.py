"""Following a directory as it grows: new lines only, partial lines waited for, rotation, gzip."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from ketenherstel.gateway.follow import Follower
from ketenherstel.gateway.watch import Finding, GatewayInputError, Watch
from tests.gateway.lines import connstat, login, logout, probe, request


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


def test_a_gzip_being_written_is_read_once_complete_and_a_damaged_one_reported(
    tmp_path: Path,
) -> None:
    """logrotate compressing: the .gz ends mid-stream for a while. The follower does not stop
    on it; it reads it whole once complete. One that stops growing mid-stream is damaged: read
    as far as it goes and reported as truncated, as a scan does."""
    seen: list[Finding] = []
    follower = Follower(Watch(), tmp_path, pattern="ns.log*", on_finding=seen.append)
    lines = "".join(probe(n) for n in range(1, 300)).encode("latin-1")
    packed = gzip.compress(lines)
    gz = tmp_path / "ns.log.1.gz"
    gz.touch()  # made before it is written (logrotate, cp): not taken for an empty log
    assert follower.poll() == 0 and follower.poll() == 0
    with gz.open("r+b") as fh:  # the same file (inode), written
        fh.write(packed[: len(packed) // 2])
    assert follower.poll() == 0  # being written: not read, no error
    gz.write_bytes(packed)
    assert follower.poll() == 299 and follower.poll() == 0
    assert len([f for f in seen if f.rule == "cb2-aaa-leaked-bytes"]) == 299
    damaged = tmp_path / "ns.log.2.gz"
    damaged.write_bytes(packed[: len(packed) // 2])
    assert follower.poll() == 0  # perhaps being written
    read = follower.poll()  # the same size a poll later: damaged
    assert 0 < read < 299
    [cut] = [f for f in seen if f.rule == "log-file-truncated"]
    assert str(cut.evidence[0]).startswith(f"{damaged}:") and "unreadable after byte" in cut.detail
    assert follower.poll() == 0  # reported once, read once


def test_a_compressed_rotation_is_read_only_past_what_was_read(tmp_path: Path) -> None:
    seen: list[Finding] = []
    follower = Follower(Watch(), tmp_path, pattern="ns.log*", on_finding=seen.append)
    log = tmp_path / "ns.log"
    log.write_text(login(0, "1", "ann", "198.51.100.7") + probe(1), encoding="latin-1")
    assert follower.poll() == 2
    log.rename(tmp_path / "ns.log.0")
    with (tmp_path / "ns.log.0").open("a", encoding="latin-1") as fh:
        fh.write(probe(2))  # written just before the rotation closed the file
    (tmp_path / "ns.log").write_text("", encoding="latin-1")
    rotated = (tmp_path / "ns.log.0").read_bytes()
    (tmp_path / "ns.log.0.gz").write_bytes(gzip.compress(rotated))  # then compressed
    (tmp_path / "ns.log.0").unlink()
    assert follower.poll() == 1  # only the line it had not read
    assert len([f for f in seen if f.rule == "cb2-aaa-leaked-bytes"]) == 2  # none twice


def test_a_sessions_findings_are_reported_once_it_ends_not_only_at_the_stop(
    tmp_path: Path,
) -> None:
    seen: list[Finding] = []
    follower = Follower(Watch(), tmp_path, on_finding=seen.append, idle=1800)
    log = tmp_path / "ns.log"
    log.write_text(
        login(0, "7", "ann", "198.51.100.7")
        + connstat(9, "7", "ann", "198.51.100.7", "203.0.113.66", "10.0.0.9:445")
        + login(10, "8", "bob", "198.51.100.8")
        + connstat(12, "8", "bob", "198.51.100.8", "203.0.113.67", "10.0.0.9:445"),
        encoding="latin-1",
    )
    follower.poll()
    assert not [f for f in seen if f.rule == "session-hijack"]  # both still going
    with log.open("a", encoding="latin-1") as fh:
        fh.write(logout(20, "7", "ann", "198.51.100.7"))  # ann's session ends
    follower.poll()
    assert [f.user for f in seen if f.rule == "session-hijack"] == ["ann"]
    with log.open("a", encoding="latin-1") as fh:
        fh.write(request(50, "9", "carol", "198.51.100.9"))  # 38 minutes on: bob is idle
    follower.poll()
    follower.poll()
    assert [f.user for f in seen if f.rule == "session-hijack"] == ["ann", "bob"]  # once each


def test_a_poll_looks_at_the_open_sessions_not_at_every_session_read(tmp_path: Path) -> None:
    """A follow that runs for weeks keeps every session in its ledger; each poll walked all
    of them. Ended ones are dropped from what a poll looks at, and still reported once, in the
    order they began."""
    seen: list[Finding] = []
    follower = Follower(Watch(), tmp_path, on_finding=seen.append, idle=1800)
    log = tmp_path / "ns.log"
    hijacked = {17, 503, 998}
    with log.open("w", encoding="latin-1") as fh:
        for n in range(1000):
            user, ip = f"u{n}", f"198.51.{n // 250}.{n % 250 + 1}"
            moved = "203.0.113.66" if n in hijacked else ip
            fh.write(login(n / 100, str(n), user, ip))
            fh.write(connstat(n / 100 + 1, str(n), user, ip, moved, "10.0.0.9:445"))
            fh.write(logout(n / 100 + 2, str(n), user, ip))
        fh.write(login(20, "open", "ann", "198.51.100.7"))
    follower.poll()
    assert [f.user for f in seen if f.rule == "session-hijack"] == ["u17", "u503", "u998"]
    assert list(follower._open) == [("open", "ann")]  # the ended 1,000 are no longer walked
    with log.open("a", encoding="latin-1") as fh:
        fh.write(connstat(21, "open", "ann", "198.51.100.7", "203.0.113.67", "10.0.0.9:445"))
        fh.write(logout(22, "open", "ann", "198.51.100.7"))
        fh.write(login(23, "later", "bob", "198.51.100.8"))
    follower.poll()
    assert [f.user for f in seen if f.rule == "session-hijack"][-1] == "ann"
    assert list(follower._open) == [("later", "bob")]
    assert len([f for f in seen if f.rule == "session-hijack"]) == 4  # each once


def test_a_session_used_again_after_it_was_reported_is_reported_again_as_it_happens(
    tmp_path: Path,
) -> None:
    """A session reported as ended (logged out, or idle) and then used from elsewhere, the
    CitrixBleed pattern, came out only when following stopped (a gateway review): it is looked
    at again when it ends again, and only what is new is reported."""
    seen: list[Finding] = []
    follower = Follower(Watch(), tmp_path, on_finding=seen.append, idle=1800)
    log = tmp_path / "ns.log"
    log.write_text(
        login(0, "2", "ann", "198.51.100.7") + logout(10, "2", "ann", "198.51.100.7"),
        encoding="latin-1",
    )
    follower.poll()
    assert seen == [] and ("2", "ann") in follower.reported
    with log.open("a", encoding="latin-1") as fh:  # the token, replayed from elsewhere
        fh.write(connstat(40, "2", "ann", "198.51.100.7", "203.0.113.9", "10.0.0.9:445"))
    follower.poll()
    assert sorted(f.rule for f in seen) == ["session-after-logout", "session-hijack"]
    with log.open("a", encoding="latin-1") as fh:  # used again: nothing new to say
        fh.write(connstat(41, "2", "ann", "198.51.100.7", "203.0.113.9", "10.0.0.9:445"))
    follower.poll()
    follower.poll()
    assert sorted(f.rule for f in seen) == ["session-after-logout", "session-hijack"]
