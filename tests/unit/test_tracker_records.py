"""How the tracker stores placements: the stored JSON round-trips, keeps the format
records already in a changelog have, and carries the date the placement next needs
a tick (the index reads it instead of decoding the record)."""

from dataclasses import asdict, fields
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.tracker import records
from services.tracker.domain.placement import (
    Placement,
    Terms,
    depart,
    next_due,
    on_tick,
    register_return,
)
from services.tracker.placements_stage import DueIndex, due_of

DEPARTED = date(2027, 4, 1)


def terms(months=6, grace=14, cooldown=3):
    return Terms(match_id="m1", worker_id="w1", vacancy_id="v1", employer_id="e1",
                 agreement_id="am-de", destination_country="DE", isco_code="6111",
                 contract_months=months, return_grace_days=grace,
                 reentry_cooldown_months=cooldown)


@st.composite
def placements(draw):
    """Placements in every state the rules can bring them to."""
    p = depart("p-1", terms(draw(st.integers(1, 24)), draw(st.integers(0, 60)),
                            draw(st.integers(0, 24))), DEPARTED)
    for step in draw(st.lists(st.sampled_from(["tick", "return"]), max_size=4)):
        later = DEPARTED + timedelta(days=draw(st.integers(0, 1200)))
        if step == "tick":
            p, _ = on_tick(p, later)
        elif p.abroad:
            p = register_return(p, later, draw(st.none() | st.just("r-1")))
    return p


def dumped_as_before(p):
    """The stored form the tracker wrote before ``dump`` was written out by hand."""
    out = asdict(p)
    for name in ("departure_date", "expected_return_date", "return_date", "reentry_from",
                 "overdue_since"):
        out[name] = out[name].isoformat() if out[name] else None
    out["status"] = p.status.value
    out["return_timing"] = p.return_timing.value if p.return_timing else None
    return out


@given(placements())
def test_a_stored_placement_reads_back_the_same_and_in_the_same_format(p):
    stored = records.dump(p)
    assert stored == dumped_as_before(p)
    assert set(stored) == {f.name for f in fields(Placement)}
    assert set(stored["terms"]) == {f.name for f in fields(Terms)}
    assert records.load(stored) == p
    older = {k: v for k, v in stored.items() if k != "return_id"}  # before it was kept
    assert records.load(older) == Placement(**{**p.__dict__, "return_id": None})


@given(placements())
def test_the_index_reads_the_stored_due_date_and_still_reads_old_records(p):
    due = next_due(p)
    expected = due.isoformat() if due else None
    new = {"p": 2, "due": expected, **records.dump(p)}
    old = {"p": 2, **records.dump(p)}  # written before the due date was stored
    assert due_of(new) == due_of(old) == expected
    index = DueIndex()
    index.apply("pl:p-1", None, old)
    found = [] if due is None else ["pl:p-1"]
    assert index.due(2, due or date(2100, 1, 1)) == found
    if due is not None:
        assert index.due(2, due - timedelta(days=1)) == []
        assert index.due(1, due) == []  # another partition's placements
    index.apply("pl:p-1", old, new)  # the same date: still there once
    assert index.due(2, due or date(2100, 1, 1)) == found
    index.apply("pl:p-1", new, None)
    assert index.due(2, date(2100, 1, 1)) == []
