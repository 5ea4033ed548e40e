"""`ketenherstel reconcile …` through Typer's runner: files and live ledgers of a real SQLite
store, the report's commands, re-sending what was never applied, and bad input refused with a
one-line message, exit code 2 and no report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketenherstel.bootstrap import bootstrap
from ketenherstel.cli import app
from ketenherstel.exchange.auth import Principal
from ketenherstel.settings import Settings
from tests.reconcile.helpers import row, write
from tests.registry.factories import decision
from tests.stores import made
from tests.test_cli_registry import submit

runner = CliRunner()
JUSTID = Principal("justid", "partner", "justid", "token")
KIND = decision("x", "SKN-0000000001")["type"]
SHORT = KIND.removeprefix("nl.strafrechtketen.").removesuffix(".v1")


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(
        app,
        list(args),
        env={"COLUMNS": "200", "KETENHERSTEL_REGISTRY": "", "KETENHERSTEL_RECONCILE_DIR": ""},
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def store(tmp_path: Path) -> str:
    return made(f"sqlite:///{tmp_path}/rc.db")


def ids(store: str) -> list[str]:
    folder = Path(Settings(store_url=store).reconcile_location())
    return sorted(p.name for p in folder.glob("r*")) if folder.is_dir() else []


def test_files_run_list_show_and_json(tmp_path: Path, store: str) -> None:
    sent = write(tmp_path / "s.csv", [row("m1", type=KIND), row("m2", type=KIND)])
    acc = write(tmp_path / "a.parquet", [row("m1", type=KIND)])
    code, out, err = run("reconcile", "run", f"sent={sent}", f"accepted={acc}", "--store", store)
    assert code == 0, err
    assert "missing at to" in out and "1 missing" in out
    [rid] = ids(store)
    code, out, _ = run("reconcile", "list", "--store", store)
    assert code == 0 and rid in out and "sent → accepted" in out
    code, out, _ = run("reconcile", "show", rid, "--store", store, "--by-type")
    assert code == 0 and "details.parquet" in out
    assert "sent → accepted per message type" in out and SHORT in out
    code, out, _ = run(
        "reconcile", "run", f"sent={sent}", f"accepted={acc}", "--store", store, "--json"
    )
    assert code == 0 and json.loads(out)["pairs"][0]["totals"]["missingAtTo"] == 1
    code, out, _ = run("reconcile", "requests", rid, "--store", store)
    assert code == 0 and "0 to request" in out


def test_reading_reports_of_a_store_that_is_not_there_says_so(tmp_path: Path, store: str) -> None:
    """A mistyped --store was an empty list (exit 0) and 'no reconciliation report' for show."""
    typo = f"sqlite:///{tmp_path}/typo.db"
    for args in (("list",), ("show", "r1"), ("requests", "r1")):
        code, out, err = run("reconcile", *args, "--store", typo)
        assert code == 1 and "no store at" in err and not out, (args, err)
    assert not (tmp_path / "typo.db").exists()
    (tmp_path / "afile").write_text("x")
    result = runner.invoke(
        app,
        ["reconcile", "list", "--store", store],
        env={
            "COLUMNS": "200",
            "KETENHERSTEL_REGISTRY": "",
            "KETENHERSTEL_RECONCILE_DIR": str(tmp_path / "afile"),
        },
    )
    assert result.exit_code == 2 and "is a file, not a folder" in result.stderr, result.stderr
    assert run("reconcile", "list", "--store", store)[0] == 0  # the store's own: no reports yet


def test_reports_of_file_ledgers_run_without_a_store_are_listed(tmp_path: Path) -> None:
    """A run of file ledgers alone needs no store and writes beside where one would be: list
    and show read that folder (they asked for the store first, in one version)."""
    sent = write(tmp_path / "s.csv", [row("m1", type=KIND), row("m2", type=KIND)])
    acc = write(tmp_path / "a.csv", [row("m1", type=KIND)])
    nostore = f"sqlite:///{tmp_path}/never.db"
    code, out, err = run("reconcile", "run", f"sent={sent}", f"accepted={acc}", "--store", nostore)
    assert code == 0, err
    assert not (tmp_path / "never.db").exists()
    code, out, err = run("reconcile", "list", "--store", nostore)
    assert code == 0 and "sent → accepted" in out, err
    [made] = [p.name for p in (tmp_path / "never.reconcile").iterdir()]
    assert made in out
    code, out, err = run("reconcile", "show", made, "--store", nostore)
    assert code == 0 and "details.parquet" in out, err


def test_list_shows_each_report_id_whole_in_80_columns(tmp_path: Path, store: str) -> None:
    """show, requests and resend take the id: 80 columns (or a pipe) cut it to
    `r20261130T0428…`."""
    sent = write(tmp_path / "s.csv", [row("m1", type=KIND)])
    acc = write(tmp_path / "a.csv", [row("m1", type=KIND)])
    hops = [f"sent={sent}", f"accepted={acc}", f"applied={acc}", f"archived={acc}"]
    assert run("reconcile", "run", *hops, "--store", store)[0] == 0
    [rid] = ids(store)
    result = runner.invoke(
        app,
        ["reconcile", "list", "--store", store],
        env={"COLUMNS": "80", "KETENHERSTEL_REGISTRY": "", "KETENHERSTEL_RECONCILE_DIR": ""},
    )
    assert result.exit_code == 0, result.stderr
    assert rid in result.stdout, result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_list_of_a_reports_folder_that_is_not_there_is_an_error_not_an_empty_table(
    tmp_path: Path, store: str
) -> None:
    code, out, err = run("reconcile", "list", "--out", str(tmp_path / "nonexistent"))
    assert code == 1 and "there is no such folder" in err and not out, err
    (tmp_path / "f").write_text("x")
    code, out, err = run("reconcile", "list", "--out", str(tmp_path / "f"))
    assert code == 2 and "is a file, not a folder" in err and not out, err
    assert not (tmp_path / "nonexistent").exists()
    code, _, err = run("reconcile", "list", "--out", str(tmp_path))
    assert code == 0, err  # a folder without reports: an empty table


def test_live_ledgers_and_resend(store: str) -> None:
    submit(store, decision("13-100001-25", "SKN-0000000001", ident="d1"))
    rt = bootstrap(Settings(store_url=store))
    try:
        leased = rt.exchange.pull(principal=JUSTID, limit=10)
        rt.exchange.ack(principal=JUSTID, delivery_ids=[d.delivery_id for d in leased])
    finally:
        rt.close()
    code, out, err = run("reconcile", "run", "delivered", "applied", "--store", store)
    assert code == 0, err
    assert "1 missing" in out
    [rid] = ids(store)
    code, _, err = run("reconcile", "resend", rid, "--store", store)
    assert code == 2 and "--as" in err  # who re-sends is on the record
    code, out, _ = run("reconcile", "resend", rid, "--as", "anna", "--store", store, "--dry-run")
    assert code == 0 and "would re-send 1" in out
    code, out, _ = run("reconcile", "resend", rid, "--as", "anna", "--store", store)
    assert code == 0 and "re-sent 1" in out
    # A dry run asks the exchange: the re-sent message is on its way now, not re-sent again.
    code, out, _ = run("reconcile", "resend", rid, "--as", "anna", "--store", store, "--dry-run")
    assert code == 0 and "would re-send 0; already on their way 1" in out
    rt = bootstrap(Settings(store_url=store))
    try:
        redelivered = [
            a for a in rt.store.audit_log(limit=100) if a.action == "delivery-redelivered"
        ]
    finally:
        rt.close()
    assert [a.actor for a in redelivered] == ["anna"]
    assert run("registry", "catch-up", "--store", store)[0] == 0
    code, out, _ = run("reconcile", "run", "delivered", "applied", "--store", store)
    assert code == 0 and "nothing missing" in out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["sent"], "a live ledger is one of"),
        (["sent=x.xlsx", "accepted"], "cannot tell the format"),
        (["sent=MISSING.csv", "accepted"], "no such file"),
        (["accepted", "routed", "--map", "accepted.id=x"], "live ledger"),
        (["accepted", "routed", "--map", "other.id=x"], "no hop 'other'"),
        (["accepted", "routed", "--sla", "*=soon"], "duration"),
        (["accepted", "routed", "--sla", "bogus.type=7d"], "SLA for 'bogus.type': not a message"),
        (["accepted", "routed", "--sla", "*=999999999999d"], "a limit is at most 3650 days"),
        (["accepted"], "at least two hops"),
        # DuckDB took -1GB for no limit at all
        (["accepted", "routed", "--memory", "-1GB"], "--memory '-1GB': must be more than 0; the"),
        (["accepted", "routed", "--memory", "0"], "--memory '0': give a size such as 2GB"),
        (["accepted", "routed", "--memory", "1KB"], "--memory '1KB' is too small: the least"),
    ],
)
def test_bad_input_exits_2_and_leaves_no_report(store: str, args: list[str], says: str) -> None:
    code, out, err = run("reconcile", "run", *args, "--store", store)
    assert code == 2
    assert says in err and "Traceback" not in err + out
    assert ids(store) == []


def test_a_memory_limit_too_small_is_named_as_such_not_blamed_on_a_ledger(
    tmp_path: Path, store: str
) -> None:
    """It was 'file s.csv: cannot be read as csv: Out of Memory Error: could not allocate
    block of size 256.0 KiB (0 bytes/1000 bytes used)'."""
    sent = write(tmp_path / "s.csv", [row("m1", type=KIND)])
    for memory in ("1KB", "99MB", "-1GB"):
        code, out, err = run(
            "reconcile", "run", f"sent={sent}", f"accepted={sent}", "--memory", memory,
            "--store", store,
        )  # fmt: skip
        assert code == 2, out
        assert f"--memory {memory!r}" in err and "the least accepted is 100MB" in err
        assert "s.csv" not in err and "Traceback" not in err + out
    assert ids(store) == []
    code, _, err = run(
        "reconcile", "run", f"sent={sent}", f"accepted={sent}", "--memory", "100MB",
        "--store", store,
    )  # fmt: skip
    assert code == 0, err


