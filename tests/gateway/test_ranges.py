"""One large file scanned in several processes gives what a scan line by line gives (issue 6's
speed work, gateway/ranges.py): on mixed logs with attacks, across every cut, when the log
goes back in time across a cut, and when a worker dies (SIGKILL), hangs (SIGSTOP) or cannot
start."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ketenherstel.gateway import ranges
from ketenherstel.gateway import watch as watch_mod
from ketenherstel.gateway.parse import Event
from ketenherstel.gateway.watch import Finding, Rules, Watch, load_rules
from tests.gateway.lines import access_probe, connstat, login, ns, probe, request

KILL = 1752157800.0  # 2025-07-10 14:30 UTC, the lines' T0 plus 390 minutes


def _mixed_log(seed: int, sessions: int = 400) -> list[str]:
    """Ordinary sessions from two hosts with attacks in between: probes, a replay from
    elsewhere, a hijack, a spray, a session outliving the kill, a silence, sequence numbers
    going back, a forged header, unparsed and empty lines."""
    rng = random.Random(seed)
    out: list[str] = []
    minute = 0.0
    for n in range(sessions):
        minute += rng.uniform(0.2, 2.0)
        sid = str(10_000 + n)
        person = rng.randrange(60)
        user = f"u{person}@org{person % 3}.example"
        ip = f"198.51.{person // 20}.{1 + person % 20}"
        host = "gw1" if n % 3 else "gw2"
        if n == 20:
            kept = (sid, user, ip)  # used again after the kill
        out.append(login(minute, sid, user, ip).replace(" gw1 ", f" {host} "))
        for k in range(3 if n == 150 else rng.randrange(1, 5)):
            moved = "203.0.113.50" if n == 150 and k >= 1 else ip
            out.append(request(minute + k * 0.1, sid, user, ip))
            out.append(connstat(minute + k * 0.1, sid, user, ip, moved, f"10.0.0.{k}:3389"))
        if n == 100:
            out += [probe(minute + 0.5), access_probe(minute + 0.6, "192.0.2.66")]
            out.append(request(minute + 1.0, "777", "victim@org1.example", "203.0.113.77"))
        if n == 200:
            out += [
                ns(minute + 0.1 * i, "AAA LOGIN_FAILED", f"User s{i}@x - Client_ip 203.0.113.9")
                for i in range(7)
            ]
        if n == 250:
            minute += 300  # a silence of five hours
        if n == 300:
            out.append(ns(minute, "SSLVPN LOGOUT", "User x - Client_ip 1.2.3.4", seq=5))
        if n == 320:
            out.append(
                ns(
                    minute,
                    "SSLVPN LOGOUT",
                    'User "07/10/2025:08:00:00 GMT h 0-PPE-0 : default SSLVPN LOGIN 12"',
                )
            )
        if n % 97 == 0:
            out += ["this is no NetScaler line\n", "\n"]
    out.append(request(minute + 600, *kept))
    return out


def _write(path: Path, lines: list[str]) -> Path:
    path.write_bytes("".join(lines).encode("latin-1"))
    return path


def _outcome(watch: Watch) -> dict[str, Any]:
    r = watch.finish()
    return {
        "findings": [f.to_json() for f in r.findings],
        "sessions": [s.to_json() for s in r.sessions.values()],
        "first_evidence": [str(s.first) for s in r.sessions.values()],
        "counts": (r.lines, r.events, r.unparsed, r.first, r.last),
        "kept": r.unparsed_kept,
        "files": r.files,
        "spans": watch.spans,
        "probes": [f.to_json() for f in watch.probes],
    }


def _scan(paths: list[Path], workers: int, **kw: Any) -> dict[str, Any]:
    watch = Watch(load_rules(), kill_time=KILL, **kw)
    for path in paths:
        watch.scan_file(path, workers=workers)
    return _outcome(watch)


@pytest.fixture
def split_small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ranges, "SPLIT_MIN_BYTES", 0)


@pytest.fixture
def merged(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The start of each range a worker scanned and this process merged (not scanned again
    here: a parity test that passed only because every worker failed would prove nothing)."""
    starts: list[int] = []
    real = ranges._merge

    def spy(watch: Watch, part: Any, file: Any) -> None:
        starts.append(part.start)
        real(watch, part, file)

    monkeypatch.setattr(ranges, "_merge", spy)
    return starts


@pytest.mark.usefixtures("split_small")
@pytest.mark.parametrize(("seed", "workers"), [(1, 2), (2, 3), (3, 4)])
def test_a_split_scan_gives_what_a_line_by_line_scan_gives(
    tmp_path: Path, seed: int, workers: int, merged: list[int]
) -> None:
    log = _write(tmp_path / "ns.log", _mixed_log(seed))
    alone = _scan([log], 1)
    split = _scan([log], workers)
    assert split == alone
    assert len(merged) == workers - 1
    rules = {f["rule"] for f in alone["findings"]}
    assert {"session-hijack", "log-silence", "many-accounts", "log-sequence-back"} <= rules
    assert {"cb2-aaa-leaked-bytes", "log-poisoning-fake-header", "session-after-kill"} <= rules


