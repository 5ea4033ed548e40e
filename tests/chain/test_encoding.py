"""A chain file or schema file that is not UTF-8 is said to be so, at the line and column of
its first byte that is not: it was 'cannot read the chain file …: 'utf-8' codec can't decode
byte 0xeb in position 2325: invalid continuation byte', put at line 1, column 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketenherstel.chain import check_chain_file
from tests.chain.chain_files import HEARING


def first_non_ascii(text: str) -> tuple[int, int]:
    """(line, column) of the first character that is not ASCII, both from 1."""
    for number, line in enumerate(text.splitlines(), start=1):
        for column, char in enumerate(line, start=1):
            if ord(char) > 127:
                return number, column
    raise AssertionError("all ASCII")


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_a_chain_file_in_latin1_is_named_not_utf8_at_its_first_such_letter(
    chain_file: Path, encoding: str
) -> None:
    text = chain_file.read_text(encoding="utf-8")
    line, column = first_non_ascii(text)
    assert line > 1  # the built-in chain's Dutch names (justitiële) come further down
    chain_file.write_bytes(text.encode(encoding))
    [problem] = check_chain_file(chain_file)
    assert problem.location == f"chain.yaml:{line}:{column}"
    char = text.splitlines()[line - 1][column - 1]
    assert problem.message.startswith(
        f"not UTF-8 text: byte {char.encode(encoding)[0]:#04x} at line {line}, column {column} "
        "(byte "
    )
    assert problem.message.endswith("it may be cp1252 (Windows-1252) or Latin-1; save it as UTF-8")


@pytest.mark.parametrize(
    ("encoding", "location", "says"),
    [
        ("utf-16", "chain.yaml:1:1", "the file is UTF-16 (it starts with UTF-16's byte order"),
        ("utf-16-le", "chain.yaml:1:2", "a NUL byte at line 1, column 2 (byte 1 of the file)"),
    ],
)
def test_a_chain_file_in_utf16_is_named_as_such(
    chain_file: Path, encoding: str, location: str, says: str
) -> None:
    """PyYAML reads UTF-16 by its byte order mark; without one, it said 'unacceptable
    character #x0000' at a position."""
    chain_file.write_bytes(chain_file.read_text(encoding="utf-8").encode(encoding))
    [problem] = check_chain_file(chain_file)
    assert problem.location == location and says in problem.message


def test_a_schema_file_in_latin1_is_named_at_its_own_line_and_column(chain_file: Path) -> None:
    schema = chain_file.parent / "schemas" / f"{HEARING}.json"
    schema.write_bytes(
        '{\n  "type": "object",\n  "description": "zitting café"\n}\n'.encode("cp1252")
    )
    problems = check_chain_file(chain_file)
    assert [p.location for p in problems] == [f"schemas/{HEARING}.json:3:30"]
    assert problems[0].message.startswith("not UTF-8 text: byte 0xe9")
