"""Signed offline bundles at the exchange: partners' public keys and the import of a bundle an
edge outbox exported while its partner was cut off (the format is in `outbox.bundle`)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ketenherstel.exchange.auth import Principal
from ketenherstel.exchange.envelope import Envelope
from ketenherstel.exchange.errors import Forbidden, InvalidInput, NotFound, Problem, StateConflict
from ketenherstel.outbox.bundle import verify_bundle
from ketenherstel.outbox.errors import BundleError
from ketenherstel.outbox.keys import parse_public_key
from ketenherstel.store import ports
from ketenherstel.store.ports import AcceptOutcome, AcceptRequest, BundleImport, Store

MAX_BUNDLE_BYTES = 256 * 1024 * 1024
#: The media type a bundle file is sent to the exchange as (POST /v1/bundles); the only one read.
BUNDLE_MEDIA_TYPE = "application/vnd.ketenherstel.bundle"


@dataclass(frozen=True, slots=True)
class BundleResult:
    source: str
    first_sequence: int
    last_sequence: int
    digest: str
    accepted: int
    duplicates: int
    quarantined: int
    crlf: bool = False
    """The file's line ends had been changed to CRLF; it was read with LF, as it was signed."""


class BundleMixin:
    """Bundle use cases; `Exchange` provides the attributes declared here."""

    store: Store
    clock: Callable[[], float]

    def _require_operator(self, principal: Principal) -> None:
        raise NotImplementedError

    def _audit(self, principal: Principal, action: str, obj: str, detail: str) -> None:
        raise NotImplementedError

    def partner(self, key: str) -> ports.PartnerRecord:
        raise NotImplementedError

    def prepare(
        self, *, principal: Principal, events: Sequence[Any]
    ) -> tuple[AcceptRequest, list[Envelope]]:
        raise NotImplementedError

    def _settle(self, outcome: AcceptOutcome, envelopes: list[Envelope]) -> Any:
        raise NotImplementedError

    def register_signing_key(self, *, principal: Principal, partner: str, public_key: str) -> str:
        """Register the Ed25519 public key (base64 of the raw 32 bytes) a partner's outbox
        signs its bundles with; returns the key in canonical base64."""
        self._require_operator(principal)
        self.partner(partner)
        try:
            raw = parse_public_key(public_key)
        except ValueError as exc:
            raise InvalidInput(f"publicKey: {exc}") from None
        text = base64.b64encode(raw).decode()
        previous = self.store.partner_keys().get(partner)
        if previous == text:
            return text  # registered already: nothing is written, and it is no event
        self.store.set_partner_key(
            partner=partner, public_key=text, now=self.clock(), actor=principal.name
        )
        # A new key replaces the old one (a new outbox): bundles the old one signed no longer
        # verify, so the audit record names the key it replaced.
        said = text if previous is None else f"{text} (replaces {previous})"
        self._audit(principal, "signing-key-registered", partner, said)
        return text

    def import_bundle(self, *, principal: Principal, data: bytes) -> BundleResult:
        """Verify a bundle (signature, partner key, sequence continuity) and store its events
        through the same path as any submission, with the import record, or nothing at all.

        A partner may import only its own bundles; an operator may import any partner's (a
        courier brought it). Bundles from an isolated or returning partner go to quarantine.
        """
        if principal.role == "viewer":
            raise Forbidden("a viewer cannot import bundles")
        if len(data) > MAX_BUNDLE_BYTES:
            raise InvalidInput(f"a bundle is at most {MAX_BUNDLE_BYTES} bytes")
        partners = {p.key: p for p in self.store.list_partners()}
        keys = {
            partners[key].oin: base64.b64decode(text)
            for key, text in self.store.partner_keys().items()
            if key in partners
        }
        expected = None
        if principal.role == "partner" and principal.partner_key is not None:
            expected = self.partner(principal.partner_key).oin
        try:
            bundle = verify_bundle(
                data, public_keys=keys, expected_oin=expected, last=self.store.last_bundle
            )
        except BundleError as exc:
            error = StateConflict if exc.kind == "replayed" else InvalidInput
            raise error(
                f"the bundle is refused ({exc.kind}); nothing was stored",
                [Problem(None, exc.kind, p) for p in exc.problems],
            ) from None
        sender = next((p for p in partners.values() if p.oin == bundle.oin), None)
        if sender is None:
            raise NotFound(f"no partner is registered with OIN {bundle.oin}")
        as_sender = Principal(sender.key, "partner", sender.key, principal.via)
        request, envelopes = self.prepare(principal=as_sender, events=bundle.events)
        record = BundleImport(
            bundle.digest,
            bundle.source,
            bundle.first_sequence,
            bundle.last_sequence,
            bundle.count,
            self.clock(),
            principal.name,
        )
        try:
            outcome = self.store.import_bundle(request, record, now=self.clock())
        except ports.AlreadyExists as exc:
            raise StateConflict(f"the bundle is refused (replayed): {exc}") from None
        self._settle(outcome, envelopes)
        self._audit(
            principal,
            "bundle-imported",
            bundle.source,
            f"{bundle.first_sequence}-{bundle.last_sequence} {bundle.digest}"
            + (" (CRLF line ends read as LF)" if bundle.crlf else ""),
        )
        return BundleResult(
            bundle.source,
            bundle.first_sequence,
            bundle.last_sequence,
            bundle.digest,
            sum(1 for o in outcome.outcomes if o.status == "accepted"),
            sum(1 for o in outcome.outcomes if o.status == "duplicate"),
            sum(1 for o in outcome.outcomes if o.quarantined),
            bundle.crlf,
        )
