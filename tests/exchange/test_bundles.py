"""Importing a signed offline bundle at the exchange: verified, stored once, or refused whole."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketenherstel.bootstrap import Runtime, bootstrap
from ketenherstel.exchange.auth import LOCAL_OPERATOR, Principal
from ketenherstel.exchange.errors import Forbidden, InvalidInput, StateConflict
from ketenherstel.outbox.bundle import build_bundle
from ketenherstel.outbox.keys import generate_private_key, public_key_b64
from ketenherstel.settings import Settings
from tests.factories import POLITIE_SOURCE, pv_event

POLITIE = Principal("politie", "partner", "politie", "token")
KMAR = Principal("kmar", "partner", "kmar", "token")


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = bootstrap(Settings(store_url=str(tmp_path / "b.db")))
    for key in ("politie", "kmar", "om"):
        runtime.exchange.register_partner(principal=LOCAL_OPERATOR, key=key)
    yield runtime
    runtime.close()


def events(first: int, n: int) -> list[dict[str, object]]:
    return [
        pv_event(ident=str(uuid.uuid4()), case=f"10-{first + i:06d}-25", sequence=first + i)
        for i in range(n)
    ]


def stored(rt: Runtime) -> int:
    return sum(q.ready + q.leased + q.acked for q in rt.store.queue_stats())


def test_a_signed_bundle_is_imported_once_and_continues_the_sequence(rt: Runtime) -> None:
    key = generate_private_key()
    rt.exchange.register_signing_key(
        principal=LOCAL_OPERATOR, partner="politie", public_key=public_key_b64(key)
    )
    first = build_bundle(
        private_key=key,
        source=POLITIE_SOURCE,
        events=events(1, 3),
        previous_digest=None,
        created_at="2025-08-01T10:00:00Z",
    )
    result = rt.exchange.import_bundle(principal=LOCAL_OPERATOR, data=first.data)
    assert (result.accepted, result.first_sequence, result.last_sequence) == (3, 1, 3)
    with pytest.raises(StateConflict, match="replayed"):
        rt.exchange.import_bundle(principal=POLITIE, data=first.data)
    second = build_bundle(
        private_key=key,
        source=POLITIE_SOURCE,
        events=events(4, 2),
        previous_digest=first.digest,
        created_at="2025-08-02T10:00:00Z",
    )
    assert rt.exchange.import_bundle(principal=POLITIE, data=second.data).accepted == 2
    assert stored(rt) == 5


def test_a_bundle_whose_line_ends_became_crlf_on_the_way_is_imported(rt: Runtime) -> None:
    key = generate_private_key()
    rt.exchange.register_signing_key(
        principal=LOCAL_OPERATOR, partner="politie", public_key=public_key_b64(key)
    )
    built = build_bundle(
        private_key=key,
        source=POLITIE_SOURCE,
        events=events(1, 3),
        previous_digest=None,
        created_at="2025-08-01T10:00:00Z",
    )
    result = rt.exchange.import_bundle(
        principal=LOCAL_OPERATOR, data=built.data.replace(b"\n", b"\r\n")
    )
    assert (result.accepted, result.digest, result.crlf) == (3, built.digest, True)
    [entry] = [a for a in rt.store.audit_log(limit=10) if a.action == "bundle-imported"]
    assert entry.detail == f"1-3 {built.digest} (CRLF line ends read as LF)"
    with pytest.raises(StateConflict, match="replayed"):  # the same bundle, as it was exported
        rt.exchange.import_bundle(principal=POLITIE, data=built.data)
    assert stored(rt) == 3


@pytest.mark.parametrize("fault", ["tampered", "truncated", "foreign-key", "gap"])
def test_a_bad_bundle_is_refused_and_nothing_is_stored(rt: Runtime, fault: str) -> None:
    key = generate_private_key()
    rt.exchange.register_signing_key(
        principal=LOCAL_OPERATOR, partner="politie", public_key=public_key_b64(key)
    )
    signer = generate_private_key() if fault == "foreign-key" else key
    first = 5 if fault == "gap" else 1
    data = build_bundle(
        private_key=signer,
        source=POLITIE_SOURCE,
        events=events(first, 3),
        previous_digest=None,
        created_at="2025-08-01T10:00:00Z",
    ).data
    if fault == "tampered":
        data = data.replace(b"10-000002-25", b"10-000009-25")
    if fault == "truncated":
        data = data[: data.rstrip(b"\n").rfind(b"\n") + 1]
    with pytest.raises(InvalidInput, match="refused"):
        rt.exchange.import_bundle(principal=LOCAL_OPERATOR, data=data)
    assert stored(rt) == 0


def test_a_bundle_with_a_control_character_in_an_attribute_is_refused_whole(rt: Runtime) -> None:
    """The bundle's events are checked as any submission's (Exchange.prepare): a NUL in an id
    or an escape in a partition key refuses the whole bundle, naming each, signed or not."""
    key = generate_private_key()
    rt.exchange.register_signing_key(
        principal=LOCAL_OPERATOR, partner="politie", public_key=public_key_b64(key)
    )
    sent = events(1, 3)
    sent[1]["id"] = "ctl\x00\x1b[31mred"
    sent[2]["partitionkey"] = "pk\x1b"
    data = build_bundle(
        private_key=key,
        source=POLITIE_SOURCE,
        events=sent,
        previous_digest=None,
        created_at="2025-08-01T10:00:00Z",
    ).data
    with pytest.raises(InvalidInput) as refused:
        rt.exchange.import_bundle(principal=LOCAL_OPERATOR, data=data)
    assert [(p.index, p.field, p.reason.split(":")[0]) for p in refused.value.problems] == [
        (1, "id", "'id' holds U+0000"),
        (2, "partitionkey", "'partitionkey' holds U+001B"),
    ]
    assert stored(rt) == 0


def test_a_partner_cannot_import_another_partners_bundle(rt: Runtime) -> None:
    key = generate_private_key()
    rt.exchange.register_signing_key(
        principal=LOCAL_OPERATOR, partner="politie", public_key=public_key_b64(key)
    )
    data = build_bundle(
        private_key=key,
        source=POLITIE_SOURCE,
        events=events(1, 1),
        previous_digest=None,
        created_at="2025-08-01T10:00:00Z",
    ).data
    with pytest.raises(InvalidInput, match="foreign"):
        rt.exchange.import_bundle(principal=KMAR, data=data)
    with pytest.raises(Forbidden):
        rt.exchange.import_bundle(principal=Principal("v", "viewer", None, "token"), data=data)
    assert stored(rt) == 0


def test_a_bundle_from_an_isolated_partner_waits_in_quarantine(rt: Runtime) -> None:
    key = generate_private_key()
    rt.exchange.register_signing_key(
        principal=LOCAL_OPERATOR, partner="politie", public_key=public_key_b64(key)
    )
    rt.exchange.set_partner_state(
        principal=LOCAL_OPERATOR, partner="politie", state="isolated", reason="test"
    )
    data = build_bundle(
        private_key=key,
        source=POLITIE_SOURCE,
        events=events(1, 2),
        previous_digest=None,
        created_at="2025-08-01T10:00:00Z",
    ).data
    assert rt.exchange.import_bundle(principal=LOCAL_OPERATOR, data=data).quarantined == 2


def test_a_bad_public_key_is_refused(rt: Runtime) -> None:
    with pytest.raises(InvalidInput, match="publicKey"):
        rt.exchange.register_signing_key(
            principal=LOCAL_OPERATOR, partner="politie", public_key="not base64!"
        )
