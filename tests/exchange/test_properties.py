"""Property tests of the exchange's invariants under random interleavings of submit, duplicate
re-submit, re-send of the same fact under a new id, hold and open (per sender, type and process,
with rates), isolate / return / online, narrower channels opened for a dark partner (a go-live
wave), two-operator quarantine release, emergency routes, pull, ack, nack, lease expiry, dead
letters (a nack or an expired lease after the last attempt), an operator's re-send of a dead
letter, and restart (close and reopen the store):

- every accepted message is delivered to each routed receiver until acked;
- nothing goes to a receiver the routing (and the open emergency routes) does not name;
- nothing goes out on a held channel: the machine keeps its own model of the channel rules;
- nothing goes to an isolated receiver, whatever channels are opened for it;
- nothing a quarantined (isolated or returning) sender sent leaves quarantine before two
  operators release it: checked on every pull and, after every step, in the store;
- per receiver, a message is handed out only once every earlier message with its partition key
  has been acked or dead-lettered (per-partition order); a dead letter is never handed out
  until an operator re-sends it, and then under its one delivery id;
- a duplicate, by id or by business key, never makes a second delivery;
- the same business key sent again (by the same or another sender, the same fact or a
  correction) is a duplicate or a supersession exactly as a model written apart from the
  store predicts: compared with the latest message of that key, where a message still waiting
  in quarantine counts only for its own sender.

Rules that need a dark partner, a quarantined message or a lease have preconditions, so the
machine spends its steps on isolate -> submit -> open narrower -> pull rather than on no-ops.
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
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from ketenherstel.chain import load_chain
from ketenherstel.exchange.auth import LOCAL_OPERATOR, Principal
from ketenherstel.exchange.errors import InvalidInput, StateConflict
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
SENDERS = ("politie", "kmar", "om")
DARKABLE = ("politie", "kmar", "om")  # partners the machine isolates
ANY = "*"
SCOPES = (ANY, MELDING, "process:beslissing")
KEYLESS = 4  # an event of "case" 4 has no partition key: nothing orders it
ITEMS = st.lists(  # (case, re-send an earlier event, pick of type)
    st.tuples(st.integers(0, KEYLESS), st.booleans(), st.integers(0, 2)), min_size=1, max_size=6
)
SCHEMA = (
    '{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", '
    '"required": ["n", "k"], "properties": {"n": {"type": "integer"}, "k": {"type": "string"}}}'
)


def process_of(type_name: str) -> str:
    """The process of a test message type (its fourth dotted part)."""
    return type_name.split(".")[3]


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
        f"  - type: {t}\n    name: {t}\n    process: {process_of(t)}\n"
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


class ChannelModel:
    """Channel rules as decision 0008 states them, written apart from the store's code:

    - the most specific matching rule decides (a named receiver or sender counts 1, a type
      scope 2, a process scope 1); on a tie, held wins; no matching rule means open;
    - an isolated receiver gets nothing, whatever the rules say;
    - setting a rule removes the narrower rules beneath it.
    """

    def __init__(self) -> None:
        self.rules: dict[tuple[str, str, str], bool] = {}  # (receiver, sender, scope) -> held

    def change(self, receiver: str, sender: str, scope: str, *, held: bool) -> None:
        new = (receiver, sender, scope)
        for old in list(self.rules):
            if all(n in (ANY, o) for n, o in zip(new, old, strict=True)):
                del self.rules[old]
        self.rules[new] = held

    def held(self, receiver: str, sender: str, type_name: str, isolated: set[str]) -> bool:
        if receiver in isolated:
            return True
        best: tuple[int, bool] | None = None  # (specificity, held): held wins a tie
        for (r, s, scope), held in self.rules.items():
            if r not in (ANY, receiver) or s not in (ANY, sender):
                continue
            if scope == ANY:
                weight = 0
            elif scope.startswith("process:"):
                if scope != f"process:{process_of(type_name)}":
                    continue
                weight = 1
            elif scope == type_name:
                weight = 2
            else:
                continue
            candidate = ((r != ANY) + (s != ANY) + weight, held)
            if best is None or candidate > best:
                best = candidate
        return best is not None and best[1]


class ExchangeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="kh-prop-"))
        self.chain = load_chain(write_chain(self.dir))
        self.now = 1_000.0
        self.ids = itertools.count(1)
        self.exchange: Exchange | None = None
        self.open_exchange(first=True)
        # id, partition key, type, receivers
        self.accepted: list[tuple[str, str | None, str, tuple[str, ...]]] = []
        self.bodies: dict[str, dict[str, Any]] = {}
        self.sender_of: dict[str, str] = {}
        self.position: dict[str, int] = {}
        self.acked: set[tuple[str, str]] = set()
        self.leased: dict[str, dict[int, str]] = {r: {} for r in RECEIVERS}
        self.delivery_of: dict[tuple[str, str], int] = {}
        self.state: dict[str, str] = {k: "online" for k in OINS}
        self.quarantined: set[str] = set()  # ids waiting for release
        self.channels = ChannelModel()
        self.dead: dict[tuple[str, str], int] = {}  # (receiver, id) -> its delivery id
        self.route: int | None = None
        self.routed = False  # a route was ever opened: its flow stays one the chain carries

    def open_store(self) -> Store:
        return SqliteStore(self.dir / "x.db")

    def open_exchange(self, *, first: bool = False) -> None:
        store = self.open_store()
        store.migrate()
        self.exchange = Exchange(
            store=store,
            chain=self.chain,
            # Two attempts: a second nack or expired lease dead-letters (a first one retries).
            settings=ExchangeSettings(max_attempts=2, visibility_timeout=30.0),
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

    def in_state(self, *states: str) -> list[str]:
        return [p for p in DARKABLE if self.state[p] in states]

    def dark(self) -> list[str]:
        """Partners whose own traffic goes to quarantine (isolated or returning)."""
        return self.in_state("isolated", "returning")

    def isolated(self) -> set[str]:
        return set(self.in_state("isolated"))

    def sync_dead(self) -> None:
        """The dead letters as the store lists them: a lease that expired after the last
        attempt dead-letters inside a pull, so the model reads them rather than guessing."""
        at = {pos: ident for ident, pos in self.position.items()}
        records = self.ex.dead_letters(principal=LOCAL_OPERATOR, limit=1000)
        self.dead = {(d.receiver, at[d.position]): d.delivery_id for d in records}
        if self.dead:
            event("a delivery was dead-lettered")
        for (receiver, _), delivery_id in self.dead.items():
            self.leased[receiver].pop(delivery_id, None)

    def sent_by(self, ident: str, sender: str) -> bool:
        return bool(self.bodies[ident]["source"].endswith(f"{OINS[sender]}:systeem:sys"))

    @initialize()
    def start(self) -> None:
        pass

    # -- submissions ----------------------------------------------------------------------------

    @rule(sender=st.sampled_from(SENDERS), items=ITEMS)
    def submit(self, sender: str, items: list[tuple[int, bool, int]]) -> None:
        events = []
        fresh = []
        for case, resend, type_pick in items:
            mine = [a for a in self.accepted if self.sent_by(a[0], sender)]
            if resend and mine:
                events.append(self.bodies[mine[case % len(mine)][0]])
                continue
            allowed = [t for t, (senders, _) in ROUTES.items() if sender in senders]
            type_name = allowed[type_pick % len(allowed)]
            ident = f"e{next(self.ids)}"
            event: dict[str, Any] = {
                "specversion": "1.0",
                "id": ident,
                "source": f"urn:nld:oin:{OINS[sender]}:systeem:sys",
                "type": type_name,
                "partitionkey": f"case-{case}" if case != KEYLESS else None,
                "data": {"n": case, "k": f"fact-{ident}"},
            }
            event = {k: v for k, v in event.items() if v is not None}
            events.append(event)
            fresh.append(event)
        result = self.ex.submit(principal=self.as_partner(sender), events=events)
        new_ids = set()
        for event, outcome in zip(events, result.outcomes, strict=True):
            if outcome.status == "accepted":
                assert event["id"] not in self.bodies, "a re-sent event was stored twice"
                new_ids.add(event["id"])
                self.record_accepted(sender, event, outcome)
            else:
                assert event["id"] in self.bodies or event["id"] in new_ids
                assert outcome.deliveries == 0
        assert new_ids == {e["id"] for e in fresh}

    @precondition(lambda self: bool(self.dark()))
    @rule(data=st.data(), items=ITEMS)
    def submit_while_dark(self, data: st.DataObject, items: list[tuple[int, bool, int]]) -> None:
        """An isolated or returning partner keeps sending: everything new goes to quarantine."""
        self.submit(data.draw(st.sampled_from(self.dark()), label="sender"), items)

    def latest_of_key(self, sender: str, type_name: str, key: str) -> str | None:
        """The model of the business-key check: the latest accepted message of the key, where
        one still waiting in quarantine counts only for its own sender."""
        found = None
        for ident, _, t, _ in self.accepted:
            if t != type_name or self.bodies[ident]["data"]["k"] != key:
                continue
            if ident in self.quarantined and self.sender_of[ident] != sender:
                continue
            found = ident
        return found

    def send_keyed(self, sender: str, earlier: str, n: int) -> None:
        """``sender`` sends the business key of ``earlier`` again under a new id, with data
        ``n``: the model predicts a duplicate (the same fact as the latest of the key) or a
        new message superseding that latest one (a correction, or a first for this sender)."""
        base = self.bodies[earlier]
        event = {
            **base,
            "id": f"r{next(self.ids)}",
            "source": f"urn:nld:oin:{OINS[sender]}:systeem:sys",
            "data": {**base["data"], "n": n},
        }
        latest = self.latest_of_key(sender, base["type"], base["data"]["k"])
        same = latest is not None and self.bodies[latest]["data"] == event["data"]
        self.submit_checked(sender, [event], same, latest)

    def submit_checked(
        self, sender: str, events: list[dict[str, Any]], same: bool, latest: str | None
    ) -> None:
        [outcome] = self.ex.submit(principal=self.as_partner(sender), events=events).outcomes
        if same:
            assert (outcome.status, outcome.by, outcome.deliveries) == (
                "duplicate",
                "business-key",
                0,
            ), f"the same fact as {latest} was not recognised: {outcome}"
            return
        assert outcome.status == "accepted", f"a new fact was refused: {outcome}"
        expected = None if latest is None else self.position[latest]
        assert outcome.supersedes == expected, (
            f"{events[0]['id']} supersedes {outcome.supersedes}, the model says {expected}"
        )
        self.record_accepted(sender, events[0], outcome)

    def record_accepted(self, sender: str, event: dict[str, Any], outcome: Any) -> None:
        """The model keeps an accepted message: its receivers, body, sender and position."""
        receivers = self.chain.receivers_for(event["type"], sender)
        if self.route is not None and (event["type"], sender) == (MELDING, "politie"):
            receivers = (*receivers, "justid")
        assert outcome.deliveries == len(receivers)
        self.accepted.append((event["id"], event.get("partitionkey"), event["type"], receivers))
        self.bodies[event["id"]] = event
        self.sender_of[event["id"]] = sender
        self.position[event["id"]] = outcome.position
        assert outcome.quarantined == (sender in self.dark())
        if outcome.quarantined:
            self.quarantined.add(event["id"])

    @rule(sender=st.sampled_from(SENDERS), pick=st.integers(0, 50))
    def resend_fact_under_new_id(self, sender: str, pick: int) -> None:
        """A partner re-sends a fact it sent before, under a new id (a paper or ebMS resend):
        the same fact, unless it has been corrected since (then it corrects it back)."""
        mine = [a for a in self.accepted if self.sent_by(a[0], sender)]
        if not mine:
            return
        earlier = mine[pick % len(mine)][0]
        self.send_keyed(sender, earlier, self.bodies[earlier]["data"]["n"])

    @rule(sender=st.sampled_from(SENDERS), pick=st.integers(0, 50), correct=st.booleans())
    def send_a_known_business_key(self, sender: str, pick: int, correct: bool) -> None:
        """A partner sends a business key already stored, its own or another partner's (the
        police and the KMar both report): the same fact again, or a correction of it."""
        may = [a for a in self.accepted if sender in ROUTES[a[2]][0]]
        if not may:
            return
        earlier = may[pick % len(may)][0]
        n = self.bodies[earlier]["data"]["n"]
        self.send_keyed(sender, earlier, n + 100 if correct else n)

    # -- partner states and quarantine ----------------------------------------------------------

    def set_state(self, partner: str, to: str) -> None:
        self.ex.set_partner_state(principal=LOCAL_OPERATOR, partner=partner, state=to, reason="t")
        self.state[partner] = to
        if to == "isolated":  # isolation holds everything to and from the partner, as rules
            self.channels.change(partner, ANY, ANY, held=True)
            self.channels.change(ANY, partner, ANY, held=True)

    @precondition(lambda self: bool(self.in_state("online")))
    @rule(data=st.data())
    def isolate(self, data: st.DataObject) -> None:
        self.set_state(
            data.draw(st.sampled_from(self.in_state("online")), label="partner"), "isolated"
        )

    @precondition(lambda self: bool(self.in_state("isolated")))
    @rule(data=st.data())
    def start_return(self, data: st.DataObject) -> None:
        self.set_state(
            data.draw(st.sampled_from(self.in_state("isolated")), label="partner"), "returning"
        )

    @precondition(lambda self: bool(self.dark()))
    @rule(data=st.data())
    def bring_online(self, data: st.DataObject) -> None:
        """Online by two operators only (decision 0018): one alone is refused and changes
        nothing; a returning partner comes online by an approved release, also of nothing."""
        partner = data.draw(st.sampled_from(self.dark()), label="partner")
        with pytest.raises(StateConflict):
            self.ex.set_partner_state(
                principal=LOCAL_OPERATOR, partner=partner, state="online", reason="t"
            )
        assert self.ex.partner_states()[partner].state == self.state[partner]
        if self.state[partner] == "isolated":
            self.set_state(partner, "returning")
        self.release(partner)
        assert self.state[partner] == "online"

    def release(self, partner: str) -> None:
        """Two operators release what the partner has in quarantine; a returning partner's
        release (also of nothing) brings it online."""
        mine = {i for i in self.quarantined if self.sent_by(i, partner)}
        if not mine and self.state[partner] != "returning":
            return
        first = Principal("op-a", "operator", None, "token")
        second = Principal("op-b", "operator", None, "token")
        release, _ = self.ex.request_release(principal=first, partner=partner, reason="t")
        assert release.messages == len(mine)
        self.ex.approve_release(principal=second, release_id=release.id)
        self.quarantined -= mine
        # A released returning partner may be trusted again (online) by the approval itself.
        after = self.ex.partner_states()[partner].state
        before = self.state[partner]
        assert after == before or (before, after) == ("returning", "online"), (before, after)
        self.state[partner] = after

    def releasable(self) -> list[str]:
        """Partners with messages in quarantine that are back (returning or online): operators
        check and release a partner's quarantine once it returns, not while it is dark."""
        return sorted(
            {self.sender_of[i] for i in self.quarantined} - set(self.in_state("isolated"))
        )

    @precondition(lambda self: bool(self.releasable()))
    @rule(data=st.data())
    def release_quarantine(self, data: st.DataObject) -> None:
        self.release(data.draw(st.sampled_from(self.releasable()), label="partner"))

    # -- channel rules and emergency routes -----------------------------------------------------

    def carried(self, receiver: str, sender: str, scope: str) -> bool:
        """Whether a rule matches a flow of the chain or of a route, or is set already: the
        exchange refuses any other rule (it would hold or open nothing)."""
        flows = [(r, s, t) for t, (ss, rs) in ROUTES.items() for s in ss for r in rs if r != s]
        if self.routed:
            flows.append(("justid", "politie", MELDING))
        return (receiver, sender, scope) in self.channels.rules or any(
            receiver in (ANY, r)
            and sender in (ANY, s)
            and scope in (ANY, t, f"process:{process_of(t)}")
            for r, s, t in flows
        )

    def set_channel(
        self, receiver: str, sender: str, scope: str, *, held: bool, rate: float | None = None
    ) -> None:
        def change() -> None:
            self.ex.set_channel(
                principal=LOCAL_OPERATOR,
                receiver=receiver,
                sender=sender,
                scope=scope,
                state="held" if held else "open",
                reason="test",
                rate=None if held else rate,
            )

        if not self.carried(receiver, sender, scope):
            with pytest.raises(InvalidInput, match="carries nothing"):
                change()
            return
        change()
        self.channels.change(receiver, sender, scope, held=held)

    @rule(receiver=st.sampled_from(RECEIVERS), held=st.booleans())
    def hold_or_open(self, receiver: str, held: bool) -> None:
        self.set_channel(receiver, ANY, ANY, held=held)

    @rule(
        receiver=st.sampled_from(RECEIVERS),
        sender=st.sampled_from([ANY, "politie", "om"]),
        scope=st.sampled_from(SCOPES),
        held=st.booleans(),
        rate=st.sampled_from([None, 0.5, 3.0]),
    )
    def hold_or_open_scoped(
        self, receiver: str, sender: str, scope: str, held: bool, rate: float | None
    ) -> None:
        self.set_channel(receiver, sender, scope, held=held, rate=rate)

    @precondition(lambda self: bool(self.dark() or self.quarantined))
    @rule(data=st.data(), rate=st.sampled_from([None, 3.0]))
    def open_narrower(self, data: st.DataObject, rate: float | None) -> None:
        """A go-live wave opens one channel narrower than an isolation's holds: a dark
        partner's traffic to one receiver, one sender's traffic to a dark partner, or a channel
        where quarantined messages wait (for one type, its process or all). Opening never
        releases quarantine, and an isolated receiver still gets nothing."""
        channels: set[tuple[str, str, tuple[str, ...]]] = set()  # receiver, sender, scopes
        for partner in self.dark():
            channels.update((r, partner, SCOPES) for r in RECEIVERS if r != partner)
            if partner in RECEIVERS:
                channels.update((partner, s, SCOPES) for s in SENDERS if s != partner)
        for ident, _, type_name, receivers in self.accepted:
            if ident in self.quarantined:
                its = (ANY, type_name, f"process:{process_of(type_name)}")
                channels.update((r, self.sender_of[ident], its) for r in receivers)
        receiver, sender, scopes = data.draw(st.sampled_from(sorted(channels)), label="channel")
        self.set_channel(
            receiver,
            sender,
            data.draw(st.sampled_from(scopes), label="scope"),
            held=False,
            rate=rate,
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
            self.routed = True
        else:
            self.ex.close_route(principal=LOCAL_OPERATOR, route_id=self.route, reason="OM terug")
            self.route = None

    # -- receivers ------------------------------------------------------------------------------

    @rule(receiver=st.sampled_from(RECEIVERS), limit=st.integers(1, 5))
    def pull(self, receiver: str, limit: int) -> None:
        dead_before = set(self.dead)
        got = self.ex.pull(principal=self.as_partner(receiver), limit=limit)
        self.sync_dead()  # what this pull's expired leases dead-lettered
        isolated = self.isolated()
        if receiver in isolated:
            assert got == [], "a delivery went to an isolated receiver"
        for d in got:
            assert d.id not in self.quarantined, "a quarantined message left unreleased"
            assert not self.channels.held(receiver, d.sender, d.type, isolated), (
                f"delivered on a held channel: {d.sender} -> {receiver} ({d.type})"
            )
            entry = next(a for a in self.accepted if a[0] == d.id)
            assert receiver in entry[3], "delivered to a receiver the routing does not name"
            assert (receiver, d.id) not in self.acked, "an acked delivery came back"
            assert (receiver, d.id) not in dead_before, "a dead letter went out unresent"
            previous = self.delivery_of.setdefault((receiver, d.id), d.delivery_id)
            assert previous == d.delivery_id, "a second delivery for the same message"
            for earlier in self.accepted:
                if earlier[0] == d.id:
                    break
                if entry[1] is not None and earlier[1] == entry[1] and receiver in earlier[3]:
                    assert (receiver, earlier[0]) in self.acked or (
                        receiver,
                        earlier[0],
                    ) in self.dead, "partition order broken"
            self.leased[receiver][d.delivery_id] = d.id

    @rule(limit=st.integers(1, 5))
    def pull_everywhere(self, limit: int) -> None:
        """Every receiver pulls, as live receivers do all the time."""
        for receiver in RECEIVERS:
            self.pull(receiver, limit)

    @rule()
    def keep_up(self) -> None:
        """Every receiver pulls and acknowledges what it got at once, as a live one does."""
        for receiver in RECEIVERS:
            self.pull(receiver, 5)
            if self.leased[receiver]:
                self.ack_leases(receiver, sorted(self.leased[receiver]))

    def leasing(self) -> list[str]:
        return [r for r in RECEIVERS if self.leased[r]]

    def ack_leases(self, receiver: str, chosen: list[int]) -> None:
        results = self.ex.ack(principal=self.as_partner(receiver), delivery_ids=chosen)
        for r in results:
            assert r.status in ("acked", "already-acked")
            self.acked.add((receiver, self.leased[receiver].pop(r.delivery_id)))

    @precondition(lambda self: bool(self.leasing()))
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        receiver = data.draw(st.sampled_from(self.leasing()), label="receiver")
        chosen = data.draw(st.sets(st.sampled_from(sorted(self.leased[receiver])), min_size=1))
        self.ack_leases(receiver, sorted(chosen))

    @precondition(lambda self: bool(self.leasing()))
    @rule()
    def ack_everything(self) -> None:
        for receiver in self.leasing():
            self.ack_leases(receiver, sorted(self.leased[receiver]))

    @precondition(lambda self: bool(self.leasing()))
    @rule(data=st.data())
    def nack(self, data: st.DataObject) -> None:
        receiver = data.draw(st.sampled_from(self.leasing()), label="receiver")
        chosen = data.draw(st.sampled_from(sorted(self.leased[receiver])))
        r = self.ex.nack(
            principal=self.as_partner(receiver), delivery_id=chosen, reason="test", retry_after=0
        )
        if r.status in ("retry", "dead"):
            self.leased[receiver].pop(chosen)
        self.sync_dead()

    @precondition(lambda self: bool(self.leasing()))
    @rule(data=st.data())
    def fail_until_dead(self, data: st.DataObject) -> None:
        """A receiver that cannot take a delivery: it nacks it, gets it again and nacks it
        again, which is its last attempt (a dead letter the receiver no longer sees)."""
        receiver = data.draw(st.sampled_from(self.leasing()), label="receiver")
        chosen = data.draw(st.sampled_from(sorted(self.leased[receiver])))
        event("a receiver failed a delivery until it was dead")
        for _ in range(2):
            r = self.ex.nack(
                principal=self.as_partner(receiver), delivery_id=chosen, reason="t", retry_after=0
            )
            self.leased[receiver].pop(chosen, None)
            if r.status != "retry":
                break
            self.pull(receiver, 5)
            if chosen not in self.leased[receiver]:
                break  # another came first (a higher priority): no matter
        self.sync_dead()
        if self.dead:  # an operator re-sends it (or another dead letter) at once
            self.resend_dead_letter(data)

    @precondition(lambda self: bool(self.dead))
    @rule(data=st.data())
    def resend_dead_letter(self, data: st.DataObject) -> None:
        """An operator re-sends a dead letter: the same delivery, ready again under the rules
        in force; a second re-send of it is refused until it dies again."""
        event("an operator re-sent a dead letter")  # the statistics show it happens
        key = data.draw(st.sampled_from(sorted(self.dead)), label="dead letter")
        delivery_id = self.dead[key]
        record = self.ex.resend(principal=LOCAL_OPERATOR, delivery_id=delivery_id)
        assert (record.delivery_id, record.state, record.attempts) == (delivery_id, "ready", 0)
        with pytest.raises(StateConflict):
            self.ex.resend(principal=LOCAL_OPERATOR, delivery_id=delivery_id)
        self.sync_dead()
        assert key not in self.dead

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

    # -- invariants -----------------------------------------------------------------------------

    @invariant()
    def nothing_acked_is_pending(self) -> None:
        assert all(r in RECEIVERS for r, _ in self.acked)

    @invariant()
    def settled_follows_state(self) -> None:
        """`settled` is 1 for exactly the acked and dead deliveries (migration 0010): the
        indexes that find a case's or a channel's pending deliveries read it, not `state`."""
        store: Any = self.ex.store
        with store._tx() as cur:
            wrong = store._x(
                cur,
                "SELECT id, state, settled FROM deliveries WHERE settled <> "
                "CASE WHEN state IN ('acked', 'dead') THEN 1 ELSE 0 END",
            ).fetchall()
        assert not wrong, f"settled out of step with state: {wrong[:5]}"

    @invariant()
    def quarantine_holds_until_released(self) -> None:
        """Nothing a dark partner sent is handed out before two operators release it: the
        store keeps exactly the unreleased messages in quarantine, and none of their
        deliveries was ever attempted or is free of the quarantine flag."""
        stored = self.ex.store.quarantined(partner=None, limit=1000)
        assert {m.id for m in stored} == self.quarantined, "the quarantine lost or gained messages"
        for m in stored:
            for d in self.ex.store.deliveries_of(m.position):
                assert d.quarantined, f"{m.id} to {d.receiver} is free of its quarantine"
                assert (d.state, d.attempts) == ("ready", 0), f"{m.id} went to {d.receiver}"

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
        self.sync_dead()
        for delivery_id in self.dead.values():  # an operator re-sends every dead letter
            self.ex.resend(principal=LOCAL_OPERATOR, delivery_id=delivery_id)
        self.sync_dead()
        for partner in self.in_state("isolated"):
            self.set_state(partner, "returning")
        for partner in SENDERS:  # a returning partner's release brings it online
            self.release(partner)
        assert not self.dark()
        for receiver in RECEIVERS:
            self.hold_or_open(receiver, held=False)
            for sender in SENDERS:  # hold "om" from "*" made narrower rules go
                self.set_channel(receiver, sender, ANY, held=False)
        for _ in range(500):
            self.advance_clock(31.0)
            progressed = False
            for receiver in RECEIVERS:
                self.pull(receiver, limit=5)
                if self.leased[receiver]:
                    progressed = True
                    self.ack_leases(receiver, sorted(self.leased[receiver]))
            for delivery_id in self.dead.values():  # leases that expired on their last attempt
                progressed = True
                self.ex.resend(principal=LOCAL_OPERATOR, delivery_id=delivery_id)
            self.sync_dead()
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
    max_examples=30,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestExchangeInvariantsOnPostgres = pytest.mark.postgres(PostgresExchangeMachine.TestCase)
