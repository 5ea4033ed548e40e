"""Who is calling: a client certificate (mTLS) if the connection has one, else a bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from ketenherstel.exchange.auth import Principal
from ketenherstel.exchange.errors import Forbidden, Unauthenticated
from ketenherstel.exchange.service import Exchange, receiver_of


async def get_exchange(request: Request) -> Exchange:
    exchange: Exchange = request.app.state.exchange
    return exchange


ExchangeDep = Annotated[Exchange, Depends(get_exchange)]


async def get_principal(request: Request) -> Principal:
    """One dependency with no sub-dependencies: it runs on every request, so it stays cheap.

    The security schemes (bearer, mutual TLS) are declared in the OpenAPI document by
    `web.openapi.adjust`.
    """
    exchange: Exchange = request.app.state.exchange
    tls = request.scope.get("extensions", {}).get("tls", {})
    if tls.get("client_cert_subject") is not None:
        return await run_in_threadpool(
            exchange.authenticate_certificate, tls.get("client_cert_oin")
        )
    header = request.headers.get("authorization")
    if header is None:
        raise Unauthenticated("send 'Authorization: Bearer <token>' or a client certificate")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    token = token.strip()
    # A token checked in the last seconds needs no store read: answer on the event loop.
    known = exchange.cached_principal(token)
    if known is not None:
        return known
    return await run_in_threadpool(exchange.authenticate_token, token)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def require_operator(principal: PrincipalDep) -> Principal:
    if not principal.is_operator:
        raise Forbidden("this needs the operator role")
    return principal


async def require_viewer(principal: PrincipalDep) -> Principal:
    if not principal.can_view:
        raise Forbidden("this needs the viewer or operator role")
    return principal


async def require_receiver(principal: PrincipalDep) -> Principal:
    """A partner, for the routes of what it receives (acknowledgements, failures): a viewer or
    an operator hears 403 before its body is read as the route's model (it heard 400 for a
    body the route would have refused anyway)."""
    receiver_of(principal)
    return principal


OperatorDep = Annotated[Principal, Depends(require_operator)]
ReceiverDep = Annotated[Principal, Depends(require_receiver)]
ViewerDep = Annotated[Principal, Depends(require_viewer)]
