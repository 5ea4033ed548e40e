"""The gateway watch benchmark (issue 6, decision 0012).

Generates a realistic NetScaler log (plain text, 10,000,000 lines by default, several GB):
sessions of ordinary users (login, store requests, connection statistics, desktop launches,
logout, a mistyped password now and then) with five attacks injected at known places (a
CitrixBleed 2 probe campaign, a leaked session replayed from another address, a hijacked
session, a password spray, a session surviving the kill). Then, in the same run:

- **ketenherstel**: `gateway scan` in process: every line parsed, the session ledger, every
  detection; lines/s, CPU, peak memory, and the findings against the ground truth; once in one
  process and once split over two (the CLI's default, gateway/ranges.py), which must agree;
- **grep -c** (the floor: count the lines);
- **awk**: NetScaler's published one-line CitrixBleed 2 check on the same file.

Prints a table and writes `bench/results/gateway.json` and a chart (`gateway.svg`).

    .venv/bin/python bench/gateway.py              # 10,000,000 lines
    .venv/bin/python bench/gateway.py --quick      # 1,000,000 lines
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from chart import bars
from exchange import machine_info
from ketenherstel.gateway.watch import Watch, load_rules

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "gateway.json"
MIN_LINES = 50_000
GOAL = 1_000_000  # lines/s
T0 = datetime(2025, 7, 1, tzinfo=UTC)
KILL = datetime(2025, 7, 17, 20, 0, tzinfo=UTC)
AWK = (
    "awk -v FS='Authentication is rejected for ' "
    "'{if($1~/AAA Message/&&$2~/[\\x80-\\xff]/) n++} END{print n+0}'"
)


def _line(at: datetime, kind: str, body: str, seq: int) -> str:
    return f"<134> {at:%m/%d/%Y:%H:%M:%S} GMT vpn-gw01 0-PPE-0 : default {kind} {seq} 0 : {body}\n"


def generate(path: Path, lines: int) -> dict[str, Any]:
    """Write the log in time order; returns the ground truth."""
    rng = random.Random(6)
    span = (KILL - T0 + timedelta(days=5)).total_seconds()
    step = span / lines
    at, seq, sid, written = T0, 1_000_000, 100_000, 0
    truth: dict[str, Any] = {}
    attacks = {
        int(lines * 0.30): "probes",
        int(lines * 0.30) + 30: "replay",
        int(lines * 0.50): "hijack",
        int(lines * 0.60): "spray",
        int(lines * 0.90): "after-kill",
    }
    with path.open("w", encoding="latin-1") as fh:
        while written < lines:
            kind = attacks.pop(min(attacks), None) if attacks and written >= min(attacks) else None
            sid += 1
            person = sid % 4000  # each person works from an address of their own
            user = f"u{person:04d}@org{person % 7}.example"
            ip = f"198.18.{person // 250}.{1 + person % 250}"
            out: list[tuple[str, str]] = []
            ctx = f"Context {user}@{ip} - SessionId: {sid}"
            if kind == "probes":
                truth["probes"] = 20
                for k in range(20):
                    leaked = bytes(rng.randint(0x80, 0xFF) for _ in range(6)).decode("latin-1")
                    out.append(("AAA Message", f'"Authentication is rejected for {leaked}{k}"'))
            login = kind not in ("replay",)
            client = "203.0.113.201" if kind == "replay" else ip
            if kind == "replay":
                truth["replay"] = str(sid)
                ctx = f"Context {user}@{client} - SessionId: {sid}"
            if login:
                out.append(
                    (
                        "SSLVPN LOGIN",
                        f'{ctx} - User {user} - Client_ip {ip} - Nat_ip "Mapped Ip" - Vserver '
                        '192.0.2.250:443 - Browser_type "Mozilla/5.0" - SSLVPN_client_type ICA - '
                        'Group(s) "STAF"',
                    )
                )
            for k in range(8):
                moved = "203.0.113.202" if kind == "hijack" and k >= 4 else client
                out.append(
                    (
                        "SSLVPN HTTPREQUEST",
                        f"{ctx} - portal.example User {user} : Group(s) STAF : Vserver "
                        f"192.0.2.250:443 - {at:%m/%d/%Y:%H:%M:%S} GMT : SSO is ON : GET "
                        f"/Citrix/StoreWeb/Resources/List/{k} - -",
                    )
                )
                if k % 4 == 3:
                    out.append(
                        (
                            "SSLVPN TCPCONNSTAT",
                            f"{ctx} - User {user} - Client_ip {moved} - "
                            'Nat_ip "Mapped Ip" - Vserver 192.0.2.250:443 - '
                            f"Source {moved}:50000 - Destination 10.20.0.9:2598 - "
                            "Duration 00:00:01  - Total_bytes_send 1000 - Total_bytes_recv 9000 - "
                            'Access Allowed - Group(s) "STAF"',
                        )
                    )
            if kind == "hijack":
                truth["hijack"] = str(sid)
            if kind == "spray":
                truth["spray"] = "203.0.113.203"
                for k in range(8):
                    out.append(
                        (
                            "AAA LOGIN_FAILED",
                            f"User s{k}@org1.example - Client_ip 203.0.113.203 - Failure_reason "
                            '"Username/Password mismatch" - Browser python-httpx/0.27.0',
                        )
                    )
            if kind == "after-kill":
                truth["after-kill"] = str(sid)
                at = KILL - timedelta(minutes=5)
            for n, (event, body) in enumerate(out):
                seq += 1
                when = at + timedelta(seconds=n * (600 if kind == "after-kill" else 1))
                fh.write(_line(when, event, body, seq))
            written += len(out)
            if kind != "after-kill":
                at = at + timedelta(seconds=step * len(out))
            else:
                at = KILL + timedelta(minutes=90)
    truth["lines"] = written
    return truth


def run_ours(path: str, workers: int) -> dict[str, Any]:
    watch = Watch(load_rules(), kill_time=KILL.timestamp())
    began, cpu = time.perf_counter(), time.process_time()
    watch.scan_file(Path(path), workers=workers)
    result = watch.finish()
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    rules: dict[str, int] = {}
    for f in result.findings:
        rules[f.rule] = rules.get(f.rule, 0) + 1
    return {
        "workers": workers,
        "wall_s": wall,
        "cpu_s": cpu,
        "worker_cpu_s": children.ru_utime + children.ru_stime,
        "lines": result.lines,
        "rate": result.lines / wall,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_mb": children.ru_maxrss / 1024,
        "sessions": len(result.sessions),
        "rules": rules,
        "sessions_found": {
            rule: sorted({f.session for f in result.findings if f.rule == rule and f.session})[:5]
            for rule in ("leak-then-replay", "session-hijack", "session-after-kill")
        },
        "spray": sorted({f.address for f in result.findings if f.rule == "many-accounts"}),
    }


def _child(fn: Any, *args: Any) -> dict[str, Any]:
    """In a fresh process (its memory its own) that may start workers of its own."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        result: dict[str, Any] = pool.submit(fn, *args).result()
    return result


