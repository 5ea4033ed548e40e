"""The exchange's use cases: accept, route, deliver, ack, retry, dead-letter, trail, admin.

Every method takes keyword arguments and the calling `Principal`; the web layer and the CLI are
thin wrappers around this class.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ketenherstel.chain import Chain, parse_source_urn
from ketenherstel.chain import Partner as ChainPartner
from ketenherstel.exchange import auth
from ketenherstel.exchange.auth import Principal
from ketenherstel.exchange.bundles import BundleMixin
from ketenherstel.exchange.committer import GroupCommitter
from ketenherstel.exchange.envelope import Envelope, Limits, check_events, sender_problems
from ketenherstel.exchange.errors import (
    ConflictingEvent,
    Forbidden,
    InvalidInput,
    NotFound,
    Problem,
    StateConflict,
    Unauthenticated,
)
from ketenherstel.exchange.isolation import IsolationMixin
from ketenherstel.store import ports
from ketenherstel.store.ports import (
    AcceptOutcome,
    AcceptRequest,
    AckResult,
    CredentialRecord,
    DeliveryRecord,
    LeasedDelivery,
    LeaseParams,
    MessageOutcome,
    MessageRecord,
    NackResult,
    NewMessage,
    PartnerRecord,
    PurgeResult,
    Role,
    SequenceState,
    SourceCompleteness,
    Store,
    TrailEntry,
)
from ketenherstel.text import hidden_character, personal_identifier
from ketenherstel.urls import http_address

_MAX_RETENTION_DAYS = 36_500  # as the API's limit
_DAY = 86_400.0
_INLINE_EVENTS = 20  # submissions up to this size are checked on the event loop


def receiver_of(principal: Principal) -> str:
    """The partner a credential receives deliveries for; Forbidden for a viewer or operator."""
    if principal.role != "partner" or principal.partner_key is None:
        raise Forbidden("only a partner credential receives deliveries")
    return principal.partner_key


@dataclass(frozen=True, slots=True)
class ExchangeSettings:
    visibility_timeout: float = 30.0
    max_visibility: float = 3_600.0
    max_attempts: int = 10
    # How long a delivery may keep failing, counted from its first attempt: time spent held (the
    # OM was dark for ten weeks) never counts. A year by default.
    max_age: float = 365 * _DAY
    backoff_base: float = 1.0
    backoff_cap: float = 900.0
    max_pull: int = 1_000
    token_cache_seconds: float = 5.0
    # A rated channel may deliver up to rate x this many messages at once (a token bucket).
    rate_burst_seconds: float = 1.0
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True, slots=True)
class SubmitResult:
    outcomes: tuple[MessageOutcome, ...]
    envelopes: tuple[Envelope, ...]
    gaps: dict[str, tuple[tuple[int, int], ...]]

    @property
    def accepted(self) -> int:
        return sum(1 for o in self.outcomes if o.status == "accepted")

    @property
    def duplicates(self) -> int:
        return sum(1 for o in self.outcomes if o.status == "duplicate")


@dataclass(frozen=True, slots=True)
class Revocation:
    credential: CredentialRecord
    already: bool
    """Revoked before (at ``credential.revoked_at``): nothing changed, nothing was logged."""


@dataclass(frozen=True, slots=True)
class MessageTrail:
    message: MessageRecord
    deliveries: list[DeliveryRecord]
    entries: list[TrailEntry]
    asked: tuple[str, str] | None = None
    """The (source, id) asked for, when it was answered as a duplicate by business key of
    this message (the id was kept, the event was not stored): this message's trail."""