@pytest.mark.usefixtures("split_small")
def test_every_cut_gives_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, merged: list[int]
) -> None:
    """A cut after each line of a short log that has a silence, a spray, numbers going back
    and a session whose agent changes, all near each other."""
    lines = [
        login(0, "1", "a@x", "198.51.100.1"),
        request(1, "1", "a@x", "198.51.100.1"),
        *[ns(2, "AAA LOGIN_FAILED", f"User s{i}@x - Client_ip 203.0.113.9") for i in range(3)],
        *[ns(30, "AAA LOGIN_FAILED", f"User t{i}@x - Client_ip 203.0.113.9") for i in range(3)],
        ns(200, "SSLVPN LOGOUT", "User a@x - Client_ip 1.2.3.4", seq=3),
        login(202, "1", "a@x", "198.51.100.1", agent="curl/8"),
        connstat(203, "1", "a@x", "198.51.100.1", "203.0.113.5", "10.0.0.1:22"),
    ]
    log = _write(tmp_path / "ns.log", lines)
    alone = _scan([log], 1)
    assert {"log-silence", "many-accounts", "log-sequence-back", "session-hijack"} <= {
        f["rule"] for f in alone["findings"]
    }
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line.encode("latin-1")))
    for cut in starts[1:-1]:
        size = starts[-1]
        monkeypatch.setattr(
            ranges, "split_at", lambda path, parts, head=1.0, c=cut, s=size: [(0, c), (c, s)]
        )
        assert _scan([log], 2) == alone, f"cut at byte {cut}"
        assert merged[-1] == cut


@pytest.mark.usefixtures("split_small")
def test_a_log_going_back_in_time_across_the_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, merged: list[int]
) -> None:
    """After the cut the log starts two hours earlier (as a second packet engine's lines may).
    The worker finds silences from minute 20 on both hosts; before the cut both went on to 150:
    on gw1 the silence 20-160 is none (150-160), on gw2 the one 20-300 is one from 150."""

    def on(host: str, minute: int) -> str:
        return login(minute, f"{host}-{minute}", "a@x", "198.51.100.1").replace(
            " gw1 ", f" {host} "
        )

    first = [on("gw1", 0), on("gw2", 0), on("gw1", 150), on("gw2", 150)]
    second = [on("gw1", 20), on("gw2", 20), on("gw1", 160), on("gw2", 300)]
    log = _write(tmp_path / "ns.log", first + second)
    cut = len("".join(first).encode("latin-1"))
    size = log.stat().st_size
    monkeypatch.setattr(ranges, "split_at", lambda path, parts, head=1.0: [(0, cut), (cut, size)])
    alone = _scan([log], 1)
    assert _scan([log], 2) == alone
    assert merged == [cut]
    silences = [f["detail"] for f in alone["findings"] if f["rule"] == "log-silence"]
    assert silences == [
        "from 2025-07-10T08:00:00+00:00 to 2025-07-10T10:30:00+00:00",  # gw1
        "from 2025-07-10T08:00:00+00:00 to 2025-07-10T10:30:00+00:00",  # gw2
        "from 2025-07-10T10:30:00+00:00 to 2025-07-10T13:00:00+00:00",  # gw2
    ]


class _Unpicklable:
    """Indicators that cannot be rebuilt in a worker: its process fails before it scans."""

    def findings_for(self, e: Event, address: str) -> list[Finding]:
        return []

    def __len__(self) -> int:
        return 1

    def __reduce__(self) -> Any:
        return (_refuse, ())


def _refuse() -> None:
    raise RuntimeError("not in a worker")


@pytest.mark.usefixtures("split_small")
def test_a_worker_that_cannot_start_leaves_its_range_to_this_process(tmp_path: Path) -> None:
    log = _write(tmp_path / "ns.log", _mixed_log(4, sessions=150))
    indicators: Any = _Unpicklable()
    assert _scan([log], 2, indicators=indicators) == _scan([log], 1, indicators=indicators)


