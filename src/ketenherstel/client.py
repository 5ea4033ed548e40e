"""A small Python client for the exchange's HTTP API (what a partner system would use)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from ketenherstel.exchange.envelope import BATCH, STRUCTURED
from ketenherstel.urls import http_address


class ClientError(Exception):
    """The exchange answered with an error; `problem` holds its problem+json body."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        lines = [f"{status} {problem.get('title', '')}: {problem.get('detail', '')}"]
        for p in problem.get("problems", [])[:20]:
            where = f"event {p['index']} " if p.get("index") is not None else ""
            lines.append(f"  {where}{p.get('field') or '(event)'}: {p.get('reason')}")
        super().__init__("\n".join(lines))


def bad_url(url: str) -> str | None:
    """Why ``url`` cannot be the exchange's address (it is no http or https URL with a host),
    or None. A typo there is a mistake to report, not an outage to retry."""
    _, problem = http_address(url)
    if problem is not None:
        # The problem is said as a rule ("starts with http:// or https://"), not of this URL.
        return (
            f"--url {url!r} is not an http:// or https:// address with a host: the exchange's "
            f"address {problem}"
        )
    return None


class ExchangeClient:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        verify: Any = True,
        cert: Any = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout,
            transport=transport,
            verify=verify,
            cert=cert,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ExchangeClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _check(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"title": response.reason_phrase, "detail": response.text[:500]}
            raise ClientError(response.status_code, problem)
        return response.json()

    def submit(self, events: Sequence[dict[str, Any]]) -> dict[str, Any]:
        if len(events) == 1:
            body, ctype = orjson.dumps(events[0]), STRUCTURED
        else:
            body, ctype = orjson.dumps(list(events)), BATCH
        result: dict[str, Any] = self._check(
            self._http.post("/v1/events", content=body, headers={"Content-Type": ctype})
        )
        return result

    def pull(
        self, *, limit: int = 100, wait: float = 0, visibility: float | None = None
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit, "wait": wait}
        if visibility is not None:
            params["visibilityTimeout"] = visibility
        page = self._check(self._http.get("/v1/deliveries", params=params))
        deliveries: list[dict[str, Any]] = page["deliveries"]
        return deliveries

    def ack(self, delivery_ids: Sequence[int]) -> list[dict[str, Any]]:
        result = self._check(
            self._http.post("/v1/acknowledgements", json={"deliveryIds": list(delivery_ids)})
        )
        results: list[dict[str, Any]] = result["results"]
        return results

    def nack(
        self, delivery_id: int, reason: str, retry_after: float | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"reason": reason}
        if retry_after is not None:
            body["retryAfter"] = retry_after
        result: dict[str, Any] = self._check(
            self._http.post(f"/v1/deliveries/{delivery_id}/failures", json=body)
        )
        return result

    def trail(self, source: str, id: str) -> dict[str, Any]:
        path = f"/v1/messages/{_segment(source)}/{_segment(id)}"
        result: dict[str, Any] = self._check(self._http.get(path))
        return result

    def get(self, path: str, **params: Any) -> Any:
        return self._check(self._http.get(path, params=params))


def _segment(value: str) -> str:
    """``value`` as one segment of a URL's path: every slash and dot escaped too. An id is any
    string; with its slashes and dots as they are, an id such as ``../../partners`` asked for
    another resource (a client collapses dot segments before sending), and the answer was read
    as a trail. The server decodes the escapes back."""
    return quote(value, safe=":").replace(".", "%2E")
