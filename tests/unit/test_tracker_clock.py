"""Time in the tracker (SPEC 3.6): the clock never goes backwards, every partition
sees every tick, and the group leader publishes one tick a day."""

import asyncio
from datetime import date, timedelta

import faust
import pytest

from schemas import topics as t
from schemas.codec import decode
from schemas.envelope import derived_event_id
from schemas.events.clock import ClockTicked, TickSource
from services.tracker import bootstrap
from services.tracker.clock_stage import ClockStage
from services.tracker.daily_tick import daily_tick, tick_event_id, utc_today
from services.tracker.domain.clock import advance
from services.tracker.settings import TrackerSettings
from tests.support.stage_harness import StageHarness

DAY = date(2027, 5, 10)


def test_advance_moves_the_clock_forward_only():
    assert advance(None, DAY) == DAY
    assert advance(DAY, DAY + timedelta(days=1)) == DAY + timedelta(days=1)
    assert advance(DAY, DAY + timedelta(days=400)) == DAY + timedelta(days=400)
    assert advance(DAY, DAY) is None  # the same day again changes nothing
    assert advance(DAY, DAY - timedelta(days=1)) is None


def tick(day, source=TickSource.ADMIN):
    return ClockTicked(date=day, source=source)


def test_one_tick_reaches_every_partition_once_with_one_id():
    clock = StageHarness(ClockStage("ticks", 6).handle)
    out = clock.feed(tick(DAY))
    assert sorted(o.partition for o in out) == [0, 1, 2, 3, 4, 5]
    assert {o.topic for o in out} == {"ticks"}
    assert {o.event_id for o in out} == {derived_event_id("tick", DAY.isoformat())}
    assert {o.event.date for o in out} == {DAY}
    assert clock.table == {"today": DAY.isoformat()}


@pytest.mark.parametrize("days", [0, -1, -30])
def test_a_tick_not_later_than_today_reaches_no_partition(days):
    clock = StageHarness(ClockStage("ticks", 6).handle)
    clock.feed(tick(DAY))
    assert clock.feed(tick(DAY + timedelta(days=days), TickSource.TRACKER)) == []
    assert clock.table == {"today": DAY.isoformat()}
    later = clock.feed(tick(DAY + timedelta(days=1)))
    assert len(later) == 6
    assert {o.event_id for o in later} == {derived_event_id("tick", "2027-05-11")}


class FakeProducer:
    def __init__(self):
        self.sent = []

    async def send(self, topic, key, value, partition, timestamp, headers):
        self.sent.append((topic, key, value, partition, headers))


class FakeApp:
    def __init__(self):
        self.producer = FakeProducer()


def run_ticks(tick_fn, times):
    async def go():
        for _ in range(times):
            await tick_fn()
    asyncio.run(go())


def sent_ticks(producer):
    out = []
    for topic, key, value, partition, headers in producer.sent:
        decoded = decode(value, headers)
        assert (topic, key, partition) == ("clock-topic", b"clock", None)
        assert decoded.event.source is TickSource.TRACKER
        out.append((decoded.event.date, decoded.envelope.id))
    return out


def test_the_daily_tick_publishes_each_date_once_and_never_goes_back():
    days = iter([DAY, DAY, DAY + timedelta(days=1), DAY, DAY + timedelta(days=1),
                 DAY + timedelta(days=3), DAY + timedelta(days=2)])
    app = FakeApp()
    run_ticks(daily_tick(app, "clock-topic", today=lambda: next(days)), 7)
    assert sent_ticks(app.producer) == [
        (d, derived_event_id("daily-tick", d.isoformat()))
        for d in (DAY, DAY + timedelta(days=1), DAY + timedelta(days=3))]


def test_a_new_leader_publishes_the_day_again_with_the_same_id():
    first, second = FakeApp(), FakeApp()
    run_ticks(daily_tick(first, "clock-topic", today=lambda: DAY), 2)
    run_ticks(daily_tick(second, "clock-topic", today=lambda: DAY), 1)
    assert sent_ticks(first.producer) == sent_ticks(second.producer) == [
        (DAY, tick_event_id(DAY))]
    # and the clock stage lets that day through once: the repeat changes nothing
    clock = StageHarness(ClockStage("ticks", 6).handle)
    assert len(clock.feed(tick(DAY), event_id=tick_event_id(DAY))) == 6
    assert clock.feed(tick(DAY), event_id=tick_event_id(DAY)) == []


def test_a_failed_send_is_tried_again_at_the_next_check():
    class Flaky(FakeProducer):
        async def send(self, *args):
            if not self.sent and not getattr(self, "failed", False):
                self.failed = True
                raise ConnectionError("broker away")
            await super().send(*args)

    app = FakeApp()
    app.producer = Flaky()
    tick_fn = daily_tick(app, "clock-topic", today=lambda: DAY)
    with pytest.raises(ConnectionError):
        run_ticks(tick_fn, 1)
    run_ticks(tick_fn, 2)
    assert sent_ticks(app.producer) == [(DAY, tick_event_id(DAY))]


@pytest.fixture
def timers(monkeypatch):
    """Every ``app.timer(...)`` registration: (interval, on_leader, function)."""
    seen = []
    real = faust.App.timer

    def spy(self, interval, on_leader=False, **kwargs):
        inner = real(self, interval, on_leader=on_leader, **kwargs)

        def register(fun):
            seen.append((self, interval, on_leader, fun))
            return inner(fun)
        return register

    monkeypatch.setattr(faust.App, "timer", spy)
    return seen


def settings(tmp_path, **extra):
    return TrackerSettings(var_dir=tmp_path, topic_prefix="x.", **extra)


def test_build_runs_the_daily_tick_on_the_leader_only(tmp_path, timers, monkeypatch):
    app = bootstrap.build(settings(tmp_path, tracker_tick_check_seconds=30))
    leader = [(interval, fun) for owner, interval, on_leader, fun in timers
              if on_leader and owner is app]
    assert len(leader) == 1
    interval, fun = leader[0]
    assert interval == 30
    # it is the daily tick, publishing to the app's clock topic
    fake = FakeProducer()
    app.producer = fake
    asyncio.run(fun())
    [(topic, key, value, partition, headers)] = fake.sent
    assert (topic, key, partition) == (f"x.{t.CLOCK.name}", b"clock", None)
    event = decode(value, headers).event
    assert event.source is TickSource.TRACKER
    assert event.date in (utc_today(), utc_today() - timedelta(days=1))  # around midnight


def test_build_without_the_daily_tick_registers_no_leader_timer(tmp_path, timers):
    app = bootstrap.build(settings(tmp_path, tracker_daily_tick=False))
    assert [t_ for t_ in timers if t_[0] is app and t_[2]] == []
    assert [t_ for t_ in timers if t_[0] is app]  # the spy saw the app's other timers
