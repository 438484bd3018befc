"""Matcher settings, read once at start (prefix ``CIRCULAR_``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from eventbus.settings import StreamSettings


class MatcherSettings(StreamSettings):
    matcher_web_port: Annotated[int | None, Field(
        description="Port of the matcher's health page; unset: no web server")] = None
