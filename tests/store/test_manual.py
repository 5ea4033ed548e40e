"""The manual-records contract: paper work, its matching to messages in both directions, and
interim procedures. One abstract suite, run against SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from ketenherstel.store._sql_manual import ManualSql
from ketenherstel.store.manual_ports import (
    ManualCorrection,
    ManualStateError,
    NewManualRecord,
    NewProcedure,
)
from ketenherstel.store.ports import AcceptRequest, AlreadyExists, NewMessage, NotFound

UITSPRAAK = "nl.strafrechtketen.registratie.uitspraak-geregistreerd.v1"
VH_BESLIST = "nl.strafrechtketen.vervolging.voorlopige-hechtenis-beslist.v1"
DAY = 86_400.0


def with_manual(cls: type[Any]) -> type[Any]:
    """The adapter class with the manual mixin (until `SqlStore` includes it)."""
    if issubclass(cls, ManualSql):
        return cls
    return type(f"Manual{cls.__name__}", (cls, ManualSql), {})


def record(
    bkey: str | None = "k1",
    *,
    partner: str = "om",
    case: str = "13-100001-25",
    type: str = UITSPRAAK,
    happened_at: float = 10 * DAY,
) -> NewManualRecord:
    return NewManualRecord(
        partner=partner,
        case=case,
        type=type,
        fields=(("parketnummer", case), ("judgmentDate", "2025-07-30")),
        bkey=bkey,
        happened_at=happened_at,
        registered_by="parket Amsterdam",
        origin="test",
    )


def put_message(
    store: Any,
    pos: int,
    bkey: str | None,
    *,
    sender: str = "om",
    type: str = UITSPRAAK,
    received_at: float = 20 * DAY,
) -> None:
    """A stored message row, written directly (as accept would) to test matching alone."""
    with store._tx() as cur:
        store._x(
            cur,
            "INSERT INTO messages (pos, source, id, sender, type, subject, partitionkey, "
            "content_hash, body, received_at, bkey) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                pos,
                f"urn:{sender}",
                f"m{pos}",
                sender,
                type,
                "c",
                "c",
                "h",
                b"{}",
                received_at,
                bkey,
            ),
        )


def hook(store: Any, rows: list[tuple[int, str, str, str]], now: float = 30 * DAY) -> None:
    with store._tx() as cur:
        store._match_manual(cur, rows, now)


class ManualContract:
    """Subclasses provide the `store` fixture."""

    # -- registering ------------------------------------------------------------------------

    def test_registered_record_keeps_its_values_and_history(self, store: Any) -> None:
        [r] = store.register_manual([record()], now=5.0, actor="op")
        assert (r.partner, r.case, r.type, r.bkey, r.status) == (
            "om",
            "13-100001-25",
            UITSPRAAK,
            "k1",
            "registered",
        )
        assert r.fields == (("parketnummer", "13-100001-25"), ("judgmentDate", "2025-07-30"))
        assert (r.happened_at, r.registered_at, r.registered_by) == (
            10 * DAY,
            5.0,
            "parket Amsterdam",
        )
        assert r.matched_position is None
        assert [(e.action, e.actor, e.detail) for e in r.history] == [("registered", "op", "test")]
        assert store.manual_record(r.id) == r

    def test_a_record_registered_after_its_message_is_matched_to_the_earliest_one(
        self, store: Any
    ) -> None:
        put_message(store, 7, "k1")
        put_message(store, 9, "k1")
        [r] = store.register_manual([record()], now=5.0, actor="op")
        assert (r.status, r.matched_position) == ("matched", 7)
        assert [e.action for e in r.history] == ["registered", "matched"]

    def test_a_message_of_another_sender_with_the_same_key_does_not_match(self, store: Any) -> None:
        put_message(store, 7, "k1", sender="kmar")
        [r] = store.register_manual([record()], now=5.0, actor="op")
        assert (r.status, r.matched_position) == ("registered", None)

    def test_a_bulk_registration_is_all_or_nothing(self, store: Any) -> None:
        store.register_manual([record("k1")], now=1.0, actor="op")
        with pytest.raises(AlreadyExists, match="already registered"):
            store.register_manual([record("k2"), record("k1")], now=2.0, actor="op")
        with pytest.raises(AlreadyExists, match="same partner and business key"):
            store.register_manual([record("k3"), record("k3")], now=2.0, actor="op")
        assert [r.bkey for r in store.manual_records()] == ["k1"]

    def test_the_facts_a_quarantine_check_compares_with(self, store: Any) -> None:
        """Messages by business key (those waiting in a quarantine too) and open paper records
        by (type, case), with their status and fields."""
        put_message(store, 7, "k1", sender="kmar")
        put_message(store, 8, "k1", sender="om")
        with store._tx() as cur:
            store._x(cur, "UPDATE messages SET quarantined = 1 WHERE pos = 8", ())
        _, b, c = store.register_manual(
            [record("k1"), record("k2", case="13-100002-25"), record("k3", case="13-100003-25")],
            now=1.0,
            actor="op",
        )
        store.withdraw_manual(record_id=c.id, reason="a mistake", actor="op", now=2.0)
        found = store.facts_for_check(
            ["k1"], [(UITSPRAAK, "13-100002-25"), (UITSPRAAK, "13-100003-25"), (VH_BESLIST, "x")]
        )
        assert [(f.kind, f.ref, f.partner, f.bkey, f.matched) for f in found] == [
            ("message", 7, "kmar", "k1", False),
            ("message", 8, "om", "k1", False),
            ("paper", b.id, "om", "k2", False),
        ]
        assert (found[2].case, found[2].status) == ("13-100002-25", "registered")
        assert found[2].fields == (("parketnummer", "13-100002-25"), ("judgmentDate", "2025-07-30"))
        assert store.facts_for_check([], []) == []

    def test_the_same_key_may_be_registered_by_two_partners(self, store: Any) -> None:
        store.register_manual([record("k1"), record("k1", partner="rechtspraak")], now=1, actor="x")
        assert store.registered_manual([("om", "k1"), ("rechtspraak", "k1"), ("om", "k9")]) == {
            ("om", "k1"): 1,
            ("rechtspraak", "k1"): 2,
        }

    def test_a_withdrawn_record_frees_its_key(self, store: Any) -> None:
        [r] = store.register_manual([record()], now=1.0, actor="op")
        store.withdraw_manual(record_id=r.id, reason="typo", actor="op", now=2.0)
        [again] = store.register_manual([record()], now=3.0, actor="op")
        assert again.id != r.id and again.status == "registered"

    # -- matching at accept -------------------------------------------------------------------

    def test_a_new_message_matches_a_waiting_record_of_its_sender(self, store: Any) -> None:
        [r] = store.register_manual([record()], now=1.0, actor="op")
        put_message(store, 11, "k1")
        put_message(store, 12, "k1", sender="kmar")
        hook(store, [(12, "k1", "kmar", UITSPRAAK), (11, "k1", "om", UITSPRAAK)])
        matched = store.manual_record(r.id)
        assert (matched.status, matched.matched_position) == ("matched", 11)
        assert (matched.history[-1].action, matched.history[-1].actor) == ("matched", "exchange")

    def test_a_matched_record_is_not_matched_again(self, store: Any) -> None:
        [r] = store.register_manual([record()], now=1.0, actor="op")
        hook(store, [(11, "k1", "om", UITSPRAAK)])
        hook(store, [(15, "k1", "om", UITSPRAAK)])
        assert store.manual_record(r.id).matched_position == 11
        assert len(store.manual_record(r.id).history) == 2

    def test_matching_keeps_a_confirmed_status_and_skips_withdrawn_records(
        self, store: Any
    ) -> None:
        a, b = store.register_manual([record("k1"), record("k2")], now=1.0, actor="op")
        store.confirm_manual(record_id=a.id, reason="checked on paper", actor="op", now=2.0)
        store.withdraw_manual(record_id=b.id, reason="never happened", actor="op", now=2.0)
        hook(store, [(11, "k1", "om", UITSPRAAK), (12, "k2", "om", UITSPRAAK)])
        assert (store.manual_record(a.id).status, store.manual_record(a.id).matched_position) == (
            "confirmed",
            11,
        )
        assert store.manual_record(b.id).matched_position is None

    def test_accept_matches_a_keyed_message_to_a_waiting_record(self, store: Any) -> None:
        [r] = store.register_manual([record("digest-1")], now=1.0, actor="op")
        body = b'{"x":1}'
        message = NewMessage(
            source="urn:nld:oin:00000001003214347000:systeem:gps",
            id="e1",
            sender="om",
            type=UITSPRAAK,
            subject="13-100001-25",
            partitionkey="13-100001-25",
            sequence=None,
            time=None,
            content_hash="sha256:" + hashlib.sha256(body).hexdigest(),
            body=body,
            receivers=("justid",),
            bkey="digest-1",
        )
        [out] = store.accept([AcceptRequest([message])], now=2.0)
        assert store.manual_record(r.id).matched_position == out.outcomes[0].position

    # -- listing, confirming, correcting, withdrawing -------------------------------------------

    def test_records_are_listed_with_filters(self, store: Any) -> None:
        put_message(store, 7, "k1")
        store.register_manual(
            [record("k1"), record("k2"), record("k3", partner="rechtspraak", type=VH_BESLIST)],
            now=1.0,
            actor="op",
        )
        assert [r.bkey for r in store.manual_records(status="matched")] == ["k1"]
        assert [r.bkey for r in store.manual_records(unmatched=True)] == ["k2", "k3"]
        assert [r.bkey for r in store.manual_records(partner="rechtspraak")] == ["k3"]
        assert [r.bkey for r in store.manual_records(type=VH_BESLIST)] == ["k3"]
        first = store.manual_records(limit=1)
        assert [r.bkey for r in store.manual_records(after=first[0].id)] == ["k2", "k3"]

    def test_confirming_needs_an_open_record(self, store: Any) -> None:
        [r] = store.register_manual([record()], now=1.0, actor="op")
        done = store.confirm_manual(record_id=r.id, reason="seen the file", actor="op2", now=2.0)
        assert done.status == "confirmed"
        assert (done.history[-1].reason, done.history[-1].actor) == ("seen the file", "op2")
        with pytest.raises(ManualStateError, match="confirmed already"):
            store.confirm_manual(record_id=r.id, reason="again", actor="op", now=3.0)
        with pytest.raises(NotFound):
            store.confirm_manual(record_id=999, reason="x", actor="op", now=3.0)

    def test_a_correction_keeps_the_history_and_re_matches(self, store: Any) -> None:
        put_message(store, 7, "k-right")
        [r] = store.register_manual([record("k-wrong", case="13-100009-25")], now=1.0, actor="op")
        fixed = store.correct_manual(
            record_id=r.id,
            correction=ManualCorrection(
                case="13-100001-25",
                type=UITSPRAAK,
                fields=(("parketnummer", "13-100001-25"), ("judgmentDate", "2025-07-30")),
                bkey="k-right",
                happened_at=11 * DAY,
            ),
            reason="wrong parketnummer on the form",
            actor="op",
            now=2.0,
        )
        assert (fixed.case, fixed.bkey, fixed.status, fixed.matched_position) == (
            "13-100001-25",
            "k-right",
            "corrected",
            7,
        )
        assert [e.action for e in fixed.history] == ["registered", "corrected"]
        assert fixed.history[-1].detail == (
            "case 13-100009-25 → 13-100001-25; when 11-01-1970 01:00 → 12-01-1970 01:00; "
            "message at position 7"
        )
        assert fixed.history[-1].reason == "wrong parketnummer on the form"

    def test_a_correction_says_what_changed_as_people_read_it(self, store: Any) -> None:
        """The history showed a Python tuple: "fields (('parketnummer', …), ('judgmentDate',
        '2025-07-18')) → (…)", and the date as seconds since 1970."""
        [r] = store.register_manual([record()], now=1.0, actor="op")

        def correct(type_: str, field: tuple[str, str], bkey: str, now: float) -> Any:
            return store.correct_manual(
                record_id=r.id,
                correction=ManualCorrection(
                    case="13-100001-25",
                    type=type_,
                    fields=(("parketnummer", "13-100001-25"), field),
                    bkey=bkey,
                    happened_at=10 * DAY + 90.5,
                ),
                reason="typo",
                actor="op",
                now=now,
            )

        fixed = correct(UITSPRAAK, ("judgmentDate", "2025-07-31"), "k1", 2.0)
        assert fixed.history[-1].detail == (
            "judgmentDate 2025-07-30 → 2025-07-31; when 11-01-1970 01:00 → 11-01-1970 01:01:30; "
            "no matching message"
        )
        fixed = correct(VH_BESLIST, ("measure", "bewaring"), "k9", 3.0)
        assert fixed.history[-1].detail == (
            f"type {UITSPRAAK} → {VH_BESLIST}; judgmentDate 2025-07-31 → (none); "
            "measure (none) → bewaring; no matching message"
        )

    def test_a_correction_may_not_take_the_key_of_another_open_record(self, store: Any) -> None:
        a, _ = store.register_manual([record("k1"), record("k2")], now=1.0, actor="op")
        correction = ManualCorrection("c", UITSPRAAK, (), "k2", 1.0)
        with pytest.raises(AlreadyExists):
            store.correct_manual(
                record_id=a.id, correction=correction, reason="r", actor="o", now=2
            )
        assert store.manual_record(a.id).bkey == "k1"

    def test_a_withdrawn_record_cannot_change_again(self, store: Any) -> None:
        [r] = store.register_manual([record()], now=1.0, actor="op")
        gone = store.withdraw_manual(record_id=r.id, reason="double entry", actor="op", now=2.0)
        assert gone.status == "withdrawn"
        for change in (store.withdraw_manual, store.confirm_manual):
            with pytest.raises(ManualStateError):
                change(record_id=r.id, reason="x", actor="op", now=3.0)
        with pytest.raises(ManualStateError, match="withdrawn"):
            store.correct_manual(
                record_id=r.id,
                correction=ManualCorrection("c", UITSPRAAK, (), "k9", 1.0),
                reason="x",
                actor="op",
                now=3.0,
            )

    # -- unmatched messages --------------------------------------------------------------------

    def test_unmatched_messages_are_those_of_paper_pairs_after_the_paper_began(
        self, store: Any
    ) -> None:
        store.register_manual([record("k1", happened_at=10 * DAY)], now=1.0, actor="op")
        put_message(store, 1, "k0", received_at=5 * DAY)  # before the paper work began
        put_message(store, 2, "k1")  # has its paper record
        put_message(store, 3, "k2")  # no paper record: listed
        put_message(store, 4, "k3", sender="kmar")  # a pair without paper work
        put_message(store, 5, "k4", type=VH_BESLIST)  # another type: another pair
        put_message(store, 6, None)  # no business key: cannot be matched
        put_message(store, 8, "k5")
        found = store.unmatched_messages(limit=100)
        assert [(m.position, m.bkey) for m in found] == [(3, "k2"), (8, "k5")]
        assert [m.position for m in store.unmatched_messages(after=3, limit=100)] == [8]
        assert [m.position for m in store.unmatched_messages(limit=1)] == [3]
        assert store.unmatched_messages(partner="kmar", limit=10) == []

    def test_a_message_whose_record_was_withdrawn_is_unmatched_again(self, store: Any) -> None:
        [r, _] = store.register_manual([record("k1"), record("k2")], now=1.0, actor="op")
        put_message(store, 2, "k1")
        assert store.unmatched_messages(limit=10) == []
        store.withdraw_manual(record_id=r.id, reason="wrong case", actor="op", now=2.0)
        assert [m.position for m in store.unmatched_messages(limit=10)] == [2]

    # -- interim procedures ----------------------------------------------------------------------

    def test_procedures_are_kept_and_retired_by_a_wave(self, store: Any) -> None:
        vh = store.add_procedure(
            NewProcedure(
                process="voorlopige-hechtenis",
                replaces="raadkamerbeslissingen per koerier naar het parket",
                valid_from=3 * DAY,
                partners_informed=("rechtspraak", "dji"),
                emergency_route=None,
                manual_type=VH_BESLIST,
            ),
            now=4 * DAY,
            actor="op",
        )
        reg = store.add_procedure(
            NewProcedure("registratie-justitiele-gegevens", "papieren uittreksels", 3 * DAY, ()),
            now=4 * DAY,
            actor="op",
        )
        assert vh.partners_informed == ("rechtspraak", "dji") and vh.active
        assert (vh.created_by, vh.manual_type) == ("op", VH_BESLIST)
        assert store.procedure(vh.id) == vh
        retired = store.retire_procedures(
            ["voorlopige-hechtenis", "dagvaarding"], "wave 2", 50 * DAY
        )
        assert [(p.id, p.retired_by, p.retired_at) for p in retired] == [
            (vh.id, "wave 2", 50 * DAY)
        ]
        assert store.retire_procedures(["voorlopige-hechtenis"], "wave 3", 60 * DAY) == []
        assert [p.id for p in store.procedures(active=True)] == [reg.id]
        assert [p.id for p in store.procedures(active=False)] == [vh.id]
        assert [p.id for p in store.procedures(process="voorlopige-hechtenis")] == [vh.id]
        with pytest.raises(ManualStateError, match="wave 2"):
            store.retire_procedure(procedure_id=vh.id, wave="wave 3", now=61 * DAY)
        assert store.retire_procedure(procedure_id=reg.id, wave="w", now=62 * DAY).retired_by == "w"
        with pytest.raises(NotFound):
            store.retire_procedure(procedure_id=999, wave="w", now=1.0)

    def test_an_identical_active_procedure_is_refused_naming_the_one_there(
        self, store: Any
    ) -> None:
        """The same process, text and start, added twice (a command run again), was kept
        twice as two active procedures."""
        first = NewProcedure("voorlopige-hechtenis", "fax naar griffie", 3 * DAY, ("om",))
        kept = store.add_procedure(first, now=4 * DAY, actor="op")
        again = NewProcedure("voorlopige-hechtenis", "fax naar griffie", 3 * DAY, ("dji",))
        with pytest.raises(AlreadyExists, match=f"interim procedure {kept.id} is already"):
            store.add_procedure(again, now=5 * DAY, actor="op")
        assert [p.id for p in store.procedures()] == [kept.id]
        # Another text, start or process is another procedure; so is one after a retirement.
        for other in (
            NewProcedure("voorlopige-hechtenis", "fax naar de griffie", 3 * DAY, ()),
            NewProcedure("voorlopige-hechtenis", "fax naar griffie", 4 * DAY, ()),
            NewProcedure("dagvaarding", "fax naar griffie", 3 * DAY, ()),
        ):
            store.add_procedure(other, now=5 * DAY, actor="op")
        store.retire_procedure(procedure_id=kept.id, wave="wave 2", now=6 * DAY)
        store.add_procedure(first, now=7 * DAY, actor="op")
        assert len(store.procedures(active=True)) == 4


