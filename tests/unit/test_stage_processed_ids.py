"""Duplicate suppression by event id (eventbus/processed.py, eventbus/stage.py): the
same event published again, at another offset, is passed over, also after a recovery
(the ids come back from the batch markers in the table), until it expires."""

import asyncio
import time
import uuid
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from eventbus import processed
from tests.support.stage_fakes import App, handle, make_stage, published, record, state


def again(rec, offset):
    """The same record (event id and all) published again at ``offset``."""
    return replace(rec, message=replace(rec.message, offset=offset))


def test_an_event_published_again_is_passed_over_before_and_after_a_recovery():
    app = App()
    stage, _ = make_stage(app)
    first = record(0, 0, 2)
    handle(stage, [first, record(1, 1, 2)])
    handle(stage, [again(first, 2)])
    assert published(app) == ["2027-03-01", "2027-03-02"]
    assert stage.stats.duplicates == 1
    asyncio.run(stage.recover())  # the ids come back from the markers in the table
    handle(stage, [again(first, 3), record(2, 4, 2)])
    assert published(app) == ["2027-03-01", "2027-03-02", "2027-03-03"]
    assert stage.stats.duplicates == 2


def test_ids_expire_with_their_batch_marker():
    app = App()
    stage, _ = make_stage(app)
    stage.dedup_retention_s = 60.0
    first = record(0, 0, 2)
    handle(stage, [first])
    markers = [k for k in stage.table.data if k.startswith("seen:")]
    assert len(markers) == 1 and len(stage._processed) == 1
    asyncio.run(stage.prune_seen())  # not yet
    assert len(stage._processed) == 1
    stage.dedup_retention_s = -1.0  # the window has passed
    asyncio.run(stage.prune_seen())
    assert len(stage._processed) == 0
    assert not [k for k in stage.table.data if k.startswith("seen:")]
    handle(stage, [again(first, 1)])  # outside the window it is new again
    assert published(app) == ["2027-03-01", "2027-03-01"]
    assert state(stage) == ["day:2027-03-01"]


def test_a_uuid_is_kept_as_one_integer_per_partition_and_any_other_id_as_it_is():
    event_id = str(uuid.uuid4())
    assert processed.key(0, event_id) != processed.key(1, event_id)
    k = processed.key(5, event_id)
    assert isinstance(k, int) and k >> processed.PARTITION_BITS == uuid.UUID(event_id).int
    upper = event_id.upper()  # another spelling is another id
    assert processed.key(5, upper) == f"5:{upper}" != processed.key(5, event_id)
    assert processed.key(5, "border-feed-17") == "5:border-feed-17"


def test_expiry_forgets_only_the_batches_before_the_cutoff():
    ids = processed.ProcessedIds()
    now = time.time()
    ids.batch(now - 100, "seen:0:a", 0, ["0:a", "0:b"])
    ids.batch(now, "seen:1:c", 1, ["1:c"])
    assert list(ids.expire(now - 50)) == [("seen:0:a", 0)]
    assert "0:a" not in ids and "0:b" not in ids and "1:c" in ids


class PlainIds:
    """The model: the plain set and the batches' key lists that ProcessedIds was."""

    def __init__(self):
        self.keys = set()
        self.batches = []

    def batch(self, t, marker, partition, keys):
        kept = list(keys)
        self.keys.update(kept)
        self.batches.append((t, marker, partition, kept))

    def expire(self, cutoff):
        gone = []
        while self.batches and self.batches[0][0] < cutoff:
            _, marker, partition, keys = self.batches.pop(0)
            self.keys.difference_update(keys)
            gone.append((marker, partition))
        return gone


def _uuid(high, low):
    return str(uuid.UUID(int=high << 64 | low))


# UUIDs sharing their high half, the same id in several partitions (the highest too),
# ids that are no UUID, and integers no UUID key can be
_HIGH = [0, 0x0123456789ABCDEF, (1 << 64) - 1]
_LOW = [0, 1, 0xFEDCBA9876543210, (1 << 64) - 1]
POOL = sorted({processed.key(p, _uuid(h, lo)) for h in _HIGH for lo in _LOW[:3] for p in (0, 1)}
              | {processed.key(65535, _uuid(h, _LOW[3])) for h in _HIGH}
              | {processed.key(p, "border-feed-17") for p in (0, 3)}
              | {processed.key(0, _uuid(_HIGH[1], 7).upper()), -1, 1 << 150}, key=str)


