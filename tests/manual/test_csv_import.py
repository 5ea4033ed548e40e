"""Spreadsheet exports with a column mapping: every refused row named, nothing stored (pure)."""

from __future__ import annotations

import codecs
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest

from ketenherstel.chain import Chain
from ketenherstel.manual import ColumnMapping, CsvFileError, MappingError, parse_csv
from ketenherstel.manual.csv_import import merge_options

NOW = datetime(2025, 9, 1, tzinfo=UTC).timestamp()
MAPPING = {
    "columns": {
        "partner": "Partij",
        "case": "Parketnummer",
        "type": "Soort",
        "when": "Datum",
        "role": "Geregistreerd door",
    },
    "fields": {"judgmentDate": "Uitspraakdatum"},
}
HEADER = "Partij;Parketnummer;Soort;Datum;Geregistreerd door;Uitspraakdatum"
GOOD = "OM;13-100001-25;uitspraak-geregistreerd;21-07-2025;parket Amsterdam;18-07-2025"


def mapping(chain: Chain, doc: Mapping[str, object] = MAPPING) -> ColumnMapping:
    return ColumnMapping.from_dict(doc, chain)


def parse(chain: Chain, *lines: str, doc: Mapping[str, object] = MAPPING, **kw: object):  # type: ignore[no-untyped-def]
    data = ("\r\n".join(lines) + "\r\n").encode()
    return parse_csv(data, mapping(chain, doc), chain, now=NOW, **kw)  # type: ignore[arg-type]


def test_a_semicolon_export_with_a_bom_is_read(chain: Chain) -> None:
    data = b"\xef\xbb\xbf" + f"{HEADER}\n{GOOD}\n".encode()
    report = parse_csv(data, mapping(chain), chain, now=NOW)
    assert (report.encoding, report.delimiter, report.rows) == ("utf-8-sig", ";", 1)
    assert report.refusals == () and report.notes == ()
    [row] = report.accepted
    assert (row.line, row.entry.partner, row.entry.case) == (2, "om", "13-100001-25")


def test_a_comma_export_with_quoted_cells_is_read(chain: Chain) -> None:
    report = parse(
        chain,
        HEADER.replace(";", ","),
        'om,13-100001-25,uitspraak-geregistreerd,21-07-2025,"griffie, rechtbank",2025-07-18',
    )
    assert report.delimiter == "," and report.refusals == ()
    assert report.accepted[0].entry.registered_by == "griffie, rechtbank"


def test_a_cp1252_export_is_read_and_reported(chain: Chain) -> None:
    line = GOOD.replace("parket Amsterdam", "parket 's-Hertogenbosch, Justitiële zaken")
    data = f"{HEADER}\n{line}\n".encode("cp1252")
    report = parse_csv(data, mapping(chain), chain, now=NOW)
    assert report.encoding == "cp1252"
    assert "not UTF-8" in report.notes[0]
    assert report.accepted[0].entry.registered_by.endswith("Justitiële zaken")


