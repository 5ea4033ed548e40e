"""Exporting signed bundles from the outbox and verifying them as the exchange will."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ketenherstel.client import ExchangeClient
from ketenherstel.outbox import BundleError, VerifiedBundle, verify_bundle
from ketenherstel.outbox.agent import Outbox
from ketenherstel.outbox.errors import ExportError
from ketenherstel.outbox.keys import public_key_raw
from tests.outbox.conftest import OM_OIN, OM_SOURCE, summons

KEY = Ed25519PrivateKey.generate()


@dataclass
class Importer:
    """The exchange's side of `last(source)`, as `verify_bundle` documents it."""

    held: int = 0
    last_bundle: tuple[str, int] | None = None
    imported: list[VerifiedBundle] = field(default_factory=list)

    def last(self, _source: str) -> tuple[int, str | None] | None:
        if self.held == 0:
            return None
        came_in_bundle = self.last_bundle is not None and self.last_bundle[1] == self.held
        return self.held, self.last_bundle[0] if came_in_bundle and self.last_bundle else None

    def import_file(self, path: Path) -> VerifiedBundle:
        verified = verify_bundle(
            path.read_bytes(),
            public_keys={OM_OIN: public_key_raw(KEY)},
            expected_oin=OM_OIN,
            last=self.last,
        )
        self.held = verified.last_sequence
        self.last_bundle = (verified.digest, verified.last_sequence)
        self.imported.append(verified)
        return verified

    def online(self, up_to: int) -> None:
        self.held = max(self.held, up_to)


def accept_all(outbox: Outbox) -> None:
    transport = httpx.MockTransport(
        lambda _: httpx.Response(201, json={"accepted": 1, "duplicates": 0, "sequenceGaps": []})
    )
    with ExchangeClient("http://exchange.invalid", "t", transport=transport) as client:
        assert outbox.forward_once(client).status == "forwarded"


def test_an_exported_bundle_verifies_and_holds_the_pending_messages(
    outbox: Outbox, tmp_path: Path
) -> None:
    ids = [w.id for w in outbox.write([summons() for _ in range(4)])]
    done = outbox.export_bundle(tmp_path / "b1.khb", private_key=KEY)
    assert (done.first_sequence, done.last_sequence, done.count) == (1, 4, 4)
    assert done.previous_digest is None and not done.reissued
    verified = Importer().import_file(done.path)
    assert verified.digest == done.digest
    assert [e["id"] for e in verified.events] == ids
    assert [e["sequence"] for e in verified.events] == ["1", "2", "3", "4"]
    # still pending: it is forwarded too when the exchange answers
    assert outbox.status().pending == 4
    assert outbox.status().sources[0].last_bundled == 4


def test_bundles_chain_by_previous_digest_and_import_in_order(
    outbox: Outbox, tmp_path: Path
) -> None:
    importer = Importer()
    outbox.write([summons(), summons()])
    first = outbox.export_bundle(tmp_path / "b1", private_key=KEY)
    outbox.write([summons()])
    second = outbox.export_bundle(tmp_path / "b2", private_key=KEY)
    outbox.write([summons()])
    third = outbox.export_bundle(tmp_path / "b3", private_key=KEY)
    assert second.previous_digest == first.digest and third.previous_digest == second.digest
    importer.import_file(first.path)
    with pytest.raises(BundleError) as caught:
        importer.import_file(third.path)
    assert caught.value.kind == "gap"
    importer.import_file(second.path)
    importer.import_file(third.path)
    with pytest.raises(BundleError) as again:
        importer.import_file(third.path)
    assert again.value.kind == "replayed"
    assert [v.last_sequence for v in importer.imported] == [2, 3, 4]


def test_export_skips_what_was_forwarded(outbox: Outbox, tmp_path: Path) -> None:
    outbox.write([summons(), summons()])
    accept_all(outbox)
    outbox.write([summons()])
    done = outbox.export_bundle(tmp_path / "b", private_key=KEY)
    assert (done.first_sequence, done.last_sequence, done.previous_digest) == (3, 3, None)


def test_a_bundle_after_messages_forwarded_online_imports(outbox: Outbox, tmp_path: Path) -> None:
    importer = Importer()
    outbox.write([summons(), summons()])
    lost = outbox.export_bundle(tmp_path / "lost", private_key=KEY)  # never arrives
    accept_all(outbox)  # 1-2 reach the exchange online after all
    importer.online(2)
    outbox.write([summons()])
    after = outbox.export_bundle(tmp_path / "after", private_key=KEY)
    assert after.previous_digest == lost.digest
    assert importer.import_file(after.path).first_sequence == 3


def test_a_bundle_after_an_imported_bundle_and_online_traffic_imports(
    outbox: Outbox, tmp_path: Path
) -> None:
    importer = Importer()
    outbox.write([summons(), summons()])
    importer.import_file(outbox.export_bundle(tmp_path / "b1", private_key=KEY).path)
    outbox.write([summons()])
    accept_all(outbox)  # 1-2 again (duplicates there) and 3, online
    importer.online(3)
    outbox.write([summons()])
    done = outbox.export_bundle(tmp_path / "b2", private_key=KEY)
    assert done.previous_digest is None  # 3 was not in a bundle
    assert importer.import_file(done.path).first_sequence == 4


def test_a_lost_bundle_file_is_written_again_byte_for_byte(outbox: Outbox, tmp_path: Path) -> None:
    outbox.write([summons(), summons()])
    first = outbox.export_bundle(tmp_path / "b1", private_key=KEY)
    data = first.path.read_bytes()
    first.path.unlink()
    again = outbox.export_bundle(tmp_path / "b1-again", private_key=KEY, first=1, last=2)
    assert again.reissued and again.digest == first.digest
    assert again.path.read_bytes() == data