def test_a_bad_value_names_file_column_and_row(tmp_path: Path, store: str) -> None:
    sent = write(tmp_path / "s.csv", [row("m1"), row("m2", sequence="x")])
    code, _, err = run("reconcile", "run", f"sent={sent}", f"accepted={sent}", "--store", store)
    assert code == 2
    assert f"file {sent}, column 'sequence', row 2" in err
    assert ids(store) == []


def test_a_ledger_row_of_a_type_the_chain_does_not_know_names_file_column_and_row(
    tmp_path: Path, store: str
) -> None:
    """Classed missing, it would go on the sender's request list: the run is refused."""
    sent = write(tmp_path / "s.csv", [row("m1", type=KIND), row("m2", type="bogus.type")])
    code, _, err = run("reconcile", "run", f"sent={sent}", "accepted", "--store", store)
    assert code == 2
    assert f"file {sent}, column 'type', row 2: 'bogus.type' is not a message type" in err
    code, _, err = run(
        "reconcile", "run", f"sent={sent}", "accepted", "--map", "sent.type=:x", "--store", store
    )
    assert code == 2 and "the constant 'x' is not a message type of the chain" in err
    assert ids(store) == []


def test_a_constant_sender_or_receiver_is_a_partner_of_the_chain(
    tmp_path: Path, store: str
) -> None:
    """An unknown one would class every record missing and ask a sender that does not exist
    for it again: refused. A partner's key in another case is that partner."""
    sent = write(tmp_path / "s.csv", [row("m1", type=KIND), row("m2", type=KIND)], ["id", "type"])
    acc = write(tmp_path / "a.csv", [row("m1", type=KIND), row("m2", type=KIND)])
    base = ("reconcile", "run", f"sent={sent}", f"accepted={acc}", "--store", store)
    for item in ("sent.sender=:bogus", "sent.receiver=:nobody"):
        code, out, err = run(*base, "--map", item)
        value = item.partition(":")[2]
        assert code == 2 and f"unknown partner {value!r}" in err, err
        assert "the chain's partners are" in err and "Traceback" not in err + out
    assert ids(store) == []
    code, out, err = run(*base, "--map", "sent.sender=:OM", "--json")
    assert code == 0, err
    totals = json.loads(out)["pairs"][0]["totals"]
    assert (totals["matched"], totals["missingAtTo"]) == (2, 0)


