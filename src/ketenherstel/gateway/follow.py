"""Following a log directory as it grows (decision 0012): every poll reads the complete new
lines of each file from where the last poll stopped; a file renamed by a rotation is followed by
its inode, so nothing is read twice; a file replaced (another inode, or shorter than what was
read) is read from its start; a gzip file is read once, whole, when
it appears complete, and a gzip of a file already read (a rotation compressed) only from where
that file was read to. A gzip file that ends mid-stream is being written (logrotate compressing):
it is read at a later poll, or, when it has not grown since the last one, read as far as it goes
and reported as truncated, as `scan` does. Findings are reported as they happen; a session's
own findings (hijack, no login, used after its logout, leak then replay) once it has ended:
logged out, or idle for ``idle`` seconds of log time; a session used again after that (a
replayed token) once it ends again, with what is new; the rest when following stops."""

from __future__ import annotations

import contextlib
import fnmatch
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ketenherstel.gateway.parse import LineParser, detect_date_order
from ketenherstel.gateway.watch import (
    SNIFF_CHARS,
    Finding,
    GatewayInputError,
    Session,
    TruncatedFile,
    Watch,
    bounded_lines,
    read_lines,
    session_key,
    without_bom,
)

__all__ = ["Follower"]

_GZIP_MIN = 20  # bytes: a gzip member's header (10) and trailer (8) with the least data


@dataclass(slots=True)
class _State:
    inode: int
    offset: int
    parser: LineParser | None = None
    first: bytes | None = None
    """The file's first line, as read"""
    waiting: bool = False
    """A gzip file that ended mid-stream at its size ``offset``: not read yet."""