class Processed(RuleBasedStateMachine):
    """ProcessedIds (sealing after a few keys) against the plain set, under the calls a
    stage makes: keys added while a batch is handled, then committed with the batch or
    discarded when a rebalance abandons it; recovered batches; expiry; recovery.
    Also keys added again while held (a stage without dedup) and discarded at will."""

    @initialize(seal_at=st.integers(1, 6))
    def start(self, seal_at):
        self.ids = processed.ProcessedIds(seal_at=seal_at)
        self.model = PlainIds()
        self.pending = []
        self.clock = 1000.0
        self.markers = 0

    @rule(k=st.sampled_from(POOL))
    def handle_a_new_id(self, k):  # a stage with dedup adds only ids it does not hold
        if k not in self.model.keys:
            self.add(k)

    @rule(k=st.sampled_from(POOL))
    def add(self, k):
        self.ids.add(k)
        self.model.keys.add(k)
        self.pending.append(k)

    @rule(data=st.data())
    def add_a_held_id(self, data):  # a stage without dedup handles a duplicate again
        held = sorted(self.model.keys, key=str)
        if held:
            self.add(data.draw(st.sampled_from(held)))

    @rule(dt=st.sampled_from([0.0, 1.0, 5.0, -3.0]), partition=st.integers(0, 3))
    def commit(self, dt, partition):
        self.clock += dt  # now and then a batch comes with an earlier time
        self.markers += 1
        for ids in (self.ids, self.model):  # as the stage's recovery: an iterator
            ids.batch(self.clock, f"seen:{self.markers}", partition, iter(self.pending))
        self.pending = []

    @rule()
    def abandon(self):
        for k in self.pending:
            self.ids.discard(k)
            self.model.keys.discard(k)
        self.pending = []

    @rule(keys=st.lists(st.sampled_from(POOL), max_size=4), dt=st.sampled_from([0.0, 2.0]))
    def recover_a_batch(self, keys, dt):
        self.clock += dt
        self.markers += 1
        for ids in (self.ids, self.model):
            ids.batch(self.clock, f"seen:{self.markers}", 2, keys)

    @rule(k=st.sampled_from(POOL))
    def discard_any(self, k):
        self.ids.discard(k)
        self.model.keys.discard(k)

    @rule(back=st.sampled_from([0.0, 2.0, 6.0, 30.0]))
    def expire(self, back):
        cutoff = self.clock - back
        assert list(self.ids.expire(cutoff)) == self.model.expire(cutoff)

    @rule()
    def clear(self):
        self.ids.clear()
        self.model = PlainIds()
        self.pending = []

    @invariant()
    def the_same_ids_are_held(self):
        assert [k for k in POOL if k in self.ids] == [k for k in POOL if k in self.model.keys]
        assert len(self.ids) == len(self.model.keys)


Processed.TestCase.settings = settings(max_examples=400, stateful_step_count=60,
                                       deadline=None)
test_processed_ids_behave_as_the_plain_set = Processed.TestCase


def test_sealed_keys_are_found_until_their_batch_expires():
    ids = processed.ProcessedIds(seal_at=4)
    high = 0x0123456789ABCDEF
    first = [processed.key(p, _uuid(high, low)) for low in (1, 2) for p in (0, 1)]
    second = [processed.key(0, _uuid(high, 3)), processed.key(0, str(uuid.uuid4())),
              processed.key(0, "border-feed-17"), processed.key(1, _uuid(high + 1, 1))]
    for k in first:
        ids.add(k)
    ids.batch(100.0, "seen:0:a", 0, first)
    assert len(ids._sealed) == 4 and not ids._recent  # committed: sealed
    ids.add(second[0])  # handled, not committed: stays in the set
    assert len(ids._sealed) == 4 and second[0] in ids._recent
    ids.batch(200.0, "seen:0:b", 0, second)
    assert len(ids._sealed) == 7 and ids._recent == {"0:border-feed-17"}
    assert all(k in ids for k in first + second) and len(ids) == 8
    assert processed.key(0, _uuid(high, 4)) not in ids  # the same high half, another id
    assert processed.key(2, _uuid(high, 1)) not in ids  # the same id, another partition
    assert list(ids.expire(150.0)) == [("seen:0:a", 0)]
    assert not any(k in ids for k in first) and all(k in ids for k in second)
    assert len(ids) == 4 and len(ids._sealed) == 3
    assert list(ids.expire(250.0)) == [("seen:0:b", 0)]
    assert len(ids) == 0 and not ids._recent and not len(ids._sealed)


