"""bench/drain_layout.py compares other delivery layouts with today's drain. Its figures are only
worth reading if each layout delivers what today's does: every delivery once, per case in
order, none left. This runs it on a small backlog and checks that (speed is not asserted)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from rich.console import Console


@pytest.fixture
def layout(bench_module: Callable[[str], ModuleType]) -> ModuleType:
    return bench_module("drain_layout")


def test_every_layout_delivers_each_message_once_in_case_order(
    layout: ModuleType, tmp_path: Path
) -> None:
    rows = dict(layout._rows(tmp_path, 1_500, Console(quiet=True)))
    assert list(rows) == [
        "exchange (today)",
        "ready queue + lease table",
        "heads and leases in memory",
        "acks appended, cases linked",
        "the same, heads in a ready queue",
    ]
    for name, drained in rows.items():
        assert drained.delivered == 1_500, name
        assert (drained.twice, drained.out_of_case_order, drained.left) == (0, 0, 0), name
        assert drained.passed, name
    # Halfway through the appended drain, a restart finds the heads held in memory, and a
    # reader's count through rows and acks is what was still to deliver.
    half = rows["acks appended, cases linked"].halfway
    assert half is not None
    assert half.unfolded >= 750
    assert half.same_heads and half.same_count


def test_the_halfway_checks_fail_when_they_should(layout: ModuleType) -> None:
    drained = layout.Drained(delivered=10, halfway=layout.Halfway(same_heads=True))
    assert not drained.passed  # the count through the acks was wrong
    drained.halfway.same_count = True
    assert drained.passed
    drained.left = 1
    assert not drained.passed


def test_the_check_counts_what_a_wrong_drain_would_do(layout: ModuleType) -> None:
    check = layout._Check()
    check.add([(5, "case-a"), (7, "case-b")])
    check.add([(3, "case-a"), (7, "case-b"), (9, None)])
    r = check.result
    assert (r.delivered, r.twice, r.out_of_case_order) == (5, 1, 1)
