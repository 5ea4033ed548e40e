"""The measured series of the picture, computed from the store (decision 0013).

One pass over every delivery: each is counted in when its event happened (so what a cut-off
sender kept in its outbox waits from the moment it was logged) and out when its receiver
acknowledged it. Per (sender, receiver, type) and per local day in Europe/Amsterdam: inflow,
outflow, backlog and the oldest waiting item at the day's end, lead times of what was
acknowledged that day, and deadlines missed (the day an item's legal limit passed while it was
still waiting). Channels, processes and partners are sums of those.

A dead-lettered delivery leaves the backlog when it failed for good and is counted apart
(``dead``): it waits for no one any more, it waits for an operator. Its deadline, if it passes,
is still missed. An event time more than :data:`MAX_OUTBOX_DAYS` before its arrival is taken to
be a sender's clock error, and the arrival counts instead.

A re-send (of a dead letter, or reconciliation's repair of a delivery a receiver lost) is a new
attempt and never rewrites the past: the earlier attempt stays counted as it ended, on its day
(delivered, or dead), read from the trail because the delivery row itself goes back to ready.
The re-send counts as a new item from the moment it was re-sent: inflow that day, outflow (and
a lead time from the re-send) when it is acknowledged again. Only the first attempt is held to
the legal limit; a deadline is about the original message, not its repair.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ketenherstel.chain.model import Chain
from ketenherstel.store.ports import Store

__all__ = [
    "KINDS",
    "TZ",
    "PictureCache",
    "Snapshot",
    "View",
    "compute",
]

TZ = ZoneInfo("Europe/Amsterdam")
PAGE = 100_000
KINDS = ("all", "channel", "process", "receiver", "sender", "partner")
KIND_NL = {
    "all": "hele keten",
    "channel": "kanaal",
    "process": "proces",
    "receiver": "ontvanger",
    "sender": "afzender",
    "partner": "partner",
}
"""Each kind as the Dutch pages name it."""
"""What a view is of: everything, a channel ``sender->receiver``, a process key, a partner as
receiver, as sender, or either."""

Key = tuple[str, str, str]  # (sender, receiver, type)
_NAN = float("nan")
MAX_OUTBOX_DAYS = 366
"""How long before its arrival a message's own time may lie (an outbox kept it meanwhile)."""


@dataclass(slots=True)
class _Days:
    """One (sender, receiver, type) per day."""

    inflow: list[int]
    outflow: list[int]
    missed: list[int]
    dead: list[int]
    backlog: list[int]
    oldest: list[float]  # epoch of the oldest waiting item's event at the day's end, or nan
    leads: list[array[float]]  # hours, of what was acknowledged that day


@dataclass(frozen=True, slots=True)
class View:
    """The series of one selection, per local day, and its figures now."""

    kind: str
    key: str
    days: tuple[date, ...]
    inflow: tuple[int, ...]
    outflow: tuple[int, ...]
    backlog: tuple[int, ...]
    missed: tuple[int, ...]
    dead: tuple[int, ...]
    oldest_hours: tuple[float | None, ...]
    lead_median: tuple[float | None, ...]
    lead_p90: tuple[float | None, ...]
    arrived: int
    delivered: int
    backlog_now: int
    oldest_now_hours: float | None
    missed_total: int
    peak: int
    peak_day: date | None
    lead_median_all: float | None
    lead_p90_all: float | None

    def starts(self) -> tuple[datetime, ...]:
        """Each day's local midnight, the x of a chart."""
        return tuple(datetime(d.year, d.month, d.day, tzinfo=TZ) for d in self.days)


