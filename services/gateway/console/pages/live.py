"""``/console/stream``: the API's change stream (``stream/views.py``) for the console's
session, which the review queue and the vacancy list listen to with htmx's SSE
extension to reload their list when something they show changed. Mounted beside the
pages, not among them: it reads the session's sign-in only (no CSRF token made, the
one-time message left for the next page); no sign-in is 401."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from sse_starlette import EventSourceResponse

from services.gateway.deps import principal_for
from services.gateway.errors import Unauthorized
from services.gateway.stream import service as changes
from services.gateway.stream.views import Kinds, LastEventId, open_stream

router = APIRouter(include_in_schema=False)


@router.get("/stream")
async def console_stream(request: Request, kind: Kinds = None,
                         after: Annotated[int | None, Query(ge=0, le=10**18)] = None,
                         last_event_id: LastEventId = None) -> EventSourceResponse:
    """``after``: the newest change when the page was made (:func:`stream_after`), so
    what changed between rendering the page and connecting is not missed; a browser
    reconnecting sends ``Last-Event-ID``, which wins."""
    token = request.session.get("token")
    if not token:
        raise Unauthorized("Sign in first")
    user = await principal_for(request.app.state, token)
    if last_event_id is None and after is not None:
        last_event_id = str(after)
    return await open_stream(request.app.state, user, last_event_id, kind)


def stream_after(db_session: Session) -> int:
    """For a page that listens to the stream: the newest change as it is rendered."""
    return changes.latest_id(db_session)
