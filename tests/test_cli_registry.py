"""`ketenherstel registry …` through Typer's runner, on a real SQLite store: OM registrations
go in through the exchange, the CLI catches up, screens, lists the re-screen list, exports it,
works it and shows the read log; bad input is refused with a clear message and changes
nothing."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from ketenherstel.bootstrap import bootstrap
from ketenherstel.cli import app
from ketenherstel.exchange.auth import LOCAL_OPERATOR, Principal
from ketenherstel.registry.limits import MAX_NOTE, MAX_OUTCOME, MAX_PARTNER, MAX_PROFILE, MAX_TEXT
from ketenherstel.registry.service import GROUP
from ketenherstel.settings import Settings
from tests.registry.factories import decision
from tests.stores import made

runner = CliRunner()

SCREENER = (
    "--consumer",
    "justis",
    "--role",
    "screener",
    "--as",
    "screener-7",
    "--purpose",
    "vog-aanvraag",
    "--legal-ground",
    "art. 35 Wjsg",
)
OPERATOR = ("--as", "op-1", "--purpose", "herbeoordeling", "--legal-ground", "art. 39f Wjsg")


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/reg.db"


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(
        app,
        list(args),
        env={"COLUMNS": "200", "KETENHERSTEL_SYNCHRONOUS": "NORMAL", "KETENHERSTEL_REGISTRY": ""},
    )
    return result.exit_code, result.stdout, result.stderr


def submit(store: str, *events: dict[str, Any], sender: str = "om") -> None:
    """Register the chain's partners (once) and submit events, as the sender, then close."""
    rt = bootstrap(Settings(store_url=store, synchronous="NORMAL"))
    try:
        known = {p.key for p in rt.exchange.partners()}
        for p in rt.chain.partners:
            if p.key not in known:
                rt.exchange.register_partner(principal=LOCAL_OPERATOR, key=p.key)
        result = rt.exchange.submit(
            principal=Principal(sender, "partner", sender, "token"), events=events
        )
        assert result.accepted == len(events)
    finally:
        rt.close()


def isolate(store: str, partner: str) -> None:
    rt = bootstrap(Settings(store_url=store))
    try:
        rt.exchange.set_partner_state(
            principal=LOCAL_OPERATOR, partner=partner, state="isolated", reason="Citrix"
        )
    finally:
        rt.close()


def counts(store: str) -> dict[str, int]:
    rt = bootstrap(Settings(store_url=store, synchronous="NORMAL"))
    try:
        return rt.registry.db.counts()
    finally:
        rt.close()


AUDIT = ("--as", "op", "--purpose", "toezicht", "--legal-ground", "art. 39f Wjsg")


def reads_of(store: str, skn: str) -> list[str]:
    rt = bootstrap(Settings(store_url=store, synchronous="NORMAL"))
    try:
        return [r.activity for r in rt.registry.db.reads_of(skn, 100)]
    finally:
        rt.close()


def decisions_of(store: str, reference: str) -> list[tuple[str, str]]:
    rt = bootstrap(Settings(store_url=store, synchronous="NORMAL"))
    try:
        with rt.registry.db.tx() as cur:
            rows = cur.execute(
                "SELECT d.decision, d.decided_date FROM decisions d "
                "JOIN screenings s ON s.id = d.screening_id WHERE s.reference = ?",
                (reference,),
            ).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]
    finally:
        rt.close()


