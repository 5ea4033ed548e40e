"""Bad input gets a clear error naming file, column and row, and no report is left behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ketenherstel.reconcile import (
    ReconcileInputError,
    parse_hop,
    parse_mapping,
    parse_slas,
    reconcile,
)
from tests.reconcile.helpers import row, run, totals, write


def no_report(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    assert not reports.exists() or list(reports.iterdir()) == []


def test_a_mapped_column_the_file_does_not_have(tmp_path: Path) -> None:
    sent = write(tmp_path / "s.csv", [{"MsgId": "m1", "type": "t.a"}])
    acc = write(tmp_path / "a.csv", [row("m1")])
    with pytest.raises(ReconcileInputError) as caught:
        run(tmp_path, [f"sent={sent}", f"accepted={acc}"], maps=["sent.id=MessageId"])
    text = str(caught.value)
    assert str(sent) in text and "'MessageId'" in text and "MsgId" in text
    assert caught.value.column == "MessageId"
    no_report(tmp_path)


def test_a_ledger_without_type_or_without_id_and_bkey(tmp_path: Path) -> None:
    acc = write(tmp_path / "a.csv", [row("m1")])
    no_type = write(tmp_path / "n.csv", [{"id": "m1"}])
    with pytest.raises(ReconcileInputError, match="no 'type' column"):
        run(tmp_path, [f"sent={no_type}", f"accepted={acc}"])
    no_key = write(tmp_path / "k.csv", [{"type": "t.a", "hash": "h"}])
    with pytest.raises(ReconcileInputError, match="neither 'id' nor 'bkey'"):
        run(tmp_path, [f"sent={no_key}", f"accepted={acc}"])
    no_report(tmp_path)


@pytest.mark.parametrize("ext", [".csv", ".jsonl", ".parquet"])
def test_with_the_chains_types_an_unknown_type_or_limit_is_refused(
    tmp_path: Path, ext: str
) -> None:
    """Given the chain's types, a row of another type (it would be classed missing and
    requested from its sender) and a limit for another type (it would apply to nothing) are
    refused; without them (these unit tests' own types) nothing is checked."""
    types = {"t.a", "t.b"}
    sent = write(tmp_path / f"s{ext}", [row("m1"), row("m2", type="bogus.type"), row("m3")])
    acc = write(tmp_path / "a.csv", [row("m1")])
    specs = [parse_hop(f"sent={sent}"), parse_hop(f"accepted={acc}")]
    with pytest.raises(ReconcileInputError, match=r"'bogus\.type' is not a message type") as e:
        reconcile(specs, out_dir=tmp_path / "reports", types=types)
    assert (e.value.file, e.value.column, e.value.row) == (str(sent), "type", 2)
    fine = [parse_hop(f"sent={acc}"), parse_hop(f"accepted={acc}")]
    with pytest.raises(ReconcileInputError, match=r"SLA for 'bogus\.type'"):
        reconcile(
            fine, out_dir=tmp_path / "reports", types=types, limits=parse_slas(["bogus.type=7d"])
        )
    no_report(tmp_path)
    limits = parse_slas(["t.a=7d", "*=1d"])
    assert (
        reconcile(fine, out_dir=tmp_path / "reports", types=types, limits=limits).detail_rows == 0
    )
    assert run(tmp_path, [f"sent={sent}", f"accepted={acc}"]).to_json()["missing"] == 2


@pytest.mark.parametrize("ext", [".csv", ".jsonl", ".parquet"])
def test_a_value_of_the_wrong_type_names_its_row(tmp_path: Path, ext: str) -> None:
    rows = [row("m1", sequence=1), row("m2", sequence=2), row("m3", sequence="drie")]
    sent = write(tmp_path / f"s{ext}", rows)
    acc = write(tmp_path / "a.csv", [row("m1")])
    with pytest.raises(ReconcileInputError) as caught:
        run(tmp_path, [f"sent={sent}", f"accepted={acc}"])
    assert (caught.value.file, caught.value.column, caught.value.row) == (str(sent), "sequence", 3)
    assert "'drie' is not a whole number" in str(caught.value)
    no_report(tmp_path)


def test_a_bad_time_names_its_row(tmp_path: Path) -> None:
    sent = write(tmp_path / "s.csv", [row("m1"), row("m2", recorded_at="gisteren")])
    acc = write(tmp_path / "a.csv", [row("m1")])
    with pytest.raises(ReconcileInputError) as caught:
        run(tmp_path, [f"sent={sent}", f"accepted={acc}"])
    assert (caught.value.column, caught.value.row) == ("recorded_at", 2)
    assert "date and time" in str(caught.value)


HEADER = "MsgId,Bron,Soort,Sleutel,Tijd"
MAPS = ["sent.id=MsgId", "sent.source=Bron", "sent.type=Soort", "sent.bkey=Sleutel"]


@pytest.mark.parametrize(
    ("line", "fields"),
    [("m2,om,t.a,2025-07-01T10:00:00Z", 4), ("m2,om,t.a,k2,2025-07-01T10:00:00Z,x", 6)],
)
def test_a_row_with_a_field_too_few_or_too_many_is_named_with_its_line(
    tmp_path: Path, line: str, fields: int
) -> None:
    """A row too short: DuckDB read the file as one column named after the header, and the
    error blamed a mapped column the file has. A row too long: DuckDB took it for the header
    and silently dropped the rows above it."""
    sent = tmp_path / "b8.csv"
    sent.write_text(f"{HEADER}\nm1,om,t.a,k1,2025-07-01T10:00:00Z\n{line}\n", encoding="utf-8")
    acc = write(tmp_path / "a.csv", [row("m1")])
    with pytest.raises(ReconcileInputError) as caught:
        run(tmp_path, [f"sent={sent}", f"accepted={acc}"], maps=MAPS)
    assert (caught.value.file, caught.value.row) == (str(sent), 2)
    assert f"the row has {fields} fields instead of the header's 5 (line 3" in str(caught.value)
    assert "no such column" not in str(caught.value)
    no_report(tmp_path)


def test_a_short_row_past_what_duckdb_samples_is_named(tmp_path: Path) -> None:
    sent = tmp_path / "far.csv"
    lines = [f"m{i},om,t.a,k{i},2025-07-01T10:00:00Z" for i in range(1, 30_001)]
    lines[25_000 - 1] = "m25000,om,t.a,k25000"
    sent.write_text(HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    acc = write(tmp_path / "a.csv", [row("m1")])
    with pytest.raises(ReconcileInputError) as caught:
        run(tmp_path, [f"sent={sent}", f"accepted={acc}"], maps=MAPS)
    assert caught.value.row == 25_000 and "4 fields instead of the header's 5" in str(caught.value)
    no_report(tmp_path)


def test_mixed_line_endings_name_the_first_line_that_differs(tmp_path: Path) -> None:
    sent = tmp_path / "mixed.csv"
    sent.write_bytes(b"id,source,type\r\nm1,om,t.a\r\nm2,om,t.a\nm3,om,t.a\r\n")
    acc = write(tmp_path / "a.csv", [row("m1")])
    with pytest.raises(ReconcileInputError) as caught:
        run(tmp_path, [f"sent={sent}", f"accepted={acc}"])
    assert caught.value.file == str(sent)
    assert "line 3 ends in LF where line 1 ends in CRLF (mixed line endings)" in str(caught.value)
    no_report(tmp_path)


def test_unreadable_empty_and_absent_files(tmp_path: Path) -> None:
    acc = write(tmp_path / "a.csv", [row("m1")])
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ReconcileInputError, match="cannot be read as parquet") as caught:
        run(tmp_path, [f"sent={broken}", f"accepted={acc}"])
    assert caught.value.file == str(broken)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ReconcileInputError, match="empty"):
        run(tmp_path, [f"sent={empty}", f"accepted={acc}"])
    with pytest.raises(ReconcileInputError, match="no such file"):
        run(tmp_path, [f"sent={tmp_path / 'nowhere.csv'}", f"accepted={acc}"])
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"id": "m1", "type": "t.a"}\n{"id": \n', encoding="utf-8")
    with pytest.raises(ReconcileInputError, match="cannot be read as jsonl"):
        run(tmp_path, [f"sent={bad_json}", f"accepted={acc}"])
    no_report(tmp_path)


GOOD = [json.dumps({"id": f"m{i}", "type": "t.a"}) for i in range(1, 7)]


@pytest.mark.parametrize(
    ("lines", "bad"),
    [
        (["not json", *GOOD[1:]], 1),
        ([*GOOD[:3], "not json", *GOOD[4:]], 4),
        ([*GOOD[:5], "not json"], 6),
        ([GOOD[0], "", GOOD[1], "not json", *GOOD[3:]], 4),
        ([GOOD[0], "", "  ", GOOD[1], "not json", *GOOD[3:]], 5),
        ([*GOOD[:2], '{"id": "m3"', *GOOD[3:]], 3),
        ([*GOOD[:2], "[1, 2]", "not json", *GOOD[4:]], 3),
    ],
)
@pytest.mark.parametrize("end", ["\n", ""])
def test_a_json_lines_ledger_that_cannot_be_read_names_the_line(
    tmp_path: Path, lines: list[str], bad: int, end: str
) -> None:
    """DuckDB's message named the line after the bad one, or fewer with blank lines above."""
    acc = write(tmp_path / "a.csv", [row("m1")])
    sent = tmp_path / "l2.jsonl"
    sent.write_text("\n".join(lines) + end, encoding="utf-8")
    with pytest.raises(ReconcileInputError) as caught:
        run(tmp_path, [f"sent={sent}", f"accepted={acc}"], maps=["sent.sender=:om"])
    assert f"file {sent}: cannot be read as jsonl: line {bad} is not " in str(caught.value)
    no_report(tmp_path)


@pytest.mark.parametrize(
    ("lines", "bad"),
    [
        ([*GOOD[:2], "[1, 2]", *GOOD[3:]], 3),
        ([*GOOD[:5], "3"], 6),
        ([GOOD[0], "", '"m2"', *GOOD[2:]], 3),
        (["[1, 2]", "[3]"], 1),
        (["3", "4"], 1),
        # `null` was read as a row with nothing in it, and the run went on
        ([*GOOD[:2], "null", *GOOD[3:]], 3),
        (["null", *GOOD[1:]], 1),
        ([*GOOD[:5], "null"], 6),
        ([GOOD[0], "", " null ", *GOOD[2:]], 3),
        (["null", "null"], 1),
    ],
)
def test_a_json_lines_ledger_line_that_is_no_object_is_refused_naming_the_line(
    tmp_path: Path, lines: list[str], bad: int
) -> None:
    """DuckDB reads such a file without complaint, as one column named ``json``: the run then
    failed later, for want of a 'type' column or a mapped one, naming neither file line."""
    acc = write(tmp_path / "a.csv", [row("m1")])
    sent = tmp_path / "l.jsonl"
    sent.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ReconcileInputError) as caught:
        run(tmp_path, [f"sent={sent}", f"accepted={acc}"], maps=["sent.id=id"])
    assert str(caught.value) == (
        f"file {sent}: cannot be read as jsonl: line {bad} is not a JSON object "
        "(one record per line: {...})"
    )
    no_report(tmp_path)


