"""The exchange benchmark (issue 2): accept → deliver → ack, in messages per second.

Side by side in one run:

* in process: `Exchange.submit`, `Exchange.pull`, `Exchange.ack` called directly;
* over HTTP: a real uvicorn server (`ServerThread`) in this process, the clients (httpx) in a
  separate worker process so that they do not share the server's GIL;
* the peer: NATS JetStream through nats-py, with the same event JSON bytes;
* the machine's fsync rate on the disk that holds the SQLite files.

Stores: SQLite synchronous=FULL, SQLite synchronous=NORMAL and PostgreSQL (a fresh schema per
scenario, dropped afterwards). Prints a Rich table and writes `bench/results/exchange.json`.

    .venv/bin/python bench/exchange.py            # the full run (under ten minutes)
    .venv/bin/python bench/exchange.py --quick    # a smoke run of a minute or so
    .venv/bin/python bench/exchange.py --profile  # cProfile of in-process SQLite batch-1000 ingest
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import multiprocessing
import os
import platform
import pstats
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ketenherstel.chain import Chain, load_chain, source_urn
from ketenherstel.exchange.auth import LOCAL_OPERATOR, Principal
from ketenherstel.exchange.envelope import BATCH, STRUCTURED
from ketenherstel.exchange.service import Exchange
from ketenherstel.registry import Registry, open_registry_db
from ketenherstel.store.ports import Store

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "exchange.json"
PG_DSN = os.environ.get("KETENHERSTEL_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
NATS_URL = os.environ.get("KETENHERSTEL_BENCH_NATS", "nats://127.0.0.1:4222")

STORES = ("sqlite FULL", "sqlite NORMAL", "postgres")
BATCHES = (1, 100, 1000)
CLIENTS = 64  # concurrent single-event clients over HTTP

GOAL_INPROC = 100_000  # batched durable ingest in process on SQLite (msg/s)
GOAL_HTTP = 25_000  # over HTTP with 1,000-event batches (msg/s)
GOAL_FSYNC_FACTOR = 3  # 64 concurrent single-event clients at FULL vs the fsync rate


@dataclass(frozen=True, slots=True)
class Sizes:
    """Messages per scenario, by batch size; `concurrent` for the 64-client HTTP scenario."""

    inproc: dict[int, int]
    http: dict[int, int]
    concurrent: int
    jetstream: dict[int, int]
    fsync_seconds: float
    drain_budget: float  # seconds; a longer drain is cut short and counted as far as it got


FULL_SIZES = Sizes(
    inproc={1: 2_000, 100: 50_000, 1000: 100_000},
    http={1: 600, 100: 30_000, 1000: 50_000},
    concurrent=2_000,
    jetstream={1: 3_000, CLIENTS: 30_000, 100: 30_000, 1000: 50_000},
    fsync_seconds=2.0,
    drain_budget=15.0,
)
QUICK_SIZES = Sizes(
    inproc={1: 200, 100: 3_000, 1000: 6_000},
    http={1: 100, 100: 2_000, 1000: 4_000},
    concurrent=256,
    jetstream={1: 300, CLIENTS: 3_000, 100: 3_000, 1000: 5_000},
    fsync_seconds=1.0,
    drain_budget=3.0,
)


# -- realistic events ---------------------------------------------------------------------------

_OFFENCES = (
    ("art. 310 Sr", "vermogen"),
    ("art. 311 Sr", "vermogen"),
    ("art. 300 Sr", "geweld"),
    ("art. 285 Sr", "geweld"),
    ("art. 8 WVW 1994", "verkeer"),
    ("art. 2 Opiumwet", "drugs"),
    ("art. 350 Sr", "vernieling-openbare-orde"),
    ("art. 26 WWM", "wapens"),
    ("art. 138 Sr", "overig"),
)
_START = datetime(2025, 7, 17, 6, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Case:
    parketnummer: str
    skn: str
    police_case: str
    offences: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Flow:
    """Who sends what to whom; `data` builds a valid `data` member for one event of a case."""

    key: str
    sender: str
    receiver: str
    type: str
    data: Callable[[random.Random, Case, datetime], dict[str, Any]]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _offences(case: Case) -> list[dict[str, str]]:
    return [{"article": a, "category": c} for a, c in case.offences]


def _pv(rng: random.Random, case: Case, at: datetime) -> dict[str, Any]:
    return {
        "policeCaseNumber": case.police_case,
        "parketnummer": case.parketnummer,
        "skn": case.skn,
        "completedAt": _iso(at - timedelta(minutes=rng.randint(5, 600))),
        "offences": _offences(case),
        "suspectDetained": rng.random() < 0.3,
        "victimCount": rng.randint(0, 3),
        "pageCount": rng.randint(2, 60),
    }


def _strafbeschikking(rng: random.Random, case: Case, at: datetime) -> dict[str, Any]:
    return {
        "parketnummer": case.parketnummer,
        "skn": case.skn,
        "decidedAt": _iso(at - timedelta(minutes=rng.randint(5, 600))),
        "offences": _offences(case),
        "sanctions": [
            {"kind": "geldboete", "conditional": False, "amountCents": rng.randint(50, 4000) * 100}
        ],
        "paymentDueDate": (at + timedelta(days=56)).strftime("%Y-%m-%d"),
    }


FLOWS = {
    "pv": Flow(
        "pv", "politie", "om", "nl.strafrechtketen.opsporing.proces-verbaal-ingezonden.v1", _pv
    ),
    # The fallback when the chain's data does not (yet) admit a valid proces-verbaal.
    "strafbeschikking": Flow(
        "strafbeschikking",
        "om",
        "cjib",
        "nl.strafrechtketen.vervolging.strafbeschikking-opgelegd.v1",
        _strafbeschikking,
    ),
}


def _cases(rng: random.Random, n: int) -> list[Case]:
    year = 25
    return [
        Case(
            parketnummer=f"{rng.randint(1, 99):02d}-{rng.randrange(1_000_000):06d}-{year:02d}",
            skn=f"SKN-{rng.randrange(10**10):010d}",
            police_case=f"PL{rng.randint(1000, 9999)}-{rng.randrange(10**10):010d}",
            offences=tuple(rng.sample(_OFFENCES, rng.choice((1, 1, 1, 2, 3)))),
        )
        for _ in range(n)
    ]


def build_events(
    flow: Flow, source: str, n: int, *, seed: int, first_sequence: int = 1
) -> list[dict[str, Any]]:
    """`n` valid CloudEvents (NL GOV profile) with uuid4 ids, about three events per case."""
    rng = random.Random(seed)
    cases = _cases(rng, max(1, n // 3))
    events = []
    for i in range(n):
        case = rng.choice(cases)
        at = _START + timedelta(seconds=i // 10, milliseconds=rng.randrange(1000))
        events.append(
            {
                "specversion": "1.0",
                "id": str(uuid.uuid4()),
                "source": source,
                "type": flow.type,
                "subject": case.parketnummer,
                "time": _iso(at),
                "datacontenttype": "application/json",
                "partitionkey": case.parketnummer,
                # CloudEvents' sequence extension is a String; sequencetype says it is an integer.
                "sequence": str(first_sequence + i),
                "sequencetype": "Integer",
                "data": flow.data(rng, case, at),
            }
        )
    return events


def choose_flow(chain: Chain) -> tuple[Flow, str]:
    """The proces-verbaal flow if the chain admits one of our events, else the fallback."""
    preferred = FLOWS["pv"]
    sample = build_events(preferred, "x", 5, seed=1)
    problems = [p for e in sample for p in chain.validate_data(preferred.type, e["data"])]
    if not problems:
        return preferred, ""
    note = (
        f"{preferred.type} rejects valid-looking data ({problems[0][0]}: {problems[0][1]}); "
        f"the benchmark sends {FLOWS['strafbeschikking'].type} (om → cjib) instead"
    )
    return FLOWS["strafbeschikking"], note


# -- results and goals ------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    scenario: str  # "fsync", "in-process", "http", "http 64 clients", "jetstream"
    store: str
    batch: str
    phase: str  # ingest, drain, e2e, fsync
    msgs: int
    seconds: float
    rate: float
    cpu_us: float | None  # CPU time of this process (server side) per message, microseconds
    goals: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool | None:
        return None if not self.goals else all(g["passed"] for g in self.goals)


def _row(
    scenario: str, store: str, batch: str, phase: str, msgs: int, seconds: float, cpu: float | None
) -> Row:
    rate = msgs / seconds if seconds else 0.0
    cpu_us = None if cpu is None or not msgs else cpu / msgs * 1e6
    return Row(scenario, store, batch, phase, msgs, seconds, rate, cpu_us)


@dataclass(slots=True)
class Span:
    """Wall-clock seconds and this process's CPU seconds."""

    wall: float = 0.0
    cpu: float = 0.0
    done: int = 0  # messages handled


