"""Paper work use cases on a real SQLite store, with real submissions through the exchange:
roles, bad input storing nothing, matching in both directions, the unmatched lists, audit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ketenherstel.chain import Chain
from ketenherstel.exchange.auth import LOCAL_OPERATOR, Principal
from ketenherstel.exchange.errors import Forbidden, InvalidInput, NotFound, StateConflict
from ketenherstel.exchange.manual import ManualWork
from ketenherstel.exchange.service import Exchange
from ketenherstel.store.manual_ports import manual_store
from tests.manual.support import (
    MAPPING,
    NOW,
    UITSPRAAK,
    VH_BESLIST,
    csv_bytes,
    open_manual_sqlite,
    row,
)

OM = Principal("om", "partner", "om", "token")
RECHTSPRAAK = Principal("rechtspraak", "partner", "rechtspraak", "token")
VIEWER = Principal("vw", "viewer", None, "token")
OM_SOURCE = "urn:nld:oin:00000001003214347000:systeem:gps"


class World:
    def __init__(self, store: Any, chain: Chain) -> None:
        self.store = store
        self.exchange = Exchange(store=store, chain=chain, clock=lambda: NOW)
        self.work = ManualWork(store=manual_store(store), chain=chain, clock=lambda: NOW)
        for key in ("om", "justid", "rechtspraak", "dji"):
            self.exchange.register_partner(principal=LOCAL_OPERATOR, key=key)

    def add(self, case: str = "13-100001-25", **kw: Any) -> Any:
        values: dict[str, Any] = {
            "partner": "om",
            "case": case,
            "type": "uitspraak-geregistreerd",
            "when": "21-07-2025",
            "role": "parket Amsterdam",
            "fields": {"judgmentDate": "18-07-2025"},
        }
        values.update(kw)
        return self.work.register(principal=LOCAL_OPERATOR, **values)

    def send_judgment(
        self, case: str = "13-100001-25", day: str = "2025-07-18", *, ident: str | None = None
    ) -> int:
        event = {
            "specversion": "1.0",
            "id": ident or str(uuid.uuid4()),
            "source": OM_SOURCE,
            "type": UITSPRAAK,
            "subject": case,
            "partitionkey": case,
            "time": "2025-08-25T10:00:00Z",
            "datacontenttype": "application/json",
            "data": {
                "parketnummer": case,
                "skn": "SKN-0000012345",
                "court": "rechtbank-amsterdam",
                "judgmentDate": day,
                "verdict": "veroordeling",
                "sanctions": [],
                "final": True,
            },
        }
        result = self.exchange.submit(principal=OM, events=[event])
        return result.outcomes[0].position


@pytest.fixture
def world(tmp_path: Path, chain: Chain) -> Iterator[World]:
    store = open_manual_sqlite(tmp_path / "w.db")
    yield World(store, chain)
    store.close()


# -- registering and matching ---------------------------------------------------------------


def test_paper_work_registered_after_its_message_is_matched_at_once(world: World) -> None:
    position = world.send_judgment()
    record = world.add()
    assert (record.status, record.matched_position) == ("matched", position)


def test_a_message_arriving_after_the_paper_work_matches_it(world: World) -> None:
    record = world.add()
    other = world.add(case="13-100002-25")
    position = world.send_judgment()
    assert world.work.record(principal=VIEWER, record_id=record.id).matched_position == position
    assert world.work.record(principal=VIEWER, record_id=other.id).status == "registered"


def test_a_judgment_of_another_date_is_another_fact(world: World) -> None:
    record = world.add()
    world.send_judgment(day="2025-07-25")
    assert world.work.record(principal=VIEWER, record_id=record.id).matched_position is None


def test_only_operators_register(world: World) -> None:
    for who in (VIEWER, OM):
        with pytest.raises(Forbidden):
            world.work.register(
                principal=who,
                partner="om",
                case="13-100001-25",
                type=UITSPRAAK,
                when="21-07-2025",
                role="parket",
            )


def test_a_refused_entry_lists_every_problem_and_stores_nothing(world: World) -> None:
    with pytest.raises(InvalidInput) as caught:
        world.add(partner="politie", case="", when="tomorrow", fields={})
    fields = {p.field for p in caught.value.problems}
    assert fields == {"partner", "case", "when", "fields.judgmentDate"}
    assert world.store.manual_records() == []


def test_the_same_paper_work_twice_is_a_conflict(world: World) -> None:
    world.add()
    with pytest.raises(StateConflict, match="already registered"):
        world.add(role="another role")


# -- imports ----------------------------------------------------------------------------------


def test_a_dry_run_reports_every_refusal_and_stores_nothing(world: World) -> None:
    data = csv_bytes(row(), row(partner="politie"), row("13-100003-25", when="x"))
    result = world.work.import_csv(principal=VIEWER, data=data, mapping=MAPPING, dry_run=True)
    assert result.dry_run and result.stored == ()
    assert [(r.line, r.column) for r in result.report.refusals] == [(3, "Partij"), (4, "Datum")]
    assert world.store.manual_records() == []


def test_a_file_with_a_refused_row_is_refused_whole(world: World) -> None:
    data = csv_bytes(row(), row(partner="politie"))
    with pytest.raises(InvalidInput, match="1 of 2 rows are refused, so the whole file") as caught:
        world.work.import_csv(principal=LOCAL_OPERATOR, data=data, mapping=MAPPING, dry_run=False)
    assert [(p.index, p.field) for p in caught.value.problems] == [(3, "Partij")]
    assert world.store.manual_records() == []


def test_skip_refused_registers_the_good_rows_in_one_go(world: World) -> None:
    position = world.send_judgment("13-100002-25")
    data = csv_bytes(row(), row("13-100002-25"), row(partner="politie"))
    result = world.work.import_csv(
        principal=LOCAL_OPERATOR, data=data, mapping=MAPPING, dry_run=False, skip_refused=True
    )
    assert [r.status for r in result.stored] == ["registered", "matched"]
    assert not result.refused_whole and result.would_register == 2  # was: refused whole, 0
    assert result.stored[1].matched_position == position
    assert result.stored[0].history[0].detail == "csv upload line 2"
    assert world.store.audit_log(limit=5)[0].action == "manual-imported"
    again = world.work.import_csv(principal=VIEWER, data=data, mapping=MAPPING, dry_run=True)
    assert [(r.line, r.reason.split(" ")[0]) for r in again.report.refusals] == [
        (2, "already"),
        (3, "already"),
        (4, "politie"),
    ]


def test_every_row_refused_with_skip_refused_is_refused_listing_every_row(world: World) -> None:
    """It was 'the file has no rows to register', without the rows or why; a dry run said
    0 rows would be registered, as if that were a success."""
    data = csv_bytes(row(partner="politie"), row("13-100003-25", when="x"))
    with pytest.raises(InvalidInput) as caught:
        world.work.import_csv(
            principal=LOCAL_OPERATOR, data=data, mapping=MAPPING, dry_run=False, skip_refused=True
        )
    assert caught.value.detail.startswith("every row is refused (2 of 2), so nothing was imported")
    assert [(p.index, p.field) for p in caught.value.problems] == [(2, "Partij"), (3, "Datum")]
    assert world.store.manual_records() == []
    dry = world.work.import_csv(
        principal=VIEWER, data=data, mapping=MAPPING, dry_run=True, skip_refused=True
    )
    assert dry.refused_whole and dry.would_register == 0 and len(dry.report.refusals) == 2


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_file_with_a_header_and_no_rows_is_refused_dry_run_or_not(
    world: World, dry_run: bool
) -> None:
    with pytest.raises(InvalidInput) as caught:
        world.work.import_csv(
            principal=LOCAL_OPERATOR, data=csv_bytes(), mapping=MAPPING, dry_run=dry_run,
            name="griffie.csv",
        )  # fmt: skip
    assert caught.value.detail.startswith("griffie.csv: no rows: the file has a header and no")
    assert world.store.manual_records() == []


def test_a_file_read_as_cp1252_that_is_refused_says_so_naming_the_file(world: World) -> None:
    """A file read as cp1252 with a note when all went well; refused, the note was lost."""
    data = csv_bytes(row(), row(partner="Ministerie é")).decode().encode("cp1252")
    with pytest.raises(InvalidInput) as caught:
        world.work.import_csv(
            principal=LOCAL_OPERATOR, data=data, mapping=MAPPING, dry_run=False, name="g.csv"
        )
    assert caught.value.detail.startswith("g.csv: 1 of 2 rows are refused")
    assert "note: the file is not UTF-8 (byte " in caught.value.detail
    assert "it was read as cp1252" in caught.value.detail
    header = "Partij;Parketnummer;Soort;Datum;Geregistreerd dóór;Uitspraakdatum\n"
    with pytest.raises(InvalidInput) as caught:
        world.work.import_csv(
            principal=VIEWER, data=header.encode("cp1252") + csv_bytes(row()).split(b"\n", 1)[1],
            mapping=MAPPING, dry_run=True, name="g.csv",
        )  # fmt: skip
    assert caught.value.detail.startswith("g.csv: the mapping names columns the file does not")
    assert "note: the file is not UTF-8 (byte 47); it was read as cp1252" in caught.value.detail
    # A mapping that is wrong in itself is no fault of the file: not named, no note.
    with pytest.raises(InvalidInput) as caught:
        world.work.import_csv(principal=VIEWER, data=data, mapping={}, dry_run=True, name="g.csv")
    assert not caught.value.detail.startswith("g.csv") and "note:" not in caught.value.detail


def test_a_utf16_file_is_refused_as_utf16_naming_the_file(world: World) -> None:
    with pytest.raises(InvalidInput) as caught:
        world.work.import_csv(
            principal=LOCAL_OPERATOR, data=csv_bytes(row()).decode().encode("utf-16"),
            mapping=MAPPING, dry_run=False, name="g.csv",
        )  # fmt: skip
    assert caught.value.detail.startswith("g.csv: the file is UTF-16, not UTF-8")
    assert world.store.manual_records() == []


def test_an_import_tells_its_progress_checking_then_storing(world: World) -> None:
    seen: list[tuple[str, int, int]] = []
    data = csv_bytes(*(row(f"13-{100001 + i}-25") for i in range(1500)))
    result = world.work.import_csv(
        principal=LOCAL_OPERATOR, data=data, mapping=MAPPING, dry_run=False,
        progress=lambda what, done, total: seen.append((what, done, total)),
    )  # fmt: skip
    assert len(result.stored) == 1500
    checking = [s for s in seen if s[0] == "checking lines"]
    assert checking[0][1:] == (0, 1501) and checking[-1][1:] == (1501, 1501) and len(checking) > 2
    assert seen[len(checking) :] == [("storing records", 0, 1500), ("storing records", 1500, 1500)]
    seen.clear()
    world.work.import_csv(
        principal=VIEWER, data=data, mapping=MAPPING, dry_run=True,
        progress=lambda what, done, total: seen.append((what, done, total)),
    )  # fmt: skip
    assert {s[0] for s in seen} == {"checking lines"}  # a dry run stores nothing


def test_a_bad_mapping_is_bad_input_and_a_viewer_may_not_import(world: World) -> None:
    with pytest.raises(InvalidInput) as caught:
        world.work.import_csv(principal=VIEWER, data=csv_bytes(row()), mapping={}, dry_run=True)
    assert "mapping.columns.case" in {p.field for p in caught.value.problems}
    with pytest.raises(Forbidden):
        world.work.import_csv(
            principal=VIEWER, data=csv_bytes(row()), mapping=MAPPING, dry_run=False
        )


# -- reading, settling -------------------------------------------------------------------------


def test_a_partner_reads_only_its_own_records(world: World) -> None:
    mine = world.add()
    theirs = world.add(
        partner="rechtspraak",
        type="voorlopige-hechtenis-beslist",
        fields={"measure": "bewaring", "decision": "bevolen"},
    )
    assert [r.id for r in world.work.records(principal=OM)] == [mine.id]
    assert [r.id for r in world.work.records(principal=VIEWER)] == [mine.id, theirs.id]
    with pytest.raises(Forbidden):
        world.work.records(principal=OM, partner="rechtspraak")
    with pytest.raises(NotFound):
        world.work.record(principal=OM, record_id=theirs.id)
    assert world.work.records(principal=VIEWER, type=VH_BESLIST)[0].id == theirs.id
    with pytest.raises(InvalidInput, match="status is one of"):
        world.work.records(principal=VIEWER, status="lost")


def test_confirm_correct_and_withdraw_need_a_reason_and_keep_history(world: World) -> None:
    record = world.add(case="13-100009-25")
    with pytest.raises(InvalidInput, match="reason"):
        world.work.confirm(principal=LOCAL_OPERATOR, record_id=record.id, reason="  ")
    with pytest.raises(InvalidInput, match="nothing to correct"):
        world.work.correct(principal=LOCAL_OPERATOR, record_id=record.id, reason="r")
    position = world.send_judgment()
    fixed = world.work.correct(
        principal=LOCAL_OPERATOR, record_id=record.id, reason="typo", case="13-100001-25"
    )
    assert (fixed.status, fixed.matched_position) == ("corrected", position)
    assert fixed.fields == (("parketnummer", "13-100001-25"), ("judgmentDate", "2025-07-18"))
    done = world.work.confirm(principal=LOCAL_OPERATOR, record_id=record.id, reason="checked")
    assert [e.action for e in done.history] == ["registered", "corrected", "confirmed"]
    with pytest.raises(StateConflict):
        world.work.confirm(principal=LOCAL_OPERATOR, record_id=record.id, reason="again")
    gone = world.work.withdraw(principal=LOCAL_OPERATOR, record_id=record.id, reason="double")
    assert gone.status == "withdrawn"
    with pytest.raises(NotFound):
        world.work.withdraw(principal=LOCAL_OPERATOR, record_id=999, reason="x")
    with pytest.raises(Forbidden):
        world.work.withdraw(principal=VIEWER, record_id=record.id, reason="x")


def test_a_reason_with_an_skn_or_an_e_mail_address_is_refused_and_not_repeated(
    world: World,
) -> None:
    """A reason goes to the audit trail and the record's history, which carry no personal
    data: refused as the exchange's reasons are, and changing nothing."""
    record = world.add(case="13-100009-25")
    for reason in ("op verzoek van SKN-1643701197", "gemeld door jan.jansen@om.nl"):
        for change in (world.work.confirm, world.work.withdraw):
            with pytest.raises(InvalidInput, match="no SKN, BSN or e-mail address") as exc:
                change(principal=LOCAL_OPERATOR, record_id=record.id, reason=reason)
            assert "1643701197" not in str(exc.value) and "jansen" not in str(exc.value)
    assert world.work.record(principal=LOCAL_OPERATOR, record_id=record.id).status == "registered"


