"""One large plain log file scanned in several processes, with the result of one scan
(decision 0012, "one large file").

The file is cut at line starts into as many ranges as there are workers. This process scans
the first range with the watch itself; each other range is scanned in a spawned process by a
:class:`PartWatch`, which keeps what the merge needs to give the very result a scan line by line
gives:

- its findings in line order; what depends on lines before the range is not decided there but
  handed over: the logins and failed logins (the many-accounts window is replayed here), the
  first line with a time per host (silence across the cut), the first sequence number per
  packet engine (numbers going back across the cut), which sessions it saw log in or out, and
  who each login was for;
- its sessions, merged into the ledger key by key (first and last seen, addresses and agents
  in the order first seen, bytes and targets added up).

Silence is measured from the latest time seen per host: a silence the worker found from a
time earlier than the latest before its range is measured again from that one (or dropped),
and its range's first line per host is checked against it. Ranges are merged in file order.
When a worker fails or dies, this process scans its range itself, so the result is the same;
so too when it hangs: a worker whose range has not moved for ``STALL_S`` seconds while this
process waits for it (a stopped process, a read that does not return) is killed.
"""

from __future__ import annotations

import array
import itertools
import math
import multiprocessing
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ketenherstel.gateway.parse import Event, LineParser
from ketenherstel.gateway.watch import (
    _KEEP_UNPARSED,
    _LOGIN_KINDS,
    _MAX_JUMPS,
    AsnLookup,
    Evidence,
    Finding,
    GatewayInputError,
    Matcher,
    RulesOrigin,
    SequenceSteps,
    Session,
    Watch,
    _account_key,
    _items,
    bounded_lines,
    is_gzip,
    rules_from,
    session_key,
)

__all__ = ["PartWatch", "scan_split", "split_at", "splits"]

SPLIT_MIN_BYTES = 64 * 2**20  # a smaller file is scanned in one process
_TICK_BYTES = 4 * 2**20
_SLICE = 20_000  # sessions a worker sends at once
_JOIN_S = 10.0  # how long the end of a worker that answered (or was killed) is waited for
STALL_S = 120.0
"""How long this process waits for a worker that neither reads on (its progress, every
``_TICK_BYTES``) nor sends, before it kills it and scans its range itself."""
# The range scanned here is this much longer than a worker's: a worker also starts a Python,
# reads the rules again and pickles its part (on the 10,000,000-line benchmark it spent about
# 15 % more CPU per byte than this process).
_HEAD = 1.15

# Within one line, the order in which `Watch.feed` makes findings: silence, sequence, then the
# line rules and indicators (in their own order), then many accounts.
_RANK_SILENCE, _RANK_SEQUENCE, _RANK_RULES, _RANK_ACCOUNTS = 0, 1, 2, 3


def split_at(path: Path, parts: int, head: float = 1.0) -> list[tuple[int, int]]:
    """[start, end) byte ranges of ``path``, each beginning at a line's start: the first
    ``head`` times as long as each of the others."""
    size = path.stat().st_size
    bounds = [0]
    with path.open("rb") as fh:
        for k in range(1, parts):
            fh.seek(int(size * (head + k - 1) / (head + parts - 1)))
            next(bounded_lines(fh), None)  # on to the next line's start
            at = fh.tell()
            if bounds[-1] < at < size:
                bounds.append(at)
    bounds.append(size)
    return list(itertools.pairwise(bounds))


