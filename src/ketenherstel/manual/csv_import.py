"""Paper work in bulk: a spreadsheet export (CSV) read with a column mapping, row by row.

The mapping, as a small YAML or JSON document (or CLI options, see `merge_options`)::

    columns:                     # headers in the file (matched ignoring case and outer spaces)
      partner: Partij            # partner key or name: om, Openbaar Ministerie
      case: Parketnummer         # the case number: the first field of the type's business key
      type: Soort                # full type name or short alias: uitspraak-geregistreerd
      when: Datum                # dd-mm-yyyy, dd-mm-yyyy hh:mm or ISO; Europe/Amsterdam
      role: Geregistreerd door   # the registering role ("griffie rechtbank"), never a name
    fields:                      # the type's other business-key fields: field → column
      judgmentDate: Uitspraakdatum
    defaults:                    # fixed partner, type or role: used when there is no column
      role: griffie rechtbank    # for it, or when its cell is empty

`case` and `when` need a column; `partner`, `type` and `role` a column or a default; with a
fixed type (a default and no column), each of its other business-key fields a column. The file
may be UTF-8 (with or without BOM) or, failing that, cp1252 (reported, also with an error about
the file); UTF-16 is refused as such. The delimiter is `,` or `;`, whichever splits the header
into more columns. A file needs a header and at least one row. `parse_csv` stores nothing: it
returns the rows to register and every refused row with its line, column and reason.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ketenherstel.chain import Chain
from ketenherstel.manual.entries import (
    CheckedEntry,
    ManualEntry,
    check_entry,
    resolve_partner,
    resolve_type,
    type_alias,
)
from ketenherstel.manual.errors import CsvFileError, ManualError, MappingError, Refusal

PARTS = ("partner", "case", "type", "when", "role")
DEFAULTABLE = ("partner", "type", "role")
MAX_ROWS = 50_000
_BOM = b"\xef\xbb\xbf"
_UTF16_MARKS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_AGAIN = "export it again as CSV UTF-8"
PROGRESS_STEP = 1000  # lines between two calls of parse_csv's progress

Registered = Callable[[Sequence[tuple[str, str]]], Mapping[tuple[str, str], int]]
Progress = Callable[[int, int], None]  # (lines read, lines in the file)


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    columns: Mapping[str, str]  # part (partner, case, type, when, role) → header
    fields: Mapping[str, str] = field(default_factory=dict)  # business-key field → header
    defaults: Mapping[str, str] = field(default_factory=dict)  # partner, type, role → value

    @classmethod
    def from_dict(cls, data: object, chain: Chain) -> ColumnMapping:
        """Check a mapping document; MappingError lists every fault."""
        problems: list[Refusal] = []

        def bad(where: str, reason: str) -> None:
            problems.append(Refusal(None, f"mapping.{where}", reason))

        if not isinstance(data, Mapping):
            raise MappingError(
                "the mapping must be an object with columns, fields and defaults",
                [Refusal(None, "mapping", f"expected an object, not {type(data).__name__}")],
            )
        for key in sorted(set(map(str, data)) - {"columns", "fields", "defaults"}):
            bad(key, "unknown key; a mapping has columns, fields and defaults")
        columns = _strings(data.get("columns", {}), "columns", bad)
        fields = _strings(data.get("fields", {}), "fields", bad)
        defaults = _strings(data.get("defaults", {}), "defaults", bad)
        for part in columns:
            if part not in PARTS:
                bad(f"columns.{part}", f"unknown part; columns are {', '.join(PARTS)}")
        key_fields = {n for mt in chain.message_types for n in chain.business_key_fields(mt.type)}
        for name in fields:
            if name not in key_fields:
                bad(f"fields.{name}", "not a business-key field of any message type")
        fixed_type = None
        for part, value in defaults.items():
            if part not in DEFAULTABLE:
                bad(f"defaults.{part}", f"only {', '.join(DEFAULTABLE)} can have a default")
            elif part != "role":
                try:
                    resolved = (resolve_partner if part == "partner" else resolve_type)(
                        chain, value
                    )
                except LookupError as exc:
                    bad(f"defaults.{part}", str(exc))
                else:
                    fixed_type = resolved if part == "type" else fixed_type
        if fixed_type is not None and "type" not in columns:
            # Every row has this type: a business-key field it lacks would refuse every row.
            for name in chain.business_key_fields(fixed_type)[1:]:  # the first is the case
                if name not in fields:
                    bad(
                        f"fields.{name}",
                        f"missing: every row is a {type_alias(fixed_type)}, whose business "
                        f"key also needs {name}; map it to a column",
                    )
        for part in PARTS:
            if part in columns or (part in DEFAULTABLE and part in defaults):
                continue
            how = "a column or a default" if part in DEFAULTABLE else "a column"
            bad(f"columns.{part}", f"missing: {part} needs {how}")
        if problems:
            raise MappingError("the column mapping has problems; nothing was read", problems)
        return cls(columns, fields, defaults)

    def locate(self, header: Sequence[str]) -> dict[str, int]:
        """Each mapped part (`fields.<name>` for fields) → its column index in `header`."""
        index: dict[str, list[int]] = {}
        for i, name in enumerate(header):
            index.setdefault(name.strip().casefold(), []).append(i)
        wanted = {**self.columns, **{f"fields.{k}": v for k, v in self.fields.items()}}
        found: dict[str, int] = {}
        problems = []
        shown = ", ".join(repr(h.strip()) for h in header)
        for part, column in wanted.items():
            where = part if part.startswith("fields.") else f"columns.{part}"
            hits = index.get(column.strip().casefold(), [])
            if not hits:
                reason = f"column {column!r} is not in the header; the header has: {shown}"
                problems.append(Refusal(1, f"mapping.{where}", reason))
            elif len(hits) > 1:
                reason = f"column {column!r} appears {len(hits)} times in the header"
                problems.append(Refusal(1, f"mapping.{where}", reason))
            else:
                found[part] = hits[0]
        if problems:
            # Said as it is: a column given twice in the header is there (a review was told
            # the mapping named columns the file does not have).
            twice = [p for p in problems if "times in the header" in p.reason]
            if len(twice) == len(problems):
                summary = "the mapping names columns the file's header gives more than once"
            elif twice:
                summary = "the mapping names columns the file does not have, or has more than once"
            else:
                summary = "the mapping names columns the file does not have"
            raise MappingError(summary, problems)
        return found


def _strings(value: object, where: str, bad: Callable[[str, str], None]) -> dict[str, str]:
    if not isinstance(value, Mapping):
        bad(where, "expected an object of names to text")
        return {}
    out: dict[str, str] = {}
    for key, text in value.items():
        if not isinstance(text, str | int) or not str(text).strip():
            bad(f"{where}.{key}", "expected a non-empty text")
        else:
            out[str(key)] = str(text).strip()
    return out


def merge_options(
    base: Mapping[str, object] | None, maps: Sequence[str], defaults: Sequence[str]
) -> dict[str, object]:
    """A mapping document from a file's document and `--map PART=COLUMN` (or
    `--map fields.NAME=COLUMN`) and `--default PART=VALUE` options, the options winning."""
    doc: dict[str, object] = dict(base or {})
    sections = {
        name: dict(doc[name]) if isinstance(doc.get(name), Mapping) else {}  # type: ignore[call-overload]
        for name in ("columns", "fields", "defaults")
    }
    problems = []
    given: dict[tuple[str, str], str] = {}  # (option, name) -> the value given first
    for option, items in (("--map", maps), ("--default", defaults)):
        for item in items:
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or not key or not value.strip():
                reason = f"expected {option} NAME=VALUE, not {item!r}"
                problems.append(Refusal(None, option, reason))
                continue
            first = given.setdefault((option, key), value.strip())
            if first != value.strip():
                # Two values for one name: which one was meant cannot be told, and the
                # last one silently winning would import from the wrong column.
                reason = f"{option} {key} is given twice ({first!r} and {value.strip()!r})"
                problems.append(Refusal(None, option, reason))
            elif option == "--default":
                sections["defaults"][key] = value.strip()
            elif key.startswith("fields."):
                sections["fields"][key.removeprefix("fields.")] = value.strip()
            else:
                sections["columns"][key] = value.strip()
    if problems:
        raise MappingError("the mapping options have problems", problems)
    doc.update({name: section for name, section in sections.items() if section})
    return doc


@dataclass(frozen=True, slots=True)
class ImportRow:
    line: int
    entry: CheckedEntry


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import would register (`accepted`) and every refusal, with the file's reading."""

    encoding: str
    delimiter: str
    rows: int  # data rows read (blank rows are skipped)
    accepted: tuple[ImportRow, ...]
    refusals: tuple[Refusal, ...]
    notes: tuple[str, ...] = ()

    @property
    def refused_rows(self) -> int:
        return len({r.line for r in self.refusals})


