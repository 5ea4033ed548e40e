"""Property: however deliveries repeat, batch and interleave across persons (each case's own
order kept, as the exchange keeps it), the registry ends in the state of applying each
registration once, in order."""

from __future__ import annotations

import itertools
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketenherstel.chain import Chain, load_chain
from ketenherstel.registry import Registry, open_registry_db
from ketenherstel.registry.db import RegistryMismatch, message_key
from ketenherstel.registry.model import Profile, relevant_cases
from ketenherstel.store.ports import LeasedDelivery
from tests.registry.factories import decision, judgment

CHAIN: Chain = load_chain()
ALL = Profile("all", frozenset({"geweld"}), 10, pending=True)
KINDS = ("dagvaarding", "strafbeschikking", "sepot-onvoorwaardelijk", "transactie")
VERDICTS = ("veroordeling", "vrijspraak")


@st.composite
def histories(draw: st.DrawFn) -> list[list[LeasedDelivery]]:
    """Per case, its registrations in order (each case belongs to one of a few persons)."""
    ids = itertools.count(1)
    cases = []
    for c in range(draw(st.integers(1, 6))):
        skn = f"SKN-000000000{draw(st.integers(1, 3))}"
        case = f"13-00000{c}-25"
        steps = []
        for k in range(draw(st.integers(1, 3))):
            day = f"2025-0{k + 1}-1{draw(st.integers(0, 9))}"
            if draw(st.booleans()):
                event = decision(
                    case, skn, kind=draw(st.sampled_from(KINDS)), decided=day + "T10:00:00Z"
                )
            else:
                event = judgment(case, skn, verdict=draw(st.sampled_from(VERDICTS)), day=day)
            steps.append(_delivery(next(ids), event, case))
        cases.append(steps)
    return cases


def _delivery(n: int, event: dict[str, Any], case: str) -> LeasedDelivery:
    """``event`` as Justid's delivery number ``n`` (the case is its partition key)."""
    return LeasedDelivery(
        n, n, "justid", "om", event["source"], event["id"], event["type"], case, 1, 0.0,
        orjson.dumps(event),
    )  # fmt: skip


def _fresh() -> Registry:
    return Registry(open_registry_db(":memory:"), CHAIN, clock=lambda: 1.0)


def _state(reg: Registry) -> dict[str, dict[str, str]]:
    with reg.db.tx() as cur:
        skns = [r[0] for r in cur.execute("SELECT DISTINCT skn FROM registrations")]
        people = reg.db.people_rows(cur, skns)
    return {
        skn: {
            k: v.state
            for k, v in relevant_cases(rows, ALL, date(2025, 12, 31), known_by=None).items()
        }
        for skn, rows in people.items()
    }


def _interleave(cases: list[list[LeasedDelivery]], picks: list[int]) -> Iterator[LeasedDelivery]:
    queues = [list(c) for c in cases]
    pick = iter(picks)
    while any(queues):
        open_ = [q for q in queues if q]
        yield open_[next(pick, 0) % len(open_)].pop(0)


@settings(max_examples=60, deadline=None)
@given(
    cases=histories(),
    picks=st.lists(st.integers(0, 50), max_size=40),
    sizes=st.lists(st.integers(1, 5), min_size=1, max_size=10),
    repeats=st.lists(st.integers(0, 3), max_size=20),
)
def test_any_interleaving_batching_and_redelivery_applies_each_once(
    cases: list[list[LeasedDelivery]], picks: list[int], sizes: list[int], repeats: list[int]
) -> None:
    expected = _fresh()
    for case in cases:
        expected.apply(case)
    stream = list(_interleave(cases, picks))
    # redelivery: some deliveries come again later (after a lost ack or a crash)
    stream += [stream[r % len(stream)] for r in repeats]
    reg = _fresh()
    total = 0
    i = 0
    for size in itertools.cycle(sizes):
        if i >= len(stream):
            break
        result = reg.apply(stream[i : i + size])
        total += result.applied
        i += size
    registrations = sum(len(c) for c in cases)
    assert total == registrations == reg.db.counts()["registrations"]
    assert _state(reg) == _state(expected)
    assert _applied_counts(reg) == _count_applied(reg)


def _applied_counts(reg: Registry) -> dict[tuple[str, float], int]:
    with reg.db.tx() as cur:
        return {(s, at): n for s, at, n in cur.execute("SELECT * FROM applied_counts")}


def _count_applied(reg: Registry) -> dict[tuple[str, float], int]:
    with reg.db.tx() as cur:
        rows = cur.execute("SELECT source, applied_at, COUNT(*) FROM applied GROUP BY 1, 2")
        return {(s, at): n for s, at, n in rows}


