"""The DuckDB adapter of reconciliation (decision 0011): load and check ledgers, the
high-water-mark check, and the pairwise comparison. The only module that imports ``duckdb``.

Every ledger becomes a view ``l<i>`` with the canonical columns it has, ``_row`` (its row in
the file, from 1) and its extra fields. Nothing is held in Python: the comparison runs in
DuckDB with a memory limit and spills to the work directory.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb

from ketenherstel.reconcile.ledger import CANONICAL, LedgerSpec, ReconcileInputError

__all__ = ["Engine", "Loaded", "PairFigures"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .\-]{0,127}$")
_TYPE_WORD = {
    "BIGINT": "a whole number",
    "TIMESTAMPTZ": "a date and time (ISO 8601, e.g. 2025-07-17T20:59:00+02:00)",
}
DETAIL_COLUMNS = (
    "pair",
    "class",
    "hop",
    "source",
    "id",
    "receiver",
    "sender",
    "type",
    "bkey",
    "copies",
    "hash_a",
    "hash_b",
    "fields",
    "at_a",
    "at_b",
    "delay_s",
    "limit_s",
    "row_a",
    "row_b",
)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _value(column: str, kind: str) -> str:
    """A column's value: a JSON Lines column of mixed types is JSON; its strings unquoted."""
    if kind == "JSON":
        return f"json_extract_string({_q(column)}, '$')"
    return _q(column)


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(slots=True)
class Loaded:
    """A ledger as DuckDB sees it."""

    spec: LedgerSpec
    view: str
    columns: set[str]
    fields: tuple[str, ...]
    rows: int
    file: str | None


@dataclass(slots=True)
class PairFigures:
    """What one pair's comparison found; ``per_type`` maps type -> class -> count."""

    a: str
    b: str
    match_on: str
    rows_a: int
    rows_b: int
    per_type: dict[str, dict[str, int]] = field(default_factory=dict)
    hwm: list[dict[str, Any]] = field(default_factory=list)
    hwm_note: str = ""
    clean_groups: int = 0
    dirty_groups: int = 0
    compared_rows: int = 0

    def total(self, cls: str) -> int:
        return sum(c.get(cls, 0) for c in self.per_type.values())


