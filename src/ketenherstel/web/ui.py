"""The web UI (decision 0013): server-rendered Dutch pages, no JavaScript needed, no CDN.

``/ui/...`` needs a session (operator or viewer); ``/status``, its Atom feed and the
accessibility statement are public and show nothing personal. Forms are checked whole: bad
input is answered in the form (status 400), with the message by the field, and nothing is saved.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from ketenherstel.briefings import BriefingService
from ketenherstel.exchange.errors import TooLarge, Unauthenticated
from ketenherstel.gateway.verdict import RULES_NL, read_verdicts
from ketenherstel.gateway.watch import GatewayInputError
from ketenherstel.picture.charts import format_date, format_number
from ketenherstel.picture.matrix import HAND_CHANNELS, STATES, Matrix
from ketenherstel.picture.pages import (
    bottleneck_chart,
    overview_charts,
    reachability,
    registry_charts,
    selection_charts,
)
from ketenherstel.picture.series import KIND_NL, TZ
from ketenherstel.picture.service import (
    CALLERS,
    CATEGORIES,
    CONTACT_CHANNELS,
    METRICS,
    SEVERITIES,
    Picture,
    PictureInputError,
    series_key,
)
from ketenherstel.store.ports import AuditRecord, same_person
from ketenherstel.web.body import read_limited
from ketenherstel.web.problems import http_problem
from ketenherstel.web.uisession import COOKIE, Session, Sessions

__all__ = ["install_ui"]

_HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(_HERE / "templates"))
_env = templates.env
_env.filters["getal"] = lambda v, d=0: "\u2013" if v is None else format_number(float(v), d)
_env.filters["dag"] = lambda d: format_date(datetime(d.year, d.month, d.day, 12, tzinfo=TZ))
_env.filters["dagvan"] = lambda t: format_date(datetime.fromtimestamp(t, TZ))
_env.filters["moment"] = lambda t: format_date(datetime.fromtimestamp(t, TZ), with_time=True)

_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
NOTICES = {
    "knelpunt": "Knelpunt opgeslagen.",
    "werkafspraak": "Werkafspraak opgeslagen.",
    "afgesloten": "Knelpunt afgesloten.",
    "contact": "Contact opgeslagen.",
    "status": "Status opgeslagen.",
    "briefing": "Briefing gemaakt (concept).",
    "goedgekeurd": "Briefing goedgekeurd.",
}
"""What a redirect after a form may say (``?melding=code``): fixed texts, never the URL's own."""
FIELD_LABELS = {
    "titel": "Titel",
    "categorie": "Categorie",
    "ernst": "Ernst",
    "partner": "Partner",
    "proces": "Proces",
    "reeks": "Gemeten reeks",
    "maat": "Maat",
    "begin": "Sinds",
    "omschrijving": "Omschrijving",
    "afspraak": "Afspraak",
    "eigenaar": "Eigenaar",
    "ingang": "Ingangsdatum",
    "verwacht_effect": "Verwacht effect",
    "restrisico": "Restrisico",
    "risico_rol": "Aanvaard door (rol)",
    "risico_door": "Aanvaard door (naam)",
    "risico_tot": "Aanvaard tot",
    "einde": "Opgelost per",
    "kanaal": "Kanaal",
    "beller": "Wie belde",
    "ontvangen": "Ontvangen op",
    "beantwoord": "Beantwoord op",
    "status": "Status",
    "reden": "Reden",
    "peildatum": "Peildatum",
    "token": "Token",
    "csrf": "Formulier",
    "briefing": "Briefing",
    "knelpunt": "Knelpunt",
}
KIND_LABELS = KIND_NL


class _NotOperator(Exception):
    """A viewer tried to change something (answered with the 403 page)."""


class _Missing(Exception):
    """A page for something that does not exist (answered with the 404 page)."""


def _ident(text: str) -> int:
    """A number in a page's path (1 … 2**63 - 1); the 404 page otherwise."""
    if not text.isdigit() or not 1 <= int(text) < 2**63:
        raise _Missing(f"{text!r} is geen nummer van iets dat bestaat")
    return int(text)


# The UI's forms are a few short fields: a form is read no further than this.
FORM_LIMIT = 64 * 1024