def test_unmatched_both_ways(world: World) -> None:
    world.add()  # paper work on 21 July; its message never comes
    listed = world.send_judgment("13-100002-25")  # digital only: no paper record
    assert [r.case for r in world.work.records(principal=VIEWER, unmatched=True)] == [
        "13-100001-25"
    ]
    found = world.work.unmatched_messages(principal=VIEWER)
    assert [m.position for m in found] == [listed]
    read = world.store.audit_log(limit=1)[0]  # each names a case: a read of personal data
    assert (read.action, read.object, read.detail) == (
        "unmatched-read",
        "1 unmatched messages",
        "all",
    )
    assert [m.position for m in world.work.unmatched_messages(principal=OM)] == [listed]
    with pytest.raises(Forbidden):
        world.work.unmatched_messages(principal=RECHTSPRAAK, partner="om")


# -- interim procedures ------------------------------------------------------------------------


def test_a_procedure_is_checked_against_the_chain(world: World) -> None:
    with pytest.raises(InvalidInput) as caught:
        world.work.add_procedure(
            principal=LOCAL_OPERATOR,
            process="voorlopige-hechtenis",
            replaces="",
            valid_from="21-07-2025",
            partners_informed=["rechtspraak", "ministerie"],
            manual_type="uitspraak-geregistreerd",
        )
    assert sorted((p.field, p.index) for p in caught.value.problems) == [
        ("manualType", None),
        ("partnersInformed", 1),
        ("replaces", None),
    ]
    assert world.store.procedures() == []


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_world(request: pytest.FixtureRequest, tmp_path: Path, chain: Chain) -> Iterator[World]:
    """A world on a SQLite store or on PostgreSQL (a fresh schema)."""
    from ketenherstel.store.postgres import PostgresStore

    if request.param == "sqlite":
        store = open_manual_sqlite(tmp_path / "w.db")
    else:
        dsn, schema = request.getfixturevalue("pg_dsn"), request.getfixturevalue("pg_schema")
        store = PostgresStore(dsn, schema=schema)
        store.migrate()
    yield World(store, chain)
    store.close()


