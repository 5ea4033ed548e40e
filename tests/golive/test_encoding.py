"""A plan file that is not UTF-8 is said to be so, at the line and column of its first byte
that is not: it was 'cannot read the plan file …: 'utf-8' codec can't decode byte 0xe9 in
position 97', put at line 1, column 1. (The forecast's CSV files: tests/golive/test_cli.py.)"""

from __future__ import annotations

from pathlib import Path

from ketenherstel.chain import Chain
from ketenherstel.golive import builtin_plan_path, check_plan_file
from tests.golive.support import only


def test_a_plan_file_in_cp1252_is_named_not_utf8_at_its_line(chain: Chain, tmp_path: Path) -> None:
    text = builtin_plan_path().read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    lines[5] = lines[5].rstrip("\n") + "  # overleg café\n"
    path = tmp_path / "plan.yaml"
    path.write_bytes("".join(lines).encode("cp1252"))
    problem = only(check_plan_file(path, chain))
    assert problem.location == f"plan.yaml:6:{lines[5].index('é') + 1}"
    assert problem.message.startswith("not UTF-8 text: byte 0xe9 at line 6, column ")
    assert problem.message.endswith("it may be cp1252 (Windows-1252) or Latin-1; save it as UTF-8")
    path.write_bytes("".join(lines).encode("utf-16"))
    problem = only(check_plan_file(path, chain))
    assert problem.location == "plan.yaml:1:1" and "the file is UTF-16" in problem.message
    path.write_text("".join(lines), encoding="utf-8")
    assert check_plan_file(path, chain) == []
