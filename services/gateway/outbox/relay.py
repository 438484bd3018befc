"""The outbox relay: publishes unpublished outbox rows in order with an idempotent
producer (acks from all replicas), then stamps them. A crash between publishing
and stamping publishes a row again after restart, with the same event id, which
consumers drop. Rows name their topic as the catalogue does; the relay publishes
to the deployment's name of it (``CIRCULAR_TOPIC_PREFIX`` before it, read once at
start). While Kafka is down rows wait; the API keeps answering. While the
database is busy (another writer holding SQLite's lock past the busy timeout) or
unreachable, the relay waits and tries again.

    python -m services.gateway relay
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

from kafka import KafkaProducer
from kafka.errors import KafkaError
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.database.core import begin_read, is_transient, utcnow
from services.gateway.outbox.models import OutboxRecord

log = logging.getLogger(__name__)
BATCH = 500
STAMP_ATTEMPTS = 5


def make_producer(bootstrap: list[str]) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=bootstrap, client_id="circular-gateway-relay",
        enable_idempotence=True, acks="all", linger_ms=2, retries=2**31 - 1,
        max_block_ms=10_000, request_timeout_ms=15_000, delivery_timeout_ms=60_000,
    )


def publish_batch(session_factory: sessionmaker[Session], producer: KafkaProducer,
                  *, topic_prefix: str,
                  before_stamp: Callable[[list[int]], None] | None = None) -> int:
    """Publish up to one batch of unpublished rows, each to ``topic_prefix`` + its
    topic; returns how many were published.

    The rows are read in a read-only transaction that ends before publishing, and
    stamped in a short write transaction after it: no database lock is held while
    Kafka answers. Stamping is tried again on transient errors; if it still fails the
    rows are published again next time, with the same event ids."""
    with session_factory() as session:
        begin_read(session)
        rows = [(r.id, r.topic, r.key, r.value, r.headers) for r in session.scalars(
            select(OutboxRecord).where(OutboxRecord.published_at.is_(None))
            .order_by(OutboxRecord.id).limit(BATCH))]
    if not rows:
        return 0
    futures = [
        producer.send(topic_prefix + topic, key=key.encode(), value=value.encode(),
                      headers=[(k, v.encode()) for k, v in headers])
        for _, topic, key, value, headers in rows
    ]
    producer.flush(timeout=60)
    for fut in futures:
        fut.get(timeout=1)  # raises if Kafka refused the record
    ids = [row[0] for row in rows]
    if before_stamp is not None:
        before_stamp(ids)
    for attempt in range(1, STAMP_ATTEMPTS + 1):
        try:
            with session_factory() as session:
                session.execute(update(OutboxRecord).where(OutboxRecord.id.in_(ids))
                                .values(published_at=utcnow()))
                session.commit()
            break
        except SQLAlchemyError as exc:
            if attempt == STAMP_ATTEMPTS or not is_transient(exc):
                raise
            time.sleep(0.1 * attempt)
    return len(ids)


def run(session_factory: sessionmaker[Session], bootstrap: list[str], poll_seconds: float,
        stop: threading.Event | None = None, *, topic_prefix: str) -> None:
    stop = stop or _stop_on_signals()
    producer: KafkaProducer | None = None
    backoff = 0.5
    log.info("outbox relay started")
    while not stop.is_set():
        try:
            if producer is None:
                producer = make_producer(bootstrap)
            sent = publish_batch(session_factory, producer, topic_prefix=topic_prefix)
            backoff = 0.5
            if sent == 0:
                stop.wait(poll_seconds)
        except KafkaError as exc:
            log.warning("Kafka unavailable, outbox rows wait", extra={"error": repr(exc)})
            if producer is not None:
                producer.close(timeout=1)
                producer = None
            stop.wait(backoff)
            backoff = min(backoff * 2, 10.0)
        except SQLAlchemyError as exc:
            if not is_transient(exc):
                raise
            log.warning("database busy or unreachable, outbox rows wait",
                        extra={"error_type": type(exc).__name__})
            stop.wait(backoff)
            backoff = min(backoff * 2, 10.0)
    if producer is not None:
        producer.close(timeout=5)
    log.info("outbox relay stopped")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop
