"""Isolation through the exchange's use cases, on a real SQLite store with the built-in chain."""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ketenherstel.bootstrap import Runtime, bootstrap
from ketenherstel.exchange.auth import LOCAL_OPERATOR, Principal
from ketenherstel.exchange.errors import InvalidInput, StateConflict
from ketenherstel.exchange.manual import ManualWork
from ketenherstel.exchange.service import Exchange
from ketenherstel.settings import Settings
from ketenherstel.sim import sample_events
from ketenherstel.store.manual_ports import manual_store
from ketenherstel.store.ports import ChannelRecord, RouteRecord
from tests.factories import KMAR_OIN, PV_TYPE, pv_event

AFDOENING = "nl.strafrechtketen.registratie.om-afdoening-geregistreerd.v1"
OP_A = Principal("op-a", "operator", None, "token")
OP_B = Principal("op-b", "operator", None, "token")


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = bootstrap(Settings(store_url=str(tmp_path / "i.db")))
    for p in runtime.exchange.chain.partners:
        runtime.exchange.register_partner(principal=LOCAL_OPERATOR, key=p.key)
    yield runtime
    runtime.close()


def partner(key: str) -> Principal:
    return Principal(key, "partner", key, "token")


def pull_ids(rt: Runtime, receiver: str) -> list[str]:
    got = rt.exchange.pull(principal=partner(receiver), limit=100)
    if got:
        rt.exchange.ack(principal=partner(receiver), delivery_ids=[d.delivery_id for d in got])
    return [d.id for d in got]


def om_afdoening(rt: Runtime | Exchange, case: str) -> dict[str, Any]:
    chain = (rt if isinstance(rt, Exchange) else rt.exchange).chain
    event = copy.deepcopy(sample_events(chain)[AFDOENING].event)
    event["id"] = str(uuid.uuid4())
    event["partitionkey"] = case
    event["data"]["parketnummer"] = case
    event.pop("sequence", None)
    event.pop("sequencetype", None)
    return event


def test_isolating_a_partner_holds_its_traffic_and_keeps_every_message(rt: Runtime) -> None:
    ex = rt.exchange
    ex.set_partner_state(principal=OP_A, partner="om", state="isolated", reason="Citrix")
    for i in range(5):
        ex.submit(principal=partner("politie"), events=[pv_event(case=f"10-00000{i}-25")])
    assert pull_ids(rt, "om") == []
    assert ex.partner_states()["om"].state == "isolated"
    ex.set_partner_state(principal=OP_A, partner="om", state="returning", reason="wave 1")
    assert pull_ids(rt, "om") == []  # the isolation's holds stay until a wave opens them
    ex.set_channel(
        principal=OP_A,
        receiver="om",
        sender="politie",
        scope=PV_TYPE,
        state="open",
        reason="wave 2",
        rate=None,
    )
    assert len(pull_ids(rt, "om")) == 5


def test_what_an_isolated_partner_sends_waits_in_quarantine_for_two_operators(
    rt: Runtime,
) -> None:
    ex = rt.exchange
    ex.set_partner_state(principal=OP_A, partner="om", state="isolated", reason="Citrix")
    ex.set_channel(principal=OP_A, receiver="justid", sender="om", state="open", reason="wave 1")
    result = ex.submit(principal=partner("om"), events=[om_afdoening(rt, "10-000001-25")])
    assert result.outcomes[0].quarantined
    assert pull_ids(rt, "justid") == []
    release, check = ex.request_release(principal=OP_A, partner="om", reason="checked", expected=1)
    assert check.clean and check.messages == 1
    with pytest.raises(StateConflict, match="second operator"):
        ex.approve_release(principal=OP_A, release_id=release.id)
    # Two more arrive after the request: not checked, not released, and the approval says so.
    ex.submit(
        principal=partner("om"),
        events=[om_afdoening(rt, "10-000002-25"), om_afdoening(rt, "10-000003-25")],
    )
    approval = ex.approve_release(principal=OP_B, release_id=release.id)
    assert approval.note is not None
    assert "2 messages of om arrived after the request and stay in quarantine" in approval.note
    assert len(pull_ids(rt, "justid")) == 1
    for who in (OP_B, OP_A):  # whoever asks again: it was approved (it said "by another")
        with pytest.raises(StateConflict, match="was approved already; one approval is all"):
            ex.approve_release(principal=who, release_id=release.id)
    again, _ = ex.request_release(principal=OP_A, partner="om", reason="the rest")
    rest = ex.approve_release(principal=OP_B, release_id=again.id).note
    assert rest is not None and rest.startswith("om stays isolated") and "arrived" not in rest
    assert len(pull_ids(rt, "justid")) == 2


