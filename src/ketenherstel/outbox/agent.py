"""The edge outbox: a partner's own systems write to it; it forwards when the exchange answers.

`Outbox.write` checks each event exactly as the exchange will (the exchange's own
`check_events` against the chain model), checks that its source is this partner's OIN, and
appends it with the next gap-free `sequence` of its source. `forward_once` sends pending
messages in write order (so each source in sequence order) and marks them forwarded only after a
2xx answer: an unreachable exchange or a 5xx keeps them pending, a 4xx stops and says why.
Messages also go into signed offline bundles (`export_bundle`) for an exchange that cannot be
reached at all; a bundled message is still forwarded later, and the exchange then answers
"duplicate", so nothing depends on whether the bundle arrived.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ketenherstel.chain import Chain, load_chain, parse_source_urn
from ketenherstel.client import ClientError
from ketenherstel.exchange.envelope import Limits, check_events
from ketenherstel.outbox.bundle import build_bundle
from ketenherstel.outbox.errors import ExportError, OutboxConfigError, WriteProblem, WriteRefused
from ketenherstel.outbox.store import BundleRecord, NewMessage, OutboxStore, Written

__all__ = [
    "ExportedBundle",
    "ForwardResult",
    "Outbox",
    "OutboxStatus",
    "SourceStatus",
    "Submitter",
    "Written",
]

ForwardStatus = Literal["idle", "forwarded", "unreachable", "refused"]
_RETRY_LATER = (408, 425, 429)
# Room for the `sequence` and `sequencetype` the outbox adds within the exchange's own limit.
_LIMITS = Limits(max_event_bytes=Limits().max_event_bytes - 64)


class Submitter(Protocol):
    """What forwarding needs of `ketenherstel.client.ExchangeClient`."""

    def submit(self, events: Sequence[dict[str, Any]]) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class ForwardResult:
    """One forwarding round. `forwarded` counts messages the exchange answered 2xx for."""

    status: ForwardStatus
    forwarded: int
    duplicates: int
    pending: int
    detail: str | None = None
    http_status: int | None = None
    sequence_gaps: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SourceStatus:
    source: str
    last_sequence: int
    last_forwarded: int
    pending: int
    last_bundled: int


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    oin: str
    source: str
    pending: int
    oldest_pending_at: float | None
    sources: list[SourceStatus]
    reachable: bool | None  # as of the last round that sent something; None: none yet
    last_attempt_at: float | None
    last_problem: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "oin": self.oin,
            "source": self.source,
            "pending": self.pending,
            "oldestPendingAt": _iso(self.oldest_pending_at),
            "reachable": self.reachable,
            "lastAttemptAt": _iso(self.last_attempt_at),
            "lastProblem": self.last_problem,
            "sources": [
                {
                    "source": s.source,
                    "lastSequence": s.last_sequence,
                    "lastForwarded": s.last_forwarded,
                    "pending": s.pending,
                    "lastBundled": s.last_bundled,
                }
                for s in self.sources
            ],
        }


@dataclass(frozen=True, slots=True)
class ExportedBundle:
    path: Path
    digest: str
    source: str
    first_sequence: int
    last_sequence: int
    count: int
    previous_digest: str | None
    reissued: bool  # True: the bytes of a bundle exported before, written again
    left: tuple[int, int] | None = None
    """The sequences of the range asked for (by default: every one not yet forwarded or
    bundled) that did not fit in the bundle (``max_events``): for the next bundle."""
    others: tuple[tuple[str, int], ...] = ()
    """Other sources of this outbox with messages not yet forwarded or bundled, and how many:
    a bundle holds one source, they wait for a bundle (or a forward) of their own."""


class Outbox:
    """A partner's outbox on its own SQLite file. Safe to share between threads."""

    def __init__(
        self,
        store: OutboxStore,
        *,
        chain: Chain,
        clock: Callable[[], float] = time.time,
    ) -> None:
        config = store.config()
        if "oin" not in config or "source" not in config:
            raise OutboxConfigError(f"{store.path} is not initialised; run `outbox init` first")
        self.store = store
        self.chain = chain
        self.clock = clock
        self.oin = config["oin"]
        self.source = config["source"]
        self._partner = chain.partner_by_oin(self.oin)

    @classmethod
    def create(
        cls, path: str | Path, *, oin: str, source: str, chain: Chain | None = None
    ) -> Outbox:
        """Set up an outbox file for `oin`; `source` is written into events that name none."""
        parsed = parse_source_urn(source)
        if parsed is None:
            raise OutboxConfigError(
                f"--source must be urn:nld:oin:<20-digit OIN>:systeem:<name>, not {source!r}"
            )
        if parsed[0] != oin:
            raise OutboxConfigError(f"source {source} does not belong to OIN {oin}")
        model = chain or load_chain()
        partner = model.partner_by_oin(oin)
        if partner is not None and parsed[1] not in partner.systems:
            # Every write would be refused, and the exchange takes no other (a review).
            raise OutboxConfigError(
                f"--source {source}: {partner.key} has no system {parsed[1]!r} in the chain "
                f"model; its systems: {', '.join(partner.systems)}"
            )
        return cls(OutboxStore.create(path, oin=oin, source=source), chain=model)

    @classmethod
    def open(cls, path: str | Path, *, chain: Chain | None = None) -> Outbox:
        store = OutboxStore.open(path)
        try:
            return cls(store, chain=chain or load_chain())
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        self.store.close()

    # -- writing -------------------------------------------------------------------------------

    def write(self, events: Sequence[Any]) -> list[Written]:
        """Append events; all or nothing. Raises WriteRefused listing every problem.

        An event without `source` gets the outbox's source. `sequence` is the outbox's to
        assign, so an event that brings one is refused. Rewriting an id with the same body
        returns its sequence ("duplicate"); with another body the write is refused
        (ConflictingWrite).
        """
        problems: list[WriteProblem] = []
        prepared: list[Any] = []
        for index, event in enumerate(events):
            if isinstance(event, dict):
                if "sequence" in event or "sequencetype" in event:
                    problems.append(
                        WriteProblem(
                            index,
                            "sequence",
                            "the outbox assigns the sequence; leave sequence and sequencetype out",
                        )
                    )
                    event = {
                        k: v for k, v in event.items() if k not in ("sequence", "sequencetype")
                    }
                if "source" not in event:
                    event = {**event, "source": self.source}
                problems.extend(self._sender_problems(index, event))
            prepared.append(event)
        envelopes, found = check_events(
            prepared,
            limits=_LIMITS,
            known_type=lambda name: self.chain.message_type(name) is not None,
            validate_data=self.chain.validate_data,
        )
        problems.extend(WriteProblem(p.index, p.field, p.reason) for p in found)
        if problems:
            problems.sort(key=lambda p: -1 if p.index is None else p.index)
            raise WriteRefused(f"{len(problems)} problem(s); nothing was written", problems)
        messages = [
            NewMessage(env.source, env.id, env.content_hash, event)
            for env, event in zip(envelopes, prepared, strict=True)
        ]
        return self.store.append(messages, now=self.clock())

    def _sender_problems(self, index: int, event: dict[str, Any]) -> list[WriteProblem]:
        source, type_name = event.get("source"), event.get("type")
        parsed = parse_source_urn(source) if isinstance(source, str) else None
        if parsed is not None and parsed[0] != self.oin:
            return [
                WriteProblem(
                    index, "source", f"{source} is not a source of this outbox's OIN {self.oin}"
                )
            ]
        if parsed is not None and self._partner is not None:
            systems = self._partner.systems
            if parsed[1] not in systems:  # the exchange would refuse it when forwarded
                reason = (
                    f"{self._partner.key} has no system {parsed[1]!r} in the chain model; "
                    f"its systems: {', '.join(systems)}"
                )
                return [WriteProblem(index, "source", reason)]
        if (
            self._partner is not None
            and isinstance(type_name, str)
            and self.chain.message_type(type_name) is not None
            and not self.chain.may_send(self._partner.key, type_name)
        ):
            reason = f"{self._partner.key} may not send {type_name} (chain model)"
            return [WriteProblem(index, "type", reason)]
        return []

    # -- forwarding ----------------------------------------------------------------------------

    def forward_once(
        self, client: Submitter, *, batch_size: int = 500, max_bytes: int = 8 * 1024 * 1024
    ) -> ForwardResult:
        """Send every pending message, oldest first, in batches, until none is left or one fails.

        A batch is marked forwarded only after a 2xx answer. Connection errors, time-outs, 5xx,
        408 and 429 mean "unreachable": the batch stays pending for the next round. Any other
        4xx stops forwarding with `status="refused"` and the exchange's problems in `detail`;
        the messages stay pending until someone mends the cause (a token, a registration).
        """
        forwarded = duplicates = 0
        gaps: list[dict[str, Any]] = []
        status: ForwardStatus = "idle"
        detail: str | None = None
        http_status: int | None = None
        while True:
            batch = self.store.pending(limit=batch_size, max_bytes=max_bytes)
            if not batch:
                break
            try:
                answer = client.submit([message.event() for message in batch])
            except httpx.TransportError as exc:
                status = "unreachable"
                detail = f"cannot reach the exchange: {type(exc).__name__}: {exc}"
                break
            except ClientError as exc:
                http_status = exc.status
                if exc.status >= 500 or exc.status in _RETRY_LATER:
                    status, detail = "unreachable", f"the exchange cannot take it now: {exc}"
                else:
                    status = "refused"
                    detail = _refusal(exc, [(m.source, m.sequence, m.id) for m in batch])
                break
            except ValueError as exc:  # a 2xx that is not JSON: not known to be stored
                status, detail = "unreachable", f"the exchange's answer was unreadable: {exc}"
                break
            self.store.mark_forwarded([message.pos for message in batch], now=self.clock())
            status = "forwarded"
            forwarded += len(batch)
            duplicates += int(answer.get("duplicates", 0))
            gaps.extend(answer.get("sequenceGaps", []))
        if status != "idle":  # an idle round did not talk to the exchange
            self._record_attempt(status, detail)
        return ForwardResult(
            status=status,
            forwarded=forwarded,
            duplicates=duplicates,
            pending=sum(s.pending for s in self.store.summaries()),
            detail=detail,
            http_status=http_status,
            sequence_gaps=gaps,
        )

    def _record_attempt(self, status: ForwardStatus, detail: str | None) -> None:
        reachable = "0" if status == "unreachable" else "1"
        self.store.set_config(
            {
                "last_attempt_at": repr(self.clock()),
                "reachable": reachable,
                "last_problem": detail or "",
            }
        )

    def run(
        self,
        client: Submitter,
        *,
        interval: float,
        stop: threading.Event,
        on_result: Callable[[ForwardResult], None] | None = None,
    ) -> None:
        """Forward every `interval` seconds until `stop` is set (checked between rounds)."""
        while not stop.is_set():
            result = self.forward_once(client)
            if on_result is not None:
                on_result(result)
            stop.wait(interval)

    # -- status --------------------------------------------------------------------------------

    def status(self) -> OutboxStatus:
        summaries = self.store.summaries()
        config = self.store.config()
        oldest = [s.oldest_pending_at for s in summaries if s.oldest_pending_at is not None]
        reachable = config.get("reachable")
        attempt = config.get("last_attempt_at")
        return OutboxStatus(
            oin=self.oin,
            source=self.source,
            pending=sum(s.pending for s in summaries),
            oldest_pending_at=min(oldest) if oldest else None,
            sources=[
                SourceStatus(s.source, s.last_sequence, s.last_forwarded, s.pending, s.last_bundled)
                for s in summaries
            ],
            reachable=None if reachable is None else reachable == "1",
            last_attempt_at=float(attempt) if attempt else None,
            last_problem=config.get("last_problem") or None,
        )

    # -- bundles -------------------------------------------------------------------------------

    def export_bundle(
        self,
        path: Path,
        *,
        private_key: Ed25519PrivateKey,
        source: str | None = None,
        first: int | None = None,
        last: int | None = None,
        max_events: int = 50_000,
    ) -> ExportedBundle:
        """Write a signed bundle of `source`'s messages to `path` (never overwritten).

        A bundle holds one source: by default the outbox's own. Without a range: the messages
        after the last one forwarded or bundled. With `first`/`last`: that range; if a bundle
        of that exact range was exported before, its bytes are written again (same digest), so
        a lost file can be replaced without breaking the chain of previous digests. Either way
        at most `max_events`, the first of the range: the rest is `left` for the next bundle.
        Other sources with messages waiting are named in `others` (and in the error when
        there is nothing to export), so none is left behind unseen.
        """
        if max_events < 1:
            raise ExportError(f"max_events is at least 1, not {max_events}")
        source = source or self.source
        summaries = self.store.summaries()
        others = tuple(
            (s.source, waiting)
            for s in summaries
            if s.source != source
            and (waiting := s.last_sequence - max(s.last_forwarded, s.last_bundled)) > 0
        )
        summary = next((s for s in summaries if s.source == source), None)
        if summary is None:
            raise ExportError(
                f"nothing was written from {source}; there is nothing to export"
                + _elsewhere(others)
            )
        after = max(summary.last_forwarded, summary.last_bundled)
        start = first if first is not None else after + 1
        wanted = last if last is not None else summary.last_sequence
        if first is None and last is None and start > summary.last_sequence:
            raise ExportError(
                f"nothing to export from {source}: every message up to {summary.last_sequence} "
                f"was forwarded (up to {summary.last_forwarded}) or bundled (up to "
                f"{summary.last_bundled}); name a range with first/last to export one again"
                + _elsewhere(others)
            )
        why = None
        if first is not None and last is not None and first > last:
            why = "the first comes after the last; give the lower number first"
        elif first is None and start > wanted:
            why = f"up to {after} was forwarded or bundled already; name first to export again"
        if why is not None:
            raise ExportError(f"cannot export sequences {start}-{wanted} of {source}: {why}")
        if not 1 <= start <= wanted <= summary.last_sequence:
            raise ExportError(
                f"cannot export sequences {start}-{wanted} of {source}: it holds 1-"
                f"{summary.last_sequence}"
            )
        end = min(wanted, start + max_events - 1)
        left = (end + 1, wanted) if end < wanted else None
        if path.exists():
            raise ExportError(f"{path} exists; a bundle file is never overwritten")
        folder = path.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            # Checked before the bundle is recorded: a refused export changes nothing.
            why = "is no directory" if not folder.is_dir() else "is not writable"
            raise ExportError(f"cannot write {path}: {folder} {why}; nothing was exported")
        bundles = self.store.bundles(source)
        same = [b for b in bundles if (b.first_sequence, b.last_sequence) == (start, end)]
        if same:
            data = self.store.bundle_data(same[-1].digest) or b""
            _write_new_file(path, data)
            return _exported(path, same[-1], reissued=True, left=left, others=others)
        previous = [b for b in bundles if b.last_sequence == start - 1]
        messages = self.store.messages(source, start, end)
        built = build_bundle(
            private_key=private_key,
            source=source,
            events=[message.event() for message in messages],
            previous_digest=previous[-1].digest if previous else None,
            created_at=_iso(self.clock()) or "",
        )
        record = BundleRecord(
            digest=built.digest,
            source=source,
            first_sequence=built.header.first_sequence,
            last_sequence=built.header.last_sequence,
            count=built.header.count,
            previous_digest=built.header.previous_digest,
            created_at=built.header.created_at,
            exported_at=self.clock(),
        )
        # Recorded before the file is written: if writing fails, the same range exported
        # again yields these very bytes, so the chain of previous digests stays whole.
        self.store.record_bundle(record, built.data)
        try:
            _write_new_file(path, built.data)
        except OSError as exc:
            raise ExportError(
                f"cannot write {path}: {exc.strerror}; the bundle is kept, export sequences "
                f"{start}-{end} again to write it elsewhere"
            ) from None
        return _exported(path, record, reissued=False, left=left, others=others)


