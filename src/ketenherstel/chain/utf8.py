"""Files a person gives that must be UTF-8 text, and what to say when one is not.

A CSV a spreadsheet saved as "CSV" (not "CSV UTF-8") is cp1252 (Windows-1252); one saved as
"Unicode text" is UTF-16. Read as UTF-8 such a file gave a parse error that named something
else: a field count (UTF-16's NUL bytes between the letters), a line DuckDB counted its own
way, or Python's ``'utf-8' codec can't decode byte 0xe9 in position 2325``. Here the answer
says the file is not UTF-8, where (line, column, byte of the file) and what it may be instead:

* :func:`not_utf8` checks bytes already read;
* :func:`scan_utf8` streams a file of any size, reading it once in blocks of a MiB;
* :func:`read_utf8` reads a file as text (a UTF-8 byte order mark is no text) or raises
  :class:`NotUtf8Error` (a ``ValueError``) with :class:`NotUtf8`.

A NUL byte is UTF-8, but no text a person gives holds one; in the first block it is read as
the mark of UTF-16 text without a byte order mark (ASCII letters each followed by a NUL).

It is here, in the chain package, because the chain reads only the standard library and its
own modules (DESIGN.md: it uses nothing of ours) and reads files people write (a chain file,
its schemas); the packages that read other such files, the go-live plans and forecast CSVs
(``golive``) and the reconciliation's ledgers (``reconcile``), use the chain already.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NotUtf8", "NotUtf8Error", "not_utf8", "read_utf8", "scan_utf8"]

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_UTF8_BOM = codecs.BOM_UTF8
_BLOCK = 1 << 20
_SAVE = "save it as UTF-8"
_CARRY = 1 << 16


@dataclass(frozen=True, slots=True)
class NotUtf8:
    """Where a file stops being UTF-8 text, and what it may be instead."""

    line: int
    """The line of the first byte that is not UTF-8 (from 1, as an editor counts them)."""
    column: int
    """Its column on that line, in characters (from 1)."""
    offset: int
    """Its byte in the file (from 0)."""
    message: str
    """A sentence without the file's name: ``not UTF-8 text: byte 0xe9 at line 6, ...``."""


class NotUtf8Error(ValueError):
    """A file is not UTF-8 text; ``problem`` says where."""

    def __init__(self, path: Path, problem: NotUtf8) -> None:
        super().__init__(f"{path}: {problem.message}")
        self.path = path
        self.problem = problem


def not_utf8(data: bytes) -> NotUtf8 | None:
    """Why ``data`` (a whole file) is not UTF-8 text, or None when it is."""
    found = _head(data)
    if found is not None:
        return found
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _bad_byte(data, exc.start, 0, 0)
    return None


def scan_utf8(path: Path, *, whole: bool = True) -> NotUtf8 | None:
    """Why the file at ``path`` is not UTF-8 text, or None when it is (or cannot be read: the
    caller's own reading says why). Reads the file once, in blocks of a MiB; without
    ``whole``, only its first block (UTF-16, or a cp1252 letter near the top, cheaply)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0  # bytes of the file before ``block``
    lines = 0  # line breaks before ``block``
    carry = b""  # the line that ``block`` continues (a longer line: its last 64 KiB)
    try:
        with path.open("rb") as fh:
            block = fh.read(_BLOCK)
            found = _head(block)
            if found is not None:
                return found
            while True:
                try:
                    decoder.decode(block, final=not block)
                except UnicodeDecodeError as exc:
                    # The decoder counts from the bytes it kept of the block before.
                    at = offset - (len(exc.object) - len(block)) + exc.start
                    base = offset - len(carry)
                    return _bad_byte(carry + block, at - base, lines, base)
                if not block or not whole:
                    return None
                lines += block.count(b"\n")
                offset += len(block)
                cut = block.rfind(b"\n")
                carry = (carry + block if cut < 0 else block[cut + 1 :])[-_CARRY:]
                block = fh.read(_BLOCK)
    except OSError:
        return None


def read_utf8(path: Path, *, bom: bool = True) -> str:
    """The text of ``path``; with ``bom``, a UTF-8 byte order mark at its start is dropped.
    Raises ``OSError`` when it cannot be read and :class:`NotUtf8Error` when it is not UTF-8."""
    data = path.read_bytes()
    problem = not_utf8(data)
    if problem is not None:
        raise NotUtf8Error(path, problem)
    return data.decode("utf-8-sig" if bom else "utf-8")


def _head(data: bytes) -> NotUtf8 | None:
    """UTF-16 by its byte order mark, or by a NUL byte in the first block."""
    if data.startswith(_UTF16_BOMS):
        return NotUtf8(
            1,
            1,
            0,
            "not UTF-8 text: the file is UTF-16 (it starts with UTF-16's byte order mark); "
            + _SAVE,
        )
    nul = data.find(b"\x00", 0, _BLOCK)
    if nul < 0:
        return None
    line, column = _position(data, nul, 0)
    return NotUtf8(
        line,
        column,
        nul,
        f"not UTF-8 text: a NUL byte at line {line}, column {column} (byte {nul} of the file), "
        f"as UTF-16 text has between its letters; {_SAVE}",
    )


def _bad_byte(text: bytes, at: int, lines_before: int, base: int) -> NotUtf8:
    """The byte at ``at`` of ``text``, which starts at byte ``base`` of the file after
    ``lines_before`` line breaks (a character cut off by the file's end: its first byte)."""
    line, column = _position(text, at, lines_before)
    where = base + at
    byte = text[at]
    maybe = "; it may be cp1252 (Windows-1252) or Latin-1" if byte >= 0x80 else ""
    return NotUtf8(
        line,
        column,
        where,
        f"not UTF-8 text: byte {byte:#04x} at line {line}, column {column} (byte {where} of the "
        f"file){maybe}; {_SAVE}",
    )


def _position(text: bytes, at: int, lines_before: int) -> tuple[int, int]:
    """(line, column) of byte ``at``, both from 1; the column in characters, a UTF-8 byte
    order mark at the file's start not counted (in a line longer than 64 KiB, streamed, the
    column counts from the start of its last 64 KiB)."""
    line_start = text.rfind(b"\n", 0, at) + 1
    before = text[line_start:at]
    if lines_before == 0 and line_start == 0:
        before = before.removeprefix(_UTF8_BOM)
    column = len(before.decode("utf-8", errors="replace")) + 1
    return lines_before + text.count(b"\n", 0, at) + 1, column
