"""Constructed ledgers whose every class is known by hand (decision 0011)."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.reconcile.helpers import T, classes, details, row, run, totals, write


@pytest.fixture
def two(tmp_path: Path) -> tuple[Path, Path]:
    """sent and accepted with one record of every class."""
    sent = [
        row("m1"),  # matched
        row("m2"),  # missing at accepted
        row("m4", amount="5"),  # conflicting: hash and amount differ
        row("m5"),
        row("m5"),  # duplicate by id inside sent (one extra copy)
        row("m6", bkey="k6"),
        row("m7", bkey="k6"),  # same fact as m6 under another id: matched by business key
        row(None, bkey="k8"),  # unkeyed: no id
        row("m9"),  # late with a 7-day SLA
    ]
    acc = [
        row("m1", recorded_at="2025-07-01T10:00:01+02:00"),
        row("m3"),  # missing at sent
        row("m4", hash="h-other", amount="6"),
        row("m5"),
        row("m6", bkey="k6"),
        row("m9", recorded_at="2025-07-11T10:00:00+02:00"),
    ]
    cols = [*sent[0].keys(), "amount"]
    return (
        write(tmp_path / "sent.csv", sent, cols),
        write(tmp_path / "acc.csv", acc, cols),
    )


def test_every_class_is_found_as_constructed(tmp_path: Path, two: tuple[Path, Path]) -> None:
    sent, acc = two
    report = run(
        tmp_path,
        [f"sent={sent}", f"accepted={acc}"],
        maps=["sent.fields=amount", "accepted.fields=amount"],
    )
    t = totals(report)
    assert t["matched"] == 4  # m1, m5, m6, m9
    assert t["missingAtTo"] == 1 and t["missingAtFrom"] == 1
    assert t["conflicting"] == 1
    assert t["matchedByBusinessKeyFrom"] == 1
    assert t["duplicateFrom"] == 1 and t["duplicateTo"] == 0
    assert t["duplicateBusinessKeyFrom"] == 1
    assert t["unkeyedFrom"] == 1
    assert t["late"] == 0  # no limit given
    found = classes(report)
    assert ("missing", "m2", "accepted") in found
    assert ("missing", "m3", "sent") in found
    assert found[("conflicting", "m4", None)] == "amount"
    assert ("duplicate", "m5", "sent") in found
    assert ("matched-bkey", "m7", "sent") in found
    assert ("unkeyed", None, "sent") in found
    # The counts add up: each row of a side is a key, an extra copy or unkeyed.
    data = report.to_json()["pairs"][0]
    assert data["rowsFrom"] == t["keysFrom"] + t["duplicateFrom"] + t["unkeyedFrom"] == 9
    assert data["rowsTo"] == t["keysTo"] == 6
    assert report.missing == 2


def test_rows_in_details_name_the_file_row(tmp_path: Path, two: tuple[Path, Path]) -> None:
    sent, acc = two
    report = run(tmp_path, [f"sent={sent}", f"accepted={acc}"])
    rows = {(d["class"], d["id"]): d for d in details(report)}
    assert rows[("missing", "m2")]["row_a"] == 2
    assert rows[("missing", "m3")]["row_b"] == 2
    assert rows[("unkeyed", None)]["row_a"] == 8


def test_late_against_an_sla_and_per_type(tmp_path: Path, two: tuple[Path, Path]) -> None:
    sent, acc = two
    report = run(tmp_path, [f"sent={sent}", f"accepted={acc}"], limits={"*": timedelta(days=7)})
    t = totals(report)
    assert t["late"] == 1 and t["matched"] == 3
    late = next(d for d in details(report) if d["class"] == "late")
    assert late["id"] == "m9"
    assert late["delay_s"] == pytest.approx(10 * 86_400)
    assert late["limit_s"] == 7 * 86_400
    # A type's own limit wins over '*': t.a may take 11 days.
    report = run(
        tmp_path,
        [f"sent={sent}", f"accepted={acc}"],
        limits={"*": timedelta(days=7), "t.a": timedelta(days=11)},
    )
    assert totals(report)["late"] == 0


def test_same_business_key_in_several_types_are_different_facts(tmp_path: Path) -> None:
    """Paper work has no ids: matched on (sender, type, bkey); the same bkey under another type
    is another fact."""
    paper = [row(None, bkey="k1", type="t.a"), row(None, bkey="k1", type="t.b")]
    acc = [row("m1", bkey="k1", type="t.a"), row("m2", bkey="k1", type="t.c")]
    cols = ["sender", "type", "bkey", "recorded_at"]
    report = run(
        tmp_path,
        [
            f"paper={write(tmp_path / 'paper.csv', paper, cols)}",
            f"accepted={write(tmp_path / 'acc.csv', acc)}",
        ],
    )
    t = totals(report)
    data = report.to_json()["pairs"][0]
    assert data["matchOn"] == "bkey"
    assert t["matched"] == 1
    assert t["missingAtTo"] == 1  # t.b on paper, never entered digitally
    assert t["missingAtFrom"] == 1  # t.c: not on paper
    assert {(d["type"], d["hop"]) for d in details(report)} == {
        ("t.b", "accepted"),
        ("t.c", "paper"),
    }


def test_a_partial_ledger_is_not_missing_what_only_the_other_side_has(tmp_path: Path) -> None:
    paper = [row(None, bkey="k1"), row(None, bkey="k2")]
    acc = [row("m1", bkey="k1"), row("m3", bkey="k3"), row("m4", bkey="k4")]
    cols = ["sender", "type", "bkey"]
    report = run(
        tmp_path,
        [
            f"paper~={write(tmp_path / 'paper.csv', paper, cols)}",
            f"accepted={write(tmp_path / 'acc.csv', acc)}",
        ],
    )
    t = totals(report)
    assert t["matched"] == 1
    assert t["missingAtTo"] == 1  # k2 was done on paper and never entered
    assert t["missingAtFrom"] == 0
    assert t["onlyInToBeyondPartialFrom"] == 2
    assert [d["bkey"] for d in details(report)] == ["k2"]


def test_duplicates_inside_the_downstream_side_and_a_copy_that_conflicts(tmp_path: Path) -> None:
    sent = [row("m1"), row("m2")]
    acc = [row("m1"), row("m1"), row("m1", hash="h-x"), row("m2")]
    report = run(
        tmp_path,
        [f"sent={write(tmp_path / 's.csv', sent)}", f"accepted={write(tmp_path / 'a.csv', acc)}"],
    )
    t = totals(report)
    assert t["duplicateTo"] == 2
    dup = next(d for d in details(report) if d["class"] == "duplicate")
    assert (dup["id"], dup["hop"], dup["copies"]) == ("m1", "accepted", 3)
    # One copy holds other content than the sender sent: the key conflicts, once.
    assert classes(report)[("conflicting", "m1", None)] == "hash" and t["conflicting"] == 1


def test_conflicting_data_names_the_fields_that_differ(tmp_path: Path) -> None:
    sent = [row("m1", hash="h1", data='{"a": 1, "b": "x", "c": true}')]
    acc = [row("m1", hash="h2", data='{"a": 1, "b": "y", "d": 0}')]
    report = run(
        tmp_path,
        [f"sent={write(tmp_path / 's.csv', sent)}", f"accepted={write(tmp_path / 'a.csv', acc)}"],
    )
    fields = classes(report)[("conflicting", "m1", None)]
    assert fields is not None
    assert sorted(fields.split(",")) == ["data.b", "data.c", "data.d"]


def test_header_only_files_hold_nothing(tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.csv", [], ["id", "type"])
    acc = write(tmp_path / "a.csv", [row("m1"), row("m2")])
    report = run(tmp_path, [f"sent={empty}", f"accepted={acc}"])
    t = totals(report)
    assert t["missingAtFrom"] == 2 and t["matched"] == 0
    report = run(tmp_path, [f"sent={acc}", f"accepted={empty}"])
    assert totals(report)["missingAtTo"] == 2


@pytest.mark.parametrize("ext", [".csv", ".parquet", ".jsonl"])
def test_every_file_format_gives_the_same_classes(
    tmp_path: Path, two: tuple[Path, Path], ext: str
) -> None:
    sent_csv, acc_csv = two
    with sent_csv.open(newline="") as fh:
        sent = list(csv.DictReader(fh))
    with acc_csv.open(newline="") as fh:
        acc = list(csv.DictReader(fh))
    for rows in (sent, acc):
        for r in rows:
            for k, v in r.items():
                r[k] = v or None
    report = run(
        tmp_path,
        [
            f"sent={write(tmp_path / ('s' + ext), sent)}",
            f"accepted={write(tmp_path / ('a' + ext), acc)}",
        ],
    )
    baseline = run(tmp_path, [f"sent={sent_csv}", f"accepted={acc_csv}"])
    assert totals(report) == totals(baseline)
    assert classes(report) == classes(baseline)


def test_a_column_mapping_and_constants(tmp_path: Path) -> None:
    theirs = [
        {"MsgId": "m1", "Soort": "t.a", "Sleutel": "k-m1", "Hash": "h-m1", "Tijd": T},
        {"MsgId": "m2", "Soort": "t.a", "Sleutel": "k-m2", "Hash": "h-m2", "Tijd": T},
    ]
    acc = [row("m1")]
    report = run(
        tmp_path,
        [
            f"sent={write(tmp_path / 'theirs.csv', theirs)}",
            f"accepted={write(tmp_path / 'a.csv', acc)}",
        ],
        maps=[
            "sent.id=MsgId",
            "sent.type=Soort",
            "sent.bkey=Sleutel",
            "sent.hash=Hash",
            "sent.event_time=Tijd",
            "sent.source=:om",
            "sent.sender=:om",
        ],
    )
    t = totals(report)
    assert t["matched"] == 1 and t["missingAtTo"] == 1


def test_a_receiver_ledger_speaks_for_its_receiver_only(tmp_path: Path) -> None:
    """delivered holds every receiver's deliveries; justid's applied ledger only its own."""
    delivered = [
        row("m1", receiver="justid"),
        row("m1", receiver="cjib"),
        row("m2", receiver="justid"),
    ]
    applied = [row("m1")]
    report = run(
        tmp_path,
        [
            f"delivered={write(tmp_path / 'd.csv', delivered)}",
            f"applied={write(tmp_path / 'ap.csv', applied, ['id', 'source', 'type'])}",
        ],
        maps=["applied.receiver=:justid"],
    )
    data = report.to_json()["pairs"][0]
    assert data["rowsFrom"] == 2  # cjib's delivery is not justid's business
    assert data["totals"]["missingAtTo"] == 1
    assert [(d["id"], d["receiver"]) for d in details(report)] == [("m2", "justid")]


def test_one_message_fans_out_to_receivers_without_counting_as_duplicates(tmp_path: Path) -> None:
    accepted = [row("m1"), row("m2")]
    routed = [row("m1", receiver="a"), row("m1", receiver="b"), row("m1", receiver="b")]
    report = run(
        tmp_path,
        [
            f"accepted={write(tmp_path / 'a.csv', accepted)}",
            f"routed={write(tmp_path / 'r.csv', routed)}",
        ],
    )
    t = totals(report)
    assert t["matched"] == 1 and t["missingAtTo"] == 1
    assert t["duplicateTo"] == 1  # b twice
    assert t["fanOutTo"] == 1  # m1 to a second receiver
    assert report.to_json()["pairs"][0]["highWaterMark"]["note"].startswith("niet toepasbaar")


def test_the_high_water_mark_confirms_clean_groups_and_narrows_dirty_ones(tmp_path: Path) -> None:
    a = [row(f"a{i}", type="t.a", sequence=i) for i in range(90)]
    a += [row(f"b{i}", type="t.b", sequence=100 + i) for i in range(10)]
    b = [r for r in a if r["id"] != "b7"]
    report = run(
        tmp_path,
        [f"sent={write(tmp_path / 's.csv', a)}", f"accepted={write(tmp_path / 'a.csv', b)}"],
    )
    data = report.to_json()["pairs"][0]
    hwm = data["highWaterMark"]
    assert (hwm["cleanGroups"], hwm["dirtyGroups"]) == (1, 1)
    groups = {g["type"]: g for g in hwm["groups"]}
    assert groups["t.a"]["clean"] and groups["t.a"]["sequenceFrom"] == [0, 89]
    assert not groups["t.b"]["clean"] and groups["t.b"]["rowsTo"] == 9
    assert data["comparedRows"] == 19  # only t.b's rows were compared
    assert data["perType"]["t.a"]["confirmedByHighWaterMark"] == 90
    assert data["totals"]["matched"] == 99 and data["totals"]["missingAtTo"] == 1
    # --full compares every row and finds the same.
    full = run(
        tmp_path,
        [f"sent={tmp_path / 's.csv'}", f"accepted={tmp_path / 'a.csv'}"],
        hwm=False,
    ).to_json()["pairs"][0]
    assert full["comparedRows"] == 199
    assert full["totals"] == data["totals"] | {"confirmedByHighWaterMark": 0}


def test_when_most_groups_differ_every_row_is_compared(tmp_path: Path) -> None:
    """Narrowing costs a scan; below 80 % clean rows the comparison takes every row (the
    clean groups then match row by row) and counts the same."""
    a = [row(f"a{i}", type="t.a", sequence=i) for i in range(50)]
    a += [row(f"b{i}", type="t.b", sequence=100 + i) for i in range(50)]
    b = [r for r in a if r["id"] != "b7"]
    report = run(
        tmp_path,
        [f"sent={write(tmp_path / 's.csv', a)}", f"accepted={write(tmp_path / 'a.csv', b)}"],
    )
    data = report.to_json()["pairs"][0]
    assert (data["highWaterMark"]["cleanGroups"], data["highWaterMark"]["dirtyGroups"]) == (1, 1)
    assert data["comparedRows"] == 199
    assert data["totals"]["matched"] == 99 and data["totals"]["missingAtTo"] == 1
    assert data["totals"]["confirmedByHighWaterMark"] == 0


def test_a_clean_hop_is_confirmed_without_a_detail(tmp_path: Path) -> None:
    a = [row(f"m{i}", sequence=i) for i in range(20)]
    report = run(
        tmp_path,
        [f"sent={write(tmp_path / 's.csv', a)}", f"accepted={write(tmp_path / 'a.csv', a[::-1])}"],
    )
    data = report.to_json()["pairs"][0]
    assert data["comparedRows"] == 0
    assert data["totals"]["matched"] == 20
    assert report.detail_rows == 0


def test_a_chain_of_three_hops_and_the_report_files(tmp_path: Path) -> None:
    sent = [row("m1"), row("m2"), row("m3")]
    acc = [row("m1"), row("m2")]
    applied = [row("m1")]
    report = run(
        tmp_path,
        [
            f"sent={write(tmp_path / 's.csv', sent)}",
            f"accepted={write(tmp_path / 'a.csv', acc)}",
            f"applied={write(tmp_path / 'ap.csv', applied)}",
        ],
    )
    pairs = report.to_json()["pairs"]
    assert [(p["from"], p["to"], p["totals"]["missingAtTo"]) for p in pairs] == [
        ("sent", "accepted", 1),
        ("accepted", "applied", 1),
    ]
    assert report.path is not None
    names = sorted(p.name for p in report.path.iterdir())
    assert names == [
        "details.csv",
        "details.parquet",
        "report.html",
        "requests.csv",
        "summary.json",
    ]
    assert pq.read_table(report.path / "details.parquet").num_rows == 2
    html = (report.path / "report.html").read_text(encoding="utf-8")
    assert "Reconciliatie" in html and "Er ontbreken 2 records" in html
    assert "verzonden → aangenomen" in html and "sent → accepted" not in html
    # Named by what it compared (a briefing holding two reports showed two like headings).
    assert "<h2>Reconciliatie: verzonden → aangenomen → verwerkt</h2>" in html


def test_conflicting_data_in_json_lines_objects(tmp_path: Path) -> None:
    sent = [row("m1", hash="h1", data={"a": 1, "b": "x"})]
    acc = [row("m1", hash="h2", data={"a": 2, "b": "x"})]
    report = run(
        tmp_path,
        [
            f"sent={write(tmp_path / 's.jsonl', sent)}",
            f"accepted={write(tmp_path / 'a.jsonl', acc)}",
        ],
    )
    assert classes(report)[("conflicting", "m1", None)] == "data.a"


def test_a_column_without_any_value_is_as_good_as_absent(tmp_path: Path) -> None:
    """An empty receiver column in the sender's export does not make every record a
    fan-out or a duplicate."""
    sent = [row("m1", receiver=None), row("m2", receiver=None)]
    acc = [row("m1"), row("m2")]
    cols = [*acc[0].keys(), "receiver"]
    report = run(
        tmp_path,
        [
            f"sent={write(tmp_path / 's.csv', sent, cols)}",
            f"accepted={write(tmp_path / 'a.csv', acc)}",
        ],
    )
    t = totals(report)
    assert t["matched"] == 2 and t["duplicateFrom"] == 0 and t["fanOutFrom"] == 0


def test_details_csv_keeps_a_partners_formula_as_text(tmp_path: Path) -> None:
    """An id or type from a partner's file that a spreadsheet would run as a formula begins
    with an apostrophe in details.csv; details.parquet keeps it as it was."""
    sent = [row('=HYPERLINK("http://example.invalid","x")', type="-t.a"), row("m2")]
    report = run(
        tmp_path,
        [
            f"sent={write(tmp_path / 's.csv', sent)}",
            f"accepted={write(tmp_path / 'a.csv', [row('m2')])}",
        ],
    )
    assert report.path is not None
    with (report.path / "details.csv").open(newline="", encoding="utf-8") as fh:
        [shown] = list(csv.DictReader(fh))
    assert shown["id"] == '\'=HYPERLINK("http://example.invalid","x")'
    assert shown["type"] == "'-t.a"
    assert shown["source"] == "om" and shown["class"] == "missing"
    assert shown["row_a"] == "1"
    [kept] = pq.read_table(report.path / "details.parquet").to_pylist()
    assert kept["id"] == '=HYPERLINK("http://example.invalid","x")'
    assert kept["type"] == "-t.a"
