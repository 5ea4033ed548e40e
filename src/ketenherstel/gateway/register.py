"""The findings register and the allowlist (decision 0012): every finding kept with its evidence
and status (new, under review, false positive with a reason, confirmed) and who decided; allowed
networks as data with a reason and an expiry date.

One append-only JSON Lines file: each line is a finding, a decision or an allowlist entry, written
and fsynced whole. Reading replays the lines; a torn last line (a crash mid-write) is ignored, so
what was acknowledged is never lost and a decision is never applied twice (decisions name the
finding and the status they move from). A change is checked against the file as it is when it
is written (under the file's lock, after reading what other processes appended), so two
processes cannot both make the same move.

A decision, an allowlist entry and a withdrawal made with an audit trail (a store's) carry their
audit record in their own line, so the two are kept together or not at all; the record is then
copied to the store's audit trail under its key (`AuditTrail.audit_once`) and marked copied
(an ``audited`` line). A copy that a crash interrupted is made at the next `Register.copy_audits`
on that store, once (decision 0019).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from ketenherstel.gateway.watch import Finding, GatewayInputError, allowed_network
from ketenherstel.store.ports import AuditRecord
from ketenherstel.text import text_problem

__all__ = [
    "MAX_ALLOW_DAYS",
    "MAX_NAME",
    "MAX_REASON",
    "STATUSES",
    "AllowEntry",
    "AuditTrail",
    "Register",
    "RegisterConflict",
    "Registered",
    "finding_id",
    "kept_name",
    "kept_reason",
]

STATUSES = ("new", "under-review", "false-positive", "confirmed")
MAX_ALLOW_DAYS = 366
"""How far ahead an allowlist entry may end (decision 0012): a year, so each allowed network is
looked at again at least once a year (366: the same date next year also across a 29 February)."""
MAX_REASON = 500
"""A reason (of a decision, an allowlist entry, a withdrawal) is at most this long, as the
exchange's reasons are (`exchange.isolation.MAX_REASON`) and the API's always were."""
MAX_NAME = 200
"""Who decides, allows or withdraws (``--as``) is named in at most this many characters, as the
registry's actor is (`registry.limits.MAX_TEXT`)."""
_MOVES = {
    "new": ("under-review", "false-positive", "confirmed"),
    "under-review": ("false-positive", "confirmed"),
    "false-positive": ("under-review",),
    "confirmed": ("under-review",),
}


class RegisterConflict(GatewayInputError):
    """A change the register refuses for the state it is in, not for how it was asked: a
    network allowed already, an entry withdrawn already (409 over the API, as a duplicate
    emergency route is)."""


class AuditTrail(Protocol):
    """The audit trail a register's changes are recorded in: a store's (`store.ports.Store`)."""

    def store_id(self) -> str: ...

    def audit_once(self, record: AuditRecord, *, key: str) -> bool: ...


def finding_id(f: Finding) -> str:
    """Stable across scans of the same lines: rule, session and evidence."""
    key = "|".join([f.rule, f.session, *(str(e) for e in f.evidence)])
    return "F" + hashlib.sha256(key.encode()).hexdigest()[:12]


def same_session_finding(finding: dict[str, Any]) -> tuple[str, ...] | None:
    """What makes a session's finding the same one, whichever lines its evidence names: its
    rule, session, moment and address (None for a finding of no session: its id decides)."""
    if not finding.get("session"):
        return None
    return tuple(str(finding.get(k) or "") for k in ("rule", "session", "context", "at", "address"))


def kept_reason(reason: str, *, needed: str = "") -> str:
    """A reason as the register keeps it (stripped): at most MAX_REASON characters and without
    control or invisible characters, for it is shown again in a terminal, a table or a web
    page (`ketenherstel.text`). An empty one is refused with ``needed`` when that is given."""
    text = reason.strip()
    if not text:
        if needed:
            raise GatewayInputError(needed)
        return text
    if len(reason) > MAX_REASON:  # as given, surrounding space and all
        raise GatewayInputError(f"a reason is at most {MAX_REASON} characters, not {len(reason):,}")
    problem = text_problem(text, "a reason", MAX_REASON)
    if problem is not None:
        raise GatewayInputError(problem)
    return text


