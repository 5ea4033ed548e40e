"""A line longer than lines are read (``MAX_LINE``): its start is read, the rest passed over,
and memory stays bounded, in a scan, a split scan, the date-order guess and ``follow``."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ketenherstel.gateway.follow import Follower
from ketenherstel.gateway.ranges import split_at
from ketenherstel.gateway.watch import MAX_LINE, Finding, Watch, _parser_for
from tests.gateway.lines import login, logout, probe

T = TypeVar("T")
HUGE = 40 * MAX_LINE  # 40 MiB in one line


def _peak(work: Callable[[], T]) -> tuple[T, int]:
    """What ``work`` returns, and the most memory Python held for it at once (bytes)."""
    tracemalloc.start()
    try:
        result = work()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _log(path: Path, parts: list[bytes]) -> list[int]:
    """Write ``parts`` to ``path``; the byte offset each begins at."""
    offsets, at = [], 0
    with path.open("wb") as fh:
        for part in parts:
            offsets.append(at)
            fh.write(part)
            at += len(part)
    return offsets


def test_a_scan_reads_a_huge_line_as_its_start_with_bounded_memory(tmp_path: Path) -> None:
    """A 40 MiB line with no end of line in sight (binary junk), and one that begins as an
    event (a login with a 40 MiB user agent): the lines around them are read at their
    offsets, the login is an event read from its first MiB, the junk is not parsed."""
    first = login(0, "1", "ann@om.nl", "198.51.100.7").encode("latin-1")
    agent_login = login(1, "2", "bob@om.nl", "198.51.100.8", agent="A" * HUGE).encode("latin-1")
    after = probe(2).encode("latin-1")
    log = tmp_path / "ns.log"
    offsets = _log(log, [first, b"\x00\xff" * (HUGE // 2) + b"\n", agent_login, after])
    watch = Watch()
    _, peak = _peak(lambda: watch.scan_file(log))
    result = watch.finish()
    assert peak < 16 * MAX_LINE, f"{peak:,} bytes held for a log with a {HUGE:,}-byte line"
    assert (result.lines, result.events, result.unparsed) == (4, 3, 1)
    assert [u[1] for u in result.unparsed_lines()] == [offsets[1]]
    [probe_finding] = [f for f in result.findings if f.rule == "cb2-aaa-leaked-bytes"]
    assert str(probe_finding.evidence[0]) == f"{log}:{offsets[3]}"
    bob = next(s for s in result.sessions.values() if s.session_id == "2")
    assert str(bob.first) == f"{log}:{offsets[2]}"
    # The agent as read: the line's first MiB from where the agent begins.
    [agent] = bob.user_agents
    assert agent == "A" * len(agent) and MAX_LINE - 400 < len(agent) < MAX_LINE


def test_a_file_cut_into_ranges_past_a_huge_line(tmp_path: Path) -> None:
    """Where a cut falls inside a huge line, the next range begins after it, not in it."""
    log = tmp_path / "ns.log"
    offsets = _log(
        log,
        [
            login(0, "1", "ann@om.nl", "198.51.100.7").encode("latin-1"),
            b"x" * HUGE + b"\n",
            logout(2, "1", "ann@om.nl", "198.51.100.7").encode("latin-1"),
        ],
    )
    ranges, peak = _peak(lambda: split_at(log, 2))
    assert ranges == [(0, offsets[2]), (offsets[2], log.stat().st_size)]
    assert peak < 8 * MAX_LINE


def test_the_date_order_is_found_past_a_huge_line(tmp_path: Path) -> None:
    """The first 10,000 lines cannot tell; a huge line follows, then a day-first date: the
    guess passes over the huge line (memory bounded) and finds the order behind it."""
    undecided = b"".join(
        f"05/07/2025:10:{i // 60 % 60:02d}:{i % 60:02d} GMT gw 0-PPE-0 : default SSLVPN "
        f"LOGOUT {i} 0 : User u - Client_ip 192.0.2.1\n".encode()
        for i in range(10_001)
    )
    decisive = b"13/07/2025:10:00:00 GMT gw 0-PPE-0 : default SSLVPN LOGOUT 1 0 : User u\n"
    log = tmp_path / "ns.log"
    _log(log, [undecided, b"y" * HUGE + b"\n", decisive])
    parser, peak = _peak(lambda: _parser_for(log))
    assert (parser.date_order, parser.assumed) == ("dmy", False)
    assert peak < 16 * MAX_LINE


def test_follow_waits_for_a_huge_line_to_end_and_reads_it_with_bounded_memory(
    tmp_path: Path,
) -> None:
    seen: list[Finding] = []
    follower = Follower(Watch(), tmp_path, pattern="ns.log", on_finding=seen.append)
    log = tmp_path / "ns.log"
    first = login(0, "1", "ann@om.nl", "198.51.100.7").encode("latin-1")
    log.write_bytes(first + b"z" * (HUGE // 2))  # the huge line is still being written
    read, peak = _peak(follower.poll)
    assert read == 1 and peak < 16 * MAX_LINE
    after = probe(1).encode("latin-1")
    with log.open("ab") as fh:
        fh.write(b"z" * (HUGE // 2) + b"\n" + after)
    read, peak = _peak(follower.poll)
    assert read == 2 and peak < 16 * MAX_LINE
    [finding] = [f for f in seen if f.rule == "cb2-aaa-leaked-bytes"]
    assert str(finding.evidence[0]) == f"{log}:{len(first) + HUGE + 1}"
    assert follower.poll() == 0
