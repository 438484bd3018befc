"""The threads an API process does its database work in: one pool, the event loop's
own executor, no larger than the connection pool (``app.py``), so a thread never
waits for a connection.

A call goes to a thread in one hop. anyio's ``to_thread.run_sync`` (Starlette's
``run_in_threadpool``) first yields to the event loop twice, at a checkpoint and at its
limiter, and each yield waits for every other request ready to run on the loop. A
write paid both before its thread started: in-process, with eight requests at once,
p50 12 ms between its request and its thread against 4 ms in one hop."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
#: the pool's threads are named with it (and a number)
THREAD_NAME = "gateway-db"


def use(loop: asyncio.AbstractEventLoop, size: int) -> None:
    """Give ``loop`` a pool of ``size`` threads for :func:`run` (at the app's start)."""
    loop.set_default_executor(ThreadPoolExecutor(max_workers=size,
                                                 thread_name_prefix=THREAD_NAME))


async def run(func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` in the loop's pool, with the caller's context variables. Its
    outcome comes back in one call onto the loop, so the caller resumes on the loop's
    next round but one, as with anyio. If the caller is cancelled meanwhile, this
    still waits for the call to end, as anyio does, so what the call uses (a session,
    a connection) is never closed under it."""
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[T] = loop.create_future()
    ended = asyncio.Event()
    context = contextvars.copy_context()

    def call() -> None:
        try:
            value, exc = context.run(func, *args), None
        except BaseException as caught:  # handed to the caller, whatever it is
            value, exc = None, caught
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: no one waits
            loop.call_soon_threadsafe(_settle, outcome, ended, value, exc)

    loop.run_in_executor(None, call)
    try:
        return await outcome
    except asyncio.CancelledError:
        while not ended.is_set():
            try:
                await ended.wait()
            except asyncio.CancelledError:
                continue
        raise


def _settle(outcome: asyncio.Future[Any], ended: asyncio.Event, value: Any,
            exc: BaseException | None) -> None:
    ended.set()
    if outcome.cancelled():
        return
    if exc is not None:
        outcome.set_exception(exc)
    else:
        outcome.set_result(value)
