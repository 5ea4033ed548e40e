"""Operators manage partners, credentials, channels and dead letters; viewers read queues."""

from __future__ import annotations

import contextlib
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ketenherstel.exchange.auth import Principal
from ketenherstel.exchange.errors import NotFound
from ketenherstel.gateway.register import Register
from ketenherstel.gateway.watch import GatewayInputError
from ketenherstel.store.ports import PartnerRecord
from ketenherstel.web import convert
from ketenherstel.web import schemas as s
from ketenherstel.web.body import JsonBodyRoute
from ketenherstel.web.problems import documented as _problem
from ketenherstel.web.security import ExchangeDep, OperatorDep, PrincipalDep, ViewerDep

router = APIRouter(prefix="/v1", tags=["admin"], route_class=JsonBodyRoute)


_WRITE: dict[int | str, dict[str, Any]] = {
    400: _problem("Invalid input"),
    403: _problem("Needs the operator role"),
}


@router.get(
    "/partners",
    summary="Registered partners (a webhook URL only to operators and to its own partner)",
    operation_id="listPartners",
)
async def list_partners(exchange: ExchangeDep, principal: PrincipalDep) -> list[s.PartnerRead]:
    return [_shown(p, principal) for p in await run_in_threadpool(exchange.partners)]


def _shown(record: PartnerRecord, principal: Principal) -> s.PartnerRead:
    """A partner as ``principal`` may see it: a webhook URL often carries the receiver's own
    secret (a token in its path or query), so only operators and the partner itself see it."""
    read = convert.partner(record)
    if not principal.is_operator and principal.partner_key != record.key:
        read.webhook_url = None
    return read


@router.post(
    "/partners",
    summary="Register a chain partner with the exchange",
    operation_id="registerPartner",
    status_code=201,
    responses={**_WRITE, 409: _problem("Already registered, or OIN taken")},
)
async def register_partner(
    body: s.PartnerCreate, exchange: ExchangeDep, principal: OperatorDep
) -> s.PartnerRead:
    record = await run_in_threadpool(
        exchange.register_partner, principal=principal, key=body.key, oin=body.oin, name=body.name
    )
    return convert.partner(record)


@router.get(
    "/partners/{key}",
    summary="One registered partner",
    operation_id="getPartner",
    responses={404: _problem("Not registered")},
)
async def get_partner(key: str, exchange: ExchangeDep, principal: PrincipalDep) -> s.PartnerRead:
    return _shown(await run_in_threadpool(exchange.partner, key), principal)


@router.put(
    "/partners/{key}/webhook",
    summary="Set or clear the partner's push webhook",
    operation_id="setPartnerWebhook",
    responses={**_WRITE, 404: _problem("Not registered")},
)
async def set_webhook(
    key: str, body: s.WebhookUpdate, exchange: ExchangeDep, principal: OperatorDep
) -> s.PartnerRead:
    record = await run_in_threadpool(
        exchange.set_webhook, principal=principal, key=key, url=body.url
    )
    return convert.partner(record)


@router.get(
    "/credentials", summary="All credentials (never the tokens)", operation_id="listCredentials"
)
async def list_credentials(exchange: ExchangeDep, principal: OperatorDep) -> list[s.CredentialRead]:
    records = await run_in_threadpool(exchange.credentials, principal=principal)
    return [convert.credential(c) for c in records]


@router.post(
    "/credentials",
    summary="Create a bearer token for a partner, operator or viewer",
    operation_id="createCredential",
    status_code=201,
    responses={**_WRITE, 404: _problem("Partner not registered")},
)
async def create_credential(
    body: s.CredentialCreate, exchange: ExchangeDep, principal: OperatorDep
) -> s.CredentialCreated:
    token, record = await run_in_threadpool(
        exchange.create_token,
        principal=principal,
        role=body.role,
        partner=body.partner,
        person=body.person,
        label=body.label,
    )
    return s.CredentialCreated(credential=convert.credential(record), token=token)


