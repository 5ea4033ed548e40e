"""The exchange over HTTP, end to end (``ketenherstel demo-http``).

Registers the chain's partners, gives each a token, pushes simulated chain traffic through the
HTTP API, lets every receiver pull and acknowledge, shows that a re-sent batch is recognised as
duplicates, prints what was delivered and acked, and keeps serving until Ctrl-C.

The main job, the om-2025 scenario, is :mod:`ketenherstel.story`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ketenherstel.bootstrap import bootstrap
from ketenherstel.client import ExchangeClient
from ketenherstel.exchange.auth import LOCAL_OPERATOR
from ketenherstel.sim import generate_events
from ketenherstel.story import demo_settings, fresh_sqlite
from ketenherstel.web.server import ServerThread

DEMO_SEED = 2025
DEMO_START = datetime(2025, 7, 1, 8, 0, tzinfo=UTC)


def run_http_demo(
    *, store_url: str, cases: int, port: int, serve: bool, console: Console
) -> dict[str, Any]:
    fresh_sqlite(store_url)
    rt = bootstrap(demo_settings(store_url))
    try:
        return _run(rt, cases=cases, port=port, serve=serve, console=console)
    finally:
        rt.close()


def _run(rt: Any, *, cases: int, port: int, serve: bool, console: Console) -> dict[str, Any]:
    ex = rt.exchange
    console.rule("[bold]Ketenherstel demo: the durable chain exchange")
    console.print(f"store: {rt.settings.store_url} · chain model {rt.chain.version}")
    tokens: dict[str, str] = {}
    for partner in rt.chain.partners:
        ex.register_partner(principal=LOCAL_OPERATOR, key=partner.key)
        tokens[partner.key], _ = ex.create_token(
            principal=LOCAL_OPERATOR, role="partner", partner=partner.key, label="demo"
        )
    operator_token, _ = ex.create_token(
        principal=LOCAL_OPERATOR, role="operator", person="demo-operator", label="demo"
    )
    console.print(f"{len(tokens)} partners registered, each with its own token")

    by_sender: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for sim in generate_events(rt.chain, seed=DEMO_SEED, cases=cases, start=DEMO_START):
        by_sender[sim.sender].append(sim.event)
    total = sum(len(v) for v in by_sender.values())

    with ServerThread(rt, port=port) as server:
        console.print(f"exchange serving at {server.url} (OpenAPI: {server.url}/v1/openapi.json)")
        sent: dict[str, int] = {}
        with _progress(console) as progress:
            task = progress.add_task("partners submit events", total=total)
            for sender, events in sorted(by_sender.items()):
                with ExchangeClient(server.url, tokens[sender]) as c:
                    for start in range(0, len(events), 100):
                        chunk = events[start : start + 100]
                        c.submit(chunk)
                        progress.advance(task, len(chunk))
                sent[sender] = len(events)
        # A partner re-sends its first batch, as a system does after a time-out: nothing doubles.
        first_sender = sorted(by_sender)[0]
        with ExchangeClient(server.url, tokens[first_sender]) as c:
            again = c.submit(by_sender[first_sender][:100])
        console.print(
            f"{first_sender} re-sent {len(by_sender[first_sender][:100])} events: "
            f"{again['accepted']} stored again, {again['duplicates']} recognised as duplicates"
        )

        received: dict[str, int] = defaultdict(int)
        expected = sum(q.ready for q in ex.store.queue_stats())
        with _progress(console) as progress:
            task = progress.add_task("receivers pull and acknowledge", total=expected)
            for partner in sorted(tokens):
                with ExchangeClient(server.url, tokens[partner]) as c:
                    while batch := c.pull(limit=200):
                        c.ack([d["deliveryId"] for d in batch])
                        received[partner] += len(batch)
                        progress.advance(task, len(batch))

        table = Table(
            "partner", "sent", "delivered", "acked", "waiting", title="What the exchange carried"
        )
        stats = ex.store.queue_stats()
        acked: dict[str, int] = defaultdict(int)
        waiting: dict[str, int] = defaultdict(int)
        for q in stats:
            acked[q.receiver] += q.acked
            waiting[q.receiver] += q.ready + q.leased
        for partner in sorted(tokens):
            table.add_row(
                partner,
                str(sent.get(partner, 0)),
                str(received[partner]),
                str(acked[partner]),
                str(waiting[partner]),
            )
        table.add_row(
            "[bold]total",
            str(sum(sent.values())),
            str(sum(received.values())),
            str(sum(acked.values())),
            str(sum(waiting.values())),
        )
        console.print(table)
        sample = by_sender[first_sender][0]
        trail = ex.trail(principal=LOCAL_OPERATOR, source=sample["source"], id=sample["id"])
        console.print(
            f"trail of {sample['type']} {sample['id']}: "
            + " → ".join(e.event for e in trail.entries)
        )
        summary = {
            "events": total,
            "sent": sum(sent.values()),
            "delivered": sum(received.values()),
            "acked": sum(acked.values()),
            "waiting": sum(waiting.values()),
            "routed": sum(q.ready + q.leased + q.acked + q.dead for q in stats),
            "duplicates_recognised": again["duplicates"],
        }
        if serve:
            console.print(
                f"\nThe exchange keeps serving at {server.url} (docs: {server.url}/v1/docs). "
                "Press Ctrl-C to stop."
            )
            console.print(f"operator token (shown once): {operator_token}", highlight=False)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                console.print("stopped")
    return summary


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
