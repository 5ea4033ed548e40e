"""Appliance triage (decision 0012): what a responder collected from a NetScaler, checked the way
the published triage scripts check it. Log analysis cannot see a webshell; this can.

The collection is a directory or a tar (``.tar``, ``.tar.gz``, ``.tgz``) holding any of:

- ``listing.txt``: ``find / -xdev -printf '%p|%u|%g|%m|%T@|%C@|%s\\n'`` (path, owner, group,
  octal mode, modification and change time as epoch seconds, size);
- ``ns.conf``, ``httpd.conf``, ``rc.netscaler``;
- crontabs: ``cron/tabs/<user>`` or ``crontab.<user>``;
- ``custom_checks.log``: the output of NCSC-NL's live-host check script, imported as it is.

Checks: PHP or XHTML files where none belong; root-owned SUID files under /var (and the setuid
shell /var/tmp/sh); files in the web directories whose change time lies far from their
modification time (a back-dated file); ``rc.netscaler`` starting interpreters or fetching code;
``httpd.conf`` letting PHP run under other extensions or with its protections commented out;
cron jobs of ``nobody`` and cron jobs that fetch or run code; NSPPE core dumps (a weak sign).
"""

from __future__ import annotations

import io
import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ketenherstel.gateway.watch import Evidence, Finding, GatewayInputError, without_bom

__all__ = ["Artefact", "checkable", "read_collection", "triage", "unreadable"]

_WEB_DIRS = ("/var/netscaler/", "/var/vpn/", "/netscaler/ns_gui/", "/var/ns_gui/")
_SCRIPT_EXT = (".php", ".xhtml", ".phtml", ".php5", ".pl")
_FETCH = re.compile(r"(?i)\b(python[0-9.]*|perl|curl|wget|nc|ncat|base64|bash -i|sh -i)\b|/tmp/")
_DAY = 86_400.0
# Where the appliance's own management GUI keeps its PHP: stock on a clean install.
_STOCK_SCRIPT_DIRS = ("/var/netscaler/gui/admin_ui/", "/netscaler/ns_gui/admin_ui/")
_CHECKED = ("listing.txt", "rc.netscaler", "httpd.conf", "custom_checks.log", "crontab")
_MAX_MEMBER = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Artefact:
    name: str
    """Its path in the collection (what the checks look at)."""
    data: bytes
    where: str = ""
    """What evidence names: the file's full path, or a tar's full path, ``!`` and the member,
    so that two appliances' collections never give one finding (the register's ids come from
    the evidence). Its name when not given."""

    @property
    def evidence_name(self) -> str:
        return self.where or self.name

    def lines(self) -> Iterator[tuple[int, str]]:
        offset = 0
        for raw in self.data.splitlines(keepends=True):
            yield offset, without_bom(raw, offset).decode("latin-1").rstrip("\r\n")
            offset += len(raw)


def read_collection(path: Path) -> list[Artefact]:
    """The artefacts of a directory or a tar; GatewayInputError for what cannot be read."""
    if path.is_dir():
        out = []
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            if file.stat().st_size > _MAX_MEMBER:
                raise GatewayInputError(f"{file}: larger than {_MAX_MEMBER // 2**20} MB")
            out.append(
                Artefact(str(file.relative_to(path)), file.read_bytes(), str(file.resolve()))
            )
        return out
    try:
        with tarfile.open(path, "r:*") as tar:
            out = []
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                if member.size > _MAX_MEMBER:
                    raise GatewayInputError(f"{path}: {member.name} is larger than 64 MB")
                fh = tar.extractfile(member)
                if fh is not None:
                    name = member.name.lstrip("./")
                    out.append(Artefact(name, fh.read(), f"{path.resolve()}!{name}"))
            _read_to_the_end(tar, path)
            return out
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise GatewayInputError(
            f"{path}: not a directory or a readable tar (truncated or damaged?): {exc}"
        ) from None


def _read_to_the_end(tar: tarfile.TarFile, path: Path) -> None:
    """Refuse a tar that was cut off: tarfile stops quietly at a header it cannot read whole,
    and a gzip cut off in its last block or trailer reads as complete. So the end-of-archive
    block must follow the last member, and the (compressed) stream is read to its end, where
    gzip, bzip2 and xz say that it ended early (EOFError) or is damaged."""
    fh = tar.fileobj
    if fh is None:
        return
    fh.seek(tar.offset)
    if fh.read(tarfile.BLOCKSIZE) != tarfile.NUL * tarfile.BLOCKSIZE:
        raise GatewayInputError(
            f"{path}: a truncated or damaged tar (no end-of-archive block after "
            f"{len(tar.getmembers())} members); copy the collection again"
        )
    while fh.read(1 << 20):
        pass


