"""Composition root: builds the tracker's faust app from settings.

    circular.clock --> clock (1 partition) --> tracker ticks (every partition)
    movements, matches, tracker ticks --> placements (by worker)
        --> placements, reintegration-triggers (public)
"""

from __future__ import annotations

from typing import Any

import faust

from eventbus.faustapp import make_app
from eventbus.stage import Stage
from schemas import topics as t
from services.tracker.clock_stage import ClockStage
from services.tracker.daily_tick import daily_tick
from services.tracker.placements_stage import PlacementShard
from services.tracker.settings import TrackerSettings

SOURCE = "/circular/tracker"


def build(settings: TrackerSettings) -> faust.App:
    name = settings.topic
    app = make_app(name(t.TRACKER_APP), settings, web_port=settings.tracker_web_port,
                   table_store=settings.table_store,
                   table_max_age_hours=settings.table_store_max_age_hours)
    common: dict[str, Any] = {"source": SOURCE, **settings.stage_options()}
    clock = ClockStage(name(t.TRACKER_TICKS.name), t.PARTITIONS)
    Stage(app=app, name="clock", topics=(name(t.CLOCK.name),), handler=clock.handle,
          table=app.Table("clock", partitions=t.CLOCK.partitions),
          partitions=t.CLOCK.partitions, **common).install()
    shard = PlacementShard(name(t.PLACEMENTS.name), name(t.TRIGGERS.name))
    Stage(app=app, name="placements",
          topics=(name(t.MOVEMENTS.name), name(t.MATCHES.name), name(t.TRACKER_TICKS.name)),
          handler=shard.handle, table=app.Table("placements", partitions=t.PARTITIONS),
          indexes=shard.indexes, after_batch=shard.after_batch,
          **common).install()
    if settings.tracker_daily_tick:
        app.timer(interval=settings.tracker_tick_check_seconds, on_leader=True)(
            daily_tick(app, name(t.CLOCK.name)))
    return app
