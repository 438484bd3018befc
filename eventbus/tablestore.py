"""The stream stages' table state on local disk (RocksDB through rocksdict), so a
restarted worker replays only the changelog records written after the state it kept.

The changelog topic is the truth; each partition's database follows it:

* :meth:`TableStore.partition` gives a stage a view bound to one partition (every key
  of a stage is local to one partition). A write goes to an in-memory overlay of that
  partition, which reads see before the database.
* When the stage hands its changelog records to the producer it seals the overlay of
  each partition it wrote (:meth:`TableStore.seal`, in the same step, so a layer holds
  exactly the writes of those records). Once Kafka acknowledged every record of the
  flush, each layer is written to its database in one ``WriteBatch`` with the offset of
  its last record (faust's persisted offset, where faust's recovery resumes) and a
  wall-clock stamp, and dropped from memory. Layers reach the database in the order
  they were sealed. A delivery that fails leaves its layer unapplied, and every later
  layer of the partition waits behind it (still read from memory) until the worker
  restarts or the partition moves: the database never holds a write the changelog may
  lack. So a SIGKILL at any moment leaves each database at a prefix of its changelog,
  and recovery from its offset brings it to the end.

Decided beyond that:

* A layer is applied only when its records directly follow the database's offset in
  the changelog (contiguous, first = offset + 1). Records of another writer in between
  (a partition that moved while this worker still flushed) leave it unapplied, as
  above. A layer whose last record the database already has (recovery read it) is
  dropped.
* A database is trusted when it is opened only if its stamp is younger than
  ``max_age_seconds`` (default 20 h, under the changelog's 24 h
  ``delete.retention.ms``: compaction may since have removed tombstones of keys it
  holds), and, when the partition is assigned, its offset is not before the
  changelog's first record nor past its end (offsets read through the consumer within
  ``BOUNDS_TIMEOUT_SECONDS``; when they cannot be read it is not trusted; while the
  worker stops they are not asked). Otherwise it is deleted and rebuilt from the
  changelog.
* The stamp says since when the database's content is safe against that: a live write
  or a refresh moves it to now only for a partition recovered to the changelog's end
  and owned since (refreshed every ``REFRESH_SECONDS``, so an idle partition does not
  age, and not while a layer waits); a recovery batch keeps the stamp the database had
  (a new database gets the time of its first batch).
* A database that refuses a write (a full disk) is not written again: every later
  flush of the table fails with that error, before it takes any record.
* Writes are not fsynced: RocksDB's write-ahead log survives a killed process; after a
  power loss it keeps a prefix of the batches, each with its own offset.
* faust's key index (key -> partition) is never used: reads name their partition.
* Keys and values are JSON (orjson), the bytes the stages write to the changelog.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import rocksdict
from faust.stores import STORES
from faust.stores import rocksdb as faust_rocksdb
from faust.types import TP, AppT, CollectionT, EventT
from mode import Service

from eventbus.rocksdb_budget import PER_DATABASE, Budget, BudgetedOptions

log = logging.getLogger(__name__)

SCHEME = "circularrocksdb"
STAMP_KEY = b"__circular\0stamp__"
DEFAULT_MAX_AGE_SECONDS = 20 * 3600.0
REFRESH_SECONDS = 600.0
#: at most this long to read a changelog's offsets when partitions are assigned (a
#: stop that begins meanwhile waits for it: it stays well within the stop's grace)
BOUNDS_TIMEOUT_SECONDS = 10.0
_CONFIG = "_circular_table_store"
_NO_BOUNDS = object()  # the changelog's offsets could not be read
_MISSING = object()

class PartitionRevoked(RuntimeError):
    """The partition moved to another worker; its local state is not this worker's."""


@dataclass
class StoreConfig:
    max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS
    _budget: Budget | None = None

    def budget(self) -> Budget:
        """The RocksDB memory the app's stores share, made when the first one opens."""
        if self._budget is None:
            self._budget = Budget()
        return self._budget


