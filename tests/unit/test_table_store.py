"""The RocksDB table store (eventbus/tablestore.py) on local disk, without Kafka: the
changelog's acknowledgements are futures the test resolves."""

import asyncio
from collections import defaultdict
from types import SimpleNamespace

import pytest
from faust.types import TP

from eventbus.faustapp import make_app
from eventbus.settings import KafkaSettings
from eventbus.tablestore import STAMP_KEY, PartitionRevoked, TableStore, distrust

HOUR = 3600.0
T0 = 1_800_000_000.0


def open_store(var_dir, now=T0):
    app = make_app("store-test", KafkaSettings(var_dir=var_dir), table_store="rocksdb",
                   table_max_age_hours=20)
    store = app.Table("state", partitions=6).data
    assert isinstance(store, TableStore)
    store.clock = lambda: now
    return store


def close(store):
    for db in store._dbs.values():
        db.close()
    store._dbs.clear()


def tp(store, partition):
    return TP(store.table.changelog_topic.get_topic_name(), partition)


class Changelog:
    """Kafka's side: every record sent gets the next offset of its partition, and is
    acknowledged when the test says so."""

    def __init__(self):
        self.next = defaultdict(int)
        self.waiting = []

    def send(self, partitions):
        futures = []
        loop = asyncio.get_running_loop()
        for partition in partitions:
            fut = loop.create_future()
            self.waiting.append((fut, SimpleNamespace(offset=self.next[partition])))
            self.next[partition] += 1
            futures.append(fut)
        return futures

    def acknowledge(self, error=None):
        for fut, meta in self.waiting:
            if error is None:
                fut.set_result(meta)
            else:
                fut.set_exception(error)
        self.waiting.clear()


def flush(store, log, writes):
    """Write ``writes`` ({partition: {key: value}}), seal them as a flush does and hand
    their records over; returns the delivery future."""
    partitions = []
    for partition, values in writes.items():
        for key, value in values.items():
            store.partition(partition).write(key, value)
            partitions.append(partition)
    layers = store.seal(set(writes))
    return store.on_delivery(layers, partitions, log.send(partitions))


async def settle(delivered):
    await asyncio.gather(delivered, return_exceptions=True)
    await asyncio.sleep(0)  # the delivery's callback


def stored(store, partition, key):
    """What the partition's database itself holds for ``key`` (not the overlay)."""
    raw = store._db_for_partition(partition).get(f'"{key}"'.encode())
    return None if raw is None else raw.decode()


def test_nothing_reaches_the_database_before_the_acknowledgement(tmp_path):
    store, log = open_store(tmp_path), Changelog()

    async def run():
        delivered = flush(store, log, {0: {"a": {"n": 1}, "b": {"n": 2}}})
        await asyncio.sleep(0)
        assert store.partition(0).get("a") == {"n": 1}  # reads see the overlay
        assert stored(store, 0, "a") is None
        assert store.persisted_offset(tp(store, 0)) is None
        log.acknowledge()
        await settle(delivered)

    asyncio.run(run())
    assert stored(store, 0, "a") == '{"n":1}' and stored(store, 0, "b") == '{"n":2}'
    assert store.persisted_offset(tp(store, 0)) == 1  # the offset of its last record
    assert not store._sealed[0]  # and memory holds nothing of it any more


def test_a_failed_delivery_applies_nothing_and_later_flushes_wait_behind_it(tmp_path):
    store, log = open_store(tmp_path), Changelog()

    async def run():
        failed = flush(store, log, {0: {"a": 1}})
        log.acknowledge(error=RuntimeError("not acknowledged"))
        await settle(failed)
        later = flush(store, log, {0: {"b": 2}, 1: {"c": 3}})
        log.acknowledge()
        await settle(later)

    asyncio.run(run())
    assert stored(store, 0, "a") is None and stored(store, 0, "b") is None
    assert store.persisted_offset(tp(store, 0)) is None
    assert store.partition(0).get("a") == 1 and store.partition(0).get("b") == 2
    assert stored(store, 1, "c") == "3"  # another partition goes on


def test_the_overlay_is_read_before_the_database(tmp_path):
    store, log = open_store(tmp_path), Changelog()

    async def run():
        delivered = flush(store, log, {0: {"a": "old", "b": "kept"}})
        log.acknowledge()
        await settle(delivered)
        flush(store, log, {0: {"a": "new", "b": None}})  # not acknowledged

    asyncio.run(run())
    view = store.partition(0)
    assert stored(store, 0, "a") == '"old"' and stored(store, 0, "b") == '"kept"'
    assert view.get("a") == "new" and view["a"] == "new"
    assert "b" not in view and view.get("b", "gone") == "gone"
    assert dict(view.items()) == {"a": "new"}
    with pytest.raises(KeyError):
        view["b"]


