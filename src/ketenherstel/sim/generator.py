"""Deterministic chain traffic as CloudEvents 1.0 (structured mode, NL GOV profile).

``generate_events`` yields what partners send, in the order their systems logged it: cases
follow the criminal procedure (see ``_cases``), with screenings and ECRIS traffic beside them.
The same chain, seed, case count, start and profile always give the same events.
"""

from __future__ import annotations

import heapq
import itertools
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ketenherstel.chain import Chain, source_urn
from ketenherstel.sim import _types
from ketenherstel.sim._cases import CasePlanner
from ketenherstel.sim._ids import Identifiers, Persons
from ketenherstel.sim._plan import Planned, iso
from ketenherstel.sim._streams import StreamPlanner
from ketenherstel.sim.errors import SimChainError, SimConfigError, SimError
from ketenherstel.sim.profile import DEFAULT_PROFILE, SimProfile

__all__ = ["COVERAGE_PROFILE", "SimEvent", "generate_events", "sample_events"]

_MS = timedelta(milliseconds=1)

COVERAGE_PROFILE = SimProfile(
    cases_per_day=20.0,
    custody_share=0.9,
    pretrial_share=0.5,
    appeal_share=0.3,
    fine_paid_share=0.5,
    eu_national_share=0.3,
    screenings_per_day=2.0,
    screening_record_share=0.5,
    municipal_requests_per_day=1.0,
    ecris_requests_per_day=1.0,
    foreign_convictions_per_day=1.0,
    emergency_route=True,
    serious_offence_share=0.9,
)
"""A small, skewed profile under which a few hundred cases produce every message type."""


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One message as a partner submits it: the sending partner's key and the CloudEvent."""

    sender: str
    event: dict[str, Any]

    @property
    def type(self) -> str:
        """The CloudEvents ``type``."""
        value: str = self.event["type"]
        return value

    @property
    def subject(self) -> str:
        """The CloudEvents ``subject``: the case's parket number or a person's SKN."""
        value: str = self.event["subject"]
        return value


