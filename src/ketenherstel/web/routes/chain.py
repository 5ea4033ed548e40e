"""The chain model as data: partners, processes in procedure order, message types, schemas."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ketenherstel.exchange.errors import NotFound
from ketenherstel.web.body import JsonBodyRoute
from ketenherstel.web.problems import PROBLEM_JSON
from ketenherstel.web.security import ExchangeDep, PrincipalDep

router = APIRouter(prefix="/v1", tags=["chain"], route_class=JsonBodyRoute)


@router.get("/chain", summary="The chain model in use", operation_id="getChain")
async def get_chain(exchange: ExchangeDep, _: PrincipalDep) -> dict[str, Any]:
    chain = exchange.chain
    return {
        "version": chain.version,
        "partners": [
            {"key": p.key, "name": p.name, "oin": p.oin, "kind": p.kind, "systems": list(p.systems)}
            for p in chain.partners
        ],
        "processes": [
            {
                "key": p.key,
                "name": p.name,
                "phase": str(p.phase),
                "order": p.order,
                "deadline": None
                if p.deadline is None
                else {"duration": p.deadline.duration, "text": p.deadline.text},
            }
            for p in chain.processes_in_order()
        ],
        "messageTypes": [
            {
                "type": m.type,
                "name": m.name,
                "process": m.process,
                "senders": list(m.senders),
                "receivers": list(m.receivers),
                "personalData": m.personal_data,
            }
            for m in chain.message_types
        ],
    }


@router.get(
    "/chain/message-types/{type}/schema",
    summary="The JSON Schema of a message type's data",
    operation_id="getMessageTypeSchema",
    responses={404: {"description": "Unknown type", "content": {PROBLEM_JSON: {}}}},
)
async def get_schema(type: str, exchange: ExchangeDep, _: PrincipalDep) -> dict[str, Any]:
    found = exchange.chain.message_type(type)
    if found is None:
        raise NotFound(f"unknown message type {type!r}")
    return dict(found.schema)
