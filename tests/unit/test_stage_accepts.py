"""A stage told which event types its handler acts on passes over the other known
types without decoding them, and still dead-letters what no contract knows. The
types come from the stage's handler table (one entry per type it handles), never
from a list kept beside it."""

from dataclasses import replace

import pytest

from eventbus.deadletter import dead_letter_topic
from eventbus.handlers import HandlerTable, Output
from eventbus.stage import Stage
from schemas.events.clock import ClockTicked
from schemas.events.workers import WorkerErased
from services.matcher.agreement_router import AgreementRouter
from services.matcher.legality_stage import LegalityShard
from services.matcher.market_stage import MarketShard
from services.matcher.worker_router import WorkerRouter
from services.tracker.clock_stage import ClockStage
from services.tracker.placements_stage import PlacementShard
from tests.support.stage_fakes import (
    App,
    Table,
    handle,
    make_stage,
    published,
    record,
    state,
)


def _retyped(rec, ce_type: bytes, value: bytes | None = None):
    headers = [(k, ce_type if k == "ce_type" else v) for k, v in rec.message.headers]
    return replace(rec, value=value if value is not None else rec.value,
                   message=replace(rec.message, headers=headers))


def test_records_of_other_known_types_are_passed_over_undecoded():
    app = App()
    stage, _ = make_stage(app)
    stage.accepts = frozenset({"circular.clock.ticked"})
    ticked = record(0, 0, 2)
    # a known type the handler does not act on, with a body that would not decode
    other = _retyped(record(1, 1, 2), b"circular.worker.erased", b"{not json")
    handle(stage, [ticked, other])
    assert published(app) == ["2027-03-01"]
    assert state(stage) == ["day:2027-03-01"]
    assert stage.stats.ignored == 1 and stage.stats.dead_letters == 0
    assert not [t for t, _, _ in app.sent if t == dead_letter_topic("ticks")]


def test_an_unknown_type_is_still_dead_lettered():
    app = App()
    stage, _ = make_stage(app)
    stage.accepts = frozenset({"circular.clock.ticked"})
    handle(stage, [_retyped(record(0, 0, 2), b"circular.nothing.known")])
    assert stage.stats.dead_letters == 1 and stage.stats.ignored == 0
    assert [t for t, _, _ in app.sent if t == dead_letter_topic("ticks")]
    assert published(app) == []


def _tick_handler(tx, decoded, ctx):
    day = decoded.event.date.isoformat()
    tx.set(f"day:{day}", day)
    yield Output("out", decoded.event, f"out-{day}")


def _table_stage(app, table):
    return Stage(app=app, name="s", source="/t", topics=("ticks",), handler=table,
                 table=Table())


def test_a_stage_accepts_what_its_handler_table_has_an_entry_for():
    app = App()
    stage = _table_stage(app, HandlerTable({ClockTicked: _tick_handler}))
    assert stage.accepts == frozenset({"circular.clock.ticked"})
    other = _retyped(record(1, 1, 2), b"circular.worker.erased", b"{not json")
    handle(stage, [record(0, 0, 2), other])
    assert published(app) == ["2027-03-01"]
    assert stage.stats.ignored == 1 and stage.stats.dead_letters == 0


def test_a_type_with_no_entry_is_passed_over_and_one_with_an_entry_is_not():
    app = App()
    # a table without the tick: ticks are passed over, undecoded
    stage = _table_stage(app, HandlerTable({WorkerErased: _tick_handler}))
    handle(stage, [record(0, 0, 2)])
    assert published(app) == [] and stage.stats.ignored == 1
    # the same record, with an entry: handled
    app = App()
    stage = _table_stage(app, HandlerTable({WorkerErased: _tick_handler,
                                            ClockTicked: _tick_handler}))
    handle(stage, [record(0, 0, 2)])
    assert published(app) == ["2027-03-01"] and stage.stats.ignored == 0


def test_a_list_of_types_beside_a_handler_table_is_refused():
    with pytest.raises(ValueError, match="handler table"):
        Stage(app=App(), name="s", source="/t", topics=("ticks",),
              handler=HandlerTable({ClockTicked: _tick_handler}), table=Table(),
              accepts=frozenset({"circular.clock.ticked"}))


@pytest.mark.parametrize("shard", [
    AgreementRouter("b", 6), LegalityShard("s", "m"), WorkerRouter("m", 6),
    MarketShard("m", "s", "q"), ClockStage("t", 6), PlacementShard("p", "t"),
], ids=lambda s: type(s).__name__)
def test_every_stage_of_the_matcher_and_tracker_accepts_what_its_table_handles(shard):
    assert isinstance(shard.handle, HandlerTable) and shard.handle.table
    stage = Stage(app=App(), name="s", source="/t", topics=("ticks",),
                  handler=shard.handle, table=Table())
    assert stage.accepts == frozenset(kind.type for kind in shard.handle.table)