def _shell(command: str, path: Path) -> tuple[float, str]:
    began = time.perf_counter()
    out = subprocess.run(
        f"{command} {path}", shell=True, check=True, capture_output=True, text=True
    ).stdout.strip()
    return time.perf_counter() - began, out


def _found(ours: dict[str, Any], truth: dict[str, Any], awk_found: int) -> dict[str, bool]:
    return {
        "probes": ours["rules"].get("cb2-aaa-leaked-bytes", 0) == truth["probes"] == awk_found,
        "replay": truth["replay"] in ours["sessions_found"]["leak-then-replay"]
        or ours["rules"].get("leak-then-replay", 0) > 0,
        "hijack": truth["hijack"] in ours["sessions_found"]["session-hijack"],
        "spray": truth["spray"] in ours["spray"],
        "after-kill": truth["after-kill"] in ours["sessions_found"]["session-after-kill"],
    }


def chart(doc: dict[str, Any]) -> str:
    """Lines per second of each run, beside the goal (an SVG bar chart)."""
    return bars(
        f"Gateway scan: {doc['lines']:,} lines, lines/s · {doc['machine']['cores']} cores, "
        f"{doc['machine']['ram_gb']} GB",
        [
            *(
                (f"ketenherstel scan, {r['workers']} process(es)", r["rate"], "#01689b")
                for r in doc["ours"]
            ),
            ("awk CitrixBleed 2 check (one rule)", doc["lines"] / doc["awk"]["wall_s"], "#8fcae7"),
            ("goal (every detection)", float(doc["goal_rate"]), "#cccccc"),
        ],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000,000 lines")
    parser.add_argument("--lines", type=int, default=None, help="log lines to generate")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2],
        help="scan with each of these numbers of processes (default: 1 and 2)",
    )
    args = parser.parse_args(argv)
    if any(w < 1 for w in args.workers):
        parser.error("--workers: each number of processes is 1 or more")
    if args.lines is not None and args.lines < MIN_LINES:
        # The log spans the same three weeks at any size: in a shorter one the lines lie so far
        # apart that the replay falls outside the leak-then-replay window (found from 40,000).
        parser.error(
            f"--lines must be at least {MIN_LINES:,}: a shorter log spreads its lines so thinly "
            f"over its three weeks that the injected replay cannot be found (got {args.lines:,})"
        )
    n = args.lines or (1_000_000 if args.quick else 10_000_000)
    console = Console(width=None if sys.stdout.isatty() else 160)
    info = machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as folder:
        path = Path(folder) / "ns.log"
        console.print(f"generating {n:,} lines …")
        truth = generate(path, n)
        size = path.stat().st_size
        grep_s, grep_out = _shell("LC_ALL=C grep -c ''", path)
        awk_s, awk_out = _shell(f"LC_ALL=C {AWK}", path)
        runs = []
        for workers in args.workers:
            console.print(f"ketenherstel scan, {workers} process(es) …")
            runs.append(_child(run_ours, str(path), workers))
    found = [_found(ours, truth, int(awk_out)) for ours in runs]
    same = all(
        r["rules"] == runs[0]["rules"] and r["sessions"] == runs[0]["sessions"] for r in runs
    )
    table = Table(
        title=f"Gateway scan: {truth['lines']:,} lines, {size / 2**30:.2f} GiB "
        f"({info['cores']} cores, {info['ram_gb']} GiB)"
    )
    for col in ("run", "wall s", "CPU s", "lines/s", "peak MB", "result"):
        table.add_column(col, justify="left" if col in ("run", "result") else "right")
    for ours in runs:
        peak = f"{ours['peak_mb']:,.0f}"
        if ours["workers"] > 1:
            peak += f" + {ours['worker_peak_mb']:,.0f}"
        table.add_row(
            f"ketenherstel scan, {ours['workers']} process(es)",
            f"{ours['wall_s']:.1f}",
            f"{ours['cpu_s'] + ours['worker_cpu_s']:.1f}",
            f"{ours['rate']:,.0f}",
            peak,
            f"{sum(ours['rules'].values())} findings, {ours['sessions']:,} sessions",
        )
    table.add_row("grep -c", f"{grep_s:.1f}", "", f"{truth['lines'] / grep_s:,.0f}", "", grep_out)
    table.add_row(
        "awk CB2 check",
        f"{awk_s:.1f}",
        "",
        f"{truth['lines'] / awk_s:,.0f}",
        "",
        f"{awk_out} probe lines",
    )
    console.print(table)
    best = max(r["rate"] for r in runs)
    console.print(
        f"ground truth found: {found[-1]}; the same findings and sessions in every run: {same}; "
        f"findings per rule: {runs[-1]['rules']}; goal {GOAL:,} lines/s met: {best >= GOAL}",
        highlight=False,
    )
    doc = {
        "benchmark": "gateway",
        "machine": info,
        "lines": truth["lines"],
        "bytes": size,
        "truth": truth,
        "ours": runs,
        "same_in_every_run": same,
        "grep": {"wall_s": grep_s},
        "awk": {"wall_s": awk_s, "found": int(awk_out)},
        "found": found,
        "goal_rate": GOAL,
    }
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    svg = out.with_suffix(".svg")
    svg.write_text(chart(doc), encoding="utf-8")
    console.print(f"wrote {out} and {svg}")
    return 0 if same and all(all(f.values()) for f in found) else 1


if __name__ == "__main__":
    sys.exit(main())