@contextlib.contextmanager
def measure() -> Iterator[Span]:
    span = Span()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield span
    finally:
        span.wall = time.perf_counter() - wall
        span.cpu = time.process_time() - cpu


def _phases(
    scenario: str, store: str, batch: str, ingest: Span, drain: Span, **info: Any
) -> list[Row]:
    """Ingest, drain and end to end (every message accepted, delivered and acked).

    A drain cut short by the time budget counts what it did; end to end then adds the time per
    message of ingest and the time per message of drain.
    """
    n = ingest.done
    scale = n / drain.done if drain.done else float("inf")
    rows = [
        _row(scenario, store, batch, "ingest", n, ingest.wall, ingest.cpu),
        _row(scenario, store, batch, "drain", drain.done, drain.wall, drain.cpu),
        _row(
            scenario,
            store,
            batch,
            "e2e",
            n,
            ingest.wall + drain.wall * scale,
            ingest.cpu + drain.cpu * scale,
        ),
    ]
    rows[0].info.update(info)
    if drain.done < n:
        for r in rows[1:]:
            r.info["cut"] = f"drain stopped by the time budget after {drain.done:,} of {n:,}"
    return rows


def apply_goals(rows: list[Row], fsync_rate: float | None) -> None:
    peer = {(r.batch, r.phase): r.rate for r in rows if r.scenario == "jetstream"}
    for r in rows:
        if r.scenario in ("fsync", "jetstream"):
            continue
        if (
            r.scenario == "in-process"
            and r.store.startswith("sqlite")
            and r.batch == "1000"
            and r.phase == "ingest"
        ):
            r.goals.append(_goal(f"≥{GOAL_INPROC:,}", GOAL_INPROC, r.rate))
        if r.scenario == "http" and r.batch == "1000" and r.phase == "ingest":
            r.goals.append(_goal(f"≥{GOAL_HTTP:,}", GOAL_HTTP, r.rate))
        if (
            r.scenario.startswith("http ")
            and r.store == "sqlite FULL"
            and r.phase == "ingest"
            and fsync_rate
        ):
            target = GOAL_FSYNC_FACTOR * fsync_rate
            r.goals.append(_goal(f"≥{GOAL_FSYNC_FACTOR}x fsync {target:,.0f}", target, r.rate))
        js_batch = str(CLIENTS) if r.scenario.startswith("http ") else r.batch
        if (js_batch, r.phase) in peer:
            target = peer[(js_batch, r.phase)]
            r.goals.append(_goal(f"≥JS {target:,.0f}", target, r.rate))


