"""Short reads on the event loop, on SQLite only.

A read of one row by key, or of one page of an index, takes tens of microseconds in
SQLite (the file is local and in the page cache); handing it to a thread and back
costs ten times that (the bench's floor: 691 us a request through the thread pool,
390 us on the loop). So endpoints whose session is a short read's
(``deps.short_read``) run on the event loop when the database is SQLite, on sessions
of their own engine (``routing.in_one_hop``):

* one connection, used only on the loop: an endpoint runs there to its end without
  awaiting, and releases its session before it returns, so the loop never waits for
  a connection (the thread pool's connections may all be held by writers waiting for
  the write lock; the loop never waits for those);
* ``PRAGMA query_only``: SQLite refuses any write on it. A read that must record
  something (the audit of personal data: an employer reading its accepted
  candidates) calls ``begin_write``, which raises ``OffLoop`` on these sessions: the
  endpoint is run again from its start in the thread pool on ordinary sessions
  (``routing.py``), so the loop never waits for the write lock;
* WAL mode: a reader never waits for the writer.

On PostgreSQL every query is a network round trip, so those endpoints stay in the
thread pool (:func:`make_loop_reads` gives None).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.database.core import ON_LOOP, make_engine, make_sessionmaker


def make_loop_reads(url: str, *, off_loop: sessionmaker[Session]
                    ) -> sessionmaker[Session] | None:
    """Read-only sessions for the event loop on a SQLite file; None elsewhere (an
    in-memory SQLite database is one per connection, so it has none either).
    ``off_loop``: the sessions an endpoint gets instead when it must write."""
    if not url.startswith("sqlite") or ":memory:" in url or url in ("sqlite://", "sqlite:///"):
        return None
    engine = make_engine(url, pool_size=1)

    @event.listens_for(engine, "connect")
    def _query_only(conn: Any, _: Any) -> None:
        conn.execute("PRAGMA query_only=ON")

    factory = make_sessionmaker(engine, read_only=True)
    factory.configure(info={ON_LOOP: off_loop})
    return factory


def on_loop(session: Session) -> bool:
    """Whether ``session`` is one of :func:`make_loop_reads`'s."""
    return session.info.get(ON_LOOP) is not None


def off_loop(session: Session) -> Session:
    """A session in place of the loop's ``session``, for the thread pool."""
    factory: sessionmaker[Session] = session.info[ON_LOOP]
    return factory()


def close_loop_reads(factory: sessionmaker[Session] | None) -> None:
    """Closes the connection of :func:`make_loop_reads`'s engine (at shutdown)."""
    if factory is not None:
        factory.kw["bind"].dispose()
