"""The registry end to end on a real exchange (SQLite): catch-up, freshness, screenings, the
re-screen list in both directions, work on it, and the read log."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import pytest

from ketenherstel.bootstrap import Runtime, bootstrap
from ketenherstel.exchange.auth import LOCAL_OPERATOR, Principal
from ketenherstel.registry import (
    Reader,
    Registry,
    RegistryConflict,
    RegistryInputError,
    RegistryNotFound,
    load_profiles,
    open_registry_db,
)
from ketenherstel.registry.db import PAGE_SIZE, WAL_BYTES
from ketenherstel.registry.results import AMSTERDAM
from ketenherstel.settings import Settings
from ketenherstel.store.ports import LeasedDelivery
from tests.factories import bring_online
from tests.registry.factories import (
    OM_SOURCE,
    T0,
    Clock,
    decision,
    emergency,
    judgment,
    screening_decision,
)

DAY = 86_400.0
READER = Reader("justis", "screener", "screener-7", "vog-aanvraag", "art. 35 Wjsg")


@pytest.fixture
def rt(tmp_path: Path, clock: Clock) -> Iterator[Runtime]:
    runtime = bootstrap(Settings(store_url=str(tmp_path / "x.db")))
    runtime.exchange.clock = clock
    for p in runtime.exchange.chain.partners:
        runtime.exchange.register_partner(principal=LOCAL_OPERATOR, key=p.key)
    yield runtime
    runtime.close()


@pytest.fixture
def reg(rt: Runtime, tmp_path: Path) -> Iterator[Registry]:
    db = open_registry_db(str(tmp_path / "registry.sqlite"))
    yield Registry(db, rt.exchange.chain, exchange=rt.exchange)
    db.close()


def send(rt: Runtime, sender: str, *events: dict[str, Any]) -> None:
    result = rt.exchange.submit(
        principal=Principal(sender, "partner", sender, "token"), events=events
    )
    assert result.accepted == len(events)


def screen(reg: Registry, reference: str, skn: str, /, **kw: Any) -> Any:
    """A screening by Justis, by default a VOG on 18 July 2025."""
    args: dict[str, Any] = {
        "reference": reference,
        "consumer": "justis",
        "profile": "vog-natuurlijk-persoon",
        "skn": skn,
        "query_date": kw.pop("day", date(2025, 7, 18)),
        "reader": READER,
    }
    return reg.screen(**{**args, **kw})


def counts(reg: Registry) -> dict[str, int]:
    return reg.db.counts()


def test_catch_up_applies_each_registration_once_and_acks_it(rt: Runtime, reg: Registry) -> None:
    send(
        rt,
        "om",
        *(decision(f"13-00000{i}-25", f"SKN-000000000{i}", sequence=i) for i in range(1, 4)),
    )
    result = reg.catch_up()
    assert (result.applied, result.redelivered, result.failed) == (3, 0, [])
    assert counts(reg)["registrations"] == 3
    assert reg.catch_up().applied == 0  # nothing waits any more: everything was acknowledged
    stats = [s for s in rt.store.queue_stats() if s.receiver == "justid"]
    assert sum(s.acked for s in stats) == 3 and sum(s.ready + s.leased for s in stats) == 0


def test_a_far_future_date_is_refused_and_the_catch_up_goes_on(rt: Runtime, reg: Registry) -> None:
    """A foreign national's final conviction dated 9999-12-20 (schema-valid) once stopped every
    catch-up (its ECRIS deadline overflowed the calendar): now it is refused, the rest applied."""
    far = judgment("13-000009-25", "SKN-0000000009", day="9999-12-20", sequence=1)
    far["data"]["nationality"] = "DE"
    send(rt, "om", far, decision("13-000001-25", "SKN-0000000001", sequence=2))
    result = reg.catch_up()
    assert result.applied == 1
    assert [why for _, why in result.failed] == [
        "judgmentDate '9999-12-20' lies after 2199: no fact is dated so"
    ]
    assert counts(reg)["registrations"] == 1
    assert (
        reg.catch_up().applied == 0
    )  # nothing stuck: the refused one was nacked, not retried here


def test_a_refusal_quoting_personal_data_is_nacked_with_it_masked(
    rt: Runtime, reg: Registry
) -> None:
    """The exchange refuses a nack's reason holding an SKN, an e-mail address or a control
    character (it is kept on the trail and in the dead letters). The registry's reason quotes
    what was sent: it masks them, where its nack would have been refused and stopped it."""
    send(rt, "om", decision("13-000001-25", "SKN-0000000001"))
    [d] = rt.exchange.pull(principal=reg.principal, limit=10)
    event = orjson.loads(d.body)
    event["data"]["decisionKind"] = "SKN-1572429180 a@b.nl \u202e"  # as a looser chain lets by
    result = reg.consume([dataclasses.replace(d, body=orjson.dumps(event))])
    assert [why for _, why in result.failed] == [
        "unknown decisionKind 'SKN-1572429180 a@b.nl \\u202e'"
    ]
    message = rt.store.message(event["source"], event["id"])
    assert message is not None
    [delivery] = rt.store.deliveries_of(message.position)
    assert delivery.last_error == "registry: unknown decisionKind '[…] […] \\u202e'"


def test_a_redelivery_after_a_crash_is_recognised_and_not_applied_again(
    rt: Runtime, reg: Registry, clock: Clock
) -> None:
    send(rt, "om", decision("13-000001-25", "SKN-0000000001", sequence=1))
    leased = rt.exchange.pull(principal=reg.principal, limit=10)
    assert reg.apply(leased).applied == 1  # applied and committed, then the process died: no ack
    clock.now += 3600  # the lease runs out; the exchange delivers it again
    again = reg.catch_up()
    assert (again.applied, again.redelivered) == (0, 1)
    assert counts(reg)["registrations"] == 1


def test_the_same_fact_under_a_new_id_is_applied_once_and_a_correction_replaces(
    reg: Registry,
) -> None:
    first = decision("13-000001-25", "SKN-0000000001", kind="dagvaarding")
    same = {**first, "id": "another-id"}
    corrected = decision("13-000001-25", "SKN-0000000001", kind="dagvaarding", category="zeden")
    result = reg.apply([_leased(first, 1), _leased(same, 2), _leased(corrected, 3)])
    assert (result.applied, result.same_fact, result.replaced) == (2, 1, 1)
    extract, _ = reg.extract(skn="SKN-0000000001", reader=READER)
    assert [e["replacedAt"] is None for e in extract] == [False, True]


def test_an_emergency_report_replaced_by_the_oms_registration_stays_one_case(
    reg: Registry,
) -> None:
    report = emergency("13-000009-25", "SKN-0000000009")
    report["data"].pop("parketnummer")
    om = decision(
        "13-000009-25", "SKN-0000000009", kind="dagvaarding", decided="2025-09-01T09:00:00Z"
    )
    reg.apply([_leased(report, 1, sender="politie")])
    result = reg.apply([_leased(om, 2, supersedes=(report["source"], report["id"]))])
    assert result.replaced == 1
    extract, _ = reg.extract(skn="SKN-0000000009", reader=READER)
    assert {e["case"] for e in extract} == {"PL:PL1300-2025000001"}
    # later registrations of the parketnummer join the same case
    reg.apply([_leased(judgment("13-000009-25", "SKN-0000000009", day="2025-10-01"), 3)])
    extract, _ = reg.extract(skn="SKN-0000000009", reader=READER)
    assert {e["case"] for e in extract} == {"PL:PL1300-2025000001"}


def test_freshness_names_the_watermark_the_gaps_and_what_waits(
    rt: Runtime, reg: Registry, clock: Clock
) -> None:
    send(
        rt,
        "om",
        decision("13-000001-25", "SKN-0000000001", sequence=1, time="2025-07-17T19:40:00Z"),
    )
    reg.catch_up()
    om = _source(reg, "om")
    assert (om.watermark, om.waiting, om.gaps) == (1, 0, ())
    # online, nothing missing or waiting: complete up to now, however quiet the source is
    assert om.text() == "Openbaar Ministerie: volledig tot 17-07-2025 22:00"
    # the OM goes dark; what it sends later (from its outbox) waits in quarantine
    rt.exchange.set_partner_state(
        principal=LOCAL_OPERATOR, partner="om", state="isolated", reason="Citrix"
    )
    clock.now += DAY
    om = _source(reg, "om")
    assert om.text() == (
        "Openbaar Ministerie: volledig tot 17-07-2025 21:40; afgesloten; inhaalslag onbekend"
    )
    bring_online(rt.exchange, "om")
    rt.exchange.set_channel(  # the isolation's holds stay until a wave opens them
        principal=LOCAL_OPERATOR,
        receiver="justid",
        sender="om",
        scope="*",
        state="open",
        reason="wave 1",
    )
    send(
        rt,
        "om",
        decision("13-000002-25", "SKN-0000000002", sequence=2),
        decision("13-000004-25", "SKN-0000000004", sequence=4),
    )
    clock.now += DAY
    om = _source(reg, "om")
    assert (om.watermark, om.waiting, om.gaps) == (1, 2, ((3, 3),))
    assert "1 bericht ontbreekt" in om.text() and "2 berichten wachten" in om.text()
    assert om.catch_up_percent == 0.0
    clock.now += DAY
    reg.catch_up()  # the two are applied; the missing one is still missing
    om = _source(reg, "om")
    assert (om.waiting, om.gaps, om.catch_up_percent) == (0, ((3, 3),), 100.0)


def test_no_answer_says_complete_while_a_registration_waits(
    rt: Runtime, reg: Registry, clock: Clock
) -> None:
    """The freshness was kept for a minute: an answer made just after a registration of that
    very person was accepted said "volledig" and listed nothing (a review)."""
    send(rt, "om", decision("13-000001-25", "SKN-0000000001", sequence=1))
    reg.catch_up()
    before = reg.freshness()  # kept for freshness_ttl ...
    assert [s.waiting for s in before.sources if s.partner == "om"] == [0]
    send(rt, "om", decision("13-000002-25", "SKN-0000000002", sequence=2))
    clock.now += 1  # ... but not past a new delivery
    answer = screen(reg, "SCR-1", "SKN-0000000002")
    [om] = [s for s in answer.freshness.sources if s.partner == "om"]
    assert om.waiting == 1 and "1 bericht wacht" in om.text()
    assert reg.freshness() is reg.freshness()  # and kept while nothing changes


def test_the_catch_up_percent_counts_from_when_the_backlog_began(
    rt: Runtime, reg: Registry, clock: Clock
) -> None:
    """It read 0 % after 20 of 30 were applied when nobody had asked the freshness first, and
    97 % for a new backlog nothing was taken from yet (a review)."""
    send(rt, "om", *(decision(f"13-{n:06d}-25", f"SKN-{n:010d}", sequence=n) for n in range(1, 31)))
    clock.now += 60
    reg.catch_up(limit=1, max_batches=1)  # GROUP (20) pulls of one: 20 of the 30 applied
    om = _source(reg, "om")
    applied = 30 - om.waiting
    assert applied == 20, applied
    assert om.catch_up_percent == round(100 * applied / 30, 1)
    reg.catch_up()
    clock.now += 60
    send(rt, "om", decision("13-000031-25", "SKN-0000000031", sequence=31))
    om = _source(reg, "om")
    assert (om.waiting, om.catch_up_percent) == (1, 0.0)


def test_every_answer_carries_the_freshness_of_every_source(rt: Runtime, reg: Registry) -> None:
    send(rt, "om", decision("13-000001-25", "SKN-0000000001", sequence=1))
    reg.catch_up()
    answer = screen(reg, "SCR-1", "SKN-0000000001")
    assert [c.case_key for c in answer.cases] == ["13-000001-25"]
    assert {s.partner for s in answer.freshness.sources} >= {"om"}
    with reg.db.tx() as cur:
        (stored,) = cur.execute(
            "SELECT f.body FROM screenings s JOIN freshness_snapshots f ON f.id = s.freshness"
        ).fetchone()
    assert "Openbaar Ministerie: volledig tot" in stored


def test_the_rescreen_list_finds_missed_and_wrongly_shown_answers(
    rt: Runtime, reg: Registry, clock: Clock
) -> None:
    # B's pending case (a summons) is known before the outage
    send(rt, "om", decision("13-000002-25", "SKN-0000000002", kind="dagvaarding", sequence=1))
    reg.catch_up()
    clock.now += DAY  # 18 July: two VOG screenings during the gap
    for ref, skn in (("SCR-A", "SKN-0000000001"), ("SCR-B", "SKN-0000000002")):
        screen(reg, ref, skn, day=None)
    assert reg.rescreen() == []
    clock.now += 40 * DAY  # the OM is back: a conviction of A dated before the screening, and
    # the dismissal of B's case, dated before it too, arrive late
    send(
        rt,
        "om",
        decision("13-000001-25", "SKN-0000000001", decided="2025-07-15T10:00:00Z", sequence=2),
        decision(
            "13-000002-25",
            "SKN-0000000002",
            kind="sepot-onvoorwaardelijk",
            decided="2025-07-16T10:00:00Z",
            sequence=3,
        ),
    )
    reg.catch_up()
    items = {(i.reference, i.direction): i for i in reg.rescreen(reader=READER)}
    assert set(items) == {("SCR-A", "missed"), ("SCR-B", "wrongly-shown")}
    missed = items[("SCR-A", "missed")]
    assert (missed.case_key, missed.state_now, missed.fact_date) == (
        "13-000001-25",
        "settled",
        date(2025, 7, 15),
    )
    assert missed.delay_days == 40.0
    wrong = items[("SCR-B", "wrongly-shown")]
    # What the case is now, and since when: dismissed on 16 July.
    assert (wrong.state_then, wrong.state_now, wrong.fact_date) == (
        "pending",
        "dismissed",
        date(2025, 7, 16),
    )


def test_a_later_correction_keeps_the_delay_of_the_message_that_first_carried_the_fact(
    rt: Runtime, reg: Registry, clock: Clock
) -> None:
    """A conviction missed by two answers arrives 40 days late and is corrected 30 days after
    that. The VOG answer was wrong from the first message on: its delay stays 40 days. The
    childcare screening looks at violence only: the first message (theft) did not change it,
    the correction (violence) did, 70 days late."""
    screen(reg, "SCR-A", "SKN-0000000001")
    screen(reg, "KO-A", "SKN-0000000001", profile="continue-screening-kinderopvang")
    clock.now += 40 * DAY
    late = dict(decided="2025-07-15T10:00:00Z", category="vermogen")
    send(rt, "om", decision("13-000001-25", "SKN-0000000001", sequence=1, **late))
    reg.catch_up()
    first = {i.reference: i for i in reg.rescreen()}
    assert set(first) == {"SCR-A"} and first["SCR-A"].delay_days == 40.0
    clock.now += 30 * DAY  # the OM corrects the offence: the same fact (case, kind), new data
    late["category"] = "geweld"
    send(rt, "om", decision("13-000001-25", "SKN-0000000001", sequence=2, **late))
    assert reg.catch_up().replaced == 1
    items = {i.reference: i for i in reg.rescreen()}
    assert {r: (i.direction, i.delay_days) for r, i in items.items()} == {
        "SCR-A": ("missed", 40.0),
        "KO-A": ("missed", 70.0),
    }
    assert items["SCR-A"].known_at == first["SCR-A"].known_at


def test_a_correction_that_keeps_a_shown_case_relevant_does_not_start_its_delay(
    rt: Runtime, reg: Registry, clock: Clock
) -> None:
    """The other way: B's summons, shown, is corrected 10 days later (still pending: the
    answer still holds) and dismissed 40 days later. The answer is wrong since the dismissal."""
    summons = dict(kind="dagvaarding", category="geweld")
    send(rt, "om", decision("13-000002-25", "SKN-0000000002", sequence=1, **summons))
    reg.catch_up()
    screen(reg, "SCR-B", "SKN-0000000002")
    clock.now += 10 * DAY
    summons["category"] = "vermogen"
    send(rt, "om", decision("13-000002-25", "SKN-0000000002", sequence=2, **summons))
    assert reg.catch_up().replaced == 1 and reg.rescreen() == []
    clock.now += 30 * DAY
    dismissed = decision(
        "13-000002-25",
        "SKN-0000000002",
        kind="sepot-onvoorwaardelijk",
        decided="2025-07-16T10:00:00Z",
        sequence=3,
    )
    send(rt, "om", dismissed)
    reg.catch_up()
    (item,) = reg.rescreen()
    assert (item.direction, item.state_now, item.delay_days) == ("wrongly-shown", "dismissed", 40.0)


def test_a_case_corrected_to_after_the_query_date_is_nothing_then_not_pending(
    rt: Runtime, reg: Registry, clock: Clock
) -> None:
    """B's summons, shown, is corrected to a date after the query: wrongly shown, and the item
    read "pending → pending" as if nothing had changed (a review): on the query date the case
    was nothing yet."""
    summons = dict(kind="dagvaarding", category="geweld")
    send(rt, "om", decision("13-000002-25", "SKN-0000000002", sequence=1, **summons))
    reg.catch_up()
    screen(reg, "SCR-B", "SKN-0000000002")  # the query date: 18 July 2025
    clock.now += 10 * DAY
    later = decision(
        "13-000002-25", "SKN-0000000002", sequence=2, decided="2025-08-25T10:00:00Z", **summons
    )
    send(rt, "om", later)
    reg.catch_up()
    (item,) = reg.rescreen()
    assert (item.direction, item.state_then, item.state_now) == ("wrongly-shown", "pending", None)
    assert item.fact_date == date(2025, 8, 25)


def test_a_dismissal_after_the_query_date_changes_nothing(
    rt: Runtime, reg: Registry, clock: Clock
) -> None:
    send(rt, "om", decision("13-000002-25", "SKN-0000000002", kind="dagvaarding", sequence=1))
    reg.catch_up()
    screen(reg, "SCR-B", "SKN-0000000002")
    clock.now += 10 * DAY
    send(
        rt,
        "om",
        decision(
            "13-000002-25",
            "SKN-0000000002",
            kind="sepot-onvoorwaardelijk",
            decided="2025-07-25T10:00:00Z",
            sequence=2,
        ),
    )
    reg.catch_up()
    assert reg.rescreen() == []


def test_rescreen_items_are_worked_in_order(rt: Runtime, reg: Registry, clock: Clock) -> None:
    screen(reg, "SCR-A", "SKN-0000000001")
    clock.now += DAY
    send(
        rt,
        "om",
        decision("13-000001-25", "SKN-0000000001", decided="2025-07-15T10:00:00Z", sequence=1),
    )
    reg.catch_up()
    key = {"reference": "SCR-A", "case_key": "13-000001-25", "direction": "missed"}
    with pytest.raises(RegistryInputError, match="cannot close an item that is open"):
        reg.work_item(**key, action="close", actor="op-1", outcome="vog herzien")
    assert reg.work_item(**key, action="assign", actor="op-1", assignee="team-vog") == "assigned"
    assert reg.work_item(**key, action="review", actor="op-1") == "reviewed"
    assert reg.work_item(**key, action="close", actor="op-1", outcome="VOG ingetrokken") == "closed"
    (item,) = reg.rescreen()
    assert (item.work_state, item.assignee, item.outcome) == (
        "closed",
        "team-vog",
        "VOG ingetrokken",
    )
    with pytest.raises(RegistryNotFound):
        reg.work_item(
            reference="SCR-X",
            case_key="x",
            direction="missed",
            action="assign",
            actor="a",
            assignee="t",
        )


def test_every_read_of_a_person_is_logged_with_purpose_and_ground(reg: Registry) -> None:
    screen(reg, "SCR-1", "SKN-0000000005", profile="continue-screening-taxi", day=date(2025, 8, 1))
    reg.extract(
        skn="SKN-0000000005", reader=Reader("ind", "beslisser", "ind-12", "verblijf", "art. 107 Vw")
    )
    reads = reg.db.reads_of("SKN-0000000005", 100)
    assert [(r.activity, r.organisation, r.purpose, r.legal_ground) for r in reads] == [
        ("extract-read", "ind", "verblijf", "art. 107 Vw"),
        ("screening-answered", "justis", "vog-aanvraag", "art. 35 Wjsg"),
    ]


def test_the_read_log_narrows_to_days_and_an_activity(reg: Registry, clock: Clock) -> None:
    """An operator looks for who read a person in one period, or only one kind of read."""
    skn = "SKN-0000000005"
    ind = Reader("ind", "beslisser", "ind-12", "verblijf", "art. 107 Vw")
    screen(reg, "SCR-1", skn, profile="continue-screening-taxi", day=date(2025, 8, 1))
    clock.now += 86_400  # the next day (Amsterdam): an extract
    reg.extract(skn=skn, reader=ind)
    clock.now += 86_400
    reg.extract(skn=skn, reader=ind)
    first = datetime.fromtimestamp(T0, AMSTERDAM).date()
    auditor = Reader("justid", "operator", "op-1", "toezicht", "art. 39f Wjsg")

    def activities(**kw: Any) -> list[str]:
        """What the reads found, but the log's own earlier reads (each look is logged)."""
        found = reg.reads_of(skn=skn, reader=auditor, **kw)
        return [r.activity for r in found if r.activity != "read-log-read" or "activity" in kw]

    assert activities(since=first, until=first) == ["screening-answered"]
    assert activities(since=first + timedelta(days=1)) == ["extract-read", "extract-read"]
    assert activities(until=first + timedelta(days=1)) == ["extract-read", "screening-answered"]
    assert activities(activity="screening-answered") == ["screening-answered"]
    # The calendar's first and last days are no error: everything lies between them.
    everything = ["extract-read", "extract-read", "screening-answered"]
    assert activities(since=date.min, until=date.max) == everything
    assert activities(activity="read-log-read", since=first + timedelta(days=3)) == []
    # The filter is in the log entry of this read itself.
    (entry,) = reg.db.reads_of(skn, 1)
    assert entry.detail == f"0 entries; since {first + timedelta(days=3)}; activity read-log-read"
    # Bad filters are refused, naming the problem, and log nothing.
    logged = len(reg.db.reads_of(skn, 1000))
    with pytest.raises(RegistryInputError, match="activity must be one of screening-answered"):
        reg.reads_of(skn=skn, reader=auditor, activity="looked")
    with pytest.raises(RegistryInputError, match=r"until \(2025-07-01\) is before since"):
        reg.reads_of(skn=skn, reader=auditor, since=first, until=date(2025, 7, 1))
    assert len(reg.db.reads_of(skn, 1000)) == logged


