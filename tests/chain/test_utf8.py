"""ketenherstel.utf8: where a file stops being UTF-8 text, the same whether it is read whole
or streamed in blocks (a character cut by a block's end, a line longer than a block)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketenherstel.chain import utf8
from ketenherstel.chain.utf8 import NotUtf8Error, not_utf8, read_utf8, scan_utf8

PIECES = st.one_of(
    st.sampled_from([b"a", b"\n", b",", "é".encode(), "€".encode(), "😀".encode(), b"\r\n"]),
    st.binary(min_size=1, max_size=2),  # now and then a byte that is no UTF-8
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pieces=st.lists(PIECES, max_size=60), block=st.integers(2, 9))
def test_streamed_in_blocks_it_finds_what_a_whole_read_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pieces: list[bytes], block: int
) -> None:
    data = b"".join(pieces)
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    with monkeypatch.context() as patch:
        patch.setattr(utf8, "_BLOCK", block)
        whole, streamed = not_utf8(data), scan_utf8(path)
    assert streamed == whole
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        assert whole is not None
        if b"\x00" not in data[:block] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            assert whole.offset == exc.start
            assert whole.line == data.count(b"\n", 0, exc.start) + 1
            start = data.rfind(b"\n", 0, exc.start) + 1
            assert whole.column == len(data[start : exc.start].decode()) + 1
    else:
        assert (whole is None) == (b"\x00" not in data[:block])


@pytest.mark.parametrize(
    ("data", "line", "column", "says"),
    [
        (
            "a,b\n1,café\n".encode("cp1252"),
            2,
            6,
            "not UTF-8 text: byte 0xe9 at line 2, column 6 (byte 9 of the file); it may be "
            "cp1252 (Windows-1252) or Latin-1; save it as UTF-8",
        ),
        (
            "a,b\n".encode("utf-16"),
            1,
            1,
            "not UTF-8 text: the file is UTF-16 (it starts with UTF-16's byte order mark); "
            "save it as UTF-8",
        ),
        (
            "a,b\n".encode("utf-16-be"),
            1,
            1,
            "not UTF-8 text: a NUL byte at line 1, column 1 (byte 0 of the file), as UTF-16 "
            "text has between its letters; save it as UTF-8",
        ),
        # the byte order mark of UTF-8 is no column
        (b"\xef\xbb\xbfab\xff", 1, 3, "not UTF-8 text: byte 0xff at line 1, column 3 (byte 5"),
    ],
)
def test_it_says_what_and_where(data: bytes, line: int, column: int, says: str) -> None:
    problem = not_utf8(data)
    assert problem is not None
    assert (problem.line, problem.column) == (line, column)
    assert problem.message.startswith(says)


def test_read_utf8_drops_the_mark_and_refuses_another_encoding(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b\n")
    assert read_utf8(path) == "a,b\n"
    assert read_utf8(path, bom=False) == "\ufeffa,b\n"
    path.write_bytes("a,é\n".encode("latin-1"))
    with pytest.raises(NotUtf8Error) as caught:
        read_utf8(path)
    assert str(caught.value) == f"{path}: {caught.value.problem.message}"
    assert caught.value.problem.line == 1 and caught.value.problem.column == 3


def test_only_the_first_block_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(utf8, "_BLOCK", 8)
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\n1,2\n3,\xe9\n")
    assert scan_utf8(path, whole=False) is None
    found = scan_utf8(path)
    assert found is not None and (found.line, found.column, found.offset) == (3, 3, 10)
