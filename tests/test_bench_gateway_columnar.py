"""bench/gateway_columnar.py measures a columnar scan of the gateway log beside today's watch.
Its figures are only worth reading if the columnar scan finds what the log holds and what the
watch finds. This runs it on a small log and checks that (speed is not asserted)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from rich.console import Console


@pytest.fixture
def columnar(bench_module: Callable[[str], ModuleType]) -> ModuleType:
    return bench_module("gateway_columnar")


def test_the_columnar_scan_finds_what_the_log_holds_and_the_watch_finds(
    columnar: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "ns.log"
    truth = columnar.generate(path, 6_000)
    rows = dict(columnar._rows(path, truth, True, Console(quiet=True)))
    assert list(rows) == [
        "watch (today), 1 process",
        "watch (today), 2 processes",
        "columnar, 1 thread",
        "columnar, 2 threads",
        "columnar, 2 threads, rules on columns",
    ]
    for name in list(rows)[2:]:
        row = rows[name]
        assert row["checks"] and all(row["checks"].values()), (name, row["checks"])
        assert row["sessions"] == rows["watch (today), 1 process"]["sessions"]


def test_the_checks_catch_a_scan_that_missed_something(
    columnar: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "ns.log"
    truth = columnar.generate(path, 3_000)
    good = columnar.scan(path, 1)
    assert all(columnar.checks(good, truth, good.sessions).values())
    for change, check in [
        ({"probes": good.probes - 1}, "20 probes"),
        ({"unparsed": 1}, "none unparsed"),
        ({"lines": good.lines - 1}, "every line read"),
        ({"without_login": ()}, "replay without login"),
        ({"moved": ()}, "hijack moved"),
        ({"sequence_gaps": 1}, "no sequence gaps"),
    ]:
        found = columnar.checks(dataclasses.replace(good, **change), truth, good.sessions)
        assert [k for k, ok in found.items() if not ok] == [check]
    assert not columnar.checks(good, truth, good.sessions + 1)["sessions as watch"]


def test_a_line_that_does_not_parse_is_counted_not_dropped(
    columnar: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "ns.log"
    truth = columnar.generate(path, 3_000)
    with path.open("ab") as fh:
        fh.write(b"not a netscaler line\n<134> 07/30/2025:00:00:00 GMT gw 0-PPE-0 : x\n")
    s = columnar.scan(path, 2)
    assert (s.lines, s.unparsed) == (truth["lines"] + 2, 2)


def test_too_few_lines_are_refused_with_the_reason(columnar: ModuleType) -> None:
    with pytest.raises(SystemExit) as exc:
        columnar.main(["--lines", "10"])
    assert exc.value.code == 2