def test_a_json_lines_ledger_with_a_field_named_json_is_read(tmp_path: Path) -> None:
    """The one column DuckDB makes of lines that are no objects is named ``json``; a ledger's
    own field of that name is no such case."""
    acc = write(tmp_path / "a.csv", [row("m1")])
    sent = tmp_path / "l.jsonl"
    sent.write_text(json.dumps({"json": "m1"}) + "\n", encoding="utf-8")
    maps = ["sent.id=json", "sent.type=:t.a", "sent.source=:om"]
    report = run(tmp_path, [f"sent={sent}", f"accepted={acc}"], maps=maps)
    assert totals(report)["matched"] == 1


def test_a_json_lines_ledger_that_gives_a_key_twice_names_its_line_and_key(
    tmp_path: Path,
) -> None:
    """DuckDB refused the file, but named the line before the one (it leaves blank lines out
    of its count)."""
    acc = write(tmp_path / "a.csv", [row("m1")])
    sent = tmp_path / "l2.jsonl"
    twice = '{"id": "m3", "type": "t.a", "id": "m4"}'
    sent.write_text("\n".join([GOOD[0], "", GOOD[1], twice, *GOOD[3:]]) + "\n", encoding="utf-8")
    with pytest.raises(ReconcileInputError) as caught:
        run(tmp_path, [f"sent={sent}", f"accepted={acc}"], maps=["sent.sender=:om"])
    assert (
        f"file {sent}: cannot be read as jsonl: line 4 gives a key twice: the key 'id' appears "
        "twice in the top-level object; give each key once"
    ) in str(caught.value)
    no_report(tmp_path)


