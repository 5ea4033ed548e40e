"""The `manual` and `procedure` commands through Typer's runner, on a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ketenherstel.chain import load_chain
from ketenherstel.cli_manual import manual_app, procedures_app
from ketenherstel.store import open_store
from ketenherstel.store.manual_ports import NewManualRecord, NewProcedure
from tests.manual.support import MAPPING, UITSPRAAK, csv_bytes, row
from tests.stores import made

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("stores_keep_manual_records")


@pytest.fixture
def store(tmp_path: Path) -> str:
    return made(f"sqlite:///{tmp_path}/cli.db")


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(MAPPING), encoding="utf-8")
    return path


# The commands that change something, and so name their operator with --as.
_CHANGES = {
    manual_app: {"add", "import", "confirm", "withdraw", "correct"},
    procedures_app: {"add", "retire"},
}
OPERATOR = "Tess Tester"


def run(app: object, *args: str) -> tuple[int, str, str]:
    """The command; one that changes something is run as OPERATOR unless it names one itself
    (or asks for help)."""
    given = list(args)
    if given and given[0] in _CHANGES[app] and "--as" not in given and "--help" not in given:  # type: ignore[index]
        given += ["--as", OPERATOR]
    result = runner.invoke(app, given, env={"COLUMNS": "250"})  # type: ignore[arg-type]
    return result.exit_code, result.stdout, result.stderr


def add(
    store: str, case: str = "13-100001-25", role: str = "parket Amsterdam"
) -> tuple[int, str, str]:
    return run(
        manual_app,
        "add",
        "--partner", "om",
        "--case", case,
        "--type", "uitspraak-geregistreerd",
        "--when", "21-07-2025 14:30",
        "--role", role,
        "--field", "judgmentDate=18-07-2025",
        "--store", store,
    )  # fmt: skip


def test_every_command_has_help() -> None:
    for app, cmd in [
        (manual_app, c)
        for c in ("add", "import", "list", "show", "confirm", "correct", "withdraw", "unmatched")
    ] + [(procedures_app, c) for c in ("add", "list", "retire")]:
        code, out, _ = run(app, cmd, "--help")
        assert code == 0 and "Usage" in out, cmd


def test_a_change_without_its_operator_changes_nothing(
    store: str, tmp_path: Path, mapping: Path
) -> None:
    assert add(store)[0] == 0
    _, before, _ = run(manual_app, "show", "1", "--store", store)
    data = tmp_path / "paper.csv"
    data.write_bytes(csv_bytes(row("13-100009-25")))
    for app, args in [
        (manual_app, ["add", "--partner", "om", "--case", "13-100009-25", "--type",
                      "uitspraak-geregistreerd", "--when", "21-07-2025", "--role", "griffie"]),
        (manual_app, ["import", str(data), "--mapping", str(mapping)]),
        (manual_app, ["confirm", "1", "--reason", "checked"]),
        (manual_app, ["withdraw", "1", "--reason", "twice"]),
        (manual_app, ["correct", "1", "--reason", "typo", "--case", "13-100002-25"]),
        (procedures_app, ["add", "--process", "berechting", "--replaces", "koerier",
                          "--from", "18-07-2025"]),
        (procedures_app, ["retire", "1", "--wave", "golf-1"]),
    ]:  # fmt: skip
        for who, why in [(None, "Missing option '--as'"), (" ", "--as names you"),
                         ("x\u202ey", "invisible"), ("local-cli", "own name")]:  # fmt: skip
            named = [] if who is None else ["--as", who]
            result = runner.invoke(
                app,  # type: ignore[arg-type]
                [*args, *named, "--store", store],
                env={"COLUMNS": "250"},
            )
            assert result.exit_code == 2 and why in result.stderr, (args[0], who, result.stderr)
    assert run(manual_app, "show", "1", "--store", store)[1] == before
    assert "13-100009-25" not in run(manual_app, "list", "--store", store)[1]
    assert "berechting" not in run(procedures_app, "list", "--store", store)[1]


def test_the_operator_named_is_who_in_the_records_history(store: str) -> None:
    assert add(store)[0] == 0
    code, _, err = run(
        manual_app, "withdraw", "1", "--reason", "registered twice", "--as", "Bram Bakker",
        "--store", store,
    )  # fmt: skip
    assert code == 0, err
    _, out, _ = run(manual_app, "show", "1", "--store", store)
    history = out.split("reason")[-1]
    assert OPERATOR in history and "Bram Bakker" in history and "local-cli" not in out


def test_list_shows_each_id_and_case_whole_in_80_columns(store: str) -> None:
    """The other manual commands take the id and the case: 80 columns (or a pipe) cut the
    case to `13-10…`."""
    assert add(store, role="parket Amsterdam, afdeling strafrechtelijke uitspraken")[0] == 0
    result = runner.invoke(manual_app, ["list", "--store", store], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    assert "13-100001-25" in result.stdout and "…" not in result.stdout, result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_add_list_show_and_settle(store: str) -> None:
    code, out, err = add(store)
    assert code == 0, err
    assert "registered manual record 1 (registered)" in out
    code, out, _ = run(manual_app, "list", "--store", store)
    assert "13-100001-25" in out and "judgmentDate=2025-07-18" in out and "21-07-2025 14:30" in out
    code, out, err = run(
        manual_app, "correct", "1", "--reason", "typo", "--case", "13-100002-25", "--store", store
    )
    assert code == 0, err
    assert (
        out == "manual record 1: corrected; case 13-100001-25 → 13-100002-25; no matching message\n"
    )
    _, before, _ = run(manual_app, "show", "1", "--store", store)
    code, _, err = run(  # the same case again: nothing to correct, and no history entry
        manual_app, "correct", "1", "--reason", "same", "--case", "13-100002-25", "--store", store
    )
    assert code == 2 and "nothing to correct: manual record 1 already has these values" in err
    assert run(manual_app, "show", "1", "--store", store)[1] == before
    code, out, _ = run(manual_app, "confirm", "1", "--reason", "seen the file", "--store", store)
    assert "manual record 1: confirmed" in out
    code, out, _ = run(manual_app, "show", "1", "--store", store)
    assert "seen the file" in out and "corrected" in out
    code, _, err = run(manual_app, "confirm", "1", "--reason", "again", "--store", store)
    assert code == 2 and "confirmed already" in err
    code, out, _ = run(manual_app, "withdraw", "1", "--reason", "double", "--store", store)
    assert "withdrawn" in out
    code, _, err = run(manual_app, "confirm", "1", "--reason", "after all", "--store", store)
    said = " ".join(err.split())
    assert code == 2 and "manual record 1 is withdrawn and cannot be confirmed" in said


def test_a_refused_add_names_every_problem(store: str) -> None:
    code, _, err = run(
        manual_app,
        "add",
        "--partner", "politie",
        "--case", "13-100001-25",
        "--type", "uitspraak-geregistreerd",
        "--when", "31-02-2025",
        "--role", "parket",
        "--field", "bogus=1",
        "--store", store,
    )  # fmt: skip
    assert code == 2
    assert "'bogus' is not a business-key field of uitspraak-geregistreerd" in err
    assert "politie never sends uitspraak-geregistreerd" in err
    assert "bad date '31-02-2025'" in err
    assert "missing business-key field judgmentDate" in err
    _, out, _ = run(manual_app, "list", "--store", store)
    assert "13-100001-25" not in out


def test_a_dry_run_shows_every_refused_row(store: str, tmp_path: Path, mapping: Path) -> None:
    file = tmp_path / "griffie.csv"
    file.write_bytes(csv_bytes(row(), row(partner="Ministerie"), row("13-100003-25", when="x")))
    code, out, err = run(
        manual_app, "import", str(file), "--mapping", str(mapping), "--dry-run", "--store", store
    )
    assert code == 1, err  # a check that finds problems: the file would be refused whole
    assert "3 rows" in out and "1 good, 2 refused" in out
    assert "unknown partner 'Ministerie'" in out and "bad date 'x'" in out
    assert (
        "dry run: the whole file would be refused (2 of 3 rows are refused); with "
        "--skip-refused 1 rows would be registered; nothing stored" in out
    )
    code, out, err = run(manual_app, "import", str(file), "--mapping", str(mapping),
                         "--dry-run", "--skip-refused", "--store", store)  # fmt: skip
    assert code == 0 and "dry run: 1 rows would be registered; nothing stored" in out, err
    _, listed, _ = run(manual_app, "list", "--store", store)
    assert "13-100001-25" not in listed


def test_an_import_with_refused_rows_is_refused_whole_unless_skipped(
    store: str, tmp_path: Path, mapping: Path
) -> None:
    file = tmp_path / "griffie.csv"
    file.write_bytes(csv_bytes(row(), row(partner="politie")))
    code, _, err = run(manual_app, "import", str(file), "--mapping", str(mapping), "--store", store)
    assert code == 2
    assert "the whole file is refused and nothing was stored" in err
    assert "politie never sends" in err
    code, out, err = run(
        manual_app,
        "import",
        str(file),
        "--mapping",
        str(mapping),
        "--skip-refused",
        "--store",
        store,
    )
    assert code == 0, err
    assert "registered 1 manual records" in out


@pytest.mark.parametrize(
    ("encoding", "says"),
    [
        ("utf-16", "the file is UTF-16, not UTF-8 (it starts with UTF-16's byte order mark"),
        ("utf-16-le", "the file is most likely UTF-16, not UTF-8: its first line holds NUL"),
        ("cp1252", "note: the file is not UTF-8 (byte 47); it was read as cp1252"),
    ],
)
def test_a_file_that_is_not_utf8_is_named_as_such_and_nothing_stored(
    store: str, tmp_path: Path, mapping: Path, encoding: str, says: str
) -> None:
    """UTF-16 (a spreadsheet's "Unicode text") was read as cp1252 or UTF-8, and a cp1252 file
    read as such lost its note when refused: either way the error blamed the mapping alone."""
    file = tmp_path / "griffie.csv"
    text = csv_bytes(row()).decode()
    if encoding == "cp1252":  # a header the mapping does not fit, read as cp1252
        text = text.replace("Geregistreerd door", "Geregistreerd d\u00f3\u00f3r")
    file.write_bytes(text.encode(encoding))
    for dry in ([], ["--dry-run"]):
        code, out, err = run(
            manual_app, "import", str(file), "--mapping", str(mapping), *dry, "--store", store
        )
        assert code == 2, (out, err)
        said = " ".join(err.split())
        assert said.startswith("error: griffie.csv: ") or "error: griffie.csv: " in said, said
        assert says in said and ("not UTF-8" in said), said
        assert ("the mapping names columns" in said) == (encoding == "cp1252"), said
    assert "13-100001-25" not in run(manual_app, "list", "--store", store)[1]


def test_every_row_refused_with_skip_refused_shows_them_and_imports_nothing(
    store: str, tmp_path: Path, mapping: Path
) -> None:
    """It said 'the file has no rows to register' without the rows; its dry run listed them
    and said 0 rows would be registered (exit 0)."""
    file = tmp_path / "griffie.csv"
    file.write_bytes(csv_bytes(row(partner="Ministerie"), row("13-100003-25", when="x")))
    args = ["import", str(file), "--mapping", str(mapping), "--skip-refused", "--store", store]
    code, out, err = run(manual_app, *args)
    assert code == 2, (out, err)
    assert "unknown partner 'Ministerie'" in err and "bad date 'x'" in err  # the table
    assert "every row is refused (2 of 2), so nothing was imported" in " ".join(err.split())
    code, out, err = run(manual_app, *args, "--dry-run")
    assert code == 1, (out, err)  # as a dry run that finds the file would be refused
    assert "unknown partner 'Ministerie'" in out and "bad date 'x'" in out
    assert "dry run: every row is refused (2 of 2), so nothing would be imported" in out
    assert "13-100003-25" not in run(manual_app, "list", "--store", store)[1]


@pytest.mark.parametrize("skip", [[], ["--skip-refused"]])
def test_a_file_with_only_a_header_is_no_rows_dry_run_or_not(
    store: str, tmp_path: Path, mapping: Path, skip: list[str]
) -> None:
    """The dry run said '0 rows would be registered' (exit 0), the import 'no rows to
    register' (exit 2): an export with a header alone is most likely a mistake."""
    file = tmp_path / "griffie.csv"
    file.write_bytes(csv_bytes())
    for dry in ([], ["--dry-run"]):
        code, out, err = run(
            manual_app, "import", str(file), "--mapping", str(mapping), *skip, *dry,
            "--store", store,
        )  # fmt: skip
        assert code == 2, (dry, out, err)
        assert "error: griffie.csv: no rows: the file has a header and no rows below it" in (
            " ".join(err.split())
        )
        assert out == ""


def test_an_import_shows_its_progress_on_a_terminal_and_not_on_stdout(
    store: str, tmp_path: Path, mapping: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50,000 rows took about 25 seconds without a sign of life."""
    import io

    from ketenherstel import cli_manual
    from ketenherstel.terminal import SafeConsole

    terminal = io.StringIO()
    console = SafeConsole(file=terminal, force_terminal=True, force_interactive=True, width=100)
    monkeypatch.setattr(cli_manual, "err", console)
    file = tmp_path / "griffie.csv"
    file.write_bytes(csv_bytes(*(row(f"13-{100001 + i}-25") for i in range(2500))))
    code, out, err = run(
        manual_app, "import", str(file), "--mapping", str(mapping), "--store", store
    )
    assert code == 0, err
    assert out.splitlines()[-1] == "registered 2500 manual records"
    assert "checking" not in out and "storing" not in out
    shown = terminal.getvalue()
    assert "griffie.csv: checking lines" in shown and "2501/2501" in shown, shown
    assert "griffie.csv: storing records" in shown and "2500/2500" in shown, shown


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("uitspraken SKN-1572429180.csv", "a file name gives no SKN, BSN or e-mail address"),
        ("van jan@example.nl.csv", "a file name gives no SKN, BSN or e-mail address"),
        ("f\x1b[31m.csv", "a file name holds no control or invisible characters (U+001B)"),
    ],
)
def test_an_import_whose_file_name_would_put_personal_data_on_the_trail_is_refused(
    store: str, tmp_path: Path, mapping: Path, name: str, reason: str
) -> None:
    file = tmp_path / name
    file.write_bytes(csv_bytes(row()))
    for dry in ([], ["--dry-run"]):
        code, out, err = run(
            manual_app, "import", str(file), "--mapping", str(mapping), *dry, "--store", store
        )
        assert code == 2, (out, err)
        assert f"FILE: {reason}" in err and "rename the file" in err
        assert "1572429180" not in out + err and "jan@" not in out + err and "\x1b" not in err
    assert "13-100001-25" not in run(manual_app, "list", "--store", store)[1]
    opened = open_store(store)
    try:
        assert [a for a in opened.audit_log(limit=100) if a.action == "manual-imported"] == []
    finally:
        opened.close()


def test_options_stand_in_for_a_mapping_file(store: str, tmp_path: Path) -> None:
    file = tmp_path / "export.csv"
    file.write_text(
        "Parketnummer,Datum,Uitspraakdatum\n13-100001-25,21-07-2025,18-07-2025\n", encoding="utf-8"
    )
    args = ["--map", "case=Parketnummer", "--map", "when=Datum"]
    args += ["--map", "fields.judgmentDate=Uitspraakdatum"]
    args += ["--default", "partner=om", "--default", "type=uitspraak-geregistreerd"]
    args += ["--default", "role=parket Amsterdam"]
    twice = ["--map", "when=Uitspraakdatum"]  # which date column was meant?
    code, out, err = run(manual_app, "import", str(file), *args, *twice, "--store", store)
    assert code == 2 and "--map when is given twice ('Datum' and 'Uitspraakdatum')" in err
    assert "13-100001-25" not in run(manual_app, "list", "--store", store)[1]
    code, out, err = run(manual_app, "import", str(file), *args, "--store", store)
    assert code == 0, err
    assert "registered 1 manual records" in out


def test_a_mapping_file_that_is_not_utf8_is_named(store: str, tmp_path: Path) -> None:
    file = tmp_path / "export.csv"
    file.write_bytes(csv_bytes(row()))
    mapping = tmp_path / "mapping.yaml"
    mapping.write_bytes("# griffie \u00e9\n".encode("cp1252") + yaml.safe_dump(MAPPING).encode())
    code, _, err = run(manual_app, "import", str(file), "--mapping", str(mapping), "--store", store)
    assert code == 2 and "the mapping is not UTF-8 text" in err


def test_a_broken_mapping_or_a_directory_is_named_with_file_line_and_column(
    store: str, tmp_path: Path
) -> None:
    """It was `cannot read while parsing a flow node…` (several lines, no file name) and
    `cannot read [Errno 21] Is a directory: …`."""
    file = tmp_path / "export.csv"
    file.write_bytes(csv_bytes(row()))
    broken = tmp_path / "mapping.yaml"
    broken.write_text("columns:\n  case: Zaaknummer\ndefaults: {partner: [om\n", encoding="utf-8")
    folder = tmp_path / "folder"
    folder.mkdir()
    for args, says in [
        (["--mapping", str(broken)], f"{broken}:4:1: the mapping is not valid YAML or JSON ("),
        (["--mapping", str(folder)], f"--mapping {folder}: is a directory; give a file"),
    ]:
        code, _, err = run(manual_app, "import", str(file), *args, "--store", store)
        assert code == 2 and says in err, err
        assert len(err.strip().splitlines()) == 1 and "Errno" not in err
    code, _, err = run(manual_app, "import", str(folder), "--store", store)
    assert code == 2 and f"{folder}: is a directory; give a file" in err


def test_a_mapping_that_gives_a_key_twice_is_refused_with_its_line_and_nothing_stored(
    store: str, tmp_path: Path
) -> None:
    """yaml.safe_load kept the second `case:` and the import registered the row as if the
    first had never been written."""
    file = tmp_path / "export.csv"
    file.write_bytes(csv_bytes(row()))
    twice = tmp_path / "mapping.yaml"
    text = yaml.safe_dump(MAPPING, sort_keys=False)
    twice.write_text(text.replace("  case: ", "  case: Zaaknummer\n  case: "), encoding="utf-8")
    assert twice.read_text(encoding="utf-8").splitlines()[2:4] == [
        "  case: Zaaknummer",
        "  case: Parketnummer",
    ]
    code, _, err = run(manual_app, "import", str(file), "--mapping", str(twice), "--store", store)
    assert code == 2, err
    assert (
        f"{twice}:4:3: the mapping is not valid YAML or JSON (the key 'case' is given twice in "
        "one mapping (first on line 3)"
    ) in " ".join(err.split())
    code, out, _ = run(manual_app, "list", "--store", store)
    assert code == 0 and "13-100001-25" not in out


def test_a_mapped_column_missing_from_the_file_is_named(store: str, tmp_path: Path) -> None:
    file = tmp_path / "export.csv"
    file.write_bytes(csv_bytes(row()))
    doc = {**MAPPING, "columns": {**MAPPING["columns"], "case": "Zaaknummer"}}
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(doc), encoding="utf-8")
    code, _, err = run(manual_app, "import", str(file), "--mapping", str(mapping), "--store", store)
    assert code == 2
    assert "mapping.columns.case" in err and "'Zaaknummer' is not in the header" in err


def test_a_fixed_type_without_its_key_field_is_refused_and_nothing_stored(
    store: str, tmp_path: Path
) -> None:
    file = tmp_path / "export.csv"
    file.write_text("Parketnummer,Datum\n13-100001-25,21-07-2025\n", encoding="utf-8")
    args = ["--map", "case=Parketnummer", "--map", "when=Datum"]
    args += ["--default", "partner=om", "--default", "type=uitspraak-geregistreerd"]
    args += ["--default", "role=parket Amsterdam"]
    code, _, err = run(manual_app, "import", str(file), *args, "--store", store)
    assert code == 2
    assert "mapping.fields.judgmentDate" in err and "map it to a column" in err
    code, out, _ = run(manual_app, "list", "--store", store)
    assert code == 0 and "13-100001-25" not in out


def test_unmatched_lists_both_ways(store: str) -> None:
    add(store)
    code, out, _ = run(manual_app, "unmatched", "--store", store)
    assert code == 0
    assert "manual records without a digital message: 1" in out
    assert "digital messages without a manual record: 0" in out


def test_unmatched_messages_show_their_case_and_id_whole_in_80_columns(store: str) -> None:
    """A user looks the message up next (`trail SOURCE ID`): 80 columns cut its id."""
    from tests.manual.test_manual_work import World

    ident = "a-rather-long-message-id-" + "0123456789" * 3
    world = World(open_store(store), load_chain())
    try:
        world.add("13-100001-25")  # paper work of the OM's judgments began: messages count
        world.send_judgment("13-100077-25", ident=ident)
    finally:
        world.store.close()
    result = runner.invoke(manual_app, ["unmatched", "--store", store], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    assert "digital messages without a manual record: 1" in result.stdout
    assert ident in result.stdout and "13-100077-25" in result.stdout, result.stdout


def test_procedures_are_added_listed_and_retired(store: str) -> None:
    code, out, err = run(
        procedures_app,
        "add",
        "--process", "voorlopige-hechtenis",
        "--replaces", "raadkamerbeslissingen per koerier",
        "--from", "21-07-2025",
        "--informed", "rechtspraak",
        "--informed", "dji",
        "--manual-type", "voorlopige-hechtenis-beslist",
        "--store", store,
    )  # fmt: skip
    assert code == 0, err
    assert "interim procedure 1 for voorlopige-hechtenis" in out
    code, _, err = run(
        procedures_app,
        "add",
        "--process", "voorlopige-hechtenis",
        "--replaces", "x",
        "--from", "21-07-2025",
        "--manual-type", "uitspraak-geregistreerd",
        "--store", store,
    )  # fmt: skip
    assert code == 2 and "belongs to process registratie-justitiele-gegevens" in err
    code, _, err = run(
        procedures_app,
        "add",
        "--process", "voorlopige-hechtenis",
        "--replaces", "x",
        "--from", "21-07-2025",
        "--route", "9",
        "--store", store,
    )  # fmt: skip
    assert code == 2 and "--route" in err and "there is no emergency route 9" in err
    _, out, _ = run(procedures_app, "list", "--active", "--store", store)
    assert "raadkamerbeslissingen per koerier" in out and "rechtspraak, dji" in out
    code, _, err = run(procedures_app, "retire", "--wave", "wave 2", "--store", store)
    assert code == 2 and "say which: give a procedure id, or --process" in err
    code, _, err = run(
        procedures_app, "retire", "1", "--process", "x", "--wave", "wave 2", "--store", store
    )
    assert code == 2 and "not both" in err
    code, out, _ = run(
        procedures_app, "retire", "--process", "voorlopige-hechtenis", "--wave", "wave 2",
        "--store", store,
    )  # fmt: skip
    assert "retired 1 interim procedures (wave 2)" in out
    code, _, err = run(procedures_app, "retire", "1", "--wave", "wave 3", "--store", store)
    assert code == 2 and "retired already" in err


def test_the_same_procedure_added_twice_is_refused_naming_the_first(store: str) -> None:
    add = (
        "add",
        "--process", "voorlopige-hechtenis",
        "--replaces", "fax naar griffie",
        "--from", "17-07-2025",
        "--informed", "om",
        "--informed", "rechtspraak",
        "--as", "anna",
        "--store", store,
    )  # fmt: skip
    code, out, err = run(procedures_app, *add)
    assert code == 0 and "interim procedure 1 for voorlopige-hechtenis" in out, err
    code, out, err = run(procedures_app, *add)
    assert code == 2 and out == ""
    assert "interim procedure 1 is already registered for voorlopige-hechtenis, from " in err
    assert "Traceback" not in err
    _, out, _ = run(procedures_app, "list", "--store", store)
    assert out.count("fax naar griffie") == 1


@pytest.mark.parametrize(
    ("app", "args", "needle"),
    [
        (manual_app, ["list", "--partner", "nobody"], "unknown partner 'nobody'"),
        (manual_app, ["unmatched", "--partner", "nobody"], "unknown partner 'nobody'"),
        (procedures_app, ["list", "--process", "nobody"], "no process 'nobody'"),
    ],
)
def test_an_unknown_partner_or_process_to_list_is_one_line_not_an_empty_table(
    store: str, app: object, args: list[str], needle: str
) -> None:
    code, out, err = run(app, *args, "--store", store)
    assert code != 0 and out == ""
    assert err.startswith("error:") and needle in err and len(err.strip().splitlines()) == 1


def test_text_that_looks_like_markup_is_listed_as_it_is(store: str) -> None:
    """A registering role typed as '[/x]' (or a partner's text) used to crash the list."""
    code, _, err = add(store, role="parket [/x] Amsterdam")
    assert code == 0, err
    code, out, err = run(manual_app, "list", "--store", store)
    assert code == 0, err
    assert "parket [/x] Amsterdam" in out


def rows(table: str) -> dict[str, str]:
    """A printed problems table as {option: the start of its problem}."""
    found: dict[str, str] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 2 and cells[0]:
            found[cells[0]] = cells[1]
    return found


def test_the_errors_name_the_options_the_user_typed(store: str) -> None:
    """`procedure add --from soon` was refused naming validFrom, an API field, and the second
    --informed as partnersInformed #1."""
    code, _, err = run(
        procedures_app,
        "add",
        "--process", "raadkamer",
        "--replaces", " ",
        "--from", "soon",
        "--informed", "nobody",
        "--informed", "om",
        "--informed", "om",
        "--route", "abc",
        "--manual-type", "nonsense",
        "--store", store,
    )  # fmt: skip
    assert code == 2 and "the interim procedure is refused; nothing was stored" in err
    for option, says in [
        ("--process", "unknown process 'raadkamer'"),
        ("--replaces", "say what replaces the digital flow"),
        ("--from", "bad date 'soon'"),
        ("--informed #1", "unknown partner 'nobody'"),
        ("--informed #3", "om is named twice"),
        ("--route", "emergency route 'abc' is not a route id"),
        ("--manual-type", "unknown type 'nonsense'"),
    ]:
        assert rows(err)[option].startswith(says), (option, err)
    for field in ("validFrom", "partnersInformed", "emergencyRoute", "manualType"):
        assert field not in err
    code, _, err = run(
        manual_app,
        "add",
        "--partner", "nobody",
        "--case", " ",
        "--type", "uitspraak-geregistreerd",
        "--when", "soon",
        "--role", " ",
        "--field", "judgmentDate=x",
        "--field", "bogus=1",
        "--store", store,
    )  # fmt: skip
    assert code == 2 and "the manual record is refused; nothing was stored" in err
    for option, says in [
        ("--partner", "unknown partner 'nobody'"),
        ("--case", "missing case number"),
        ("--role", "missing registering role"),
        ("--when", "bad date 'soon'"),
        ("--field judgmentDate", "bad date 'x'"),
        ("--field bogus", "'bogus' is not a business-key field"),
    ]:
        assert rows(err)[option].startswith(says), (option, err)
    assert "fields." not in err
    assert add(store)[0] == 0
    code, _, err = run(
        manual_app, "correct", "1", "--reason", "r", "--when", "soon", "--store", store
    )
    assert code == 2 and rows(err)["--when"].startswith("bad date 'soon'"), err
    for args, says in [
        (["list", "--status", "lost"], "error: --status: status is one of registered"),
        (["list", "--type", "vonnis"], "error: --type: unknown type 'vonnis'"),
        (["unmatched", "--partner", "x"], "error: --partner: unknown partner 'x'"),
        (["confirm", "1", "--reason", " "], "error: --reason: give a reason of 1 to 500"),
        (["withdraw", "1", "--reason", "x\x1b"], "error: --reason: a reason holds no control"),
    ]:
        code, _, err = run(manual_app, *args, "--store", store)
        assert code == 2 and err.startswith(says), (args, err)
    assert run(procedures_app, "add", "--process", "voorlopige-hechtenis", "--replaces", "x",
               "--from", "21-07-2025", "--store", store)[0] == 0  # fmt: skip
    for args, says in [
        (["list", "--process", "nope"], "error: --process: there is no process 'nope'"),
        (["retire", "1", "--wave", " "], "error: --wave: name the go-live wave"),
        (["retire", "--process", "nope", "--wave", "w"], "error: --process: unknown processes"),
    ]:
        code, _, err = run(procedures_app, *args, "--store", store)
        assert code == 2 and err.startswith(says), (args, err)


def test_a_procedure_stored_with_a_date_out_of_range_is_listed_not_a_crash(store: str) -> None:
    """Before dates were checked a year-1 procedure could be stored; listing it crashed."""
    opened = open_store(store)
    try:
        for when in (-62135600000.0, 1e13):  # 31 December of year 0, and year 318857
            opened.add_procedure(  # type: ignore[attr-defined]
                NewProcedure("voorlopige-hechtenis", "per koerier", when, ()), now=0.0, actor="x"
            )
    finally:
        opened.close()
    code, out, err = run(procedures_app, "list", "--store", store)
    assert code == 0, err
    assert out.count("(out of range:") == 2


def test_a_record_stored_with_a_date_out_of_range_is_shown_and_corrected_only_with_a_date(
    store: str,
) -> None:
    """Before dates were checked a year-0 record could be stored; correcting it without a new
    date crashed with a traceback. It is refused, naming the date, and nothing changes."""
    opened = open_store(store)
    case = "13-100001-25"
    try:
        opened.register_manual(  # type: ignore[attr-defined]
            [
                NewManualRecord(
                    "om",
                    case,
                    UITSPRAAK,
                    (("parketnummer", case), ("judgmentDate", "2025-07-18")),
                    None,
                    -62135600000.0,  # 31 December of year 0
                    "parket",
                )
            ],
            now=0.0,
            actor="x",
        )
    finally:
        opened.close()
    code, before, err = run(manual_app, "show", "1", "--store", store)
    assert code == 0 and "(out of range: -62135600000)" in before, err
    code, out, err = run(
        manual_app, "correct", "1", "--reason", "typo", "--case", "13-100002-25", "--store", store
    )
    assert code == 2 and out == "" and "Traceback" not in err
    assert "the correction is refused; nothing was changed" in err
    assert rows(err)["--when"].startswith("the record's stored date is out of range")
    assert run(manual_app, "show", "1", "--store", store)[1] == before
    code, out, err = run(
        manual_app, "correct", "1", "--reason", "typo", "--case", "13-100002-25",
        "--when", "21-07-2025", "--store", store,
    )  # fmt: skip
    assert code == 0, err
    _, out, _ = run(manual_app, "show", "1", "--store", store)
    assert "13-100002-25" in out and "21-07-2025 00:00" in out


@pytest.mark.parametrize(
    ("when", "needle"),
    [
        # 1 January 2200 in UTC: stored as a year past the check
        ("2199-12-31T23:59:59-23:59", "is 02-01-2200 in Amsterdam time, which lies after"),
        # the NUL was dropped without a word
        ("2025-08-12T10:00:00Z\x00", "a control or invisible character (U+0000)"),
        ("21-07-2025\x0b", "a control or invisible character (U+000B)"),
    ],
)
def test_a_date_past_the_bounds_or_with_a_control_character_is_refused(
    store: str, when: str, needle: str
) -> None:
    code, out, err = run(
        procedures_app,
        "add",
        "--process", "voorlopige-hechtenis",
        "--replaces", "per koerier",
        "--from", when,
        "--store", store,
    )  # fmt: skip
    assert code == 2 and out == "" and needle in err, err
    code, out, err = run(
        manual_app,
        "add",
        "--partner", "om",
        "--case", "13-100001-25",
        "--type", "uitspraak-geregistreerd",
        "--when", when,
        "--role", "parket",
        "--field", "judgmentDate=18-07-2025",
        "--store", store,
    )  # fmt: skip
    assert code == 2 and out == "" and needle in err, err
    assert "per koerier" not in run(procedures_app, "list", "--store", store)[1]
    assert "13-100001-25" not in run(manual_app, "list", "--store", store)[1]


def test_a_role_or_reason_with_a_control_character_is_refused(store: str) -> None:
    """An escape sequence in a registering role was stored, and shown to the next terminal."""
    code, _, err = add(store, role="gri\x1b[31mffie")
    assert code == 2 and "registering role holds a control or invisible character (U+001B)" in err
    _, out, _ = run(manual_app, "list", "--store", store)
    assert "13-100001-25" not in out
    assert add(store)[0] == 0
    code, _, err = run(manual_app, "withdraw", "1", "--reason", "typo\x00", "--store", store)
    assert code == 2 and "control or invisible characters (U+0000)" in err


def test_bad_input_exits_2_and_what_does_not_exist_1_as_in_every_command_group(
    store: str, tmp_path: Path, mapping: Path
) -> None:
    """The manual and procedure commands exited 1 on bad input, where the other commands
    (`cli_common.fail`) exit 2 and keep 1 for what does not exist."""
    assert add(store)[0] == 0
    assert run(procedures_app, "add", "--process", "voorlopige-hechtenis", "--replaces", "x",
               "--from", "21-07-2025", "--store", store)[0] == 0  # fmt: skip
    file = tmp_path / "griffie.csv"
    file.write_bytes(csv_bytes(row("13-100002-25", when="x")))
    for app, args in [
        (manual_app, ["add", "--partner", "om", "--case", "13-100003-25", "--type", "vonnis",
                      "--when", "21-07-2025", "--role", "parket"]),
        (manual_app, ["import", str(file), "--mapping", str(mapping)]),
        (manual_app, ["list", "--status", "lost"]),
        (manual_app, ["confirm", "1", "--reason", " "]),
        (manual_app, ["correct", "1", "--reason", "r", "--when", "soon"]),
        (manual_app, ["unmatched", "--type", "vonnis"]),
        (procedures_app, ["add", "--process", "x", "--replaces", "x", "--from", "21-07-2025"]),
        (procedures_app, ["list", "--process", "x"]),
        (procedures_app, ["retire", "1", "--wave", " "]),
        (procedures_app, ["retire", "--process", "x", "--wave", "w"]),
    ]:  # fmt: skip
        code, out, err = run(app, *args, "--store", store)
        assert (code, out) == (2, ""), (args, code, err)
        assert err.startswith("error:") or err.startswith("problems"), (args, err)
    for app, args, says in [
        (manual_app, ["show", "9"], "no manual record 9"),
        (manual_app, ["confirm", "9", "--reason", "r"], "no manual record 9"),
        (manual_app, ["correct", "9", "--reason", "r", "--case", "13-1"], "no manual record 9"),
        (procedures_app, ["retire", "9", "--wave", "w"], "9"),
    ]:
        code, out, err = run(app, *args, "--store", store)
        assert (code, out) == (1, "") and says in err, (args, code, err)
    _, listed, _ = run(manual_app, "list", "--store", store)
    assert "13-100001-25" in listed and "13-100002-25" not in listed
    assert "registered" in listed and "confirmed" not in listed


def test_a_refusal_quoting_text_that_looks_like_markup_is_shown_as_it_is(
    store: str, tmp_path: Path
) -> None:
    """`manual add --partner '[/x]'` crashed with a MarkupError while printing the problems
    table, and so did a mapping naming a header '[/x]'."""
    code, out, err = run(
        manual_app,
        "add",
        "--partner", "[/x]",
        "--case", "13-100001-25",
        "--type", "[bold]vonnis",
        "--when", "21-07-2025",
        "--role", "parket",
        "--store", store,
    )  # fmt: skip
    assert (code, out) == (2, ""), err
    assert rows(err)["--partner"].startswith("unknown partner '[/x]'")
    assert rows(err)["--type"].startswith("unknown type '[bold]vonnis'")
    file = tmp_path / "export.csv"
    file.write_bytes(csv_bytes(row()))
    doc = {**MAPPING, "columns": {**MAPPING["columns"], "case": "[/x]", "role": "[red]x"}}
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(doc), encoding="utf-8")
    code, out, err = run(
        manual_app, "import", str(file), "--mapping", str(mapping), "--store", store
    )
    assert (code, out) == (2, ""), err
    assert "'[/x]' is not in the header" in err and "'[red]x' is not in the header" in err


def test_a_procedure_whose_text_holds_an_escape_sequence_is_refused(store: str) -> None:
    """`procedure add --replaces` kept an escape sequence, which `procedure list` then sent to
    the terminal."""
    code, out, err = run(
        procedures_app,
        "add",
        "--process", "voorlopige-hechtenis",
        "--replaces", "per koerier\x1b[2J",
        "--from", "21-07-2025",
        "--store", store,
    )  # fmt: skip
    assert (code, out) == (2, ""), err
    assert rows(err)["--replaces"].startswith("holds a control or invisible character (U+001B)")
    assert "per koerier" not in run(procedures_app, "list", "--store", store)[1]


def test_a_field_given_twice_is_refused_naming_it(store: str) -> None:
    """`--field judgmentDate=… --field judgmentDate=…` kept the last value without a word."""
    code, out, err = run(
        manual_app,
        "add",
        "--partner", "om",
        "--case", "13-100001-25",
        "--type", "uitspraak-geregistreerd",
        "--when", "21-07-2025",
        "--role", "parket",
        "--field", "judgmentDate=18-07-2025",
        "--field", " judgmentDate = 19-07-2025",
        "--store", store,
    )  # fmt: skip
    assert (code, out) == (2, ""), err
    assert err.startswith("error: --field judgmentDate: given twice ('18-07-2025' and '19-07")
    assert "13-100001-25" not in run(manual_app, "list", "--store", store)[1]
    assert add(store)[0] == 0
    _, before, _ = run(manual_app, "show", "1", "--store", store)
    code, out, err = run(
        manual_app, "correct", "1", "--reason", "typo",
        "--field", "judgmentDate=19-07-2025", "--field", "judgmentDate=20-07-2025",
        "--store", store,
    )  # fmt: skip
    assert (code, out) == (2, "") and "--field judgmentDate: given twice" in err, err
    assert run(manual_app, "show", "1", "--store", store)[1] == before


def test_a_judgment_date_after_today_is_refused_naming_the_field(store: str) -> None:
    """`manual add --when 18-07-2025 --field judgmentDate=31-12-2199` was stored, and so was
    `manual correct 1 --field judgmentDate=2199-12-31`, while --when refuses the future."""
    code, out, err = run(
        manual_app,
        "add",
        "--partner", "om",
        "--case", "13-100001-25",
        "--type", "uitspraak-geregistreerd",
        "--when", "18-07-2025",
        "--role", "parket",
        "--field", "judgmentDate=31-12-2199",
        "--store", store,
    )  # fmt: skip
    assert (code, out) == (2, ""), err
    assert rows(err)["--field judgmentDate"].startswith("judgmentDate 31-12-2199 is in the future")
    assert "13-100001-25" not in run(manual_app, "list", "--store", store)[1]
    assert add(store)[0] == 0
    _, before, _ = run(manual_app, "show", "1", "--store", store)
    code, out, err = run(
        manual_app, "correct", "1", "--reason", "typo", "--field", "judgmentDate=2199-12-31",
        "--store", store,
    )  # fmt: skip
    assert (code, out) == (2, ""), err
    assert rows(err)["--field judgmentDate"].startswith("judgmentDate 31-12-2199 is in the future")
    assert run(manual_app, "show", "1", "--store", store)[1] == before


def test_a_correction_is_printed_as_people_read_it(store: str) -> None:
    """`manual correct` printed a Python tuple: "fields (('parketnummer', …), ('judgmentDate',
    '2025-07-18')) → (…)", and a new date as seconds since 1970."""
    assert add(store)[0] == 0
    code, out, err = run(
        manual_app, "correct", "1", "--reason", "typo", "--field", "judgmentDate=19-07-2025",
        "--when", "22-07-2025 09:00", "--store", store,
    )  # fmt: skip
    assert code == 0, err
    assert out == (
        "manual record 1: corrected; judgmentDate 2025-07-18 → 2025-07-19; "
        "when 21-07-2025 14:30 → 22-07-2025 09:00; no matching message\n"
    )
    _, shown, _ = run(manual_app, "show", "1", "--store", store)
    assert "judgmentDate 2025-07-18 → 2025-07-19" in shown and "((" not in shown


@pytest.mark.parametrize("wave", ["w\x1b[31mred", "wave\u202e2", "wave\t2"])
def test_a_wave_name_with_a_control_character_is_refused_and_retires_nothing(
    store: str, wave: str
) -> None:
    """`procedure retire --wave` kept an escape sequence as what retired the procedure, which
    `procedure list` then sent to the terminal."""
    assert run(procedures_app, "add", "--process", "voorlopige-hechtenis", "--replaces", "x",
               "--from", "21-07-2025", "--store", store)[0] == 0  # fmt: skip
    _, before, _ = run(procedures_app, "list", "--store", store)
    for args in (["1"], ["--process", "voorlopige-hechtenis"]):
        code, out, err = run(procedures_app, "retire", *args, "--wave", wave, "--store", store)
        assert (code, out) == (2, ""), err
        assert err.startswith("error: --wave: a wave name holds no control or invisible"), err
    assert run(procedures_app, "list", "--store", store)[1] == before