def splits(path: Path, workers: int, watch: Watch) -> list[tuple[int, int]]:
    """The ranges to scan ``path`` in: one, unless the file is plain, large, more than one
    worker is asked for, this process may start others, and the watch's rules can be read
    again in another process."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise GatewayInputError(f"{path}: {exc.strerror or exc}") from None
    if (
        workers <= 1
        or size < SPLIT_MIN_BYTES
        or watch.rules.origin is None
        or multiprocessing.current_process().daemon  # which may not start processes
        or is_gzip(path)
    ):
        return [(0, size)]
    return split_at(path, workers, _HEAD)


@dataclass(slots=True)
class Part:
    """What a range's scan hands over (see the module's description)."""

    start: int
    end: int
    lines: int = 0
    events: int = 0
    unparsed: int = 0
    unparsed_kept: list[tuple[str, int, str]] = field(default_factory=list)
    unparsed_at: dict[str, array.array[int]] = field(default_factory=dict)
    span: tuple[tuple[float, Evidence], tuple[float, Evidence]] | None = None
    first: float | None = None
    last: float | None = None
    findings: list[Finding] = field(default_factory=list)
    probes: list[Finding] = field(default_factory=list)
    sessions: dict[tuple[str, str], Session] = field(default_factory=dict)
    logged_in: set[tuple[str, str]] = field(default_factory=set)
    logged_out: set[tuple[str, str]] = field(default_factory=set)
    logins: list[tuple[tuple[str, str], str, str]] = field(default_factory=list)
    """(session, client address, the session's user there) of each login, in line order"""
    accounts: list[tuple[float, str, str, Evidence]] = field(default_factory=list)
    first_time: dict[str, tuple[float, Evidence]] = field(default_factory=dict)
    last_time: dict[str, tuple[float, Evidence]] = field(default_factory=dict)
    first_seq: dict[tuple[str, str, str], tuple[int, Evidence, float | None, str]] = field(
        default_factory=dict
    )
    last_seq: dict[tuple[str, str, str], tuple[int, Evidence]] = field(default_factory=dict)
    ranks: dict[int, int] = field(default_factory=dict)
    """finding index -> its rank within its line, for the silences and sequence findings"""
    silences: dict[int, tuple[str, tuple[float, Evidence], float, Evidence]] = field(
        default_factory=dict
    )
    """finding index -> (host, latest time before, the line's time, the line) of a silence"""
    seq_stats: dict[tuple[str, str, str], SequenceSteps] = field(default_factory=dict)
    """the sequence's steps on each packet engine within the range"""


class PartWatch(Watch):
    """A watch over one range that is not the file's first: it leaves to the merge what
    depends on the lines before it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.part_accounts: list[tuple[float, str, str, Evidence]] = []
        self.first_time: dict[str, tuple[float, Evidence]] = {}
        self.first_seq: dict[tuple[str, str, str], tuple[int, Evidence, float | None, str]] = {}
        self.logged_in: set[tuple[str, str]] = set()
        self.logged_out: set[tuple[str, str]] = set()
        self.logins: list[tuple[tuple[str, str], str, str]] = []
        self.ranks: dict[int, int] = {}
        self.silences: dict[int, tuple[str, tuple[float, Evidence], float, Evidence]] = {}

    def _account(self, at: float, user: str, address: str, ev: Evidence) -> Finding | None:
        self.part_accounts.append((at, user, address, ev))
        return None  # decided in the merge, with the window before the range

    def _silence(self, e: Event, ev: Evidence) -> None:
        assert e.at is not None
        if e.host not in self.first_time:
            self.first_time[e.host] = (e.at, ev)
        last = self.last_time.get(e.host)
        made = len(self.result.findings)
        super()._silence(e, ev)
        if len(self.result.findings) > made:
            assert last is not None
            self.ranks[made] = _RANK_SILENCE
            self.silences[made] = (e.host, last, e.at, ev)

    def _sequence(self, e: Event, ev: Evidence) -> None:
        key = (e.file, e.host, e.ppe)
        if key not in self.first_seq:
            assert e.seq is not None
            self.first_seq[key] = (e.seq, ev, e.at, e.ppe)
        made = len(self.result.findings)
        super()._sequence(e, ev)
        self.ranks.update(dict.fromkeys(range(made, len(self.result.findings)), _RANK_SEQUENCE))

    def _session(self, e: Event, ev: Evidence, sid: str, address: str) -> None:
        super()._session(e, ev, sid, address)
        key = session_key(sid, e.fields.get("Context", ""))
        if e.kind in _LOGIN_KINDS:
            self.logged_in.add(key)
            self.logins.append((key, address, self.result.sessions[key].user))
        if e.kind.endswith("LOGOUT"):
            self.logged_out.add(key)

    def part(self, start: int, end: int) -> Part:
        r = self.result
        return Part(
            start,
            end,
            r.lines,
            r.events,
            r.unparsed,
            r.unparsed_kept,
            r.unparsed_at,
            self.spans[0] if self.spans else None,
            r.first,
            r.last,
            r.findings,
            self.probes,
            r.sessions,
            self.logged_in,
            self.logged_out,
            self.logins,
            self.part_accounts,
            self.first_time,
            self.last_time,
            self.first_seq,
            self.last_seq,
            self.ranks,
            self.silences,
            seq_stats=self.seq_stats,
        )


# -- in a worker process --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Spec:
    """What a worker needs to make the same watch (the rules as texts, see Rules.origin)."""

    rules: RulesOrigin
    allow: tuple[str, ...]
    kill_time: float | None
    indicators: Matcher | None
    asn: AsnLookup | None


def _worker(
    spec: _Spec, path: str, start: int, end: int, date_order: str, done: Any, conn: Connection
) -> None:
    """Scan one range and send its part; or ("error", why) for bad input, ("failed", why)
    for anything else (the parent then scans the range itself)."""
    # Ctrl-C reaches the whole process group: the parent stops, and stops its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        watch = PartWatch(
            rules_from(spec.rules),
            allow=spec.allow,
            kill_time=spec.kill_time,
            indicators=spec.indicators,
            asn=spec.asn,
        )
        reported = [start]

        def tick(at: int) -> None:
            if at - reported[0] >= _TICK_BYTES:
                with done.get_lock():
                    done.value += at - reported[0]
                reported[0] = at

        items = _items(Path(path), LineParser(date_order), start, end, tick)
        watch._ingest(path, items, date_order)
        part = watch.part(start, end)
        # The sessions (most of a part) go in slices, so that neither side holds the whole
        # ledger pickled at once.
        sessions, part.sessions = part.sessions, {}
        conn.send(("part", part))
        while sessions:
            conn.send(("sessions", [sessions.popitem() for _ in range(min(len(sessions), _SLICE))]))
        conn.send(("end", None))
    except GatewayInputError as exc:
        conn.send(("error", str(exc)))
    except Exception as exc:  # the parent must hear of it, not wait
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


# -- in the parent --------------------------------------------------------------------------


@dataclass(slots=True)
class _File:
    """The file's entry in the result's files, and where its span is in the watch's spans."""

    entry: dict[str, Any]
    span: int | None


def scan_split(
    watch: Watch,
    path: Path,
    parser: LineParser,
    ranges: Sequence[tuple[int, int]],
    progress: Callable[[int, int], None] | None,
) -> None:
    """Scan ``path`` in ``ranges``: the first here, the others in worker processes, merged in
    order into ``watch`` (see the module's description)."""
    assert watch.rules.origin is not None
    total = path.stat().st_size
    spec = _Spec(
        watch.rules.origin, watch.allow_given, watch.kill_time, watch.indicators, watch.asn
    )
    context = multiprocessing.get_context("spawn")
    done = [context.Value("q", 0) for _ in ranges[1:]]  # bytes each worker scanned
    here = [0]  # bytes scanned in this process

    def report(scanned: int) -> None:
        if progress is not None:
            progress(min(total, here[0] + scanned + sum(d.value for d in done)), total)

    workers: list[tuple[Any, Connection] | None] = []  # None: it did not start
    try:
        for (start, end), counter in zip(ranges[1:], done, strict=True):
            workers.append(_start(context, spec, path, (start, end), parser.date_order, counter))
        file = _scan_here(watch, path, parser, ranges[0], None, report, here)
        for (start, end), worker, counter in zip(ranges[1:], workers, done, strict=True):
            answer: tuple[str, Any] = ("failed", "not started")
            if worker is not None:
                answer = _receive(worker[1], _Stall(worker[0], counter, STALL_S))
                if answer == ("failed", _STALLED):
                    worker[0].kill()  # a stopped process too
                # One stuck in the kernel (a hard NFS mount) may not die at once: not waited for.
                worker[0].join(timeout=_JOIN_S)
            kind, value = answer
            if kind == "error":
                raise GatewayInputError(value)
            if kind == "part":
                _merge(watch, value, file)
            else:  # it failed: the range is scanned here
                _scan_here(watch, path, parser, (start, end), file, report, here)
    finally:
        for child, conn in filter(None, workers):
            conn.close()
            if child.is_alive():
                child.kill()
                child.join()
    if progress is not None:
        progress(total, total)


def _start(
    context: Any, spec: _Spec, path: Path, span: tuple[int, int], date_order: str, done: Any
) -> tuple[Any, Connection] | None:
    """A worker for one range and the end of its pipe; None when no process could be
    started (the range is then scanned here)."""
    mine, theirs = context.Pipe(duplex=False)
    child = context.Process(
        target=_worker, args=(spec, str(path), *span, date_order, done, theirs), daemon=True
    )
    try:
        child.start()
    except OSError:  # no process to be had (a limit on processes or memory)
        mine.close()
        return None
    finally:
        theirs.close()
    return child, mine


_STALLED = "no progress"


class _Stalled(Exception):
    """A worker stopped moving (see `_Stall`)."""


@dataclass(slots=True)
class _Stall:
    """Tells a worker that hangs from one that works: its progress counter, watched while this
    process waits for its answer."""

    child: Any
    counter: Any
    limit: float
    seen: int = -1
    since: float = 0.0

    def wait(self, conn: Connection) -> bool:
        """True once ``conn`` has something to read (or the worker ended); False when the
        worker has not moved for ``limit`` seconds."""
        self.since = time.monotonic()
        while not conn.poll(min(1.0, self.limit)):
            if not self.child.is_alive():
                return True  # what it sent, or EOF
            now = time.monotonic()
            if self.counter.value != self.seen:
                self.seen, self.since = self.counter.value, now
            elif now - self.since >= self.limit:
                return False
        return True


def _receive(conn: Connection, stall: _Stall | None = None) -> tuple[str, Any]:
    """A worker's answer: ("part", its part with its sessions), ("error", why) or ("failed",
    why), also when it died before the end or (with ``stall``) stopped moving."""

    def recv() -> Any:
        if stall is not None and not stall.wait(conn):
            raise _Stalled
        return conn.recv()

    try:
        kind, value = recv()
        if kind != "part":
            return kind, value
        sliced: list[tuple[tuple[str, str], Session]] = []
        while (message := recv())[0] == "sessions":
            sliced += message[1]
    except (EOFError, OSError):  # the worker died
        return "failed", "no answer"
    except _Stalled:
        return "failed", _STALLED
    if message[0] != "end":  # it failed while sending
        return message[0], message[1]
    # Sent last first (popitem): their order, the order in which the worker first saw them, back.
    value.sessions = dict(reversed(sliced))
    return kind, value


def _scan_here(
    watch: Watch,
    path: Path,
    parser: LineParser,
    span: tuple[int, int],
    file: _File | None,
    report: Callable[[int], None],
    here: list[int],
) -> _File:
    """Scan one range in this process; its counts and moments go into the file's (``file``,
    from an earlier range, if given)."""
    start, end = span
    spans = len(watch.spans)
    items = _items(path, parser, start, end, lambda at: report(at - start))
    watch._ingest(str(path), items, parser.date_order)
    here[0] += end - start
    report(0)
    added = watch.result.files.pop()
    timed = watch.spans.pop() if len(watch.spans) > spans else None
    if file is None:
        if parser.assumed:
            added["dateOrderAssumed"] = True
        watch.result.files.append(added)
        file = _File(added, None)
    else:
        for key in ("lines", "events", "unparsed"):
            file.entry[key] += added[key]
    if timed is not None:
        _add_span(watch, file, timed)
    return file


def _add_span(
    watch: Watch, file: _File, span: tuple[tuple[float, Evidence], tuple[float, Evidence]]
) -> None:
    """A later range's first and last moment: the file's span runs on to its last (or it is
    the file's first)."""
    if file.span is None:
        file.span = len(watch.spans)
        watch.spans.append(span)
    else:
        watch.spans[file.span] = (watch.spans[file.span][0], span[1])


def _merge(watch: Watch, part: Part, file: _File) -> None:
    """Add a part scanned elsewhere to the watch, as if its lines had been fed here."""
    r = watch.result
    r.lines += part.lines
    r.events += part.events
    r.unparsed += part.unparsed
    r.unparsed_kept += part.unparsed_kept[: max(0, _KEEP_UNPARSED - len(r.unparsed_kept))]
    for name, offsets in part.unparsed_at.items():
        r.unparsed_at.setdefault(name, array.array("q")).extend(offsets)
    file.entry["lines"] += part.lines
    file.entry["events"] += part.events
    file.entry["unparsed"] += part.unparsed
    if part.span is not None:
        _add_span(watch, file, part.span)
    if part.first is not None:
        r.first = part.first if r.first is None else min(r.first, part.first)
    if part.last is not None:
        r.last = part.last if r.last is None else max(r.last, part.last)

    # Findings in line order: (line, rank within the line, order made, finding).
    placed: list[tuple[int, int, int, Finding]] = []
    for i, found in enumerate(part.findings):
        f = _silence_seen_here(watch, part.silences[i], found) if i in part.silences else found
        if f is not None:
            placed.append((f.evidence[-1].offset, part.ranks.get(i, _RANK_RULES), i, f))
    for host, (at, ev) in part.first_time.items():
        last = watch.last_time.get(host)
        if last is not None and at - last[0] > watch._silence_s:
            placed.append((ev.offset, _RANK_SILENCE, -1, watch.silence_finding(host, last, at, ev)))
        if last is None or part.last_time[host][0] >= last[0]:
            watch.last_time[host] = part.last_time[host]
    for engine, (seq, ev, when, ppe) in part.first_seq.items():
        before = watch.last_seq.get(engine)
        if before is not None and seq < before[0] - 1000:
            finding = watch.sequence_finding(ppe, before, seq, when, ev)
            placed.append((ev.offset, _RANK_SEQUENCE, -1, finding))
        if before is not None:  # the step across the ranges' border
            watch.count_step(engine, before, seq, ev, when, ppe)
        watch.last_seq[engine] = part.last_seq[engine]
    for engine, steps in part.seq_stats.items():
        counted = watch.seq_stats.setdefault(engine, SequenceSteps())
        counted.steps += steps.steps
        counted.units += steps.units
        counted.jumps += steps.jumps[: max(0, _MAX_JUMPS - len(counted.jumps))]
    for i, (moment, user, address, ev) in enumerate(part.accounts):  # the window, replayed
        if (many := watch._account(moment, user, address, ev)) is not None:
            placed.append((ev.offset, _RANK_ACCOUNTS, i, many))
    placed.sort(key=lambda x: x[:3])
    r.findings += [f for *_, f in placed]
    watch.probes += part.probes

    for key, address, user in part.logins:  # whose login it was: the user known by then
        known = r.sessions.get(key)
        who = known.user if known is not None and known.user else user
        net = watch._login_network(address)
        if net is not None and who:
            watch.login_networks[_account_key(who)].add(net)
    for key, s in part.sessions.items():
        mine = r.sessions.get(key)
        if mine is None:
            r.sessions[key] = s
        else:
            _merge_session(
                mine, s, key in part.logged_in, key in part.logged_out, watch._logout_grace
            )


def _silence_seen_here(
    watch: Watch,
    silence: tuple[str, tuple[float, Evidence], float, Evidence],
    finding: Finding,
) -> Finding | None:
    """A silence the worker found, as the lines before the part change it: measured from the
    latest time before the part when that is later than the worker's (the log went back in
    time across the cut), which may leave no silence at all."""
    host, last, at, ev = silence
    before = watch.last_time.get(host)
    if before is None or last[0] >= before[0]:
        return finding
    return (
        watch.silence_finding(host, before, at, ev) if at - before[0] > watch._silence_s else None
    )


def _merge_session(
    mine: Session, s: Session, logged_in: bool, logged_out: bool, grace: float
) -> None:
    """A session seen before the part and in it: as if the part's lines had been fed to it."""
    mine.events += s.events
    mine.user = mine.user or s.user
    if s.first_seen is not None:
        if mine.first_seen is None or s.first_seen < mine.first_seen:
            mine.first = s.first  # the session's first line in time, as one process has it
        mine.first_seen = (
            s.first_seen if mine.first_seen is None else min(mine.first_seen, s.first_seen)
        )
    if s.last_seen is not None:
        if mine.last_seen is None or s.last_seen > mine.last_seen:
            mine.last, mine.last_address = s.last, s.last_address
        mine.last_seen = s.last_seen if mine.last_seen is None else max(mine.last_seen, s.last_seen)
    if logged_in:
        mine.login_at = s.login_at
    if logged_out and (
        mine.logout_at is None or (s.logout_at is not None and s.logout_at < mine.logout_at)
    ):
        mine.logout_at, mine.logout = s.logout_at, s.logout  # the first in time, as one process
    if s.after_logout is not None and (
        mine.after_logout is None or s.after_logout[0] < mine.after_logout[0]
    ):
        mine.after_logout = s.after_logout
    elif (
        mine.logout_at is not None
        and s.first_seen is not None
        and s.first is not None
        and s.first_seen > mine.logout_at + grace
        and (mine.after_logout is None or s.first_seen < mine.after_logout[0])
    ):  # the part did not know the logout: its first line is the first use past it
        first = s.ordered_addresses()
        mine.after_logout = (s.first_seen, s.first, first[0] if first else "")
    for address, ev in s.addresses.items():
        at = s.address_at.get(address)
        if address not in mine.addresses:
            mine.addresses[address] = ev
            if at is not None:
                mine.address_at[address] = at
        elif at is not None and at < mine.address_at.get(address, math.inf):
            mine.addresses[address] = ev  # seen earlier in the later part, as one process does
            mine.address_at[address] = at
    for address, asn in s.asns.items():
        mine.asns.setdefault(address, asn)
    for agent, ev in s.user_agents.items():
        seen = s.agent_at.get(agent, (None, ""))
        if agent not in mine.user_agents or (
            seen[0] is not None and seen[0] < (mine.agent_at[agent][0] or math.inf)
        ):  # the first in time, as one process has it
            mine.user_agents[agent] = ev
            mine.agent_at[agent] = seen
    mine.bytes_sent += s.bytes_sent
    mine.bytes_received += s.bytes_received
    for target, n in s.reached.items():
        mine.reached[target] = mine.reached.get(target, 0) + n
