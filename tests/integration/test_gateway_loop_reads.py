"""Short reads on the event loop (``database/loop_reads.py``): on SQLite they run on
the loop on a connection of their own that refuses writes; a read that must record
an audit row runs again in the thread pool and records it; lists that are not scoped
to one vacancy or worker, and everything on PostgreSQL, stay in the thread pool."""

import threading

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from services.gateway.database import threads
from services.gateway.database.core import OffLoop, begin_write
from services.gateway.database.loop_reads import make_loop_reads
from tests.support.gateway import advance_match


@pytest.fixture
def statements(api):
    """(engine, thread name) of every statement the API runs from now on."""
    seen: list[tuple[str, str]] = []
    engines = {"pool": api.sessions.kw["bind"]}
    loop_reads = api.client.app.state.loop_read_sessions
    if loop_reads is not None:
        engines["loop"] = loop_reads.kw["bind"]
    listeners = []
    for name, engine in engines.items():
        def record(*_, name=name):
            seen.append((name, threading.current_thread().name))
        event.listen(engine, "before_cursor_execute", record)
        listeners.append((engine, record))
    yield seen
    for engine, record in listeners:
        event.remove(engine, "before_cursor_execute", record)


def sqlite(api):
    return api.sessions.kw["bind"].dialect.name == "sqlite"


def in_pool(thread_name):
    """A thread of the database's pool (``database/threads.py``)."""
    return thread_name.startswith(f"{threads.THREAD_NAME}_")


def ran_on_loop(seen):
    return bool(seen) and all(e == "loop" and not in_pool(t) for e, t in seen)


def ran_in_pool(seen):
    return bool(seen) and all(e == "pool" and in_pool(t) for e, t in seen)


@pytest.mark.parametrize("who,path", [
    ("rec", "/agreements/am-de"), ("emp1", "/vacancies/v1"), ("rec", "/vacancies/v1/matches"),
    ("wk1", "/matches"), ("rec", "/matches?vacancy_id=v1"), ("emp1", "/vacancies"),
])
def test_a_short_read_answers_from_the_loop_on_sqlite_and_the_pool_elsewhere(
        api, world, statements, who, path):
    api.get(who, path)  # signing in and the token's first check run in the pool
    statements.clear()
    r = api.get(who, path)
    assert r.status_code == 200, r.text
    assert r.json()  # the same answer as from the pool (the other tests check its content)
    assert (ran_on_loop if sqlite(api) else ran_in_pool)(statements), statements


def test_an_unscoped_list_and_an_audited_read_stay_in_the_pool(api, world, statements):
    api.as_("admin"), api.as_("rec")  # signed in
    assert api.get("admin", "/matches").json()["total"] == 2  # every match: a whole count
    assert ran_in_pool(statements), statements
    statements.clear()
    assert api.get("rec", "/workers/w1").json()["full_name"] == "Anahit Petrosyan w1"
    assert ran_in_pool(statements), statements


def test_a_read_that_must_be_audited_runs_again_in_the_pool_and_is_audited(
        api, world, statements):
    """An employer sees its accepted candidate's name, and that read is recorded: on
    SQLite the loop's attempt gives way to the thread pool when the audit row is due."""
    mid = advance_match(api, "w1", "v1", "e1", "approved", "accepted")
    api.get("emp1", "/vacancies/v1")  # signed in, the token checked once
    statements.clear()
    r = api.get("emp1", f"/matches/{mid}")
    assert r.status_code == 200 and r.json()["candidate_name"] == "Anahit Petrosyan w1"
    engines = [e for e, _ in statements]
    assert engines == sorted(engines) and set(engines) == ({"loop", "pool"} if sqlite(api)
                                                           else {"pool"}), statements
    assert all(in_pool(t) for e, t in statements if e == "pool"), statements
    audit = api.get("admin", "/workers/w1/audit").json()["items"]
    assert [(a["actor_role"], a["action"]) for a in audit] == [("employer",
                                                                 "read_personal_data")]


def test_the_loop_s_sessions_refuse_to_write(tmp_path, database_url):
    loop_reads = make_loop_reads(database_url, off_loop=sessionmaker())
    if not database_url.startswith("sqlite"):
        assert loop_reads is None
        return
    assert loop_reads is not None
    with loop_reads() as session:
        assert session.execute(text("SELECT count(*) FROM agreements")).scalar() == 0
        with pytest.raises(OffLoop):
            begin_write(session)
        with pytest.raises(OperationalError, match="readonly"):
            session.execute(text("DELETE FROM agreements"))
    loop_reads.kw["bind"].dispose()
