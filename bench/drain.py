"""The drain benchmark: a held backlog of 1,000,000 messages to one receiver, drained in order.

The OM (`om`) is unreachable, so an operator holds its channel; police and courts keep sending.
When the OM is back the channel opens and the exchange drains the backlog: most urgent process
first (`golive.priority`), and per case in the order the exchange accepted it. This measures
that drain through the real exchange (`Exchange.pull` + `Exchange.ack`, in process) and checks,
in the same run, that priority order, per-case order and exactly-once delivery were kept.

Side by side in one run:

* the exchange on SQLite (a file in WAL mode, synchronous=FULL) and on PostgreSQL (a fresh
  schema, dropped afterwards);
* bare SQLite: one table, `ORDER BY priority, id`, `DELETE` by id, to show the store's overhead;
* the peer: NATS JetStream, a file-storage stream drained by a durable pull consumer.

Each runs in a fresh (spawned) process, so that its memory figures are its own. Prints a Rich
table and writes `bench/results/drain.json` and a chart of it.

    .venv/bin/python bench/drain.py              # the full run: 1,000,000 messages (~10 min)
    .venv/bin/python bench/drain.py --quick      # 100,000 messages, a couple of minutes
    .venv/bin/python bench/drain.py --profile    # cProfile of the SQLite drain, in process
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import cProfile
import gc
import heapq
import io
import multiprocessing
import os
import pstats
import random
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chart import write_chart
from exchange import _OFFENCES, NATS_URL, PG_DSN, machine_info, open_store, postgres_version
from ketenherstel.chain import Chain, load_chain, source_urn
from ketenherstel.exchange.auth import LOCAL_OPERATOR, Principal
from ketenherstel.exchange.service import Exchange
from ketenherstel.golive.priority import priorities

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "drain.json"

FULL_MESSAGES = 1_000_000
QUICK_MESSAGES = 100_000
BATCH = 1_000  # the pull limit (the exchange's maximum), and JetStream's publishes in flight
# Events per submission. Ingest is reported, not the goal: 5,000 (the limit is 10,000) takes a
# quarter less time than 1,000 and keeps the full run near ten minutes.
SUBMISSION = 5_000
# PostgreSQL: fresh planner statistics when the store holds this many events, and after ingest
ANALYZE_AT = (1_000, 10_000, 100_000)
GOAL_SQLITE = 50_000  # drain msg/s on SQLite, with priority and per-case order kept
RECEIVER = "om"
SENDERS = ("politie", "rechtspraak")
HOLD_REASON = "benchmark: the OM is unreachable; its backlog builds up"
OPEN_REASON = "benchmark: the OM is back; drain the backlog"

# -- the backlog: cases that run through the chain towards the OM ------------------------------

_START = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
_WINDOW_DAYS = 70  # the outage: ten weeks of traffic to the OM
_COURTS = (
    "rechtbank-amsterdam",
    "rechtbank-den-haag",
    "rechtbank-gelderland",
    "rechtbank-midden-nederland",
    "rechtbank-noord-holland",
    "rechtbank-oost-brabant",
    "rechtbank-rotterdam",
)
_HOVEN = ("gerechtshof-amsterdam", "gerechtshof-den-haag", "gerechtshof-arnhem-leeuwarden")


@dataclass(frozen=True, slots=True)
class Case:
    parketnummer: str
    skn: str
    police_case: str
    offences: tuple[tuple[str, str], ...]
    court: str
    detained: bool
    steps: tuple[int, ...]  # indexes into LIFECYCLE, in order
    times: tuple[float, ...]  # when each step happens, in days from the start of the outage


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def _offences(case: Case) -> list[dict[str, str]]:
    return [{"article": a, "category": c} for a, c in case.offences]


def _aanhouding(rng: random.Random, case: Case, at: datetime) -> dict[str, Any]:
    return {
        "policeCaseNumber": case.police_case,
        "parketnummer": case.parketnummer,
        "skn": case.skn,
        "arrestedAt": _iso(at - timedelta(minutes=rng.randint(5, 120))),
        "municipalityCode": f"GM{rng.randint(1, 1999):04d}",
        "offences": _offences(case),
    }


def _inverzekeringstelling(rng: random.Random, case: Case, at: datetime) -> dict[str, Any]:
    ordered = at - timedelta(minutes=rng.randint(5, 60))
    return {
        "policeCaseNumber": case.police_case,
        "parketnummer": case.parketnummer,
        "skn": case.skn,
        "arrestedAt": _iso(ordered - timedelta(hours=rng.randint(3, 9))),
        "orderedAt": _iso(ordered),
        "endsAt": _iso(ordered + timedelta(days=3)),
        "extended": rng.random() < 0.2,
    }


def _proces_verbaal(rng: random.Random, case: Case, at: datetime) -> dict[str, Any]:
    return {
        "policeCaseNumber": case.police_case,
        "parketnummer": case.parketnummer,
        "skn": case.skn,
        "completedAt": _iso(at - timedelta(minutes=rng.randint(5, 600))),
        "offences": _offences(case),
        "suspectDetained": case.detained,
        "victimCount": rng.randint(0, 3),
        "pageCount": rng.randint(2, 60),
    }


def _zitting(rng: random.Random, case: Case, at: datetime) -> dict[str, Any]:
    return {
        "parketnummer": case.parketnummer,
        "court": case.court,
        "chamber": rng.choice(("politierechter", "politierechter", "meervoudige-kamer")),
        "hearingDate": _day(at + timedelta(days=rng.randint(14, 120))),
        "plannedAt": _iso(at),
        "suspectDetained": case.detained,
    }


def _vonnis(rng: random.Random, case: Case, at: datetime) -> dict[str, Any]:
    sanction: dict[str, Any] = rng.choice(
        (
            {"kind": "geldboete", "conditional": False, "amountCents": rng.randint(5, 400) * 1000},
            {"kind": "taakstraf", "conditional": False, "hours": rng.randint(20, 240)},
            {"kind": "gevangenisstraf", "conditional": rng.random() < 0.5, "days": 30},
        )
    )
    return {
        "parketnummer": case.parketnummer,
        "skn": case.skn,
        "court": case.court,
        "judgmentDate": _day(at),
        "verdict": "veroordeling",
        "sanctions": [sanction],
        "signedAt": _iso(at + timedelta(hours=2)),
    }


def _hoger_beroep(rng: random.Random, case: Case, at: datetime) -> dict[str, Any]:
    return {
        "parketnummer": case.parketnummer,
        "skn": case.skn,
        "appellant": rng.choice(("verdachte", "openbaar-ministerie")),
        "judgmentDate": _day(at - timedelta(days=rng.randint(1, 13))),
        "filedAt": _iso(at),
        "courtOfAppeal": rng.choice(_HOVEN),
    }


@dataclass(frozen=True, slots=True)
class Step:
    sender: str
    type: str
    data: Callable[[random.Random, Case, datetime], dict[str, Any]]


# A case's life as the OM sees it: six message types of six processes, from two senders, each
# type with its own go-live priority. Every type here goes to the OM alone.
LIFECYCLE = (
    Step("politie", "nl.strafrechtketen.opsporing.aanhouding-geregistreerd.v1", _aanhouding),
    Step(
        "politie",
        "nl.strafrechtketen.opsporing.inverzekeringstelling-gemeld.v1",
        _inverzekeringstelling,
    ),
    Step("politie", "nl.strafrechtketen.opsporing.proces-verbaal-ingezonden.v1", _proces_verbaal),
    Step("rechtspraak", "nl.strafrechtketen.berechting.zitting-gepland.v1", _zitting),
    Step("rechtspraak", "nl.strafrechtketen.berechting.vonnis-gewezen.v1", _vonnis),
    Step("rechtspraak", "nl.strafrechtketen.berechting.hoger-beroep-ingesteld.v1", _hoger_beroep),
)


def _cases(rng: random.Random, n: int) -> list[Case]:
    """Cases of 3 to 5 steps (4 on average) until they hold `n` events, trimmed to exactly n."""
    cases: list[Case] = []
    # Distinct parketnummers: two cases under one number would be one case to the exchange.
    numbers = iter(rng.sample(range(99 * 1_000_000), n // 3 + 1))
    total = 0
    while total < n:
        k = min(rng.choice((3, 3, 4, 4, 4, 5, 5)), n - total)
        steps = tuple(sorted(rng.sample(range(len(LIFECYCLE)), k)))
        at = rng.uniform(0, _WINDOW_DAYS * 0.9)
        times = []
        for _ in steps:
            times.append(at)
            at += rng.expovariate(1 / 1.5)  # about a day and a half between steps
        v = next(numbers)
        cases.append(
            Case(
                parketnummer=f"{v // 1_000_000 + 1:02d}-{v % 1_000_000:06d}-25",
                skn=f"SKN-{rng.randrange(10**10):010d}",
                police_case=f"PL{rng.randint(1000, 9999)}-{rng.randrange(10**10):010d}",
                offences=tuple(rng.sample(_OFFENCES, rng.choice((1, 1, 1, 2, 3)))),
                court=rng.choice(_COURTS),
                detained=rng.random() < 0.25,
                steps=steps,
                times=tuple(times),
            )
        )
        total += k
    return cases


def write_backlog(chain: Chain, n: int, folder: Path, *, seed: int = 2025) -> dict[str, Any]:
    """Write `n` valid events to `folder/events.jsonl` in the order they are submitted, and
    `folder/meta.json`: the submissions (sender, count) and each event's case.

    Each case's events happen in its own time order; all cases' events are interleaved by time.
    Each sender sends its own events in time order, `SUBMISSION` per submission; the senders'
    submissions interleave by the time of their first event. So the exchange accepts a case's
    events from one sender in that sender's `sequence` order, and the order across senders is
    the order of acceptance.
    """
    rng = random.Random(seed)
    cases = _cases(rng, n)
    happenings = sorted(
        (t, c, s)
        for c, case in enumerate(cases)
        for s, t in zip(case.steps, case.times, strict=True)
    )
    streams: dict[str, list[tuple[float, int, int]]] = {s: [] for s in SENDERS}
    for h in happenings:
        streams[LIFECYCLE[h[2]].sender].append(h)
    del happenings
    chunks = sorted(
        (stream[i][0], sender, i, stream[i : i + SUBMISSION])
        for sender, stream in streams.items()
        for i in range(0, len(stream), SUBMISSION)
    )
    sources = {s: source_urn(chain.partner(s)) for s in SENDERS}
    sequence = dict.fromkeys(SENDERS, 0)
    submissions: list[tuple[str, int]] = []
    case_of: list[int] = []
    size = 0
    with (folder / "events.jsonl").open("wb") as out:
        for _, sender, _, chunk in chunks:
            submissions.append((sender, len(chunk)))
            lines = []
            for t, c, s in chunk:
                step, case = LIFECYCLE[s], cases[c]
                at = _START + timedelta(days=t)
                sequence[sender] += 1
                event = {
                    "specversion": "1.0",
                    "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "source": sources[sender],
                    "type": step.type,
                    "subject": case.parketnummer,
                    "time": _iso(at),
                    "datacontenttype": "application/json",
                    "partitionkey": case.parketnummer,
                    "sequence": str(sequence[sender]),
                    "sequencetype": "Integer",
                    "data": step.data(rng, case, at),
                }
                line = orjson.dumps(event)
                size += len(line)
                lines.append(line)
                case_of.append(c)
            out.write(b"\n".join(lines) + b"\n")
    meta = {
        "messages": n,
        "cases": len(cases),
        "event_bytes_avg": round(size / n, 1),
        "submissions": submissions,
        "case_of": case_of,
    }
    (folder / "meta.json").write_bytes(orjson.dumps(meta))
    return {k: v for k, v in meta.items() if k not in ("submissions", "case_of")}


def _submissions(folder: Path) -> Iterator[tuple[str, list[bytes]]]:
    """The backlog's submissions as they were written: (sender, event lines)."""
    meta = orjson.loads((folder / "meta.json").read_bytes())
    with (folder / "events.jsonl").open("rb") as lines:
        for sender, count in meta["submissions"]:
            yield sender, [next(lines).rstrip(b"\n") for _ in range(count)]