class TestSqliteManual(ManualContract):
    @pytest.fixture
    def store(self, tmp_path) -> Iterator[Any]:  # type: ignore[no-untyped-def]
        from ketenherstel.store.sqlite import SqliteStore

        s = with_manual(SqliteStore)(tmp_path / "x.db")
        s.migrate()
        yield s
        s.close()


@pytest.mark.postgres
class TestPostgresManual(ManualContract):
    @pytest.fixture
    def store(self, pg_dsn: str, pg_schema: str) -> Iterator[Any]:
        from ketenherstel.store.postgres import PostgresStore

        s = with_manual(PostgresStore)(pg_dsn, schema=pg_schema)
        s.migrate()
        yield s
        s.close()


@pytest.mark.postgres
def test_on_postgres_a_registration_racing_an_accept_still_matches(
    pg_dsn: str, pg_schema: str
) -> None:
    """Without the advisory lock each transaction would miss the other's uncommitted row."""
    import threading
    import time

    from ketenherstel.store.postgres import PostgresStore

    cls = with_manual(PostgresStore)
    accepting, registering = cls(pg_dsn, schema=pg_schema), cls(pg_dsn, schema=pg_schema)
    accepting.migrate()
    ready = threading.Event()

    def accept_slowly() -> None:
        with accepting._tx() as cur:
            accepting._x(
                cur,
                "INSERT INTO messages (pos, source, id, sender, type, content_hash, body, "
                "received_at, bkey) VALUES (5, 'urn:om', 'm5', 'om', ?, 'h', ?, 1.0, 'k1')",
                (UITSPRAAK, b"{}"),
            )
            accepting._match_manual(cur, [(5, "k1", "om", UITSPRAAK)], 1.0)  # finds nothing yet
            ready.set()
            time.sleep(0.5)  # still uncommitted while the registration starts

    thread = threading.Thread(target=accept_slowly)
    thread.start()
    try:
        assert ready.wait(10)
        [r] = registering.register_manual([record("k1")], now=2.0, actor="op")
    finally:
        thread.join()
    assert (r.status, r.matched_position) == ("matched", 5)
    accepting.close()
    registering.close()
