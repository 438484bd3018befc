"""The migrations build exactly the tables the models describe, on both databases,
and can be rolled back."""

import json

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from services.gateway.database.migrate import alembic_config
from services.gateway.database.models import metadata


def test_migrations_match_the_models(database_url):
    engine = create_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
    engine.dispose()
    assert diff == []


def test_migrations_roll_back(database_url):
    from alembic import command

    command.downgrade(alembic_config(database_url), "base")
    engine = create_engine(database_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    command.upgrade(alembic_config(database_url), "head")


def test_0003_widens_columns_and_scrubs_what_erasure_now_scrubs(database_url):
    """From 0002: a region of 200 characters fits, a trigger may lack its placement,
    no timeline keeps a date of birth, and an erased worker's stored events, return
    bodies and trigger reasons keep only pseudonymous facts."""
    from alembic import command
    from sqlalchemy import text

    command.downgrade(alembic_config(database_url), "0002")
    engine = create_engine(database_url)
    now = "2027-05-01 00:00:00+00:00"
    registered = json.dumps({"worker_id": "w1", "date_of_birth": "1990-05-17",
                             "citizenship": "AM", "skills": ["tractor"]})
    with engine.begin() as conn:
        for worker, status in (("w1", "erased"), ("w2", "active")):
            conn.execute(text(
                "INSERT INTO workers (id, citizenship, profile, status, request_hash, "
                "created_at, updated_at) VALUES (:id, 'AM', '{}', :status, 'h', :now, :now)"),
                {"id": worker, "status": status, "now": now})
            conn.execute(text(
                "INSERT INTO timeline (event_id, worker_id, event_type, at, data) VALUES "
                "(:id, :w, 'circular.worker.registered', :now, :data)"),
                {"id": f"ev-{worker}", "w": worker, "now": now,
                 "data": registered.replace("w1", worker)})
        conn.execute(text(
            "INSERT INTO outbox (event_id, event_type, topic, key, value, headers, created_at, "
            "published_at) VALUES ('ev-w1', 'circular.worker.registered', 't', 'w1', :v, "
            "'[]', :now, :now)"), {"v": registered, "now": now})
        conn.execute(text(
            "INSERT INTO returns (id, worker_id, return_date, body, status, created_at) "
            "VALUES ('r1', 'w1', '2027-04-01', :b, 'matched', :now)"),
            {"b": json.dumps({"worker_id": "w1", "return_date": "2027-04-01",
                              "needs": ["health"]}), "now": now})
        conn.execute(text(
            "INSERT INTO triggers (id, worker_id, placement_id, kind, cause, reason, due_date, "
            "status, note, fired_at) VALUES ('t1', 'w1', 'p1', 'skills_recognition', 'c', "
            "'Acquired skills abroad (greenhouse)', '2027-05-01', 'open', 'a note', :now)"),
            {"now": now})
    command.upgrade(alembic_config(database_url), "head")
    with engine.begin() as conn:
        timelines = {w: json.loads(d) if isinstance(d, str) else d for w, d in conn.execute(
            text("SELECT worker_id, data FROM timeline"))}
        assert timelines == {"w1": {"worker_id": "w1"},
                             "w2": {"worker_id": "w2", "citizenship": "AM",
                                    "skills": ["tractor"]}}
        value = conn.execute(text("SELECT value FROM outbox")).scalar()
        assert json.loads(value) == {"worker_id": "w1"}
        body = conn.execute(text("SELECT body FROM returns")).scalar()
        body = json.loads(body) if isinstance(body, str) else body
        assert body == {"worker_id": "w1", "return_date": "2027-04-01"}
        assert conn.execute(text("SELECT reason, note FROM triggers")).one() == (
            "Details removed when the worker's data was erased.", None)
        conn.execute(text("UPDATE workers SET region = :r WHERE id = 'w2'"), {"r": "R" * 200})
        conn.execute(text("UPDATE triggers SET placement_id = NULL"))
    engine.dispose()