def _elsewhere(others: Sequence[tuple[str, int]]) -> str:
    """What waits from the outbox's other sources, for an export that found nothing."""
    if not others:
        return ""
    waiting = ", ".join(f"{count} from {source}" for source, count in others)
    return (
        f"; not yet forwarded or bundled are messages of other sources ({waiting}): a bundle "
        "holds one source, export each with --source"
    )


def _exported(
    path: Path,
    record: BundleRecord,
    *,
    reissued: bool,
    left: tuple[int, int] | None,
    others: tuple[tuple[str, int], ...],
) -> ExportedBundle:
    return ExportedBundle(
        path=path,
        digest=record.digest,
        source=record.source,
        first_sequence=record.first_sequence,
        last_sequence=record.last_sequence,
        count=record.count,
        previous_digest=record.previous_digest,
        reissued=reissued,
        left=left,
        others=others,
    )


def _write_new_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _refusal(exc: ClientError, batch: list[tuple[str, int, str]]) -> str:
    """The exchange's refusal, with batch indexes turned into source, sequence and id."""
    lines = [f"the exchange refused the batch: {exc.status} {exc.problem.get('detail', '')}"]
    for problem in exc.problem.get("problems", [])[:20]:
        index = problem.get("index")
        where = ""
        if isinstance(index, int) and 0 <= index < len(batch):
            source, sequence, ident = batch[index]
            where = f"{source} sequence {sequence} (id {ident}) "
        lines.append(f"  {where}{problem.get('field') or '(event)'}: {problem.get('reason')}")
    return "\n".join(lines)


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
