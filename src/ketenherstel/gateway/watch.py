"""The gateway watch's scan (decision 0012): read NetScaler logs, keep the session ledger, and
run the detections. Every finding carries its evidence as (file, byte offset) of the lines it
rests on; a line that cannot be parsed is counted and kept with its file and offset.

Detections:

- single-line rules from ``rules.yaml`` (data: kind and conditions on the text or fields);
- session hijack (a session's client address or user agent changes to a network that is not
  allowed and that the user never logged in from);
- a session seen without a login (first seen after the log's start plus a grace period);
- a session alive after a given kill time (the patch, or the session kill that followed it);
- leak then replay: a CitrixBleed 2 probe from address A, then within the window a session first
  seen from another address B;
- one address using many accounts;
- log integrity: silent periods, and sequence numbers that go back on one packet engine.
"""

from __future__ import annotations

import array
import contextlib
import gzip
import ipaddress
import math
import multiprocessing
import re
import zlib
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from queue import Empty
from typing import IO, Any, Protocol

import yaml

from ketenherstel.documents import load_yaml
from ketenherstel.gateway.parse import (
    Event,
    LineParser,
    decide_date_order,
    decide_date_order_bytes,
    has_native_date,
    has_native_date_bytes,
)

__all__ = [
    "BOM",
    "MAX_LINE",
    "SNIFF_CHARS",
    "Finding",
    "GatewayInputError",
    "LineRule",
    "ScanResult",
    "Session",
    "Watch",
    "bounded_lines",
    "load_rules",
    "read_lines",
    "without_bom",
]

_SNIFF = 10_000
_MAX_JUMPS = 1_000  # sequence jumps kept per packet engine and file
_DECIDE_CHUNK = 4 * 1024 * 1024
# A line is read up to this many bytes; the rest of a longer one is passed over, so that a
# line without an end (a binary file, an attack on the log) cannot take the memory. NetScaler's
# own lines are a few hundred bytes; the listener cuts a message at 64 KiB.
MAX_LINE = 1024 * 1024
_NEWLINE = 0x0A
SNIFF_CHARS = 1024  # of each line the date-order guess reads: its timestamp is at its start
_KEEP_UNPARSED = 1_000
_TICK_LINES = 16_384  # lines between two progress reports
_READER_WAIT_S = 600.0  # a file's reading process that sends nothing for so long hangs
_KINDS_KEPT = 1_024  # event kinds whose rule list is kept (kinds come from the data)
_PROBES = ("cb2-aaa-leaked-bytes", "cb2-access-bare-login")
_LOGIN_KINDS = ("SSLVPN LOGIN", "AAATM LOGIN", "AAA LOGIN")
_ACCOUNT_KINDS = frozenset(("AAA LOGIN_FAILED", *_LOGIN_KINDS))
_NETS_KEPT = 65_536  # login addresses whose network the scan keeps


class GatewayInputError(ValueError):
    """Bad input to the watch: the message names the file, rule or value."""


@dataclass(frozen=True, slots=True)
class Evidence:
    file: str
    offset: int

    def __str__(self) -> str:
        return f"{self.file}:{self.offset}"


@dataclass(slots=True)
class Finding:
    rule: str
    title: str
    confidence: str
    at: float | None
    address: str = ""
    user: str = ""
    session: str = ""
    detail: str = ""
    evidence: list[Evidence] = field(default_factory=list)
    context: str = ""
    """With ``session``, the session's key (:func:`session_key`): its Context without the
    client address. A SessionId alone may be reused by another user's session."""

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "title": self.title,
            "confidence": self.confidence,
            "at": _iso(self.at),
            "address": self.address,
            "user": self.user,
            "session": self.session,
            "context": self.context,
            "detail": self.detail,
            "evidence": [str(e) for e in self.evidence],
        }


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat()


@dataclass(slots=True)
class Session:
    """One gateway session, keyed by SessionId and Context."""

    session_id: str
    context: str
    user: str = ""
    first_seen: float | None = None
    last_seen: float | None = None
    login_at: float | None = None
    logout_at: float | None = None
    addresses: dict[str, Evidence] = field(default_factory=dict)
    user_agents: dict[str, Evidence] = field(default_factory=dict)
    asns: dict[str, str] = field(default_factory=dict)
    """address -> its autonomous system (where an ASN table is given)"""
    address_at: dict[str, float] = field(default_factory=dict)
    """address -> the time of the line it was first seen on (where that line has one)"""
    agent_at: dict[str, tuple[float | None, str]] = field(default_factory=dict)
    """user agent -> the time and the client address of the line it was first seen on"""
    bytes_sent: int = 0
    bytes_received: int = 0
    reached: dict[str, int] = field(default_factory=dict)
    events: int = 0
    first: Evidence | None = None
    last: Evidence | None = None
    """The session's last line in time, and its client address"""
    last_address: str = ""
    logout: Evidence | None = None
    """Its (first) logout line"""
    after_logout: tuple[float, Evidence, str] | None = None
    """Its first line (time, evidence, address) past the logout's grace, when read after it"""

    @property
    def first_address(self) -> str:
        return next(iter(self.ordered_addresses()), "")

    def ordered_agents(self) -> list[str]:
        """The session's user agents by the time each was first seen, as its addresses."""
        at = self.agent_at
        return sorted(self.user_agents, key=lambda a: at.get(a, (None, ""))[0] or math.inf)

    def ordered_addresses(self) -> list[str]:
        """The session's client addresses by the time each was first seen, whatever order the
        files were given in (newest first, as rotated logs list, made the attacker's address
        the one the session began from); one seen on no line with a time comes last."""
        at = self.address_at
        return sorted(self.addresses, key=lambda a: at.get(a, math.inf))

    @property
    def key(self) -> tuple[str, str]:
        return session_key(self.session_id, self.context)

    def to_json(self) -> dict[str, Any]:
        return {
            "sessionId": self.session_id,
            "context": self.context,
            "user": self.user,
            "start": _iso(self.first_seen),
            "end": _iso(self.last_seen),
            "login": _iso(self.login_at),
            "logout": _iso(self.logout_at),
            "addresses": self.ordered_addresses(),
            "userAgents": self.ordered_agents(),
            "asns": sorted(set(self.asns.values())),
            "bytesSent": self.bytes_sent,
            "bytesReceived": self.bytes_received,
            "reached": dict(sorted(self.reached.items(), key=lambda kv: -kv[1])[:20]),
            "events": self.events,
        }


