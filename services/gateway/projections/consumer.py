"""The projector: reads the matcher's and tracker's topics and folds each event into
the read models, one database transaction per poll, each event applied at most once
(``processed_events``). Offsets are committed after the database commit; a record
that does not decode goes to its dead-letter topic and the projector goes on.

    python -m services.gateway projector
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from kafka import KafkaConsumer, KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from eventbus.deadletter import dead_letter_headers, dead_letter_topic
from schemas.codec import Decoded, DecodeError, decode
from schemas.events.base import Event
from services.gateway.database.core import utcnow
from services.gateway.projections.models import ConsumerLag, ProcessedEvent
from services.gateway.timeline import service as timeline

log = logging.getLogger(__name__)

Projection = Callable[[Session, Decoded], None]
CONSUMER_NAME = "gateway-projector"
LAG_EVERY_SECONDS = 5.0
METADATA_MAX_AGE_MS = 10_000


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
                    self.apply_batch(batch, producer)
                    consumer.commit()
                if time.monotonic() - lag_at > LAG_EVERY_SECONDS:
                    self.record_lag(consumer)
                    lag_at = time.monotonic()
            except (KafkaError, SQLAlchemyError) as exc:
                # start again from the last committed offsets
                log.warning("projector restarting its consumer", extra={"error": repr(exc)})
                if consumer is not None:
                    consumer.close(autocommit=False)
                consumer = None
                stop.wait(1.0)
        if consumer is not None:
            consumer.close(autocommit=False)
        if producer is not None:
            producer.close(timeout=5)
        log.info("projector stopped")

    def record_lag(self, consumer: KafkaConsumer) -> None:
        """Store how many records each assigned partition is behind, for /metrics."""
        lags = {}
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is not None:
                lags[(tp.topic, tp.partition)] = max(0, high - consumer.position(tp))
        if not lags:
            return
        with self.sessions() as session:
            for (topic, partition), lag in lags.items():
                row = session.get(ConsumerLag, (topic, partition))
                if row is None:
                    session.add(ConsumerLag(topic=topic, partition=partition, lag=lag))
                else:
                    row.lag, row.updated_at = lag, utcnow()
            session.commit()

    def apply_batch(self, batch: Mapping[object, list[ConsumerRecord]],
                    producer: KafkaProducer | None) -> None:
        with self.sessions() as session:
            for records in batch.values():
                for record in records:
                    self._apply(session, record, producer)
            session.commit()
        if producer is not None:
            producer.flush(timeout=30)

    def _apply(self, session: Session, record: ConsumerRecord,
               producer: KafkaProducer | None) -> None:
        headers = [(k, bytes(v)) for k, v in record.headers or []]
        try:
            decoded = decode(record.value, headers)
        except DecodeError as exc:
            self._dead_letter(record, headers, exc.reason, producer)
            return
        try:
            applied = apply_event(session, decoded, self.projections, record.topic,
                                  record.partition, record.offset)
        except SQLAlchemyError:
            raise
        except Exception as exc:  # a projection bug must not stop the read models
            log.exception("projection failed", extra={"event_id": decoded.envelope.id})
            self._dead_letter(record, headers, f"projection error: {exc!r}", producer)
            return
        if applied:
            self.applied += 1

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