def test_a_read_by_prefixes_gives_exactly_their_keys_from_database_and_overlay(tmp_path):
    """What a recovery reads: the keys under the prefixes its indexes follow, each
    prefix a range of the database (keys as JSON text sort by their prefix), with the
    overlay's unacknowledged writes and deletes over them, and nothing else."""
    store, log = open_store(tmp_path), Changelog()
    keys = ["m:1", "m:2", "m", "mw:1", "mw:2", "m;", "l:9", "n:1", "vac:1", "vac", 'm:"q']

    async def run():
        delivered = flush(store, log, {0: {k: i for i, k in enumerate(keys)}})
        log.acknowledge()
        await settle(delivered)
        flush(store, log, {0: {"m:2": None, "m:3": "new", "mw:3": "new"}})  # unacknowledged

    asyncio.run(run())
    view = store.partition(0)
    read = dict(view.items(("m:", "vac:")))
    assert read == {"m:1": 0, 'm:"q': 10, "m:3": "new", "vac:1": 8}
    assert dict(view.items(("mw:",))) == {"mw:1": 3, "mw:2": 4, "mw:3": "new"}
    assert dict(view.items(())) == {}
    everything = dict(view.items())
    assert set(everything) == set(keys) - {"m:2"} | {"m:3", "mw:3"}


def test_data_offset_and_stamp_land_in_one_write(tmp_path):
    store, log = open_store(tmp_path), Changelog()
    db = store._db_for_partition(2)
    writes = []

    class Spy:  # the partition's database, counting what reaches it
        def __getattr__(self, name):
            return getattr(db, name)

        def write(self, batch):
            writes.append(batch.len())
            db.write(batch)

        def put(self, key, value):
            raise AssertionError("a separate put")

    store._dbs[2] = Spy()

    async def run():
        delivered = flush(store, log, {2: {"a": 1, "b": 2, "c": None}})
        log.acknowledge()
        await settle(delivered)

    asyncio.run(run())
    assert writes == [5]  # a, b, the delete of c, the offset, the stamp
    assert store.persisted_offset(tp(store, 2)) == 2
    assert float(db.get(STAMP_KEY)) == T0


def test_records_of_another_writer_in_between_keep_the_database_where_it_is(tmp_path):
    store, log = open_store(tmp_path), Changelog()

    async def run():
        first = flush(store, log, {0: {"a": 1}})
        log.acknowledge()
        await settle(first)
        log.next[0] += 3  # three records another worker wrote to the partition
        second = flush(store, log, {0: {"a": 2}})
        log.acknowledge()
        await settle(second)

    asyncio.run(run())
    assert store.persisted_offset(tp(store, 0)) == 0 and stored(store, 0, "a") == "1"
    assert store.partition(0).get("a") == 2


def test_partition_views_never_read_another_partitions_keys(tmp_path):
    store, log = open_store(tmp_path), Changelog()

    async def run():
        delivered = flush(store, log, {0: {"on-disk": 1}})
        log.acknowledge()
        await settle(delivered)
        flush(store, log, {0: {"in-memory": 2}})

    asyncio.run(run())
    other = store.partition(1)
    for key in ("on-disk", "in-memory"):
        assert key in store.partition(0)
        assert key not in other and other.get(key) is None
    assert list(other.items()) == []
    assert len(store._key_index) == 0  # faust's key -> partition cache is never filled


def test_a_revoked_partition_is_neither_read_nor_written(tmp_path):
    store, log = open_store(tmp_path), Changelog()

    async def run():
        delivered = flush(store, log, {0: {"a": 1}})
        store.revoke_partitions(store.table, {tp(store, 0)})
        log.acknowledge()  # acknowledged after it moved: not applied here
        await settle(delivered)

    asyncio.run(run())
    assert not store.owns(0)
    with pytest.raises(PartitionRevoked):
        store.partition(0).get("a")
    with pytest.raises(PartitionRevoked):
        store.partition(0).write("a", 2)
    store._revoked.discard(0)  # assigned again
    assert store.partition(0).get("a") is None


def test_ownership_follows_the_active_assignment(tmp_path, monkeypatch):
    """A partition that turns standby, or back, is neither revoked nor newly assigned in
    faust's terms (its changelog stays assigned): at every rebalance the store takes
    the active partitions from the assignor, drops the others' overlays and refuses
    their writes."""
    store, log = open_store(tmp_path), Changelog()
    actives = {tp(store, 0), tp(store, 1)}
    monkeypatch.setattr(store.app.assignor, "assigned_actives", lambda: set(actives))

    async def run():
        await store.on_rebalance(set(actives), set(), set())
        assert store.owns(0) and store.owns(1) and not store.owns(2)
        delivered = flush(store, log, {1: {"a": 1}})  # sealed, not acknowledged
        store.partition(1).write("b", 2)  # staged, not sealed
        actives.discard(tp(store, 1))  # partition 1 becomes a standby
        await store.on_rebalance(set(actives), set(), set())
        assert store.owns(0) and not store.owns(1)
        with pytest.raises(PartitionRevoked):
            store.partition(1).write("c", 3)
        log.acknowledge()  # after it moved: its standby copy gets it from the changelog
        await settle(delivered)
        actives.add(tp(store, 1))  # active again
        await store.on_rebalance(set(actives), set(), set())

    asyncio.run(run())
    assert store.owns(1)
    assert store.partition(1).get("b") is None  # nothing of the time before it moved
    assert store.partition(1).get("a") is None
    assert store.persisted_offset(tp(store, 1)) is None