def install(app: AppT, max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS) -> None:
    """Register the store's URL scheme and give ``app``'s stores their settings."""
    STORES.aliases.setdefault(SCHEME, f"{__name__}:TableStore")
    setattr(app, _CONFIG, StoreConfig(max_age_seconds))


def distrust(offset: int | None, stamp: float | None, has_data: bool, now: float,
             max_age: float, bounds: Any = None) -> str | None:
    """Why a partition database may not be used as it is (None: it may). ``bounds``:
    the changelog partition's (first offset, end offset), :data:`_NO_BOUNDS` when they
    could not be read, None when not asked."""
    if stamp is None:
        return "written without a time stamp" if has_data else None
    if now - stamp > max_age:
        return f"older than {max_age / 3600:g} h: tombstones may have been compacted away"
    if bounds is _NO_BOUNDS:
        return "the changelog's offsets could not be read"
    if bounds is not None and offset is not None:
        first, end = bounds
        if first is not None and offset + 1 < first:
            return "records after its offset were removed from the changelog"
        if end is not None and offset >= end:
            return "its offset is past the changelog's end (a different topic)"
    return None


@dataclass(eq=False)
class _Layer:
    """Writes of one partition sealed by one changelog flush."""

    partition: int
    writes: dict[Any, tuple[Any, bytes, bytes | None]]  # key -> (value, key, value bytes)
    offsets: list[int] | None = None  # the acknowledged offsets of its records
    warned: bool = False


class PartitionView:
    """One partition of a :class:`TableStore` as a mapping; None values are deletes."""

    def __init__(self, store: TableStore, partition: int) -> None:
        self._store = store
        self._partition = partition

    def get(self, key: Any, default: Any = None) -> Any:
        found = self._store._overlaid(self._partition, key)
        if found is not None:
            return default if found[0] is None else found[0]
        raw = self._store._db(self._partition).get(orjson.dumps(key))
        return default if raw is None else orjson.loads(raw)

    def __contains__(self, key: Any) -> bool:
        return self.get(key, _MISSING) is not _MISSING

    def __getitem__(self, key: Any) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        self.write(key, value)

    def pop(self, key: Any, default: Any = None) -> Any:
        value = self.get(key, default)
        self.write(key, None)
        return value

    def write(self, key: Any, value: Any) -> tuple[bytes, bytes | None]:
        """Stage a write (None: delete) in the overlay; returns the changelog record's
        key and value bytes, which are also what the database gets."""
        return self._store._stage(self._partition, key, value)

    def items(self, prefixes: Sequence[str] | None = None) -> Iterator[tuple[Any, Any]]:
        """Every key and value; with ``prefixes`` (none beginning with another), only
        the (text) keys under one of them, each prefix's keys read from the database
        with a seek to where they begin (keys are JSON text, so a prefix's keys are one
        contiguous range)."""
        overlay = self._store._merged(self._partition)
        meta = (self._store.offset_key, STAMP_KEY)
        db = self._store._db(self._partition)
        heads = None if prefixes is None else tuple(prefixes)
        ranges = ([db.items()] if heads is None else
                  [_range(db, orjson.dumps(p)[:-1]) for p in heads])
        for found in ranges:
            for raw_key, raw in found:
                if raw_key in meta:
                    continue
                key = orjson.loads(raw_key)
                if key not in overlay:
                    yield key, orjson.loads(raw)
        for key, (value, _, _) in overlay.items():
            if value is not None and (heads is None or (
                    isinstance(key, str) and key.startswith(heads))):
                yield key, value


