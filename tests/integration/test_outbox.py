"""The transactional outbox: state and event commit together; the relay publishes
with CloudEvents headers and stamps rows; a crash between publishing and stamping
publishes again with the same event id, never a different one."""

import pytest
from sqlalchemy import select

from schemas.topics import EMPLOYERS
from services.gateway.database.core import make_engine, make_sessionmaker
from services.gateway.employers import service as employers
from services.gateway.employers.models import Employer, EmployerCreate
from services.gateway.outbox import relay
from services.gateway.outbox.models import OutboxRecord
from tests.support.kafka import read_all, read_until

pytestmark = pytest.mark.kafka


@pytest.fixture
def sessions(database_url):
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def create_employer(sessions, employer_id="e1"):
    with sessions() as s:
        employers.create(db_session=s, employer_in=EmployerCreate(
            employer_id=employer_id, name="Hof GmbH", country="DE", registration_number="HRB 1"))


def test_state_and_event_commit_together_or_not_at_all(sessions):
    with sessions() as s:
        s.add(Employer(id="x", name="n", country="DE", registration_number="r",
                       request_hash="h"))
        from schemas.events.employers import EmployerRegistered
        from services.gateway.outbox import service as outbox
        outbox.add(db_session=s, event=EmployerRegistered(employer_id="x", country="DE"))
        s.rollback()
    with sessions() as s:
        assert s.get(Employer, "x") is None
        assert s.scalars(select(OutboxRecord)).all() == []


def test_relay_publishes_in_order_and_stamps(broker, sessions, topic_prefix):
    for i in range(3):
        create_employer(sessions, f"e{i}")
    with sessions() as s:  # the row names the topic as the catalogue does; the relay prefixes it
        assert [r.topic for r in s.scalars(select(OutboxRecord))] == [EMPLOYERS.name] * 3
    producer = relay.make_producer([broker.bootstrap])
    assert relay.publish_batch(sessions, producer, topic_prefix=topic_prefix) == 3
    assert relay.publish_batch(sessions, producer, topic_prefix=topic_prefix) == 0
    producer.close()
    topic = EMPLOYERS.prefixed(topic_prefix).name
    records = read_until(broker.bootstrap, [topic], lambda r: len(r) >= 3)
    events = [r.decoded() for r in records]
    assert sorted(e.event.employer_id for e in events) == ["e0", "e1", "e2"]
    for r in records:
        assert r.headers["ce_source"] == b"/circular/gateway"
        assert r.key == r.decoded().event.employer_id.encode()
    with sessions() as s:
        rows = s.scalars(select(OutboxRecord)).all()
        assert all(r.published_at is not None for r in rows)
        assert {r.event_id for r in rows} == {e.envelope.id for e in events}


def test_crash_before_stamping_republishes_the_same_event_id(broker, sessions, topic_prefix):
    create_employer(sessions)
    producer = relay.make_producer([broker.bootstrap])

    def crash(_ids):
        raise RuntimeError("killed between publish and stamp")

    with pytest.raises(RuntimeError):
        relay.publish_batch(sessions, producer, topic_prefix=topic_prefix, before_stamp=crash)
    assert relay.publish_batch(sessions, producer, topic_prefix=topic_prefix) == 1
    producer.close()
    records = read_all(broker.bootstrap, [EMPLOYERS.prefixed(topic_prefix).name])
    assert len(records) == 2
    assert len({r.headers["ce_id"] for r in records}) == 1
