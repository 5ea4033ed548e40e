"""Isolation use cases: channel rules, partner states, emergency routes, priorities and the
quarantine of a returning partner (decision 0008). Mixed into `Exchange`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import orjson

from ketenherstel.chain import Chain
from ketenherstel.exchange.auth import Principal, hash_token
from ketenherstel.exchange.envelope import canonical, content_hash
from ketenherstel.exchange.errors import Forbidden, InvalidInput, NotFound, StateConflict
from ketenherstel.store import ports
from ketenherstel.store.manual_ports import StoredFact, manual_store
from ketenherstel.store.ports import (
    AuditRecord,
    ChannelRecord,
    MessageRecord,
    PartnerStateRecord,
    QuarantineRelease,
    RouteRecord,
    Store,
)
from ketenherstel.store.rules import ANY, PROCESS_PREFIX, Rule
from ketenherstel.text import hidden_character, personal_identifier

_ROUTE_CACHE_SECONDS = 1.0
_CHECK_PAGE = 5_000


@dataclass(frozen=True, slots=True)
class QuarantineCheck:
    """What was checked before a release: each finding is one line a second operator reads."""

    partner: str
    messages: int
    schema_failures: int
    sequence_gaps: dict[str, list[tuple[int, int]]]
    key_conflicts: int
    supersessions: int
    expected: int | None
    findings: list[str] = field(default_factory=list)
    paper_conflicts: int = 0  # contradict the sender's own unmatched paper work for the case
    other_conflicts: int = 0  # differ from another partner's message of the same business key
    repeats: int = 0  # repeat a fact another partner sent: released, delivered a second time

    @property
    def clean(self) -> bool:
        return not self.findings

    def to_json(self) -> str:
        return json.dumps(
            {
                "partner": self.partner,
                "messages": self.messages,
                "schemaFailures": self.schema_failures,
                "sequenceGaps": {k: v for k, v in self.sequence_gaps.items()},
                "keyConflicts": self.key_conflicts,
                "supersessions": self.supersessions,
                "paperConflicts": self.paper_conflicts,
                "otherConflicts": self.other_conflicts,
                "repeats": self.repeats,
                "expected": self.expected,
                "findings": self.findings,
            },
            ensure_ascii=False,
        )


@dataclass(frozen=True, slots=True)
class ReleaseApproval:
    """An approved release, and why its partner stays dark if it does."""

    release: QuarantineRelease
    note: str | None = None
    """Why the approval did not bring the partner online (it is isolated, or the release was
    asked for before its current state began: decision 0018), and how many of its messages
    arrived after the request and stay in quarantine; None when neither is so."""


class IsolationMixin:
    """Isolation use cases; `Exchange` provides the attributes declared here."""

    store: Store
    chain: Chain
    clock: Callable[[], float]
    not_independent: Callable[[str, str], str | None]
    _routes_cache: tuple[float, dict[tuple[str, str], tuple[RouteRecord, ...]]] | None
    _routes_lock: threading.Lock

    def _require_operator(self, principal: Principal) -> None:
        raise NotImplementedError

    def _audit(self, principal: Principal, action: str, obj: str, detail: str) -> None:
        self.store.audit(AuditRecord(self.clock(), principal.name, action, obj, detail))

    def _known_partner(self, key: str, what: str) -> None:
        if key != ANY and all(p.key != key for p in self.chain.partners):
            raise InvalidInput(
                f"{what} {key!r} is not a partner in the chain model; known: "
                + ", ".join(sorted(p.key for p in self.chain.partners))
            )

    def _check_scope(self, scope: str) -> None:
        if scope == ANY:
            return
        if scope.startswith(PROCESS_PREFIX):
            name = scope[len(PROCESS_PREFIX) :]
            if all(p.key != name for p in self.chain.processes):
                raise InvalidInput(
                    f"scope {scope!r}: there is no process {name!r}; the processes are: "
                    + ", ".join(sorted(p.key for p in self.chain.processes))
                )
            return
        if self.chain.message_type(scope) is None:
            raise InvalidInput(
                f"scope {scope!r} is not '*', 'process:<key>' or a message type of the chain"
            )

    def _check_carried(self, receiver: str, sender: str, scope: str) -> None:
        """Refuse a rule that matches no flow (a sender and receiver with no message type
        between them in the chain or on an emergency route, in its scope): it would hold or
        open nothing. A rule already in the store may still be set, so that one stored before
        this check can be cleared."""
        chain = self.chain
        flows = {
            (r, s, mt.type, mt.process)
            for mt in chain.message_types
            for s in mt.senders
            for r in mt.receivers
            if r != s
        }
        # A route adds a receiver to a type (decision 0008). A closed one counts too: what it
        # routed may still wait on that channel, and an operator must be able to open or rate
        # it narrowly (the property test in tests/exchange/test_properties.py shows why).
        for route in self.store.routes():
            route_type = chain.message_type(route.type)
            if route_type is not None:
                flows.add((route.receiver, route.sender, route.type, route_type.process))
        probe = Rule(receiver, sender, scope, held=True)
        if any(probe.matches(*flow) for flow in flows) or any(
            (c.receiver, c.sender, c.scope) == (receiver, sender, scope)
            for c in self.store.list_channels(None if receiver == ANY else receiver)
        ):
            return
        within = "" if scope == ANY else f" in scope {scope!r}"
        named = {key: "any partner" if key == ANY else key for key in (sender, receiver)}
        why = (
            f"channel {sender} → {receiver}{'' if scope == ANY else f' [{scope}]'}: the chain "
            f"carries nothing from {named[sender]} to {named[receiver]}{within}, so the rule "
            "would hold or open nothing"
        )
        if sender != ANY:
            probe = Rule(ANY, sender, scope, held=True)
            to = sorted({f[0] for f in flows if f[1] == sender and probe.matches(*f)})
            why += f"; {sender} sends{within} to: {', '.join(to) or 'nobody'}"
        raise InvalidInput(why)

    # -- channel rules -------------------------------------------------------------------------

    def set_channel(
        self,
        *,
        principal: Principal,
        receiver: str,
        sender: str = ANY,
        scope: str = ANY,
        state: str,
        reason: str,
        rate: float | None = None,
    ) -> ChannelRecord:
        """Hold or open a channel (receiver ← sender, for a type, a process or everything),
        optionally with a rate in messages per second."""
        self._require_operator(principal)
        self._known_partner(receiver, "receiver")
        self._known_partner(sender, "sender")
        if receiver == ANY and sender == ANY:
            raise InvalidInput("name a receiver or a sender; to stop everything isolate partners")
        self._check_scope(scope)
        self._check_carried(receiver, sender, scope)
        if state not in ("open", "held"):
            raise InvalidInput(f"a channel is 'open' or 'held', not {state!r}")
        if rate is not None and (problem := rate_problem(rate)) is not None:
            raise InvalidInput(problem)
        if rate is not None and state == "held":
            raise InvalidInput("a held channel delivers nothing; a rate goes with 'open'")
        _reason(reason, "every change of a channel is on its record")
        same = self._same_channel(receiver, sender, scope, state, rate, reason)
        if same is not None:
            return same  # nothing to change, and so no event (a repeated PUT wrote one)
        record = ChannelRecord(
            receiver,
            sender,
            scope,
            state,  # type: ignore[arg-type]
            rate,
            reason,
            self.clock(),
            principal.name,
        )
        changed = self.store.set_channel(record)
        self._audit(
            principal,
            f"channel-{state}",
            f"{sender}->{receiver} [{scope}]",
            f"{reason}; rate {rate}; {changed} deliveries re-held",
        )
        return record

    def _same_channel(
        self,
        receiver: str,
        sender: str,
        scope: str,
        state: str,
        rate: float | None,
        reason: str,
    ) -> ChannelRecord | None:
        """The rule in force when setting this one would change nothing: the same state, rate
        and reason, and no narrower rule beneath it that setting it would replace (decision
        0008: a broader rule replaces the narrower ones)."""
        rules = self.store.list_channels(None)
        key = (receiver, sender, scope)
        now = next((r for r in rules if (r.receiver, r.sender, r.scope) == key), None)
        if now is None or (now.state, now.rate, now.reason) != (state, rate, reason):
            return None
        for r in rules:
            if (r.receiver, r.sender, r.scope) == key:
                continue
            if all(
                v == ANY or getattr(r, c) == v
                for c, v in zip(("receiver", "sender", "scope"), key, strict=True)
            ):
                return None  # beneath it: setting it again replaces that one
        return now

    def channels(self, receiver: str | None = None) -> list[ChannelRecord]:
        """The channel rules in force (those to ``receiver`` only, when given)."""
        if receiver is not None and receiver != ANY:
            self._known_partner(receiver, "receiver")
        return self.store.list_channels(receiver)

    def channel_history(
        self, *, receiver: str | None = None, limit: int = 100
    ) -> list[ChannelRecord]:
        """Every change of a channel rule (who, when, why), newest first."""
        if receiver is not None:
            self._known_partner(receiver, "receiver")
        if not 1 <= limit <= 1000:
            raise InvalidInput(f"limit must be from 1 to 1000, not {limit}")
        return self.store.channel_events(receiver=receiver, limit=limit)

    # -- partner states ------------------------------------------------------------------------

    def set_partner_state(
        self, *, principal: Principal, partner: str, state: str, reason: str
    ) -> PartnerStateRecord:
        """online → isolated → returning → online.

        Isolating holds everything to and from the partner (as rules, so a later plan can open
        channels one by one) and sends whatever it submits to quarantine. Returning keeps the
        holds and the quarantine. Online ends the quarantine (the holds stay until opened), so
        it takes two operators: a returning partner comes online when a release of its
        quarantine is approved, never by this call (decision 0018).
        """
        self._require_operator(principal)
        if partner == ANY:
            raise InvalidInput("isolate one partner at a time")
        self._known_partner(partner, "partner")
        if state not in ("online", "isolated", "returning"):
            raise InvalidInput(f"a partner is online, isolated or returning, not {state!r}")
        _reason(reason, "every change of a partner is on its record")
        current = {s.partner: s.state for s in self.store.partner_states()}.get(partner, "online")
        if current == state:
            raise StateConflict(f"{partner} is already {state}")
        if state == "returning" and current != "isolated":
            raise StateConflict(f"{partner} is {current}; only an isolated partner returns")
        # Said in words the command line and the API share: each names its own way to ask
        # for and approve a release (its help, the API's schema).
        if state == "online" and current == "isolated":
            raise StateConflict(
                f"{partner} is isolated: let it return first; it then comes online by a "
                "quarantine release asked by one operator and approved by another "
                "(decision 0018)"
            )
        if state == "online":  # returning
            raise StateConflict(
                f"{partner} is returning: it comes online by a quarantine release (also of "
                "nothing) asked by one operator and approved by another (decision 0018)"
            )
        now = self.clock()
        if state == "isolated":
            for receiver, sender in ((partner, ANY), (ANY, partner)):
                self.store.set_channel(
                    ChannelRecord(
                        receiver,
                        sender,
                        ANY,
                        "held",
                        None,
                        f"{partner} isolated: {reason}",
                        now,
                        principal.name,
                    )
                )
        record = PartnerStateRecord(partner, state, reason, now, principal.name)  # type: ignore[arg-type]
        self.store.set_partner_state(record)
        self._audit(principal, f"partner-{state}", partner, reason)
        return record

    def _state_of(self, partner: str) -> str:
        found = {s.partner: s.state for s in self.store.partner_states()}.get(partner)
        return found or "online"

    def partner_states(self) -> dict[str, PartnerStateRecord]:
        """Every partner's state; partners never changed are online."""
        stored = {s.partner: s for s in self.store.partner_states()}
        return {
            p.key: stored.get(p.key) or PartnerStateRecord(p.key, "online", "", 0.0, "")
            for p in self.chain.partners
        }

    def partner_history(
        self, *, partner: str | None = None, limit: int = 100
    ) -> list[PartnerStateRecord]:
        if partner is not None:
            self._known_partner(partner, "partner")
        if not 1 <= limit <= 1000:
            raise InvalidInput(f"limit must be from 1 to 1000, not {limit}")
        return self.store.partner_events(partner=partner, limit=limit)

    # -- emergency routes ------------------------------------------------------------------------

    def open_route(
        self,
        *,
        principal: Principal,
        type: str,
        sender: str,
        around: str,
        receiver: str,
        superseded_by: str,
        reason: str,
    ) -> RouteRecord:
        """Send `type` from `sender` also to `receiver` while `around` is dark. When `around`
        returns, its own `superseded_by` message for the same case reaches `receiver` as a
        supersession of the emergency one."""
        self._require_operator(principal)
        for key, what in ((sender, "sender"), (around, "around"), (receiver, "receiver")):
            if key == ANY:
                raise InvalidInput(f"{what} names one partner, not '*'")
            self._known_partner(key, what)
        if receiver in (sender, around):  # first: the checks below would name a type instead
            role = "sender" if receiver == sender else "dark partner"
            raise InvalidInput(
                f"the route's receiver {receiver} is its {role}: a route goes around the dark "
                "partner to a third one"
            )
        # Named in words, not by an entry point's field or option (--superseded-by on the
        # command line, supersededBy in the API): both show this message.
        for name, what in ((type, "type"), (superseded_by, "the superseding type")):
            if self.chain.message_type(name) is None:
                raise InvalidInput(f"{what} {name!r} is not a message type of the chain")
        if not self.chain.may_send(sender, type):
            raise InvalidInput(f"{sender} does not send {type}")
        if not self.chain.may_send(around, superseded_by):
            raise InvalidInput(f"{around} does not send {superseded_by}")
        if receiver not in self.chain.receivers_for(superseded_by, around):
            raise InvalidInput(
                f"{receiver} does not receive {superseded_by} from {around}, so nothing could "
                "supersede the emergency messages there"
            )
        _reason(reason)
        try:
            record = self.store.open_route(
                type=type,
                sender=sender,
                around=around,
                receiver=receiver,
                superseded_by=superseded_by,
                reason=reason,
                now=self.clock(),
                actor=principal.name,
            )
        except ports.AlreadyExists as exc:
            raise StateConflict(str(exc)) from None
        self._routes_cache = None
        self._audit(principal, "route-opened", _route_name(record), reason)
        return record

    def close_route(self, *, principal: Principal, route_id: int, reason: str) -> RouteRecord:
        """Close an emergency route: `receiver` no longer gets `type` from `sender`. Like
        opening one, it says why; the reason is kept on the route and in the audit trail."""
        self._require_operator(principal)
        _reason(reason, "every change of a route is on its record")
        try:
            record = self.store.close_route(
                route_id=route_id, reason=reason, now=self.clock(), actor=principal.name
            )
        except ports.NotFound as exc:
            raise NotFound(str(exc)) from None
        except ports.Refused as exc:
            raise StateConflict(str(exc)) from None
        self._routes_cache = None
        self._audit(principal, "route-closed", _route_name(record), reason)
        return record

    def routes(self) -> list[RouteRecord]:
        return self.store.routes()

    def _route_receivers(self, type_name: str, sender: str) -> tuple[RouteRecord, ...]:
        """Open routes for (type, sender), cached for a second (a CLI in another process may
        open one while a server runs)."""
        now = time.monotonic()
        with self._routes_lock:
            cached = self._routes_cache
            if cached is None or now - cached[0] > _ROUTE_CACHE_SECONDS:
                table: dict[tuple[str, str], tuple[RouteRecord, ...]] = {}
                for r in self.store.routes():
                    if r.closed_at is None:
                        table[(r.type, r.sender)] = (*table.get((r.type, r.sender), ()), r)
                cached = self._routes_cache = (now, table)
        return cached[1].get((type_name, sender), ())

    # -- priorities ------------------------------------------------------------------------

    def set_priorities(self, *, principal: Principal, priorities: Mapping[str, int]) -> int:
        """Give new submissions and every pending delivery these priorities (lower first)."""
        self._require_operator(principal)
        unknown = sorted(t for t in priorities if self.chain.message_type(t) is None)
        if unknown:
            raise InvalidInput("unknown message types: " + ", ".join(unknown))
        self._priorities.update(priorities)
        before = self.store.type_priorities()
        changed = self.store.reprioritise(priorities, now=self.clock())
        if changed or any(before.get(t) != p for t, p in priorities.items()):
            # The same priorities again change nothing and are no event (a plan step applied
            # twice said "nothing changed" while it wrote them and an audit record).
            self._audit(principal, "priorities-set", f"{len(priorities)} types", f"{changed} rows")
        return changed

    _priorities: dict[str, int]

    # -- quarantine ------------------------------------------------------------------------

    def quarantined(
        self, *, principal: Principal, partner: str | None = None, limit: int = 100
    ) -> list[MessageRecord]:
        if not principal.can_view:
            raise Forbidden("the quarantine is for operators and viewers")
        if partner is not None:
            self._known_partner(partner, "partner")
        if not 1 <= limit <= 1000:
            raise InvalidInput(f"limit must be from 1 to 1000, not {limit}")
        self._audit(principal, "quarantine-read", partner or "*", f"limit {limit}")
        return self.store.quarantined(partner=partner, limit=limit)

    def quarantine_counts(self) -> dict[str, tuple[int, int]]:
        return self.store.quarantine_counts()

    def check_quarantine(
        self, *, partner: str, expected: int | None = None, up_to: int | None = None
    ) -> QuarantineCheck:
        """Check what a returning partner sent before anyone releases it: each message's data
        against its schema, sequence continuity per source, business keys already stored by
        another message with different content, what others registered that the message
        contradicts (another partner's message of the same business key, the sender's own
        unmatched paper work for the same case: `_compare_with_others`), supersessions of
        emergency-route messages, and the volume against what was expected. ``up_to``: only
        the messages a release asked for covers (up to that position)."""
        self._known_partner(partner, "partner")
        if expected is not None and (problem := expected_problem(expected)) is not None:
            raise InvalidInput(problem)
        return self._run_check(partner=partner, expected=expected, up_to=up_to)

    def _run_check(
        self, *, partner: str, expected: int | None, up_to: int | None
    ) -> QuarantineCheck:
        schema_failures = key_conflicts = own_corrections = supersessions = total = 0
        paper: list[tuple[int, int]] = []  # (position, manual record) that disagree
        others: list[tuple[int, str]] = []  # (position, another partner's message, named)
        repeats: list[tuple[int, str]] = []  # (position, another partner's same fact, named)
        sequences: dict[str, list[int]] = {}
        after = -1
        while True:
            page = self.store.quarantined(partner=partner, limit=_CHECK_PAGE, after=after)
            if not page:
                break
            if up_to is not None:
                page = [m for m in page if m.position <= up_to]
            keyed: list[tuple[MessageRecord, str, str, dict[str, object]]] = []  # bkey, fact
            for m in page:
                total += 1
                after = m.position
                event = orjson.loads(m.body)
                data = event.get("data")
                if self.chain.validate_data(m.type, data):
                    schema_failures += 1
                if m.sequence is not None:
                    sequences.setdefault(m.source, []).append(m.sequence)
                key = self.chain.business_key(m.type, data) if isinstance(data, dict) else None
                if key is not None and isinstance(data, dict):
                    fact = content_hash(canonical({"data": data}))
                    keyed.append((m, hash_token(key), fact, data))
                if m.supersedes is not None:
                    original = self.store.message_at(m.supersedes)
                    if original is None:
                        supersessions += 1  # of a message purged since: nothing to compare
                    elif original.sender != m.sender:
                        # The same business key as another partner's message, other data.
                        others.append((m.position, _named(original.position, original)))
                    elif original.quarantined == 1:
                        own_corrections += 1  # corrects its own message, itself in quarantine
                    else:
                        key_conflicts += 1  # changes a fact it sent before, already delivered
                elif any(d.supersedes is not None for d in self.store.deliveries_of(m.position)):
                    supersessions += 1  # of an emergency-route message (decision 0008)
            self._compare_with_others(keyed, paper, others, repeats)
            if len(page) < _CHECK_PAGE:
                break
        gaps: dict[str, list[tuple[int, int]]] = {}
        for source in sequences:
            state = self.store.sequence_state(source)
            if state is not None and state.gaps:
                gaps[source] = [tuple(g) for g in state.gaps]  # type: ignore[misc]
        findings: list[str] = []
        if schema_failures:
            findings.append(f"{schema_failures} messages fail their schema")
        for source, ranges in gaps.items():
            findings.append(f"{source}: sequence gaps {ranges}")
        if key_conflicts:
            findings.append(
                f"{key_conflicts} messages change a fact the partner sent before and that was "
                "delivered (released or sent before the outage)"
            )
        if own_corrections:
            findings.append(
                f"{own_corrections} messages correct another of the partner's messages that is "
                "itself in this quarantine"
            )
        n_paper, n_others, n_repeats = (len({p for p, _ in x}) for x in (paper, others, repeats))
        if n_paper:
            n = n_paper
            findings.append(
                f"{_messages(n)} without a paper record of their own, where the sender's paper "
                "work for the same case, matched by no message, differs in the last business-key "
                f"field (position → manual record: {_pairs(paper)})"
            )
        if n_others:
            n = n_others
            findings.append(
                f"{_messages(n)} {'states' if n == 1 else 'state'} a fact another partner sent "
                "with other content "
                f"(position → the other's position, source and id: {_pairs(others)})"
            )
        if n_repeats:
            n = n_repeats
            findings.append(
                f"{_messages(n)} {'repeats' if n == 1 else 'repeat'} a fact another partner "
                "sent while this quarantine waited, with the same content: released, the "
                "receivers get that fact a second time, from this sender (position → the "
                f"other's position, source and id: {_pairs(repeats)})"
            )
        if expected is not None and total > 1.5 * expected:
            findings.append(f"{total} messages where about {expected} were expected")
        if expected is not None and total < 0.5 * expected:
            findings.append(f"only {total} messages where about {expected} were expected")
        return QuarantineCheck(
            partner,
            total,
            schema_failures,
            gaps,
            key_conflicts,
            supersessions,
            expected,
            findings,
            n_paper,
            n_others,
            n_repeats,
        )

    def _compare_with_others(
        self,
        keyed: list[tuple[MessageRecord, str, str, dict[str, object]]],
        paper: list[tuple[int, int]],
        others: list[tuple[int, str]],
        repeats: list[tuple[int, str]],
    ) -> None:
        """What others registered that a quarantined message contradicts:

        - another partner's message with the same business key and other data, whether
          delivered, online or itself waiting in a quarantine (not one that this message
          supersedes: that is counted where the supersession is);
        - another partner's message of the same fact (business key and data). A message waiting
          in quarantine is no fact for others (`store._sql_accept._latest`), so the other one was
          stored and delivered; released, this one delivers the fact again;
        - the sender's own paper work for the same case and type, matched by no message and not
          confirmed as paper only, that agrees with the message on every business-key field but
          the last (a decision kind, a measure's decision): the two most likely tell one event
          differently. Where the last field is a date (a hearing, a judgment), two facts of one
          case are normal, and a message with a paper record of its own is that record's."""
        if not keyed:
            return
        chain = self.chain
        facts = manual_store(self.store).facts_for_check(
            [bkey for _, bkey, _, _ in keyed],
            [(m.type, str(data[chain.business_key_fields(m.type)[0]])) for m, _, _, data in keyed],
        )
        by_key: dict[str, list[StoredFact]] = {}
        by_case: dict[tuple[str, str], list[StoredFact]] = {}
        for f in facts:
            if f.bkey is not None:
                by_key.setdefault(f.bkey, []).append(f)
            if f.kind == "paper":
                by_case.setdefault((f.type, f.case), []).append(f)
        for m, bkey, fact, data in keyed:
            same = by_key.get(bkey, [])
            for f in same:
                if f.kind != "message" or f.partner == m.sender or f.via_route:
                    continue
                if f.fact_hash == fact:
                    if m.supersedes is None:  # else it changes the current fact: see there
                        repeats.append((m.position, _named(f.ref, f)))
                elif f.ref != m.supersedes:
                    others.append((m.position, _named(f.ref, f)))
            if any(f.kind == "paper" and f.partner == m.sender for f in same):
                continue  # its own paper record: the same fact
            names = chain.business_key_fields(m.type)
            if len(names) < 2 or names[-1].endswith(("Date", "At")):
                continue
            mine = [_written(data.get(n)) for n in names]
            for f in by_case.get((m.type, str(mine[0])), ()):
                if f.partner != m.sender or f.matched or f.status == "confirmed":
                    continue
                theirs = dict(f.fields)
                if [theirs.get(n) for n in names[:-1]] == mine[:-1] and theirs.get(
                    names[-1]
                ) != mine[-1]:
                    paper.append((m.position, f.ref))

    def request_release(
        self,
        *,
        principal: Principal,
        partner: str,
        reason: str,
        expected: int | None = None,
    ) -> tuple[QuarantineRelease, QuarantineCheck]:
        """The first operator checks the quarantine and asks for its release. A returning
        partner's release may cover nothing: its approval is the second operator's consent to
        bring the partner online (decision 0018)."""
        self._require_operator(principal)
        _reason(reason)
        check = self.check_quarantine(partner=partner, expected=expected)

        def same_as(waiting: QuarantineRelease) -> bool:
            # A second request would cover the same messages with no finding the waiting one's
            # requester did not see: the waiting one is what a second operator approves.
            seen, _ = stored_check(waiting.checks)
            return all(f in seen for f in check.findings)

        returning = self._state_of(partner) == "returning"
        try:
            # The store decides in the transaction that stores the request, so two requests
            # at once (two operators, two processes) store one release, not two.
            release = self.store.request_release(
                partner=partner,
                checks=check.to_json(),
                reason=reason,
                now=self.clock(),
                actor=principal.name,
                allow_empty=returning,
                same_as=same_as,
            )
        except ports.ReleaseWaiting as exc:
            waiting = exc.release
            raise StateConflict(
                f"release {waiting.id} of {partner}, asked by {waiting.requested_by}, "
                f"covers what waits in its quarantine now ({_messages(check.messages)}) "
                "with the same check and waits for another operator's approval: approve "
                f"that one (`quarantine approve {waiting.id}` on the command line, POST "
                f"/v1/quarantine-releases/{waiting.id}/approval over the API) rather "
                "than asking again"
            ) from None
        except ports.NotFound as exc:
            raise StateConflict(str(exc)) from None
        self._audit(principal, "release-requested", partner, f"{release.messages} messages")
        return release, check

    def waiting_release(self, *, partner: str) -> QuarantineRelease | None:
        """The release of ``partner`` that waits for a second operator and covers everything
        in its quarantine now: asked for since the partner's current state began (one asked
        earlier does not bring it online, decision 0018) and with no message arrived after
        it. A new request would cover the same messages. None when no such release waits."""
        self._known_partner(partner, "partner")
        return self.store.waiting_release(partner=partner)

    def approve_release(self, *, principal: Principal, release_id: int) -> ReleaseApproval:
        """A second operator approves; only then do the messages flow (under the channel
        rules, which may still hold them). The answer says when the partner stays dark."""
        self._require_operator(principal)
        asked = next(iter(self.store.releases(partner=None, release_id=release_id)), None)
        if (
            asked is not None
            and asked.approved_by is None
            and not ports.same_person(asked.requested_by, principal.name)  # the store says so
        ):
            why = self.not_independent(asked.requested_by, principal.name)
            if why is not None:
                raise StateConflict(
                    f"release {release_id} was requested by {asked.requested_by}; a second "
                    f"operator approves, and {why}"
                )
            self._check_unchanged(asked)
        try:
            release = self.store.approve_release(
                release_id=release_id, now=self.clock(), actor=principal.name
            )
        except ports.NotFound as exc:
            raise NotFound(str(exc)) from None
        except ports.Refused as exc:
            raise StateConflict(str(exc)) from None
        # A returning partner whose quarantine two operators released is trusted again: what it
        # sends from now on flows under the channel rules (which may still hold it). What
        # arrived between the request and the approval was not checked and stays in quarantine.
        state = self.partner_states().get(release.partner)
        online = (
            state is not None
            and state.state == "returning"
            and release.requested_at >= state.changed_at  # not asked before a new isolation
        )
        note = None if online or state is None else _stays_dark(release, state)
        # What arrived after the request was not checked and was not released: said, so that
        # a partner shown online is not taken to have nothing left in quarantine.
        left = self.store.quarantine_counts().get(release.partner, (0, 0))[0]
        if left:
            stays = (
                f"{left} message{'s' if left != 1 else ''} of {release.partner} arrived after "
                "the request and stay in quarantine: ask for their release (`quarantine request "
                f"{release.partner}`, POST /v1/quarantine-releases)"
            )
            note = f"{note}; {stays}" if note else stays
        self._audit(
            principal,
            "release-approved",
            release.partner,
            f"release {release_id}" + (f"; {note}" if note else ""),
        )
        if online:
            record = PartnerStateRecord(
                release.partner,
                "online",
                f"quarantine released (release {release.id}, asked by {release.requested_by}, "
                f"approved by {release.approved_by})",
                self.clock(),
                principal.name,
            )
            self.store.set_partner_state(record)
            self._audit(principal, "partner-online", release.partner, record.reason)
        return ReleaseApproval(release, note)

    def _check_unchanged(self, asked: QuarantineRelease) -> None:
        """The second operator approves what the first one saw: the check is run again over
        the messages the release covers, and a finding it did not have (paper work registered,
        another partner's message sent since) refuses the approval until a new request."""
        seen, expected = stored_check(asked.checks)
        # As asked, with the expected volume as stored (also one asked for before it was
        # bounded: the requester saw its finding, so it is no new one).
        now = self._run_check(partner=asked.partner, expected=expected, up_to=asked.up_to_pos)
        new = [f for f in now.findings if f not in seen]
        if new:
            raise StateConflict(
                f"release {asked.id}: the check has findings {asked.requested_by} did not see "
                f"when asking for it: {'; '.join(new)}. Ask for a new release, so that both "
                "operators have seen them"
            )

    def releases(self, *, partner: str | None = None) -> list[QuarantineRelease]:
        if partner is not None:
            self._known_partner(partner, "partner")
        return self.store.releases(partner=partner)