@dataclass(frozen=True, slots=True)
class LineRule:
    id: str
    title: str
    confidence: str
    kind: str | None
    conditions: tuple[tuple[str, str, Any], ...]

    @property
    def kinds(self) -> frozenset[str] | None:
        """The kinds (lower case) this rule can match; None: any."""
        return None if self.kind is None else frozenset((self.kind.lower(),))

    def matches(self, event: Event) -> bool:
        if self.kind is not None and event.kind != self.kind:
            return False
        for where, op, value in self.conditions:
            have = event.text if where == "text" else event.fields.get(where)
            if have is None:
                return False
            if op == "equals" and have != value:
                return False
            if op == "contains" and value not in have:
                return False
            if op == "regex" and value.search(have) is None:
                return False
        return True


class SingleLineRule(Protocol):
    """A rule on one event: a :class:`LineRule` from rules.yaml or a Sigma rule."""

    @property
    def id(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def confidence(self) -> str: ...

    @property
    def kinds(self) -> frozenset[str] | None:
        """The event kinds, in lower case, the rule can match at most (None: any kind); the
        scan runs a rule only on events of these kinds, and ``matches`` decides."""

    def matches(self, event: Event) -> bool: ...


@dataclass(frozen=True, slots=True)
class Rules:
    lines: tuple[SingleLineRule, ...]
    sessions: Mapping[str, Mapping[str, Any]]
    origin: RulesOrigin | None = None
    """The texts the rules were read from, so that another process can read the same rules
    (a Sigma rule's predicate cannot be pickled); None for rules built in code."""


# (text and name of the rules file, None for the package's own; texts and names of Sigma files)
RulesOrigin = tuple[tuple[str, str] | None, tuple[tuple[str, str], ...]]


def load_rules(path: Path | None = None, sigma: Iterable[Path] = ()) -> Rules:
    """The rules file (the package's ``rules.yaml`` by default) and the Sigma rules (the
    package's ``gateway/sigma/`` and any ``sigma`` files); GatewayInputError names the rule and
    the problem."""
    from ketenherstel.gateway.sigma import read_sigma

    own = (read_text(path, "rules"), str(path)) if path is not None else None
    return rules_from((own, tuple(read_sigma(sigma))))


def read_text(path: Path, what: str) -> str:
    """A user's UTF-8 text file (rules, Sigma rules, an ASN table, indicators, logons), or a
    one-line GatewayInputError naming ``what`` and the file: one that cannot be read, or is
    not UTF-8 (the first bad byte and where)."""
    try:
        return path.read_text(encoding="utf-8-sig")  # a byte order mark is no text
    except OSError as exc:
        raise GatewayInputError(f"{what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        raise GatewayInputError(
            f"{what} {path}: not UTF-8 text (byte {byte:#04x} at offset {exc.start})"
        ) from None


def rules_from(origin: RulesOrigin) -> Rules:
    """Rules from their texts (see :attr:`Rules.origin`)."""
    from ketenherstel.gateway.sigma import builtin_sigma, sigma_rules

    own, sigma = origin
    base = _load_rules(*own) if own is not None else _load_rules(None, "rules.yaml")
    extra = [r for text, where in sigma for r in sigma_rules(text, where)]
    return Rules((*base.lines, *builtin_sigma(), *extra), base.sessions, origin)


def _load_rules(text: str | None, where: str) -> Rules:
    if text is None:
        text = resources.files("ketenherstel.gateway").joinpath("rules.yaml").read_text("utf-8")
    try:
        doc = load_yaml(text)  # a key given twice is refused with its line
    except yaml.YAMLError as exc:
        raise GatewayInputError(f"rules {where}: not YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise GatewayInputError(
            f"rules {where}: a rules file is a mapping of line_rules and sessions"
        )
    unknown = sorted(str(k) for k in doc if k not in ("line_rules", "sessions"))
    if unknown:
        raise GatewayInputError(
            f"rules {where}: unknown keys {', '.join(unknown)}; a rules file has line_rules and "
            "sessions"
        )
    if "line_rules" not in doc:  # the CitrixBleed 2 checks would silently be off
        raise GatewayInputError(
            f"rules {where}: no line_rules (write line_rules: [] to run without any)"
        )
    if not isinstance(doc["line_rules"], list):
        raise GatewayInputError(f"rules {where}: line_rules is a list of rules")
    sessions = _session_parameters(doc.get("sessions"), where)
    lines = []
    for i, raw in enumerate(doc["line_rules"]):
        if not isinstance(raw, dict) or "id" not in raw:
            raise GatewayInputError(f"rules {where}: line rule {i} has no id")
        rid = str(raw["id"])
        confidence = str(raw.get("confidence", "medium"))
        if confidence not in ("high", "medium", "low"):
            raise GatewayInputError(f"rules {where}: rule {rid}: confidence {confidence!r}")
        conditions = []
        for key, cond in raw.items():
            if key in ("id", "title", "confidence", "kind", "source"):
                continue
            if not isinstance(cond, dict) or len(cond) != 1:
                raise GatewayInputError(
                    f"rules {where}: rule {rid}: {key} needs one of equals, contains, regex"
                )
            ((op, value),) = cond.items()
            if op == "regex":
                try:
                    value = re.compile(str(value), re.S)
                except re.error as exc:
                    raise GatewayInputError(f"rules {where}: rule {rid}: {key}: {exc}") from None
            elif op not in ("equals", "contains"):
                raise GatewayInputError(f"rules {where}: rule {rid}: {key}: unknown test {op!r}")
            else:
                value = str(value)  # `contains: 5` is the text 5
            conditions.append((key, op, value))
        kind = raw.get("kind")
        lines.append(LineRule(rid, str(raw.get("title", rid)), confidence, kind, tuple(conditions)))
    return Rules(tuple(lines), sessions)


# The session rules' parameters: (low, high) for a number, None for a confidence.
# A range of ints is given in ints, of numbers with a float.
_SESSION_PARAMETERS: dict[str, dict[str, tuple[float, float] | None]] = {
    "hijack": {"confidence": None, "ipv4_prefix": (0, 32), "ipv6_prefix": (0, 128)},
    "no_login": {"confidence": None, "grace_hours": (0.0, 24 * 366)},
    "after_logout": {"confidence": None, "grace_minutes": (0.0, 24 * 60 * 31)},
    "leak_then_replay": {"confidence": None, "window_minutes": (0.0, 24 * 60 * 31)},
    "many_accounts": {
        "confidence": None,
        "accounts": (2, 1_000_000),
        "window_minutes": (0.0, 24 * 60 * 31),
    },
    "silence": {"confidence": None, "minutes": (1.0, 24 * 60 * 366)},
    "sequence": {
        "confidence": None,
        "gap_confidence": None,
        "min_steps": (1, 10**12),
        "contiguous_share": (0.0, 1.0),
    },
}


def _session_parameters(raw: object, where: str) -> dict[str, dict[str, Any]]:
    """The sessions part of a rules file, each parameter checked: a known rule, a known
    parameter, a number in its range, a confidence high, medium or low."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise GatewayInputError(f"rules {where}: sessions is a mapping of session rules")
    out: dict[str, dict[str, Any]] = {}
    for rule, params in raw.items():
        known = _SESSION_PARAMETERS.get(str(rule))
        if known is None:
            raise GatewayInputError(
                f"rules {where}: sessions.{rule}: unknown; the session rules are "
                f"{', '.join(_SESSION_PARAMETERS)}"
            )
        if not isinstance(params, dict):
            raise GatewayInputError(f"rules {where}: sessions.{rule} is a mapping of parameters")
        for name, value in params.items():
            at = f"rules {where}: sessions.{rule}.{name}"
            if name not in known:
                raise GatewayInputError(f"{at}: unknown; {rule} has {', '.join(known)}")
            bounds = known[name]
            if bounds is None:
                if value not in ("high", "medium", "low"):
                    raise GatewayInputError(f"{at}: {value!r} is not high, medium or low")
            else:
                whole = isinstance(bounds[0], int)
                number = not isinstance(value, bool) and (
                    isinstance(value, int) or (not whole and isinstance(value, float))
                )
                if not number or not bounds[0] <= float(value) <= bounds[1]:
                    what = "a whole number" if whole else "a number"
                    raise GatewayInputError(
                        f"{at}: {value!r} is not {what} from {bounds[0]:g} to {bounds[1]:g}"
                    )
        out[str(rule)] = dict(params)
    return out


def is_gzip(path: Path) -> bool:
    try:
        with path.open("rb") as probe:
            return probe.read(2) == b"\x1f\x8b"
    except OSError as exc:
        raise GatewayInputError(f"{path}: {exc.strerror or exc}") from None


def _open_log(path: Path, packed: bool) -> IO[bytes]:
    """A log file's bytes: a gzip file's uncompressed."""
    return gzip.GzipFile(path, "rb") if packed else path.open("rb")  # type: ignore[return-value]


BOM = b"\xef\xbb\xbf"
"""UTF-8's byte order mark, which an editor or an export may put before a file's first line."""


def without_bom(raw: bytes, offset: int) -> bytes:
    """A line's bytes without the byte order mark a file (or a message) may begin with: only
    the line at ``offset`` 0 can have one; the offsets stay those of the file."""
    return raw[len(BOM) :] if offset == 0 and raw.startswith(BOM) else raw


def read_lines(path: Path, start: int = 0, end: int | None = None) -> Iterator[tuple[int, str]]:
    """(byte offset, line as Latin-1) of a plain or gzip file; the offset of a gzip file's line
    is in its uncompressed stream. Of a plain file, ``start`` (a line's first byte) and ``end``
    limit it to the lines that begin in [start, end)."""
    packed = is_gzip(path)
    if packed and (start or end is not None):
        raise ValueError("a gzip file is read whole")
    offset = start
    try:
        with _open_log(path, packed) as fh:
            if start:
                fh.seek(start)
            for raw, length, _ in bounded_lines(fh):
                if end is not None and offset >= end:
                    break
                yield offset, without_bom(raw, offset).decode("latin-1")
                offset += length
    except (OSError, EOFError, zlib.error) as exc:  # a truncated or damaged gzip
        if packed:
            raise TruncatedFile(f"{path}: unreadable after byte {offset}: {exc}", offset) from None
        raise GatewayInputError(f"{path}: unreadable after byte {offset}: {exc}") from None


def bounded_lines(fh: IO[bytes]) -> Iterator[tuple[bytes, int, bool]]:
    """Each line of ``fh`` from where it stands: its first :data:`MAX_LINE` bytes, its whole
    length in bytes and whether it ends with a newline (only the last one may not). A longer
    line is passed over a block at a time, so memory stays bounded by the limit."""
    readline = fh.readline
    while raw := readline(MAX_LINE):
        n = len(raw)
        if n < MAX_LINE or raw[-1] == _NEWLINE:
            yield raw, n, raw[-1] == _NEWLINE
        else:
            yield raw, *_pass_over(readline, n)


def _pass_over(readline: Callable[[int], bytes], length: int) -> tuple[int, bool]:
    """The rest of a line longer than :data:`MAX_LINE`, read a block at a time: the line's
    whole length, and whether it ends with a newline."""
    while more := readline(MAX_LINE):
        length += len(more)
        if more[-1] == _NEWLINE:
            return length, True
    return length, False


class TruncatedFile(GatewayInputError):
    """A compressed log that ends mid-stream (copied while still being written, or damaged):
    what comes before ``offset`` (in the uncompressed stream) was read."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Truncated:
    """An item: the file could be read only up to ``offset``."""

    offset: int
    reason: str


@dataclass(slots=True)
class SequenceSteps:
    """Steps between consecutive sequence numbers on one packet engine in one file."""

    steps: int = 0
    units: int = 0
    """Steps of exactly one."""
    jumps: list[tuple[int, Evidence, int, Evidence, float | None, str]] = field(
        default_factory=list
    )
    """Steps of more than one: (number before, its line, number after, its line, when, PPE)."""


@dataclass(slots=True)
class ScanResult:
    lines: int = 0
    events: int = 0
    unparsed: int = 0
    unparsed_kept: list[tuple[str, int, str]] = field(default_factory=list)
    """The first lines not parsed, with their text (file, offset, line)."""
    unparsed_at: dict[str, array.array[int]] = field(default_factory=dict)
    """Every line not parsed: its offset, per file (8 bytes each)."""
    sessions: dict[tuple[str, str], Session] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    first: float | None = None
    last: float | None = None

    def keep_unparsed(self, name: str, offset: int, line: str) -> None:
        """A line that is not parsed: its offset always, its text while fewer than
        _KEEP_UNPARSED are kept."""
        at = self.unparsed_at.get(name)
        if at is None:
            at = self.unparsed_at[name] = array.array("q")
        at.append(offset)
        if len(self.unparsed_kept) < _KEEP_UNPARSED:
            self.unparsed_kept.append((name, offset, unparsed_text(line)))

    def unparsed_lines(self) -> Iterator[tuple[str, int, str | None]]:
        """Every line not parsed: file, offset, and its text where it was kept."""
        text = {(name, offset): line for name, offset, line in self.unparsed_kept}
        for name, offsets in self.unparsed_at.items():
            for offset in sorted(offsets):
                yield name, offset, text.get((name, offset))


_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def unmapped_network(net: Any) -> Any:
    """A network of IPv4 addresses written as IPv6 (``::ffff:198.51.100.0/120``) as the IPv4
    network it writes, as the scan reads such addresses (`_unmapped`); any other as it is."""
    if net.version == 6 and net.subnet_of(_MAPPED):
        return ipaddress.ip_network(
            f"{net.network_address.ipv4_mapped}/{net.prefixlen - 96}", strict=False
        )
    return net


def allowed_network(text: str, what: str = "") -> Any:
    """A network a session may move to (an allowlist entry, ``--allow``): an address or CIDR,
    /8 (IPv4) or /16 (IPv6) or narrower, so that it cannot clear sessions moving almost
    anywhere. GatewayInputError, naming ``what`` and the text, otherwise."""
    try:
        net: Any = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise GatewayInputError(f"{what}{text!r} is no network (e.g. 192.0.2.0/24)") from None
    if net.version == 6 and net.overlaps(_MAPPED):
        # The scan reads an IPv4 address written as IPv6 as the IPv4 address (`_unmapped`):
        # such a network is the IPv4 network it writes, and one holding all of them is refused.
        if not net.subnet_of(_MAPPED):
            raise GatewayInputError(
                f"{what}{text}: too wide to allow (it holds every IPv4 address written as IPv6, "
                f"{_MAPPED}); give a network of /8 or narrower"
            )
        net = unmapped_network(net)
    widest = 8 if net.version == 4 else 16
    if net.prefixlen < widest:
        raise GatewayInputError(
            f"{what}{text}: too wide to allow (it would clear sessions moving almost anywhere);"
            f" give a network of /{widest} or narrower"
        )
    return net


def _network(
    address: str, v4: int, v6: int
) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = v4 if ip.version == 4 else v6
    return ipaddress.ip_network(f"{address}/{prefix}", strict=False)


def _int(value: str) -> int:
    return int(value) if value.isdigit() else 0


class Matcher(Protocol):
    """Indicators to match events against (``gateway.indicators.IndicatorSet``)."""

    def findings_for(self, e: Event, address: str) -> list[Finding]: ...

    def __len__(self) -> int: ...


class AsnLookup(Protocol):
    """An ASN table (``gateway.asn.AsnTable``)."""

    def lookup(self, address: str) -> str: ...

    def __len__(self) -> int: ...


class Watch:
    """Scan logs: ``feed`` events in time order per source, then ``finish``."""

    def __init__(
        self,
        rules: Rules | None = None,
        *,
        allow: Sequence[str] = (),
        kill_time: float | None = None,
        indicators: Matcher | None = None,
        asn: AsnLookup | None = None,
    ) -> None:
        self.rules = rules or load_rules()
        self.asn = asn if asn is not None and len(asn) else None
        self.indicators = indicators if indicators is not None and len(indicators) else None
        s = self.rules.sessions
        self.p_hijack = s.get("hijack", {})
        self.p_no_login = s.get("no_login", {})
        self.p_logout = s.get("after_logout", {})
        self._logout_grace = float(self.p_logout.get("grace_minutes", 5)) * 60
        self.p_replay = s.get("leak_then_replay", {})
        self.p_accounts = s.get("many_accounts", {})
        self.p_silence = s.get("silence", {})
        self.p_sequence = s.get("sequence", {})
        self.allow = [allowed_network(net, "--allow ") for net in allow]
        self.kill_time = kill_time
        self.allow_given = tuple(allow)
        # The session rules' parameters, read once (feed runs for every line).
        self._v4 = int(self.p_hijack.get("ipv4_prefix", 24))
        self._v6 = int(self.p_hijack.get("ipv6_prefix", 48))
        self._silence_s = float(self.p_silence.get("minutes", 120)) * 60
        self._login_nets: dict[str, Any] = {}
        self.result = ScanResult()
        self.probes: list[Finding] = []
        self.login_networks: dict[str, set[Any]] = defaultdict(set)
        self.accounts: dict[str, deque[tuple[float, str, Evidence]]] = defaultdict(deque)
        self.flagged_accounts: set[str] = set()
        self.last_seq: dict[tuple[str, str, str], tuple[int, Evidence]] = {}
        self.seq_stats: dict[tuple[str, str, str], SequenceSteps] = {}
        self.last_time: dict[str, tuple[float, Evidence]] = {}
        self.spans: list[tuple[tuple[float, Evidence], tuple[float, Evidence]]] = []
        self._rules_of: dict[str, tuple[SingleLineRule, ...]] = {}

    # -- scanning ---------------------------------------------------------------------------

    def scan_file(
        self,
        path: Path,
        *,
        workers: int = 1,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Read one file: its date order from its first lines, then every line. A large plain
        file is split over up to ``workers`` processes (:mod:`gateway.ranges`), with the same
        result. ``progress`` hears (bytes read, bytes in all) now and then."""
        from ketenherstel.gateway.ranges import scan_split, splits

        parser = _parser_for(path)
        parts = splits(path, workers, self)
        if len(parts) > 1:
            scan_split(self, path, parser, parts, progress)
            return
        total = path.stat().st_size
        # A gzip file's offsets are in its uncompressed stream: no share of its size to show.
        tick = None if progress is None or is_gzip(path) else (lambda at: progress(at, total))
        self._ingest(str(path), _items(path, parser, tick=tick), parser.date_order)
        if parser.assumed:
            self.result.files[-1]["dateOrderAssumed"] = True
        if progress is not None:
            progress(total, total)

    def scan_files(self, paths: Sequence[Path], *, workers: int = 1) -> None:
        """Read several files: parsed in up to ``workers`` processes at once, ahead of the one
        being fed, and fed in the order given (so the result is the same as file by file)."""
        if workers <= 1 or len(paths) < 2:
            for path in paths:
                self.scan_file(path)
            return
        context = multiprocessing.get_context("spawn")
        queues: dict[int, Any] = {}
        children: dict[int, Any] = {}

        def start(i: int) -> None:
            queue = context.Queue(maxsize=8)
            child = context.Process(target=_parse_file, args=(str(paths[i]), queue), daemon=True)
            child.start()
            queues[i], children[i] = queue, child

        try:
            for i in range(min(workers, len(paths))):
                start(i)
            for i, path in enumerate(paths):
                if i + workers - 1 < len(paths) and i + workers - 1 not in queues:
                    start(i + workers - 1)
                self._consume(path, queues[i])
                children[i].join(timeout=30)
                del queues[i], children[i]
        finally:
            for child in children.values():
                child.kill()

    def _consume(self, path: Path, queue: Any) -> None:
        """Feed what a parsing process sends for one file."""
        order: list[str] = []

        def items() -> Iterator[Item]:
            while True:
                try:
                    batch = queue.get(timeout=_READER_WAIT_S)
                except Empty:
                    raise GatewayInputError(
                        f"{path}: the process reading it sent nothing for {_READER_WAIT_S:.0f} "
                        "s (it hangs), so the scan stops. Scan again, or with --workers 1"
                    ) from None
                if isinstance(batch, str):  # the end, with the date order; or an error
                    if batch.startswith("error:"):
                        raise GatewayInputError(batch.removeprefix("error:"))
                    order.append(batch)
                    return
                yield from batch

        self._ingest(str(path), items(), None)
        told = order[0] if order else "mdy"
        self.result.files[-1]["dateOrder"] = told.removeprefix("assumed:")
        if told.startswith("assumed:"):
            self.result.files[-1]["dateOrderAssumed"] = True

    def _ingest(self, name: str, items: Iterable[Item], date_order: str | None) -> None:
        """Feed one file's items (an event, None for an empty line, (offset, line) for one that
        is not parsed) and keep its counts and its first and last moment."""
        lines = events = unparsed = 0
        first: tuple[float, Evidence] | None = None
        last: tuple[float, Evidence] | None = None
        for item in items:
            lines += 1
            if item is None:
                continue
            if isinstance(item, tuple):
                unparsed += 1
                self.result.keep_unparsed(name, item[0], item[1])
                continue
            if isinstance(item, Truncated):
                lines -= 1
                at = last[0] if last is not None else None
                self.result.findings.append(
                    self.truncated_finding(name, item.offset, item.reason, at)
                )
                continue
            events += 1
            if item.at is not None:
                if first is None:
                    first = (item.at, Evidence(name, item.offset))
                last = (item.at, Evidence(name, item.offset))
            self.feed(item)
        if first is not None and last is not None:
            self.spans.append((first, last))
        self.result.lines += lines
        self.result.events += events
        self.result.unparsed += unparsed
        self.result.files.append(
            {
                "file": name,
                "lines": lines,
                "events": events,
                "unparsed": unparsed,
                "dateOrder": date_order,
            }
        )

    def truncated_finding(
        self, name: str, offset: int, reason: str, at: float | None = None
    ) -> Finding:
        """A compressed log file that ends mid-stream, read up to ``offset``."""
        return Finding(
            "log-file-truncated",
            "A compressed log file ends mid-stream: what follows is not in the scan",
            str(self.p_silence.get("confidence", "low")),
            at,
            detail=reason,
            evidence=[Evidence(name, offset)],
        )

    def feed(self, e: Event) -> None:
        r = self.result
        ev = Evidence(e.file, e.offset)
        if e.at is not None:
            r.first = e.at if r.first is None else min(r.first, e.at)
            r.last = e.at if r.last is None else max(r.last, e.at)
            self._silence(e, ev)
        if e.seq is not None:
            self._sequence(e, ev)
        address = _address_of(e)
        rules = self._rules_of.get(e.kind)
        for rule in self._rules_for(e.kind) if rules is None else rules:
            if rule.matches(e):
                finding = Finding(
                    rule.id,
                    rule.title,
                    rule.confidence,
                    e.at,
                    address=address,
                    user=shown(e.fields.get("User", "")),
                    detail=_detail(rule.id, e.text),
                    evidence=[ev],
                )
                r.findings.append(finding)
                if rule.id in _PROBES:
                    self.probes.append(finding)
        if self.indicators is not None:
            r.findings += self.indicators.findings_for(e, address)
        if e.kind in _ACCOUNT_KINDS:
            self._accounts(e, ev, address)
        sid = e.fields.get("SessionId", "")
        if sid:
            self._session(e, ev, sid, address)

    def _rules_for(self, kind: str) -> tuple[SingleLineRule, ...]:
        """The line rules that can match an event of this kind, in the rules' order."""
        low = kind.lower()
        rules = tuple(r for r in self.rules.lines if r.kinds is None or low in r.kinds)
        if len(self._rules_of) < _KINDS_KEPT:
            self._rules_of[kind] = rules
        return rules

    def _session(self, e: Event, ev: Evidence, sid: str, address: str) -> None:
        fields = e.fields
        context = fields.get("Context", "")
        key = session_key(sid, context)
        s = self.result.sessions.get(key)
        if s is None:
            s = self.result.sessions[key] = Session(sid, context)
            s.first = ev
        s.events += 1
        if not s.user:
            s.user = fields.get("User", "")
        at = e.at
        if at is not None:
            if s.first_seen is None or at < s.first_seen:
                s.first_seen = at
                s.first = ev  # the session's first line in time, not in the order of the files
            if s.last_seen is None or at > s.last_seen:
                s.last_seen = at
                s.last, s.last_address = ev, address
        kind = e.kind
        if kind in _LOGIN_KINDS:
            s.login_at = at
            net = self._login_network(address)
            if net is not None and s.user:
                self.login_networks[_account_key(s.user)].add(net)
        if (
            at is not None
            and s.logout_at is not None
            and at > s.logout_at + self._logout_grace
            and (s.after_logout is None or at < s.after_logout[0])
        ):
            s.after_logout = (at, ev, address)
        if kind.endswith("LOGOUT") and (
            s.logout_at is None or (at is not None and at < s.logout_at)
        ):
            s.logout_at = at  # the first logout in time, whatever order the files came in
            s.logout = ev
        if address and address not in s.addresses:
            s.addresses[address] = ev
            if at is not None:
                s.address_at[address] = at
            if self.asn is not None:
                s.asns[address] = self.asn.lookup(address)
        elif address and at is not None and at < s.address_at.get(address, math.inf):
            s.addresses[address] = ev  # seen earlier in a file given later: that line
            s.address_at[address] = at
        agent = fields.get("Browser_type") or fields.get("Browser") or ""
        if agent and agent not in s.user_agents:
            s.user_agents[agent] = ev
            s.agent_at[agent] = (at, address)
        elif agent and at is not None and at < (s.agent_at[agent][0] or math.inf):
            s.user_agents[agent] = ev  # seen earlier in a file given later, as an address
            s.agent_at[agent] = (at, address)
        sent = fields.get("Total_bytes_send")
        if sent is not None:
            s.bytes_sent += _int(sent)
        received = fields.get("Total_bytes_recv")
        if received is not None:
            s.bytes_received += _int(received)
        target = fields.get("Destination") or (
            f"{fields.get('host', '')}{fields['url']}" if "url" in fields else ""
        )
        if target:
            s.reached[target] = s.reached.get(target, 0) + 1

    def _login_network(self, address: str) -> Any:
        """The network (hijack prefix) of a login's address, None for no address; kept for
        the addresses seen most (logins come from few)."""
        net = self._login_nets.get(address, False)
        if net is False:
            net = _network(address, self._v4, self._v6)
            if len(self._login_nets) >= _NETS_KEPT:
                self._login_nets.clear()
            self._login_nets[address] = net
        return net

    def _accounts(self, e: Event, ev: Evidence, address: str) -> None:
        user = e.fields.get("User", "")
        if not address or not user or e.at is None:
            return
        found = self._account(e.at, user, address, ev)
        if found is not None:
            self.result.findings.append(found)

    def _account(self, at: float, user: str, address: str, ev: Evidence) -> Finding | None:
        """One login or failed login of ``user`` from ``address`` into the window; many
        accounts from one address within it is a finding (once per address)."""
        window = float(self.p_accounts.get("window_minutes", 60)) * 60
        seen = self.accounts[address]
        seen.append((at, user, ev))
        while seen and seen[0][0] < at - window:
            seen.popleft()
        # One account however it was typed: JAN@om.nl is jan@om.nl (five spellings of one
        # account were "many accounts", a gateway review found).
        users = {_account_key(u): u for _, u, _ in reversed(seen)}
        if (
            len(users) >= int(self.p_accounts.get("accounts", 5))
            and address not in self.flagged_accounts
        ):
            self.flagged_accounts.add(address)
            return Finding(
                "many-accounts",
                f"One address used {len(users)} accounts within {window / 60:.0f} minutes",
                str(self.p_accounts.get("confidence", "medium")),
                at,
                address=address,
                detail=shown(", ".join(sorted(users.values())[:10])),
                evidence=[x for _, _, x in seen][:20],
            )
        return None

    def _silence(self, e: Event, ev: Evidence) -> None:
        last = self.last_time.get(e.host)
        assert e.at is not None
        if last is not None and e.at - last[0] > self._silence_s:
            self.result.findings.append(self.silence_finding(e.host, last, e.at, ev))
        if last is None or e.at >= last[0]:
            self.last_time[e.host] = (e.at, ev)

    def silence_finding(
        self, host: str, last: tuple[float, Evidence], at: float, ev: Evidence
    ) -> Finding:
        """Nothing from ``host`` between ``last`` and the line at ``at``."""
        return Finding(
            "log-silence",
            f"No log lines from {host or 'the appliance'} for {(at - last[0]) / 3600:.1f} hours",
            str(self.p_silence.get("confidence", "low")),
            last[0],
            detail=f"from {_iso(last[0])} to {_iso(at)}",
            evidence=[last[1], ev],
        )

    def _sequence(self, e: Event, ev: Evidence) -> None:
        assert e.seq is not None
        key = (e.file, e.host, e.ppe)
        last = self.last_seq.get(key)
        if last is not None:
            if e.seq < last[0] - 1000:
                self.result.findings.append(self.sequence_finding(e.ppe, last, e.seq, e.at, ev))
            self.count_step(key, last, e.seq, ev, e.at, e.ppe)
        self.last_seq[key] = (e.seq, ev)

    def count_step(
        self,
        key: tuple[str, str, str],
        last: tuple[int, Evidence],
        seq: int,
        ev: Evidence,
        at: float | None,
        ppe: str,
    ) -> None:
        """One step from a line's sequence number to the next one's on the same packet engine:
        a log whose numbers otherwise go up by one shows removed lines as a jump."""
        stats = self.seq_stats.get(key)
        if stats is None:
            stats = self.seq_stats[key] = SequenceSteps()
        stats.steps += 1
        if seq == last[0] + 1:
            stats.units += 1
        elif seq > last[0] + 1 and len(stats.jumps) < _MAX_JUMPS:
            stats.jumps.append((last[0], last[1], seq, ev, at, ppe))

    def _sequence_gaps(self) -> None:
        """Jumps in a sequence that otherwise goes up by one: lines removed from the log. Where
        the gateway numbers messages it does not send here (most steps are not 1), a jump
        says nothing, and none is reported."""
        least = int(self.p_sequence.get("min_steps", 1000))
        share = float(self.p_sequence.get("contiguous_share", 0.99))
        for stats in self.seq_stats.values():
            if stats.steps < least or stats.units < share * stats.steps:
                continue
            for before, before_ev, seq, ev, at, ppe in stats.jumps:
                self.result.findings.append(
                    Finding(
                        "log-sequence-gap",
                        f"{seq - before - 1:,} sequence numbers missing on "
                        f"{ppe or 'a packet engine'} ({before} then {seq}) in a log that "
                        "otherwise counts up by one: lines removed",
                        str(self.p_sequence.get("gap_confidence", "medium")),
                        at,
                        evidence=[before_ev, ev],
                    )
                )

    def sequence_finding(
        self, ppe: str, last: tuple[int, Evidence], seq: int, at: float | None, ev: Evidence
    ) -> Finding:
        """The sequence number ``seq`` of the line at ``ev`` lies far below the one before."""
        return Finding(
            "log-sequence-back",
            f"Sequence numbers go back on {ppe or 'a packet engine'} "
            f"({last[0]} then {seq}): a restart, a rotation, or lines removed",
            str(self.p_sequence.get("confidence", "low")),
            at,
            evidence=[last[1], ev],
        )

    # -- after the last line ----------------------------------------------------------------

    def session_findings(self, s: Session) -> list[Finding]:
        """One session's session-level findings (hijack, no login, alive after the kill, leak
        then replay), from what has been read so far."""
        r = self.result
        found: list[Finding] = []
        v4 = int(self.p_hijack.get("ipv4_prefix", 24))
        v6 = int(self.p_hijack.get("ipv6_prefix", 48))
        grace = float(self.p_no_login.get("grace_hours", 12)) * 3600
        window = float(self.p_replay.get("window_minutes", 30)) * 60
        hijack = self._hijack(s, v4, v6)
        if hijack is not None:
            found.append(hijack)
        if (
            s.login_at is None
            and s.first_seen is not None
            and r.first is not None
            and s.first_seen - r.first > grace
        ):
            found.append(
                _about(
                    s,
                    "session-without-login",
                    "A session is used without a login in the log",
                    str(self.p_no_login.get("confidence", "medium")),
                    s.first_seen,
                )
            )
        if (
            self.kill_time is not None
            and s.first_seen is not None
            and s.last_seen is not None
            and s.first_seen < self.kill_time < s.last_seen
        ):  # begun before the sessions were killed and still used after: it survived
            found.append(
                _about(
                    s,
                    "session-after-kill",
                    "A session is still used after the sessions were killed",
                    "high",
                    s.last_seen,
                    f"last seen {_iso(s.last_seen)}, kill time {_iso(self.kill_time)}",
                )
            )
        if (
            s.logout_at is not None
            and s.last_seen is not None
            and s.last_seen > s.logout_at + self._logout_grace
            and s.last is not None
        ):  # a session ended, then used: its token outlived the logout (a replayed one)
            # Stamped with its first use past the grace, so that a log that grows (a rescan
            # tomorrow, a follow) gives the same finding, not a new one at each further use.
            # Read before its logout (files given newest first), the first use is not known:
            # then its last.
            at, ev, where = s.after_logout or (s.last_seen, s.last, s.last_address)
            found.append(
                Finding(
                    "session-after-logout",
                    "A session is used after it was logged out",
                    str(self.p_logout.get("confidence", "high")),
                    at,
                    address=where or s.first_address,
                    user=shown(s.user),
                    session=s.session_id,
                    context=s.key[1],
                    detail=shown(f"logged out {_iso(s.logout_at)}, used again {_iso(at)}"),
                    evidence=[e for e in (s.logout, ev) if e is not None],
                )
            )
        # A leaked token is used without logging in: a session with a login is a new one.
        # Probes whose address is known first: they give the stronger finding.
        ordered = sorted(self.probes, key=lambda p: not p.address)
        for probe in ordered if s.login_at is None else ():
            # A probe's address is known from the access log; the AAA log has none. With
            # it, the session must come from elsewhere (high); without it, any session
            # without a login in the window is suspect (medium).
            if (
                probe.at is not None
                and s.first_seen is not None
                and probe.at <= s.first_seen <= probe.at + window
                and s.first_address
                and s.first_address != probe.address
                # From a network its user logged in from: the user's own session, begun
                # before the log did (each ordinary session after a probe at the log's start
                # was a replay, a gateway review found), not a token used from elsewhere.
                and self._login_network(s.first_address)
                not in self.login_networks.get(_account_key(s.user), ())
            ):
                confidence = (
                    str(self.p_replay.get("confidence", "high")) if probe.address else "medium"
                )
                source = f"from {probe.address}" if probe.address else "(address not logged)"
                found.append(
                    _about(
                        s,
                        "leak-then-replay",
                        "A CitrixBleed 2 probe, then a session first seen from another address",
                        confidence,
                        s.first_seen,
                        f"probe {source} at {_iso(probe.at)}",
                        probe.evidence,
                    )
                )
                break
        return found

    def finish(self) -> ScanResult:
        r = self.result
        for s in r.sessions.values():
            r.findings += self.session_findings(s)
        self._rotation_gaps()
        self._sequence_gaps()
        r.findings.sort(key=lambda f: (f.at or 0, f.rule))
        return r

    def _rotation_gaps(self) -> None:
        """Files in time order: a stretch between one file's last line and the next file's first
        that no file covers is a rotation gap (a file missing from what was collected)."""
        limit = float(self.p_silence.get("minutes", 120)) * 60
        spans = sorted(self.spans, key=lambda x: x[0][0])
        covered = spans[0][1] if spans else None
        for start, end in spans[1:]:
            assert covered is not None
            if start[0] - covered[0] > limit:
                self.result.findings.append(
                    Finding(
                        "log-rotation-gap",
                        f"No log file covers {(start[0] - covered[0]) / 3600:.1f} hours between "
                        "two files",
                        str(self.p_silence.get("confidence", "low")),
                        covered[0],
                        detail=f"from {_iso(covered[0])} to {_iso(start[0])}",
                        evidence=[covered[1], start[1]],
                    )
                )
            if end[0] > covered[0]:
                covered = end

    def _hijack(self, s: Session, v4: int, v6: int) -> Finding | None:
        if len(s.addresses) < 2 and len(s.user_agents) < 2:
            return None
        known = self.login_networks.get(_account_key(s.user), set())
        moved = []
        ordered = s.ordered_addresses()
        first = ordered[0] if ordered else ""
        for address, ev in ((a, s.addresses[a]) for a in ordered[1:]):
            net = _network(address, v4, v6)
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                continue
            if any(ip in n for n in self.allow) or (net is not None and net in known):
                continue
            if net is not None and net == _network(first, v4, v6):
                continue
            moved.append((address, ev))
        agents = [(a, s.user_agents[a]) for a in s.ordered_agents()]
        if not moved and len(agents) < 2:
            return None
        detail = []
        evidence = [s.first] if s.first else []
        if moved:
            detail.append(f"from {first} to {', '.join(a for a, _ in moved)}")
            evidence += [ev for _, ev in moved]
        # With an ASN table: a move within the same autonomous system (an ISP's pool) is less
        # telling than one to another network.
        same_asn = (
            bool(moved)
            and bool(s.asns)
            and all(s.asns.get(a) and s.asns.get(a) == s.asns.get(first) for a, _ in moved)
        )
        if s.asns and moved:
            detail.append(
                "ASN "
                + " -> ".join(
                    dict.fromkeys(
                        s.asns.get(a, "?") or "?" for a in [first, *(a for a, _ in moved)]
                    )
                )
            )
        if len(agents) >= 2:
            detail.append(f"user agent changed to {agents[1][0][:60]!r}")
            evidence.append(agents[1][1])
        if (not moved and len(agents) >= 2) or same_asn:
            confidence = "medium"
        else:
            confidence = str(self.p_hijack.get("confidence", "high"))
        # Stamped with the change that makes it a hijack (the line the evidence names), not
        # with the session's end and the address it began from: the first move to a network
        # not cleared, or else the user agent's change with the address of its line.
        if moved:
            at, address = s.address_at.get(moved[0][0]), moved[0][0]
        else:
            at, address = s.agent_at.get(agents[1][0], (None, ""))
        return Finding(
            "session-hijack",
            "A session changes client address or user agent",
            confidence,
            s.last_seen if at is None else at,
            address=address or first,
            user=shown(s.user),
            session=s.session_id,
            context=s.key[1],
            detail=shown("; ".join(detail)),
            evidence=evidence,
        )


def _about(
    s: Session,
    rule: str,
    title: str,
    confidence: str,
    at: float | None,
    detail: str = "",
    before: Sequence[Evidence] = (),
) -> Finding:
    """A finding about session ``s``: its key, user and first address; its first line as
    evidence, after ``before`` (a probe's lines)."""
    return Finding(
        rule,
        title,
        confidence,
        at,
        address=s.first_address,
        user=shown(s.user),
        session=s.session_id,
        context=s.key[1],
        detail=shown(detail),
        evidence=[*before, *([s.first] if s.first else [])],
    )


Item = Event | None | tuple[int, str] | Truncated


def _parser_for(path: Path) -> LineParser:
    """A parser with the file's date order: from its first lines, or, when none of them has
    a day above 12 (a log of the first days of a month), from the first line further on that
    has one; undecided to the end, NetScaler's default (month-first), marked as assumed when
    the file has native timestamps (an access log's or an empty file's order is no guess)."""
    head = []
    with contextlib.suppress(TruncatedFile):  # a truncated file: what could be read tells
        for _offset, line in read_lines(path):
            head.append(line[:SNIFF_CHARS])
            if len(head) >= _SNIFF:
                break
    order = decide_date_order(head)
    native = order is not None or has_native_date(head)
    if order is None and len(head) >= _SNIFF:
        order, native = _decide_further(path, native)
    return LineParser(order or "mdy", assumed=order is None and native)


def _decide_further(path: Path, native: bool) -> tuple[str | None, bool]:
    """The date order from the first decisive timestamp anywhere in the file (a search over
    raw bytes, a few MiB at a time: seconds for gigabytes), and whether the file has a native
    timestamp at all (``native``: one was seen already)."""
    rest = b""

    def decide(block: bytes) -> str | None:
        nonlocal native
        # Until a native timestamp is seen, a block without one cannot decide either.
        native = native or has_native_date_bytes(block)
        return decide_date_order_bytes(block) if native else None

    skipping = False  # passing over a line longer than lines are read
    try:
        with _open_log(path, is_gzip(path)) as fh:
            while chunk := fh.read(_DECIDE_CHUNK):
                if skipping:
                    end = chunk.find(b"\n")
                    if end < 0:
                        continue
                    chunk, skipping = chunk[end + 1 :], False
                block = rest + chunk
                cut = block.rfind(b"\n") + 1
                order = decide(block[:cut])
                if order is not None:
                    return order, True
                rest = block[cut:]
                if len(rest) > MAX_LINE:  # as a scan reads such a line: its start alone
                    order = decide(rest[:MAX_LINE])
                    if order is not None:
                        return order, True
                    rest, skipping = b"", True
            return decide(rest), native
    except (EOFError, zlib.error):
        return decide(rest), native  # a truncated or damaged gzip: what could be read tells
    except OSError as exc:
        raise GatewayInputError(f"{path}: unreadable: {exc}") from None


def _items(
    path: Path,
    parser: LineParser,
    start: int = 0,
    end: int | None = None,
    tick: Callable[[int], None] | None = None,
) -> Iterator[Item]:
    """The items of a file's lines (of those beginning in [start, end)); ``tick`` hears the
    byte offset reached now and then."""
    name = str(path)
    count = 0
    try:
        for offset, line in read_lines(path, start, end):
            count += 1
            if tick is not None and not count % _TICK_LINES:
                tick(offset)
            if not line.strip():
                yield None
                continue
            event = parser.parse(line, name, offset)
            yield event if event is not None else (offset, line[:200].rstrip("\r\n"))
    except TruncatedFile as exc:  # what came before is read; the rest is a gap in the log
        yield Truncated(exc.offset, str(exc))


def _parse_file(path: str, queue: Any) -> None:
    """A parsing process: batches of items, then the date order; or ``error:`` and why."""
    try:
        parser = _parser_for(Path(path))
        batch: list[Item] = []
        for item in _items(Path(path), parser):
            batch.append(item)
            if len(batch) >= 2000:
                queue.put(batch)
                batch = []
        queue.put(batch)
        queue.put(("assumed:" if parser.assumed else "") + parser.date_order)
    except Exception as exc:  # anything: the parent must hear of it, not wait
        queue.put(f"error:{exc}")


_NOT_SHOWN = re.compile(r"[^\x20-\x7e]+")


def shown(text: str) -> str:
    """A logged text as a finding carries it (to the register, the SOC and the reports): a
    run of bytes outside printable ASCII as its length, never its content. CitrixBleed 2 leaks
    memory, which may hold session tokens or passwords, into the name a rejected logon logs;
    control characters are log poisoning. The evidence (file and offset) leads to the line."""
    return _NOT_SHOWN.sub(lambda m: f"[{len(m.group())} bytes]", text)


_REJECTED = "Authentication is rejected for "
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9+/=_-]*[0-9][A-Za-z0-9+/=_-]*")


def unparsed_text(line: str) -> str:
    """What is kept and shown of a line that was not parsed: its first 200 characters, with
    bytes outside printable ASCII as their count (`shown`), what follows a rejected name as
    its length, and a run of 20 or more letters and digits as its length. A probe's leaked
    memory split over lines by a newline in it, or a probe line that did not parse, put a
    session token (NSC_AAAC=…) on the console and in --json (a gateway review)."""
    text = line[:200].rstrip("\r\n")
    cut = text.find(_REJECTED)
    if cut >= 0:
        rest = len(text) - cut - len(_REJECTED)
        text = text[: cut + len(_REJECTED)] + f"[{rest} characters not shown]"
    text = _TOKEN_LIKE.sub(
        lambda m: m.group() if len(m.group()) < 20 else f"[{len(m.group())} characters]", text
    )
    return shown(text)


def _detail(rule: str, text: str) -> str:
    """A line rule's finding's detail: the line's text, shown (see :func:`shown`). The name a
    rejected logon logs is never shown, whichever rule matched the line (log poisoning matches
    a probe's control bytes too): in a CitrixBleed 2 probe it is leaked memory, all of it,
    ASCII too (a session token is); otherwise someone's mistyped name. Only its length is
    kept."""
    head, cut, name = text.partition(_REJECTED)
    if cut:
        what = "leaked memory" if rule == "cb2-aaa-leaked-bytes" else "the rejected name"
        return shown(head + cut) + f"[{len(name)} bytes of {what}, not shown]"
    return shown(text[:200])


def _account_key(user: str) -> str:
    """An account name as accounts are compared: gateways take a user name in any case."""
    return user.casefold()


def session_key(sid: str, context: str) -> tuple[str, str]:
    """A session's key: its SessionId and its Context without the client address."""
    return (sid, context.rpartition("@")[0] if "@" in context else context)


def _address_of(e: Event) -> str:
    """The client address of an event: Client_ip, else the last of Context's ``@``, else the
    first X-Forwarded-For_ip, else the access log's source."""
    f = e.fields
    for key in ("Client_ip", "ClientIP", "Remote_ip", "src_ip"):
        value = f.get(key, "").strip()
        if value:
            return _unmapped(value)
    context = f.get("Context", "")
    if "@" in context:
        return _unmapped(context.rsplit("@", 1)[1])
    forwarded = f.get("X-Forwarded-For_ip", "").split(",")[0].strip()
    if forwarded and forwarded != "unknown":
        return _unmapped(forwarded)
    return ""


def _unmapped(address: str) -> str:
    """An IPv4 address written as IPv6 (``::ffff:192.0.2.1``, as a dual-stack listener logs
    it) as the IPv4 address it is, so that its network, the allowlist and the indicators see
    one address, not two (an allowlist entry ``::ffff:0:0/96`` held every IPv4 address)."""
    if address[:7].lower() == "::ffff:" and "." in address:
        return address[7:]
    return address


def scan(
    paths: Iterable[Path],
    *,
    rules: Rules | None = None,
    allow: Sequence[str] = (),
    kill_time: float | None = None,
    indicators: Matcher | None = None,
    asn: AsnLookup | None = None,
    workers: int = 1,
) -> ScanResult:
    """Scan files (in the order given; parsed in up to ``workers`` processes) and return the
    ledger and findings."""
    watch = Watch(rules, allow=allow, kill_time=kill_time, indicators=indicators, asn=asn)
    watch.scan_files(list(paths), workers=workers)
    return watch.finish()
