"""Matcher settings, read once at start (prefix ``CIRCULAR_``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from eventbus.settings import KafkaSettings


class MatcherSettings(KafkaSettings):
    matcher_web_port: Annotated[int | None, Field(
        description="Port of the matcher's health page; unset: no web server")] = None
    dedup_retention_hours: Annotated[float, Field(
        gt=0, description="How long processed event ids are remembered")] = 168.0
    dedup: Annotated[bool, Field(
        description="Skip events whose id was processed before; off only for the fault "
        "harness's control run, which must then see duplicates")] = True
    batch_size: Annotated[int, Field(ge=1, le=10_000,
                                     description="Records handled per stage batch")] = 500