def kept_name(name: str, *, needed: str) -> str:
    """Who did it, as the register and the audit trail keep it (stripped): said (else
    ``needed``), at most MAX_NAME characters, without control or invisible characters."""
    text = name.strip()
    if not text:
        raise GatewayInputError(needed)
    problem = text_problem(text, "a name", MAX_NAME)
    if problem is not None:
        raise GatewayInputError(problem)
    return text


# How every record's line begins (json.dumps keeps the key order the records are made in).
_RECORD_START = b'{"record": "'


def _cut_torn_tail(fh: BinaryIO, path: Path, cut: int) -> None:
    """A last line without its newline is one a writer did not finish (it crashed mid-write,
    before the fsync that acknowledges it): cut it off, or the next record would be glued to
    it and the register could no longer be read. ``cut``: where the whole lines end (the
    register's read offset). Only a line that begins as a record does (or as much of that as
    was written), or zeros, is cut: any other text without its last newline (a file that is
    not a register) is refused and left as it is."""
    end = fh.seek(0, os.SEEK_END)
    if end == cut:
        return
    fh.seek(cut)
    head = fh.read(len(_RECORD_START))
    if head.startswith(_RECORD_START) or _RECORD_START.startswith(head) or _zeros(fh, cut, end):
        fh.truncate(cut)  # a record begun, or the zeros a crash leaves on some file systems
        return
    if cut > 0:  # whole lines before it, read as records: a register with a bad last line
        raise GatewayInputError(
            f"register {path}: its last line (from byte {cut}) is unfinished and not a "
            f"register record; nothing was changed. Cut the file there (truncate -s {cut}) "
            "to go on"
        )
    raise GatewayInputError(
        f"register {path}: its last line is not a register record (and has no newline); "
        "not a register, so it is left as it is: give a register file, or a new name"
    )


def _zeros(fh: BinaryIO, start: int, end: int) -> bool:
    """Whether bytes ``start`` to ``end`` of the file are all zero."""
    fh.seek(start)
    left = end - start
    while left > 0:
        chunk = fh.read(min(left, 65_536))
        if not chunk or chunk.count(0) != len(chunk):
            return False
        left -= len(chunk)
    return True


@dataclass(slots=True)
class Registered:
    id: str
    finding: dict[str, Any]
    status: str = "new"
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, **self.finding, "history": self.history}


@dataclass(frozen=True, slots=True)
class AllowEntry:
    id: str
    """``A`` and 12 hex digits, from the entry's place among the register's allowlist entries
    and its network, end date, author and time: the same at every replay, never its reason."""
    network: str
    reason: str
    until: str
    added_by: str
    added_at: str
    withdrawn: str = ""
    """Who withdrew it and why, when it was withdrawn before its date."""

    def active(self, today: date) -> bool:
        return not self.withdrawn and date.fromisoformat(self.until) >= today

    def audited(self) -> str:
        """What an audit record says of it: id, network and end date; never its reason, free
        text that may name someone."""
        return f"{self.id} {self.network} until {self.until}"


