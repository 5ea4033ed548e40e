"""``/metrics`` in the Prometheus text format, so an existing Grafana can watch the exchange.

Aggregates only (per channel), never a message or a person. It needs a viewer's or an
operator's bearer token (Prometheus: ``authorization: {credentials: <token>}``).
"""

from __future__ import annotations

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


def render(stats: list[QueueStats], now: float) -> str:
    out: list[str] = []

    def family(name: str, kind: str, text: str) -> None:
        out.append(f"# HELP {name} {text}")
        out.append(f"# TYPE {name} {kind}")

    def chan(s: QueueStats) -> str:
        return f'sender="{_label(s.sender)}",receiver="{_label(s.receiver)}"'

    family("ketenherstel_backlog", "gauge", "Deliveries waiting (ready or leased) per channel.")
    out += [f"ketenherstel_backlog{{{chan(s)}}} {s.ready + s.leased}" for s in stats]
    family(
        "ketenherstel_oldest_waiting_seconds",
        "gauge",
        "Age of the oldest waiting delivery per channel (0 when none waits).",
    )
    out += [
        f"ketenherstel_oldest_waiting_seconds{{{chan(s)}}} "
        f"{max(0.0, now - s.oldest_waiting) if s.oldest_waiting is not None else 0:.3f}"
        for s in stats
    ]
    family("ketenherstel_deliveries_total", "counter", "Deliveries per channel and state.")
    for s in stats:
        for state, n in (
            ("ready", s.ready),
            ("leased", s.leased),
            ("acked", s.acked),
            ("dead", s.dead),
        ):
            out.append(f'ketenherstel_deliveries_total{{{chan(s)},state="{state}"}} {n}')
    family("ketenherstel_dead_letters", "gauge", "Dead-lettered deliveries per channel.")
    out += [f"ketenherstel_dead_letters{{{chan(s)}}} {s.dead}" for s in stats]
    return "\n".join(out) + "\n"


@router.get("/metrics")
async def metrics(request: Request, principal: ViewerDep) -> PlainTextResponse:
    rt = request.app.state.runtime

    def read() -> str:
        return render(rt.store.queue_stats(), rt.exchange.clock())

    return PlainTextResponse(await run_in_threadpool(read), media_type=CONTENT_TYPE)
