"""``GET /stream``: server-sent events telling a signed-in client that something it
may read changed (event ``change``: ``{"kind", "id", "status"[, "vacancy_id"]}``, ids
and statuses only), so that it reads it again instead of polling. The event id is the
change's; a client that reconnects with ``Last-Event-ID`` gets what it missed, or a
``reset`` event (reload what you show) when that is no longer kept. A comment every
``CIRCULAR_STREAM_HEARTBEAT_SECONDS`` keeps proxies from closing an idle stream; the
server ends a stream after ``CIRCULAR_STREAM_MAX_SECONDS`` (the client reconnects and
is authenticated again). The console's ``/console/stream`` is the same stream for its
session (``console/pages/stream.py``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from services.gateway.auth.security import Principal
from services.gateway.database import threads
from services.gateway.deps import CurrentUser
from services.gateway.errors import responses
from services.gateway.routing import API_PREFIX
from services.gateway.settings import GatewaySettings
from services.gateway.stream import service
from services.gateway.stream.hub import Hub, Subscriber
from services.gateway.stream.models import ChangeKind
from services.gateway.stream.service import Seen

router = APIRouter(prefix=API_PREFIX, tags=["stream"])
#: at most this many missed changes are sent again; more and the client gets ``reset``
REPLAY_LIMIT = 1000
#: how long a browser waits before reconnecting (ms), sent with the first event
RETRY_MS = 2000
LastEventId = Annotated[str | None, Header(
    alias="Last-Event-ID", max_length=40,
    description="The id of the last event received: the changes after it are sent "
    "first (an id this server never sent, or no longer keeps, gets `reset`)")]
Kinds = Annotated[list[ChangeKind] | None, Query(
    alias="kind", description="Only these kinds of change (repeat the parameter for "
    "several; none: every kind)")]

#: the data of a ``change`` event (a ``reset`` carries ``{}``)
CHANGE_DATA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {"kind": {"type": "string", "enum": [k.value for k in ChangeKind]},
                   "id": {"type": "string"}, "status": {"type": "string"},
                   "vacancy_id": {"type": "string"}}}
STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {"description": "Server-sent events: `change` (data: JSON `{kind, id, status, "
          "vacancy_id?}`, `kind` one of vacancy, match, placement, return, trigger; the "
          "event id is the change's), `reset` (reload: the changes after Last-Event-ID "
          "are no longer kept), and a comment as heartbeat. Only what the caller may "
          "read, ids and statuses only.",
          "content": {"text/event-stream": {"schema": {
              "description": "One event (OpenAPI before 3.2: the schema of each event)",
              "type": "object",
              "properties": {
                  "event": {"type": "string", "enum": ["change", "reset"]},
                  "id": {"type": "string", "pattern": "^[0-9]+$"},
                  "retry": {"type": "integer"},
                  "data": {"type": "string", "contentMediaType": "application/json",
                           "contentSchema": CHANGE_DATA},
              }}}}},
    **responses(401, 422),
    429: {"model": responses(429)[429]["model"],
          "description": "Too many open streams for this user: close one first"},
}


def change_event(change: Seen) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(change.data(), separators=(",", ":")),
                           event="change", id=str(change.id))


def reset_event() -> ServerSentEvent:
    return ServerSentEvent(data="{}", event="reset")


async def open_stream(state: Any, user: Principal, last_event_id: str | None,
                      kinds: list[ChangeKind] | None = None) -> EventSourceResponse:
    """The stream for ``user`` (429 when the user has its limit of streams open)."""
    settings: GatewaySettings = state.settings
    hub: Hub = state.hub
    wanted = frozenset(k.value for k in kinds) if kinds else None
    subscriber = await hub.open(user, wanted)  # raises before the response starts
    return EventSourceResponse(
        events(hub, subscriber, last_event_id, settings.stream_max_seconds),
        ping=settings.stream_heartbeat_seconds, headers={"Cache-Control": "no-store"})


async def events(hub: Hub, subscriber: Subscriber, last_event_id: str | None,
                 max_seconds: float) -> AsyncIterator[ServerSentEvent]:
    try:
        yield ServerSentEvent(comment="connected", retry=RETRY_MS)
        last = _event_id(last_event_id)
        if last_event_id is not None and last is None:
            yield reset_event()  # not an id this server sends
        if last is not None:
            missed = await threads.run(
                _replay, hub, last, subscriber.opened_at)
            if missed is None:
                yield reset_event()
            else:
                for change in missed:
                    if subscriber.wants(change):
                        yield change_event(change)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_seconds
        while not subscriber.closed.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                got = await asyncio.wait_for(subscriber.queue.get(), remaining)
            except TimeoutError:
                break
            if got is None:  # the server is stopping
                break
            if subscriber.overflowed:  # it fell behind: reload, and go on from here
                while not subscriber.queue.empty():
                    subscriber.queue.get_nowait()
                subscriber.overflowed = False
                yield reset_event()
                continue
            if last is None or got.id > last:
                yield change_event(got)
    finally:
        hub.close(subscriber)


def _event_id(value: str | None) -> int | None:
    """An event id as sent (digits, within the column's range), else None."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def _replay(hub: Hub, last: int, upto: int) -> list[Seen] | None:
    with hub.read_sessions() as session:
        return service.replay(session, last, upto, REPLAY_LIMIT)


@router.get("/stream", response_class=EventSourceResponse, responses=STREAM_DOC)
async def stream(request: Request, user: CurrentUser, kind: Kinds = None,
                 last_event_id: LastEventId = None) -> EventSourceResponse:
    """What the caller may read that changed since it connected (or since
    ``Last-Event-ID``), as server-sent events: read the entity again when told."""
    return await open_stream(request.app.state, user, last_event_id, kind)
