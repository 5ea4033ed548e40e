"""One pair of hops compared in DuckDB (decision 0011): the high-water mark, then one full outer
join of the two sides' rows (the groups the mark could not confirm), duplicates found by a
GROUP BY per side, and the business-key checks on the few keys left over.

Nothing is aggregated per key over a whole side except to find duplicates (count only): every
detail is fetched afterwards for the few keys that need it. Each key gets exactly one class,
so per type ``keys = matched + missing + conflicting + late + matched by business key``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from ketenherstel.reconcile.ledger import LedgerSpec, ReconcileInputError

__all__ = [
    "DETAIL_CLASSES",
    "DETAIL_COLUMNS",
    "Loaded",
    "PairComparison",
    "PairFigures",
    "lit",
    "quote",
]

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
# The classes a detail row can have (the "class" column of details.parquet and .csv).
DETAIL_CLASSES = (
    "missing",
    "matched-bkey",
    "conflicting",
    "late",
    "duplicate",
    "duplicate-bkey",
    "unkeyed",
)
_WHO = ("source", "sender")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(slots=True)
class Loaded:
    """A ledger as DuckDB sees it: a view with the canonical columns it has, ``_row`` and its
    extra fields (``f_<name>``)."""

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

    def add(self, type_name: object, cls: str, n: int) -> None:
        c = self.per_type.setdefault(str(type_name), {})
        c[cls] = c.get(cls, 0) + int(n)


class _Con(Protocol):
    """What a comparison needs of a DuckDB connection."""

    def execute(self, query: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, query: str, parameters: Any = ..., /) -> Any: ...


class PairComparison:
    """Compare ledger ``a`` (upstream) with ``b`` (downstream); append the SQL of its detail
    rows to ``details``."""

    def __init__(
        self,
        con: _Con,
        p: int,
        a: Loaded,
        b: Loaded,
        *,
        limits: Mapping[str, timedelta],
        hwm: bool,
        duplicates_done: set[str],
        details: list[str],
        step: Callable[[str], None],
    ) -> None:
        self.con, self.p = con, p
        self.limits, self.use_hwm = dict(limits), hwm
        self.done, self.details, self.step = duplicates_done, details, step
        self.a, self.b = self._scoped(a, b), self._scoped(b, a)
        a, b = self.a, self.b
        both = a.columns & b.columns
        if "id" in both:
            self.match_on = "id"
            who = "source" if "source" in both else ("sender" if "sender" in both else None)
            self.key = [who, "id"] if who else ["id"]
        elif "bkey" in both:
            self.match_on = "bkey"
            self.key = (["sender"] if "sender" in both else []) + ["type", "bkey"]
        else:
            raise ReconcileInputError(
                f"hops {a.spec.name!r} and {b.spec.name!r} share neither 'id' nor 'bkey', so "
                "their records cannot be matched"
            )
        self.marker = self.key[-1]  # never null in a keyed row (id or bkey)
        self.fan = ("receiver" in a.columns) != ("receiver" in b.columns)
        if "receiver" in both:
            self.key.append("receiver")
        self.group = [c for c in ("sender", "receiver") if c in both] + ["type"]
        self.pair = f"{a.spec.name}→{b.spec.name}"
        self.figures = PairFigures(a.spec.name, b.spec.name, self.match_on, a.rows, b.rows)
        self.flt = ""

    # -- helpers ----------------------------------------------------------------------------

    def _one(self, sql: str) -> Any:
        row = self.con.execute(sql).fetchone()
        return None if row is None else row[0]

    def _scoped(self, led: Loaded, other: Loaded) -> Loaded:
        """A ledger that speaks for one sender or receiver only (a constant) is compared with
        that party's part of the other ledger."""
        conds = [
            f"{c} = {lit(other.spec.constants[c])}"
            for c in ("sender", "receiver")
            if c in other.spec.constants and c in led.columns and c not in led.spec.constants
        ]
        if not conds:
            return led
        view = f"{led.view}p{self.p}"
        self.con.execute(
            f"CREATE VIEW {view} AS SELECT * FROM {led.view} WHERE {' AND '.join(conds)}"
        )
        rows = int(self._one(f"SELECT count(*) FROM {view}"))
        return Loaded(led.spec, view, led.columns, led.fields, rows, led.file)

    @property
    def _keyed(self) -> str:
        """The condition of a row that has a key."""
        return " AND ".join(f"{k} IS NOT NULL" for k in self.key if k not in _WHO)

    def _keysel(self, prefix: str = "") -> str:
        return ", ".join(
            f"coalesce({prefix}{k}, '') AS {k}" if k in _WHO else f"{prefix}{k} AS {k}"
            for k in self.key
        )

    def _side(self, led: Loaded, *, receiver: bool = False) -> str:
        """A side's keyed rows (of the groups still to compare), narrow: key, content hash,
        the times where limits apply, and the row (the rest is looked up for the few keys
        that need it)."""
        wanted = ["hash"] + (["recorded_at", "event_time", "type"] if self.limits else [])
        wanted += ["receiver"] if receiver else []
        rest = [c for c in wanted if c in led.columns and c not in self.key]
        cols = ", ".join([self._keysel("t."), *(f"t.{c}" for c in rest), "t._row"])
        return f"(SELECT {cols} FROM {led.view} t WHERE {self._keyed}{self.flt})"

    # -- the comparison ---------------------------------------------------------------------

    def run(self) -> PairFigures:
        f = self.figures
        if self.use_hwm and not self.limits and not self.fan:
            self.step("high-water mark")
            self._hwm()
            self._clean_keys()
            if f.dirty_groups == 0:
                for c in f.per_type.values():
                    c["matched"] = c["keys-a"]
                return f
            confirmed = sum(c.get("confirmed", 0) for c in f.per_type.values())
            if confirmed * 5 >= self.a.rows * 4:
                # Narrow the comparison to the groups that differ; when those hold most rows,
                # comparing all is cheaper than filtering (the clean ones match again): the
                # filter costs about one scan of each side, worth it from 80 % clean rows.
                on = " AND ".join(f"coalesce(t.{g}, '') = d.{g}" for g in self.group)
                self.flt = f" AND EXISTS (SELECT 1 FROM dirty{self.p} d WHERE {on})"
            else:
                for c in f.per_type.values():
                    for cls in ("keys-a", "keys-b", "confirmed"):
                        c.pop(cls, None)
        elif self.fan:
            f.hwm_note = (
                "niet toepasbaar: één bericht gaat naar meer ontvangers, per bericht vergeleken"
            )
        elif self.limits:
            f.hwm_note = "overgeslagen: termijnen vragen elke rij"
        else:
            f.hwm_note = "overgeslagen op verzoek (--full)"
        self.step("rows and duplicates")
        self._rows_per_type()
        self._duplicates()
        self.step("join")
        self._join()
        if self.match_on == "id" and "bkey" in self.a.columns and "bkey" in self.b.columns:
            self.step("business keys")
            self._by_business_key()
        for side, led in (("a", self.a), ("b", self.b)):
            if led.spec.partial:
                # What only the other side holds is beyond a partial ledger, not missing.
                self.con.execute(
                    f"UPDATE x{self.p} SET cls = 'beyond-{side}' WHERE cls = 'missing-{side}'"
                )
        self.step("classes")
        self._classes()
        self._detail_rows()
        self._duplicates_by_bkey()
        return f

    def _hwm(self) -> None:
        """Per group: count, sequence range and an order-independent fingerprint of each side."""
        a, b, p, group = self.a, self.b, self.p, self.group
        content = "hash" if "hash" in a.columns and "hash" in b.columns else "''"
        keyed = ", ".join(f"coalesce({k}, '')" for k in self.key)
        fp = f"hash({keyed}, {content})"
        groups = ", ".join(f"coalesce({g}, '') AS {g}" for g in group)
        for side, led in (("a", a), ("b", b)):
            has_seq = "sequence" in led.columns
            lo, hi = ("min(sequence)", "max(sequence)") if has_seq else ("NULL", "NULL")
            self.con.execute(
                f"CREATE TEMP TABLE h{p}{side} AS SELECT {groups}, count(*) AS n, "
                f"{lo} AS lo, {hi} AS hi, sum({fp}::HUGEINT) AS s, bit_xor({fp}) AS x "
                f"FROM {led.view} GROUP BY ALL"
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
        f = self.figures
        for r in rows:
            g = dict(zip(group, r[: len(group)], strict=True))
            na, loa, hia, nb, lob, hib, clean = r[len(group) :]
            f.hwm.append(
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
                f.clean_groups += 1
            else:
                f.dirty_groups += 1
                dirty.append(tuple(r[: len(group)]))
        if dirty:
            marks = ", ".join("?" for _ in group)
            self.con.executemany(f"INSERT INTO dirty{p} VALUES ({marks})", dirty)

    def _clean_keys(self) -> None:
        """The rows of the groups the high-water mark confirmed count as keys on both sides
        (and so as matched): they were not compared row by row."""
        on = " AND ".join(f"h.{g} = d.{g}" for g in self.group)
        for type_name, n in self.con.execute(
            f"SELECT type, sum(n) FROM h{self.p}a h WHERE NOT EXISTS "
            f"(SELECT 1 FROM dirty{self.p} d WHERE {on}) GROUP BY ALL"
        ).fetchall():
            for cls in ("keys-a", "keys-b", "confirmed"):
                self.figures.add(type_name, cls, n)

    def _rows_per_type(self) -> None:
        """Per type and side: rows with a key (to compare) and rows without one (unkeyed, to
        the details). A side that fans out to receivers counts its distinct keys instead."""
        f = self.figures
        for side, led in (("a", self.a), ("b", self.b)):
            type_col = "type" if "type" in led.columns else "NULL"
            fan_side = self.fan and "receiver" in led.columns
            keyed = (
                f"count(DISTINCT ({', '.join(k for k in self.key)})) FILTER (WHERE {self._keyed})"
                if fan_side
                else f"count(*) FILTER (WHERE {self._keyed})"
            )
            rows = self.con.execute(
                f"SELECT {type_col}, {keyed}, count(*) FILTER (WHERE NOT ({self._keyed})), "
                f"count(*) FILTER (WHERE {self._keyed}) FROM {led.view} t "
                f"WHERE true{self.flt} GROUP BY ALL"
            ).fetchall()
            unkeyed = 0
            for type_name, keys, nulls, keyed_rows in rows:
                f.add(type_name, f"keys-{side}", keys)
                f.compared_rows += int(keyed_rows)
                if nulls:
                    f.add(type_name, f"unkeyed-{side}", nulls)
                    unkeyed += int(nulls)
            if unkeyed:
                self.details.append(
                    f"SELECT {lit(self.pair)} AS pair, 'unkeyed' AS class, "
                    f"{lit(led.spec.name)} AS hop, {_c(led, 'source')} AS source, "
                    f"{_c(led, 'id')} AS id, {_c(led, 'receiver')} AS receiver, "
                    f"{_c(led, 'sender')} AS sender, {_c(led, 'type')} AS type, "
                    f"{_c(led, 'bkey')} AS bkey, 1 AS copies, NULL AS hash_a, "
                    "NULL AS hash_b, NULL AS fields, NULL AS at_a, NULL AS at_b, "
                    "NULL AS delay_s, NULL AS limit_s, "
                    f"{'_row' if side == 'a' else 'NULL'} AS row_a, "
                    f"{'_row' if side == 'b' else 'NULL'} AS row_b "
                    f"FROM {led.view} t WHERE NOT ({self._keyed}){self.flt}"
                )

    def _duplicates(self) -> None:
        """Keys held more than once inside one side (per receiver on a side that fans out):
        one count-only GROUP BY per side; they are described later from their first row."""
        p, key = self.p, self.key
        for side, led in (("a", self.a), ("b", self.b)):
            fan_side = self.fan and "receiver" in led.columns and "receiver" not in key
            more = "count(DISTINCT coalesce(receiver, ''))" if fan_side else "1"
            self.con.execute(
                f"CREATE TEMP TABLE d{p}{side} AS SELECT {', '.join(key)}, count(*) AS n, "
                f"{more} AS nr, min(_row) AS row FROM {self._side(led, receiver=fan_side)} s "
                f"GROUP BY ALL HAVING count(*) > {more}"
            )

    def _k(self, column: str, prefix: str = "") -> str:
        return f"CAST({prefix}{column} AS VARCHAR)" if column in self.key else "NULL"

    def _limit_sql(self) -> str:
        limits = self.limits
        if not limits:
            return "NULL"
        cases = " ".join(
            f"WHEN {lit(t)} THEN {td.total_seconds()}" for t, td in limits.items() if t != "*"
        )
        default = str(limits["*"].total_seconds()) if "*" in limits else "NULL"
        return f"(CASE coalesce(a.type, b.type) {cases} ELSE {default} END)" if cases else default

    def _join(self) -> None:
        """One full outer join of the two sides' rows; every key that is not simply matched
        is kept once, with its class."""
        a, b, p, key = self.a, self.b, self.p, self.key
        has = {"a": a.columns | set(key), "b": b.columns | set(key)}

        def pick(side: str, c: str) -> str:
            return f"{side}.{c}" if c in has[side] else "NULL"

        if "event_time" in a.columns and "recorded_at" in a.columns:
            start = "coalesce(a.event_time, a.recorded_at)"
        else:
            start = (
                pick("a", "event_time") if "event_time" in a.columns else pick("a", "recorded_at")
            )
        end = pick("b", "recorded_at")
        # The sides carry their times only where limits apply (the delay is then reported).
        usable = self.limits and "NULL" not in (start, end)
        delay = f"epoch({end}) - epoch({start})" if usable else "NULL"
        limit = self._limit_sql()
        conflict = (
            "a.hash IS NOT NULL AND b.hash IS NOT NULL AND a.hash <> b.hash"
            if "hash" in a.columns and "hash" in b.columns
            else "false"
        )
        late = f"({delay}) > {limit}" if "NULL" not in (limit, delay) else "false"
        m = self.marker
        on = " AND ".join(f"a.{k} = b.{k}" for k in key)
        self.con.execute(
            f"""CREATE TEMP TABLE x{p}n AS
            SELECT DISTINCT ON ({", ".join(key)}) * EXCLUDE (prio) FROM (
              SELECT {", ".join(f"coalesce(a.{k}, b.{k}) AS {k}" for k in key)},
                CASE WHEN b.{m} IS NULL THEN 'missing-b' WHEN a.{m} IS NULL THEN 'missing-a'
                     WHEN {conflict} THEN 'conflicting' ELSE 'late' END AS cls,
                CASE WHEN {conflict} THEN 0 ELSE 1 END AS prio,
                {pick("a", "hash")} AS hash_a, {pick("b", "hash")} AS hash_b,
                {delay} AS delay_s, {limit} AS limit_s, a._row AS row_a, b._row AS row_b
              FROM {self._side(a)} a FULL OUTER JOIN {self._side(b)} b ON {on}
              WHERE a.{m} IS NULL OR b.{m} IS NULL OR ({conflict}) OR ({late})
            ) ORDER BY {", ".join(key)}, prio, row_a, row_b"""
        )

        self._look_up()

    def _look_up(self) -> None:
        """What describes the few keys in ``x`` and the duplicates, read once per side by row:
        type, sender, business key, time, and what a conflict compares."""
        a, b, p = self.a, self.b, self.p
        shown = ("type", "sender", "bkey", "recorded_at", "sequence", "event_time", "receiver")
        for side, led in (("a", a), ("b", b)):
            cols = [c if c in led.columns else f"NULL AS {c}" for c in shown]
            cols += [quote("f_" + x) for x in led.fields]
            self.con.execute(
                f"CREATE TEMP TABLE look{p}{side} AS SELECT _row, {', '.join(cols)} "
                f"FROM {led.view} WHERE _row IN (SELECT row_{side} FROM x{p}n "
                f"UNION ALL SELECT row FROM d{p}{side})"
            )
        fields = self._conflict_fields()
        self.con.execute(
            f"""CREATE TEMP TABLE x{p} AS
            SELECT x.*, coalesce(ca.type, cb.type) AS type,
              coalesce(ca.sender, cb.sender) AS sender, coalesce(ca.bkey, cb.bkey) AS bkey,
              ca.recorded_at AS at_a, cb.recorded_at AS at_b,
              CASE WHEN x.cls = 'conflicting' THEN coalesce(nullif({fields}, ''), 'hash')
              END AS fields
            FROM x{p}n x LEFT JOIN look{p}a ca ON ca._row = x.row_a
              LEFT JOIN look{p}b cb ON cb._row = x.row_b"""
        )
        f = self.figures
        for side, led in (("a", a), ("b", b)):
            fan_side = self.fan and "receiver" in led.columns and "receiver" not in self.key
            for type_name, extra in self.con.execute(
                f"SELECT l.type, sum(d.n - d.nr) FROM d{p}{side} d "
                f"LEFT JOIN look{p}{side} l ON l._row = d.row GROUP BY ALL"
            ).fetchall():
                f.add(type_name, f"duplicate-{side}", extra)
                if not fan_side:
                    f.add(type_name, f"keys-{side}", -int(extra))

    def _by_business_key(self) -> None:
        """A key on one side only whose fact (sender, type, bkey) the other side holds under
        another id was not lost: it is matched by business key."""
        a, b = self.a, self.b
        fact: list[str] = [
            c for c in ("sender", "type", "bkey") if c in a.columns and c in b.columns
        ]
        if "receiver" in self.key and "receiver" in a.columns and "receiver" in b.columns:
            # Per receiver: a delivery lost to one receiver is not found in the same message's
            # delivery to another (a review saw the KMar's lost one matched to the police's).
            fact.append("receiver")
        for cls, new, other in (("missing-b", "bkey-a", b), ("missing-a", "bkey-b", a)):
            on = " AND ".join(f"o.{c} = x.{c}" for c in fact)
            self.con.execute(
                f"UPDATE x{self.p} AS x SET cls = {lit(new)} WHERE x.cls = {lit(cls)} "
                f"AND x.bkey IS NOT NULL AND EXISTS (SELECT 1 FROM {other.view} o WHERE {on})"
            )

    def _classes(self) -> None:
        """Count the classes per type; matched is what is left of ``a``'s keys."""
        f = self.figures
        for type_name, cls, n in self.con.execute(
            f"SELECT type, cls, count(*) FROM x{self.p} GROUP BY ALL"
        ).fetchall():
            f.add(type_name, str(cls), n)
        for c in f.per_type.values():
            c["matched"] = c.get("keys-a", 0) - sum(
                c.get(k, 0) for k in ("missing-b", "conflicting", "late", "bkey-a")
            )

    def _detail_rows(self) -> None:
        a, b, p = self.a, self.b, self.p
        self.details.append(
            f"""SELECT {lit(self.pair)} AS pair,
              CASE WHEN cls IN ('missing-a', 'missing-b') THEN 'missing'
                   WHEN cls IN ('bkey-a', 'bkey-b') THEN 'matched-bkey' ELSE cls END AS class,
              CASE cls WHEN 'missing-a' THEN {lit(a.spec.name)}
                       WHEN 'missing-b' THEN {lit(b.spec.name)}
                       WHEN 'bkey-a' THEN {lit(a.spec.name)}
                       WHEN 'bkey-b' THEN {lit(b.spec.name)} ELSE NULL END AS hop,
              {self._k("source")} AS source, {self._k("id")} AS id,
              {self._k("receiver")} AS receiver,
              CAST(x.sender AS VARCHAR) AS sender, CAST(x.type AS VARCHAR) AS type,
              CAST(x.bkey AS VARCHAR) AS bkey, 1 AS copies, hash_a, hash_b,
              x.fields AS fields, at_a, at_b, delay_s, limit_s, row_a, row_b
            FROM x{p} x WHERE cls NOT IN ('beyond-a', 'beyond-b')"""
        )
        for side, led in (("a", self.a), ("b", self.b)):
            self.details.append(
                f"""SELECT {lit(self.pair)} AS pair, 'duplicate' AS class,
                  {lit(led.spec.name)} AS hop, {self._k("source", "d.")} AS source,
                  {self._k("id", "d.")} AS id,
                  CAST(coalesce({"d.receiver" if "receiver" in self.key else "NULL"},
                    l.receiver) AS VARCHAR) AS receiver,
                  CAST(l.sender AS VARCHAR) AS sender, CAST(l.type AS VARCHAR) AS type,
                  CAST(l.bkey AS VARCHAR) AS bkey, d.n - d.nr + 1 AS copies,
                  NULL AS hash_a, NULL AS hash_b, NULL AS fields, NULL AS at_a, NULL AS at_b,
                  NULL AS delay_s, NULL AS limit_s,
                  {"d.row" if side == "a" else "NULL"} AS row_a,
                  {"d.row" if side == "b" else "NULL"} AS row_b
                FROM d{p}{side} d LEFT JOIN look{p}{side} l ON l._row = d.row"""
            )

    def _conflict_fields(self) -> str:
        """An expression over the two looked-up rows ``ca`` and ``cb``: the comma-separated
        names of the columns that differ (extra fields, and the keys of a ``data`` JSON)."""
        a, b, key = self.a, self.b, self.key
        comparable = [
            c
            for c in ("type", "sender", "bkey", "sequence", "event_time")
            if c in a.columns and c in b.columns and c not in key
        ]
        extras = [x for x in a.fields if x in b.fields and x != "data"]
        parts = [
            f"CASE WHEN ca.{c} IS DISTINCT FROM cb.{c} THEN {lit(c)} END" for c in comparable
        ] + [
            f"CASE WHEN ca.{quote('f_' + x)} IS DISTINCT FROM cb.{quote('f_' + x)} "
            f"THEN {lit(x)} END"
            for x in extras
        ]
        listed = f"[{', '.join(parts)}]" if parts else "[]::VARCHAR[]"
        if "data" in a.fields and "data" in b.fields:
            listed = (
                f"list_concat({listed}, list_transform(list_filter(list_distinct(list_concat("
                "json_keys(ca.f_data), json_keys(cb.f_data))), lambda k: json_extract(ca.f_data, "
                "'$.\"' || k || '\"') IS DISTINCT FROM json_extract(cb.f_data, '$.\"' || k || "
                "'\"')), lambda k: 'data.' || k))"
            )
        return f"array_to_string(list_filter({listed}, lambda v: v IS NOT NULL), ',')"

    def _duplicates_by_bkey(self) -> None:
        """One business key under several ids inside one ledger (once per ledger): the groups
        whose ids differ at all, then the ids of those only."""
        p, f = self.p, self.figures
        for side, led in (("a", self.a), ("b", self.b)):
            if led.view in self.done or "bkey" not in led.columns or "id" not in led.columns:
                continue
            self.done.add(led.view)
            self.step("duplicates by business key")
            group = [c for c in ("sender", "receiver", "type", "bkey") if c in led.columns]
            cols = ", ".join(group)
            table = f"db{p}{side}"
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
                f.add(type_name, f"duplicate-bkey-{side}", n)
            self.details.append(
                f"""SELECT {lit(self.pair)} AS pair, 'duplicate-bkey' AS class,
                  {lit(led.spec.name)} AS hop, NULL AS source, NULL AS id,
                  {"receiver" if "receiver" in group else "NULL"} AS receiver,
                  {"sender" if "sender" in group else "NULL"} AS sender,
                  {"type" if "type" in group else "NULL"} AS type, bkey, ids AS copies,
                  NULL AS hash_a, NULL AS hash_b, NULL AS fields, NULL AS at_a, NULL AS at_b,
                  NULL AS delay_s, NULL AS limit_s,
                  {"row" if side == "a" else "NULL"} AS row_a,
                  {"row" if side == "b" else "NULL"} AS row_b FROM {table}"""
            )


def _c(led: Loaded, column: str) -> str:
    return f"CAST({column} AS VARCHAR)" if column in led.columns else "NULL"
