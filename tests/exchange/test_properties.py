"""Property tests of the exchange's invariants under random interleavings of submit, duplicate
re-submit, re-send of the same fact under a new id, hold and open (per sender and type, with
rates), isolate / return / online, two-operator quarantine release, emergency routes, pull, ack,
nack, lease expiry and restart (close and reopen the store):

- every accepted message is delivered to each routed receiver until acked;
- nothing goes to a receiver the routing (and the open emergency routes) does not name;
- nothing goes to an isolated receiver, and nothing leaves quarantine unreleased;
- per receiver, a message is handed out only once every earlier message with its partition key
  has been acked (per-partition order);
- a duplicate, by id or by business key, never makes a second delivery.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ketenherstel.chain import load_chain
from ketenherstel.exchange.auth import LOCAL_OPERATOR, Principal
from ketenherstel.exchange.service import Exchange, ExchangeSettings
from ketenherstel.store.ports import Store
from ketenherstel.store.postgres import PostgresStore
from ketenherstel.store.sqlite import SqliteStore
from tests.conftest import PG_DSN, need_server

OINS = {
    "politie": "00000001003214345000",
    "kmar": "00000001003214346000",
    "om": "00000001003214347000",
    "dji": "00000001003214352000",
    "justid": "00000001003214349000",
}
ROUTES = {
    "nl.proeftuin.opsporing.melding.v1": (("politie", "kmar"), ("om",)),
    "nl.proeftuin.vervolging.beslissing.v1": (("politie",), ("om", "dji")),
    "nl.proeftuin.registratie.inschrijving.v1": (("kmar",), ("justid", "om")),
    "nl.proeftuin.registratie.afdoening.v1": (("om",), ("justid",)),
}
MELDING = "nl.proeftuin.opsporing.melding.v1"
AFDOENING = "nl.proeftuin.registratie.afdoening.v1"
RECEIVERS = ("om", "dji", "justid")
SCHEMA = (
    '{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", '
    '"required": ["n", "k"], "properties": {"n": {"type": "integer"}, "k": {"type": "string"}}}'
)


def write_chain(folder: Path) -> Path:
    partners = "\n".join(
        f'  {k}:\n    name: {k}\n    oin: "{oin}"\n    kind: test\n    systems: [sys]\n'
        "    description: test partner"
        for k, oin in OINS.items()
    )
    processes = "\n".join(
        f"  {p}:\n    name: {p}\n    phase: {ph}\n    order: {i}\n    deadline: null\n"
        "    description: test process"
        for i, (p, ph) in enumerate(
            [
                ("melding", "opsporing"),
                ("beslissing", "vervolging"),
                ("inschrijving", "registratie"),
                ("afdoening", "registratie"),
            ]
        )
    )
    types = "\n".join(
        f"  - type: {t}\n    name: {t}\n    process: {t.split('.')[3]}\n"
        f"    senders: [{', '.join(s)}]\n    receivers: [{', '.join(r)}]\n"
        "    personal_data: false\n    business_key: [k]"
        for t, (s, r) in ROUTES.items()
    )
    text = f'version: "0.0.1"\n\npartners:\n{partners}\n\nprocesses:\n{processes}\n\n'
    text += f"message_types:\n{types}\n"
    (folder / "schemas").mkdir()
    for t in ROUTES:
        (folder / "schemas" / f"{t}.json").write_text(SCHEMA)
    path = folder / "chain.yaml"
    path.write_text(text)
    return path


class ExchangeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="kh-prop-"))
        self.chain = load_chain(write_chain(self.dir))
        self.now = 1_000.0
        self.ids = itertools.count(1)
        self.exchange: Exchange | None = None
        self.open_exchange(first=True)
        self.accepted: list[tuple[str, str, str, tuple[str, ...]]] = []  # id, key, type, receivers
        self.bodies: dict[str, dict[str, Any]] = {}
        self.acked: set[tuple[str, str]] = set()
        self.leased: dict[str, dict[int, str]] = {r: {} for r in RECEIVERS}
        self.delivery_of: dict[tuple[str, str], int] = {}
        self.state: dict[str, str] = {k: "online" for k in OINS}
        self.quarantined: set[str] = set()  # ids waiting for release
        self.route: int | None = None

    def open_store(self) -> Store:
        return SqliteStore(self.dir / "x.db")

    def open_exchange(self, *, first: bool = False) -> None:
        store = self.open_store()
        store.migrate()
        self.exchange = Exchange(
            store=store,
            chain=self.chain,
            settings=ExchangeSettings(max_attempts=10_000, visibility_timeout=30.0),
            clock=lambda: self.now,
        )
        if first:
            for key in OINS:
                self.exchange.register_partner(principal=LOCAL_OPERATOR, key=key)

    @property
    def ex(self) -> Exchange:
        assert self.exchange is not None
        return self.exchange

    def as_partner(self, key: str) -> Principal:
        return Principal(key, "partner", key, "token")

    @initialize()
    def start(self) -> None:
        pass

    @rule(
        sender=st.sampled_from(["politie", "kmar", "om"]),
        items=st.lists(
            st.tuples(st.integers(0, 3), st.booleans(), st.integers(0, 2)), min_size=1, max_size=6
        ),
    )
    def submit(self, sender: str, items: list[tuple[int, bool, int]]) -> None:
        events = []
        fresh = []
        for case, resend, type_pick in items:
            mine = [
                a
                for a in self.accepted
                if self.bodies[a[0]]["source"].endswith(f"{OINS[sender]}:systeem:sys")
            ]
            if resend and mine:
                events.append(self.bodies[mine[case % len(mine)][0]])
                continue
            allowed = [t for t, (senders, _) in ROUTES.items() if sender in senders]
            type_name = allowed[type_pick % len(allowed)]
            ident = f"e{next(self.ids)}"
            event = {
                "specversion": "1.0",
                "id": ident,
                "source": f"urn:nld:oin:{OINS[sender]}:systeem:sys",
                "type": type_name,
                "partitionkey": f"case-{case}",
                "data": {"n": case, "k": f"fact-{ident}"},
            }
            events.append(event)
            fresh.append(event)
        result = self.ex.submit(principal=self.as_partner(sender), events=events)
        new_ids = set()
        for event, outcome in zip(events, result.outcomes, strict=True):
            if outcome.status == "accepted":
                assert event["id"] not in self.bodies, "a re-sent event was stored twice"
                new_ids.add(event["id"])
                receivers = self.chain.receivers_for(event["type"], sender)
                if self.route is not None and (event["type"], sender) == (MELDING, "politie"):
                    receivers = (*receivers, "justid")
                assert outcome.deliveries == len(receivers)
                self.accepted.append((event["id"], event["partitionkey"], event["type"], receivers))
                self.bodies[event["id"]] = event
                assert outcome.quarantined == (self.state[sender] != "online")
                if outcome.quarantined:
                    self.quarantined.add(event["id"])
            else:
                assert event["id"] in self.bodies or event["id"] in new_ids
                assert outcome.deliveries == 0
        assert new_ids == {e["id"] for e in fresh}

    @rule(sender=st.sampled_from(["politie", "kmar", "om"]), pick=st.integers(0, 50))
    def resend_fact_under_new_id(self, sender: str, pick: int) -> None:
        """A partner re-sends a fact it sent before, under a new id (a paper or ebMS resend)."""
        mine = [
            a
            for a in self.accepted
            if self.bodies[a[0]]["source"].endswith(f"{OINS[sender]}:systeem:sys")
        ]
        if not mine:
            return
        event = {**self.bodies[mine[pick % len(mine)][0]], "id": f"r{next(self.ids)}"}
        [outcome] = self.ex.submit(principal=self.as_partner(sender), events=[event]).outcomes
        assert (outcome.status, outcome.by, outcome.deliveries) == ("duplicate", "business-key", 0)

    @rule(
        partner=st.sampled_from(["politie", "om"]),
        to=st.sampled_from(["isolated", "returning", "online"]),
    )
    def partner_state(self, partner: str, to: str) -> None:
        current = self.state[partner]
        if current == to or (to == "returning" and current != "isolated"):
            return
        self.ex.set_partner_state(principal=LOCAL_OPERATOR, partner=partner, state=to, reason="t")
        self.state[partner] = to

    @rule(partner=st.sampled_from(["politie", "kmar", "om"]))
    def release_quarantine(self, partner: str) -> None:
        mine = {
            i
            for i in self.quarantined
            if self.bodies[i]["source"].endswith(f"{OINS[partner]}:systeem:sys")
        }
        if not mine:
            return
        first = Principal("op-a", "operator", None, "token")
        second = Principal("op-b", "operator", None, "token")
        release, _ = self.ex.request_release(principal=first, partner=partner, reason="t")
        assert release.messages == len(mine)
        self.ex.approve_release(principal=second, release_id=release.id)
        self.quarantined -= mine

    @rule(
        receiver=st.sampled_from(RECEIVERS),
        sender=st.sampled_from(["*", "politie", "om"]),
        scope=st.sampled_from(["*", MELDING]),
        held=st.booleans(),
        rate=st.sampled_from([None, 0.5, 3.0]),
    )
    def hold_or_open_scoped(
        self, receiver: str, sender: str, scope: str, held: bool, rate: float | None
    ) -> None:
        self.ex.set_channel(
            principal=LOCAL_OPERATOR,
            receiver=receiver,
            sender=sender,
            scope=scope,
            state="held" if held else "open",
            reason="test",
            rate=None if held else rate,
        )

    @rule()
    def toggle_route(self) -> None:
        if self.route is None:
            self.route = self.ex.open_route(
                principal=LOCAL_OPERATOR,
                type=MELDING,
                sender="politie",
                around="om",
                receiver="justid",
                superseded_by=AFDOENING,
                reason="spoedroute",
            ).id
        else:
            self.ex.close_route(principal=LOCAL_OPERATOR, route_id=self.route)
            self.route = None

    @rule(receiver=st.sampled_from(RECEIVERS), limit=st.integers(1, 5))
    def pull(self, receiver: str, limit: int) -> None:
        got = self.ex.pull(principal=self.as_partner(receiver), limit=limit)
        if self.state[receiver] == "isolated":
            assert got == [], "a delivery went to an isolated receiver"
        for d in got:
            assert d.id not in self.quarantined, "a quarantined message left unreleased"
            entry = next(a for a in self.accepted if a[0] == d.id)
            assert receiver in entry[3], "delivered to a receiver the routing does not name"
            assert (receiver, d.id) not in self.acked, "an acked delivery came back"
            previous = self.delivery_of.setdefault((receiver, d.id), d.delivery_id)
            assert previous == d.delivery_id, "a second delivery for the same message"
            for earlier in self.accepted:
                if earlier[0] == d.id:
                    break
                if earlier[1] == entry[1] and receiver in earlier[3]:
                    assert (receiver, earlier[0]) in self.acked, "partition order broken"
            self.leased[receiver][d.delivery_id] = d.id

    @rule(receiver=st.sampled_from(RECEIVERS), data=st.data())
    def ack(self, receiver: str, data: st.DataObject) -> None:
        if not self.leased[receiver]:
            return
        chosen = data.draw(st.sets(st.sampled_from(sorted(self.leased[receiver])), min_size=1))
        results = self.ex.ack(principal=self.as_partner(receiver), delivery_ids=sorted(chosen))
        for r in results:
            assert r.status in ("acked", "already-acked")
            self.acked.add((receiver, self.leased[receiver].pop(r.delivery_id)))

    @rule(receiver=st.sampled_from(RECEIVERS), data=st.data())
    def nack(self, receiver: str, data: st.DataObject) -> None:
        if not self.leased[receiver]:
            return
        chosen = data.draw(st.sampled_from(sorted(self.leased[receiver])))
        r = self.ex.nack(
            principal=self.as_partner(receiver), delivery_id=chosen, reason="test", retry_after=0
        )
        if r.status == "retry":
            self.leased[receiver].pop(chosen)

    @rule(receiver=st.sampled_from(RECEIVERS), held=st.booleans())
    def hold_or_open(self, receiver: str, held: bool) -> None:
        self.ex.set_channel(
            principal=LOCAL_OPERATOR,
            receiver=receiver,
            sender="*",
            state="held" if held else "open",
            reason="test",
        )

    @rule(seconds=st.sampled_from([1.0, 10.0, 31.0]))
    def advance_clock(self, seconds: float) -> None:
        self.now += seconds
        if seconds > 30:  # every lease has expired: those deliveries may come again
            for leased in self.leased.values():
                leased.clear()

    @rule()
    def restart(self) -> None:
        self.ex.close()
        self.ex.store.close()
        self.open_exchange()

    @invariant()
    def nothing_acked_is_pending(self) -> None:
        assert all(r in RECEIVERS for r, _ in self.acked)

    def teardown(self) -> None:
        try:
            self.drain_and_check()
        finally:
            self.ex.close()
            self.ex.store.close()
            self.drop()
            shutil.rmtree(self.dir, ignore_errors=True)

    def drop(self) -> None:
        """Remove the store's data (the SQLite file goes with the temporary folder)."""

    def drain_and_check(self) -> None:
        for partner in ("politie", "om"):
            if self.state[partner] == "isolated":
                self.partner_state(partner, "returning")
            self.partner_state(partner, "online")
        for partner in ("politie", "kmar", "om"):
            self.release_quarantine(partner)
        for receiver in RECEIVERS:
            self.hold_or_open(receiver, held=False)
            for sender in ("politie", "kmar", "om"):  # hold "om" from "*" made narrower rules go
                self.hold_or_open_scoped(receiver, sender, "*", held=False, rate=None)
        for _ in range(500):
            self.advance_clock(31.0)
            progressed = False
            for receiver in RECEIVERS:
                self.pull(receiver, limit=5)
                if self.leased[receiver]:
                    progressed = True
                    results = self.ex.ack(
                        principal=self.as_partner(receiver),
                        delivery_ids=sorted(self.leased[receiver]),
                    )
                    for r in results:
                        self.acked.add((receiver, self.leased[receiver].pop(r.delivery_id)))
            if not progressed:
                break
        expected = {(r, ident) for ident, _, _, receivers in self.accepted for r in receivers}
        assert self.acked == expected, "an accepted message was not delivered to every receiver"


ExchangeMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestExchangeInvariants = ExchangeMachine.TestCase


class PostgresExchangeMachine(ExchangeMachine):
    """The same interleavings against the PostgreSQL store; restart is a new connection."""

    def __init__(self) -> None:
        need_server("PostgreSQL", "127.0.0.1", 5432)
        self.schema = "p_" + uuid.uuid4().hex[:12]
        super().__init__()

    def open_store(self) -> Store:
        return PostgresStore(PG_DSN, schema=self.schema)

    def drop(self) -> None:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


PostgresExchangeMachine.TestCase.settings = settings(
    max_examples=12,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestExchangeInvariantsOnPostgres = pytest.mark.postgres(PostgresExchangeMachine.TestCase)