def test_a_chosen_range_is_exported_and_linked_to_the_bundle_before_it(
    outbox: Outbox, tmp_path: Path
) -> None:
    outbox.write([summons() for _ in range(6)])
    head = outbox.export_bundle(tmp_path / "b1", private_key=KEY, max_events=2)
    assert (head.first_sequence, head.last_sequence) == (1, 2)
    middle = outbox.export_bundle(tmp_path / "b2", private_key=KEY, first=3, last=4)
    assert middle.previous_digest == head.digest
    rest = outbox.export_bundle(tmp_path / "b3", private_key=KEY)
    assert (rest.first_sequence, rest.last_sequence) == (5, 6)


def test_max_events_holds_also_for_a_chosen_range_and_says_what_is_left(
    outbox: Outbox, tmp_path: Path
) -> None:
    """`--max-events 5` with `--last 29` wrote all 29: the bundle holds the first of the range
    now, and says which sequences are left for the next one."""
    outbox.write([summons() for _ in range(29)])
    head = outbox.export_bundle(tmp_path / "b1", private_key=KEY, last=29, max_events=5)
    assert (head.first_sequence, head.last_sequence, head.count) == (1, 5, 5)
    assert head.left == (6, 29)
    again = outbox.export_bundle(tmp_path / "b1-again", private_key=KEY, first=1, max_events=5)
    assert again.reissued and again.digest == head.digest and again.left == (6, 29)
    middle = outbox.export_bundle(tmp_path / "b2", private_key=KEY, first=6, last=29, max_events=20)
    assert (middle.first_sequence, middle.last_sequence, middle.left) == (6, 25, (26, 29))
    assert middle.previous_digest == head.digest
    rest = outbox.export_bundle(tmp_path / "b3", private_key=KEY, max_events=20)
    assert (rest.first_sequence, rest.last_sequence, rest.left) == (26, 29, None)
    with pytest.raises(ExportError, match="holds 1-29"):
        outbox.export_bundle(tmp_path / "b4", private_key=KEY, first=1, last=40, max_events=2)
    # it said only "it holds 1-29", which 5-2 is within
    with pytest.raises(ExportError, match=r"5-2 of .*: the first comes after the last"):
        outbox.export_bundle(tmp_path / "b5", private_key=KEY, first=5, last=2)
    assert not (tmp_path / "b5").exists()
    # only the last, below what is bundled already (up to 29): it said "6-3 … holds 1-29"
    with pytest.raises(ExportError, match=r"30-3 of .*: up to 29 was forwarded or bundled"):
        outbox.export_bundle(tmp_path / "b6", private_key=KEY, last=3)


def test_messages_of_another_source_of_the_oin_are_named_never_left_unseen(
    outbox: Outbox, tmp_path: Path
) -> None:
    """`outbox write` takes any source of the outbox's OIN; an export of the outbox's own
    source said only 'nothing was written from ...' while those waited."""
    other = f"urn:nld:oin:{OM_OIN}:systeem:compas"
    outbox.write([summons(source=other) for _ in range(18)])
    with pytest.raises(ExportError, match="nothing was written from") as refused:
        outbox.export_bundle(tmp_path / "b", private_key=KEY)
    assert f"(18 from {other})" in str(refused.value) and "--source" in str(refused.value)
    outbox.write([summons(), summons()])
    own = outbox.export_bundle(tmp_path / "own", private_key=KEY)
    assert (own.source, own.count, own.others) == (OM_SOURCE, 2, ((other, 18),))
    with pytest.raises(ExportError, match=f"nothing to export from .*18 from {other}"):
        outbox.export_bundle(tmp_path / "again", private_key=KEY)
    theirs = outbox.export_bundle(tmp_path / "theirs", private_key=KEY, source=other)
    assert (theirs.source, theirs.count, theirs.others) == (other, 18, ())


def test_nothing_to_export_says_why(outbox: Outbox, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="nothing was written"):
        outbox.export_bundle(tmp_path / "b", private_key=KEY)
    outbox.write([summons()])
    outbox.export_bundle(tmp_path / "b", private_key=KEY)
    with pytest.raises(ExportError, match="nothing to export"):
        outbox.export_bundle(tmp_path / "c", private_key=KEY)
    with pytest.raises(ExportError, match="holds 1-1"):
        outbox.export_bundle(tmp_path / "c", private_key=KEY, first=1, last=5)
    assert not (tmp_path / "c").exists()


def test_an_existing_file_is_never_overwritten_and_nothing_is_recorded(
    outbox: Outbox, tmp_path: Path
) -> None:
    outbox.write([summons()])
    target = tmp_path / "taken"
    target.write_text("mine")
    with pytest.raises(ExportError, match="never overwritten"):
        outbox.export_bundle(target, private_key=KEY)
    assert target.read_text() == "mine"
    assert outbox.store.bundles(OM_SOURCE) == []


@pytest.mark.parametrize(("where", "why"), [("missing/b", "is no directory"), ("file/b", "is no")])
def test_a_file_that_cannot_be_written_is_refused_before_anything_is_recorded(
    outbox: Outbox, tmp_path: Path, where: str, why: str
) -> None:
    outbox.write([summons()])
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ExportError, match=f"cannot write .*{why}.*; nothing was exported"):
        outbox.export_bundle(tmp_path / where, private_key=KEY)
    assert outbox.store.bundles(OM_SOURCE) == []
    done = outbox.export_bundle(tmp_path / "b", private_key=KEY)  # the same messages, once
    assert (done.first_sequence, done.last_sequence, done.reissued) == (1, 1, False)
