"""bench/gateway.py measures the gateway watch against grep and awk. Its figures only count if
the scan finds the attacks the generator injects; this runs it at its smallest size and checks
that, and that bad arguments are refused before anything is generated (speed is not asserted)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import orjson
import pytest


@pytest.fixture
def gateway(bench_module: Callable[[str], ModuleType]) -> ModuleType:
    return bench_module("gateway")


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--lines", "0"], "--lines must be at least 50,000"),
        (["--lines", "49999"], "--lines must be at least 50,000"),
        (["--workers", "0"], "--workers"),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(
    gateway: ModuleType, argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        gateway.main(argv)
    assert exc.value.code == 2
    assert named in capsys.readouterr().err


def test_the_smallest_log_has_every_injected_attack_found(
    gateway: ModuleType, tmp_path: Path
) -> None:
    out = tmp_path / "results" / "gateway.json"
    assert gateway.main(["--lines", "50000", "--workers", "1", "--out", str(out)]) == 0
    doc = orjson.loads(out.read_bytes())
    assert doc["lines"] >= 50_000
    assert doc["found"] == [
        {"probes": True, "replay": True, "hijack": True, "spray": True, "after-kill": True}
    ]
    assert out.with_suffix(".svg").read_text(encoding="utf-8").startswith("<svg")
