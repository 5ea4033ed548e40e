"""Sequence tracking: the gap-free prefix and the gaps are what arrived, whatever the order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ketenherstel.store.ports import AcceptRequest
from ketenherstel.store.sqlite import SqliteStore
from tests.store.test_contract import SRC, msg


def missing(received: set[int]) -> tuple[tuple[int, int], ...]:
    top = max(received, default=0)
    ranges, start = [], None
    for n in range(1, top + 1):
        if n not in received and start is None:
            start = n
        if n in received and start is not None:
            ranges.append((start, n - 1))
            start = None
    if start is not None:
        ranges.append((start, top))
    return tuple(ranges)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=8),
        min_size=1,
        max_size=12,
    )
)
def test_gaps_and_watermark_match_what_arrived(batches: list[list[int]]) -> None:
    store = SqliteStore(":memory:")
    store.migrate()
    received: set[int] = set()
    ident = 0
    for batch in batches:
        messages = []
        for number in batch:
            ident += 1
            messages.append(msg(f"m{ident}", seq=number, key=None))
        [out] = store.accept([AcceptRequest(messages)], now=1.0)
        received.update(batch)
        expected = missing(received)
        assert out.gaps.get(SRC, ()) == expected
        state = store.sequence_state(SRC)
        assert state is not None
        assert state.gaps == expected
        assert state.max_seen == max(received)
        assert state.contiguous == (expected[0][0] - 1 if expected else max(received))
    store.close()


def test_a_permanent_gap_does_not_make_later_submissions_read_the_history() -> None:
    store = SqliteStore(":memory:")
    store.migrate()
    store.accept([AcceptRequest([msg("a", seq=1), msg("b", seq=3)])], now=1.0)
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    store.accept([AcceptRequest([msg(f"x{i}", seq=4 + i) for i in range(100)])], now=2.0)
    store._conn.set_trace_callback(None)
    assert not any("FROM messages WHERE source" in s for s in statements)
    state = store.sequence_state(SRC)
    assert state is not None and state.gaps == ((2, 2),) and state.max_seen == 103
    store.close()
