"""The DuckDB adapter of reconciliation (decision 0011): load and check ledgers, the
high-water-mark check, and the pairwise comparison. The only module that imports ``duckdb``.

Every ledger becomes a view ``l<i>`` with the canonical columns it has, ``_row`` (its row in
the file, from 1) and its extra fields. Nothing is held in Python: the comparison runs in
DuckDB with a memory limit and spills to the work directory.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import duckdb

from ketenherstel.chain.utf8 import scan_utf8
from ketenherstel.reconcile._csvshape import csv_shape_problem, looks_unsplit
from ketenherstel.reconcile._jsonlines import jsonl_line_problem
from ketenherstel.reconcile._pair import (
    DETAIL_COLUMNS,
    Loaded,
    PairComparison,
    PairFigures,
    lit,
    quote,
)
from ketenherstel.reconcile.ledger import (
    CANONICAL,
    LedgerSpec,
    ReconcileInputError,
    parse_memory,
)

__all__ = ["Engine", "Loaded", "PairFigures"]

_TYPE_WORD = {
    "BIGINT": "a whole number",
    "TIMESTAMPTZ": "a date and time (ISO 8601, e.g. 2025-07-17T20:59:00+02:00)",
}


def _value(column: str, kind: str) -> str:
    """A column's value: a JSON Lines column of mixed types is JSON; its strings unquoted."""
    if kind == "JSON":
        return f"json_extract_string({quote(column)}, '$')"
    return quote(column)


# The columns of details that are not text; the rest are VARCHAR.
_DETAIL_TYPES = {
    "copies": "BIGINT",
    "at_a": "TIMESTAMPTZ",
    "at_b": "TIMESTAMPTZ",
    "delay_s": "DOUBLE",
    "limit_s": "DOUBLE",
    "row_a": "BIGINT",
    "row_b": "BIGINT",
}
# A text beginning with =, +, -, @, a tab or a carriage return (spreadsheet.FORMULA_START),
# behind an apostrophe.
_FORMULA_GUARD = (
    r"CASE WHEN regexp_matches({c}, '^[-=+@\t\r]') THEN chr(39) || {c} ELSE {c} END AS {c}"
)


# The canonical columns that hold a partner's key.
_PARTNER_COLUMNS = ("sender", "receiver")


def _fold(value: str) -> str:
    """SQL for a partner key as written in a ledger (``value``, text) compared case-blind:
    without the white space around it, in lower case, as the chain's keys are written
    (``[a-z][a-z0-9-]*``, see ``chain.loader``)."""
    return rf"lower(regexp_replace({value}, '^\s+|\s+$', '', 'g'))"


