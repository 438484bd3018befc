"""A stage handles each partition's records in order from its position, each once,
whatever faust delivers: repeats, records after a hole that faust dropped, records
already handled before a crash (eventbus/positions.py)."""

import asyncio
from types import SimpleNamespace

import pytest
from faust.types import TP

from eventbus import positions
from eventbus.faustapp import Consumer
from tests.support.stage_fakes import App, handle, make_stage, published, record


def days_published(app):
    return [int(day.split("-")[-1]) for day in published(app)]


def test_each_record_is_handled_once_in_the_order_of_its_partition():
    app = App()
    stage, _ = make_stage(app)
    handle(stage, [record(0, 0, 2), record(1, 1, 2), record(2, 2, 2)])
    assert stage.table.data["pos:0"] == {"p": 0, "next": {"ticks": 3}}
    handle(stage, [record(1, 1, 2), record(2, 2, 2), record(3, 3, 2)])  # two again
    assert days_published(app) == [1, 2, 3, 4]
    # faust lost the records at offsets 4 and 5: what comes after them waits
    handle(stage, [record(6, 6, 2), record(7, 7, 2)])
    assert days_published(app) == [1, 2, 3, 4]
    assert app.sought == [(("ticks", 0), 4)]
    assert stage.table.data["pos:0"]["next"] == {"ticks": 4}
    handle(stage, [record(4, 4, 2), record(5, 5, 2), record(6, 6, 2), record(7, 7, 2)])
    assert days_published(app) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert stage.stats.gaps == 2 and stage.stats.processed == 8


def test_a_hole_that_stays_after_fetching_again_is_passed_after_a_while(monkeypatch, caplog):
    now = [1000.0]
    monkeypatch.setattr(positions.time, "monotonic", lambda: now[0])
    app = App()
    stage, _ = make_stage(app)
    handle(stage, [record(0, 0, 2)])
    handle(stage, [record(3, 3, 2)])  # 1 and 2 were deleted by retention, say
    now[0] += 0.5
    handle(stage, [record(3, 3, 2)])  # fetched again at most once a second
    now[0] += 1.0
    handle(stage, [record(3, 3, 2)])
    assert app.sought == [(("ticks", 0), 1), (("ticks", 0), 1)]
    assert days_published(app) == [1]
    now[0] += positions.GIVE_UP_SECONDS
    handle(stage, [record(3, 3, 2), record(4, 4, 2)])
    assert days_published(app) == [1, 4, 5]
    assert "records missing from the log were passed over" in caplog.text


def test_positions_come_back_with_the_table_and_the_lowest_stage_wins():
    app = App()
    stage, _ = make_stage(app)
    handle(stage, [record(0, 0, 2), record(1, 1, 2), record(2, 2, 2)])
    # the worker restarts: a new stage recovers the same table
    again = App()
    restarted, _ = make_stage(again)
    restarted.table.data.update(stage.table.data)
    asyncio.run(restarted.recover())
    assert positions.of(again).low("ticks", 0) == 3
    handle(restarted, [record(1, 1, 2), record(2, 2, 2), record(3, 3, 2)])
    assert days_published(again) == [4]
    # another stage reading the same topic is behind: a recovery seeks to it
    positions.of(again).update("other", ("ticks", 0), 2)
    assert positions.of(again).low("ticks", 0) == 2
    assert positions.of(again).low("ticks", 1) is None


@pytest.mark.parametrize(("committed", "position", "sought"), [
    (10, 7, 7),  # faust committed past records the stage never handled
    (10, 12, None),  # the stage is ahead: it passes over what it handled
    (None, 5, 5),  # faust never committed
    (10, None, None),  # nothing handled by a stage yet
])
def test_a_recovery_seeks_to_the_stage_position_when_the_commit_went_past_it(
        committed, position, sought):
    tp = TP("circular.workers", 1)
    c = Consumer.__new__(Consumer)
    c._track_seeks()
    c._read_offset, c._committed_offset = {}, {}
    c.app = SimpleNamespace()
    if position is not None:
        positions.of(c.app).update("workers", (tp.topic, tp.partition), position)
    seeks = []

    async def seek_to_committed():
        return {tp: committed}

    async def seek(partition, offset):
        seeks.append(offset)

    c.seek_to_committed = seek_to_committed
    c._seek = seek
    asyncio.run(c.perform_seek())
    assert seeks == ([] if sought is None else [sought])
    assert c._read_offset[tp] == (sought if sought is not None else committed)


def test_a_partition_keeps_the_position_of_each_of_its_topics():
    from dataclasses import replace

    app = App()
    stage, _ = make_stage(app)
    handle(stage, [record(0, 0, 2), record(1, 1, 2)])
    other = record(2, 7, 2)
    other = replace(other, message=replace(other.message, topic="other"))
    handle(stage, [other])
    assert stage.table.data["pos:0"] == {"p": 0, "next": {"ticks": 2, "other": 8}}


def test_a_partition_never_read_starts_at_its_log_start_not_at_the_first_record_seen():
    """Around a rebalance faust drops records it fetched; for a partition the stage has
    no position in yet, the next record to arrive may be from further on. Taken as the
    start, every record before it would be passed over as handled: lost."""
    app = App()
    stage, _ = make_stage(app)
    asyncio.run(stage.recover())  # the assignment: ticks[0], never read, begins at 0
    handle(stage, [record(5, 5, 2), record(6, 6, 2)])
    assert days_published(app) == []
    assert app.sought == [(("ticks", 0), 0)]
    handle(stage, [record(n, n, 2) for n in range(7)])
    assert days_published(app) == [1, 2, 3, 4, 5, 6, 7]


def test_a_log_that_begins_later_is_started_there():
    app = App()
    app.log_start[TP("ticks", 0)] = 40  # retention removed what came before
    stage, _ = make_stage(app)
    asyncio.run(stage.recover())
    handle(stage, [record(0, 40, 2), record(1, 41, 2)])
    assert days_published(app) == [1, 2] and app.sought == []