@dataclass(slots=True)
class Snapshot:
    """Everything the picture measured, as of ``as_of`` (the store's last change)."""

    as_of: float
    computed_at: float
    fingerprint: tuple[int, int]
    days: tuple[date, ...]
    ends: tuple[float, ...]  # epoch of each day's end (the next local midnight)
    per_key: dict[Key, _Days]
    process_of: dict[str, str]
    rows: int
    _views: dict[tuple[str, str], View] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def keys(self, kind: str, key: str = "") -> list[Key]:
        if kind not in KINDS:
            raise ValueError(f"no view kind {kind!r}; the kinds are {', '.join(KINDS)}")
        match kind:
            case "all":
                return list(self.per_key)
            case "channel":
                sender, _, receiver = key.partition("->")
                return [k for k in self.per_key if k[0] == sender and k[1] == receiver]
            case "process":
                return [k for k in self.per_key if self.process_of.get(k[2]) == key]
            case "receiver":
                return [k for k in self.per_key if k[1] == key]
            case "sender":
                return [k for k in self.per_key if k[0] == key]
            case _:
                return [k for k in self.per_key if key in (k[0], k[1])]

    def channels(self) -> list[str]:
        return sorted({f"{s}->{r}" for s, r, _ in self.per_key})

    def processes(self) -> list[str]:
        return sorted({self.process_of.get(t, "") for _, _, t in self.per_key} - {""})

    def partners(self) -> list[str]:
        return sorted({p for s, r, _ in self.per_key for p in (s, r)})

    def view(self, kind: str, key: str = "") -> View:
        with self._lock:
            cached = self._views.get((kind, key))
        if cached is not None:
            return cached
        made = self._view(kind, key, self.keys(kind, key))
        with self._lock:
            self._views[(kind, key)] = made
        return made

    def view_of(self, label: str, keys: Sequence[Key]) -> View:
        """A view of any set of keys, cached under ``label``."""
        with self._lock:
            cached = self._views.get(("custom", label))
        if cached is not None:
            return cached
        made = self._view("custom", label, keys)
        with self._lock:
            self._views[("custom", label)] = made
        return made

    def _view(self, kind: str, key: str, keys: Sequence[Key]) -> View:
        n = len(self.days)
        inflow, outflow, missed, backlog, dead = [0] * n, [0] * n, [0] * n, [0] * n, [0] * n
        oldest = [math.inf] * n
        leads: list[list[float]] = [[] for _ in range(n)]
        for k in keys:
            d = self.per_key[k]
            for i in range(n):
                inflow[i] += d.inflow[i]
                outflow[i] += d.outflow[i]
                missed[i] += d.missed[i]
                dead[i] += d.dead[i]
                backlog[i] += d.backlog[i]
                o = d.oldest[i]
                if o == o and o < oldest[i]:  # not nan
                    oldest[i] = o
                if d.leads[i]:
                    leads[i].extend(d.leads[i])
        # Each day's oldest item is aged at the day's end; today's, now (the last change).
        cuts = [*self.ends[:-1], min(self.ends[-1], self.as_of)] if self.ends else []
        oldest_hours = tuple(
            None if math.isinf(o) else max(0.0, (cuts[i] - o) / 3600.0)
            for i, o in enumerate(oldest)
        )
        medians: list[float | None] = []
        p90s: list[float | None] = []
        everything: list[float] = []
        for day in leads:
            day.sort()
            medians.append(_quantile(day, 0.5))
            p90s.append(_quantile(day, 0.9))
            everything.extend(day)
        everything.sort()
        peak = max(backlog, default=0)
        last_oldest = oldest[-1] if oldest else math.inf
        return View(
            kind=kind,
            key=key,
            days=self.days,
            inflow=tuple(inflow),
            outflow=tuple(outflow),
            backlog=tuple(backlog),
            missed=tuple(missed),
            dead=tuple(dead),
            oldest_hours=oldest_hours,
            lead_median=tuple(medians),
            lead_p90=tuple(p90s),
            arrived=sum(inflow),
            delivered=sum(outflow),
            backlog_now=backlog[-1] if backlog else 0,
            oldest_now_hours=(
                None if math.isinf(last_oldest) else max(0.0, (self.as_of - last_oldest) / 3600)
            ),
            missed_total=sum(missed),
            peak=peak,
            peak_day=self.days[backlog.index(peak)] if peak else None,
            lead_median_all=_quantile(everything, 0.5),
            lead_p90_all=_quantile(everything, 0.9),
        )


def _quantile(ordered: Sequence[float], q: float) -> float | None:
    """The nearest-rank quantile of an ordered sample (None when empty)."""
    if not ordered:
        return None
    rank = max(1, math.ceil(q * len(ordered)))
    return float(ordered[rank - 1])


def _epoch(text: object, fallback: float) -> float:
    if not isinstance(text, str) or not text:
        return fallback
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return fallback
    if at.tzinfo is None:
        return fallback
    return at.timestamp()


def _local_day(epoch: float) -> date:
    return datetime.fromtimestamp(epoch, TZ).date()


def _day_end(day: date) -> float:
    nxt = day + timedelta(days=1)
    return datetime(nxt.year, nxt.month, nxt.day, tzinfo=TZ).timestamp()


