"""The ASGI application factory."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ketenherstel import __version__
from ketenherstel.bootstrap import Runtime
from ketenherstel.exchange.manual import ManualWork
from ketenherstel.exchange.push import Pusher
from ketenherstel.picture.db import open_picture_db
from ketenherstel.picture.service import Picture
from ketenherstel.store.manual_ports import manual_store
from ketenherstel.web import metrics, problems
from ketenherstel.web.routes import (
    admin,
    chain,
    exchange,
    gateway,
    golive,
    isolation,
    manual,
    reconcile,
    registry,
)
from ketenherstel.web.routes import (
    picture as picture_routes,
)
from ketenherstel.web.schemas import Health
from ketenherstel.web.ui import install_ui
from ketenherstel.web.uisession import Sessions

API_VERSION = __version__
_VERSION_BYTES = API_VERSION.encode()


class ApiVersionHeader:
    """Adds `API-Version` to every answer (a plain ASGI middleware: no per-request task)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"api-version", _VERSION_BYTES)]
            await send(message)

        await self.app(scope, receive, send_with_version)


def create_app(runtime: Runtime, *, group_commit: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 256
        if group_commit:
            runtime.exchange.start()
        # The picture's first snapshot (one pass over every delivery) is computed before the
        # first page asks for it. Cut short when the app stops (the store closes under it),
        # it ends quietly: nobody waits for it any more.
        stopping = threading.Event()

        def warm() -> None:
            try:
                picture.snapshot()
            except Exception:
                if not stopping.is_set():
                    raise

        threading.Thread(target=warm, name="picture-warm", daemon=True).start()
        stop = asyncio.Event()
        pusher = Pusher(runtime.exchange)
        task = asyncio.create_task(pusher.run(stop, interval=runtime.settings.push_interval))
        try:
            yield
        finally:
            stopping.set()
            stop.set()
            await task
            pusher.close()
            runtime.exchange.close()
            picture_db.close()

    app = FastAPI(
        title="Ketenherstel exchange API",
        version=API_VERSION,
        description=(
            "The durable chain exchange of the criminal justice chain: partners submit "
            "CloudEvents (NL GOV profile) and pull their deliveries."
        ),
        contact={
            "name": "Ketenherstel team",
            "url": "https://github.com/ketenherstel/ketenherstel",
            "email": "ketenherstel@example.org",
        },
        servers=[{"url": "/", "description": "This exchange"}],
        openapi_tags=[
            {"name": "exchange", "description": "Partners submit events and receive deliveries"},
            {"name": "admin", "description": "Operators: partners, credentials, channels"},
            {"name": "chain", "description": "The chain model: partners, processes, types"},
            {
                "name": "isolation",
                "description": "Operators: partner states, emergency routes, quarantine",
            },
            {
                "name": "manual",
                "description": "Paper work: manual records, imports, unmatched lists, "
                "interim procedures",
            },
            {
                "name": "go-live",
                "description": "Go-live plans and running their steps on the exchange",
            },
            {
                "name": "registry",
                "description": "The documentation registry (JDS): catch-up, freshness, "
                "screenings, a person's data and read log, the re-screen list",
            },
            {
                "name": "gateway",
                "description": "The gateway watch: findings register with evidence and "
                "decisions, the allowlist",
            },
            {
                "name": "reconciliation",
                "description": "Compare the ledgers of every hop: missing, duplicate, "
                "conflicting, late; re-send and request lists",
            },
            {
                "name": "picture",
                "description": "The situational picture: measured series, the recovery "
                "matrix, briefings (aggregates only, nothing personal)",
            },
            {"name": "meta", "description": "Health"},
        ],
        redirect_slashes=False,
        lifespan=lifespan,
        openapi_url="/v1/openapi.json",
        docs_url=None,  # served below from the package's own copy of Swagger UI, no CDN
        redoc_url=None,
    )
    app.state.exchange = runtime.exchange
    app.state.runtime = runtime
    app.state.manual = ManualWork(
        store=manual_store(runtime.store), chain=runtime.chain, clock=runtime.exchange.clock
    )
    picture_db = open_picture_db(
        runtime.settings.picture_location(), synchronous=runtime.settings.synchronous
    )
    picture = Picture(
        runtime.store,
        manual_store(runtime.store),
        runtime.chain,
        picture_db,
        runtime.exchange.clock,
        background=True,
    )
    app.state.picture = picture
    problems.install(app)

    app.add_middleware(ApiVersionHeader)

    @app.get("/v1/health", summary="Liveness", operation_id="getHealth", tags=["meta"])
    async def health() -> Health:
        return Health(status="ok", version=API_VERSION)

    install_docs(app)
    app.include_router(exchange.router)
    app.include_router(admin.router)
    app.include_router(chain.router)
    app.include_router(isolation.router)
    app.include_router(manual.router)
    app.include_router(golive.router)
    app.include_router(registry.router)
    app.include_router(reconcile.router)
    app.include_router(gateway.router)
    app.include_router(picture_routes.router)
    app.include_router(metrics.router)
    install_ui(app, picture, Sessions(runtime.exchange))
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


_SWAGGER = Path(__file__).with_name("static") / "swagger"


def install_docs(app: FastAPI) -> None:
    """/v1/docs: Swagger UI from files the project's set-up copied into the package."""
    available = (_SWAGGER / "swagger-ui-bundle.js").is_file()
    if available:
        app.mount("/v1/docs/assets", StaticFiles(directory=_SWAGGER), name="docs-assets")

    @app.get("/v1/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        if not available:
            return HTMLResponse(
                "<!doctype html><title>Ketenherstel API</title><p>The interactive documentation "
                "is not installed (run <code>make demo</code> or <code>make test</code> once). "
                'The API is described in <a href="/v1/openapi.json">/v1/openapi.json</a>.</p>'
            )
        return get_swagger_ui_html(
            openapi_url="/v1/openapi.json",
            title="Ketenherstel exchange API",
            swagger_js_url="/v1/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/v1/docs/assets/swagger-ui.css",
            swagger_favicon_url="data:,",
        )


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, adjusted to the API Design Rules: problem+json errors, API-Version."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    doc = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        contact=app.contact,
        servers=app.servers,
        tags=app.openapi_tags,
    )
    from ketenherstel.web.openapi import adjust

    app.openapi_schema = adjust(doc)
    return app.openapi_schema
