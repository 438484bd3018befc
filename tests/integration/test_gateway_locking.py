"""Writers of one database at once: the API, the projector and the relay. On SQLite a
writer begins with BEGIN IMMEDIATE and waits for the lock (busy timeout) instead of
failing on it; a transient database error makes the projector apply its batch again
(keeping its consumer, committing offsets only after the database) and the relay wait,
never crash; an API write never answers 500 because another process writes."""

import logging
import sqlite3
import threading
import time
from datetime import date, timedelta

import pytest
from kafka import KafkaProducer
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from schemas.codec import encode
from schemas.events import triggers as tev
from schemas.topics import EMPLOYERS, TRIGGERS
from services.gateway.database.core import (
    begin_write,
    is_transient,
    make_engine,
    make_sessionmaker,
)
from services.gateway.employers import service as employers
from services.gateway.employers.models import EmployerCreate
from services.gateway.outbox import relay
from services.gateway.outbox.models import OutboxRecord
from services.gateway.projections.consumer import Projector
from services.gateway.projections.registry import projections
from services.gateway.triggers.models import Trigger
from tests.support.gateway import worker_body
from tests.support.kafka import read_until
from tests.support.processes import wait_for

pytestmark = pytest.mark.kafka
BURST = 600


@pytest.fixture
def sessions(database_url):
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def run_projector(broker, sessions, topic_prefix):
    p = Projector(sessions=sessions, bootstrap=[broker.bootstrap],
                  topics=[TRIGGERS.prefixed(topic_prefix).name],
                  group_id=f"{topic_prefix}projector", projections=projections())
    stop = threading.Event()
    thread = threading.Thread(target=p.run, args=(stop,), daemon=True)
    thread.start()
    return p, stop, thread


def publish_triggers(bootstrap, topic, count):
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    due = date(2027, 5, 1)
    for n in range(count):
        fired = tev.TriggerFired(
            trigger_id=f"t-{n}", worker_id=f"w-burst-{n % 50}", kind="counselling_referral",
            cause=f"ret-{n}", reason="Returned: offer a consultation.",
            due_date=due + timedelta(days=n % 30))
        enc = encode(fired, source="/tests")
        producer.send(topic, key=enc.key, value=enc.value, headers=enc.headers)
    producer.flush(60)
    producer.close(5)


def triggers_in(sessions):
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(Trigger))


def test_api_writes_while_the_projector_applies_a_burst(api, broker, topic_prefix,
                                                         database_url, caplog):
    """Workers registered from 6 threads while the projector folds in 600 events in
    batches of up to 500: every write is 202, the projector never restarts its
    consumer, and every event lands once."""
    caplog.set_level(logging.INFO)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    api.as_("admin")
    projector, stop, thread = run_projector(broker, sessions, topic_prefix)
    statuses = []
    done = threading.Event()

    def writer(k):
        n = 0
        while not done.is_set() or n < 5:
            r = api.post("admin", "/workers", json=worker_body(
                f"wl{k}x{n}", f"PL{k}{n:06d}"))
            statuses.append(r.status_code)
            n += 1

    writers = [threading.Thread(target=writer, args=(k,)) for k in range(6)]
    try:
        for w in writers:
            w.start()
        publish_triggers(broker.bootstrap, TRIGGERS.prefixed(topic_prefix).name, BURST)
        wait_for(lambda: triggers_in(sessions) == BURST, timeout=240,
                 what="the burst applied")
        done.set()
        for w in writers:
            w.join(timeout=120)
    finally:
        done.set()
        stop.set()
        thread.join(timeout=30)
        engine.dispose()
    assert statuses and set(statuses) == {202}, sorted(set(statuses))
    assert len(statuses) >= 30
    restarts = [(getattr(r, "error_type", "?"), getattr(r, "error", "?"))
                for r in caplog.records if r.getMessage() == "projector restarting its consumer"]
    assert restarts == []
    assert projector.applied == BURST


def hold_sqlite_lock(path, seconds, locked):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    locked.set()
    time.sleep(seconds)
    conn.execute("COMMIT")
    conn.close()


def sqlite_path(url):
    if not url.startswith("sqlite:///"):
        pytest.skip("SQLite's database lock")
    return url.removeprefix("sqlite:///")


def test_a_write_waits_for_the_lock_while_reads_go_on(api, database_url):
    """Another process holds SQLite's write lock for a moment: a write waits for it
    and is 202, reads answer meanwhile (WAL), a read that records an audit row too."""
    path = sqlite_path(database_url)
    api.as_("admin")
    assert api.post("admin", "/workers", json=worker_body("w7", "AM7000007")).status_code == 202
    locked = threading.Event()
    holder = threading.Thread(target=hold_sqlite_lock, args=(path, 1.5, locked))
    holder.start()
    locked.wait(10)
    started = time.monotonic()
    assert api.get("admin", "/agreements").status_code == 200
    assert time.monotonic() - started < 1.0  # not behind the writer
    r = api.post("admin", "/workers", json=worker_body("w8", "AM7000008"))
    waited = time.monotonic() - started
    holder.join()
    assert r.status_code == 202, r.text
    assert waited >= 1.0  # it waited for the lock rather than failing on it
    assert api.get("admin", "/workers/w8").status_code == 200  # audited read


