"""What a columnar scan would give the gateway watch: measured before anyone builds it.

The gateway benchmark (`gateway.py`) misses its goal of 1,000,000 lines/s by a factor of ten
or more: the watch parses each line in Python (a regular expression and a few string
operations a line), which alone costs more than the goal's one microsecond a line on each core.
`bench/README.md` ("Where the time goes") concludes that the goal needs a scan that works on
blocks of lines in compiled code, with only the sessions and the findings coming back to
Python. This script measures that, side by side with today's watch, on the same generated log:

* `watch (today)`: `Watch.scan_file` + `finish`, in one process and in two, as `gateway.py`;
* `columnar`: Apache Arrow's compute kernels (C++, the pyarrow package the project already
  has) over the log read a block of 16 MiB at a time, one block a thread, a few blocks in
  flight (memory holds those and the partial aggregates, not the log): each line's header (its
  time, event and the log's own sequence number) and the body's fields the session ledger joins
  on (SessionId, Client_ip, Destination, bytes sent), the byte offset of every line in the file
  (the evidence a finding names), the CitrixBleed 2 probe check on the `AAA Message` lines, the
  gaps in the sequence numbers, and per block one partial aggregate row a session; the blocks'
  partials are then combined into the ledger (lines, first and last time, client addresses,
  what it reached, bytes, whether it logged in), handed to Python as a list of dicts with each
  session's addresses and destinations, which is what the session rules would read;
* `columnar, rules on columns`: the same, but the two session rules checked here (more than
  one client address, no login) run on the aggregate columns, and only the sessions they flag
  come back to Python; the ledger stays an Arrow table (which a register would write as is).

What the columnar row leaves out, and today's watch does: the other rules (hijack by user agent
and network, leak then replay, many accounts, Sigma rules, silent periods) and the parser's
tolerance of what real logs do (day-first dates decided from the data, RFC 5424 wrapping,
escaped quotes, missing fields), the findings register and its evidence lines. So it is a floor
for the design, not an implementation of it. Each columnar run is checked against the ground
truth the generator wrote and against today's watch: every line read, none unparsed, the same
number of sessions, the 20 probes, the replayed session without a login, the hijacked session
with two client addresses.

    .venv/bin/python bench/gateway_columnar.py                  # 2,000,000 lines (~4 minutes)
    .venv/bin/python bench/gateway_columnar.py --lines 500000 --no-watch
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from rich.console import Console
from rich.table import Table

from exchange import machine_info
from gateway import GOAL, _child, generate, run_ours

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "gateway_columnar.json"
DEFAULT_LINES = 2_000_000
BLOCK = 1 << 24  # bytes of log a block (and a thread's task)
_PROBE = r"Authentication is rejected for .*[\x80-\xff]"


@dataclass(frozen=True, slots=True)
class Scanned:
    """One columnar scan of the log: its counts and where its time went."""

    threads: int
    lines: int
    unparsed: int
    sessions: int
    probes: int
    sequence_gaps: int
    without_login: tuple[str, ...]
    moved: tuple[str, ...]
    seconds: float
    columns_s: float  # reading and the blocks' kernels, which overlap
    sessions_s: float  # combining the blocks' partial aggregates into the ledger
    to_python_s: float
    peak_mb: float  # of the process that scanned (a fresh one a row)

    @property
    def rate(self) -> float:
        return self.lines / self.seconds


def _field(values: Any, pattern: str) -> Any:
    """The one group of ``pattern`` in each value, null where it does not match."""
    return pc.struct_field(pc.extract_regex(values, pattern), [0])


def _block(lines: Any, base: int) -> tuple[Any, int, int]:
    """One block of lines (a binary array) as columns: (table, probes, unparsed). ``base`` is
    the byte offset of the block's first line in the file."""
    # Each line's byte offset in the file: what a finding's evidence names. The partial
    # aggregates do not keep it, but its cost is in the figures.
    length = pc.add(pc.binary_length(lines), 1)  # the newline
    offset = pc.add(pc.subtract(pc.cumulative_sum(length), length), base)
    parts = pc.split_pattern(lines, " : ", max_splits=2)
    has_body = pc.greater_equal(pc.list_value_length(parts), 3)
    parts, offset = pc.filter(parts, has_body), pc.filter(offset, has_body)
    mid = pc.split_pattern(pc.list_element(parts, 1), " ")  # default SSLVPN LOGIN 1000001 0
    n_mid = pc.list_value_length(mid)
    ok = pc.or_(pc.equal(n_mid, 4), pc.equal(n_mid, 5))  # an event of one word or of two
    parsed, offset, mid = pc.filter(parts, ok), pc.filter(offset, ok), pc.filter(mid, ok)
    head = pc.list_element(parsed, 0)  # <134> 07/01/2025:00:00:00 GMT vpn-gw01 0-PPE-0
    body = pc.list_element(parsed, 2)
    stamp = pc.cast(pc.list_element(pc.split_pattern(head, " ", max_splits=2), 1), pa.string())
    at = pc.strptime(stamp, format="%m/%d/%Y:%H:%M:%S", unit="s", error_is_null=True)
    # "SSLVPN LOGIN", "AAA Message", "CLI CMD_EXECUTED": an event of two words
    two_words = pc.equal(pc.list_value_length(mid), 5)
    first = pc.list_element(mid, 1)
    second = pc.list_element(mid, 2)
    event = pc.if_else(
        two_words, pc.binary_join_element_wise(first, second, pa.scalar(b" ", pa.binary())), first
    )
    seq_text = pc.if_else(two_words, pc.list_element(mid, 3), second)
    sequence = pc.cast(seq_text, pa.int64())
    aaa = pc.equal(event, pa.scalar(b"AAA Message", pa.binary()))
    probes = pc.sum(pc.match_substring_regex(pc.filter(body, aaa), _PROBE)).as_py() or 0
    table = pa.table(
        {
            "offset": offset,
            "at": at,
            "sequence": sequence,
            "sid": _field(body, r"SessionId: (?P<v>\d+)"),
            "client": _field(body, r"Client_ip (?P<v>[^ ]*)"),
            "dest": _field(body, r"Destination (?P<v>[^ ]+)"),
            "sent": pc.cast(_field(body, r"Total_bytes_send (?P<v>\d+)"), pa.int64()),
            "login": pc.equal(event, pa.scalar(b"SSLVPN LOGIN", pa.binary())),
        }
    )
    return table, probes, len(lines) - len(parsed)


