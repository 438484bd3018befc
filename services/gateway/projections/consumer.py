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
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from kafka import KafkaConsumer, KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    KafkaError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)
from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from eventbus.deadletter import dead_letter_headers, dead_letter_topic
from schemas.codec import Decoded, DecodeError, decode
from schemas.events.base import Event
from services.gateway.database.core import Base, is_transient, utcnow
from services.gateway.placements.models import Placement, ReturnRegistration
from services.gateway.projections.fold import IN_CHUNK, Fold, Projection, in_chunks
from services.gateway.projections.models import ConsumerLag, ProcessedEvent
from services.gateway.stream import service as changes
from services.gateway.timeline import service as timeline
from services.gateway.vacancies.models import Vacancy

log = logging.getLogger(__name__)

__all__ = ["Item", "Outcome", "Projection", "Projector", "apply_event", "apply_events"]
#: rows the projections read, announced by the event's attribute that holds the key
PREFETCH: dict[str, type[Base]] = {"vacancy_id": Vacancy, "placement_id": Placement,
                                   "return_id": ReturnRegistration}
CONSUMER_NAME = "gateway-projector"
LAG_EVERY_SECONDS = 5.0
LAG_POSITION_TIMEOUT_MS = 5_000
#: how often the change feed (GET /stream) is pruned of changes past its retention
PRUNE_EVERY_SECONDS = 60.0
METADATA_MAX_AGE_MS = 10_000
#: how long a batch is tried again on transient database errors before the consumer
#: restarts (well inside kafka's max.poll.interval.ms, 300 s, so the group keeps it)
RETRY_SECONDS = 120.0
#: a commit refused because the group moved on: the consumer rejoins at its next poll
#: and the records of partitions it loses are read again by their new owner, which
#: skips what was applied (``processed_events``); no reason to drop the consumer
GROUP_MOVED_ON = (CommitFailedError, IllegalGenerationError, UnknownMemberIdError,
                  RebalanceInProgressError)