def test_reading_the_read_log_is_logged_and_needs_a_ground(reg: Registry) -> None:
    screen(reg, "SCR-1", "SKN-0000000005", profile="continue-screening-taxi", day=date(2025, 8, 1))
    auditor = Reader("justid", "operator", "op-1", "toezicht", "art. 39f Wjsg")
    assert [r.activity for r in reg.reads_of(skn="SKN-0000000005", reader=auditor)] == [
        "screening-answered"
    ]
    log = reg.db.reads_of("SKN-0000000005", 100)
    assert (log[0].activity, log[0].actor, log[0].detail) == ("read-log-read", "op-1", "1 entry")
    with pytest.raises(RegistryInputError, match="needs a legal ground"):
        reg.reads_of(skn="SKN-0000000005", reader=Reader("justid", "operator", "op-1", "x", ""))
    with pytest.raises(RegistryInputError, match="limit must be from 1 to 1000"):
        reg.reads_of(skn="SKN-0000000005", reader=auditor, limit=0)
    assert len(reg.db.reads_of("SKN-0000000005", 100)) == 2  # the refused reads logged nothing


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"profile": "nope"}, "unknown screening profile 'nope'"),
        ({"skn": "123"}, "skn must look like SKN-0123456789"),
        ({"consumer": "nobody"}, "unknown consumer 'nobody'"),
        ({"reference": ""}, "reference must be"),
        ({"reader": Reader("justis", "screener", "s", " ", "art. 35 Wjsg")}, "needs a purpose"),
        ({"reader": Reader("justis", "screener", "s", "vog", "")}, "needs a legal ground"),
    ],
)
def test_a_bad_screening_is_refused_and_stores_nothing(
    reg: Registry, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(RegistryInputError, match=message):
        screen(reg, "SCR-1", "SKN-0000000001", **change)
    assert counts(reg)["screenings"] == 0
    assert reg.db.reads_of("SKN-0000000001", 100) == []


def test_a_reference_is_answered_once_and_decisions_are_checked(reg: Registry) -> None:
    screen(reg, "SCR-1", "SKN-0000000001")
    with pytest.raises(RegistryInputError, match="answered already"):
        screen(reg, "SCR-1", "SKN-0000000001")
    reg.record_decision(
        reference="SCR-1", decision="afgegeven", decided_date=date(2025, 7, 20), actor="justis"
    )
    with pytest.raises(RegistryInputError, match="decision must be"):
        reg.record_decision(
            reference="SCR-1", decision="maybe", decided_date=date(2025, 7, 20), actor="justis"
        )
    with pytest.raises(RegistryNotFound):
        reg.record_decision(
            reference="SCR-2", decision="afgegeven", decided_date=date(2025, 7, 20), actor="justis"
        )
    for nonsense in (date(2030, 1, 1), date(1899, 12, 31)):
        with pytest.raises(RegistryInputError, match="not a date a decision"):
            reg.record_decision(
                reference="SCR-1", decision="geweigerd", decided_date=nonsense, actor="justis"
            )
    with pytest.raises(RegistryInputError, match="more than 92 days after today"):
        screen(reg, "SCR-9", "SKN-0000000001", day=date(2099, 1, 1))
    # A later decision replaces the earlier one, which is kept; the same one again is no change.
    for actor in ("j2", "j3"):
        reg.record_decision(
            reference="SCR-1", decision="ingetrokken", decided_date=date(2025, 8, 1), actor=actor
        )
    assert [c[:2] for c in reg.db.decision_changes("SCR-1")] == [("afgegeven", "2025-07-20")]
    with reg.db.tx() as cur:  # the repeat rewrote who recorded it (a review saw it): kept
        assert cur.execute("SELECT decision, actor FROM decisions").fetchall() == [
            ("ingetrokken", "j2")
        ]


def test_a_decision_cannot_be_dated_before_the_screening_was_answered(
    reg: Registry, clock: Clock
) -> None:
    """The answer's day is Amsterdam's: answered at 01:30 on 18 July there (23:30 UTC on the
    17th), a decision of the 17th is refused, naming the field, and nothing is recorded."""
    clock.now = T0 + 3.5 * 3600
    screen(reg, "SCR-1", "SKN-0000000001")
    for early in (date(2025, 7, 17), date(2020, 1, 1)):
        with pytest.raises(RegistryInputError, match="before the screening was answered") as e:
            reg.record_decision(
                reference="SCR-1", decision="afgegeven", decided_date=early, actor="justis"
            )
        assert e.value.field == "decidedDate" and "2025-07-18" in str(e.value)
    with reg.db.tx() as cur:
        assert cur.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0
    reg.record_decision(
        reference="SCR-1", decision="afgegeven", decided_date=date(2025, 7, 18), actor="justis"
    )
    with reg.db.tx() as cur:
        assert cur.execute("SELECT decided_date FROM decisions").fetchall() == [("2025-07-18",)]


def test_hold_advice_says_no_for_a_source_that_is_behind(
    rt: Runtime, reg: Registry, clock: Clock
) -> None:
    send(
        rt,
        "om",
        decision("13-000001-25", "SKN-0000000001", sequence=1, time="2025-07-17T19:40:00Z"),
    )
    reg.catch_up()
    assert {a.partner: a.rely for a in reg.hold_advice()}["om"] is True
    rt.exchange.set_partner_state(
        principal=LOCAL_OPERATOR, partner="om", state="isolated", reason="Citrix"
    )
    clock.now += 5 * DAY
    advice = {a.partner: a for a in reg.hold_advice(max_age_hours=48)}["om"]
    assert not advice.rely and "complete only up to 17-07-2025 21:40" in advice.reason
    assert "is isolated" in advice.reason
    # a generous threshold still says no while the OM is dark
    assert not {a.partner: a.rely for a in reg.hold_advice(max_age_hours=24 * 365)}["om"]
    with pytest.raises(RegistryInputError):
        reg.hold_advice(max_age_hours=0)


def test_a_partner_that_sent_nothing_yet_is_in_every_answer_and_its_state_counts(
    rt: Runtime, reg: Registry
) -> None:
    """Only the OM has sent; the police, isolated, never did: an answer must not look complete
    without it, and hold advice says no for it. An online partner that sent nothing (the KMar,
    which sends only emergency reports) holds nothing back."""
    send(rt, "om", decision("13-000001-25", "SKN-0000000001", sequence=1))
    reg.catch_up()
    rt.exchange.set_partner_state(
        principal=LOCAL_OPERATOR, partner="politie", state="isolated", reason="test"
    )
    fresh = reg.freshness(refresh=True)
    silent = {s.partner: s for s in fresh.sources if s.source is None}
    assert set(silent) == {"cjib", "eu-lidstaten", "justis", "kmar", "politie"}
    assert (
        silent["politie"].text() == "Politie: nog niets ontvangen; afgesloten; inhaalslag onbekend"
    )
    assert (
        "Politie: nog niets ontvangen; afgesloten"
        in screen(reg, "SCR-1", "SKN-0000000001").freshness.text()
    )
    assert "-;partner=politie;state=isolated;" in fresh.compact()
    assert silent["politie"].to_json()["source"] is None
    advice = {a.partner: a for a in reg.hold_advice()}
    assert not advice["politie"].rely and "is isolated" in advice["politie"].reason
    assert advice["kmar"].rely and advice["kmar"].reason == "nothing received, nothing waiting"
    assert advice["om"].rely


def _source(reg: Registry, partner: str) -> Any:
    (found,) = [s for s in reg.freshness(refresh=True).sources if s.partner == partner]
    return found


def _leased(
    event: dict[str, Any],
    delivery_id: int,
    *,
    sender: str = "om",
    supersedes: tuple[str, str] | None = None,
) -> LeasedDelivery:
    import orjson

    return LeasedDelivery(
        delivery_id=delivery_id,
        position=delivery_id,
        receiver="justid",
        sender=sender,
        source=event["source"],
        id=event["id"],
        type=event["type"],
        partitionkey=event["partitionkey"],
        attempts=1,
        lease_until=0.0,
        body=orjson.dumps(event),
        supersedes=supersedes,
    )


assert OM_SOURCE


def test_a_final_conviction_of_another_member_states_national_is_notified_with_its_delay(
    rt: Runtime, reg: Registry, clock: Clock
) -> None:
    send(rt, "om", decision("13-000001-25", "SKN-0000000001", kind="dagvaarding", sequence=1))
    german = judgment("13-000001-25", "SKN-0000000001", day="2025-07-01", sequence=2)
    german["data"]["nationality"] = "DE"
    dutch = judgment("13-000002-25", "SKN-0000000002", day="2025-07-01", sequence=3)
    acquitted = judgment("13-000003-25", "SKN-0000000003", verdict="vrijspraak", sequence=4)
    acquitted["data"]["nationality"] = "BE"
    send(rt, "om", german, dutch, acquitted)
    reg.catch_up()
    (owed,) = reg.notifications()
    assert (owed.member_state, owed.conviction_date, owed.due_date) == (
        "DE",
        date(2025, 7, 1),
        date(2025, 8, 12),
    )
    assert owed.state == "unsent" and not owed.late
    clock.now += 30 * DAY  # 16 August: four days past the due date
    assert [n.delay_days for n in reg.notifications(state="late")] == [4.0]
    assert reg.notify() == 1  # through the exchange, as Justid: its schema is checked there
    assert reg.notify() == 0
    (sent,) = reg.notifications(state="late")
    assert sent.state == "late" and sent.delay_days == 4.0
    got = rt.exchange.pull(principal=Principal("eu-lidstaten", "partner", "eu-lidstaten", "t"))
    assert [d.id for d in got] == [owed.notification_id]
    with pytest.raises(RegistryInputError, match="state must be"):
        reg.notifications(state="soon")


def test_the_consumers_decision_comes_back_as_a_message_and_shows_on_the_list(
    rt: Runtime, reg: Registry, clock: Clock
) -> None:
    screen(reg, "SCR-000000000001", "SKN-0000000001")
    clock.now += DAY
    decided = {
        "specversion": "1.0",
        "id": "justis-decision-1",
        "source": "urn:nld:oin:00000001003214350000:systeem:vog",
        "type": "nl.strafrechtketen.registratie.screeningsbesluit-genomen.v1",
        "subject": "SCR-000000000001",
        "time": "2025-07-19T09:00:00Z",
        "data": {
            "screeningId": "SCR-000000000001",
            "decision": "afgegeven",
            "decidedAt": "2025-07-19T09:00:00Z",
        },
    }
    send(rt, "justis", decided)
    send(rt, "om", decision("13-000001-25", "SKN-0000000001", decided="2025-07-15T10:00:00Z"))
    result = reg.catch_up()
    assert (result.applied, result.not_registrations) == (1, 1)
    with reg.db.tx() as cur:
        row = cur.execute("SELECT decision, decided_date, actor FROM decisions").fetchone()
    assert tuple(row) == ("afgegeven", "2025-07-19", "justis")
    (item,) = reg.rescreen()
    assert (item.direction, item.decision) == ("missed", "afgegeven")  # issued on a gap


def test_a_gap_closes_when_its_message_arrives_and_the_watermark_moves_past_it(
    rt: Runtime, reg: Registry, clock: Clock
) -> None:
    send(
        rt,
        "om",
        decision("13-000001-25", "SKN-0000000001", sequence=1, time="2025-07-17T19:00:00Z"),
        decision("13-000003-25", "SKN-0000000003", sequence=3, time="2025-07-17T21:00:00Z"),
    )
    reg.catch_up()
    om = _source(reg, "om")
    assert (om.watermark, om.gaps, om.complete_up_to) == (1, ((2, 2),), "2025-07-17T19:00:00Z")
    send(rt, "om", decision("13-000002-25", "SKN-0000000002", sequence=2))
    om = _source(reg, "om")
    assert (om.watermark, om.gaps, om.waiting) == (1, (), 1)  # it arrived; not yet applied
    clock.now += DAY
    reg.catch_up()
    om = _source(reg, "om")
    assert (om.watermark, om.gaps, om.waiting) == (3, (), 0)
    # nothing missing or waiting any more: complete up to now
    assert om.complete_up_to == "2025-07-18T20:00:00Z" and om.catch_up_percent == 100.0


def test_every_read_of_personal_data_is_logged(rt: Runtime, reg: Registry, clock: Clock) -> None:
    skn = "SKN-0000000001"
    screen(reg, "SCR-1", skn)
    reg.extract(skn=skn, reader=READER)
    clock.now += DAY
    send(rt, "om", decision("13-000001-25", skn, decided="2025-07-15T10:00:00Z"))
    reg.catch_up()
    reg.rescreen(reader=READER)
    reg.work_item(
        reference="SCR-1",
        case_key="13-000001-25",
        direction="missed",
        action="assign",
        actor="op-1",
        assignee="team-vog",
    )
    assert [r.activity for r in reg.db.reads_of(skn, 100)] == [
        "rescreen-item-assign",
        "rescreen-list-read",  # the list showed this person: in their own log too
        "extract-read",
        "screening-answered",
    ]
    assert [r.activity for r in reg.db.reads_of("*", 100)] == ["rescreen-list-read"]
    # the answer itself carries no official's name; the log keeps who read it
    assert {r.actor for r in reg.db.reads_of(skn, 100)} == {"screener-7", "op-1"}
    # The work on the item can be picked out of the log by its activity, as every other one.
    auditor = Reader("justid", "operator", "op-2", "toezicht", "art. 39f Wjsg")
    found = reg.reads_of(skn=skn, reader=auditor, activity="rescreen-item-assign")
    assert [(r.activity, r.actor) for r in found] == [("rescreen-item-assign", "op-1")]


def test_a_registration_applied_at_the_same_instant_as_an_answer_is_still_found(
    rt: Runtime, reg: Registry
) -> None:
    screen(reg, "SCR-1", "SKN-0000000001")  # the clock does not move in between
    send(rt, "om", decision("13-000001-25", "SKN-0000000001", decided="2025-07-15T10:00:00Z"))
    reg.catch_up()
    assert [(i.reference, i.direction) for i in reg.rescreen()] == [("SCR-1", "missed")]


def test_a_notification_resent_after_a_crash_is_the_same_event_and_an_overturned_one_is_not_owed(
    rt: Runtime, reg: Registry, clock: Clock
) -> None:
    german = judgment("13-000001-25", "SKN-0000000001", day="2025-07-01")
    german["data"]["nationality"] = "DE"
    belgian = judgment("13-000002-25", "SKN-0000000002", day="2025-07-01")
    belgian["data"]["nationality"] = "BE"
    send(rt, "om", german, belgian)
    reg.catch_up()
    first = reg.notification_events()
    clock.now += 3600  # sent, then the process died before it marked them
    rt.exchange.submit(principal=reg.principal, events=[e for _, e in first])
    again = reg.notification_events()
    assert [e for _, e in again] == [e for _, e in first]
    assert reg.notify() == 2  # the exchange answers duplicates, not a conflict
    # the Belgian conviction is overturned on appeal before anything was sent: not owed
    overturned = judgment("13-000003-25", "SKN-0000000003", day="2025-07-01")
    overturned["data"]["nationality"] = "BE"
    send(rt, "om", overturned)
    reg.catch_up()
    corrected = judgment("13-000003-25", "SKN-0000000003", verdict="vrijspraak", day="2025-07-01")
    send(rt, "om", corrected)
    reg.catch_up()
    assert [n.case_key for n in reg.notifications(state="unsent")] == []
    assert reg.notification_events() == []


def test_a_decision_on_another_consumers_screening_is_not_kept(rt: Runtime, reg: Registry) -> None:
    screen(reg, "SCR-000000000001", "SKN-0000000001", consumer="ind", profile="ind-verblijf")
    decided = {
        "specversion": "1.0",
        "id": "justis-decision-x",
        "source": "urn:nld:oin:00000001003214350000:systeem:vog",
        "type": "nl.strafrechtketen.registratie.screeningsbesluit-genomen.v1",
        "subject": "SCR-000000000001",
        "time": "2025-07-19T09:00:00Z",
        "data": {
            "screeningId": "SCR-000000000001",
            "decision": "geweigerd",
            "decidedAt": "2025-07-19T09:00:00Z",
        },
    }
    send(rt, "justis", decided)
    reg.catch_up()
    with reg.db.tx() as cur:
        assert cur.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0


def _decisions(reg: Registry) -> list[tuple[str, str, str]]:
    with reg.db.tx() as cur:
        return [
            tuple(r)
            for r in cur.execute(
                "SELECT s.reference, d.decision, d.decided_date FROM decisions d "
                "JOIN screenings s ON s.id = d.screening_id ORDER BY s.reference"
            )
        ]


def test_a_decision_message_dated_before_its_answer_is_refused_into_the_dead_letters(
    rt: Runtime, reg: Registry, clock: Clock
) -> None:
    """As a decision recorded by hand: answered on 17 July (Amsterdam time), a decision message
    of the 16th is not recorded but refused with its reason at every attempt, until the
    exchange dead-letters it. The day of a moment is Amsterdam's too: 22:30 UTC on the 16th is
    the 17th there. Before, the early decision was stored and acknowledged."""
    screen(reg, "SCR-000000000001", "SKN-0000000001")  # answered 2025-07-17 22:00 Amsterdam
    screen(reg, "SCR-000000000002", "SKN-0000000002")
    early = screening_decision("SCR-000000000001", decided="2025-07-16T09:00:00Z")
    same_day = screening_decision("SCR-000000000002", decided="2025-07-16T22:30:00Z")
    send(rt, "justis", early, same_day)
    result = reg.catch_up()
    assert result.not_registrations == 1
    reason = (
        "screening decision: the decision date 2025-07-16 is before the screening was answered "
        "(2025-07-17, Amsterdam time); give that day or later"
    )
    assert [why for _, why in result.failed] == [reason]
    assert _decisions(reg) == [("SCR-000000000002", "afgegeven", "2025-07-17")]
    for _ in range(rt.exchange.settings.max_attempts):
        clock.now += 3600  # past any backoff: the exchange offers it again
        again = reg.catch_up()
        assert again.not_registrations == 0 and len(again.failed) <= 1
    (dead,) = rt.exchange.dead_letters(principal=LOCAL_OPERATOR, receiver="justid")
    assert dead.sender == "justis" and dead.last_error == (
        f"{rt.exchange.settings.max_attempts} attempts failed: registry: {reason}"
    )
    assert _decisions(reg) == [("SCR-000000000002", "afgegeven", "2025-07-17")]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"decision": "misschien"}, "decision must be afgegeven, geweigerd, ingetrokken"),
        ({"decidedAt": "gisteren"}, "decidedAt is not a date: 'gisteren'"),
        ({"decidedAt": None}, "decidedAt must be a non-empty string"),
        ({"decidedAt": "2031-01-01T09:00:00Z"}, "not a date a decision on a screening can have"),
        ({"decidedAt": "1899-12-31T09:00:00Z"}, "not a date a decision on a screening can have"),
        ({"screeningId": "SCR 1"}, "reference must be"),
    ],
)
def test_a_decision_message_the_rules_refuse_is_listed_as_failed_not_dropped(
    reg: Registry, data: dict[str, Any], reason: str
) -> None:
    """A decision message with an unknown decision, a decidedAt that is no date or out of
    range, or a reference no screening has, is refused with its reason (catch-up nacks it)
    rather than acknowledged as applied and silently not kept; nothing is recorded, and it is
    not taken for a redelivery when the exchange offers it again."""
    screen(reg, "SCR-000000000001", "SKN-0000000001")
    event = screening_decision("SCR-000000000001")
    event["data"].update(data)
    for attempt in (1, 2):
        result = reg.apply([_leased(event, 7, sender="justis")])
        assert (result.not_registrations, result.redelivered) == (0, 0), attempt
        [(ident, why)] = result.failed
        assert ident == 7 and why.startswith("screening decision: ") and reason in why, why
    assert _decisions(reg) == []


