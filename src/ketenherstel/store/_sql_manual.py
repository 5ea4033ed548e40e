"""Manual (paper) records and interim procedures in SQL, and the accept hook that matches new
messages to records still waiting for theirs.

Matching is by (partner, business key): a record matches the earliest message its partner sent
with the same `bkey`. It happens in both directions: when a record is registered or corrected
(a probe of `messages_bkey`) and when a message is accepted (`_match_manual`, one probe of the
partial index `manual_records_open` per chunk of keys).

On PostgreSQL the two directions could miss each other (each transaction blind to the other's
uncommitted row), so registration and correction take an advisory lock alone and the accept hook
takes it shared: whichever commits second sees the first. Submissions never wait on each other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ketenherstel.store._sqlbase import Cursor, SqlBase, _chunks, _marks
from ketenherstel.store.manual_ports import (
    InterimProcedure,
    ManualCorrection,
    ManualEvent,
    ManualRecord,
    ManualStateError,
    ManualStatus,
    NewManualRecord,
    NewProcedure,
    StoredFact,
    UnmatchedMessage,
)
from ketenherstel.store.ports import AlreadyExists, NotFound

_MANUAL_LOCK = 0x6B68_0005  # "kh" 5: matching manual records against messages
_PROCEDURE_LOCK = 0x6B68_0006  # "kh" 6: adding interim procedures (one at a time)
_EXCHANGE = "exchange"  # the actor of automatic matches
_OPEN = "status <> 'withdrawn'"
_REC = (
    "id, partner, case_number, type, fields, bkey, happened_at, registered_at, registered_by, "
    "status, matched_pos"
)
_EVT = "record_id, at, action, status, reason, actor, detail"
_PROC = (
    "id, process, replaces, valid_from, partners_informed, emergency_route, manual_type, "
    "created_at, created_by, retired_at, retired_by"
)


def _fields(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in json.loads(text))


def _moment(stamp: float) -> str:
    """A stored moment as people read it: Amsterdam time, seconds only when it has them."""
    try:
        moment = datetime.fromtimestamp(stamp, ZoneInfo("Europe/Amsterdam"))
    except (OverflowError, OSError, ValueError):  # stored before dates were checked
        return f"(out of range: {stamp:.0f})"
    return moment.strftime("%d-%m-%Y %H:%M:%S" if moment.second else "%d-%m-%Y %H:%M")


def _changes(old: Sequence[Any], new: ManualCorrection) -> list[str]:
    """What a correction changed, as people read it: `case 13-1-25 → 13-2-25`, each changed
    business-key field (`judgmentDate 2025-07-18 → 2025-07-19`; the first is the case) and
    `when` in Amsterdam time."""
    changes = [
        f"{name} {before} → {after}"
        for name, before, after in (("case", old[2], new.case), ("type", old[3], new.type))
        if before != after
    ]
    before, after = dict(_fields(old[4])[1:]), dict(new.fields[1:])
    for name in [*before, *(n for n in after if n not in before)]:
        if before.get(name) != after.get(name):
            was, becomes = before.get(name, "(none)"), after.get(name, "(none)")
            changes.append(f"{name} {was} → {becomes}")
    if float(old[6]) != new.happened_at:
        changes.append(f"when {_moment(float(old[6]))} → {_moment(new.happened_at)}")
    return changes


def _record(row: Sequence[Any], history: Iterable[ManualEvent]) -> ManualRecord:
    return ManualRecord(
        id=int(row[0]),
        partner=row[1],
        case=row[2],
        type=row[3],
        fields=_fields(row[4]),
        bkey=row[5],
        happened_at=float(row[6]),
        registered_at=float(row[7]),
        registered_by=row[8],
        status=row[9],
        matched_position=None if row[10] is None else int(row[10]),
        history=tuple(history),
    )


def _procedure(row: Sequence[Any]) -> InterimProcedure:
    return InterimProcedure(
        id=int(row[0]),
        process=row[1],
        replaces=row[2],
        valid_from=float(row[3]),
        partners_informed=tuple(p for p in row[4].split(",") if p),
        emergency_route=row[5],
        manual_type=row[6],
        created_at=float(row[7]),
        created_by=row[8],
        retired_at=None if row[9] is None else float(row[9]),
        retired_by=row[10],
    )


class ManualSql(SqlBase):
    """Manual records, their matching to messages, and interim procedures."""

    # -- plumbing -----------------------------------------------------------------------------

    def _lock_manual(self, cur: Cursor, *, exclusive: bool) -> None:
        if self.dialect == "postgres":
            fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
            self._x(cur, f"SELECT {fn}(?)", (_MANUAL_LOCK,))

    def _new_ids(self, cur: Cursor, table: str, n: int) -> list[int]:
        if self.dialect == "postgres":
            rows = self._x(
                cur, f"SELECT nextval('{table}_id_seq') FROM generate_series(1, ?)", (n,)
            ).fetchall()
            return sorted(int(r[0]) for r in rows)
        top = int(self._x(cur, f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0])
        return list(range(top + 1, top + 1 + n))

    def _event(
        self, cur: Cursor, record_id: int, now: float, action: str, status: str, **kw: str
    ) -> None:
        self._x(
            cur,
            f"INSERT INTO manual_events ({_EVT}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (record_id, now, action, status, kw.get("reason", ""), kw["actor"], kw["detail"]),
        )

    def _load(self, cur: Cursor, ids: Sequence[int]) -> list[ManualRecord]:
        rows: dict[int, Sequence[Any]] = {}
        history: dict[int, list[ManualEvent]] = {}
        for chunk in _chunks(ids):
            marks = _marks(len(chunk))
            for row in self._x(
                cur, f"SELECT {_REC} FROM manual_records WHERE id IN ({marks})", chunk
            ).fetchall():
                rows[int(row[0])] = row
            for rid, at, action, status, reason, actor, detail in self._x(
                cur,
                f"SELECT {_EVT} FROM manual_events WHERE record_id IN ({marks}) ORDER BY id",
                chunk,
            ).fetchall():
                event = ManualEvent(float(at), action, status, reason, actor, detail)
                history.setdefault(int(rid), []).append(event)
        return [_record(rows[i], history.get(i, ())) for i in ids if i in rows]

    def _open_ids(self, cur: Cursor, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Open (not withdrawn) records of these (partner, bkey) pairs: their ids."""
        wanted = set(keys)
        found: dict[tuple[str, str], int] = {}
        for chunk in _chunks(sorted({bkey for _, bkey in wanted})):
            for rid, partner, bkey in self._x(
                cur,
                f"SELECT id, partner, bkey FROM manual_records "
                f"WHERE bkey IN ({_marks(len(chunk))}) AND {_OPEN}",
                chunk,
            ).fetchall():
                if (partner, bkey) in wanted:
                    found[(partner, bkey)] = int(rid)
        return found

    def _first_messages(
        self, cur: Cursor, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        """The earliest stored message of each (sender, bkey) pair: its position."""
        wanted = set(keys)
        found: dict[tuple[str, str], int] = {}
        for chunk in _chunks(sorted({bkey for _, bkey in wanted})):
            for bkey, sender, pos in self._x(
                cur,
                f"SELECT bkey, sender, MIN(pos) FROM messages WHERE bkey IN ({_marks(len(chunk))}) "
                "GROUP BY bkey, sender",
                chunk,
            ).fetchall():
                if (sender, bkey) in wanted:
                    found[(sender, bkey)] = int(pos)
        return found

    def _locked_record(self, cur: Cursor, record_id: int) -> Sequence[Any]:
        row = self._x(
            cur, f"SELECT {_REC} FROM manual_records WHERE id = ?{self.for_update}", (record_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no manual record {record_id}")
        return tuple(row)

    # -- manual records -------------------------------------------------------------------------

    def register_manual(
        self, records: Sequence[NewManualRecord], *, now: float, actor: str
    ) -> list[ManualRecord]:
        if not records:
            return []
        keys = [(r.partner, r.bkey) for r in records if r.bkey is not None]
        seen: dict[tuple[str, str], int] = {}
        for index, key in enumerate(keys):
            if key in seen:
                raise AlreadyExists(
                    f"records {seen[key]} and {index} of this registration have the same "
                    f"partner and business key ({key[0]}, {records[index].type})"
                )
            seen[key] = index
        with self._tx() as cur:
            self._lock_manual(cur, exclusive=True)
            taken = self._open_ids(cur, keys)
            if taken:
                (partner, _), rid = next(iter(taken.items()))
                raise AlreadyExists(
                    f"{len(taken)} of these records are already registered (e.g. manual record "
                    f"{rid} of {partner}); correct or withdraw that one instead"
                )
            matches = self._first_messages(cur, keys)
            ids = self._new_ids(cur, "manual_records", len(records))
            rows = []
            for rid, r in zip(ids, records, strict=True):
                pos = matches.get((r.partner, r.bkey)) if r.bkey is not None else None
                status = "registered" if pos is None else "matched"
                head = (rid, r.partner, r.case, r.type, json.dumps(r.fields), r.bkey)
                rows.append((*head, r.happened_at, now, r.registered_by, status, pos, now))
            self._xm(
                cur,
                f"INSERT INTO manual_records ({_REC}, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            events = [
                (rid, now, "registered", "registered", "", actor, r.origin)
                for rid, r in zip(ids, records, strict=True)
            ]
            events += [
                (row[0], now, "matched", "matched", "", _EXCHANGE, f"message at position {row[10]}")
                for row in rows
                if row[10] is not None
            ]
            self._xm(
                cur, f"INSERT INTO manual_events ({_EVT}) VALUES (?, ?, ?, ?, ?, ?, ?)", events
            )
            return self._load(cur, ids)

    def _match_manual(
        self, cur: Cursor, rows: Sequence[tuple[int, str, str, str]], now: float
    ) -> None:
        """Inside accept: match the new messages (position, bkey, sender, type) to waiting
        records of the same sender and key."""
        first: dict[tuple[str, str], int] = {}
        for position, bkey, sender, _ in rows:
            if first.get((sender, bkey), position) >= position:
                first[(sender, bkey)] = position
        if not first:
            return
        self._lock_manual(cur, exclusive=False)
        for chunk in _chunks(sorted({bkey for _, bkey in first})):
            waiting = self._x(
                cur,
                f"SELECT id, partner, bkey FROM manual_records WHERE bkey IN "
                f"({_marks(len(chunk))}) AND matched_pos IS NULL AND {_OPEN}",
                chunk,
            ).fetchall()
            for rid, partner, bkey in waiting:
                if (partner, bkey) not in first:
                    continue
                pos = first[(partner, bkey)]
                done = self._x(
                    cur,
                    "UPDATE manual_records SET matched_pos = ?, updated_at = ?, status = CASE "
                    "WHEN status = 'registered' THEN 'matched' ELSE status END "
                    f"WHERE id = ? AND matched_pos IS NULL AND {_OPEN} RETURNING status",
                    (pos, now, rid),
                ).fetchone()
                if done is not None:
                    detail = f"message at position {pos}"
                    self._event(
                        cur, int(rid), now, "matched", done[0], actor=_EXCHANGE, detail=detail
                    )

    def manual_record(self, record_id: int) -> ManualRecord | None:
        with self._tx() as cur:
            found = self._load(cur, [record_id])
        return found[0] if found else None

    def manual_records(
        self,
        *,
        status: ManualStatus | None = None,
        partner: str | None = None,
        type: str | None = None,
        unmatched: bool = False,
        after: int = 0,
        limit: int = 100,
    ) -> list[ManualRecord]:
        where, params = ["id > ?"], list[Any]([after])
        for column, value in (("status", status), ("partner", partner), ("type", type)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if unmatched:
            where.append(f"matched_pos IS NULL AND {_OPEN}")
        with self._tx() as cur:
            ids = [
                int(r[0])
                for r in self._x(
                    cur,
                    f"SELECT id FROM manual_records WHERE {' AND '.join(where)} "
                    "ORDER BY id LIMIT ?",
                    (*params, limit),
                ).fetchall()
            ]
            return self._load(cur, ids)

    def registered_manual(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        with self._tx() as cur:
            return self._open_ids(cur, keys)

    def confirm_manual(
        self, *, record_id: int, reason: str, actor: str, now: float
    ) -> ManualRecord:
        with self._tx() as cur:
            status = self._locked_record(cur, record_id)[9]
            if status == "confirmed":
                raise ManualStateError(f"manual record {record_id} is confirmed already")
            if status == "withdrawn":  # "withdrawn already" read as if confirming withdrew it
                raise ManualStateError(
                    f"manual record {record_id} is withdrawn and cannot be confirmed; register "
                    "the work again if it was done after all"
                )
            self._set_status(cur, record_id, "confirmed", now)
            self._event(
                cur,
                record_id,
                now,
                "confirmed",
                "confirmed",
                reason=reason,
                actor=actor,
                detail=f"was {status}",
            )
            return self._load(cur, [record_id])[0]

    def withdraw_manual(
        self, *, record_id: int, reason: str, actor: str, now: float
    ) -> ManualRecord:
        with self._tx() as cur:
            status = self._locked_record(cur, record_id)[9]
            if status == "withdrawn":
                raise ManualStateError(f"manual record {record_id} is withdrawn already")
            self._set_status(cur, record_id, "withdrawn", now)
            self._event(
                cur,
                record_id,
                now,
                "withdrawn",
                "withdrawn",
                reason=reason,
                actor=actor,
                detail=f"was {status}",
            )
            return self._load(cur, [record_id])[0]

    def _set_status(self, cur: Cursor, record_id: int, status: str, now: float) -> None:
        self._x(
            cur,
            "UPDATE manual_records SET status = ?, updated_at = ? WHERE id = ?",
            (status, now, record_id),
        )

    def correct_manual(
        self, *, record_id: int, correction: ManualCorrection, reason: str, actor: str, now: float
    ) -> ManualRecord:
        c = correction
        with self._tx() as cur:
            self._lock_manual(cur, exclusive=True)
            old = self._locked_record(cur, record_id)
            if old[9] == "withdrawn":
                raise ManualStateError(
                    f"manual record {record_id} is withdrawn; register the work again instead"
                )
            partner = old[1]
            pos = None
            if c.bkey is not None:
                other = self._open_ids(cur, [(partner, c.bkey)]).get((partner, c.bkey))
                if other is not None and other != record_id:
                    raise AlreadyExists(
                        f"manual record {other} of {partner} has that business key already"
                    )
                pos = self._first_messages(cur, [(partner, c.bkey)]).get((partner, c.bkey))
            self._x(
                cur,
                "UPDATE manual_records SET case_number = ?, type = ?, fields = ?, bkey = ?, "
                "happened_at = ?, status = 'corrected', matched_pos = ?, updated_at = ? "
                "WHERE id = ?",
                (c.case, c.type, json.dumps(c.fields), c.bkey, c.happened_at, pos, now, record_id),
            )
            changes = _changes(old, c)
            match = "no matching message" if pos is None else f"message at position {pos}"
            detail = "; ".join([*changes, match])
            self._event(
                cur,
                record_id,
                now,
                "corrected",
                "corrected",
                reason=reason,
                actor=actor,
                detail=detail,
            )
            return self._load(cur, [record_id])[0]

    def facts_for_check(
        self, bkeys: Sequence[str], cases: Sequence[tuple[str, str]]
    ) -> list[StoredFact]:
        """Messages with these business keys (quarantined ones too), and open paper records
        of these (type, case number) pairs (a record with a message's business key is of that
        message's type and case)."""
        found: list[StoredFact] = []
        wanted = set(cases)
        with self._tx() as cur:
            for chunk in _chunks(sorted(set(bkeys))):
                for pos, sender, type_, bkey, fact, route, source, ident in self._x(
                    cur,
                    "SELECT pos, sender, type, bkey, fact_hash, via_route, source, id "
                    f"FROM messages WHERE bkey IN ({_marks(len(chunk))}) ORDER BY pos",
                    chunk,
                ).fetchall():
                    found.append(
                        StoredFact(
                            "message",
                            int(pos),
                            sender,
                            type_,
                            bkey,
                            fact,
                            route is not None,
                            source=source,
                            id=ident,
                        )
                    )
            for chunk in _chunks(sorted({case for _, case in wanted})):
                for rid, partner, type_, bkey, case, matched, status, fields in self._x(
                    cur,
                    "SELECT id, partner, type, bkey, case_number, matched_pos, status, fields "
                    f"FROM manual_records WHERE case_number IN ({_marks(len(chunk))}) "
                    f"AND {_OPEN} ORDER BY id",
                    chunk,
                ).fetchall():
                    if (type_, case) in wanted:
                        found.append(
                            StoredFact(
                                "paper", int(rid), partner, type_, bkey, None, False, case,
                                matched is not None, status, _fields(fields),
                            )
                        )  # fmt: skip
        return found

    def unmatched_messages(
        self, *, partner: str | None = None, type: str | None = None, after: int = 0, limit: int
    ) -> list[UnmatchedMessage]:
        where, params = ["m.pos > ?"], list[Any]([after])
        for column, value in (("m.sender", partner), ("m.type", type)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        with self._tx() as cur:
            rows = self._x(
                cur,
                "SELECT m.pos, m.source, m.id, m.sender, m.type, m.partitionkey, m.bkey, "
                "m.received_at FROM messages m JOIN (SELECT partner, type, "
                f"MIN(happened_at) AS since FROM manual_records WHERE {_OPEN} "
                "GROUP BY partner, type) p ON p.partner = m.sender AND p.type = m.type "
                f"WHERE m.received_at >= p.since AND m.bkey IS NOT NULL AND {' AND '.join(where)} "
                "AND NOT EXISTS (SELECT 1 FROM manual_records r WHERE r.bkey = m.bkey "
                f"AND r.partner = m.sender AND r.{_OPEN}) ORDER BY m.pos LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [
            UnmatchedMessage(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], float(r[7]))
            for r in rows
        ]

    # -- interim procedures -----------------------------------------------------------------------

    def add_procedure(self, procedure: NewProcedure, *, now: float, actor: str) -> InterimProcedure:
        p = procedure
        with self._tx() as cur:
            # An active procedure of the same process, text and start is the same agreement
            # (a command run twice): refused. Checked under a lock, so two adds at once cannot
            # both find none (SQLite's BEGIN IMMEDIATE already makes this the one writer).
            if self.dialect == "postgres":
                self._x(cur, "SELECT pg_advisory_xact_lock(?)", (_PROCEDURE_LOCK,))
            same = self._procedures(
                cur,
                "process = ? AND replaces = ? AND valid_from = ? AND retired_at IS NULL",
                [p.process, p.replaces, p.valid_from],
            )
            if same:
                raise AlreadyExists(
                    f"interim procedure {same[0].id} is already registered for {p.process}, "
                    f"from {_moment(p.valid_from)}, with this text; it is active (see "
                    "`procedure list`), so nothing was added"
                )
            [pid] = self._new_ids(cur, "interim_procedures", 1)
            self._x(
                cur,
                f"INSERT INTO interim_procedures ({_PROC}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                (
                    *(pid, p.process, p.replaces, p.valid_from, ",".join(p.partners_informed)),
                    *(p.emergency_route, p.manual_type, now, actor),
                ),
            )
            return self._procedures(cur, "id = ?", [pid])[0]

    def _procedures(self, cur: Cursor, where: str, params: Sequence[Any]) -> list[InterimProcedure]:
        rows = self._x(
            cur, f"SELECT {_PROC} FROM interim_procedures WHERE {where} ORDER BY id", params
        ).fetchall()
        return [_procedure(r) for r in rows]

    def procedure(self, procedure_id: int) -> InterimProcedure | None:
        with self._tx() as cur:
            found = self._procedures(cur, "id = ?", [procedure_id])
        return found[0] if found else None

    def procedures(
        self, *, process: str | None = None, active: bool | None = None
    ) -> list[InterimProcedure]:
        where, params = ["1 = 1"], []
        if process is not None:
            where.append("process = ?")
            params.append(process)
        if active is not None:
            where.append("retired_at IS NULL" if active else "retired_at IS NOT NULL")
        with self._tx() as cur:
            return self._procedures(cur, " AND ".join(where), params)

    def retire_procedure(self, *, procedure_id: int, wave: str, now: float) -> InterimProcedure:
        with self._tx() as cur:
            row = self._x(
                cur,
                f"SELECT retired_by FROM interim_procedures WHERE id = ?{self.for_update}",
                (procedure_id,),
            ).fetchone()
            if row is None:
                raise NotFound(f"no interim procedure {procedure_id}")
            if row[0] is not None:
                raise ManualStateError(
                    f"interim procedure {procedure_id} was retired already (wave {row[0]!r})"
                )
            self._retire(cur, [procedure_id], wave, now)
            return self._procedures(cur, "id = ?", [procedure_id])[0]

    def retire_procedures(
        self, processes: Sequence[str], wave: str, now: float
    ) -> list[InterimProcedure]:
        if not processes:
            return []
        with self._tx() as cur:
            marks = _marks(len(processes))
            active = self._procedures(
                cur, f"process IN ({marks}) AND retired_at IS NULL", list(processes)
            )
            ids = [p.id for p in active]
            self._retire(cur, ids, wave, now)
            return self._procedures(cur, f"id IN ({_marks(len(ids))})", ids) if ids else []

    def _retire(self, cur: Cursor, ids: Sequence[int], wave: str, now: float) -> None:
        self._xm(
            cur,
            "UPDATE interim_procedures SET retired_at = ?, retired_by = ? WHERE id = ?",
            [(now, wave, i) for i in ids],
        )