def test_an_operator_cannot_approve_with_a_credential_one_of_the_two_made(
    rt: Runtime,
) -> None:
    """Whoever made an operator's token has seen it and can act as that operator: such a pair
    is not two people, in either direction, nor through what a made credential made (a
    rotation included). A new token made by someone independent, the old ones revoked, makes
    the holder independent again."""
    ex = rt.exchange
    ann_token, _ = ex.create_token(principal=LOCAL_OPERATOR, role="operator", person="ann")
    ann = ex.authenticate_token(ann_token)
    made_token, made = ex.create_token(principal=ann, role="operator", person="mallory")
    mallory = ex.authenticate_token(made_token)
    deep_token, _ = ex.create_token(principal=mallory, role="operator", person="trudy")
    trudy = ex.authenticate_token(deep_token)
    ex.set_partner_state(principal=ann, partner="om", state="isolated", reason="Citrix")
    ex.submit(principal=partner("om"), events=[om_afdoening(rt, "10-000001-25")])

    release, _ = ex.request_release(principal=ann, partner="om", reason="checked")
    for accomplice in (mallory, trudy):
        with pytest.raises(StateConflict, match=r"requested by ann; a second operator approves, "
                           f"and ann made {accomplice.name}'s credential cred-"):  # fmt: skip
            ex.approve_release(principal=accomplice, release_id=release.id)
    # A message arrives, so that trudy asks for a release of more (not the same one again).
    ex.submit(principal=partner("om"), events=[om_afdoening(rt, "10-000002-25")])
    asked_by_trudy, _ = ex.request_release(principal=trudy, partner="om", reason="checked")
    with pytest.raises(StateConflict, match=r"ann made trudy's credential .* so can act as trudy"):
        ex.approve_release(principal=ann, release_id=asked_by_trudy.id)  # the other direction
    # Rotated with the token ann made, mallory's new token may be ann's too.
    rotated_token, rotated = ex.rotate_token(principal=mallory, credential_id=made.id)
    with pytest.raises(StateConflict, match=f"ann made mallory's credential {rotated.id} "):
        ex.approve_release(principal=ex.authenticate_token(rotated_token), release_id=release.id)
    # The same name written with an invisible character is the same operator.
    hidden = Principal("ann\u200b", "operator", None, "token")
    with pytest.raises(StateConflict, match="second operator"):
        ex.approve_release(principal=hidden, release_id=release.id)
    assert all(r.approved_by is None for r in ex.releases())  # nothing was approved
    # An independent maker gives mallory a new token and the old one is revoked: independent.
    ex.revoke_token(principal=LOCAL_OPERATOR, credential_id=rotated.id)
    fresh, _ = ex.create_token(principal=LOCAL_OPERATOR, role="operator", person="mallory")
    ex.approve_release(principal=ex.authenticate_token(fresh), release_id=release.id)
    assert [r.approved_by for r in ex.releases() if r.id == release.id] == ["mallory"]


@pytest.mark.parametrize(
    ("person", "message"),
    [
        ("   ", "a person's name is 1 to 100 characters"),
        ("x" * 101, "a person's name is 1 to 100 characters"),
        ("ali\u200bce", "no control or invisible characters"),
        ("x\ny", "no control or invisible characters"),
        ("Local-CLI", "the local command line's own name"),
    ],
)
def test_an_operator_name_that_could_pass_for_another_is_refused(
    rt: Runtime, person: str, message: str
) -> None:
    ex = rt.exchange
    before = ex.credentials(principal=LOCAL_OPERATOR)
    with pytest.raises(InvalidInput, match=message):
        ex.create_token(principal=LOCAL_OPERATOR, role="operator", person=person)
    assert ex.credentials(principal=LOCAL_OPERATOR) == before


def test_a_resend_under_a_new_id_is_the_same_fact(rt: Runtime) -> None:
    ex = rt.exchange
    first = pv_event(case="10-000009-25")
    again = {**first, "id": str(uuid.uuid4())}
    ex.submit(principal=partner("politie"), events=[first])
    result = ex.submit(principal=partner("politie"), events=[again])
    assert (result.outcomes[0].status, result.outcomes[0].by) == ("duplicate", "business-key")
    assert len(pull_ids(rt, "om")) == 1


def _isolate_with_a_route(ex: Exchange) -> RouteRecord:
    """The OM isolated; the police's reports go to Justid too, until the OM's own decision."""
    ex.set_partner_state(principal=OP_A, partner="om", state="isolated", reason="Citrix")
    return _route(ex, "spoedroute zware gewelds- en zedendelicten")


def _route(ex: Exchange, reason: str = "spoedroute") -> RouteRecord:
    """The police's reports around the OM, straight to Justid, until the OM's own decision."""
    return ex.open_route(
        principal=OP_A,
        type=PV_TYPE,
        sender="politie",
        around="om",
        receiver="justid",
        superseded_by=AFDOENING,
        reason=reason,
    )


def test_a_route_to_the_dark_partner_itself_is_refused_saying_so(rt: Runtime) -> None:
    """--around justid --to justid was refused as 'justid does not send …' (a review)."""
    for around, receiver in (("justid", "justid"), ("om", "politie")):
        with pytest.raises(InvalidInput) as refused:
            rt.exchange.open_route(
                principal=OP_A,
                type=PV_TYPE,
                sender="politie",
                around=around,
                receiver=receiver,
                superseded_by=AFDOENING,
                reason="spoedroute",
            )
        role = "dark partner" if receiver == around else "sender"
        assert str(refused.value) == (
            f"the route's receiver {receiver} is its {role}: a route goes around the dark "
            "partner to a third one"
        ), (around, receiver)
    assert rt.exchange.store.routes() == []


def test_an_emergency_route_message_is_superseded_when_the_partner_returns(rt: Runtime) -> None:
    ex = rt.exchange
    route = _isolate_with_a_route(ex)
    ex.submit(principal=partner("politie"), events=[pv_event(case="10-000042-25")])
    got = ex.pull(principal=partner("justid"), limit=10)
    assert [d.type for d in got] == [PV_TYPE]
    ex.ack(principal=partner("justid"), delivery_ids=[got[0].delivery_id])
    ex.close_route(principal=OP_A, route_id=route.id, reason="OM terug")
    ex.set_partner_state(principal=OP_A, partner="om", state="returning", reason="back")
    release, _ = ex.request_release(principal=OP_A, partner="om", reason="checked")
    ex.approve_release(principal=OP_B, release_id=release.id)
    assert ex.partner_states()["om"].state == "online"
    ex.set_channel(principal=OP_A, receiver="justid", sender="om", state="open", reason="wave 1")
    ex.submit(principal=partner("om"), events=[om_afdoening(rt, "10-000042-25")])
    [d] = ex.pull(principal=partner("justid"), limit=10)
    assert d.type == AFDOENING
    assert d.supersedes == (got[0].source, got[0].id)


