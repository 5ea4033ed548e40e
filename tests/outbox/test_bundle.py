"""Signed bundles, pure: every kind of bad bundle is refused with its kind, and only then."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ketenherstel.outbox import BundleError, build_bundle, key_id, parse_public_key, verify_bundle
from ketenherstel.outbox.bundle import BuiltBundle, canonical_json
from ketenherstel.outbox.keys import public_key_b64, public_key_raw
from tests.factories import given_twice
from tests.outbox.conftest import OM_OIN, OM_SOURCE, summons

POLITIE_OIN = "00000001003214345000"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
KEYS = {OM_OIN: public_key_raw(KEY)}


def events(first: int, last: int, source: str = OM_SOURCE) -> list[dict[str, Any]]:
    return [
        {
            **summons(ident=f"e{n}", case=f"10-{n:06d}-25"),
            "source": source,
            "sequence": str(n),
            "sequencetype": "Integer",
        }
        for n in range(first, last + 1)
    ]


def bundle(
    first: int = 1,
    last: int = 3,
    *,
    previous: str | None = None,
    key: Ed25519PrivateKey = KEY,
    source: str = OM_SOURCE,
) -> BuiltBundle:
    return build_bundle(
        private_key=key,
        source=source,
        events=events(first, last, source),
        previous_digest=previous,
        created_at="2025-07-20T10:00:00Z",
    )


def nothing(_source: str) -> tuple[int, str | None] | None:
    return None


def holding(sequence: int, digest: str | None) -> Callable[[str], tuple[int, str | None]]:
    return lambda _source: (sequence, digest)


def refused(data: bytes, last: Any = nothing, **kwargs: Any) -> BundleError:
    kwargs.setdefault("public_keys", KEYS)
    kwargs.setdefault("expected_oin", OM_OIN)
    with pytest.raises(BundleError) as caught:
        verify_bundle(data, last=last, **kwargs)
    assert caught.value.problems, "a refusal names its problems"
    return caught.value


def resign(data: bytes, header_changes: dict[str, Any], key: Ed25519PrivateKey = KEY) -> bytes:
    """The bundle with its header changed and signed again (a valid signature)."""
    header_line, _, rest = data.partition(b"\n")
    _, _, payload = rest.partition(b"\n")
    header = {**json.loads(header_line), **header_changes}
    line = canonical_json(header)
    signature = key.sign(b"ketenherstel-bundle/1\n" + line)
    sig_line = canonical_json({"alg": "Ed25519", "signature": base64.b64encode(signature).decode()})
    return line + b"\n" + sig_line + b"\n" + payload


def test_a_bundle_round_trips_with_its_events_in_sequence_order() -> None:
    built = bundle(1, 3)
    verified = verify_bundle(built.data, public_keys=KEYS, expected_oin=OM_OIN, last=nothing)
    assert (verified.oin, verified.source) == (OM_OIN, OM_SOURCE)
    assert (verified.first_sequence, verified.last_sequence, verified.count) == (1, 3, 3)
    assert verified.digest == built.digest and verified.digest.startswith("sha256:")
    assert verified.previous_digest is None
    assert verified.key_id == key_id(KEYS[OM_OIN])
    assert [e["id"] for e in verified.events] == ["e1", "e2", "e3"]
    assert verified.events == events(1, 3)


def test_the_next_bundle_follows_the_last_one_imported() -> None:
    first = bundle(1, 3)
    second = bundle(4, 6, previous=first.digest)
    verified = verify_bundle(
        second.data, public_keys=KEYS, expected_oin=None, last=holding(3, first.digest)
    )
    assert verified.previous_digest == first.digest


def test_a_bundle_after_messages_that_came_online_needs_no_previous_bundle() -> None:
    # sequences 1-3 came online (no bundle), whatever bundle the outbox exported before them
    after_online = bundle(4, 6, previous="sha256:" + "a" * 64)
    verify_bundle(after_online.data, public_keys=KEYS, expected_oin=OM_OIN, last=holding(3, None))


def test_one_changed_byte_in_an_event_is_tampered() -> None:
    data = bytearray(bundle().data)
    at = data.index(b"SKN-0000012345")
    data[at + 4] = ord("9")
    error = refused(bytes(data))
    assert error.kind == "tampered"
    assert "payload hash" in str(error)


def test_a_changed_header_is_tampered_even_when_it_says_what_the_payload_says() -> None:
    data = bundle().data.replace(b'"createdAt":"2025-07-20', b'"createdAt":"2025-07-21')
    assert refused(data).kind == "tampered"


def test_a_cut_off_last_line_is_truncated() -> None:
    data = bundle().data
    without_last = data[: data.rstrip(b"\n").rindex(b"\n") + 1]
    error = refused(without_last)
    assert error.kind == "truncated"
    assert "announces 3 events; the file holds 2" in str(error)
    assert refused(data[:-20]).kind == "truncated"  # cut inside the last line


def test_a_file_cut_inside_its_header_or_signature_is_truncated() -> None:
    data = bundle().data
    assert refused(data[:40]).kind == "truncated"
    assert refused(data[: data.index(b"\n") + 20]).kind == "truncated"


def test_an_appended_event_is_tampered() -> None:
    data = bundle().data + canonical_json(events(4, 4)[0]) + b"\n"
    assert refused(data).kind == "tampered"


def test_the_same_bundle_twice_is_replayed() -> None:
    built = bundle(1, 3)
    error = refused(built.data, last=holding(3, built.digest))
    assert error.kind == "replayed"
    assert "is the last bundle imported" in str(error)


def test_sequences_already_held_are_replayed() -> None:
    error = refused(bundle(1, 3).data, last=holding(5, None))
    assert error.kind == "replayed"
    assert "already holds up to 5" in str(error)


def test_skipping_a_bundle_is_a_gap_naming_the_missing_sequences() -> None:
    first = bundle(1, 3)
    second = bundle(4, 6, previous=first.digest)
    third = bundle(7, 9, previous=second.digest)
    error = refused(third.data, last=holding(3, first.digest))
    assert error.kind == "gap"
    assert "sequences 4-6" in str(error)
    assert refused(bundle(2, 3).data).kind == "gap"  # nothing held, not starting at 1


def test_following_another_bundle_than_the_last_imported_is_refused() -> None:
    first = bundle(1, 3)
    stray = "sha256:" + "b" * 64
    assert refused(bundle(4, 6, previous=stray).data, last=holding(3, first.digest)).kind == "gap"
    restart = refused(bundle(4, 6).data, last=holding(3, first.digest))
    assert restart.kind == "replayed"
    assert "names no previous bundle" in str(restart)


def test_a_bundle_signed_with_another_key_is_foreign() -> None:
    error = refused(bundle(key=OTHER_KEY).data)
    assert error.kind == "foreign"
    assert key_id(public_key_raw(OTHER_KEY)) in str(error)


def test_a_forged_key_id_does_not_make_a_bad_signature_acceptable() -> None:
    forged = resign(bundle().data, {"keyId": key_id(KEYS[OM_OIN])}, key=OTHER_KEY)
    assert refused(forged).kind == "tampered"


def test_a_bundle_of_an_oin_without_a_registered_key_is_foreign() -> None:
    police = bundle(source=f"urn:nld:oin:{POLITIE_OIN}:systeem:bvh")
    error = refused(police.data, expected_oin=None)
    assert error.kind == "foreign"
    assert "no public key is registered" in str(error)


def test_a_bundle_of_another_partner_than_expected_is_foreign() -> None:
    keys = {**KEYS, POLITIE_OIN: public_key_raw(OTHER_KEY)}
    police = bundle(source=f"urn:nld:oin:{POLITIE_OIN}:systeem:bvh", key=OTHER_KEY)
    error = refused(police.data, public_keys=keys, expected_oin=OM_OIN)
    assert error.kind == "foreign"
    assert f"only bundles of OIN {OM_OIN}" in str(error)


def test_signed_events_of_another_oin_are_foreign() -> None:
    built = bundle()
    police = events(1, 1, f"urn:nld:oin:{POLITIE_OIN}:systeem:bvh")[0]
    header, sig, payload = built.data.split(b"\n", 2)
    lines = payload.split(b"\n")
    lines[0] = canonical_json(police)
    new_payload = b"\n".join(lines)
    data = resign(
        header + b"\n" + sig + b"\n" + new_payload,
        {"payloadSha256": hashlib.sha256(new_payload).hexdigest()},
    )
    error = refused(data)
    assert error.kind == "foreign"
    assert "event 0 (line 3)" in str(error)


def test_signed_but_non_contiguous_sequences_are_a_gap() -> None:
    built = bundle(1, 3)
    assert refused(resign(built.data, {"count": 2})).kind == "gap"
    skipping = events(1, 3)
    skipping[2]["sequence"] = "4"
    payload = b"".join(canonical_json(e) + b"\n" for e in skipping)
    header, sig, _ = built.data.split(b"\n", 2)
    data = resign(
        header + b"\n" + sig + b"\n" + payload,
        {"payloadSha256": hashlib.sha256(payload).hexdigest()},
    )
    error = refused(data)
    assert error.kind == "gap"
    assert "expected 3" in str(error)


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n", b"hello\n", b"{not json}\nx\n", b'{"format":"other/9"}\n{}\n', b"[1]\n{}\n"],
)
def test_garbage_is_malformed(data: bytes) -> None:
    assert refused(data).kind == "malformed"


def test_a_header_with_missing_fields_lists_every_one() -> None:
    error = refused(b'{"format":"ketenherstel-bundle/1","count":"3"}\n{}\n')
    assert error.kind == "malformed"
    assert len(error.problems) >= 5


def test_a_key_given_twice_in_a_signed_line_is_malformed_and_named() -> None:
    """It was refused already, as "a key appears twice in the header (line 1)": which key,
    the operator had to find out."""
    header, _, payload = bundle().data.split(b"\n", 2)
    line = given_twice(header, "count", 30)
    signature = KEY.sign(b"ketenherstel-bundle/1\n" + line)
    sig_line = canonical_json({"alg": "Ed25519", "signature": base64.b64encode(signature).decode()})
    error = refused(line + b"\n" + sig_line + b"\n" + payload)
    assert (error.kind, error.problems) == (
        "malformed",
        ["the header (line 1) is not valid JSON: the key 'count' appears twice in one object"],
    )
    first, rest = payload.split(b"\n", 1)
    twice = given_twice(first, "parketnummer", "10-999999-25") + b"\n" + rest
    data = resign(header + b"\n\n" + twice, {"payloadSha256": hashlib.sha256(twice).hexdigest()})
    error = refused(data)
    assert (error.kind, error.problems) == (
        "malformed",
        ["event 0 (line 3) is not valid JSON: the key 'parketnummer' appears twice in one object"],
    )


def test_a_signature_in_non_canonical_base64_is_malformed() -> None:
    header, sig, payload = bundle().data.split(b"\n", 2)
    doc = json.loads(sig)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(doc["signature"][-3])
    doc["signature"] = doc["signature"][:-3] + alphabet[last ^ 1] + "=="  # an unused bit
    assert base64.b64decode(doc["signature"]) == base64.b64decode(json.loads(sig)["signature"])
    data = header + b"\n" + canonical_json(doc) + b"\n" + payload
    assert refused(data).kind == "malformed"


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_single_changed_byte_is_refused(data: st.DataObject) -> None:
    original = bundle(1, 2).data
    at = data.draw(st.integers(0, len(original) - 1), label="position")
    value = data.draw(st.integers(0, 255).filter(lambda b: b != original[at]), label="byte")
    changed = original[:at] + bytes([value]) + original[at + 1 :]
    with pytest.raises(BundleError):
        verify_bundle(changed, public_keys=KEYS, expected_oin=OM_OIN, last=nothing)


def crlf(data: bytes) -> bytes:
    """The file as a courier's Windows machine may pass it on: every line end CRLF."""
    return data.replace(b"\n", b"\r\n")


