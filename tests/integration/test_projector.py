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


# -- batches, in process: the records as the consumer hands them over ------------------

def records_of(topic, events):
    """A poll's worth of records of ``topic`` (one partition), offsets in order."""
    from kafka import TopicPartition
    from kafka.consumer.fetcher import ConsumerRecord

    from schemas.codec import encode

    out = []
    for offset, (event, event_id) in enumerate(events):
        enc = encode(event, source="/tests", event_id=event_id)
        out.append(ConsumerRecord(topic, 0, 0, offset, 0, 0, enc.key, enc.value, enc.headers,
                                  None, len(enc.key), len(enc.value), 0))
    return {TopicPartition(topic, 0): out}


def proposed(worker_id, vacancy_id="v1", score=0.5):
    from schemas.events import matches as mev

    return mev.MatchProposed(match_id=mev.match_id(worker_id, vacancy_id),
                             vacancy_id=vacancy_id, worker_id=worker_id, employer_id="e1",
                             agreement_id="am-de", destination_country="DE",
                             isco_code="6111", score=score)


def in_process(sessions, mapping=None):
    return Projector(sessions=sessions, bootstrap=[], topics=[], group_id="g",
                     projections=mapping or projections())


def test_a_batch_applies_each_event_once(sessions):
    """Repeats inside a batch and across batches are skipped; matches and the timeline
    get one row per event; the offsets' batch applied again changes nothing."""
    from services.gateway.matches.models import Match
    from services.gateway.timeline.models import TimelineEntry

    add_vacancy(sessions)
    events = [(proposed(f"w{n}", score=n / 10), f"ev-{n}") for n in range(8)]
    batch = records_of("circular.matches", events + events[:3])
    p = in_process(sessions)
    p.apply_batch(batch, None)
    p.apply_batch(batch, None)
    assert (p.applied, p.dead_letters) == (8, 0)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ProcessedEvent)) == 8
        assert s.scalar(select(func.count()).select_from(TimelineEntry)) == 8
        rows = s.scalars(select(Match).order_by(Match.score)).all()
        assert [(r.worker_id, r.status, r.start_year) for r in rows] == [
            (f"w{n}", "proposed", 2027) for n in range(8)]


def test_a_failing_projection_dead_letters_only_its_event(sessions):
    """A projection that raises for one event: that event is dead-lettered with nothing
    of it kept (no match, no timeline entry, not marked processed), the others of the
    same batch apply."""
    from schemas.events import matches as mev
    from services.gateway.matches.models import Match
    from services.gateway.timeline.models import TimelineEntry

    add_vacancy(sessions)
    mapping = projections()
    real = mapping[mev.MatchProposed]

    def flaky(fold, decoded):
        real(fold, decoded)
        if decoded.event.worker_id == "w3":
            raise RuntimeError("a bug")

    mapping[mev.MatchProposed] = flaky
    p = in_process(sessions, mapping)
    p.apply_batch(records_of("circular.matches",
                             [(proposed(f"w{n}"), f"ev-{n}") for n in range(6)]), None)
    assert (p.applied, p.dead_letters) == (5, 1)
    with sessions() as s:
        assert sorted(s.scalars(select(Match.worker_id))) == ["w0", "w1", "w2", "w4", "w5"]
        assert s.get(ProcessedEvent, "ev-3") is None
        assert s.scalar(select(TimelineEntry.seq).where(TimelineEntry.event_id == "ev-3")) is None
    p = in_process(sessions)  # fixed: the event is applied when it comes again
    p.apply_batch(records_of("circular.matches", [(proposed("w3"), "ev-3")]), None)
    assert p.applied == 1


def test_a_row_the_api_changes_while_a_chunk_is_folded_is_folded_again(sessions,
                                                                         monkeypatch):
    """The chunk is folded before the projector takes the write lock. The employer
    closes the vacancy in between (the API commits after the fold read the row): the
    stream must tell the vacancy's true status, closed, and the verdict still lands."""
    from services.gateway.projections import consumer
    from services.gateway.stream.models import Change

    add_vacancy(sessions)
    real_claim = consumer.claim

    def api_closes_the_vacancy_first(session, items):
        with sessions() as api:
            api.get(Vacancy, "v1").closed = True
            api.commit()
        return real_claim(session, items)

    monkeypatch.setattr(consumer, "claim", api_closes_the_vacancy_first)
    p = in_process(sessions)
    p.apply_batch(records_of("circular.vacancy-status", [(VacancyEvaluated(
        vacancy_id="v1", employer_id="e1", agreement_id="a", status=Verdict.OPEN), "ev-1")]),
        None)
    assert p.applied == 1
    with sessions() as s:
        vacancy = s.get(Vacancy, "v1")
        assert (vacancy.verdict, vacancy.closed) == ("open", True)
        assert s.scalars(select(Change.status).where(Change.entity_id == "v1")).all() == [
            "closed"]


