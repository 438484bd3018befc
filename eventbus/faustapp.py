"""A faust app configured the way every Circular stream processor runs:
at-least-once (effects are made idempotent instead, see ../shared/ENGINEERING.md),
agent concurrency 1, ``earliest`` offsets, acks from all replicas with an
idempotent producer, values as raw bytes decoded by ``schemas.codec``.

The consumer and producer below override faust internals (private methods and
bookkeeping). They were written against, and proven by the fault harness on, one
faust-streaming release, :data:`FAUST_VERSION` (pyproject.toml pins it): an app is not
built on any other (:func:`check_faust_version`), and
``tests/unit/test_faust_consumer.py`` fails when a faust internal they rely on
changes, so an upgrade means re-reading them and running ``make faults`` again."""

from __future__ import annotations

import importlib.metadata
import logging
import time
from pathlib import Path
from typing import Any

import faust
from faust.transport.consumer import ensure_TP
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as aiokafka_driver

from eventbus import positions, tablestore
from eventbus.settings import KafkaSettings

TRANSPORT_SCHEME = "circularkafka"
#: the only faust-streaming release the overrides below are known to be right on
FAUST_VERSION = "0.15.3"
log = logging.getLogger(__name__)


class UnsupportedFaust(RuntimeError):
    """faust-streaming is not the release our overrides of its internals fit."""


def check_faust_version(found: str | None = None) -> None:
    """Refuse to run on any faust-streaming but :data:`FAUST_VERSION`."""
    found = found if found is not None else importlib.metadata.version("faust-streaming")
    if found != FAUST_VERSION:
        raise UnsupportedFaust(
            f"faust-streaming {found} is installed; eventbus.faustapp overrides faust "
            f"internals as they are in {FAUST_VERSION} only (pyproject.toml pins it). "
            "Install the pinned version, or re-check the overrides against the new one "
            "(tests/unit/test_faust_consumer.py, make faults) and move the pin.")


class IdempotentProducer(aiokafka_driver.Producer):
    """faust enables the idempotent producer only inside transactions; we want it
    always (no duplicates or reordering from retries)."""

    def _settings_extra(self) -> dict[str, Any]:
        return {"acks": "all", "enable_idempotence": True}