def test_one_operator_cannot_bring_a_dark_partner_online(rt: Runtime) -> None:
    """Decision 0018: online would end the quarantine of what the partner sends next, which
    two operators must agree on. Refused for an isolated and a returning partner alike."""
    ex = rt.exchange
    ex.set_partner_state(principal=OP_A, partner="om", state="isolated", reason="Citrix")
    for state, needle in (
        ("isolated", "let it return first"),
        ("returning", "approved by another"),
    ):
        if state == "returning":
            ex.set_partner_state(principal=OP_A, partner="om", state="returning", reason="back")
        before = ex.partner_history(partner="om")
        with pytest.raises(StateConflict, match=needle):
            ex.set_partner_state(principal=OP_A, partner="om", state="online", reason="trust")
        assert ex.partner_history(partner="om") == before
    # A returning partner with nothing in quarantine: a release of nothing, which a second
    # operator approves, brings it online.
    release, check = ex.request_release(principal=OP_A, partner="om", reason="trusted again")
    assert (release.messages, check.findings) == (0, [])
    assert ex.partner_states()["om"].state == "returning"
    ex.approve_release(principal=OP_B, release_id=release.id)
    assert ex.partner_states()["om"].state == "online"
    # An online partner with nothing in quarantine has nothing to release.
    with pytest.raises(StateConflict, match="nothing in quarantine"):
        ex.request_release(principal=OP_A, partner="om", reason="again")


def test_a_release_asked_before_a_new_isolation_does_not_end_it(rt: Runtime) -> None:
    ex = rt.exchange
    ex.set_partner_state(principal=OP_A, partner="om", state="isolated", reason="Citrix")
    ex.set_partner_state(principal=OP_A, partner="om", state="returning", reason="back")
    old, _ = ex.request_release(principal=OP_A, partner="om", reason="trusted again")
    later = time.time() + 60
    ex.clock = lambda: later  # type: ignore[method-assign]
    ex.set_partner_state(principal=OP_A, partner="om", state="isolated", reason="again")
    ex.set_partner_state(principal=OP_A, partner="om", state="returning", reason="back")
    approval = ex.approve_release(principal=OP_B, release_id=old.id)
    assert ex.partner_states()["om"].state == "returning"
    # The approver is told so, and so is the audit trail.
    assert approval.release.approved_by == "op-b"
    assert approval.note is not None
    assert approval.note.startswith(
        f"om stays returning: release {old.id} was asked for before om's current state began"
    )
    [audit] = [a for a in ex.store.audit_log(limit=50) if a.action == "release-approved"]
    assert audit.detail == f"release {old.id}; {approval.note}"
    # A release asked for now brings it online, and says nothing more.
    new, _ = ex.request_release(principal=OP_A, partner="om", reason="trusted again")
    approval = ex.approve_release(principal=OP_B, release_id=new.id)
    assert approval.note is None and ex.partner_states()["om"].state == "online"


def test_approving_a_release_of_an_isolated_partner_says_it_stays_isolated(
    rt: Runtime,
) -> None:
    ex = rt.exchange
    ex.set_partner_state(principal=OP_A, partner="om", state="isolated", reason="Citrix")
    ex.submit(principal=partner("om"), events=[om_afdoening(rt, "10-000095-25")])
    release, _ = ex.request_release(principal=OP_A, partner="om", reason="checked")
    approval = ex.approve_release(principal=OP_B, release_id=release.id)
    assert approval.note == (
        f"om stays isolated: the approval releases what release {release.id} covers (1 message, "
        "under the channel rules); om comes online once it returns and a release asked for "
        "after that is approved by another operator (decision 0018)"
    )
    assert ex.partner_states()["om"].state == "isolated"


def test_a_release_a_later_one_released_already_is_refused_and_keeps_its_count(
    rt: Runtime,
) -> None:
    """Approving it released nothing, wrote its count as 0 and said nothing (a review)."""
    ex = rt.exchange
    ex.set_partner_state(principal=OP_A, partner="om", state="isolated", reason="Citrix")
    ex.submit(principal=partner("om"), events=[om_afdoening(rt, "10-000096-25")])
    first, _ = ex.request_release(principal=OP_A, partner="om", reason="checked")
    ex.set_partner_state(principal=OP_A, partner="om", state="returning", reason="back")
    second, _ = ex.request_release(principal=OP_A, partner="om", reason="checked again")
    ex.approve_release(principal=OP_B, release_id=second.id)
    audits = ex.store.audit_log(limit=100)
    with pytest.raises(StateConflict) as refused:
        ex.approve_release(principal=OP_B, release_id=first.id)
    assert str(refused.value) == (
        f"release {first.id} has nothing left to release: release {second.id} released its "
        "1 message already; nothing changed"
    )
    [kept] = ex.store.releases(partner="om", release_id=first.id)
    assert (kept.messages, kept.approved_by) == (1, None)
    assert ex.store.audit_log(limit=100) == audits


