"""Tracker settings, read once at start (prefix ``CIRCULAR_``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from eventbus.settings import StreamSettings


class TrackerSettings(StreamSettings):
    tracker_daily_tick: Annotated[bool, Field(
        description="Publish one clock tick a day (the real date) from the group leader")] = True
    tracker_tick_check_seconds: Annotated[float, Field(
        gt=0, description="How often the leader checks whether the date changed")] = 60.0
    tracker_web_port: Annotated[int | None, Field(
        description="Port of the tracker's health page; unset: no web server")] = None