@pytest.mark.usefixtures("split_small")
def test_a_worker_killed_mid_scan_leaves_its_range_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL to the worker while this process scans its own range (the first progress
    report, after 100 lines)."""
    monkeypatch.setattr(watch_mod, "_TICK_LINES", 100)
    log = _write(tmp_path / "ns.log", _mixed_log(5, sessions=3000))
    alone = _scan([log], 1)
    first_range = ranges.split_at(log, 2, ranges._HEAD)[0][1]
    killed: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        for child in multiprocessing.active_children():
            if child.pid is not None and child.pid not in [pid for pid, _ in killed]:
                os.kill(child.pid, signal.SIGKILL)
                killed.append((child.pid, done))

    watch = Watch(load_rules(), kill_time=KILL)
    watch.scan_file(log, workers=2, progress=progress)
    assert killed and killed[0][1] < first_range, "killed while this process scanned its own"
    assert _outcome(watch) == alone


@pytest.mark.usefixtures("split_small")
def test_a_worker_that_hangs_is_killed_and_its_range_scanned_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGSTOP to the worker as it starts: it neither reads on nor answers. This process
    scans its own range, waits STALL_S for the worker, kills it and scans its range itself."""
    monkeypatch.setattr(ranges, "STALL_S", 1.0)
    log = _write(tmp_path / "ns.log", _mixed_log(6, sessions=400))
    alone = _scan([log], 1)
    stopped: list[Any] = []
    real = ranges._start

    def start_stopped(*args: Any) -> Any:
        worker = real(*args)
        assert worker is not None
        os.kill(worker[0].pid, signal.SIGSTOP)
        stopped.append(worker[0])
        return worker

    monkeypatch.setattr(ranges, "_start", start_stopped)
    began = time.monotonic()
    watch = Watch(load_rules(), kill_time=KILL)
    watch.scan_file(log, workers=2)
    assert len(stopped) == 1 and not stopped[0].is_alive()
    assert stopped[0].exitcode == -signal.SIGKILL
    assert time.monotonic() - began >= 1.0, "it waited for the worker first"
    assert _outcome(watch) == alone


def test_a_worker_that_reads_on_slowly_is_not_taken_for_hung(tmp_path: Path) -> None:
    """The stall clock starts again whenever the worker's progress moves."""
    context = multiprocessing.get_context("spawn")
    counter = context.Value("q", 0)
    mine, theirs = context.Pipe(duplex=False)

    class Alive:
        def is_alive(self) -> bool:
            return True

    stall = ranges._Stall(Alive(), counter, 2.0)
    sender = threading.Thread(target=_slowly, args=(counter, theirs))
    sender.start()
    try:
        assert stall.wait(mine)  # 3 s in all, moving every 0.2 s
        assert mine.recv() == ("failed", "done")
        assert not stall.wait(mine)  # nothing moves any more
    finally:
        sender.join()


def _slowly(counter: Any, conn: Any) -> None:
    for _ in range(15):
        time.sleep(0.2)
        counter.value += 1
    conn.send(("failed", "done"))


def test_a_worker_reports_bad_input_and_failures(tmp_path: Path) -> None:
    """A worker sends ("error", why) for bad input, which the scan raises, and ("failed",
    why) for anything else, after which the scan takes the range itself."""
    spec = ranges._Spec(load_rules().origin or (None, ()), (), None, None, None)
    log = _write(tmp_path / "ns.log", _mixed_log(12, sessions=30))
    for path, order, kind, says in (
        (tmp_path / "gone.log", "mdy", "error", "gone.log"),
        (log, "ydm", "failed", "ValueError: date order is mdy or dmy, not 'ydm'"),
    ):
        mine, theirs = multiprocessing.Pipe(duplex=False)
        ranges._worker(spec, str(path), 10, 20, order, multiprocessing.Value("q", 0), theirs)
        got, why = mine.recv()
        assert got == kind and says in why


@pytest.mark.usefixtures("split_small")
def test_several_files_with_a_split_one_among_them(tmp_path: Path, merged: list[int]) -> None:
    """The split file's entry, span and counts are one, between the other files'."""
    logs = [
        _write(tmp_path / "a.log", _mixed_log(6, sessions=60)),
        _write(tmp_path / "b.log", _mixed_log(7, sessions=200)),
        _write(tmp_path / "c.log", _mixed_log(8, sessions=60)),
    ]
    alone = _scan(logs, 1)
    assert _scan(logs, 2) == alone
    assert len(merged) == 3
    assert [f["file"] for f in alone["files"]] == [str(p) for p in logs]


def test_which_files_are_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    plain = _write(tmp_path / "ns.log", _mixed_log(9, sessions=50))
    packed = tmp_path / "ns.log.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    watch = Watch()
    size = plain.stat().st_size
    assert ranges.splits(plain, 2, watch) == [(0, size)]  # under the size a split pays at
    monkeypatch.setattr(ranges, "SPLIT_MIN_BYTES", 0)
    assert len(ranges.splits(plain, 2, watch)) == 2
    assert len(ranges.splits(plain, 1, watch)) == 1
    assert ranges.splits(packed, 2, watch) == [(0, packed.stat().st_size)]
    built = Watch(Rules(load_rules().lines, load_rules().sessions))  # rules made in code
    assert len(ranges.splits(plain, 2, built)) == 1