def generate_events(
    chain: Chain,
    *,
    seed: int,
    cases: int,
    start: datetime,
    profile: SimProfile = DEFAULT_PROFILE,
) -> Iterator[SimEvent]:
    """Simulate ``cases`` criminal cases starting at ``start``; yield events in time order.

    Cases arrive as a Poisson process at ``profile.cases_per_day``; screenings, municipal
    requests and ECRIS traffic arrive beside them at their own rates while cases arrive. Every
    case is followed to its end, so events run on past the last arrival. ``start`` must be
    timezone-aware. Raises :class:`SimConfigError` for bad arguments and
    :class:`SimChainError` when ``chain`` lacks a type or route the simulator uses.
    """
    if isinstance(cases, bool) or not isinstance(cases, int) or cases < 0:
        raise SimConfigError(f"cases must be a whole number ≥ 0, got {cases!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SimConfigError(f"seed must be an integer, got {seed!r}")
    if start.tzinfo is None or start.utcoffset() is None:
        raise SimConfigError(f"start must be timezone-aware (e.g. UTC), got {start.isoformat()}")
    sources = _sources(chain)
    return _generate(sources, seed, cases, start.astimezone(UTC), profile)


def sample_events(chain: Chain, *, seed: int = 0, cases: int = 300) -> dict[str, SimEvent]:
    """The first simulated event of every message type the simulator emits, keyed by type.

    Uses :data:`COVERAGE_PROFILE`. Raises :class:`SimError` if some type did not occur.
    """
    start = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
    samples: dict[str, SimEvent] = {}
    for sim_event in generate_events(
        chain, seed=seed, cases=cases, start=start, profile=COVERAGE_PROFILE
    ):
        samples.setdefault(sim_event.type, sim_event)
    missing = sorted(set(_types.SENDERS) - set(samples))
    if missing:
        raise SimError(f"{cases} cases produced no event of: {', '.join(missing)}")
    return samples


def _sources(chain: Chain) -> dict[str, str]:
    """The source URN of every sending partner; checks the chain has every route."""
    problems = []
    for type_name, senders in _types.SENDERS.items():
        if chain.message_type(type_name) is None:
            problems.append(f"no message type {type_name}")
            continue
        problems.extend(
            f"{sender} may not send {type_name}"
            for sender in senders
            if not chain.may_send(sender, type_name)
        )
    if problems:
        raise SimChainError("the chain does not support the simulator: " + "; ".join(problems))
    partners = sorted({sender for group in _types.SENDERS.values() for sender in group})
    return {key: source_urn(chain.partner(key)) for key in partners}


def _generate(
    sources: dict[str, str],
    seed: int,
    cases: int,
    start: datetime,
    profile: SimProfile,
) -> Iterator[SimEvent]:
    rng = random.Random(seed)
    id_rng = random.Random(f"ketenherstel-sim-ids:{seed}")
    ids = Identifiers(rng)
    persons = Persons(rng, ids)
    case_planner = CasePlanner(rng, ids, persons, profile)
    streams = StreamPlanner(rng, ids, persons, profile)
    arrivals: list[tuple[Callable[[datetime], list[Planned]], float]] = [
        (case_planner.plan, profile.cases_per_day),
        (streams.screening, profile.screenings_per_day),
        (streams.municipal_information, profile.municipal_requests_per_day),
        (streams.ecris_request, profile.ecris_requests_per_day),
        (streams.foreign_conviction, profile.foreign_convictions_per_day),
    ]
    arrivals = [(plan, rate) for plan, rate in arrivals if rate > 0]
    plans = [plan for plan, _ in arrivals]
    weights = [rate for _, rate in arrivals]
    total_rate = sum(weights)
    pending: list[tuple[datetime, int, Planned]] = []
    tie = itertools.count()
    sequences: dict[str, int] = {}
    now = start
    started = 0
    while started < cases:
        now += timedelta(days=rng.expovariate(total_rate))
        plan = rng.choices(plans, weights=weights)[0]
        if plan == case_planner.plan:
            started += 1
        for logged, planned in _logged(rng, plan(now)):
            heapq.heappush(pending, (logged, next(tie), planned))
        # Everything planned later starts after ``now``, so what is due by now can go out.
        while pending and pending[0][0] <= now:
            yield _emit(heapq.heappop(pending), sources, sequences, id_rng)
    while pending:
        yield _emit(heapq.heappop(pending), sources, sequences, id_rng)


def _logged(rng: random.Random, items: list[Planned]) -> list[tuple[datetime, Planned]]:
    """When each item's source logs it: a short delay after the fact, strictly increasing."""
    stamped: list[tuple[datetime, Planned]] = []
    previous: datetime | None = None
    for item in sorted(items, key=lambda planned: planned.at):
        logged = item.at + timedelta(seconds=rng.uniform(0.2, 120.0))
        logged -= timedelta(microseconds=logged.microsecond % 1000)
        if previous is not None and logged <= previous:
            logged = previous + _MS
        stamped.append((logged, item))
        previous = logged
    return stamped


def _emit(
    entry: tuple[datetime, int, Planned],
    sources: dict[str, str],
    sequences: dict[str, int],
    id_rng: random.Random,
) -> SimEvent:
    logged, _, planned = entry
    sequence = sequences.get(planned.sender, 0) + 1
    sequences[planned.sender] = sequence
    event = {
        "specversion": "1.0",
        "id": str(uuid.UUID(int=id_rng.getrandbits(128), version=4)),
        "source": sources[planned.sender],
        "type": planned.type,
        "subject": planned.subject,
        "time": iso(logged),
        "datacontenttype": "application/json",
        "partitionkey": planned.subject,
        "sequence": str(sequence),
        "sequencetype": "Integer",
        "data": _copy(planned.data),  # no two events share mutable data
    }
    return SimEvent(sender=planned.sender, event=event)


def _copy(value: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, scalars)."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value