@dataclass(frozen=True, slots=True)
class _Part:
    """What one block leaves for the combining step: partial aggregates, not its lines."""

    sessions: Any  # sid, sid_count, at_min, at_max, sent_sum, login_any
    addresses: Any  # distinct (sid, addr)
    reached: Any  # distinct (sid, dest)
    probes: int
    unparsed: int
    first_seq: int | None
    last_seq: int | None
    gaps: int


def _reduce(lines: Any, base: int) -> _Part:
    table, probes, unparsed = _block(lines, base)
    seq = table["sequence"].combine_chunks()
    gaps = 0
    if len(seq) > 1:
        gaps = pc.sum(pc.greater(pc.subtract(seq[1:], seq[:-1]), 1)).as_py() or 0
    with_client = pc.and_kleene(pc.is_valid(table["client"]), pc.not_equal(table["client"], b""))
    table = table.append_column("addr", pc.if_else(with_client, table["client"], None))
    table = table.filter(pc.is_valid(table["sid"]))
    sessions = table.group_by("sid").aggregate(
        [("sid", "count"), ("at", "min"), ("at", "max"), ("sent", "sum"), ("login", "any")]
    )
    pairs = table.select(["sid", "addr"]).filter(pc.is_valid(table["addr"]))
    dests = table.select(["sid", "dest"]).filter(pc.is_valid(table["dest"]))
    return _Part(
        sessions=sessions,
        addresses=pairs.group_by(["sid", "addr"]).aggregate([]),
        reached=dests.group_by(["sid", "dest"]).aggregate([]),
        probes=probes,
        unparsed=unparsed,
        first_seq=seq[0].as_py() if len(seq) else None,
        last_seq=seq[-1].as_py() if len(seq) else None,
        gaps=gaps,
    )


