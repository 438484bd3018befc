"""Create or verify every topic of the catalogue, idempotently (kafka-python admin).
A topic that exists with settings other than the catalogue's gets the catalogue's
(an upgrade that changes a topic's settings applies them on the next start); a
partition count that differs is reported, never changed (that would move keys).

    python -m eventbus.admin [--verify-only]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from kafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError, for_code

from eventbus.settings import KafkaSettings
from schemas.topics import Topic, catalogue


@dataclass
class Report:
    created: list[str]
    verified: list[str]
    problems: list[str]
    #: "topic: key=value" settings changed to the catalogue's
    altered: list[str] = field(default_factory=list)


def admin_client(bootstrap: str | list[str], timeout: float = 60.0) -> KafkaAdminClient:
    """An admin client, waiting up to ``timeout`` seconds for the broker to answer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return KafkaAdminClient(bootstrap_servers=bootstrap, client_id="circular-admin",
                                    request_timeout_ms=30000)
        except (KafkaConnectionError, KafkaError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def ensure_topics(bootstrap: str | list[str], topics: Iterable[Topic] | None = None,
                  *, create: bool = True, replication: int = 1) -> Report:
    """Create the topics that are missing and check the others match the catalogue."""
    wanted = {t.name: t for t in (topics if topics is not None else catalogue())}
    client = admin_client(bootstrap)
    try:
        existing = set(client.list_topics())
        missing = [t for name, t in wanted.items() if name not in existing]
        created: list[str] = []
        if create and missing:
            request = {t.name: {"num_partitions": t.partitions,
                                "replication_factor": replication,
                                "configs": t.topic_config()} for t in missing}
            response = client.create_topics(request, raise_errors=False, wait_for_metadata=True)
            for t in missing:
                error = _topic_error(response, t.name)
                if error is None:
                    created.append(t.name)
                elif error is TopicAlreadyExistsError:
                    existing.add(t.name)
        problems = [f"missing: {t.name}" for t in missing
                    if t.name not in created and t.name not in existing]
        present = [t for name, t in wanted.items() if name in existing]
        partitions, drift = _verify(client, present)
        altered = _alter(client, drift) if create else []
        problems += partitions + [f"{t.name}: {key}={found}, catalogue says {value}"
                                  for t, key, found, value in drift
                                  if f"{t.name}: {key}={value}" not in altered]
        return Report(created=created, verified=[t.name for t in present], problems=problems,
                      altered=altered)
    finally:
        client.close()


def _topic_error(response: dict[str, Any], name: str) -> type[KafkaError] | None:
    """The error class the broker answered for one topic of a CreateTopics request."""
    for t in response.get("topics", []):
        if t["name"] == name:
            return None if t["error_code"] == 0 else for_code(t["error_code"])
    return None


Drift = tuple[Topic, str, str | None, str]  # topic, setting, as found, as catalogued


def _verify(client: KafkaAdminClient, topics: list[Topic]) -> tuple[list[str], list[Drift]]:
    """Partition counts that differ from the catalogue, and settings that do."""
    if not topics:
        return [], []
    problems = []
    described = {d["name"]: d for d in client.describe_topics([t.name for t in topics])}
    for t in topics:
        parts = len(described.get(t.name, {}).get("partitions", []))
        if parts != t.partitions:
            problems.append(f"{t.name}: {parts} partitions, catalogue says {t.partitions}")
    configs = client.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, t.name) for t in topics],
        config_filter="all").get("topic", {})
    drift: list[Drift] = []
    for t in topics:
        actual = configs.get(t.name, {})
        for key, value in t.topic_config().items():
            found = actual.get(key, {}).get("value")
            if found != value:
                drift.append((t, key, found, value))
    return problems, drift


def _alter(client: KafkaAdminClient, drift: list[Drift]) -> list[str]:
    """Set the catalogue's values where a topic's differ (incrementally: settings the
    catalogue does not name are left as they are). Returns what was changed."""
    wanted: dict[str, dict[str, str]] = {}
    for t, key, _, value in drift:
        wanted.setdefault(t.name, {})[key] = value
    if not wanted:
        return []
    response = client.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, configs=configs)
         for name, configs in wanted.items()], incremental=True)
    done = {name for name, result in response.get("topic", {}).items() if result == "OK"}
    return [f"{name}: {key}={value}" for name, configs in wanted.items() if name in done
            for key, value in configs.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--verify-only", action="store_true")
    args = parser.parse_args(argv)
    settings = KafkaSettings()
    report = ensure_topics(settings.bootstrap_list, catalogue(settings.topic_prefix),
                           create=not args.verify_only)
    print(f"topics: {len(report.created)} created, {len(report.verified)} verified")
    for change in report.altered:
        print(f"set to the catalogue's value: {change}")
    for p in report.problems:
        print(f"problem: {p}", file=sys.stderr)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
