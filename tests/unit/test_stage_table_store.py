"""A stage (eventbus/stage.py) on the RocksDB table store: its state reaches the
partition's database only once Kafka acknowledged the batch's changelog records (the
stage goes on meanwhile, up to a bound of flushes waiting), and a stage started again
on the same files sees what the database kept."""

import asyncio
from collections import defaultdict
from types import SimpleNamespace

from eventbus.faustapp import make_app
from eventbus.handlers import Output, SecondaryIndex
from eventbus.settings import KafkaSettings
from eventbus.stage import MAX_UNACKNOWLEDGED_FLUSHES, Stage
from tests.support import stage_fakes
from tests.support.stage_fakes import published, record


class App(stage_fakes.App):
    """The fake app of the stage tests, whose changelog records get offsets, and are
    acknowledged only when the test releases them."""

    def __init__(self, changelog):
        super().__init__()
        self.changelog = changelog
        self.next = defaultdict(int)
        self.held = []

    async def send(self, topic, key, value, partition, timestamp, headers):
        fut = await super().send(topic, key, value, partition, timestamp, headers)
        if topic != self.changelog:
            return fut
        held = asyncio.get_running_loop().create_future()
        self.held.append((held, SimpleNamespace(offset=self.next[partition])))
        self.next[partition] += 1
        return held

    def release(self):
        for fut, meta in self.held:
            fut.set_result(meta)
        self.held.clear()


def build(var_dir, noted=False):
    faust_app = make_app("stage-store", KafkaSettings(var_dir=var_dir), table_store="rocksdb")
    table = faust_app.Table("s", partitions=6)
    app = App(table.changelog_topic.get_topic_name())
    days = SecondaryIndex("day:", lambda v: [v[:7]])

    def handler(tx, decoded, ctx):
        day = decoded.event.date.isoformat()
        tx.set(f"day:{day}", day)
        if noted:  # a key no index follows: read by id only
            tx.set(f"note:{day}", day)
        yield Output("out", decoded.event, f"out-{day}")

    stage = Stage(app=app, name="s", source="/t", topics=("ticks",), handler=handler,
                  table=table, indexes=(days,))
    return app, stage, days


def on_disk(stage, key):
    raw = stage.table.data._db_for_partition(0).get(f'"{key}"'.encode())
    return raw is not None


def test_state_reaches_the_database_after_the_acknowledgement(tmp_path):
    app, stage, days = build(tmp_path)

    async def run():
        await stage.process_batch([record(0, 0, 2), record(1, 1, 2)])
        assert app.held  # its changelog records are not acknowledged yet
        assert stage._state(0).get("day:2027-03-01") == "2027-03-01"  # handled, in memory
        assert not on_disk(stage, "day:2027-03-01") and not on_disk(stage, "pos:0")
        assert published(app) == ["2027-03-01", "2027-03-02"]  # as with the memory store
        app.release()
        await asyncio.sleep(0)

    asyncio.run(run())
    assert on_disk(stage, "day:2027-03-01") and on_disk(stage, "day:2027-03-02")
    assert on_disk(stage, "pos:0")
    records = app.next[0]  # outbox entry, two days, processed ids, position
    assert stage.table.data.persisted_offset(SimpleNamespace(partition=0)) == records - 1
    assert days.keys("2027-03") == {"day:2027-03-01", "day:2027-03-02"}


def test_a_batch_waits_when_too_many_flushes_are_unacknowledged(tmp_path):
    app, stage, _ = build(tmp_path)
    last = MAX_UNACKNOWLEDGED_FLUSHES  # the batch one past the bound

    async def run():
        for n in range(last):
            await stage.process_batch([record(n, n, 2)])
        waiting = asyncio.ensure_future(stage.process_batch([record(last, last, 2)]))
        await asyncio.sleep(0.01)
        assert not waiting.done()  # it waits for the oldest flush
        assert not on_disk(stage, "pos:0")
        app.release()
        await waiting

    asyncio.run(run())
    assert on_disk(stage, "day:2027-03-01")
    assert stage._state(0).get("pos:0") is not None
    assert published(app)[-1] == f"2027-03-{last + 1:02d}"


