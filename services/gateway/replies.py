"""Bodies shared by many routes."""

from __future__ import annotations

from pydantic import BaseModel


class Accepted(BaseModel):
    """A write that goes through Kafka (202): the resource id, and its status until
    the owning service has decided."""

    id: str
    status: str