def compute(
    store: Store,
    chain: Chain,
    *,
    now: float,
    progress: Callable[[int], None] | None = None,
) -> Snapshot:
    """Read every delivery once and measure. ``now`` is the caller's clock; the snapshot's
    ``as_of`` is the store's own last change (never later than ``now``)."""
    fingerprint = store.picture_fingerprint()
    limits = {t: d.total_seconds() for t, d in chain.legal_limits().items()}
    process_of = {mt.type: mt.process for mt in chain.message_types}
    ins: dict[Key, array[float]] = {}
    outs: dict[Key, array[float]] = {}  # acknowledged at (nan: not)
    deads: dict[Key, array[float]] = {}  # dead-lettered at (nan: not)
    firsts: dict[Key, array[int]] = {}  # 1: a first attempt (held to the legal limit)
    earlier = _attempts(store.picture_resends())
    bound = MAX_OUTBOX_DAYS * 86400.0
    last = 0.0
    rows = 0
    after = 0
    while True:
        page = store.picture_rows(after=after, limit=PAGE)
        if not page:
            break
        for _id, sender, receiver, type_, time_text, received, state, updated in page:
            key = (str(sender), str(receiver), str(type_))
            arrived = float(received)  # type: ignore[arg-type]
            changed = float(updated)  # type: ignore[arg-type]
            t_in = _epoch(time_text, arrived)
            if not arrived - bound <= t_in <= arrived:
                t_in = arrived  # later than its arrival, or a clock error
            a_in = ins.get(key)
            if a_in is None:
                a_in = ins[key] = array("d")
                outs[key] = array("d")
                deads[key] = array("d")
                firsts[key] = array("b")
            done, t_in = _split(t_in, earlier.get(int(_id)))  # type: ignore[call-overload]
            for n, (start, acked, died) in enumerate(done):
                a_in.append(start)
                outs[key].append(acked)
                deads[key].append(died)
                firsts[key].append(1 if n == 0 else 0)
            a_in.append(t_in)
            outs[key].append(changed if state == "acked" else _NAN)
            deads[key].append(changed if state == "dead" else _NAN)
            firsts[key].append(0 if done else 1)
            last = max(last, arrived, changed)
        rows += len(page)
        after = int(page[-1][0])  # type: ignore[call-overload]
        if progress is not None:
            progress(len(page))
    as_of = min(last, now) if last else now
    first = min((min(a) for a in ins.values() if a), default=as_of)
    days = _days(_local_day(first), _local_day(as_of))
    ends = tuple(_day_end(d) for d in days)
    per_key = {
        k: _measure(ins[k], outs[k], deads[k], firsts[k], ends, limits.get(k[2]), as_of)
        for k in ins
    }
    return Snapshot(
        as_of=as_of,
        computed_at=now,
        fingerprint=fingerprint,
        days=days,
        ends=ends,
        per_key=per_key,
        process_of=process_of,
        rows=rows,
    )


def _attempts(rows: Sequence[tuple[object, ...]]) -> dict[int, list[tuple[float, str]]]:
    """The trail of each re-sent delivery: its (at, event) in order."""
    found: dict[int, list[tuple[float, str]]] = {}
    for ident, at, event in rows:
        found.setdefault(int(ident), []).append((float(at), str(event)))  # type: ignore[call-overload, arg-type]
    return found


def _split(
    t_in: float, trail: Sequence[tuple[float, str]] | None
) -> tuple[list[tuple[float, float, float]], float]:
    """A delivery's attempts that ended before its last re-send, as (start, acknowledged at,
    dead-lettered at) with nan for what did not happen, and when its current attempt started
    (the last re-send; ``t_in`` if it was never re-sent). The delivery row says how the current
    one stands. A re-send with no outcome before it in the trail (not expected: only what ended
    is re-sent) does not split the attempt."""
    done: list[tuple[float, float, float]] = []
    start, acked, died = t_in, _NAN, _NAN
    for at, event in trail or ():
        ended = acked == acked or died == died
        if event == "acked" and not ended:
            acked = at
        elif event == "dead-lettered" and not ended:
            died = at
        elif event == "resent" and ended:
            done.append((start, acked, died))
            start, acked, died = at, _NAN, _NAN
    return done, start


def _days(first: date, last: date) -> tuple[date, ...]:
    count = (last - first).days + 1
    return tuple(first + timedelta(days=i) for i in range(max(count, 1)))


