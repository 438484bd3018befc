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


class Consumer(aiokafka_driver.Consumer):
    """faust's consumer, with its list of acked offsets kept a set.

    Around a recovery faust may hand a stream the same records twice (fetched before
    and again after it seeks to the committed offsets; the stages drop the repeat by
    event id). The second ack of an offset that was committed in between lands in
    faust's acked list a second time, and faust's search for the next offset to
    commit stops at every duplicate (robinhood/faust#625), so commits crawl and the
    group's lag stays up for minutes. Offsets below the committed one are done, and
    each offset counts once."""

    def _new_offset(self, tp: Any) -> int | None:
        acked = self._acked[tp]
        if acked:
            committed = self._committed_offset[tp]
            kept = sorted({o for o in acked if committed is None or o >= committed})
            if len(kept) != len(acked):
                acked[:] = kept
                self._acked_index[tp] = set(kept)
        return super()._new_offset(tp)


class Transport(aiokafka_driver.Transport):
    Consumer = Consumer
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
