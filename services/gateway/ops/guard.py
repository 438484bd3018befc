"""An ASGI guard in front of the API: bodies over the size limit get 413; JSON nested
deeper than a sane document, a JSON body that is not UTF-8 (RFC 8259), and NUL
characters anywhere (path, query, body; no database stores them and no text needs
them) get 422, before anything parses them.

A few routes take a file larger than a JSON body may be (``streamed``: path -> limit,
e.g. the roster import): their body is not held here but passed on as it arrives,
counted, and refused the same way (413, or 422 for a NUL byte) as soon as it
breaks a rule; whatever the route answered by then is dropped."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_DEPTH = 32


def nesting_depth(body: bytes) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


class _Refused(Exception):
    """Raised into the route reading a streamed body that broke a rule."""


class BodyGuard:
    def __init__(self, app: ASGIApp, max_bytes: int,
                 streamed: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streamed = dict(streamed or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _has_nul(scope.get("raw_path") or scope["path"].encode()) or _has_nul(
                scope.get("query_string", b"")):
            await _reject(send, 422, "validation_error", "NUL characters are not allowed")
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        limit = self.streamed.get(scope["path"], self.max_bytes)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _reject(send, 413, "payload_too_large",
                          f"The body is larger than {limit} bytes")
            return
        if scope["path"] in self.streamed:
            await self._stream(scope, receive, send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _reject(send, 413, "payload_too_large",
                              f"The body is larger than {self.max_bytes} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if b"\\u0000" in body or _has_nul(body):
            await _reject(send, 422, "validation_error", "NUL characters are not allowed")
            return
        if b"json" in headers.get(b"content-type", b""):
            if not _is_utf8(body):
                await _reject(send, 422, "validation_error", "A JSON body is UTF-8 text")
                return
            if _brackets(body) > MAX_DEPTH and nesting_depth(body) > MAX_DEPTH:
                await _reject(send, 422, "validation_error",
                              f"The JSON body is nested deeper than {MAX_DEPTH} levels")
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        size = 0
        refused: tuple[int, str, str, str | None] | None = None

        async def counting() -> Message:
            nonlocal size, refused
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    refused = (413, "payload_too_large", f"The body is larger than {limit} bytes",
                               None)
                elif b"\x00" in chunk:
                    refused = (422, "validation_error", "NUL characters are not allowed", "body")
                if refused is not None:
                    raise _Refused
            return message

        async def sending(message: Message) -> None:
            if refused is None:
                await send(message)

        with contextlib.suppress(_Refused):
            await self.app(scope, counting, sending)
        if refused is not None:
            await _reject(send, *refused)


def _brackets(body: bytes) -> int:
    """Brackets that open: no JSON nests deeper than that (cheap: no byte loop)."""
    return body.count(b"[") + body.count(b"{")


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _has_nul(raw: bytes) -> bool:
    """A NUL byte, raw or percent-encoded (form bodies, paths, query strings)."""
    return b"\x00" in raw or (b"%00" in raw and b"\x00" in unquote_to_bytes(raw))


async def _reject(send: Send, status: int, code: str, message: str,
                  field: str | None = None) -> None:
    errors = [{"field": field, "message": message, "type": "value_error"}] if field else []
    payload: dict[str, Any] = {"code": code, "message": message, "errors": errors}
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
