"""Reading and writing topics from tests with a plain kafka-python client, the way
an outside Kafka client would."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

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


def _from_the_start(bootstrap: str, topics: list[str],
                    deadline: float) -> tuple[KafkaConsumer, list[TopicPartition]]:
    """A consumer assigned every partition of ``topics`` (no group, so never an empty
    assignment from a group joined before the topics' metadata arrived), at offset 0."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    while not set(topics) <= consumer.topics():
        if time.monotonic() > deadline:
            consumer.close()
            raise TimeoutError(f"topics missing: {set(topics) - consumer.topics()}")
        time.sleep(0.2)
    parts = [TopicPartition(t, n) for t in topics
             for n in sorted(consumer.partitions_for_topic(t) or ())]
    consumer.assign(parts)
    consumer.seek_to_beginning()
    return consumer, parts


def _poll(consumer: KafkaConsumer, records: list[Record]) -> bool:
    got = consumer.poll(timeout_ms=200)
    for batch in got.values():
        records.extend(Record(r.topic, r.partition, r.offset, r.key, r.value,
                              {k: bytes(v) for k, v in r.headers or []}) for r in batch)
    return bool(got)


def read_until(bootstrap: str, topics: list[str], done: Callable[[list[Record]], bool],
               timeout: float = 60.0) -> list[Record]:
    """Read ``topics`` from the start until ``done(records)``; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    consumer, _ = _from_the_start(bootstrap, topics, deadline)
    records: list[Record] = []
    try:
        while True:
            _poll(consumer, records)
            if done(records):
                return records
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(records)} records after {timeout}s on {topics}")
    finally:
        consumer.close(autocommit=False)


def read_all(bootstrap: str, topics: list[str], settle: float = 1.5,
             timeout: float = 60.0) -> list[Record]:
    """Everything on ``topics``: every record up to the end offsets at the call, then
    on until nothing new came for ``settle`` s."""
    deadline = time.monotonic() + timeout
    consumer, parts = _from_the_start(bootstrap, topics, deadline)
    records: list[Record] = []
    try:
        end = consumer.end_offsets(parts)
        quiet_since = time.monotonic()
        while (any(consumer.position(tp) < end[tp] for tp in parts)
               or time.monotonic() - quiet_since < settle):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(records)} records after {timeout}s on {topics}")
            if _poll(consumer, records):
                quiet_since = time.monotonic()
        return records
    finally:
        consumer.close(autocommit=False)


def group_lag(bootstrap: str, group: str, topics: list[str]) -> int:
    """Records of ``topics`` past the group's committed offsets, counting all of a
    partition it never committed on (a group commits only where it read)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        committed = admin.list_group_offsets(group).get(group, {})
        parts = [TopicPartition(t, p) for t in topics
                 for p in consumer.partitions_for_topic(t) or ()]
        ends = consumer.end_offsets(parts)
        return sum(max(0, ends[tp] - (committed[tp].offset if tp in committed else 0))
                   for tp in parts)
    finally:
        consumer.close()
        admin.close()