def decode(data: bytes) -> tuple[str, str, tuple[str, ...]]:
    """(text, encoding, notes): UTF-8 with or without BOM, else cp1252 with a note.

    UTF-16 (a spreadsheet's "Unicode text") is refused: with its byte order mark it was read
    as cp1252, without it as UTF-8 (a NUL byte is UTF-8), and either way its header was
    letters and NUL bytes that the mapping's columns were not found in."""
    if data.startswith(_UTF16_MARKS):
        raise CsvFileError(
            "the file is UTF-16, not UTF-8 (it starts with UTF-16's byte order mark, as a "
            f"spreadsheet's 'Unicode text' does); {_AGAIN}"
        )
    end = data.find(b"\n")
    nul = data.find(b"\x00", 0, len(data) if end < 0 else end)
    if nul >= 0:  # no header a person typed holds a NUL byte; UTF-16 has one in each letter
        raise CsvFileError(
            f"the file is most likely UTF-16, not UTF-8: its first line holds NUL bytes (the "
            f"first at byte {nul}), as UTF-16 text does between its letters; {_AGAIN}"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if data.startswith(_BOM):
            # Marked as UTF-8, yet not UTF-8 further on: two encodings in one file (cp1252
            # would also read the mark as three letters in the first column's name).
            raise CsvFileError(
                f"the file starts with the UTF-8 mark (BOM) but byte {exc.start} is not UTF-8: "
                f"it mixes two encodings; {_AGAIN}"
            ) from None
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise CsvFileError(
                f"the file is neither UTF-8 nor cp1252 (byte {exc.start} cannot be read); {_AGAIN}"
            ) from None
        note = (
            f"the file is not UTF-8 (byte {exc.start}); it was read as cp1252 (Windows-1252): "
            "check accented names, or export it as CSV UTF-8"
        )
        return text, "cp1252", (note,)
    return text, "utf-8-sig" if data.startswith(_BOM) else "utf-8", ()


def sniff_delimiter(text: str) -> str:
    """`;` or `,`: whichever splits the first non-empty line into more cells (`,` on a tie)."""
    first = next((line for line in text.splitlines() if line.strip()), "")

    def cells(delimiter: str) -> int:
        try:
            return len(next(csv.reader([first], delimiter=delimiter), []))
        except csv.Error as exc:  # a field past the csv module's limit
            raise CsvFileError(f"line 1: the file is not valid CSV ({exc})") from None

    return ";" if cells(";") > cells(",") else ","


def parse_csv(
    data: bytes,
    mapping: ColumnMapping,
    chain: Chain,
    *,
    now: float,
    registered: Registered | None = None,
    max_rows: int = MAX_ROWS,
    progress: Progress | None = None,
) -> ImportReport:
    """Read and check every row. `registered` tells which (partner, bkey) pairs are already
    registered (and as which record); such rows are refused too. Stores nothing.

    `progress(done, total)` is told the lines read of the file's lines: at the start, every
    `PROGRESS_STEP` lines and at the end (after the check against what is registered). A file
    read as cp1252 that is refused says so in the error's `notes`: the encoding may be why."""
    text, encoding, notes = decode(data)
    try:
        return _parse(
            text,
            encoding,
            notes,
            mapping,
            chain,
            now=now,
            registered=registered,
            max_rows=max_rows,
            progress=progress,
        )
    except ManualError as exc:
        exc.notes = notes
        raise


def _parse(
    text: str,
    encoding: str,
    notes: tuple[str, ...],
    mapping: ColumnMapping,
    chain: Chain,
    *,
    now: float,
    registered: Registered | None,
    max_rows: int,
    progress: Progress | None,
) -> ImportReport:
    total = 0
    if progress is not None:
        total = sum(1 for _ in io.StringIO(text, newline=""))  # the lines as csv splits them
        progress(0, total)
    delimiter = sniff_delimiter(text)
    # strict: a quote never closed is an error, not a value that runs on to the end of the
    # file and swallows every row after it (they were silently not registered).
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    last = 0  # the last line of the rows read so far
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise CsvFileError("the file is empty: it needs a header row and data rows")
        where = mapping.locate(header)
        labels = {part: header[i].strip() for part, i in where.items()}
        accepted: list[ImportRow] = []
        refusals: list[Refusal] = []
        seen: dict[tuple[str, str], int] = {}
        rows, last = 0, reader.line_num
        told = 0  # the lines progress was told of
        for cells in reader:
            line, last = last + 1, reader.line_num
            if progress is not None and last - told >= PROGRESS_STEP:
                progress(last, total)
                told = last
            if not any(cell.strip() for cell in cells):
                continue
            rows += 1
            if rows > max_rows:
                raise CsvFileError(f"the file has more than {max_rows} rows; split it")
            if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
                reason = (
                    f"the row has {len(cells)} cells and the header {len(header)}: is there an "
                    f"unquoted {delimiter!r} in a value?"
                )
                refusals.append(Refusal(line, "", reason))
                continue
            cells = cells + [""] * (len(header) - len(cells))
            entry = _entry(cells, where, mapping)
            checked, problems = check_entry(chain, entry, now=now, line=line, columns=labels)
            refusals.extend(problems)
            if checked is None:
                continue
            first = seen.setdefault((checked.partner, checked.bkey), line)
            if first != line:
                reason = f"duplicate of line {first}: same partner, type and business key"
                refusals.append(Refusal(line, labels.get("case", "case"), reason))
                continue
            accepted.append(ImportRow(line, checked))
    except csv.Error as exc:
        if str(exc) == "unexpected end of data":
            raise CsvFileError(
                f'line {last + 1}: a quoted value (") starts in this row and is never closed; '
                "every row after it would be read as part of that value"
            ) from None
        raise CsvFileError(f"line {reader.line_num}: the file is not valid CSV ({exc})") from None
    if rows == 0:  # an export cut short, or the wrong one: an import of nothing is no success
        raise CsvFileError(
            "no rows: the file has a header and no rows below it, so there is nothing to "
            "import; is it the right file?"
        )
    if registered is not None and accepted:
        taken = registered([(r.entry.partner, r.entry.bkey) for r in accepted])
        kept = []
        for row in accepted:
            rid = taken.get((row.entry.partner, row.entry.bkey))
            if rid is None:
                kept.append(row)
            else:
                reason = f"already registered as manual record {rid}"
                refusals.append(Refusal(row.line, labels.get("case", "case"), reason))
        accepted = kept
    refusals.sort(key=lambda r: r.line or 0)
    if progress is not None:
        progress(total, total)
    return ImportReport(encoding, delimiter, rows, tuple(accepted), tuple(refusals), notes)


def _entry(cells: Sequence[str], where: Mapping[str, int], mapping: ColumnMapping) -> ManualEntry:
    def value(part: str) -> str:
        # The cell as it is (each part is checked, a control character in it refused, and
        # stripped then); a blank one takes the default.
        cell = cells[where[part]] if part in where else ""
        return cell if cell.strip() else mapping.defaults.get(part, "")

    return ManualEntry(
        partner=value("partner"),
        case=value("case"),
        type=value("type"),
        when=value("when"),
        role=value("role"),
        fields={name: cells[where[f"fields.{name}"]] for name in mapping.fields},
    )


__all__ = [
    "ColumnMapping",
    "ImportReport",
    "ImportRow",
    "decode",
    "merge_options",
    "parse_csv",
    "sniff_delimiter",
]
