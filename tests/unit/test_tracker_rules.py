"""Tracker rules (SPEC 3.6) at every boundary: dates, return timing, the placement's
lifecycle under ticks, and each reintegration trigger's condition."""

from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events.placements import PlacementStatus, ReturnRegistered
from schemas.events.triggers import TriggerKind as K
from services.tracker.domain import dates, triggers
from services.tracker.domain.dates import Timing
from services.tracker.domain.placement import (
    ReturnRefused,
    Terms,
    depart,
    next_due,
    on_tick,
    register_return,
)

TERMS = Terms(match_id="m1", worker_id="w1", vacancy_id="v1", employer_id="e1",
              agreement_id="am-de", destination_country="DE", isco_code="6111",
              contract_months=6, return_grace_days=14, reentry_cooldown_months=3)
DEPARTED = date(2027, 4, 1)
EXPECTED = date(2027, 10, 1)


def placement():
    return depart("p1", TERMS, DEPARTED)


@pytest.mark.parametrize(("departure", "months", "expected"), [
    (date(2027, 1, 31), 1, date(2027, 2, 28)),
    (date(2028, 1, 31), 1, date(2028, 2, 29)),
    (date(2027, 8, 31), 6, date(2028, 2, 29)),
    (date(2027, 4, 1), 6, date(2027, 10, 1)),
    (date(2027, 12, 15), 12, date(2028, 12, 15)),
])
def test_expected_return_is_calendar_correct(departure, months, expected):
    assert dates.expected_return(departure, months) == expected


@pytest.mark.parametrize(("returned", "timing"), [
    (EXPECTED - timedelta(days=31), Timing.EARLY),
    (EXPECTED - timedelta(days=30), Timing.ON_TIME),
    (EXPECTED + timedelta(days=14), Timing.ON_TIME),
    (EXPECTED + timedelta(days=15), Timing.LATE),
])
def test_return_timing_boundaries(returned, timing):
    assert dates.timing(returned, EXPECTED, 14) is timing


@settings(max_examples=2000)
@given(day=st.dates(date(1900, 1, 1), date(2300, 12, 31)), months=st.integers(-1200, 1200))
def test_add_months_agrees_with_relativedelta(day, months):
    assert dates.add_months(day, months) == day + relativedelta(months=months)


@pytest.mark.parametrize(("day", "months", "expected"), [
    (date(2027, 1, 29), 1, date(2027, 2, 28)),
    (date(2027, 1, 30), 1, date(2027, 2, 28)),
    (date(2028, 1, 30), 1, date(2028, 2, 29)),
    (date(2027, 3, 31), 1, date(2027, 4, 30)),
    (date(2027, 3, 31), -1, date(2027, 2, 28)),
    (date(2027, 12, 31), 2, date(2028, 2, 29)),
    (date(2027, 11, 30), 3, date(2028, 2, 29)),
    (date(2027, 5, 31), 0, date(2027, 5, 31)),
    (date(2099, 12, 31), 2, date(2100, 2, 28)),  # 2100 is not a leap year
    (date(2399, 12, 31), 2, date(2400, 2, 29)),  # 2400 is
])
def test_add_months_at_month_ends(day, months, expected):
    assert dates.add_months(day, months) == expected


def test_overdue_and_referral_start_the_day_after_their_periods():
    assert dates.overdue_from(EXPECTED, 14) == date(2027, 10, 16)
    assert dates.trafficking_referral_from(EXPECTED, 14) == date(2027, 10, 30)
    assert dates.reminder_on(EXPECTED) == date(2027, 9, 1)
    assert dates.reentry_from(date(2027, 11, 30), 3) == date(2028, 2, 29)


