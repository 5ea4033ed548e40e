"""A file nested too deeply, given to any command that reads a person's YAML or JSON, is refused
naming the file and saying so; nothing is changed. It was a RecursionError traceback (PyYAML
composes a node by calling itself for each level, json.loads likewise): 10,000 levels of
brackets are 20 kB."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketenherstel.cli import app
from ketenherstel.documents import MAX_DEPTH
from ketenherstel.store import open_store
from tests.manual.support import csv_bytes, row
from tests.stores import made

runner = CliRunner()
LEVELS = 10_000
DEEP_YAML = "a: " + "[" * LEVELS + "]" * LEVELS + "\n"
DEEP_JSON = '{"a": ' * LEVELS + "1" + "}" * LEVELS + "\n"
TOO_DEEP = f"nested too deeply: more than {MAX_DEPTH} levels of mappings and lists"
START = "2025-08-18T00:00+02:00"


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "250"})
    assert not isinstance(result.exception, RecursionError), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def deep(tmp_path: Path) -> Path:
    path = tmp_path / "deep.yaml"
    path.write_text(DEEP_YAML, encoding="utf-8")
    return path


def _audit(store: str) -> list[tuple[str, str]]:
    opened = open_store(store)
    try:
        return [(a.action, a.object) for a in opened.audit_log(limit=1000)]
    finally:
        opened.close()


def test_chain_check_reports_the_depth_as_the_files_problem(deep: Path) -> None:
    code, out, err = run("chain", "check", str(deep))
    assert code == 1, err
    assert out.strip() == f"deep.yaml:1:{3 + MAX_DEPTH}: {TOO_DEEP} inside one another"
    assert f"1 problem(s) in {deep}" in err


def test_a_chain_given_with_chain_is_refused_as_bad_input(deep: Path) -> None:
    code, _, err = run("plan", "validate", "om-2025", "--chain", str(deep))
    assert code == 2
    assert "the chain file has 1 problem" in err and f"deep.yaml:1:{3 + MAX_DEPTH}: " in err
    assert TOO_DEEP in err


@pytest.mark.parametrize(
    "command",
    [["plan", "validate"], ["plan", "forecast", "--backlog", "b.csv", "--start", START]],
    ids=["validate", "forecast"],
)
def test_a_plan_file_nested_too_deeply_is_a_problem_with_its_line(
    deep: Path, tmp_path: Path, command: list[str]
) -> None:
    written = tmp_path / "forecast.json"
    extra = ["--json", str(written)] if "forecast" in command else []
    code, out, err = run(*command, str(deep), *extra)
    assert code == 1, err
    assert out.strip() == f"deep.yaml:1:{3 + MAX_DEPTH}: {TOO_DEEP} inside one another"
    assert f"1 problem in {deep}" in err
    assert not written.exists()


def test_a_scenario_nested_too_deeply_is_refused_before_any_store_is_made(
    deep: Path, tmp_path: Path
) -> None:
    code, out, err = run("scenario", "validate", str(deep))
    assert code == 1 and f"1 problem in {deep}" in err
    assert out.startswith("deep.yaml: ") and TOO_DEEP in out
    store = tmp_path / "run.db"
    code, out, err = run("scenario", "run", str(deep), "--store", str(store))
    assert code == 1 and TOO_DEEP in out, err
    assert not store.exists()


@pytest.mark.parametrize("text", [DEEP_YAML, DEEP_JSON], ids=["yaml", "json"])
def test_a_manual_import_mapping_nested_too_deeply_is_refused_and_nothing_stored(
    tmp_path: Path, text: str
) -> None:
    store = made(f"sqlite:///{tmp_path}/k.db")
    export = tmp_path / "export.csv"
    export.write_bytes(csv_bytes(row()))
    mapping = tmp_path / "mapping.json"
    mapping.write_text(text, encoding="utf-8")
    before = _audit(store)
    code, _, err = run(
        "manual", "import", str(export), "--mapping", str(mapping), "--as", "ann", "--store", store
    )
    assert code == 2
    assert err.startswith(f"error: {mapping}:1:") and TOO_DEEP in err
    assert len(err.strip().splitlines()) == 1
    assert _audit(store) == before
    assert "13-100001-25" not in run("manual", "list", "--store", store)[1]


@pytest.mark.parametrize(
    ("option", "text", "says"),
    [
        ("--rules", DEEP_YAML, "rules {file}: "),
        ("--sigma", DEEP_YAML, "Sigma {file}: "),
        ("--indicators", DEEP_JSON, "indicators {file}: nested too deeply"),
    ],
)
def test_a_gateway_file_nested_too_deeply_is_refused_before_the_scan_is_audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str, text: str, says: str
) -> None:
    register = tmp_path / "register.jsonl"
    monkeypatch.setenv("KETENHERSTEL_GATEWAY_REGISTER", str(register))
    store = made(f"sqlite:///{tmp_path}/k.db")
    log = tmp_path / "ns.log"
    log.write_text("x\n", encoding="utf-8")
    file = tmp_path / ("deep.json" if option == "--indicators" else "deep.yaml")
    file.write_text(text, encoding="utf-8")
    before = _audit(store)
    code, _, err = run(
        "gateway", "scan", "--as", "soc-1", str(log), option, str(file), "--store", store
    )
    assert code == 2, err
    assert err.startswith("error: " + says.format(file=file)) and "nested too deeply" in err
    assert len(err.strip().splitlines()) == 1
    assert _audit(store) == before and not register.exists()
