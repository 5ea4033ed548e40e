"""Shared fixtures. Tests that need PostgreSQL or NATS run against the real servers on
loopback; with CI=true a missing server fails the test instead of skipping it."""

from __future__ import annotations

import importlib
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from ketenherstel.chain import Chain, load_chain
from ketenherstel.settings import Settings
from tests.registry.factories import Clock

PG_DSN = os.environ.get("KETENHERSTEL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
NATS_URL = os.environ.get("KETENHERSTEL_TEST_NATS", "nats://127.0.0.1:4222")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

if os.environ.get("PYTEST_XDIST_WORKER"):
    # An xdist worker starts with COLUMNS=80 and LINES=24 in its environment. The CLI's Rich
    # consoles are made at import and would keep that width; each CLI test sets its own.
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def need_server(name: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(message + " (CI=true: tests that need it must run, not skip)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def chain() -> Chain:
    return load_chain()


@pytest.fixture
def pg_dsn() -> str:
    need_server("PostgreSQL", "127.0.0.1", 5432)
    return PG_DSN


@pytest.fixture
def pg_schema(pg_dsn: str) -> Iterator[str]:
    """A fresh schema per test, dropped afterwards."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    yield name
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def nats_url() -> str:
    need_server("NATS", "127.0.0.1", 4222)
    return NATS_URL


@pytest.fixture
def clock() -> Clock:
    """A clock the test moves by hand (``clock.now``), starting 17 July 2025, 20:00 UTC."""
    return Clock()


@pytest.fixture
def bench_module(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], ModuleType]:
    """Import a script of ``bench/`` by name, as the script itself would import its siblings."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "bench"))
    return importlib.import_module


@pytest.fixture
def gateway_register(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """For the gateway CLI's tests (each module of them uses it for every test:
    ``pytestmark = pytest.mark.usefixtures("gateway_register")``): the findings register in
    the test's folder (KETENHERSTEL_GATEWAY_REGISTER; not there yet) and a made SQLite store
    beside it (KETENHERSTEL_STORE), whose audit trail records findings read, decisions and
    reports made. Returns the register's path."""
    from tests.stores import made

    path = tmp_path / "register.jsonl"
    monkeypatch.setenv("KETENHERSTEL_GATEWAY_REGISTER", str(path))
    monkeypatch.setenv("KETENHERSTEL_STORE", made(f"sqlite:///{tmp_path}/k.db"))
    return path


@pytest.fixture(scope="session")
def small_scenario(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """om-2025 at 1 % on SQLite, run once per session; give each test its own picture file
    (``dataclasses.replace(settings, picture_db=...)``)."""
    from tests.picture.scenario import run_small

    return run_small(tmp_path_factory.mktemp("om2025-small"))