def test_a_bundle_whose_line_ends_became_crlf_is_read_as_it_was_signed() -> None:
    built = bundle(1, 3)
    assert b"\r" not in built.data  # canonical JSON escapes a CR: a bundle holds none
    verified = verify_bundle(crlf(built.data), public_keys=KEYS, expected_oin=OM_OIN, last=nothing)
    assert verified.crlf and verified.digest == built.digest
    assert verified.events == events(1, 3)
    assert not verify_bundle(built.data, public_keys=KEYS, expected_oin=OM_OIN, last=nothing).crlf
    # The same bundle with its line ends changed is the same bundle: replayed once imported.
    assert refused(crlf(built.data), last=holding(3, built.digest)).kind == "replayed"


def test_a_crlf_copy_changed_in_any_other_way_is_refused() -> None:
    data = crlf(bundle(1, 3).data)
    at = data.index(b"SKN-0000012345")
    assert refused(data[: at + 4] + b"9" + data[at + 5 :]).kind == "tampered"
    header = data.replace(b'"createdAt":"2025-07-20', b'"createdAt":"2025-07-21')
    assert refused(header).kind == "tampered"
    # Only a CR before an LF is a line end; the old Mac's lone CR is not read as one.
    assert refused(data.replace(b"\r\n", b"\r")).kind == "truncated"
    assert refused(data.replace(b"\r\n", b"\r\r\n", 1)).kind == "tampered"
    assert refused(data[:-2] + b"\r").kind == "truncated"  # the last line lost its LF


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_single_changed_byte_of_a_crlf_copy_is_refused(data: st.DataObject) -> None:
    original = crlf(bundle(1, 2).data)
    at = data.draw(st.integers(0, len(original) - 1), label="position")
    value = data.draw(st.integers(0, 255).filter(lambda b: b != original[at]), label="byte")
    changed = original[:at] + bytes([value]) + original[at + 1 :]
    with pytest.raises(BundleError):
        verify_bundle(changed, public_keys=KEYS, expected_oin=OM_OIN, last=nothing)


def test_public_keys_travel_as_base64_of_32_bytes() -> None:
    text = public_key_b64(KEY)
    assert parse_public_key(text) == KEYS[OM_OIN]
    with pytest.raises(ValueError, match="32 bytes"):
        parse_public_key(base64.b64encode(b"short").decode())
    with pytest.raises(ValueError, match="base64"):
        parse_public_key("not base64!")


def test_building_refuses_events_that_cannot_make_a_bundle() -> None:
    with pytest.raises(ValueError, match="at least one"):
        build_bundle(
            private_key=KEY, source=OM_SOURCE, events=[], previous_digest=None, created_at="x"
        )
    mixed = events(1, 2)
    mixed[1]["sequence"] = "5"
    with pytest.raises(ValueError, match="not 2"):
        build_bundle(
            private_key=KEY, source=OM_SOURCE, events=mixed, previous_digest=None, created_at="x"
        )