def test_a_decision_message_is_applied_once_and_a_redelivery_is_recognised(
    reg: Registry,
) -> None:
    screen(reg, "SCR-000000000001", "SKN-0000000001")
    event = screening_decision("SCR-000000000001", decision="geweigerd")
    first = reg.apply([_leased(event, 1, sender="justis")])
    assert (first.not_registrations, first.redelivered, first.failed) == (1, 0, [])
    again = reg.apply([_leased(event, 2, sender="justis")])
    assert (again.not_registrations, again.redelivered, again.failed) == (0, 1, [])
    assert _decisions(reg) == [("SCR-000000000001", "geweigerd", "2025-07-19")]
    assert reg.db.decision_changes("SCR-000000000001") == []


def test_a_query_date_before_1900_is_refused(reg: Registry) -> None:
    with pytest.raises(RegistryInputError, match="before 1900"):
        screen(reg, "SCR-1", "SKN-0000000001", day=date(3, 1, 1))


def test_only_a_profiles_consumers_may_ask_and_only_they_read_extracts(reg: Registry) -> None:
    from ketenherstel.registry import RegistryForbidden

    with pytest.raises(RegistryForbidden, match="ind may not ask for a vog-natuurlijk-persoon"):
        screen(reg, "SCR-1", "SKN-0000000001", consumer="ind")
    police = Reader("politie", "rechercheur", "p-1", "nieuwsgierig", "geen")
    with pytest.raises(RegistryForbidden, match="politie may not read"):
        reg.extract(skn="SKN-0000000001", reader=police)
    assert counts(reg)["screenings"] == 0 and reg.db.reads_of("SKN-0000000001", 100) == []


