"""One catch-up transaction of the registry: what it reads up front and the rows it writes."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ketenherstel.registry.db import RegistryDb
from ketenherstel.registry.model import Registration
from ketenherstel.registry.workdays import add_working_days
from ketenherstel.store.ports import LeasedDelivery

ECRIS_WORKING_DAYS = 30  # Kaderbesluit 2009/315/JBZ: processed within 30 working days
DECISIONS = ("afgegeven", "geweigerd", "ingetrokken", "geen-bezwaar", "bezwaar")


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused for one batch, and left as it was found.

    A batch of 20,000 messages makes some 200,000 objects (decoded JSON, rows to write), so the
    collector would run hundreds of times during it, scanning what the batch holds each time;
    reference counting frees nearly all of it when the batch ends, and the collector, running
    again, finds what is left and what another thread made meanwhile. Measured: 5 to 10 % of
    applying a catch-up (bench/README.md, the registry)."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


@dataclass(frozen=True, slots=True)
class _Parsed:
    """What a batch keeps of one message: not the decoded event, so that a batch of 20,000
    does not hold 20,000 JSON trees (the garbage collector scans every one it holds)."""

    delivery: LeasedDelivery
    data: Any  # the event's data, for a message that is not a registration; else None
    reg: Registration | None  # None: not a registration (Justid receives other types too)
    bkey: bytes | None  # the first 128 bits of SHA-256 of the business key
    fact: bytes | None  # and of the data
    sequence: int | None = None
    event_at: float | None = None


class _Batch:
    """One apply transaction: what it read up front, and the rows it will write."""

    def __init__(self, db: RegistryDb, cur: Any, now: float) -> None:
        self.db, self.cur, self.now = db, cur, now
        self.by_bkey: dict[bytes, tuple[bytes, int]] = {}
        self.superseded: dict[tuple[str, str], int] = {}
        self.aliases: dict[tuple[str, str], str] = {}
        self.cases: dict[int, tuple[str, str]] = {}
        self.applied: list[tuple[LeasedDelivery, str, bytes | None, bytes | None, int | None]] = []
        self.registrations: list[tuple[Any, ...]] = []
        self.replaced: list[tuple[float, int, int]] = []
        self.new_aliases: list[tuple[str, str, str]] = []
        self.notifications: list[tuple[Any, ...]] = []
        # Screening decisions that met the rules: (reference, decision, date, consumer).
        self.decisions: list[tuple[str, str, str, str]] = []
        self.next_id = 0
        # Each message's key in ``applied`` (`message_key`), made once for the lookup and the
        # write.
        self.keys: dict[tuple[str, str], bytes] = {}

    def prefetch(self, parsed: Sequence[_Parsed]) -> None:
        db, cur = self.db, self.cur
        self.by_bkey = db.by_bkeys(cur, sorted({p.bkey for p in parsed if p.bkey is not None}))
        pointers = sorted({p.delivery.supersedes for p in parsed if p.delivery.supersedes})
        self.superseded = db.registrations_of(cur, pointers)
        self.aliases = db.aliases(cur, sorted({p.reg.skn for p in parsed if p.reg is not None}))
        ids = {r for _, r in self.by_bkey.values()} | set(self.superseded.values())
        self.cases = db.registration_cases(cur, sorted(ids))
        self.next_id = db.next_registration_id(cur)

    def register(
        self,
        reg: Registration,
        case_key: str,
        d: LeasedDelivery,
        sequence: int | None,
        event_at: float | None,
    ) -> int:
        ident = self.next_id
        self.next_id += 1
        self.registrations.append(
            (
                ident,
                reg.skn,
                case_key,
                d.sender,
                d.source,
                d.id,
                sequence,
                reg.type,
                reg.state,
                ",".join(reg.categories),
                reg.fact_date.isoformat(),
                event_at,
                self.now,
            )
        )
        self.superseded[(d.source, d.id)] = ident
        self.cases[ident] = (reg.skn, case_key)
        if reg.notifies:
            assert reg.nationality is not None
            due = add_working_days(reg.fact_date, ECRIS_WORKING_DAYS)
            self.notifications.append(
                (
                    f"ECRIS-NL-{ident:012d}",
                    ident,
                    reg.skn,
                    case_key,
                    reg.nationality,
                    reg.fact_date.isoformat(),
                    due.isoformat(),
                    self.now,
                )
            )
        return ident

    def alias(self, skn: str, alias: str, case_key: str) -> None:
        if (skn, alias) not in self.aliases:
            self.aliases[(skn, alias)] = case_key
            self.new_aliases.append((skn, alias, case_key))

    def write(self) -> None:
        keys = self.keys
        self.db.record_decisions(self.cur, self.decisions, self.now)
        self.db.write_batch(
            self.cur,
            registrations=self.registrations,
            applied=[
                (
                    keys[(d.source, d.id)],
                    d.source,
                    d.id,
                    d.type,
                    bkey,
                    fact,
                    outcome,
                    reg,
                    self.now,
                )
                for d, outcome, bkey, fact, reg in self.applied
            ],
            replaced=self.replaced,
            aliases=self.new_aliases,
            notifications=self.notifications,
        )
