"""The register's changes and their audit records (decision 0019): a decision, an allowlist entry
and a withdrawal made with a store's audit trail keep their audit record in their own line and
copy it to the store once, however a process dies between the two; and two processes (two API
requests, two commands) cannot both make the same move."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketenherstel.gateway.register import Register, finding_id
from ketenherstel.gateway.watch import Evidence, Finding, GatewayInputError
from ketenherstel.store import open_store
from ketenherstel.store.ports import AuditRecord, Store
from tests.stores import made

SOON = (datetime.now(UTC).date() + timedelta(days=90)).isoformat()


def f(n: int) -> Finding:
    return Finding("session-hijack", "t", "high", 1.0, session=str(n), evidence=[Evidence("a", n)])


class Killed(Exception):
    """The process died (here: the Register it used is dropped, as a killed process's is)."""


class Dying:
    """A store's audit trail in a process that dies at its next audit write: ``before`` the
    record reaches the store, or ``after`` it is committed there."""

    def __init__(self, store: Store, when: str) -> None:
        self.store, self.when = store, when

    def store_id(self) -> str:
        return self.store.store_id()

    def audit_once(self, record: AuditRecord, *, key: str) -> bool:
        if self.when == "before":
            raise Killed
        self.store.audit_once(record, key=key)
        raise Killed


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(made(f"sqlite:///{tmp_path}/k.db"))
    yield opened
    opened.close()


def _trail(store: Store) -> list[tuple[str, str, str, str]]:
    return [(a.actor, a.action, a.object, a.detail) for a in reversed(store.audit_log(limit=1000))]


def _kept(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def test_two_registers_on_one_file_cannot_both_make_the_same_move(tmp_path: Path) -> None:
    """Each API request reads the register anew: two that decided the same move both
    succeeded (and were both audited) while the register kept only the first."""
    path = tmp_path / "r.jsonl"
    Register(path).add([f(1)])
    fid = finding_id(f(1))
    first, second = Register(path), Register(path)
    first.decide(fid, "under-review", by="soc-1", reason="")
    with pytest.raises(GatewayInputError, match="is under-review; it cannot become under-review"):
        second.decide(fid, "under-review", by="soc-2", reason="")
    assert second.findings[fid].status == "under-review"  # it has read what the first wrote
    first.allow("192.0.2.0/24", reason="office", until=SOON, by="soc-1")
    with pytest.raises(GatewayInputError, match="already allowed"):
        second.allow("192.0.2.0/24", reason="office", until=SOON, by="soc-2")
    second.withdraw("192.0.2.0/24", reason="closed", by="soc-2")
    with pytest.raises(GatewayInputError, match="not on the allowlist"):
        first.withdraw("192.0.2.0/24", reason="closed", by="soc-1")
    assert first.add([f(1)]) == [] and second.add([f(2)]) == [finding_id(f(2))]
    assert first.add([f(2)]) == []  # kept once, by whichever came first
    kinds = Counter(str(r["record"]) for r in _kept(path))
    assert kinds == {"finding": 2, "decision": 1, "allow": 1, "withdraw": 1}


def test_a_change_keeps_its_audit_record_in_its_line_and_copies_it_to_the_store_once(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "r.jsonl"
    reg = Register(path)
    reg.add([f(1)])
    fid = finding_id(f(1))
    reg.decide(fid, "confirmed", by="soc-1", reason="ann's token", trail=store, at=5.0)
    [decision] = [r for r in _kept(path) if r["record"] == "decision"]
    audit = decision["audit"]
    assert isinstance(audit, dict) and audit["store"] == store.store_id()
    assert (audit["actor"], audit["action"], audit["object"], audit["at"]) == (
        "soc-1",
        "gateway-finding-decided",
        f"{fid} confirmed",
        5.0,
    )
    assert "ann" not in json.dumps(audit)  # the reason stays in the register
    assert _kept(path)[-1] == {"record": "audited", "keys": [audit["key"]]}
    assert _trail(store) == [("soc-1", "gateway-finding-decided", f"{fid} confirmed", "")]
    assert [a.at for a in store.audit_log(limit=1)] == [5.0]
    assert Register(path).copy_audits(store) == 0  # copied and marked: nothing left
    before = path.read_bytes()
    with pytest.raises(GatewayInputError, match="cannot become confirmed"):
        Register(path).decide(fid, "confirmed", by="soc-1", reason="", trail=store)
    assert path.read_bytes() == before and len(_trail(store)) == 1  # refused: nothing at all


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_copy_a_death_interrupted_is_made_once_by_the_next_register_on_that_store(
    tmp_path: Path, store: Store, when: str
) -> None:
    path = tmp_path / "r.jsonl"
    Register(path).add([f(1)])
    fid = finding_id(f(1))
    with pytest.raises(Killed):
        Register(path).decide(fid, "under-review", by="soc-1", reason="", trail=Dying(store, when))
    with pytest.raises(Killed):
        Register(path).allow(
            "192.0.2.0/24", reason="r", until=SOON, by="a", trail=Dying(store, when)
        )
    with pytest.raises(Killed):
        Register(path).withdraw("192.0.2.0/24", reason="r", by="b", trail=Dying(store, when))
    # Each process copies first what the ones before it left (and here dies doing so).
    assert len(_trail(store)) == (1 if when == "after" else 0)
    # Another store on the same register (`--register`) gets none of them.
    other = open_store(made(f"sqlite:///{tmp_path}/other.db"))
    assert Register(path).copy_audits(other) == 0 and _trail(other) == []
    other.close()
    assert Register(path).copy_audits(store) == 3
    assert Register(path).copy_audits(store) == 0
    [entry] = Register(path).allowlist
    assert _trail(store) == [
        ("soc-1", "gateway-finding-decided", f"{fid} under-review", ""),
        ("a", "gateway-allow-added", "192.0.2.0/24", entry.audited()),
        ("b", "gateway-allow-withdrawn", "192.0.2.0/24", entry.audited()),
    ]


_OPS = st.lists(
    st.tuples(
        st.sampled_from(["review", "confirm", "reopen", "allow", "withdraw", "read"]),
        st.sampled_from([None, None, "before", "after"]),  # how the process ends
    ),
    max_size=12,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=_OPS)
def test_whatever_dies_where_every_kept_change_is_audited_once_and_nothing_else_is(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, str | None]]
) -> None:
    """Each step is a new process (a new Register) on one register and one store: a command
    that changes something, or one that only reads (and copies what is left); any may die at
    its audit write. At the end, once a last command has run, the store's audit trail holds
    exactly one record per change the register kept, and no other."""
    folder = tmp_path_factory.mktemp("ops")
    path = folder / "r.jsonl"
    store = open_store(made(f"sqlite:///{folder}/k.db"))
    try:
        Register(path).add([f(1)])
        fid = finding_id(f(1))
        for op, dies in ops:
            trail = store if dies is None else Dying(store, dies)
            try:
                reg = Register(path)
                reg.copy_audits(trail)  # as every command on the store does first
                if op == "review":
                    reg.decide(fid, "under-review", by="s", reason="", trail=trail)
                elif op == "confirm":
                    reg.decide(fid, "confirmed", by="s", reason="", trail=trail)
                elif op == "reopen":
                    reg.decide(fid, "under-review", by="s", reason="", trail=trail)
                elif op == "allow":
                    reg.allow("192.0.2.0/24", reason="r", until=SOON, by="s", trail=trail)
                elif op == "withdraw":
                    reg.withdraw("192.0.2.0/24", reason="r", by="s", trail=trail)
            except (Killed, GatewayInputError):
                pass
        Register(path).copy_audits(store)
        kept = _kept(path)
        changes = [r for r in kept if r["record"] in ("decision", "allow", "withdraw")]
        assert all("audit" in r for r in changes)
        wanted = Counter(
            (a["actor"], a["action"], a["object"], a["detail"])
            for a in (r["audit"] for r in changes)
            if isinstance(a, dict)
        )
        assert Counter(_trail(store)) == wanted
        assert len(store.audit_log(limit=1000)) == len(changes)
    finally:
        store.close()
