"""Property: whatever the writes and however often the exchange is unreachable or its answers
are lost, every written message reaches the real exchange exactly once, in sequence order."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketenherstel.chain import load_chain
from ketenherstel.chain.loader import BUILTIN_CHAIN_PATH
from ketenherstel.client import ExchangeClient
from ketenherstel.outbox.agent import Outbox
from ketenherstel.web.server import ServerThread
from tests.outbox.conftest import OM_OIN, LiveExchange, start_exchange, summons

Weather = Literal["up", "down", "lost"]
_SYSTEMS = itertools.count(1)


class Weathered(httpx.BaseTransport):
    """The real exchange, behind a link that is up, down (nothing sent) or loses the answer."""

    def __init__(self, weather: Weather) -> None:
        self.weather = weather
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.weather == "down":
            raise httpx.ConnectError("no route to the exchange", request=request)
        response = self.inner.handle_request(request)
        response.read()
        if self.weather == "lost":
            raise httpx.ReadTimeout("the answer was lost on the way back", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


_EXAMPLES = 400  # systems the OM is given here: one an example (40), shrinking included


@pytest.fixture(scope="module")
def prop_chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in chain with the OM given a system an example: each example's outbox starts
    its own sequence at 1 against the one exchange, and the exchange takes only the systems the
    chain gives a partner."""
    folder = tmp_path_factory.mktemp("chain")
    shutil.copytree(BUILTIN_CHAIN_PATH.parent, folder, dirs_exist_ok=True)
    path = folder / BUILTIN_CHAIN_PATH.name
    text = path.read_text(encoding="utf-8")
    systems = ", ".join(f"prop-{n}" for n in range(1, _EXAMPLES + 1))
    assert text.count("systems: [gps, compas]") == 1
    path.write_text(text.replace("systems: [gps, compas]", f"systems: [gps, {systems}]"))
    return path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, prop_chain: Path) -> Iterator[LiveExchange]:
    db = tmp_path_factory.mktemp("exchange") / "exchange.db"
    rt, token = start_exchange(db, chain_file=prop_chain)
    with ServerThread(rt) as server:
        yield LiveExchange(server.url, rt, token)
    rt.close()


operations = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.integers(1, 4)),
        st.tuples(st.just("rewrite"), st.integers(0, 50)),
        st.tuples(st.just("forward"), st.sampled_from(["up", "down", "lost"]), st.integers(1, 3)),
    ),
    max_size=12,
)


def forward(outbox: Outbox, live: LiveExchange, weather: Weather, batch_size: int) -> None:
    with ExchangeClient(live.url, live.token, transport=Weathered(weather)) as client:
        result = outbox.forward_once(client, batch_size=batch_size)
    if weather != "up":
        assert result.status in ("unreachable", "idle")
        assert result.forwarded == 0
    else:
        assert result.status in ("forwarded", "idle"), result.detail


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_every_written_message_reaches_the_exchange_once_in_sequence_order(
    ops: list[tuple[Any, ...]], live: LiveExchange, prop_chain: Path
) -> None:
    chain = load_chain(prop_chain)
    source = f"urn:nld:oin:{OM_OIN}:systeem:prop-{next(_SYSTEMS)}"
    with tempfile.TemporaryDirectory() as tmp:
        outbox = Outbox.create(Path(tmp) / "outbox.db", oin=OM_OIN, source=source, chain=chain)
        try:
            written: list[dict[str, Any]] = []
            for op in ops:
                if op[0] == "write":
                    batch = [summons() for _ in range(op[1])]
                    outbox.write(batch)
                    written.extend(batch)
                elif op[0] == "rewrite" and written:
                    again = outbox.write([written[op[1] % len(written)]])
                    assert again[0].status == "duplicate"
                elif op[0] == "forward":
                    forward(outbox, live, op[1], op[2])
            forward(outbox, live, "up", 3)
            assert outbox.status().pending == 0
            mine = [(m.sequence, m.id) for m in outbox.store.all_messages(source)]
        finally:
            outbox.close()

    assert [ident for _, ident in mine] == [e["id"] for e in written]
    store = live.runtime.store
    records = [store.message(source, ident) for _, ident in mine]
    arrived = sorted((r for r in records if r is not None), key=lambda r: r.position)
    assert len(arrived) == len(mine), "a written message never reached the exchange"
    assert [r.sequence for r in arrived] == [s for s, _ in mine]  # arrival order = sequence
    for record in arrived:
        assert len(store.deliveries_of(record.position)) == 1  # delivered once, not twice
    if mine:
        state = store.sequence_state(source)
        assert state is not None and (state.contiguous, state.gaps) == (len(mine), ())