def test_a_second_request_for_the_same_messages_is_refused_naming_the_waiting_one(
    rt: Runtime,
) -> None:
    """`isolation online` or `quarantine request` run twice made release 2, 3, … of the same
    messages: refused, naming the release that waits and how to approve it. A request that
    covers more (a message arrived since) or sees a finding the waiting one did not is not."""
    ex = rt.exchange
    ex.set_partner_state(principal=OP_A, partner="om", state="isolated", reason="Citrix")
    ex.set_partner_state(principal=OP_A, partner="om", state="returning", reason="back")
    first, _ = ex.request_release(principal=OP_A, partner="om", reason="trusted again")
    assert ex.waiting_release(partner="om") == first
    for who in (OP_A, OP_B):
        with pytest.raises(StateConflict, match=f"release {first.id} of om, asked by op-a") as no:
            ex.request_release(principal=who, partner="om", reason="once more")
        assert f"`quarantine approve {first.id}`" in no.value.detail
        assert f"POST /v1/quarantine-releases/{first.id}/approval" in no.value.detail
    assert ex.releases(partner="om") == [first]
    # A message arrives: a new request covers it, the first one no longer covers everything.
    ex.submit(principal=partner("om"), events=[om_afdoening(rt, "10-000096-25")])
    assert ex.waiting_release(partner="om") is None
    second, _ = ex.request_release(principal=OP_A, partner="om", reason="with the new one")
    assert second.messages == 1 and ex.waiting_release(partner="om") == second
    # Asked with another expected volume, the check has a finding the waiting one lacks.
    third, check = ex.request_release(principal=OP_A, partner="om", reason="x", expected=50)
    assert check.findings and ex.waiting_release(partner="om") == third
    ex.approve_release(principal=OP_B, release_id=third.id)
    assert ex.partner_states()["om"].state == "online"
    assert ex.waiting_release(partner="om") is None  # the others were asked before online


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_nodes(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Exchange, Exchange]]:
    """Two exchanges (two processes) on one store, each with its own connection: one SQLite
    file, or one PostgreSQL schema."""
    from ketenherstel.chain import load_chain
    from ketenherstel.store.postgres import PostgresStore
    from ketenherstel.store.sqlite import SqliteStore

    def connect() -> Any:
        if request.param == "sqlite":
            return SqliteStore(tmp_path / "c.db")
        return PostgresStore(
            request.getfixturevalue("pg_dsn"), schema=request.getfixturevalue("pg_schema")
        )

    stores = [connect(), connect()]
    stores[0].migrate()
    a, b = (Exchange(store=s, chain=load_chain()) for s in stores)
    a.register_partner(principal=LOCAL_OPERATOR, key="om")
    yield a, b
    for ex in (a, b):
        ex.close()
        ex.store.close()