def _goal(name: str, target: float, rate: float) -> dict[str, Any]:
    return {"goal": name, "target": round(target, 1), "passed": rate >= target}


# -- stores and wiring --------------------------------------------------------------------------


@contextlib.contextmanager
def open_store(kind: str, tmp: Path) -> Iterator[Store]:
    """A fresh, migrated store; SQLite in a new file under `tmp`, PostgreSQL in a new schema."""
    if kind.startswith("sqlite"):
        from ketenherstel.store.sqlite import SqliteStore

        path = tmp / f"bench-{uuid.uuid4().hex[:8]}.db"
        sqlite_store = SqliteStore(path, synchronous="FULL" if kind.endswith("FULL") else "NORMAL")
        try:
            sqlite_store.migrate()
            yield sqlite_store
        finally:
            sqlite_store.close()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    from ketenherstel.store.postgres import PostgresStore

    schema = f"bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    pg_store = PostgresStore(PG_DSN, schema=schema)
    try:
        pg_store.migrate()
        yield pg_store
    finally:
        pg_store.close()
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@dataclass(slots=True)
class Wired:
    exchange: Exchange
    sender: Principal
    receiver: Principal


def wire(store: Store, chain: Chain, flow: Flow) -> Wired:
    exchange = Exchange(store=store, chain=chain)
    for key in (flow.sender, flow.receiver):
        exchange.register_partner(principal=LOCAL_OPERATOR, key=key)
    return Wired(
        exchange,
        Principal(flow.sender, "partner", flow.sender, "token"),
        Principal(flow.receiver, "partner", flow.receiver, "token"),
    )