def test_a_placement_becomes_overdue_on_the_day_not_before():
    p = placement()
    assert p.expected_return_date == EXPECTED
    p, effects = on_tick(p, date(2027, 10, 15))
    assert p.status is PlacementStatus.ABROAD and [e.kind for e in effects] == ["reminder"]
    p, effects = on_tick(p, date(2027, 10, 16))
    assert p.status is PlacementStatus.OVERDUE and p.overdue_since == date(2027, 10, 16)
    assert [e.kind for e in effects] == ["overdue"]
    p, effects = on_tick(p, date(2027, 10, 29))
    assert effects == []
    p, effects = on_tick(p, date(2027, 10, 30))
    assert [e.kind for e in effects] == ["long_overdue"]
    assert on_tick(p, date(2030, 1, 1))[1] == []


def test_the_reminder_comes_thirty_days_before_not_sooner():
    p = placement()
    assert on_tick(p, date(2027, 8, 31))[1] == []
    p, effects = on_tick(p, date(2027, 9, 1))
    assert [(e.kind, e.on) for e in effects] == [("reminder", date(2027, 9, 1))]
    assert on_tick(p, date(2027, 9, 2))[1] == []


def test_a_jump_produces_everything_due_once_in_date_order():
    p, effects = on_tick(placement(), date(2028, 1, 1))
    assert [e.kind for e in effects] == ["reminder", "overdue", "long_overdue"]
    assert on_tick(p, date(2028, 1, 2))[1] == []


def test_returns_close_the_placement_once():
    p = register_return(placement(), EXPECTED - timedelta(days=10))
    assert (p.status, p.return_timing, p.reentry_from) == (
        PlacementStatus.RETURNED, Timing.ON_TIME, date(2027, 12, 21))
    with pytest.raises(ReturnRefused, match="returned already"):
        register_return(p, EXPECTED)
    with pytest.raises(ReturnRefused, match="before the departure"):
        register_return(placement(), DEPARTED - timedelta(days=1))


def test_reentry_after_an_on_time_return_only():
    p = register_return(placement(), EXPECTED)
    assert next_due(p) == date(2028, 1, 1)
    assert on_tick(p, date(2027, 12, 31))[1] == []
    p, effects = on_tick(p, date(2028, 1, 1))
    assert [e.kind for e in effects] == ["reentry"] and next_due(p) is None
    late = register_return(placement(), EXPECTED + timedelta(days=20))
    assert late.return_timing is Timing.LATE and next_due(late) is None
    early = register_return(placement(), EXPECTED - timedelta(days=60))
    assert early.return_timing is Timing.EARLY and next_due(early) is None


def registration(**changes):
    return ReturnRegistered(**{"return_id": "r1", "worker_id": "w1",
                               "return_date": EXPECTED, **changes})


def kinds(specs):
    return [s.kind for s in specs]


@pytest.mark.parametrize(("changes", "timing", "expected"), [
    ({}, Timing.ON_TIME, [K.COUNSELLING_REFERRAL]),
    ({"intentions": ["start_business"]}, Timing.ON_TIME,
     [K.COUNSELLING_REFERRAL, K.BUSINESS_SUPPORT]),
    ({"needs": ["credit"]}, Timing.ON_TIME, [K.COUNSELLING_REFERRAL, K.BUSINESS_SUPPORT]),
    ({"needs": ["training"], "intentions": ["study"]}, Timing.ON_TIME,
     [K.COUNSELLING_REFERRAL]),
    ({"intentions": ["local_job"]}, Timing.ON_TIME,
     [K.COUNSELLING_REFERRAL, K.LOCAL_JOB_MATCHING]),
    ({"skills_acquired": ["greenhouse"]}, Timing.ON_TIME,
     [K.COUNSELLING_REFERRAL, K.SKILLS_RECOGNITION]),
    ({"return_date": EXPECTED - timedelta(days=31)}, Timing.EARLY,
     [K.COUNSELLING_REFERRAL, K.WELFARE_CHECK]),
    ({"return_date": EXPECTED - timedelta(days=31), "early_return_reason": "employer_abuse"},
     Timing.EARLY, [K.COUNSELLING_REFERRAL, K.WELFARE_CHECK, K.COUNTER_TRAFFICKING_REFERRAL]),
    ({"early_return_reason": "employer_abuse"}, Timing.ON_TIME, [K.COUNSELLING_REFERRAL]),
])
def test_return_triggers(changes, timing, expected):
    reg = registration(**changes)
    specs = triggers.on_return(reg, EXPECTED, timing)
    assert kinds(specs) == expected
    assert all(s.cause == "r1" for s in specs)


