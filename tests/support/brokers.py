"""The broker the suite runs against, found in this order (SPEC 6):
``KAFKA_BOOTSTRAP_SERVERS`` if set; a testcontainers Kafka where a Docker engine
answers; else the project's own single-node KRaft broker from Maven-fetched jars,
on a free port with its own data directory."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from deploy.kafka.broker import DEFAULT_VERSION, LocalBroker, free_port
from tests.support.docker import docker_available


@dataclass(frozen=True)
class Broker:
    bootstrap: str
    kind: str
    version: str
    local: LocalBroker | None = None


@contextmanager
def session_broker() -> Iterator[Broker]:
    version = os.environ.get("CIRCULAR_KAFKA_VERSION", DEFAULT_VERSION)
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield Broker(os.environ["KAFKA_BOOTSTRAP_SERVERS"], "external", "unknown")
        return
    if docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer(f"apache/kafka:{version}").with_kraft() as container:
            yield Broker(container.get_bootstrap_server(), "testcontainers", version)
        return
    data = Path(tempfile.mkdtemp(prefix="circular-kafka-"))
    broker = LocalBroker(data_dir=data, port=free_port(), version=version,
                         extra={"auto.create.topics.enable": "false"})
    broker.start()
    try:
        yield Broker(broker.bootstrap, "local-jars", version, broker)
    finally:
        broker.stop()
        shutil.rmtree(data, ignore_errors=True)