def test_every_refused_row_is_named_with_line_column_and_reason(chain: Chain) -> None:
    rows = [
        HEADER,
        GOOD,  # 2: fine
        GOOD.replace("OM;", "Ministerie;"),  # 3: unknown partner
        GOOD.replace("uitspraak-geregistreerd", "vonnis-geregistreerd"),  # 4: unknown type
        GOOD.replace("OM;", "politie;"),  # 5: the police never send it
        GOOD.replace("13-100001-25", ""),  # 6: missing case number
        GOOD.replace("21-07-2025", "31-06-2025"),  # 7: bad date
        GOOD.replace("21-07-2025", "01-01-2030"),  # 8: in the future
        GOOD.replace(";18-07-2025", ";"),  # 9: missing business-key field
        GOOD,  # 10: duplicate of line 2
        GOOD.replace("100001", "100002"),  # 11: already registered
    ]
    seen: list[Sequence[tuple[str, str]]] = []

    def registered(keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        seen.append(keys)
        return {k: 41 for k in keys if k[1].startswith(key_of_line_11)}

    from ketenherstel.manual import business_key_digest

    key_of_line_11 = business_key_digest(
        "nl.strafrechtketen.registratie.uitspraak-geregistreerd.v1|13-100002-25|2025-07-18"
    )
    report = parse(chain, *rows, registered=registered)
    assert [r.line for r in report.accepted] == [2]
    got = [(r.line, r.column, r.reason) for r in report.refusals]
    assert [(line, column) for line, column, _ in got] == [
        (3, "Partij"),
        (4, "Soort"),
        (5, "Partij"),
        (6, "Parketnummer"),
        (7, "Datum"),
        (8, "Datum"),
        (9, "Uitspraakdatum"),
        (10, "Parketnummer"),
        (11, "Parketnummer"),
    ]
    reasons = [reason for _, _, reason in got]
    assert reasons[0].startswith("unknown partner 'Ministerie'")
    assert reasons[1].startswith("unknown type 'vonnis-geregistreerd'")
    assert reasons[2].startswith("politie never sends uitspraak-geregistreerd")
    assert reasons[3] == "missing case number"
    assert reasons[4].startswith("bad date '31-06-2025'")
    assert reasons[5].endswith("is in the future")
    assert reasons[6] == "missing business-key field judgmentDate"
    assert reasons[7] == "duplicate of line 2: same partner, type and business key"
    assert reasons[8] == "already registered as manual record 41"
    assert report.refused_rows == 9 and report.rows == 11 - 1


def test_a_date_cell_with_a_control_character_is_refused_not_stripped(chain: Chain) -> None:
    """A vertical tab or a file separator after a date was stripped as a space."""
    report = parse(
        chain,
        HEADER,
        GOOD.replace("21-07-2025", "21-07-2025\x0b"),
        GOOD.replace("13-100001-25", "13-100002-25").replace(";18-07-2025", ";18-07-2025\x1c"),
        GOOD.replace("13-100001-25", "13-100003-25").replace("parket Amsterdam", "  "),
        doc={**MAPPING, "defaults": {"role": "griffie"}},
    )
    assert [(r.line, r.column, r.reason) for r in report.refusals] == [
        (
            2,
            "Datum",
            "bad date '21-07-2025\\x0b': it holds a control or invisible character (U+000B)",
        ),
        (3, "Uitspraakdatum", "judgmentDate holds a control or invisible character (U+001C)"),
    ]
    assert [row.line for row in report.accepted] == [4]  # a blank cell takes the default


def test_line_numbers_count_multi_line_cells_and_blank_rows(chain: Chain) -> None:
    report = parse(
        chain,
        HEADER,
        GOOD.replace("parket Amsterdam", '"parket\nAmsterdam"'),  # lines 2-3
        "",  # line 4: skipped
        GOOD.replace("21-07-2025", "bad"),  # line 5
    )
    assert report.rows == 2
    # A role is one line: the cell of lines 2-3 is refused at the row's first line.
    assert [r.line for r in report.refusals] == [2, 5]
    assert "U+000A" in report.refusals[0].reason


def test_a_file_marked_utf8_with_a_cp1252_byte_is_refused_as_mixed(chain: Chain) -> None:
    """It was read as cp1252, the mark became 'ï»¿' in the first column's name, and the
    error said column 'Partij' was not in the header."""
    data = ("\ufeff" + HEADER + "\r\n").encode() + GOOD.replace("parket", "parket é").encode(
        "cp1252"
    )
    with pytest.raises(CsvFileError) as caught:
        parse_csv(data, mapping(chain), chain, now=NOW)
    assert "starts with the UTF-8 mark (BOM) but byte" in str(caught.value)
    assert "mixes two encodings" in str(caught.value)


def test_a_quote_never_closed_refuses_the_file_not_the_rows_after_it(chain: Chain) -> None:
    """It ran on to the end of the file: one row read, the rows after it swallowed into its
    last cell and never registered, and the import said all was well."""
    with pytest.raises(CsvFileError) as caught:
        parse(
            chain,
            HEADER,
            GOOD.replace("parket Amsterdam", '"parket Amsterdam'),  # line 2: never closed
            GOOD.replace("13-100001-25", "13-100002-25"),
            GOOD.replace("13-100001-25", "13-100003-25"),
        )
    assert str(caught.value).startswith("line 2: a quoted value")
    assert "never closed" in str(caught.value)


def test_short_rows_are_padded_and_long_rows_refused(chain: Chain) -> None:
    report = parse(chain, HEADER, "OM;13-100001-25", GOOD + ";Amsterdam, Noord;extra")
    assert {r.line for r in report.refusals} == {2, 3}
    assert any("unquoted" in r.reason for r in report.refusals if r.line == 3)
    assert any(r.reason == "missing date (when the work was done)" for r in report.refusals)


def test_defaults_fill_columns_a_file_does_not_have(chain: Chain) -> None:
    doc = {
        "columns": {"case": "Parketnummer", "when": "Datum"},
        "fields": {"judgmentDate": "Uitspraakdatum"},
        "defaults": {"partner": "om", "type": "uitspraak-geregistreerd", "role": "parket"},
    }
    report = parse(
        chain, "Parketnummer,Datum,Uitspraakdatum", "13-100001-25,21-07-2025,18-07-2025", doc=doc
    )
    assert report.refusals == ()
    assert report.accepted[0].entry.registered_by == "parket"


def test_a_fixed_type_whose_key_field_is_not_mapped_is_refused_up_front(chain: Chain) -> None:
    """Every row would be refused for the same missing field: the mapping is, once."""
    doc = {
        "columns": {"case": "Parketnummer", "when": "Datum"},
        "defaults": {"partner": "om", "type": "uitspraak-geregistreerd", "role": "parket"},
    }
    with pytest.raises(MappingError) as caught:
        ColumnMapping.from_dict(doc, chain)
    [problem] = caught.value.problems
    assert problem.column == "mapping.fields.judgmentDate"
    assert "uitspraak-geregistreerd" in problem.reason and "map it to a column" in problem.reason
    # A type from a column may differ per row: its fields are checked per row, as before.
    per_row = {**doc, "columns": {**doc["columns"], "type": "Soort"}}
    assert ColumnMapping.from_dict(per_row, chain).fields == {}


def test_a_mapped_column_missing_from_the_header_is_named_up_front(chain: Chain) -> None:
    with pytest.raises(MappingError) as caught:
        parse(chain, HEADER.replace("Datum", "Datum registratie"), GOOD)
    [problem] = caught.value.problems
    assert problem.column == "mapping.columns.when"
    assert "'Datum' is not in the header" in problem.reason
    assert "'Datum registratie'" in problem.reason


def test_a_broken_mapping_lists_every_fault(chain: Chain) -> None:
    doc = {
        "columns": {"partner": "P", "kind": "K", "when": ""},
        "fields": {"verdict": "V"},
        "defaults": {"partner": "ministerie", "case": "1"},
        "extra": 1,
    }
    with pytest.raises(MappingError) as caught:
        ColumnMapping.from_dict(doc, chain)
    fields = sorted(p.column for p in caught.value.problems)
    assert fields == [
        "mapping.columns.case",
        "mapping.columns.kind",
        "mapping.columns.role",
        "mapping.columns.type",
        "mapping.columns.when",
        "mapping.columns.when",
        "mapping.defaults.case",
        "mapping.defaults.partner",
        "mapping.extra",
        "mapping.fields.verdict",
    ]


def test_unreadable_and_empty_files_are_refused(chain: Chain) -> None:
    with pytest.raises(CsvFileError, match="empty"):
        parse_csv(b"", mapping(chain), chain, now=NOW)
    with pytest.raises(CsvFileError, match="neither UTF-8 nor cp1252"):
        parse_csv(HEADER.encode() + b"\n\x81\x8d\n", mapping(chain), chain, now=NOW)
    with pytest.raises(CsvFileError, match="more than 1 rows"):
        parse(chain, HEADER, GOOD, GOOD, max_rows=1)
    # A first line of one field past the csv module's limit (131,072 characters)
    with pytest.raises(CsvFileError, match="line 1: the file is not valid CSV"):
        parse_csv(b"a;" * 200_000 + b"\n", mapping(chain), chain, now=NOW)


def test_cli_options_override_the_mapping_file() -> None:
    doc = merge_options(
        MAPPING, ["when=Registratiedatum", "fields.judgmentDate=Datum uitspraak"], ["role=griffie"]
    )
    assert doc["columns"]["when"] == "Registratiedatum"  # type: ignore[index]
    assert doc["columns"]["case"] == "Parketnummer"  # type: ignore[index]
    assert doc["fields"] == {"judgmentDate": "Datum uitspraak"}
    assert doc["defaults"] == {"role": "griffie"}
    with pytest.raises(MappingError, match="options"):
        merge_options(None, ["nothing"], [])


def test_an_option_given_twice_with_two_values_is_refused_naming_both() -> None:
    """--map when=A --map when=B kept the last one silently: the import then read the wrong
    column. The same value twice is no conflict."""
    for maps, defaults, says in [
        (["when=Registratiedatum", "when=Datum"], [], "--map when is given twice"),
        (["fields.judgmentDate=A", "fields.judgmentDate=B"], [], "fields.judgmentDate"),
        ([], ["role=griffie", "role=parket"], "--default role is given twice"),
    ]:
        with pytest.raises(MappingError) as caught:
            merge_options(MAPPING, maps, defaults)
        reasons = [p.reason for p in caught.value.problems]
        assert len(reasons) == 1 and says in reasons[0], reasons
    doc = merge_options(MAPPING, ["when=Datum", "when= Datum"], ["role=griffie"])
    assert doc["columns"]["when"] == "Datum"  # type: ignore[index]
    # A --map and a --default of the same name are different things: both kept.
    doc = merge_options(None, ["role=Rol"], ["role=griffie"])
    assert doc["columns"] == {"role": "Rol"} and doc["defaults"] == {"role": "griffie"}


def test_a_judgment_date_cell_after_today_is_refused_naming_its_column(chain: Chain) -> None:
    report = parse(chain, HEADER, GOOD.replace(";18-07-2025", ";31-12-2199"))
    assert [(r.line, r.column) for r in report.refusals] == [(2, "Uitspraakdatum")]
    assert report.refusals[0].reason.startswith("judgmentDate 31-12-2199 is in the future")
    assert report.accepted == ()


@pytest.mark.parametrize(
    "data",
    [
        f"{HEADER}\n{GOOD}\n".encode("utf-16"),  # with its byte order mark, little-endian
        codecs.BOM_UTF16_BE + f"{HEADER}\n{GOOD}\n".encode("utf-16-be"),
        f"{HEADER}\n{GOOD}\n".encode("utf-16-le"),  # without a mark: NUL bytes between letters
        f"{HEADER}\n{GOOD}\n".encode("utf-16-be"),
    ],
    ids=["bom-le", "bom-be", "le", "be"],
)
def test_a_utf16_export_is_refused_as_utf16_not_blamed_on_the_mapping(
    chain: Chain, data: bytes
) -> None:
    """A spreadsheet's "Unicode text" is UTF-16. With its mark it was read as cp1252, without
    as UTF-8 (a NUL byte is UTF-8): either way the header was letters and NUL bytes and the
    error said the mapping names columns the file does not have."""
    with pytest.raises(CsvFileError) as caught:
        parse_csv(data, mapping(chain), chain, now=NOW)
    assert "UTF-16" in caught.value.detail and "not UTF-8" in caught.value.detail
    assert "export it again as CSV UTF-8" in caught.value.detail
    assert caught.value.problems == []


def test_a_cp1252_file_the_mapping_does_not_fit_says_it_was_read_as_cp1252(chain: Chain) -> None:
    """The note that the file is not UTF-8 came with a good import only: with a header the
    mapping does not fit, the error blamed the mapping alone."""
    data = f"{HEADER.replace('door', 'dóór')}\n{GOOD}\n".encode("cp1252")
    with pytest.raises(MappingError) as caught:
        parse_csv(data, mapping(chain), chain, now=NOW)
    assert [p.column for p in caught.value.problems] == ["mapping.columns.role"]
    [note] = caught.value.notes
    assert "not UTF-8" in note and "read as cp1252" in note
    # A UTF-8 file that does not fit has no such note.
    with pytest.raises(MappingError) as caught:
        parse_csv(data.decode("cp1252").encode(), mapping(chain), chain, now=NOW)
    assert caught.value.notes == ()


@pytest.mark.parametrize("rows", [[], [""], ["", ";;;;;", " "]], ids=["none", "blank", "blanks"])
def test_a_header_without_rows_is_refused_as_no_rows(chain: Chain, rows: list[str]) -> None:
    """A dry run said "0 rows would be registered" (exit 0) and the import "no rows to
    register" (exit 2): an export with only its header is most likely a mistake."""
    with pytest.raises(CsvFileError) as caught:
        parse(chain, HEADER, *rows)
    assert caught.value.detail.startswith("no rows: the file has a header and no rows below it")


def test_progress_counts_the_lines_read_up_to_all_of_them(chain: Chain) -> None:
    rows = [GOOD.replace("13-100001-25", f"13-{100001 + i}-25") for i in range(2500)]
    seen: list[tuple[int, int]] = []
    report = parse(chain, HEADER, *rows, progress=lambda done, total: seen.append((done, total)))
    assert len(report.accepted) == 2500
    assert {total for _, total in seen} == {2501}  # the header and 2,500 rows
    assert seen[0][0] <= 1 and seen[-1] == (2501, 2501) and len(seen) >= 3
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_a_column_the_header_gives_twice_is_not_called_missing(chain: Chain) -> None:
    """The problem said 'appears 2 times', the summary 'the mapping names columns the file does
    not have' (a review)."""
    twice = HEADER + ";Partij"
    with pytest.raises(MappingError) as caught:
        parse_csv(f"{twice}\n{GOOD};OM\n".encode(), mapping(chain), chain, now=NOW)
    assert caught.value.detail == (
        "the mapping names columns the file's header gives more than once"
    )
    assert [p.reason for p in caught.value.problems] == [
        "column 'Partij' appears 2 times in the header"
    ]
    both = twice.replace("Soort", "Type")
    with pytest.raises(MappingError) as caught:
        parse_csv(f"{both}\n{GOOD};OM\n".encode(), mapping(chain), chain, now=NOW)
    assert caught.value.detail == (
        "the mapping names columns the file does not have, or has more than once"
    )
