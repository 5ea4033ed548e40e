"""Reconciliation's use cases (decision 0011): run a comparison over a chain of hops, list
reports, re-send what a receiver never applied, and the request list for senders.

A run exports the live ledgers it needs to Parquet in a work directory, compares each adjacent
pair of hops in DuckDB, and writes its report (summary.json, details.parquet/.csv,
report.html, requests.csv) into a temporary directory that is renamed into place at the end:
a failed run leaves no report behind.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pyarrow.parquet as pq

from ketenherstel.chain import Chain
from ketenherstel.outbox.errors import OutboxConfigError
from ketenherstel.outbox.store import OutboxStore
from ketenherstel.reconcile.duck import Engine, Loaded, PairFigures
from ketenherstel.reconcile.ledger import (
    ARROW_SCHEMA,
    LIVE,
    OUTBOX,
    LedgerSpec,
    ReconcileError,
    ReconcileInputError,
    event_row,
    parse_memory,
    to_arrow,
)
from ketenherstel.reconcile.report import Report, render_html
from ketenherstel.spreadsheet import guard_reversibly, unguard

__all__ = [
    "LiveSources",
    "RepairResult",
    "check_limit_types",
    "check_partner_constants",
    "find_report",
    "legal_limits",
    "list_reports",
    "reconcile",
    "request_list",
    "resend",
]

Step = Callable[[str, int, int], None]
"""A progress callback: (what, done, total)."""

_PAGE = 50_000
_EXCHANGE_HOPS = ("accepted", "routed", "delivered")


class _Store(Protocol):
    def ledger_rows(self, kind: str, *, after: int, limit: int) -> list[tuple[object, ...]]: ...


class _RegistryDb(Protocol):
    def applied_rows(self, *, after: int, limit: int) -> list[tuple[object, ...]]: ...


@dataclass(frozen=True, slots=True)
class LiveSources:
    """Where live ledgers come from: the exchange's store, and the registry's database (whose
    ``applied`` ledger speaks for ``registry_receiver`` only)."""

    store: _Store | None = None
    registry: _RegistryDb | None = None
    registry_receiver: str = "justid"
    chain: Chain | None = None


# Which canonical columns a live ledger really has (the others are null in its file).
_MESSAGE_COLUMNS = tuple(c for c in ARROW_SCHEMA.names if c != "receiver")
_LIVE_COLUMNS = {
    "accepted": _MESSAGE_COLUMNS,
    "routed": ("receiver", *_MESSAGE_COLUMNS),
    "manual": ("sender", "type", "bkey", "recorded_at"),
    "applied": ("source", "id", "type", "recorded_at"),
}
_LIVE_COLUMNS["delivered"] = _LIVE_COLUMNS["routed"]


def _export_live(
    spec: LedgerSpec, sources: LiveSources, path: Path, step: Step
) -> tuple[LedgerSpec, Path]:
    """Write a live ledger to Parquet page by page; returns the spec to load it with."""
    if spec.format == OUTBOX:
        return _export_outbox(spec, sources, path, step)
    if spec.name == "applied":
        if sources.registry is None:
            raise ReconcileInputError("the live 'applied' ledger needs the registry's database")
        reg = sources.registry

        def page(after: int) -> list[tuple[object, ...]]:
            return [
                (r[0], r[1], r[2], None, None, r[3], None, None, None, None, r[4])
                for r in reg.applied_rows(after=after, limit=_PAGE)
            ]

    else:
        if sources.store is None:
            raise ReconcileInputError(f"the live {spec.name!r} ledger needs the exchange's store")
        store = sources.store

        def page(after: int) -> list[tuple[object, ...]]:
            return store.ledger_rows(spec.name, after=after, limit=_PAGE)

    keep = _LIVE_COLUMNS[spec.name]
    blank = [i for i, name in enumerate(ARROW_SCHEMA.names) if name not in keep]
    writer = pq.ParquetWriter(path, ARROW_SCHEMA)
    try:
        after, done = 0, 0
        while True:
            rows = page(after)
            if not rows:
                break
            after = int(str(rows[-1][0]))
            done += len(rows)
            writer.write_table(to_arrow([r[1:] for r in rows], blank=blank))
            step(f"export {spec.name}", done, 0)
    finally:
        writer.close()
    mapping = {c: c for c in keep}
    constants: dict[str, str] = {}
    if spec.name == "applied":
        constants["receiver"] = sources.registry_receiver
    return LedgerSpec(spec.name, None, "parquet", mapping, constants, partial=spec.partial), path


def _export_outbox(
    spec: LedgerSpec, sources: LiveSources, path: Path, step: Step
) -> tuple[LedgerSpec, Path]:
    """What a partner's systems wrote to its edge outbox, forwarded or not: its ``sent``."""
    assert spec.path is not None
    if sources.chain is None:
        raise ReconcileInputError("an outbox ledger needs the chain (for business keys)")
    chain = sources.chain
    try:
        outbox = OutboxStore.open(spec.path)
    except OutboxConfigError as exc:
        raise ReconcileInputError(str(exc), file=str(spec.path)) from None
    try:
        # An outbox holds what one partner's systems wrote: it speaks for that sender only,
        # and is compared with that sender's part of its neighbour (as a one-sender file).
        oin = outbox.config().get("oin", "")
        owner = chain.partner_by_oin(oin)
        if owner is None:
            raise ReconcileInputError(
                f"the outbox is set up for OIN {oin!r}, which is no partner of the chain",
                file=str(spec.path),
            )
        writer = pq.ParquetWriter(path, ARROW_SCHEMA)
        try:
            after, done = 0, 0
            while rows := outbox.page(after=after, limit=_PAGE):
                after = rows[-1].pos
                table = []
                for m in rows:
                    partner = chain.partner_by_source(m.source)
                    event = {**m.event(), "sequence": m.sequence}
                    sender = partner.key if partner is not None else m.source
                    table.append(event_row(chain, sender, event, m.written_at))
                writer.write_table(to_arrow(table))
                done += len(rows)
                step(f"export {spec.name} (outbox)", done, 0)
        finally:
            writer.close()
    finally:
        outbox.close()
    keep = (
        "source",
        "id",
        "type",
        "bkey",
        "hash",
        "sequence",
        "event_time",
        "recorded_at",
    )
    mapping = {c: c for c in keep}
    constants = {"sender": owner.key}
    return LedgerSpec(spec.name, None, "parquet", mapping, constants, partial=spec.partial), path


