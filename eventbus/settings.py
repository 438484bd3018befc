"""Settings shared by every service; each service extends :class:`KafkaSettings`.
Environment variables with the prefix ``CIRCULAR_``, read once at start."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CIRCULAR_", extra="ignore")

    kafka_bootstrap_servers: Annotated[str, Field(
        description="Comma-separated host:port list of Kafka brokers")] = "127.0.0.1:9092"
    var_dir: Annotated[Path, Field(description="Where services keep local files")] = ROOT / "var"
    log_level: Annotated[str, Field(description="DEBUG, INFO, WARNING or ERROR")] = "INFO"
    library_log_level: Annotated[str, Field(
        description="Log level of faust, aiokafka, kafka-python and alembic, which are "
        "chatty at INFO")] = "WARNING"
    kafka_session_timeout_seconds: Annotated[float, Field(
        ge=6, le=300, description="How soon a consumer group notices a dead member and "
        "moves its partitions")] = 10.0
    kafka_group_instance_id: Annotated[str | None, Field(
        min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$",
        description="This worker's stable name in its consumer group (Kafka's static "
        "membership), unique among the group's workers and the same across its "
        "restarts: a restarted worker takes its partitions back at once instead of "
        "after the dead one's session; a stopped one's partitions move only after "
        "its session. Unset: a new member at every start")] = None
    shutdown_grace_seconds: Annotated[float, Field(
        gt=0, le=600, description="How long a stream worker may take to stop after "
        "SIGTERM before it exits hard")] = 20.0
    topic_prefix: Annotated[str, Field(
        description="Namespace before every topic and consumer group name; tests use a "
        "fresh one each", pattern=r"^[A-Za-z0-9._-]*$")] = ""

    def topic(self, name: str) -> str:
        return self.topic_prefix + name

    @property
    def bootstrap_list(self) -> list[str]:
        return [s.strip() for s in self.kafka_bootstrap_servers.split(",") if s.strip()]


class StreamSettings(KafkaSettings):
    """Settings of every faust stream processor (matcher, tracker)."""

    dedup_retention_hours: Annotated[float, Field(
        gt=0, description="How long processed event ids are remembered")] = 168.0
    dedup: Annotated[bool, Field(
        description="Skip events whose id was processed before; off only for the fault "
        "harness's control run, which must then see duplicates")] = True
    batch_size: Annotated[int, Field(ge=1, le=10_000,
                                     description="Records handled per stage batch")] = 500
    table_store: Annotated[Literal["rocksdb", "memory"], Field(
        description="Where the stages' tables live: RocksDB under var_dir/faust/<app> "
        "(a restart replays only the changelog after it) or memory (a restart replays "
        "every changelog from its start)")] = "rocksdb"
    table_store_max_age_hours: Annotated[float, Field(
        gt=0, lt=24, description="A local table partition older than this is rebuilt "
        "from its changelog (keep it under the changelogs' 24 h delete.retention.ms)")] = 20.0

    switch_interval_ms: Annotated[float, Field(
        ge=0.1, le=100, description="How long the stages may hold the interpreter before "
        "the Kafka consumer's thread gets its turn (Python's default is 5 ms): a fetched "
        "record waits for it at each hand-over between the two threads")] = 0.5

    def stage_options(self) -> dict[str, object]:
        return {"dedup_retention_s": self.dedup_retention_hours * 3600, "dedup": self.dedup,
                "batch_size": self.batch_size}
