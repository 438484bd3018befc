"""The envelope of every event: CloudEvents 1.0 attributes, carried in Kafka headers
(binary content mode): ``ce_id``, ``ce_type``, ``ce_source``, ``ce_specversion``,
``ce_time``, ``ce_subject``, ``content-type`` and two extensions, ``ce_schemaversion``
and ``ce_causationid`` (the id of the event that caused this one, if any).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

CONTENT_TYPE: Literal["application/json"] = "application/json"
_DERIVED_NS = uuid.UUID("8a0c7b52-0f6d-4f0a-b7a6-0c2b8f3d9e61")

Headers = list[tuple[str, bytes]]


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: Annotated[str, Field(min_length=1, max_length=100)]
    type: Annotated[str, Field(min_length=1, max_length=100)]
    source: Annotated[str, Field(min_length=1, max_length=200)]
    specversion: Literal["1.0"] = "1.0"
    time: datetime
    subject: Annotated[str, Field(max_length=200)] | None = None
    schemaversion: Annotated[int, Field(ge=1)] = 1
    causationid: Annotated[str, Field(max_length=100)] | None = None
    datacontenttype: Literal["application/json"] = CONTENT_TYPE

    def headers(self) -> Headers:
        out: Headers = [
            ("ce_id", self.id.encode()),
            ("ce_type", self.type.encode()),
            ("ce_source", self.source.encode()),
            ("ce_specversion", self.specversion.encode()),
            ("ce_time", self.time.isoformat().encode()),
            ("ce_schemaversion", str(self.schemaversion).encode()),
            ("content-type", self.datacontenttype.encode()),
        ]
        if self.subject is not None:
            out.append(("ce_subject", self.subject.encode()))
        if self.causationid is not None:
            out.append(("ce_causationid", self.causationid.encode()))
        return out

    @classmethod
    def from_headers(cls, headers: Headers | None) -> Envelope:
        attrs: dict[str, str] = {}
        for name, raw in headers or ():
            value = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else str(raw)
            if name == "content-type":
                attrs["datacontenttype"] = value
            elif name.startswith("ce_"):
                attrs[name[3:]] = value
        return cls.model_validate(attrs)


def new_event_id() -> str:
    return str(uuid.uuid4())


def derived_event_id(*parts: str) -> str:
    """A deterministic id for an event that follows from others: the same parts give
    the same id, so re-deriving it after a crash lets consumers drop the repeat."""
    return str(uuid.uuid5(_DERIVED_NS, "\x1f".join(parts)))


def utcnow() -> datetime:
    return datetime.now(UTC)