@pytest.mark.parametrize(("days_before", "abuse", "expected"), [
    (30, False, [K.COUNSELLING_REFERRAL]),
    (30, True, [K.COUNSELLING_REFERRAL]),
    (31, False, [K.COUNSELLING_REFERRAL, K.WELFARE_CHECK]),
    (31, True, [K.COUNSELLING_REFERRAL, K.WELFARE_CHECK, K.COUNTER_TRAFFICKING_REFERRAL]),
])
def test_welfare_and_abuse_referral_start_more_than_thirty_days_early(days_before, abuse,
                                                                       expected):
    """The rows of SPEC 3.6 at their boundary, with the timing the rules compute."""
    returned = EXPECTED - timedelta(days=days_before)
    reg = registration(return_date=returned,
                       early_return_reason="employer_abuse" if abuse else "family")
    timing = register_return(placement(), returned).return_timing
    assert timing is dates.timing(returned, EXPECTED, TERMS.return_grace_days)
    assert kinds(triggers.on_return(reg, EXPECTED, timing)) == expected


def test_a_return_matching_no_placement_gets_the_triggers_of_every_return():
    reg = registration(intentions=["start_business", "local_job"], skills_acquired=["pruning"],
                       return_date=EXPECTED - timedelta(days=200),
                       early_return_reason="employer_abuse")
    specs = triggers.on_any_return(reg)
    assert kinds(specs) == [K.COUNSELLING_REFERRAL, K.BUSINESS_SUPPORT,
                            K.LOCAL_JOB_MATCHING, K.SKILLS_RECOGNITION]
    assert specs == triggers.on_return(reg, EXPECTED, Timing.ON_TIME)
    assert all(s.cause == "r1" for s in specs)


def test_due_dates_and_reasons_a_caseworker_can_read():
    reg = registration(return_date=date(2027, 8, 1), early_return_reason="employer_abuse")
    specs = {s.kind: s for s in triggers.on_return(reg, EXPECTED, Timing.EARLY)}
    assert specs[K.COUNSELLING_REFERRAL].due_date == date(2027, 8, 15)
    assert specs[K.WELFARE_CHECK].due_date == date(2027, 8, 4)
    assert specs[K.COUNTER_TRAFFICKING_REFERRAL].due_date == date(2027, 8, 2)
    assert specs[K.WELFARE_CHECK].reason == (
        "Returned 61 days before the expected return (2027-10-01): check on the worker's "
        "welfare.")
    overdue = triggers.on_overdue(EXPECTED, date(2027, 10, 16))
    assert (overdue.kind, overdue.due_date) == (K.OVERDUE_RETURN, date(2027, 10, 18))
    assert triggers.on_reentry(EXPECTED, date(2028, 1, 1)).due_date == date(2028, 1, 31)


@given(months=st.integers(1, 24), grace=st.integers(0, 60),
       steps=st.lists(st.integers(1, 120), min_size=1, max_size=30),
       returned_after=st.none() | st.integers(0, 900))
def test_each_effect_fires_once_and_day_by_day_equals_one_jump(months, grace, steps,
                                                                returned_after):
    terms = Terms(**{**TERMS.__dict__, "contract_months": months, "return_grace_days": grace})
    start = depart("p", terms, DEPARTED)
    if returned_after is not None:
        start = register_return(start, DEPARTED + timedelta(days=returned_after))
    p, seen, today = start, [], DEPARTED
    for step in steps:
        today += timedelta(days=step)
        p, effects = on_tick(p, today)
        seen += effects
    assert len({e.kind for e in seen}) == len(seen)
    _, at_once = on_tick(start, today)
    assert sorted((e.kind, e.on) for e in at_once) == sorted((e.kind, e.on) for e in seen)
    assert next_due(p) is None or next_due(p) > today
