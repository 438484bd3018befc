"""The base of every event payload."""

from __future__ import annotations

from typing import ClassVar

from schemas.codes import Contract


class Event(Contract):
    """An event payload. ``type`` names it on the wire (CloudEvents ``type``),
    ``version`` is its schema version; ``key_field`` names the field whose value is
    the Kafka key of the topic the event travels on."""

    type: ClassVar[str]
    version: ClassVar[int] = 1
    key_field: ClassVar[str]

    @property
    def key(self) -> str:
        return str(getattr(self, self.key_field))