def _finding(
    rule: str,
    title: str,
    confidence: str,
    a: Artefact,
    offset: int,
    detail: str,
    at: float | None = None,
) -> Finding:
    evidence = [Evidence(a.evidence_name, offset)]
    return Finding(rule, title, confidence, at, detail=detail[:300], evidence=evidence)


_LISTING_FORMAT = (
    "path|owner|group|octal mode|mtime|ctime|size, as "
    "find / -xdev -printf '%p|%u|%g|%m|%T@|%C@|%s\\n' writes it"
)


def _listing_entry(line: str) -> tuple[str, str, int, float, float] | None:
    """A listing line's path, owner, mode, modification and change time; None for a line
    that is not in the listing's format."""
    parts = line.split("|")
    if len(parts) < 6:
        return None
    path, owner, _group, mode_text, mtime_text, ctime_text = parts[:6]
    try:
        return path, owner, int(mode_text, 8), float(mtime_text), float(ctime_text)
    except ValueError:
        return None


def _listing(a: Artefact) -> Iterator[Finding]:
    for offset, line in a.lines():
        entry = _listing_entry(line)
        if entry is None:
            continue
        path, owner, mode, mtime, ctime = entry
        lower = path.lower()
        web = lower.startswith(_WEB_DIRS)
        if web and lower.endswith(_SCRIPT_EXT) and not lower.startswith(_STOCK_SCRIPT_DIRS):
            yield _finding(
                "triage-script-in-web-dir",
                "A PHP or XHTML file where none belongs (a webshell?)",
                "high",
                a,
                offset,
                line,
                mtime,
            )
        if (
            mode & 0o4000
            and owner == "root"
            and (lower.startswith("/var/") or path == "/var/tmp/sh")
        ):
            yield _finding(
                "triage-suid", "A root-owned SUID file under /var", "high", a, offset, line, ctime
            )
        if web and abs(ctime - mtime) > _DAY:
            yield _finding(
                "triage-timestomp",
                "A file's change time lies far from its modification time (back-dated?)",
                "medium",
                a,
                offset,
                f"{line} (ctime-mtime {(ctime - mtime) / _DAY:.1f} days)",
                ctime,
            )
        if lower.startswith("/var/core/") and "/nsppe" in lower:
            yield _finding(
                "triage-nsppe-core",
                "An NSPPE core dump (a weak sign of exploitation)",
                "low",
                a,
                offset,
                line,
                mtime,
            )


def _rc(a: Artefact) -> Iterator[Finding]:
    for offset, line in a.lines():
        text = line.strip()
        if text and not text.startswith("#") and _FETCH.search(text):
            yield _finding(
                "triage-rc-netscaler",
                "rc.netscaler starts an interpreter or fetches code at boot",
                "high",
                a,
                offset,
                text,
            )


def _httpd(a: Artefact) -> Iterator[Finding]:
    for offset, line in a.lines():
        text = line.strip()
        m = re.search(r"(?i)(AddType|AddHandler)\s+application/x-httpd-php\S*\s+(.+)$", text)
        if m and not text.startswith("#"):
            extra = [e for e in m.group(2).split() if e.lower() not in (".php", ".phps", "php")]
            if extra:
                yield _finding(
                    "triage-httpd-php-extension",
                    "httpd.conf lets PHP run under other extensions",
                    "high",
                    a,
                    offset,
                    text,
                )
        if re.match(r"#\s*(Require all denied|php_flag engine off)", text):
            yield _finding(
                "triage-httpd-protection-off",
                "A protection in httpd.conf is commented out",
                "medium",
                a,
                offset,
                text,
            )


def _crontab(a: Artefact, user: str | None) -> Iterator[Finding]:
    """A user's crontab (``user``), or with None the system's (/etc/crontab, /etc/cron.d/*):
    there five time fields (or an ``@reboot``-like word), then the user, then the command."""
    for offset, line in a.lines():
        text = line.strip()
        if not text or text.startswith("#") or re.match(r"^[A-Z_]+=", text):
            continue
        runs_as = user
        if runs_as is None:
            fields = text.split(None, 2 if text.startswith("@") else 6)
            at = 1 if text.startswith("@") else 5
            runs_as = fields[at] if len(fields) > at else ""
        if runs_as == "nobody":
            yield _finding(
                "triage-cron-nobody", "A cron job runs as nobody", "high", a, offset, text
            )
        elif _FETCH.search(text):
            yield _finding(
                "triage-cron-fetch", "A cron job fetches or runs code", "medium", a, offset, text
            )


_NCSC_SECTION = re.compile(r"^=====\s*(.*?)\s*=====$")
_NCSC_CONFIDENCE = {"NSPPE core dumps": "low"}