def reopened(tmp_path, now, bounds=None):
    """Write a key at T0, stop, and open the partition again at ``now``; returns the
    new store (``bounds``: the changelog's offsets it is told at assignment)."""
    store, log = open_store(tmp_path), Changelog()

    async def run():
        delivered = flush(store, log, {0: {"a": 1, "b": 2}})
        log.acknowledge()
        await settle(delivered)

    asyncio.run(run())
    close(store)
    store = open_store(tmp_path, now)
    if bounds is not None:
        async def told(tps):
            return {t.partition: bounds for t in tps}

        store._changelog_bounds = told
        asyncio.run(store.assign_partitions(store.table, {tp(store, 0)}))
    return store


def test_a_recent_database_is_kept_across_a_restart(tmp_path):
    store = reopened(tmp_path, T0 + 19 * HOUR, bounds=(0, 2))
    assert store.partition(0).get("a") == 1
    assert store.persisted_offset(tp(store, 0)) == 1  # recovery resumes after it


def test_a_database_older_than_the_limit_is_dropped(tmp_path, caplog):
    store = reopened(tmp_path, T0 + 21 * HOUR)
    assert store.persisted_offset(tp(store, 0)) is None  # recovery replays from the start
    assert store.partition(0).get("a") is None
    assert [r.reason for r in caplog.records if r.name == "eventbus.tablestore"] == [
        "older than 20 h: tombstones may have been compacted away"]


def test_a_database_before_the_changelogs_first_record_is_dropped(tmp_path):
    store = reopened(tmp_path, T0 + HOUR, bounds=(5, 9))
    assert store.persisted_offset(tp(store, 0)) is None
    assert store.partition(0).get("a") is None


def test_when_to_distrust_a_database():
    now, limit = T0, 20 * HOUR
    assert distrust(None, None, False, now, limit) is None  # a new database
    assert distrust(None, None, True, now, limit)  # data written without our stamp
    assert distrust(7, now - 21 * HOUR, True, now, limit)
    assert distrust(7, now - HOUR, True, now, limit, bounds=(0, 8)) is None
    assert distrust(7, now - HOUR, True, now, limit, bounds=(8, 9)) is None  # 8 follows
    assert distrust(7, now - HOUR, True, now, limit, bounds=(9, 12))  # 8 is gone
    assert distrust(7, now - HOUR, True, now, limit, bounds=(0, 7))  # past the end


def test_recovery_writes_records_offset_and_stamp_and_keeps_an_old_stamp(tmp_path):
    store = open_store(tmp_path, now=T0 + HOUR)
    db = store._db_for_partition(3)
    db.put(STAMP_KEY, repr(T0).encode())

    def record(offset, key, value):
        return SimpleNamespace(message=SimpleNamespace(
            partition=3, offset=offset, key=f'"{key}"'.encode(), value=value))

    store.apply_changelog_batch([record(10, "a", b"1"), record(11, "b", b"2"),
                                 record(12, "a", None)], None, None)
    assert store.persisted_offset(tp(store, 3)) == 12
    assert store.partition(3).get("a") is None and store.partition(3).get("b") == 2
    assert float(db.get(STAMP_KEY)) == T0  # not caught up yet: the stamp stays
    asyncio.run(store.on_recovery_completed({tp(store, 3)}, set()))
    assert float(db.get(STAMP_KEY)) == T0 + HOUR  # caught up: safe as of now


def test_an_idle_caught_up_partition_does_not_age_but_one_with_a_waiting_flush_does(tmp_path):
    store, log = open_store(tmp_path), Changelog()

    async def run():
        for partition in (0, 1):
            delivered = flush(store, log, {partition: {"a": 1}})
            log.acknowledge()
            await settle(delivered)
        await store.on_recovery_completed({tp(store, 0), tp(store, 1)}, set())
        flush(store, log, {1: {"a": 2}})  # sent, not acknowledged yet

    asyncio.run(run())
    store.clock = lambda: T0 + 15 * HOUR
    assert any("_refresh" in repr(task) for task in store._get_tasks())  # on a timer
    store._refresh_stamps()

    def stamp(partition):
        return float(store._db_for_partition(partition).get(STAMP_KEY))

    assert stamp(0) == T0 + 15 * HOUR
    assert stamp(1) == T0
