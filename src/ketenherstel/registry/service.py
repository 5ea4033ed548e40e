"""The documentation registry (JDS) as a service: catch-up from the exchange, freshness,
screenings, decisions, the re-screen list, hold advice and the read log (decision 0010)."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from importlib import resources
from typing import Any

import orjson
import yaml

from ketenherstel.chain import Chain, source_urn
from ketenherstel.documents import load_yaml
from ketenherstel.exchange.auth import Principal
from ketenherstel.exchange.service import Exchange
from ketenherstel.registry._batch import (
    DECISIONS,
    ECRIS_WORKING_DAYS,
    _Batch,
    _Parsed,
    collector_paused,
)
from ketenherstel.registry.db import (
    ReadRecord,
    RegistryDb,
    RegistryMismatch,
    ScreeningRow,
    message_key,
)
from ketenherstel.registry.limits import MAX_NOTE, MAX_OUTCOME, MAX_PARTNER, MAX_PROFILE, MAX_TEXT
from ketenherstel.registry.model import (
    CATEGORIES,
    PROCEDURE_ORDER,
    REGISTRATION_TYPES,
    CaseState,
    KnownRegistration,
    Profile,
    RegistrationError,
    ScreeningDecision,
    parse_date,
    parse_registration,
    parse_screening_decision,
    relevant_cases,
)
from ketenherstel.registry.results import (
    AMSTERDAM,
    Answer,
    ApplyResult,
    Direction,
    EcrisNotification,
    Freshness,
    HoldAdvice,
    Reader,
    RegistryConflict,
    RegistryForbidden,
    RegistryInputError,
    RegistryNotFound,
    RescreenItem,
    ScreeningRequest,
    SourceFreshness,
    _epoch,
    _iso,
    _local,
    check_length,
    check_shown,
)
from ketenherstel.store.ports import LeasedDelivery, SourceCompleteness
from ketenherstel.text import redacted

__all__ = [
    "DECISIONS",
    "ECRIS_WORKING_DAYS",
    "Answer",
    "ApplyResult",
    "EcrisNotification",
    "Freshness",
    "HoldAdvice",
    "Reader",
    "Registry",
    "RegistryConflict",
    "RegistryForbidden",
    "RegistryInputError",
    "RegistryNotFound",
    "RescreenItem",
    "ScreeningRequest",
    "SourceFreshness",
    "load_profiles",
]

_SKN = re.compile(r"^SKN-[0-9]{10}$")
_PARKET = re.compile(r"^[0-9]{2}-[0-9]{6}-[0-9]{2}$")
_AHEAD = timedelta(days=92)  # how far ahead a screening's date may lie (a start date)
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
WORK_STATES = ("open", "assigned", "reviewed", "closed")
# Pulls applied in one catch-up transaction. Each transaction rewrites the key-index pages it
# touches, and random keys touch nearly one page per row: 20 pulls (20,000 deliveries) write
# far fewer pages per row than 5 did (bench/registry.py).
GROUP = 20
ECRIS_NOTIFIED = "nl.strafrechtketen.registratie.ecris-veroordeling-genotificeerd.v1"
SCREENING_DECISION = "nl.strafrechtketen.registratie.screeningsbesluit-genomen.v1"


def load_profiles(text: str | None = None) -> dict[str, Profile]:
    """The screening profiles (``registry/profiles.yaml``, or ``text``); ValueError names
    the problem (for YAML, with its line)."""
    if text is None:
        text = (resources.files("ketenherstel.registry") / "profiles.yaml").read_text("utf-8")
    try:
        doc = load_yaml(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"profiles: not valid YAML: {exc}") from None
    profiles: dict[str, Profile] = {}
    if not isinstance(doc, dict) or not isinstance(doc.get("profiles"), dict):
        raise ValueError("profiles: a mapping of profile name to profile is required")
    for name, raw in doc["profiles"].items():
        if not isinstance(raw, dict):
            raise ValueError(f"profiles.{name}: must be a mapping")
        categories = raw.get("categories")
        if not isinstance(categories, list) or not categories:
            raise ValueError(f"profiles.{name}.categories: a non-empty list is required")
        unknown = sorted(set(map(str, categories)) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"profiles.{name}.categories: unknown {', '.join(unknown)}")
        years = raw.get("lookback_years")
        if not isinstance(years, int) or isinstance(years, bool) or not 1 <= years <= 100:
            raise ValueError(f"profiles.{name}.lookback_years: a whole number from 1 to 100")
        pending = raw.get("pending", False)
        if not isinstance(pending, bool):
            raise ValueError(f"profiles.{name}.pending: true or false")
        consumers = raw.get("consumers")
        if not isinstance(consumers, list) or not consumers:
            raise ValueError(f"profiles.{name}.consumers: a non-empty list of partner keys")
        profiles[str(name)] = Profile(
            str(name),
            frozenset(map(str, categories)),
            years,
            pending,
            str(raw.get("description", "")),
            frozenset(map(str, consumers)),
        )
    return profiles


class Registry:
    """Justid's registry. It consumes its deliveries from ``exchange`` as ``receiver``."""

    def __init__(
        self,
        db: RegistryDb,
        chain: Chain,
        *,
        exchange: Exchange | None = None,
        receiver: str = "justid",
        clock: Callable[[], float] | None = None,
        profiles: Mapping[str, Profile] | None = None,
        freshness_ttl: float = 60.0,
    ) -> None:
        self.db = db
        self.chain = chain
        self.exchange = exchange
        self.receiver = receiver
        if clock is None:
            clock = time.time if exchange is None else (lambda: exchange.clock())
        self.clock = clock
        self.profiles = dict(profiles) if profiles is not None else load_profiles()
        self.freshness_ttl = freshness_ttl
        self.principal = Principal(receiver, "partner", receiver, "local")
        self._freshness: Freshness | None = None
        self._freshness_marker: tuple[int, int] = (0, 0)
        self._snapshot_of: tuple[Freshness, int] | None = None
        if exchange is not None:
            self._bind(exchange)

    def _bind(self, exchange: Exchange) -> None:
        """This registry file belongs to the exchange's store (decision 0014): bind a new one,
        refuse another store's, and refuse a new one when the store's registrations were
        applied (acknowledged) by another file, whose answers this one would not have."""
        store_id = exchange.store.store_id()
        bound = self.db.bound_store()
        if bound is None:
            if self.db.is_empty() and exchange.store.has_acked(self.receiver):
                raise RegistryMismatch(
                    f"registry {self.db.path} is new, but this store's deliveries to "
                    f"{self.receiver} were applied by another registry file: give that file "
                    "(--registry, KETENHERSTEL_REGISTRY), or the answers would miss them"
                )
            self.db.bind(store_id)
        elif bound != store_id:
            raise RegistryMismatch(
                f"registry {self.db.path} belongs to another store (its id {bound[:8]}…, this "
                f"store's {store_id[:8]}…): give this store's registry file (a new store, "
                "made after this file, starts with a new one: move this one away)"
            )

    # -- catch-up ----------------------------------------------------------------------

    def apply(self, deliveries: Sequence[LeasedDelivery]) -> ApplyResult:
        """Apply deliveries in one transaction, each exactly once in effect (by source + id,
        and by business key); returns what happened. Deliveries it cannot read are listed in
        ``failed`` and change nothing, as is a screening decision that breaks the rules of one
        recorded by hand (`record_decision`).

        What the batch needs from the database (earlier facts by business key, superseded
        messages, case aliases) is read once for the whole batch, and the batch's own changes
        are kept in the same maps, so a later delivery in the batch sees an earlier one.
        """
        result = ApplyResult()
        now = self.clock()
        with self.db.tx() as cur, collector_paused():
            batch = _Batch(self.db, cur, now)
            batch.keys = {(d.source, d.id): message_key(d.source, d.id) for d in deliveries}
            seen = self.db.applied(cur, batch.keys)
            readable: list[_Parsed] = []
            decided: list[tuple[LeasedDelivery, ScreeningDecision]] = []
            for d in deliveries:
                if (d.source, d.id) in seen:
                    result.redelivered += 1
                    continue
                seen.add((d.source, d.id))
                parsed = self._parse(d, result)
                if parsed is None:
                    continue
                if parsed.reg is None:
                    if d.type == SCREENING_DECISION:
                        decision = self._decision_message(d, parsed.data, result)
                        if decision is not None:
                            decided.append((d, decision))
                        continue
                    batch.applied.append((d, "not-a-registration", None, None, None))
                    result.not_registrations += 1
                    continue
                readable.append(parsed)
            self._decide(batch, decided, result)
            batch.prefetch(readable)
            for parsed in readable:
                self._apply_one(batch, parsed, result)
            batch.write()
        return result

    def _decision_message(
        self, d: LeasedDelivery, data: Any, result: ApplyResult
    ) -> ScreeningDecision | None:
        """A screening decision message that meets a decision's own rules, or None when it
        does not (then listed in ``failed`` with the reason, to be refused)."""
        try:
            decision = parse_screening_decision(data)
            self._check_decision(decision.reference, decision.decision, decision.decided_date)
        except (RegistrationError, RegistryInputError) as exc:
            result.failed.append((d.delivery_id, f"screening decision: {exc}"))
            return None
        return decision

    def _decide(
        self,
        batch: _Batch,
        decided: Sequence[tuple[LeasedDelivery, ScreeningDecision]],
        result: ApplyResult,
    ) -> None:
        """Keep the decision messages for the batch, each checked against the answer it
        decides on: one dated before that answer is refused (listed in ``failed``), as by
        hand. One on a screening this registry did not answer for its sender has no answer
        to be checked against: it is applied and not kept, as before
        (`RegistryDb.record_decisions`)."""
        answers = batch.db.answers(batch.cur, sorted({p.reference for _, p in decided}))
        for d, p in decided:
            answer = answers.get(p.reference)
            if answer is not None and answer[0] == d.sender:
                try:
                    _decided_after_answer(p.decided_date, answer[1])
                except RegistryInputError as exc:
                    result.failed.append((d.delivery_id, f"screening decision: {exc}"))
                    continue
            batch.decisions.append((p.reference, p.decision, p.decided_date.isoformat(), d.sender))
            batch.applied.append((d, "not-a-registration", None, None, None))
            result.not_registrations += 1

    def _parse(self, d: LeasedDelivery, result: ApplyResult) -> _Parsed | None:
        try:
            event = orjson.loads(d.body)
        except orjson.JSONDecodeError:
            result.failed.append((d.delivery_id, "the message body is not JSON"))
            return None
        if not isinstance(event, dict):
            result.failed.append((d.delivery_id, "the message is not a JSON object"))
            return None
        if d.type not in REGISTRATION_TYPES:
            return _Parsed(d, event.get("data"), None, None, None)
        data = event.get("data")
        try:
            reg = parse_registration(d.type, data)
        except RegistrationError as exc:
            result.failed.append((d.delivery_id, str(exc)))
            return None
        key = self.chain.business_key(d.type, data) if isinstance(data, dict) else None
        # Kept as hashes (the first 128 bits of SHA-256): the same fact still matches, and the
        # registry's tables do not repeat every case's keys in clear.
        bkey = None if key is None else hashlib.sha256(key.encode()).digest()[:16]
        fact = hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).digest()[:16]
        return _Parsed(
            d, None, reg, bkey, fact, _int(event.get("sequence")), _epoch(event.get("time"))
        )

    def _apply_one(self, batch: _Batch, p: _Parsed, result: ApplyResult) -> None:
        d, reg = p.delivery, p.reg
        assert reg is not None
        earlier = batch.by_bkey.get(p.bkey) if p.bkey is not None else None
        if earlier is not None and earlier[0] == p.fact:
            batch.applied.append((d, "same-fact", p.bkey, p.fact, earlier[1]))
            result.same_fact += 1
            return
        replaces = earlier[1] if earlier is not None else None  # a correction of the fact
        if d.supersedes is not None and d.supersedes in batch.superseded:
            replaces = batch.superseded[d.supersedes]
        case_key = batch.aliases.get((reg.skn, reg.case_key), reg.case_key)
        if replaces is not None:
            old = batch.cases.get(replaces)
            if old is not None and old[0] == reg.skn and old[1] != case_key:
                # The OM's own registration of an emergency-reported case: one case.
                batch.alias(reg.skn, case_key, old[1])
                case_key = old[1]
        ident = batch.register(reg, case_key, d, p.sequence, p.event_at)
        if replaces is not None:
            batch.replaced.append((batch.now, ident, replaces))
            result.replaced += 1
        if p.bkey is not None:
            batch.by_bkey[p.bkey] = (p.fact or b"", ident)
        batch.applied.append((d, "applied", p.bkey, p.fact, ident))
        result.applied += 1

    def catch_up(
        self,
        *,
        limit: int = 1000,
        max_batches: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ApplyResult:
        """Pull, apply and acknowledge until nothing is waiting (or ``max_batches``). A
        delivery is acknowledged only after the transaction that applied it committed; one
        the registry cannot read is refused (nack) with its reason and goes to the exchange's
        dead letters after its attempts."""
        exchange = self._exchange()
        total = ApplyResult()
        batches = 0
        while max_batches is None or batches < max_batches:
            # Up to GROUP pulls are applied in one transaction (one commit for them all).
            leased: list[LeasedDelivery] = []
            for _ in range(GROUP):
                got = exchange.pull(principal=self.principal, limit=limit)
                leased += got
                if len(got) < limit:
                    break
            if not leased:
                break
            if batches == 0:
                # Each source behind is marked so before anything is applied: the catch-up %
                # counts what is applied from then on (it read 0 % after a catch-up nobody
                # had asked the freshness before, a review found).
                self.freshness(refresh=True)
            batches += 1
            total.add(self.consume(leased))
            if progress is not None:
                progress(len(leased))
        if batches:
            # And after: a source caught up loses its mark, so that a later backlog is counted
            # from its own start (it read 97 % for a backlog nothing was taken from yet).
            self.freshness(refresh=True)
        else:
            self._freshness = None
        return total

    def consume(self, leased: Sequence[LeasedDelivery]) -> ApplyResult:
        """Apply leased deliveries, then acknowledge them (only after the commit); refuse
        (nack) the ones the registry cannot read, with the reason."""
        exchange = self._exchange()
        result = self.apply(leased)
        failed = {ident for ident, _ in result.failed}
        done = [d.delivery_id for d in leased if d.delivery_id not in failed]
        if done:
            exchange.ack(principal=self.principal, delivery_ids=done)
        for ident, reason in result.failed:
            # Quoting the message, a reason may hold what the exchange keeps from its trail and
            # dead letters (an SKN, a control character): masked, never refused there.
            why = redacted(f"registry: {reason}")
            exchange.nack(principal=self.principal, delivery_id=ident, reason=why)
        self._freshness = None
        return result

    def _exchange(self) -> Exchange:
        if self.exchange is None:
            raise RegistryInputError("this registry is not connected to an exchange")
        return self.exchange

    # -- freshness ---------------------------------------------------------------------

    def freshness(self, *, refresh: bool = False) -> Freshness:
        """Per source: watermark, its time, gaps, what waits, catch-up %. Cached for
        ``freshness_ttl`` seconds of the registry's clock; answers carry the copy they used."""
        now = self.clock()
        cached = self._freshness
        fresh_enough = (
            cached is not None and not refresh and now - cached.as_of < self.freshness_ttl
        )
        if fresh_enough and cached is not None and not any(_complete(x) for x in cached.sources):
            return cached  # every source shown behind: what waits may have grown, said as such
        # A copy that calls a source complete is kept only while nothing new was delivered and
        # nothing applied here (also by another process): an answer said "volledig" while a
        # registration of that very person waited, accepted after the copy was made (a review).
        marker = (
            (0, 0)
            if self.exchange is None
            else (self.exchange.latest_delivery(), self.db.last_applied())
        )
        if fresh_enough and cached is not None and marker == self._freshness_marker:
            return cached
        self._freshness_marker = marker
        if self.exchange is None:  # a registry on its own (tests, benchmarks): no sources
            self._freshness = Freshness(now, ())
            return self._freshness
        exchange = self.exchange
        rows = exchange.completeness(principal=self.principal, receiver=self.receiver)
        states = {k: s.state for k, s in exchange.partner_states().items()}
        names = {p.key: p.name for p in self.chain.partners}
        with self.db.tx() as cur:  # one transaction for every source's mark
            sources = tuple(
                self._source(
                    cur,
                    row,
                    names.get(row.sender, row.sender),
                    states.get(row.sender, "online"),
                    now,
                )
                for row in rows
            )
        # A partner that sends to the registry but has sent nothing yet has no source to show,
        # yet an answer must not look complete without it (an isolated partner least of all).
        heard = {row.sender for row in rows}
        silent = sorted(
            {
                sender
                for mt in self.chain.message_types
                if self.receiver in mt.receivers
                for sender in mt.senders
            }
            - heard
        )
        sources += tuple(
            SourceFreshness(
                partner=key,
                name=names.get(key, key),
                source=None,
                state=states.get(key, "online"),
                watermark=0,
                complete_up_to=None,
                gaps=(),
                waiting=0,
                catch_up_percent=None,
                as_of=now,
            )
            for key in silent
        )
        self._freshness = Freshness(now, sources)
        return self._freshness

    def _source(
        self, cur: Any, row: SourceCompleteness, name: str, state: str, now: float
    ) -> SourceFreshness:
        behind = row.waiting > 0 or row.dead > 0 or bool(row.gaps) or state != "online"
        percent: float | None
        mark = cur.execute(
            "SELECT behind_since FROM source_marks WHERE source = ?", (row.source,)
        ).fetchone()
        if not behind:
            if mark is not None:
                cur.execute("DELETE FROM source_marks WHERE source = ?", (row.source,))
            percent = 100.0
        else:
            since = now
            if mark is None:
                cur.execute(
                    "INSERT INTO source_marks (source, behind_since_at, behind_since) "
                    "VALUES (?, ?, ?)",
                    (row.source, _epoch(row.watermark_time), now),
                )
            else:
                since = float(mark[0])
            # What the registry took in from the source since it fell behind (any type),
            # against what still waits for it at the exchange.
            applied = int(
                cur.execute(
                    "SELECT COALESCE(SUM(n), 0) FROM applied_counts "
                    "WHERE source = ? AND applied_at >= ?",  # marked, then applied
                    (row.source, since),
                ).fetchone()[0]
            )
            if state == "isolated":
                percent = None  # what an isolated partner holds is invisible here
            elif applied + row.waiting == 0:
                percent = None
            else:
                percent = round(100.0 * applied / (applied + row.waiting), 1)
        return SourceFreshness(
            partner=row.sender,
            name=name,
            source=row.source,
            state=state,
            watermark=row.watermark,
            # An online source with nothing missing, waiting or failed is complete up to now,
            # however long ago it last sent something.
            complete_up_to=row.watermark_time if behind else _iso(now),
            gaps=row.gaps,
            waiting=row.waiting,
            catch_up_percent=percent,
            as_of=now,
            failed=row.dead,
            watermark_time=row.watermark_time,
        )

    def hold_advice(self, *, max_age_hours: float = 48.0, max_waiting: int = 0) -> list[HoldAdvice]:
        """May a consumer rely on the registry now? Yes or no per source, from thresholds:
        the age of its watermark and what still waits."""
        if not 0 < max_age_hours <= 24 * 366:
            raise RegistryInputError(
                "maxAgeHours must be more than 0 and at most a year", "maxAgeHours"
            )
        if max_waiting < 0:
            raise RegistryInputError("maxWaiting cannot be negative", "maxWaiting")
        fresh = self.freshness()
        out = []
        for s in fresh.sources:
            reasons = []
            if s.state != "online":
                reasons.append(f"{s.name} is {s.state}")
            upto = _epoch(s.complete_up_to)
            if s.source is None:  # never sent anything: only its state can say no
                out.append(
                    HoldAdvice(
                        s.partner,
                        s.name,
                        not reasons,
                        "; ".join([*reasons, "nothing received yet"])
                        if reasons
                        else "nothing received, nothing waiting",
                    )
                )
                continue
            if upto is None:
                reasons.append("nothing received yet")
            elif (fresh.as_of - upto) / 3600 > max_age_hours:
                reasons.append(f"complete only up to {_local(s.complete_up_to)}")
            if s.waiting > max_waiting:
                reasons.append(f"{s.waiting} message{'s' if s.waiting != 1 else ''} still waiting")
            if s.gaps:
                reasons.append(
                    f"{len(s.gaps)} gap{'s' if len(s.gaps) != 1 else ''} in its sequence"
                )
            if s.failed:
                reasons.append(f"{s.failed} messages could not be applied (dead letters)")
            out.append(
                HoldAdvice(s.partner, s.name, not reasons, "; ".join(reasons) or "up to date")
            )
        return out

    # -- screenings --------------------------------------------------------------------

    def screen(
        self,
        *,
        reference: str,
        consumer: str,
        profile: str,
        skn: str,
        query_date: date | None,
        reader: Reader,
    ) -> Answer:
        """Answer a screening and store the answer with the freshness of every source."""
        return self.screen_many(
            [ScreeningRequest(reference, consumer, profile, skn, query_date, reader)]
        )[0]

    def screen_many(self, requests: Sequence[ScreeningRequest]) -> list[Answer]:
        """Answer screenings in one transaction; a bad one refuses them all, naming it."""
        known = {p.key for p in self.chain.partners}
        references: set[str] = set()
        today = self._today()
        for q in requests:
            q.reader.check()
            self._reference(q.reference)
            if q.reference in references:
                raise RegistryInputError(f"screening {q.reference!r} is asked twice", "reference")
            references.add(q.reference)
            self._profile(q.profile)
            self._skn(q.skn)
            if q.query_date is not None and q.query_date.year < 1900:
                raise RegistryInputError(
                    f"the query date {q.query_date.isoformat()} is before 1900", "queryDate"
                )
            if q.query_date is not None and q.query_date > today + _AHEAD:
                raise RegistryInputError(
                    f"the query date {q.query_date.isoformat()} is more than "
                    f"{_AHEAD.days} days after today ({today.isoformat()}): a screening asks "
                    "what is known now, for a date at most that far ahead (a start date)",
                    "queryDate",
                )
            check_length(q.consumer, MAX_PARTNER, "consumer")
            if q.consumer not in known:
                raise RegistryInputError(
                    f"unknown consumer {q.consumer!r}: name a chain partner", "consumer"
                )
            allowed = self.profiles[q.profile].consumers
            if q.consumer not in allowed:
                raise RegistryForbidden(
                    f"{q.consumer} may not ask for a {q.profile} screening "
                    f"(only {', '.join(sorted(allowed))})"
                )
        if not requests:
            return []
        now = self.clock()
        today = datetime.fromtimestamp(now, AMSTERDAM).date()
        fresh = self.freshness()
        answers = []
        with self.db.tx() as cur:
            taken = self.db.answered(cur, sorted(references))
            if taken:
                raise RegistryConflict(
                    f"a screening {taken[0]!r} was answered already", "reference"
                )
            snapshot = self._snapshot(cur, fresh)
            people = self.db.people_rows(cur, sorted({q.skn for q in requests}))
            rows = []
            for q in requests:
                day = q.query_date or today
                shown = relevant_cases(people[q.skn], self.profiles[q.profile], day, known_by=None)
                cases = tuple(shown[k] for k in sorted(shown))
                rows.append(
                    (
                        q.reference,
                        q.consumer,
                        q.profile,
                        q.skn,
                        day.isoformat(),
                        now,
                        orjson.dumps([c.case_key for c in cases]).decode(),
                        snapshot,
                        q.reader.purpose,
                        q.reader.legal_ground,
                        q.reader.role,
                    )
                )
                answers.append(
                    Answer(q.reference, q.consumer, q.profile, q.skn, day, now, cases, fresh)
                )
            cur.executemany(
                "INSERT INTO screenings (reference, consumer, profile, skn, query_date, "
                "answered_at, cases, freshness, purpose, legal_ground, requester_role) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            # Who asked is the reader; an operator asks for a consumer, which the detail names.
            self.db.log_reads(
                cur,
                [
                    _read(
                        q.reader,
                        now,
                        "screening-answered",
                        q.skn,
                        f"{q.reference} {q.profile}"
                        + ("" if q.reader.organisation == q.consumer else f" for {q.consumer}"),
                    )
                    for q in requests
                ],
            )
        return answers

    def _snapshot(self, cur: Any, fresh: Freshness) -> int:
        """The stored copy of ``fresh`` (one row per moment, shared by its answers)."""
        if self._snapshot_of is not None and self._snapshot_of[0] is fresh:
            return self._snapshot_of[1]
        cur.execute(
            "INSERT INTO freshness_snapshots (as_of, body) VALUES (?, ?)",
            (fresh.as_of, orjson.dumps(fresh.to_json()).decode()),
        )
        ident = int(cur.lastrowid or 0)
        self._snapshot_of = (fresh, ident)
        return ident

    def may_extract(self, organisation: str) -> None:
        """RegistryForbidden unless ``organisation`` may read a person's registrations: Justid
        itself and the consumers of some screening profile."""
        readers = {"justid"} | {c for p in self.profiles.values() for c in p.consumers}
        if organisation not in readers:
            raise RegistryForbidden(
                f"{organisation} may not read a person's registrations "
                f"(only {', '.join(sorted(readers))})"
            )

    def extract(self, *, skn: str, reader: Reader) -> tuple[list[dict[str, Any]], Freshness]:
        """Everything the registry holds on a person now, per case, with freshness. Only for
        Justid itself and the consumers of some screening profile."""
        reader.check()
        self._skn(skn)
        self.may_extract(reader.organisation)
        fresh = self.freshness()
        now = self.clock()
        with self.db.tx() as cur:
            rows = cur.execute(
                "SELECT id, case_key, type, state, categories, fact_date, known_at, replaced_at "
                "FROM registrations WHERE skn = ? ORDER BY case_key, fact_date, id",
                (skn,),
            ).fetchall()
            self._log(cur, reader, "extract-read", skn, f"{len(rows)} registrations", now)
        entries = [
            {
                "registration": r[0],
                "case": r[1],
                "type": r[2],
                "state": r[3],
                "categories": r[4].split(",") if r[4] else [],
                "factDate": r[5],
                "knownAt": _iso(r[6]),
                "replacedAt": None if r[7] is None else _iso(r[7]),
            }
            for r in rows
        ]
        return entries, fresh

    def _today(self) -> date:
        """The registry's date today, in the Netherlands."""
        return datetime.fromtimestamp(self.clock(), AMSTERDAM).date()

    def record_decision(
        self,
        *,
        reference: str,
        decision: str,
        decided_date: date,
        actor: str,
        consumer: str | None = None,
    ) -> tuple[str, date] | None:
        """The consumer's own decision on a screening (Justis issues or refuses the VOG).
        ``consumer``: only a screening that this consumer asked for (None: any). A decision
        arriving as a message (`apply`) meets the same rules. Returns the decision it replaces
        (kept in its history), the same one given again included, or None for the first."""
        self._check_decision(reference, decision, decided_date)
        if not actor.strip():
            raise RegistryInputError("a decision needs the actor that records it", "actor")
        check_length(actor, MAX_TEXT, "actor")
        check_shown(actor, "actor", "a person's name", one_line=True)
        with self.db.tx() as cur:
            row = cur.execute(
                "SELECT id, consumer, answered_at FROM screenings WHERE reference = ?",
                (reference,),
            ).fetchone()
            if row is None or (consumer is not None and row[1] != consumer):
                raise RegistryNotFound(f"no screening {reference!r} that you may decide on")
            _decided_after_answer(decided_date, float(row[2]))
            was = cur.execute(
                "SELECT decision, decided_date FROM decisions WHERE screening_id = ?", (row[0],)
            ).fetchone()
            cur.execute(
                "INSERT INTO decision_changes (screening_id, decision, decided_date, "
                "recorded_at, actor, replaced_at) SELECT screening_id, decision, decided_date, "
                "recorded_at, actor, ? FROM decisions WHERE screening_id = ? "
                "AND (decision <> ? OR decided_date <> ?)",
                (self.clock(), row[0], decision, decided_date.isoformat()),
            )
            cur.execute(
                "INSERT INTO decisions (screening_id, decision, decided_date, recorded_at, actor) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (screening_id) DO UPDATE SET "
                "decision = excluded.decision, decided_date = excluded.decided_date, "
                "recorded_at = excluded.recorded_at, actor = excluded.actor "
                # The same decision again changes nothing (it kept who recorded it last).
                "WHERE decisions.decision <> excluded.decision "
                "OR decisions.decided_date <> excluded.decided_date",
                (row[0], decision, decided_date.isoformat(), self.clock(), actor),
            )
        return None if was is None else (str(was[0]), date.fromisoformat(str(was[1])))

    def _check_decision(self, reference: str, decision: str, decided_date: date) -> None:
        """A decision's own rules, by hand or as a message: one of the five, on a reference as
        a screening has, dated from 1900 to ``_AHEAD`` after today. Then it may not lie before
        the answer it decides on (`_decided_after_answer`)."""
        if decision not in DECISIONS:
            raise RegistryInputError(
                "decision must be afgegeven, geweigerd, ingetrokken, geen-bezwaar or bezwaar, "
                f"not {_cut(decision)}",
                "decision",
            )
        self._reference(reference)
        today = self._today()
        if decided_date > today + _AHEAD or decided_date.year < 1900:
            raise RegistryInputError(
                f"the decision date {decided_date.isoformat()} is not a date a decision on a "
                f"screening can have (from 1900 to {_AHEAD.days} days after today, "
                f"{today.isoformat()})",
                "decidedDate",
            )

    # -- the re-screen list -------------------------------------------------------------

    def rescreen(
        self,
        *,
        reader: Reader | None = None,
        direction: str | None = None,
        work_state: str | None = None,
        reference: str | None = None,
    ) -> list[RescreenItem]:
        """Every stored answer that would now be different, both ways, with its work state
        (only ``direction``, ``work_state`` or one screening's ``reference``, if given).

        Only answers for persons with a registration known or replaced after the answer can
        differ, so only those are recomputed. With a ``reader`` the read is logged: once for
        the list, and once for every person on it, so each person's read log shows it.
        """
        if direction not in (None, "missed", "wrongly-shown"):
            raise RegistryInputError(
                f"direction must be missed or wrongly-shown, not {_cut(direction)}", "direction"
            )
        if work_state not in (None, *WORK_STATES):
            raise RegistryInputError(
                f"workState must be one of {', '.join(WORK_STATES)}, not {_cut(work_state)}",
                "workState",
            )
        if reader is not None:
            reader.check()
        # Answers of persons with a registration known or replaced at or after the answer.
        changed = (
            "(EXISTS (SELECT 1 FROM registrations r WHERE r.skn = s.skn "
            "AND r.known_at >= s.answered_at) OR EXISTS (SELECT 1 FROM registrations r "
            "WHERE r.skn = s.skn AND r.replaced_at >= s.answered_at))"
        )
        one = ("", ()) if reference is None else (" AND s.reference = ?", (reference,))
        with self.db.tx() as cur:
            screenings = [
                _screening(r)
                for r in cur.execute(
                    "SELECT id, reference, consumer, profile, skn, query_date, answered_at, "
                    "cases, freshness, purpose, legal_ground, requester_role FROM screenings s "
                    f"WHERE {changed}{one[0]} ORDER BY s.id",
                    one[1],
                )
            ]
            people = self.db.people_rows(cur, sorted({s.skn for s in screenings}))
            work = {
                (int(r[0]), str(r[1]), str(r[2])): (str(r[3]), r[4], r[5], r[6])
                for r in cur.execute(
                    "SELECT screening_id, case_key, direction, state, assignee, outcome, note "
                    "FROM rescreen_items"
                )
            }
            decided = dict(
                cur.execute(
                    "SELECT d.screening_id, d.decision FROM decisions d JOIN screenings s "
                    f"ON s.id = d.screening_id WHERE {changed}{one[0]}",
                    one[1],
                ).fetchall()
            )
            items: list[RescreenItem] = []
            for s in screenings:
                items += self._differences(s, people[s.skn], work, decided.get(s.id))
            items = [
                i
                for i in items
                if direction in (None, i.direction) and work_state in (None, i.work_state)
            ]
            if reader is not None:
                self._log_list(
                    cur,
                    reader,
                    "rescreen-list-read",
                    f"{len(items)} items",
                    [(i.skn, f"{i.reference} {i.case_key}") for i in items],
                )
        return items

    def _differences(
        self,
        s: ScreeningRow,
        rows: list[KnownRegistration],
        work: Mapping[tuple[int, str, str], tuple[str, Any, Any, Any]],
        decision: str | None,
    ) -> list[RescreenItem]:
        profile = self.profiles.get(s.profile)
        if profile is None:
            return []
        # What the answer showed is what it stored; the replay of what the registry knew then
        # only supplies each shown case's state and date.
        shown = set(s.cases)
        then = relevant_cases(rows, profile, s.query_date, known_by=s.answered_at)
        now = relevant_cases(rows, profile, s.query_date, known_by=None)
        out = []
        for case_key in sorted(shown | set(now)):
            before, after = then.get(case_key), now.get(case_key)
            if (case_key in shown) == (after is not None):
                continue
            direction: Direction = "wrongly-shown" if case_key in shown else "missed"
            state_now: CaseState | None = None
            known = _differs_since(rows, profile, s, case_key)
            if after is not None:
                fact_date = after.fact_date
                before = None
            else:
                fact_date = before.fact_date if before is not None else s.query_date
                # What the case is now (dismissed, acquitted, corrected), and since when.
                latest = _latest(rows, case_key)
                if latest is not None and latest.state != "none":
                    state_now, fact_date = latest.state, latest.fact_date
                    if latest.fact_date > s.query_date:
                        # Corrected to a date after the query: on the query date the case was
                        # nothing yet ("pending → pending" read as if nothing changed; a review).
                        state_now = None
            out.append(
                _item(
                    s,
                    direction,
                    case_key,
                    work.get((s.id, case_key, direction), ("open", None, None, None)),
                    decision,
                    state_then=None if before is None else before.state,
                    state_now=after.state if after is not None else state_now,
                    fact_date=fact_date,
                    known_at=known,
                )
            )
        # An item being worked stays listed until closed, also when a later registration
        # undid its difference.
        listed = {(i.case_key, i.direction) for i in out}
        for (sid, case_key, way), worked in work.items():
            if sid == s.id and worked[0] != "closed" and (case_key, way) not in listed:
                out.append(
                    _item(
                        s,
                        way,  # type: ignore[arg-type]
                        case_key,
                        worked,
                        decision,
                        fact_date=s.query_date,
                        known_at=s.answered_at,
                        differs=False,
                    )
                )
        return out

    def work_item(
        self,
        *,
        reference: str,
        case_key: str,
        direction: str,
        action: str,
        actor: str,
        assignee: str | None = None,
        outcome: str | None = None,
        note: str | None = None,
    ) -> str:
        """Assign, review or close a re-screen item; returns its new state."""
        if direction not in ("missed", "wrongly-shown"):
            raise RegistryInputError(
                f"direction must be missed or wrongly-shown, not {_cut(direction)}", "direction"
            )
        if action not in ("assign", "review", "close"):
            raise RegistryInputError(
                f"action must be assign, review or close, not {_cut(action)}", "action"
            )
        self._reference(reference)
        check_length(case_key, MAX_TEXT, "caseKey")
        if not actor.strip():
            raise RegistryInputError("working an item needs the actor", "actor")
        check_length(actor, MAX_TEXT, "actor")
        check_length(assignee, MAX_TEXT, "assignee")
        check_length(outcome, MAX_OUTCOME, "outcome")
        check_length(note, MAX_NOTE, "note")
        check_shown(actor, "actor", "a person's name", one_line=True)
        check_shown(assignee, "assignee", "assignee (a team or role)", one_line=True)
        check_shown(outcome, "outcome", "outcome")
        check_shown(note, "note", "note")
        if action == "assign" and not (assignee or "").strip():
            raise RegistryInputError("assign needs an assignee (a team or role)", "assignee")
        if action == "close" and not (outcome or "").strip():
            raise RegistryInputError("close needs an outcome", "outcome")
        current = [
            i
            for i in self.rescreen(reference=reference, direction=direction)
            if i.case_key == case_key
        ]
        if not current:
            with self.db.tx() as cur:
                stored = cur.execute(
                    "SELECT r.state FROM rescreen_items r JOIN screenings s "
                    "ON s.id = r.screening_id WHERE s.reference = ? AND r.case_key = ? "
                    "AND r.direction = ?",
                    (reference, case_key, direction),
                ).fetchone()
            if stored is not None and stored[0] == "closed":  # it was "no item" (a review)
                raise RegistryConflict(
                    f"the re-screen item for screening {reference!r}, case {case_key!r}, "
                    f"{direction} is closed: a closed item is not worked again",
                    "action",
                )
            raise RegistryNotFound(
                f"no re-screen item for screening {reference!r}, case {case_key!r}, {direction}"
            )
        item = current[0]
        allowed = {"assign": ("open", "assigned"), "review": ("assigned",), "close": ("reviewed",)}
        if item.work_state not in allowed[action]:
            raise RegistryConflict(
                f"cannot {action} an item that is {item.work_state}; "
                "the order is assign, review, close",
                "action",
            )
        state = {"assign": "assigned", "review": "reviewed", "close": "closed"}[action]
        now = self.clock()
        with self.db.tx() as cur:
            sid = cur.execute(
                "SELECT id FROM screenings WHERE reference = ?", (reference,)
            ).fetchone()[0]
            # Checked again under the write lock: another action may have moved it meanwhile.
            stored = cur.execute(
                "SELECT state FROM rescreen_items WHERE screening_id = ? AND case_key = ? "
                "AND direction = ?",
                (sid, case_key, direction),
            ).fetchone()
            if (stored[0] if stored else "open") != item.work_state:
                raise RegistryConflict(
                    f"the item was worked meanwhile (it is {stored[0] if stored else 'open'}); "
                    "look again",
                    "action",
                )
            cur.execute(
                "INSERT INTO rescreen_items (screening_id, case_key, direction, state, assignee, "
                "outcome, note, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (screening_id, case_key, direction) DO UPDATE SET "
                "state = excluded.state, assignee = COALESCE(excluded.assignee, assignee), "
                "outcome = COALESCE(excluded.outcome, outcome), "
                "note = COALESCE(excluded.note, note), updated_at = excluded.updated_at",
                (sid, case_key, direction, state, assignee, outcome, note, now),
            )
            cur.execute(
                "INSERT INTO reads (at, activity, organisation, role, actor, purpose, "
                "legal_ground, subject, detail) VALUES (?, ?, 'justid', 'operator', ?, "
                "'herbeoordeling', 'art. 39f Wjsg', ?, ?)",
                (now, f"rescreen-item-{action}", actor, item.skn, f"{reference} {case_key}"),
            )
        return state

    # -- notifications to member states (ECRIS) ----------------------------------------

    def notification_events(self, *, limit: int = 1000) -> list[tuple[int, dict[str, Any]]]:
        """The notifications not sent yet, as Justid's CloudEvents to the member states, with
        their row ids (``mark_notified`` after the exchange accepted them). An event's id is
        the notification's, so a re-send after a crash is recognised as a duplicate."""
        if not 1 <= limit <= 10_000:
            raise RegistryInputError("limit must be from 1 to 10,000", "limit")
        now = self.clock()
        source = source_urn(self.chain.partner(self.receiver), "jds")
        with self.db.tx() as cur:
            # Not for a conviction since replaced (corrected, or overturned): no longer owed.
            rows = cur.execute(
                "SELECT n.id, n.notification_id, n.skn, n.case_key, n.member_state, "
                "n.conviction_date, COALESCE(n.attempted_at, ?) FROM ecris_notifications n "
                "JOIN registrations r ON r.id = n.registration "
                "WHERE n.sent_at IS NULL AND r.replaced_at IS NULL ORDER BY n.id LIMIT ?",
                (now, limit),
            ).fetchall()
            # The first attempt's moment is kept: a re-send is then the same event again.
            cur.executemany(
                "UPDATE ecris_notifications SET attempted_at = ? "
                "WHERE id = ? AND attempted_at IS NULL",
                [(r[6], r[0]) for r in rows],
            )
            people = self.db.people_rows(cur, sorted({str(r[2]) for r in rows}))
        out = []
        for ident, notification, skn, case_key, member_state, convicted, attempted in rows:
            categories = sorted(
                {c for r in people[skn] if r.case_key == case_key for c in r.categories}
            )
            data: dict[str, Any] = {
                "notificationId": notification,
                "skn": skn,
                "memberState": member_state,
                "convictionDate": convicted,
                "offenceCategories": categories or ["overig"],
                "notifiedAt": _iso(attempted),
            }
            if _PARKET.match(case_key):
                data["parketnummer"] = case_key
            event = {
                "specversion": "1.0",
                "id": notification,
                "source": source,
                "type": ECRIS_NOTIFIED,
                "subject": skn,
                "time": _iso(attempted),
                "datacontenttype": "application/json",
                "data": data,
            }
            out.append((int(ident), event))
        return out

    def mark_notified(self, ids: Sequence[int]) -> None:
        now = self.clock()
        with self.db.tx() as cur:
            cur.executemany(
                "UPDATE ecris_notifications SET sent_at = ? WHERE id = ? AND sent_at IS NULL",
                [(now, i) for i in ids],
            )

    def notify(self) -> int:
        """Send what is due through the exchange, as Justid; returns how many went out."""
        exchange = self._exchange()
        sent = 0
        while batch := self.notification_events():
            result = exchange.submit(principal=self.principal, events=[e for _, e in batch])
            if result.accepted + result.duplicates != len(batch):
                raise RegistryInputError("the exchange refused some notifications")
            self.mark_notified([i for i, _ in batch])
            sent += len(batch)
        return sent

    def notifications(
        self, *, state: str | None = None, reader: Reader | None = None
    ) -> list[EcrisNotification]:
        """Every notification owed, with its delay against the deadline (``state``: ``late``
        (sent after its due date, or due and not sent), ``unsent`` or ``on-time``). They name
        persons and their convictions: with a ``reader`` the read is logged, once for the list
        and once for every person on it."""
        if state not in (None, "late", "unsent", "on-time"):
            raise RegistryInputError(
                f"state must be late, unsent or on-time, not {_cut(state)}", "state"
            )
        if reader is not None:
            reader.check()
        now = self.clock()
        with self.db.tx() as cur:
            rows = cur.execute(
                "SELECT n.notification_id, n.skn, n.case_key, n.member_state, n.conviction_date, "
                "n.due_date, n.known_at, n.sent_at FROM ecris_notifications n "
                "JOIN registrations r ON r.id = n.registration "
                "WHERE n.sent_at IS NOT NULL OR r.replaced_at IS NULL ORDER BY n.id"
            ).fetchall()
        found = [
            EcrisNotification(
                str(r[0]),
                str(r[1]),
                str(r[2]),
                str(r[3]),
                parse_date(r[4]),
                parse_date(r[5]),
                float(r[6]),
                None if r[7] is None else float(r[7]),
                now,
            )
            for r in rows
        ]
        if state is not None:
            found = [n for n in found if n.state == state or (state == "late" and n.late)]
        if reader is not None:
            with self.db.tx() as cur:
                self._log_list(
                    cur,
                    reader,
                    "ecris-list-read",
                    f"{len(found)} notifications" + (f" ({state})" if state else ""),
                    [(n.skn, f"{n.notification_id} {n.case_key}") for n in found],
                )
        return found

    # -- the read log -------------------------------------------------------------------

    def reads_of(
        self,
        *,
        skn: str,
        reader: Reader,
        limit: int = 100,
        since: date | None = None,
        until: date | None = None,
        activity: str | None = None,
    ) -> list[ReadRecord]:
        """The read log for a person, newest first; ``skn="*"``: reads of lists of persons
        (the re-screen list). Only reads on the days ``since`` to ``until`` (both included,
        Amsterdam time) and of one ``activity`` (``READ_ACTIVITIES``), where given. Who was
        screened, by whom and why is itself personal data, so this read is logged as well
        (after the entries it returns)."""
        if skn != "*":
            self._skn(skn)
        if not 1 <= limit <= 1000:
            raise RegistryInputError("limit must be from 1 to 1000", "limit")
        if activity is not None and activity not in READ_ACTIVITIES:
            raise RegistryInputError(
                f"activity must be one of {', '.join(READ_ACTIVITIES)}, not {_cut(activity)}",
                "activity",
            )
        if since is not None and until is not None and until < since:
            raise RegistryInputError(
                f"until ({until.isoformat()}) is before since ({since.isoformat()})", "until"
            )
        reader.check()
        records = self.db.reads_of(
            skn,
            limit,
            since=None if since is None else _day_start(since),
            # The last day there is has no next day: nothing lies after it.
            before=None if until is None or until == date.max else _day_start(until + _DAY),
            activity=activity,
        )
        asked = [
            f"{name} {value}"
            for name, value in (("since", since), ("until", until), ("activity", activity))
            if value is not None
        ]
        with self.db.tx() as cur:
            entries = "1 entry" if len(records) == 1 else f"{len(records)} entries"
            detail = "; ".join([entries, *asked])
            self._log(cur, reader, "read-log-read", skn, detail, self.clock())
        return records

    def _log_list(
        self,
        cur: Any,
        reader: Reader,
        activity: str,
        summary: str,
        entries: Iterable[tuple[str, str]],
    ) -> None:
        """A read of a list of persons: logged once for the list (subject ``*``) and once for
        every person on it, so each person's read log shows it."""
        now = self.clock()
        self._log(cur, reader, activity, "*", summary, now)
        per_person: dict[str, list[str]] = {}
        for skn, what in entries:
            per_person.setdefault(skn, []).append(what)
        self.db.log_reads(
            cur,
            [
                _read(reader, now, activity, skn, "; ".join(what)[:500])
                for skn, what in per_person.items()
            ],
        )

    def _log(
        self, cur: Any, reader: Reader, activity: str, subject: str, detail: str, now: float
    ) -> None:
        self.db.log_read(cur, _read(reader, now, activity, subject, detail))

    def _profile(self, name: str) -> Profile:
        check_length(name, MAX_PROFILE, "profile")
        profile = self.profiles.get(name)
        if profile is None:
            raise RegistryInputError(
                f"unknown screening profile {name!r}; known: {', '.join(sorted(self.profiles))}",
                "profile",
            )
        return profile

    @staticmethod
    def _reference(reference: str) -> None:
        if not isinstance(reference, str) or not _REFERENCE.match(reference):
            raise RegistryInputError(
                "reference must be 1-64 letters, digits, '.', '_', ':' or '-', "
                f"not {_cut(reference)}",
                "reference",
            )

    @staticmethod
    def _skn(skn: str) -> None:
        if not isinstance(skn, str) or not _SKN.match(skn):
            raise RegistryInputError(f"skn must look like SKN-0123456789, not {_cut(skn)}", "skn")


def _item(
    s: ScreeningRow,
    direction: Direction,
    case_key: str,
    worked: tuple[str, Any, Any, Any],
    decision: str | None,
    *,
    fact_date: date,
    known_at: float,
    state_then: CaseState | None = None,
    state_now: CaseState | None = None,
    differs: bool = True,
) -> RescreenItem:
    """A re-screen item of screening ``s``, with its work (state, assignee, outcome, note)."""
    state, assignee, outcome, note = worked
    return RescreenItem(
        reference=s.reference,
        consumer=s.consumer,
        profile=s.profile,
        skn=s.skn,
        query_date=s.query_date,
        answered_at=s.answered_at,
        direction=direction,
        case_key=case_key,
        state_then=state_then,
        state_now=state_now,
        fact_date=fact_date,
        known_at=known_at,
        work_state=state,
        assignee=assignee,
        outcome=outcome,
        decision=decision,
        note=note,
        differs=differs,
    )


def _latest(rows: Iterable[KnownRegistration], case_key: str) -> KnownRegistration | None:
    """The case's registration in force now: its last not replaced one, in the procedure's
    order within a date."""
    current = [r for r in rows if r.case_key == case_key and r.replaced_at is None]
    return max(current, key=lambda r: (r.fact_date, PROCEDURE_ORDER[r.state], r.id), default=None)


def _complete(source: SourceFreshness) -> bool:
    """Whether a source is shown complete up to now: online, nothing waiting, missing or
    failed."""
    return (
        source.state == "online"
        and source.source is not None
        and not (source.waiting or source.gaps or source.failed)
    )


def _differs_since(
    rows: Iterable[KnownRegistration], profile: Profile, s: ScreeningRow, case_key: str
) -> float:
    """When the registry learnt what changes answer ``s`` for a case: the earliest change of
    the case since the answer from which on a replay for the answer's date would, at every
    later change, have differed from what the answer stored, as it does now. So a later
    correction that keeps the difference does not move it (the first message that carried
    the fact counts), while one that makes the difference does, as does a change that undid
    the difference for a while."""
    case = [r for r in rows if r.case_key == case_key]
    moments = {r.known_at for r in case if r.known_at >= s.answered_at}
    moments |= {
        r.replaced_at for r in case if r.replaced_at is not None and r.replaced_at >= s.answered_at
    }
    shown = case_key in s.cases
    since = s.answered_at
    for moment in sorted(moments, reverse=True):
        if (case_key in relevant_cases(case, profile, s.query_date, known_by=moment)) == shown:
            break  # known this far, a replay would have answered as the answer did
        since = moment
    return since


def _screening(r: Sequence[Any]) -> ScreeningRow:
    return ScreeningRow(
        id=int(r[0]),
        reference=str(r[1]),
        consumer=str(r[2]),
        profile=str(r[3]),
        skn=str(r[4]),
        query_date=parse_date(str(r[5])),
        answered_at=float(r[6]),
        cases=tuple(orjson.loads(r[7])),
        freshness=int(r[8]),
        purpose=str(r[9]),
        legal_ground=str(r[10]),
        requester_role=str(r[11]),
    )


def _decided_after_answer(decided_date: date, answered_at: float) -> None:
    """A decision follows the answer it rests on: not before the answer's day, Amsterdam
    time (the day a consumer sees on the answer)."""
    answered = datetime.fromtimestamp(answered_at, AMSTERDAM).date()
    if decided_date < answered:
        raise RegistryInputError(
            f"the decision date {decided_date.isoformat()} is before the screening was "
            f"answered ({answered.isoformat()}, Amsterdam time); give that day or later",
            "decidedDate",
        )


def _cut(value: object) -> str:
    """A refused input as an error message quotes it: its first 80 characters, at most."""
    if isinstance(value, str) and len(value) > 80:
        return f"{value[:80]!r}… ({len(value):,} characters)"
    return repr(value)


def _int(value: object) -> int | None:
    if type(value) is int:
        return value
    if type(value) is str and value.isdigit():
        return int(value)
    return None


READ_ACTIVITIES = (
    "screening-answered",
    "extract-read",
    "rescreen-list-read",
    "rescreen-item-assign",
    "rescreen-item-review",
    "rescreen-item-close",
    "ecris-list-read",
    "read-log-read",
)
"""What a read log entry says was done with a person's data."""


_DAY = timedelta(days=1)


def _day_start(day: date) -> float:
    """The first moment of ``day`` in Amsterdam, as an epoch."""
    return datetime(day.year, day.month, day.day, tzinfo=AMSTERDAM).timestamp()


def _read(reader: Reader, now: float, activity: str, subject: str, detail: str) -> ReadRecord:
    """A read log entry (Logboek Dataverwerkingen's fields) of ``reader`` reading ``subject``."""
    assert activity in READ_ACTIVITIES, activity  # the filter of `reads_of` knows every one
    return ReadRecord(
        now,
        activity,
        reader.organisation,
        reader.role,
        reader.actor,
        reader.purpose,
        reader.legal_ground,
        subject,
        detail,
    )
