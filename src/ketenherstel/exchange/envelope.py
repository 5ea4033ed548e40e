"""CloudEvents 1.0 envelopes as the NL GOV profile for CloudEvents shapes them.

Parses structured mode (one event), batch mode (`application/cloudevents-batch+json`) and binary
mode (attributes in `ce-` headers, the body is `data`). Every problem is collected, with the event's
index in the batch and the field, so a sender can mend all of them at once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import orjson

from ketenherstel.chain import parse_source_urn
from ketenherstel.exchange.errors import Problem

DataValidator = Callable[[str, object], list[tuple[str, str]]]

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"

_CORE = {
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "dataschema",
    "data",
    "data_base64",
}
_REQUIRED = ("specversion", "id", "source", "type")
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
_INT32_MAX = 2**31 - 1
_MAX_ID = 256
# What CloudEvents 1.0's String type does not allow: the control characters U+0000-U+001F and
# U+007F-U+009F, the surrogates and the noncharacters (U+FDD0-U+FDEF and U+xFFFE/U+xFFFF).
# Those of the Basic Multilingual Plane in one class (the other planes' in it would make
# every search several times slower); the other planes' in _outside_a_string.
_NOT_IN_A_STRING = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")


def _outside_a_string(value: str) -> str | None:
    """The first character of ``value`` that a CloudEvents String may not hold, or None.
    What str.isprintable passes holds none of them: it is false for every Cc, Cs and Cn
    code point (tests/exchange/test_envelope_strings.py checks all of Unicode)."""
    found = _NOT_IN_A_STRING.search(value)
    if max(value) > "\uffff":  # another plane's noncharacter before it?
        for ch in value[: None if found is None else found.start()]:
            if ord(ch) & 0xFFFE == 0xFFFE:
                return ch
    return None if found is None else found.group()


@dataclass(frozen=True, slots=True)
class Limits:
    max_event_bytes: int = 256 * 1024
    max_batch_events: int = 10_000
    max_body_bytes: int = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Envelope:
    """A checked event: its attributes, its canonical JSON and that JSON's hash."""

    id: str
    source: str
    type: str
    subject: str | None
    time: str | None
    partitionkey: str | None
    sequence: int | None
    body: bytes
    content_hash: str
    data: Any = None  # the event's data, for business keys

    @property
    def fact_hash(self) -> str:
        """The hash of the data alone: the same fact re-sent under a new id hashes the same."""
        return content_hash(canonical({"data": self.data}))


def canonical(event: Mapping[str, Any]) -> bytes:
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