def test_a_mapped_sender_or_receiver_is_a_partner_of_the_chain_as_a_constant_is(
    tmp_path: Path, store: str
) -> None:
    """A value in another case (or with spaces around it) is that partner, written as the chain
    spells it; an unknown one is refused naming file, column, row and value: it would class its
    records missing and ask a sender that does not exist for them again."""
    cols = ["id", "type", "Afzender"]
    sent = write(
        tmp_path / "s.csv",
        [row("m1", type=KIND, Afzender="OM"), row("m2", type=KIND, Afzender=" Om ")],
        cols,
    )
    acc = write(tmp_path / "a.csv", [row("m1", type=KIND), row("m2", type=KIND)])
    base = ("reconcile", "run", f"sent={sent}", f"accepted={acc}", "--store", store)
    code, out, err = run(*base, "--map", "sent.sender=Afzender", "--json")
    assert code == 0, err
    totals = json.loads(out)["pairs"][0]["totals"]
    assert (totals["matched"], totals["missingAtTo"]) == (2, 0)
    [rid] = ids(store)
    code, out, err = run("reconcile", "requests", rid, "--store", store)
    assert code == 0 and "0 to request" in out, err
    for column in ("sender", "receiver"):
        bad = write(
            tmp_path / f"bad-{column}.csv",
            [row("m1", type=KIND, Partner="om"), row("m2", type=KIND, Partner="bogus")],
            ["id", "type", "Partner"],
        )
        code, out, err = run(
            "reconcile", "run", f"sent={bad}", f"accepted={acc}", "--store", store,
            "--map", f"sent.{column}=Partner",
        )  # fmt: skip
        assert code == 2, out
        assert f"file {bad}, column 'Partner', row 2: unknown partner 'bogus'" in err, err
        assert f"(the ledger's {column!r})" in err and "the chain's partners are" in err
        assert "Traceback" not in err + out
    assert ids(store) == [rid]


def test_an_out_that_cannot_be_the_reports_folder_is_refused_before_anything_is_read(
    tmp_path: Path, store: str
) -> None:
    sent = write(tmp_path / "s.csv", [row("m1", type=KIND)])
    taken = tmp_path / "taken"
    taken.write_text("mine", encoding="utf-8")
    base = ("reconcile", "run", f"sent={sent}", f"accepted={sent}", "--store", store)
    code, _, err = run(*base, "--out", str(taken))
    assert code == 2 and f"--out {taken}: a file of that name exists; give a folder" in err
    code, _, err = run(*base, "--out", str(taken / "reports"))
    assert code == 2 and f"--out {taken / 'reports'}: {taken} is a file, not a folder" in err
    assert taken.read_text(encoding="utf-8") == "mine" and "Errno" not in err
    code, out, err = run(*base, "--out", str(tmp_path / "new" / "reports"))
    assert code == 0 and "report: " in out, err


def test_unknown_report(store: str) -> None:
    for command in ("show", "resend --as anna", "requests"):
        code, _, err = run(
            "reconcile", *command.split(), "r20250101T000000-abcdef", "--store", store
        )
        assert code == 1 and "no reconciliation report" in err
