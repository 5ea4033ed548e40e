"""The picture benchmark (issue 7, decision 0013): server time of every picture page and of the
briefing, with the full om-2025 scenario loaded.

It runs the demo's scenario into its own SQLite file first (``ketenherstel demo --no-serve``,
about six minutes at full volume, kept in ``var/bench-picture/`` for the next run; ``--fresh``
runs it again) unless ``--store`` names a store that already holds a run.
Then a real uvicorn server (``ServerThread``) serves that store, and one client, signed in as an
operator, requests each page ``--requests`` times after one warm-up request; the first request
of all (the snapshot computed from the store: one pass over every delivery) is reported apart.
Beside them, in the same run, the peers:

- ``GET /v1/health`` and a static file of similar size (the components CSS, 350 kB) from the
  same server: the framework's and the transport's floor;
- for the PDF, Debian's Chromium printing the same briefing HTML (``--print-to-pdf``).

Prints a table and writes ``bench/results/picture.json``.

    .venv/bin/python bench/picture.py                        # full volume (runs the scenario)
    .venv/bin/python bench/picture.py --store var/demo.db    # a store that holds a run
    .venv/bin/python bench/picture.py --scale 0.1            # a smaller run
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.table import Table

from exchange import machine_info
from ketenherstel.bootstrap import bootstrap
from ketenherstel.exchange.auth import LOCAL_OPERATOR
from ketenherstel.picture import briefing
from ketenherstel.picture.series import compute
from ketenherstel.settings import Settings
from ketenherstel.web.server import ServerThread

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "picture.json"
GOAL_PAGE_MS = 200.0
GOAL_PDF_S = 10.0
CHROMIUM = "/usr/bin/chromium"
console = Console()

PAGES = [
    ("beeld", "/ui/"),
    ("kanaal om→justid", "/ui/reeks?soort=channel&sleutel=om-%3Ejustid"),
    ("proces dagvaarding", "/ui/reeks?soort=process&sleutel=dagvaarding"),
    ("partner om", "/ui/reeks?soort=partner&sleutel=om"),
    ("knelpunten", "/ui/knelpunten"),
    ("knelpunt 1", "/ui/knelpunten/1"),
    ("herstelmatrix", "/ui/herstelmatrix"),
    ("bereikbaarheid", "/ui/bereikbaarheid"),
    ("briefings", "/ui/briefings"),
    ("briefing 1 (HTML)", "/ui/briefings/1"),
    ("statuspagina", "/status"),
    ("Atom-feed", "/status/feed.atom"),
    ("/metrics", "/metrics"),
    ("API series", "/v1/picture/series?kind=all"),
]
PEERS = [
    ("peer: /v1/health", "/v1/health"),
    ("peer: static 350 kB", "/ui/static/nlds/components.css"),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))]


def run_scenario(store: Path, scale: float) -> float:
    began = time.perf_counter()
    subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "ketenherstel"),
            "demo",
            "--no-serve",
            "--scale",
            str(scale),
            "--store",
            f"sqlite:///{store}",
            "--out",
            str(store.parent),
        ],
        check=True,
    )
    return time.perf_counter() - began


def timed(client: httpx.Client, path: str, n: int) -> tuple[list[float], int]:
    client.get(path)  # warm-up
    times = []
    size = 0
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
        size = len(r.content)
    return times, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--store", type=Path, help="a SQLite file that holds a run of om-2025")
    ap.add_argument("--scale", type=float, default=1.0, help="volume when running the scenario")
    ap.add_argument("--fresh", action="store_true", help="run the scenario again")
    ap.add_argument("--requests", type=int, default=30, help="timed requests per page")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="bench-picture-"))
    scenario_s = None
    try:
        if args.store is None:
            folder = ROOT / "var" / "bench-picture" / f"scale-{args.scale:g}"
            store = folder / "om-2025.db"
            if args.fresh or not (folder / "om-2025.json").is_file():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True)
                console.print(f"running om-2025 at {args.scale:.0%} into {store} …")
                scenario_s = run_scenario(store, args.scale)
        else:
            store = args.store
            if not store.is_file():
                sys.exit(f"--store: no such file: {store}")
        # The bench's own copy of the picture's registers (the demo's briefings, bottleneck and
        # calls), so a run never changes the store's own file.
        picture_src = Path(Settings(store_url=f"sqlite:///{store}").picture_location())
        picture_db = work / "picture.sqlite"
        if picture_src.is_file():
            shutil.copy(picture_src, picture_db)
        settings = dataclasses.replace(
            Settings(store_url=f"sqlite:///{store}", synchronous="NORMAL"),
            picture_db=str(picture_db),
        )
        rt = bootstrap(settings)
        # The snapshot the server computes at start (and later in the background): one pass
        # over every delivery. Timed here, before the server starts.
        t = time.perf_counter()
        compute(rt.store, rt.chain, now=time.time())
        snapshot_s = time.perf_counter() - t
        token, _ = rt.exchange.create_token(
            principal=LOCAL_OPERATOR, role="operator", person="bench", label="bench"
        )
        rows: list[dict[str, Any]] = []
        with ServerThread(rt) as server, httpx.Client(base_url=server.url, timeout=300) as c:
            c.headers["Authorization"] = f"Bearer {token}"  # for /metrics and the API
            r = c.post("/ui/aanmelden", data={"token": token}, follow_redirects=False)
            assert r.status_code == 303, r.text
            t = time.perf_counter()
            c.get("/ui/").raise_for_status()
            first_ms = (time.perf_counter() - t) * 1000  # waits for the warm-up's snapshot
            snap = rt.store.picture_fingerprint()
            for name, path in PAGES + PEERS:
                times, size = timed(c, path, args.requests)
                rows.append(
                    {
                        "page": name,
                        "path": path,
                        "bytes": size,
                        "n": len(times),
                        "p50_ms": statistics.median(times),
                        "p95_ms": percentile(times, 0.95),
                        "max_ms": max(times),
                        "peer": name.startswith("peer"),
                    }
                )
            # The briefing: made (figures frozen, HTML and the publication version rendered),
            # then its PDF rendered, each several times.
            made = []
            for _ in range(3):
                page = c.get("/ui/briefings").text
                csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
                day = c.get("/v1/picture/series?kind=all").json()["days"][-1]["date"]
                t = time.perf_counter()
                r = c.post(
                    "/ui/briefings", data={"peildatum": day, "csrf": csrf}, follow_redirects=False
                )
                made.append(time.perf_counter() - t)
                assert r.status_code == 303, r.text
            service = server_app_briefings(rt, picture_db)
            html = service.picture.db.briefings()[0].html
            pdf_s, pages = [], 0
            for _ in range(3):
                t = time.perf_counter()
                body = briefing.pdf(html)
                pdf_s.append(time.perf_counter() - t)
            from io import BytesIO

            from pypdf import PdfReader

            pages = len(PdfReader(BytesIO(body)).pages)
            peer_pdf = chromium_pdf(html, work)
            service.picture.db.close()
        rt.close()
        result = {
            "machine": machine_info(),
            "load_avg_start": load,
            "load_avg_end": os.getloadavg()[0],
            "store": str(store),
            "deliveries": snap[0],
            "scenario_seconds": scenario_s,
            "snapshot_seconds": snapshot_s,
            "first_page_ms": first_ms,
            "pages": rows,
            "briefing_make_s": made,
            "pdf_s": pdf_s,
            "pdf_pages": pages,
            "peer_chromium_pdf_s": peer_pdf,
            "goals": {"page_p95_ms": GOAL_PAGE_MS, "pdf_s": GOAL_PDF_S},
        }
        report(result)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
        console.print(f"wrote {args.out}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def server_app_briefings(rt: Any, picture_db: Path) -> Any:
    """A BriefingService of its own on the same files (the server's lives in its app)."""
    from ketenherstel.briefings import BriefingService
    from ketenherstel.picture.db import open_picture_db
    from ketenherstel.picture.service import Picture
    from ketenherstel.store.manual_ports import manual_store

    db = open_picture_db(picture_db)
    picture = Picture(rt.store, manual_store(rt.store), rt.chain, db, rt.exchange.clock)
    return BriefingService(rt, picture)


def chromium_pdf(html: str, work: Path) -> list[float] | None:
    if not Path(CHROMIUM).exists():
        return None
    page = work / "briefing.html"
    page.write_text(html, encoding="utf-8")
    times = []
    for _ in range(3):
        target = work / "chromium.pdf"
        t = time.perf_counter()
        subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-pdf-header-footer",
                f"--print-to-pdf={target}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        times.append(time.perf_counter() - t)
    return times


def report(r: dict[str, Any]) -> None:
    m = r["machine"]
    table = Table(
        title=f"Picture pages, {r['deliveries']:,} deliveries · {m['cores']} cores, "
        f"{m['ram_gb']} GB · load {r['load_avg_start']:.1f} → {r['load_avg_end']:.1f}",
        title_justify="left",
    )
    for col in ("page", "bytes", "p50 ms", "p95 ms", "max ms", f"p95 < {GOAL_PAGE_MS:.0f} ms"):
        table.add_column(col, justify="left" if col == "page" else "right")
    for row in r["pages"]:
        ok = "" if row["peer"] else ("yes" if row["p95_ms"] < GOAL_PAGE_MS else "[red]no[/]")
        table.add_row(
            row["page"],
            f"{row['bytes']:,}",
            f"{row['p50_ms']:.1f}",
            f"{row['p95_ms']:.1f}",
            f"{row['max_ms']:.1f}",
            ok,
        )
    console.print(table)
    console.print(
        f"snapshot of the store (one pass over every delivery, at start and then in the "
        f"background at most once a minute): {r['snapshot_seconds']:,.1f} s; first page after "
        f"start: {r['first_page_ms']:,.0f} ms"
    )
    made = r["briefing_make_s"]
    console.print(
        f"briefing made (figures, HTML, publication version): "
        f"{statistics.median(made):.2f} s median of {len(made)}"
    )
    pdf = r["pdf_s"]
    ok = "yes" if max(pdf) < GOAL_PDF_S else "no"
    console.print(
        f"PDF (WeasyPrint, {r['pdf_pages']} pages): {statistics.median(pdf):.2f} s median, "
        f"{max(pdf):.2f} s max of {len(pdf)}; goal < {GOAL_PDF_S:.0f} s: {ok}"
    )
    if r["peer_chromium_pdf_s"]:
        peer = r["peer_chromium_pdf_s"]
        console.print(
            f"peer: Chromium --print-to-pdf of the same HTML: "
            f"{statistics.median(peer):.2f} s median of {len(peer)}"
        )


if __name__ == "__main__":
    main()