def _refuse_csv_shape(path: Path, shown: str) -> None:
    """Name the row (or line) that kept DuckDB from reading a CSV as a table, if one does."""
    problem = csv_shape_problem(path)
    if problem is not None:
        raise ReconcileInputError(problem.message, file=shown, row=problem.row)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _within_memory(
    method: Callable[Concatenate[Engine, _P], _R],
) -> Callable[Concatenate[Engine, _P], _R]:
    """DuckDB's 'Out of Memory' as what it is: a memory limit too small for this run (it was
    'file s.csv: cannot be read as csv: Out of Memory Error', or a traceback while comparing)."""

    @functools.wraps(method)
    def run(self: Engine, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except duckdb.OutOfMemoryException as exc:
            detail = str(exc).splitlines()[0]
            raise ReconcileInputError(
                f"the memory limit {self.memory} (--memory) is too small for these ledgers "
                f"({detail}); give more, e.g. --memory 4GB, if the machine has it"
            ) from None

    return run


def _refuse_not_utf8(path: Path, shown: str, *, whole: bool = True) -> None:
    """Say that a CSV or JSON Lines ledger is not UTF-8, and where, if it is not."""
    problem = scan_utf8(path, whole=whole)
    if problem is not None:
        raise ReconcileInputError(problem.message, file=shown)


class Engine:
    """One reconciliation run's DuckDB connection, in memory with a spill directory."""

    def __init__(self, workdir: Path, *, memory: str = "2GB", threads: int | None = None) -> None:
        limit = parse_memory(memory)  # DuckDB took -1GB for no limit, 1KB for one too small
        self.workdir = workdir
        self.memory = memory
        (workdir / "spill").mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(":memory:")
        self.con.execute(f"SET temp_directory = {lit(str(workdir / 'spill'))}")
        self.con.execute(f"SET memory_limit = '{limit}B'")
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute("SET enable_progress_bar = false")
        self.con.execute("SET TimeZone = 'UTC'")  # a time without an offset is UTC
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

    @_within_memory
    def load(
        self,
        spec: LedgerSpec,
        path: Path,
        fmt: str,
        *,
        partners: Collection[str] | None = None,
    ) -> Loaded:
        """Read one ledger and check it: mapped columns exist, values have their types, the
        required columns are there. Raises ReconcileInputError naming file, column and row.

        ``partners``: the chain's partner keys. Given, a mapped sender or receiver must hold one
        of them in each row, in any case, as a constant must (``check_partner_constants``); the
        ledger holds it as the chain spells it."""
        self._n += 1
        raw, view = f"r{self._n}", f"l{self._n}"
        shown = str(spec.path) if spec.path is not None else f"{spec.name} (live)"
        if not path.is_file():
            raise ReconcileInputError("no such file, or not a file", file=shown)
        if path.stat().st_size == 0:
            raise ReconcileInputError("the file is empty (not even a header)", file=shown)
        if fmt in ("csv", "jsonl"):
            # UTF-16 (a NUL between the letters) was 'the row has 1 fields instead of the
            # header's 5'; cp1252 near the top, a line DuckDB counts its own way.
            _refuse_not_utf8(path, shown, whole=False)
        src = lit(str(path))
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
                # skip = 0: the first line is the header. Left to guess, DuckDB's sniffer
                # took a longer row further down for the header and dropped the rows above it.
                reader = (
                    f"read_csv({src}, all_varchar = true, header = true, skip = 0)"
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
            if isinstance(exc, duckdb.OutOfMemoryException):
                raise  # said as a memory limit too small (_within_memory)
            if fmt in ("csv", "jsonl"):
                _refuse_not_utf8(path, shown)  # further down than the first MiB
            if fmt == "csv":
                _refuse_csv_shape(path, shown)
            if fmt == "jsonl":
                # DuckDB's message names the wrong line (one too far, blank lines not counted).
                problem = jsonl_line_problem(path)
                if problem is not None:
                    raise ReconcileInputError(
                        f"cannot be read as jsonl: {problem}", file=shown
                    ) from None
            message = str(exc).splitlines()[0]
            raise ReconcileInputError(f"cannot be read as {fmt}: {message}", file=shown) from None
        types = {str(r[0]): str(r[1]).upper() for r in described if str(r[0]) != rowcol}
        if fmt == "csv" and looks_unsplit(list(types)):
            _refuse_csv_shape(path, shown)
        if fmt == "jsonl" and list(types) == ["json"]:
            # A line that is no object ([1, 2], 3) among those DuckDB samples makes it read
            # the file as one column `json` of whole lines, without complaint (further down,
            # such a line is an error, named above). A ledger's own field `json` is no problem.
            problem = jsonl_line_problem(path)
            if problem is not None:
                raise ReconcileInputError(f"cannot be read as jsonl: {problem}", file=shown)
        if fmt == "jsonl" and self._one(
            f"SELECT count(*) FROM {raw} WHERE COLUMNS(* EXCLUDE ({rowcol})) IS NULL"
        ):
            # A line `null` is read as a row of nothing, without complaint (as `{}` is, which
            # is an object): a row with no value at all has the file read again to name it.
            problem = jsonl_line_problem(path)
            if problem is not None:
                raise ReconcileInputError(f"cannot be read as jsonl: {problem}", file=shown)
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
        self._drop_empty(raw, mapping, spec, shown)
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
        keyed = {}
        if partners is not None:
            keyed = self._check_partners(raw, rowcol, mapping, types, partners, shown)
        for canonical, value in spec.constants.items():
            self._check_constant(canonical, value, shown)
        select = [f"{rowcol} AS _row"]
        for canonical, column in mapping.items():
            value = keyed.get(canonical) or _value(column, types[column])
            select.append(f"CAST({value} AS {CANONICAL[canonical]}) AS {canonical}")
        for canonical, value in spec.constants.items():
            select.append(f"CAST({lit(value)} AS {CANONICAL[canonical]}) AS {canonical}")
        fields = tuple(f for f in spec.fields if f not in mapping.values())
        if "data" in types and "data" not in fields and "data" not in mapping.values():
            fields = (*fields, "data")
        for extra in fields:
            value = _value(extra, types[extra])
            if extra == "data" and types[extra] not in ("VARCHAR", "JSON"):
                value = f"to_json({quote(extra)})"  # an object in JSON Lines: keep it JSON
            elif extra == "data":
                value = quote(extra)
            select.append(f"CAST({value} AS VARCHAR) AS {quote('f_' + extra)}")
        self.con.execute(f"CREATE VIEW {view} AS SELECT {', '.join(select)} FROM {raw}")
        rows = int(self._one(f"SELECT count(*) FROM {raw}"))
        return Loaded(spec, view, present, fields, rows, shown)

    def _drop_empty(self, raw: str, mapping: dict[str, str], spec: LedgerSpec, shown: str) -> None:
        """A column that decides how records are keyed (source, sender, receiver, id, bkey,
        type) but holds no value at all is as good as absent: treated so, it does not make every
        record look unkeyed or fanned out."""
        structural = [
            c for c in ("source", "sender", "receiver", "id", "bkey", "type") if c in mapping
        ]
        if not structural:
            return
        counts = self.con.execute(
            "SELECT count(*), "
            + ", ".join(f"count({quote(mapping[c])})" for c in structural)
            + f" FROM {raw}"
        ).fetchone()
        if counts is None or counts[0] == 0:
            return
        for canonical, n in zip(structural, counts[1:], strict=True):
            if n == 0 and canonical in spec.mapping:
                raise ReconcileInputError(
                    f"mapped to {canonical!r} but holds no value in any row",
                    file=shown,
                    column=mapping[canonical],
                )
            if n == 0:
                del mapping[canonical]

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
                f"WHERE {quote(column)} IS NOT NULL "
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

    def _check_partners(
        self,
        raw: str,
        rowcol: str,
        mapping: Mapping[str, str],
        types: Mapping[str, str],
        partners: Collection[str],
        shown: str,
    ) -> dict[str, str]:
        """Refuse a mapped sender or receiver whose value is no partner of the chain: every
        record of it would be classed missing and asked again of a sender that does not exist.
        Returns, per such column, the SQL of its value as the chain spells the key: a key in
        another case or with spaces around it (``OM``, `` om``) is that partner."""
        keys = sorted(partners)
        out = {}
        for canonical in _PARTNER_COLUMNS:
            column = mapping.get(canonical)
            if column is None:
                continue
            value = f"CAST({_value(column, types[column])} AS VARCHAR)"
            folded = _fold(value)
            bad = self.con.execute(
                f"SELECT {rowcol}, {value} FROM {raw} WHERE {quote(column)} IS NOT NULL "
                f"AND NOT list_contains($keys, {folded}) ORDER BY {rowcol} LIMIT 1",
                {"keys": keys},
            ).fetchone()
            if bad is not None:
                raise ReconcileInputError(
                    f"unknown partner {bad[1]!r} (the ledger's {canonical!r}); "
                    f"the chain's partners are {', '.join(keys) or 'none'}",
                    file=shown,
                    column=column,
                    row=int(bad[0]),
                )
            out[canonical] = folded
        return out

    @_within_memory
    def check_known_types(self, ledger: Loaded, types: Collection[str]) -> None:
        """Refuse a ledger with a row whose message type the chain does not know: it would be
        classed missing and put on a sender's request list. Names file, column and row."""
        spec = ledger.spec
        if "type" in spec.constants:
            column, value = "type", spec.constants["type"]
            if value not in types:
                raise ReconcileInputError(
                    f"the constant {value!r} is not a message type of the chain",
                    file=ledger.file,
                    column=column,
                )
            return
        bad = self.con.execute(
            f"SELECT _row, type FROM {ledger.view} WHERE type IS NOT NULL "
            "AND NOT list_contains($known, type) ORDER BY _row LIMIT 1",
            {"known": sorted(types)},
        ).fetchone()
        if bad is not None:
            raise ReconcileInputError(
                f"{bad[1]!r} is not a message type of the chain (the ledger's 'type'); "
                "give the type as the chain names it, e.g. "
                f"{min(types, default='nl.strafrechtketen.…')!r}",
                file=ledger.file,
                column=spec.mapping.get("type", "type"),
                row=int(bad[0]),
            )

    def _check_constant(self, canonical: str, value: str, shown: str) -> None:
        target = CANONICAL[canonical]
        ok = self._one(f"SELECT TRY_CAST({lit(value)} AS {target}) IS NOT NULL")
        if not ok:
            raise ReconcileInputError(
                f"the constant {value!r} is not {_TYPE_WORD.get(target, target.lower())}",
                file=shown,
                column=canonical,
            )

    # -- one pair -------------------------------------------------------------------------

    @_within_memory
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
        """Compare ledger ``a`` (upstream) with ``b`` (downstream). Every key that is not
        simply matched goes to the details; the figures count every class per type."""
        self._pair += 1
        return PairComparison(
            self.con,
            self._pair,
            a,
            b,
            limits=limits,
            hwm=hwm,
            duplicates_done=duplicates_done,
            details=self.details,
            step=step,
        ).run()

    # -- output -----------------------------------------------------------------------------

    @_within_memory
    def write_details(self, out: Path) -> int:
        """details.parquet and details.csv, ordered; returns the number of rows."""
        if not self.details:
            body = (
                "SELECT "
                + ", ".join(f"NULL::VARCHAR AS {c}" for c in DETAIL_COLUMNS)
                + " WHERE false"
            )
        else:
            parts = [
                "SELECT "
                + ", ".join(
                    f"CAST({c} AS {_DETAIL_TYPES.get(c, 'VARCHAR')}) AS {c}" for c in DETAIL_COLUMNS
                )
                + f" FROM ({d})"
                for d in self.details
            ]
            body = " UNION ALL ".join(parts)
        self.con.execute(f"CREATE TEMP TABLE details AS {body}")
        order = "ORDER BY pair, class, hop, type, source, id, receiver, bkey"
        self.con.execute(
            f"COPY (SELECT * FROM details {order}) TO {lit(str(out / 'details.parquet'))} "
            "(FORMAT parquet)"
        )
        # A text cell that a spreadsheet would run as a formula (ids and types come from the
        # partners' files) begins with an apostrophe in the CSV, as in the registry's exports.
        shown = ", ".join(
            c if c in _DETAIL_TYPES else _FORMULA_GUARD.format(c=c) for c in DETAIL_COLUMNS
        )
        self.con.execute(
            f"COPY (SELECT {shown} FROM details {order}) TO {lit(str(out / 'details.csv'))} "
            "(FORMAT csv, HEADER true)"
        )
        return int(self._one("SELECT count(*) FROM details"))

    @_within_memory
    def rows(
        self, sql_where: str, columns: Sequence[str], limit: int | None = None
    ) -> list[tuple[Any, ...]]:
        """Rows of the details table (for repair and the HTML section)."""
        tail = f" LIMIT {int(limit)}" if limit else ""
        return self.con.execute(
            f"SELECT {', '.join(columns)} FROM details WHERE {sql_where} ORDER BY ALL{tail}"
        ).fetchall()
