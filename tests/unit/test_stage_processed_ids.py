"""Duplicate suppression by event id (eventbus/processed.py, eventbus/stage.py): the
same event published again, at another offset, is passed over, also after a recovery
(the ids come back from the batch markers in the table), until it expires."""

import asyncio
import time
import uuid
from dataclasses import replace

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