def _range(db: Any, start: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The database's keys that begin with ``start``, in order."""
    for raw_key, raw in db.items(from_key=start):
        if not raw_key.startswith(start):
            return
        yield raw_key, raw


class TableStore(faust_rocksdb.Store):
    """faust's RocksDB store with partition-bound access and the write order above."""

    #: faust's own messages (opening partitions, starting) stay at the library level
    logger = logging.getLogger("faust.stores.circular")

    def __init__(self, url: Any, app: AppT, table: CollectionT, *,
                 options: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        # a table's own options win
        super().__init__(url, app, table, options={**PER_DATABASE, **(options or {})},
                         **kwargs)
        config = getattr(app, _CONFIG, StoreConfig())
        self.rocksdb_options = BudgetedOptions(config.budget(), **(self.options or {}),
                                               use_rocksdict=self.use_rocksdict)
        self.max_age_seconds = config.max_age_seconds
        self.clock = time.time
        self._current: dict[int, dict[Any, tuple[Any, bytes, bytes | None]]] = {}
        self._sealed: dict[int, deque[_Layer]] = {}
        self._revoked: set[int] = set()
        self._caught_up: set[int] = set()
        self._bounds: dict[int, Any] = {}
        self._replayed: defaultdict[int, int] = defaultdict(int)
        self._failure: BaseException | None = None

    # -- what a stage calls ---------------------------------------------------------

    def partition(self, partition: int) -> PartitionView:
        return PartitionView(self, partition)

    def owns(self, partition: int) -> bool:
        return partition not in self._revoked

    def seal(self, partitions: Iterable[int]) -> list[_Layer]:
        """Close the overlays of ``partitions`` whose changelog records are being sent."""
        if self._failure is not None:
            raise RuntimeError("a table store could not write its database") \
                from self._failure
        layers = []
        for partition in partitions:
            writes = self._current.pop(partition, None)
            if writes and partition not in self._revoked:
                layer = _Layer(partition, writes)
                self._sealed.setdefault(partition, deque()).append(layer)
                layers.append(layer)
        return layers

    def on_delivery(self, layers: list[_Layer], partitions: Sequence[int],
                    futures: Sequence[Awaitable[Any]]) -> asyncio.Future[Any]:
        """Apply ``layers`` once every record (of ``partitions``, in order) was
        acknowledged; nothing if one failed. Independent of whoever awaits the result."""
        delivered = asyncio.gather(*futures)

        def done(fut: asyncio.Future[Any]) -> None:
            if fut.cancelled() or fut.exception() is not None:
                log.error("changelog records were not acknowledged; the table's local "
                          "state stays before them until the worker restarts",
                          extra={"table": self.table.name})
                return
            offsets: dict[int, list[int]] = {}
            for partition, meta in zip(partitions, fut.result(), strict=True):
                offsets.setdefault(partition, []).append(meta.offset)
            try:
                self.acknowledge(layers, offsets)
            except Exception as exc:  # the database refused the write
                log.exception("could not write a table's local state",
                              extra={"table": self.table.name})
                self._failure = exc

        delivered.add_done_callback(done)
        return delivered

    def acknowledge(self, layers: list[_Layer], offsets: Mapping[int, list[int]]) -> None:
        """The records of ``layers`` were acknowledged at ``offsets``: apply, in order,
        every layer at the head of its partition's queue that may be."""
        for layer in layers:
            layer.offsets = sorted(offsets[layer.partition])
        for partition in sorted({layer.partition for layer in layers}):
            if partition not in self._revoked:
                self._apply(partition)

    # -- the overlay ----------------------------------------------------------------

    def _db(self, partition: int) -> Any:
        if partition in self._revoked:
            raise PartitionRevoked(f"{self.table.name} partition {partition}")
        return self._db_for_partition(partition)

    def _stage(self, partition: int, key: Any, value: Any) -> tuple[bytes, bytes | None]:
        if partition in self._revoked:
            raise PartitionRevoked(f"{self.table.name} partition {partition}")
        raw_key = orjson.dumps(key)
        raw = None if value is None else orjson.dumps(value)
        self._current.setdefault(partition, {})[key] = (value, raw_key, raw)
        return raw_key, raw

    def _overlaid(self, partition: int, key: Any) -> tuple[Any, bytes, bytes | None] | None:
        found = self._current.get(partition, {}).get(key)
        if found is None:
            for layer in reversed(self._sealed.get(partition, ())):
                found = layer.writes.get(key)
                if found is not None:
                    break
        return found

    def _merged(self, partition: int) -> dict[Any, tuple[Any, bytes, bytes | None]]:
        merged: dict[Any, tuple[Any, bytes, bytes | None]] = {}
        for layer in self._sealed.get(partition, ()):
            merged.update(layer.writes)
        merged.update(self._current.get(partition, {}))
        return merged

    def _apply(self, partition: int) -> None:
        queue = self._sealed.get(partition)
        if not queue:
            return
        db = self._db(partition)
        offset = self._offset(db)
        batch = rocksdict.WriteBatch(raw_mode=True)
        done, applied = 0, False
        for layer in queue:
            if layer.offsets is None:
                break  # not acknowledged (yet, or ever)
            first, last = layer.offsets[0], layer.offsets[-1]
            if offset is not None and last <= offset:
                done += 1  # recovery read its records already
                continue
            follows = offset is None or first <= offset + 1
            if not follows or last - first + 1 != len(layer.offsets):
                if not layer.warned:
                    layer.warned = True
                    log.warning("another writer's records are in a table's changelog "
                                "partition; its local state waits for a recovery",
                                extra={"table": self.table.name, "partition": partition,
                                       "offset": offset, "first": first, "last": last})
                break
            for _, raw_key, raw in layer.writes.values():
                if raw is None:
                    batch.delete(raw_key)
                else:
                    batch.put(raw_key, raw)
            offset, done, applied = last, done + 1, True
        if applied and offset is not None:
            self._mark(batch, db, partition, offset)
            db.write(batch)
        for _ in range(done):
            queue.popleft()

    # -- offsets and stamps ---------------------------------------------------------

    def _offset(self, db: Any) -> int | None:
        raw = db.get(self.offset_key)
        return None if raw is None else int(raw)

    def _mark(self, batch: Any, db: Any, partition: int, offset: int) -> None:
        batch.put(self.offset_key, str(offset).encode())
        stamp = db.get(STAMP_KEY)
        if partition in self._caught_up or stamp is None:
            stamp = repr(self.clock()).encode()
        batch.put(STAMP_KEY, stamp)

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        db = self._db_for_partition(tp.partition)
        batch = rocksdict.WriteBatch(raw_mode=True)
        self._mark(batch, db, tp.partition, offset)
        db.write(batch)

    def apply_changelog_batch(self, batch: Iterable[EventT], to_key: Any,
                              to_value: Any) -> None:
        """Recovery: each partition's records and its new offset in one write."""
        writes: dict[int, Any] = {}
        last: dict[int, int] = {}
        for event in batch:
            msg = event.message
            if msg.key is None:
                raise TypeError(f"changelog record without a key at offset {msg.offset}")
            wb = writes.get(msg.partition)
            if wb is None:
                wb = writes[msg.partition] = rocksdict.WriteBatch(raw_mode=True)
            if msg.value is None:
                wb.delete(msg.key)
            else:
                wb.put(msg.key, msg.value)
            last[msg.partition] = max(msg.offset, last.get(msg.partition, -1))
            self._replayed[msg.partition] += 1
        for partition, wb in writes.items():
            db = self._db_for_partition(partition)
            self._mark(wb, db, partition, last[partition])
            db.write(wb)

    def _refresh_stamps(self) -> None:
        for partition in sorted(self._caught_up):
            db = self._dbs.get(partition)
            if db is not None and not self._sealed.get(partition):
                db.put(STAMP_KEY, repr(self.clock()).encode())

    @Service.timer(REFRESH_SECONDS)
    async def _refresh(self) -> None:
        self._refresh_stamps()

    # -- partitions coming and going ------------------------------------------------

    def _open_for_partition(self, partition: int) -> Any:
        db = super()._open_for_partition(partition)
        raw_stamp, offset = db.get(STAMP_KEY), self._offset(db)
        has_data = offset is not None or next(iter(db.keys()), None) is not None
        reason = distrust(offset, None if raw_stamp is None else float(raw_stamp), has_data,
                          self.clock(), self.max_age_seconds, self._bounds.pop(partition, None))
        if reason is None:
            return db
        log.warning("dropped a table partition's local state; it is rebuilt from the "
                    "changelog", extra={"table": self.table.name, "partition": partition,
                                        "offset": offset, "reason": reason})
        db.close()
        rocksdict.Rdict.destroy(str(self.partition_path(partition)))
        return super()._open_for_partition(partition)

    async def _changelog_bounds(self, tps: list[TP]) -> dict[int, Any]:
        """The changelog partitions' first and end offsets, read through the consumer's
        thread. Not while the worker stops: the thread may be stopping too, and the
        call would never return (the databases are then checked by their stamp only)."""
        if self.should_stop or getattr(self.app, "should_stop", False):
            return {}
        consumer = self.app.consumer
        try:
            first, end = await asyncio.wait_for(asyncio.gather(
                consumer.earliest_offsets(*tps), consumer.highwaters(*tps)),
                timeout=BOUNDS_TIMEOUT_SECONDS)
        except Exception as exc:  # not trusted without them
            log.warning("could not read a changelog's offsets",
                        extra={"table": self.table.name, "error": type(exc).__name__})
            return {tp.partition: _NO_BOUNDS for tp in tps}
        return {tp.partition: (first.get(tp), end.get(tp)) for tp in tps}

    async def on_rebalance(self, assigned: set[TP], revoked: set[TP],
                           newly_assigned: set[TP], generation_id: int = 0) -> None:
        self._caught_up.clear()
        self._follow_assignment()
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)
        self._bounds.clear()  # of databases that were open already (a standby's)

    def _follow_assignment(self) -> None:
        """This worker reads and writes exactly the partitions assigned to it as active:
        every other partition's overlay is dropped and its writes refused (a late write
        would land in the changelog of a partition another worker owns; the stage also
        leaves out writes it staged for a partition before it moved). Taken from the
        assignor at every rebalance, because a partition that goes from active to
        standby, or back, is neither revoked nor newly assigned in faust's terms (its
        changelog stays assigned). The apps run without standby replicas today
        (``table_standby_replicas=0``), so this holds for when they get some."""
        topics = self.table.changelog_topic.topics
        active = {tp.partition for tp in self.app.assignor.assigned_actives()
                  if tp.topic in topics}
        partitions = self.table.partitions or self.app.conf.topic_partitions
        for partition in set(range(partitions)) - active:
            self._disown(partition)
        self._revoked -= active

    def _disown(self, partition: int) -> None:
        self._revoked.add(partition)
        self._current.pop(partition, None)
        self._sealed.pop(partition, None)

    def revoke_partitions(self, table: CollectionT, tps: set[TP]) -> None:
        for tp in tps:
            if tp.topic in table.changelog_topic.topics:
                self._disown(tp.partition)
        super().revoke_partitions(table, tps)

    async def assign_partitions(self, table: CollectionT, tps: set[TP],
                                generation_id: int = 0) -> None:
        standbys = self.app.assignor.assigned_standbys()
        mine = [tp for tp in tps
                if tp.topic in table.changelog_topic.topics and tp not in standbys]
        for tp in mine:
            self._revoked.discard(tp.partition)
        if mine:
            self._bounds.update(await self._changelog_bounds(mine))
        await super().assign_partitions(table, tps, generation_id)

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        topics = self.table.changelog_topic.topics
        self._caught_up = {tp.partition for tp in active_tps if tp.topic in topics}
        self._refresh_stamps()
        log.info("table recovered", extra={
            "table": self.table.name, "partitions": len(self._caught_up),
            "replayed": sum(self._replayed.values()),
            "replayed_by_partition": {str(p): n for p, n in sorted(self._replayed.items())}})
        self._replayed.clear()
        await super().on_recovery_completed(active_tps, standby_tps)