def test_a_procedure_names_an_emergency_route_that_exists_by_its_id(any_world: World) -> None:
    world = any_world

    def add(route: str) -> Any:
        return world.work.add_procedure(
            principal=LOCAL_OPERATOR,
            process="voorlopige-hechtenis",
            replaces="raadkamerbeslissingen per koerier",
            valid_from="21-07-2025",
            emergency_route=route,
        )

    for route, needle in (
        ("1", "there is no emergency route 1; there are no emergency routes yet"),
        ("spoedroute politie", "'spoedroute politie' is not a route id"),
    ):
        with pytest.raises(InvalidInput) as caught:
            add(route)
        assert [(p.field, needle in p.reason) for p in caught.value.problems] == [
            ("emergencyRoute", True)
        ]
    opened = world.exchange.open_route(
        principal=LOCAL_OPERATOR,
        type="nl.strafrechtketen.registratie.spoedmelding-zwaar-delict.v1",
        sender="politie",
        around="om",
        receiver="justid",
        superseded_by="nl.strafrechtketen.registratie.om-afdoening-geregistreerd.v1",
        reason="spoedroute zware delicten",
    )
    with pytest.raises(InvalidInput) as caught:
        add(str(opened.id + 1))
    reason = caught.value.problems[0].reason
    assert f"there is no emergency route {opened.id + 1}; the routes are: {opened.id} " in reason
    assert "politie → justid, spoedmelding-zwaar-delict" in reason
    assert world.store.procedures() == []
    assert add(f" {opened.id} ").emergency_route == str(opened.id)


def test_procedures_are_retired_when_the_wave_opens(world: World) -> None:
    vh = world.work.add_procedure(
        principal=LOCAL_OPERATOR,
        process="voorlopige-hechtenis",
        replaces="raadkamerbeslissingen per koerier; griffie registreert op papier",
        valid_from="21-07-2025",
        partners_informed=["Rechtspraak", "dji"],
        manual_type="voorlopige-hechtenis-beslist",
    )
    assert (vh.partners_informed, vh.manual_type) == (("rechtspraak", "dji"), VH_BESLIST)
    assert [p.id for p in world.work.procedures(principal=RECHTSPRAAK)] == [vh.id]
    assert world.work.procedures(principal=OM) == []
    [retired] = world.work.retire_procedures(
        principal=LOCAL_OPERATOR, processes=["voorlopige-hechtenis"], wave="wave 2"
    )
    assert (retired.retired_by, retired.active) == ("wave 2", False)
    with pytest.raises(StateConflict, match="retired already"):
        world.work.retire_procedure(principal=LOCAL_OPERATOR, procedure_id=vh.id, wave="wave 3")
    with pytest.raises(InvalidInput, match="unknown processes"):
        world.work.retire_procedures(principal=LOCAL_OPERATOR, processes=["x"], wave="w")