# Starlette's own refusals on a page (no such page, a method it does not take, a form it
# cannot read), said in Dutch on the error page instead of problem+json in English.
_HTTP_NL = {
    400: ("Ongeldig verzoek", "Het formulier kon niet worden gelezen. Probeer het opnieuw."),
    404: ("Niet gevonden", "Deze pagina bestaat niet."),
    405: (
        "Niet toegestaan",
        "Deze pagina kan niet op deze manier worden opgevraagd. Gebruik de knoppen op de pagina's.",
    ),
    413: ("Te groot", "Het formulier is te groot. Vul minder in en probeer het opnieuw."),
}


async def _form(request: Request) -> FormData:
    """A page's form, read no further than FORM_LIMIT (413 page beyond it)."""
    try:
        await read_limited(request, FORM_LIMIT, "the form")
    except TooLarge:
        raise StarletteHTTPException(413) from None
    return await request.form()


class _Redirect(Exception):
    def __init__(self, to: str) -> None:
        self.to = to


def _page(
    request: Request, name: str, context: Mapping[str, Any], status: int = 200
) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, dict(context), status_code=status)
    response.headers.update(_SECURITY_HEADERS)
    return response


def _as_of(picture: Picture, matrix: Matrix | None = None) -> str:
    """When what a page shows was last changed: the figures' moment, or, where a page lists
    the matrix's changes (set by hand, partner states), the newest of those if it is later."""
    at = picture.snapshot().as_of
    if matrix is not None and matrix.changes:
        at = max(at, matrix.changes[0].at)
    return format_date(datetime.fromtimestamp(at, TZ), with_time=True)


