"""A party's list is always scoped to its own id: a worker's or an employer's login
whose id is missing is refused, never answered with everyone's rows (the prepared
listings drop a filter that is not given)."""

from datetime import date

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from services.gateway.auth.security import Principal
from services.gateway.database.core import Base
from services.gateway.errors import Forbidden
from services.gateway.placements import service as placements
from services.gateway.placements.models import Placement
from services.gateway.vacancies import service as vacancies


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        for n in (1, 2):
            s.add(Placement(id=f"p{n}", match_id=f"m{n}", worker_id=f"w{n}", status="departed",
                            departure_date=date(2027, 3, n), request_hash="h"))
        s.commit()
        yield s
    engine.dispose()


def test_a_worker_sees_its_own_placements_only(session):
    mine, total = placements.list_placements(
        db_session=session, user=Principal("u1", "wk1", "worker", worker_id="w1"), status=None,
        worker_id=None, limit=50, offset=0)
    assert [p.placement_id for p in mine] == ["p1"] and total == 1


def test_a_worker_login_without_a_worker_is_refused(session):
    with pytest.raises(Forbidden):
        placements.list_placements(db_session=session, user=Principal("u9", "x", "worker"),
                                   status=None, worker_id=None, limit=50, offset=0)
    with pytest.raises(Forbidden):
        placements.list_returns(db_session=session, user=Principal("u9", "x", "worker"),
                                status=None, worker_id=None, limit=50, offset=0)


def test_an_employer_login_without_an_employer_is_refused(session):
    with pytest.raises(Forbidden):
        vacancies.list_for(db_session=session, user=Principal("u8", "y", "employer"),
                           employer_id=None, limit=50, offset=0)
