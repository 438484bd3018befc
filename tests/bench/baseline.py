"""Baselines every benchmark is a ratio against, measured in the same run: the
fastest plain consumer we can write (aiokafka, partitions assigned by hand, no
group, ``getmany`` in large batches, values never decoded), and a fast producer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


async def produce(bootstrap: str, topic: str, records: Iterable[Record]) -> float:
    """Write records as fast as the producer batches them; returns seconds."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20,
                                max_batch_size=1_048_576, acks=1)
    await producer.start()
    started = time.perf_counter()
    try:
        pending = []
        for key, value, headers in records:
            pending.append(await producer.send(topic, value, key=key, headers=headers))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def bare_consume(bootstrap: str, topic: str, count: int, timeout: float = 300) -> float:
    """Seconds for the bare consumer to read ``count`` records of ``topic``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                max_partition_fetch_bytes=8_388_608,
                                fetch_max_bytes=52_428_800, auto_offset_reset="earliest")
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        partitions = [TopicPartition(topic, p)
                      for p in sorted(cluster.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen = 0
        started = time.perf_counter()
        deadline = started + timeout
        while seen < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=50_000)
            seen += sum(len(b) for b in batches.values())
            if time.perf_counter() > deadline:
                raise TimeoutError(f"bare consumer read {seen}/{count} in {timeout}s")
        return time.perf_counter() - started
    finally:
        await consumer.stop()