class Register:
    def __init__(self, path: Path) -> None:
        # A location that can never hold the register is refused now, before any work is
        # done that would be lost at the first write.
        try:
            if path.is_dir():
                raise GatewayInputError(f"register {path}: is a directory; give a file")
            existing = next((p for p in path.parents if p.exists()), None)
            if existing is not None and not existing.is_dir():
                raise GatewayInputError(f"register {path}: {existing} is not a directory")
            there = path.exists()
            if there and not path.is_file():  # /dev/zero, /dev/full: read forever, never a line
                raise GatewayInputError(
                    f"register {path}: is not a regular file (a device, FIFO or socket); "
                    "give a file"
                )
        except OSError as exc:  # a name too long, a loop of links: looking it up fails
            raise GatewayInputError(f"register {path}: {exc.strerror or exc}") from None
        self.path = path
        self._lock = threading.Lock()
        self.findings: dict[str, Registered] = {}
        self.allowlist: list[AllowEntry] = []
        self._pending: dict[str, dict[str, Any]] = {}
        """Audit records kept with their change and not yet marked copied, by key."""
        self._offset = 0  # the bytes of whole lines read so far
        self._lines = 0
        if there:
            self._replay()

    def _replay(self) -> None:
        try:
            with self.path.open("rb") as fh:
                self._read(fh)
        except OSError as exc:  # a directory, no permission
            raise GatewayInputError(f"register {self.path}: {exc.strerror or exc}") from None

    def _read(self, fh: BinaryIO) -> None:
        """Apply the lines after those read already (written since by this process or
        another), up to a torn last line: one a writer has not finished (or never will)."""
        end = fh.seek(0, os.SEEK_END)
        if end < self._offset:  # replaced by a shorter file: read it again from the start
            self.findings, self.allowlist, self._pending = {}, [], {}
            self._offset = self._lines = 0
        fh.seek(self._offset)
        for raw in iter(fh.readline, b""):
            if not raw.endswith(b"\n"):
                break  # a torn last line: never acknowledged
            self._lines += 1
            where = f"{self.path}: line {self._lines}"
            try:
                rec = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:  # binary garbage, or not this register at all
                raise GatewayInputError(
                    f"{where}: not UTF-8 text (byte {raw[exc.start]:#04x} at {exc.start}); "
                    "not a register record"
                ) from None
            except json.JSONDecodeError:
                raise GatewayInputError(f"{where}: not JSON") from None
            try:
                self._apply(rec)
            except (KeyError, TypeError, AttributeError, ValueError) as exc:
                raise GatewayInputError(
                    f"{where}: not a register record ({type(exc).__name__}: {exc})"
                ) from None
            self._offset += len(raw)

    def _apply(self, rec: dict[str, Any]) -> None:
        kind = rec.get("record")
        applied = True
        if kind == "finding":
            fid = rec["id"]
            if not isinstance(fid, str) or not isinstance(rec["finding"], dict):
                raise TypeError("a finding record has an id and a finding (an object)")
            if fid not in self.findings:
                self.findings[fid] = Registered(fid, rec["finding"])
        elif kind == "decision":
            if rec["to"] not in STATUSES or rec["from"] not in STATUSES:
                raise ValueError(f"a decision goes between {', '.join(STATUSES)}")
            reg = self.findings.get(rec["id"])
            applied = reg is not None and reg.status == rec["from"]
            if reg is not None and applied:
                reg.status = rec["to"]
                reg.history.append({k: rec[k] for k in ("from", "to", "by", "reason", "at")})
        elif kind == "allow":
            date.fromisoformat(rec["until"])  # a date, or the record is refused (ValueError)
            self.allowlist.append(
                AllowEntry(
                    _allow_id(len(self.allowlist), rec),
                    str(rec["network"]),
                    rec["reason"],
                    rec["until"],
                    rec["by"],
                    rec["at"],
                )
            )
        elif kind == "withdraw":
            note = f"{rec['by']} on {rec['at'][:10]}: {rec['reason']}"
            network = str(rec["network"])
            self.allowlist = [
                replace(a, withdrawn=note) if _same(a.network, network) and not a.withdrawn else a
                for a in self.allowlist
            ]
        elif kind == "audited":
            for key in rec["keys"]:
                self._pending.pop(str(key), None)
        else:
            raise ValueError(f"no record kind {kind!r}")
        audit = rec.get("audit")
        if audit is not None and applied:  # a change kept with its audit record
            _audit_record(audit)  # whole, or the line is refused (KeyError, TypeError)
            if not isinstance(audit["key"], str) or not isinstance(audit["store"], str):
                raise TypeError("an audit record has a key and a store")
            self._pending[audit["key"]] = audit

    def _append(self, build: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """Write the records ``build`` makes, in one write, fsynced. ``build`` runs under the
        file's lock after what other processes appended since this register was read has been
        applied, so its checks see the register as it is; it raises to refuse the change."""
        if not self.path.exists():
            build()  # a change refused makes no register (nor its folder) where there was none
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a+b") as fh:
                # One writer at a time, across processes (a follow, the API, a scan).
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                try:
                    self._read(fh)
                    records = build()  # refused here, the file is as it was
                    if not records:
                        return records
                    _cut_torn_tail(fh, self.path, self._offset)  # _read stopped there
                    data = b"".join(
                        json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records
                    )
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                finally:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        except OSError as exc:  # no permission, a read-only disk, a full one
            raise GatewayInputError(
                f"register {self.path}: cannot write it ({exc.strerror or exc})"
            ) from None
        for r in records:
            self._apply(r)
        self._offset += len(data)
        self._lines += len(records)
        return records

    def add(self, findings: Iterable[Finding]) -> list[str]:
        """Register what is not registered yet; returns the new ids. A session's finding that
        the register holds under another id (the same rule, session, moment and address, its
        evidence beginning in an older file now read too) is not new: a rescan with an older
        rotated log made a second hijack, status new, beside the one decided (a review)."""
        wanted = [(finding_id(f), f) for f in findings]

        def new() -> list[dict[str, Any]]:
            seen = set(self.findings)
            same = {same_session_finding(r.finding) for r in self.findings.values()}
            records = []
            for fid, f in wanted:
                key = same_session_finding(f.to_json())
                if fid in seen or (key is not None and key in same):
                    continue
                seen.add(fid)
                same.add(key)
                records.append({"record": "finding", "id": fid, "finding": f.to_json()})
            return records

        if all(fid in self.findings for fid, _ in wanted):
            return []  # nothing to write (and no register made for nothing)
        with self._lock:
            return [str(r["id"]) for r in self._append(new)]

    def dismissed(self) -> set[object]:
        """What a verdict sets aside (`verdict.verdicts`): the false positives' ids, and each
        session finding's :func:`same_session_finding` key, so that its copy under another id
        (a rescan with an older log) is set aside too."""
        false = self.listed("false-positive")
        keys = {k for r in false if (k := same_session_finding(r.finding)) is not None}
        return {r.id for r in false} | keys

    def decide(
        self,
        fid: str,
        status: str,
        *,
        by: str,
        reason: str,
        trail: AuditTrail | None = None,
        at: float | None = None,
    ) -> Registered:
        """Move a finding to ``status``; a false positive needs a reason, and who decides is
        always named. With a ``trail`` the decision is audited there (gateway-finding-decided:
        who, the finding's id and its new status, at ``at``; the reason stays here)."""
        if status not in STATUSES[1:]:
            raise GatewayInputError(f"status {status!r}: one of {', '.join(STATUSES[1:])}")
        by = kept_name(by, needed="say who decides (--as)")
        needed = "a false positive needs a reason" if status == "false-positive" else ""
        reason = kept_reason(reason, needed=needed)
        audit = _Audit.of(trail, at)

        def decision() -> list[dict[str, Any]]:
            reg = self.findings.get(fid)
            if reg is None:
                raise GatewayInputError(f"no finding {fid!r} in the register")
            if status not in _MOVES[reg.status]:
                raise GatewayInputError(f"finding {fid} is {reg.status}; it cannot become {status}")
            rec = {
                "record": "decision",
                "id": fid,
                "from": reg.status,
                "to": status,
                "by": by,
                "reason": reason,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            return [audit.kept(rec, by, "gateway-finding-decided", f"{fid} {status}")]

        with self._lock:
            self._append(decision)
            if audit.trail is not None:
                self._copy(audit.trail, audit.store)
            return self.findings[fid]

    def allow(
        self,
        network: str,
        *,
        reason: str,
        until: str,
        by: str,
        trail: AuditTrail | None = None,
        at: float | None = None,
    ) -> AllowEntry:
        """Allow ``network`` until a date. With a ``trail`` the entry is audited there
        (gateway-allow-added: who, the network, the entry's id, network and end date, at
        ``at``; the reason stays here)."""
        network = str(allowed_network(network))  # kept as a network: 192.0.2.5/24 is 192.0.2.0/24
        try:
            end = date.fromisoformat(until)
        except ValueError:
            raise GatewayInputError(f"until {until!r}: give a date as YYYY-MM-DD") from None
        reason = kept_reason(reason, needed="an allowlist entry needs a reason and who adds it")
        by = kept_name(by, needed="an allowlist entry needs a reason and who adds it")
        today = datetime.fromtimestamp(time.time(), UTC).date()
        if end < today:
            raise GatewayInputError(f"until {until}: that date has passed")
        if end > today + timedelta(days=MAX_ALLOW_DAYS):
            raise GatewayInputError(
                f"until {until}: at most {MAX_ALLOW_DAYS} days ahead "
                f"({(today + timedelta(days=MAX_ALLOW_DAYS)).isoformat()}); allow it again "
                "when that date comes near"
            )
        audit = _Audit.of(trail, at)

        def entry() -> list[dict[str, Any]]:
            for a in self.allowlist:
                if _same(a.network, network) and a.active(today):
                    raise RegisterConflict(
                        f"{network} is already allowed until {a.until} (by {a.added_by}: "
                        f"{a.reason}); withdraw it first to change its date or reason"
                    )
            rec = {
                "record": "allow",
                "network": network,
                "reason": reason,
                "until": end.isoformat(),
                "by": by,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            kept = AllowEntry(
                _allow_id(len(self.allowlist), rec), network, reason, rec["until"], by, rec["at"]
            )
            return [audit.kept(rec, by, "gateway-allow-added", network, kept.audited())]

        with self._lock:
            self._append(entry)
            if audit.trail is not None:
                self._copy(audit.trail, audit.store)
            return self.allowlist[-1]

    def withdraw(
        self,
        network: str,
        *,
        reason: str,
        by: str,
        trail: AuditTrail | None = None,
        at: float | None = None,
    ) -> list[AllowEntry]:
        """End the allowlist's entries for ``network`` before their date; returns them (not
        those withdrawn before). With a ``trail`` the withdrawal is audited there
        (gateway-allow-withdrawn: `withdrawal_audited`, at ``at``; the reason stays here)."""
        needed = "withdrawing an allowlist entry needs a reason and who does it"
        reason = kept_reason(reason, needed=needed)
        by = kept_name(by, needed=needed)
        given = network
        with contextlib.suppress(GatewayInputError):  # as it was kept (also as typed before)
            network = str(allowed_network(network))
        audit = _Audit.of(trail, at)
        ended: set[str] = set()

        def withdrawal() -> list[dict[str, Any]]:
            current = [a for a in self.allowlist if _same(a.network, network) and not a.withdrawn]
            if not current:
                if any(_same(a.network, network) for a in self.allowlist):
                    raise RegisterConflict(f"{given!r} is not on the allowlist: withdrawn already")
                raise GatewayInputError(f"{given!r} is not on the allowlist")
            ended.clear()  # as the check under the file's lock found them
            ended.update(a.id for a in current)
            rec = {
                "record": "withdraw",
                "network": network,
                "reason": reason,
                "by": by,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            obj, detail = withdrawal_audited(given, current)
            return [audit.kept(rec, by, "gateway-allow-withdrawn", obj, detail)]

        with self._lock:
            self._append(withdrawal)
            if audit.trail is not None:
                self._copy(audit.trail, audit.store)
            return [a for a in self.allowlist if a.id in ended]

    def copy_audits(self, trail: AuditTrail) -> int:
        """Copy to ``trail`` the audit records kept here for its store and not yet marked
        copied (a process killed between keeping a change and copying its record left them),
        then mark them; returns how many. Each is copied under its key, so one copied before
        a crash that kept its mark from being written is not recorded twice."""
        with self._lock:
            if not self._pending:  # as when the register was read: nothing to ask the store
                return 0
            return self._copy(trail, trail.store_id())

    def _copy(self, trail: AuditTrail, store: str) -> int:
        keys = [k for k, a in self._pending.items() if a["store"] == store]
        for key in keys:
            trail.audit_once(_audit_record(self._pending[key]), key=key)

        def mark() -> list[dict[str, Any]]:
            left = [k for k in keys if k in self._pending]  # another may have marked them
            return [{"record": "audited", "keys": left}] if left else []

        if keys:
            self._append(mark)
        return len(keys)

    def allowed_networks(self, today: date | None = None) -> list[str]:
        day = today or datetime.now(UTC).date()
        return [a.network for a in self.allowlist if a.active(day)]

    def listed(self, status: str | None = None) -> list[Registered]:
        return [r for r in self.findings.values() if status is None or r.status == status]


def _allow_id(ordinal: int, rec: dict[str, Any]) -> str:
    """An allowlist entry's id: its place among the entries (two entries alike in all else, one
    withdrawn and allowed again within a second, still differ) and what it says, but not its
    reason, free text that may name someone."""
    key = "|".join(str(x) for x in (ordinal, rec["network"], rec["until"], rec["by"], rec["at"]))
    return "A" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _same(kept: str, network: str) -> bool:
    """Whether an allowlist entry (as kept, perhaps as typed by an older version) is
    ``network``: the same network, however either was written."""
    try:
        return str(allowed_network(kept)) == str(allowed_network(network))
    except GatewayInputError:
        return kept == network


def withdrawal_audited(network: str, ended: Sequence[AllowEntry]) -> tuple[str, str]:
    """The object and detail of a withdrawal's audit record (gateway-allow-withdrawn): the
    network as the register keeps it (192.0.2.9/24 is 192.0.2.0/24), unless entries kept by an
    older version wrote it in several ways (then as given), and each ended entry's id, network
    and end date, never a reason."""
    kept_as = {a.network for a in ended}
    obj = kept_as.pop() if len(kept_as) == 1 else network
    return obj, "; ".join(a.audited() for a in ended)


def _audit_record(audit: dict[str, Any]) -> AuditRecord:
    """The store's audit record of one kept in a register line."""
    return AuditRecord(
        float(audit["at"]),
        str(audit["actor"]),
        str(audit["action"]),
        str(audit["object"]),
        str(audit["detail"]),
    )


@dataclass(frozen=True, slots=True)
class _Audit:
    """Where and when one change is audited: a store's trail (and its identity, so a register
    used with several stores copies each record to the store it was made on), or nowhere."""

    trail: AuditTrail | None
    store: str
    at: float

    @classmethod
    def of(cls, trail: AuditTrail | None, at: float | None) -> _Audit:
        when = time.time() if at is None else at
        return cls(trail, "" if trail is None else trail.store_id(), when)

    def kept(
        self, rec: dict[str, Any], actor: str, action: str, obj: str, detail: str = ""
    ) -> dict[str, Any]:
        """``rec`` with its audit record in it (under a new key), when there is a trail."""
        if self.trail is None:
            return rec
        audit = {
            "key": "G" + uuid.uuid4().hex,
            "store": self.store,
            "at": self.at,
            "actor": actor,
            "action": action,
            "object": obj,
            "detail": detail,
        }
        return {**rec, "audit": audit}