def _blocks(path: Path) -> Iterator[tuple[Any, int]]:
    """The log's lines a block at a time, as binary arrays (no decoding), with each block's
    byte offset in the file; read ahead on Arrow's own thread."""
    reader = pcsv.open_csv(
        path,
        read_options=pcsv.ReadOptions(column_names=["line"], block_size=BLOCK),
        parse_options=pcsv.ParseOptions(delimiter="\x01", quote_char=False, escape_char=False),
        convert_options=pcsv.ConvertOptions(column_types={"line": pa.binary()}, check_utf8=False),
    )
    base = 0
    for batch in reader:
        lines = batch.column(0)
        yield lines, base
        base += (pc.sum(pc.binary_length(lines)).as_py() or 0) + len(lines)


def _sequence_gaps(parts: list[_Part]) -> int:
    gaps, last = 0, None
    for part in parts:
        gaps += part.gaps
        if last is not None and part.first_seq is not None and part.first_seq - last > 1:
            gaps += 1
        last = part.last_seq if part.last_seq is not None else last
    return gaps


def scan(path: Path, threads: int, *, rules_on_columns: bool = False) -> Scanned:
    """Scan ``path`` a block at a time with ``threads`` threads; memory holds a few blocks and
    the partial aggregates, not the log. Every session comes back to Python as a dict (what
    today's rules read); with ``rules_on_columns`` the two session rules checked here (more
    than one client address, no login) run on the aggregate columns, and only the sessions
    they flag come back, the ledger staying an Arrow table."""
    began = time.perf_counter()
    parts: list[_Part] = []
    lines = 0
    with ThreadPoolExecutor(threads) as pool:
        pending: deque[Future[_Part]] = deque()
        for block, base in _blocks(path):
            lines += len(block)
            pending.append(pool.submit(_reduce, block, base))
            while len(pending) > 2 * threads:  # a few blocks in flight, not the whole log
                parts.append(pending.popleft().result())
        parts.extend(f.result() for f in pending)
    columns = time.perf_counter()
    sessions = (
        pa.concat_tables([p.sessions for p in parts])
        .group_by("sid")
        .aggregate(
            [
                ("sid_count", "sum"),
                ("at_min", "min"),
                ("at_max", "max"),
                ("sent_sum", "sum"),
                ("login_any", "any"),
            ]
        )
    )
    addresses = (
        pa.concat_tables([p.addresses for p in parts]).group_by(["sid", "addr"]).aggregate([])
    )
    reached = pa.concat_tables([p.reached for p in parts]).group_by(["sid", "dest"]).aggregate([])
    ledger = sessions.join(addresses.group_by("sid").aggregate([("addr", "count")]), "sid").join(
        reached.group_by("sid").aggregate([("dest", "count")]), "sid"
    )
    moved_col = pc.greater(pc.fill_null(ledger["addr_count"], 0), 1)
    if rules_on_columns:
        for_rules = ledger.filter(pc.or_(moved_col, pc.invert(ledger["login_any_any"])))
    else:
        for_rules = ledger
    grouped = time.perf_counter()
    rows = for_rules.to_pylist()  # what the session rules read
    if not rules_on_columns:  # and each session's addresses and what it reached, as lists
        lists: dict[bytes, dict[str, list[bytes]]] = {}
        for pair in addresses.to_pylist():
            lists.setdefault(pair["sid"], {"addr": [], "dest": []})["addr"].append(pair["addr"])
        for pair in reached.to_pylist():
            lists.setdefault(pair["sid"], {"addr": [], "dest": []})["dest"].append(pair["dest"])
        for r in rows:
            r.update(lists.get(r["sid"], {"addr": [], "dest": []}))
    done = time.perf_counter()
    return Scanned(
        threads=threads,
        lines=lines,
        unparsed=sum(p.unparsed for p in parts),
        sessions=len(ledger),
        probes=sum(p.probes for p in parts),
        sequence_gaps=_sequence_gaps(parts),
        without_login=tuple(sorted(r["sid"].decode() for r in rows if not r["login_any_any"])),
        moved=tuple(sorted(r["sid"].decode() for r in rows if (r["addr_count"] or 0) > 1)),
        seconds=done - began,
        columns_s=columns - began,
        sessions_s=grouped - columns,
        to_python_s=done - grouped,
        peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


def checks(s: Scanned, truth: dict[str, Any], watch_sessions: int | None) -> dict[str, bool]:
    """Whether a columnar scan found what the log holds (and today's watch found)."""
    found = {
        "every line read": s.lines == truth["lines"],
        "none unparsed": s.unparsed == 0,
        "20 probes": s.probes == truth["probes"],
        "replay without login": s.without_login == (truth["replay"],),
        "hijack moved": s.moved == (truth["hijack"],),
        "no sequence gaps": s.sequence_gaps == 0,
    }
    if watch_sessions is not None:
        found["sessions as watch"] = s.sessions == watch_sessions
    return found


def _scan_row(path: Path, threads: int, on_columns: bool) -> dict[str, Any]:
    """One columnar row in a fresh process (`_child`), so that its peak memory is its own."""
    return asdict(scan(path, threads, rules_on_columns=on_columns))


def _rows(
    path: Path, truth: dict[str, Any], watch: bool, console: Console
) -> Iterator[tuple[str, dict[str, Any]]]:
    watch_sessions = None
    if watch:
        for workers in (1, 2):
            with console.status(f"today's watch, {workers} process(es)"):
                ours = _child(run_ours, str(path), workers)
            watch_sessions = ours["sessions"]
            yield (
                f"watch (today), {workers} process{'es' if workers > 1 else ''}",
                {
                    "lines": ours["lines"],
                    "seconds": ours["wall_s"],
                    "rate": ours["rate"],
                    "sessions": ours["sessions"],
                    "peak_mb": ours["peak_mb"] + ours["worker_peak_mb"],
                },
            )
    for threads, on_columns in ((1, False), (2, False), (2, True)):
        name = f"columnar, {threads} thread{'s' if threads > 1 else ''}"
        name += ", rules on columns" if on_columns else ""
        with console.status(name):
            s = Scanned(**_child(_scan_row, path, threads, on_columns))
        found = checks(s, truth, watch_sessions)
        yield name, {**asdict(s), "rate": s.rate, "checks": found}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=DEFAULT_LINES, help="log lines to generate")
    parser.add_argument("--no-watch", action="store_true", help="leave out today's watch")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)
    if args.lines < 1_000:
        parser.error(
            f"--lines must be at least 1,000 (the generator's attacks need room): {args.lines}"
        )
    console = Console()
    if not console.is_terminal:  # piped or redirected: do not squeeze the table into 80 columns
        console = Console(width=160)
    began = time.perf_counter()
    rows: list[tuple[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="gateway-columnar-") as tmp:
        path = Path(tmp) / "ns.log"
        with console.status(f"writing a log of {args.lines:,} lines"):
            truth = generate(path, args.lines)
        size = path.stat().st_size
        rows = list(_rows(path, truth, not args.no_watch, console))
    table = Table(title=f"Gateway scan of {truth['lines']:,} lines ({size / 2**20:,.0f} MiB)")
    heads = ("scan", "lines/s", "seconds", "blocks", "ledger", "to Python", "peak MB", "checks")
    for name in heads:
        table.add_column(name, justify="left" if name in ("scan", "checks") else "right")
    for name, r in rows:
        failed = [k for k, ok in r.get("checks", {}).items() if not ok]
        columnar = "checks" in r
        table.add_row(
            name,
            f"{r['rate']:,.0f}",
            f"{r['seconds']:.2f}",
            f"{r['columns_s']:.2f}" if columnar else "",
            f"{r['sessions_s']:.2f}" if columnar else "",
            f"{r['to_python_s']:.2f}" if columnar else "",
            f"{r['peak_mb']:,.0f}",
            ("failed: " + ", ".join(failed) if failed else "all passed") if columnar else "",
        )
    console.print(table)
    console.print(
        "columnar: Arrow compute over blocks of 16 MiB, one block a thread; it parses what the "
        "session ledger joins on and checks the CB2 probes, not every rule (see the docstring)"
    )
    console.print(f"goal (issue 6): {GOAL:,} lines/s")
    doc = {
        "machine": machine_info(),
        "lines": truth["lines"],
        "bytes": size,
        "truth": truth,
        "goal": GOAL,
        "seconds_total": time.perf_counter() - began,
        "results": [{"scan": name, **r} for name, r in rows],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    console.print(f"wrote {args.out}")
    passed = all(all(r["checks"].values()) for _, r in rows if "checks" in r)
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
