"""The scenario's traffic: the simulator's events, in this process or from a child process.

The child generates on the other core and sends batches of JSON down a pipe; the pipe's buffer
keeps it only a few batches ahead. The events and their order are the same either way.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

import orjson

from ketenherstel.chain import Chain
from ketenherstel.sim.errors import SimError
from ketenherstel.sim.generator import SimEvent, generate_events
from ketenherstel.sim.profile import SimProfile

__all__ = ["events_from_child", "events_in_process"]


def events_in_process(
    chain: Chain, seed: int, cases: int, start: datetime, profile: SimProfile
) -> Iterator[SimEvent]:
    return iter(generate_events(chain, seed=seed, cases=cases, start=start, profile=profile))


_BATCH = 2000


def _generate_into(
    conn: Connection, chain: Chain, seed: int, cases: int, start: datetime, profile: SimProfile
) -> None:
    """The child process: the simulator's events in batches of JSON down a pipe, then b''."""
    batch: list[tuple[str, dict[str, Any]]] = []
    try:
        for sim in generate_events(chain, seed=seed, cases=cases, start=start, profile=profile):
            batch.append((sim.sender, sim.event))
            if len(batch) >= _BATCH:
                conn.send_bytes(orjson.dumps(batch))
                batch = []
        if batch:
            conn.send_bytes(orjson.dumps(batch))
        conn.send_bytes(b"")
    except (BrokenPipeError, EOFError):  # the parent stopped early
        pass
    finally:
        conn.close()


def events_from_child(
    chain: Chain, seed: int, cases: int, start: datetime, profile: SimProfile
) -> Iterator[SimEvent]:
    """The same events as :func:`events_in_process`, generated on the other core. The pipe's buffer
    keeps the child only a few batches ahead, so memory stays flat."""
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(
        target=_generate_into,
        args=(sending, chain, seed, cases, start, profile),
        name="ketenherstel-sim",
        daemon=True,
    )
    child.start()
    sending.close()
    try:
        while True:
            try:
                data = receiving.recv_bytes()
            except EOFError:
                child.join(timeout=5)
                raise SimError(
                    f"the traffic generator stopped before its end (exit code {child.exitcode})"
                ) from None
            if not data:
                break
            for sender, event in orjson.loads(data):
                yield SimEvent(sender, event)
    finally:
        receiving.close()
        child.join(timeout=5)
        if child.is_alive():
            child.terminate()