def test_the_counts_migration_fills_in_what_was_applied_before_it(tmp_path: Path) -> None:
    path = str(tmp_path / "r.sqlite")
    now = [1.0]
    reg = Registry(open_registry_db(path), CHAIN, clock=lambda: now[0])
    for k in range(3):  # three transactions at three moments, one of them of two messages
        now[0] += 60.0
        events = [decision(f"13-00000{k}-25", "SKN-0000000001")]
        if k == 1:
            events.append(judgment(f"13-00000{k}-25", "SKN-0000000001", day="2025-03-01"))
        reg.apply([_delivery(i, e, f"13-00000{k}-25") for i, e in enumerate(events, 10 * k)])
    expected = _count_applied(reg)
    assert sorted(expected.values()) == [1, 1, 2]
    with reg.db.tx() as cur:  # back to the schema before migration 0004
        cur.execute("DROP TABLE applied_counts")
        cur.execute("CREATE INDEX applied_source_at ON applied (source, applied_at)")
        cur.execute("DELETE FROM schema_migrations WHERE version = '0004_counts.sql'")
    reg.db.close()
    reg = Registry(open_registry_db(path), CHAIN, clock=lambda: now[0])
    assert _applied_counts(reg) == expected
    with reg.db.tx() as cur:
        names = {r[0] for r in cur.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "applied_source_at" not in names
    reg.db.close()


def _old_registry(path: str, before: str) -> sqlite3.Connection:
    """A registry file made by the migrations before ``before``, as an older version left it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version TEXT PRIMARY KEY)")
    folder = resources.files("ketenherstel.registry") / "migrations"
    for item in sorted(folder.iterdir(), key=lambda f: f.name):
        if not item.name.endswith(".sql") or item.name >= before:
            continue
        code = "\n".join(line.split("--")[0] for line in item.read_text("utf-8").splitlines())
        for statement in code.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (item.name,))
    return conn


def test_the_keys_migration_keeps_what_was_applied_and_finds_it_again(tmp_path: Path) -> None:
    """Rows applied before migration 0006 (hex hashes, found by (source, id)) are keyed by it:
    a redelivery of one is still recognised, the same fact again is still the same fact, and
    reconciliation still pages through them in the order they were applied."""
    first = decision("13-000001-25", "SKN-0000000001")
    other = judgment("13-000002-25", "SKN-0000000002", day="2025-03-01")
    current = Registry(open_registry_db(str(tmp_path / "now.sqlite")), CHAIN, clock=lambda: 5.0)
    current.apply([_delivery(1, first, "13-000001-25"), _delivery(2, other, "13-000002-25")])
    with current.db.tx() as cur:
        applied = cur.execute(
            "SELECT source, id, type, bkey, fact_hash, outcome, registration, applied_at "
            "FROM applied ORDER BY seq"
        ).fetchall()
        registrations = cur.execute("SELECT * FROM registrations ORDER BY id").fetchall()
    current.db.close()
    old = _old_registry(str(tmp_path / "old.sqlite"), "0006")
    old.executemany(  # in the old form: hashes in hex, the rows' rowids not from 1
        "INSERT INTO applied (rowid, source, id, type, bkey, fact_hash, outcome, registration, "
        "applied_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(10 * n, s, i, t, b.hex(), f.hex(), o, r, at)
         for n, (s, i, t, b, f, o, r, at) in enumerate(applied, 1)],
    )  # fmt: skip
    old.executemany(f"INSERT INTO registrations VALUES ({','.join('?' * 15)})", registrations)
    old.close()

    reg = Registry(open_registry_db(str(tmp_path / "old.sqlite")), CHAIN, clock=lambda: 9.0)
    assert [r[:3] for r in reg.db.applied_rows(after=0, limit=10)] == [
        (10, first["source"], first["id"]),
        (20, other["source"], other["id"]),
    ]
    again = reg.apply([_delivery(1, first, "13-000001-25")])
    assert (again.redelivered, again.applied) == (1, 0)
    same = dict(first, id=str(uuid.uuid4()))  # the same fact under a new id
    assert reg.apply([_delivery(3, same, "13-000001-25")]).same_fact == 1
    assert reg.db.counts()["registrations"] == 2
    with reg.db.tx() as cur:
        assert {bytes(r[0]) for r in cur.execute("SELECT key FROM applied")} == {
            message_key(e["source"], e["id"]) for e in (first, other, same)
        }
    reg.db.close()


def test_a_file_the_keys_migration_cannot_take_is_refused_as_it_was(tmp_path: Path) -> None:
    """A damaged hash in an old file: the migration names itself and what to do, and the file
    keeps its old form (nothing half done)."""
    path = str(tmp_path / "old.sqlite")
    old = _old_registry(path, "0006")
    old.execute(
        "INSERT INTO applied (source, id, type, bkey, fact_hash, outcome, registration, "
        "applied_at) VALUES ('urn:x', 'm1', 't', 'not-hex', NULL, 'not-a-registration', NULL, 1)"
    )
    old.close()
    with pytest.raises(RegistryMismatch, match=r"migration 0006_keys\.sql cannot bring this file"):
        open_registry_db(path)
    conn = sqlite3.connect(path)
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert "0006_keys.sql" not in versions
    assert conn.execute("SELECT bkey FROM applied").fetchall() == [("not-hex",)]
    conn.close()
