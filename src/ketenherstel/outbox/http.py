"""The outbox's local HTTP endpoint for the partner's own systems (standard library only).

    POST /events   one CloudEvent (a JSON object) or a batch (a JSON array); 201 with the
                   sequence assigned to each (200 when every event was a duplicate), 400 with
                   every problem, 409 when an id was written before with another body, 413,
                   401 without the configured token. Bad input changes nothing.
    GET  /status   pending messages, last forwarded sequence per source, reachability
    GET  /health   {"status": "ok"}

It binds to 127.0.0.1 unless told otherwise; with `token` set, requests must carry
``Authorization: Bearer <token>``. Errors are ``application/problem+json`` as the exchange's.
The standard library's threading server is enough for a partner's systems on the same host,
and keeps web frameworks out of this package.
"""

from __future__ import annotations

import hmac
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from ketenherstel.documents import orjson_duplicates
from ketenherstel.outbox.agent import Outbox
from ketenherstel.outbox.errors import ConflictingWrite, WriteProblem, WriteRefused

__all__ = ["MAX_BODY_BYTES", "OutboxHTTPServer", "OutboxServerThread"]

MAX_BODY_BYTES = 32 * 1024 * 1024


class OutboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, outbox: Outbox, *, host: str = "127.0.0.1", port: int = 8700, token: str = ""
    ) -> None:
        self.outbox = outbox
        self.token = token
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class OutboxServerThread:
    """Serve in a background thread (tests, and `serve` beside a forwarder)."""

    def __init__(self, outbox: Outbox, **kwargs: Any) -> None:
        self.server = OutboxHTTPServer(outbox, **kwargs)
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="outbox-http",
            daemon=True,
        )
        self.url = self.server.url

    def __enter__(self) -> OutboxServerThread:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)


class _Handler(BaseHTTPRequestHandler):
    server: OutboxHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the partner's own systems call this often."""

    def do_GET(self) -> None:
        if not self._authorised():
            return
        if self.path == "/status":
            self._json(HTTPStatus.OK, self.server.outbox.status().to_json())
        elif self.path == "/health":
            self._json(HTTPStatus.OK, {"status": "ok"})
        else:
            self._problem(HTTPStatus.NOT_FOUND, f"no such path {self.path}; see /status, /events")

    def do_POST(self) -> None:
        if not self._authorised():
            return
        if self.path != "/events":
            self._problem(HTTPStatus.NOT_FOUND, f"POST events to /events, not {self.path}")
            return
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            self._problem(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length header")
            return
        if int(length) > MAX_BODY_BYTES:
            self._problem(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the body is {length} bytes; at most {MAX_BODY_BYTES} allowed",
            )
            return
        body = self.rfile.read(int(length))
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            self._problem(HTTPStatus.BAD_REQUEST, f"the body is not valid JSON: {exc}")
            return
        twice = orjson_duplicates(body, doc)  # orjson kept the last value of each
        if twice:
            self._problem(
                HTTPStatus.BAD_REQUEST,
                "the body gives a key twice in one object (give each key once); "
                "nothing was written",
                [WriteProblem(d.item, d.within.path, str(d.within)) for d in twice],
            )
            return
        events = doc if isinstance(doc, list) else [doc]
        try:
            written = self.server.outbox.write(events)
        except ConflictingWrite as exc:
            self._problem(HTTPStatus.CONFLICT, exc.detail, exc.problems)
            return
        except WriteRefused as exc:
            self._problem(HTTPStatus.BAD_REQUEST, exc.detail, exc.problems)
            return
        fresh = sum(1 for w in written if w.status == "written")
        self._json(
            HTTPStatus.CREATED if fresh else HTTPStatus.OK,
            {
                "written": fresh,
                "duplicates": len(written) - fresh,
                "results": [
                    {
                        "index": index,
                        "id": w.id,
                        "source": w.source,
                        "sequence": w.sequence,
                        "status": w.status,
                    }
                    for index, w in enumerate(written)
                ],
            },
        )

    def _authorised(self) -> bool:
        token = self.server.token
        given = self.headers.get("Authorization", "")
        if not token or hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
        self._problem(HTTPStatus.UNAUTHORIZED, "send Authorization: Bearer <the outbox's token>")
        return False

    def _json(self, status: HTTPStatus, doc: Any, content_type: str = "application/json") -> None:
        body = orjson.dumps(doc)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            # Said, not only done: a client that is not told reuses the connection and may
            # send its next request into the closing socket ("server disconnected").
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _problem(
        self, status: HTTPStatus, detail: str, problems: list[WriteProblem] | None = None
    ) -> None:
        doc: dict[str, Any] = {"title": status.phrase, "status": int(status), "detail": detail}
        if problems is not None:
            doc["problems"] = [
                {"index": p.index, "field": p.field, "reason": p.reason} for p in problems
            ]
        if status >= 400 and self.command == "POST":
            # Whatever was left unread of the body must not be read as the next request.
            self.close_connection = True
        self._json(status, doc, "application/problem+json")
