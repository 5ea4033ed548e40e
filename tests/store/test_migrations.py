"""Migrations run in order, once each, and upgrade a database made by an older version."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import pytest

from ketenherstel.store.ports import AuditRecord
from ketenherstel.store.sql import SqlStore
from ketenherstel.store.sqlite import SqliteStore


def _at_version_1(path: Path) -> sqlite3.Connection:
    """A store file as the first version left it."""
    first = resources.files("ketenherstel.store") / "migrations" / "sqlite" / "0001_init.sql"
    conn = sqlite3.connect(path)
    conn.executescript(first.read_text(encoding="utf-8"))
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    conn.execute("INSERT INTO schema_migrations VALUES (1, '0001_init.sql')")
    return conn


def test_a_database_at_version_1_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = _at_version_1(path)
    conn.execute(
        "INSERT INTO partners (key, name, oin, webhook_url, created_at) "
        "VALUES ('om', 'OM', '00000001003214347000', NULL, 1.0)"
    )
    conn.commit()
    conn.close()

    store = SqliteStore(path)
    store.migrate()
    assert store.get_partner("om") is not None  # data kept
    assert store.channel_events(receiver=None, limit=5) == []  # the new table is there
    versions = [r[0] for r in store._conn.execute("SELECT version FROM schema_migrations")]
    assert versions == sorted(versions) and versions[:2] == [1, 2]
    store.close()


def test_older_credentials_take_their_maker_from_the_audit_trail(
    tmp_path: Path,
) -> None:
    """Migration 0009 adds `credentials.created_by`; older credentials take their maker from
    the audit trail's token-created entry (none there: not known)."""
    path = tmp_path / "old.db"
    conn = _at_version_1(path)
    for ident, name in (("c1", "ann"), ("c2", "ann2"), ("c3", "old")):
        conn.execute(
            "INSERT INTO credentials (id, principal, role, partner_key, token_hash, label, "
            "created_at, revoked_at) VALUES (?, ?, 'operator', NULL, ?, '', 1.0, NULL)",
            (ident, name, f"hash-{ident}"),
        )
    conn.executemany(
        "INSERT INTO audit (id, at, actor, action, object, detail) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (1, 1.0, "local-cli", "token-created", "c1", "operator ann"),
            (2, 2.0, "ann", "token-created", "c2", "operator ann2"),
            (3, 3.0, "ann", "token-revoked", "c3", ""),
        ],
    )
    conn.commit()
    conn.close()

    store = SqliteStore(path)
    store.migrate()
    makers = {c.id: c.created_by for c in store.list_credentials()}
    assert makers == {"c1": "local-cli", "c2": "ann", "c3": None}
    store.close()


def test_older_deliveries_are_settled_by_their_state(tmp_path: Path) -> None:
    """Migration 0010 adds `deliveries.settled`: 1 for the acked and dead deliveries a store
    already held, 0 for the ready and leased ones; the per-case index then finds only those."""
    path = tmp_path / "old.db"
    conn = _at_version_1(path)
    conn.execute(
        "INSERT INTO messages (pos, source, id, sender, type, subject, partitionkey, sequence, "
        "time, content_hash, body, received_at) VALUES "
        "(1, 'urn:x', 'm1', 'politie', 't', 'K', 'K', NULL, NULL, 'h', x'7b7d', 1.0)"
    )
    for ident, state in ((1, "acked"), (2, "dead"), (3, "leased"), (4, "ready")):
        conn.execute(
            "INSERT INTO deliveries (id, pos, receiver, sender, partitionkey, state, blocked, "
            "attempts, not_before, created_at, updated_at) "
            "VALUES (?, 1, 'om', 'politie', 'K', ?, 0, 1, 0, 1.0, 1.0)",
            (ident, state),
        )
    conn.commit()
    conn.close()

    store = SqliteStore(path)
    store.migrate()
    rows = store._conn.execute("SELECT id, settled FROM deliveries ORDER BY id").fetchall()
    assert rows == [(1, 1), (2, 1), (3, 0), (4, 0)]
    pending = store._conn.execute(
        "SELECT id FROM deliveries INDEXED BY deliveries_pending_key "
        "WHERE receiver = 'om' AND partitionkey = 'K' AND settled = 0 ORDER BY id"
    ).fetchall()
    assert pending == [(3,), (4,)]
    store.close()