MAX_REASON = 500
"""The longest reason kept on a record (the API's limit, the same from the CLI)."""

MAX_EXPECTED = 100_000_000
"""The most messages a quarantine check may be told to expect (the API's limit, the same from
the CLI): more than the whole chain sends in years."""


def expected_problem(expected: int) -> str | None:
    """What is wrong with the expected volume of a quarantine check; None for 0 to
    MAX_EXPECTED messages."""
    if isinstance(expected, bool) or not 0 <= expected <= MAX_EXPECTED:
        shown = f"{expected!r}" if expected.bit_length() <= 128 else "a number that large"
        return f"expected is 0 to {MAX_EXPECTED:,} messages, not {shown}"
    return None


MIN_RATE = 1 / 86_400
"""One message a day: a slower rate delivers as good as nothing while the channel shows open."""
MAX_RATE = 1_000_000.0
"""A million messages a second, fifty times what a store drains: a rate above it limits
nothing, and 1e300 was stored and shown as a channel's rate (a review set it). The go-live
plans' rates have the same bound (`golive.channels.MAX_RATE`, kept equal by a test)."""
RATE = (
    "a rate is a positive number of messages per second (such as 5 or 0.5), at least one a "
    f"day ({MIN_RATE:.7f}) and at most {MAX_RATE:,.0f} a second"
)
"""What a channel's rate is, as every entry point that refuses one says it."""