def work_rows(store: str, table: str = "rescreen_items") -> int:
    rt = bootstrap(Settings(store_url=store, synchronous="NORMAL"))
    try:
        with rt.registry.db.tx() as cur:
            return int(cur.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        rt.close()


def late_registrations(store: str) -> None:
    """Before the outage: B's summons (pending). Two VOG screenings for 18 July 2025. Then,
    late, A's penalty order and the dismissal of B's case, both dated before 18 July."""
    submit(
        store,
        decision(
            "13-000002-25",
            "SKN-0000000002",
            kind="dagvaarding",
            sequence=1,
            time="2025-07-17T19:40:00Z",
        ),
    )
    assert run("registry", "catch-up", "--store", store)[0] == 0
    for ref, skn in (("SCR-A", "SKN-0000000001"), ("SCR-B", "SKN-0000000002")):
        code, _, err = run(
            "registry",
            "screen",
            ref,
            "--skn",
            skn,
            "--profile",
            "vog-natuurlijk-persoon",
            "--date",
            "2025-07-18",
            *SCREENER,
            "--store",
            store,
        )
        assert code == 0, err
    submit(
        store,
        decision("13-000001-25", "SKN-0000000001", decided="2025-07-15T10:00:00Z", sequence=2),
        decision(
            "13-000002-25",
            "SKN-0000000002",
            kind="sepot-onvoorwaardelijk",
            decided="2025-07-16T10:00:00Z",
            sequence=3,
        ),
    )
    code, out, err = run("registry", "catch-up", "--store", store)
    assert code == 0, err
    assert "applied 2," in out


def test_every_registry_command_has_help() -> None:
    for cmd in (
        [],
        ["catch-up"],
        ["freshness"],
        ["hold-advice"],
        ["profiles"],
        ["screen"],
        ["extract"],
        ["decision"],
        ["rescreen"],
        ["work"],
        ["reads"],
    ):
        code, out, _ = run("registry", *cmd, "--help")
        assert code == 0, cmd
        assert "Usage" in out


def test_catch_up_applies_once_and_freshness_says_how_complete_the_om_is(store: str) -> None:
    sent = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    local = sent.astimezone(ZoneInfo("Europe/Amsterdam")).strftime("%d-%m-%Y %H:%M")
    stamp = sent.isoformat().replace("+00:00", "Z")
    submit(
        store,
        *(
            decision(f"13-00000{i}-25", f"SKN-000000000{i}", sequence=i, time=stamp)
            for i in range(1, 4)
        ),
    )
    code, out, _ = run("registry", "freshness", "--store", store)
    assert code == 0
    assert "Openbaar Ministerie:" in out and "3 berichten wachten" in out
    code, out, _ = run("registry", "hold-advice", "--store", store)
    assert code == 0 and "│ no " in out and "3 messages still waiting" in out
    code, out, err = run("registry", "catch-up", "--limit", "2", "--store", store)
    assert code == 0, err
    assert (
        "applied 3, same fact 0, redelivered 0, replaced 0, not registrations 0, refused 0" in out
    )
    assert counts(store)["registrations"] == 3
    code, out, _ = run("registry", "catch-up", "--store", store)
    assert code == 0 and "applied 0," in out  # everything was acknowledged
    code, out, _ = run("registry", "freshness", "--no-refresh", "--store", store)
    assert code == 0
    # caught up and online: complete up to now, not to its last message
    assert re.search(r"Openbaar Ministerie: volledig tot \d\d-\d\d-\d{4} \d\d:\d\d\n", out)
    assert f"volledig tot {local}\n" not in out
    assert "│ om " in out and "100.0" in out
    code, out, _ = run("registry", "hold-advice", "--store", store)
    assert code == 0 and "│ yes " in out and "up to date" in out
    # the OM goes dark: complete only up to two hours ago; do not rely on it (exit 0)
    isolate(store, "om")
    code, out, _ = run("registry", "hold-advice", "--max-age-hours", "1", "--store", store)
    assert code == 0
    code, _, err = run("registry", "hold-advice", "--max-age-hours", "0", "--store", store)
    assert code == 2 and "--max-age-hours must be more than 0" in err  # the option, by name
    assert "│ no " in out and f"complete only up to {local}" in out


def test_catch_up_in_batches_stops_after_max_batches(store: str) -> None:
    submit(store, *(decision(f"13-{i:06d}-25", f"SKN-{i:010d}") for i in range(1, GROUP + 3)))
    # one batch: up to GROUP pulls, applied in one transaction
    code, out, _ = run(
        "registry", "catch-up", "--limit", "1", "--max-batches", "1", "--store", store
    )
    assert code == 0 and f"applied {GROUP}," in out
    code, out, _ = run("registry", "catch-up", "--store", store)
    assert code == 0 and "applied 2," in out


def test_profiles_are_listed() -> None:
    code, out, _ = run("registry", "profiles")
    assert code == 0
    assert "vog-natuurlijk-persoon" in out and "continue-screening-kinderopvang" in out
    assert "look-back: 20 years" in out and "consumers: justis" in out
    narrow = runner.invoke(app, ["registry", "profiles"], env={"COLUMNS": "60"})
    assert "\ncontinue-screening-kinderopvang\n" in narrow.stdout  # whole, at any width


def test_screen_stores_the_answer_with_freshness_and_logs_the_read(store: str) -> None:
    submit(
        store,
        decision("13-000001-25", "SKN-0000000001", sequence=1, time="2025-07-17T19:40:00Z"),
    )
    assert run("registry", "catch-up", "--store", store)[0] == 0
    code, out, err = run(
        "registry",
        "screen",
        "SCR-1",
        "--skn",
        "SKN-0000000001",
        "--profile",
        "vog-natuurlijk-persoon",
        "--date",
        "2025-07-18",
        *SCREENER,
        "--store",
        store,
    )
    assert code == 0, err
    assert "screening SCR-1 (vog-natuurlijk-persoon) of SKN-0000000001 on 18-07-2025" in out
    assert "1 case" in out and "13-000001-25" in out and "settled" in out and "01-06-2025" in out
    assert "Openbaar Ministerie: volledig tot" in out  # the answer carries it
    assert counts(store)["screenings"] == 1
    # Logged as Justid's operator at the keyboard, for the consumer named: not as Justis.
    rt = bootstrap(Settings(store_url=store, synchronous="NORMAL"))
    try:
        (read,) = rt.registry.db.reads_of("SKN-0000000001", 100)
    finally:
        rt.close()
    assert (read.activity, read.organisation, read.role, read.actor, read.detail) == (
        "screening-answered",
        "justid",
        "screener",
        "screener-7",
        "SCR-1 vog-natuurlijk-persoon for justis",
    )
    decide = ("registry", "decision", "SCR-1", "afgegeven", "--as", "justis-1", "--store", store)
    # Answered today (real time): a decision dated before that is refused and nothing is kept.
    code, _, err = run(*decide, "--date", "2025-07-20")
    assert code == 2 and "--date: the decision date 2025-07-20 is before the screening" in err
    assert decisions_of(store, "SCR-1") == []
    today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
    code, out, err = run(*decide, "--date", today.isoformat())
    assert code == 0, err
    assert f"screening SCR-1: afgegeven on {today:%d-%m-%Y}" in out
    assert decisions_of(store, "SCR-1") == [("afgegeven", today.isoformat())]
    code, out, _ = run(*decide, "--date", today.isoformat())
    assert code == 0 and "as recorded already; nothing changed" in " ".join(out.split())
    # Reversing an issued VOG said only the new decision (a review): it names the one replaced.
    refuse = ("registry", "decision", "SCR-1", "geweigerd", "--as", "justis-1", "--store", store)
    code, out, _ = run(*refuse, "--date", today.isoformat())
    said = " ".join(out.split())
    assert (
        code == 0
        and (
            f"geweigerd on {today:%d-%m-%Y}, which replaces afgegeven on {today:%d-%m-%Y} "
            "(kept in its history)"
        )
        in said
    )
    code, out, _ = run(*decide, "--date", today.isoformat())  # back as it was, for what follows
    assert code == 0 and "which replaces geweigerd" in " ".join(out.split())
    code, out, _ = run(
        "registry",
        "extract",
        "SKN-0000000001",
        "--organisation",
        "ind",
        "--role",
        "beslisser",
        "--as",
        "ind-12",
        "--purpose",
        "verblijf",
        "--legal-ground",
        "art. 107 Vw",
        "--store",
        store,
    )
    assert code == 0
    assert "1 registrations of SKN-0000000001" in out
    assert "om-afdoening-geregistreerd.v1" in out and "geweld" in out
    assert "Openbaar Ministerie: volledig tot" in out
    code, out, _ = run("registry", "reads", "SKN-0000000001", *AUDIT, "--store", store)
    assert code == 0
    assert "2 reads of SKN-0000000001" in out
    assert out.index("extract-read") < out.index("screening-answered")  # newest first
    assert "ind-12" in out and "art. 107 Vw" in out and "screener-7" in out
    code, out, _ = run(
        "registry", "reads", "SKN-0000000001", *AUDIT, "--limit", "1", "--store", store
    )
    assert code == 0 and "1 reads" in out and "read-log-read" in out  # the read before it
    assert "the newest 1: narrow with --until or --activity" in out
    assert reads_of(store, "SKN-0000000001")[:2] == ["read-log-read", "read-log-read"]
    skn = "SKN-0000000001"
    code, out, _ = run(
        "registry", "reads", skn, *AUDIT, "--activity", "extract-read", "--store", store
    )
    assert code == 0 and "1 reads of" in out and "screening-answered" not in out
    code, out, _ = run("registry", "reads", skn, *AUDIT, "--since", "2099-01-01", "--store", store)
    assert code == 0 and "0 reads of" in out
    logged = len(reads_of(store, skn))
    for args, message in (
        (("--since", "1-8-2025"), "--since must be a date as YYYY-MM-DD, not '1-8-2025'"),
        # Other ISO 8601 forms that Python reads, which the API refuses: refused here too.
        (("--since", "2025-W05-6"), "--since must be a date as YYYY-MM-DD, not '2025-W05-6'"),
        (("--until", "20250201"), "--until must be a date as YYYY-MM-DD, not '20250201'"),
        (("--activity", "peek"), "activity must be one of screening-answered, extract-read"),
        (("--since", "2025-08-02", "--until", "2025-08-01"), "until (2025-08-01) is before since"),
    ):
        code, _, err = run("registry", "reads", skn, *AUDIT, *args, "--store", store)
        assert code == 2 and message in err, err
    assert len(reads_of(store, skn)) == logged  # a refused read logs nothing


def test_rescreen_lists_both_directions_and_exports_csv_and_parquet(
    store: str, tmp_path: Path
) -> None:
    late_registrations(store)
    csv_path, parquet_path = tmp_path / "items.csv", tmp_path / "items.parquet"
    code, out, err = run(
        "registry",
        "rescreen",
        *OPERATOR,
        "--csv",
        str(csv_path),
        "--parquet",
        str(parquet_path),
        "--store",
        store,
    )
    assert code == 0, err
    assert "missed: 1, wrongly-shown: 1" in out and "Freshness as of" in out
    assert "SCR-A" in out and "— → settled" in out and "15-07-2025" in out
    # the case shown, and what it is now: dismissed on 16 July
    assert "SCR-B" in out and "pending → dismissed" in out and "16-07-2025" in out
    assert "wrote 2 items to" in out
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    assert {(r["reference"], r["direction"], r["caseKey"]) for r in rows} == {
        ("SCR-A", "missed", "13-000001-25"),
        ("SCR-B", "wrongly-shown", "13-000002-25"),
    }
    assert {r["workState"] for r in rows} == {"open"}
    # The files keep the registry's freshness when the list was made, in every row.
    assert len({(r["freshnessAsOf"], r["freshness"]) for r in rows}) == 1
    assert ";partner=om;state=online;" in rows[0]["freshness"]
    table = pq.read_table(parquet_path)
    assert table.num_rows == 2
    assert set(table.column("freshness").to_pylist()) == {rows[0]["freshness"]}
    assert b"ketenherstel.registry.freshness" in table.schema.metadata
    assert sorted(table.column("reference").to_pylist()) == ["SCR-A", "SCR-B"]
    # the list's read is logged as Justid's operator's
    rt = bootstrap(Settings(store_url=store, synchronous="NORMAL"))
    try:
        (read,) = rt.registry.db.reads_of("*", 100)  # the list reads no one person
    finally:
        rt.close()
    assert (read.activity, read.organisation, read.role, read.actor) == (
        "rescreen-list-read",
        "justid",
        "operator",
        "op-1",
    )
    assert (read.purpose, read.legal_ground) == ("herbeoordeling", "art. 39f Wjsg")
    # one direction only, to CSV
    only = tmp_path / "missed.csv"
    code, out, _ = run(
        "registry",
        "rescreen",
        "--direction",
        "missed",
        "--csv",
        str(only),
        *OPERATOR,
        "--store",
        store,
    )
    assert code == 0
    assert "missed: 1" in out and "wrongly-shown: " not in out and "SCR-B" not in out
    assert [r["reference"] for r in csv.DictReader(io.StringIO(only.read_text()))] == ["SCR-A"]


def test_rescreen_names_each_item_whole_as_work_takes_it_in_80_columns(store: str) -> None:
    """An eleven-column table cut the reference to `SCR…` and the case to `13-…` in 80
    columns (or a pipe): each item is a block now, its first line what `registry work`
    takes."""
    late_registrations(store)
    result = runner.invoke(
        app,
        ["registry", "rescreen", *OPERATOR, "--store", store],
        env={"COLUMNS": "80", "KETENHERSTEL_SYNCHRONOUS": "NORMAL", "KETENHERSTEL_REGISTRY": ""},
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "screening SCR-A, case 13-000001-25, missed" in lines
    assert "screening SCR-B, case 13-000002-25, wrongly-shown" in lines
    assert "  pending → dismissed; fact date 16-07-2025" in lines
    assert "…" not in result.stdout and max(len(line) for line in lines) <= 80


def test_rescreen_items_are_worked_in_order(store: str) -> None:
    late_registrations(store)
    item = ("SCR-A", "13-000001-25", "missed")
    code, _, err = run(
        "registry", "work", *item, "close", "--as", "op-1", "--outcome", "x", "--store", store
    )
    assert code == 2
    assert "cannot close an item that is open; the order is assign, review, close" in err
    code, _, err = run("registry", "work", *item, "assign", "--as", "op-1", "--store", store)
    assert code == 2 and "assign needs an assignee" in err
    assert work_rows(store) == 0  # nothing changed
    code, _, err = run(
        "registry",
        "work",
        "SCR-X",
        "x",
        "missed",
        "assign",
        "--as",
        "op-1",
        "--assignee",
        "team-vog",
        "--store",
        store,
    )
    assert code == 1 and "no re-screen item for screening 'SCR-X'" in err
    code, out, err = run(
        "registry",
        "work",
        *item,
        "assign",
        "--as",
        "op-1",
        "--assignee",
        "team-vog",
        "--store",
        store,
    )
    assert code == 0, err
    assert "screening SCR-A, case 13-000001-25, missed: assigned" in out
    code, out, _ = run("registry", "work", *item, "review", "--as", "op-2", "--store", store)
    assert code == 0 and "reviewed" in out
    code, out, _ = run(
        "registry",
        "work",
        *item,
        "close",
        "--as",
        "op-2",
        "--outcome",
        "VOG ingetrokken",
        "--note",
        "zie brief",
        "--store",
        store,
    )
    assert code == 0 and "closed" in out
    code, out, _ = run("registry", "rescreen", "--direction", "missed", *OPERATOR, "--store", store)
    assert code == 0 and "closed" in out
    assert "rescreen-item-close" in reads_of(store, "SKN-0000000001")


def test_bad_input_is_refused_with_a_clear_message_and_changes_nothing(
    store: str, tmp_path: Path
) -> None:
    submit(store, decision("13-000001-25", "SKN-0000000001", sequence=1))
    assert run("registry", "catch-up", "--store", store)[0] == 0
    base = ("registry", "screen", "SCR-1", "--skn", "SKN-0000000001")
    code, _, err = run(
        *base,
        "--profile",
        "vog-natuurlijk-persoon",
        "--date",
        "18-07-2025",
        *SCREENER,
        "--store",
        store,
    )
    assert code == 2
    assert "--date must be a date as YYYY-MM-DD, not '18-07-2025'" in err
    code, _, err = run(*base, "--profile", "nope", *SCREENER, "--store", store)
    assert code == 2 and "unknown screening profile 'nope'; known: bibob," in err
    code, _, err = run(
        "registry",
        "screen",
        "SCR-1",
        "--skn",
        "123",
        "--profile",
        "bibob",
        *SCREENER,
        "--store",
        store,
    )
    assert code == 2 and "skn must look like SKN-0123456789, not '123'" in err
    no_purpose = [a for a in SCREENER if a not in ("--purpose", "vog-aanvraag")]
    code, _, err = run(*base, "--profile", "bibob", *no_purpose, "--store", store)
    assert code == 2 and "Missing option" in err and "--purpose" in err
    blank = [" " if a == "vog-aanvraag" else a for a in SCREENER]
    code, _, err = run(*base, "--profile", "bibob", *blank, "--store", store)
    assert code == 2 and "a read of personal data needs a purpose" in err
    # A line break or an escape in who reads would forge or hide a line of the read log.
    for forged in ("screener-7\nind-12", "screener\x1b[8m-7"):
        bad = [forged if a == "screener-7" else a for a in SCREENER]
        code, _, err = run(*base, "--profile", "bibob", *bad, "--store", store)
        assert code == 2 and "--as: an actor of a read holds no control or invisible" in err, err
    assert counts(store)["screenings"] == 0
    assert reads_of(store, "SKN-0000000001") == []

    code, _, err = run(
        "registry",
        "decision",
        "SCR-9",
        "afgegeven",
        "--date",
        "2025-07-20",
        "--as",
        "j",
        "--store",
        store,
    )
    assert code == 1 and "no screening 'SCR-9'" in err
    code, _, err = run(
        "registry",
        "decision",
        "SCR-9",
        "afgegeven",
        "--date",
        "2025-13-01",
        "--as",
        "j",
        "--store",
        store,
    )
    assert code == 2 and "--date must be a date as YYYY-MM-DD" in err

    csv_path = tmp_path / "nowhere" / "x.csv"
    code, _, err = run("registry", "rescreen", "--csv", str(csv_path), *OPERATOR, "--store", store)
    assert code == 2 and "--csv: no such directory" in err
    code, _, err = run("registry", "rescreen", "--csv", "", *OPERATOR, "--store", store)
    assert code == 2 and "--csv: give a file's path, not an empty one" in err  # it said '.'
    code, _, err = run(
        "registry", "rescreen", "--direction", "sideways", *OPERATOR, "--store", store
    )
    assert code == 2 and "--direction must be missed or wrongly-shown, not 'sideways'" in err
    code, _, err = run(
        "registry",
        "rescreen",
        "--as",
        "op-1",
        "--purpose",
        "x",
        "--legal-ground",
        " ",
        "--store",
        store,
    )
    assert code == 2 and "needs a legal ground" in err
    assert reads_of(store, "*") == []  # no list was read

    code, _, err = run(
        "registry", "work", "SCR-1", "c", "sideways", "assign", "--as", "op", "--store", store
    )
    assert code == 2 and "direction must be missed or wrongly-shown" in err
    code, _, err = run("registry", "reads", "nobody", *AUDIT, "--store", store)
    assert code == 2 and "skn must look like SKN-0123456789, not 'nobody'" in err
    code, _, err = run("registry", "hold-advice", "--max-age-hours", "0", "--store", store)
    assert code == 2 and "--max-age-hours must be more than 0" in err
    assert counts(store)["screenings"] == 0 and work_rows(store) == 0


def test_an_export_file_that_cannot_be_written_is_refused_before_the_list_is_read(
    store: str,
) -> None:
    """--csv /proc/x or /dev/full failed only after the list was read, printed and the read
    logged. A socket stands in for the device: nothing is ever opened in /dev."""
    import socket
    import tempfile

    from tests.registry.factories import judgment

    german = judgment("13-000001-25", "SKN-0000000001", day="2025-07-01")
    german["data"]["nationality"] = "DE"
    submit(store, decision("13-000001-25", "SKN-0000000001", kind="dagvaarding"), german)
    assert run("registry", "catch-up", "--store", store)[0] == 0
    with tempfile.TemporaryDirectory(dir="/tmp") as folder, socket.socket(socket.AF_UNIX) as s:
        sock = Path(folder) / "s"
        s.bind(str(sock))
        for command in ("rescreen", "notifications"):
            for option in ("--csv", "--parquet"):
                for target, needle in [
                    ("/proc/x", f"{option} /proc/x: not writable"),
                    (str(sock), f"{option}: {sock} is not a regular file"),
                ]:
                    args = ("registry", command, *OPERATOR, option, target, "--store", store)
                    code, out, err = run(*args)
                    assert code == 2 and needle in err and not out, (args, out, err)
        assert sorted(p.name for p in Path(folder).iterdir()) == ["s"]
    assert reads_of(store, "SKN-0000000001") == []


def test_notifications_owed_to_member_states_are_listed_and_sent(
    store: str, tmp_path: Path
) -> None:
    from tests.registry.factories import judgment

    german = judgment("13-000001-25", "SKN-0000000001", day="2025-07-01")
    german["data"]["nationality"] = "DE"
    submit(store, decision("13-000001-25", "SKN-0000000001", kind="dagvaarding"), german)
    assert run("registry", "catch-up", "--store", store)[0] == 0
    code, _, err = run("registry", "notifications", "--store", store)
    assert code == 2 and "--as" in err  # they name persons: who reads, and why
    code, _, err = run(
        "registry",
        "notifications",
        "--as",
        "op-1",
        "--purpose",
        " ",
        "--legal-ground",
        "x",
        "--store",
        store,
    )
    assert code == 2 and "needs a purpose" in err
    assert reads_of(store, "SKN-0000000001") == []
    csv_file, parquet_file = tmp_path / "n.csv", tmp_path / "n.parquet"
    code, out, err = run(
        "registry",
        "notifications",
        *OPERATOR,
        "--csv",
        str(csv_file),
        "--parquet",
        str(parquet_file),
        "--store",
        store,
    )
    assert code == 0 and "1 notifications: 1 late, 1 not sent" in out and "DE" in out, err
    assert reads_of(store, "SKN-0000000001") == ["ecris-list-read"]
    header = csv_file.read_text().splitlines()[0]
    assert header.startswith("notificationId,skn,caseKey")
    assert header.endswith(",freshnessAsOf,freshness")
    assert "SKN-0000000001" in csv_file.read_text()
    assert pq.read_table(parquet_file).num_rows == 1
    code, out, _ = run("registry", "notify", "--store", store)
    assert code == 0 and "sent 1 notifications" in out
    code, out, _ = run(
        "registry", "notifications", *OPERATOR, "--state", "unsent", "--store", store
    )
    assert code == 0 and "\n0 notifications" in out and out.startswith("Freshness as of")
    code, _, err = run("registry", "notifications", *OPERATOR, "--state", "soon", "--store", store)
    assert code == 2 and "state must be late, unsent or on-time" in err


def test_a_registry_file_that_did_not_apply_this_stores_registrations_is_refused(
    store: str, tmp_path: Path
) -> None:
    """A mistyped --registry is a new, empty file: it must not answer "volledig" for
    registrations another file applied (decision 0014); nor may another store's file answer."""
    submit(store, decision("13-000001-25", "SKN-0000000001", sequence=1))
    code, out, err = run("registry", "catch-up", "--store", store)
    assert code == 0 and "applied 1," in out, err
    wrong = tmp_path / "sub" / "wrong.sqlite"
    (tmp_path / "sub").mkdir()
    for command in (("freshness",), ("hold-advice",), ("catch-up",)):
        code, _, err = run("registry", *command, "--store", store, "--registry", str(wrong))
        assert code == 2 and "applied by another registry file" in err, err
        assert not wrong.exists()  # nothing made
    code, _, err = run(
        "registry", "freshness", "--store", store, "--registry", str(tmp_path / "no" / "r.sqlite")
    )
    assert code == 2 and "there is no directory" in err
    assert not (tmp_path / "no").exists()
    other = made(f"sqlite:///{tmp_path}/other.db")
    theirs = tmp_path / "theirs.sqlite"
    code, _, err = run("registry", "freshness", "--store", other, "--registry", str(theirs))
    assert code == 0, err  # a new registry on a store that delivered nothing: bound to it
    code, _, err = run("registry", "freshness", "--store", store, "--registry", str(theirs))
    assert code == 2 and "belongs to another store" in err
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_text("garbage " * 200)
    code, _, err = run("registry", "freshness", "--store", store, "--registry", str(garbage))
    assert code == 2 and "not a registry database" in err and "Traceback" not in err
    code, _, err = run("registry", "freshness", "--store", store, "--registry", str(tmp_path))
    assert code == 2 and "is a directory" in err
    # Another program's database, and an empty file, are refused and left exactly as they were.
    foreign = tmp_path / "picture-copy.sqlite"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE notes (x)")
    conn.commit()
    conn.close()
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    for path, needle in ((foreign, "it holds other tables: notes"), (empty, "another registry")):
        before = path.read_bytes()
        code, _, err = run("registry", "freshness", "--store", store, "--registry", str(path))
        assert code == 2 and needle in err, err
        assert path.read_bytes() == before
        assert not Path(f"{path}-wal").exists() and not Path(f"{path}-shm").exists()


def test_a_store_that_does_not_exist_is_refused_not_made(tmp_path: Path) -> None:
    typo = f"sqlite:///{tmp_path}/typo.db"
    for command in (
        ("registry", "freshness"),
        ("registry", "hold-advice"),
        ("partner", "list"),
        ("isolation", "states"),
        ("manual", "list"),
    ):
        code, _, err = run(*command, "--store", typo)
        assert code == 1 and "no store at" in err and "ketenherstel init" in err, command
    assert list(tmp_path.iterdir()) == []
    code, _, err = run("init", "--store", typo)
    assert code == 0, err
    code, _, err = run("registry", "freshness", "--store", typo)
    assert code == 0, err


def test_free_text_longer_than_the_api_takes_is_refused_naming_the_option_and_limit(
    store: str,
) -> None:
    """The CLI takes no longer text than the API's request models (the same constants)."""
    late_registrations(store)
    item = ("SCR-A", "13-000001-25", "missed")
    work = ("work", *item, "assign", "--assignee", "team-vog")
    read = ("--purpose", "herbeoordeling", "--legal-ground", "art. 39f Wjsg")
    person = ("--role", "beslisser", "--as", "ind-12", *read)
    screen = ("screen", "SCR-C", "--skn", "SKN-0000000001", "--date", "2025-07-18")
    consumer = ("--consumer", "justis")
    who = ("--role", "screener", "--as", "s-7", *read)
    cases = [
        ((*work, "--as", "o" * (MAX_TEXT + 1)), "--as", MAX_TEXT),
        (("work", *item, "assign", "--as", "op", "--assignee", "a" * 5000), "--assignee", MAX_TEXT),
        ((*work, "--as", "op", "--note", "n" * 100_000), "--note", MAX_NOTE),
        ((*work, "--as", "op", "--outcome", "x" * (MAX_OUTCOME + 1)), "--outcome", MAX_OUTCOME),
        (
            ("work", "SCR-A", "1" * (MAX_TEXT + 1), "missed", "assign", "--as", "op"),
            "CASE_KEY",
            MAX_TEXT,
        ),
        (
            ("decision", "SCR-A", "afgegeven", "--date", "2025-07-20", "--as", "j" * 201),
            "--as",
            MAX_TEXT,
        ),
        (("rescreen", "--as", "o" * 201, *read), "--as", MAX_TEXT),
        (
            ("rescreen", "--as", "op", "--purpose", "p" * 201, "--legal-ground", "g"),
            "--purpose",
            MAX_TEXT,
        ),
        (
            ("rescreen", "--as", "op", "--purpose", "p", "--legal-ground", "g" * 201),
            "--legal-ground",
            MAX_TEXT,
        ),
        (("reads", "SKN-0000000001", "--as", "o" * 201, *read), "--as", MAX_TEXT),
        (("notifications", "--as", "o" * 201, *read), "--as", MAX_TEXT),
        (
            ("extract", "SKN-0000000001", "--organisation", "i" * (MAX_PARTNER + 1), *person),
            "--organisation",
            MAX_PARTNER,
        ),
        (
            (
                "extract",
                "SKN-0000000001",
                "--organisation",
                "ind",
                "--role",
                "r" * 201,
                "--as",
                "i",
                *read,
            ),
            "--role",
            MAX_TEXT,
        ),
        (
            (*screen, "--profile", "p" * (MAX_PROFILE + 1), *consumer, *who),
            "--profile",
            MAX_PROFILE,
        ),
        ((*screen, "--profile", "bibob", "--consumer", "c" * 41, *who), "--consumer", MAX_PARTNER),
    ]
    before = counts(store), reads_of(store, "SKN-0000000001"), reads_of(store, "*")
    for args, option, limit in cases:
        code, _, err = run("registry", *args, "--store", store)
        assert code == 2, (args[0], option, err)
        assert f"{option} is at most {limit:,} characters, not " in err, err
    # Nothing was changed, worked, decided or logged.
    assert work_rows(store) == 0 and work_rows(store, "decisions") == 0
    assert (counts(store), reads_of(store, "SKN-0000000001"), reads_of(store, "*")) == before


def test_a_control_character_in_a_kept_text_is_refused_and_changes_nothing(store: str) -> None:
    """A name, team, outcome or note is shown again in terminals and lists: an escape sequence
    in it would rewrite what they show. Refused as `manual add --as` refuses one."""
    late_registrations(store)
    today = datetime.now(ZoneInfo("Europe/Amsterdam")).date().isoformat()
    decide = ("decision", "SCR-A", "afgegeven", "--date", today)
    work = ("work", "SCR-A", "13-000001-25", "missed", "assign")
    cases = [
        ((*decide, "--as", "ev\x1b[2Jil\x07"), "--as: a person's name holds no control", "U+001B"),
        ((*decide, "--as", "ev\nil"), "--as: a person's name holds no control", "U+000A"),
        ((*work, "--as", "an\x1bna", "--assignee", "team-vog"), "--as: a person's name", "U+001B"),
        (
            (*work, "--as", "op", "--assignee", "team\x1b[31m"),
            "--assignee (a team or role)",
            "U+001B",
        ),
        ((*work, "--as", "op", "--assignee", "t", "--note", "zie\u202ebrief"), "--note", "U+202E"),
        ((*work, "--as", "op", "--assignee", "t", "--outcome", "x\x00"), "--outcome", "U+0000"),
    ]
    for args, says, char in cases:
        code, out, err = run("registry", *args, "--store", store)
        assert code == 2, (args, out, err)
        assert says in err and f"holds no control or invisible characters ({char})" in err, err
    assert work_rows(store) == 0 and work_rows(store, "decisions") == 0
    # A note keeps its line breaks; a name is one line.
    code, _, err = run(
        "registry", *work, "--as", "op", "--assignee", "t", "--note", "a\nb", "--store", store
    )
    assert code == 0, err
    code, _, err = run("registry", *decide, "--as", "justis-1", "--store", store)
    assert code == 0, err


def test_a_refused_value_is_quoted_cut_short(store: str) -> None:
    """A 100,000-character action, direction or decision gave a 100,000-character error."""
    late_registrations(store)
    long = "x" * 100_000
    for args in (
        ("work", "SCR-A", "13-000001-25", "missed", long, "--as", "op"),
        ("work", "SCR-A", "13-000001-25", long, "assign", "--as", "op", "--assignee", "t"),
        ("decision", "SCR-A", long, "--date", "2025-07-20", "--as", "j"),
    ):
        code, _, err = run("registry", *args, "--store", store)
        assert code == 2 and len(err) < 400, err[:400]
        assert "(100,000 characters)" in err