def _measure(
    t_in: array[float],
    t_out: array[float],
    t_dead: array[float],
    t_first: array[int],
    ends: Sequence[float],
    limit: float | None,
    as_of: float,
) -> _Days:
    n = len(ends)
    last_end = ends[-1]
    inflow, outflow, missed, dead = [0] * n, [0] * n, [0] * n, [0] * n
    leads: list[array[float]] = [array("d") for _ in range(n)]
    order = sorted(range(len(t_in)), key=t_in.__getitem__)
    gone = array("d", t_out)  # when each item left the backlog: acknowledged or dead
    for j in order:
        a, b, x = t_in[j], t_out[j], t_dead[j]
        i = min(bisect.bisect_right(ends, a), n - 1)
        inflow[i] += 1
        if b == b:  # acknowledged
            o = min(bisect.bisect_right(ends, b), n - 1)
            outflow[o] += 1
            leads[o].append(max(0.0, (b - a) / 3600.0))
        elif x == x:  # dead-lettered
            dead[min(bisect.bisect_right(ends, x), n - 1)] += 1
            gone[j] = x
        if limit is not None and t_first[j]:
            due = a + limit
            if due <= min(as_of, last_end) and not (b == b and b <= due):
                missed[min(bisect.bisect_right(ends, due), n - 1)] += 1
    backlog: list[int] = []
    level = 0
    for i in range(n):
        level += inflow[i] - outflow[i] - dead[i]
        backlog.append(level)
    # The oldest item still waiting at each day's end: walk the items in event order; the
    # front is dropped once it has left by then (the day ends only move forward).
    oldest: list[float] = []
    front = 0
    count = len(order)
    for i, end in enumerate(ends):
        # A day is [midnight, next midnight); the last day ends at the store's last change,
        # which it includes.
        last = i == n - 1
        cut = as_of if last else end
        while front < count:
            g = gone[order[front]]
            if g == g and (g <= cut if last else g < cut):
                front += 1
                continue
            break
        if front < count and (t_in[order[front]] <= cut if last else t_in[order[front]] < cut):
            oldest.append(t_in[order[front]])
        else:
            oldest.append(_NAN)
    return _Days(inflow, outflow, missed, dead, backlog, oldest, leads)


class PictureCache:
    """The last snapshot, recomputed only when the store changed (decision 0013).

    The first call computes and waits. Later, when the store has changed: in the foreground
    (``background=False``, for the CLI and tests) the caller waits for the new snapshot; in the
    background (the server) the caller gets the last one at once, each figure saying as of
    when, while one thread computes the next, at most once per ``min_interval`` seconds."""

    def __init__(
        self,
        store: Store,
        chain: Chain,
        clock: Callable[[], float],
        *,
        background: bool = False,
        min_interval: float = 60.0,
    ) -> None:
        self._store, self._chain, self._clock = store, chain, clock
        self._background, self._min_interval = background, min_interval
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()  # guards the fields below
        self._computing = threading.Lock()  # one computation at a time
        self._refresher: threading.Thread | None = None
        self._computed_at = 0.0  # monotonic

    def get(self) -> Snapshot:
        current = self._store.picture_fingerprint()
        with self._lock:
            snap = self._snapshot
        if snap is not None and snap.fingerprint == current:
            return snap
        if snap is None or not self._background:
            return self._compute(current)
        with self._lock:
            due = time.monotonic() - self._computed_at >= self._min_interval
            if due and (self._refresher is None or not self._refresher.is_alive()):
                self._refresher = threading.Thread(
                    target=self._compute, args=(current,), name="picture-refresh", daemon=True
                )
                self._refresher.start()
        return snap

    def _compute(self, fingerprint: tuple[int, int]) -> Snapshot:
        with self._computing:
            with self._lock:
                snap = self._snapshot
            if snap is not None and snap.fingerprint == fingerprint:
                return snap
            made = compute(self._store, self._chain, now=self._clock())
            with self._lock:
                self._snapshot = made
                self._computed_at = time.monotonic()
            return made

    def wait(self, timeout: float = 60.0) -> None:
        """Wait for a background computation to finish (tests, shutdown)."""
        with self._lock:
            thread = self._refresher
        if thread is not None:
            thread.join(timeout)

    def peek(self) -> Snapshot | None:
        return self._snapshot
