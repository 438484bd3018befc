"""The one codec every service uses: an event becomes a JSON value plus CloudEvents
headers, and back. Kafka topics carry raw bytes; consumers call :func:`decode`,
which validates with the pydantic model and raises :class:`DecodeError` with a
readable reason for anything that does not fit (the record then goes to the
topic's dead-letter topic).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from schemas.envelope import CONTENT_TYPE, Envelope, Headers, new_event_id, utcnow
from schemas.events.base import Event
from schemas.registry import UPCASTERS, by_type

MAX_VALUE_BYTES = 1_000_000


class DecodeError(ValueError):
    """A record that is not a valid event; ``reason`` says why, for humans."""

    def __init__(self, reason: str, envelope: Envelope | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.envelope = envelope


@dataclass(frozen=True)
class Encoded:
    key: bytes
    value: bytes
    headers: Headers
    envelope: Envelope


@dataclass(frozen=True)
class Decoded:
    envelope: Envelope
    event: Event


def encode(
    event: Event,
    *,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
    causation_id: str | None = None,
) -> Encoded:
    envelope = Envelope(
        id=event_id or new_event_id(),
        type=event.type,
        source=source,
        time=time or utcnow(),
        subject=event.key,
        schemaversion=event.version,
        causationid=causation_id,
    )
    value = event.model_dump_json().encode()
    return Encoded(key=event.key.encode(), value=value, headers=envelope.headers(),
                   envelope=envelope)


def decode(value: bytes | None, headers: Headers | None) -> Decoded:
    try:
        envelope = Envelope.from_headers(headers)
    except ValidationError as exc:
        raise DecodeError(f"bad CloudEvents headers: {_summary(exc)}") from None
    if envelope.datacontenttype != CONTENT_TYPE:
        raise DecodeError(f"unsupported content-type {envelope.datacontenttype}", envelope)
    cls = by_type().get(envelope.type)
    if cls is None:
        raise DecodeError(f"unknown event type {envelope.type!r}", envelope)
    if value is None:
        raise DecodeError("empty value", envelope)
    if len(value) > MAX_VALUE_BYTES:
        raise DecodeError(f"value larger than {MAX_VALUE_BYTES} bytes", envelope)
    if envelope.schemaversion > cls.version:
        raise DecodeError(
            f"{envelope.type} version {envelope.schemaversion} is newer than this "
            f"consumer understands ({cls.version})", envelope)
    if envelope.schemaversion == cls.version:
        try:  # the common case: one pass of pydantic's own JSON parser
            return Decoded(envelope=envelope, event=cls.model_validate_json(value))
        except ValidationError as exc:
            if exc.errors()[0]["type"] not in ("json_invalid", "model_type"):
                raise DecodeError(f"invalid {envelope.type}: {_summary(exc)}",
                                  envelope) from None
    try:
        data: Any = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError(f"value is not JSON: {exc}", envelope) from None
    if not isinstance(data, dict):
        raise DecodeError("value is not a JSON object", envelope)
    version = envelope.schemaversion
    while version < cls.version:
        upcast = UPCASTERS.get((envelope.type, version))
        if upcast is None:
            raise DecodeError(f"no upcaster from {envelope.type} v{version}", envelope)
        data = upcast(data)
        version += 1
    try:
        event = cls.model_validate(data)
    except ValidationError as exc:
        raise DecodeError(f"invalid {envelope.type}: {_summary(exc)}", envelope) from None
    return Decoded(envelope=envelope, event=event)


def _summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:10]:
        loc = ".".join(str(x) for x in err["loc"]) or "(value)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
