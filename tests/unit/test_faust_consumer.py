"""faust's offset bookkeeping as our stream processors run it (eventbus.faustapp):
which offset may be committed after which records were acked. Each case is one the
fault harness ran into with faust's own choice. Then the fence around them: the
pinned faust release, and the faust internals the overrides rely on."""

import asyncio
import hashlib
import importlib.metadata
import inspect
import re
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import pytest
from faust.transport import consumer as fc
from faust.transport.drivers import aiokafka as ak
from faust.types import TP
from intervaltree import IntervalTree

from eventbus import faustapp
from eventbus.faustapp import Consumer
from eventbus.settings import KafkaSettings


def consumer(committed, acked):
    c = Consumer.__new__(Consumer)  # only the bookkeeping, no connection
    c._track_seeks()
    c._acked, c._acked_index = defaultdict(list), defaultdict(set)
    c._gap, c._committed_offset = defaultdict(IntervalTree), defaultdict(lambda: None)
    c._committed_offset["tp"] = committed
    c._acked["tp"] = list(acked)
    c._acked_index["tp"] = set(acked)
    return c


def committed(c, offset):
    """What faust does once a commit succeeded."""
    c._committed_offset["tp"] = offset


def test_a_commit_that_did_not_happen_loses_nothing():
    c = consumer(3, [3, 4, 5])
    assert c._new_offset("tp") == 6
    # the commit did not happen (a rebalance): the same records are still acked
    assert c._new_offset("tp") == 6
    committed(c, 6)
    assert c._new_offset("tp") is None and c._acked["tp"] == []


def test_repeated_and_old_offsets_do_not_hold_commits_back():
    c = consumer(55, [54, 55, 55, 56, 56, 57, 58])
    assert c._new_offset("tp") == 59
    assert c._acked["tp"] == [55, 56, 57, 58] == sorted(c._acked_index["tp"])


def test_a_real_gap_stops_the_commit_where_it_is():
    c = consumer(10, [10, 11, 13, 14])  # 12 not done yet
    assert c._new_offset("tp") == 12
    committed(c, 12)
    assert c._new_offset("tp") is None and c._acked["tp"] == [13, 14]


def test_nothing_is_committed_past_a_head_record_not_acked():
    assert consumer(10, [11, 12, 13])._new_offset("tp") is None  # faust would say 14
    assert consumer(0, [1, 2])._new_offset("tp") is None  # 0 guards the head too


def test_offsets_the_log_does_not_have_count_as_done():
    c = consumer(10, [10, 13])
    c._gap["tp"].addi(11, 13)  # 11 and 12 are not in the log (a compacted topic)
    assert c._new_offset("tp") == 14


def test_nothing_new_is_nothing_to_commit():
    assert consumer(10, [])._new_offset("tp") is None


def test_a_partition_whose_head_went_missing_is_fetched_again_from_it(monkeypatch):
    tp = TP("circular.workers", 1)
    c = consumer(None, [])
    c._committed_offset[tp], c._acked[tp], c._acked_index[tp] = 85, [87, 88], {87, 88}
    c.flow_active = True
    sought: list[tuple[TP, int]] = []

    async def seek(partition, offset):
        sought.append((partition, offset))

    monkeypatch.setattr(c, "seek", seek, raising=False)
    monkeypatch.setattr(c, "assignment", lambda: {tp}, raising=False)
    clock = [1000.0]
    monkeypatch.setattr(faustapp.time, "monotonic", lambda: clock[0])

    assert c._new_offset(tp) is None  # 85 and 86 were fetched but never acked
    asyncio.run(c.refetch_stalled())
    assert sought == []  # a slow record gets its time
    clock[0] += Consumer.STALL_RESEEK_SECONDS + 1
    asyncio.run(c.refetch_stalled())
    assert sought == [(tp, 85)]
    asyncio.run(c.refetch_stalled())
    assert sought == [(tp, 85)]  # not again before another wait

    c._acked[tp] += [85, 86]  # delivered again and acked
    assert c._new_offset(tp) == 89
    committed_now = 89
    c._committed_offset[tp] = committed_now
    clock[0] += 100
    asyncio.run(c.refetch_stalled())
    assert sought == [(tp, 85)] and tp not in c._head_missing