def test_an_item_worked_meanwhile_is_a_conflict_not_a_lost_update(
    rt: Runtime, reg: Registry, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    screen(reg, "SCR-1", "SKN-0000000001")
    clock.now += DAY
    send(rt, "om", decision("13-000001-25", "SKN-0000000001", decided="2025-07-15T10:00:00Z"))
    reg.catch_up()
    (stale,) = reg.rescreen()  # read while the item is still open
    key = {"reference": "SCR-1", "case_key": "13-000001-25", "direction": "missed"}
    reg.work_item(**key, action="assign", actor="op-1", assignee="team-a")
    reg.work_item(**key, action="review", actor="op-1")
    # a second operator acts on what they read before: it must not overwrite the review
    monkeypatch.setattr(reg, "rescreen", lambda **_: [dataclasses.replace(stale)])
    with pytest.raises(RegistryConflict, match="worked meanwhile"):
        reg.work_item(**key, action="assign", actor="op-2", assignee="team-b")
    monkeypatch.undo()
    (item,) = reg.rescreen()
    assert (item.work_state, item.assignee) == ("reviewed", "team-a")


def test_an_item_being_worked_stays_listed_until_closed_when_its_difference_is_undone(
    rt: Runtime, reg: Registry, clock: Clock
) -> None:
    clock.now += DAY
    screen(reg, "SCR-A", "SKN-0000000001", day=None)
    clock.now += 40 * DAY
    send(
        rt,
        "om",
        decision("13-000001-25", "SKN-0000000001", decided="2025-07-15T10:00:00Z", sequence=1),
    )
    reg.catch_up()
    [item] = reg.rescreen()
    assert (item.direction, item.differs) == ("missed", True)
    reg.work_item(
        reference="SCR-A",
        case_key="13-000001-25",
        direction="missed",
        action="assign",
        actor="op-1",
        assignee="team-vog",
        note="brief aan Justis",
    )
    clock.now += DAY  # then the decision is undone: dismissed the same day
    send(
        rt,
        "om",
        decision(
            "13-000001-25",
            "SKN-0000000001",
            kind="sepot-onvoorwaardelijk",
            decided="2025-07-15T12:00:00Z",
            sequence=2,
        ),
    )
    reg.catch_up()
    [still] = reg.rescreen()
    assert (still.case_key, still.differs, still.work_state, still.note) == (
        "13-000001-25",
        False,
        "assigned",
        "brief aan Justis",
    )
    for action, extra in (("review", {}), ("close", {"outcome": "geen actie nodig"})):
        reg.work_item(
            reference="SCR-A",
            case_key="13-000001-25",
            direction="missed",
            action=action,
            actor="op-2",
            **extra,
        )
    assert reg.rescreen() == []  # closed, and it no longer differs: gone
    # Worked again, it was "no re-screen item" (a review): it is there, and closed.
    with pytest.raises(RegistryConflict, match="is closed: a closed item is not worked again"):
        reg.work_item(
            reference="SCR-A",
            case_key="13-000001-25",
            direction="missed",
            action="assign",
            actor="op-2",
            assignee="t",
        )


def test_a_new_registry_file_has_large_pages_and_an_older_file_keeps_its_own(
    tmp_path: Path,
) -> None:
    """A new file is made with `PAGE_SIZE` pages and checkpoints at about `WAL_BYTES`; a file
    made with SQLite's default pages opens as it is, its migrations applied, its pages kept."""

    def pragma(db: Any, name: str) -> int:
        with db.tx() as cur:
            return int(cur.execute(f"PRAGMA {name}").fetchone()[0])

    new = open_registry_db(str(tmp_path / "new.sqlite"))
    assert pragma(new, "page_size") == PAGE_SIZE
    assert pragma(new, "wal_autocheckpoint") == WAL_BYTES // PAGE_SIZE
    new.close()
    older = tmp_path / "older.sqlite"
    conn = sqlite3.connect(older)
    conn.execute("PRAGMA page_size=4096")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    kept = open_registry_db(str(older))
    assert pragma(kept, "page_size") == 4096
    assert pragma(kept, "wal_autocheckpoint") == WAL_BYTES // 4096
    assert kept.is_empty()
    kept.close()


def test_profiles_that_give_a_key_twice_are_refused_with_the_line() -> None:
    """yaml.safe_load kept the second look-back period: a VOG would look back 40 years where
    the file, read from the top, says 4."""
    text = (resources.files("ketenherstel.registry") / "profiles.yaml").read_text("utf-8")
    assert load_profiles(text)["vog-natuurlijk-persoon"].lookback_years == 4
    first = text.splitlines().index("    lookback_years: 4") + 1
    twice = text.replace(
        "    lookback_years: 4\n", "    lookback_years: 4\n    lookback_years: 40\n", 1
    )
    with pytest.raises(ValueError) as caught:
        load_profiles(twice)
    assert str(caught.value) == (
        f"profiles: not valid YAML: line {first + 1}, column 5: the key 'lookback_years' is "
        f"given twice in one mapping (first on line {first}); give each key once"
    )


def test_applying_pauses_the_collector_and_leaves_it_as_it_found_it(
    reg: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The collector is paused while a batch is applied (collector_paused) and set back as it
    was: running again after a batch, after one that failed, and still paused for a caller
    that had paused it."""
    import gc

    from ketenherstel.registry import _batch

    during: list[bool] = []
    write = _batch._Batch.write

    def watched(self: _batch._Batch) -> None:
        during.append(gc.isenabled())
        write(self)

    monkeypatch.setattr(_batch._Batch, "write", watched)
    first = _leased(decision("13-000001-25", "SKN-0000000001", sequence=1), 1)
    assert gc.isenabled()
    assert reg.apply([first]).applied == 1
    assert during == [False] and gc.isenabled()

    def broken(self: _batch._Batch) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(_batch._Batch, "write", broken)
    second = _leased(decision("13-000002-25", "SKN-0000000002", sequence=2), 2)
    with pytest.raises(sqlite3.OperationalError):
        reg.apply([second])
    assert gc.isenabled()
    assert counts(reg)["registrations"] == 1  # the failed batch's transaction rolled back

    monkeypatch.setattr(_batch._Batch, "write", watched)
    gc.disable()
    try:
        assert reg.apply([second]).applied == 1
        assert during == [False, False] and not gc.isenabled()
    finally:
        gc.enable()


def test_the_catch_up_percent_in_words_never_reads_100_while_something_waits() -> None:
    """99.6 % with one message waiting read "inhaalslag 100 %" (a review): rounded down."""
    from ketenherstel.registry.results import SourceFreshness

    line = SourceFreshness(
        partner="om",
        name="Openbaar Ministerie",
        source="urn:nld:oin:00000001003214347000:systeem:gps",
        state="online",
        watermark=240,
        complete_up_to="2025-07-17T20:00:00Z",
        gaps=(),
        waiting=1,
        catch_up_percent=99.6,
        as_of=0.0,
    ).text()
    assert line.endswith("; 1 bericht wacht; inhaalslag 99 %"), line
