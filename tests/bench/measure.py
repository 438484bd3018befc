"""What the benchmarks measure with: a consumer group's lag, a process's memory,
events as records."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from schemas.codec import decode, encode
from schemas.events.base import Event
from tests.support.processes import ServiceProcess

Record = tuple[bytes, bytes, list[tuple[str, bytes]]]
#: how often :func:`wait_for_lag` prints the lag it waits on
PROGRESS_SECONDS = 60.0


def records(events: Sequence[Event]) -> list[Record]:
    out = []
    for e in events:
        enc = encode(e, source="/bench")
        out.append((enc.key, enc.value, enc.headers))
    return out


def group_lag(bootstrap: str, group: str, topics: list[str]) -> int | None:
    """Records of ``topics`` the group has not committed yet; None until the group
    has committed on every partition."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        try:
            committed = admin.list_group_offsets(group).get(group, {})
        except KafkaError:  # the group does not exist yet
            return None
        parts = [tp for tp in committed if tp.topic in topics]
        if len(parts) < sum(len(consumer.partitions_for_topic(t) or ()) for t in topics):
            return None
        ends = consumer.end_offsets(parts)
        return sum(max(0, ends[tp] - committed[tp].offset) for tp in parts)
    finally:
        consumer.close()
        admin.close()


def records_written(bootstrap: str, prefix: str) -> dict[str, int]:
    """Records in each topic whose name starts with ``prefix`` (its partitions' end
    offsets): what a run wrote, e.g. a service's internal topics and changelogs."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        topics = sorted(t for t in consumer.topics() if t.startswith(prefix))
        parts = [TopicPartition(t, p) for t in topics
                 for p in consumer.partitions_for_topic(t) or ()]
        ends = consumer.end_offsets(parts)
        return {t: sum(n for tp, n in ends.items() if tp.topic == t) for t in topics}
    finally:
        consumer.close()


def _status(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib(pid: int) -> float:
    return _status(pid, "VmHWM:")


def rss_mib(pid: int) -> float:
    return _status(pid, "VmRSS:")


def idle_rss_mib(pid: int) -> float:
    """A service's resident set half a second after its start, before it holds any
    state: the base its per-100,000 memory figure is taken above."""
    time.sleep(0.5)
    return rss_mib(pid)


def write_results(out: str | Path, results: dict[str, Any]) -> None:
    """A benchmark's figures into ``out`` (read by ``tests.bench.report``) and stdout."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2)
    path.write_text(text)
    print(text)


def at_end(bootstrap: str, topic: str) -> KafkaConsumer:
    """A consumer of every partition of ``topic``, positioned at its end now."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    consumer.assign(parts)
    consumer.seek_to_end(*parts)
    for tp in parts:
        consumer.position(tp)
    return consumer


def seconds_until(consumer: KafkaConsumer, found: Callable[[Event], bool],
                  proc: ServiceProcess, started: float, timeout: float = 600.0
                  ) -> float | None:
    """Seconds from ``started`` until ``consumer`` reads an event ``found`` accepts
    (None after ``timeout``); fails if ``proc`` dies meanwhile. Closes the consumer."""
    try:
        while time.monotonic() - started < timeout:
            if not proc.alive:
                raise RuntimeError(f"{proc.name} died; see {proc.log_path}")
            for batch in consumer.poll(timeout_ms=200).values():
                for r in batch:
                    if found(decode(r.value, [(k, bytes(v)) for k, v in r.headers]).event):
                        return time.monotonic() - started
        return None
    finally:
        consumer.close()


def wait_for_lag(bootstrap: str, group: str, topics: list[str],
                 proc: ServiceProcess | Sequence[ServiceProcess], limit: float = 3600,
                 lag_of: Callable[[str, str, list[str]], int | None] = group_lag) -> float:
    """Seconds from the group's first commit to no lag on ``topics``; fails if
    ``proc`` (or any of them: the group's members) dies or ``limit`` seconds pass.
    ``lag_of`` reads the lag (None: the group has not committed everywhere yet). The
    lag is printed every :data:`PROGRESS_SECONDS` (a long backfill shows its pace)."""
    members = [proc] if isinstance(proc, ServiceProcess) else list(proc)
    started = time.monotonic()
    first = None
    shown = started
    while True:
        time.sleep(0.5)
        for member in members:
            if not member.alive:
                raise RuntimeError(f"{member.name} died; see {member.log_path}")
        lag = lag_of(bootstrap, group, topics)
        if lag is not None and first is None:
            first = time.monotonic()
        if lag == 0:
            return time.monotonic() - (first or started)
        if time.monotonic() - shown > PROGRESS_SECONDS:
            shown = time.monotonic()
            print(f"{group}: lag {lag} after {shown - started:.0f} s", flush=True)
        if time.monotonic() - started > limit:
            raise TimeoutError(f"{members[0].name} did not catch up in {limit:.0f} s")


def service_env(bootstrap: str, prefix: str, var: Path, log_level: str = "WARNING"
                ) -> dict[str, str]:
    """The environment a service of the bench runs with: its broker, topics and files."""
    return {"CIRCULAR_KAFKA_BOOTSTRAP_SERVERS": bootstrap, "CIRCULAR_TOPIC_PREFIX": prefix,
            "CIRCULAR_VAR_DIR": str(var), "CIRCULAR_LOG_LEVEL": log_level}


@contextmanager
def database(kind: str, sqlite_file: Path, postgres_url: str | None, *,
             durable: bool = False) -> Iterator[str]:
    """A benchmark's fresh database: ``sqlite_file``, or (``postgresql``) a new database
    on the server at ``postgres_url``, else on one started for the run (``durable``:
    flushing to disk as production would, see :mod:`tests.support.postgres`)."""
    if kind == "sqlite":
        yield f"sqlite:///{sqlite_file}"
        return
    from tests.support.postgres import fresh_database, session_postgres

    if postgres_url:
        yield fresh_database(postgres_url)
        return
    with session_postgres(durable=durable) as server:
        yield fresh_database(server)
