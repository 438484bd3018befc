"""Records a worker fetched before a rebalance are not handled by it: the partition
may have moved, and what this worker's table holds of it is gone. Handled anyway,
they would write what an empty state decides, and mark themselves done, into the
changelog the partition's new owner recovers from."""

import asyncio
from typing import Any, cast

from tests.support.stage_fakes import App, handle, make_stage, published, record, state


def test_records_fetched_before_the_latest_rebalance_are_left_for_their_owner():
    app = App()
    stage, days = make_stage(app)
    handle(stage, [record(0, 9, 2)])
    handle(stage, [record(1, 10, 1), record(2, 11, 1), record(3, 12, 2)])
    # 10 and 11 are stale; 12 is current, but 10 and 11 must come before it
    assert state(stage) == ["day:2027-03-01"]
    assert len(published(app)) == 1
    assert days.keys("2027-03") == {"day:2027-03-01"}
    assert stage.stats.stale == 2 and stage.stats.processed == 1
    assert app.sought == [(("ticks", 0), 10)]
    # delivered again in the current generation, they are handled, not taken as repeats
    handle(stage, [record(1, 10, 2), record(2, 11, 2), record(3, 12, 2)])
    assert state(stage) == ["day:2027-03-01", "day:2027-03-02", "day:2027-03-03",
                            "day:2027-03-04"]
    assert len(published(app)) == 4


def test_a_batch_a_rebalance_overtook_leaves_nothing_behind():
    app = App()
    stage, days = make_stage(app)
    app.rebalance_on_dead_letter = True
    batch = [record(0, 10, 2), record(1, 11, 2, value=b"not json"), record(2, 12, 2)]
    handle(stage, batch)
    assert state(stage) == [] and published(app) == []
    assert days.keys("2027-03") == set()
    assert not [k for k in stage.table.data if k.startswith("seen:")]
    app.rebalance_on_dead_letter = False
    again = [record(0, 10, 3), record(1, 11, 3, value=b"not json"), record(2, 12, 3)]
    handle(stage, again)
    assert state(stage) == ["day:2027-03-01", "day:2027-03-03"]
    assert len(published(app)) == 2


def test_a_long_batch_lets_a_rebalance_in_and_then_leaves_nothing_behind(monkeypatch):
    """Handlers run on the event loop: a long batch lets the group's heartbeats and a
    rebalance through; the rebalance stopped the flow, so the batch is dropped."""
    from eventbus import stage as stage_module

    monkeypatch.setattr(stage_module, "YIELD_EVERY_SECONDS", 0.0)
    app = App()
    stage, days = make_stage(app)

    async def batch_with_a_rebalance():
        async def rebalance():
            app.flowing = False  # what faust does first when a rebalance begins
        asyncio.get_running_loop().create_task(rebalance())
        await stage.process_batch(cast(Any, [record(n, 10 + n, 2) for n in range(5)]))

    asyncio.run(batch_with_a_rebalance())
    assert state(stage) == [] and published(app) == []
    assert days.keys("2027-03") == set()
    assert "pos:0" not in stage.table.data
    app.flowing = True
    handle(stage, [record(n, 10 + n, 2) for n in range(5)])
    assert len(published(app)) == 5


class DaysCounted:
    """An index that counts (as the market's counters of held places do)."""

    def __init__(self):
        self.count = 0

    def apply(self, key, old, new):
        if key.startswith("day:"):
            self.count += (new is not None) - (old is not None)

    def clear(self):
        self.count = 0


def test_a_batch_a_recovery_overtook_leaves_the_rebuilt_indexes_as_they_are(monkeypatch):
    from eventbus import stage as stage_module

    monkeypatch.setattr(stage_module, "YIELD_EVERY_SECONDS", 0.0)
    app = App()
    stage, _ = make_stage(app)
    counted = DaysCounted()
    stage.indexes = (counted,)
    handle(stage, [record(0, 9, 2)])
    assert counted.count == 1

    async def batch_with_a_recovery():
        async def rebalance_and_recover():
            app.flowing = False
            app.consumer_generation_id += 1
            await stage.recover()  # indexes rebuilt from the table: one day
            app.flowing = True
        asyncio.get_running_loop().create_task(rebalance_and_recover())
        await stage.process_batch(cast(Any, [record(n, 9 + n, 2) for n in range(1, 4)]))

    asyncio.run(batch_with_a_recovery())
    assert state(stage) == ["day:2027-03-01"]
    assert counted.count == 1  # not 1 - 3: the batch's writes never reached the table