def test_hops_that_cannot_be_matched(tmp_path: Path) -> None:
    a = write(tmp_path / "a.csv", [{"id": "m1", "type": "t.a"}])
    b = write(tmp_path / "b.csv", [{"bkey": "k", "type": "t.a"}])
    with pytest.raises(ReconcileInputError, match="share neither 'id' nor 'bkey'"):
        run(tmp_path, [f"sent={a}", f"accepted={b}"])
    no_report(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Sent=x.csv", "lower-case"),
        ("sent", "a live ledger is one of"),
        ("sent=x.xlsx", "cannot tell the format"),
    ],
)
def test_bad_hops(text: str, message: str) -> None:
    with pytest.raises(ReconcileInputError, match=message):
        parse_hop(text)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("sent.id", "write HOP.COLUMN=FILECOLUMN"),
        ("sent.colour=x", "not a ledger column"),
        ("sent.id=", "no file column"),
    ],
)
def test_bad_mappings(item: str, message: str) -> None:
    with pytest.raises(ReconcileInputError, match=message):
        parse_mapping(parse_hop("sent=x.csv"), [item])


def test_a_live_ledger_is_not_mapped() -> None:
    with pytest.raises(ReconcileInputError, match="live ledger"):
        parse_mapping(parse_hop("accepted"), ["accepted.id=x"])


