"""The main job end to end: what `make demo` runs, without serving afterwards."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ketenherstel.demo_http import run_http_demo as run_demo


def test_demo_delivers_and_acks_everything_and_recognises_the_resent_batch(tmp_path: Path) -> None:
    console = Console(file=(tmp_path / "out.txt").open("w"), width=120)
    summary = run_demo(
        store_url=f"sqlite:///{tmp_path}/demo.db", cases=10, port=0, serve=False, console=console
    )
    console.file.close()
    assert summary["events"] == summary["sent"] > 0
    assert summary["delivered"] == summary["acked"] == summary["routed"] >= summary["sent"]
    assert summary["waiting"] == 0
    assert summary["duplicates_recognised"] > 0
    text = (tmp_path / "out.txt").read_text()
    assert "What the exchange carried" in text
    assert "accepted → routed → leased → acked" in text
