"""Push delivery: for partners with a webhook, lease their deliveries and POST each one.

A 2xx answer acknowledges the delivery; anything else, or no answer, reports a failure, which the
exchange retries with exponential backoff and jitter until the delivery is dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from ketenherstel.exchange.auth import Principal
from ketenherstel.exchange.envelope import STRUCTURED
from ketenherstel.exchange.service import Exchange

log = logging.getLogger(__name__)


class Pusher:
    def __init__(
        self,
        exchange: Exchange,
        *,
        batch: int = 50,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._exchange = exchange
        self._batch = batch
        self._http = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def push_once(self) -> int:
        """One pass over every partner with a webhook; returns how many deliveries were acked."""
        done = 0
        for partner in self._exchange.partners():
            if partner.webhook_url:
                done += self._push_partner(partner.key, partner.webhook_url)
        return done

    def _push_partner(self, key: str, url: str) -> int:
        principal = Principal(f"push:{key}", "partner", key, "local")
        done = 0
        for delivery in self._exchange.pull(principal=principal, limit=self._batch):
            headers = {
                "Content-Type": STRUCTURED,
                "Ketenherstel-Delivery-Id": str(delivery.delivery_id),
                "Ketenherstel-Attempt": str(delivery.attempts),
            }
            try:
                response = self._http.post(url, content=delivery.body, headers=headers)
                failure = (
                    None if response.is_success else f"webhook answered {response.status_code}"
                )
            except httpx.HTTPError as exc:
                failure = f"webhook unreachable: {type(exc).__name__}"
            if failure is None:
                self._exchange.ack(principal=principal, delivery_ids=[delivery.delivery_id])
                done += 1
                continue
            log.info("push to %s failed for delivery %s: %s", key, delivery.delivery_id, failure)
            self._exchange.nack(
                principal=principal, delivery_id=delivery.delivery_id, reason=failure
            )
        return done

    async def run(self, stop: asyncio.Event, *, interval: float = 1.0) -> None:
        """Push until `stop` is set; a pass that acked something is followed at once by another."""
        while not stop.is_set():
            try:
                done = await asyncio.to_thread(self.push_once)
            except Exception:  # keep pushing; the failure is in the log, the deliveries stay
                log.exception("push pass failed")
                done = 0
            if done == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval)