def rate_problem(rate: float, given: str | None = None) -> str | None:
    """What is wrong with a channel's rate, quoting ``given`` (the text it was written as, such
    as '1e400' for inf) or else the number; None for a rate from MIN_RATE to MAX_RATE."""
    if MIN_RATE <= rate <= MAX_RATE:  # NaN is neither
        return None
    return f"{RATE}, not {given if given is not None else f'{rate:g}'!r}"


def _reason(reason: str, why: str = "") -> None:
    """A reason for a change: said, at most MAX_REASON characters, printable and without
    personal data (it is on the audit trail, the history and the picture's timeline)."""
    if not reason.strip():
        raise InvalidInput("say why (reason)" + (f": {why}" if why else ""))
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"a reason is at most {MAX_REASON} characters, not {len(reason):,}")
    hidden = hidden_character(reason)
    if hidden is not None:
        raise InvalidInput(f"a reason holds no control or invisible characters ({hidden})")
    if personal_identifier(reason):
        # Not repeated in the answer: it is the personal data itself.
        raise InvalidInput(
            "a reason gives no SKN, BSN or e-mail address: it is shown on the audit trail, the "
            "history and the picture's timeline, which carry no personal data"
        )


def _stays_dark(release: QuarantineRelease, state: PartnerStateRecord) -> str | None:
    """Why approving ``release`` leaves its partner isolated or returning (decision 0018), or
    None when the partner is online."""
    p = release.partner
    if state.state == "isolated":
        return (
            f"{p} stays isolated: the approval releases what release {release.id} covers "
            f"({_messages(release.messages)}, under the channel rules); {p} comes online once "
            "it returns and a release asked for after that is approved by another operator "
            "(decision 0018)"
        )
    if state.state == "returning":
        return (
            f"{p} stays returning: release {release.id} was asked for before {p}'s current "
            f"state began, so its approval releases what it covers ({_messages(release.messages)}) "
            f"but does not bring {p} online (decision 0018); a release asked for now, approved "
            "by another operator, does"
        )
    return None