#: one transaction applies at most this many records
CHUNK_RECORDS = 250
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
        self.uncommitted = 0  # batches whose offsets the group refused (a rebalance)

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
        lag_at = pruned_at = 0.0
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
                    self.commit(consumer)
                if time.monotonic() - lag_at > LAG_EVERY_SECONDS:
                    self.record_lag(consumer)
                    lag_at = time.monotonic()
                if time.monotonic() - pruned_at > PRUNE_EVERY_SECONDS:
                    self.prune_changes()
                    pruned_at = time.monotonic()
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

    def commit(self, consumer: KafkaConsumer) -> None:
        try:
            consumer.commit()
        except GROUP_MOVED_ON as exc:
            self.uncommitted += 1
            log.info("offsets not committed: the group rebalanced; the batch's records "
                     "come again where they moved and are skipped",
                     extra={"error_type": type(exc).__name__})

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

    def prune_changes(self) -> None:
        """Delete the change feed's rows past their retention (one short statement)."""
        try:
            with self.sessions() as session:
                changes.prune(session)
                session.commit()
        except SQLAlchemyError as exc:
            if not is_transient(exc):
                raise
            log.info("changes not pruned this time", extra={"error_type": type(exc).__name__})

    def record_lag(self, consumer: KafkaConsumer) -> None:
        """Store how many records each assigned partition is behind, for /metrics. A
        figure the broker cannot give now (a position being reset, a rebalance) is
        skipped until the next time: a metric never restarts the consumer."""
        lags = {}
        try:
            for tp in consumer.assignment():
                high = consumer.highwater(tp)
                if high is None:
                    continue
                at = consumer.position(tp, timeout_ms=LAG_POSITION_TIMEOUT_MS)
                if at is not None:
                    lags[(tp.topic, tp.partition)] = max(0, high - at)
        except KafkaError as exc:
            log.info("lag not recorded this time", extra={"error_type": type(exc).__name__})
            return
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
        """The batch in transactions of at most :data:`CHUNK_RECORDS` records (a writer
        holds SQLite's write lock: the API's writes wait no longer than one such
        transaction), decoded before any begins; the records that cannot be applied
        go to their dead-letter topics once all committed (so a batch applied again
        after a transient error does not send them twice). A batch applied again
        skips what committed already (``processed_events``)."""
        dead: list[tuple[ConsumerRecord, list[tuple[str, bytes]], str]] = []
        items: list[Item] = []
        for record in (r for rs in batch.values() for r in rs):
            headers = [(k, bytes(v)) for k, v in record.headers or []]
            try:
                decoded = decode(record.value, headers)
            except DecodeError as exc:
                dead.append((record, headers, exc.reason))
                continue
            items.append(Item(decoded, record.topic, record.partition, record.offset,
                              record=record, headers=headers))
        applied = 0
        for start in range(0, len(items), CHUNK_RECORDS):
            if start:  # let a writer waiting for the lock in (it polls every 2 ms)
                time.sleep(CHUNK_PAUSE_SECONDS)
            outcome = self._apply_chunk(items[start:start + CHUNK_RECORDS])
            applied += outcome.applied
            for item, reason in outcome.failed:
                dead.append((item.record, item.headers, reason))
        self.applied += applied
        for record, headers, reason in dead:
            self._dead_letter(record, headers, reason, producer)
        if producer is not None and dead:
            producer.flush(timeout=30)

    def _apply_chunk(self, chunk: list[Item]) -> Outcome:
        """One transaction. Should the database refuse one of its rows (a constraint, a
        value it cannot store), the chunk is applied again event by event, each in a
        savepoint, and the events it refuses are dead-lettered."""
        with self.sessions() as session:
            try:
                outcome = apply_events(session, chunk, self.projections)
                session.commit()
                return outcome
            except (IntegrityError, DataError) as exc:
                session.rollback()
                log.warning("the database refused a chunk; applying its events one by one",
                            extra={"error_type": type(exc).__name__, "records": len(chunk)})
            outcome = Outcome()
            for item in chunk:
                try:
                    with session.begin_nested():
                        one = apply_events(session, [item], self.projections)
                except (IntegrityError, DataError) as exc:
                    reason = f"database refused: {type(exc.orig or exc).__name__}"
                    log.warning("the database refused an event", extra={
                        "event_id": item.decoded.envelope.id, "error_type": reason})
                    outcome.failed.append((item, reason))
                    continue
                outcome.applied += one.applied
                outcome.failed += one.failed
            session.commit()
            return outcome

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


@dataclass(frozen=True)
class Item:
    """An event to apply and where it was read."""

    decoded: Decoded
    topic: str
    partition: int
    offset: int
    record: ConsumerRecord | None = None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class Outcome:
    applied: int = 0
    failed: list[tuple[Item, str]] = field(default_factory=list)  # with the reason
    errors: list[Exception] = field(default_factory=list)  # what the projections raised


def apply_events(session: Session, items: Sequence[Item],
                 projections: Mapping[type[Event], Projection]) -> Outcome:
    """Fold ``items`` into the read models in the caller's transaction, in order, each
    event id at most once (``processed_events``). An event whose projection raises is
    dropped with its claim; the others apply. Events nobody projects are skipped and
    not recorded.

    The ids are claimed with ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` and the new
    events folded in memory (a :class:`Fold`). On SQLite the claim, the first write,
    takes the database's write lock, so there the events not applied before are folded
    first, without the lock, and the lock is held only to claim, check and write. The
    check, under the lock: if every id claimed was new and every row the fold read is
    still as it read it, the fold is written as it is; else (the API changed a row it
    read, or another consumer applied one of the events meanwhile) the events are
    folded again under the lock. On PostgreSQL, where a claim locks only its own rows,
    the ids are claimed first (folding first cost it 10% in ``tests.bench.projector``)."""
    todo: dict[str, tuple[Item, Projection]] = {}
    for item in items:
        projection = projections.get(type(item.decoded.event))
        if projection is not None:
            todo.setdefault(item.decoded.envelope.id, (item, projection))
    if not todo:
        return Outcome()
    if session.get_bind().dialect.name != "sqlite":
        fresh = claim(session, [item for item, _ in todo.values()])
        folded = _fold(session, todo, fresh)
    else:
        unseen = set(todo) - processed_among(session, list(todo))
        if not unseen:
            return Outcome()
        folded = _fold(session, todo, unseen)
        fresh = claim(session, [item for eid, (item, _) in todo.items() if eid in unseen])
        if fresh != unseen or not folded.fold.still_as_read():
            folded = _fold(session, todo, fresh)
    for (item, _), exc in zip(folded.outcome.failed, folded.outcome.errors, strict=True):
        log.error("projection failed", exc_info=exc,
                  extra={"event_id": item.decoded.envelope.id})
    if folded.dropped:
        session.execute(delete(ProcessedEvent).where(
            ProcessedEvent.event_id.in_(folded.dropped)))
    folded.fold.write()
    return folded.outcome