def content_hash(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def load_json(body: bytes) -> Any:
    """A JSON request body's document, read strictly: UTF-8 only, no NaN, at most 1,024
    levels deep. Raises `ValueError` naming the fault and where, fit for a 400 answer
    (``the body is not valid JSON: depth limit exceeded: line 1 column 1026 (char 1025)``)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"the body is not valid JSON: {exc}") from None


def parse_body(body: bytes, content_type: str) -> tuple[list[Any], bool]:
    """Decode a request body into a list of raw events; the flag says whether it was a batch.

    Raises `ValueError` with a message fit for a 400 answer.

    Not refused here: a key given twice in one object (orjson keeps the last value), unlike
    every other JSON a person or partner supplies (``ketenherstel.documents``). This is the
    ingest's hot path. Reading the body again with a duplicate hook cost about 30 µs an event
    (a third more server CPU per event over HTTP); the cheaper exact check,
    ``orjson_duplicates(body, events if batch else events[0])``, about 1.2 µs an event in a
    1,000-event batch and 3 µs for a single event (half the parse again, where the HTTP
    ingest goal allows 40 µs an event in all). Measurable, so left out: it is the line to add
    here should a partner's ambiguous event come to matter more than that.
    """
    doc = load_json(body)
    if content_type == BATCH:
        if not isinstance(doc, list):
            raise ValueError("a batch (application/cloudevents-batch+json) must be a JSON array")
        return doc, True
    if isinstance(doc, list):
        raise ValueError(
            f"a JSON array was sent as a single event; send batches with Content-Type {BATCH}"
        )
    return [doc], False


def from_binary(headers: Mapping[str, str], body: bytes, content_type: str) -> dict[str, Any]:
    """Rebuild a structured event from binary mode: `ce-*` headers and the body as data."""
    event: dict[str, Any] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower.startswith("ce-"):
            # The HTTP binding percent-encodes header values as UTF-8. One that does not
            # decode is refused: read with replacement characters, two different ids (pct-%FF,
            # pct-%FE) became the same one.
            try:
                event[lower[3:]] = unquote(value, errors="strict")
            except UnicodeDecodeError:
                raise ValueError(
                    f"the header {name!r} is percent-encoded, but not as UTF-8: {value!r}"
                ) from None
    if content_type:
        event["datacontenttype"] = content_type
    media = content_type.split(";")[0].strip().lower() or "application/json"
    if body:
        if media == "application/json" or media.endswith("+json"):
            try:
                event["data"] = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"the body is not valid JSON: {exc}") from None
        else:
            raise ValueError(
                f"binary-mode data must be JSON (application/json), not {content_type!r}"
            )
    return event


def check_events(
    events: Sequence[Any],
    *,
    limits: Limits,
    known_type: Callable[[str], bool],
    validate_data: DataValidator,
) -> tuple[list[Envelope], list[Problem]]:
    """Check every event; return the envelopes and every problem found (empty if all are fine)."""
    problems: list[Problem] = []
    envelopes: list[Envelope] = []
    if not events:
        problems.append(Problem(None, "", "the batch is empty"))
    if len(events) > limits.max_batch_events:
        problems.append(
            Problem(
                None,
                "",
                f"the batch has {len(events)} events; at most {limits.max_batch_events} allowed",
            )
        )
        return [], problems
    for index, event in enumerate(events):
        found = _check_one(index, event, limits, known_type, validate_data)
        if isinstance(found, Envelope):
            envelopes.append(found)
        else:
            problems.extend(found)
    return envelopes, problems


def _check_one(
    index: int,
    event: Any,
    limits: Limits,
    known_type: Callable[[str], bool],
    validate_data: DataValidator,
) -> Envelope | list[Problem]:
    if not isinstance(event, dict):
        return [Problem(index, "", "an event must be a JSON object")]
    out: list[Problem] = []

    def bad(field: str, reason: str) -> None:
        out.append(Problem(index, field, reason))

    for name in _REQUIRED:
        value = event.get(name)
        if value is None:
            bad(name, f"the required attribute '{name}' is missing")
        elif not isinstance(value, str) or not value:
            bad(name, f"'{name}' must be a non-empty string")
    if event.get("specversion") not in (None, "1.0"):
        bad("specversion", f"specversion must be '1.0', not {event.get('specversion')!r}")
    source = event.get("source")
    if isinstance(source, str) and source and parse_source_urn(source) is None:
        bad("source", f"source must be urn:nld:oin:<20-digit OIN>:systeem:<name>, not {source!r}")
    ident = event.get("id")
    if isinstance(ident, str) and len(ident) > _MAX_ID:
        bad("id", f"id is {len(ident)} characters; at most {_MAX_ID}")
    for name in ("subject", "partitionkey", "dataschema", "dataref"):
        value = event.get(name)
        if value is not None and (not isinstance(value, str) or not value):
            bad(name, f"'{name}' must be a non-empty string when present")
    time = event.get("time")
    if time is not None and not _is_rfc3339(time):
        bad(
            "time", "time must be an RFC 3339 timestamp with a time zone, e.g. 2025-07-17T21:00:00Z"
        )
    ctype = event.get("datacontenttype")
    if ctype is not None and not (
        isinstance(ctype, str)
        and (ctype.split(";")[0].strip() == "application/json" or ctype.endswith("+json"))
    ):
        bad("datacontenttype", f"only JSON data is accepted (application/json), not {ctype!r}")
    if "data_base64" in event:
        bad("data_base64", "binary data (data_base64) is not accepted; send JSON data")
    sequence = _check_sequence(event, bad)
    for name, value in event.items():
        # Every String attribute, an extension's too (data is not an attribute). What
        # str.isprintable passes holds none of what a CloudEvents String may not: the common
        # case, without a call.
        if type(value) is str and not value.isprintable() and name != "data":
            found = _outside_a_string(value)
            if found is not None:
                bad(
                    name,
                    f"'{name}' holds U+{ord(found):04X}: a CloudEvents string has no control "
                    "characters (U+0000-U+001F, U+007F-U+009F), surrogates or noncharacters",
                )
        if name in _CORE:
            continue
        if not _EXTENSION_NAME.match(name):
            bad(name, "extension names are 1-20 lowercase letters or digits (CloudEvents 1.0)")
        elif isinstance(value, dict | list) or value is None:
            bad(name, "an extension attribute must be a string, number or boolean")
    type_name = event.get("type")
    if "data" not in event and "dataref" not in event:
        bad("data", "the event has neither 'data' nor 'dataref'")
    elif isinstance(type_name, str) and type_name:
        if not known_type(type_name):
            bad("type", f"unknown message type {type_name!r}; see GET /v1/chain for the types")
        elif "data" in event:
            for path, reason in validate_data(type_name, event["data"]):
                bad("data" + path.removeprefix("$"), reason)
        elif validate_data(type_name, None):
            # A 'dataref' alone would pass the type's schema and business key unchecked.
            bad(
                "data",
                f"type {type_name!r} requires 'data' that its schema can check; "
                "a 'dataref' alone is not accepted for it",
            )
    body = canonical(event)
    if len(body) > limits.max_event_bytes:
        bad("", f"the event is {len(body)} bytes; at most {limits.max_event_bytes} allowed")
    # CloudEvents carries `sequence` as a String, but SDKs send a number in structured mode and a
    # string in binary mode: the event is stored as sent, its hash taken over one form, so the same
    # event sent both ways is a duplicate, not a conflict.
    hashed = body
    if sequence is not None and event["sequence"] != str(sequence):
        hashed = canonical({**event, "sequence": str(sequence)})
    if out:
        return out
    return Envelope(
        id=event["id"],
        source=event["source"],
        type=event["type"],
        subject=event.get("subject"),
        time=time,
        partitionkey=event.get("partitionkey"),
        sequence=sequence,
        body=body,
        content_hash=content_hash(hashed),
        data=event.get("data"),
    )


def _check_sequence(event: Mapping[str, Any], bad: Callable[[str, str], None]) -> int | None:
    raw = event.get("sequence")
    kind = event.get("sequencetype")
    if raw is None:
        if kind is not None:
            bad("sequencetype", "sequencetype is given without a sequence")
        return None
    if kind is not None and kind != "Integer":
        bad("sequencetype", f"sequencetype must be 'Integer', not {kind!r}")
        return None
    if isinstance(raw, bool):
        value = None
    elif isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.isdigit() and raw.isascii():
        value = int(raw)
    else:
        value = None
    if value is None or not 1 <= value <= _INT32_MAX:
        bad("sequence", f"sequence must be an integer from 1 to {_INT32_MAX}, not {raw!r}")
        return None
    return value


def _is_rfc3339(value: Any) -> bool:
    if not isinstance(value, str) or "T" not in value.upper():
        return False
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None


def sender_problems(
    envelopes: Sequence[Envelope],
    *,
    key: str,
    oin: str,
    may_send: Callable[[str, str], bool],
    who: str,
    systems: Sequence[str] = (),
) -> list[Problem]:
    """Events a partner may not send: a source that is not its OIN's or names a system the
    chain model does not give it (``systems``; none given: any), or a type the chain does not
    let it send. ``who`` opens the source's refusal ("you are om (OIN …)")."""
    wrong: list[Problem] = []
    for index, env in enumerate(envelopes):
        parsed = parse_source_urn(env.source)  # its form was checked with the envelope
        if parsed is None or parsed[0] != oin:
            wrong.append(Problem(index, "source", f"{who}; you may not send as {env.source}"))
        elif systems and parsed[1] not in systems:
            # A system the chain does not know would open a sequence of its own, unseen by
            # completeness and reconciliation, which count the chain's systems (a review sent
            # one).
            reason = (
                f"{key} has no system {parsed[1]!r} in the chain model; its systems: "
                + ", ".join(systems)
            )
            wrong.append(Problem(index, "source", reason))
        elif not may_send(key, env.type):
            wrong.append(Problem(index, "type", f"{key} may not send {env.type}"))
    return wrong
