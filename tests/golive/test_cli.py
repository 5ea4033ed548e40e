"""``ketenherstel plan …`` through Typer's runner: the happy paths, and bad input that exits
non-zero with a message naming the problem."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketenherstel.golive import builtin_plan_path
from ketenherstel.golive.cli import app
from tests.golive.support import ARREST, CUSTODY, DISPOSAL_REG

runner = CliRunner()
START = "2025-08-18T00:00:00+02:00"


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.stdout, result.stderr


def csv_file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


@pytest.fixture
def backlog(tmp_path: Path) -> str:
    return csv_file(
        tmp_path,
        "backlog.csv",
        f"""\
        receiver,sender,type,count,oldest
        justid,om,{DISPOSAL_REG},4000,2025-07-17T21:00:00+02:00
        om,politie,{ARREST},600,2025-08-17T00:00:00+02:00
        om,politie,{CUSTODY},1800,2025-07-17T21:00:00+02:00
        """,
    )


@pytest.fixture
def inflow(tmp_path: Path) -> str:
    return csv_file(
        tmp_path,
        "inflow.csv",
        f"""\
        receiver,sender,type,per_day
        justid,om,{DISPOSAL_REG},590
        om,politie,{CUSTODY},180
        """,
    )


def test_every_command_has_help() -> None:
    for command in ([], ["validate"], ["show"], ["priorities"], ["forecast"]):
        code, stdout, _ = run(*command, "--help")
        assert code == 0, command
        assert "Usage" in stdout


def test_validate_accepts_the_built_in_plan_by_name_or_path() -> None:
    for spec in ("om-2025", str(builtin_plan_path())):
        code, stdout, _ = run("validate", spec)
        assert code == 0
        assert "Plan om-2025: 4 waves; isolates om from 17-07-2025 21:00" in stdout
        assert "om->justid [process:registratie-justitiele-gegevens]" in stdout
        assert "ok, 1 agreed priorities" in stdout


def test_validate_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    plan = tmp_path / "bad.yaml"
    plan.write_text(
        "name: bad\nwaves:\n  - name: w\n    at: 2025-08-18T08:00:00+02:00\n    open:\n"
        "      - receiver: justd\n        sender: om\n        rate: 0\n",
        encoding="utf-8",
    )
    code, stdout, stderr = run("validate", str(plan))
    assert code == 1
    assert (
        "bad.yaml:6:19 waves[0].open[0].receiver: wave 'w' channel om->justd: unknown partner "
        "'justd'; did you mean 'justid'?" in stdout
    )
    assert "bad.yaml:8:15 waves[0].open[0].rate: wave 'w' channel om->justd: a rate must be" in (
        stdout
    )
    assert "2 problems in" in stderr


def test_validate_names_a_missing_file_and_the_built_in_plans() -> None:
    code, _, stderr = run("validate", "om-2024")
    assert code == 2
    assert "no such plan file: om-2024 (the built-in plans are: om-2025)" in stderr


def test_show_renders_the_plan_and_as_json() -> None:
    code, stdout, _ = run("show", "om-2025")
    assert code == 0
    assert "Agreed priorities" in stdout and "ministerie JenV" in stdout
    assert "wave-3" in stdout
    code, stdout, _ = run("show", "om-2025", "--json")
    assert code == 0
    assert json.loads(stdout)["waves"][3]["online"] == ["om"]


def test_priorities_rank_with_and_without_a_plan() -> None:
    code, stdout, _ = run("priorities")
    assert code == 0
    assert "no plan" in stdout
    first = next(line for line in stdout.splitlines() if "│ 1 " in line)
    assert "aanhouding" in first and "deadline 9 hours (art. 56a Sv)" in first
    code, stdout, _ = run("priorities", "om-2025")
    first = next(line for line in stdout.splitlines() if "│ 1 " in line)
    assert "registratie-justitiele-gegevens" in first and "agreed 12-08-2025" in first


def test_forecast_prints_a_table_and_writes_json_and_a_chart(
    tmp_path: Path, backlog: str, inflow: str
) -> None:
    out_json, out_svg = tmp_path / "f.json", tmp_path / "f.svg"
    code, stdout, stderr = run(
        "forecast", "om-2025", "--backlog", backlog, "--inflow", inflow, "--start", START,
        "--default-rate", "justid=2000/h", "--json", str(out_json), "--chart", str(out_svg),
    )  # fmt: skip
    assert code == 0, stderr
    assert "Forecast of om-2025" in stdout
    assert "politie->om" in stdout and "inverzekeringstelling-gemeld" in stdout
    data = json.loads(out_json.read_text(encoding="utf-8"))
    assert {c["channel"] for c in data["channels"]} == {"om->justid", "politie->om"}
    assert ET.parse(out_svg).getroot().tag.endswith("svg")
    unlimited = {c["channel"]: c["unlimited"] for c in data["channels"]}
    assert unlimited["om->justid"] is False  # its default rate limits it
    assert ("not limited: politie->om" in stdout) is unlimited["politie->om"]


def test_forecast_says_which_channels_it_knew_no_limit_for(tmp_path: Path, backlog: str) -> None:
    """Without a rate, a backlog of any size drained in one step, and nothing said so."""
    out_json = tmp_path / "f.json"
    code, stdout, stderr = run(
        "forecast", "om-2025", "--backlog", backlog, "--start", START, "--json", str(out_json),
    )  # fmt: skip
    assert code == 0, stderr
    data = json.loads(out_json.read_text(encoding="utf-8"))
    free = sorted(c["channel"] for c in data["channels"] if c["unlimited"])
    assert "om->justid" in free
    assert f"not limited: {', '.join(free)} drained at once" in " ".join(stdout.split())


def test_forecast_reads_a_spreadsheets_csv_utf8_with_semicolons(
    tmp_path: Path, backlog: str
) -> None:
    """Excel's "CSV UTF-8" starts with a byte order mark and a Dutch Excel separates with
    semicolons: both were refused ('unknown \\ufeffreceiver', 'unknown receiver;sender;…')."""
    text = Path(backlog).read_text(encoding="utf-8")
    excel = tmp_path / "excel.csv"
    excel.write_bytes("\ufeff".encode() + text.replace(",", ";").encode())
    base, dutch = tmp_path / "base.json", tmp_path / "dutch.json"
    for path, out in ((backlog, base), (str(excel), dutch)):
        code, _, stderr = run(
            "forecast", "om-2025", "--backlog", path, "--start", START, "--json", str(out)
        )
        assert code == 0, stderr
    assert json.loads(base.read_text())["channels"] == json.loads(dutch.read_text())["channels"]


def test_forecast_refuses_an_output_it_cannot_write_before_it_runs(
    tmp_path: Path, backlog: str
) -> None:
    for option, path, why in (
        ("--json", tmp_path / "no" / "f.json", "its folder does not exist"),
        ("--chart", tmp_path, "is a directory"),
    ):
        code, stdout, stderr = run(
            "forecast", "om-2025", "--backlog", backlog, "--start", START, option, str(path)
        )
        assert code == 2 and f"{option} {path}: {why}" in stderr
        assert "Forecast of" not in stdout  # refused before it ran


def test_forecast_compares_with_actual_figures(tmp_path: Path, backlog: str) -> None:
    actual = csv_file(
        tmp_path,
        "actual.csv",
        "day,sender,receiver,backlog\n2025-08-20,om,justid,10\n2025-08-21,om,justid,0\n",
    )
    code, stdout, stderr = run(
        "forecast", "om-2025", "--backlog", backlog, "--start", START, "--actual", actual,
        "--default-rate", "justid=1000/h",
    )  # fmt: skip
    assert code == 0, stderr
    assert "Forecast vs actual" in stdout
    versus = stdout[stdout.index("Forecast vs actual") :]
    row = next(line for line in versus.splitlines() if "om->justid" in line)
    assert "18-08-2025" in row and "21-08-2025" in row and "+3" in row


def test_forecast_names_the_file_row_and_column_of_bad_csv(tmp_path: Path) -> None:
    bad = csv_file(
        tmp_path,
        "backlog.csv",
        f"""\
        receiver,sender,type,count,oldest
        justid,om,{DISPOSAL_REG},many,2025-07-17T21:00:00+02:00
        justid,om,nl.strafrechtketen.registratie.om-afdoening.v1,1,2025-07-17T21:00:00
        """,
    )
    code, stdout, stderr = run("forecast", "om-2025", "--backlog", bad, "--start", START)
    assert code == 1
    assert "backlog.csv row 2 column 'count': 'many' is not a whole number" in stdout
    assert "backlog.csv row 3 column 'type': unknown message type" in stdout
    assert "did you mean 'nl.strafrechtketen.registratie.om-afdoening-geregistreerd.v1'" in stdout
    assert "backlog.csv row 3 column 'oldest'" in stdout and "has no UTC offset" in stdout
    assert "3 problems in the forecast input" in stderr


def test_forecast_refuses_a_flow_given_twice_in_a_csv(tmp_path: Path) -> None:
    """Two backlog rows of one flow were added up, whatever their oldest (a review)."""
    twice = csv_file(
        tmp_path,
        "backlog.csv",
        f"""\
        receiver,sender,type,count,oldest
        justid,om,{DISPOSAL_REG},5,2025-07-17T21:00:00+02:00
        om,politie,{CUSTODY},1800,2025-07-17T21:00:00+02:00
        justid,om,{DISPOSAL_REG},7,2025-07-10T21:00:00+02:00
        """,
    )
    code, stdout, _ = run("forecast", "om-2025", "--backlog", twice, "--start", START)
    assert code == 1
    assert "backlog.csv row 4: has the same receiver, sender, type as row 2: give each once" in (
        " ".join(stdout.split())
    )
    inflow = csv_file(
        tmp_path,
        "inflow.csv",
        f"""\
        receiver,sender,type,per_day
        om,politie,{CUSTODY},180
        om,politie,{CUSTODY},18
        """,
    )
    good = csv_file(tmp_path, "good.csv", "receiver,sender,type,count,oldest\n")
    code, stdout, _ = run(
        "forecast", "om-2025", "--backlog", good, "--inflow", inflow, "--start", START
    )
    assert code == 1 and "inflow.csv row 3: has the same receiver, sender, type as row 2" in (
        " ".join(stdout.split())
    )


@pytest.mark.parametrize("output", ["table", "--json", "--chart"])
@pytest.mark.parametrize(
    ("name", "header", "cells", "says"),
    [
        # 'inf' in the table; OverflowError writing --json and --chart
        (
            "inflow.csv",
            "receiver,sender,type,per_day",
            f"justid,om,{DISPOSAL_REG},1e308",
            "inflow.csv row 2 column 'per_day': '1e308' is more than a forecast takes: at most "
            "1,000,000,000 messages",
        ),
        (
            "inflow.csv",
            "receiver,sender,type,per_day",
            f"justid,om,{DISPOSAL_REG},1e400",
            "inflow.csv row 2 column 'per_day': '1e400' is more than a forecast takes",
        ),
        (
            "inflow.csv",
            "receiver,sender,type,per_day",
            f"justid,om,{DISPOSAL_REG},NaN",
            "inflow.csv row 2 column 'per_day': 'NaN' is not a number of messages a day",
        ),
        (
            "inflow.csv",
            "receiver,sender,type,per_day",
            f"justid,om,{DISPOSAL_REG},Infinity",
            "inflow.csv row 2 column 'per_day': 'Infinity' is not a number of messages a day",
        ),
        # OverflowError: int too large to convert to float (a traceback)
        (
            "backlog.csv",
            "receiver,sender,type,count,oldest",
            f"justid,om,{DISPOSAL_REG},{'9' * 400},2025-07-17T21:00:00+02:00",
            "backlog.csv row 2 column 'count': '99999999999999999999'… (400 characters) is more "
            "than a forecast takes: at most 1,000,000,000 messages",
        ),
        # more digits than int() reads: it was 'is not a whole number'
        (
            "backlog.csv",
            "receiver,sender,type,count,oldest",
            f"justid,om,{DISPOSAL_REG},{'9' * 5000},2025-07-17T21:00:00+02:00",
            "backlog.csv row 2 column 'count': '99999999999999999999'… (5,000 characters) is more "
            "than a forecast takes",
        ),
        (
            "backlog.csv",
            "receiver,sender,type,count,oldest",
            f"justid,om,{DISPOSAL_REG},1000000001,2025-07-17T21:00:00+02:00",
            "backlog.csv row 2 column 'count': '1000000001' is more than a forecast takes",
        ),
        (
            "actual.csv",
            "day,sender,receiver,backlog",
            "2025-08-20,om,justid,1e308",
            "actual.csv row 2 column 'backlog': '1e308' is more than a forecast takes",
        ),
    ],
)
def test_forecast_refuses_figures_too_big_for_it_before_any_output(
    tmp_path: Path, backlog: str, output: str, name: str, header: str, cells: str, says: str
) -> None:
    bad = csv_file(tmp_path, name, f"{header}\n{cells}\n")
    option = {"inflow.csv": "--inflow", "backlog.csv": "--backlog", "actual.csv": "--actual"}
    files = {"--backlog": backlog, option[name]: bad}
    written = tmp_path / "out"
    outputs = [] if output == "table" else [output, str(written)]
    result = runner.invoke(
        app,
        ["forecast", "om-2025", "--start", START, "--default-rate", "justid=2000/h"]
        + [item for pair in files.items() for item in pair]
        + outputs,
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert says in " ".join(result.stdout.split())
    assert "1 problem in the forecast input" in result.stderr
    assert "Forecast of" not in result.stdout and not written.exists()


@pytest.mark.parametrize("option", ["--backlog", "--inflow", "--actual"])
@pytest.mark.parametrize(
    ("encoding", "says"),
    [
        # "'utf-8' codec can't decode byte 0xe9 in position 77: invalid continuation byte"
        (
            "cp1252",
            "not UTF-8 text: byte 0xe9 at line 2, column {column} (byte {byte} of the file)",
        ),
        ("utf-16", "not UTF-8 text: the file is UTF-16 (it starts with UTF-16's byte order mark)"),
        ("utf-16-le", "not UTF-8 text: a NUL byte at line 1, column 2 (byte 1 of the file)"),
    ],
)
def test_forecast_says_a_csv_that_is_not_utf8_is_not_naming_file_and_line(
    tmp_path: Path, backlog: str, inflow: str, option: str, encoding: str, says: str
) -> None:
    given = {
        "--backlog": Path(backlog).read_text(encoding="utf-8"),
        "--inflow": Path(inflow).read_text(encoding="utf-8"),
        "--actual": "day,sender,receiver,backlog\n2025-08-20,om,justid,10\n",
    }
    lines = given[option].splitlines(keepends=True)
    lines[1] = lines[1].replace("om", "Ré", 1)  # a letter that is two bytes in UTF-8
    bad = tmp_path / f"bad{option}.csv"
    bad.write_bytes("".join(lines).encode(encoding))
    files = {"--backlog": backlog, option: str(bad)}
    code, stdout, stderr = run(
        "forecast", "om-2025", "--start", START,
        *(item for pair in files.items() for item in pair),
    )  # fmt: skip
    column = lines[1].index("é") + 1
    byte = len(lines[0].encode()) + len(lines[1][: column - 1].encode())
    assert code == 1, stderr
    assert f"{bad.name}: " + says.format(column=column, byte=byte) in " ".join(stdout.split())
    assert "save it as UTF-8 (a spreadsheet's 'CSV UTF-8')" in " ".join(stdout.split())


def test_forecast_refuses_year_1_in_the_csv_files(tmp_path: Path, backlog: str) -> None:
    bad = csv_file(
        tmp_path,
        "bad.csv",
        f"receiver,sender,type,count,oldest\njustid,om,{DISPOSAL_REG},1,0001-01-01T00:00+00:00\n",
    )
    code, stdout, _ = run("forecast", "om-2025", "--backlog", bad, "--start", START)
    assert code == 1
    assert "bad.csv row 2 column 'oldest': 0001-01-01T00:00:00+00:00 lies before" in stdout
    actual = csv_file(
        tmp_path, "actual.csv", "day,sender,receiver,backlog\n0001-01-01,om,justid,5\n"
    )
    code, stdout, _ = run(
        "forecast", "om-2025", "--backlog", backlog, "--actual", actual, "--start", START
    )
    assert code == 1
    assert "actual.csv row 2 column 'day': 0001-01-01 lies before" in stdout


def test_forecast_refuses_a_csv_with_the_wrong_columns(tmp_path: Path, backlog: str) -> None:
    inflow = csv_file(tmp_path, "inflow.csv", "receiver,sender,kind,per_day\n")
    code, stdout, _ = run(
        "forecast", "om-2025", "--backlog", backlog, "--inflow", inflow, "--start", START
    )
    assert code == 1
    assert "inflow.csv row 1: the header has missing type; unknown kind" in stdout


def test_forecast_refuses_a_sender_that_does_not_send_the_type(tmp_path: Path) -> None:
    bad = csv_file(
        tmp_path, "inflow.csv", f"receiver,sender,type,per_day\njustid,cjib,{DISPOSAL_REG},5\n"
    )
    backlog = csv_file(tmp_path, "b.csv", "receiver,sender,type,count,oldest\n")
    code, stdout, _ = run(
        "forecast", "om-2025", "--backlog", backlog, "--inflow", bad, "--start", START
    )
    assert code == 1
    assert "inflow.csv row 2 column 'sender': 'cjib' does not send" in stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "18 August"], "--start '18 August' is not an ISO 8601 date-time"),
        (["--start", "2025-08-18T00:00:00"], "has no UTC offset"),
        # a plain date: the suggestion must be one that is taken (2025-08-18+02:00 was not)
        (["--start", "2025-08-18"], "has no UTC offset; write e.g. 2025-08-18T00:00+02:00"),
        (["--start", START, "--default-rate", "justid"], "write RECEIVER=RATE"),
        (["--start", START, "--default-rate", "justid=0/h"], "a rate must be more than 0"),
        (["--start", START, "--default-rate", "justid=0.5/d"], "at least one message a day"),
        (["--start", START, "--inflow", "missing.csv"], "no such file: missing.csv"),
        # OverflowError: Python int too large to convert to C int (a traceback)
        (["--start", START, "--step-minutes", "9" * 16], "'--step-minutes'"),
        (["--start", START, "--step-minutes", "1441"], "less than or equal to 1440"),
        (["--start", "0001-01-01T00:00:00+00:00"], "--start 0001-01-01T00:00:00+00:00 lies before"),
        (["--start", START, "--until", "0001-01-01T00:00+00:00"], "--until 0001-01-01T00:00:00"),
        (["--start", START, "--until", "9999-01-01T00:00+00:00"], "lies after the dates"),
        # 1 January 2200 in UTC: the date as written passed
        (
            ["--start", START, "--until", "2199-12-31T23:59:59-23:59"],
            "--until 2199-12-31T23:59:59-23:59 is 2200-01-02 in Amsterdam time, which lies after",
        ),
    ],
)
def test_forecast_refuses_bad_options(backlog: str, args: list[str], message: str) -> None:
    code, _, stderr = run("forecast", "om-2025", "--backlog", backlog, *args)
    assert code == 2
    assert message in stderr


def test_forecast_refuses_an_invalid_plan_before_reading_anything(
    tmp_path: Path, backlog: str
) -> None:
    plan = tmp_path / "p.yaml"
    plan.write_text("name: p\nwaves: []\n", encoding="utf-8")
    code, stdout, _ = run("forecast", str(plan), "--backlog", backlog, "--start", START)
    assert code == 1
    assert "expected a list of at least one wave" in stdout


@pytest.mark.parametrize("spec", ["", " "])
def test_an_empty_plan_path_is_named_as_empty_not_as_a_directory(spec: str) -> None:
    code, _, err = run("validate", spec)
    assert code == 2 and "the plan path is empty" in err and "directory" not in err, err


def test_the_suggested_start_is_taken(backlog: str) -> None:
    code, _, stderr = run("forecast", "om-2025", "--backlog", backlog, "--start", "2025-08-18")
    suggested = stderr.split("write e.g. ")[1].split()[0]
    code, _, stderr = run("forecast", "om-2025", "--backlog", backlog, "--start", suggested)
    assert code == 0, stderr
