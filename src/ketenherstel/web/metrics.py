"""``/metrics`` in the Prometheus text format, so an existing Grafana can watch the exchange.

Aggregates only (per channel), never a message or a person. It needs a viewer's or an
operator's bearer token (Prometheus: ``authorization: {credentials: <token>}``).
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from ketenherstel.store.ports import QueueStats
from ketenherstel.web.security import ViewerDep

__all__ = ["render", "router"]

router = APIRouter(include_in_schema=False)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(
    stats: list[QueueStats],
    now: float,
    delivered: dict[tuple[str, str], int] | None = None,
    channels: Iterable[tuple[str, str]] = (),
) -> str:
    """``stats``: what waits and what failed, per channel (``Store.pending_stats``, which
    leaves out a channel where nothing waits or failed); ``delivered``: acknowledged
    deliveries per (sender, receiver), from the picture's last snapshot (counting them live
    would read the whole history on every scrape); ``channels``: the (sender, receiver) the
    chain routes. Every channel known from any of them has a sample in every family, 0 when
    nothing waits there, so a gauge reads 0 rather than vanishing when its backlog clears."""
    out: list[str] = []
    per = {(s.sender, s.receiver): s for s in stats}
    known = sorted({*per, *(delivered or {}), *channels})
    stats = [per.get(c) or QueueStats(c[1], c[0], 0, 0, 0, 0, None) for c in known]

    def family(name: str, kind: str, text: str) -> None:
        out.append(f"# HELP {name} {text}")
        out.append(f"# TYPE {name} {kind}")

    def chan(sender: str, receiver: str) -> str:
        return f'sender="{_label(sender)}",receiver="{_label(receiver)}"'

    family("ketenherstel_backlog", "gauge", "Deliveries waiting (ready or leased) per channel.")
    out += [
        f"ketenherstel_backlog{{{chan(s.sender, s.receiver)}}} {s.ready + s.leased}" for s in stats
    ]
    family(
        "ketenherstel_oldest_waiting_seconds",
        "gauge",
        "Age of the oldest waiting delivery per channel (0 when none waits).",
    )
    out += [
        f"ketenherstel_oldest_waiting_seconds{{{chan(s.sender, s.receiver)}}} "
        f"{max(0.0, now - s.oldest_waiting) if s.oldest_waiting is not None else 0:.3f}"
        for s in stats
    ]
    family("ketenherstel_deliveries", "gauge", "Deliveries per channel in a pending state.")
    for s in stats:
        for state, n in (("ready", s.ready), ("leased", s.leased)):
            out.append(
                f'ketenherstel_deliveries{{{chan(s.sender, s.receiver)},state="{state}"}} {n}'
            )
    family("ketenherstel_dead_letters", "gauge", "Dead-lettered deliveries per channel.")
    out += [f"ketenherstel_dead_letters{{{chan(s.sender, s.receiver)}}} {s.dead}" for s in stats]
    if delivered is not None:
        family(
            "ketenherstel_delivered_total",
            "counter",
            "Acknowledged deliveries per channel, as of the picture's last snapshot.",
        )
        out += [
            f"ketenherstel_delivered_total{{{chan(sender, receiver)}}} {n}"
            for (sender, receiver), n in sorted(delivered.items())
        ]
    return "\n".join(out) + "\n"


@router.get("/metrics")
async def metrics(request: Request, principal: ViewerDep) -> PlainTextResponse:
    rt = request.app.state.runtime
    picture = request.app.state.picture

    def read() -> str:
        snap = picture.cache.peek()
        delivered = None
        if snap is not None:
            delivered = {}
            for channel in snap.channels():
                sender, _, receiver = channel.partition("->")
                delivered[(sender, receiver)] = snap.view("channel", channel).delivered
        routes = {(s, r) for mt in rt.chain.message_types for s in mt.senders for r in mt.receivers}
        return render(rt.store.pending_stats(), rt.exchange.clock(), delivered, routes)

    return PlainTextResponse(await run_in_threadpool(read), media_type=CONTENT_TYPE)