def test_after_a_seek_a_partition_s_records_come_in_order_from_where_it_went(monkeypatch):
    from types import SimpleNamespace

    from faust.transport import consumer as faust_consumer

    sought, other = TP("circular.workers", 1), TP("circular.workers", 2)
    fetches = [
        ("", {sought: [99], other: [6]}),
        # a recovery seeks partition 1 back to 85 while this fetch is on its way;
        # 100 and 101 were fetched before it
        ("seek", {sought: [100, 101], other: [7]}),
        ("", {sought: [85, 86], other: [8]}),  # fetched after the seek
        ("", {sought: [87, 90]}),  # a gap in a batch fetched after the seek stays
        # fetched before a second seek, to 91, but already from there (a race)
        ("seek", {sought: [91, 92]}),
    ]

    async def fetch(self, active_partitions, timeout):
        seek, records = fetches.pop(0)
        if seek:
            await self._seek(sought, 85 if len(fetches) > 2 else 91)
        return records

    async def seek(self, partition, offset):
        pass

    async def faust_getmany(self, timeout):  # faust's: one fetch, then its records
        records = await self._getmany(active_partitions=None, timeout=timeout)
        for tp, offsets in records.items():
            for offset in offsets:
                yield tp, SimpleNamespace(offset=offset)

    monkeypatch.setattr(faust_consumer.ThreadDelegateConsumer, "_getmany", fetch)
    monkeypatch.setattr(Consumer, "_seek_in_consumer_thread", seek)
    monkeypatch.setattr(faust_consumer.Consumer, "getmany", faust_getmany)
    c = Consumer.__new__(Consumer)
    c._track_seeks()
    c.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True))

    async def batch():
        return [(tp.partition, m.offset) async for tp, m in c.getmany(1.0)]

    assert asyncio.run(batch()) == [(1, 99), (2, 6)]
    assert asyncio.run(batch()) == [(2, 7)]  # 100 and 101 would have hidden 85 on
    assert asyncio.run(batch()) == [(1, 85), (1, 86), (2, 8)]
    assert asyncio.run(batch()) == [(1, 87), (1, 90)]
    assert asyncio.run(batch()) == [(1, 91), (1, 92)]


def test_the_ack_of_a_record_skipped_around_a_rebalance_does_not_count(monkeypatch):
    from types import SimpleNamespace

    from faust.types import Message

    tp = TP("circular.workers", 1)
    c = consumer(None, [])
    c._committed_offset[tp] = 10
    flow = SimpleNamespace(active=True, is_active=lambda: flow.active)
    c.app = SimpleNamespace(consumer_generation_id=3, flow_control=flow,
                            topics=SimpleNamespace(acks_enabled_for=lambda topic: True))
    c._unacked_messages, c._n_acked, c._waiting_for_ack = set(), 0, None

    def record(offset, generation):
        return Message(tp.topic, tp.partition, offset, 0.0, 0, {}, b"k", b"v", None,
                       tp=tp, generation_id=generation)

    assert not c.ack(record(10, generation=2))  # skipped by its stream, not processed
    assert c._new_offset(tp) is None
    # a rebalance began: the stream skips what comes in, and acks it
    flow.active = False
    assert not c.ack(record(10, generation=3))
    assert c._new_offset(tp) is None
    flow.active = True  # the recovery sought the committed offset: the record came again
    assert c.ack(record(10, generation=3))
    assert c._new_offset(tp) == 11


def test_a_partition_with_records_none_of_which_is_acked_is_fetched_again(monkeypatch):
    from types import SimpleNamespace

    tp = TP("circular.agreements-broadcast", 0)
    c = consumer(None, [])
    c._committed_offset[tp] = 11
    c.flow_active = True
    c.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True))
    sought: list[tuple[TP, int]] = []

    async def seek(partition, offset):
        sought.append((partition, offset))

    monkeypatch.setattr(c, "seek", seek, raising=False)
    monkeypatch.setattr(c, "assignment", lambda: {tp}, raising=False)
    monkeypatch.setattr(c, "highwater", lambda tp: 22, raising=False)
    clock = [1000.0]
    monkeypatch.setattr(faustapp.time, "monotonic", lambda: clock[0])

    asyncio.run(c.refetch_stalled())
    clock[0] += Consumer.STALL_IDLE_SECONDS - 1
    asyncio.run(c.refetch_stalled())
    assert sought == []  # records on their way get their time
    clock[0] += 2
    asyncio.run(c.refetch_stalled())
    assert sought == [(tp, 11)]


