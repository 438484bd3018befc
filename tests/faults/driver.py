"""Drives a workload into a running system: records published the way the gateway's
relay (or the matcher) publishes them, or HTTP calls made the way people make them;
between phases, waits until every consumer group has caught up."""

from __future__ import annotations

import os
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from schemas.codec import encode
from schemas.topics import INTERNAL, PUBLIC
from tests.faults.workloads import Call, Input

#: the consumer group (app id or group name) of each service and what it reads
GROUPS = {"matcher": "circular-matcher", "tracker": "circular-tracker",
          "projector": "circular-gateway-projector"}


def consumed_by(service: str, prefix: str) -> list[str]:
    role = "gateway" if service == "projector" else service
    return [t.prefixed(prefix).name for t in PUBLIC + INTERNAL if role in t.consumers]


class Lag:
    """How many records each service's consumer group has not committed yet."""

    def __init__(self, bootstrap: str, prefix: str, services: list[str]) -> None:
        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap)
        self.groups = {prefix + GROUPS[s]: consumed_by(s, prefix) for s in services}
        known = self.consumer.topics()  # loads the metadata of every topic
        self.parts = {group: [TopicPartition(t, p) for t in topics
                              for p in sorted(self.consumer.partitions_for_topic(t) or ())]
                      for group, topics in self.groups.items()}
        missing = {t for topics in self.groups.values() for t in topics} - known
        if missing:
            raise RuntimeError(f"topics missing: {sorted(missing)}")

    def total(self) -> int:
        return sum(self.detail().values())

    def detail(self) -> dict[str, int]:
        """Records behind, per group, topic and partition (only those behind)."""
        behind: dict[str, int] = {}
        for group, parts in self.parts.items():
            ends = self.consumer.end_offsets(parts)
            try:
                committed = self.admin.list_group_offsets(group).get(group, {})
            except KafkaError:
                committed = {}
            for tp in parts:
                done = committed[tp].offset if tp in committed else 0
                if ends[tp] > max(done, 0):
                    behind[f"{group} {tp.topic}[{tp.partition}]"] = ends[tp] - max(done, 0)
        return behind

    def close(self) -> None:
        self.consumer.close()
        self.admin.close()


def settle(lag: Lag, extra: Callable[[], int] | None = None,
           timeout: float = float(os.environ.get("CIRCULAR_FAULTS_SETTLE_TIMEOUT", 600)),
           quiet: float = 1.5) -> float:
    """Wait until nothing is behind (and stays so for ``quiet`` s); returns seconds."""
    started = time.monotonic()
    calm_since: float | None = None
    last_error: Exception | None = None
    while True:
        try:
            behind = lag.total() + (extra() if extra else 0)
        except (KafkaError, KeyError, OSError) as exc:  # the broker away, or metadata stale
            behind, last_error = -1, exc
        now = time.monotonic()
        if os.environ.get("CIRCULAR_FAULTS_DEBUG"):
            print(f"settle: {behind} behind", flush=True)
        if behind == 0:
            calm_since = calm_since or now
            if now - calm_since >= quiet:
                return now - started
        else:
            calm_since = None
        if now - started > timeout:
            raise TimeoutError(f"still {behind} records behind after {timeout:.0f}s: "
                               f"{_safe(lag.detail)} (last error: {last_error!r})")
        time.sleep(0.3)


@dataclass
class Publisher:
    """Publishes inputs at a steady rate with an idempotent producer (acks=all)."""

    bootstrap: str
    prefix: str
    rate: float
    published: int = 0
    producer: KafkaProducer = field(init=False)

    def __post_init__(self) -> None:
        self.producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                      enable_idempotence=True, linger_ms=5)

    def send(self, inputs: list[Input], each: Callable[[int], None] | None = None) -> None:
        started = time.monotonic()
        for n, item in enumerate(inputs):
            due = started + n / self.rate
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            enc = encode(item.event, source="/circular/gateway", event_id=item.event_id)
            self.producer.send(item.topic.prefixed(self.prefix).name, key=enc.key,
                               value=enc.value, headers=enc.headers)
            self.published += 1
            if each is not None:
                each(self.published)
        self.producer.flush(timeout=60)

    def raw(self, topic: str, key: bytes | None, value: bytes | None,
            headers: list[tuple[str, bytes]]) -> None:
        self.producer.send(topic, key=key, value=value, headers=headers)

    def close(self) -> None:
        self.producer.close(timeout=10)


@dataclass
class HttpStats:
    sent: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int) -> None:
        with self.lock:
            self.sent += 1
            self.statuses[status] = self.statuses.get(status, 0) + 1


@dataclass
class Caller:
    """People at the API: one thread per lane, each person's calls in one lane (in
    order); a call the server did not answer (it was down) is sent again, the way a
    client retries, until it gets an answer."""

    base_url: str
    token: str
    lanes: int = 4
    rate: float = 100.0
    give_up_after: float = 180.0
    stats: HttpStats = field(default_factory=HttpStats)

    def run(self, calls: list[Call], each: Callable[[int], None] | None = None) -> None:
        lanes: list[list[Call]] = [[] for _ in range(self.lanes)]
        for call in calls:
            lanes[zlib.crc32(call.key.encode()) % self.lanes].append(call)
        started = time.monotonic()
        with ThreadPoolExecutor(self.lanes) as pool:
            for result in [pool.submit(self._lane, lane, started, each) for lane in lanes]:
                result.result()

    def _lane(self, calls: list[Call], started: float,
              each: Callable[[int], None] | None) -> None:
        per_lane = self.rate / self.lanes
        with httpx.Client(base_url=self.base_url, timeout=10,
                          headers={"Authorization": f"Bearer {self.token}"}) as client:
            for n, call in enumerate(calls):
                if (wait := started + n / per_lane - time.monotonic()) > 0:
                    time.sleep(wait)
                status = self._send(client, call)
                self.stats.count(status)
                if status >= 300:
                    with self.stats.lock:
                        self.stats.errors.append(f"{call.method} {call.path}: {status}")
                if each is not None:
                    each(self.stats.sent)

    def _send(self, client: httpx.Client, call: Call) -> int:
        deadline = time.monotonic() + self.give_up_after
        while True:
            try:
                r = client.request(call.method, call.path, json=call.body)
                if r.status_code < 500:
                    return r.status_code
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                return 599
            with self.stats.lock:
                self.stats.retries += 1
            time.sleep(0.2)


def _safe(call: Callable[[], object]) -> object:
    try:
        return call()
    except Exception as exc:
        return repr(exc)
