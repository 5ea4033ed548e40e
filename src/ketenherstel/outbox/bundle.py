"""Signed offline bundles: what an outbox exports while cut off and the exchange imports later.

Pure: bytes in, bytes out; no files, no clock, no network. Imports only the standard library,
``cryptography`` and the sibling ``errors`` and ``keys`` modules.

A bundle is one UTF-8 file of LF-terminated lines::

    line 1      the header: canonical JSON (keys sorted, no spaces)
    line 2      the signature: {"alg":"Ed25519","signature":"<base64 of 64 bytes>"}
    line 3 ...  the payload: `count` CloudEvents, one canonical JSON object per line

The header holds ``format`` (``ketenherstel-bundle/1``), ``partnerOin``, ``source``,
``firstSequence``, ``lastSequence``, ``count``, ``payloadSha256`` (hex SHA-256 of every byte
after line 2), ``previousDigest`` (the digest of the last bundle the outbox exported that ends
at ``firstSequence - 1``; null when none did: the first bundle, or the message before it went
online), ``createdAt`` (RFC 3339, UTC) and ``keyId`` (``ed25519:`` + the first 16 hex digits
of the SHA-256 of the raw public key). The signature is Ed25519 over
``b"ketenherstel-bundle/1\\n" + line 1`` exactly as it stands in the file, so it covers the
payload through its hash. A bundle's digest is ``sha256:`` + the hex SHA-256 of line 1.

A bundle holds no CR byte (canonical JSON escapes control characters). A file whose line ends
were changed to CRLF on the way (a courier's Windows machine, a mail client) is read with each
CRLF back to LF: the bytes checked against the signature and the payload hash, and imported,
are those, so a file that was changed in any other way is still refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ketenherstel.outbox.errors import BundleError, BundleRefusal
from ketenherstel.outbox.keys import key_id, public_key_raw

__all__ = [
    "FORMAT",
    "BuiltBundle",
    "BundleHeader",
    "LastImported",
    "VerifiedBundle",
    "build_bundle",
    "canonical_json",
    "verify_bundle",
]

FORMAT = "ketenherstel-bundle/1"
_CONTEXT = FORMAT.encode() + b"\n"
_SOURCE = re.compile(r"urn:nld:oin:([0-9]{20}):systeem:[a-z0-9][a-z0-9-]{0,62}")
_OIN = re.compile(r"[0-9]{20}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")

LastImported = Callable[[str], tuple[int, str | None] | None]
"""``last(source)``: what the exchange already holds from ``source`` (see `verify_bundle`)."""


@dataclass(frozen=True, slots=True)
class BundleHeader:
    partner_oin: str
    source: str
    first_sequence: int
    last_sequence: int
    count: int
    payload_sha256: str
    previous_digest: str | None
    created_at: str
    key_id: str
    format: str = FORMAT

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "partnerOin": self.partner_oin,
            "source": self.source,
            "firstSequence": self.first_sequence,
            "lastSequence": self.last_sequence,
            "count": self.count,
            "payloadSha256": self.payload_sha256,
            "previousDigest": self.previous_digest,
            "createdAt": self.created_at,
            "keyId": self.key_id,
        }


@dataclass(frozen=True, slots=True)
class BuiltBundle:
    data: bytes
    header: BundleHeader
    digest: str


@dataclass(frozen=True, slots=True)
class VerifiedBundle:
    """A bundle that passed every check; `events` are its CloudEvents in sequence order."""

    oin: str
    source: str
    first_sequence: int
    last_sequence: int
    digest: str
    previous_digest: str | None
    created_at: str
    key_id: str
    events: list[dict[str, Any]]
    crlf: bool = False
    """The file came with CRLF line ends, read as the LF ones it was signed with."""

    @property
    def count(self) -> int:
        return len(self.events)


# -- building --------------------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN: the form every bundle line takes."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def build_bundle(
    *,
    private_key: Ed25519PrivateKey,
    source: str,
    events: Sequence[Mapping[str, Any]],
    previous_digest: str | None,
    created_at: str,
) -> BuiltBundle:
    """Sign `events` (all from `source`, contiguous sequences) into a bundle.

    Raises ValueError if the events do not make a valid bundle.
    """
    match = _SOURCE.fullmatch(source)
    if match is None:
        raise ValueError(f"not a source URN: {source!r}")
    if not events:
        raise ValueError("a bundle holds at least one event")
    first = _sequence_of(events[0])
    for offset, event in enumerate(events):
        if event.get("source") != source:
            raise ValueError(f"event {offset} is from {event.get('source')!r}, not {source}")
        if _sequence_of(event) != first + offset:
            raise ValueError(
                f"event {offset} has sequence {event.get('sequence')!r}, not {first + offset}"
            )
    payload = b"".join(canonical_json(dict(event)) + b"\n" for event in events)
    header = BundleHeader(
        partner_oin=match.group(1),
        source=source,
        first_sequence=first,
        last_sequence=first + len(events) - 1,
        count=len(events),
        payload_sha256=hashlib.sha256(payload).hexdigest(),
        previous_digest=previous_digest,
        created_at=created_at,
        key_id=key_id(public_key_raw(private_key)),
    )
    header_line = canonical_json(header.to_json())
    signature = private_key.sign(_CONTEXT + header_line)
    signature_line = canonical_json(
        {"alg": "Ed25519", "signature": base64.b64encode(signature).decode()}
    )
    data = header_line + b"\n" + signature_line + b"\n" + payload
    return BuiltBundle(data=data, header=header, digest=_digest(header_line))


def _sequence_of(event: Mapping[str, Any]) -> int:
    value = _as_sequence(event.get("sequence"))
    if value is None:
        raise ValueError(f"event {event.get('id')!r} has no integer sequence")
    return value


def _as_sequence(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if raw >= 1 else None
    if isinstance(raw, str) and raw.isascii() and raw.isdigit():
        return int(raw) if int(raw) >= 1 else None
    return None


def _digest(header_line: bytes) -> str:
    return "sha256:" + hashlib.sha256(header_line).hexdigest()


# -- verifying -------------------------------------------------------------------------------


def verify_bundle(
    data: bytes,
    *,
    public_keys: Mapping[str, bytes],
    expected_oin: str | None,
    last: LastImported,
) -> VerifiedBundle:
    """Check a bundle completely; return its events, or raise BundleError and accept nothing.

    `public_keys` maps an OIN to the raw 32-byte Ed25519 public key registered for it.
    `expected_oin`, when given, is the only partner whose bundle is acceptable (the importer's).
    `last(source)` says what the exchange already holds from that source:

    - ``None``: nothing yet (treated as ``(0, None)``);
    - ``(L, D)``: ``L`` is the highest sequence held with no gap before it, whether it came in a
      bundle or online; ``D`` is the digest of the imported bundle whose last sequence is ``L``,
      or None when ``L`` came online.

    The checks, in this order (the first failing step decides ``kind``):

    1. the layout and the header's fields (``malformed``; ``truncated`` if cut inside line 1-2);
    2. the partner: ``source`` must belong to ``partnerOin``, which must be ``expected_oin``
       (when given) and have a registered key (``foreign``);
    3. the signature over line 1: a failure is ``foreign`` when the header names another key
       than the registered one, else ``tampered``. No later step runs on a bad signature;
    4. the header's own sequence range (``gap`` when count is not last - first + 1);
    5. the payload: fewer whole lines than ``count`` (``truncated``); more lines, bytes after
       the last line end, or another hash (``tampered``);
    6. the events: a source of another OIN (``foreign``), another source or unreadable
       (``malformed``), sequences not contiguous from first to last (``gap``);
    7. continuity with ``last``: the digest equal to ``D`` or ``firstSequence <= L``
       (``replayed``); ``firstSequence > L + 1`` (``gap``, the missing range named); when ``D``
       is set, ``previousDigest`` must equal it: a bundle that follows another bundle than ``D``
       is ``gap`` (a bundle in between was not imported), one that names no previous bundle is
       ``replayed`` (it restarts a chain the exchange already follows: an old or re-initialised
       outbox's export). When ``D`` is None the previous messages came online, so there is no
       bundle to link to and sequence continuity is the check.
    """
    crlf = b"\r\n" in data
    if crlf:
        # Only CRLF pairs: a lone CR stays and is refused with the rest of the file's bytes.
        data = data.replace(b"\r\n", b"\n")
    header_line, signature_line, payload = _split(data)
    header = _parse_header(header_line)
    signature = _parse_signature(signature_line)
    registered = _partner_key(header, public_keys, expected_oin)
    _check_signature(header_line, header, signature, registered)
    if header.count != header.last_sequence - header.first_sequence + 1:
        raise BundleError(
            "gap",
            [
                f"the header announces {header.count} events for sequences "
                f"{header.first_sequence}-{header.last_sequence}; a bundle's sequences are "
                "contiguous"
            ],
        )
    lines = _payload_lines(payload, header)
    events = _parse_events(lines, header)
    digest = _digest(header_line)
    _check_continuity(header, digest, last(header.source))
    return VerifiedBundle(
        oin=header.partner_oin,
        source=header.source,
        first_sequence=header.first_sequence,
        last_sequence=header.last_sequence,
        digest=digest,
        previous_digest=header.previous_digest,
        created_at=header.created_at,
        key_id=header.key_id,
        events=events,
        crlf=crlf,
    )


def _refuse(kind: BundleRefusal, problem: str) -> BundleError:
    return BundleError(kind, [problem])


def _split(data: bytes) -> tuple[bytes, bytes, bytes]:
    if not data.strip():
        raise _refuse("malformed", "the file is empty; a bundle starts with its header line")
    if not data.startswith(b"{"):
        raise _refuse("malformed", f"not a {FORMAT} file: it does not start with a JSON header")
    end = data.find(b"\n")
    if end < 0:
        raise _refuse("truncated", "the file ends inside the header line (no line end)")
    second = data.find(b"\n", end + 1)
    if second < 0:
        _parse_header(data[:end])  # a garbled header is reported as such first
        raise _refuse("truncated", "the file ends before the signature line is complete")
    return data[:end], data[end + 1 : second], data[second + 1 :]


def _strict_object(raw: bytes, what: str) -> dict[str, Any]:
    # The bundle domain reads only the standard library and cryptography (tests/outbox/
    # test_layers.py): its own hook, not ketenherstel.documents.
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        value: dict[str, Any] = {}
        for key, item in pairs:
            if key in value:
                raise ValueError(f"the key {key!r} appears twice in one object")
            value[key] = item
        return value

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        value = json.loads(
            raw.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constants
        )
    except UnicodeDecodeError:
        raise _refuse("malformed", f"{what} is not UTF-8") from None
    except ValueError as exc:
        raise _refuse("malformed", f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise _refuse("malformed", f"{what} must be a JSON object")
    return value


def _parse_header(line: bytes) -> BundleHeader:
    doc = _strict_object(line, "the header (line 1)")
    if doc.get("format") != FORMAT:
        raise _refuse(
            "malformed", f"format {doc.get('format')!r} is not supported; this reads {FORMAT}"
        )
    problems: list[str] = []

    def text(name: str, pattern: re.Pattern[str] | None = None) -> str:
        value = doc.get(name)
        if not isinstance(value, str) or (pattern and not pattern.fullmatch(value)):
            problems.append(f"header field {name!r} is missing or malformed: {value!r}")
            return ""
        return value

    def number(name: str) -> int:
        value = doc.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"header field {name!r} must be an integer >= 1, not {value!r}")
            return 0
        return value

    previous = doc.get("previousDigest")
    if previous is not None and not (isinstance(previous, str) and _DIGEST.fullmatch(previous)):
        problems.append(f"header field 'previousDigest' must be null or sha256:<hex>: {previous!r}")
    header = BundleHeader(
        partner_oin=text("partnerOin", _OIN),
        source=text("source", _SOURCE),
        first_sequence=number("firstSequence"),
        last_sequence=number("lastSequence"),
        count=number("count"),
        payload_sha256=text("payloadSha256", _HEX64),
        previous_digest=previous if isinstance(previous, str) else None,
        created_at=text("createdAt"),
        key_id=text("keyId"),
    )
    unknown = sorted(set(doc) - set(header.to_json()))
    if unknown:
        problems.append(f"unknown header fields: {', '.join(unknown)}")
    if problems:
        raise BundleError("malformed", problems)
    return header


def _parse_signature(line: bytes) -> bytes:
    doc = _strict_object(line, "the signature (line 2)")
    if doc.get("alg") != "Ed25519":
        raise _refuse("malformed", f"signature alg must be 'Ed25519', not {doc.get('alg')!r}")
    value = doc.get("signature")
    try:
        signature = base64.b64decode(value if isinstance(value, str) else "", validate=True)
    except binascii.Error:
        signature = b""
    if len(signature) != 64 or base64.b64encode(signature).decode() != value:
        raise _refuse("malformed", "the signature must be 64 bytes in canonical base64")
    return signature


def _partner_key(
    header: BundleHeader, public_keys: Mapping[str, bytes], expected_oin: str | None
) -> bytes:
    oin = header.partner_oin
    source_oin = _SOURCE.fullmatch(header.source)
    if source_oin is None or source_oin.group(1) != oin:
        raise _refuse("foreign", f"source {header.source} does not belong to OIN {oin}")
    if expected_oin is not None and oin != expected_oin:
        raise _refuse(
            "foreign",
            f"the bundle is from OIN {oin}; only bundles of OIN {expected_oin} are accepted here",
        )
    registered = public_keys.get(oin)
    if registered is None:
        raise _refuse(
            "foreign",
            f"no public key is registered for OIN {oin}; the exchange operator registers the "
            "key that `outbox keygen` printed",
        )
    return registered


def _check_signature(
    header_line: bytes, header: BundleHeader, signature: bytes, registered: bytes
) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(registered).verify(signature, _CONTEXT + header_line)
    except ValueError:
        raise _refuse(
            "foreign", f"the key registered for OIN {header.partner_oin} is not 32 bytes"
        ) from None
    except InvalidSignature:
        expected = key_id(registered)
        if header.key_id != expected:
            raise _refuse(
                "foreign",
                f"signed with key {header.key_id}, but the key registered for OIN "
                f"{header.partner_oin} is {expected}",
            ) from None
        raise _refuse(
            "tampered", "the signature does not match the header: the header was changed"
        ) from None


def _payload_lines(payload: bytes, header: BundleHeader) -> list[bytes]:
    lines = payload.split(b"\n")
    cut = lines.pop() != b""  # bytes after the last line end: a line without its end
    held = len(lines)
    if held < header.count:
        cut_note = ", and the next line is cut off" if cut else ""
        raise _refuse(
            "truncated",
            f"the header announces {header.count} events; the file holds {held}{cut_note}",
        )
    if held > header.count or cut:
        raise _refuse(
            "tampered",
            f"the file holds more than the {header.count} events its signed header announces",
        )
    if hashlib.sha256(payload).hexdigest() != header.payload_sha256:
        raise _refuse("tampered", "the events do not match the payload hash in the signed header")
    return lines


def _parse_events(lines: list[bytes], header: BundleHeader) -> list[dict[str, Any]]:
    found: dict[BundleRefusal, list[str]] = {}
    events: list[dict[str, Any]] = []
    ids: set[str] = set()
    for offset, line in enumerate(lines):
        where = f"event {offset} (line {offset + 3})"
        try:
            event = _strict_object(line, where)
        except BundleError as exc:
            found.setdefault("malformed", []).extend(exc.problems)
            continue
        source = event.get("source")
        match = _SOURCE.fullmatch(source) if isinstance(source, str) else None
        if match is None or match.group(1) != header.partner_oin:
            found.setdefault("foreign", []).append(
                f"{where} is from {source!r}, not from OIN {header.partner_oin}"
            )
        elif source != header.source:
            found.setdefault("malformed", []).append(
                f"{where} is from {source}; the bundle is for {header.source}"
            )
        ident = event.get("id")
        if not isinstance(ident, str) or not ident or ident in ids:
            found.setdefault("malformed", []).append(f"{where} has a missing or repeated id")
        else:
            ids.add(ident)
        expected = header.first_sequence + offset
        if _as_sequence(event.get("sequence")) != expected:
            found.setdefault("gap", []).append(
                f"{where} has sequence {event.get('sequence')!r}; expected {expected}"
            )
        events.append(event)
    for kind in ("foreign", "malformed", "gap"):
        if kind in found:
            raise BundleError(kind, found[kind])
    return events


def _check_continuity(
    header: BundleHeader, digest: str, held: tuple[int, str | None] | None
) -> None:
    last_sequence, last_digest = held if held is not None else (0, None)
    source, first, end = header.source, header.first_sequence, header.last_sequence
    if last_digest is not None and digest == last_digest:
        raise _refuse("replayed", f"bundle {digest} is the last bundle imported from {source}")
    if first <= last_sequence:
        raise _refuse(
            "replayed",
            f"sequences {first}-{end} of {source}: the exchange already holds up to "
            f"{last_sequence}",
        )
    if first > last_sequence + 1:
        raise _refuse(
            "gap",
            f"sequences {last_sequence + 1}-{first - 1} of {source} are missing before this "
            "bundle; import the bundle(s) that hold them first",
        )
    if last_digest is None or header.previous_digest == last_digest:
        return
    if header.previous_digest is None:
        raise _refuse(
            "replayed",
            f"the bundle names no previous bundle, but {source} continues from bundle "
            f"{last_digest}: it belongs to an earlier or another export chain",
        )
    raise _refuse(
        "gap",
        f"the bundle follows bundle {header.previous_digest}, but the last bundle imported "
        f"from {source} is {last_digest}; import the bundle(s) in between first",
    )
