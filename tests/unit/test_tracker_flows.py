"""Placements over time through the tracker's real handlers: departures, ticks,
returns, and every trigger and reminder exactly once."""

from datetime import date

import pytest

from schemas.events import matches as mv
from schemas.events import placements as pe
from schemas.events.clock import ClockTicked
from schemas.events.placements import placement_id
from tests.support.tracker_harness import TrackerHarness

M = "m-1"
P = placement_id(M)


def accepted(match=M, worker="w1", months=6, grace=14, cooldown=3):
    return mv.MatchAccepted(match_id=match, vacancy_id="v1", worker_id=worker, employer_id="e1",
                            agreement_id="am-de", destination_country="DE", isco_code="6111",
                            contract_months=months, return_grace_days=grace,
                            reentry_cooldown_months=cooldown)


def departed(match=M, worker="w1", day=date(2027, 4, 1)):
    return pe.DepartureRecorded(match_id=match, worker_id=worker, departure_date=day,
                                recorded_by="u-rec")


def tick(day):
    return ClockTicked(date=day, source="admin")


def returned(day, worker="w1", match=None, return_id="r1", **extra):
    return pe.ReturnRegistered(return_id=return_id, worker_id=worker, match_id=match,
                               return_date=day, **extra)


@pytest.fixture
def tr():
    h = TrackerHarness()
    h.send(tick(date(2027, 3, 1)))
    return h


def test_departure_starts_a_placement_whatever_came_first(tr):
    out = tr.send(departed())  # the acceptance has not arrived yet
    assert out == []
    out = tr.send(accepted())
    [started] = [d.event for d in out]
    assert (started.placement_id, started.expected_return_date) == (P, date(2027, 10, 1))
    assert tr.send(departed()) == []  # the same departure again


def test_ticks_bring_the_reminder_then_overdue_then_the_referral(tr):
    tr.send(accepted())
    tr.send(departed())
    assert tr.kinds(tr.send(tick(date(2027, 8, 31)))) == []
    assert tr.kinds(tr.send(tick(date(2027, 9, 1)))) == ["return.reminder-due"]
    assert tr.kinds(tr.send(tick(date(2027, 10, 15)))) == []
    out = tr.send(tick(date(2027, 10, 16)))
    assert tr.kinds(out) == ["placement.overdue", "trigger:overdue_return"]
    assert out[1].event.due_date == date(2027, 10, 18)
    assert tr.kinds(tr.send(tick(date(2027, 10, 30)))) == [
        "trigger:counter_trafficking_referral"]
    assert tr.send(tick(date(2027, 10, 20))) == []  # earlier than today: nothing
    assert tr.send(tick(date(2028, 6, 1))) == []


def test_a_jump_of_the_clock_fires_everything_due_at_once(tr):
    tr.send(accepted())
    tr.send(departed())
    assert tr.kinds(tr.send(tick(date(2028, 1, 1)))) == [
        "return.reminder-due", "placement.overdue", "trigger:overdue_return",
        "trigger:counter_trafficking_referral"]


def test_an_on_time_return_and_the_end_of_the_cooldown(tr):
    tr.send(accepted())
    tr.send(departed())
    out = tr.send(returned(date(2027, 9, 20), intentions=["start_business", "local_job"],
                           skills_acquired=["greenhouse"]))
    assert tr.kinds(out) == ["placement.returned", "trigger:counselling_referral",
                             "trigger:business_support", "trigger:local_job_matching",
                             "trigger:skills_recognition"]
    back = out[0].event
    assert (back.on_time, back.early, back.reentry_from) == (True, False, date(2027, 12, 20))
    assert tr.send(tick(date(2027, 12, 19))) == []
    assert tr.kinds(tr.send(tick(date(2027, 12, 20)))) == ["trigger:reentry_eligible"]
    assert tr.send(tick(date(2028, 1, 1))) == []


def test_an_early_return_reporting_abuse(tr):
    tr.send(accepted())
    tr.send(departed())
    out = tr.send(returned(date(2027, 6, 1), match=M, early_return_reason="employer_abuse"))
    assert tr.kinds(out) == ["placement.returned", "trigger:counselling_referral",
                             "trigger:welfare_check", "trigger:counter_trafficking_referral"]
    assert out[0].event.early and not out[0].event.on_time
    assert tr.send(tick(date(2028, 6, 1))) == []  # no overdue, no re-entry trigger


def test_a_return_without_an_open_placement_is_kept_and_reported(tr):
    [unmatched] = [d.event for d in tr.send(returned(date(2027, 5, 1), worker="w9",
                                                     return_id="r0"))]
    assert unmatched.reason == "no open placement of this worker"
    tr.send(accepted())
    tr.send(departed())
    tr.send(returned(date(2027, 9, 20)))
    [again] = [d.event for d in tr.send(returned(date(2027, 9, 21), return_id="r2", match=M))]
    assert "returned already" in again.reason


def test_a_tick_touches_only_the_placements_due(tr):
    tr.send(accepted())
    tr.send(departed())
    tr.send(accepted(match="m-2", worker="w2", months=12))
    tr.send(departed(match="m-2", worker="w2"))
    assert tr.shard.due.due(0, date(2027, 9, 1)) == [f"pl:{P}"]
    assert tr.shard.due.due(0, date(2027, 3, 31)) == []


def test_every_event_twice_fires_nothing_twice(tr):
    events = [accepted(), departed(), tick(date(2027, 10, 16)),
              returned(date(2027, 10, 20), needs=["credit"]), tick(date(2028, 1, 21))]
    first = []
    for n, event in enumerate(events):
        first += tr.send(event, event_id=f"ev-{n}")
    ids = [d.event.trigger_id for d in first if hasattr(d.event, "trigger_id")]
    assert len(ids) == len(set(ids)) == 3  # overdue, counselling, business; late: no reentry
    for n, event in enumerate(events):
        assert tr.send(event, event_id=f"ev-{n}") == []
