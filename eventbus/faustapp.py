"""A faust app configured the way every Circular stream processor runs:
at-least-once (effects are made idempotent instead, see ../shared/ENGINEERING.md),
agent concurrency 1, ``earliest`` offsets, acks from all replicas with an
idempotent producer, values as raw bytes decoded by ``schemas.codec``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as aiokafka_driver

from eventbus.settings import KafkaSettings

TRANSPORT_SCHEME = "circularkafka"


class IdempotentProducer(aiokafka_driver.Producer):
    """faust enables the idempotent producer only inside transactions; we want it
    always (no duplicates or reordering from retries)."""

    def _settings_extra(self) -> dict[str, Any]:
        return {"acks": "all", "enable_idempotence": True}


class Transport(aiokafka_driver.Transport):
    Producer = IdempotentProducer


def make_app(app_id: str, settings: KafkaSettings, *, store: str = "memory://",
             web_port: int | None = None, **overrides: Any) -> faust.App:
    """A new faust app. Nothing connects until the worker starts it."""
    TRANSPORTS.aliases.setdefault(TRANSPORT_SCHEME, f"{__name__}:Transport")
    brokers = ";".join(f"{TRANSPORT_SCHEME}://{b}" for b in settings.bootstrap_list)
    datadir = Path(settings.var_dir) / "faust" / app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {
        "broker": brokers,
        "store": store,
        "datadir": str(datadir),
        "processing_guarantee": "at_least_once",
        "topic_partitions": 6,
        "topic_replication_factor": 1,
        "topic_allow_declare": True,
        "consumer_auto_offset_reset": "earliest",
        "producer_acks": -1,
        "autodiscover": False,
        "web_enabled": web_port is not None,
        "web_port": web_port or 6066,
        "web_bind": "127.0.0.1",
        "web_in_thread": False,
        "broker_commit_interval": 1.0,
        "broker_session_timeout": settings.kafka_session_timeout_seconds,
        "broker_heartbeat_interval": max(1.0, settings.kafka_session_timeout_seconds / 5),
        "stream_wait_empty": False,
        "table_standby_replicas": 0,
        "logging_config": None,
        "loghandlers": [],
    }
    options.update(overrides)
    return faust.App(app_id, **options)
