"""The memory limit a run is given, and ledgers that are not UTF-8: refused up front, or said
as what they are (a limit too small, a file in another encoding), never blamed on a ledger's
shape or line count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ketenherstel.reconcile import (
    MIN_MEMORY,
    ReconcileInputError,
    parse_hop,
    parse_memory,
    reconcile,
)
from ketenherstel.reconcile.duck import Engine
from tests.reconcile.helpers import row, run, totals, write


@pytest.mark.parametrize(
    ("memory", "says"),
    [
        # DuckDB took -1GB and -0 for no limit at all
        ("-1GB", "the memory limit '-1GB': must be more than 0; the least accepted is 100MB"),
        ("0GB", "the memory limit '0GB': must be more than 0; the least accepted is 100MB"),
        ("-0", "the memory limit '-0': give a size such as 2GB"),
        ("0", "the memory limit '0': give a size such as 2GB"),
        # DuckDB took these, and the run failed reading the first ledger ('cannot be read')
        ("1KB", "the memory limit '1KB' is too small: the least accepted is 100MB"),
        ("99.9MB", "the memory limit '99.9MB' is too small: the least accepted is 100MB"),
        ("95MiB", "the memory limit '95MiB' is too small: the least accepted is 100MB"),
        # DuckDB took 50% for half the machine's memory
        ("50%", "the memory limit '50%': give a size such as 2GB, 512MB or 1.5GiB"),
        ("lots", "give a size such as 2GB, 512MB or 1.5GiB"),
        ("1001TB", "the memory limit '1001TB' is too large: at most 1000TB"),
    ],
)
def test_a_memory_limit_of_nothing_or_too_little_is_refused_before_anything_is_made(
    tmp_path: Path, memory: str, says: str
) -> None:
    sent = write(tmp_path / "s.csv", [row("m1")])
    specs = [parse_hop(f"sent={sent}"), parse_hop(f"accepted={sent}")]
    with pytest.raises(ReconcileInputError) as caught:
        reconcile(specs, out_dir=tmp_path / "reports", memory=memory)
    assert says in str(caught.value)
    assert (
        "at least 100MB" in str(caught.value)
        or "accepted is 100MB" in str(caught.value)
        or ("1000TB" in str(caught.value))
    )
    assert caught.value.file is None  # not the ledger's fault
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize(
    ("memory", "size"),
    [
        ("2GB", 2 * 1000**3),
        ("2gb", 2 * 1000**3),
        (" 1 GB ", 1000**3),
        ("1.5GiB", 3 * 2**29),
        ("512MiB", 2**29),
        ("100MB", MIN_MEMORY),
        ("1TB", 1000**4),
    ],
)
def test_a_memory_limit_counts_bytes_as_duckdb_does(memory: str, size: int) -> None:
    assert parse_memory(memory) == size


def test_the_least_memory_limit_runs(tmp_path: Path) -> None:
    sent = write(tmp_path / "s.csv", [row("m1"), row("m2")])
    acc = write(tmp_path / "a.jsonl", [row("m1")])
    specs = [parse_hop(f"sent={sent}"), parse_hop(f"accepted={acc}")]
    report = reconcile(specs, out_dir=tmp_path / "reports", memory="100MB")
    assert report.to_json()["missing"] == 1


def test_a_run_out_of_memory_is_said_as_a_memory_limit_too_small(tmp_path: Path) -> None:
    """DuckDB's 'Out of Memory' was 'file s.csv: cannot be read as csv: Out of Memory Error'
    while reading, a traceback while comparing."""
    sent = write(tmp_path / "s.csv", [row(f"m{i}") for i in range(200)])
    acc = write(tmp_path / "a.csv", [row(f"m{i}") for i in range(100)])
    engine = Engine(tmp_path / "work", memory="100MB")
    try:
        a = engine.load(parse_hop(f"sent={sent}"), sent, "csv")
        b = engine.load(parse_hop(f"accepted={acc}"), acc, "csv")
        # more threads, or bigger ledgers, than the limit holds
        engine.con.execute("SET memory_limit = '1MB'")
        for attempt in (
            lambda: engine.load(parse_hop(f"other={acc}"), acc, "csv"),
            lambda: engine.compare(a, b, limits={}, duplicates_done=set()),
        ):
            with pytest.raises(ReconcileInputError) as caught:
                attempt()
            text = str(caught.value)
            assert text.startswith(
                "the memory limit 100MB (--memory) is too small for these ledgers (Out of Memory"
            ), text
            assert "give more, e.g. --memory 4GB" in text
            assert caught.value.file is None and "cannot be read" not in text
    finally:
        engine.close()


def _ledger(ext: str, bkey: str, rows: int = 4) -> str:
    records = [row(f"m{i}") for i in range(1, rows + 1)]
    records.append(row("m99", bkey=bkey))
    if ext == ".csv":
        lines = ["id,source,sender,type,bkey"]
        lines += [f"{r['id']},om,om,t.a,{r['bkey']}" for r in records]
    else:
        keep = ("id", "source", "sender", "type", "bkey")
        lines = [json.dumps({k: r[k] for k in keep}, ensure_ascii=False) for r in records]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("ext", [".csv", ".jsonl"])
@pytest.mark.parametrize(
    ("encoding", "rows", "says"),
    [
        # DuckDB: 'CSV Error on Line: 6' (the line before), or for JSON Lines 'line 5 is not
        # UTF-8 text' without a byte
        ("cp1252", 4, "not UTF-8 text: byte 0xe9 at line {line}, column {column}"),
        # past the first MiB, which is checked before DuckDB reads the file
        ("cp1252", 80_000, "not UTF-8 text: byte 0xe9 at line {line}, column {column}"),
        # 'the row has 1 fields instead of the header's 5 (line 7, delimiter ',')'
        ("utf-16", 4, "not UTF-8 text: the file is UTF-16 (it starts with UTF-16's byte order"),
        ("utf-16-le", 4, "not UTF-8 text: a NUL byte at line 1, column 2 (byte 1 of the file)"),
    ],
)
def test_a_ledger_that_is_not_utf8_is_said_to_be_so_naming_file_and_line(
    tmp_path: Path, ext: str, encoding: str, rows: int, says: str
) -> None:
    text = _ledger(ext, "Café", rows)
    sent = tmp_path / f"s{ext}"
    sent.write_bytes(text.encode(encoding))
    acc = write(tmp_path / "a.csv", [row("m1")])
    with pytest.raises(ReconcileInputError) as caught:
        run(tmp_path, [f"sent={sent}", f"accepted={acc}"])
    last = text.splitlines()[-1]
    line = len(text.splitlines())
    column = last.index("é") + 1
    assert str(caught.value).startswith(f"file {sent}: " + says.format(line=line, column=column)), (
        str(caught.value)
    )
    assert str(caught.value).endswith("save it as UTF-8")
    assert not (tmp_path / "reports").exists() or not list((tmp_path / "reports").iterdir())
    # the same ledger as UTF-8 is read
    sent.write_text(text, encoding="utf-8")
    assert totals(run(tmp_path, [f"sent={sent}", f"accepted={acc}"]))["matched"] == 1
