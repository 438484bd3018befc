"""The projector folds the matcher's events into the read models once per event id,
and sends what it cannot read to the dead-letter topic without stopping."""

import threading

import pytest
from sqlalchemy import func, select

from eventbus.deadletter import reason_of
from schemas.events import triggers as tev
from schemas.events.vacancies import VacancyEvaluated, Verdict, Violation
from schemas.topics import TRIGGERS, VACANCY_STATUS
from services.gateway.database.core import make_engine, make_sessionmaker
from services.gateway.projections.consumer import Projector
from services.gateway.projections.models import ProcessedEvent
from services.gateway.projections.registry import projections
from services.gateway.triggers.models import Trigger
from services.gateway.vacancies.models import Vacancy
from tests.support.kafka import Publisher, read_until
from tests.support.processes import wait_for

pytestmark = pytest.mark.kafka


@pytest.fixture
def sessions(database_url):
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def projector(broker, sessions, topic_prefix):
    p = Projector(sessions=sessions, bootstrap=[broker.bootstrap],
                  topics=[VACANCY_STATUS.prefixed(topic_prefix).name,
                          TRIGGERS.prefixed(topic_prefix).name],
                  group_id=f"{topic_prefix}projector", projections=projections())
    stop = threading.Event()
    thread = threading.Thread(target=p.run, args=(stop,), daemon=True)
    thread.start()
    yield p
    stop.set()
    thread.join(timeout=30)


def add_vacancy(sessions, vacancy_id="v1"):
    with sessions() as s:
        s.add(Vacancy(id=vacancy_id, employer_id="e1", destination_country="DE",
                      isco_code="6111", start_date=__import__("datetime").date(2027, 3, 1),
                      positions=2, body={}, request_hash="h"))
        s.commit()


def verdict_of(sessions, vacancy_id="v1"):
    with sessions() as s:
        row = s.get(Vacancy, vacancy_id)
        return row.verdict, row.violations


def test_verdicts_reach_the_read_model_once(broker, sessions, topic_prefix, projector):
    add_vacancy(sessions)
    topic = VACANCY_STATUS.prefixed(topic_prefix).name
    pub = Publisher(broker.bootstrap)
    rejected = VacancyEvaluated(vacancy_id="v1", employer_id="e1", agreement_id="a",
                                status=Verdict.REJECTED,
                                violations=[Violation.EMPLOYER_NOT_VERIFIED])
    pub.event(topic, rejected, event_id="ev-1")
    wait_for(lambda: verdict_of(sessions) == ("rejected", ["employer_not_verified"]),
             what="the rejected verdict")
    opened = VacancyEvaluated(vacancy_id="v1", employer_id="e1", agreement_id="a",
                              status=Verdict.OPEN)
    pub.event(topic, opened, event_id="ev-2")
    wait_for(lambda: verdict_of(sessions) == ("open", []), what="the open verdict")
    # the relay of a crashed producer sends ev-1 again: it must not undo ev-2
    pub.event(topic, rejected, event_id="ev-1")
    pub.event(topic, opened, event_id="ev-3")
    wait_for(lambda: projector.applied == 3, what="ev-3 applied")
    assert verdict_of(sessions) == ("open", [])
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ProcessedEvent)) == 3
    pub.close()


def test_unreadable_records_go_to_the_dead_letter_topic(broker, sessions, topic_prefix,
                                                        projector):
    add_vacancy(sessions)
    topic = VACANCY_STATUS.prefixed(topic_prefix).name
    pub = Publisher(broker.bootstrap)
    pub.raw(topic, b"v1", b"{broken", [("ce_id", b"x")])
    pub.event(topic, VacancyEvaluated(vacancy_id="v1", employer_id="e1", status=Verdict.OPEN))
    wait_for(lambda: verdict_of(sessions)[0] == "open", what="the valid record after a bad one")
    dead = read_until(broker.bootstrap, [VACANCY_STATUS.prefixed(topic_prefix).dead_letter],
                      lambda r: len(r) >= 1)
    assert dead[0].value == b"{broken"
    assert "bad CloudEvents headers" in reason_of(list(dead[0].headers.items()))
    assert dead[0].headers["dlq_topic"] == topic.encode()
    assert projector.dead_letters == 1
    pub.close()


def test_a_trigger_of_no_placement_is_projected(broker, sessions, topic_prefix, projector):
    """A return that closed no placement still gets its counselling referral; the
    tracker fires it without a placement id."""
    fired = tev.TriggerFired.model_validate({
        "trigger_id": tev.trigger_id("w1", None, "counselling_referral", "ret-1"),
        "worker_id": "w1", "kind": "counselling_referral", "cause": "ret-1",
        "reason": "Returned: offer a consultation.", "due_date": "2027-05-15"})
    assert fired.placement_id is None
    pub = Publisher(broker.bootstrap)
    pub.event(TRIGGERS.prefixed(topic_prefix).name, fired)
    with sessions() as s:
        wait_for(lambda: s.get(Trigger, fired.trigger_id, populate_existing=True) is not None,
                 what="the trigger")
        row = s.get(Trigger, fired.trigger_id)
        assert (row.worker_id, row.placement_id, row.kind, row.status) == (
            "w1", None, "counselling_referral", "open")
    assert projector.dead_letters == 0
    pub.close()
