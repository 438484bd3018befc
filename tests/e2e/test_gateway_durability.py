"""The gateway's promises across crashes, with its processes on the real broker:
a write committed while nothing publishes is published exactly once after a
restart, and the read models stay free of duplicates when the projector is killed
and events are delivered again."""

from collections import Counter

import httpx
from sqlalchemy import create_engine, text

from schemas.events import matches as mev
from schemas.events.matches import match_id
from schemas.topics import AGREEMENTS, EMPLOYERS, MATCHES
from tests.support.gateway import AGREEMENT
from tests.support.kafka import Publisher, read_all
from tests.support.processes import wait_for


def test_a_write_committed_before_a_crash_is_published_once(system):
    system.start("api")  # no relay: nothing is published yet
    api = system.client(system.token())
    assert api.post("/agreements", json=AGREEMENT).status_code == 202
    for n in range(5):
        assert api.post("/employers", json={"employer_id": f"e{n}", "name": "Hof",
                                             "country": "DE", "registration_number": f"R{n}"}
                        ).status_code == 202
    system.processes["api"].kill()  # the whole gateway dies before anything was published
    engine = create_engine(system.database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                            ).scalar() == 6
    system.start("api", "relay")
    wait_for(lambda: _unpublished(engine) == 0, timeout=60, what="the relay to catch up")
    records = read_all(system.bootstrap, [AGREEMENTS.prefixed(system.prefix).name,
                                          EMPLOYERS.prefixed(system.prefix).name])
    ids = Counter(r.headers["ce_id"] for r in records)
    assert len(records) == 6 and set(ids.values()) == {1}
    assert {r.decoded().event.key for r in records} == {"am-de", "e0", "e1", "e2", "e3", "e4"}
    engine.dispose()


def _unpublished(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                            ).scalar()


def test_read_models_survive_a_projector_kill_and_redelivery(system):
    system.start("api", "projector")
    topic = MATCHES.prefixed(system.prefix).name
    pub = Publisher(system.bootstrap)
    engine = create_engine(system.database_url)

    def proposed(n):
        return mev.MatchProposed(match_id=match_id(f"w{n}", "v1"), vacancy_id="v1",
                                 worker_id=f"w{n}", employer_id="e1", agreement_id="am-de",
                                 destination_country="DE", isco_code="6111", score=0.5)

    for n in range(200):
        pub.event(topic, proposed(n), event_id=f"ev-{n}")
        if n == 100:
            system.processes["projector"].kill()
            system.processes["projector"].restart()
    for n in range(50):  # the matcher's relay publishes some again after its own crash
        pub.event(topic, proposed(n), event_id=f"ev-{n}")

    def count(sql):
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()

    wait_for(lambda: count("SELECT count(*) FROM processed_events") == 200, timeout=90,
             what="all 200 events applied")
    assert count("SELECT count(*) FROM matches") == 200
    assert count("SELECT count(*) FROM timeline") == 200
    assert count("SELECT count(DISTINCT worker_id) FROM timeline") == 200
    pub.close()
    engine.dispose()


def test_metrics_show_requests_backlog_and_lag(system):
    system.start("api", "projector")
    api = system.client(system.token())
    api.post("/agreements", json=AGREEMENT)
    body = httpx.get(f"{system.url}/metrics").text
    assert 'circular_http_requests_total{method="POST",route="/api/v1/agreements",status="202"}' \
        in body
    assert "circular_outbox_backlog 1.0" in body
    status_topic = f'circular_projector_lag_records{{topic="{system.prefix}circular.matches"}} 0.0'
    wait_for(lambda: status_topic in httpx.get(f"{system.url}/metrics").text, timeout=30,
             what="the projector's lag in /metrics")