def _ncsc(a: Artefact) -> Iterator[Finding]:
    section = ""
    for offset, line in a.lines():
        text = line.strip()
        m = _NCSC_SECTION.match(text)
        if m:
            section = m.group(1)
            continue
        if (
            not text
            or not section
            or section.startswith("Check script version")
            or "does not exist or is not setuid" in text
            or text.startswith("All checks completed")
        ):
            continue
        confidence = next(
            (c for key, c in _NCSC_CONFIDENCE.items() if section.startswith(key)), "high"
        )
        yield _finding(
            "ncsc-nl-check", f"NCSC-NL check script: {section}", confidence, a, offset, text
        )


class PathMatcher(Protocol):
    def match_path(self, path: str) -> list[Any]: ...


def unreadable(a: Artefact) -> str | None:
    """Why an artefact with a format of its own (the listing, NCSC-NL's output) has not one
    entry this module can read, or None. Read anyway it would give no findings, and a listing
    in another format (``ls -l``, a CSV) would pass for a clean appliance."""
    base = a.name.rsplit("/", 1)[-1]
    if base == "listing.txt" and not any(_listing_entry(line) for _, line in a.lines()):
        return f"{a.evidence_name}: no line in the listing's format ({_LISTING_FORMAT})"
    if base == "custom_checks.log" and not any(
        _NCSC_SECTION.match(line.strip()) for _, line in a.lines()
    ):
        return (
            f"{a.evidence_name}: not the output of NCSC-NL's check script (it has no "
            "'===== section =====' line)"
        )
    return None


def triage(artefacts: list[Artefact], indicators: PathMatcher | None = None) -> list[Finding]:
    """Every check over every artefact it applies to (and the listing's paths against path
    indicators). GatewayInputError, before any check, for an artefact that is
    :func:`unreadable` (naming each such artefact)."""
    refused = [why for a in artefacts if (why := unreadable(a)) is not None]
    if refused:
        raise GatewayInputError("; ".join(refused))
    findings: list[Finding] = []
    for a in artefacts:
        base = a.name.rsplit("/", 1)[-1]
        findings += _collected_file(a)
        if base == "listing.txt":
            findings += _listing(a)
            if indicators is not None:
                findings += _listing_indicators(a, indicators)
        elif base == "rc.netscaler":
            findings += _rc(a)
        elif base == "httpd.conf":
            findings += _httpd(a)
        elif base == "custom_checks.log":
            findings += _ncsc(a)
        elif "/cron/tabs/" in f"/{a.name}":
            findings += _crontab(a, base)
        elif base.startswith("crontab."):
            findings += _crontab(a, base.removeprefix("crontab."))
        elif base == "crontab" or "/cron.d/" in f"/{a.name}":
            findings += _crontab(a, None)
    return findings


def checkable(artefacts: list[Artefact]) -> list[Artefact]:
    """The artefacts a check applies to: an empty or unrelated collection is no clean one."""
    return [
        a
        for a in artefacts
        if a.name.rsplit("/", 1)[-1] in _CHECKED
        or a.name.rsplit("/", 1)[-1].startswith("crontab.")
        or "/cron/tabs/" in f"/{a.name}"
        or "/cron.d/" in f"/{a.name}"
        or f"/{a.name}".lower().startswith(_WEB_DIRS)
    ]


def _collected_file(a: Artefact) -> Iterator[Finding]:
    """A file collected from the appliance's own tree (``var/netscaler/logon/x.php`` in the
    tar or directory): a script in a web directory is checked as a listing's line is, and
    its content says whether it runs code."""
    path = "/" + a.name.lstrip("/")
    lower = path.lower()
    if (
        lower.startswith(_WEB_DIRS)
        and lower.endswith(_SCRIPT_EXT)
        and not lower.startswith(_STOCK_SCRIPT_DIRS)
    ):
        code = re.search(rb"(?i)<\?php|eval\s*\(|base64_decode|system\s*\(|passthru", a.data)
        yield _finding(
            "triage-script-in-web-dir",
            "A PHP or XHTML file where none belongs (a webshell?)",
            "high",
            a,
            0,
            f"{path} ({len(a.data)} bytes" + (", runs code" if code else "") + ")",
        )


def _listing_indicators(a: Artefact, indicators: PathMatcher) -> Iterator[Finding]:
    for offset, line in a.lines():
        path = line.split("|", 1)[0]
        for ind in indicators.match_path(path) if path else []:
            yield _finding(
                "indicator-match",
                f"A file matches an imported indicator ({ind.kind} {ind.value[:60]})",
                "high",
                a,
                offset,
                f"{line} (indicator from {ind.source})",
            )


def triage_path(
    path: Path, indicators: PathMatcher | None = None
) -> tuple[list[Artefact], list[Finding]]:
    artefacts = read_collection(path)
    return artefacts, triage(artefacts, indicators)


def tar_bytes(files: dict[str, bytes]) -> bytes:
    """A tar of ``files`` (for tests and for collecting)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