def install_ui(app: FastAPI, picture: Picture, sessions: Sessions) -> None:
    """Mount the static assets and add the UI's routes."""
    app.mount("/ui/static", StaticFiles(directory=_HERE / "static"), name="ui-static")
    briefings = BriefingService(app.state.runtime, picture)
    router = APIRouter(include_in_schema=False)
    rt = app.state.runtime

    def session_of(request: Request) -> Session:
        found = sessions.check(request.cookies.get(COOKIE))
        if found is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise _Redirect(f"/ui/aanmelden?volgende={quote(target)}")
        return found

    async def form_of(request: Request, session: Session) -> dict[str, str]:
        form = await _form(request)
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        if values.get("csrf") != session.csrf:
            raise PictureInputError({"csrf": "het formulier is verlopen; laad de pagina opnieuw"})
        return values

    def operator(session: Session) -> None:
        if not session.principal.is_operator:
            raise _NotOperator("dit kan alleen een operator; u bent aangemeld als kijker")

    def audit(session: Session, action: str, obj: str, detail: str = "") -> None:
        rt.store.audit(
            AuditRecord(rt.exchange.clock(), session.principal.name, action, obj, detail)
        )

    def base(request: Request, session: Session | None, title: str, active: str) -> dict[str, Any]:
        return {
            "session": session,
            "title": title,
            "active": active,
            "notice": NOTICES.get(request.query_params.get("melding", "")),
            "field_labels": FIELD_LABELS,
        }

    async def work(fn: Callable[..., Any], *args: Any) -> Any:
        return await run_in_threadpool(fn, *args)

    @app.exception_handler(_Redirect)
    async def _redirect(request: Request, exc: _Redirect) -> Response:
        return RedirectResponse(exc.to, status_code=303)

    @app.exception_handler(_Missing)
    async def _missing(request: Request, exc: _Missing) -> Response:
        session = sessions.check(request.cookies.get(COOKIE))
        return _page(
            request,
            "fout.html",
            {
                **base(request, session, "Niet gevonden", ""),
                "message": "Deze pagina bestaat niet.",
                "back": "/ui/",
            },
            status=404,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not _is_page(request.url.path):
            return http_problem(exc)
        title, message = _HTTP_NL.get(
            exc.status_code,
            ("Fout", f"Er ging iets mis (status {exc.status_code}). Probeer het opnieuw."),
        )
        session = sessions.check(request.cookies.get(COOKIE))
        response = _page(
            request,
            "fout.html",
            {**base(request, session, title, ""), "message": message, "back": "/ui/"},
            status=exc.status_code,
        )
        if exc.headers:  # Allow on a 405
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(_NotOperator)
    async def _forbidden(request: Request, exc: _NotOperator) -> Response:
        session = sessions.check(request.cookies.get(COOKIE))
        return _page(
            request,
            "fout.html",
            {
                **base(request, session, "Geen toegang", ""),
                "message": str(exc),
                "back": request.headers.get("referer", "/ui/"),
            },
            status=403,
        )

    Render = Callable[[Request, Session, Mapping[str, str], Mapping[str, str], int], Any]

    async def submit(
        request: Request,
        act: Callable[[Session, dict[str, str]], Any],
        render: Render,
        done: Callable[[dict[str, str], Any], str],
    ) -> Response:
        """One form post: an operator's session, the CSRF token, the whole input checked by
        ``act`` (nothing saved on a PictureInputError, which is answered in the form with
        status 400), then a redirect to ``done``'s page."""
        session = session_of(request)
        operator(session)
        values: dict[str, str] = {}
        try:
            values = await form_of(request, session)
            result = await work(act, session, values)
        except PictureInputError as exc:
            response: Response = await render(request, session, exc.problems, values, 400)
            return response
        return RedirectResponse(done(values, result), status_code=303)

    # -- signing in ------------------------------------------------------------------------

    @router.get("/")
    async def root() -> Response:
        return RedirectResponse("/ui/", status_code=303)

    # The pages' addresses as people type them: /ui without its slash, the public pages with
    # one (the app does not redirect slashes itself: the API's routes are exact).
    for typed, page in (
        ("/ui", "/ui/"),
        ("/status/", "/status"),
        ("/toegankelijkheid/", "/toegankelijkheid"),
    ):
        router.add_api_route(typed, _redirect_to(page), methods=["GET"])

    @router.get("/ui/aanmelden")
    async def sign_in_form(request: Request) -> HTMLResponse:
        nxt = _safe_next(request.query_params.get("volgende", "/ui/"))
        return _page(
            request,
            "aanmelden.html",
            {**base(request, None, "Aanmelden", ""), "errors": {}, "volgende": nxt},
        )

    @router.post("/ui/aanmelden")
    async def sign_in(request: Request) -> Response:
        form = await _form(request)
        token = str(form.get("token") or "")
        nxt = _safe_next(str(form.get("volgende") or "/ui/"))
        try:
            if not token.strip():
                raise Unauthenticated("vul uw token in")
            made = await work(sessions.sign_in, token)
        except Unauthenticated as exc:
            msg = str(exc)
            if "malformed" in msg:
                msg = "dit is geen token: een token is kh_ gevolgd door 43 letters, cijfers, - of _"
            elif "unknown" in msg or "revoked" in msg:
                msg = "dit token is onbekend of ingetrokken"
            return _page(
                request,
                "aanmelden.html",
                {**base(request, None, "Aanmelden", ""), "errors": {"token": msg}, "volgende": nxt},
                status=400,
            )
        rt.store.audit(
            AuditRecord(
                rt.exchange.clock(), made.principal.name, "ui-signed-in", "ui", made.principal.role
            )
        )
        response = RedirectResponse(nxt, status_code=303)
        response.set_cookie(
            COOKIE,
            made.cookie,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @router.post("/ui/afmelden")
    async def sign_out(request: Request) -> Response:
        session = sessions.check(request.cookies.get(COOKIE))
        form = await _form(request)
        if session is not None and form.get("csrf") == session.csrf:
            sessions.sign_out(session.cookie)
        response = RedirectResponse("/ui/aanmelden", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # -- the picture -----------------------------------------------------------------------

    @router.get("/ui/")
    async def overview(request: Request) -> HTMLResponse:
        session = session_of(request)

        def build() -> dict[str, Any]:
            snap = picture.snapshot()
            channels = [
                (picture.series_heading("channel", c)[len("Kanaal ") :], snap.view("channel", c))
                for c in snap.channels()
            ]
            channels.sort(key=lambda item: -item[1].peak)
            try:
                lines = [s.text() for s in rt.registry.freshness().sources]
                register = registry_charts(picture, rt.registry.db.freshness_history())
            except Exception as exc:  # any failure of the registry's own file or answer
                # The picture stands without the registry: say so rather than fail.
                lines = [f"Het register gaf geen antwoord ({type(exc).__name__})."]
                register = []
            return {
                "as_of": _as_of(picture),
                "rows": snap.rows,
                "total": snap.view("all"),
                "charts": overview_charts(picture),
                "channels": channels,
                "processes": [(p, picture.process_names.get(p, p)) for p in snap.processes()],
                "partners": [(p, picture.partner_names.get(p, p)) for p in snap.partners()],
                "events": picture.events(),
                "freshness": lines,
                "register_charts": register,
            }

        data = await work(build)
        return _page(request, "beeld.html", {**base(request, session, "Beeld", "/ui/"), **data})

    @router.get("/ui/reeks")
    async def selection(request: Request) -> HTMLResponse:
        session = session_of(request)
        kind = request.query_params.get("soort", "all")
        # The page's own links use the English values; one typed in Dutch is understood too.
        kind = next((k for k, label in KIND_LABELS.items() if label == kind), kind)
        key = request.query_params.get("sleutel", "")
        try:
            view = await work(picture.selection, kind, key)
        except PictureInputError as exc:
            return _page(
                request,
                "fout.html",
                {
                    **base(request, session, "Onbekende reeks", ""),
                    "message": "; ".join(exc.problems.values()),
                    "back": "/ui/",
                },
                status=404,
            )
        heading = picture.series_heading(kind, key)
        charts = await work(selection_charts, picture, view, heading)
        return _page(
            request,
            "reeks.html",
            {
                **base(request, session, heading, ""),
                "view": view,
                "heading": heading,
                "charts": charts,
                "as_of": _as_of(picture),
            },
        )

    # -- bottlenecks -----------------------------------------------------------------------

    def bottleneck_context(errors: Mapping[str, str], values: Mapping[str, str]) -> dict[str, Any]:
        snap = picture.snapshot()
        options = [("all", "Hele keten")]
        # Named as the pages name them (Kanaal Openbaar Ministerie → Justitiële
        # Informatiedienst), not by the partners' keys; a receiver's or sender's series where
        # something was measured for it.
        options += [(f"channel:{c}", picture.series_heading("channel", c)) for c in snap.channels()]
        options += [
            (f"process:{p}", picture.series_heading("process", p)) for p in snap.processes()
        ]
        options += [
            (f"{kind}:{p}", picture.series_heading(kind, p))
            for kind in ("partner", "receiver", "sender")
            for p in picture.partner_names
            if kind == "partner" or snap.keys(kind, p)
        ]
        items = [(b, len(picture.db.agreements(b.id))) for b in picture.db.bottlenecks()]
        return {
            "errors": errors,
            "values": values,
            "items": items,
            "categories": CATEGORIES,
            "severities": SEVERITIES,
            "partners": picture.partner_names,
            "processes": picture.process_names,
            "metrics": METRICS,
            "series_options": options,
        }

    @router.get("/ui/knelpunten")
    async def bottlenecks(request: Request) -> HTMLResponse:
        return await bottlenecks_page(request, session_of(request), {}, {})

    async def bottlenecks_page(
        request: Request,
        session: Session,
        errors: Mapping[str, str],
        values: Mapping[str, str],
        status: int = 200,
    ) -> HTMLResponse:
        ctx = await work(bottleneck_context, errors, values)
        return _page(
            request,
            "knelpunten.html",
            {**base(request, session, "Knelpunten", "/ui/knelpunten"), **ctx},
            status=status,
        )

    @router.post("/ui/knelpunten")
    async def register_bottleneck(request: Request) -> Response:
        def act(session: Session, values: dict[str, str]) -> int:
            new_id = picture.register_bottleneck(values, actor=session.principal.name)
            audit(session, "bottleneck-registered", f"knelpunt/{new_id}")
            return new_id

        return await submit(
            request,
            act,
            bottlenecks_page,
            lambda _, new_id: f"/ui/knelpunten/{new_id}?melding=knelpunt",
        )

    def one_context(
        bid: int, errors: Mapping[str, str], values: Mapping[str, str]
    ) -> dict[str, Any]:
        b = picture.db.bottleneck(bid)
        if b is None:
            raise LookupError(f"er is geen knelpunt {bid}")
        metric = b.series_key.rpartition("#")[2]
        return {
            "b": b,
            "c": bottleneck_chart(picture, b, picture.series_heading(b.series_kind, series_key(b))),
            "agreements": [(a, picture.effect(b, a)) for a in picture.db.agreements(b.id)],
            "errors": errors,
            "values": values,
            "categories": CATEGORIES,
            "severities": SEVERITIES,
            "partners": picture.partner_names,
            "series_label": picture.series_heading(b.series_kind, series_key(b)),
            "metric_label": METRICS.get(metric, metric),
        }

    async def one_page(
        request: Request,
        session: Session,
        bid: int,
        errors: Mapping[str, str],
        values: Mapping[str, str],
        status: int = 200,
    ) -> HTMLResponse:
        try:
            ctx = await work(one_context, bid, errors, values)
        except LookupError as exc:
            return _page(
                request,
                "fout.html",
                {
                    **base(request, session, "Niet gevonden", ""),
                    "message": str(exc),
                    "back": "/ui/knelpunten",
                },
                status=404,
            )
        return _page(
            request,
            "knelpunt.html",
            {**base(request, session, ctx["b"].title, "/ui/knelpunten"), **ctx},
            status=status,
        )

    @router.get("/ui/knelpunten/{bid}")
    async def bottleneck(request: Request, bid: str) -> HTMLResponse:
        session = session_of(request)
        number = _ident(bid)
        return await one_page(request, session, number, {}, {})

    def bottleneck_form(number: int) -> Render:
        """The bottleneck's page with a form's errors (404 when there is no such bottleneck)."""

        async def render(
            request: Request,
            session: Session,
            errors: Mapping[str, str],
            values: Mapping[str, str],
            status: int,
        ) -> HTMLResponse:
            status = 404 if "knelpunt" in errors else status
            return await one_page(request, session, number, errors, values, status)

        return render

    @router.post("/ui/knelpunten/{bid}/werkafspraken")
    async def add_agreement(request: Request, bid: str) -> Response:
        number = _ident(bid)

        def act(session: Session, values: dict[str, str]) -> None:
            picture.add_agreement(number, values, actor=session.principal.name)
            audit(session, "agreement-registered", f"knelpunt/{number}")

        return await submit(
            request,
            act,
            bottleneck_form(number),
            lambda *_: f"/ui/knelpunten/{number}?melding=werkafspraak",
        )

    @router.post("/ui/knelpunten/{bid}/afsluiten")
    async def close_bottleneck(request: Request, bid: str) -> Response:
        number = _ident(bid)

        def act(session: Session, values: dict[str, str]) -> None:
            picture.close_bottleneck(number, values, actor=session.principal.name)
            audit(session, "bottleneck-closed", f"knelpunt/{number}", values.get("einde", ""))

        return await submit(
            request,
            act,
            bottleneck_form(number),
            lambda *_: f"/ui/knelpunten/{number}?melding=afgesloten",
        )

    # -- reachability ----------------------------------------------------------------------

    async def reach_page(
        request: Request,
        session: Session,
        errors: Mapping[str, str],
        values: Mapping[str, str],
        status: int = 200,
    ) -> HTMLResponse:
        charts, rows = await work(reachability, picture)
        return _page(
            request,
            "bereikbaarheid.html",
            {
                **base(request, session, "Bereikbaarheid", "/ui/bereikbaarheid"),
                "charts": charts,
                "summary": rows,
                "errors": errors,
                "values": values,
                "partners": picture.partner_names,
                "contact_channels": CONTACT_CHANNELS,
                "callers": CALLERS,
            },
            status=status,
        )

    @router.get("/ui/bereikbaarheid")
    async def reach(request: Request) -> HTMLResponse:
        return await reach_page(request, session_of(request), {}, {})

    @router.post("/ui/bereikbaarheid")
    async def add_contact(request: Request) -> Response:
        def act(session: Session, values: dict[str, str]) -> None:
            picture.add_contact(values, actor=session.principal.name)
            audit(session, "contact-registered", f"bereikbaarheid/{values['partner']}")

        return await submit(
            request, act, reach_page, lambda *_: "/ui/bereikbaarheid?melding=contact"
        )

    # -- recovery matrix -------------------------------------------------------------------

    async def matrix_page(
        request: Request,
        session: Session,
        errors: Mapping[str, str],
        values: Mapping[str, str],
        status: int = 200,
    ) -> HTMLResponse:
        m = await work(picture.matrix)
        labels = {**picture.process_names, **HAND_CHANNELS}
        return _page(
            request,
            "herstelmatrix.html",
            {
                **base(request, session, "Herstelmatrix", "/ui/herstelmatrix"),
                "matrix": m,
                "changes": m.changes[:200],
                "labels": labels,
                "partners": picture.partner_names,
                "states": STATES,
                "hand_channels": HAND_CHANNELS,
                "errors": errors,
                "values": values,
                "as_of": _as_of(picture, m),
            },
            status=status,
        )

    @router.get("/ui/herstelmatrix")
    async def matrix(request: Request) -> HTMLResponse:
        return await matrix_page(request, session_of(request), {}, {})

    @router.post("/ui/herstelmatrix")
    async def set_status(request: Request) -> Response:
        def act(session: Session, values: dict[str, str]) -> None:
            picture.set_status(values, actor=session.principal.name)
            obj = f"status/{values['partner']}/{values['kanaal']}"
            audit(session, "status-set", obj, values["status"])

        return await submit(
            request, act, matrix_page, lambda *_: "/ui/herstelmatrix?melding=status"
        )

    # -- briefings -------------------------------------------------------------------------

    async def briefings_page(
        request: Request,
        session: Session,
        errors: Mapping[str, str],
        values: Mapping[str, str],
        status: int = 200,
    ) -> HTMLResponse:
        items = await work(picture.db.briefings)
        me = session.principal.name

        def not_approvable() -> dict[int, str]:
            # Drafts this operator may not approve, and why (no button for them): their own,
            # and those of an operator either of them made a credential for (decision 0004).
            found: dict[int, str] = {}
            for b in items:
                if b.state != "draft" or not session.principal.is_operator:
                    continue
                if same_person(b.created_by, me):
                    found[b.id] = "wacht op goedkeuring door een andere operator"
                elif briefings.why_not_approver(b.created_by, me) is not None:
                    found[b.id] = (
                        "wacht op goedkeuring door een onafhankelijke operator: u of de maker "
                        "heeft een inlogsleutel van de ander gemaakt"
                    )
            return found

        waiting = await work(not_approvable)
        return _page(
            request,
            "briefings.html",
            {
                **base(request, session, "Briefings", "/ui/briefings"),
                "items": items,
                # An approval refused is said above the list, the form's own problems at it.
                "errors": errors,
                "form_errors": {k: v for k, v in errors.items() if k != "briefing"},
                "values": values,
                "not_approvable": waiting,
            },
            status=status,
        )

    @router.get("/ui/briefings")
    async def briefing_list(request: Request) -> HTMLResponse:
        return await briefings_page(request, session_of(request), {}, {})

    @router.post("/ui/briefings")
    async def make_briefing(request: Request) -> Response:
        def act(session: Session, values: dict[str, str]) -> int:
            return briefings.create(values.get("peildatum", ""), session.principal)

        return await submit(
            request,
            act,
            briefings_page,
            lambda _, made: "/ui/briefings?melding=briefing",
        )

    @router.post("/ui/briefings/{bid}/goedkeuren")
    async def approve_briefing(request: Request, bid: str) -> Response:
        session = session_of(request)
        operator(session)
        number = _ident(bid)
        if picture.db.briefing(number) is None:
            raise _Missing(f"er is geen briefing {number}")
        try:
            await form_of(request, session)
            await work(briefings.approve, number, session.principal)
        except PictureInputError as exc:
            # Said above the list (an expired form too), not at the form for a new briefing.
            said = " ".join(str(p) for p in exc.problems.values())
            return await briefings_page(request, session, {"briefing": said}, {}, 400)
        return RedirectResponse("/ui/briefings?melding=goedgekeurd", status_code=303)

    @router.get("/ui/briefings/{name}")
    async def briefing_file(request: Request, name: str) -> Response:
        session = session_of(request)
        return await briefing_response(request, session, name, public=False)

    @router.get("/ui/briefings/{bid}/{name}")
    async def briefing_public(request: Request, bid: str, name: str) -> Response:
        session = session_of(request)
        number = _ident(bid)
        if name not in ("publicatie", "publicatie.pdf"):
            return _not_found(request, session)
        suffix = ".pdf" if name.endswith(".pdf") else ""
        return await briefing_response(request, session, f"{number}{suffix}", public=True)

    async def briefing_response(
        request: Request, session: Session, name: str, *, public: bool
    ) -> Response:
        stem, _, ext = name.partition(".")
        if ext not in ("", "pdf", "html"):
            return _not_found(request, session)
        row = await work(picture.db.briefing, _ident(stem))
        if row is None:
            return _not_found(request, session)
        html = row.public_html if public else row.html
        audit(session, "briefing-read", f"briefing/{row.id}", "publicatie" if public else "")
        if ext == "pdf":
            body = await work(briefings.pdf, row.id, public)
            kind = "publicatie" if public else "briefing"
            return Response(
                body,
                media_type="application/pdf",
                headers={
                    "Content-Disposition": f'inline; filename="{kind}-{row.id}.pdf"',
                    **_SECURITY_HEADERS,
                },
            )
        html = with_way_back(html, "/ui/briefings", "Terug naar de briefings")
        return HTMLResponse(html, headers=_SECURITY_HEADERS)

    # -- the access portal (gateway watch) ------------------------------------------------

    def gateway_verdicts() -> tuple[Path, dict[str, Any] | None, str]:
        folder = Path(rt.settings.gateway_report_location())
        damaged = "Het laatste oordeel is beschadigd of in een oude vorm; maak het rapport opnieuw."
        try:
            return folder, read_verdicts(folder), ""
        except GatewayInputError:
            return folder, None, damaged

    @router.get("/ui/voorportaal")
    async def gateway(request: Request) -> HTMLResponse:
        session = session_of(request)
        _folder, data, problem = await work(gateway_verdicts)
        period = None
        if data is not None:
            period = tuple(
                datetime.fromisoformat(data[k]).timestamp() if data.get(k) else None
                for k in ("made", "first", "last")
            )
        return _page(
            request,
            "voorportaal.html",
            {
                **base(request, session, "Voorportaal", "/ui/voorportaal"),
                "data": data,
                "period": period,
                "problem": problem,
                "rule_names": RULES_NL,
            },
        )

    @router.get("/ui/voorportaal/{slug}")
    async def gateway_report(request: Request, slug: str) -> Response:
        session = session_of(request)
        operator(session)  # the report names users and addresses
        folder, data, _problem = await work(gateway_verdicts)
        rows = data["verdicts"] if data is not None else []
        row = next((v for v in rows if v.get("slug") == slug), None)
        if row is None:
            return _not_found(request, session)
        try:
            body = await work((folder / str(row["report"])).read_text, "utf-8")
        except OSError:
            return _not_found(request, session)
        audit(session, "gateway-report-read", slug)
        body = with_way_back(body, "/ui/voorportaal", "Terug naar het voorportaal")
        return HTMLResponse(body, headers=_SECURITY_HEADERS)

    def _not_found(request: Request, session: Session | None) -> HTMLResponse:
        return _page(
            request,
            "fout.html",
            {
                **base(request, session, "Niet gevonden", ""),
                "message": "Deze pagina bestaat niet.",
                "back": "/ui/",
            },
            status=404,
        )

    # -- public ----------------------------------------------------------------------------

    @router.get("/status")
    async def status_page(request: Request) -> HTMLResponse:
        session = sessions.check(request.cookies.get(COOKIE))
        m = await work(picture.matrix)
        groups = []
        for partner in m.partners:
            cells = [c for c in m.cells if c.partner == partner]
            groups.append(
                {
                    "name": picture.partner_names.get(partner, partner),
                    "cells": cells,
                    "summary": partner_summary([c.state for c in cells]),
                }
            )
        order = list(STATES)
        groups.sort(key=lambda g: (min(order.index(c.state) for c in g["cells"]), g["name"]))
        labels = {**picture.process_names, **HAND_CHANNELS}
        return _page(
            request,
            "status.html",
            {
                **base(request, session, "Status van de keten", "/status"),
                "groups": groups,
                "changes": m.changes[:30],
                "states": STATES,
                "labels": labels,
                "change_labels": _change_labels(picture),
                "partners": picture.partner_names,
                "as_of": _as_of(picture, m),
            },
        )

    @router.get("/status/feed.atom")
    async def status_feed(request: Request) -> Response:
        m = await work(picture.matrix)
        labels = _change_labels(picture)
        # The links come from the configured public address, or are root-relative: never from
        # the request's Host header, which whoever asks may set to anything.
        body = _atom(m, labels, picture.partner_names, rt.settings.public_url or "")
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    @router.get("/toegankelijkheid")
    async def accessibility(request: Request) -> HTMLResponse:
        session = sessions.check(request.cookies.get(COOKIE))
        return _page(
            request,
            "toegankelijkheid.html",
            base(request, session, "Toegankelijkheidsverklaring", ""),
        )

    app.include_router(router)
    app.state.briefings = briefings


_SUMMARY = {
    "down": "storing",
    "manual": "omweg",
    "draining": "achterstand loopt terug",
}


def partner_summary(states: Sequence[str]) -> str:
    """A partner's heading on the status page: how many of its connections are in each state
    that is not normal (one channel down is not the whole partner down), worst first."""
    counts = Counter(states)
    if not counts or set(counts) == {"normal"}:
        return "alles normaal"
    total = len(states)
    worst = next(state for state in STATES if counts[state])
    if counts[worst] == total:
        every = {1: "de verbinding", 2: "beide verbindingen"}.get(
            total, f"alle {total} verbindingen"
        )
        return f"{_SUMMARY[worst]} bij {every}"
    parts = [
        f"{_SUMMARY[state]} bij {counts[state]}"
        for state in STATES
        if state != "normal" and counts[state]
    ]
    return ", ".join(parts) + f" van de {total} verbindingen"


_BODY = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


def with_way_back(document: str, href: str, label: str) -> str:
    """A stored document (a briefing, a portal report) as the UI serves it: with a link back
    to the page it was opened from at its top, left out when printed. The stored document, the
    one published or sent on, stays as it was made."""
    found = _BODY.search(document)
    if found is None:
        return document
    link = (
        '<nav class="kh-terug" aria-label="Navigatie" style="margin:0 0 1rem">'
        f'<a href="{escape(href)}">← {escape(label)}</a></nav>'
        "<style>@media print{.kh-terug{display:none}}</style>"
    )
    return document[: found.end()] + link + document[found.end() :]


def _redirect_to(page: str) -> Callable[[Request], Awaitable[Response]]:
    async def redirect(request: Request) -> Response:
        query = request.url.query  # kept: /ui?melding=… is /ui/?melding=…
        return RedirectResponse(f"{page}?{query}" if query else page, status_code=308)

    return redirect


def _is_page(path: str) -> bool:
    """Whether ``path`` is one of the web pages (answered with a Dutch page), not the API."""
    return any(
        path == page or path.startswith(page + "/")
        for page in ("/ui", "/status", "/toegankelijkheid")
    )


def _safe_next(target: str) -> str:
    """Only a path on this site (never another host) after signing in."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/ui/"
    return target


def _change_labels(picture: Picture) -> dict[str, str]:
    """What a change's channel is called mid-sentence: a process by its proper name ("Afdoening
    door het OM", "Overdracht ter tenuitvoerlegging (Wet USB)"), e-mail and telephone in lower
    case (common nouns)."""
    return {**picture.process_names, **{k: v.lower() for k, v in HAND_CHANNELS.items()}}


def _atom(m: Any, labels: Mapping[str, str], partners: Mapping[str, str], base_url: str) -> str:
    updated = datetime.fromtimestamp(m.changes[0].at if m.changes else m.as_of, TZ).isoformat()
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="nl">',
        "<title>Status van de strafrechtketen: wijzigingen</title>",
        f'<link rel="self" href="{escape(base_url)}/status/feed.atom"/>',
        f'<link rel="alternate" type="text/html" href="{escape(base_url)}/status"/>',
        "<id>tag:ketenherstel,2025:status</id>",
        f"<updated>{updated}</updated>",
        "<author><name>Ketenherstel</name></author>",
    ]
    for c in m.changes[:100]:
        at = datetime.fromtimestamp(c.at, TZ).isoformat()
        title = (
            f"{partners.get(c.partner, c.partner)}, {labels.get(c.channel, c.channel)}: "
            f"{STATES.get(c.state, c.state).lower()}"
        )
        out += [
            "<entry>",
            f"<title>{escape(title)}</title>",
            f"<id>tag:ketenherstel,2025:status/{escape(c.partner)}/{escape(c.channel)}/"
            f"{int(c.at)}</id>",
            f"<updated>{at}</updated>",
            f'<link rel="alternate" type="text/html" href="{escape(base_url)}/status"/>',
            f"<summary>{escape(STATES.get(c.state, c.state))}</summary>",
            "</entry>",
        ]
    out.append("</feed>")
    return "\n".join(out) + "\n"