class Exchange(IsolationMixin, BundleMixin):
    def __init__(
        self,
        *,
        store: Store,
        chain: Chain,
        settings: ExchangeSettings | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        priorities: Mapping[str, int] | None = None,
    ) -> None:
        self.store = store
        self.chain = chain
        self.settings = settings or ExchangeSettings()
        self.clock = clock
        self._rng = rng or random.Random()
        self._committer = GroupCommitter(store)
        self._tokens: dict[str, tuple[float, CredentialRecord | None]] = {}
        self._routes: dict[tuple[str, str], tuple[str, ...]] = {}
        self._partners: dict[str, PartnerRecord] = {}
        self._lock = threading.Lock()
        self._routes_cache = None
        self._routes_lock = threading.Lock()
        # type -> rank, lower first (golive.priority computes them; bootstrap passes them in)
        self._priorities: dict[str, int] = dict(priorities or {})

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start group commit (for servers with many concurrent submitters)."""
        self._committer.start()

    def close(self) -> None:
        self._committer.stop()

    # -- identity -----------------------------------------------------------------------------

    def cached_principal(self, token: str) -> Principal | None:
        """The caller, if its token was checked recently and is valid (no I/O); else None."""
        if not auth.looks_like_token(token):
            return None
        cached = self._tokens.get(auth.hash_token(token))
        if cached is None or self.clock() - cached[0] > self.settings.token_cache_seconds:
            return None
        record = cached[1]
        if record is None or record.revoked_at is not None:
            return None
        return Principal(record.principal, record.role, record.partner_key, "token")

    def authenticate_token(self, token: str) -> Principal:
        if not auth.looks_like_token(token):
            raise Unauthenticated(
                "the bearer token is malformed: a token is kh_ and 43 letters, digits, - or _"
            )
        digest = auth.hash_token(token)
        now = self.clock()
        cached = self._tokens.get(digest)
        if cached is None or now - cached[0] > self.settings.token_cache_seconds:
            cached = (now, self.store.credential_by_hash(digest))
            if cached[1] is None:  # never cache misses: random tokens must not grow memory
                self._tokens.pop(digest, None)
            else:
                self._tokens[digest] = cached
        record = cached[1]
        if record is None or not auth.same_hash(record.token_hash, digest):
            raise Unauthenticated("unknown bearer token")
        if record.revoked_at is not None:
            raise Unauthenticated("this token has been revoked; ask an operator for a new one")
        return Principal(record.principal, record.role, record.partner_key, "token")

    def principal_by_hash(self, digest: str) -> Principal | None:
        """The holder of the token with this SHA-256 (a UI session keeps only the hash), or
        None when it is unknown or revoked. Cached like :meth:`authenticate_token`."""
        now = self.clock()
        cached = self._tokens.get(digest)
        if cached is None or now - cached[0] > self.settings.token_cache_seconds:
            cached = (now, self.store.credential_by_hash(digest))
            if cached[1] is None:
                self._tokens.pop(digest, None)
                return None
            self._tokens[digest] = cached
        record = cached[1]
        if record is None or record.revoked_at is not None:
            return None
        return Principal(record.principal, record.role, record.partner_key, "token")

    def authenticate_certificate(self, oin: str | None) -> Principal:
        if oin is None:
            raise Unauthenticated(
                "the client certificate carries no OIN in its subject serialNumber"
            )
        for partner in self.store.list_partners():
            if partner.oin == oin:
                return Principal(partner.key, "partner", partner.key, "certificate")
        raise Unauthenticated(f"no partner is registered with OIN {oin}")

    # -- admin --------------------------------------------------------------------------------

    def _require_operator(self, principal: Principal) -> None:
        if not principal.is_operator:
            raise Forbidden("this needs the operator role")

    def register_partner(
        self, *, principal: Principal, key: str, oin: str | None = None, name: str | None = None
    ) -> PartnerRecord:
        self._require_operator(principal)
        known = self._chain_partner(key)
        if known is None:
            raise InvalidInput(
                f"{key!r} is not a partner in the chain model; known: "
                + ", ".join(sorted(p.key for p in self.chain.partners))
            )
        oin = oin or known.oin
        if not auth.OIN.match(oin):
            raise InvalidInput(f"an OIN is 20 digits, not {oin!r}")
        if self.store.get_partner(key) is not None:
            raise StateConflict(f"partner {key!r} is already registered")
        if any(p.oin == oin for p in self.store.list_partners()):
            raise StateConflict(f"OIN {oin} is already registered to another partner")
        record = self.store.add_partner(key=key, name=name or known.name, oin=oin, now=self.clock())
        self._audit(principal, "partner-registered", key, oin)
        return record

    def _chain_partner(self, key: str) -> ChainPartner | None:
        return next((p for p in self.chain.partners if p.key == key), None)

    def _systems_of(self, key: str) -> tuple[str, ...]:
        """The systems the chain model gives a partner (none for one it does not know)."""
        known = self._chain_partner(key)
        return () if known is None else known.systems

    def partners(self) -> list[PartnerRecord]:
        return self.store.list_partners()

    def partner(self, key: str) -> PartnerRecord:
        record = self._partners.get(key) or self.store.get_partner(key)
        if record is None:
            raise NotFound(f"partner {key!r} is not registered; an operator adds it first")
        self._partners[key] = record
        return record

    def set_webhook(self, *, principal: Principal, key: str, url: str | None) -> PartnerRecord:
        self._require_operator(principal)
        self.partner(key)
        where = None if url is None else _webhook_host(url)
        self.store.set_webhook(key=key, url=url)
        self._partners.pop(key, None)
        # The audit names the host only: the rest of a webhook URL may carry a secret.
        self._audit(principal, "webhook-set", key, where or "(none)")
        return self.partner(key)

    def create_token(
        self,
        *,
        principal: Principal,
        role: Role,
        partner: str | None = None,
        person: str | None = None,
        label: str = "",
    ) -> tuple[str, CredentialRecord]:
        self._require_operator(principal)
        return self._issue_token(
            principal=principal,
            role=role,
            partner=partner,
            person=person,
            label=auth.token_label(label),
        )

    def _issue_token(
        self,
        *,
        principal: Principal,
        role: Role,
        partner: str | None,
        person: str | None,
        label: str,
    ) -> tuple[str, CredentialRecord]:
        """A new token and its credential; ``label`` as checked when it was first given (a
        rotation keeps the old credential's, also one kept before labels were checked)."""
        if role == "partner":
            if partner is None or person is not None:
                raise InvalidInput("a partner token names a partner (and no person)")
            self.partner(partner)
            name = partner
        else:
            if role not in ("operator", "viewer"):
                raise InvalidInput(f"role must be partner, operator or viewer, not {role!r}")
            if not person or partner is not None:
                article = "an" if role == "operator" else "a"
                raise InvalidInput(f"{article} {role} token names a person (and no partner)")
            name = auth.person_name(person)
        token = auth.new_token()
        record = CredentialRecord(
            id=auth.new_credential_id(),
            principal=name,
            role=role,
            partner_key=partner,
            token_hash=auth.hash_token(token),
            label=label,
            created_at=self.clock(),
            revoked_at=None,
            created_by=principal.name,
        )
        self.store.add_credential(record)
        self._audit(principal, "token-created", record.id, f"{role} {name}")
        return token, record

    def revoke_token(self, *, principal: Principal, credential_id: str) -> Revocation:
        """Revoke a credential. One revoked before stays as it was (revoked then): nothing
        changes and nothing is logged again (``already``)."""
        self._require_operator(principal)
        try:
            record, revoked = self.store.revoke_credential(
                credential_id=credential_id, now=self.clock()
            )
        except ports.NotFound:
            raise NotFound(f"no credential {credential_id!r}") from None
        self._tokens.pop(record.token_hash, None)
        if not revoked:  # before this call, or by another at the same time: the first counts
            return Revocation(record, already=True)
        self._audit(principal, "token-revoked", credential_id, "")
        return Revocation(record, already=False)

    def rotate_token(
        self, *, principal: Principal, credential_id: str
    ) -> tuple[str, CredentialRecord]:
        """Issue a new token for the same holder and revoke the old one."""
        self._require_operator(principal)
        old = next((c for c in self.store.list_credentials() if c.id == credential_id), None)
        if old is None:
            raise NotFound(f"no credential {credential_id!r}")
        if old.revoked_at is not None:
            raise StateConflict(f"credential {credential_id} is revoked; create a new token")
        person = None if old.role == "partner" else old.principal
        token, record = self._issue_token(
            principal=principal,
            role=old.role,
            partner=old.partner_key,
            person=person,
            label=old.label,
        )
        self.revoke_token(principal=principal, credential_id=credential_id)
        return token, record

    def not_independent(self, first: str, second: str) -> str | None:
        """Why ``second`` cannot be the second person of a two-person rule after ``first``, or
        None. Besides being one person: whoever made an operator's credential has seen its token
        and can act as that operator, and so can whoever could act as its maker when it was
        made; neither of the two may be able to act as the other."""
        if ports.same_person(first, second):
            return f"{second} is the same operator"
        everything = self.store.list_credentials()
        for actor, holder in ((first, second), (second, first)):
            credential = _can_act_as(everything, actor, holder)
            if credential is not None:
                return (
                    f"{actor} made {holder}'s credential {credential} (or the credential that "
                    f"made it), and so can act as {holder}; an independent operator gives "
                    f"{holder} a new token and revokes that one"
                )
        return None

    def credentials(self, *, principal: Principal) -> list[CredentialRecord]:
        """Every credential (never a token): its holder's name and its maker's are personal
        data, so the read is audited."""
        self._require_operator(principal)
        found = self.store.list_credentials()
        self._audit(principal, "credentials-read", "*", f"{len(found)} credentials")
        return found

    # -- traffic ------------------------------------------------------------------------------

    def submit(self, *, principal: Principal, events: Sequence[Any]) -> SubmitResult:
        """Check, store and route a submission; return only after it is committed."""
        request, envelopes = self.prepare(principal=principal, events=events)
        now = self.clock()
        if self._committer.running:
            outcome = self._committer.submit(request, now)
        else:
            outcome = self.store.accept([request], now=now)[0]
        return self._settle(outcome, envelopes)

    def submit_many(
        self, submissions: Sequence[tuple[Principal, Sequence[Any]]]
    ) -> list[SubmitResult | ConflictingEvent]:
        """Several partners' submissions in one commit, as group commit does for concurrent
        callers (the scenario runner sends each step's traffic this way).

        Every submission is checked first: if one is invalid or not the caller's to send, its
        error is raised and nothing is stored. Each is then stored whole or not at all, in
        order; one that reuses an id with another body is not stored and its place in the
        result holds the ``ConflictingEvent`` that ``submit`` would have raised.
        """
        prepared = [self.prepare(principal=p, events=events) for p, events in submissions]
        if not prepared:
            return []
        outcomes = self.store.accept([request for request, _ in prepared], now=self.clock())
        results: list[SubmitResult | ConflictingEvent] = []
        for outcome, (_, envelopes) in zip(outcomes, prepared, strict=True):
            try:
                results.append(self._settle(outcome, envelopes))
            except ConflictingEvent as exc:
                results.append(exc)
        return results

    async def submit_async(self, *, principal: Principal, events: Sequence[Any]) -> SubmitResult:
        """`submit` for an event loop: the commit is awaited, no thread is parked on it.

        Small submissions are checked on the loop; large ones in a worker thread.
        """
        if len(events) > _INLINE_EVENTS:
            request, envelopes = await asyncio.to_thread(
                self.prepare, principal=principal, events=events
            )
        else:
            request, envelopes = self.prepare(principal=principal, events=events)
        now = self.clock()
        if self._committer.running:
            outcome = await asyncio.wrap_future(self._committer.submit_future(request, now))
        else:
            outcome = (await asyncio.to_thread(self.store.accept, [request], now=now))[0]
        return self._settle(outcome, envelopes)

    def prepare(
        self, *, principal: Principal, events: Sequence[Any]
    ) -> tuple[AcceptRequest, list[Envelope]]:
        """Check a submission and route it; raises with every problem found."""
        if principal.role != "partner" or principal.partner_key is None:
            raise Forbidden("only a partner credential may submit events")
        envelopes, problems = check_events(
            events,
            limits=self.settings.limits,
            known_type=lambda t: self.chain.message_type(t) is not None,
            validate_data=self.chain.validate_data,
        )
        sender = self.partner(principal.partner_key)
        wrong = (
            []
            if problems
            else sender_problems(
                envelopes,
                key=sender.key,
                oin=sender.oin,
                may_send=self.chain.may_send,
                who=f"you are {sender.key} (OIN {sender.oin})",
                systems=self._systems_of(sender.key),
            )
        )
        if problems:
            raise InvalidInput(
                f"{len(problems)} problem(s) in the submission; nothing was stored", problems
            )
        if wrong:
            raise Forbidden("the submission contains events this partner may not send", wrong)
        return AcceptRequest([self._new_message(env, sender.key) for env in envelopes]), envelopes

    def _new_message(self, env: Envelope, sender: str) -> NewMessage:
        mt = self.chain.message_type(env.type)
        assert mt is not None  # checked with the envelope
        receivers = self._receivers(env.type, sender)
        via_route = None
        for route in self._route_receivers(env.type, sender):
            if route.receiver not in receivers:
                receivers = (*receivers, route.receiver)
                via_route = route.id
        key = self.chain.business_key(env.type, env.data) if isinstance(env.data, Mapping) else None
        return NewMessage(
            source=env.source,
            id=env.id,
            sender=sender,
            type=env.type,
            subject=env.subject,
            partitionkey=env.partitionkey,
            sequence=env.sequence,
            time=env.time,
            content_hash=env.content_hash,
            body=env.body,
            receivers=receivers,
            process=mt.process,
            bkey=auth.hash_token(key) if key is not None else None,
            fact_hash=env.fact_hash,
            priority=self._priorities.get(env.type, 0),
            via_route=via_route,
        )

    def _settle(self, outcome: AcceptOutcome, envelopes: list[Envelope]) -> SubmitResult:
        if outcome.rejected:
            details = "; ".join(
                f"event {c.index} ({c.source} {c.id}): stored {c.stored_hash}, "
                f"submitted {c.submitted_hash}"
                for c in outcome.conflicts
            )
            raise ConflictingEvent(
                "an event id was used before with a different body; nothing was stored: " + details,
                [
                    Problem(c.index, "id", f"stored {c.stored_hash}, submitted {c.submitted_hash}")
                    for c in outcome.conflicts
                ],
            )
        return SubmitResult(outcome.outcomes, tuple(envelopes), outcome.gaps)

    def _receivers(self, type_name: str, sender: str) -> tuple[str, ...]:
        key = (type_name, sender)
        found = self._routes.get(key)
        if found is None:
            found = self._routes[key] = self.chain.receivers_for(type_name, sender)
        return found

    def pull(
        self, *, principal: Principal, limit: int = 100, visibility: float | None = None
    ) -> list[LeasedDelivery]:
        receiver = receiver_of(principal)
        if not 1 <= limit <= self.settings.max_pull:
            raise InvalidInput(f"limit must be from 1 to {self.settings.max_pull}, not {limit}")
        if visibility is None:
            visibility = self.settings.visibility_timeout
        if not 1 <= visibility <= self.settings.max_visibility:
            raise InvalidInput(
                f"visibility must be from 1 to {self.settings.max_visibility:.0f} seconds"
            )
        leased = self.store.lease(
            LeaseParams(
                receiver=receiver,
                limit=limit,
                now=self.clock(),
                visibility=visibility,
                max_attempts=self.settings.max_attempts,
                max_age=self.settings.max_age,
                actor=principal.name,
                burst_seconds=self.settings.rate_burst_seconds,
            )
        )
        return leased

    def ack(self, *, principal: Principal, delivery_ids: Sequence[int]) -> list[AckResult]:
        receiver = receiver_of(principal)
        if not delivery_ids:
            raise InvalidInput("name at least one delivery id to acknowledge")
        return self.store.ack(
            receiver=receiver, delivery_ids=delivery_ids, now=self.clock(), actor=principal.name
        )

    def nack(
        self,
        *,
        principal: Principal,
        delivery_id: int,
        reason: str,
        retry_after: float | None = None,
    ) -> NackResult:
        receiver = receiver_of(principal)
        reason = reason[:MAX_NACK_REASON]  # before the checks: what is kept is what is checked
        why = nack_reason_problem(reason)
        if why is not None:
            raise InvalidInput(why, [Problem(None, "reason", why)])
        if retry_after is not None and retry_after < 0:
            raise InvalidInput("retryAfter cannot be negative")
        fixed = retry_after
        result = self.store.nack(
            receiver=receiver,
            delivery_id=delivery_id,
            reason=reason,
            now=self.clock(),
            delay=lambda attempts: self.backoff(attempts) if fixed is None else fixed,
            max_attempts=self.settings.max_attempts,
            actor=principal.name,
        )
        if result.status == "not-found":
            raise NotFound(f"you have no delivery {delivery_id}")
        return result

    def backoff(self, attempts: int) -> float:
        """Exponential backoff with full jitter."""
        ceiling = min(
            self.settings.backoff_cap, self.settings.backoff_base * 2 ** max(attempts - 1, 0)
        )
        return self._rng.uniform(ceiling / 2, ceiling)

    def latest_delivery(self) -> int:
        """The highest delivery id made so far: changes when anything new waits somewhere."""
        return self.store.latest_delivery()

    def dead_letters(
        self, *, principal: Principal, receiver: str | None = None, limit: int = 100
    ) -> list[DeliveryRecord]:
        """Dead-lettered deliveries, to one receiver if asked; a partner sees only its own."""
        known = sorted(p.key for p in self.chain.partners)
        if receiver is not None and receiver not in known:  # '*' too: a delivery has one
            raise InvalidInput(
                f"receiver {receiver!r} is not a partner in the chain model; known: "
                + ", ".join(known)
            )
        if not principal.can_view:
            own = receiver_of(principal)
            if receiver is not None and receiver != own:
                raise Forbidden(
                    f"a partner sees only its own dead letters: ask without receiver, or with "
                    f"receiver={own}"
                )
            receiver = own
        return self.store.dead_letters(receiver=receiver, limit=limit)

    def resend(self, *, principal: Principal, delivery_id: int) -> DeliveryRecord:
        self._require_operator(principal)
        try:
            record = self.store.resend(
                delivery_id=delivery_id, now=self.clock(), actor=principal.name
            )
        except ports.NotFound as exc:
            raise NotFound(str(exc)) from None
        except ports.Refused as exc:  # there is one, but it is not dead-lettered
            raise StateConflict(str(exc)) from None
        self._audit(principal, "delivery-resent", str(delivery_id), "")
        return record

    def redeliver(
        self,
        *,
        principal: Principal,
        source: str,
        id: str,
        receiver: str,
        reason: str,
        dry_run: bool = False,
    ) -> str:
        """Deliver a message to a receiver again with its original id (reconciliation found it
        never applied): ``resent``, ``pending`` (on its way already) or ``not-found``;
        ``dry_run``: change nothing, ``would-resend`` instead of ``resent``."""
        self._require_operator(principal)
        outcome = self.store.redeliver(
            source=source,
            id=id,
            receiver=receiver,
            now=self.clock(),
            actor=principal.name,
            reason=reason,
            dry_run=dry_run,
        )
        if outcome == "resent":
            self._audit(principal, "delivery-redelivered", f"{source} {id} -> {receiver}", reason)
        return outcome

    def trail(self, *, principal: Principal, source: str, id: str) -> MessageTrail:
        message = self.store.message(source, id)
        hidden = NotFound(f"no message {id!r} from {source!r} that you may see")
        asked = None
        if message is None:
            # An id answered as a repeat of a stored fact: its trail is that message's.
            position = self.store.alias_of(source, id)
            message = self.store.message_at(position) if position is not None else None
            asked = (source, id)
        if message is None:
            raise hidden
        deliveries = self.store.deliveries_of(message.position)
        if (
            not principal.can_view
            and principal.partner_key != message.sender
            and all(d.receiver != principal.partner_key for d in deliveries)
        ):
            raise hidden
        self._audit(principal, "trail-read", f"{source} {id}", "")
        entries = self.store.trail(message.position)
        if not principal.can_view:  # officials' names stay with viewers and operators
            entries = [_without_names(e) for e in entries]
        if not principal.can_view and principal.partner_key != message.sender:
            # A receiver reads only its own deliveries: not another receiver's state, failures
            # or nack reasons (the sender sees them all: whether its message got through).
            mine = principal.partner_key
            deliveries = [d for d in deliveries if d.receiver == mine]
            entries = [e for e in entries if e.receiver is None or e.receiver == mine]
        return MessageTrail(message, deliveries, entries, asked)

    def completeness(self, *, principal: Principal, receiver: str) -> list[SourceCompleteness]:
        """How complete each source that sends to ``receiver`` is for it: the watermark below
        which the receiver misses nothing, its event time, the gaps and what still waits.

        A partner may ask for itself only; viewers and operators for any receiver.
        """
        if not principal.can_view and principal.partner_key != receiver:
            raise Forbidden("a partner may only ask how complete its own deliveries are")
        if self._chain_partner(receiver) is None:
            raise NotFound(f"no partner {receiver!r}")
        senders = sorted(
            {s for mt in self.chain.message_types if receiver in mt.receivers for s in mt.senders}
        )
        return self.store.completeness(receiver, senders)

    def sequence(self, *, principal: Principal, source: str) -> SequenceState:
        state = self.store.sequence_state(source)
        if state is None:
            raise NotFound(f"no events with a sequence from {source!r}")
        parsed = parse_source_urn(source)
        own = (
            principal.partner_key is not None
            and parsed is not None
            and (parsed[0] == self.partner(principal.partner_key).oin)
        )
        if not (principal.can_view or own):
            raise NotFound(f"no events with a sequence from {source!r}")
        return state

    def purge(self, *, principal: Principal, older_than_days: float, dry_run: bool) -> PurgeResult:
        """Apply retention: messages delivered and acknowledged to every receiver, and older than
        this, lose their body and case keys; a tombstone keeps duplicates recognisable."""
        self._require_operator(principal)
        if not 0 < older_than_days <= _MAX_RETENTION_DAYS:
            raise InvalidInput(
                f"older-than-days must be more than 0 and at most {_MAX_RETENTION_DAYS:,} "
                f"(100 years), not {older_than_days}"
            )
        now = self.clock()
        result = self.store.purge(before=now - older_than_days * _DAY, now=now, dry_run=dry_run)
        if not dry_run:
            self._audit(
                principal, "purged", f"{result.messages} messages", f"{older_than_days} days"
            )
        return result


MAX_NACK_REASON = 500
"""A nack's reason is kept up to this many characters (the API refuses a longer one)."""


def nack_reason_problem(reason: str) -> str | None:
    """What is wrong with a nack's reason, or None. It is kept as the delivery's last error and
    on the message's trail, which viewers and the sender read: as the exchange's other reasons
    (isolation, manual records) it holds no control or invisible characters and no personal
    data (ketenherstel.text); the personal data is not repeated in the answer."""
    if not reason.strip():
        return "a nack needs a reason"
    hidden = hidden_character(reason)
    if hidden is not None:
        return f"a reason holds no control or invisible characters ({hidden})"
    if personal_identifier(reason):
        return (
            "a reason gives no SKN, BSN or e-mail address: it is shown on the message's trail and "
            "in the dead letters, which carry no personal data"
        )
    return None


def _without_names(entry: TrailEntry) -> TrailEntry:
    """A trail entry as a partner sees it: the operators behind a hold, an opening or a release
    are "operator", in the entry, its cause and its detail."""
    cause = entry.cause
    if cause is None:
        return entry
    names = {n for n in (entry.actor, cause.actor, cause.requested_by) if n}
    detail = entry.detail
    for name in sorted(names, key=len, reverse=True):
        detail = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", "operator", detail)
    hidden = dataclasses.replace(
        cause,
        actor="operator",
        requested_by=None if cause.requested_by is None else "operator",
    )
    return dataclasses.replace(entry, actor="operator", detail=detail, cause=hidden)


def _can_act_as(credentials: Sequence[CredentialRecord], actor: str, holder: str) -> str | None:
    """The id of a live operator credential of ``holder`` whose token ``actor`` may hold, or
    None: ``actor`` made it, or it was made by someone whose credential, not revoked before
    then, ``actor`` may hold in turn (a token's maker has seen it; what a token makes, its
    holders may have made). Creation times are not trusted to order makers: clocks of two
    hosts may disagree."""
    operators = [c for c in credentials if c.role == "operator"]
    seen: set[str] = set()

    def held_by_actor(c: CredentialRecord) -> bool:
        if c.created_by is None or c.id in seen:
            return False
        seen.add(c.id)
        if ports.same_person(c.created_by, actor):
            return True
        return any(
            held_by_actor(d)
            for d in operators
            if ports.same_person(d.principal, c.created_by)
            and (d.revoked_at is None or d.revoked_at >= c.created_at)
        )

    for c in operators:
        if c.revoked_at is None and ports.same_person(c.principal, holder) and held_by_actor(c):
            return c.id
    return None


def _webhook_host(url: str) -> str:
    """``scheme://host[:port]`` of a webhook URL, or InvalidInput naming what is wrong. The
    errors quote nothing of the URL but its host: the rest may be a secret."""
    parts, problem = http_address(url)
    if parts is None:
        raise InvalidInput(f"a webhook URL {problem}")
    host = (parts.hostname or "").rstrip(".")  # 169.254.169.254. is that address too
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        try:  # the forms a resolver takes too: 2852039166, 0251.0376.0251.0376, 0 (a review)
            ip = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            ip = None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:169.254.169.254
    if ip is not None and (ip.is_link_local or ip.is_unspecified or ip.is_multicast):
        # Deliveries carry personal data: never to a cloud's metadata service (169.254.169.254)
        # or an address that is no one host.
        raise InvalidInput(
            f"a webhook URL names a partner's host: {parts.hostname} is a link-local, "
            "unspecified or multicast address"
        )
    port = parts.port
    return f"{parts.scheme}://{parts.hostname}" + ("" if port is None else f":{port}")
