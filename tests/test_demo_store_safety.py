"""`ketenherstel demo`, `demo-http` and `scenario run --fresh` make their store fresh, but never
delete what they did not make: a file that is no store, or the registry, reports, findings
register and picture that KETENHERSTEL_* name elsewhere. A bad `--out` is refused before the
run fills the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketenherstel.cli import app

runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(
        app,
        list(args),
        env={"COLUMNS": "200", "KETENHERSTEL_SYNCHRONOUS": "NORMAL", **(env or {})},
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("demo", "--scale", "0.001", "--no-serve", "--out"),
        ("demo-http", "--cases", "1", "--no-serve", "--port", "0"),
        ("scenario", "run", "om-2025", "--scale", "0.001", "--fresh", "--out"),
    ],
    ids=["demo", "demo-http", "scenario-run-fresh"],
)
def test_a_file_that_is_no_store_is_refused_and_left_untouched(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    precious = tmp_path / "x.txt"
    precious.write_text("precious\n", encoding="utf-8")
    last = (str(tmp_path / "out"),) if command[-1] == "--out" else ()
    code, _, err = run(*command, *last, "--store", str(precious))
    assert code == 2 and "is not a store" in err, err
    assert precious.read_text(encoding="utf-8") == "precious\n"


def test_the_demo_deletes_nothing_named_elsewhere_and_writes_only_beside_its_store(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    reports = elsewhere / "reports"
    reports.mkdir(parents=True)
    (reports / "unrelated.txt").write_text("keep me", encoding="utf-8")
    register = elsewhere / "register.jsonl"
    register.write_text('{"finding": 1}\n', encoding="utf-8")
    registry = elsewhere / "registry.sqlite"
    registry.write_bytes(b"SQLite format 3\x00 a real store's registry")
    picture = elsewhere / "picture.sqlite"
    env = {
        "KETENHERSTEL_RECONCILE_DIR": str(reports),
        "KETENHERSTEL_GATEWAY_REGISTER": str(register),
        "KETENHERSTEL_REGISTRY": str(registry),
        "KETENHERSTEL_PICTURE_DB": str(picture),
    }
    store = tmp_path / "demo" / "d.db"
    args = ("--store", str(store), "--scale", "0.001", "--no-serve", "--out", str(tmp_path))
    for _ in range(2):  # the second run makes the demo's own files fresh again
        code, _, err = run("demo", *args, env=env)
        assert code == 0, err
    assert (reports / "unrelated.txt").read_text(encoding="utf-8") == "keep me"
    assert sorted(p.name for p in reports.iterdir()) == ["unrelated.txt"]
    assert register.read_text(encoding="utf-8") == '{"finding": 1}\n'
    assert registry.read_bytes() == b"SQLite format 3\x00 a real store's registry"
    assert not picture.exists()
    beside = {p.name for p in store.parent.iterdir()}
    assert {"d.db", "d.registry.sqlite", "d.reconcile", "d.picture.sqlite"} <= beside


def test_scenario_run_refuses_an_unwritable_out_before_the_run(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    store = tmp_path / "sc2.db"
    code, _, err = run(
        "scenario", "run", "om-2025", "--scale", "0.001", "--store", f"sqlite:///{store}",
        "--out", str(tmp_path / "a-file" / "figures"),
    )  # fmt: skip
    assert code == 2 and "--out" in err and "is not a directory" in err, err
    assert not store.exists()


@pytest.mark.parametrize(
    "command",
    [
        ("demo", "--scale", "0.001", "--no-serve", "--out"),
        ("demo-http", "--cases", "1", "--no-serve", "--port", "0"),
    ],
    ids=["demo", "demo-http"],
)
def test_a_demo_does_not_recreate_a_store_that_no_demo_made(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """`demo-http --store` wiped a working store given by mistake (its manual records, its
    tokens); `scenario run` refuses one already, unless --fresh names the deletion."""
    store = tmp_path / "work.db"
    url = f"sqlite:///{store}"
    code, _, err = run("init", "--store", url, "--operator", "anna")
    assert code == 0, err
    code, _, err = run("token", "create", "--partner", "om", "--as", "anna", "--store", url)
    assert code == 0, err
    before = store.read_bytes()
    last = (str(tmp_path / "out"),) if command[-1] == "--out" else ()
    code, out, err = run(*command, *last, "--store", url)
    assert code == 2, (out, err)
    said = " ".join(err.split())
    assert f"store {store} holds" in said and "credentials" in said and "no demo made" in said
    assert store.read_bytes() == before
    # scenario run --fresh asks for the deletion by name: it goes ahead
    code, _, err = run("scenario", "run", "om-2025", "--scale", "0.001", "--fresh", "--store", url)
    assert code == 0, err


def test_a_demo_keeps_a_store_it_cannot_read_whole(tmp_path: Path) -> None:
    """A store whose data pages are damaged (its first page intact, so it is a store) was
    taken for one holding nothing, and remade: a damaged working store is the one to keep."""
    import contextlib
    import sqlite3

    from ketenherstel.store.sqlite import SqliteStore
    from ketenherstel.story import fresh_sqlite

    path = tmp_path / "work.db"
    made = SqliteStore(path)
    made.migrate()
    made.close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        with conn:
            conn.executemany(
                "INSERT INTO partners (key, name, oin, webhook_url, created_at) "
                "VALUES (?, ?, ?, NULL, 0)",
                [(f"k{i}", "n" * 200, f"{i:020d}") for i in range(3000)],
            )
        conn.execute("PRAGMA journal_mode=DELETE")  # the WAL into the file, then no WAL
    data = bytearray(path.read_bytes())
    data[int(len(data) * 0.6) :] = b"\xab" * (len(data) - int(len(data) * 0.6))
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="could not be read"):
        fresh_sqlite(f"sqlite:///{path}")
    assert path.read_bytes() == bytes(data)
