"""`ketenherstel picture …` and `ketenherstel briefing …` through Typer's runner on a small
om-2025 run: the series and the matrix, a hand-set status, a briefing made, refused for its
author, approved by another and exported; bad input refused with exit code 2, nothing saved."""

from __future__ import annotations

import dataclasses
import re
import socket
from pathlib import Path

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from ketenherstel.cli import app
from ketenherstel.picture.db import open_picture_db
from ketenherstel.settings import Settings

runner = CliRunner()


def run(picture: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(
        app, list(args), env={"COLUMNS": "200", "KETENHERSTEL_PICTURE_DB": picture}
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def setup(small_scenario: Settings, tmp_path: Path) -> tuple[str, str]:
    picture = str(tmp_path / "picture.sqlite")
    return small_scenario.store_url, dataclasses.replace(
        small_scenario, picture_db=picture
    ).picture_location()


def test_series_and_matrix(setup: tuple[str, str]) -> None:
    store, picture = setup
    code, out, _ = run(
        picture, "picture", "show", "--kind", "channel", "--key", "om->justid", "--store", store
    )
    assert code == 0 and "backlog" in out and "now: backlog" in out
    code, _, err = run(picture, "picture", "show", "--kind", "nonsense", "--store", store)
    assert code == 2 and "--kind must be one of" in err
    code, _, err = run(
        picture, "picture", "show", "--kind", "channel", "--key", "om->om", "--store", store
    )
    assert code == 1 and "nothing is measured" in err  # partners there are: nothing there
    code, _, err = run(picture, "picture", "show", "--key", "om", "--store", store)
    assert code == 2 and "--key 'om' goes with a --kind" in err  # was ignored: the whole chain
    code, _, err = run(picture, "picture", "show", "--kind", "channel", "--store", store)
    assert code == 2 and "--kind channel needs --key" in err
    code, out, _ = run(picture, "picture", "show", "--days", "400", "--store", store)
    cells = [
        cell.strip()
        for line in out.splitlines()
        if line.strip("│ ")[:2] == "20"
        for cell in line.split("│")[2:-1]
    ]
    # English figures, as the footer's: a decimal point (lead times), never a decimal comma
    assert any(re.fullmatch(r"\d[\d,]*\.\d", c) for c in cells), cells[:20]
    assert not any(re.fullmatch(r"\d[\d.]*,\d", c) for c in cells)
    code, out, _ = run(picture, "picture", "matrix", "--store", store)
    assert code == 0 and "Recovery matrix" in out


def test_show_refuses_a_partner_or_process_there_is_not(setup: tuple[str, str]) -> None:
    """`picture show --kind partner --key OM` exited 1 (nothing measured) where `picture status
    OM …` exits 2 for the same unknown partner: a key naming a partner or process the chain
    does not know is typed wrong, exit code 2; one it knows with nothing measured stays 1."""
    store, picture = setup
    for kind, key, said in [
        ("partner", "OM", "--key: unknown partner 'OM'; one of politie, kmar, om,"),
        ("sender", "nobody", "--key: unknown partner 'nobody'"),
        ("channel", "x->y", "--key: unknown partner 'x'"),
        ("channel", "om->nobody", "--key: unknown partner 'nobody'"),
        ("channel", "om", "--key: channel 'om': write sender->receiver"),
        ("process", "nope", "--key: unknown process 'nope'; one of aanhouding,"),
    ]:
        code, out, err = run(
            picture, "picture", "show", "--kind", kind, "--key", key, "--store", store
        )
        assert code == 2 and " ".join(err.split()).startswith(f"error: {said}"), (key, err)
        assert not out
    code, _, err = run(
        picture, "picture", "status", "OM", "email", "down", "--reason", "x", "--as", "T",
        "--store", store,
    )  # fmt: skip
    assert code == 2 and "unknown value 'OM'" in err  # as status refuses it
    code, out, _ = run(
        picture, "picture", "show", "--kind", "process", "--key", "dagvaarding", "--store", store
    )
    assert code == 0 and "now: backlog" in out


def test_the_reasons_help_says_where_it_is_shown() -> None:
    """--reason's help said 'shown on the status page', but the public status page shows the
    state alone (a reason may hold what is not for the public): it is on the herstelmatrix,
    for signed-in users. The README's row says the same."""
    result = runner.invoke(app, ["picture", "status", "--help"], env={"COLUMNS": "200"})
    text = " ".join(result.stdout.replace("│", " ").split())
    assert result.exit_code == 0 and "shown on the status page" not in text
    assert "shown to signed-in users on the herstelmatrix" in text
    assert "never on the public status page" in text
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    [row] = [x for x in readme.splitlines() if x.startswith("| `ketenherstel picture status ")]
    assert "the reason only to signed-in users" in row and "never on the public status" in row


@pytest.mark.parametrize(
    ("reason", "named"),
    [
        ("links\u202erechts", "U+202E"),  # a right-to-left override: it passed
        ("del\x7f", "U+007F"),  # it passed
        ("\x1b[2Jwist", "U+001B"),
        ("\udcff kapot", "U+DCFF"),  # a byte not UTF-8 in argv (surrogateescape): it crashed
    ],
)
def test_status_refuses_a_reason_with_control_or_invisible_characters(
    setup: tuple[str, str], reason: str, named: str
) -> None:
    store, picture = setup
    args = ["status", "om", "email", "down", "--reason", reason, "--as", "Tester"]
    code, _, err = run(picture, "picture", *args, "--store", store)
    assert code == 2, (code, err)
    assert f"--reason: holds no control or invisible characters ({named})" in err
    db = open_picture_db(picture)
    assert db.statuses() == []
    db.close()


def test_status_by_hand(setup: tuple[str, str]) -> None:
    store, picture = setup
    code, _, err = run(
        picture,
        "picture",
        "status",
        "om",
        "fax",
        "down",
        "--reason",
        "",
        "--as",
        "Tester",
        "--store",
        store,
    )
    assert code == 2 and "channel:" in err and "--reason:" in err
    for who, says in [
        ("", "--as: give your name"),
        ("   ", "--as: give your name"),
        ("Tes\nter", "--as: a person's name"),
        ("Tes\x1b[2Jter", "--as: a person's name"),
        ("T" * 5000, "--as: a person's name"),
    ]:
        args = ["status", "om", "email", "down", "--reason", "x", "--as", who]
        code, _, err = run(picture, "picture", *args, "--store", store)
        assert code == 2 and says in err, (code, err)
    db = open_picture_db(picture)
    assert db.statuses() == []
    code, out, _ = run(
        picture,
        "picture",
        "status",
        "om",
        "email",
        "down",
        "--reason",
        "e-mail gaat verloren",
        "--as",
        "Tester",
        "--store",
        store,
    )
    assert code == 0 and "om email: down" in out and "unchanged" not in out
    assert [(s.partner, s.channel, s.state) for s in db.statuses()] == [("om", "email", "down")]
    code, out, _ = run(
        picture,
        "picture",
        "status",
        "om",
        "email",
        "down",
        "--reason",
        "nog steeds",
        "--as",
        "Tester",
        "--store",
        store,
    )
    assert code == 0 and "om email: down (unchanged: the reason is recorded" in out
    assert len(db.statuses()) == 2  # both kept in the register
    # Typed with spaces, as the service reads it: still the same status, and so noted.
    code, out, _ = run(
        picture,
        "picture",
        "status",
        " om ",
        "email ",
        " down",
        "--reason",
        "nog altijd",
        "--as",
        "Tester",
        "--store",
        store,
    )
    assert code == 0 and "om email: down (unchanged: the reason is recorded" in out
    assert len(db.statuses()) == 3
    db.close()


def test_briefing_made_approved_by_another_and_exported(
    setup: tuple[str, str], tmp_path: Path
) -> None:
    store, picture = setup
    code, _, err = run(
        picture, "briefing", "make", "--date", "2030-01-01", "--as", "A", "--store", store
    )
    assert code == 2 and "--date:" in err
    code, _, err = run(
        picture, "briefing", "make", "--date", "gisteren", "--as", "A", "--store", store
    )
    assert code == 2
    # An --out that can take no files is refused before a briefing is made: it was made (and
    # kept), and the write then failed with a traceback.
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for where, says in [
        ("/proc/x", "cannot write there"),
        (str(a_file / "x"), "is not a directory"),
        (str(a_file), "is not a directory"),
    ]:
        args = ["--date", "2025-08-20", "--as", "A", "--out", where, "--store", store]
        code, _, err = run(picture, "briefing", "make", *args)
        assert code == 2 and f"--out {where}: " in err and says in err, err
    assert open_picture_db(picture).briefings() == []
    assert not Path("/proc/x").exists()
    out_dir = tmp_path / "out"
    code, out, _ = run(
        picture,
        "briefing",
        "make",
        "--date",
        "2025-08-20",
        "--as",
        "Author",
        "--out",
        str(out_dir),
        "--store",
        store,
    )
    assert code == 0 and "briefing 1 as of 2025-08-20: draft" in out
    assert PdfReader(out_dir / "briefing-1.pdf").pages
    assert "Author" not in (out_dir / "briefing-1-publicatie.html").read_text(encoding="utf-8")
    for same in ("Author", " AUTHOR "):  # one person, however the name is written
        code, _, err = run(picture, "briefing", "approve", "1", "--as", same, "--store", store)
        assert code == 2 and "the author of a briefing may not approve it" in err
    code, _, err = run(picture, "briefing", "approve", "9", "--as", "Other", "--store", store)
    assert code == 1 and "no briefing 9" in err
    code, out, _ = run(picture, "briefing", "approve", "1", "--as", "Other", "--store", store)
    assert code == 0 and "approved" in out
    code, out, _ = run(picture, "briefing", "list", "--store", store)
    assert code == 0 and "approved" in out
    for where in ("/proc/x", str(a_file / "x")):
        code, _, err = run(picture, "briefing", "export", "1", "--out", where, "--store", store)
        assert code == 2 and f"--out {where}: " in err, err
    code, out, _ = run(
        picture, "briefing", "export", "1", "--out", str(tmp_path / "again"), "--store", store
    )
    assert code == 0 and (tmp_path / "again" / "briefing-1-publicatie.pdf").is_file()


@pytest.mark.parametrize("content", [b"\x7fELF" + bytes(range(256)) * 8, b"notes\n" * 200])
def test_a_picture_file_that_is_no_database_is_said_plainly_and_left_alone(
    setup: tuple[str, str], tmp_path: Path, content: bytes
) -> None:
    """It was a traceback ending in `sqlite3.DatabaseError: file is not a database`."""
    store, _ = setup
    bogus = tmp_path / "bin.dat"
    bogus.write_bytes(content)
    for args in (("picture", "matrix"), ("briefing", "list")):
        code, out, err = run(str(bogus), *args, "--store", store)
        assert code == 2 and out == "", (args, out)
        assert f"cannot open the picture's file: {bogus} is not the picture's database" in err
        assert "Traceback" not in err
    assert bogus.read_bytes() == content


def test_a_picture_file_that_is_a_directory_is_said_plainly(
    setup: tuple[str, str], tmp_path: Path
) -> None:
    """sqlite3.connect itself failed there, outside what caught the file that is no database."""
    store, _ = setup
    folder = tmp_path / "adir"
    folder.mkdir()
    code, out, err = run(str(folder), "picture", "matrix", "--store", store)
    assert code == 2 and out == "" and "Traceback" not in err
    assert f"cannot open the picture's file: {folder} cannot be opened" in " ".join(err.split())


def test_serve_with_a_picture_file_that_is_no_database_says_so_and_serves_nothing(
    setup: tuple[str, str], tmp_path: Path
) -> None:
    store, _ = setup
    bogus = tmp_path / "bin.dat"
    bogus.write_bytes(b"notes\n" * 200)
    with socket.socket() as probe:  # a free port, given back before serve checks it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, out, err = run(str(bogus), "serve", "--store", store, "--port", str(port))
    assert code == 2 and out == "" and "Traceback" not in err, err
    assert f"cannot open the picture's file: {bogus} is not the picture's database" in " ".join(
        err.split()
    )
    assert "serving" not in err  # refused before it announced itself