def legal_limits(chain: Chain) -> dict[str, timedelta]:
    """Per message type, the legal deadline of its process (:meth:`Chain.legal_limits`)."""
    return chain.legal_limits()


def check_limit_types(limits: Mapping[str, timedelta], types: Collection[str]) -> None:
    """Refuse a limit (``--sla``) for a message type the chain does not know: it would apply
    to nothing, silently. ``*`` is every type."""
    unknown = sorted(t for t in limits if t != "*" and t not in types)
    if unknown:
        raise ReconcileInputError(
            f"SLA for {', '.join(repr(t) for t in unknown)}: not a message type of the chain; "
            f"give the type as the chain names it, e.g. {min(types, default='*')!r}, or '*'"
        )


_PARTNER_COLUMNS = ("sender", "receiver")


def check_partner_constants(
    hops: Sequence[LedgerSpec], partners: Collection[str]
) -> list[LedgerSpec]:
    """Refuse a constant sender or receiver (``sent.sender=:om``) that is not a partner of the
    chain: every row would carry it, so nothing would match the exchange's ledgers and every
    record would go on a request list for a sender that does not exist. A partner's key given
    in another case (``:OM``) is the partner: it is written as the chain spells it."""
    by_folded = {key.casefold(): key for key in partners}
    out = []
    for hop in hops:
        constants = dict(hop.constants)
        for column in _PARTNER_COLUMNS:
            value = constants.get(column)
            if value is None:
                continue
            key = by_folded.get(value.strip().casefold())
            if key is None:
                raise ReconcileInputError(
                    f"hop {hop.name!r}: unknown partner {value!r} (the constant {column}); "
                    f"the chain's partners are {', '.join(sorted(partners)) or 'none'}"
                )
            constants[column] = key
        out.append(replace(hop, constants=constants) if constants != hop.constants else hop)
    return out