# -- measuring in the scenario's process ---------------------------------------------------------

_COUNTER: Any = None  # messages done in the current phase, for the parent's progress bar
_PHASE: Any = None  # index into PHASES
PHASES = ("load", "ingest", "open", "drain", "verify")
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICK = os.sysconf("SC_CLK_TCK")


def _init_worker(counter: Any, phase: Any) -> None:
    global _COUNTER, _PHASE
    _COUNTER, _PHASE = counter, phase


def _report(phase: str, done: int | None = None) -> None:
    if _PHASE is not None:
        _PHASE.value = PHASES.index(phase)
    if _COUNTER is not None and done is not None:
        _COUNTER.value = done


def _rss(pid: int | str) -> int:
    """Resident set size in bytes (/proc/PID/statm), 0 if the process is gone."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) of another process on this machine, from /proc/PID/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def find_process(name: str) -> int | None:
    """The pid of a local process by its command name (the peer's server), if there is one."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == name:
                    return int(entry.name)
    return None


class RssSampler:
    """Peak resident memory of this process (and of a server process, if given): a thread reads
    /proc/PID/statm every 20 ms. tracemalloc would slow the drain down several times."""

    def __init__(self, server_pid: int | None = None, interval: float = 0.02) -> None:
        self.server_pid = server_pid
        self.interval = interval
        self.start = self.peak = _rss("self")
        self.server_start = self.server_peak = _rss(server_pid) if server_pid else 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        self.peak = max(self.peak, _rss("self"))
        if self.server_pid:
            self.server_peak = max(self.server_peak, _rss(self.server_pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


@dataclass(slots=True)
class Phase:
    """One measured phase: wall and CPU seconds of this process, and of the server if any."""

    msgs: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    server_cpu: float | None = None
    memory: dict[str, float] = field(default_factory=dict)


@contextlib.contextmanager
def timed(phase: Phase, server_pid: int | None = None) -> Iterator[Phase]:
    wall, cpu = time.perf_counter(), time.process_time()
    server = _cpu(server_pid) if server_pid else 0.0
    try:
        yield phase
    finally:
        phase.wall += time.perf_counter() - wall
        phase.cpu += time.process_time() - cpu
        if server_pid:
            phase.server_cpu = (phase.server_cpu or 0.0) + _cpu(server_pid) - server


def _memory(sampler: RssSampler) -> dict[str, float]:
    mib = 2**20
    out = {
        "rss_start_mib": round(sampler.start / mib, 1),
        "rss_peak_mib": round(sampler.peak / mib, 1),
        "rss_growth_mib": round((sampler.peak - sampler.start) / mib, 1),
    }
    if sampler.server_pid:
        out["server_rss_peak_mib"] = round(sampler.server_peak / mib, 1)
        out["server_rss_growth_mib"] = round((sampler.server_peak - sampler.server_start) / mib, 1)
    return out


# -- the exchange ------------------------------------------------------------------------------


@dataclass(slots=True)
class DrainLog:
    """What the drain pulled, in order: compact arrays, so that keeping it costs little."""

    positions: array.array[int] = field(default_factory=lambda: array.array("q"))
    delivery_ids: array.array[int] = field(default_factory=lambda: array.array("q"))
    priorities: array.array[int] = field(default_factory=lambda: array.array("q"))
    batch_ends: array.array[int] = field(default_factory=lambda: array.array("q"))
    not_acked: int = 0


def run_exchange(
    kind: str, folder: Path, batch: int, profile: cProfile.Profile | None = None
) -> dict[str, Any]:
    """Hold `om`, ingest the backlog, open `om`, drain it with pull + ack, verify the order."""
    _report("load")
    chain = load_chain()
    ranks = priorities(chain)
    meta = orjson.loads((folder / "meta.json").read_bytes())
    n = meta["messages"]
    with open_store(kind, folder) as store:
        # As bootstrap() wires it: the go-live priorities of the chain, set on each delivery
        # when it is accepted.
        exchange = Exchange(store=store, chain=chain, priorities=ranks)
        principals: dict[str, Principal] = {}
        for key in (*SENDERS, RECEIVER):
            exchange.register_partner(principal=LOCAL_OPERATOR, key=key)
            principals[key] = Principal(key, "partner", key, "token")
        receiver = principals[RECEIVER]
        server_pid = None
        if kind == "postgres":  # the backend that serves the store's connection
            server_pid = int(store._conn.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[attr-defined]
        exchange.set_channel(
            principal=LOCAL_OPERATOR,
            receiver=RECEIVER,
            sender="*",
            scope="*",
            state="held",
            reason=HOLD_REASON,
        )

        # Ingest: only submit() is timed, not reading and parsing the file.
        _report("ingest", 0)
        ingest = Phase()
        expected = array.array("q")  # the priority of each event, in acceptance order
        positions = array.array("q")  # the position the exchange gave each event
        analyze_at = list(ANALYZE_AT)
        for sender, lines in _submissions(folder):
            events = [orjson.loads(line) for line in lines]
            with timed(ingest, server_pid):
                result = exchange.submit(principal=principals[sender], events=events)
            if result.accepted != len(events):
                raise RuntimeError(f"only {result.accepted} of {len(events)} events accepted")
            expected.extend(ranks.get(e["type"], 0) for e in events)
            positions.extend(o.position for o in result.outcomes)
            ingest.msgs += len(events)
            _report("ingest", ingest.msgs)
            if kind == "postgres" and analyze_at and ingest.msgs >= analyze_at[0]:
                analyze(store)
                analyze_at = [a for a in analyze_at if a > ingest.msgs]
        del events, lines
        if kind == "postgres":
            analyze(store)
        gc.collect()
        held_pull = len(exchange.pull(principal=receiver, limit=batch))

        _report("open", 0)
        opened = Phase(msgs=n)
        with timed(opened, server_pid):
            exchange.set_channel(
                principal=LOCAL_OPERATOR,
                receiver=RECEIVER,
                sender="*",
                scope="*",
                state="open",
                reason=OPEN_REASON,
            )

        _report("drain", 0)
        log = DrainLog()
        drain = Phase()
        gc.collect()
        with RssSampler(server_pid) as sampler, timed(drain, server_pid):
            if profile is not None:
                profile.enable()
            while True:
                leased = exchange.pull(principal=receiver, limit=batch)
                if not leased:
                    break
                acks = exchange.ack(
                    principal=receiver, delivery_ids=[d.delivery_id for d in leased]
                )
                log.not_acked += sum(1 for a in acks if a.status != "acked")
                log.positions.extend([d.position for d in leased])
                log.delivery_ids.extend([d.delivery_id for d in leased])
                log.priorities.extend([d.priority for d in leased])
                log.batch_ends.append(len(log.positions))
                _report("drain", len(log.positions))
            if profile is not None:
                profile.disable()
        drain.msgs = len(log.positions)
        drain.memory = _memory(sampler)

        _report("verify")
        checks = verify(meta["case_of"], expected, positions, log)
        checks["held_pull"] = held_pull
        stats = [s for s in store.queue_stats() if s.receiver == RECEIVER]
        checks["store_after"] = {
            "ready": sum(s.ready for s in stats),
            "leased": sum(s.leased for s in stats),
            "acked": sum(s.acked for s in stats),
            "dead": sum(s.dead for s in stats),
        }
        checks["passed"] = bool(
            checks["passed"]
            and held_pull == 0
            and checks["store_after"] == {"ready": 0, "leased": 0, "acked": n, "dead": 0}
        )
        exchange.close()
    return {
        "scenario": "exchange",
        "store": kind,
        "phases": {"ingest": ingest, "open": opened, "drain": drain},
        "checks": checks,
    }


def analyze(store: Any) -> None:
    """Give PostgreSQL's planner statistics, as autovacuum does on a running server after every
    10% of growth (this test server has autovacuum off, and a new schema has no statistics, so
    every lookup would be planned as a scan). Not timed."""
    for table in ("messages", "deliveries", "trail"):
        store._conn.execute(f"ANALYZE {table}")


def verify(
    case_of: list[int],
    expected: array.array[int],
    positions: array.array[int],
    log: DrainLog,
) -> dict[str, Any]:
    """Check the drain against the exchange's guarantees. Outside the timed section.

    * exactly once: every accepted event was pulled (and acked) once, none twice, none extra;
    * priority kept: every pulled delivery had the priority golive.priority gives its type;
    * per-case order: per case, deliveries came in the order the exchange accepted them;
    * priority order: replaying the drain batch by batch, the ready set before each pull is
      the first undelivered event of every case (a case's later events wait for its head to be
      acked). Each pull must take the `limit` smallest of that set by (priority, arrival) and
      nothing else. So a delivery of a lower priority (a larger rank) never comes before a
      more urgent one that was ready; a more urgent delivery that comes later was blocked by its
      case until then (the raw sequence of priorities drops only there, `priority_drops`).
    """
    n = len(expected)
    base = positions[0] if n else 0
    contiguous = all(p == base + i for i, p in enumerate(positions))
    lookup = {} if contiguous else {p: i for i, p in enumerate(positions)}
    # The successor of each event in its case, and each case's first event.
    nxt = array.array("q", [-1]) * n
    last: dict[int, int] = {}
    heads: list[tuple[int, int]] = []
    for i, c in enumerate(case_of):
        prev = last.get(c)
        if prev is None:
            heads.append((expected[i], i))
        else:
            nxt[prev] = i
        last[c] = i
    ready = bytearray(n)
    for _, i in heads:
        ready[i] = 1
    heapq.heapify(heads)
    seen = bytearray(n)
    dupes = unknown = wrong_priority = blocked = out_of_case_order = 0
    priority_inversions = arrival_inversions = unsorted_batches = priority_drops = 0
    case_last: dict[int, int] = {}
    start = 0
    prev_batch_max = None
    delivery_by_index = array.array("q", [0]) * n
    for end in log.batch_ends:
        taken: list[tuple[int, int]] = []
        for k in range(start, end):
            p = log.positions[k]
            i = p - base if contiguous else lookup.get(p, -1)
            if not 0 <= i < n:
                unknown += 1
                continue
            if seen[i]:
                dupes += 1
                continue
            seen[i] = 1
            delivery_by_index[i] = log.delivery_ids[k]
            if log.priorities[k] != expected[i]:
                wrong_priority += 1
            c = case_of[i]
            if case_last.get(c, -1) > i:
                out_of_case_order += 1
            case_last[c] = i
            if not ready[i]:
                blocked += 1  # not its case's head when it was pulled
            taken.append((expected[i], i))
        if taken != sorted(taken):
            unsorted_batches += 1
        for _, i in taken:
            ready[i] = 0
        while heads and not ready[heads[0][1]]:
            heapq.heappop(heads)
        if heads and taken:
            waiting = heads[0]  # the most urgent ready delivery this pull left behind
            for key in taken:
                if key > waiting:
                    if key[0] > waiting[0]:
                        priority_inversions += 1
                    else:
                        arrival_inversions += 1
        if taken:
            if prev_batch_max is not None and min(taken)[0] < prev_batch_max:
                priority_drops += 1
            prev_batch_max = max(taken)[0]
        for _, i in taken:
            j = nxt[i]
            if j >= 0:
                ready[j] = 1
                heapq.heappush(heads, (expected[j], j))
        start = end
    missing = n - sum(seen)
    # Deliveries are numbered in acceptance order (a single receiver): the tie-break on
    # delivery id that the store uses is then the tie-break on arrival used above.
    ids_in_arrival_order = all(
        delivery_by_index[i] < delivery_by_index[i + 1] for i in range(n - 1)
    )
    passed = not (
        dupes
        or unknown
        or missing
        or wrong_priority
        or blocked
        or out_of_case_order
        or priority_inversions
        or arrival_inversions
        or unsorted_batches
        or log.not_acked
        or not ids_in_arrival_order
    )
    return {
        "passed": passed,
        "delivered": len(log.positions),
        "batches": len(log.batch_ends),
        "missing": missing,
        "duplicates": dupes,
        "unknown": unknown,
        "not_acked": log.not_acked,
        "wrong_priority": wrong_priority,
        "out_of_case_order": out_of_case_order,
        "pulled_while_blocked": blocked,
        "priority_inversions": priority_inversions,
        "arrival_inversions": arrival_inversions,
        "unsorted_batches": unsorted_batches,
        "priority_drops": priority_drops,
        "ids_in_arrival_order": ids_in_arrival_order,
    }


def _phase_dict(phase: Phase) -> dict[str, Any]:
    return {
        "msgs": phase.msgs,
        "wall": phase.wall,
        "cpu": phase.cpu,
        "server_cpu": phase.server_cpu,
        "memory": phase.memory,
    }


def run_scenario(scenario: str, kind: str, folder: Path, batch: int) -> dict[str, Any]:
    """The entry point in the scenario's own process: plain dicts back to the parent."""
    run = {"exchange": run_exchange, "bare sqlite": run_bare_sqlite, "jetstream": run_jetstream}
    found = run[scenario](kind, folder, batch)
    found["phases"] = {k: _phase_dict(v) for k, v in found["phases"].items()}
    return found


# -- bare SQLite: what one table costs -----------------------------------------------------------


def run_bare_sqlite(kind: str, folder: Path, batch: int) -> dict[str, Any]:
    """One table with a (priority, id) index: SELECT the first `batch` in priority order, then
    DELETE them by id and commit. No per-case order, no leases, no trail, no audit."""
    _report("load")
    ranks = priorities(load_chain())
    path = folder / f"bare-{uuid.uuid4().hex[:8]}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # as the store: every commit is durable
        conn.execute("PRAGMA cache_size=-262144")
        conn.execute(
            "CREATE TABLE queue (id INTEGER PRIMARY KEY, priority INTEGER NOT NULL, "
            "body BLOB NOT NULL)"
        )
        conn.execute("CREATE INDEX queue_order ON queue (priority, id)")
        _report("ingest", 0)
        ingest = Phase()
        for _, lines in _submissions(folder):
            rows = [(ranks.get(orjson.loads(line)["type"], 0), line) for line in lines]
            with timed(ingest):
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("INSERT INTO queue (priority, body) VALUES (?, ?)", rows)
                conn.execute("COMMIT")
            ingest.msgs += len(rows)
            _report("ingest", ingest.msgs)
        n = ingest.msgs
        _report("drain", 0)
        drain = Phase()
        ids = array.array("q")
        order = array.array("q")
        gc.collect()
        with RssSampler() as sampler, timed(drain):
            while True:
                got = conn.execute(
                    "SELECT id, priority, body FROM queue ORDER BY priority, id LIMIT ?", (batch,)
                ).fetchall()
                if not got:
                    break
                taken = [r[0] for r in got]
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(f"DELETE FROM queue WHERE id IN ({','.join('?' * len(taken))})", taken)
                conn.execute("COMMIT")
                ids.extend(taken)
                order.extend([r[1] for r in got])
                _report("drain", len(ids))
        drain.msgs = len(ids)
        drain.memory = _memory(sampler)
        _report("verify")
        left = conn.execute("SELECT COUNT(*) FROM queue").fetchone()[0]
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    unique = len(set(ids))
    sorted_ = all(order[i] <= order[i + 1] for i in range(len(order) - 1))
    checks = {
        "passed": unique == n == len(ids) and left == 0 and sorted_,
        "delivered": len(ids),
        "duplicates": len(ids) - unique,
        "missing": n - unique,
        "priority_sorted": sorted_,
        "left": left,
        "per_case_order": "not kept (no cases in one table)",
    }
    return {
        "scenario": "bare sqlite",
        "store": kind,
        "phases": {"ingest": ingest, "drain": drain},
        "checks": checks,
    }


# -- the peer: NATS JetStream --------------------------------------------------------------------


def run_jetstream(kind: str, folder: Path, batch: int) -> dict[str, Any]:
    return asyncio.run(_jetstream(kind, folder, batch))


async def _jetstream(kind: str, folder: Path, batch: int) -> dict[str, Any]:
    """A file-storage stream; publish the backlog `batch` in flight at a time, then drain it
    with a durable pull consumer: fetch(batch), ack() each message. The drain ends when the
    consumer's ack floor reaches the last message."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, StorageType

    _report("load")
    server_pid = find_process("nats-server")
    nc = await nats.connect(NATS_URL, connect_timeout=5, max_reconnect_attempts=0)
    v = nc.connected_server_version
    version = f"{v.major}.{v.minor}.{v.patch}"
    js = nc.jetstream(timeout=30)
    name, subject = f"DRAIN_{os.getpid()}", f"drain.{os.getpid()}"
    with contextlib.suppress(Exception):
        await js.delete_stream(name)
    await js.add_stream(name=name, subjects=[subject], storage=StorageType.FILE)
    try:
        _report("ingest", 0)
        ingest = Phase()
        for _, lines in _submissions(folder):
            with timed(ingest, server_pid):
                for i in range(0, len(lines), batch):
                    acks = [await js.publish_async(subject, m) for m in lines[i : i + batch]]
                    await asyncio.gather(*acks)
            ingest.msgs += len(lines)
            _report("ingest", ingest.msgs)
        n = ingest.msgs
        psub = await js.pull_subscribe(
            subject,
            durable="drain",
            stream=name,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=-1),
        )
        _report("drain", 0)
        drain = Phase()
        got = 0
        gc.collect()
        with RssSampler(server_pid) as sampler, timed(drain, server_pid):
            while got < n:
                fetched = await psub.fetch(min(batch, n - got), timeout=10)
                for m in fetched:
                    await m.ack()
                got += len(fetched)
                _report("drain", got)
            await nc.flush()
            info = await js.consumer_info(name, "drain")
            while info.ack_floor is None or (info.ack_floor.stream_seq or 0) < n:
                await asyncio.sleep(0.005)
                info = await js.consumer_info(name, "drain")
        drain.msgs = got
        drain.memory = _memory(sampler)
        _report("verify")
        checks = {
            "passed": got == n
            and info.num_pending == 0
            and (info.num_ack_pending or 0) == 0
            and (info.num_redelivered or 0) == 0,
            "delivered": got,
            "pending": info.num_pending,
            "ack_pending": info.num_ack_pending,
            "redelivered": info.num_redelivered,
            "ack_floor": info.ack_floor.stream_seq if info.ack_floor else None,
            "priority_order": "not kept (stream order)",
            "per_case_order": "stream order (one subject)",
        }
    finally:
        with contextlib.suppress(Exception):
            await js.delete_stream(name)
        await nc.close()
    return {
        "scenario": "jetstream",
        "store": kind,
        "phases": {"ingest": ingest, "drain": drain},
        "checks": checks,
        "version": version,
    }


# -- the run -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    scenario: str
    store: str
    batch: str
    phase: str
    msgs: int
    seconds: float
    rate: float
    cpu_us: float | None
    server_cpu_us: float | None
    memory: dict[str, float] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    goals: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool | None:
        return None if not self.goals else all(g["passed"] for g in self.goals)


def rows_of(found: dict[str, Any], batch: int) -> list[Row]:
    rows = []
    for phase, p in found["phases"].items():
        msgs, wall = p["msgs"], p["wall"]
        rows.append(
            Row(
                scenario=found["scenario"],
                store=found["store"],
                batch=str(batch),
                phase=phase,
                msgs=msgs,
                seconds=wall,
                rate=msgs / wall if wall else 0.0,
                cpu_us=p["cpu"] / msgs * 1e6 if msgs else None,
                server_cpu_us=(
                    p["server_cpu"] / msgs * 1e6 if msgs and p["server_cpu"] is not None else None
                ),
                memory=p["memory"],
                checks=found["checks"] if phase == "drain" else {},
            )
        )
    return rows


def apply_goals(rows: list[Row]) -> None:
    for r in rows:
        if r.phase != "drain":
            continue
        if r.scenario == "exchange":
            r.goals.append({"goal": "order kept", "target": None, "passed": r.checks["passed"]})
            if r.store.startswith("sqlite"):
                r.goals.append(
                    {
                        "goal": f"≥{GOAL_SQLITE:,}",
                        "target": GOAL_SQLITE,
                        "passed": r.rate >= GOAL_SQLITE,
                    }
                )
        else:
            r.goals.append(
                {"goal": "exactly once", "target": None, "passed": r.checks.get("passed", False)}
            )


@dataclass(slots=True)
class Runner:
    pool: ProcessPoolExecutor
    counter: Any
    phase: Any

    def run(self, progress: Progress, label: str, total: int, fn: Any, *args: Any) -> Any:
        """Run `fn` in a fresh process, showing its phase and progress."""
        self.counter.value = 0
        self.phase.value = 0
        task = progress.add_task(label, total=total)
        future: Future[Any] = self.pool.submit(fn, *args)
        while not future.done():
            progress.update(
                task,
                completed=self.counter.value,
                description=f"{label}: {PHASES[self.phase.value]}",
            )
            time.sleep(0.1)
        progress.remove_task(task)
        return future.result()


def render(rows: list[Row], console: Console, title: str) -> None:
    table = Table(title=title, title_justify="left")
    for name, justify in (
        ("scenario", "left"),
        ("store", "left"),
        ("phase", "left"),
        ("msgs", "right"),
        ("seconds", "right"),
        ("msg/s", "right"),
        ("cpu µs/msg", "right"),
        ("server cpu µs/msg", "right"),
        ("peak RSS MiB (growth)", "right"),
        ("goal", "left"),
        ("", "center"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    previous = None
    for r in rows:
        if previous is not None and (r.scenario, r.store) != previous:
            table.add_section()
        previous = (r.scenario, r.store)
        memory = ""
        if r.memory:
            memory = f"{r.memory['rss_peak_mib']:,.0f} (+{r.memory['rss_growth_mib']:,.0f})"
            if "server_rss_peak_mib" in r.memory:
                memory += (
                    f"; server {r.memory['server_rss_peak_mib']:,.0f} "
                    f"(+{r.memory['server_rss_growth_mib']:,.0f})"
                )
        goal = "; ".join(("✓ " if g["passed"] else "✗ ") + g["goal"] for g in r.goals)
        table.add_row(
            r.scenario,
            r.store,
            r.phase,
            f"{r.msgs:,}",
            f"{r.seconds:.2f}",
            f"{r.rate:,.0f}",
            "" if r.cpu_us is None else f"{r.cpu_us:,.1f}",
            "" if r.server_cpu_us is None else f"{r.server_cpu_us:,.1f}",
            memory,
            goal,
            {None: "", True: "[green]pass[/]", False: "[red]FAIL[/]"}[r.passed],
        )
    console.print(table)


def profile_drain(folder: Path, batch: int, console: Console) -> None:
    profile = cProfile.Profile()
    found = run_exchange("sqlite FULL", folder, batch, profile=profile)
    drain = found["phases"]["drain"]
    console.print(
        f"exchange sqlite FULL drain under cProfile: {drain.msgs:,} msgs in {drain.wall:.2f} s "
        f"= {drain.msgs / drain.wall:,.0f} msg/s (profiling slows it down); "
        f"checks {'passed' if found['checks']['passed'] else 'FAILED'}"
    )
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(key).print_stats(30)
        print(out.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_MESSAGES:,} messages")
    parser.add_argument("--messages", type=int, help=f"backlog size (default {FULL_MESSAGES:,})")
    parser.add_argument("--batch", type=int, default=BATCH, help="pull limit (1 to 1,000)")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL store")
    parser.add_argument("--no-nats", action="store_true", help="skip the JetStream peer")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare-SQLite baseline")
    parser.add_argument("--profile", action="store_true", help="cProfile the SQLite drain")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)
    n = args.messages or (QUICK_MESSAGES if args.quick else FULL_MESSAGES)
    if n < 1 or not 1 <= args.batch <= BATCH:
        parser.error(f"--messages must be positive and --batch from 1 to {BATCH}")
    console = Console()
    if not console.is_terminal:  # piped or redirected: do not squeeze the table into 80 columns
        console = Console(width=200)
    chain = load_chain()
    ranks = priorities(chain)
    notes: list[str] = []
    began = time.perf_counter()
    info = machine_info()

    with tempfile.TemporaryDirectory(prefix="kh-drain-") as tmpdir:
        folder = Path(tmpdir)
        with console.status(f"writing a backlog of {n:,} events"):
            t0 = time.perf_counter()
            backlog = write_backlog(chain, n, folder)
            backlog["seconds_to_build"] = round(time.perf_counter() - t0, 1)
        console.print(
            f"backlog: {n:,} events in {backlog['cases']:,} cases, "
            f"{backlog['event_bytes_avg']:.0f} B per event, built in "
            f"{backlog['seconds_to_build']} s"
        )
        if args.profile:
            profile_drain(folder, args.batch, console)
            return 0

        info["postgres"] = None if args.no_postgres else postgres_version()
        if info["postgres"] is None and not args.no_postgres:
            notes.append(f"PostgreSQL at {PG_DSN} is not reachable: its rows are missing")
        scenarios = [("exchange", "sqlite FULL")]
        if info["postgres"] is not None:
            scenarios.append(("exchange", "postgres"))
        if not args.no_bare:
            scenarios.append(("bare sqlite", "sqlite FULL"))
        if not args.no_nats:
            scenarios.append(("jetstream", "file"))

        rows: list[Row] = []
        info["nats"] = None
        ctx = multiprocessing.get_context("spawn")
        counter, phase = ctx.Value("q", 0, lock=False), ctx.Value("i", 0, lock=False)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=True) as progress:
            for scenario, kind in scenarios:
                # A fresh process per scenario, so that its memory figures are its own.
                with ProcessPoolExecutor(
                    1, mp_context=ctx, initializer=_init_worker, initargs=(counter, phase)
                ) as pool:
                    runner = Runner(pool, counter, phase)
                    try:
                        found = runner.run(
                            progress,
                            f"{scenario} {kind}",
                            n,
                            run_scenario,
                            scenario,
                            kind,
                            folder,
                            args.batch,
                        )
                    except Exception as exc:
                        if scenario != "jetstream":
                            raise
                        notes.append(f"JetStream at {NATS_URL} failed ({exc!r}): no peer rows")
                        continue
                if scenario == "jetstream":
                    info["nats"] = found.get("version")
                done = rows_of(found, args.batch)
                rows += done
                for r in done:
                    progress.console.print(
                        f"  {r.scenario:<12} {r.store:<12} {r.phase:<7} {r.rate:>10,.0f}/s"
                        f"  ({r.seconds:.1f} s)"
                    )
    total = time.perf_counter() - began

    apply_goals(rows)
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    title = (
        f"Drain benchmark ({n:,} held messages to {RECEIVER}, pull limit {args.batch}): "
        f"{info['cores']} cores, {info['ram_gb']} GB, Python {info['python']}, "
        f"SQLite {info['sqlite']}, PostgreSQL {info['postgres']}, NATS {info['nats']}; "
        f"{backlog['event_bytes_avg']:.0f} B per event; load average "
        f"{info['loadavg_start'][0]} at start, {info['loadavg_end'][0]} at end"
    )
    render(rows, console, title)
    for r in rows:
        if r.phase == "drain" and r.scenario == "exchange":
            c = r.checks
            console.print(
                f"{r.scenario} {r.store}: {c['delivered']:,} delivered in {c['batches']:,} pulls; "
                f"missing {c['missing']}, duplicates {c['duplicates']}, not acked "
                f"{c['not_acked']}, wrong priority {c['wrong_priority']}, out of case order "
                f"{c['out_of_case_order']}, pulled while blocked {c['pulled_while_blocked']}, "
                f"priority inversions {c['priority_inversions']}, arrival inversions "
                f"{c['arrival_inversions']}; {c['priority_drops']:,} pulls began below the "
                "previous pull's priority, each because a case's next event became ready"
            )
    peer = next((r for r in rows if r.scenario == "jetstream" and r.phase == "drain"), None)
    if peer is not None:
        for r in rows:
            if r.phase == "drain" and r.scenario != "jetstream":
                console.print(
                    f"{r.scenario} {r.store} drains at {r.rate / peer.rate:.2f}x JetStream"
                )
    failed = [r for r in rows if r.passed is False]
    console.print(
        f"{sum(1 for r in rows if r.passed)} rows meet their goals, {len(failed)} miss; "
        f"run took {total:.0f} s"
    )
    for note in notes:
        console.print(f"[yellow]note:[/] {note}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "benchmark": "drain",
        "mode": "quick" if args.quick else "full",
        "machine": info,
        "flow": {
            "receiver": RECEIVER,
            "senders": list(SENDERS),
            "types": {step.type: ranks.get(step.type) for step in LIFECYCLE},
        },
        "backlog": backlog,
        "event_bytes_avg": backlog["event_bytes_avg"],
        "batch": args.batch,
        "memory_method": "RSS from /proc/PID/statm sampled every 20 ms during the drain",
        "goals": {"sqlite_drain": GOAL_SQLITE, "order_kept": True},
        "seconds_total": round(total, 1),
        "notes": notes,
        "results": [
            {
                "scenario": r.scenario,
                "store": r.store,
                "batch": r.batch,
                "phase": r.phase,
                "msgs": r.msgs,
                "seconds": round(r.seconds, 3),
                "rate": round(r.rate, 1),
                "cpu_us": None if r.cpu_us is None else round(r.cpu_us, 2),
                "server_cpu_us": None if r.server_cpu_us is None else round(r.server_cpu_us, 2),
                "memory": r.memory,
                "checks": r.checks,
                "goals": r.goals,
                "pass": r.passed,
            }
            for r in rows
        ],
    }
    args.out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    console.print(f"wrote {args.out}")
    console.print(f"wrote {write_chart(args.out)} (a chart of the table)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
