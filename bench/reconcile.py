"""The reconciliation benchmark (issue 5, decision 0011).

Two ledgers of 10,000,000 records each as Parquet: the receiving side misses 0.5 %, holds 0.1 %
twice and 0.2 % with another content hash. Measured side by side, each in a fresh (spawned)
process so its memory is its own, both with the same DuckDB memory limit and threads:

1. **ketenherstel**: `reconcile()` over the two files: load and check, the high-water mark per
   (sender, type), the detailed comparison of the groups that differ, the business-key checks,
   and the report (summary, details as Parquet and CSV, HTML).
2. **bare DuckDB** (the peer): an anti-join each way (missing), a join on id with another hash
   (conflicting), a GROUP BY id (duplicates) and a GROUP BY business key (one fact under several
   ids) on each side, the exceptions written to Parquet. It finds the same classes; the counts
   are checked against each other and against what was injected.
3. **high-water mark on a clean hop**: `reconcile()` of the 10M file against an identical copy:
   the whole run, which confirms the hop without comparing a row.

Prints a Rich table and writes `bench/results/reconcile.json` and `bench/results/reconcile.svg`.

    .venv/bin/python bench/reconcile.py           # 10,000,000 vs 10,000,000
    .venv/bin/python bench/reconcile.py --quick   # 1,000,000 vs 1,000,000
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from html import escape
from pathlib import Path
from typing import Any

import duckdb
import orjson
from rich.console import Console
from rich.table import Table

from exchange import machine_info
from ketenherstel.reconcile import parse_hop, reconcile

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "reconcile.json"
CHART = HERE / "results" / "reconcile.svg"
MEMORY = "2GB"
GOAL_RATIO = 1.3
GOAL_PEAK_MB = 4096
GOAL_HWM_S = 2.0
# Disjoint residues mod 1000: 5 of 1000 missing, 1 duplicated, 2 conflicting.
MISSING = "(i % 200 = 7)"
DUPLICATED = "(i % 1000 = 5)"
CONFLICTING = "(i % 500 = 3)"


def generate(folder: Path, n: int) -> dict[str, int]:
    """a.parquet (the sender), b.parquet (the exchange, with the faults), clean.parquet (a
    copy of a). Not timed."""
    con = duckdb.connect()
    rows = f"""SELECT 'om-' || (i % 7) AS source, 'm' || i AS id, 'om' AS sender,
        'nl.strafrechtketen.type-' || (i % 12) AS type, 'k' || i AS bkey,
        md5(CAST(i AS VARCHAR)) AS hash, i AS sequence,
        TIMESTAMPTZ '2025-07-01 00:00:00+00' + to_seconds(i % 5000000) AS event_time,
        TIMESTAMPTZ '2025-07-01 00:00:00+00' + to_seconds(i % 5000000 + 60) AS recorded_at,
        i FROM range({n}) t(i)"""
    con.execute(
        f"COPY (SELECT * EXCLUDE (i) FROM ({rows})) TO '{folder / 'a.parquet'}' (FORMAT parquet)"
    )
    con.execute(
        f"""COPY (
          SELECT * EXCLUDE (i, hash), CASE WHEN {CONFLICTING} THEN md5('x' || i) ELSE hash END
            AS hash FROM ({rows}) WHERE NOT {MISSING}
          UNION ALL SELECT * EXCLUDE (i, hash), hash FROM ({rows}) WHERE {DUPLICATED}
        ) TO '{folder / "b.parquet"}' (FORMAT parquet)"""
    )
    con.execute(
        f"COPY (SELECT * FROM '{folder / 'a.parquet'}') TO '{folder / 'clean.parquet'}' "
        "(FORMAT parquet)"
    )
    injected = con.execute(
        f"SELECT count(*) FILTER ({MISSING}), count(*) FILTER ({DUPLICATED}), "
        f"count(*) FILTER ({CONFLICTING}) FROM range({n}) t(i)"
    ).fetchone()
    con.close()
    assert injected is not None
    return {"missing": injected[0], "duplicated": injected[1], "conflicting": injected[2]}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours(folder: str, a: str, b: str) -> dict[str, Any]:
    began = time.perf_counter()
    report = reconcile(
        [parse_hop(f"sent={Path(folder) / a}"), parse_hop(f"accepted={Path(folder) / b}")],
        out_dir=Path(folder) / "reports",
        memory=MEMORY,
    )
    wall = time.perf_counter() - began
    t = report.to_json()["pairs"][0]["totals"]
    hwm = report.to_json()["pairs"][0]["highWaterMark"]
    return {
        "wall_s": wall,
        "peak_mb": _peak_mb(),
        "missing": t["missingAtTo"] + t["missingAtFrom"],
        "duplicated": t["duplicateTo"] + t["duplicateFrom"],
        "conflicting": t["conflicting"],
        "duplicate_bkey": t["duplicateBusinessKeyFrom"] + t["duplicateBusinessKeyTo"],
        "matched": t["matched"],
        "clean_groups": hwm["cleanGroups"],
        "dirty_groups": hwm["dirtyGroups"],
    }


def run_bare(folder: str) -> dict[str, Any]:
    """The peer: plain DuckDB queries that find the same classes."""
    began = time.perf_counter()
    f = Path(folder)
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{MEMORY}'")
    con.execute(f"SET temp_directory = '{f / 'spill-bare'}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"CREATE VIEW a AS SELECT * FROM '{f / 'a.parquet'}'")
    con.execute(f"CREATE VIEW b AS SELECT * FROM '{f / 'b.parquet'}'")
    out = f / "bare"
    out.mkdir(exist_ok=True)
    queries = {
        "missing_b": "SELECT source, id FROM a ANTI JOIN b USING (source, id)",
        "missing_a": "SELECT source, id FROM b ANTI JOIN a USING (source, id)",
        "conflicting": (
            "SELECT DISTINCT a.source, a.id FROM a JOIN b USING (source, id) WHERE a.hash <> b.hash"
        ),
        "dup_a": "SELECT source, id, count(*) AS n FROM a GROUP BY ALL HAVING count(*) > 1",
        "dup_b": "SELECT source, id, count(*) AS n FROM b GROUP BY ALL HAVING count(*) > 1",
        "bkey_a": "SELECT sender, type, bkey FROM a GROUP BY ALL HAVING min(id) <> max(id)",
        "bkey_b": "SELECT sender, type, bkey FROM b GROUP BY ALL HAVING min(id) <> max(id)",
    }
    counts = {}
    for name, sql in queries.items():
        con.execute(f"COPY ({sql}) TO '{out / (name + '.parquet')}' (FORMAT parquet)")
        row = con.execute(f"SELECT count(*) FROM '{out / (name + '.parquet')}'").fetchone()
        counts[name] = int(row[0]) if row else 0
    dup_rows = con.execute(
        f"SELECT coalesce(sum(n - 1), 0) FROM '{out / 'dup_b.parquet'}'"
    ).fetchone()
    con.close()
    wall = time.perf_counter() - began
    return {
        "wall_s": wall,
        "peak_mb": _peak_mb(),
        "missing": counts["missing_a"] + counts["missing_b"],
        "duplicated": int(dup_rows[0]) if dup_rows else 0,
        "conflicting": counts["conflicting"],
        "duplicate_bkey": counts["bkey_a"] + counts["bkey_b"],
    }


def _child(fn: Any, *args: Any) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        result: dict[str, Any] = pool.apply(fn, args)
    return result


def chart(doc: dict[str, Any]) -> str:
    """Wall time and peak memory, ours beside the peer (SVG, no dependencies)."""
    ours, bare, hwm = doc["ours"], doc["bare"], doc["hwm_clean"]
    bars = [
        ("ketenherstel", ours["wall_s"], ours["peak_mb"], "#01689b"),
        ("bare DuckDB", bare["wall_s"], bare["peak_mb"], "#e17000"),
        ("clean hop (HWM)", hwm["wall_s"], hwm["peak_mb"], "#39870c"),
    ]
    top_s = max(b[1] for b in bars) * 1.15
    top_mb = max(GOAL_PEAK_MB, max(b[2] for b in bars)) * 1.05
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="760" height="300" '
        'font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="22" font-size="15" font-weight="bold">Reconciliation, '
        f"{doc['rows']:,} vs {doc['rows']:,} records</text>",
        '<text x="20" y="50">wall time (s)</text><text x="400" y="50">peak memory (MB)</text>',
    ]
    for i, (label, secs, mb, colour) in enumerate(bars):
        y = 70 + i * 70
        w1 = 300 * secs / top_s
        w2 = 300 * mb / top_mb
        out += [
            f'<text x="20" y="{y}">{escape(label)}</text>',
            f'<rect x="20" y="{y + 6}" width="{w1:.1f}" height="22" fill="{colour}"/>',
            f'<text x="{26 + w1:.1f}" y="{y + 22}">{secs:.1f} s</text>',
            f'<rect x="400" y="{y + 6}" width="{w2:.1f}" height="22" fill="{colour}"/>',
            f'<text x="{406 + w2:.1f}" y="{y + 22}">{mb:,.0f} MB</text>',
        ]
    x_goal = 400 + 300 * GOAL_PEAK_MB / top_mb
    out += [
        f'<line x1="{x_goal:.1f}" y1="60" x2="{x_goal:.1f}" y2="280" stroke="#d52b1e" '
        'stroke-dasharray="4 3"/>',
        f'<text x="{x_goal - 60:.1f}" y="292" fill="#d52b1e">goal 4 GB</text>',
        "</svg>",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000,000 records a side")
    parser.add_argument("--rows", type=int, default=None, help="records a side")
    args = parser.parse_args(argv)
    n = args.rows or (1_000_000 if args.quick else 10_000_000)
    console = Console()
    info = machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as folder:
        console.print(f"generating {n:,} + {n:,} records as Parquet …")
        injected = generate(Path(folder), n)
        console.print("ketenherstel …")
        ours = _child(run_ours, folder, "a.parquet", "b.parquet")
        console.print("bare DuckDB …")
        bare = _child(run_bare, folder)
        console.print("clean hop: high-water mark …")
        hwm = _child(run_ours, folder, "a.parquet", "clean.parquet")
    ratio = ours["wall_s"] / bare["wall_s"]
    doc = {
        "benchmark": "reconcile",
        "machine": info,
        "rows": n,
        "memory_limit": MEMORY,
        "injected": injected,
        "ours": ours,
        "bare": bare,
        "hwm_clean": hwm,
        "ratio": ratio,
        "goals": {
            "ratio": GOAL_RATIO,
            "peak_mb": GOAL_PEAK_MB,
            "hwm_s": GOAL_HWM_S,
            "ratio_met": ratio <= GOAL_RATIO,
            "peak_met": ours["peak_mb"] < GOAL_PEAK_MB,
            "hwm_met": hwm["wall_s"] < GOAL_HWM_S,
        },
    }
    same = all(
        ours[k] == bare[k] == injected.get(k, ours[k])
        for k in ("missing", "duplicated", "conflicting")
    )
    doc["same_classes"] = same
    table = Table(
        title=f"Reconciliation: {n:,} vs {n:,} records ({info['cores']} cores, "
        f"{info['ram_gb']} GiB)"
    )
    for col in ("run", "wall s", "peak MB", "missing", "dup", "conflict", "bkey dup"):
        table.add_column(col, justify="left" if col == "run" else "right", no_wrap=True)
    table.add_row(
        "injected",
        "",
        "",
        f"{injected['missing']:,}",
        f"{injected['duplicated']:,}",
        f"{injected['conflicting']:,}",
        "0",
    )
    for label, r in (("ketenherstel", ours), ("bare DuckDB", bare)):
        table.add_row(
            label,
            f"{r['wall_s']:.2f}",
            f"{r['peak_mb']:,.0f}",
            f"{r['missing']:,}",
            f"{r['duplicated']:,}",
            f"{r['conflicting']:,}",
            f"{r['duplicate_bkey']:,}",
        )
    table.add_row(
        "clean hop",
        f"{hwm['wall_s']:.2f}",
        f"{hwm['peak_mb']:,.0f}",
        f"{hwm['missing']:,}",
        "",
        f"{hwm['conflicting']:,}",
        "",
    )
    console.print(table)
    console.print(
        f"ratio ours / bare: {ratio:.2f} (goal ≤ {GOAL_RATIO}); peak {ours['peak_mb']:,.0f} MB "
        f"(goal < {GOAL_PEAK_MB:,}); clean hop {hwm['wall_s']:.2f} s (goal < {GOAL_HWM_S} s; "
        f"{hwm['clean_groups']} groups confirmed); same classes as injected: {same}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    CHART.write_text(chart(doc), encoding="utf-8")
    console.print(f"wrote {RESULTS.relative_to(HERE.parent)} and {CHART.relative_to(HERE.parent)}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
