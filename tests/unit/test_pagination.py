"""``pagination.paged``, the one count-and-page every list uses: the total counts the
whole filtered query, pages follow the order given and neither skip nor repeat rows."""

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from services.gateway.employers.models import Employer
from services.gateway.pagination import Page, PageParams, paged


def employers(session: Session, n: int) -> None:
    for i in range(n):
        session.add(Employer(id=f"e{i:02}", name=f"n{i}", country="DE" if i % 3 else "PL",
                             registration_number="r", request_hash="h"))
    session.commit()


def test_pages_partition_the_filtered_query_in_order():
    engine = create_engine("sqlite://")
    Employer.metadata.create_all(engine, tables=[Employer.metadata.tables["employers"]])
    with Session(engine) as session:
        employers(session, 10)
        query = select(Employer).where(Employer.country == "DE")
        seen: list[str] = []
        for offset in (0, 3, 6):
            rows, total = paged(db_session=session, query=query, order_by=(Employer.id.desc(),),
                                limit=3, offset=offset)
            assert total == 6
            seen.extend(r.id for r in rows)
        assert seen == ["e08", "e07", "e05", "e04", "e02", "e01"]
        rows, total = paged(db_session=session, query=query, order_by=(Employer.id,),
                            limit=3, offset=6)
        assert (rows, total) == ([], 6)
    engine.dispose()


def test_a_page_carries_what_was_asked_for():
    page = Page.of(["a", "b"], 7, PageParams(limit=2, offset=4))
    assert page.model_dump() == {"items": ["a", "b"], "total": 7, "limit": 2, "offset": 4}