def test_two_requests_racing_for_the_same_messages_make_one_release(
    two_nodes: tuple[Exchange, Exchange], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two operators (or two processes) asking at once for the release of the same messages
    both found none waiting, and both stored one: two waiting releases, of which either
    approval released everything and the other nothing. Decided in the store's transaction
    (under a lock on PostgreSQL), one is stored and the other refused, naming it."""
    a, b = two_nodes
    a.set_partner_state(principal=OP_A, partner="om", state="isolated", reason="Citrix")
    a.submit(principal=partner("om"), events=[om_afdoening(a, "10-000097-25")])
    a.set_partner_state(principal=OP_A, partner="om", state="returning", reason="back")
    # Both have checked the quarantine and found no release waiting before either writes.
    entered = threading.Barrier(2, timeout=10)
    for ex in (a, b):
        ask = ex.store.request_release

        def after_both_checked(*args: Any, _ask: Any = ask, **kw: Any) -> Any:
            entered.wait()
            return _ask(*args, **kw)

        monkeypatch.setattr(ex.store, "request_release", after_both_checked)
    made: list[Any] = []
    refused: list[StateConflict] = []

    def request(ex: Exchange, who: Principal) -> None:
        try:
            made.append(ex.request_release(principal=who, partner="om", reason="checked")[0])
        except StateConflict as exc:
            refused.append(exc)

    threads = [
        threading.Thread(target=request, args=(a, OP_A)),
        threading.Thread(target=request, args=(b, OP_B)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(made) == 1, [(r.id, r.requested_by, r.up_to_pos) for r in made]
    [release] = made
    assert release.messages == 1
    [no] = refused
    assert f"release {release.id} of om, asked by {release.requested_by}" in no.detail
    assert f"`quarantine approve {release.id}`" in no.detail
    assert a.releases(partner="om") == b.releases(partner="om") == [release]
    assert a.waiting_release(partner="om") == release


def test_closing_a_route_says_why_on_the_route_and_in_the_audit_trail(rt: Runtime) -> None:
    ex = rt.exchange
    route = _isolate_with_a_route(ex)
    closed = ex.close_route(principal=OP_A, route_id=route.id, reason="OM is terug")
    assert (closed.closed_by, closed.closed_reason) == ("op-a", "OM is terug")
    assert ex.routes() == [closed]
    log = ex.store.audit_log(limit=50)
    [opened] = [a for a in log if a.action == "route-opened"]
    [entry] = [a for a in log if a.action == "route-closed"]
    # Both records name the route the same way: what goes from whom to whom, and its id.
    name = f"{PV_TYPE} politie->justid (route {route.id})"
    assert (entry.actor, entry.object, entry.detail) == ("op-a", name, "OM is terug")
    assert (opened.object, opened.detail) == (name, route.reason)


@pytest.mark.parametrize(
    ("reason", "needle"),
    [("", "say why"), ("  ", "say why"), ("y" * 501, "at most 500"), ("a\u200bb", "invisible")],
)
def test_a_route_closed_without_a_good_reason_stays_open(
    rt: Runtime, reason: str, needle: str
) -> None:
    ex = rt.exchange
    route = _isolate_with_a_route(ex)
    with pytest.raises(InvalidInput, match=needle):
        ex.close_route(principal=OP_A, route_id=route.id, reason=reason)
    assert ex.routes() == [route]
    assert [a for a in ex.store.audit_log(limit=50) if a.action == "route-closed"] == []


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"receiver": "nobody"}, "not a partner"),
        ({"scope": "nl.bogus.v1"}, "scope"),
        ({"scope": "process:nothing"}, "no process"),
        ({"state": "closed"}, "'open' or 'held'"),
        ({"state": "held", "rate": 5.0}, "rate goes with 'open'"),
        ({"rate": -1.0}, "a rate is a positive number of messages per second .*, not '-1'"),
        ({"rate": 0.0}, "messages per second .*, not '0'"),
        ({"rate": float("inf")}, "messages per second .*, not 'inf'"),
        ({"rate": float("nan")}, "messages per second .*, not 'nan'"),
        ({"rate": 1e12}, "at most 1,000,000 a second, not '1e\\+12'"),
        ({"reason": " "}, "say why"),
        ({"receiver": "*", "sender": "*"}, "name a receiver or a sender"),
    ],
)
def test_bad_channel_changes_are_refused_and_change_nothing(
    rt: Runtime, kwargs: dict[str, Any], needle: str
) -> None:
    args: dict[str, Any] = {
        "receiver": "om",
        "sender": "*",
        "scope": "*",
        "state": "open",
        "reason": "x",
    }
    args.update(kwargs)
    with pytest.raises(InvalidInput, match=needle):
        rt.exchange.set_channel(principal=OP_A, **args)
    assert rt.exchange.channels() == []


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def either(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Exchange]:
    """An exchange on a SQLite or a PostgreSQL store (a fresh schema)."""
    from ketenherstel.chain import load_chain
    from ketenherstel.store.postgres import PostgresStore
    from ketenherstel.store.sqlite import SqliteStore

    if request.param == "sqlite":
        store: Any = SqliteStore(tmp_path / "c.db")
    else:
        store = PostgresStore(
            request.getfixturevalue("pg_dsn"), schema=request.getfixturevalue("pg_schema")
        )
    store.migrate()
    ex = Exchange(store=store, chain=load_chain())
    yield ex
    ex.close()
    store.close()


@pytest.mark.parametrize(
    ("receiver", "sender", "scope", "needle"),
    [
        (
            "dji",
            "gemeenten",
            "*",
            "channel gemeenten → dji: the chain carries nothing from "
            "gemeenten to dji, so the rule would hold or open nothing; gemeenten sends to: nobody",
        ),
        ("dji", "eu-lidstaten", "*", "eu-lidstaten sends to: justid"),
        (
            "justid",
            "om",
            "process:aanhouding",
            "channel om → justid [process:aanhouding]: the "
            "chain carries nothing from om to justid in scope 'process:aanhouding'",
        ),
        ("justid", "politie", PV_TYPE, f"nothing from politie to justid in scope '{PV_TYPE}'"),
        ("*", "gemeenten", "*", "from gemeenten to any partner"),
        ("gemeenten", "*", PV_TYPE, f"from any partner to gemeenten in scope '{PV_TYPE}'"),
    ],
)
def test_a_channel_rule_for_a_flow_the_chain_never_carries_is_refused(
    either: Exchange, receiver: str, sender: str, scope: str, needle: str
) -> None:
    for state in ("held", "open"):
        with pytest.raises(InvalidInput) as raised:
            either.set_channel(
                principal=OP_A,
                receiver=receiver,
                sender=sender,
                scope=scope,
                state=state,
                reason="x",
            )
        assert needle in raised.value.detail
    assert either.channels() == []
    assert either.channel_history() == []


def test_setting_a_rule_again_changes_nothing_unless_it_replaces_a_narrower_one(
    rt: Runtime,
) -> None:
    ex = rt.exchange

    def hold() -> ChannelRecord:
        return ex.set_channel(principal=OP_A, receiver="om", state="held", reason="dark")

    first = hold()
    events = ex.channel_history()
    assert hold() == first and ex.channel_history() == events  # no second event
    ex.set_channel(principal=OP_A, receiver="om", sender="politie", state="open", reason="w1")
    again = hold()  # replaces the narrower rule beneath it, as decision 0008 says: a change
    assert [(r.receiver, r.sender, r.state) for r in ex.channels()] == [("om", "*", "held")]
    assert again != first and len(ex.channel_history()) == len(events) + 2


def test_wildcards_routes_and_rules_already_set_are_channels_that_carry(either: Exchange) -> None:
    ex = either
    for receiver, sender in (("justid", "*"), ("*", "om"), ("dji", "rechtspraak")):
        ex.set_channel(principal=OP_A, receiver=receiver, sender=sender, state="held", reason="x")
    # An emergency route carries its type to its receiver: its channel may be held and rated.
    args: dict[str, Any] = {"receiver": "justid", "sender": "politie", "scope": PV_TYPE}
    with pytest.raises(InvalidInput, match="carries nothing"):
        ex.set_channel(principal=OP_A, state="held", reason="x", **args)
    route = _route(ex)
    ex.set_channel(principal=OP_A, state="open", rate=2.0, reason="x", **args)
    ex.close_route(principal=OP_A, route_id=route.id, reason="x")
    ex.set_channel(principal=OP_A, state="held", reason="x", **args)  # pending ones may wait
    # A rule stored before this check (by an older version) can still be set, so cleared.
    from ketenherstel.store.ports import ChannelRecord

    ex.store.set_channel(ChannelRecord("dji", "gemeenten", "*", "held", None, "old", 1.0, "x"))
    ex.set_channel(principal=OP_A, receiver="dji", sender="gemeenten", state="open", reason="x")
    assert ("dji", "gemeenten", "open") in {(c.receiver, c.sender, c.state) for c in ex.channels()}


def test_partner_state_changes_follow_the_lifecycle(rt: Runtime) -> None:
    ex = rt.exchange
    with pytest.raises(StateConflict, match="only an isolated partner returns"):
        ex.set_partner_state(principal=OP_A, partner="om", state="returning", reason="x")
    ex.set_partner_state(principal=OP_A, partner="om", state="isolated", reason="x")
    with pytest.raises(StateConflict, match="already isolated"):
        ex.set_partner_state(principal=OP_A, partner="om", state="isolated", reason="x")
    history = ex.partner_history(partner="om")
    assert [(h.state, h.changed_by) for h in history] == [("isolated", "op-a")]


def test_the_trail_shows_the_isolation_that_held_a_message_and_the_wave_that_opened_it(
    rt: Runtime,
) -> None:
    ex = rt.exchange
    ex.set_partner_state(principal=OP_A, partner="om", state="isolated", reason="Citrix")
    event = pv_event(case="10-000077-25")
    ex.submit(principal=partner("politie"), events=[event])
    ex.set_partner_state(principal=OP_A, partner="om", state="returning", reason="back")
    ex.set_channel(
        principal=OP_B,
        receiver="om",
        sender="politie",
        scope=PV_TYPE,
        state="open",
        reason="wave 2",
    )
    assert len(pull_ids(rt, "om")) == 1
    trail = ex.trail(principal=OP_A, source=event["source"], id=event["id"])
    to_om = [e for e in trail.entries if e.receiver == "om"]
    assert [e.event for e in to_om] == ["routed", "held", "opened", "leased", "acked"]
    held, opened = to_om[1], to_om[2]
    # The isolation's own held rule decided (the return left it in force), and wave 2 opened it.
    assert held.cause is not None and opened.cause is not None
    assert (held.actor, held.cause.kind, held.cause.reason) == (
        "op-a",
        "channel",
        "om isolated: Citrix",
    )
    assert (opened.actor, opened.cause.scope, opened.cause.reason) == ("op-b", PV_TYPE, "wave 2")
    assert [e.at for e in trail.entries] == sorted(e.at for e in trail.entries)


def test_the_quarantine_check_tells_supersessions_from_corrections_within_it(
    rt: Runtime,
) -> None:
    """A returning OM's registration that supersedes the police's emergency-route message
    counts as a supersession; its correction of its own message, itself still in quarantine,
    is no change of a delivered fact."""
    ex = rt.exchange
    _isolate_with_a_route(ex)
    ex.submit(principal=partner("politie"), events=[pv_event(case="10-000042-25")])
    ex.set_partner_state(principal=OP_A, partner="om", state="returning", reason="back")
    ex.submit(principal=partner("om"), events=[om_afdoening(rt, "10-000042-25")])
    first = om_afdoening(rt, "10-000043-25")
    ex.submit(principal=partner("om"), events=[first])
    corrected = copy.deepcopy(first)
    corrected["id"] = str(uuid.uuid4())
    corrected["data"]["decidedAt"] = "2025-09-02T10:00:00+02:00"  # the same fact, changed
    ex.submit(principal=partner("om"), events=[corrected])
    check = ex.check_quarantine(partner="om")
    assert (check.messages, check.supersessions, check.key_conflicts) == (3, 1, 0)
    assert check.findings == [
        "1 messages correct another of the partner's messages that is itself in this quarantine"
    ]


def _om_paper(manual: ManualWork, case: str, kind: str) -> Any:
    """The OM's decision on ``case``, written down on paper during the outage."""
    return manual.register(
        principal=OP_A,
        partner="om",
        case=case,
        type=AFDOENING,
        when="2025-08-01T10:00",
        role="parketsecretaris",
        fields={"decisionKind": kind},
    )


def test_the_quarantine_check_compares_with_paper_work_and_other_partners(
    rt: Runtime,
) -> None:
    """What others registered: the sender's own paper work for the same case and type, matched
    by no message and differing in the last business-key field, where the message has no paper
    record of its own. Agreeing paper work is no finding."""
    ex = rt.exchange
    manual = ManualWork(store=manual_store(rt.store), chain=rt.chain, clock=ex.clock)
    sent = om_afdoening(rt, "10-000050-25")
    said = sent["data"]["decisionKind"]
    other_kind = "voeging" if said != "voeging" else "dagvaarding"
    ex.set_partner_state(principal=OP_A, partner="om", state="isolated", reason="Citrix")
    for case, kind in (("10-000050-25", other_kind), ("10-000051-25", said)):
        _om_paper(manual, case, kind)
    ex.set_partner_state(principal=OP_A, partner="om", state="returning", reason="back")
    agreeing = om_afdoening(rt, "10-000051-25")
    agreeing["data"]["decisionKind"] = said
    ex.submit(principal=partner("om"), events=[sent, agreeing])

    check = ex.check_quarantine(partner="om")
    assert (check.messages, check.paper_conflicts, check.other_conflicts) == (2, 1, 0)
    [finding] = check.findings
    assert finding.startswith("1 message without a paper record of their own, where the sender")
    assert finding.endswith("(position → manual record: 1 → 1)") and not check.clean


def test_the_quarantine_check_sees_other_partners_facts_and_trusts_no_quarantine(
    rt: Runtime,
) -> None:
    """Police and military police both cut off send one report differently: each check shows
    the other's. A message waiting in quarantine is no fact for an online partner: its own
    message with that content is stored and delivered, not swallowed as a duplicate."""
    ex = rt.exchange
    kmar_source = f"urn:nld:oin:{KMAR_OIN}:systeem:bvh"
    for who in ("politie", "kmar"):
        ex.set_partner_state(principal=OP_A, partner=who, state="isolated", reason="Citrix")
        ex.set_partner_state(principal=OP_A, partner=who, state="returning", reason="back")
    police = pv_event(case="10-000060-25")
    ex.submit(principal=partner("politie"), events=[police])
    kmar = pv_event(case="10-000060-25", source=kmar_source)
    kmar["data"] = dict(police["data"], pageCount=police["data"]["pageCount"] + 100)
    ex.submit(principal=partner("kmar"), events=[kmar])
    for who in ("politie", "kmar"):
        check = ex.check_quarantine(partner=who)
        assert (check.messages, check.other_conflicts, check.supersessions) == (1, 1, 0), who
        assert check.findings[0].startswith("1 message states a fact another partner sent")

    # The police come back online, and a new report of theirs says what the KMar's
    # quarantined one says: stored and routed as the police's own, a correction of theirs.
    release, _ = ex.request_release(principal=OP_A, partner="politie", reason="checked")
    ex.approve_release(principal=OP_B, release_id=release.id)
    same = pv_event(case="10-000060-25")
    same["data"] = dict(kmar["data"])
    result = ex.submit(principal=partner("politie"), events=[same])
    assert result.outcomes[0].status == "accepted" and not result.outcomes[0].quarantined
    stored = ex.store.message(same["source"], same["id"])
    assert stored is not None and stored.supersedes is not None
    earlier = ex.store.message_at(stored.supersedes)
    assert earlier is not None and earlier.sender == "politie"
    # The KMar's check: the police's first report differs, their new one is the same fact,
    # which its release would deliver a second time.
    check = ex.check_quarantine(partner="kmar")
    assert (check.other_conflicts, check.repeats) == (1, 1)
    assert check.findings[1] == (
        "1 message repeats a fact another partner sent while this quarantine waited, with the "
        "same content: released, the receivers get that fact a second time, from this sender "
        "(position → the other's position, source and id: "
        f"{ex.store.message(kmar_source, kmar['id']).position} → {stored.position} "
        f"({same['source']} {same['id']}))"  # what `trail` takes
    )


def test_the_paper_check_leaves_dated_facts_and_confirmed_paper_alone(rt: Runtime) -> None:
    """A second hearing date is another hearing, not a contradiction (the last key field is a
    date); paper work an operator confirmed as paper only is no finding either."""
    ex = rt.exchange
    manual = ManualWork(store=manual_store(rt.store), chain=rt.chain, clock=ex.clock)
    ex.set_partner_state(principal=OP_A, partner="om", state="isolated", reason="Citrix")
    record = _om_paper(manual, "10-000070-25", "voeging")
    manual.confirm(principal=OP_A, record_id=record.id, reason="paper only, no message follows")
    ex.set_partner_state(principal=OP_A, partner="om", state="returning", reason="back")
    event = om_afdoening(rt, "10-000070-25")
    event["data"]["decisionKind"] = "dagvaarding"
    ex.submit(principal=partner("om"), events=[event])
    assert ex.check_quarantine(partner="om").clean
    zitting = "nl.strafrechtketen.berechting.zitting-gepland.v1"
    assert rt.chain.business_key_fields(zitting)[-1] == "hearingDate"  # left alone: a date


def test_a_returning_partner_restating_a_corrected_fact_is_a_conflict_not_a_repeat(
    rt: Runtime,
) -> None:
    """The police report, then correct their report; the KMar, cut off, sends the first
    version: it changes the current fact back, a conflict for the approver, no repeat."""
    ex = rt.exchange
    first = pv_event(case="10-000080-25")
    ex.submit(principal=partner("politie"), events=[first])
    corrected = pv_event(case="10-000080-25")
    ex.submit(principal=partner("politie"), events=[corrected])
    ex.set_partner_state(principal=OP_A, partner="kmar", state="isolated", reason="Citrix")
    ex.set_partner_state(principal=OP_A, partner="kmar", state="returning", reason="back")
    old = pv_event(case="10-000080-25", source=f"urn:nld:oin:{KMAR_OIN}:systeem:bvh")
    old["data"] = dict(first["data"])
    ex.submit(principal=partner("kmar"), events=[old])
    check = ex.check_quarantine(partner="kmar")
    assert (check.other_conflicts, check.repeats) == (1, 0)
    assert check.findings[0].startswith("1 message states a fact another partner sent")


def test_an_approval_sees_what_changed_since_the_request(rt: Runtime) -> None:
    """Paper work registered between the request and the approval gives the check a finding
    the requester never saw: the approval is refused, nothing flows, and a new request (whose
    requester has seen it) can be approved."""
    ex = rt.exchange
    manual = ManualWork(store=manual_store(rt.store), chain=rt.chain, clock=ex.clock)
    ex.set_partner_state(principal=OP_A, partner="om", state="isolated", reason="Citrix")
    ex.set_partner_state(principal=OP_A, partner="om", state="returning", reason="back")
    event = om_afdoening(rt, "10-000090-25")
    event["data"]["decisionKind"] = "dagvaarding"
    ex.submit(principal=partner("om"), events=[event])
    first, check = ex.request_release(principal=OP_A, partner="om", reason="checked")
    assert check.clean
    _om_paper(manual, "10-000090-25", "voeging")  # written down otherwise, meanwhile
    with pytest.raises(StateConflict, match="the check has findings op-a did not see") as no:
        ex.approve_release(principal=OP_B, release_id=first.id)
    assert "without a paper record of their own" in str(no.value)
    assert [r.approved_by for r in ex.releases()] == [None]
    second, check = ex.request_release(principal=OP_A, partner="om", reason="seen the paper")
    assert check.paper_conflicts == 1
    ex.approve_release(principal=OP_B, release_id=second.id)
    assert ex.quarantine_counts() == {"om": (0, 1)}


GEREED = "nl.strafrechtketen.tenuitvoerlegging.tenuitvoerlegging-gereedgemeld.v1"


def _gereed(rt: Runtime, sender: str, case: str, kind: str) -> dict[str, Any]:
    event = copy.deepcopy(sample_events(rt.exchange.chain)[GEREED].event)
    known = {p.key: p for p in rt.exchange.chain.partners}[sender]
    system = known.systems[0]  # one the chain gives it: the exchange takes no other
    event.update(id=str(uuid.uuid4()), source=f"urn:nld:oin:{known.oin}:systeem:{system}")
    event["partitionkey"] = case
    event["data"].update(parketnummer=case, sanctionKind=kind)
    event.pop("sequence", None)
    event.pop("sequencetype", None)
    return event


def test_two_executions_of_one_case_are_two_facts_not_a_supersession(rt: Runtime) -> None:
    """A judgment with a prison term and community service: the DJI and the probation service
    each report their part done. The second report is its own fact for the CJIB, not a
    correction of the first (the business key holds the sanction, not only the case)."""
    ex = rt.exchange
    case = "10-000077-25"
    ex.submit(principal=partner("dji"), events=[_gereed(rt, "dji", case, "gevangenisstraf")])
    done = _gereed(rt, "reclassering", case, "taakstraf")
    result = ex.submit(principal=partner("reclassering"), events=[done])
    assert result.outcomes[0].status == "accepted"
    got = []
    while batch := ex.pull(principal=partner("cjib"), limit=10):  # one case: one at a time
        ex.ack(principal=partner("cjib"), delivery_ids=[d.delivery_id for d in batch])
        got += batch
    assert [(d.sender, d.supersedes) for d in got] == [("dji", None), ("reclassering", None)]
    # The same report again under a new id is still the same fact.
    again = {**done, "id": str(uuid.uuid4())}
    result = ex.submit(principal=partner("reclassering"), events=[again])
    assert (result.outcomes[0].status, result.outcomes[0].by) == ("duplicate", "business-key")


@pytest.mark.parametrize(
    "expected",
    [-1, 100_000_001, 99999999999999999999999, 10**5000],
    ids=["negative", "just-past", "24-digits", "5001-digits"],
)
def test_an_expected_volume_past_the_bound_is_refused_and_asks_for_nothing(
    rt: Runtime, expected: int
) -> None:
    """Both entry points bound `expected` as the API does: the exchange says so too, so that
    no release is stored with a volume the API's reader cannot read back."""
    ex = rt.exchange
    ex.set_partner_state(principal=OP_A, partner="om", state="isolated", reason="Citrix")
    ex.set_partner_state(principal=OP_A, partner="om", state="returning", reason="back")
    with pytest.raises(InvalidInput, match="expected is 0 to 100,000,000 messages, not"):
        ex.check_quarantine(partner="om", expected=expected)
    with pytest.raises(InvalidInput, match="expected is 0 to 100,000,000 messages, not"):
        ex.request_release(principal=OP_A, partner="om", reason="x", expected=expected)
    assert ex.releases() == []
    ex.request_release(principal=OP_A, partner="om", reason="x", expected=100_000_000)


PERSONAL = [
    "op verzoek van SKN-1643701197",
    "gemeld door jan.jansen@om.nl",
    "skn1643701197 loopt vast",
]


@pytest.mark.parametrize("reason", PERSONAL)
def test_a_reason_with_an_skn_or_e_mail_address_is_refused_for_every_change(
    rt: Runtime, reason: str
) -> None:
    """A reason is on the audit trail, the history and the picture's timeline: like the
    picture's own texts it gives no SKN, BSN or e-mail address, and the refusal repeats neither."""
    ex = rt.exchange
    ex.set_partner_state(principal=OP_A, partner="kmar", state="isolated", reason="storing")
    route = _route(ex)
    before = (ex.partner_history(), ex.channel_history(), ex.routes(), ex.releases())
    changes = [
        lambda: ex.set_partner_state(principal=OP_A, partner="om", state="isolated", reason=reason),
        lambda: ex.set_partner_state(
            principal=OP_A, partner="kmar", state="returning", reason=reason
        ),
        lambda: ex.set_channel(
            principal=OP_A, receiver="om", sender="politie", state="held", reason=reason
        ),
        lambda: ex.set_channel(principal=OP_A, receiver="justid", state="open", reason=reason),
        lambda: _route(ex, reason),
        lambda: ex.close_route(principal=OP_A, route_id=route.id, reason=reason),
        lambda: ex.request_release(principal=OP_A, partner="kmar", reason=reason),
    ]
    for change in changes:
        with pytest.raises(
            InvalidInput, match="a reason gives no SKN, BSN or e-mail address"
        ) as err:
            change()
        assert "1643701197" not in err.value.detail and "jansen" not in err.value.detail
    assert (ex.partner_history(), ex.channel_history(), ex.routes(), ex.releases()) == before
    ex.set_partner_state(principal=OP_A, partner="om", state="isolated", reason="SKN-systeem")


def test_an_unknown_process_scope_lists_the_process_keys(rt: Runtime) -> None:
    """`--scope process:opsporing` (a phase, not a process) named no key that would do."""
    keys = sorted(p.key for p in rt.chain.processes)
    with pytest.raises(InvalidInput) as caught:
        rt.exchange.set_channel(
            principal=OP_A, receiver="om", scope="process:opsporing", state="held", reason="x"
        )
    assert caught.value.detail == (
        "scope 'process:opsporing': there is no process 'opsporing'; the processes are: "
        + ", ".join(keys)
    )
    assert rt.exchange.channels() == []
