"""Composition root of the HTTP API: ``create_app(settings)`` wires the database,
the signing key, metrics and routes into a FastAPI app. Nothing happens at import;
tests build their own app with their own settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from services.gateway import errors
from services.gateway.agreements.views import router as agreements
from services.gateway.auth import service as users
from services.gateway.auth.principals import Principals
from services.gateway.auth.security import Passwords
from services.gateway.auth.throttle import SignInThrottle
from services.gateway.auth.views import router as auth
from services.gateway.clock.views import router as clock
from services.gateway.console.app import mount_console
from services.gateway.database import threads
from services.gateway.database.core import make_engine, make_sessionmaker
from services.gateway.database.loop_reads import close_loop_reads, make_loop_reads
from services.gateway.deps import needs_caller, oauth2
from services.gateway.document import state_input_rules
from services.gateway.employers.views import router as employers
from services.gateway.matches.views import router as matches
from services.gateway.ops.guard import BodyGuard
from services.gateway.ops.metrics import Metrics, MetricsMiddleware
from services.gateway.ops.views import router as ops
from services.gateway.placements.views import router as placements
from services.gateway.routing import API_PREFIX
from services.gateway.settings import GatewaySettings
from services.gateway.stats.views import router as stats
from services.gateway.stream.hub import Hub
from services.gateway.stream.views import router as stream
from services.gateway.triggers.views import router as triggers
from services.gateway.vacancies.views import router as vacancies
from services.gateway.workers.views import router as workers

#: ``POST /workers``: staff register walk-in workers; anyone registers themselves
OPTIONAL_TOKEN = {("post", f"{API_PREFIX}/workers")}
ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


def add_api_routes(app: FastAPI) -> None:
    """The API's routes, added flat to the app's own list: each resource router has
    the whole prefix, so its routes are complete as they are. FastAPI (0.165) keeps an
    included router as one node that it matches on every request twice (to find it,
    then to handle it), each time walking the versions of every router below it:
    finding ``GET /api/v1/vacancies/{id}/matches`` took 68 us nested, 33 us flat
    (route matching was 17% of the API's CPU in the gateway bench's profile).
    The probes (``ops``) are included as usual, after these: at the root, undocumented,
    and under the prefix."""
    for router in (auth, agreements, employers, vacancies, workers, matches, placements,
                   triggers, stats, clock, stream):
        app.router.routes.extend(router.routes)
    app.include_router(ops, prefix=API_PREFIX)
    app.include_router(ops, include_in_schema=False)  # for probes; documented under /api/v1


class CircularApi(FastAPI):
    """FastAPI with the parts of the document its route declarations cannot state."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            document = super().openapi()
            document_security(document, self.routes)
            document_extras(document)
            state_input_rules(document)
        assert self.openapi_schema is not None
        return self.openapi_schema


#: the keys FastAPI writes before an operation's security requirement
OPERATION_METADATA = ("tags", "summary", "description", "operationId", "deprecated")


def document_security(document: dict[str, Any], routes: list[BaseRoute]) -> None:
    """The bearer scheme on every operation whose route asks who calls
    (``deps.needs_caller``), where FastAPI puts a security dependency's, and in the
    components: the routes read the token themselves (``deps.bearer_token``), so
    FastAPI does not see the scheme."""
    documented = False
    for route in routes:
        if not (isinstance(route, APIRoute) and route.include_in_schema
                and needs_caller(route.dependant)):
            continue
        documented = True
        operations = document["paths"][route.path_format]
        for method in route.methods or ():
            operation = operations[method.lower()]
            keys = list(operation)
            at = sum(1 for k in keys if k in OPERATION_METADATA)
            security = [{oauth2.scheme_name: []}, *operation.get("security", [])]
            operations[method.lower()] = {**{k: operation[k] for k in keys[:at]},
                                          "security": security,
                                          **{k: operation[k] for k in keys[at:]}}
    if documented:
        document.setdefault("components", {}).setdefault("securitySchemes", {})[
            oauth2.scheme_name] = jsonable_encoder(oauth2.model, by_alias=True,
                                                   exclude_none=True)


def document_extras(document: dict[str, Any]) -> None:
    """Every operation that takes a body may answer 413 (the body guard's limit); the
    routes in :data:`OPTIONAL_TOKEN` may be called with or without a token."""
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                operation.setdefault("responses", {}).setdefault("413", {
                    "description": "Body too large",
                    "content": {"application/json": {"schema": ERROR_BODY}}})
            if (method, path) in OPTIONAL_TOKEN:
                operation["security"] = [{}, *operation.get("security", [])]


def create_app(settings: GatewaySettings) -> FastAPI:
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True)
    engine = make_engine(settings.database_url, pool_size=settings.pool_size(),
                         max_overflow=settings.pool_overflow())
    sessions = make_sessionmaker(engine)
    read_sessions = make_sessionmaker(engine, read_only=True)
    loop_reads = make_loop_reads(settings.database_url, off_loop=read_sessions)
    hub = Hub(read_sessions, poll_seconds=settings.stream_poll_seconds,
              max_per_user=settings.stream_max_per_user)
    passwords = Passwords(settings.password_hash_memory_kib, settings.password_hash_time_cost)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # a connection is only held inside one call to the database's threads
        # (database/threads.py): with no more threads than connections, no thread ever
        # waits for one. anyio's threads (files, forms) get no more either
        threads.use(asyncio.get_running_loop(), settings.pool_size())
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = min(limiter.total_tokens, settings.pool_size())
        with sessions() as session:
            users.ensure_first_admin(
                db_session=session, username=settings.admin_user,
                password=settings.admin_password.get_secret_value()
                if settings.admin_password else None, passwords=passwords)
        hub.start()  # the one change poller of this process (GET /stream)
        yield
        await hub.stop()
        engine.dispose()
        close_loop_reads(loop_reads)

    app = CircularApi(
        title="Circular",
        version="1.0.0",
        summary="Legal, fair, circular labour migration",
        description="Labour agreements, vacancies, workers, matches, placements and "
        "reintegration. Writes that go through Kafka answer 202; reads are eventually "
        "consistent.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.sessions = sessions  # transactions that write
    app.state.read_sessions = read_sessions
    app.state.loop_read_sessions = loop_reads  # short reads on the event loop (SQLite)
    app.state.principals = Principals(settings.auth_cache_seconds)
    app.state.signing_key = settings.signing_key()
    app.state.passwords = passwords
    app.state.hub = hub
    #: failed sign-ins per account and address, for the API's token and the console
    app.state.throttle = SignInThrottle.from_limits(
        settings.sign_in_limit_per_account, settings.sign_in_limit_per_address)
    app.state.metrics = Metrics(read_sessions)
    errors.install(app)
    # the console first: a page's path is then matched against the one mount, not
    # every API route before it; an API path costs one more regex test
    mount_console(app, settings)
    add_api_routes(app)
    app.add_middleware(BodyGuard, max_bytes=settings.max_body_bytes,
                       streamed={f"{API_PREFIX}/workers/import": settings.roster_max_bytes,
                                 "/console/workers/import": settings.roster_max_bytes})
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(errors.ServerErrors)  # outermost: added last
    return app