def first_life(tmp_path, noted=False):
    """A stage handles two records, its state reaches the database, and the process
    dies (the outbox entry's tombstone waits for the next flush: it never comes)."""
    app, stage, _ = build(tmp_path, noted)

    async def run():
        batch = asyncio.ensure_future(stage.process_batch([record(0, 0, 2), record(1, 1, 2)]))
        while not app.held:
            await asyncio.sleep(0)
        app.release()
        await batch

    asyncio.run(run())
    for db in stage.table.data._dbs.values():
        db.close()


def test_a_stage_started_again_on_the_same_files_recovers_what_the_database_kept(tmp_path):
    first_life(tmp_path)
    app, stage, days = build(tmp_path)
    asyncio.run(stage.recover())
    assert stage.cursor.committed == {("ticks", 0): 2}
    assert days.keys("2027-03") == {"day:2027-03-01", "day:2027-03-02"}
    assert published(app) == ["2027-03-01", "2027-03-02"]  # the outbox, published again
    assert stage.stats.resent == 2


def test_a_batch_whose_partition_moved_while_it_waited_to_flush_writes_and_sends_nothing(
        tmp_path):
    """The batch waits for the flush lock (the timer's prune holds it); meanwhile a
    rebalance makes partition 0 another worker's. Its new owner handles those records
    again from the position it recovered, so this worker neither writes the batch's
    state into that changelog nor publishes its outputs."""
    app, stage, _ = build(tmp_path)

    async def run():
        stage._flushing = asyncio.Lock()
        await stage._flushing.acquire()
        batch = asyncio.ensure_future(stage.process_batch([record(0, 0, 2)]))
        await asyncio.sleep(0.01)
        assert not batch.done()  # handled and committed, waiting to flush
        stage.table.data._disown(0)
        stage._flushing.release()
        await batch

    asyncio.run(run())
    assert app.next[0] == 0  # no changelog record for partition 0
    assert published(app) == []
    assert not stage._owns(0)


def test_a_record_of_a_partition_that_moved_is_left_to_its_new_owner_not_dead_lettered(
        tmp_path):
    app, stage, _ = build(tmp_path)
    stage.table.data._disown(0)  # its state is another worker's now

    asyncio.run(stage.process_batch([record(0, 0, 2)]))
    assert stage.stats.dead_letters == 0 and stage.stats.stale == 1
    assert published(app) == [] and app.next[0] == 0


def test_a_recovery_reads_only_the_keys_its_indexes_and_the_stage_follow(tmp_path, caplog):
    """A key no index follows (``note:``) is not read by a recovery, so what piles up
    under such keys does not slow a restart; the handler still finds it by id."""
    first_life(tmp_path, noted=True)
    app, stage, days = build(tmp_path, noted=True)
    caplog.set_level("INFO", logger="eventbus.stage")
    asyncio.run(stage.recover())
    assert days.keys("2027-03") == {"day:2027-03-01", "day:2027-03-02"}
    assert stage.cursor.committed == {("ticks", 0): 2}
    assert published(app) == ["2027-03-01", "2027-03-02"]  # the outbox, read and resent
    assert stage._state(0).get("note:2027-03-01") == "2027-03-01"
    read = [r.keys for r in caplog.records if r.getMessage() == "stage recovered"]
    # two days, the outbox entry, the processed-id marker, the position: not the notes
    assert read == [5]


def test_what_a_crash_left_in_the_outbox_is_published_again_in_the_order_written():
    """An entry's key carries its batch's first event id, so the keys sort by id: a
    recovery that published them in key order put a proposal after the withdrawal
    that followed it. Entries now go out by their batch's commit time, then chunk; an
    entry from before the time was kept goes first."""
    from eventbus.stage import _written_order

    left = [("out:0:zz-first:0", {"p": 0, "t": 100.0}),
            ("out:0:zz-first:1", {"p": 0, "t": 100.0}),
            ("out:0:aa-second:0", {"p": 0, "t": 100.5}),
            ("out:0:mm-older:0", {"p": 0})]
    assert [k for k, _ in sorted(left)] == [  # key order: the second batch first
        "out:0:aa-second:0", "out:0:mm-older:0", "out:0:zz-first:0", "out:0:zz-first:1"]
    assert [k for k, _ in sorted(left, key=_written_order)] == [
        "out:0:mm-older:0", "out:0:zz-first:0", "out:0:zz-first:1", "out:0:aa-second:0"]
