"""The matcher on its RocksDB table store (eventbus/tablestore.py) on the real broker:
SIGKILLed and started again on the same files, it decides with the state it had, and
its recovery reads only the changelog records its databases did not have yet."""

import json
from contextlib import contextmanager
from pathlib import Path

import pytest
import rocksdict
from kafka import KafkaConsumer, TopicPartition

from schemas.events import workers as wk
from schemas.events.matches import match_id
from schemas.topics import MATCHER_APP, MATCHES, TABLES, VACANCIES, WORKERS, changelog
from services.matcher.domain.candidates import naive_best
from services.matcher.domain.views import VacancyView, WorkerView
from tests.integration.test_matcher_stream import AGREEMENT, fold, setup, topic, vacancy, worker
from tests.support.kafka import Publisher, read_until
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.kafka
OFFSET_KEY = b"__faust\0offset__"
WORKERS_IN_ALL = 40


def proposed(records, vacancy_id):
    """The workers proposed for the vacancy now (not withdrawn since)."""
    state = fold(records)
    return {f"w{n}" for n in range(WORKERS_IN_ALL)
            if state.get(match_id(f"w{n}", vacancy_id)) == "proposed"}


def best(vacancy_id, workers):
    roster = [WorkerView.of(f"w{n}", wk.WorkerProfile.model_validate(
        worker(n).model_dump(exclude={"worker_id"}))) for n in range(workers)]
    view = VacancyView.of(vacancy(int(vacancy_id[1:])), AGREEMENT)
    return {s.worker_id for s in naive_best(roster, view, 5)}


def changelog_ends(bootstrap, prefix):
    """(table, partition) -> end offset of the matcher's changelog partitions."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = {(table, p): TopicPartition(changelog(prefix + MATCHER_APP, table).name, p)
                 for table in TABLES[MATCHER_APP] for p in range(6)}
        ends = consumer.end_offsets(list(parts.values()))
        return {key: ends[tp] for key, tp in parts.items()}
    finally:
        consumer.close()


def persisted(tables: Path):
    """(table, partition) -> the changelog offset each database says it reflects."""
    found = {}
    for table in TABLES[MATCHER_APP]:
        for p in range(6):
            db = rocksdict.Rdict(str(tables / f"{table}-{p}.db"),
                                 options=rocksdict.Options(raw_mode=True),
                                 access_type=rocksdict.AccessType.read_only())
            raw = db.get(OFFSET_KEY)
            db.close()
            found[(table, p)] = None if raw is None else int(raw)
    return found


def recoveries(log_text):
    """The ``table recovered`` log lines, in order."""
    lines = (json.loads(line) for line in log_text.splitlines() if line.startswith("{"))
    return [line for line in lines if line.get("message") == "table recovered"]


@contextmanager
def matcher_with_a_proposal(broker, topic_prefix, tmp_path, **env):
    """A matcher (with ``env`` beside the test's settings) that has proposed the best
    of 12 workers for v1, and a publisher; stopped after (its log printed on a
    failure)."""
    matcher = ServiceProcess("matcher", ["services.matcher"], {
        "CIRCULAR_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "CIRCULAR_TOPIC_PREFIX": topic_prefix, "CIRCULAR_VAR_DIR": str(tmp_path), **env},
        tmp_path / "matcher.log")
    pub = Publisher(broker.bootstrap)
    try:
        matcher.start()
        setup(pub, topic_prefix)
        for n in range(12):
            pub.event(topic(topic_prefix, WORKERS), worker(n))
        pub.event(topic(topic_prefix, VACANCIES), vacancy(1))
        read_until(broker.bootstrap, [topic(topic_prefix, MATCHES)],
                   lambda r: proposed(r, "v1") == best("v1", 12), timeout=90)
        yield matcher, pub
    except Exception:
        print(matcher.log()[-5000:])
        raise
    finally:
        matcher.stop()
        pub.close()


def test_a_killed_matcher_keeps_its_state_and_replays_only_the_changelog_tail(
        broker, topic_prefix, tmp_path):
    matches = topic(topic_prefix, MATCHES)
    with matcher_with_a_proposal(broker, topic_prefix, tmp_path,
                                 CIRCULAR_TABLE_STORE="rocksdb") as (matcher, pub):
        for n in range(12, WORKERS_IN_ALL):  # more workers, and the kill while they are handled
            pub.event(topic(topic_prefix, WORKERS), worker(n))
        matcher.kill()

        ends = changelog_ends(broker.bootstrap, topic_prefix)
        kept = persisted(tmp_path / "faust" / f"{topic_prefix}{MATCHER_APP}" / "v1" / "tables")
        tail = {key: end - (0 if kept[key] is None else kept[key] + 1)
                for key, end in ends.items()}
        first_life = len(matcher.log())
        matcher.restart()
        # a vacancy posted after the restart is proposed the workers registered before
        pub.event(topic(topic_prefix, VACANCIES), vacancy(2))
        read_until(broker.bootstrap, [matches],
                   lambda r: proposed(r, "v2") == best("v2", WORKERS_IN_ALL), timeout=90)

    total, missing = sum(ends.values()), sum(tail.values())
    print(f"changelog records: {total}, not in the databases at the kill: {missing}")
    # the state of the first 12 workers, the vacancy and its proposals was on disk
    assert total - missing >= 80
    assert "local state; it is rebuilt" not in matcher.log()  # no database was dropped
    second = recoveries(matcher.log()[first_life:])
    firsts = {}
    for line in second:
        firsts.setdefault(line["table"], line)
    assert set(firsts) == set(TABLES[MATCHER_APP])
    replayed = {(table, int(p)): n for table, line in firsts.items()
                for p, n in line["replayed_by_partition"].items()}
    # recovery read exactly what the databases lacked: the tail, not the whole log
    assert {k: n for k, n in replayed.items() if n} == {k: n for k, n in tail.items() if n}


def test_a_killed_matcher_with_a_stable_group_name_is_back_before_its_session_ends(
        broker, topic_prefix, tmp_path):
    """With ``CIRCULAR_KAFKA_GROUP_INSTANCE_ID`` (Kafka's static membership) the
    restarted worker takes its partitions back at once: its vacancy is proposed well
    before the dead worker's 60 s session would have ended, which a new member would
    have had to wait out."""
    with matcher_with_a_proposal(
            broker, topic_prefix, tmp_path, CIRCULAR_KAFKA_SESSION_TIMEOUT_SECONDS="60",
            CIRCULAR_KAFKA_GROUP_INSTANCE_ID="matcher-1") as (matcher, pub):
        matcher.kill()
        matcher.restart()
        pub.event(topic(topic_prefix, VACANCIES), vacancy(2))
        read_until(broker.bootstrap, [topic(topic_prefix, MATCHES)],
                   lambda r: proposed(r, "v2") == best("v2", 12), timeout=40)
