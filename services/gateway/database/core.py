"""The gateway's database: one declarative base, an engine per process, sessions
per request. The same code runs on SQLite (default) and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps stored and returned as timezone-aware UTC on both databases."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UtcDateTime}


#: Execution option of a connection (or a session's ``execution_options``): its
#: transactions only read. On SQLite they begin with a deferred ``BEGIN`` (a snapshot,
#: no lock). Every other transaction emits ``BEGIN IMMEDIATE`` right before its first
#: statement that writes (or its first SAVEPOINT): it takes the write lock then,
#: waiting for it (:func:`_begin_immediate`), and holds it to the end; its reads before
#: that run without a lock, each on the latest data. A deferred transaction that has
#: read and then writes cannot wait: SQLite refuses it at once ("database is locked")
#: when another writer committed in between. PostgreSQL ignores the option.
READ_ONLY = "circular_read_only"
BUSY_TIMEOUT_SECONDS = 30
#: connections a process keeps when the caller does not say (the relay and the
#: projector use one at a time; the API sizes its pool to its thread pool)
DEFAULT_POOL_SIZE = 2
#: in the info of a session that runs on the event loop (``loop_reads.py``): the
#: sessionmaker to use instead where it must write (it never does on the loop)
ON_LOOP = "circular_on_loop"
WRITER_LOCK = "circular_writer_lock"  # in a connection record's info while it holds it
BEGIN_PENDING = "circular_begin_pending"  # a writing transaction that has not written yet
#: statements before which a transaction that may write emits BEGIN IMMEDIATE
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT", "CREATE", "DROP", "ALTER")


def make_engine(url: str, *, pool_size: int = DEFAULT_POOL_SIZE, max_overflow: int = 0) -> Engine:
    """An engine with a bounded pool of ``pool_size`` connections: no connection is
    opened and closed per checkout (on SQLite each open runs the pragmas below), and a
    caller that never holds more connections at once than the pool has (the API's
    thread pool is no larger) never waits for one. On PostgreSQL ``max_overflow`` more
    may be opened for a while (closed when returned); SQLite has none.

    SQLite runs in WAL mode with ``synchronous=NORMAL`` on every connection: readers
    never wait for the writer; a committed transaction survives a crash of the
    process (it is in the WAL file), and a power loss or OS crash may lose the last
    commits before a checkpoint but never corrupts the database (see README,
    "Reliability"). ``busy_timeout``: how long a statement waits for a lock.

    ``hide_parameters``: an error's text never carries the values of a statement
    (they may be a passport number or a name), wherever it is logged."""
    if url.startswith("sqlite"):
        file_backed = ":memory:" not in url and url not in ("sqlite://", "sqlite:///")
        pool: dict[str, Any] = {"poolclass": QueuePool, "pool_size": pool_size,
                                "max_overflow": 0} if file_backed else {}
        engine = create_engine(url, hide_parameters=True, **pool, connect_args={
            "check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(conn: Any, _: Any) -> None:
            # SQLAlchemy's recipe: the driver emits no BEGIN of its own (it would
            # begin only before the first INSERT/UPDATE/DELETE, which breaks SAVEPOINT
            # and repeatable reads); the "begin" hook below emits it
            conn.isolation_level = None
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
            cur.close()

        writers = threading.Lock()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            if conn.get_execution_options().get(READ_ONLY, False):
                conn.exec_driver_sql("BEGIN")
            else:  # BEGIN IMMEDIATE right before the first statement that writes
                conn.connection.info[BEGIN_PENDING] = True

        @event.listens_for(engine, "before_cursor_execute")
        def _sqlite_first_write(conn: Connection, _cursor: Any, statement: str,
                                *_: Any) -> None:
            info = conn.connection.info
            if info.get(BEGIN_PENDING) and statement.lstrip()[:9].upper().startswith(WRITES):
                del info[BEGIN_PENDING]
                raw = conn.connection.driver_connection
                assert raw is not None
                _begin_immediate(raw, info, writers)

        for name in ("commit", "rollback"):
            event.listen(engine, name, _end_transaction)
        for name in ("checkin", "invalidate", "close", "detach"):
            event.listen(engine, name, _release_writer_lock)
        return engine
    return create_engine(url, hide_parameters=True, pool_pre_ping=True, pool_size=pool_size,
                         max_overflow=max_overflow)


def _begin_immediate(raw: Any, info: dict[Any, Any], writers: threading.Lock) -> None:
    """``BEGIN IMMEDIATE``, waiting for the write lock in a queue rather than in
    SQLite's busy handler, which sleeps ever longer (100 ms at a time after the first
    0.3 s) and so lets a busy writer take the lock again and again before a sleeper
    wakes: writers of this process queue on ``writers`` (the next is woken at once
    when the lock is handed on, at the connection's return to the pool); the one at
    the head polls SQLite every 2 ms at most, so it gets in whenever another process
    pauses between transactions (the projector does). After
    :data:`BUSY_TIMEOUT_SECONDS` it fails with "database is locked", a transient error."""
    if WRITER_LOCK in info:  # this connection holds it already (a second transaction)
        raw.execute("BEGIN IMMEDIATE")
        return
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    if not writers.acquire(timeout=BUSY_TIMEOUT_SECONDS):
        raise _locked("BEGIN IMMEDIATE", sqlite3.OperationalError("database is locked"))
    try:
        raw.execute("PRAGMA busy_timeout=0")
        try:
            pause = 0.0005
            while True:
                try:
                    raw.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise _locked("BEGIN IMMEDIATE", exc) from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.002)
        finally:
            raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
    except BaseException:
        writers.release()
        raise
    info[WRITER_LOCK] = writers


def _locked(statement: str, exc: Exception) -> OperationalError:
    return OperationalError(statement, None, exc)


def _end_transaction(conn: Connection) -> None:
    conn.connection.info.pop(BEGIN_PENDING, None)


def _release_writer_lock(_: Any, record: Any, *__: Any) -> None:
    if record is None:
        return
    record.info.pop(BEGIN_PENDING, None)
    held = record.info.pop(WRITER_LOCK, None)
    if held is not None:
        held.release()


def make_sessionmaker(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions whose transactions write (the default) or only read (``read_only``;
    :func:`begin_write` turns one into a writer where a read must record something)."""
    factory = sessionmaker(engine, expire_on_commit=False,
                           execution_options={READ_ONLY: True} if read_only else {})
    event.listen(factory, "after_commit", _count_commit)
    return factory


def _count_commit(session: Session) -> None:
    session.info["commits"] = session.info.get("commits", 0) + 1


def commits(session: Session) -> int:
    """How many transactions ``session`` has committed (a retry must not repeat one)."""
    return int(session.info.get("commits", 0))


class OffLoop(Exception):
    """A read on the event loop must write (``begin_write``): the endpoint is run
    again in the thread pool, on the sessions of ``session.info[ON_LOOP]``."""


def begin_write(session: Session) -> None:
    """Make the session's transaction one that may write. On SQLite a read-only
    transaction is ended first (it holds nothing to keep: it may not have written) and
    the next begins with ``BEGIN IMMEDIATE``; elsewhere nothing changes. A session
    of the event loop (``loop_reads.py``) raises :class:`OffLoop`: it would wait there
    for the lock."""
    if session.info.get(ON_LOOP) is not None:
        raise OffLoop("this read records something: it runs again in the thread pool")
    if session.in_transaction():
        conn = session.connection()
        if conn.dialect.name != "sqlite" or not conn.get_execution_options().get(READ_ONLY):
            return
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("a read-only transaction has changes; call begin_write first")
        session.commit()
    elif session.get_bind().dialect.name != "sqlite":
        return
    session.connection(execution_options={READ_ONLY: False})


def begin_read(session: Session) -> None:
    """Begin the session's next transaction as a read-only one (SQLite: no lock)."""
    if not session.in_transaction():
        session.connection(execution_options={READ_ONLY: True})


#: PostgreSQL: serialization failure, deadlock, lock not available, the server shutting
#: down or the connection lost
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03",
                                 "08000", "08001", "08003", "08004", "08006"})


def is_transient(exc: BaseException) -> bool:
    """A database error that the same work, tried again a little later, may not meet:
    SQLite busy or locked, PostgreSQL serialization failures, deadlocks and lost
    connections, no connection free in the pool."""
    if isinstance(exc, PoolTimeoutError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES:
        return True
    text = str(exc.orig).lower()
    return isinstance(exc, OperationalError) and (
        "database is locked" in text or "database table is locked" in text
        or "database is busy" in text)


def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session:
        yield session


def utcnow() -> datetime:
    return datetime.now(UTC)
