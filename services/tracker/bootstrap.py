"""Composition root: builds the tracker's faust app from settings."""

from __future__ import annotations

import faust

from eventbus.faustapp import make_app
from eventbus.stage import Stage
from schemas import topics as t
from services.tracker import clock_stage
from services.tracker.daily_tick import daily_tick
from services.tracker.settings import TrackerSettings


def build(settings: TrackerSettings) -> faust.App:
    name = settings.topic
    app = make_app(name(t.TRACKER_APP), settings, web_port=settings.tracker_web_port)
    clock_table = app.Table("clock", partitions=t.CLOCK.partitions)
    Stage(app=app, name="clock", source="/circular/tracker", topics=(name(t.CLOCK.name),),
          handler=clock_stage.handle, table=clock_table, partitions=t.CLOCK.partitions,
          dedup_retention_s=settings.dedup_retention_hours * 3600).install()
    if settings.tracker_daily_tick:
        app.timer(interval=settings.tracker_tick_check_seconds, on_leader=True)(
            daily_tick(app, name(t.CLOCK.name)))
    return app
