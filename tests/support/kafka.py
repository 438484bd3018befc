"""Reading and writing topics from tests with a plain kafka-python client, the way
an outside Kafka client would."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from kafka import KafkaConsumer, KafkaProducer

from schemas.codec import Decoded, decode, encode
from schemas.events.base import Event


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]

    def decoded(self) -> Decoded:
        return decode(self.value, list(self.headers.items()))


class Publisher:
    def __init__(self, bootstrap: str) -> None:
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")

    def event(self, topic: str, event: Event, *, event_id: str | None = None) -> str:
        enc = encode(event, source="/tests", event_id=event_id)
        self.producer.send(topic, key=enc.key, value=enc.value, headers=enc.headers).get(30)
        return enc.envelope.id

    def raw(self, topic: str, key: bytes | None, value: bytes | None,
            headers: list[tuple[str, bytes]] | None = None) -> None:
        self.producer.send(topic, key=key, value=value, headers=headers or []).get(30)

    def close(self) -> None:
        self.producer.close(timeout=5)


def read_until(bootstrap: str, topics: list[str], done: Callable[[list[Record]], bool],
               timeout: float = 60.0) -> list[Record]:
    """Read ``topics`` from the start until ``done(records)``; fail after ``timeout``."""
    consumer = KafkaConsumer(*topics, bootstrap_servers=bootstrap,
                             group_id=f"test-reader-{uuid.uuid4().hex[:8]}",
                             auto_offset_reset="earliest", enable_auto_commit=False)
    records: list[Record] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(Record(r.topic, r.partition, r.offset, r.key, r.value,
                                      {k: bytes(v) for k, v in r.headers or []}) for r in batch)
            if done(records):
                return records
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(records)} records after {timeout}s on {topics}")
    finally:
        consumer.close(autocommit=False)


def read_all(bootstrap: str, topics: list[str], settle: float = 1.5) -> list[Record]:
    """Everything on ``topics`` now: reads until nothing new came for ``settle`` s."""
    consumer = KafkaConsumer(*topics, bootstrap_servers=bootstrap,
                             group_id=f"test-reader-{uuid.uuid4().hex[:8]}",
                             auto_offset_reset="earliest", enable_auto_commit=False)
    records: list[Record] = []
    quiet_since = time.monotonic()
    try:
        while time.monotonic() - quiet_since < settle:
            got = consumer.poll(timeout_ms=200)
            for batch in got.values():
                records.extend(Record(r.topic, r.partition, r.offset, r.key, r.value,
                                      {k: bytes(v) for k, v in r.headers or []}) for r in batch)
            if got:
                quiet_since = time.monotonic()
        return records
    finally:
        consumer.close(autocommit=False)