class Engine:
    """One reconciliation run's DuckDB connection, in memory with a spill directory."""

    def __init__(self, workdir: Path, *, memory: str = "2GB", threads: int | None = None) -> None:
        self.workdir = workdir
        (workdir / "spill").mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(":memory:")
        self.con.execute(f"SET temp_directory = {_lit(str(workdir / 'spill'))}")
        try:
            self.con.execute(f"SET memory_limit = {_lit(memory)}")
        except duckdb.Error as exc:
            raise ReconcileInputError(f"memory limit {memory!r}: {exc}") from None
        self.con.execute("SET preserve_insertion_order = false")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self._n = 0
        self._pair = 0
        self.details: list[str] = []

    def close(self) -> None:
        self.con.close()

    def _one(self, sql: str) -> Any:
        row = self.con.execute(sql).fetchone()
        return None if row is None else row[0]

    # -- loading ------------------------------------------------------------------------

    def load(self, spec: LedgerSpec, path: Path, fmt: str) -> Loaded:
        """Read one ledger and check it: mapped columns exist, values have their types, the
        required columns are there. Raises ReconcileInputError naming file, column and row."""
        self._n += 1
        raw, view = f"r{self._n}", f"l{self._n}"
        shown = str(spec.path) if spec.path is not None else f"{spec.name} (live)"
        if not path.is_file():
            raise ReconcileInputError("no such file, or not a file", file=shown)
        if path.stat().st_size == 0:
            raise ReconcileInputError("the file is empty (not even a header)", file=shown)
        src = _lit(str(path))
        try:
            if fmt == "parquet":
                self.con.execute(
                    f"CREATE VIEW {raw} AS SELECT * REPLACE (file_row_number + 1 AS "
                    f"file_row_number) FROM read_parquet({src}, file_row_number = true)"
                )
                rowcol = "file_row_number"
            else:
                # CSV and JSON Lines keep their file order only when read by one thread: the
                # table numbers the rows so an error can name one.
                reader = (
                    f"read_csv({src}, all_varchar = true, header = true)"
                    if fmt == "csv"
                    else f"read_json({src}, format = 'newline_delimited')"
                )
                threads = self._one("SELECT current_setting('threads')")
                self.con.execute("SET threads = 1")
                try:
                    self.con.execute(
                        f"CREATE TABLE {raw} AS SELECT *, row_number() OVER () AS _rowno "
                        f"FROM {reader}"
                    )
                finally:
                    self.con.execute(f"SET threads = {int(threads)}")
                rowcol = "_rowno"
            described = self.con.execute(f"DESCRIBE {raw}").fetchall()
        except duckdb.Error as exc:
            message = str(exc).splitlines()[0]
            raise ReconcileInputError(f"cannot be read as {fmt}: {message}", file=shown) from None
        types = {str(r[0]): str(r[1]).upper() for r in described if str(r[0]) != rowcol}
        # A file's columns named like canonical ones map themselves; a live ledger's export
        # names exactly the columns it has.
        mapping = {c: c for c in CANONICAL if c in types} if not spec.live else {}
        mapping.update(spec.mapping)
        for canonical in spec.constants:
            mapping.pop(canonical, None)
        for canonical, column in sorted(mapping.items()):
            if column not in types:
                raise ReconcileInputError(
                    f"mapped to {canonical!r} but the file has no such column; it has "
                    f"{', '.join(sorted(types)) or 'none'}",
                    file=shown,
                    column=column,
                )
        for extra in spec.fields:
            if extra not in types:
                raise ReconcileInputError(
                    "named as a field to compare but the file has no such column",
                    file=shown,
                    column=extra,
                )
        present = set(mapping) | set(spec.constants)
        if "type" not in present:
            raise ReconcileInputError(
                "the ledger has no 'type' column; map one (HOP.type=COLUMN) or set one "
                "(HOP.type=:name)",
                file=shown,
                column="type",
            )
        if "id" not in present and "bkey" not in present:
            raise ReconcileInputError(
                "the ledger has neither 'id' nor 'bkey'; map one of them",
                file=shown,
                column="id",
            )
        self._check_types(raw, rowcol, mapping, types, shown)
        for canonical, value in spec.constants.items():
            self._check_constant(canonical, value, shown)
        select = [f"{rowcol} AS _row"]
        for canonical, column in mapping.items():
            value = _value(column, types[column])
            select.append(f"CAST({value} AS {CANONICAL[canonical]}) AS {canonical}")
        for canonical, value in spec.constants.items():
            select.append(f"CAST({_lit(value)} AS {CANONICAL[canonical]}) AS {canonical}")
        fields = tuple(f for f in spec.fields if f not in mapping.values())
        if "data" in types and "data" not in fields and "data" not in mapping.values():
            fields = (*fields, "data")
        for extra in fields:
            value = _value(extra, types[extra])
            if extra == "data" and types[extra] not in ("VARCHAR", "JSON"):
                value = f"to_json({_q(extra)})"  # an object in JSON Lines: keep it JSON
            elif extra == "data":
                value = _q(extra)
            select.append(f"CAST({value} AS VARCHAR) AS {_q('f_' + extra)}")
        self.con.execute(f"CREATE VIEW {view} AS SELECT {', '.join(select)} FROM {raw}")
        rows = int(self._one(f"SELECT count(*) FROM {raw}"))
        return Loaded(spec, view, present, fields, rows, shown)

    def _check_types(
        self,
        raw: str,
        rowcol: str,
        mapping: Mapping[str, str],
        types: Mapping[str, str],
        shown: str,
    ) -> None:
        for canonical, column in sorted(mapping.items()):
            target = CANONICAL[canonical]
            have = types[column]
            if have == target or (target == "VARCHAR" and have != "BLOB"):
                continue
            if target == "TIMESTAMPTZ" and have.startswith("TIMESTAMP"):
                continue
            if target == "BIGINT" and have in ("INTEGER", "SMALLINT", "TINYINT", "UBIGINT"):
                continue
            bad = self.con.execute(
                f"SELECT {rowcol}, CAST({_value(column, have)} AS VARCHAR) FROM {raw} "
                f"WHERE {_q(column)} IS NOT NULL "
                f"AND TRY_CAST({_value(column, have)} AS {target}) IS NULL "
                f"ORDER BY {rowcol} LIMIT 1"
            ).fetchone()
            if bad is not None:
                raise ReconcileInputError(
                    f"{bad[1]!r} is not {_TYPE_WORD.get(target, target.lower())} "
                    f"(the ledger's {canonical!r})",
                    file=shown,
                    column=column,
                    row=int(bad[0]),
                )

    def _check_constant(self, canonical: str, value: str, shown: str) -> None:
        target = CANONICAL[canonical]
        ok = self._one(f"SELECT TRY_CAST({_lit(value)} AS {target}) IS NOT NULL")
        if not ok:
            raise ReconcileInputError(
                f"the constant {value!r} is not {_TYPE_WORD.get(target, target.lower())}",
                file=shown,
                column=canonical,
            )

    # -- one pair -------------------------------------------------------------------------

    def compare(
        self,
        a: Loaded,
        b: Loaded,
        *,
        limits: Mapping[str, timedelta],
        hwm: bool = True,
        duplicates_done: set[str],
        step: Callable[[str], None] = lambda _: None,
    ) -> PairFigures:
        """Compare ledger ``a`` (upstream) with ``b`` (downstream). Every non-matched key goes
        to the details; the figures count every class per type."""
        self._pair += 1
        p = self._pair
        a, b = self._scoped(p, a, b), self._scoped(p, b, a)
        both = a.columns & b.columns
        if "id" in both:
            match_on = "id"
            who = "source" if "source" in both else ("sender" if "sender" in both else None)
            key = [who, "id"] if who else ["id"]
        elif "bkey" in both:
            match_on = "bkey"
            key = (["sender"] if "sender" in both else []) + ["type", "bkey"]
        else:
            raise ReconcileInputError(
                f"hops {a.spec.name!r} and {b.spec.name!r} share neither 'id' nor 'bkey', so "
                "their records cannot be matched"
            )
        fan = ("receiver" in a.columns) != ("receiver" in b.columns)
        if "receiver" in both:
            key.append("receiver")
        figures = PairFigures(a.spec.name, b.spec.name, match_on, a.rows, b.rows)
        pair = f"{a.spec.name}→{b.spec.name}"
        group = [c for c in ("sender", "receiver") if c in both] + ["type"]
        filter_a = filter_b = ""
        if hwm and not limits and not fan:
            step("high-water mark")
            self._hwm(p, a, b, key, group, figures)
            self._clean_keys(p, group, figures)
            if figures.dirty_groups == 0:
                # Every group agrees on both sides: confirmed without comparing rows.
                for c in figures.per_type.values():
                    c["matched"] = c["keys-a"]
                return figures
            on = " AND ".join(f"coalesce(t.{g}, '') = d.{g}" for g in group)
            filter_a = f" AND EXISTS (SELECT 1 FROM dirty{p} d WHERE {on})"
            filter_b = filter_a
        elif fan:
            figures.hwm_note = (
                "niet toepasbaar: één bericht gaat naar meer ontvangers, per bericht vergeleken"
            )
        elif limits:
            figures.hwm_note = "overgeslagen: termijnen vragen elke rij"
        else:
            figures.hwm_note = "overgeslagen op verzoek (--full)"
        step("aggregate")
        ka = [k for k in key]
        notnull = " AND ".join(f"{k} IS NOT NULL" for k in key if k not in ("source", "sender"))
        keysel = ", ".join(
            f"coalesce({k}, '') AS {k}" if k in ("source", "sender") else k for k in key
        )
        for side, led, flt in (("a", a, filter_a), ("b", b, filter_b)):
            aggs = ["count(*) AS n", "min(_row) AS row"]
            if "receiver" in led.columns and fan:
                aggs.append("count(DISTINCT receiver) AS nr")
            for col in ("hash", "type", "recorded_at", "event_time", "bkey", "sender"):
                if col in led.columns and col not in key:
                    aggs.append(f"min({col}) AS {col}")
            if "hash" in led.columns:
                aggs.append("max(hash) AS hash2")
            self.con.execute(
                f"CREATE TEMP TABLE ag{p}{side} AS SELECT {', '.join(ka)}, {', '.join(aggs)} "
                f"FROM (SELECT {keysel}, * EXCLUDE ({', '.join(key)}) FROM {led.view}) t "
                f"WHERE {notnull}{flt} GROUP BY ALL"
            )
        figures.compared_rows = int(
            self._one(f"SELECT (SELECT sum(n) FROM ag{p}a) + (SELECT sum(n) FROM ag{p}b)") or 0
        )
        self._unkeyed(p, pair, a, b, key, figures)
        step("join")
        has_hash = "hash" in both
        limit_sql = "NULL"
        if limits:
            cases = " ".join(
                f"WHEN {_lit(t)} THEN {td.total_seconds()}" for t, td in limits.items() if t != "*"
            )
            default = limits["*"].total_seconds() if "*" in limits else "NULL"
            limit_sql = (
                f"(CASE coalesce(a.type, b.type) {cases} ELSE {default} END)"
                if cases
                else str(default)
            )
        start_a = (
            "coalesce(a.event_time, a.recorded_at)"
            if "event_time" in a.columns and "recorded_at" in a.columns
            else (
                "a.event_time"
                if "event_time" in a.columns
                else "a.recorded_at"
                if "recorded_at" in a.columns
                else "NULL"
            )
        )
        end_b = "b.recorded_at" if "recorded_at" in b.columns else "NULL"
        delay = (
            f"epoch({end_b}) - epoch({start_a})"
            if end_b != "NULL" and start_a != "NULL"
            else "NULL"
        )
        conflict = (
            "a.hash IS NOT NULL AND b.hash IS NOT NULL AND a.hash <> b.hash"
            if has_hash
            else "false"
        )
        late = f"({delay}) > {limit_sql}" if limit_sql != "NULL" and delay != "NULL" else "false"
        on = " AND ".join(f"a.{k} = b.{k}" for k in key)

        def pick(side: str, c: str, led: Loaded) -> str:
            return f"{side}.{c}" if c in led.columns or c in key else "NULL"

        self.con.execute(
            f"""CREATE TEMP TABLE x{p} AS
            SELECT {", ".join(f"coalesce(a.{k}, b.{k}) AS {k}" for k in key)},
              CASE WHEN b.n IS NULL THEN 'missing-b' WHEN a.n IS NULL THEN 'missing-a'
                   WHEN {conflict} THEN 'conflicting' ELSE 'late' END AS cls,
              coalesce({pick("a", "type", a)}, {pick("b", "type", b)}) AS type,
              coalesce({pick("a", "sender", a)}, {pick("b", "sender", b)}) AS sender,
              coalesce({pick("a", "bkey", a)}, {pick("b", "bkey", b)}) AS bkey,
              {pick("a", "hash", a)} AS hash_a, {pick("b", "hash", b)} AS hash_b,
              {pick("a", "recorded_at", a)} AS at_a, {pick("b", "recorded_at", b)} AS at_b,
              {delay} AS delay_s, {limit_sql} AS limit_s, a.row AS row_a, b.row AS row_b
            FROM ag{p}a a FULL OUTER JOIN ag{p}b b ON {on}
            WHERE a.n IS NULL OR b.n IS NULL OR ({conflict}) OR ({late})"""
        )
        if match_on == "id" and "bkey" in both:
            step("business keys")
            self._by_business_key(p, a, b, key)
        for side, led in (("a", a), ("b", b)):
            if led.spec.partial:
                # What only the other side holds is beyond a partial ledger, not missing.
                self.con.execute(
                    f"UPDATE x{p} SET cls = 'beyond-{side}' WHERE cls = 'missing-{side}'"
                )
        step("classes")
        self._count(p, a, b, key, fan, figures)
        self._details(p, pair, a, b, key, fan, figures)
        self._duplicates_by_bkey(p, pair, a, b, duplicates_done, figures, step)
        return figures

    def _scoped(self, p: int, led: Loaded, other: Loaded) -> Loaded:
        """A ledger that speaks for one sender or receiver only (a constant) is compared with
        that party's part of the other ledger."""
        conds = [
            f"{c} = {_lit(other.spec.constants[c])}"
            for c in ("sender", "receiver")
            if c in other.spec.constants and c in led.columns and c not in led.spec.constants
        ]
        if not conds:
            return led
        view = f"{led.view}p{p}"
        self.con.execute(
            f"CREATE VIEW {view} AS SELECT * FROM {led.view} WHERE {' AND '.join(conds)}"
        )
        rows = int(self._one(f"SELECT count(*) FROM {view}"))
        return Loaded(led.spec, view, led.columns, led.fields, rows, led.file)

    def _hwm(
        self,
        p: int,
        a: Loaded,
        b: Loaded,
        key: list[str],
        group: list[str],
        figures: PairFigures,
    ) -> None:
        content = "hash" if "hash" in a.columns and "hash" in b.columns else "''"
        keyed = ", ".join(f"coalesce({k}, '')" for k in key)
        fp = f"hash({keyed}, {content})"
        for side, led in (("a", a), ("b", b)):
            seq = "min(sequence), max(sequence)" if "sequence" in led.columns else "NULL, NULL"
            groups = ", ".join(f"coalesce({g}, '') AS {g}" for g in group)
            self.con.execute(
                f"CREATE TEMP TABLE h{p}{side} AS SELECT {groups}, count(*) AS n, "
                f"{seq.split(', ')[0]} AS lo, {seq.split(', ')[1]} AS hi, "
                f"sum({fp}::HUGEINT) AS s, bit_xor({fp}) AS x FROM {led.view} GROUP BY ALL"
            )
        on = " AND ".join(f"a.{g} = b.{g}" for g in group)
        rows = self.con.execute(
            f"""SELECT {", ".join(f"coalesce(a.{g}, b.{g}) AS {g}" for g in group)},
                 a.n, a.lo, a.hi, b.n, b.lo, b.hi,
                 (a.n IS NOT DISTINCT FROM b.n AND a.s IS NOT DISTINCT FROM b.s
                  AND a.x IS NOT DISTINCT FROM b.x) AS clean
            FROM h{p}a a FULL OUTER JOIN h{p}b b ON {on} ORDER BY ALL"""
        ).fetchall()
        self.con.execute(f"CREATE TEMP TABLE dirty{p} ({', '.join(f'{g} VARCHAR' for g in group)})")
        dirty = []
        for r in rows:
            g = dict(zip(group, r[: len(group)], strict=True))
            na, loa, hia, nb, lob, hib, clean = r[len(group) :]
            figures.hwm.append(
                {
                    **g,
                    "rowsFrom": na or 0,
                    "sequenceFrom": [loa, hia],
                    "rowsTo": nb or 0,
                    "sequenceTo": [lob, hib],
                    "clean": bool(clean),
                }
            )
            if clean:
                figures.clean_groups += 1
            else:
                figures.dirty_groups += 1
                dirty.append(tuple(r[: len(group)]))
        if dirty:
            marks = ", ".join("?" for _ in group)
            self.con.executemany(f"INSERT INTO dirty{p} VALUES ({marks})", dirty)

    def _clean_keys(self, p: int, group: list[str], figures: PairFigures) -> None:
        """The rows of the groups the high-water mark confirmed count as keys on both sides
        (and so as matched): they were not compared row by row."""
        on = " AND ".join(f"h.{g} = d.{g}" for g in group)
        for type_name, n in self.con.execute(
            f"SELECT type, sum(n) FROM h{p}a h WHERE NOT EXISTS "
            f"(SELECT 1 FROM dirty{p} d WHERE {on}) GROUP BY ALL"
        ).fetchall():
            c = figures.per_type.setdefault(str(type_name), {})
            c["keys-a"] = c.get("keys-a", 0) + int(n)
            c["keys-b"] = c.get("keys-b", 0) + int(n)
            c["confirmed"] = c.get("confirmed", 0) + int(n)

    def _unkeyed(
        self, p: int, pair: str, a: Loaded, b: Loaded, key: list[str], figures: PairFigures
    ) -> None:
        null = " OR ".join(f"{k} IS NULL" for k in key if k not in ("source", "sender"))
        for side, led in (("a", a), ("b", b)):
            rows = self.con.execute(
                f"SELECT {'type' if 'type' in led.columns else 'NULL'} AS type, count(*) "
                f"FROM {led.view} WHERE {null} GROUP BY ALL"
            ).fetchall()
            for type_name, n in rows:
                c = figures.per_type.setdefault(str(type_name), {})
                c[f"unkeyed-{side}"] = c.get(f"unkeyed-{side}", 0) + int(n)
            if rows:
                self.details.append(
                    f"SELECT {_lit(pair)} AS pair, 'unkeyed' AS class, "
                    f"{_lit(led.spec.name)} AS hop, {self._c(led, 'source')} AS source, "
                    f"{self._c(led, 'id')} AS id, {self._c(led, 'receiver')} AS receiver, "
                    f"{self._c(led, 'sender')} AS sender, {self._c(led, 'type')} AS type, "
                    f"{self._c(led, 'bkey')} AS bkey, 1 AS copies, NULL AS hash_a, "
                    "NULL AS hash_b, NULL AS fields, NULL AS at_a, NULL AS at_b, "
                    "NULL AS delay_s, NULL AS limit_s, "
                    f"{'_row' if side == 'a' else 'NULL'} AS row_a, "
                    f"{'_row' if side == 'b' else 'NULL'} AS row_b FROM {led.view} WHERE {null}"
                )

    @staticmethod
    def _c(led: Loaded, column: str) -> str:
        return f"CAST({column} AS VARCHAR)" if column in led.columns else "NULL"

    def _by_business_key(self, p: int, a: Loaded, b: Loaded, key: list[str]) -> None:
        """A key on one side only whose fact (sender, type, bkey) the other side holds under
        another id was not lost: it is matched by business key."""
        fact = [c for c in ("sender", "type", "bkey") if c in a.columns and c in b.columns]
        for cls, new, other in (("missing-b", "bkey-a", b), ("missing-a", "bkey-b", a)):
            on = " AND ".join(f"o.{c} = x.{c}" for c in fact)
            self.con.execute(
                f"UPDATE x{p} AS x SET cls = {_lit(new)} WHERE x.cls = {_lit(cls)} "
                f"AND x.bkey IS NOT NULL AND EXISTS (SELECT 1 FROM {other.view} o WHERE {on})"
            )

    def _count(
        self, p: int, a: Loaded, b: Loaded, key: list[str], fan: bool, figures: PairFigures
    ) -> None:
        """Per type: keys and extra copies per side, the classes of ``x``, and matched as what
        is left of ``a``'s keys (each key of ``a`` has exactly one class)."""
        per = figures.per_type
        for side, led in (("a", a), ("b", b)):
            extra = "sum(n - nr)" if fan and "receiver" in led.columns else "sum(n - 1)"
            type_col = "type" if "type" in led.columns else "NULL"
            for type_name, keys, copies in self.con.execute(
                f"SELECT {type_col}, count(*), {extra} FROM ag{p}{side} GROUP BY ALL"
            ).fetchall():
                c = per.setdefault(str(type_name), {})
                c[f"keys-{side}"] = c.get(f"keys-{side}", 0) + int(keys)
                if copies:
                    c[f"duplicate-{side}"] = c.get(f"duplicate-{side}", 0) + int(copies)
        for type_name, cls, n in self.con.execute(
            f"SELECT type, cls, count(*) FROM x{p} GROUP BY ALL"
        ).fetchall():
            c = per.setdefault(str(type_name), {})
            c[str(cls)] = c.get(str(cls), 0) + int(n)
        for c in per.values():
            c["matched"] = c.get("keys-a", 0) - sum(
                c.get(k, 0) for k in ("missing-b", "conflicting", "late", "bkey-a")
            )

    def _details(
        self,
        p: int,
        pair: str,
        a: Loaded,
        b: Loaded,
        key: list[str],
        fan: bool,
        figures: PairFigures,
    ) -> None:
        def k(column: str) -> str:
            return f"CAST({column} AS VARCHAR)" if column in key else "NULL"

        conflict_fields = self._conflict_fields(p, a, b, key)
        self.details.append(
            f"""SELECT {_lit(pair)} AS pair,
              CASE WHEN cls IN ('missing-a', 'missing-b') THEN 'missing'
                   WHEN cls IN ('bkey-a', 'bkey-b') THEN 'matched-bkey' ELSE cls END AS class,
              CASE cls WHEN 'missing-a' THEN {_lit(a.spec.name)}
                       WHEN 'missing-b' THEN {_lit(b.spec.name)}
                       WHEN 'bkey-a' THEN {_lit(a.spec.name)}
                       WHEN 'bkey-b' THEN {_lit(b.spec.name)} ELSE NULL END AS hop,
              {k("source")} AS source, {k("id")} AS id, {k("receiver")} AS receiver,
              CAST(x.sender AS VARCHAR) AS sender, CAST(x.type AS VARCHAR) AS type,
              CAST(x.bkey AS VARCHAR) AS bkey, 1 AS copies, hash_a, hash_b,
              f.fields AS fields, at_a, at_b, delay_s, limit_s, row_a, row_b
            FROM x{p} x LEFT JOIN {conflict_fields} f USING ({", ".join(key)})
            WHERE cls NOT IN ('beyond-a', 'beyond-b')"""
        )
        for side, led in (("a", a), ("b", b)):
            fan_side = fan and "receiver" in led.columns
            copies = "n - nr + 1" if fan_side else "n"

            def have(column: str, led: Loaded = led) -> str:
                present = column in led.columns or column in key
                return f"CAST({column} AS VARCHAR)" if present else "NULL"

            hashed = "hash" in led.columns
            differ = "CASE WHEN hash <> hash2 THEN 'copies differ' END" if hashed else "NULL"
            self.details.append(
                f"""SELECT {_lit(pair)} AS pair, 'duplicate' AS class,
                  {_lit(led.spec.name)} AS hop, {k("source")} AS source, {k("id")} AS id,
                  {k("receiver")} AS receiver, {have("sender")} AS sender,
                  {have("type")} AS type, {have("bkey")} AS bkey, {copies} AS copies,
                  {"hash" if hashed and side == "a" else "NULL"} AS hash_a,
                  {"hash" if hashed and side == "b" else "NULL"} AS hash_b,
                  {differ} AS fields, NULL AS at_a, NULL AS at_b, NULL AS delay_s,
                  NULL AS limit_s, {"row" if side == "a" else "NULL"} AS row_a,
                  {"row" if side == "b" else "NULL"} AS row_b
                FROM ag{p}{side} WHERE {"n > nr" if fan_side else "n > 1"}"""
            )

    def _conflict_fields(self, p: int, a: Loaded, b: Loaded, key: list[str]) -> str:
        """A table (key, fields) naming, per conflicting key, the columns that differ."""
        comparable = [
            c
            for c in ("type", "sender", "bkey", "sequence", "event_time")
            if c in a.columns and c in b.columns and c not in key
        ]
        extras = [f for f in a.fields if f in b.fields and f != "data"]
        keysel = ", ".join(key)
        on = " AND ".join(f"l.{k} IS NOT DISTINCT FROM c.{k}" for k in key)
        keyed = ", ".join(
            f"coalesce({k}, '') AS {k}" if k in ("source", "sender") else k for k in key
        )

        def side(led: Loaded, name: str) -> str:
            return (
                f"{name} AS (SELECT DISTINCT ON ({keysel}) l.* FROM (SELECT {keyed}, * EXCLUDE "
                f"({keysel}) FROM {led.view}) l SEMI JOIN conf c ON {on} ORDER BY {keysel}, "
                "l._row)"
            )

        parts = [
            f"CASE WHEN ca.{c} IS DISTINCT FROM cb.{c} THEN {_lit(c)} END" for c in comparable
        ] + [
            f"CASE WHEN ca.{_q('f_' + f)} IS DISTINCT FROM cb.{_q('f_' + f)} THEN {_lit(f)} END"
            for f in extras
        ]
        listed = f"[{', '.join(parts)}]" if parts else "[]::VARCHAR[]"
        if "data" in a.fields and "data" in b.fields:
            listed = (
                f"list_concat({listed}, list_transform(list_filter(list_distinct(list_concat("
                "json_keys(ca.f_data), json_keys(cb.f_data))), lambda k: json_extract(ca.f_data, "
                "'$.\"' || k || '\"') IS DISTINCT FROM json_extract(cb.f_data, '$.\"' || k || "
                "'\"')), lambda k: 'data.' || k))"
            )
        self.con.execute(
            f"""CREATE TEMP TABLE cf{p} AS
            WITH conf AS (SELECT {keysel} FROM x{p} WHERE cls = 'conflicting'),
            {side(a, "ca")}, {side(b, "cb")}
            SELECT {", ".join(f"ca.{k}" for k in key)},
              array_to_string(list_filter({listed}, lambda v: v IS NOT NULL), ',') AS fields
            FROM ca JOIN cb ON {" AND ".join(f"ca.{k} IS NOT DISTINCT FROM cb.{k}" for k in key)}"""
        )
        return f"cf{p}"

    def _duplicates_by_bkey(
        self,
        p: int,
        pair: str,
        a: Loaded,
        b: Loaded,
        done: set[str],
        figures: PairFigures,
        step: Callable[[str], None],
    ) -> None:
        """One business key under several ids inside one ledger (once per ledger)."""
        for side, led in (("a", a), ("b", b)):
            if led.view in done or "bkey" not in led.columns or "id" not in led.columns:
                continue
            done.add(led.view)
            step("duplicates by business key")
            group = [c for c in ("sender", "receiver", "type", "bkey") if c in led.columns]
            table = f"db{p}{side}"
            cols = ", ".join(group)
            # Cheap first: groups whose ids differ at all; then count the ids of those only.
            self.con.execute(
                f"CREATE TEMP TABLE {table}f AS SELECT {cols} FROM {led.view} "
                "WHERE bkey IS NOT NULL AND id IS NOT NULL GROUP BY ALL HAVING min(id) <> max(id)"
            )
            on = " AND ".join(f"l.{g} IS NOT DISTINCT FROM f.{g}" for g in group)
            self.con.execute(
                f"CREATE TEMP TABLE {table} AS SELECT {', '.join('l.' + g for g in group)}, "
                f"count(DISTINCT l.id) AS ids, min(l._row) AS row FROM {led.view} l "
                f"SEMI JOIN {table}f f ON {on} WHERE l.id IS NOT NULL GROUP BY ALL"
            )
            for type_name, n in self.con.execute(
                f"SELECT {'type' if 'type' in group else 'NULL'}, sum(ids - 1) FROM {table} "
                "GROUP BY ALL"
            ).fetchall():
                c = figures.per_type.setdefault(str(type_name), {})
                c[f"duplicate-bkey-{side}"] = int(n)
            self.details.append(
                f"""SELECT {_lit(pair)} AS pair, 'duplicate-bkey' AS class,
                  {_lit(led.spec.name)} AS hop, NULL AS source, NULL AS id,
                  {"receiver" if "receiver" in group else "NULL"} AS receiver,
                  {"sender" if "sender" in group else "NULL"} AS sender,
                  {"type" if "type" in group else "NULL"} AS type, bkey, ids AS copies,
                  NULL AS hash_a, NULL AS hash_b, NULL AS fields, NULL AS at_a, NULL AS at_b,
                  NULL AS delay_s, NULL AS limit_s,
                  {"row" if side == "a" else "NULL"} AS row_a,
                  {"row" if side == "b" else "NULL"} AS row_b FROM {table}"""
            )

    # -- output -----------------------------------------------------------------------------

    def write_details(self, out: Path) -> int:
        """details.parquet and details.csv, ordered; returns the number of rows."""
        if not self.details:
            body = (
                "SELECT "
                + ", ".join(f"NULL::VARCHAR AS {c}" for c in DETAIL_COLUMNS)
                + " WHERE false"
            )
        else:
            cast = {
                "copies": "BIGINT",
                "at_a": "TIMESTAMPTZ",
                "at_b": "TIMESTAMPTZ",
                "delay_s": "DOUBLE",
                "limit_s": "DOUBLE",
                "row_a": "BIGINT",
                "row_b": "BIGINT",
            }
            parts = [
                "SELECT "
                + ", ".join(f"CAST({c} AS {cast.get(c, 'VARCHAR')}) AS {c}" for c in DETAIL_COLUMNS)
                + f" FROM ({d})"
                for d in self.details
            ]
            body = " UNION ALL ".join(parts)
        self.con.execute(f"CREATE TEMP TABLE details AS {body}")
        order = "ORDER BY pair, class, hop, type, source, id, receiver, bkey"
        self.con.execute(
            f"COPY (SELECT * FROM details {order}) TO {_lit(str(out / 'details.parquet'))} "
            "(FORMAT parquet)"
        )
        self.con.execute(
            f"COPY (SELECT * FROM details {order}) TO {_lit(str(out / 'details.csv'))} "
            "(FORMAT csv, HEADER true)"
        )
        return int(self._one("SELECT count(*) FROM details"))

    def rows(
        self, sql_where: str, columns: Sequence[str], limit: int | None = None
    ) -> list[tuple[Any, ...]]:
        """Rows of the details table (for repair and the HTML section)."""
        tail = f" LIMIT {int(limit)}" if limit else ""
        return self.con.execute(
            f"SELECT {', '.join(columns)} FROM details WHERE {sql_where} ORDER BY ALL{tail}"
        ).fetchall()