@pytest.mark.parametrize("item", ["*=7", "x=-1d", "*", "=3d", "t=3 days"])
def test_bad_slas(item: str) -> None:
    with pytest.raises(ReconcileInputError):
        parse_slas([item])


@pytest.mark.parametrize("item", ["*=999999999999d", "*=3651d", "t=522w", "*=" + "9" * 400 + "s"])
def test_a_limit_past_ten_years_is_refused(item: str) -> None:
    """It overflowed a timedelta (a traceback) or was far past any deadline of the chain."""
    with pytest.raises(ReconcileInputError, match="too long; a limit is at most 3650 days"):
        parse_slas([item])
    assert parse_slas(["*=3650d"])["*"].days == 3650


def test_a_constant_of_the_wrong_type(tmp_path: Path) -> None:
    sent = write(tmp_path / "s.csv", [row("m1")])
    with pytest.raises(ReconcileInputError, match="constant 'x' is not a whole number"):
        run(tmp_path, [f"sent={sent}", f"accepted={sent}"], maps=["sent.sequence=:x"])


def test_one_hop_or_a_repeated_hop(tmp_path: Path) -> None:
    sent = write(tmp_path / "s.csv", [row("m1")])
    with pytest.raises(ReconcileInputError, match="at least two hops"):
        run(tmp_path, [f"sent={sent}"])
    with pytest.raises(ReconcileInputError, match="repeats"):
        run(tmp_path, [f"sent={sent}", f"sent={sent}"])
    no_report(tmp_path)


def test_a_mapped_column_without_any_value(tmp_path: Path) -> None:
    sent = write(
        tmp_path / "s.csv", [{"MsgId": None, "type": "t.a"}, {"MsgId": None, "type": "t.a"}]
    )
    acc = write(tmp_path / "a.csv", [row("m1")])
    with pytest.raises(ReconcileInputError, match="holds no value in any row") as caught:
        run(tmp_path, [f"sent={sent}", f"accepted={acc}"], maps=["sent.id=MsgId"])
    assert caught.value.column == "MsgId"
    no_report(tmp_path)
