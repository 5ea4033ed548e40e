"""The CLI's shared checks of what a user names on the command line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer

from ketenherstel.cli_common import writable_output


def test_an_output_in_a_folder_that_takes_no_file_is_refused_before_any_work(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """/proc is a folder that os.access calls writable for root, yet no file can be made in
    it: a command that trusted os.access did its work (and its audit record), then crashed
    writing its --json file."""
    with pytest.raises(typer.Exit) as exc:
        writable_output(Path("/proc/ketenherstel-out.jsonl"), "--json")
    assert exc.value.exit_code == 2
    assert "--json /proc/ketenherstel-out.jsonl: not writable" in capsys.readouterr().err
    assert not Path("/proc/ketenherstel-out.jsonl").exists()


def test_a_writable_output_leaves_no_trace(tmp_path: Path) -> None:
    writable_output(tmp_path / "out.jsonl", "--json")
    assert os.listdir(tmp_path) == []  # the trial file is gone, and the output not made
    kept = tmp_path / "kept.jsonl"
    kept.write_text("old\n", encoding="utf-8")
    writable_output(kept, "--json")
    assert kept.read_text(encoding="utf-8") == "old\n"  # opened to append: not emptied
