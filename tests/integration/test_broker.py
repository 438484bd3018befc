"""The broker the suite runs against is real Kafka, and the topic catalogue is
created and verified idempotently on it."""

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka.admin import KafkaAdminClient

from eventbus.admin import ensure_topics
from schemas.topics import CHANGELOG_CONFIG, CLOCK, MATCHES, catalogue, changelog
from tests.support.kafka import Publisher, read_until

pytestmark = pytest.mark.kafka


def test_catalogue_is_created_once_then_verified(broker):
    prefix = "admin-test."
    first = ensure_topics(broker.bootstrap, catalogue(prefix))
    assert not first.problems
    assert len(first.created) == len(catalogue(prefix))
    second = ensure_topics(broker.bootstrap, catalogue(prefix))
    assert second.created == [] and not second.problems
    assert len(second.verified) == len(catalogue(prefix))


def test_a_topic_that_differs_from_the_catalogue_is_reported_then_given_its_settings(broker):
    client = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    client.create_topics({"drift.circular.matches": {"num_partitions": 2,
                                                    "replication_factor": 1}},
                         wait_for_metadata=True)
    client.close()
    wanted = [MATCHES.prefixed("drift.")]
    checked = ensure_topics(broker.bootstrap, wanted, create=False)
    assert any("2 partitions" in p for p in checked.problems)
    assert any("retention.ms" in p for p in checked.problems)
    assert checked.altered == []

    fixed = ensure_topics(broker.bootstrap, wanted)
    assert "drift.circular.matches: retention.ms=-1" in fixed.altered
    assert fixed.problems == ["drift.circular.matches: 2 partitions, catalogue says 6"]
    again = ensure_topics(broker.bootstrap, wanted, create=False)
    assert again.problems == fixed.problems and again.altered == []


def test_a_changelog_made_before_its_compaction_settings_gets_them(broker):
    """An upgrade from a release whose changelogs had no segment settings: compaction
    never ran on them, until the next start sets the catalogue's."""
    log = changelog("upgrade.circular-matcher", "market")
    client = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    client.create_topics({log.name: {"num_partitions": log.partitions, "replication_factor": 1,
                                     "configs": {"cleanup.policy": "compact"}}},
                         wait_for_metadata=True)
    client.close()
    report = ensure_topics(broker.bootstrap, [log])
    assert not report.problems
    assert f"{log.name}: segment.ms={CHANGELOG_CONFIG['segment.ms']}" in report.altered
    assert f"{log.name}: segment.bytes={CHANGELOG_CONFIG['segment.bytes']}" in report.altered
    assert not ensure_topics(broker.bootstrap, [log], create=False).problems


def test_both_client_libraries_talk_to_the_broker(broker, topic_prefix):
    topic = CLOCK.prefixed(topic_prefix).name
    pub = Publisher(broker.bootstrap)
    pub.raw(topic, b"k", b"from kafka-python")
    pub.close()

    async def aio() -> list[bytes]:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=True)
        await producer.start()
        await producer.send_and_wait(topic, b"from aiokafka", key=b"k")
        await producer.stop()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker.bootstrap,
                                    auto_offset_reset="earliest", group_id="aio-test")
        await consumer.start()
        seen: list[bytes] = []
        try:
            while len(seen) < 2:
                for batch in (await consumer.getmany(timeout_ms=1000)).values():
                    seen += [m.value for m in batch]
        finally:
            await consumer.stop()
        return seen

    assert sorted(asyncio.run(asyncio.wait_for(aio(), 60))) == [b"from aiokafka",
                                                               b"from kafka-python"]
    records = read_until(broker.bootstrap, [topic], lambda r: len(r) >= 2)
    assert {r.value for r in records} == {b"from aiokafka", b"from kafka-python"}
