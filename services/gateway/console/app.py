"""The console: a web application for every role, served by the gateway under
``/console/``. Server-rendered (Jinja2), small partial updates with htmx (vendored),
nothing loaded from another host. Its pages call the same service functions as the
API routes, with the same roles and object checks.

``mount_console(app)`` builds it as a sub-application sharing the API's state (its
database sessions, signing key, token cache), with its own session cookie, CSRF
check, security headers and HTML error pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.console.deps import SignInRequired, console_request
from services.gateway.console.i18n import DEFAULT, LANGUAGES, negotiate
from services.gateway.console.pages import ROUTERS, live
from services.gateway.console.render import Renderer, page
from services.gateway.errors import ApiError
from services.gateway.settings import GatewaySettings

PREFIX = "/console"
STATIC = Path(__file__).parent / "static"
#: shared with the API: what its dependencies and service functions read
SHARED_STATE = ("settings", "sessions", "read_sessions", "principals", "signing_key",
                "passwords", "metrics", "throttle", "hub")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
#: an SVG image (a chart drawn on the server) styles itself with its own <style>; it
#: may do nothing else (no script, nothing loaded)
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
HEADERS = [(b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"same-origin"),
           (b"x-frame-options", b"DENY")]


class SecurityHeaders:
    """Adds the console's security headers to every answer; pages (which may show
    personal data) are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(f"{PREFIX}/static/") or scope["path"].startswith(
            "/static/")

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                svg = any(k == b"content-type" and v.startswith(b"image/svg+xml")
                          for k, v in headers)
                headers.append((b"content-security-policy", (SVG_CSP if svg else CSP).encode()))
                headers.extend(HEADERS)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, sending)


def create_console(parent: FastAPI, settings: GatewaySettings) -> FastAPI:
    console = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    for name in SHARED_STATE:
        setattr(console.state, name, getattr(parent.state, name))
    console.state.renderer = Renderer.create()
    console.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        console.router.routes.extend(checked_pages(router))
    console.router.routes.extend(live.router.routes)  # no page: the session's user only
    install_error_pages(console)
    console.add_middleware(
        SessionMiddleware, secret_key=parent.state.signing_key,
        session_cookie="circular_console", max_age=settings.console_session_minutes * 60,
        path=PREFIX, same_site="lax", https_only=settings.console_secure_cookies)
    console.add_middleware(SecurityHeaders)
    return console


def checked_pages(router: APIRouter) -> list[BaseRoute]:
    """The router's routes, each known to run :func:`console_request` first (its CSRF
    check, the signed-in user, the language): a router of pages made otherwise than
    with ``page_router()`` fails the start."""
    for route in router.routes:
        if not (isinstance(route, APIRoute)
                and any(d.dependency is console_request for d in route.dependencies)):
            raise RuntimeError(f"console route {getattr(route, 'path', route)} does not "
                               "run console_request: make its router with page_router()")
    return router.routes


def install_error_pages(console: FastAPI) -> None:
    @console.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _: SignInRequired) -> Response:
        target = f"{PREFIX}/sign-in?next={request.url.path}"
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @console.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> HTMLResponse:
        return error_page(request, exc.status, exc.code)

    @console.exception_handler(RequestValidationError)
    async def _invalid(request: Request, _: RequestValidationError) -> HTMLResponse:
        return error_page(request, 422, "validation_error")

    @console.exception_handler(404)
    async def _not_found(request: Request, _: Exception) -> HTMLResponse:
        return error_page(request, 404, "not_found")


def error_page(request: Request, status: int, code: str) -> HTMLResponse:
    """The error page; the state a page needs is filled in when the error came before
    the console's own dependency ran (an unknown path)."""
    state = request.state
    if not hasattr(state, "language"):
        chosen = request.session.get("lang")
        state.language = (chosen if chosen in LANGUAGES else None) or negotiate(
            request.headers.get("accept-language")) or DEFAULT
        state.user, state.flash, state.csrf_token = None, None, ""
    return page(request, "error.html", status_code=status, status=status, code=code)


def mount_console(app: FastAPI, settings: GatewaySettings) -> None:
    app.mount(PREFIX, create_console(app, settings))