@router.post(
    "/credentials/{credentialId}/rotations",
    summary="Rotate a token: a new one is issued and the old one revoked",
    operation_id="rotateCredential",
    status_code=201,
    responses={**_WRITE, 404: _problem("No such credential"), 409: _problem("Already revoked")},
)
async def rotate_credential(
    credential_id: Annotated[str, Path(alias="credentialId")],
    exchange: ExchangeDep,
    principal: OperatorDep,
) -> s.CredentialCreated:
    token, record = await run_in_threadpool(
        exchange.rotate_token, principal=principal, credential_id=credential_id
    )
    return s.CredentialCreated(credential=convert.credential(record), token=token)


@router.delete(
    "/credentials/{credentialId}",
    summary="Revoke a token",
    description=(
        "The token stops working at once on this server; another server on the same store "
        "(or one after `ketenherstel token revoke`) keeps a token it checked for up to 5 "
        "seconds. Idempotent: a credential revoked before is answered the same (200, its "
        "revokedAt the first revocation's); nothing changes and no second audit record is "
        "written."
    ),
    operation_id="revokeCredential",
    responses={**_WRITE, 404: _problem("No such credential")},
)
async def revoke_credential(
    credential_id: Annotated[str, Path(alias="credentialId")],
    exchange: ExchangeDep,
    principal: OperatorDep,
) -> s.CredentialRead:
    revocation = await run_in_threadpool(
        exchange.revoke_token, principal=principal, credential_id=credential_id
    )
    return convert.credential(revocation.credential)


@router.get("/channels", summary="Channel states (held or open)", operation_id="listChannels")
async def list_channels(exchange: ExchangeDep, _: ViewerDep) -> list[s.ChannelRead]:
    return [convert.channel(c) for c in await run_in_threadpool(exchange.channels)]


