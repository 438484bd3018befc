"""How the API runs a synchronous endpoint: in one hop to the thread pool, with the
request's database work, and the request's session released before that hop ends.

Why: FastAPI would otherwise run a sync endpoint in one hop and validate its answer
in another (fastapi#3205), every sync dependency in one more, and the session of a
yield dependency would keep its connection until the response was sent. A request
holding a connection while it waits for a thread, while every thread waits for a
connection, is a deadlock (it ended in pool timeouts and 500s past ~60 concurrent
requests). Here a connection is only ever held inside one thread-pool call, and the
API's thread pool is no larger than its connection pool (``database/threads.py``), so
no thread waits for a connection. The answer is validated and serialized on the event loop.

An endpoint whose sessions are all the event loop's (a short read on SQLite,
``deps.ShortRead``, ``database/loop_reads.py``) runs on the loop instead; if it must
record something after all (``begin_write``), it runs again from its start in the
thread pool on ordinary sessions.

A transient database error (SQLite busy, a PostgreSQL deadlock or serialization
failure) runs the endpoint again, up to :data:`ATTEMPTS` times, unless it had
committed something already.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.types import Scope

from services.gateway.database import threads
from services.gateway.database.core import OffLoop, commits, is_transient
from services.gateway.database.loop_reads import off_loop, on_loop

log = logging.getLogger(__name__)
#: the API's paths begin with it; each resource router carries it whole (``app.py``)
API_PREFIX = "/api/v1"
ATTEMPTS = 3
BACKOFF_SECONDS = 0.05


class GatewayRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = in_one_hop(endpoint)
        super().__init__(path, endpoint, **kwargs)


def in_one_hop(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` as a coroutine function of the same signature that runs it in the
    thread pool (on the loop if its sessions are all the loop's) and releases the
    sessions it was given before the call returns."""

    @functools.wraps(endpoint)
    async def run(**kwargs: Any) -> Any:
        sessions = {k: v for k, v in kwargs.items() if isinstance(v, Session)}
        looping = [k for k, v in sessions.items() if on_loop(v)]
        if looping:
            if len(looping) == len(sessions):
                try:
                    return call_releasing(endpoint, kwargs)
                except OffLoop:  # it must record something: again, in the thread pool
                    pass
            # the loop's one connection never goes to a thread
            kwargs = {**kwargs, **{k: off_loop(sessions[k]) for k in looping}}
        return await threads.run(call_releasing, endpoint, kwargs)

    return run


def call_releasing(endpoint: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    sessions = [v for v in kwargs.values() if isinstance(v, Session)]
    try:
        attempt = 1
        while True:
            committed = [commits(s) for s in sessions]
            try:
                return endpoint(**kwargs)
            except SQLAlchemyError as exc:
                if (attempt >= ATTEMPTS or not is_transient(exc)
                        or committed != [commits(s) for s in sessions]):
                    raise
                log.warning("transient database error; trying the request again", extra={
                    "endpoint": endpoint.__name__, "attempt": attempt,
                    "error_type": type(exc).__name__})
                for s in sessions:
                    s.rollback()
                time.sleep(BACKOFF_SECONDS * attempt)
                attempt += 1
    finally:
        for s in sessions:
            s.close()


def route_template(scope: Scope) -> str:
    """The matched route as a template (``/api/v1/agreements/{agreement_id}``,
    ``/console/review``), as the metrics label a request and a failed request's log
    line names it, so neither grows with ids nor shows them; ``unmatched`` when no
    route matched. A mounted app's routes are prefixed with where it is mounted (the part
    of ``root_path`` its mount added)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return "unmatched"
    root = scope.get("root_path", "")
    return root[len(scope.get("app_root_path", root)):] + path