def reconcile(
    hops: Sequence[LedgerSpec],
    *,
    out_dir: Path,
    sources: LiveSources | None = None,
    limits: Mapping[str, timedelta] | None = None,
    hwm: bool = True,
    memory: str = "2GB",
    threads: int | None = None,
    progress: Step | None = None,
    now: Callable[[], float] = time.time,
    types: Collection[str] | None = None,
    partners: Collection[str] | None = None,
) -> Report:
    """Compare each adjacent pair of ``hops``; write and return the report.

    ``types``: the chain's message types. Given, a limit for another type, or a file ledger's
    row of another type, is refused (a row would be classed missing and requested from its
    sender).

    ``partners``: the chain's partner keys. Given, a constant sender or receiver of a file
    ledger must be one of them (:func:`check_partner_constants`), and so must a mapped one in
    each row; either is taken in any case and written as the chain spells it."""
    step: Step = progress or (lambda _what, _done, _total: None)
    parse_memory(memory)  # before any folder is made (the engine sets it)
    if len(hops) < 2:
        raise ReconcileInputError("give at least two hops to compare, in chain order")
    if types is not None:
        check_limit_types(limits or {}, types)
    if partners is not None:
        hops = check_partner_constants(hops, partners)
    names = [h.name for h in hops]
    if len(set(names)) != len(names):
        raise ReconcileInputError(f"each hop once: {', '.join(names)} repeats a name")
    for hop in hops:
        if hop.live and hop.name not in LIVE:
            raise ReconcileInputError(
                f"hop {hop.name!r}: a live ledger is one of {', '.join(LIVE)}; "
                "for another hop give a file"
            )
    created = now()
    report_id = datetime.fromtimestamp(created, UTC).strftime("r%Y%m%dT%H%M%S-") + (
        secrets.token_hex(3)
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    _sweep(out_dir)
    work = out_dir / f".tmp-{report_id}"
    work.mkdir()
    (work / "pid").write_text(str(os.getpid()), encoding="ascii")
    engine: Engine | None = None
    try:
        engine = Engine(work, memory=memory, threads=threads)
        loaded: list[Loaded] = []
        total_steps = len(hops) + (len(hops) - 1)
        for i, hop in enumerate(hops):
            step(f"lees {hop.label}", i, total_steps)
            if hop.live or hop.format == OUTBOX:
                spec, path = _export_live(
                    hop,
                    sources or LiveSources(),
                    work / f"live-{hop.name}.parquet",
                    functools.partial(_fixed, step, i, total_steps),
                )
                loaded.append(engine.load(spec, path, "parquet"))
            else:
                assert hop.path is not None and hop.format is not None
                loaded.append(engine.load(hop, hop.path, hop.format, partners=partners))
                if types is not None:
                    engine.check_known_types(loaded[-1], types)
        pairs: list[PairFigures] = []
        done_dups: set[str] = set()
        for j in range(len(loaded) - 1):
            a, b = loaded[j], loaded[j + 1]
            n = len(hops) + j
            step(f"vergelijk {a.spec.name} → {b.spec.name}", n, total_steps)
            pairs.append(
                engine.compare(
                    a,
                    b,
                    limits=dict(limits or {}),
                    hwm=hwm,
                    duplicates_done=done_dups,
                    step=functools.partial(
                        _labelled, step, f"vergelijk {a.spec.name} → {b.spec.name}", n, total_steps
                    ),
                )
            )
        step("rapport", total_steps, total_steps)
        detail_rows = engine.write_details(work)
        requests = _write_requests(engine, work, hops)
        report = Report(
            id=report_id,
            created_at=created,
            hops=[
                {"name": ld.spec.name, "source": ld.file, "rows": ld.rows, "live": ld.spec.live}
                for ld in loaded
            ],
            pairs=pairs,
            detail_rows=detail_rows,
            requests=requests,
            limits={k: v.total_seconds() for k, v in (limits or {}).items()},
        )
        (work / "summary.json").write_text(
            json.dumps(report.to_json(), indent=1, ensure_ascii=False), encoding="utf-8"
        )
        (work / "report.html").write_text(render_html(report), encoding="utf-8")
        engine.close()
        engine = None
        shutil.rmtree(work / "spill", ignore_errors=True)
        for live in work.glob("live-*.parquet"):
            live.unlink()
        (work / "pid").unlink()
        final = out_dir / report_id
        work.rename(final)
        report.path = final
        return report
    except BaseException:
        if engine is not None:
            engine.close()
        shutil.rmtree(work, ignore_errors=True)
        raise


def _sweep(out_dir: Path) -> None:
    """Remove what runs killed before their end left behind (a work directory whose process is
    gone); a run still going keeps its own."""
    for work in out_dir.glob(".tmp-*"):
        try:
            pid = int((work / "pid").read_text(encoding="ascii"))
        except (OSError, ValueError):
            pid = 0
        if pid > 0:
            try:
                os.kill(pid, 0)
                continue  # still running
            except ProcessLookupError:
                pass
            except PermissionError:
                continue  # someone else's, alive
        shutil.rmtree(work, ignore_errors=True)


def _fixed(step: Step, done: int, total: int, what: str, _done: int, _total: int) -> None:
    step(what, done, total)


def _labelled(step: Step, label: str, done: int, total: int, what: str) -> None:
    step(f"{label}: {what}", done, total)


def _write_requests(engine: Engine, work: Path, hops: Sequence[LedgerSpec]) -> int:
    """What a sender's own (file) ledger holds that the exchange never accepted: the list to
    ask each sender to send again."""
    accepted = {h.name for h in hops if h.live and h.name == "accepted"}
    rows = (
        engine.rows(
            "class = 'missing' AND hop = 'accepted'",
            ("sender", "source", "id", "type", "bkey", "row_a"),
        )
        if accepted
        else []
    )
    with (work / "requests.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sender", "source", "id", "type", "bkey", "row_in_sender_ledger"])
        # Ids and types come from partners, and the list is opened in spreadsheets: a text that
        # one would run as a formula is written behind an apostrophe (`request_list` removes it).
        w.writerows([guard_reversibly(c) if isinstance(c, str) else c for c in row] for row in rows)
    return len(rows)