# --- the fence: the faust release and the internals the overrides rely on ---------

ROOT = Path(__file__).resolve().parents[2]

#: every faust function eventbus.faustapp overrides, calls into or whose bookkeeping
#: it reads and writes, with a fingerprint of its source in the pinned release. A
#: change in any of them fails here: re-read the override against the new code, run
#: ``make faults`` at full scale, then update the fingerprint and the pin.
FAUST_INTERNALS = {
    fc.Consumer.ack: "5fcf41cf45153475",
    fc.Consumer.perform_seek: "0e8c130ff4b0afd8",
    fc.Consumer.seek: "b86a9fe05f956b30",
    fc.Consumer.getmany: "4b168d84882a70d6",
    fc.Consumer._new_offset: "1d2c7ea89a7ad4f1",
    fc.Consumer._filter_committable_offsets: "dc5e9baf5d994485",
    fc.Consumer._should_commit: "5ce941793947ad42",
    fc.Consumer._commit_offsets: "1a69799041188441",
    fc.Consumer._add_gap: "4df2573ded7c1c2c",
    fc.Consumer.on_partitions_revoked: "d04b7ae72c6fc206",
    fc.Consumer.__init__: "302410d59e6972d1",
    fc.ThreadDelegateConsumer._getmany: "f9d47aa9010b5ff2",
    fc.ThreadDelegateConsumer._seek: "4f95c631420410a5",
    fc.ThreadDelegateConsumer.seek_to_committed: "f1d483b861b0328b",
    fc.ThreadDelegateConsumer.seek_wait: "e9db5bbc4ceb2543",
    fc.ensure_TP: "62a2822ff531792e",
    ak.AIOKafkaConsumerThread.seek_to_committed: "775ab0adc4b052ab",
    ak.AIOKafkaConsumerThread.seek_wait: "12e8d34e554e9024",
    ak.AIOKafkaConsumerThread.seek: "1498560d05f02582",
    ak.AIOKafkaConsumerThread._ensure_consumer: "ff4a4c693b7ec63f",
    ak.AIOKafkaConsumerThread.call_thread: "479edda75b54734b",
    ak.AIOKafkaConsumerThread.getmany: "26fc5fc9f3b667e1",
    ak.Producer._settings_extra: "a4c7bc41b6382223",
    ak.Producer._new_producer: "e72355c3430ed02f",
}


def _fingerprint(function) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def test_the_pinned_faust_is_the_one_installed_and_the_one_the_fence_expects():
    pins = {re.search(r"faust-streaming==([\w.]+)", (ROOT / name).read_text()).group(1)
            for name in ("pyproject.toml", "constraints.txt")}
    assert pins == {faustapp.FAUST_VERSION}
    assert importlib.metadata.version("faust-streaming") == faustapp.FAUST_VERSION
    faustapp.check_faust_version()  # the installed one passes


@pytest.mark.parametrize("other", ["0.15.2", "0.15.4", "0.16.0", "1.0.0"])
def test_no_app_is_built_on_another_faust_release(monkeypatch, other):
    monkeypatch.setattr(faustapp.importlib.metadata, "version", lambda name: other)
    with pytest.raises(faustapp.UnsupportedFaust, match=other):
        faustapp.make_app("fenced", KafkaSettings())


@pytest.mark.parametrize("function", list(FAUST_INTERNALS),
                         ids=lambda f: f"{f.__module__}.{f.__qualname__}")
def test_the_faust_internals_the_overrides_rely_on_are_unchanged(function):
    assert _fingerprint(function) == FAUST_INTERNALS[function], (
        f"{function.__module__}.{function.__qualname__} changed: re-check "
        "eventbus/faustapp.py against it and run make faults before moving the pin")


def test_every_faust_method_the_consumer_overrides_is_fenced():
    fenced = {f.__qualname__.rsplit(".", 1)[-1] for f in FAUST_INTERNALS}
    ours = {name for name, value in vars(Consumer).items() if callable(value)
            and not name.startswith("__") and hasattr(fc.Consumer, name)}
    assert ours and ours <= fenced


def test_faust_commits_the_offset_our_bookkeeping_chooses():
    """faust's commit path asks ``_new_offset`` (ours) and commits only past the
    committed offset."""
    assert consumer(3, [3, 4, 5])._filter_committable_offsets(["tp"]) == {"tp": 6}
    assert consumer(3, [4, 5])._filter_committable_offsets(["tp"]) == {}  # head missing


