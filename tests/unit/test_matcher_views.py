"""A worker's view built from its stored record (services/matcher/domain/views.py):
with shared values, workers with the same skills, dates or languages hold one object
of each, and every view reads as if built on its own."""

from datetime import date

from services.matcher.domain.views import SharedValues, WorkerView


def record(worker_id, skills=("tractor", "pruning"), born="1990-01-01"):
    return {"worker_id": worker_id, "standing": "active", "reentry_from": None,
            "rehire_employers": [], "profile": {
                "date_of_birth": born, "citizenship": "AM",
                "occupations": [{"isco_code": "6111", "experience_years": 5}],
                "skills": list(skills), "languages": [{"language": "en", "level": "B1"}],
                "preferred_destinations": ["DE"], "available_from": "2027-01-01",
                "consent_matching": True}}


def test_workers_alike_share_their_values_and_read_as_built_alone():
    shared = SharedValues()
    a = WorkerView.from_record(record("w1"), shared)
    b = WorkerView.from_record(record("w2", skills=("pruning", "tractor")), shared)
    c = WorkerView.from_record(record("w3", skills=("welding",), born="1991-05-05"), shared)
    assert a is not None and b is not None and c is not None
    assert a.skills is b.skills and a.occupations is b.occupations
    assert a.languages is b.languages and a.date_of_birth is b.date_of_birth
    assert a.available_from is c.available_from
    assert c.skills == frozenset({"welding"}) and c.date_of_birth == date(1991, 5, 5)
    for view, worker_id in ((a, "w1"), (b, "w2"), (c, "w3")):
        alone = WorkerView.from_record(record(worker_id, skills=sorted(view.skills),
                                              born=view.date_of_birth.isoformat()))
        assert view == alone


def test_shared_values_stay_within_two_generations_and_keep_what_is_asked_for():
    """Churn brings new values all the time: what is held stays under two generations'
    worth, and a value asked for in every generation stays one object throughout."""
    shared = SharedValues()
    shared.generation = 100
    kept = shared.value(frozenset({"tractor"}))
    day = shared.day("2027-01-01")
    first = shared.value(frozenset({"skill0"}))
    for n in range(1_000):
        shared.value(frozenset({f"skill{n}"}))
        shared.mapping({"6111": n})
        if n % 50 == 0:  # asked for again within each generation
            assert shared.value(frozenset({"tractor"})) is kept
            assert shared.day("2027-01-01") is day
        assert len(shared) <= 2 * shared.generation
    assert shared.value(frozenset({"tractor"})) is kept
    assert shared.mapping({"6111": 999}) is shared.mapping({"6111": 999})
    # a value nobody asked for in a whole generation has left: an equal one is new
    again = shared.value(frozenset({"skill0"}))
    assert again == first and again is not first