class Consumer(aiokafka_driver.Consumer):
    """faust's consumer with its choice of the offset to commit rewritten; each fault
    below was found by the fault harness (``tests/faults``), which kills workers
    while they process:

    1. faust removed acked offsets from its list when it *chose* them, before the
       commit happened. A commit that then did not happen (a rebalance under way, a
       partition being revoked) lost them for good: the committed offset stayed
       before them, nothing could ever be committed again on that partition, and the
       group's lag grew until a restart. Here acked offsets stay until a commit
       moved past them.
    2. Around a recovery faust may hand a stream the same records twice (fetched
       before and again after it seeks to the committed offsets; the stages drop the
       repeat by event id). An offset acked twice made faust's search stop at every
       duplicate (robinhood/faust#625). Acked offsets are kept a set.
    3. faust let a commit pass one unacked record at the head, and did not guard the
       head at all when the committed offset was 0 (it stores 0 as None). Here
       nothing is committed past a record that was not acked.

    4. A batch fetched before a partition was sought (a recovery seeks every
       partition to its committed offset) was still handed to the streams after the
       seek; its records moved faust's read offset past the ones the seek was to
       fetch again, and faust dropped those as already read (or, had they been let
       through, they would have been processed out of order). Here, after a seek to
       offset X, a partition's records are let through from X on, each following
       the last; a record further on from a batch fetched before the seek is left
       out, as it comes again, in order, from X. A batch fetched after the seek is
       let through whole (a real gap in the log is not waited for).

    5. faust acks a record its stream skips because it was fetched in an earlier
       generation of the group, or because the flow was stopped (a rebalance began),
       so a commit could pass a record nobody processed. Here neither ack counts: the
       ack of a record of an earlier generation, nor any ack while the flow is
       stopped (every stop of the flow ends in a seek to the committed offsets, from
       which such records come again). It also keeps the acks of partitions being
       revoked out of the bookkeeping (faust clears it for them, then kept retrying
       commits the new owner's group refuses).

    A partition whose head record has not been acked for ``STALL_RESEEK_SECONDS``
    while later records of it were (or for ``STALL_IDLE_SECONDS`` while the log has
    records past it and none was acked) is sought back to its committed offset, so the
    records from the head on are fetched again (the stages drop repeats by event
    id). A record that was fetched but never reached its stream (dropped by faust
    around a recovery or a pause of the flow) is delivered that way instead of
    holding the partition's commits back for good. The stages do not depend on it
    (they go by their own positions, ``eventbus.positions``): when a stage fetched a
    partition again from its position, past records it had handled but faust had
    not committed, this is what lets faust's commits catch up, so it is a warning."""

    STALL_RESEEK_SECONDS = 15.0
    STALL_IDLE_SECONDS = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._track_seeks()

    def _track_seeks(self) -> None:
        """Our own bookkeeping, per partition: since when its head is missing (the
        committed offset, a time), since when it has records and no ack, the number
        of its last seek, and the offset its next record must have."""
        self._head_missing: dict[Any, tuple[int, float]] = {}
        self._idle: dict[Any, tuple[int, float]] = {}
        self._sought: dict[Any, int] = {}
        self._expected: dict[Any, int | None] = {}
        self._seek_count = 0
        self._batch_stamp = 0

    def _mark_sought(self, tps: Any, offset: int | None) -> None:
        """``tps`` are being sought to ``offset`` (-1: not known yet, nothing of them is
        let through from a batch fetched before)."""
        self._seek_count += 1
        for tp in tps:
            self._sought[ensure_TP(tp)] = self._seek_count
            self._expected[ensure_TP(tp)] = offset

    async def seek_to_committed(self) -> Any:
        self._mark_sought(self.assignment(), -1)
        found = await super().seek_to_committed()
        for tp, offset in found.items():
            known = offset is not None and offset >= 0
            self._expected[ensure_TP(tp)] = offset if known else None
        return found

    async def _seek(self, partition: Any, offset: int) -> None:
        """In the consumer's own thread. faust's calls aiokafka's ``seek`` from the
        app's thread, whose ``del`` of the partition's fetched records races the
        consumer thread draining them: a ``KeyError`` in ``fetched_records`` crashes the
        worker (seen here under load; robinhood/aiokafka#19). faust runs its other
        seeks (``seek_wait``, ``seek_to_beginning``) through ``call_thread`` too."""
        self._mark_sought([partition], offset)
        await self._seek_in_consumer_thread(partition, offset)

    async def _seek_in_consumer_thread(self, partition: Any, offset: int) -> None:
        thread = self._thread
        await thread.call_thread(thread._ensure_consumer().seek, partition, offset)

    async def seek_wait(self, partitions: Any) -> None:
        """The recovery's seeks of changelogs: their records are let through as faust
        lets them (compacted logs have gaps)."""
        for tp in partitions:
            self._expected[ensure_TP(tp)] = None
        await super().seek_wait(partitions)

    async def _getmany(self, active_partitions: Any, timeout: float) -> Any:
        stamp = self._seek_count  # a fetch that starts now follows every seek so far
        records = await super()._getmany(active_partitions, timeout)
        self._batch_stamp = stamp
        return records

    def _let_through(self, tp: Any, offset: int) -> bool:
        expected = self._expected.get(tp)
        if expected is not None and offset != expected:
            if offset < expected:
                return False  # had already come
            if self._sought.get(tp, 0) > self._batch_stamp:
                return False  # fetched before the seek; it comes again after ``expected``
        self._expected[tp] = offset + 1
        return True

    async def getmany(self, timeout: float) -> Any:
        """faust's, with each partition's records let through in order after a seek."""
        acked = self.app.topics.acks_enabled_for
        async for tp, message in super().getmany(timeout):
            if not acked(tp.topic) or self._let_through(tp, message.offset):
                yield tp, message

    async def perform_seek(self) -> None:
        """Seek every assigned partition to its committed offset (faust's own, with three
        changes): to the position of the stages reading it instead when that is before
        (``eventbus.positions``: the commit went past records they never handled), a
        committed offset of 0 is kept as 0, not None (which switches the head check
        off), and a commit this process made while the seek was on its way is not
        overwritten by the older offset the seek read."""
        found = await self.seek_to_committed()
        reached = positions.of(self.app)
        for key, offset in found.items():
            tp = ensure_TP(key)
            low = reached.low(tp.topic, tp.partition)
            if low is not None and (offset is None or offset < 0 or low < offset):
                if offset is not None and offset >= 0:  # none yet: a first start
                    log.warning("the committed offset is past records a stage has not "
                                "handled; fetching from the stage's position", extra={
                                    "topic": tp.topic, "partition": tp.partition,
                                    "committed": offset, "position": low})
                await self._seek(tp, low)
                offset = low
            if offset is None or offset < 0:
                self._read_offset[tp] = None
                continue
            self._read_offset[tp] = offset
            current = self._committed_offset.get(tp)
            self._committed_offset[tp] = offset if current is None else max(current, offset)

    def ack(self, message: Any) -> bool:
        app = self.app
        if message.generation_id != app.consumer_generation_id \
                or not app.flow_control.is_active():
            return False
        return bool(super().ack(message))

    def _new_offset(self, tp: Any) -> int | None:
        acked = self._acked[tp]
        committed = self._committed_offset[tp]
        gaps = self._gap[tp]
        if acked and gaps:  # offsets the log does not have count as done
            for interval in gaps.overlap(0, max(acked)):
                acked.extend(range(interval.begin, interval.end))
            gaps.chop(0, max(acked) + 1)
        done = sorted({o for o in acked if committed is None or o >= committed})
        acked[:] = done
        self._acked_index[tp] = set(done)
        if not done:
            return None
        if committed is not None and done[0] > committed:
            self._head_missing.setdefault(tp, (committed, time.monotonic()))
            return None  # the record at the committed offset is not done yet
        self._head_missing.pop(tp, None)
        last = done[0]
        for offset in done[1:]:
            if offset != last + 1:
                break
            last = offset
        return last + 1  # the entries go once the commit moved past them

    def _watch_idle(self, assigned: Any, now: float) -> None:
        """Partitions with records past the committed offset and none of them acked
        for ``STALL_IDLE_SECONDS`` count as stalled too (their records were fetched
        and lost before they reached a stream, so no later ack shows it)."""
        for tp in assigned:
            committed = self._committed_offset.get(tp)
            try:
                end = self.highwater(tp) if self.app.topics.acks_enabled_for(tp.topic) \
                    else None
            except Exception:  # not fetched yet, or a rebalance took it
                end = None
            if committed is None or not end or end <= committed or self._acked[tp]:
                self._idle.pop(tp, None)
                continue
            seen, since = self._idle.setdefault(tp, (committed, now))
            if seen != committed:
                self._idle[tp] = (committed, now)
            elif now - since > self.STALL_IDLE_SECONDS and tp not in self._head_missing:
                self._head_missing[tp] = (committed, since)

    async def refetch_stalled(self) -> None:
        """Seek partitions whose head went missing back to their committed offset."""
        now = time.monotonic()
        assigned = self.assignment()
        self._watch_idle(assigned, now)
        for tp, (committed, since) in list(self._head_missing.items()):
            if self._committed_offset.get(tp) != committed or tp not in assigned:
                self._head_missing.pop(tp, None)
            elif now - since > self.STALL_RESEEK_SECONDS and self.flow_active:
                log.warning("a partition's record at its committed offset was not acked "
                            "for a while; fetching the partition again from it", extra={
                                "topic": tp.topic, "partition": tp.partition,
                                "offset": committed, "acked_after": len(self._acked[tp])})
                try:
                    await self.seek(tp, committed)
                except Exception as exc:  # a rebalance took it; tried again next tick
                    log.warning("could not seek a stalled partition",
                                extra={"topic": tp.topic, "partition": tp.partition,
                                       "error": type(exc).__name__})
                self._head_missing[tp] = (committed, now)


