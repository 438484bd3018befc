"""One poller per API process: the changes the projector (another process) commits
are read every ``CIRCULAR_STREAM_POLL_SECONDS`` and handed to the open streams in
memory, each only what its user may see (``service.may_see``). It reads only while
a stream is open; the first stream to open sets where it starts (the newest change
then). Streams per user are bounded (per process)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.auth.security import Principal
from services.gateway.database import threads
from services.gateway.errors import TooManyRequests
from services.gateway.stream import service
from services.gateway.stream.service import Seen

log = logging.getLogger(__name__)
#: changes read per poll (a longer backlog is read in several, without pausing)
BATCH = 500
#: changes a stream may have waiting; more and it is told to reload (``reset``)
QUEUE_SIZE = 1000
ERROR_PAUSE_SECONDS = 1.0


@dataclass(eq=False)
class Subscriber:
    user: Principal
    #: the newest change when it opened: later ones come through the queue
    opened_at: int
    #: the kinds of change it asked for (None: every kind)
    kinds: frozenset[str] | None = None
    #: changes to send; None: the hub is stopping
    queue: asyncio.Queue[Seen | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.get_running_loop)

    def wants(self, change: Seen) -> bool:
        return (self.kinds is None or change.kind in self.kinds) and service.may_see(
            self.user, change)

    def push(self, change: Seen | None) -> None:
        """From the poller's loop; a stream served on another loop (a second lifespan
        of the same app, as in some tests) is handed it thread-safely."""
        if asyncio.get_running_loop() is self.loop:
            self._put(change)
        else:
            self.loop.call_soon_threadsafe(self._put, change)

    def _put(self, change: Seen | None) -> None:
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            self.overflowed = True


class Hub:
    def __init__(self, read_sessions: sessionmaker[Session], *, poll_seconds: float,
                 max_per_user: int) -> None:
        self.read_sessions = read_sessions
        self.poll_seconds = poll_seconds
        self.max_per_user = max_per_user
        self._subscribers: set[Subscriber] = set()
        self._per_user: Counter[str] = Counter()
        self._cursor: int | None = None  # the newest change handed out
        self._generation = 0  # a new one each time the last stream closes
        self._wanted: asyncio.Event | None = None  # made on the loop, by start()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle (the app's lifespan) ------------------------------------------------

    def start(self) -> None:
        """Start polling on this loop; a second lifespan of the same app (on another
        loop, as some test clients run one) shares the first one's poller."""
        if self._task is not None and not self._task.done():
            return
        self._loop = asyncio.get_running_loop()
        self._wanted = asyncio.Event()
        self._task = self._loop.create_task(self._run(), name="stream-poller")

    async def stop(self) -> None:
        if self._task is None or asyncio.get_running_loop() is not self._loop:
            return
        for subscriber in list(self._subscribers):
            subscriber.closed.set()
            subscriber.push(None)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    # -- streams -----------------------------------------------------------------------

    async def open(self, user: Principal, kinds: frozenset[str] | None = None) -> Subscriber:
        """A place in the fan-out for one stream; 429 past the user's limit."""
        if self._loop is None or self._wanted is None:
            raise RuntimeError("the stream hub was not started (the app's lifespan)")
        if self._per_user[user.user_id] >= self.max_per_user:
            raise TooManyRequests(f"At most {self.max_per_user} open streams per user: "
                                  "close one first")
        self._per_user[user.user_id] += 1  # before any await: the count is never passed
        try:
            if self._cursor is None:
                latest = await threads.run(self._read_latest)
                if self._cursor is None:  # else another stream set it meanwhile (older)
                    self._cursor = latest
            subscriber = Subscriber(user=user, opened_at=self._cursor, kinds=kinds)
            self._subscribers.add(subscriber)
        except BaseException:
            self._release(user)
            raise
        if asyncio.get_running_loop() is self._loop:
            self._wanted.set()
        else:
            self._loop.call_soon_threadsafe(self._wanted.set)
        return subscriber

    def close(self, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.discard(subscriber)
            self._release(subscriber.user)
            if not self._subscribers:  # nobody listens: stop reading, start anew later
                self._cursor = None
                self._generation += 1

    def _release(self, user: Principal) -> None:
        self._per_user[user.user_id] -= 1
        if self._per_user[user.user_id] <= 0:
            del self._per_user[user.user_id]

    @property
    def open_streams(self) -> int:
        return len(self._subscribers)

    # -- the poller ----------------------------------------------------------------------

    def _read_latest(self) -> int:
        with self.read_sessions() as session:
            return service.latest_id(session)

    def _read_after(self, after: int) -> list[Seen]:
        with self.read_sessions() as session:
            return service.read_after(session, after, BATCH)

    async def _run(self) -> None:
        assert self._wanted is not None
        while True:
            if not self._subscribers:
                self._wanted.clear()
                await self._wanted.wait()
                continue
            generation, after = self._generation, self._cursor
            if after is None:
                await asyncio.sleep(self.poll_seconds)
                continue
            try:
                changes = await threads.run(self._read_after, after)
            except SQLAlchemyError as exc:
                log.warning("stream poller could not read the changes",
                            extra={"error_type": type(exc).__name__})
                await asyncio.sleep(ERROR_PAUSE_SECONDS)
                continue
            if changes and generation == self._generation:
                self._cursor = changes[-1].id
                subscribers = list(self._subscribers)
                for change in changes:
                    for subscriber in subscribers:
                        if subscriber.wants(change):
                            subscriber.push(change)
            if len(changes) < BATCH:
                await asyncio.sleep(self.poll_seconds)
