"""Live ledgers from a real exchange and registry (SQLite, and PostgreSQL's ledger rows), and
the repair actions end to end: a delivery acknowledged but never applied is found, re-sent
with its original id, applied once, and the next reconciliation finds nothing missing."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from ketenherstel.bootstrap import Runtime
from ketenherstel.chain import Chain
from ketenherstel.exchange.auth import LOCAL_OPERATOR, Principal
from ketenherstel.exchange.service import Exchange
from ketenherstel.reconcile import (
    LedgerSpec,
    LiveSources,
    ReconcileInputError,
    Report,
    parse_hop,
    parse_mapping,
    reconcile,
    request_list,
    resend,
)
from ketenherstel.registry import Registry
from tests.factories import pv_event
from tests.reconcile.helpers import write
from tests.registry.factories import DECISION, OM_SOURCE, Clock, decision

JUSTID = Principal("justid", "partner", "justid", "token")
OM = Principal("om", "partner", "om", "token")


def _run(rt: Runtime, reg: Registry, tmp: Path, *hops: LedgerSpec) -> Report:
    sources = LiveSources(rt.store, reg.db, reg.receiver)
    return reconcile(list(hops), out_dir=tmp / "reports", sources=sources)


def _redeliver(rt: Runtime) -> Any:
    def call(*, source: str, id: str, receiver: str, reason: str, dry_run: bool) -> str:
        return rt.exchange.redeliver(
            principal=LOCAL_OPERATOR,
            source=source,
            id=id,
            receiver=receiver,
            reason=reason,
            dry_run=dry_run,
        )

    return call


def _send(rt: Runtime, n: int, start: int = 1) -> list[dict[str, Any]]:
    events = [
        decision(f"13-{100000 + i}-25", f"SKN-{i:010d}", ident=f"d{i}", sequence=i)
        for i in range(start, start + n)
    ]
    result = rt.exchange.submit(principal=OM, events=events)
    assert result.accepted == n
    return events


def test_live_ledgers_reconcile_clean_after_a_catch_up(
    rt: Runtime, reg: Registry, tmp_path: Path
) -> None:
    _send(rt, 5)
    reg.catch_up()
    report = _run(
        rt,
        reg,
        tmp_path,
        LedgerSpec("accepted"),
        LedgerSpec("routed"),
        LedgerSpec("delivered"),
        LedgerSpec("applied"),
    )
    assert report.missing == 0
    pairs = report.to_json()["pairs"]
    receivers = len(rt.chain.receivers_for(DECISION, "om"))
    assert pairs[0]["rowsFrom"] == 5 and pairs[0]["rowsTo"] == 5 * receivers
    assert pairs[0]["totals"]["matched"] == 5
    # Every delivery is routed and, after the catch-up, justid's are acknowledged; the other
    # receivers never pulled theirs: missing at delivered, on their way.
    assert pairs[1]["totals"]["missingAtTo"] == 5 * (receivers - 1)
    assert pairs[2]["rowsFrom"] == 5 and pairs[2]["totals"]["matched"] == 5


def test_a_delivery_lost_to_one_of_two_receivers_is_missing_not_the_same_fact(
    rt: Runtime, reg: Registry, tmp_path: Path
) -> None:
    """A sepot goes to the police and the KMar. The KMar's one unacknowledged delivery was
    matched by business key to the same message's delivery to the police and so reported as
    not missing, and never re-sent (a review)."""
    events = []
    for i in range(1, 6):
        case = f"10-{200000 + i}-25"
        events.append(
            pv_event(
                source=OM_SOURCE,
                type="nl.strafrechtketen.vervolging.sepot-beslist.v1",
                subject=case,
                partitionkey=case,
                sequence=i,
                data={
                    "parketnummer": case,
                    "skn": f"SKN-{i:010d}",
                    "decidedAt": "2025-07-17T19:00:00Z",
                    "kind": "onvoorwaardelijk",
                    "ground": "beleid",
                    "reasonCode": "02",
                },
            )
        )
    assert rt.exchange.submit(principal=OM, events=events).accepted == 5
    for key in ("politie", "kmar"):
        who = Principal(key, "partner", key, "token")
        got = rt.exchange.pull(principal=who, limit=10)
        keep = [d.delivery_id for d in got if not (key == "kmar" and d.id == events[2]["id"])]
        rt.exchange.ack(principal=who, delivery_ids=keep)
    report = _run(rt, reg, tmp_path, LedgerSpec("routed"), LedgerSpec("delivered"))
    [pair] = report.to_json()["pairs"]
    assert pair["totals"]["missingAtTo"] == 1 and report.missing == 1
    assert pair["totals"]["matchedByBusinessKeyFrom"] == 0


def test_acknowledged_but_never_applied_is_re_sent_and_applied_once(
    rt: Runtime, reg: Registry, tmp_path: Path
) -> None:
    _send(rt, 3)
    reg.catch_up()
    _send(rt, 1, start=4)
    # Justid's system acknowledged d4 without recording it (the loss reconciliation exists for).
    leased = rt.exchange.pull(principal=JUSTID, limit=10)
    assert [d.id for d in leased] == ["d4"]
    rt.exchange.ack(principal=JUSTID, delivery_ids=[leased[0].delivery_id])
    hops = (LedgerSpec("delivered"), LedgerSpec("applied"))
    report = _run(rt, reg, tmp_path, *hops)
    assert report.missing == 1
    assert report.path is not None
    dry = resend(report.path, _redeliver(rt), dry_run=True)
    assert [(i["id"], i["receiver"], i["outcome"]) for i in dry.items] == [
        ("d4", "justid", "would-resend")
    ]
    assert rt.exchange.pull(principal=JUSTID, limit=10) == []  # the dry run changed nothing
    result = resend(report.path, _redeliver(rt))
    assert (result.resent, result.pending, result.not_found) == (1, 0, 0)
    # Asked again before the receiver took it: on its way, not re-sent twice; a dry run says so.
    assert resend(report.path, _redeliver(rt), dry_run=True).resent == 0
    again = resend(report.path, _redeliver(rt))
    assert (again.resent, again.pending) == (0, 1)
    applied = reg.catch_up()
    assert applied.applied == 1
    assert _run(rt, reg, tmp_path, *hops).missing == 0
    ledger = rt.store.ledger_counts()
    assert ledger.applied_twice_by_id == 0 and ledger.applied_twice_by_key == 0
    assert reg.db.counts()["messages"] == 4
    trail = rt.exchange.trail(principal=LOCAL_OPERATOR, source=OM_SOURCE, id="d4")
    events = [e.event for e in trail.entries if e.receiver == "justid"]
    assert events.count("resent") == 1
    # A stale report re-sends again: the registry recognises the id and applies nothing twice.
    stale = resend(report.path, _redeliver(rt))
    assert stale.resent == 1
    assert reg.catch_up().applied == 0
    assert reg.db.counts()["messages"] == 4


def test_the_request_list_names_what_the_exchange_never_accepted(
    rt: Runtime, reg: Registry, tmp_path: Path
) -> None:
    events = _send(rt, 2)
    sent = [
        {"source": e["source"], "id": e["id"], "sender": "om", "type": e["type"]} for e in events
    ]
    sent.append({"source": OM_SOURCE, "id": "lost-1", "sender": "om", "type": events[0]["type"]})
    # An id a spreadsheet would run as a formula, and one that begins with an apostrophe.
    sent.append({"source": OM_SOURCE, "id": "=cmd|'/c calc'!A1", "sender": "om", "type": "x"})
    sent.append({"source": OM_SOURCE, "id": "'lost-3", "sender": "om", "type": "x"})
    path = write(tmp_path / "om-sent.csv", sent)
    report = _run(rt, reg, tmp_path, LedgerSpec("sent", path, "csv"), LedgerSpec("accepted"))
    assert report.missing == 3 and report.requests == 3
    assert report.path is not None
    assert sorted(
        (r["sender"], r["id"], r["row_in_sender_ledger"]) for r in request_list(report.path)
    ) == [("om", "'lost-3", "5"), ("om", "=cmd|'/c calc'!A1", "4"), ("om", "lost-1", "3")]
    with (report.path / "requests.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:3] == ["sender", "source", "id"]
    # In the file, behind an apostrophe: a spreadsheet shows them as text.
    assert sorted(r[2] for r in rows[1:]) == ["''lost-3", "'=cmd|'/c calc'!A1", "lost-1"]
    # Nothing the exchange could re-send: the sender must.
    assert resend(report.path, _redeliver(rt)).items == []


def test_paper_records_reconcile_against_the_exchange_by_business_key(
    rt: Runtime, reg: Registry, tmp_path: Path
) -> None:
    from ketenherstel.exchange.manual import ManualWork
    from ketenherstel.store.manual_ports import manual_store

    manual = ManualWork(store=manual_store(rt.store), chain=rt.chain)
    events = _send(rt, 2)
    data = events[0]["data"]
    fields = {k: data[k] for k in rt.chain.business_key_fields(events[0]["type"])}
    manual.register(
        principal=LOCAL_OPERATOR,
        partner="om",
        case=data["parketnummer"],
        type=events[0]["type"],
        when="2025-07-17T10:00:00+02:00",
        role="griffie",
        fields={k: str(v) for k, v in fields.items()},
    )
    report = _run(rt, reg, tmp_path, LedgerSpec("manual", partial=True), LedgerSpec("accepted"))
    t = report.to_json()["pairs"][0]["totals"]
    assert report.to_json()["pairs"][0]["matchOn"] == "bkey"
    assert t["matched"] == 1 and report.missing == 0
    assert t["onlyInToBeyondPartialFrom"] == 1


@pytest.mark.postgres
def test_postgres_ledger_rows_and_redeliver(
    pg_dsn: str, pg_schema: str, clock: Clock, chain: Chain
) -> None:
    from ketenherstel.store.postgres import PostgresStore

    store = PostgresStore(pg_dsn, schema=pg_schema)
    store.migrate()
    exchange = Exchange(store=store, chain=chain, clock=clock)
    try:
        for p in chain.partners:
            exchange.register_partner(principal=LOCAL_OPERATOR, key=p.key)
        events = [
            decision(f"13-{100000 + i}-25", f"SKN-{i:010d}", ident=f"d{i}", sequence=i)
            for i in (1, 2, 3)
        ]
        assert exchange.submit(principal=OM, events=events).accepted == 3
        accepted = store.ledger_rows("accepted", after=0, limit=2)
        assert [r[2] for r in accepted] == ["d1", "d2"]
        rest = store.ledger_rows("accepted", after=int(str(accepted[-1][0])), limit=10)
        assert [r[2] for r in rest] == ["d3"]
        leased = exchange.pull(principal=JUSTID, limit=10)
        exchange.ack(principal=JUSTID, delivery_ids=[d.delivery_id for d in leased])
        delivered = store.ledger_rows("delivered", after=0, limit=10)
        assert sorted(str(r[2]) for r in delivered if r[4] == "justid") == ["d1", "d2", "d3"]
        routed = store.ledger_rows("routed", after=0, limit=100)
        assert len(routed) >= len(delivered)
        again = {"source": OM_SOURCE, "receiver": "justid", "reason": "t"}
        assert exchange.redeliver(principal=LOCAL_OPERATOR, id="d2", **again) == "resent"
        assert exchange.redeliver(principal=LOCAL_OPERATOR, id="d2", **again) == "pending"
        assert [d.id for d in exchange.pull(principal=JUSTID, limit=10)] == ["d2"]
        assert exchange.redeliver(principal=LOCAL_OPERATOR, id="nope", **again) == "not-found"
    finally:
        store.close()


def test_an_edge_outbox_is_the_sent_ledger(rt: Runtime, reg: Registry, tmp_path: Path) -> None:
    """What the OM's systems wrote to its outbox (forwarded or not) against what the exchange
    accepted: the one never forwarded is missing at accepted and on the request list."""
    from ketenherstel.outbox.agent import Outbox
    from tests.outbox.conftest import OM_OIN, summons

    box = Outbox.create(tmp_path / "om-outbox.db", oin=OM_OIN, source=OM_SOURCE, chain=rt.chain)
    try:
        box.write([summons(ident=f"s{i}") for i in (1, 2, 3)])
        forwarded = [
            m.event() | {"sequence": str(m.sequence)} for m in box.store.page(after=0, limit=2)
        ]
    finally:
        box.close()
    assert rt.exchange.submit(principal=OM, events=forwarded).accepted == 2
    # Another partner's messages, which the OM's outbox never held: not missing from it (they
    # were 49 "missing at from" in a review, beside one sender's outbox).
    police = Principal("politie", "partner", "politie", "token")
    assert rt.exchange.submit(principal=police, events=[pv_event(), pv_event()]).accepted == 2
    sources = LiveSources(rt.store, reg.db, reg.receiver, rt.chain)
    report = reconcile(
        [parse_hop(f"sent=outbox:{tmp_path / 'om-outbox.db'}"), LedgerSpec("accepted")],
        out_dir=tmp_path / "reports",
        sources=sources,
    )
    t = report.to_json()["pairs"][0]["totals"]
    assert t["matched"] == 2 and t["missingAtTo"] == 1 and t["conflicting"] == 0
    assert t["missingAtFrom"] == 0
    assert report.path is not None
    assert [(r["sender"], r["id"]) for r in request_list(report.path)] == [("om", "s3")]


def test_an_outbox_ledger_is_not_mapped() -> None:
    """Its columns and its one sender come from the file: a mapping was taken and ignored."""
    spec = parse_hop("sent=outbox:om-outbox.db")
    with pytest.raises(ReconcileInputError, match="'sent' is an edge outbox"):
        parse_mapping(spec, ["sent.sender=:kmar"])
    assert parse_mapping(spec, ["accepted.sender=:kmar"]) == spec  # another hop's: left alone


def test_a_file_that_is_no_outbox(rt: Runtime, reg: Registry, tmp_path: Path) -> None:
    bogus = tmp_path / "x.db"
    bogus.write_bytes(b"not a database at all, but long enough to be read as one" * 20)
    sources = LiveSources(rt.store, reg.db, reg.receiver, rt.chain)
    with pytest.raises(ReconcileInputError, match="is not an outbox file"):
        reconcile(
            [parse_hop(f"sent=outbox:{bogus}"), LedgerSpec("accepted")],
            out_dir=tmp_path / "reports",
            sources=sources,
        )
    assert list((tmp_path / "reports").iterdir()) == []
