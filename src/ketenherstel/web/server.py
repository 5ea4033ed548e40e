"""Serving the app with uvicorn, with the client certificate (mTLS) passed to the app.

uvicorn does not put the peer certificate into the ASGI scope, so a thin protocol subclass adds
the ASGI TLS extension (`scope["extensions"]["tls"]`) for connections that presented one.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ketenherstel.bootstrap import Runtime
from ketenherstel.exchange.auth import oin_from_subject
from ketenherstel.web.app import create_app


class TlsH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        cert = ssl_object.getpeercert() if ssl_object is not None else None
        if not cert:
            return
        subject = cert.get("subject", ())
        tls = {"client_cert_subject": subject, "client_cert_oin": oin_from_subject(subject)}
        inner = self.app

        async def app(scope: Any, receive: Any, send: Any) -> None:
            scope.setdefault("extensions", {})["tls"] = tls
            await inner(scope, receive, send)

        self.app = app


def check_port(host: str, port: int) -> None:
    """Bind ``host:port`` as uvicorn will (every address the host resolves to, SO_REUSEADDR)
    and let go again, before anything is announced: a port in use, one this user may not bind
    or a host that is no address here raises ValueError naming it."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise ValueError(f"--host {host}: not an address to listen on ({why})") from None
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # as asyncio's create_server: IPv6 only
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    why = "is already in use; stop what listens there or give another --port"
                else:
                    why = f"cannot be listened on ({exc.strerror or exc})"
                raise ValueError(f"port {port} on {host} {why}") from None


def check_tls(certfile: Path, keyfile: Path, ca_certs: Path | None = None) -> None:
    """Load the server's certificate, key and client CA bundle as uvicorn will, before anything
    is served: a file that is no PEM (or a key that does not fit the certificate, or one that
    needs a passphrase) raises ValueError naming the file and the option."""

    def no_passphrase() -> str:
        raise ValueError(f"--tls-key {keyfile}: the key is encrypted; give an unencrypted key")

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    for option, path in (("--tls-cert", certfile), ("--tls-ca", ca_certs)):
        if path is None:
            continue
        try:
            context.load_verify_locations(cafile=str(path))
        except (ssl.SSLError, UnicodeDecodeError):
            raise ValueError(f"{option} {path}: not a PEM certificate") from None
    try:
        context.load_cert_chain(str(certfile), str(keyfile), password=no_passphrase)
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            why = f"the key does not belong to --tls-cert {certfile}"
        else:
            why = "not a PEM private key"
        raise ValueError(f"--tls-key {keyfile}: {why}") from None


def config(
    runtime: Runtime,
    *,
    host: str,
    port: int,
    certfile: Path | None = None,
    keyfile: Path | None = None,
    ca_certs: Path | None = None,
) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(runtime),
        host=host,
        port=port,
        http=TlsH11Protocol,
        ssl_certfile=str(certfile) if certfile else None,
        ssl_keyfile=str(keyfile) if keyfile else None,
        ssl_ca_certs=str(ca_certs) if ca_certs else None,
        ssl_cert_reqs=ssl.CERT_REQUIRED if ca_certs else ssl.CERT_NONE,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


def prepared(runtime: Runtime, **kwargs: Any) -> uvicorn.Server:
    """The server, its app made (the picture's file opened: PictureDbError when it is none),
    not yet listening: `run` it."""
    return uvicorn.Server(config(runtime, **kwargs))


def run(runtime: Runtime, **kwargs: Any) -> None:
    prepared(runtime, **kwargs).run()


class ServerThread:
    """Serve in a background thread (for the demo and tests); `url` once started."""

    def __init__(self, runtime: Runtime, *, host: str = "127.0.0.1", port: int = 0, **tls: Any):
        self._config = config(runtime, host=host, port=port, **tls)
        self._server = uvicorn.Server(self._config)
        self._thread = threading.Thread(target=self._server.run, name="exchange-http", daemon=True)
        self.url = ""

    @property
    def app(self) -> Any:
        """The ASGI app being served (its ``state`` holds the runtime and the picture)."""
        return self._config.app

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the exchange's HTTP server did not start (is the port taken?)")
            time.sleep(0.02)
        sock = self._server.servers[0].sockets[0]
        host, port = sock.getsockname()[:2]
        scheme = "https" if self._config.ssl_certfile else "http"
        self.url = f"{scheme}://{host}:{port}"
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=20)
