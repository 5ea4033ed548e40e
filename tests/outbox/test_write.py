"""Writing to the outbox: checked like the exchange checks, sequenced gap-free, all or nothing."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ketenherstel.chain import Chain
from ketenherstel.outbox.agent import Outbox
from ketenherstel.outbox.errors import ConflictingWrite, OutboxConfigError, WriteRefused
from tests.factories import POLITIE_SOURCE, pv_event
from tests.outbox.conftest import OM_OIN, OM_SOURCE, summons


def stored(outbox: Outbox, source: str = OM_SOURCE) -> list[tuple[int, str]]:
    return [(m.sequence, m.id) for m in outbox.store.all_messages(source)]


def test_writes_get_gap_free_sequences_in_write_order(outbox: Outbox) -> None:
    first = outbox.write([summons(ident="a"), summons(ident="b")])
    second = outbox.write([summons(ident="c")])
    assert [(w.id, w.sequence, w.status) for w in first + second] == [
        ("a", 1, "written"),
        ("b", 2, "written"),
        ("c", 3, "written"),
    ]
    assert stored(outbox) == [(1, "a"), (2, "b"), (3, "c")]


def test_the_stored_event_carries_its_sequence_as_a_cloudevents_integer_string(
    outbox: Outbox,
) -> None:
    outbox.write([summons(ident="a")])
    event = outbox.store.all_messages(OM_SOURCE)[0].event()
    assert event["sequence"] == "1"
    assert event["sequencetype"] == "Integer"
    assert event["source"] == OM_SOURCE  # the outbox's source, filled in


def test_each_source_of_the_oin_counts_its_own_sequence(outbox: Outbox) -> None:
    other = f"urn:nld:oin:{OM_OIN}:systeem:compas"
    outbox.write([summons(ident="a"), summons(ident="b", source=other), summons(ident="c")])
    assert stored(outbox) == [(1, "a"), (2, "c")]
    assert stored(outbox, other) == [(1, "b")]


def test_rewriting_the_same_event_returns_its_sequence_and_stores_nothing_new(
    outbox: Outbox,
) -> None:
    event = summons(ident="a")
    outbox.write([event, summons(ident="b")])
    again = outbox.write([event])
    assert [(w.sequence, w.status) for w in again] == [(1, "duplicate")]
    # with the source spelled out it is still the same event
    assert outbox.write([{**event, "source": OM_SOURCE}])[0].status == "duplicate"
    assert stored(outbox) == [(1, "a"), (2, "b")]


def test_rewriting_an_id_with_another_body_is_refused_and_the_whole_write_is_undone(
    outbox: Outbox,
) -> None:
    outbox.write([summons(ident="a")])
    changed = summons(ident="a", subject="10-000002-25")
    with pytest.raises(ConflictingWrite) as caught:
        outbox.write([summons(ident="new"), changed])
    assert caught.value.problems[0].index == 1
    assert "written before (sequence 1)" in caught.value.problems[0].reason
    assert stored(outbox) == [(1, "a")]
    # and the sequence the refused write would have used is still free
    assert outbox.write([summons(ident="next")])[0].sequence == 2


def test_the_same_id_twice_in_one_write_is_one_message(outbox: Outbox) -> None:
    event = summons(ident="a")
    written = outbox.write([event, event])
    assert [(w.sequence, w.status) for w in written] == [(1, "written"), (1, "duplicate")]


def test_every_problem_is_listed_and_nothing_is_written(outbox: Outbox) -> None:
    bad = [
        summons(ident="ok"),
        summons(type="nl.unknown.v1"),
        summons(data={"parketnummer": "x"}),
        "not an object",
    ]
    with pytest.raises(WriteRefused) as caught:
        outbox.write(bad)
    indexes = {p.index for p in caught.value.problems}
    assert indexes == {1, 2, 3}
    assert any("unknown message type" in p.reason for p in caught.value.problems)
    assert stored(outbox) == []


def test_an_event_that_brings_its_own_sequence_is_refused(outbox: Outbox) -> None:
    with pytest.raises(WriteRefused) as caught:
        outbox.write([summons(sequence="7", sequencetype="Integer")])
    assert [p.field for p in caught.value.problems] == ["sequence"]
    assert "the outbox assigns the sequence" in caught.value.problems[0].reason


def test_a_source_of_another_oin_is_refused(outbox: Outbox) -> None:
    with pytest.raises(WriteRefused) as caught:
        outbox.write([summons(source=POLITIE_SOURCE)])
    assert "is not a source of this outbox's OIN" in caught.value.problems[0].reason


def test_a_system_the_chain_does_not_give_the_partner_is_refused(outbox: Outbox) -> None:
    with pytest.raises(WriteRefused) as caught:
        outbox.write([summons(source=OM_SOURCE.rsplit(":", 1)[0] + ":zzz")])
    [problem] = caught.value.problems
    assert (problem.field, problem.reason) == (
        "source",
        "om has no system 'zzz' in the chain model; its systems: gps, compas",
    )
    assert stored(outbox) == []


def test_a_type_the_partner_may_not_send_is_refused_before_the_exchange_would(
    outbox: Outbox,
) -> None:
    police_report = {**pv_event(), "source": OM_SOURCE}
    with pytest.raises(WriteRefused) as caught:
        outbox.write([police_report])
    assert caught.value.problems[0].field == "type"
    assert "om may not send" in caught.value.problems[0].reason


def test_messages_survive_reopening_and_sequences_continue(tmp_path: Path, chain: Chain) -> None:
    path = tmp_path / "box.db"
    box = Outbox.create(path, oin=OM_OIN, source=OM_SOURCE, chain=chain)
    box.write([summons(ident="a")])
    box.close()
    box = Outbox.open(path, chain=chain)
    try:
        assert box.write([summons(ident="b")])[0].sequence == 2
        assert [m.state for m in box.store.all_messages(OM_SOURCE)] == ["pending", "pending"]
    finally:
        box.close()


def test_set_up_is_checked_and_cannot_be_changed(tmp_path: Path, chain: Chain) -> None:
    path = tmp_path / "box.db"
    with pytest.raises(OutboxConfigError, match="does not belong to OIN"):
        Outbox.create(path, oin="00000001003214345000", source=OM_SOURCE, chain=chain)
    with pytest.raises(OutboxConfigError, match="urn:nld:oin"):
        Outbox.create(path, oin=OM_OIN, source="gps", chain=chain)
    Outbox.create(path, oin=OM_OIN, source=OM_SOURCE, chain=chain).close()
    Outbox.create(path, oin=OM_OIN, source=OM_SOURCE, chain=chain).close()  # harmless again
    other = f"urn:nld:oin:{OM_OIN}:systeem:compas"
    with pytest.raises(OutboxConfigError, match="cannot be set up again"):
        Outbox.create(path, oin=OM_OIN, source=other, chain=chain)


def test_opening_a_missing_or_foreign_file_says_what_to_do(tmp_path: Path, chain: Chain) -> None:
    with pytest.raises(OutboxConfigError, match="outbox init"):
        Outbox.open(tmp_path / "none.db", chain=chain)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(orjson.dumps({"not": "sqlite"}) * 200)
    with pytest.raises(OutboxConfigError, match="not an outbox file"):
        Outbox.open(garbage, chain=chain)


def test_a_file_sqlite_cannot_open_is_a_config_error_not_a_traceback(
    tmp_path: Path, chain: Chain
) -> None:
    """sqlite3.connect raised OperationalError for a directory; the store says what it is."""
    from ketenherstel.outbox.store import OutboxStore

    with pytest.raises(OutboxConfigError, match="cannot open the outbox file"):
        OutboxStore(tmp_path)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutboxConfigError, match="cannot make the folder of the outbox file"):
        Outbox.create(tmp_path / "afile" / "o.db", oin=OM_OIN, source=OM_SOURCE, chain=chain)


def test_status_counts_pending_messages_per_source(outbox: Outbox) -> None:
    outbox.write([summons(ident="a"), summons(ident="b")])
    state = outbox.status()
    assert state.pending == 2
    assert state.reachable is None
    assert state.oldest_pending_at is not None
    [source] = state.sources
    assert (source.last_sequence, source.last_forwarded, source.pending) == (2, 0, 2)
    assert state.to_json()["sources"][0]["lastSequence"] == 2