@dataclass
class _Folded:
    fold: Fold
    outcome: Outcome
    dropped: list[str]  # the ids of the events whose projection raised


def _fold(session: Session, todo: Mapping[str, tuple[Item, Projection]],
          fresh: Collection[str]) -> _Folded:
    """The ``fresh`` events of ``todo``, in order, folded in memory: nothing written."""
    fold = Fold(session)
    prefetch(fold, [item.decoded.event for eid, (item, _) in todo.items() if eid in fresh])
    folded = _Folded(fold, Outcome(), [])
    for event_id, (item, projection) in todo.items():
        if event_id not in fresh:
            continue
        try:
            with fold.event():
                projection(fold, item.decoded)
                timeline.note_folded(fold, item.decoded)
        except SQLAlchemyError:
            raise
        except Exception as exc:  # a projection bug must not stop the read models
            folded.outcome.failed.append((item, f"projection error: {exc!r}"))
            folded.outcome.errors.append(exc)
            folded.dropped.append(event_id)
            continue
        folded.outcome.applied += 1
    return folded


def processed_among(session: Session, event_ids: list[str]) -> set[str]:
    """Which of these events were applied before (read without taking a lock)."""
    done: set[str] = set()
    for part in in_chunks(event_ids, IN_CHUNK):
        done.update(session.scalars(
            select(ProcessedEvent.event_id).where(ProcessedEvent.event_id.in_(part))))
    return done


def claim(session: Session, items: Sequence[Item]) -> set[str]:
    """Record the items' event ids as processed; returns those not recorded before."""
    table = ProcessedEvent.__table__
    assert isinstance(table, Table)
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql"
              else sqlite.insert)
    now = utcnow()
    stmt = insert(table).on_conflict_do_nothing(index_elements=["event_id"]).returning(
        table.c.event_id)
    rows = [{"event_id": i.decoded.envelope.id, "event_type": i.decoded.envelope.type,
             "topic": i.topic, "partition": i.partition, "offset": i.offset,
             "processed_at": now} for i in items]
    return set(session.scalars(stmt, rows))


def prefetch(fold: Fold, events: Sequence[Event]) -> None:
    """Announce the rows the events' projections read, so each kind is read at once."""
    wanted: dict[type[Base], set[str]] = {}
    workers: set[str] = set()
    for event in events:
        for attribute, model in PREFETCH.items():
            value = getattr(event, attribute, None)
            if value is not None:
                wanted.setdefault(model, set()).add(value)
        worker_id = getattr(event, "worker_id", None)
        if worker_id is not None:
            workers.add(worker_id)
    for model, keys in wanted.items():
        fold.want(model, keys)
    fold.want_workers(workers)


def apply_event(session: Session, decoded: Decoded,
                projections: Mapping[type[Event], Projection],
                topic: str, partition: int, offset: int) -> bool:
    """Fold one event into the read models in the caller's transaction, at most once
    per event id. Returns False for a repeat or an event nobody projects; raises what
    its projection raised (then nothing of it is kept)."""
    outcome = apply_events(session, [Item(decoded, topic, partition, offset)], projections)
    if outcome.errors:
        raise outcome.errors[0]
    return outcome.applied == 1