# -- fsync ------------------------------------------------------------------------------------


def fsync_rate(directory: Path, seconds: float) -> Row:
    """os.write of 100 bytes + os.fsync, in a loop, on the disk that holds the SQLite files."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            os.write(fd, b"x" * 100)
            os.fsync(fd)
            count += 1
        elapsed = time.perf_counter() - start
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return _row("fsync", "disk", "1", "fsync", count, elapsed, None)


# -- in process -------------------------------------------------------------------------------


def run_inproc(
    kind: str,
    batch: int,
    n: int,
    *,
    chain: Chain,
    flow: Flow,
    tmp: Path,
    progress: Progress,
    budget: float = 60.0,
    profile: cProfile.Profile | None = None,
) -> list[Row]:
    source = source_urn(chain.partner(flow.sender))
    events = build_events(flow, source, n, seed=batch * 7919 + n)
    with open_store(kind, tmp) as store:
        w = wire(store, chain, flow)
        task = progress.add_task(f"in-process {kind} b={batch} ingest", total=n)
        if profile is not None:
            profile.enable()
        with measure() as ingest:
            for i in range(0, n, batch):
                chunk = events[i : i + batch]
                result = w.exchange.submit(principal=w.sender, events=chunk)
                if result.accepted != len(chunk):
                    raise RuntimeError(f"only {result.accepted} of {len(chunk)} events accepted")
                progress.advance(task, len(chunk))
        progress.remove_task(task)
        ingest.done = n
        if profile is not None:
            profile.disable()
            return [_row("in-process", kind, str(batch), "ingest", n, ingest.wall, ingest.cpu)]

        task = progress.add_task(f"in-process {kind} b={batch} drain", total=n)
        got = empty = 0
        with measure() as drain:
            deadline = time.perf_counter() + budget
            while got < n and time.perf_counter() < deadline:
                leased = w.exchange.pull(principal=w.receiver, limit=batch)
                if not leased:
                    empty += 1
                    if empty > 100:
                        raise RuntimeError(f"drain stalled after {got} of {n} deliveries")
                    continue
                w.exchange.ack(principal=w.receiver, delivery_ids=[d.delivery_id for d in leased])
                got += len(leased)
                progress.advance(task, len(leased))
        drain.done = got
        progress.remove_task(task)
    return _phases("in-process", kind, str(batch), ingest, drain)


# -- over HTTP: the client side, in a worker process ------------------------------------------

_COUNTER: Any = None


def _init_worker(counter: Any) -> None:
    global _COUNTER
    _COUNTER = counter


def _bump(k: int) -> None:
    if _COUNTER is not None:
        _COUNTER.value += k


def _bodies(events: list[dict[str, Any]], batch: int) -> list[tuple[bytes, str, int]]:
    if batch == 1:
        return [(orjson.dumps(e), STRUCTURED, 1) for e in events]
    return [
        (orjson.dumps(events[i : i + batch]), BATCH, len(events[i : i + batch]))
        for i in range(0, len(events), batch)
    ]


def _check(response: httpx.Response, *expected: int) -> None:
    if response.status_code not in expected:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:300]}")


def client_ingest(
    url: str, token: str, flow_key: str, source: str, n: int, batch: int, seed: int
) -> tuple[float, int]:
    """One client, requests one after another; the seconds from first request to last answer."""
    bodies = _bodies(build_events(FLOWS[flow_key], source, n, seed=seed), batch)
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=auth, timeout=300) as client:
        _check(client.get("/v1/health"), 200)
        start = time.perf_counter()
        for body, ctype, count in bodies:
            _check(client.post("/v1/events", content=body, headers={"Content-Type": ctype}), 201)
            _bump(count)
        return time.perf_counter() - start, n


def client_drain(url: str, token: str, n: int, batch: int, budget: float) -> tuple[float, int]:
    auth = {"Authorization": f"Bearer {token}"}
    json_type = {"Content-Type": "application/json"}
    with httpx.Client(base_url=url, headers=auth, timeout=300) as client:
        _check(client.get("/v1/health"), 200)
        got = empty = 0
        start = time.perf_counter()
        while got < n and time.perf_counter() - start < budget:
            response = client.get("/v1/deliveries", params={"limit": batch})
            _check(response, 200)
            ids = [d["deliveryId"] for d in orjson.loads(response.content)["deliveries"]]
            if not ids:
                empty += 1
                if empty > 100:
                    raise RuntimeError(f"drain stalled after {got} of {n} deliveries")
                continue
            body = orjson.dumps({"deliveryIds": ids})
            _check(client.post("/v1/acknowledgements", content=body, headers=json_type), 200)
            got += len(ids)
            _bump(len(ids))
        return time.perf_counter() - start, got


def clients_ingest(
    url: str, token: str, flow_key: str, source: str, n: int, clients: int, seed: int
) -> tuple[float, int]:
    """`clients` concurrent clients (asyncio, one connection each), one event per request."""
    bodies = _bodies(build_events(FLOWS[flow_key], source, n, seed=seed), 1)

    async def main() -> float:
        auth = {"Authorization": f"Bearer {token}"}
        pool = [httpx.AsyncClient(base_url=url, headers=auth, timeout=300) for _ in range(clients)]
        try:
            for c in pool:
                _check(await c.get("/v1/health"), 200)
            todo = iter(bodies)

            async def one(c: httpx.AsyncClient) -> None:
                for body, ctype, count in todo:
                    response = await c.post(
                        "/v1/events", content=body, headers={"Content-Type": ctype}
                    )
                    _check(response, 201)
                    _bump(count)

            start = time.perf_counter()
            await asyncio.gather(*(one(c) for c in pool))
            return time.perf_counter() - start
        finally:
            for c in pool:
                await c.aclose()

    return asyncio.run(main()), n


def clients_drain(url: str, token: str, n: int, clients: int, budget: float) -> tuple[float, int]:
    """`clients` concurrent consumers, each pulling one delivery and acking it."""

    async def main() -> tuple[float, int]:
        auth = {"Authorization": f"Bearer {token}"}
        pool = [httpx.AsyncClient(base_url=url, headers=auth, timeout=300) for _ in range(clients)]
        done = 0
        try:
            for c in pool:
                _check(await c.get("/v1/health"), 200)

            async def one(c: httpx.AsyncClient) -> None:
                nonlocal done
                while done < n and time.perf_counter() - start < budget:
                    response = await c.get("/v1/deliveries", params={"limit": 1})
                    _check(response, 200)
                    ids = [d["deliveryId"] for d in orjson.loads(response.content)["deliveries"]]
                    if not ids:
                        await asyncio.sleep(0.005)
                        continue
                    _check(await c.post("/v1/acknowledgements", json={"deliveryIds": ids}), 200)
                    done += len(ids)
                    _bump(len(ids))

            start = time.perf_counter()
            await asyncio.gather(*(one(c) for c in pool))
            return time.perf_counter() - start, done
        finally:
            for c in pool:
                await c.aclose()

    return asyncio.run(main())


# -- over HTTP: the server side ---------------------------------------------------------------


@dataclass(slots=True)
class Worker:
    pool: ProcessPoolExecutor
    counter: Any

    def run(self, progress: Progress, label: str, total: int, fn: Any, *args: Any) -> Span:
        """Run `fn` in the client process: its wall time, and this (the server's) CPU time."""
        self.counter.value = 0
        task = progress.add_task(label, total=total)
        with measure() as span:
            future: Future[tuple[float, int]] = self.pool.submit(fn, *args)
            while not future.done():
                progress.update(task, completed=self.counter.value)
                time.sleep(0.1)
        progress.remove_task(task)
        span.wall, span.done = future.result()
        return span


def run_http(
    kind: str,
    batch: int,
    n: int,
    *,
    clients: int,
    chain: Chain,
    flow: Flow,
    tmp: Path,
    worker: Worker,
    progress: Progress,
    budget: float = 60.0,
) -> list[Row]:
    from ketenherstel.bootstrap import Runtime
    from ketenherstel.settings import Settings
    from ketenherstel.web.server import ServerThread

    source = source_urn(chain.partner(flow.sender))
    scenario = f"http {clients} clients" if clients > 1 else "http"
    label = f"{scenario} {kind} b={batch}"
    with open_store(kind, tmp) as store:
        w = wire(store, chain, flow)
        send_token, _ = w.exchange.create_token(
            principal=LOCAL_OPERATOR, role="partner", partner=flow.sender, label="bench"
        )
        recv_token, _ = w.exchange.create_token(
            principal=LOCAL_OPERATOR, role="partner", partner=flow.receiver, label="bench"
        )
        registry = Registry(open_registry_db(":memory:"), chain, exchange=w.exchange)
        runtime = Runtime(
            settings=Settings(), chain=chain, store=store, exchange=w.exchange, registry=registry
        )
        with ServerThread(runtime) as server:
            committer = w.exchange._committer
            g0, s0 = committer.groups, committer.submissions
            seed = batch * 104_729 + n + clients
            if clients > 1:
                send = partial(clients_ingest, server.url, send_token, flow.key, source, n, clients)
                receive = partial(clients_drain, server.url, recv_token, n, clients, budget)
            else:
                send = partial(client_ingest, server.url, send_token, flow.key, source, n, batch)
                receive = partial(client_drain, server.url, recv_token, n, batch, budget)
            ingest = worker.run(progress, f"{label} ingest", n, send, seed)
            groups, submissions = committer.groups - g0, committer.submissions - s0
            drain = worker.run(progress, f"{label} drain", n, receive)
    return _phases(
        scenario,
        kind,
        f"1 x {clients}" if clients > 1 else str(batch),
        ingest,
        drain,
        commit_groups=groups,
        commit_submissions=submissions,
        avg_group=round(submissions / groups, 2) if groups else None,
    )


# -- the peer: NATS JetStream -----------------------------------------------------------------


async def run_jetstream(
    payloads: list[bytes], sizes: dict[int, int], progress: Progress
) -> tuple[list[Row], str]:
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, StorageType

    nc = await nats.connect(NATS_URL, connect_timeout=5, max_reconnect_attempts=0)
    v = nc.connected_server_version
    version = f"{v.major}.{v.minor}.{v.patch}"
    js = nc.jetstream(timeout=30)
    rows: list[Row] = []
    try:
        for batch, n in sizes.items():
            name = f"BENCH_{os.getpid()}_{batch}"
            subject = f"bench.{os.getpid()}.{batch}"
            with contextlib.suppress(Exception):
                await js.delete_stream(name)
            await js.add_stream(name=name, subjects=[subject], storage=StorageType.FILE)
            try:
                msgs = [payloads[i % len(payloads)] for i in range(n)]
                label = "publish-and-wait" if batch == 1 else f"{batch} in flight"
                task = progress.add_task(f"jetstream {label}", total=n)
                with measure() as ingest:
                    if batch == 1:
                        for payload in msgs:
                            await js.publish(subject, payload)
                            progress.advance(task)
                    else:
                        for i in range(0, n, batch):
                            window = msgs[i : i + batch]
                            acks = [await js.publish_async(subject, p) for p in window]
                            await asyncio.gather(*acks)
                            progress.advance(task, len(window))
                progress.remove_task(task)

                psub = await js.pull_subscribe(
                    subject,
                    durable="bench",
                    stream=name,
                    config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=-1),
                )
                task = progress.add_task(f"jetstream fetch({batch}) + ack", total=n)
                got = 0
                with measure() as drain:
                    while got < n:
                        fetched = await psub.fetch(min(batch, n - got), timeout=10)
                        for m in fetched:
                            await m.ack()
                        got += len(fetched)
                        progress.advance(task, len(fetched))
                    await nc.flush()
                progress.remove_task(task)
                ingest.done, drain.done = n, got
                rows += _phases("jetstream", "file", str(batch), ingest, drain)
            finally:
                with contextlib.suppress(Exception):
                    await js.delete_stream(name)
    finally:
        await nc.close()
    return rows, version


# -- reporting --------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    mem = 0
    with contextlib.suppress(OSError, ValueError):
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    cpu = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "ram_gb": round(mem / 2**30, 1),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def postgres_version() -> str | None:
    import psycopg

    try:
        with psycopg.connect(PG_DSN, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else "?"
    except psycopg.OperationalError:
        return None


def render(rows: list[Row], console: Console, title: str) -> None:
    table = Table(title=title, title_justify="left")
    for name, justify in (
        ("scenario", "left"),
        ("store", "left"),
        ("batch", "right"),
        ("phase", "left"),
        ("msgs", "right"),
        ("seconds", "right"),
        ("msg/s", "right"),
        ("cpu µs/msg", "right"),
        ("goal", "left"),
        ("", "center"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    previous = None
    for r in rows:
        group = (r.scenario, r.store, r.batch)
        if previous is not None and group[:2] != previous[:2]:
            table.add_section()
        previous = group
        goal = "; ".join(("✓ " if g["passed"] else "✗ ") + g["goal"] for g in r.goals)
        verdict = {None: "", True: "[green]pass[/]", False: "[red]FAIL[/]"}[r.passed]
        table.add_row(
            r.scenario,
            r.store,
            r.batch,
            r.phase + ("*" if r.info.get("cut") else ""),
            f"{r.msgs:,}",
            f"{r.seconds:.2f}",
            f"{r.rate:,.0f}",
            "" if r.cpu_us is None else f"{r.cpu_us:,.0f}",
            goal,
            verdict,
        )
    console.print(table)


def profile_case(chain: Chain, flow: Flow, tmp: Path, n: int, console: Console) -> None:
    profile = cProfile.Profile()
    with Progress(console=console, transient=True) as progress:
        rows = run_inproc(
            "sqlite FULL",
            1000,
            n,
            chain=chain,
            flow=flow,
            tmp=tmp,
            progress=progress,
            profile=profile,
        )
    console.print(
        f"in-process sqlite FULL batch 1000 ingest under cProfile: {rows[0].msgs:,} msgs in "
        f"{rows[0].seconds:.2f} s = {rows[0].rate:,.0f} msg/s (profiling slows it down)"
    )
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(key).print_stats(25)
        print(out.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smoke run of about a minute")
    parser.add_argument("--profile", action="store_true", help="cProfile one case and stop")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL store")
    parser.add_argument("--no-nats", action="store_true", help="skip the JetStream peer")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    console = Console()
    if not console.is_terminal:  # piped or redirected: do not squeeze the table into 80 columns
        console = Console(width=180)
    chain = load_chain()
    flow, flow_note = choose_flow(chain)
    notes = [flow_note] if flow_note else []
    for note in notes:
        console.print(f"[yellow]note:[/] {note}")
    source = source_urn(chain.partner(flow.sender))
    sample = build_events(flow, source, 1000, seed=42)
    payloads = [orjson.dumps(e) for e in sample]
    event_bytes = sum(map(len, payloads)) / len(payloads)

    with tempfile.TemporaryDirectory(prefix="kh-bench-") as tmpdir:
        tmp = Path(tmpdir)
        if args.profile:
            profile_case(chain, flow, tmp, sizes.inproc[1000], console)
            return 0

        info = machine_info()
        stores = list(STORES)
        info["postgres"] = None if args.no_postgres else postgres_version()
        if info["postgres"] is None and not args.no_postgres:
            notes.append(f"PostgreSQL at {PG_DSN} is not reachable: its rows are missing")
        if info["postgres"] is None:
            stores.remove("postgres")

        rows: list[Row] = []
        began = time.perf_counter()
        ctx = multiprocessing.get_context("spawn")
        counter = ctx.Value("q", 0, lock=False)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with (
            ProcessPoolExecutor(
                1, mp_context=ctx, initializer=_init_worker, initargs=(counter,)
            ) as pool,
            Progress(*columns, console=console, transient=True) as progress,
        ):
            worker = Worker(pool, counter)
            common: dict[str, Any] = {
                "chain": chain,
                "flow": flow,
                "tmp": tmp,
                "progress": progress,
                "budget": sizes.drain_budget,
            }
            scenarios: list[tuple[str, Callable[[], list[Row]]]] = [
                ("fsync", partial(lambda: [fsync_rate(tmp, sizes.fsync_seconds)]))
            ]
            for kind in stores:
                for b in BATCHES:
                    run = partial(run_inproc, kind, b, sizes.inproc[b], **common)
                    scenarios.append((f"in-process {kind} b={b}", run))
            for kind in stores:
                for b in BATCHES:
                    run = partial(
                        run_http, kind, b, sizes.http[b], clients=1, worker=worker, **common
                    )
                    scenarios.append((f"http {kind} b={b}", run))
                run = partial(
                    run_http, kind, 1, sizes.concurrent, clients=CLIENTS, worker=worker, **common
                )
                scenarios.append((f"http {CLIENTS} clients {kind}", run))
            js_version: list[str] = []
            if not args.no_nats:

                def peer() -> list[Row]:
                    try:
                        found, version = asyncio.run(
                            run_jetstream(payloads, sizes.jetstream, progress)
                        )
                    except Exception as exc:  # the peer is optional for a local run
                        notes.append(f"JetStream at {NATS_URL} failed ({exc!r}): no peer rows")
                        return []
                    js_version.append(version)
                    return found

                scenarios.append(("jetstream", peer))

            overall = progress.add_task("[bold]scenarios", total=len(scenarios))
            for name, scenario in scenarios:
                progress.update(overall, description=f"[bold]{name}")
                done = scenario()
                rows += done
                for r in done:
                    if r.phase in ("ingest", "fsync"):
                        extra = (
                            f" (avg group {r.info['avg_group']})" if r.info.get("avg_group") else ""
                        )
                        progress.console.print(
                            f"  {r.scenario:<16} {r.store:<13} b={r.batch:<7} {r.phase:<6} "
                            f"{r.rate:>10,.0f}/s{extra}"
                        )
                progress.advance(overall)
        total = time.perf_counter() - began

    fsync = next((r.rate for r in rows if r.scenario == "fsync"), None)
    apply_goals(rows, fsync)
    info["nats"] = js_version[0] if js_version else None
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    title = (
        f"Exchange benchmark ({'quick' if args.quick else 'full'}): {info['cores']} cores, "
        f"{info['ram_gb']} GB, Python {info['python']}, SQLite {info['sqlite']}, "
        f"PostgreSQL {info['postgres']}, NATS {info['nats']}; "
        f"{flow.sender} → {flow.receiver}, {event_bytes:.0f} B per event; "
        f"load average {info['loadavg_start'][0]} at start, {info['loadavg_end'][0]} at end"
    )
    render(rows, console, title)
    if any(r.info.get("cut") for r in rows):
        console.print(
            f"* the drain stopped at its time budget ({sizes.drain_budget:.0f} s): its row counts "
            "what it acked; end to end adds ingest's and drain's time per message"
        )
    for r in rows:
        if r.info.get("commit_groups") is not None and r.phase == "ingest":
            console.print(
                f"group commit {r.scenario} {r.store} b={r.batch}: {r.info['commit_submissions']:,}"
                f" submissions in {r.info['commit_groups']:,} commits "
                f"(avg {r.info['avg_group']} per commit)"
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
        "benchmark": "exchange",
        "mode": "quick" if args.quick else "full",
        "machine": info,
        "flow": {"sender": flow.sender, "receiver": flow.receiver, "type": flow.type},
        "event_bytes_avg": round(event_bytes, 1),
        "fsync_per_second": round(fsync, 1) if fsync else None,
        "goals": {
            "inproc_sqlite_batched_ingest": GOAL_INPROC,
            "http_batch_1000_ingest": GOAL_HTTP,
            "concurrent_full_vs_fsync_factor": GOAL_FSYNC_FACTOR,
            "at_or_above_jetstream": True,
        },
        "sizes": asdict(sizes),
        "seconds_total": round(total, 1),
        "notes": notes,
        "results": [
            {
                **asdict(r),
                "seconds": round(r.seconds, 4),
                "rate": round(r.rate, 1),
                "pass": r.passed,
            }
            for r in rows
        ],
    }
    args.out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    console.print(f"wrote {args.out}")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from chart import write_chart

    console.print(f"wrote {write_chart(args.out)} (a chart of the table)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
