"""The registry benchmark: Justid's JDS catching up after the outage, and its re-screen list.

1. **Catch-up**: 1,000,000 registrations (OM decisions, judgments, executions) applied through
   `Registry.apply`, exactly once in effect, into a fresh SQLite file (WAL, synchronous=FULL),
   in transactions of 20,000 (what `catch_up` applies at once: twenty pulls of 1,000).
   Peer, side by side: **bare SQLite**, the same messages decoded and inserted into one table
   with its primary key and a person index, no rules, same transaction size.
2. **Re-screen list**: 1,500,000 screenings answered during the gap (stored through
   `Registry.screen_many`, before the catch-up), then `Registry.rescreen()` over them against
   the caught-up registry: wall time and peak memory. Peer: **bare SQL**, one join that finds
   the screenings with a registration known after the answer and dated before the query,
   without the profile's rules.

Each phase runs in a fresh (spawned) process so its memory is its own. Prints a Rich table and
writes `bench/results/registry.json` and a chart.

    .venv/bin/python bench/registry.py            # 1,000,000 + 1,500,000 (a few minutes)
    .venv/bin/python bench/registry.py --quick    # 100,000 + 150,000
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import random
import resource
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from chart import bars
from exchange import machine_info
from ketenherstel.chain import load_chain
from ketenherstel.registry import Reader, Registry, open_registry_db
from ketenherstel.registry.service import GROUP, ScreeningRequest
from ketenherstel.store.ports import LeasedDelivery

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "registry.json"
FULL = (1_000_000, 1_500_000)
QUICK = (100_000, 150_000)
BATCH = 1_000 * GROUP  # a catch-up transaction
GOAL_APPLY = 50_000  # registrations/s
GOAL_RESCREEN_S = 30.0
GOAL_RESCREEN_MB = 2048
OM = "urn:nld:oin:00000001003214347000:systeem:gps"
CJIB = "urn:nld:oin:00000001003214351000:systeem:aice"  # a system the chain gives CJIB
P = "nl.strafrechtketen.registratie."
KINDS = (
    ("strafbeschikking", 5),
    ("dagvaarding", 4),
    ("transactie", 1),
    ("sepot-onvoorwaardelijk", 2),
)
CATEGORIES = ("vermogen", "geweld", "zeden", "drugs", "verkeer", "wapens", "overig")
GAP_START = date(2025, 7, 18)
READER = Reader("justis", "screeningsmedewerker", "bench", "vog-natuurlijk-persoon", "art. 35 Wjsg")


def _skn(n: int) -> str:
    return f"SKN-{n:010d}"


def registrations(n: int, persons: int, seed: int) -> Iterator[list[LeasedDelivery]]:
    """``n`` registrations of ``persons`` people in batches of ``BATCH``, made as they are
    needed (so a run's memory is the registry's, not its input's): each case decided, some
    judged, some executed, with fact dates over two years up to the end of the gap."""
    rng = random.Random(seed)
    out: list[LeasedDelivery] = []
    made = 0
    case = 0
    while made < n:
        if len(out) >= BATCH:
            yield out[:BATCH]
            out = out[BATCH:]
        case += 1
        skn = _skn(rng.randrange(persons))
        parket = f"{rng.randrange(10, 99)}-{case % 1_000_000:06d}-{case // 1_000_000 + 20:02d}"
        decided = GAP_START - timedelta(days=rng.randrange(-70, 2 * 365))
        kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
        events: list[tuple[str, str, str, dict[str, Any]]] = [
            (
                OM,
                "om",
                P + "om-afdoening-geregistreerd.v1",
                {
                    "parketnummer": parket,
                    "skn": skn,
                    "decisionKind": kind,
                    "decidedAt": f"{decided.isoformat()}T10:00:00Z",
                    "offences": [{"article": "art. 310 Sr", "category": rng.choice(CATEGORIES)}],
                },
            )
        ]
        if kind == "dagvaarding" and rng.random() < 0.8:
            judged = decided + timedelta(days=rng.randrange(30, 200))
            verdict = "veroordeling" if rng.random() < 0.9 else "vrijspraak"
            events.append(
                (
                    OM,
                    "om",
                    P + "uitspraak-geregistreerd.v1",
                    {
                        "parketnummer": parket,
                        "skn": skn,
                        "court": "rechtbank-amsterdam",
                        "judgmentDate": judged.isoformat(),
                        "verdict": verdict,
                        "sanctions": [],
                        "final": True,
                    },
                )
            )
            if verdict == "veroordeling" and rng.random() < 0.5:
                events.append(
                    (
                        CJIB,
                        "cjib",
                        P + "tenuitvoerlegging-geregistreerd.v1",
                        {
                            "parketnummer": parket,
                            "skn": skn,
                            "completedAt": f"{(judged + timedelta(days=60)).isoformat()}T12:00:00Z",
                            "sanctionKind": "taakstraf",
                            "outcome": "voltooid",
                        },
                    )
                )
        for source, sender, type_name, data in events:
            if made >= n:
                break
            made += 1
            ident = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            body = orjson.dumps(
                {
                    "specversion": "1.0",
                    "id": ident,
                    "source": source,
                    "type": type_name,
                    "subject": parket,
                    "partitionkey": parket,
                    "time": "2025-09-01T10:00:00Z",
                    "datacontenttype": "application/json",
                    "sequence": str(made),
                    "sequencetype": "Integer",
                    "data": data,
                }
            )
            out.append(
                LeasedDelivery(
                    made,
                    made,
                    "justid",
                    sender,
                    source,
                    ident,
                    type_name,
                    parket,
                    1,
                    0.0,
                    body,
                )
            )
    while out:
        yield out[:BATCH]
        out = out[BATCH:]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_apply(folder: str, n: int, persons: int) -> dict[str, Any]:
    batches = list(registrations(n, persons, seed=1))  # made first: only applying is timed
    gc.freeze()  # the made messages are not the registry's: the collector need not scan them
    base = _rss_mb()
    db = open_registry_db(os.path.join(folder, "apply.sqlite"))
    registry = Registry(db, load_chain(), clock=lambda: 1_757_000_000.0)
    t0, c0 = time.perf_counter(), time.process_time()
    applied = 0
    for batch in batches:
        applied += registry.apply(batch).applied
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    again = registry.apply(batches[0])  # a redelivery of the first batch
    db.close()
    return {
        "rows": n,
        "wall": wall,
        "cpu": cpu,
        "rate": n / wall,
        "applied": applied,
        "redelivered_again": again.redelivered,
        "rss_mb": _rss_mb(),
        "rss_before_mb": base,
    }


def run_bare(folder: str, n: int, persons: int) -> dict[str, Any]:
    batches = list(registrations(n, persons, seed=1))
    gc.freeze()  # as for the registry
    base = _rss_mb()
    conn = sqlite3.connect(os.path.join(folder, "bare.sqlite"), isolation_level=None)
    conn.execute("PRAGMA cache_size=-262144")  # as the registry's
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA wal_autocheckpoint=10000")  # as the registry's
    conn.execute(
        "CREATE TABLE r (source TEXT, id TEXT, skn TEXT, case_key TEXT, type TEXT, "
        "body_date TEXT, PRIMARY KEY (source, id)) WITHOUT ROWID"
    )
    conn.execute("CREATE INDEX r_skn ON r (skn)")
    t0, c0 = time.perf_counter(), time.process_time()
    for batch in batches:
        rows = []
        for d in batch:
            data = orjson.loads(d.body)["data"]
            when = data.get("decidedAt") or data.get("judgmentDate") or data.get("completedAt")
            rows.append((d.source, d.id, data["skn"], data["parketnummer"], d.type, when))
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT OR IGNORE INTO r VALUES (?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    conn.close()
    return {
        "rows": n,
        "wall": wall,
        "cpu": cpu,
        "rate": n / wall,
        "rss_mb": _rss_mb(),
        "rss_before_mb": base,
    }


def run_rescreen(folder: str, n: int, screenings: int, persons: int) -> dict[str, Any]:
    """What happened before the gap (18 July 2025) is known; screenings are answered during
    the gap, of people of whom about one in ten has a record; then what happened since (the
    catch-up) arrives; then the list is computed."""
    now = [1_752_800_000.0]  # 18 July 2025
    db = open_registry_db(os.path.join(folder, "rescreen.sqlite"), synchronous="NORMAL")
    # No exchange here, so the answers carry no sources.
    registry = Registry(db, load_chain(), clock=lambda: now[0])
    early = 0
    for batch in registrations(n, persons, seed=1):  # what was known before the gap
        known = [d for d in batch if _fact_date(d) < GAP_START]
        registry.apply(known)
        early += len(known)
    rng = random.Random(2)
    t0 = time.perf_counter()
    for k in range(0, screenings, 10_000):
        now[0] += 3600.0
        registry.screen_many(
            [
                ScreeningRequest(
                    f"SCR-{i:012d}",
                    "justis",
                    "vog-natuurlijk-persoon",
                    _skn(rng.randrange(persons * 10)),
                    GAP_START + timedelta(days=(i * 70) // screenings),
                    READER,
                )
                for i in range(k, min(k + 10_000, screenings))
            ]
        )
    screen_wall = time.perf_counter() - t0
    now[0] += 70 * 86_400.0
    for batch in registrations(n, persons, seed=1):  # the catch-up: the same run again
        registry.apply([d for d in batch if _fact_date(d) >= GAP_START])
    db.close()
    return {
        "screenings": screenings,
        "known_before_gap": early,
        "catch_up": n - early,
        "screen_wall": screen_wall,
        "screen_rate": screenings / screen_wall,
    }


def run_rescreen_list(folder: str) -> dict[str, Any]:
    """The list itself, in a process of its own: its peak memory is the list's."""
    base = _rss_mb()
    db = open_registry_db(os.path.join(folder, "rescreen.sqlite"))
    registry = Registry(db, load_chain(), clock=lambda: 1_760_000_000.0)
    t0, c0 = time.perf_counter(), time.process_time()
    items = registry.rescreen()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    missed = sum(1 for i in items if i.direction == "missed")
    peak = _rss_mb()
    peer = _bare_rescreen(db.path)
    db.close()
    return {
        "wall": wall,
        "cpu": cpu,
        "items": len(items),
        "missed": missed,
        "wrongly_shown": len(items) - missed,
        "rss_mb": peak,
        "rss_before_mb": base,
        "peer": peer,
    }


def _fact_date(d: LeasedDelivery) -> date:
    data = orjson.loads(d.body)["data"]
    when = data.get("decidedAt") or data.get("judgmentDate") or data.get("completedAt")
    return date.fromisoformat(when[:10])


def _bare_rescreen(path: str) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    t0 = time.perf_counter()
    (candidates,) = conn.execute(
        "SELECT COUNT(DISTINCT s.id) FROM screenings s JOIN registrations r ON r.skn = s.skn "
        "AND r.known_at > s.answered_at AND r.fact_date <= s.query_date"
    ).fetchone()
    wall = time.perf_counter() - t0
    conn.close()
    return {"wall": wall, "candidates": candidates}


def _child(fn: Any, *args: Any) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        result: dict[str, Any] = pool.apply(fn, args)
    return result


def _peak(row: dict[str, Any]) -> str:
    """Peak memory, and how much of it the run added to the made messages (which the
    catch-up rows hold in memory before the clock starts)."""
    return f"{row['rss_mb']:,.0f} (+{row['rss_mb'] - row['rss_before_mb']:,.0f})"


def chart(doc: dict[str, Any]) -> str:
    r = doc["rescreen"]
    return bars(
        f"Registry benchmark · {doc['machine']['cores']} cores, {doc['machine']['ram_gb']} GB",
        [
            ("catch-up: registry (registrations/s)", doc["apply"]["rate"], "#01689b"),
            ("catch-up: bare SQLite (rows/s)", doc["bare"]["rate"], "#8fcae7"),
            ("goal (registrations/s)", GOAL_APPLY, "#cccccc"),
        ],
        [
            f"re-screen list over {r['screenings']:,} answers: {r['wall']:.1f} s, peak "
            f"{r['rss_mb']:,.0f} MB (goal under {GOAL_RESCREEN_S:.0f} s, {GOAL_RESCREEN_MB:,} MB); "
            f"bare join {r['peer']['wall']:.1f} s"
        ],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK[0]:,} + {QUICK[1]:,}")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    n, screenings = QUICK if args.quick else FULL
    persons = max(1_000, n // 3)
    console = Console(width=None if sys.stdout.isatty() else 160)
    info = machine_info()
    with tempfile.TemporaryDirectory(prefix="kh-registry-") as folder:
        with console.status(f"catch-up: {n:,} registrations through the registry"):
            applied = _child(run_apply, folder, n, persons)
        with console.status(f"catch-up: {n:,} rows into bare SQLite"):
            bare = _child(run_bare, folder, n, persons)
        with console.status(f"{screenings:,} screenings during the gap, then the catch-up"):
            rescreen = _child(run_rescreen, folder, n, screenings, persons)
        with console.status(f"re-screen list over {screenings:,} screenings"):
            rescreen.update(_child(run_rescreen_list, folder))
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    table = Table(title=f"Registry benchmark ({info['cores']} cores, {info['ram_gb']} GB)")
    for col in ("what", "size", "wall s", "rate /s", "peak MB", "goal", "met"):
        table.add_column(col)
    table.add_row(
        "catch-up: registry.apply", f"{n:,}", f"{applied['wall']:.1f}", f"{applied['rate']:,.0f}",
        _peak(applied), f"≥ {GOAL_APPLY:,}/s", str(applied["rate"] >= GOAL_APPLY),
    )  # fmt: skip
    table.add_row(
        "catch-up: bare SQLite (peer)", f"{n:,}", f"{bare['wall']:.1f}", f"{bare['rate']:,.0f}",
        _peak(bare), "", "",
    )  # fmt: skip
    table.add_row(
        "screenings answered (setup)", f"{screenings:,}", f"{rescreen['screen_wall']:.1f}",
        f"{rescreen['screen_rate']:,.0f}", "", "", "",
    )  # fmt: skip
    met = rescreen["wall"] < GOAL_RESCREEN_S and rescreen["rss_mb"] < GOAL_RESCREEN_MB
    table.add_row(
        "re-screen list: registry.rescreen", f"{screenings:,}", f"{rescreen['wall']:.1f}",
        f"{rescreen['items']:,} items", f"{rescreen['rss_mb']:,.0f}",
        f"< {GOAL_RESCREEN_S:.0f} s, < {GOAL_RESCREEN_MB:,} MB", str(met),
    )  # fmt: skip
    table.add_row(
        "re-screen: bare join (peer)", f"{screenings:,}", f"{rescreen['peer']['wall']:.1f}",
        f"{rescreen['peer']['candidates']:,} candidates", "", "", "",
    )  # fmt: skip
    console.print(table)
    console.print(
        f"re-screen items: {rescreen['missed']:,} missed an antecedent, "
        f"{rescreen['wrongly_shown']:,} showed a case since dismissed or acquitted; "
        f"a redelivered batch of {BATCH:,} was recognised: {applied['redelivered_again']:,}",
        highlight=False,
    )
    doc = {
        "benchmark": "registry",
        "machine": info,
        "apply": applied,
        "bare": bare,
        "rescreen": rescreen,
        "goals": {
            "apply_rate": GOAL_APPLY,
            "rescreen_seconds": GOAL_RESCREEN_S,
            "rescreen_mb": GOAL_RESCREEN_MB,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    svg = args.out.with_suffix(".svg")
    svg.write_text(chart(doc), encoding="utf-8")
    console.print(f"wrote {args.out} and {svg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