def _plans(store: SqliteStore, call: Callable[[], object], word: str) -> list[str]:
    """The query plans of the statements ``call`` runs that name ``word``."""
    seen: list[str] = []
    store._conn.set_trace_callback(seen.append)
    try:
        call()
    finally:
        store._conn.set_trace_callback(None)
    return [
        " ".join(r[3] for r in store._conn.execute(f"EXPLAIN QUERY PLAN {statement}"))
        for statement in seen
        if word in statement and statement.lstrip().upper().startswith("SELECT")
    ]


def test_quarantine_counts_read_only_the_quarantined_messages(tmp_path: Path) -> None:
    """Migration 0011: the quarantine's counts are read from a partial index of the messages
    ever quarantined, not by scanning every message."""
    store = SqliteStore(tmp_path / "s.db")
    store.migrate()
    [plan] = _plans(store, store.quarantine_counts, "quarantined")
    assert "COVERING INDEX messages_quarantine_kept" in plan, plan
    store.close()


def test_pending_figures_read_only_the_pending_deliveries(tmp_path: Path) -> None:
    """The figures for /metrics read the pending deliveries through the partial index on
    `settled = 0` (migration 0010), not the whole history."""
    store = SqliteStore(tmp_path / "s.db")
    store.migrate()
    [plan] = _plans(store, store.pending_stats, "settled = 0")
    assert "INDEX deliveries_group" in plan, plan
    indexes = dict(
        store._conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE name IN "
            "('deliveries_pending_key', 'deliveries_group')"
        ).fetchall()
    )
    assert len(indexes) == 2
    assert all(sql.endswith("WHERE settled = 0") for sql in indexes.values()), indexes
    store.close()


def test_the_picture_reads_only_the_trail_of_resent_deliveries(tmp_path: Path) -> None:
    """Migration 0012: the trail of the deliveries ever re-sent is found through a partial
    index, not by scanning the whole trail."""
    store = SqliteStore(tmp_path / "s.db")
    store.migrate()
    [plan] = _plans(store, store.picture_resends, "resent")
    scans = plan.count("SCAN ")
    assert scans and plan.count("SCAN trail USING INDEX trail_resent") == scans, plan
    assert "SEARCH t USING INDEX trail_pos" in plan, plan
    store.close()


def test_routes_closed_before_migration_13_keep_no_closing_reason(tmp_path: Path) -> None:
    """Migration 0013 adds `emergency_routes.closed_reason`: a route closed before it has
    none (NULL), an open one closes with its reason."""
    path = tmp_path / "old.db"
    folder = resources.files("ketenherstel.store") / "migrations" / "sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        version = int(item.name.split("_", 1)[0])
        if item.name.endswith(".sql") and version < 13:
            conn.executescript(item.read_text(encoding="utf-8"))
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, item.name))
    conn.executemany(
        "INSERT INTO emergency_routes (id, type, sender, around, receiver, superseded_by, "
        "reason, opened_at, opened_by, closed_at, closed_by) "
        "VALUES (?, 't', 'politie', 'om', 'justid', 'u', 'spoed', 1.0, 'op', ?, ?)",
        [(1, 2.0, "op"), (2, None, None)],
    )
    conn.commit()
    conn.close()

    store = SqliteStore(path)
    store.migrate()
    closed, still_open = store.routes()
    assert (closed.closed_by, closed.closed_reason) == ("op", None)
    assert (still_open.closed_at, still_open.closed_reason) == (None, None)
    now = store.close_route(route_id=2, reason="OM terug", now=3.0, actor="op")
    assert store.routes()[1] == now and now.closed_reason == "OM terug"
    store.close()


