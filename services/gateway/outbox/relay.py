"""The outbox relay: publishes unpublished outbox rows in order with an idempotent
producer (acks from all replicas), then stamps them. A crash between publishing
and stamping publishes a row again after restart, with the same event id, which
consumers drop. While Kafka is down rows wait; the API keeps answering.

    python -m services.gateway relay
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from kafka import KafkaProducer
from kafka.errors import KafkaError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.database.core import utcnow
from services.gateway.outbox.models import OutboxRecord

log = logging.getLogger(__name__)
BATCH = 500


def make_producer(bootstrap: list[str]) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=bootstrap, client_id="circular-gateway-relay",
        enable_idempotence=True, acks="all", linger_ms=2, retries=2**31 - 1,
        max_block_ms=10_000, request_timeout_ms=15_000, delivery_timeout_ms=60_000,
    )


def publish_batch(session_factory: sessionmaker[Session], producer: KafkaProducer,
                  *, before_stamp: Callable[[list[int]], None] | None = None) -> int:
    """Publish up to one batch of unpublished rows; returns how many were published."""
    with session_factory() as session:
        rows = session.scalars(
            select(OutboxRecord).where(OutboxRecord.published_at.is_(None))
            .order_by(OutboxRecord.id).limit(BATCH)
        ).all()
        if not rows:
            return 0
        futures = [
            producer.send(r.topic, key=r.key.encode(), value=r.value.encode(),
                          headers=[(k, v.encode()) for k, v in r.headers])
            for r in rows
        ]
        producer.flush(timeout=60)
        for fut in futures:
            fut.get(timeout=1)  # raises if Kafka refused the record
        ids = [r.id for r in rows]
        if before_stamp is not None:
            before_stamp(ids)
        session.execute(update(OutboxRecord).where(OutboxRecord.id.in_(ids))
                        .values(published_at=utcnow()))
        session.commit()
        return len(ids)


def run(session_factory: sessionmaker[Session], bootstrap: list[str], poll_seconds: float,
        stop: threading.Event | None = None) -> None:
    stop = stop or _stop_on_signals()
    producer: KafkaProducer | None = None
    backoff = 0.5
    log.info("outbox relay started")
    while not stop.is_set():
        try:
            if producer is None:
                producer = make_producer(bootstrap)
            sent = publish_batch(session_factory, producer)
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
    if producer is not None:
        producer.close(timeout=5)
    log.info("outbox relay stopped")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop
