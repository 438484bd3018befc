"""The codec: events to JSON values with CloudEvents headers and back; anything
that is not a valid event is refused with a reason a human can read."""

from datetime import date

import pytest

from schemas import registry
from schemas.codec import DecodeError, decode, encode
from schemas.events.clock import ClockTicked, TickSource
from schemas.events.employers import EmployerRegistered

EVENT = EmployerRegistered(employer_id="e-1", country="DE")


def headers_of(enc):
    return dict(enc.headers)


def test_round_trip_keeps_event_and_envelope():
    enc = encode(EVENT, source="/test", causation_id="cause-1")
    assert enc.key == b"e-1"
    h = headers_of(enc)
    for name in ("ce_id", "ce_type", "ce_source", "ce_specversion", "ce_time", "content-type",
                 "ce_schemaversion", "ce_subject", "ce_causationid"):
        assert name in h
    assert h["ce_type"] == b"circular.employer.registered"
    assert h["ce_specversion"] == b"1.0"
    assert h["content-type"] == b"application/json"
    decoded = decode(enc.value, enc.headers)
    assert decoded.event == EVENT
    assert decoded.envelope.id == enc.envelope.id
    assert decoded.envelope.causationid == "cause-1"


def test_every_event_gets_a_unique_id_unless_given_one():
    ids = {encode(EVENT, source="/t").envelope.id for _ in range(100)}
    assert len(ids) == 100
    assert encode(EVENT, source="/t", event_id="fixed").envelope.id == "fixed"


@pytest.mark.parametrize(("value", "headers", "reason"), [
    (b"{}", [], "bad CloudEvents headers"),
    (b"{}", None, "bad CloudEvents headers"),
    (b"not json", "ok", "not JSON"),
    (b"[1, 2]", "ok", "not a JSON object"),
    (b'{"employer_id": "e-1"}', "ok", "country: Field required"),
    (b'{"employer_id": "e-1", "country": "XX"}', "ok", "country"),
    (b'{"employer_id": "e-1", "country": "DE", "extra": 1}', "ok", "extra"),
    (None, "ok", "empty value"),
    (b"\xff\xfe", "ok", "not JSON"),
])
def test_invalid_records_are_refused_with_a_reason(value, headers, reason):
    if headers == "ok":
        headers = encode(EVENT, source="/t").headers
    with pytest.raises(DecodeError) as info:
        decode(value, headers)
    assert reason in info.value.reason


def test_unknown_type_and_newer_version_are_refused():
    enc = encode(EVENT, source="/t")
    unknown = [(k, b"circular.nope" if k == "ce_type" else v) for k, v in enc.headers]
    with pytest.raises(DecodeError, match="unknown event type"):
        decode(enc.value, unknown)
    newer = [(k, b"2" if k == "ce_schemaversion" else v) for k, v in enc.headers]
    with pytest.raises(DecodeError, match="newer"):
        decode(enc.value, newer)


def test_old_versions_are_upcast(monkeypatch):
    """A v1 record of an event now at v2 is lifted by its upcaster, then validated."""
    monkeypatch.setattr(ClockTicked, "version", 2)

    def v1_to_v2(data):
        lifted = dict(data)
        lifted["source"] = lifted.pop("origin")
        return lifted

    monkeypatch.setitem(registry.UPCASTERS, (ClockTicked.type, 1), v1_to_v2)
    old = encode(ClockTicked(date=date(2027, 1, 1), source=TickSource.ADMIN), source="/t")
    old_headers = [(k, b"1" if k == "ce_schemaversion" else v) for k, v in old.headers]
    old_value = old.value.replace(b'"source"', b'"origin"')
    decoded = decode(old_value, old_headers)
    assert decoded.event == ClockTicked(date=date(2027, 1, 1), source=TickSource.ADMIN)


def test_missing_upcaster_is_reported(monkeypatch):
    monkeypatch.setattr(ClockTicked, "version", 3)
    enc = encode(ClockTicked(date=date(2027, 1, 1), source=TickSource.ADMIN), source="/t")
    old_headers = [(k, b"1" if k == "ce_schemaversion" else v) for k, v in enc.headers]
    with pytest.raises(DecodeError, match="no upcaster"):
        decode(enc.value, old_headers)
