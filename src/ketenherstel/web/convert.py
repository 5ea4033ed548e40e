"""From the service's records to the API's schemas."""

from __future__ import annotations

from ketenherstel.store.ports import (
    ChannelRecord,
    CredentialRecord,
    DeliveryRecord,
    PartnerRecord,
    TrailCause,
    TrailEntry,
)
from ketenherstel.web import schemas as s


def partner(r: PartnerRecord) -> s.PartnerRead:
    return s.PartnerRead(
        key=r.key, name=r.name, oin=r.oin, webhook_url=r.webhook_url, created_at=s.ts(r.created_at)
    )


def credential(r: CredentialRecord) -> s.CredentialRead:
    return s.CredentialRead(
        id=r.id,
        principal=r.principal,
        role=r.role,
        partner=r.partner_key,
        label=r.label,
        created_at=s.ts(r.created_at),
        revoked_at=s.ts(r.revoked_at),
        created_by=r.created_by,
    )


def channel(r: ChannelRecord) -> s.ChannelRead:
    return s.ChannelRead(
        receiver=r.receiver,
        sender=r.sender,
        scope=r.scope,
        state=r.state,
        rate=r.rate,
        reason=r.reason,
        changed_at=s.ts(r.changed_at),
        changed_by=r.changed_by,
    )


def delivery(r: DeliveryRecord) -> s.DeliveryStateRead:
    return s.DeliveryStateRead(
        delivery_id=r.delivery_id,
        position=r.position,
        receiver=r.receiver,
        sender=r.sender,
        state=r.state,
        attempts=r.attempts,
        last_error=r.last_error,
        created_at=s.ts(r.created_at),
        updated_at=s.ts(r.updated_at),
    )


def trail_cause(c: TrailCause) -> s.TrailCauseRead:
    return s.TrailCauseRead(
        kind=c.kind,
        id=c.id,
        at=s.ts(c.at),
        actor=c.actor,
        reason=c.reason,
        state=c.state,
        receiver=c.receiver,
        sender=c.sender,
        scope=c.scope,
        rate=c.rate,
        requested_by=c.requested_by,
    )


def trail_entry(e: TrailEntry) -> s.TrailEntryRead:
    return s.TrailEntryRead(
        at=s.ts(e.at),
        event=e.event,
        delivery_id=e.delivery_id,
        receiver=e.receiver,
        actor=e.actor,
        detail=e.detail,
        cause=trail_cause(e.cause) if e.cause is not None else None,
    )
