"""One JSON error body for every failure: ``{"code", "message", "errors": [{"field",
"message", "type"}]}``. Field errors never echo the submitted value (it may be a
passport number), and no log line carries a request body, a statement's values or
an exception's text."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.routing import route_template

log = logging.getLogger(__name__)


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class ErrorBody(BaseModel):
    code: str
    message: str
    errors: list[FieldError] = []


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class Unprocessable(ApiError):
    status, code = 422, "validation_error"


class TooManyRequests(ApiError):
    status, code = 429, "too_many_requests"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "validation_error",
               429: "too_many_requests"}


def field_errors(errors: list[Any]) -> list[FieldError]:
    out = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        out.append(FieldError(field=loc or "body", message=str(err.get("msg", "invalid")),
                              type=str(err.get("type", "value_error"))))
    return out


def error_response(status: int, code: str, message: str,
                   errors: list[FieldError] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorBody(code=code, message=message, errors=errors or [])
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc.status, exc.code, exc.message, exc.errors, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "validation_error", "The request is invalid",
                              field_errors(list(exc.errors())))

    @app.exception_handler(ValidationError)
    async def _invalid_model(_: Request, exc: ValidationError) -> JSONResponse:
        return error_response(422, "validation_error", "The request is invalid",
                              field_errors(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # e.g. two creates with the same id, passport number or username at once: the
        # checks before the insert passed for both, the database let one through
        log.warning("the database refused a write", extra=_where(request.scope, exc))
        return error_response(409, "conflict", "This conflicts with a record that exists "
                              "(the same id, passport number or username)")

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        log.warning("the database refused a value", extra=_where(request.scope, exc))
        return error_response(422, "validation_error",
                              "A value does not fit what the database can store")


#: the methods :func:`allowed_methods` asks the router about
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path. Starlette's router answers
    405 with the methods of the first route whose path matched, not those of every
    route sharing the path (``GET`` and ``POST /vacancies`` are two routes)."""
    routes = request.app.router.routes
    return [method for method in METHODS
            if any(route.matches({**request.scope, "method": method})[0] is Match.FULL
                   for route in routes)]


def _where(scope: Scope, exc: BaseException) -> dict[str, Any]:
    """What a log line may say about a failed request: the route's template, the
    exception types of the chain and where they were raised. Not the path's values,
    the query, the body, nor any exception's text (a database error quotes values)."""
    route = route_template(scope)
    types: list[str] = []
    frames: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(types) < 5:
        types.append(f"{type(seen).__module__}.{type(seen).__qualname__}")
        seen = seen.__cause__ or seen.__context__
    for frame in traceback.extract_tb(exc.__traceback__)[-12:]:
        frames.append(f"{frame.filename}:{frame.lineno} in {frame.name}")
    return {"method": scope.get("method"), "route": route, "error_types": types,
            "frames": frames}


class ServerErrors:
    """The outermost middleware: an exception nothing turned into a response becomes a
    500 with the error body, and one log line made by :func:`_where`. It does not
    re-raise, so the server does not log the exception (and its text) again."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            log.error("unexpected error", extra=_where(scope, exc))
            if not started:
                response = error_response(500, "internal_error",
                                          "Something went wrong on our side")
                await response(scope, receive, send)


#: documented on every route that can fail this way
def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "Bad request", 401: "Missing or invalid token", 403: "Not allowed",
            404: "Not found", 409: "Conflict with the current state",
            413: "Body too large", 422: "Invalid request",
            429: "Too many failed sign-ins for this account or address: wait"}
    return {s: {"model": ErrorBody, "description": text.get(s, "Error")} for s in statuses}