def _route_name(route: RouteRecord) -> str:
    """A route as its audit records name it, opened or closed alike: what goes from whom to
    whom, and its id (what `route close` takes)."""
    return f"{route.type} {route.sender}->{route.receiver} (route {route.id})"


def _named(position: int, message: StoredFact | MessageRecord) -> str:
    """Another partner's message as a finding names it: its position, and the source and id
    that `trail` takes."""
    return f"{position} ({message.source} {message.id})"


def _pairs(pairs: Sequence[tuple[int, int | str]], shown: int = 10) -> str:
    text = ", ".join(f"{a} → {b}" for a, b in pairs[:shown])
    return text + (f" and {len(pairs) - shown} more" if len(pairs) > shown else "")


def _messages(n: int) -> str:
    return "1 message" if n == 1 else f"{n} messages"


def _written(value: object) -> str | None:
    """A data value as a business key and a paper record write it (`str`)."""
    return None if value is None else str(value)


def stored_check(checks: str) -> tuple[list[str], int | None]:
    """The findings and the expected volume of the check stored with a release
    (`QuarantineCheck.to_json`); a stored check that cannot be read is one finding saying so."""
    try:
        doc = json.loads(checks)
    except ValueError:
        return ["(the stored check cannot be read)"], None
    if not isinstance(doc, dict):
        return ["(the stored check cannot be read)"], None
    found = doc.get("findings", [])
    expected = doc.get("expected")
    return (
        [str(f) for f in found] if isinstance(found, list) else [],
        expected if isinstance(expected, int) else None,
    )
