"""`ketenherstel scenario …`, `ketenherstel plan steps|apply` and `ketenherstel demo` through
Typer's runner: happy paths and bad input."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
import yaml
from typer.testing import CliRunner

from ketenherstel.bootstrap import bootstrap
from ketenherstel.cli import app
from ketenherstel.recovery.scenario import builtin_scenario_path
from ketenherstel.settings import Settings
from ketenherstel.store import open_store
from tests.stores import made

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(
        app, list(args), env={"COLUMNS": "200", "KETENHERSTEL_SYNCHRONOUS": "NORMAL"}
    )
    return result.exit_code, result.stdout, result.stderr


def test_scenario_validate_and_show() -> None:
    code, out, _ = run("scenario", "validate", "om-2025")
    assert code == 0 and "ok (plan om-2025)" in out
    code, out, _ = run("scenario", "show", "om-2025")
    assert code == 0
    assert "plan step wave-1" in out and "om cut off" in out and "emergency route" in out


def test_a_bad_scenario_file_lists_its_problems_and_exits_1(tmp_path: Path) -> None:
    doc = yaml.safe_load(builtin_scenario_path().read_text(encoding="utf-8"))
    doc["step"] = "soon"
    doc["offline"] = [{"partner": "om", "from": "isolation", "until": "wave-7"}]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    code, out, err = run("scenario", "validate", str(path))
    assert code == 1
    assert "bad.yaml: step:" in out and "bad.yaml: offline[0].until:" in out
    assert "2 problems" in err
    code, _, err = run("scenario", "run", "nope", "--store", str(tmp_path / "x.db"))
    assert code == 2 and "no such scenario file: nope" in err
    assert not (tmp_path / "x.db").exists()


def test_scenario_run_tells_the_story_and_writes_its_figures(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/run.db"
    code, out, err = run(
        "scenario", "run", "om-2025", "--store", store, "--scale", "0.003", "--out", str(tmp_path)
    )
    assert code == 0, err
    for needle in ("What happened", "backlog at its peak", "drain", "Deadlines missed"):
        assert needle in out
    assert "lost: 0, applied twice: 0" in out
    figures = orjson.loads((tmp_path / "om-2025.json").read_bytes())
    assert figures["lost"] == 0 and figures["appliedTwice"] == 0 and figures["accepted"] > 0
    assert (tmp_path / "om-2025-backlog.svg").read_text().startswith("<svg")


def test_plan_steps_and_apply_with_a_dry_run_then_for_real(tmp_path: Path) -> None:
    store = made(f"sqlite:///{tmp_path}/plan.db")
    code, out, _ = run("plan", "steps", "om-2025")
    assert code == 0 and "wave-3" in out
    code, out, _ = run("plan", "apply", "om-2025", "isolation", "--as", "ann", "--store", store)
    assert code == 0 and "partner om → isolated" in out
    code, out, _ = run(
        "plan", "apply", "om-2025", "wave-1", "--as", "ann", "--store", store, "--dry-run"
    )
    assert code == 0 and "would change" in out and "om → returning" in out
    rt = bootstrap(Settings(store_url=store))
    try:
        assert rt.exchange.partner_states()["om"].state == "isolated"
    finally:
        rt.close()
    code, out, _ = run("plan", "apply", "om-2025", "wave-1", "--as", "ann", "--store", store)
    assert code == 0 and "wave-1 (18-08-2025 08:00) changed:" in out and "restores:" in out


def test_plan_apply_again_says_nothing_changed_and_lists_no_change(tmp_path: Path) -> None:
    store = made(f"sqlite:///{tmp_path}/again.db")
    for step in ("isolation", "wave-1"):
        code, out, _ = run("plan", "apply", "om-2025", step, "--as", "ann", "--store", store)
        assert code == 0 and f"{step} (" in out and ") changed:" in out
        before = _audit_log(store)
        for dry in ((), ("--dry-run",)):
            code, out, _ = run(
                "plan", "apply", "om-2025", step, "--as", "ann", "--store", store, *dry
            )
            said = " ".join(out.split())  # as one line, however the console wrapped it
            verb = "would change" if dry else "changed"
            assert code == 0 and f": nothing {verb}, the store is already at this step" in said
            for listed in ("changed:", "partner ", "Channel rules", "restores:", "re-prioritised"):
                assert listed not in out, (step, dry, listed)
        # Nor was anything written: the priorities were set again, and audited (a review).
        assert _audit_log(store) == before, step


def _audit_log(store: str) -> list[object]:
    check = open_store(store)
    try:
        return list(check.audit_log(limit=100_000))
    finally:
        check.close()


def test_plan_apply_refuses_bad_input(tmp_path: Path) -> None:
    store = made(f"sqlite:///{tmp_path}/bad.db")
    code, _, err = run("plan", "apply", "om-2025", "wave-9", "--as", "ann", "--store", store)
    assert code == 2 and "no step 'wave-9'" in err
    code, _, err = run("plan", "apply", "om-2025", "isolation", "--as", " ", "--store", store)
    assert code == 2 and "--as names you" in err
    for name, needle in (("an\nn", "no control or invisible"), ("a" * 5000, "1 to 100")):
        code, _, err = run("plan", "apply", "om-2025", "isolation", "--as", name, "--store", store)
        assert code == 2 and "--as: a person's name" in err and needle in err
    code, _, err = run("plan", "apply", "nope", "isolation", "--as", "ann", "--store", store)
    assert code == 2 and "no such plan file" in err
    # A wave on a store that never had the isolation: refused, nothing changed.
    code, _, err = run("plan", "apply", "om-2025", "wave-1", "--as", "ann", "--store", store)
    assert code == 2 and "om is online: this store never had the plan's isolation step" in err
    rt = bootstrap(Settings(store_url=store))
    try:
        assert rt.exchange.channels() == [] and rt.exchange.partner_history() == []
    finally:
        rt.close()


def test_demo_runs_the_scenario_without_serving(tmp_path: Path) -> None:
    code, out, err = run(
        "demo",
        "--store",
        f"sqlite:///{tmp_path}/demo.db",
        "--scale",
        "0.003",
        "--no-serve",
        "--out",
        str(tmp_path),
    )
    assert code == 0, err
    assert "scenario om-2025" in out and "lost: 0, applied twice: 0" in out
    assert "[bold]" not in out and "[/]" not in out  # the story's styles are applied
    assert (tmp_path / "om-2025.json").is_file()
    # It ends with a reconciliation over every hop and the paper work: nothing missing.
    assert "reconciliation across all hops: 0 missing" in out
    assert "sent →" in out and "delivered →" in out and "manual →" in out
    reports = tmp_path / "demo.reconcile"
    assert (reports / "sent-om-2025.parquet").is_file()
    assert len(list(reports.glob("r*/summary.json"))) == 2
    # And the access portal's logs, scanned: every injected attack found.
    assert "The access portal: injected attacks" in out
    found_column = out.split("injected")[1][:2000]
    assert re.search(r"│\s*yes\s*│", found_column) and not re.search(r"│\s*no\s*│", found_column)
    assert (tmp_path / "demo.gateway" / "rapport.html").is_file()
    # The picture's calls to the OM end where the run stopped, not at the scenario's end
    # months later (the reachability page counted calls after the picture's moment).
    from datetime import datetime

    from ketenherstel.picture.db import open_picture_db

    figures = orjson.loads((tmp_path / "om-2025.json").read_bytes())
    last = datetime.fromisoformat(figures["end"]).timestamp()
    db = open_picture_db(Settings(store_url=f"sqlite:///{tmp_path}/demo.db").picture_location())
    try:
        calls = db.contacts("om")
    finally:
        db.close()
    assert calls and max(c.received_at for c in calls) <= last
    assert all(c.answered_at is None or c.answered_at <= last for c in calls)


def test_scenario_run_refuses_a_store_that_holds_messages(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/used.db"
    code, _, err = run("scenario", "run", "om-2025", "--store", store, "--scale", "0.002")
    assert code == 0, err
    code, _, err = run("scenario", "run", "om-2025", "--store", store, "--scale", "0.002")
    assert code == 2 and "already holds" in err and "--fresh" in err
    code, out, err = run(
        "scenario", "run", "om-2025", "--store", store, "--scale", "0.002", "--fresh"
    )
    assert code == 0 and "lost: 0" in out, err


def test_demo_on_a_used_postgresql_store_is_refused(
    pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uuid

    monkeypatch.setenv("KETENHERSTEL_REGISTRY", str(tmp_path / "registry.sqlite"))

    import psycopg

    from ketenherstel.store.postgres import PostgresStore

    schema = "t_" + uuid.uuid4().hex[:12]
    store = PostgresStore(pg_dsn, schema=schema)
    try:
        store.migrate()
        url = f"{pg_dsn}?options=-csearch_path%3D{schema}"
        code, _, err = run("demo", "--store", url, "--scale", "0.002", "--no-serve")
        assert code == 0, err  # the first run fills it
        code, _, err = run("demo", "--store", url, "--scale", "0.002", "--no-serve")
        assert code == 2 and "already holds" in err
    finally:
        store.close()
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_the_demos_gateway_reports_are_audited_as_gateway_report_audits_them(
    tmp_path: Path,
) -> None:
    """The demo wrote the access portal's reports, which name users, with no record in the
    store's audit trail, where `gateway report` keeps one: now gateway-report-written by the
    demo's operator, '*' for the report of all organisations and each organisation's slug,
    with the file written (no user, no address)."""
    import io

    from rich.console import Console

    from ketenherstel.gateway.verdict import read_verdicts
    from ketenherstel.story import gateway_story
    from ketenherstel.story_picture import AUTHOR

    rt = bootstrap(Settings(store_url=made(f"sqlite:///{tmp_path}/demo.db")))
    try:
        gateway_story(rt, Console(file=io.StringIO(), width=200))
        folder = tmp_path / "demo.gateway"
        data = read_verdicts(folder)
        assert data is not None and data["verdicts"]
        written = [
            (a.actor, a.object, a.detail)
            for a in reversed(rt.store.audit_log(limit=100))
            if a.action == "gateway-report-written"
        ]
    finally:
        rt.close()
    assert written == [
        (AUTHOR.name, "*", str(folder / "rapport.html")),
        *((AUTHOR.name, v["slug"], str(folder / v["report"])) for v in data["verdicts"]),
    ]
    assert all((folder / v["report"]).is_file() for v in data["verdicts"])