@router.get(
    "/channel-events",
    summary="Every change of channel state, newest first: who, when and why",
    operation_id="listChannelEvents",
    responses={400: _problem("Unknown partner or limit out of range")},
)
async def list_channel_events(
    exchange: ExchangeDep,
    _: ViewerDep,
    receiver: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[s.ChannelRead]:
    records = await run_in_threadpool(exchange.channel_history, receiver=receiver, limit=limit)
    return [convert.channel(c) for c in records]


@router.put(
    "/channels/{receiver}/{sender}",
    summary="Hold or open the channel from sender to receiver for every type ('*' for any)",
    operation_id="setChannel",
    responses=_WRITE,
)
async def set_channel(
    receiver: str,
    sender: str,
    body: s.ChannelUpdate,
    exchange: ExchangeDep,
    principal: OperatorDep,
) -> s.ChannelRead:
    return await set_scoped_channel(receiver, sender, "*", body, exchange, principal)


@router.put(
    "/channels/{receiver}/{sender}/{scope}",
    summary="Hold or open a channel for one message type or 'process:<key>', with a rate",
    operation_id="setScopedChannel",
    responses=_WRITE,
)
async def set_scoped_channel(
    receiver: str,
    sender: str,
    scope: str,
    body: s.ChannelUpdate,
    exchange: ExchangeDep,
    principal: OperatorDep,
) -> s.ChannelRead:
    record = await run_in_threadpool(
        exchange.set_channel,
        principal=principal,
        receiver=receiver,
        sender=sender,
        scope=scope,
        state=body.state,
        reason=body.reason,
        rate=body.rate,
    )
    return convert.channel(record)


@router.get(
    "/dead-letters",
    summary="Dead-lettered deliveries with their reasons (a partner sees its own)",
    operation_id="listDeadLetters",
    responses={
        400: _problem("Unknown receiver or limit out of range"),
        403: _problem("Another partner's dead letters"),
    },
)
async def list_dead_letters(
    exchange: ExchangeDep,
    principal: PrincipalDep,
    receiver: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[s.DeliveryStateRead]:
    records = await run_in_threadpool(
        exchange.dead_letters, principal=principal, receiver=receiver, limit=limit
    )
    return [convert.delivery(d) for d in records]


@router.post(
    "/dead-letters/{deliveryId}/resends",
    summary="Re-send a dead-lettered delivery (it keeps its original id)",
    operation_id="resendDeadLetter",
    status_code=201,
    responses={
        **_WRITE,
        404: _problem("No such delivery"),
        409: _problem("The delivery is not dead-lettered"),
    },
)
async def resend(
    delivery_id: Annotated[int, Path(alias="deliveryId")],
    exchange: ExchangeDep,
    principal: OperatorDep,
) -> s.DeliveryStateRead:
    record = await run_in_threadpool(exchange.resend, principal=principal, delivery_id=delivery_id)
    return convert.delivery(record)


@router.get(
    "/queues", summary="Deliveries per receiver and sender, by state", operation_id="listQueues"
)
async def queues(exchange: ExchangeDep, _: ViewerDep) -> list[s.QueueRead]:
    stats = await run_in_threadpool(exchange.store.queue_stats)
    return [
        s.QueueRead(
            receiver=q.receiver,
            sender=q.sender,
            ready=q.ready,
            leased=q.leased,
            acked=q.acked,
            dead=q.dead,
            oldest_waiting=s.ts(q.oldest_waiting),
        )
        for q in stats
    ]


@router.post(
    "/purges",
    summary="Apply retention: acked messages older than this become tombstones",
    description=(
        "A purge turns the messages into tombstones and is kept in the audit log (201). A dry "
        "run only counts them and changes nothing (200)."
    ),
    operation_id="createPurge",
    status_code=201,
    responses={
        200: {"description": "A dry run's count; nothing was purged", "model": s.PurgeRead},
        **_WRITE,
    },
)
async def create_purge(
    body: s.PurgeCreate, exchange: ExchangeDep, principal: OperatorDep, response: Response
) -> s.PurgeRead:
    result = await run_in_threadpool(
        exchange.purge,
        principal=principal,
        older_than_days=body.older_than_days,
        dry_run=body.dry_run,
    )
    if result.dry_run:
        response.status_code = 200  # a dry run creates nothing
    return s.PurgeRead(messages=result.messages, dry_run=result.dry_run)


def _gateway_audits_copied(request: Request) -> None:
    """Copy to the store's audit trail what the store's gateway register keeps and a process
    killed before it could copy (decision 0019), so the trail read next lacks none of it. A
    register that cannot be read or written is left to the gateway's own routes to report."""
    rt = request.app.state.runtime
    with contextlib.suppress(GatewayInputError):
        Register(FsPath(rt.settings.gateway_register_location())).copy_audits(rt.store)


@router.get("/audit-log", summary="Recent audit records", operation_id="listAuditRecords")
async def audit_log(
    request: Request,
    exchange: ExchangeDep,
    _: OperatorDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[s.AuditRead]:
    await run_in_threadpool(_gateway_audits_copied, request)
    records = await run_in_threadpool(exchange.store.audit_log, limit=limit)
    return [
        s.AuditRead(at=s.ts(a.at), actor=a.actor, action=a.action, object=a.object, detail=a.detail)
        for a in records
    ]


__all__ = ["NotFound", "router"]


@router.put(
    "/partners/{key}/signing-key",
    summary="Register the Ed25519 key a partner's edge outbox signs its bundles with",
    operation_id="setSigningKey",
    responses={**_WRITE, 404: _problem("No such partner")},
)
async def set_signing_key(
    key: str, body: s.SigningKeyUpdate, exchange: ExchangeDep, principal: OperatorDep
) -> s.SigningKeyRead:
    text = await run_in_threadpool(
        exchange.register_signing_key, principal=principal, partner=key, public_key=body.public_key
    )
    return s.SigningKeyRead(partner=key, public_key=text)
