"""``pagination.paged``, the one count-and-page every list uses: the total counts the
whole filtered query, pages follow the order given and neither skip nor repeat rows."""

from sqlalchemy import bindparam, create_engine, event, select
from sqlalchemy.orm import Session

from services.gateway.employers.models import Employer
from services.gateway.pagination import (
    Page,
    PageParams,
    paged,
    paged_entities,
    paged_rows,
    prepare,
)


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


def test_every_page_gives_the_whole_total_full_partial_past_the_end_or_empty():
    engine = create_engine("sqlite://")
    Employer.metadata.create_all(engine, tables=[Employer.metadata.tables["employers"]])
    with Session(engine) as session:
        employers(session, 7)
        for country, expected in (("DE", 4), ("PL", 3), ("FR", 0)):
            query = select(Employer).where(Employer.country == country)
            prepared = prepare(select(Employer.id, Employer.country)
                               .where(Employer.country == bindparam("country")), (Employer.id,))
            entities = prepare(select(Employer), (Employer.id,), [Employer.country])
            for limit in (1, 2, 3, 4, 5):
                for offset in range(0, 8):
                    rows, total = paged(db_session=session, query=query,
                                        order_by=(Employer.id,), limit=limit, offset=offset)
                    assert total == expected, (country, limit, offset)
                    assert len(rows) == max(0, min(limit, expected - offset))
                    tuples, total = paged_rows(db_session=session, prepared=prepared,
                                               values={"country": country}, limit=limit,
                                               offset=offset)
                    assert total == expected
                    assert [t.id for t in tuples] == [r.id for r in rows]
                    assert all(t.country == country for t in tuples)
                    objects, total = paged_entities(db_session=session, prepared=entities,
                                                    values={"country": country}, limit=limit,
                                                    offset=offset)
                    assert total == expected and objects == rows
    engine.dispose()


def test_a_page_that_is_not_full_is_not_counted_again():
    engine = create_engine("sqlite://")
    Employer.metadata.create_all(engine, tables=[Employer.metadata.tables["employers"]])
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: statements.append(statement))
    with Session(engine) as session:
        employers(session, 5)
        query = select(Employer)
        for (limit, offset), selects in {(10, 0): 1, (3, 3): 1, (3, 0): 2, (3, 9): 2}.items():
            statements.clear()
            paged(db_session=session, query=query, order_by=(Employer.id,), limit=limit,
                  offset=offset)
            assert len(statements) == selects, (limit, offset, statements)
    engine.dispose()