def test_faust_s_ack_fills_the_bookkeeping_our_choice_reads():
    from types import SimpleNamespace

    from faust.types import Message

    tp = TP("circular.workers", 1)
    c = consumer(None, [])
    c._committed_offset[tp] = 10
    c.app = SimpleNamespace(consumer_generation_id=3,
                            flow_control=SimpleNamespace(is_active=lambda: True),
                            topics=SimpleNamespace(acks_enabled_for=lambda topic: True))
    c._unacked_messages, c._n_acked, c._waiting_for_ack = set(), 0, None
    message = Message(tp.topic, tp.partition, 10, 0.0, 0, {}, b"k", b"v", None, tp=tp,
                      generation_id=3)
    assert c.ack(message)
    assert c._acked[tp] == [10] and c._acked_index[tp] == {10}
    assert not c.ack(message)  # acked once
    assert c._new_offset(tp) == 11


def test_faust_s_seek_goes_through_our_seek_bookkeeping(monkeypatch):
    """faust's public ``seek`` calls ``_seek`` (ours: marks the partition sought) and
    moves its read offset."""
    async def delegate(self, partition, offset):
        pass

    monkeypatch.setattr(Consumer, "_seek_in_consumer_thread", delegate)
    c = consumer(None, [])
    c._read_offset = {}
    c.log = SimpleNamespace(dev=lambda *a, **k: None)
    tp = TP("circular.workers", 2)
    asyncio.run(c.seek(tp, 85))
    assert c._expected[tp] == 85 and c._sought[tp] == c._seek_count == 1
    assert c._read_offset[tp] == 85


def test_a_seek_runs_in_the_consumer_s_thread_not_the_app_s():
    """aiokafka's ``seek`` drops the partition's fetched records, which the consumer
    thread may be draining at that moment: called from the app's thread it raced it
    and crashed the worker (KeyError in ``fetched_records``). Ours hands it to the
    consumer thread, as faust's ``call_thread`` does with its other seeks."""
    import threading

    ran_in: list[tuple[str, TP, int]] = []

    class Aiokafka:
        def seek(self, partition, offset):
            ran_in.append((threading.current_thread().name, partition, offset))

    class ConsumerThread:
        """The consumer thread's contract as faust's: ``call_thread`` runs ``fun`` in
        the thread's own event loop and hands its result back."""

        def __init__(self):
            self.loop = asyncio.new_event_loop()
            self.thread = threading.Thread(target=self.loop.run_forever,
                                           name="consumer-thread", daemon=True)
            self.thread.start()

        def _ensure_consumer(self):
            return Aiokafka()

        async def call_thread(self, fun, *args):
            async def run():
                return fun(*args)
            return await asyncio.wrap_future(
                asyncio.run_coroutine_threadsafe(run(), self.loop))

    c = consumer(None, [])
    c._read_offset = {}
    c.log = SimpleNamespace(dev=lambda *a, **k: None)
    c._thread = ConsumerThread()
    tp = TP("circular.workers", 2)
    try:
        asyncio.run(c.seek(tp, 85))
    finally:
        c._thread.loop.call_soon_threadsafe(c._thread.loop.stop)
        c._thread.thread.join(5)
    assert ran_in == [("consumer-thread", tp, 85)]
    assert c._expected[tp] == 85


def test_the_producer_is_idempotent_whatever_faust_sets_by_default(monkeypatch):
    """faust builds the aiokafka producer from ``_settings_extra`` (ours: acks from all
    replicas and idempotence, outside transactions too)."""
    made = {}

    def producer_type(**kwargs):
        made.update(kwargs)
        return kwargs

    p = faustapp.IdempotentProducer.__new__(faustapp.IdempotentProducer)
    monkeypatch.setattr(faustapp.IdempotentProducer, "_producer_type",
                        property(lambda self: producer_type))
    monkeypatch.setattr(faustapp.IdempotentProducer, "_settings_default", lambda self: {
        "acks": 1, "enable_idempotence": False, "bootstrap_servers": "b"})
    monkeypatch.setattr(faustapp.IdempotentProducer, "_settings_auth", lambda self: {})
    p._new_producer()
    assert made["acks"] == "all" and made["enable_idempotence"] is True