class Follower:
    def __init__(
        self,
        watch: Watch,
        directory: Path,
        *,
        pattern: str = "*",
        on_finding: Callable[[Finding], None] = lambda _f: None,
        idle: float = 1800.0,
    ) -> None:
        if not directory.is_dir():
            raise GatewayInputError(f"{directory}: not a directory")
        self.watch = watch
        # Files are named by their full path, however the directory was typed: a finding is
        # the same one that a scan of the file gives (the register's ids come from evidence).
        self.directory = directory.resolve()
        self.pattern = pattern
        self.idle = idle
        # Sessions whose findings were reported, with what was reported: one used again (a
        # token replayed after its logout or a long silence) is looked at again when it ends
        # again, and what is new is reported then, not when following stops (a review).
        self.reported: dict[tuple[str, str], set[tuple[str, ...]]] = {}
        # Sessions not yet reported, and how many of the ledger's sessions have been seen: a
        # poll looks at the open ones and the new ones, not at every session ever read.
        self._open: dict[tuple[str, str], Session] = {}
        self._seen_sessions = 0
        # The first line of every file read, and how far it was read: a compressed copy of one
        # (a rotation) is read only past that point.
        self.read_to: dict[bytes, int] = {}
        self.on_finding = on_finding
        self.files: dict[Path, _State] = {}
        self.lines = 0

    def _feed(self, parser: LineParser, name: str, offset: int, line: str) -> None:
        r = self.watch.result
        r.lines += 1
        if not line.strip():
            return
        event = parser.parse(line, name, offset)
        if event is None:
            r.unparsed += 1
            r.keep_unparsed(name, offset, line)
            return
        r.events += 1
        before = len(r.findings)
        self.watch.feed(event)
        for finding in r.findings[before:]:
            self.on_finding(finding)
        sid = event.fields.get("SessionId")
        if sid and self.reported:
            key = session_key(sid, event.fields.get("Context", ""))
            if key in self.reported and key not in self._open:
                self._open[key] = r.sessions[key]  # used again after it was reported

    def poll(self) -> int:
        """Read what is new; returns the number of lines read."""
        current: dict[Path, tuple[int, int]] = {}
        for path in sorted(p for p in self.directory.iterdir() if p.is_file()):
            if fnmatch.fnmatch(path.name, self.pattern):
                try:
                    stat = path.stat()
                except OSError:
                    continue  # rotated away between listing and reading
                current[path] = (stat.st_ino, stat.st_size)
        # A rotated file keeps its inode under a new name: its state follows it.
        by_inode = {inode: path for path, (inode, _size) in current.items()}
        for old, state in list(self.files.items()):
            if current.get(old, (None, 0))[0] == state.inode:
                continue
            new = by_inode.get(state.inode)
            del self.files[old]
            if new is not None and new not in self.files:
                self.files[new] = state
        read = 0
        for path, (inode, size) in current.items():
            known = self.files.get(path)
            if path.suffix == ".gz":
                if known is not None and known.inode == inode and not known.waiting:
                    continue  # read
                if not _started(path):  # made, not yet written: wait, however long
                    self.files[path] = _State(inode, size, waiting=True)
                    continue
                grew = known is None or known.inode != inode or known.offset != size
                if grew and not _complete(path):
                    self.files[path] = _State(inode, size, waiting=True)  # being written
                    continue
                self.files[path] = _State(inode, size)
                read += self._whole(path)
                continue
            if known is None or known.inode != inode or size < known.offset:
                known = self.files[path] = _State(inode, 0)
            if size > known.offset:
                read += self._tail(path, known)
        self.lines += read
        self._ended_sessions()
        return read

    def _ended_sessions(self) -> None:
        """Report the findings of each session that has ended since the last poll."""
        r = self.watch.result
        newest = r.last
        new = len(r.sessions) - self._seen_sessions  # a dict keeps its keys in insertion order
        for key in reversed(list(itertools.islice(reversed(r.sessions), new))):
            self._open[key] = r.sessions[key]
        self._seen_sessions = len(r.sessions)
        for key, session in list(self._open.items()):
            idle = (
                newest is not None
                and session.last_seen is not None
                and newest - session.last_seen >= self.idle
            )
            if session.logout_at is not None or idle:
                said = self.reported.setdefault(key, set())
                del self._open[key]
                for finding in self.watch.session_findings(session):
                    what = _what(finding)
                    if what not in said:
                        said.add(what)
                        self.on_finding(finding)

    def _whole(self, path: Path) -> int:
        head: list[str] = []
        with contextlib.suppress(TruncatedFile):  # read below as far as it goes, and reported
            for _offset, line in read_lines(path):
                head.append(line[:SNIFF_CHARS] if head else line)
                if len(head) >= 10_000:
                    break
        parser = LineParser(detect_date_order(head))
        # A compressed rotation of a file read before: only what was not read then (up to a
        # line's start: a file is read to the end of its last whole line).
        done = self.read_to.get(head[0].encode("latin-1"), 0) if head else 0
        n = 0
        try:
            for offset, line in read_lines(path):
                if offset < done:
                    continue
                self._feed(parser, str(path), offset, line)
                n += 1
        except TruncatedFile as exc:  # it stopped growing mid-stream: damaged
            finding = self.watch.truncated_finding(str(path), exc.offset, str(exc))
            self.watch.result.findings.append(finding)
            self.on_finding(finding)
        return n

    def _tail(self, path: Path, state: _State) -> int:
        """Read the whole lines written since the last poll, a line at a time (a line without
        its end yet waits for the next poll)."""
        if state.parser is None:
            head = self._head(path, state.offset)
            if not head:
                return 0  # no whole line yet: the date order waits for one
            state.parser = LineParser(detect_date_order(head))
        offset, n = state.offset, 0
        with path.open("rb") as fh:
            fh.seek(offset)
            for raw, length, complete in bounded_lines(fh):
                if not complete:
                    break
                if offset == 0:
                    state.first = raw
                line = without_bom(raw, offset).decode("latin-1")
                self._feed(state.parser, str(path), offset, line)
                offset += length
                n += 1
        state.offset = offset
        if state.first is not None:
            self.read_to[state.first] = offset
        return n

    @staticmethod
    def _head(path: Path, offset: int) -> list[str]:
        """The starts of the first whole lines from ``offset``: what the date order is
        guessed from."""
        head: list[str] = []
        with path.open("rb") as fh:
            fh.seek(offset)
            for raw, length, complete in bounded_lines(fh):
                if not complete or len(head) >= 10_000:
                    break
                head.append(without_bom(raw, offset)[:SNIFF_CHARS].decode("latin-1"))
                offset += length
        return head


def _what(finding: Finding) -> tuple[str, ...]:
    """What a session's finding says, to report it once: its rule and address (a session used
    on after its logout is said once, not at each further use; a move to a new address is
    new)."""
    return (finding.rule, finding.address)


def _started(path: Path) -> bool:
    """Whether a .gz file holds more than a file made and not yet written (logrotate, cp): at
    least a gzip header and trailer, or two bytes that are no gzip (read as they are)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(_GZIP_MIN)
    except OSError:
        return False
    return len(head) >= _GZIP_MIN or (len(head) >= 2 and head[:2] != b"\x1f\x8b")


def _complete(path: Path) -> bool:
    """Whether a gzip file's stream ends as a gzip stream ends (read through, nothing kept)."""
    try:
        for _ in read_lines(path):
            pass
    except TruncatedFile:
        return False
    return True