class Transport(aiokafka_driver.Transport):
    Consumer = Consumer
    Producer = IdempotentProducer


def make_app(app_id: str, settings: KafkaSettings, *, table_store: str = "memory",
             table_max_age_hours: float = tablestore.DEFAULT_MAX_AGE_SECONDS / 3600,
             web_port: int | None = None, **overrides: Any) -> faust.App:
    """A new faust app. Nothing connects until the worker starts it. Refuses a faust
    release other than the pinned one (:func:`check_faust_version`). Its tables live in
    memory, or with ``table_store="rocksdb"`` in :class:`eventbus.tablestore.TableStore`
    under the app's datadir."""
    check_faust_version()
    if table_store not in ("memory", "rocksdb"):
        raise ValueError(f"unknown table store {table_store!r}")
    TRANSPORTS.aliases.setdefault(TRANSPORT_SCHEME, f"{__name__}:Transport")
    brokers = ";".join(f"{TRANSPORT_SCHEME}://{b}" for b in settings.bootstrap_list)
    datadir = Path(settings.var_dir) / "faust" / app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {
        "broker": brokers,
        "store": f"{tablestore.SCHEME}://" if table_store == "rocksdb" else "memory://",
        "datadir": str(datadir),
        "processing_guarantee": "at_least_once",
        "topic_partitions": 6,
        "topic_replication_factor": 1,
        "topic_allow_declare": True,
        "consumer_auto_offset_reset": "earliest",
        "producer_acks": -1,
        "autodiscover": False,
        "web_enabled": web_port is not None,
        "web_port": web_port or 6066,
        "web_bind": "127.0.0.1",
        "web_in_thread": False,
        "broker_commit_interval": 1.0,
        "broker_session_timeout": settings.kafka_session_timeout_seconds,
        "broker_heartbeat_interval": max(1.0, settings.kafka_session_timeout_seconds / 5),
        "consumer_group_instance_id": settings.kafka_group_instance_id,
        "stream_wait_empty": False,
        "table_standby_replicas": 0,
        "logging_config": None,
        "loghandlers": [],
    }
    options.update(overrides)
    app = faust.App(app_id, **options)
    if table_store == "rocksdb":
        tablestore.install(app, table_max_age_hours * 3600)

    @app.timer(interval=5.0)
    async def stalled_commits() -> None:
        consumer = app.consumer
        if isinstance(consumer, Consumer):
            await consumer.refetch_stalled()

    return app