def test_an_event_another_projector_applies_meanwhile_is_not_folded_twice(sessions,
                                                                          monkeypatch):
    """Two projectors hold the same records for a moment in a rebalance. One claims an
    event after the other folded it but before it took the lock: the event is applied
    once (one match, one timeline entry), and the rest of the chunk applies."""
    from services.gateway.matches.models import Match
    from services.gateway.projections import consumer
    from services.gateway.timeline.models import TimelineEntry

    add_vacancy(sessions)
    real_claim = consumer.claim
    batch = records_of("circular.matches", [(proposed(f"w{n}"), f"ev-{n}") for n in range(3)])

    def the_other_projector_applies_ev_1_first(session, items):
        monkeypatch.setattr(consumer, "claim", real_claim)
        other = in_process(sessions)
        other.apply_batch({tp: rs[1:2] for tp, rs in batch.items()}, None)
        assert other.applied == 1
        return real_claim(session, items)

    monkeypatch.setattr(consumer, "claim", the_other_projector_applies_ev_1_first)
    p = in_process(sessions)
    p.apply_batch(batch, None)
    assert p.applied == 2
    with sessions() as s:
        assert sorted(s.scalars(select(Match.worker_id))) == ["w0", "w1", "w2"]
        assert sorted(s.scalars(select(TimelineEntry.event_id))) == ["ev-0", "ev-1", "ev-2"]


def test_an_event_the_database_refuses_is_dead_lettered_alone(sessions):
    """A placement that names a match another placement has (a unique column): the
    database refuses the chunk; its events are applied again one by one, in savepoints,
    and only the refused one is dead-lettered (the projector does not stop on it)."""
    from datetime import date

    from schemas.events import placements as pev
    from services.gateway.placements.models import Placement

    def started(placement_id, match_id, worker_id):
        return pev.PlacementStarted(
            placement_id=placement_id, match_id=match_id, worker_id=worker_id,
            vacancy_id="v1", employer_id="e1", agreement_id="am-de",
            destination_country="DE", isco_code="6111", departure_date=date(2027, 4, 1),
            expected_return_date=date(2027, 10, 1))

    add_vacancy(sessions)
    events = [(started("p-1", "m-1", "w1"), "ev-1"), (proposed("w9"), "ev-2"),
              (started("p-2", "m-1", "w2"), "ev-3"), (started("p-3", "m-3", "w3"), "ev-4")]
    p = in_process(sessions)
    p.apply_batch(records_of("circular.placements", events), None)
    assert (p.applied, p.dead_letters) == (3, 1)
    with sessions() as s:
        assert sorted(s.scalars(select(Placement.id))) == ["p-1", "p-3"]
        assert s.get(ProcessedEvent, "ev-3") is None
        assert s.get(ProcessedEvent, "ev-2") is not None


def test_a_refused_commit_and_an_unknown_lag_keep_the_consumer(broker, sessions, topic_prefix,
                                                               caplog):
    """The group refuses the first commit (a rebalance) and the broker cannot give a
    partition's position for the lag metric: the projector keeps its one consumer,
    applies every event once, and says why the offsets were not committed."""
    import logging

    from kafka import KafkaConsumer
    from kafka.errors import CommitFailedError, KafkaTimeoutError

    caplog.set_level(logging.INFO)
    consumers: list[KafkaConsumer] = []

    class Refusing(Projector):
        def _consumer(self, stop):
            consumer = super()._consumer(stop)
            commit, position = consumer.commit, consumer.position
            refused = {"commit": 0, "position": 0}

            def refuse_once(name, real, error):
                def call(*args, **kwargs):
                    if not refused[name]:
                        refused[name] += 1
                        raise error
                    return real(*args, **kwargs)
                return call

            consumer.commit = refuse_once("commit", commit, CommitFailedError("rebalanced"))
            consumer.position = refuse_once("position", position, KafkaTimeoutError())
            consumers.append(consumer)
            return consumer

    topic = TRIGGERS.prefixed(topic_prefix).name
    p = Refusing(sessions=sessions, bootstrap=[broker.bootstrap], topics=[topic],
                 group_id=f"{topic_prefix}projector", projections=projections())
    stop = threading.Event()
    thread = threading.Thread(target=p.run, args=(stop,), daemon=True)
    thread.start()
    pub = Publisher(broker.bootstrap)
    try:
        for n in range(5):
            pub.event(topic, tev.TriggerFired(
                trigger_id=f"t-{n}", worker_id="w1", kind="counselling_referral",
                cause=f"ret-{n}", reason="Returned: offer a consultation.",
                due_date="2027-05-15"))
        with sessions() as s:
            wait_for(lambda: s.scalar(select(func.count()).select_from(Trigger)) == 5,
                     what="the five triggers")
        wait_for(lambda: "lag not recorded this time" in caplog.text, timeout=30,
                 what="the lag metric tried")
    finally:
        stop.set()
        thread.join(timeout=30)
        pub.close()
    assert len(consumers) == 1
    assert "projector restarting its consumer" not in caplog.text
    assert "offsets not committed: the group rebalanced" in caplog.text
    assert (p.uncommitted, p.applied, p.dead_letters) == (1, 5, 0)