# -- reports on disk --------------------------------------------------------------------------


def list_reports(out_dir: Path) -> list[dict[str, Any]]:
    """The reports in ``out_dir``, newest first (their summaries)."""
    if not out_dir.is_dir():
        return []
    out = []
    for path in sorted(out_dir.glob("r*/summary.json"), reverse=True):
        out.append(json.loads(path.read_text(encoding="utf-8")))
    return out


def find_report(out_dir: Path, report_id: str) -> Path:
    """The directory of one report; ReconcileError when there is none."""
    path = out_dir / report_id
    if (
        not report_id.startswith("r")
        or "/" in report_id
        or ".." in report_id
        or not (path / "summary.json").is_file()
    ):
        raise ReconcileError(f"no reconciliation report {report_id!r}")
    return path


# -- repair -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepairResult:
    """What a re-send did, per key."""

    resent: int
    pending: int
    not_found: int
    skipped: int
    items: list[dict[str, str]]

    def to_json(self) -> dict[str, Any]:
        return {
            "resent": self.resent,
            "pending": self.pending,
            "notFound": self.not_found,
            "skipped": self.skipped,
            "items": self.items,
        }


class _Redeliver(Protocol):
    def __call__(
        self, *, source: str, id: str, receiver: str, reason: str, dry_run: bool
    ) -> str: ...


def resend(report_dir: Path, redeliver: _Redeliver, *, dry_run: bool = False) -> RepairResult:
    """Deliver again, with its original id, every message that a report found delivered or
    routed by the exchange but missing at the next hop (delivered, or a receiver's applied
    ledger). Keys without a receiver cannot be re-sent and are counted as skipped. A dry run
    asks the exchange what it would do (``would-resend``, counted as re-sent), changing
    nothing."""
    summary = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))
    pairs = {
        f"{p['from']}→{p['to']}"
        for p in summary["pairs"]
        if p["from"] in _EXCHANGE_HOPS and p["fromLive"]
    }
    table = pq.read_table(report_dir / "details.parquet").to_pylist()
    counts = {"resent": 0, "pending": 0, "not-found": 0, "skipped": 0}
    items: list[dict[str, str]] = []
    reason = f"re-sent with its original id: reconciliation {summary['id']} found it missing"
    for row in table:
        if row["class"] != "missing" or row["pair"] not in pairs:
            continue
        if not row["pair"].endswith("→" + str(row["hop"])):
            continue
        if not row["source"] or not row["id"] or not row["receiver"]:
            counts["skipped"] += 1
            continue
        outcome = redeliver(
            source=row["source"],
            id=row["id"],
            receiver=row["receiver"],
            reason=reason,
            dry_run=dry_run,
        )
        counts[outcome if outcome in counts else "resent"] += 1
        items.append(
            {
                "source": row["source"],
                "id": row["id"],
                "receiver": row["receiver"],
                "outcome": outcome,
            }
        )
    return RepairResult(
        counts["resent"], counts["pending"], counts["not-found"], counts["skipped"], items
    )


def request_list(report_dir: Path) -> list[dict[str, str]]:
    """The report's request list: per record, the sender to ask for it again."""
    with (report_dir / "requests.csv").open(newline="", encoding="utf-8") as fh:
        return [{k: unguard(v) for k, v in row.items()} for row in csv.DictReader(fh)]