def test_a_sealed_key_added_again_goes_when_its_sealed_batch_expires():
    ids = processed.ProcessedIds(seal_at=1)  # as the plain set: any batch's expiry removes it
    again, other = processed.key(1, _uuid(0, 0)), processed.key(0, _uuid((1 << 64) - 1, 0))
    ids.batch(1000.0, "seen:1", 2, [again])
    ids.add(again)  # handled again (no dedup), with another id after it
    ids.add(other)
    ids.batch(1002.0, "seen:2", 2, [])
    assert list(ids.expire(1002.0)) == [("seen:1", 2)]
    assert again not in ids and other in ids and len(ids) == 1


# ids a recovery reads back: UUIDs (some in several batches and partitions), other
# spellings of one, ids that are no UUID (one of a UUID's length, one with a hyphen
# where a digit goes, one not ASCII)
_IDS = [_uuid(h, lo) for h in _HIGH for lo in _LOW] + [
    _uuid(_HIGH[1], 7).upper(), "{" + _uuid(0, 9) + "}", _uuid(0, 9).replace("-", ""),
    "border-feed-17", "x" * 36, _uuid(0, 5)[:9] + "-" + _uuid(0, 5)[10:],
    _uuid(0, 6)[:35] + "é", ""]


@settings(max_examples=300, deadline=None)
@given(batches=st.lists(st.tuples(st.sampled_from([0.0, 1.0, 5.0, -3.0]),
                                  st.sampled_from([0, 1, 65535]),
                                  st.lists(st.sampled_from(_IDS), max_size=6)),
                        max_size=8),
       cutoffs=st.lists(st.sampled_from([0.0, 2.0, 6.0, 30.0]), max_size=3),
       chunk=st.sampled_from([1, 3, 10_000]))
def test_a_recovery_holds_what_its_batches_one_by_one_would(batches, cutoffs, chunk):
    """``ProcessedIds.recover`` (every batch read back, in any order, its ids keyed a
    chunk at a time and the UUIDs sealed in one go)
    against the same batches given to ``batch`` one by one: the same keys held, the
    same count, and expiry forgets the same batches."""
    markers, clock = [], 1000.0
    for n, (dt, partition, ids) in enumerate(batches):
        clock += dt
        markers.append((clock, f"seen:{n}", partition, ids))
    one_by_one, at_once = processed.ProcessedIds(seal_at=4), processed.ProcessedIds()
    for t, marker, partition, ids in sorted(markers, key=lambda m: m[:2]):  # as written
        one_by_one.batch(t, marker, partition, [processed.key(partition, i) for i in ids])
    read = processed.Recovery()
    read.CHUNK = chunk  # keyed a few ids at a time, as a restart keys thousands
    for t, marker, partition, ids in reversed(markers):  # in any order
        read.add(t, marker, partition, ids)
    at_once.recover(read)
    keys = sorted({processed.key(p, i) for p in (0, 1, 65535) for i in _IDS}, key=str)
    for back in [*cutoffs, None]:
        assert [k for k in keys if k in at_once] == [k for k in keys if k in one_by_one]
        assert len(at_once) == len(one_by_one)
        if back is not None:
            assert list(at_once.expire(clock - back)) == list(one_by_one.expire(clock - back))
    assert [k for k in keys if k in at_once] == [k for k in keys if k in one_by_one]