# Migration 0014: webhook URLs as versions before e878145 audited them (the whole URL), each
# with what the exchange writes for it today (`scheme://host[:port]`), or, for a URL it
# refuses today, a detail that keeps nothing of it.
_SECRET = "s3cr3t"
_OLD_WEBHOOK_DETAILS = [
    f"https://hooks.example.nl/in/{_SECRET}",
    f"https://hooks.example.nl:8443/push?token={_SECRET}",
    f"http://Hooks.Example.NL?key={_SECRET}",
    f"https://ann:{_SECRET}@hooks.example.nl/x",
    f"https://a@b:{_SECRET}@hooks.example.nl:0443#{_SECRET}",
    f"http://[2001:DB8::1]:8080/{_SECRET}",
    f"https://hooks.example.nl:/{_SECRET}",
    f"https://hooks.example.nl:0/{_SECRET}",
]
_REFUSED = "(not kept: not a valid webhook URL)"
_OLD_REFUSED_DETAILS = [
    f"http://hooks.example.nl/a b?token={_SECRET}",
    f"http://hooks.example.nl/\u00a0{_SECRET}",
    f"http://:8080/{_SECRET}",
    f"http://hooks.example.nl:{_SECRET}/x",
    f"http://hooks.example{_SECRET}:70000/",
    f"http://[::1/{_SECRET}",
    f"http://[{_SECRET}]/",
    f"http://host[{_SECRET}]/",
    f"https://[{_SECRET}@hooks.example.nl/",
    "http://",
]
_LEFT_ALONE = [  # (action, detail)
    ("webhook-set", "(none)"),
    ("webhook-set", "https://hooks.example.nl"),
    ("webhook-set", "https://hooks.example.nl:8443"),
    ("webhook-set", "http://2001:db8::1:8080"),  # an IPv6 host as the exchange writes it
    ("token-created", "operator ann"),
    ("briefing-created", f"https://elsewhere.example/{_SECRET}"),
]


def _current_detail(url: str) -> str | None:
    """What the exchange audits for ``url`` today, or None when it refuses ``url``."""
    from ketenherstel.exchange.errors import InvalidInput
    from ketenherstel.exchange.service import _webhook_host

    try:
        return _webhook_host(url)
    except (InvalidInput, ValueError):  # urlsplit raises ValueError for a stray bracket
        return None


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    store: SqlStore
    if request.param == "sqlite":
        store = SqliteStore(tmp_path / "s.db")
    else:
        from ketenherstel.store.postgres import PostgresStore

        dsn = request.getfixturevalue("pg_dsn")
        store = PostgresStore(dsn, schema=request.getfixturevalue("pg_schema"))
    yield store
    store.close()


def test_older_webhook_audit_records_keep_only_scheme_and_host(any_store: SqlStore) -> None:
    """Migration 0014: a `webhook-set` audit record an older version wrote holds the whole
    URL, whose path, query or user part may be the receiver's secret; after the migration it
    holds what the exchange writes today, and no other record changes."""
    store = any_store
    store.migrate()
    old = _OLD_WEBHOOK_DETAILS + _OLD_REFUSED_DETAILS
    if isinstance(store, SqliteStore):
        old.append(f"https://hooks.example.nl/\x00{_SECRET}")  # PostgreSQL refuses a NUL
    for i, detail in enumerate(old):
        store.audit(AuditRecord(float(i), "ann", "webhook-set", f"p{i}", detail))
    for i, (action, detail) in enumerate(_LEFT_ALONE, start=len(old)):
        store.audit(AuditRecord(float(i), "ann", action, f"p{i}", detail))
    with store._tx() as cur:  # back to the version before 0014, these records written by it
        store._x(cur, "DELETE FROM schema_migrations WHERE version = 14")

    store.migrate()

    after = {r.object: r.detail for r in store.audit_log(limit=1_000)}
    for i, url in enumerate(old):
        expected = _current_detail(url) or _REFUSED
        assert after[f"p{i}"] == expected, url
        assert _SECRET not in after[f"p{i}"]
    assert [after[f"p{i}"] for i in range(len(_OLD_WEBHOOK_DETAILS))] == [
        "https://hooks.example.nl",
        "https://hooks.example.nl:8443",
        "http://hooks.example.nl",
        "https://hooks.example.nl",
        "https://hooks.example.nl:443",
        "http://2001:db8::1:8080",
        "https://hooks.example.nl",
        "https://hooks.example.nl:0",
    ]
    assert all(_current_detail(url) is None for url in _OLD_REFUSED_DETAILS)
    for i, (_, detail) in enumerate(_LEFT_ALONE, start=len(old)):
        assert after[f"p{i}"] == detail
