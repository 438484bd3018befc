"""One stream-processing stage: a faust agent that feeds events into a handler and
publishes what the handler returns, with effects that are neither lost nor doubled
when the worker is killed and events are delivered again.

Records arrive in batches (``take_events``); each batch is handled as one
transaction per partition (a batch whose records stage more than
:data:`MAX_STAGED_PER_COMMIT` outputs and writes is committed in parts, each such a
transaction):

0. records of each partition are handled in order from the stage's position (the
   next offset it needs, :mod:`eventbus.positions`): one before it is skipped, one
   after it waits for the records in between (the partition is fetched again);
1. each record is decoded with :mod:`schemas.codec`; one that does not decode goes
   to its topic's dead-letter topic with the reason and where it was read, and the
   stage goes on;
2. a record whose event id was processed before is skipped;
3. the handler reads state and stages writes in a :class:`StateTx` (a savepoint per
   record: a handler that raises leaves nothing behind, and the record is
   dead-lettered) and returns the :class:`Output` events to publish;
4. then, in this order, to the one changelog partition of that partition: the
   outputs of the batch (``out:<p>:<id>``, a write-ahead outbox), the state writes
   (each key once, with its last value), the ids processed (``seen:<p>:<id>``), the
   position (``pos:<p>``);
5. the outputs are published; once Kafka acknowledged them all, and all of the
   partition's earlier entries were deleted, ``out:`` is deleted.

With the RocksDB table store (:mod:`eventbus.tablestore`) the state is read and
written through a view of the record's partition; the store writes a batch's state to
the partition's database with its offset only once Kafka acknowledged its changelog
records (a restart replays the changelog after it), and until then keeps it in
memory, where reads find it. The stage does not wait for that acknowledgement: as
with the memory store, the outputs go out right after the changelog records were
handed to the producer (a crash before they were written means the records are
handled again, see below), and the next batch follows. Only when
:data:`MAX_UNACKNOWLEDGED_FLUSHES` flushes are waiting does a batch wait for the
oldest, so the memory they hold stays bounded.

A changelog partition is written in order by one idempotent producer, so if any
later write of step 4 survived a crash, the outbox entry did too: on recovery every
``out:`` entry still present is published again. Output ids are deterministic
(``schemas.envelope.derived_event_id``), so consumers drop the repeats. If the ids
did not survive, the records are handled again on top of whatever state did;
handlers are written to converge (they compute the state to reach, not increments).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import faust
import orjson
from faust.types import TP, EventT, TableT

from eventbus import positions, processed
from eventbus.deadletter import dead_letter_headers, dead_letter_topic
from eventbus.handlers import (
    DELETED,
    OUTBOX,
    SEEN,
    AfterBatch,
    Context,
    Handler,
    HandlerTable,
    Indexes,
    Output,
    StateTx,
    covering,
)
from eventbus.positions import POSITION, Cursor, Verdict
from eventbus.tablestore import PartitionRevoked, TableStore
from schemas.codec import DecodeError, decode, encode
from schemas.envelope import Envelope
from schemas.registry import by_type

log = logging.getLogger(__name__)


@functools.cache
def _known_types() -> frozenset[str]:
    return frozenset(by_type())

#: an outbox entry is one changelog record: keep it well under Kafka's 1 MB default
OUTBOX_CHUNK_BYTES = 512 * 1024
HEADERS_ALLOWANCE = 600  # CloudEvents headers and record framing, generously
#: a batch's handlers run on the event loop: let the group's heartbeats through this
#: often, so a long batch does not get the worker taken for dead (its partitions
#: handed to another worker while it still writes to them)
YIELD_EVERY_SECONDS = 0.1
#: with the RocksDB table store: changelog flushes Kafka has not acknowledged yet (so
#: held in memory) before a batch waits for them. A flush takes a broker round trip;
#: waiting for each would leave the stage idle for it after every batch
MAX_UNACKNOWLEDGED_FLUSHES = 8
#: outputs and state writes a batch's records may stage before they are committed
#: (the rest of the batch follows in the next commit): each is held in memory, as
#: a Python object, a changelog record and a delivery, until Kafka acknowledged it
MAX_STAGED_PER_COMMIT = 2_000
#: at most this long to read where the input partitions begin, after a recovery
OFFSETS_TIMEOUT_SECONDS = 10.0


def _written_order(entry: tuple[str, dict[str, Any]]) -> tuple[float, int]:
    """An outbox entry's place in the order the stage wrote them: its batch's commit
    time (none for an entry written before it was kept: first), then its chunk."""
    key, value = entry
    return float(value.get("t", 0.0)), int(key.rsplit(":", 1)[1])


def _stored(record: dict[str, Any]) -> dict[str, Any]:
    """An output as the outbox keeps it: the envelope in a compact list."""
    env = record["envelope"]
    return {"topic": record["topic"], "key": record["key"], "partition": record["partition"],
            "value": record["value"],
            "env": [env.id, env.type, env.source, env.time.isoformat(), env.subject,
                    env.schemaversion, env.causationid]}


def _headers_of(env: list[Any]) -> list[tuple[str, bytes]]:
    """The CloudEvents headers of an output kept in the outbox."""
    event_id, type_, source, at, subject, version, cause = env
    return Envelope(id=event_id, type=type_, source=source, time=at, subject=subject,
                    schemaversion=version, causationid=cause).headers()


def _headers(raw: Any) -> list[tuple[str, bytes]]:
    """faust hands headers over as a list of pairs or a mapping."""
    pairs = raw.items() if hasattr(raw, "items") else (raw or [])
    return [(str(k), v if isinstance(v, bytes) else str(v).encode()) for k, v in pairs]


@dataclass
class StageStats:
    processed: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    outputs: int = 0
    resent: int = 0
    batches: int = 0
    stale: int = 0
    gaps: int = 0
    ignored: int = 0


@dataclass
class _PartitionBatch:
    tx: StateTx
    ids: list[str] = field(default_factory=list)
    keys: list[processed.Key] = field(default_factory=list)  # of ids, in _processed
    records: list[dict[str, Any]] = field(default_factory=list)
    reached: dict[str, int] = field(default_factory=dict)  # topic -> next offset


@dataclass
class _Delivery:
    """An outbox entry being published: ``delivered`` once Kafka acknowledged all its
    records (never, if one of them was refused)."""

    key: str
    delivered: bool = False


@dataclass
class Stage:
    """Binds input topics to a handler and a table. Build it in the composition root,
    then :meth:`install` it on the app (creates the agent)."""

    app: faust.App
    name: str
    source: str
    topics: tuple[str, ...]
    handler: Handler
    table: TableT
    partitions: int = 6
    indexes: tuple[Any, ...] = ()
    dedup_retention_s: float = 7 * 24 * 3600
    batch_size: int = 500
    batch_within: float = 0.02
    dedup: bool = True
    after_batch: AfterBatch | None = None
    #: the event types the handler acts on (None: all); records of other known types
    #: are passed over without being decoded (an unknown type is still dead-lettered).
    #: Taken from the handler when it is a :class:`HandlerTable`, never given beside it
    accepts: frozenset[str] | None = None
    stats: StageStats = field(default_factory=StageStats)
    _processed: processed.ProcessedIds = field(default_factory=processed.ProcessedIds)
    _routes: tuple[Any, Indexes] | None = None  # the indexes, and each key's among them
    _changelog: list[tuple[bytes, bytes | None, int]] = field(default_factory=list)
    cursor: Cursor = field(init=False)
    _recoveries: int = 0
    _flushing: asyncio.Lock | None = None
    _unacknowledged: deque[asyncio.Future[Any]] = field(default_factory=deque)
    #: each partition's outbox entries being published, in the order written
    _delivering: dict[int, deque[_Delivery]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cursor = Cursor(self.name, positions.of(self.app))
        if isinstance(self.handler, HandlerTable):
            if self.accepts is not None:
                raise ValueError(f"stage {self.name}: the types it accepts come from its "
                                 "handler table, not from a list beside it")
            self.accepts = self.handler.accepts

    @property
    def _indexes(self) -> Indexes:
        """:attr:`indexes`, each handed only the keys it follows (built again when
        ``indexes`` is replaced)."""
        if self._routes is None or self._routes[0] is not self.indexes:
            self._routes = (self.indexes, Indexes(self.indexes))
        return self._routes[1]

    def install(self) -> None:
        channel = self.app.topic(*self.topics, key_type=bytes, value_type=bytes,
                                 key_serializer="raw", value_serializer="raw")

        async def agent(stream: faust.StreamT) -> None:
            batches = stream.take_events(  # type: ignore[attr-defined]  # not on StreamT
                self.batch_size, within=self.batch_within)
            async for events in batches:
                await self.process_batch(events)

        agent.__name__ = f"{self.name}_agent"
        agent.__qualname__ = agent.__name__
        self.app.agent(channel, name=f"{self.name}", concurrency=1)(agent)
        self.table.on_recover(self.recover)
        self.app.timer(interval=300.0)(self.prune_seen)

    async def process(self, event: EventT) -> None:
        await self.process_batch([event])

    async def process_batch(self, events: list[EventT]) -> None:
        generation, recoveries = self.app.consumer_generation_id, self._recoveries
        current = [e for e in events if e.message.generation_id == generation]
        if len(current) < len(events):
            self._left_stale(len(events) - len(current))
        batches: dict[int, _PartitionBatch] = {}
        refetch: dict[tuple[str, int], int] = {}
        paused = time.monotonic()
        first = 0  # the first record of what is not committed yet
        for done, event in enumerate(current):
            if self._staged(batches) >= MAX_STAGED_PER_COMMIT:
                # what the records so far wrote and produced is committed first, so a
                # batch of many busy records (ticks) holds a bounded part of it at once
                await self._commit_all(batches, refetch)
                batches, refetch, first = {}, {}, done
                if self._overtaken(generation):
                    self._left_stale(len(current) - first)
                    return
            msg = event.message
            batch = batches.get(msg.partition)
            if batch is None:
                batch = batches[msg.partition] = _PartitionBatch(
                    StateTx(self._state(msg.partition), indexes=self._indexes))
            verdict, seek = self.cursor.check((msg.topic, msg.partition), msg.offset,
                                              batch.reached.get(msg.topic))
            if verdict is Verdict.REPEAT and self.dedup:
                self.stats.duplicates += 1
                continue
            if verdict is Verdict.GAP:
                self.stats.gaps += 1
                if seek is not None:
                    refetch[(msg.topic, msg.partition)] = seek
                continue
            batch.reached[msg.topic] = msg.offset + 1
            try:
                await self._handle(event, batch)
            except PartitionRevoked:  # its state went with it: the new owner handles it
                self._abandon(batches, len(current) - first,
                              rebuilt=self._recoveries != recoveries)
                return
            if time.monotonic() - paused >= YIELD_EVERY_SECONDS:
                await asyncio.sleep(0)  # heartbeats and rebalances go on meanwhile
                paused = time.monotonic()
            if self._overtaken(generation):
                break
        if self._overtaken(generation):
            # a rebalance began while the batch was handled
            self._abandon(batches, len(current) - first,
                          rebuilt=self._recoveries != recoveries)
            return
        await self._commit_all(batches, refetch)

    @staticmethod
    def _staged(batches: dict[int, _PartitionBatch]) -> int:
        """Outputs and state writes the batches hold."""
        return sum(len(b.records) + b.tx.size() for b in batches.values())

    async def _commit_all(self, batches: dict[int, _PartitionBatch],
                          refetch: dict[tuple[str, int], int]) -> None:
        """Steps 4 and 5 for the records handled so far."""
        now = time.time()
        for partition, batch in batches.items():
            if self.after_batch is not None and batch.ids:
                self._finish(partition, batch)
            self._commit(partition, batch, now)
        await self._flush_changelog()
        self.stats.batches += 1
        for partition, batch in batches.items():
            if not self._owns(partition):
                continue  # moved while flushing: its new owner handles the records again
            for key, records in self._chunks(partition, batch):
                await self._publish(key, partition, records)
        await self._refetch(refetch)

    async def _refetch(self, refetch: dict[tuple[str, int], int]) -> None:
        """Fetch partitions whose records did not all reach the stage again from the
        stage's position (see eventbus/positions.py)."""
        for (topic, partition), offset in refetch.items():
            log.warning("records of a partition did not reach the stage; fetching it "
                        "again from the stage's position", extra={
                            "stage": self.name, "topic": topic, "partition": partition,
                            "offset": offset})
            try:
                await self.app.consumer.seek(TP(topic, partition), offset)
            except Exception as exc:  # a rebalance took it: its new owner seeks
                log.warning("could not seek", extra={"stage": self.name, "topic": topic,
                                                     "partition": partition,
                                                     "error": type(exc).__name__})

    def _left_stale(self, count: int) -> None:
        """Records fetched before the latest rebalance are not handled: their partition
        may have moved to another worker, and this one's table no longer holds its
        state (handled on it, they would write what an empty state decides, and mark
        themselves done, into the changelog the new owner recovers from). They come
        again from the committed offset, to whichever worker owns them now."""
        self.stats.stale += count
        log.info("left records fetched before a rebalance; they are delivered again",
                 extra={"stage": self.name, "records": count})

    def _overtaken(self, generation: int) -> bool:
        return (self.app.consumer_generation_id != generation
                or not self.app.flow_control.is_active())

    def _abandon(self, batches: dict[int, _PartitionBatch], left: int, rebuilt: bool) -> None:
        """Undo a batch a rebalance overtook: nothing of it is written or published (its
        partitions may be on their way to another worker, which must not find this
        worker's writes landing in their changelog after it recovered it)."""
        self._left_stale(left)
        if rebuilt:  # a recovery rebuilt the indexes and ids from the table meanwhile
            return
        for batch in batches.values():
            batch.tx.rollback()
            for k in batch.keys:
                self._processed.discard(k)

    async def _handle(self, event: EventT, batch: _PartitionBatch) -> None:
        msg = event.message
        ctx = Context(msg.topic, msg.partition, msg.offset, self.partitions)
        headers = _headers(msg.headers)
        if self.accepts is not None and self._ignores(headers):
            self.stats.ignored += 1
            return
        try:
            decoded = decode(event.value, headers)
        except DecodeError as exc:
            await self._dead_letter(event, headers, exc.reason, ctx)
            return
        # per partition: a broadcast reaches every partition with the same event id
        seen_key = processed.key(ctx.partition, decoded.envelope.id)
        if self.dedup and seen_key in self._processed:
            self.stats.duplicates += 1
            return
        tx = batch.tx.child()
        try:
            outputs = list(self.handler(tx, decoded, ctx))
        except PartitionRevoked:
            tx.rollback()
            raise
        except Exception as exc:  # a handler bug must not wedge the partition
            tx.rollback()
            log.exception("handler failed", extra={"event_id": decoded.envelope.id,
                                                   "event_type": decoded.envelope.type})
            await self._dead_letter(event, headers, f"handler error: {exc!r}", ctx)
            return
        batch.tx.merge(tx)
        batch.records += [self._record(o, decoded.envelope.id) for o in outputs]
        batch.ids.append(decoded.envelope.id)
        batch.keys.append(seen_key)
        self._processed.add(seen_key)
        self.stats.processed += 1

    def _state(self, partition: int) -> Any:
        """What handlers read: the table's store, without faust's per-read sensors
        (the plain dict inside the memory store when there is one; the partition's
        view of a :class:`TableStore`)."""
        store = self.table.data
        if isinstance(store, TableStore):
            return store.partition(partition)
        inner = getattr(store, "data", None)
        return inner if isinstance(inner, dict) else store

    def _tablestore(self) -> TableStore | None:
        store = self.table.data
        return store if isinstance(store, TableStore) else None

    def _owns(self, partition: int) -> bool:
        """Whether the partition's state is still this worker's (always with the
        memory store, which keeps every partition in one dict)."""
        store = self._tablestore()
        return store is None or store.owns(partition)

    def _ignores(self, headers: list[tuple[str, bytes]]) -> bool:
        assert self.accepts is not None
        kind = next((v for k, v in headers if k == "ce_type"), b"").decode("utf-8", "replace")
        return kind not in self.accepts and kind in _known_types()

    def _finish(self, partition: int, batch: _PartitionBatch) -> None:
        assert self.after_batch is not None
        tx = batch.tx.child()
        ctx = Context("", partition, -1, self.partitions)
        try:
            outputs = list(self.after_batch(tx, ctx))
        except Exception:  # deferred work of a bad batch: logged, the batch still commits
            tx.rollback()
            log.exception("after-batch work failed", extra={"stage": self.name})
            return
        batch.tx.merge(tx)
        batch.records += [self._record(o, batch.ids[-1]) for o in outputs]

    def _commit(self, partition: int, batch: _PartitionBatch, now: float) -> None:
        if batch.ids:
            self._commit_handled(partition, batch, now)
        if batch.reached:  # last: the position passes the records only with all the above
            key = f"{POSITION}{partition}"
            self._write(partition, key, self.cursor.commit(partition, batch.reached),
                        index=False)

    def _commit_handled(self, partition: int, batch: _PartitionBatch, now: float) -> None:
        self.stats.outputs += len(batch.records)
        for key, records in self._chunks(partition, batch):
            # "t": when it was written, so a recovery publishes what a crash left in the
            # order it was first published (its keys sort by event id, not by time)
            self._write(partition, key, {"p": partition, "t": now,
                                         "records": [_stored(r) for r in records]})
        for key, value in batch.tx.writes():  # indexes already follow these writes
            self._write(partition, key, None if value is DELETED else value, index=False)
        seen_key = f"{SEEN}{partition}:{batch.ids[0]}"
        self._write(partition, seen_key, {"p": partition, "t": now, "ids": batch.ids})
        self._processed.batch(now, seen_key, partition, batch.keys)

    @staticmethod
    def _chunks(partition: int, batch: _PartitionBatch
                ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """The batch's outputs as outbox entries of bounded size."""
        chunk: list[dict[str, Any]] = []
        size = 0
        number = 0
        for record in batch.records:
            record_size = len(record["value"]) + HEADERS_ALLOWANCE
            if chunk and size + record_size > OUTBOX_CHUNK_BYTES:
                yield f"{OUTBOX}{partition}:{batch.ids[0]}:{number}", chunk
                chunk, size, number = [], 0, number + 1
            chunk.append(record)
            size += record_size
        if chunk:
            yield f"{OUTBOX}{partition}:{batch.ids[0]}:{number}", chunk

    def _write(self, partition: int, key: str, value: Any, index: bool = True) -> None:
        store = self._tablestore()
        if store is not None:
            view = store.partition(partition)
            old = view.get(key) if index and self.indexes else None
            self._changelog.append((*view.write(key, value), partition))
        else:
            old = self._write_memory(partition, key, value)
        if index:
            self._indexes.apply(key, old, value)

    def _write_memory(self, partition: int, key: str, value: Any) -> Any:
        data = self.table.data
        old = data.get(key)
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
        # key and value as the JSON the table's codec reads back on recovery
        self._changelog.append((orjson.dumps(key),
                                None if value is None else orjson.dumps(value), partition))
        # the memory store forgets a revoked partition's keys by this map; it only
        # fills it during recovery, so record live writes too
        key_partition = getattr(data, "_key_partition", None)
        if key_partition is not None:
            if value is None:
                key_partition.pop(key, None)
            else:
                key_partition[key] = partition
        return old

    def _record(self, out: Output, cause: str) -> dict[str, Any]:
        enc = encode(out.event, source=self.source, event_id=out.event_id, causation_id=cause)
        return {
            "topic": out.topic,
            "key": out.key if out.key is not None else enc.key.decode(),
            "partition": out.partition,
            "value": enc.value.decode(),
            "headers": enc.headers,  # (name, bytes) pairs, to publish now
            "envelope": enc.envelope,  # what the outbox keeps to rebuild them
        }

    async def _flush_changelog(self) -> None:
        """Hand the staged changelog writes to the producer, in order. Straight to the
        idempotent producer (not faust's buffer, which throttles consumption): one
        partition's records stay in the order written. With a :class:`TableStore`, the
        store writes them to its databases once Kafka acknowledged them (never before:
        the changelog is the truth); the stage waits for that only past
        :data:`MAX_UNACKNOWLEDGED_FLUSHES` flushes."""
        store = self._tablestore()
        if store is not None:
            await self._flush_to_store(store)
            return
        pending, self._changelog = self._changelog, []
        if not pending:
            return
        producer = self.app.producer
        topic = self.table.changelog_topic.get_topic_name()
        for key, value, partition in pending:
            await producer.send(topic, key, value, partition, None, None)

    async def _flush_to_store(self, store: TableStore) -> None:
        if self._flushing is None:
            self._flushing = asyncio.Lock()
        # one flush at a time hands its records over (the timer's prune and a batch
        # would interleave theirs), so each sealed layer is contiguous in the changelog
        async with self._flushing:
            if not self._changelog:
                return
            # the writes of a partition that moved to another worker since are not
            # sent: they would land after its new owner's (which handles the records
            # that made them again, from the position its recovery read)
            pending = [w for w in self._changelog if store.owns(w[2])]
            if len(pending) < len(self._changelog):
                log.info("dropped table writes of partitions that moved",
                         extra={"stage": self.name,
                                "writes": len(self._changelog) - len(pending)})
            self._changelog = []
            if not pending:
                return
            # sealed with the records taken, nothing in between (a store that cannot
            # write its database refuses here, before any record is taken)
            layers = store.seal({partition for _, _, partition in pending})
            producer = self.app.producer
            topic = self.table.changelog_topic.get_topic_name()
            sent = [await producer.send(topic, key, value, partition, None, None)
                    for key, value, partition in pending]
        delivered = store.on_delivery(layers, [p for _, _, p in pending], sent)
        waiting = self._unacknowledged
        waiting.append(delivered)
        while waiting and (waiting[0].done() or len(waiting) > MAX_UNACKNOWLEDGED_FLUSHES):
            # shielded: a rebalance that cancels this task does not cancel the
            # delivery's bookkeeping; a failed delivery (the store logged it) fails the
            # batch that comes to it
            await asyncio.shield(waiting.popleft())

    async def _publish(self, outbox_key: str, partition: int,
                       records: list[dict[str, Any]]) -> None:
        producer = self.app.producer
        futures: list[asyncio.Future[Any]] = []
        for r in records:
            headers = r.get("headers") or _headers_of(r["env"])
            fut = await producer.send(
                r["topic"], r["key"].encode(), r["value"].encode(), r["partition"],
                None, headers,
            )
            futures.append(asyncio.ensure_future(fut))

        delivery = _Delivery(outbox_key)
        self._delivering.setdefault(partition, deque()).append(delivery)

        def done(_: Any) -> None:
            if all(f.done() and not f.cancelled() and f.exception() is None
                   for f in futures):
                delivery.delivered = True
            else:
                log.warning("an output was not delivered: its outbox entry and the "
                            "partition's later ones stay until a recovery publishes them",
                            extra={"stage": self.name, "partition": partition})
            self._tombstone_delivered(partition)

        gathered = asyncio.gather(*futures, return_exceptions=True)
        gathered.add_done_callback(done)

    def _tombstone_delivered(self, partition: int) -> None:
        """Delete the partition's delivered outbox entries, oldest first, up to the
        first not delivered yet: a later entry is never deleted while an earlier one
        stays, so a crash never leaves an earlier batch's outputs to be published again
        after a later batch's, which had already gone out (on another topic or
        partition, the earlier one's records may not all be acknowledged when the
        later one's are). The tombstones go out with the next batch's changelog writes;
        until then a crash only means the entries are published again."""
        waiting = self._delivering.get(partition)
        while waiting and waiting[0].delivered:
            key = waiting.popleft().key
            if self._owns(partition) and key in self._state(partition):
                self._write(partition, key, None)

    async def _dead_letter(self, event: EventT, headers: list[tuple[str, bytes]], reason: str,
                           ctx: Context) -> None:
        self.stats.dead_letters += 1
        log.warning("dead-lettered a record", extra={
            "topic": ctx.topic, "partition": ctx.partition, "offset": ctx.offset,
            "reason": reason[:300]})
        await self.app.producer.send(
            dead_letter_topic(ctx.topic), event.key, event.value, ctx.partition, None,
            dead_letter_headers(headers, error=reason, topic=ctx.topic,
                                partition=ctx.partition, offset=ctx.offset,
                                consumer=self.name),
        )

    async def recover(self) -> None:
        """After recovery: publish every outbox entry a crash left, rebuild the
        processed ids and the indexes."""
        assigned = {tp.partition for tp in self.app.assignor.assigned_actives()
                    if tp.topic in self.topics}
        self._recoveries += 1
        began = time.monotonic()
        keys = 0
        self._processed.clear()
        self._indexes.clear()
        self._delivering.clear()  # what was being published is published again below
        pending = []
        markers = processed.Recovery()
        reached: dict[int, dict[str, Any]] = {}
        for key, value in self._items(assigned, self._recovered_prefixes()):
            keys += 1
            self._indexes.apply(key, None, value)
            if not isinstance(value, dict) or value.get("p") not in assigned:
                continue
            if key.startswith(OUTBOX):
                pending.append((key, value))
            elif key.startswith(SEEN):
                markers.add(float(value["t"]), key, int(value["p"]), value["ids"])
            elif key.startswith(POSITION):
                reached[int(value["p"])] = value
        self.cursor.recover(reached)
        read_s = time.monotonic() - began
        await self._start_unread(assigned)
        self._processed.recover(markers)
        del markers  # its keyed ids, now in the processed ids' columns
        for key, value in sorted(pending, key=_written_order):
            self.stats.resent += len(value["records"])
            await self._publish(key, int(value["p"]), value["records"])
        await self._flush_changelog()
        if pending:
            log.info("re-published outbox entries left by a crash",
                     extra={"stage": self.name, "entries": len(pending)})
        # what a restart's time went on after the tables' own recovery (the restart
        # bench reads these lines)
        log.info("stage recovered", extra={
            "stage": self.name, "partitions": len(assigned), "keys": keys,
            "read_seconds": round(read_s, 3),
            "seconds": round(time.monotonic() - began, 3)})

    async def _start_unread(self, assigned: set[int]) -> None:
        """Give each assigned input partition the stage has no position in its log
        start offset as position (:meth:`Cursor.start`). When the offsets cannot be
        read, 0: a log that starts later (retention) is then a gap that is passed over
        after ``GIVE_UP_SECONDS``, where a first record taken as the start would lose
        every record before it for good."""
        unread = sorted(tp for tp in self.app.assignor.assigned_actives()
                        if tp.topic in self.topics and tp.partition in assigned
                        and (tp.topic, tp.partition) not in self.cursor.committed)
        if not unread:
            return
        try:
            found = await asyncio.wait_for(self.app.consumer.earliest_offsets(*unread),
                                           timeout=OFFSETS_TIMEOUT_SECONDS)
        except Exception as exc:  # the broker away, a rebalance under way
            log.warning("could not read where input partitions begin; taking 0",
                        extra={"stage": self.name, "error": type(exc).__name__})
            found = {}
        for tp in unread:
            offset = found.get(tp)
            self.cursor.start((tp.topic, tp.partition), offset if offset is not None else 0)

    def _recovered_prefixes(self) -> tuple[str, ...] | None:
        """The key prefixes a recovery reads: the stage's own (outbox entries,
        processed-id markers, positions) and those its indexes follow; None (every key)
        when an index follows every key. Other keys are read only by the handlers, one
        at a time (a market's withdrawn matches), so a recovery does not read them."""
        followed = self._indexes.prefixes
        return None if followed is None else covering((OUTBOX, SEEN, POSITION, *followed))

    def _items(self, assigned: set[int], prefixes: tuple[str, ...] | None = None
               ) -> Iterator[tuple[str, Any]]:
        """Every key of the table this worker holds (under ``prefixes``, when given):
        of the partitions assigned with a :class:`TableStore`, of all it kept with the
        memory store (which forgot the others when its recovery completed)."""
        store = self._tablestore()
        if store is None:
            yield from [(k, v) for k, v in self.table.data.items()
                        if prefixes is None or k.startswith(prefixes)]
            return
        for partition in sorted(assigned):
            yield from store.partition(partition).items(prefixes)

    async def prune_seen(self) -> None:
        cutoff = time.time() - self.dedup_retention_s
        for key, partition in list(self._processed.expire(cutoff)):
            if self._owns(partition) and key in self._state(partition):
                self._write(partition, key, None)
        await self._flush_changelog()
