"""A stage told which event types its handler acts on passes over the other known
types without decoding them, and still dead-letters what no contract knows."""

from dataclasses import replace

from eventbus.deadletter import dead_letter_topic
from tests.support.stage_fakes import App, handle, make_stage, published, record, state


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
