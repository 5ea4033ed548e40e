"""What a columnar scan would give the gateway watch: measured before anyone builds it.

The gateway benchmark (`gateway.py`) misses its goal of 1,000,000 lines/s by a factor of ten
or more: the watch parses each line in Python (a regular expression and a few string
operations a line), which alone costs more than the goal's one microsecond a line on each core.
`bench/README.md` ("Where the time goes") concludes that the goal needs a scan that works on
blocks of lines in compiled code, with only the sessions and the findings coming back to
Python. This script measures that, side by side with today's watch, on the same generated log:

* `watch (today)`: `Watch.scan_file` + `finish`, in one process and in two, as `gateway.py`;
* `columnar`: Apache Arrow's compute kernels (C++, the pyarrow package the project already
  has) over blocks of 16 MiB of lines, one block a thread: each line's header (its time, event
  and the log's own sequence number) and the body's fields the session ledger joins on
  (SessionId, Client_ip, Destination, bytes sent), the byte offset of every line (the evidence
  a finding names), the CitrixBleed 2 probe check on the `AAA Message` lines, the gaps in the
  sequence numbers, then one aggregate row a session (lines, first and last time, client
  addresses, what it reached, bytes, whether it logged in), handed to Python as a list of
  dicts, which is what the session rules would read;
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
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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
    read_s: float
    columns_s: float
    sessions_s: float
    to_python_s: float

    @property
    def rate(self) -> float:
        return self.lines / self.seconds


def _field(values: Any, pattern: str) -> Any:
    """The one group of ``pattern`` in each value, null where it does not match."""
    return pc.struct_field(pc.extract_regex(values, pattern), [0])


def _block(lines: Any) -> tuple[Any, int, int]:
    """One block of lines (a binary array) as columns: (table, probes, unparsed)."""
    length = pc.add(pc.binary_length(lines), 1)  # the newline
    offset = pc.subtract(pc.cumulative_sum(length), length)  # within the block
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
    two_words = pc.equal(
        pc.list_value_length(mid), 5
    )  # "SSLVPN LOGIN" and its like; "CLI CMD_EXECUTED" too
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


def read_lines(path: Path) -> Any:
    """The log as one binary column, a chunk a block; bytes as they are (no decoding)."""
    return pcsv.read_csv(
        path,
        read_options=pcsv.ReadOptions(column_names=["line"], block_size=BLOCK),
        parse_options=pcsv.ParseOptions(delimiter="\x01", quote_char=False, escape_char=False),
        convert_options=pcsv.ConvertOptions(column_types={"line": pa.binary()}, check_utf8=False),
    ).column("line")


def scan(path: Path, threads: int, *, rules_on_columns: bool = False) -> Scanned:
    """Scan ``path`` with ``threads`` threads. Every session comes back to Python as a dict
    (what today's rules read); with ``rules_on_columns`` the two session rules checked here
    (more than one client address, no login) run on the aggregate columns, and only the
    sessions they flag come back, the ledger staying an Arrow table."""
    began = time.perf_counter()
    column = read_lines(path)
    read = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        blocks = list(pool.map(_block, column.chunks))
    columns = time.perf_counter()
    lines = pa.concat_tables([table for table, _, _ in blocks])
    seq = lines["sequence"].combine_chunks()
    steps = pc.subtract(seq[1:], seq[:-1]) if len(seq) > 1 else pa.array([], pa.int64())
    gaps = pc.sum(pc.greater(steps, 1)).as_py() or 0
    with_client = pc.and_kleene(pc.is_valid(lines["client"]), pc.not_equal(lines["client"], b""))
    lines = lines.append_column("addr", pc.if_else(with_client, lines["client"], None))
    sessions = (
        lines.filter(pc.is_valid(lines["sid"]))
        .group_by("sid")
        .aggregate(
            [
                ("sid", "count"),
                ("at", "min"),
                ("at", "max"),
                ("addr", "distinct"),
                ("addr", "count_distinct"),
                ("dest", "distinct"),
                ("sent", "sum"),
                ("login", "any"),
            ]
        )
    )
    if rules_on_columns:
        flags = pc.or_(
            pc.greater(sessions["addr_count_distinct"], 1), pc.invert(sessions["login_any"])
        )
        sessions_for_rules = sessions.filter(flags)
    else:
        sessions_for_rules = sessions
    grouped = time.perf_counter()
    rows = sessions_for_rules.to_pylist()  # what the session rules read
    done = time.perf_counter()
    return Scanned(
        threads=threads,
        lines=len(column),
        unparsed=sum(unparsed for _, _, unparsed in blocks),
        sessions=len(sessions),
        probes=sum(probes for _, probes, _ in blocks),
        sequence_gaps=gaps,
        without_login=tuple(sorted(r["sid"].decode() for r in rows if not r["login_any"])),
        moved=tuple(sorted(r["sid"].decode() for r in rows if len(r["addr_distinct"]) > 1)),
        seconds=done - began,
        read_s=read - began,
        columns_s=columns - read,
        sessions_s=grouped - columns,
        to_python_s=done - grouped,
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
                },
            )
    for threads, on_columns in ((1, False), (2, False), (2, True)):
        name = f"columnar, {threads} thread{'s' if threads > 1 else ''}"
        name += ", rules on columns" if on_columns else ""
        with console.status(name):
            s = scan(path, threads, rules_on_columns=on_columns)
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
    for name in (
        "scan",
        "lines/s",
        "seconds",
        "read",
        "columns",
        "sessions",
        "to Python",
        "checks",
    ):
        table.add_column(name, justify="left" if name in ("scan", "checks") else "right")
    for name, r in rows:
        failed = [k for k, ok in r.get("checks", {}).items() if not ok]
        table.add_row(
            name,
            f"{r['rate']:,.0f}",
            f"{r['seconds']:.2f}",
            *(
                (f"{r['read_s']:.2f}", f"{r['columns_s']:.2f}", f"{r['sessions_s']:.2f}")
                if "read_s" in r
                else ("", "", "")
            ),
            f"{r['to_python_s']:.2f}" if "to_python_s" in r else "",
            ("failed: " + ", ".join(failed) if failed else "all passed") if "checks" in r else "",
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