def test_a_read_that_writes_after_another_writer_committed(sessions, database_url):
    """The audit of a read: a read-only transaction has read (its snapshot is older
    than another writer's commit), then must write. It becomes a writer and commits,
    where a deferred transaction would have failed at once ("database is locked")."""
    engine = sessions.kw["bind"]
    readers = make_sessionmaker(engine, read_only=True)
    with readers() as reading:
        assert reading.scalar(select(func.count()).select_from(OutboxRecord)) == 0
        with sessions() as other:
            other.add(OutboxRecord(event_id="e-other", event_type="x", topic="t", key="k",
                                   value="v", headers=[]))
            other.commit()
        begin_write(reading)
        reading.add(OutboxRecord(event_id="e-mine", event_type="x", topic="t", key="k",
                                 value="v", headers=[]))
        reading.commit()
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(OutboxRecord)) == 2


def test_a_savepoint_rolls_back_inside_its_transaction(sessions):
    """SQLite emits BEGIN itself now, so a savepoint belongs to the transaction: the
    transaction's rollback undoes a released savepoint too."""
    with sessions() as s:
        with s.begin_nested():
            s.add(OutboxRecord(event_id="e-1", event_type="x", topic="t", key="k",
                               value="v", headers=[]))
        s.rollback()
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(OutboxRecord)) == 0


def locked_error():
    return OperationalError("UPDATE ...", {}, sqlite3.OperationalError("database is locked"))


def test_transient_errors_are_told_from_others():
    assert is_transient(locked_error())
    assert not is_transient(OperationalError(
        "INSERT ...", {}, sqlite3.OperationalError("no such column: region")))


def test_the_projector_applies_a_batch_again_after_a_transient_error(
        broker, sessions, topic_prefix, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    real = Projector.apply_batch
    failures = []

    def flaky(self, batch, producer):
        if len(failures) < 2:
            failures.append(1)
            with sessions() as s:  # the batch's writes so far are rolled back
                s.add(Trigger(id="half-done", worker_id="w", kind="counselling_referral",
                              cause="c", reason="r", due_date=date(2027, 5, 1)))
                s.flush()
                raise locked_error()
        return real(self, batch, producer)

    monkeypatch.setattr(Projector, "apply_batch", flaky)
    projector, stop, thread = run_projector(broker, sessions, topic_prefix)
    try:
        publish_triggers(broker.bootstrap, TRIGGERS.prefixed(topic_prefix).name, 20)
        wait_for(lambda: triggers_in(sessions) == 20, timeout=60, what="the batch applied")
    finally:
        stop.set()
        thread.join(timeout=30)
    assert projector.retries == 2 and projector.applied == 20
    assert "restarting its consumer" not in caplog.text
    with sessions() as s:
        assert s.get(Trigger, "half-done") is None


def test_the_relay_waits_out_a_busy_database(broker, sessions, topic_prefix, monkeypatch,
                                             caplog):
    """A transient error while stamping: the relay logs, waits and goes on (the rows
    are published again with the same ids); no lock is held while Kafka answers."""
    caplog.set_level(logging.INFO)
    with sessions() as s:
        employers.create(db_session=s, employer_in=EmployerCreate(
            employer_id="e1", name="Hof GmbH", country="DE", registration_number="HRB 1"))
    real = relay.publish_batch
    calls = []
    lock_free = []

    def check_no_lock(ids):
        url = str(sessions.kw["bind"].url)
        if url.startswith("sqlite:///"):  # would fail at once if the relay held the lock
            other = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0,
                                    isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            other.close()
        lock_free.append(True)

    def flaky(factory, producer, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise locked_error()
        return real(factory, producer, **kwargs, before_stamp=check_no_lock)

    monkeypatch.setattr(relay, "publish_batch", flaky)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(sessions, [broker.bootstrap], 0.02, stop),
                              kwargs={"topic_prefix": topic_prefix}, daemon=True)
    thread.start()
    try:
        def published():
            with sessions() as s:
                return s.scalar(select(func.count()).select_from(OutboxRecord).where(
                    OutboxRecord.published_at.is_(None))) == 0
        wait_for(published, timeout=60, what="the outbox published")
    finally:
        stop.set()
        thread.join(timeout=30)
    assert thread.is_alive() is False and lock_free
    assert "database busy or unreachable" in caplog.text
    records = read_until(broker.bootstrap, [EMPLOYERS.prefixed(topic_prefix).name],
                         lambda r: len(r) >= 1)
    assert len({r.headers["ce_id"] for r in records}) == 1