@pytest.mark.parametrize(("parts", "head"), [(2, 1.0), (3, 1.35), (8, 1.0)])
def test_ranges_start_at_lines_and_cover_the_file(tmp_path: Path, parts: int, head: float) -> None:
    log = _write(tmp_path / "ns.log", _mixed_log(10, sessions=100))
    data = log.read_bytes()
    spans = ranges.split_at(log, parts, head)
    assert spans[0][0] == 0 and spans[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert all(data[start - 1 : start] == b"\n" for start, _ in spans[1:])
    if head > 1 and parts > 2:
        assert spans[0][1] - spans[0][0] > spans[1][1] - spans[1][0]


@pytest.mark.usefixtures("split_small")
def test_progress_runs_up_to_the_file_size(tmp_path: Path) -> None:
    log = _write(tmp_path / "ns.log", _mixed_log(11, sessions=2000))
    seen: list[tuple[int, int]] = []
    Watch().scan_file(log, workers=2, progress=lambda done, total: seen.append((done, total)))
    size = log.stat().st_size
    assert seen[-1] == (size, size)
    assert all(total == size and 0 <= done <= size for done, total in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


@pytest.mark.usefixtures("split_small")
def test_indicators_asns_allowed_networks_and_own_rules_reach_the_worker(
    tmp_path: Path, merged: list[int]
) -> None:
    """Everything the watch was given is used in the worker too: the same indicator matches,
    autonomous systems, cleared networks and findings of the user's own Sigma rule."""
    from ketenherstel.gateway.asn import load_asn_table
    from ketenherstel.gateway.indicators import load_indicators

    iocs = tmp_path / "iocs.csv"
    iocs.write_text("type,value,note\ncidr,203.0.113.0/24,scanner range\nip,192.0.2.66,probe\n")
    table = tmp_path / "asn.csv"
    table.write_text("prefix,asn,name\n198.51.0.0/16,64500,Kantoor\n203.0.113.0/24,64511,VPS\n")
    sigma = tmp_path / "own.yml"
    sigma.write_text(
        "title: Connections to port 3389\nname: own-rdp\n"
        "logsource: {product: citrix, service: netscaler}\n"
        "detection:\n  sel:\n    kind: SSLVPN TCPCONNSTAT\n    Destination|endswith: ':3389'\n"
        "  condition: sel\nlevel: low\n"
    )
    log = _write(tmp_path / "ns.log", _mixed_log(13, sessions=300))

    def run(workers: int) -> dict[str, Any]:
        watch = Watch(
            load_rules(sigma=[sigma]),
            kill_time=KILL,
            allow=["203.0.113.0/28"],
            indicators=load_indicators([iocs]),
            asn=load_asn_table(table),
        )
        watch.scan_file(log, workers=workers)
        return _outcome(watch)

    alone = run(1)
    assert run(2) == alone
    assert len(merged) == 1
    rules = {f["rule"] for f in alone["findings"]}
    assert {"indicator-match", "own-rdp"} <= rules
    assert any(s["asns"] for s in alone["sessions"])


def test_a_part_arrives_in_slices_in_its_order_or_not_at_all() -> None:
    """The sessions come in slices, last first; they are put back in the order the worker first
    saw them. A worker that fails or dies while sending has sent nothing that counts."""
    from ketenherstel.gateway.watch import Session

    keys = [(str(n), f"u{n}") for n in range(5)]

    def send(*messages: tuple[str, Any]) -> tuple[str, Any]:
        mine, theirs = multiprocessing.Pipe(duplex=False)
        for message in messages:
            theirs.send(message)
        theirs.close()
        return ranges._receive(mine)

    sessions = {k: Session(*k) for k in keys}
    popped = [sessions.popitem() for _ in range(5)]
    kind, part = send(
        ("part", ranges.Part(10, 20)), ("sessions", popped[:3]), ("sessions", popped[3:]),
        ("end", None),
    )  # fmt: skip
    assert kind == "part" and list(part.sessions) == keys
    assert send(("part", ranges.Part(10, 20)), ("sessions", popped[:3]), ("failed", "x")) == (
        "failed",
        "x",
    )
    assert send(("part", ranges.Part(10, 20)), ("sessions", popped[:3])) == ("failed", "no answer")
    assert send(("error", "bad input")) == ("error", "bad input")


@pytest.mark.usefixtures("split_small")
def test_no_process_to_be_had_leaves_the_range_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, merged: list[int]
) -> None:
    """Starting a worker fails (a limit on processes): the scan goes on here."""
    from multiprocessing.context import SpawnProcess

    def refuse(self: Any) -> None:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(SpawnProcess, "start", refuse)
    log = _write(tmp_path / "ns.log", _mixed_log(14, sessions=100))
    assert _scan([log], 3) == _scan([log], 1)
    assert merged == []
