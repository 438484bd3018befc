"""The projector: reads the matcher's and tracker's topics and folds each event into
the read models in short database transactions, each event applied at most once
(``processed_events``). Offsets are committed after the database commit; a record
that does not decode goes to its dead-letter topic and the projector goes on. A
transient database error (another writer holding SQLite's lock longer than its busy
timeout, a PostgreSQL deadlock or lost connection) applies the same batch again with
backoff, keeping the consumer and its partitions.

    python -m services.gateway projector
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

from kafka import KafkaConsumer, KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from eventbus.deadletter import dead_letter_headers, dead_letter_topic
from schemas.codec import Decoded, DecodeError, decode
from schemas.events.base import Event
from services.gateway.database.core import is_transient, utcnow
from services.gateway.projections.models import ConsumerLag, ProcessedEvent
from services.gateway.timeline import service as timeline

log = logging.getLogger(__name__)

Projection = Callable[[Session, Decoded], None]
CONSUMER_NAME = "gateway-projector"
LAG_EVERY_SECONDS = 5.0
METADATA_MAX_AGE_MS = 10_000
#: how long a batch is tried again on transient database errors before the consumer
#: restarts (well inside kafka's max.poll.interval.ms, 300 s, so the group keeps it)
RETRY_SECONDS = 120.0
#: one transaction applies at most this many records, or for this long
CHUNK_RECORDS = 200
CHUNK_SECONDS = 0.1
CHUNK_PAUSE_SECONDS = 0.005
RETRY_FIRST_SECONDS = 0.05
RETRY_MAX_BACKOFF_SECONDS = 2.0


class Projector:
    def __init__(self, *, sessions: sessionmaker[Session], bootstrap: list[str],
                 topics: list[str], group_id: str,
                 projections: Mapping[type[Event], Projection]) -> None:
        self.sessions = sessions
        self.bootstrap = bootstrap
        self.topics = topics
        self.group_id = group_id
        self.projections = projections
        self.applied = 0
        self.dead_letters = 0
        self.retries = 0  # batches applied again after a transient database error

    def _consumer(self, stop: threading.Event) -> KafkaConsumer | None:
        """A consumer subscribed once every topic is in the cluster's metadata.

        Joining the group before that gets an empty assignment (kafka-python's
        assignor skips topics it has no metadata for) that would only be corrected at
        the next metadata refresh; ``metadata_max_age_ms`` bounds that case too."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=self.group_id,
            client_id=CONSUMER_NAME, enable_auto_commit=False,
            auto_offset_reset="earliest", max_poll_records=500,
            metadata_max_age_ms=METADATA_MAX_AGE_MS,
        )
        warned = False
        while not stop.is_set():
            missing = set(self.topics) - consumer.topics()
            if not missing:
                consumer.subscribe(self.topics)
                return consumer
            if not warned:
                log.warning("waiting for topics to exist (run `make topics`)",
                            extra={"missing": sorted(missing)})
                warned = True
            stop.wait(0.5)
        consumer.close(autocommit=False)
        return None

    def run(self, stop: threading.Event) -> None:
        consumer: KafkaConsumer | None = None
        producer: KafkaProducer | None = None
        lag_at = 0.0
        log.info("projector started", extra={"topics": self.topics})
        while not stop.is_set():
            try:
                if consumer is None:
                    consumer = self._consumer(stop)
                    if consumer is None:
                        break
                    producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                             enable_idempotence=True)
                batch = consumer.poll(timeout_ms=200)
                if batch:
                    if not self.apply_with_retries(batch, producer, stop):
                        break  # stopping: the batch is read again from the committed offsets
                    consumer.commit()
                if time.monotonic() - lag_at > LAG_EVERY_SECONDS:
                    self.record_lag(consumer)
                    lag_at = time.monotonic()
            except (KafkaError, SQLAlchemyError) as exc:
                # start again from the last committed offsets
                log.warning("projector restarting its consumer", extra={
                    "error_type": type(exc).__name__, "error": repr(exc)[:300]})
                if consumer is not None:
                    consumer.close(autocommit=False)
                consumer = None
                stop.wait(1.0)
        if consumer is not None:
            consumer.close(autocommit=False)
        if producer is not None:
            producer.close(timeout=5)
        log.info("projector stopped")

    def apply_with_retries(self, batch: Mapping[object, list[ConsumerRecord]],
                           producer: KafkaProducer | None, stop: threading.Event) -> bool:
        """Apply ``batch``, again and again (with backoff) while the database answers
        with a transient error (SQLite busy, a PostgreSQL deadlock, a lost connection),
        for up to :data:`RETRY_SECONDS`; then the error goes up and the consumer
        restarts. Offsets are committed only after this returns True. False: stopping."""
        started = time.monotonic()
        backoff = RETRY_FIRST_SECONDS
        while True:
            try:
                self.apply_batch(batch, producer)
                return True
            except SQLAlchemyError as exc:
                if not is_transient(exc) or time.monotonic() - started > RETRY_SECONDS:
                    raise
                self.retries += 1
                log.info("transient database error; applying the batch again", extra={
                    "error_type": type(exc).__name__, "backoff_seconds": backoff})
                if stop.wait(backoff):
                    return False
                backoff = min(backoff * 2, RETRY_MAX_BACKOFF_SECONDS)

    def record_lag(self, consumer: KafkaConsumer) -> None:
        """Store how many records each assigned partition is behind, for /metrics."""
        lags = {}
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is not None:
                lags[(tp.topic, tp.partition)] = max(0, high - consumer.position(tp))
        if not lags:
            return
        try:
            with self.sessions() as session:
                for (topic, partition), lag in lags.items():
                    row = session.get(ConsumerLag, (topic, partition))
                    if row is None:
                        session.add(ConsumerLag(topic=topic, partition=partition, lag=lag))
                    else:
                        row.lag, row.updated_at = lag, utcnow()
                session.commit()
        except SQLAlchemyError as exc:
            if not is_transient(exc):
                raise
            log.info("lag not recorded this time", extra={"error_type": type(exc).__name__})

    def apply_batch(self, batch: Mapping[object, list[ConsumerRecord]],
                    producer: KafkaProducer | None) -> None:
        """The batch in transactions of at most :data:`CHUNK_RECORDS` records or
        :data:`CHUNK_SECONDS` (a writer holds SQLite's write lock: the API's writes
        wait no longer than one such transaction); the records that cannot be applied
        go to their dead-letter topics once all committed (so a batch applied again
        after a transient error does not send them twice). A batch applied again skips
        what committed already (``processed_events``)."""
        dead: list[tuple[ConsumerRecord, list[tuple[str, bytes]], str]] = []
        applied = 0
        records = deque(r for rs in batch.values() for r in rs)
        while records:
            started, count = time.monotonic(), 0
            with self.sessions() as session:
                while records and count < CHUNK_RECORDS and (
                        time.monotonic() - started < CHUNK_SECONDS):
                    applied += self._apply(session, records.popleft(), dead)
                    count += 1
                session.commit()
            if records:  # let a writer waiting for the lock in (it polls every 2 ms)
                time.sleep(CHUNK_PAUSE_SECONDS)
        self.applied += applied
        for record, headers, reason in dead:
            self._dead_letter(record, headers, reason, producer)
        if producer is not None and dead:
            producer.flush(timeout=30)

    def _apply(self, session: Session, record: ConsumerRecord,
               dead: list[tuple[ConsumerRecord, list[tuple[str, bytes]], str]]) -> int:
        headers = [(k, bytes(v)) for k, v in record.headers or []]
        try:
            decoded = decode(record.value, headers)
        except DecodeError as exc:
            dead.append((record, headers, exc.reason))
            return 0
        try:
            applied = apply_event(session, decoded, self.projections, record.topic,
                                  record.partition, record.offset)
        except SQLAlchemyError:
            raise
        except Exception as exc:  # a projection bug must not stop the read models
            log.exception("projection failed", extra={"event_id": decoded.envelope.id})
            dead.append((record, headers, f"projection error: {exc!r}"))
            return 0
        return 1 if applied else 0

    def _dead_letter(self, record: ConsumerRecord, headers: list[tuple[str, bytes]],
                     reason: str, producer: KafkaProducer | None) -> None:
        self.dead_letters += 1
        log.warning("dead-lettered a record", extra={
            "topic": record.topic, "partition": record.partition, "offset": record.offset,
            "reason": reason[:300]})
        if producer is not None:
            producer.send(dead_letter_topic(record.topic), key=record.key, value=record.value,
                          partition=record.partition,
                          headers=dead_letter_headers(headers, error=reason, topic=record.topic,
                                                      partition=record.partition,
                                                      offset=record.offset,
                                                      consumer=CONSUMER_NAME))


def apply_event(session: Session, decoded: Decoded, projections: Mapping[type[Event], Projection],
                topic: str, partition: int, offset: int) -> bool:
    """Fold one event into the read models, at most once per event id, in a savepoint of
    the caller's transaction. Returns False for a repeat or an event nobody projects."""
    projection = projections.get(type(decoded.event))
    if projection is None:
        return False
    if session.get(ProcessedEvent, decoded.envelope.id) is not None:
        return False
    with session.begin_nested():
        projection(session, decoded)
        timeline.note(db_session=session, event=decoded.event, envelope=decoded.envelope)
        session.add(ProcessedEvent(event_id=decoded.envelope.id,
                                   event_type=decoded.envelope.type,
                                   topic=topic, partition=partition, offset=offset))
    return True
