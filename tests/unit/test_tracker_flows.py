"""Placements over time through the tracker's real handlers: departures, ticks,
returns, and every trigger and reminder exactly once."""

from datetime import date

import pytest

from schemas.events import matches as mv
from schemas.events import placements as pe
from schemas.events import triggers as te
from schemas.events.clock import ClockTicked
from schemas.events.placements import placement_id
from services.tracker import records
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


def test_a_return_without_an_open_placement_is_kept_reported_and_referred(tr):
    out = tr.send(returned(date(2027, 5, 1), worker="w9", return_id="r0"))
    assert tr.kinds(out) == ["return.unmatched", "trigger:counselling_referral"]
    unmatched, counselling = (d.event for d in out)
    assert unmatched.reason == "no open placement of this worker"
    assert (counselling.worker_id, counselling.placement_id, counselling.cause,
            counselling.due_date) == ("w9", None, "r0", date(2027, 5, 15))
    assert counselling.trigger_id == te.trigger_id("w9", None, "counselling_referral", "r0")
    assert tr.send(returned(date(2027, 5, 1), worker="w9", return_id="r0")) == []  # again
    tr.send(accepted())
    tr.send(departed())
    closed = tr.send(returned(date(2027, 9, 20)))
    assert tr.kinds(closed)[:2] == ["placement.returned", "trigger:counselling_referral"]
    # a second registration of the same return: refused, reported, and still referred
    again = tr.send(returned(date(2027, 9, 21), return_id="r2", match=M))
    assert tr.kinds(again) == ["return.unmatched", "trigger:counselling_referral"]
    assert "returned already" in again[0].event.reason
    assert again[1].event.placement_id is None and again[1].event.cause == "r2"
    assert closed[1].event.placement_id == P
    ids = [d.event.trigger_id for d in out + closed + again if d.event.type.startswith(
        "circular.trigger")]
    assert len(set(ids)) == len(ids) == 3


def test_an_unmatched_return_gets_what_its_intentions_needs_and_skills_call_for(tr):
    out = tr.send(returned(date(2027, 5, 1), worker="w9", return_id="r0", match="m-404",
                           intentions=["local_job"], needs=["credit"],
                           skills_acquired=["welding"], early_return_reason="employer_abuse"))
    assert tr.kinds(out) == ["return.unmatched", "trigger:counselling_referral",
                             "trigger:business_support", "trigger:local_job_matching",
                             "trigger:skills_recognition"]
    assert out[0].event.reason == "no open placement of this worker for that match"
    fired = [d.event for d in out[1:]]
    assert {(f.placement_id, f.cause, f.worker_id) for f in fired} == {(None, "r0", "w9")}
    assert [f.trigger_id for f in fired] == [
        te.trigger_id("w9", None, f.kind.value, "r0") for f in fired]
    # welfare and the early-abuse referral need an expected return date: none here
    assert "trigger:welfare_check" not in tr.kinds(out)


def test_a_return_on_the_last_day_that_is_not_early_gets_no_welfare_or_abuse_referral(tr):
    tr.send(accepted())
    tr.send(departed())  # expected back 2027-10-01
    out = tr.send(returned(date(2027, 9, 1), early_return_reason="employer_abuse"))
    assert tr.kinds(out) == ["placement.returned", "trigger:counselling_referral"]
    assert (out[0].event.early, out[0].event.on_time) == (False, True)
    tr.send(accepted(match="m-2", worker="w2"))
    tr.send(departed(match="m-2", worker="w2"))
    out = tr.send(returned(date(2027, 8, 31), worker="w2", return_id="r-2",
                           early_return_reason="employer_abuse"))
    assert tr.kinds(out) == ["placement.returned", "trigger:counselling_referral",
                             "trigger:welfare_check", "trigger:counter_trafficking_referral"]
    assert out[0].event.early


class SpiedTable(dict):
    """The stage's table, noting which placement records are read from it."""

    def __init__(self, data):
        super().__init__(data)
        self.read = set()

    def get(self, key, default=None):
        if key.startswith("pl:"):
            self.read.add(key)
        return super().get(key, default)


def test_a_tick_reads_only_the_placements_due(tr, monkeypatch):
    tr.send(accepted())
    tr.send(departed())  # expected back 2027-10-01: reminder on 2027-09-01
    for n in range(2, 1001):  # 999 more, expected back 2028-04-01
        tr.send(accepted(match=f"m-{n}", worker=f"w{n}", months=12))
        tr.send(departed(match=f"m-{n}", worker=f"w{n}"))
    loads = []
    real_load = records.load
    monkeypatch.setattr(records, "load", lambda data: loads.append(data) or real_load(data))
    table = tr.placements.table = SpiedTable(tr.placements.table)
    assert tr.send(tick(date(2027, 8, 31))) == []
    assert (loads, table.read) == ([], set())
    out = tr.send(tick(date(2027, 9, 1)))
    assert [(d.event.type, d.event.worker_id) for d in out] == [
        ("circular.return.reminder-due", "w1")]
    assert [load["placement_id"] for load in loads] == [P]  # one record decoded
    assert table.read == {f"pl:{P}"}  # and no other read


def test_every_event_twice_fires_nothing_twice(tr):
    events = [accepted(), departed(), tick(date(2027, 10, 16)),
              returned(date(2027, 10, 20), needs=["credit"]), tick(date(2028, 1, 21)),
              returned(date(2028, 1, 2), worker="w7", return_id="r7")]
    first = []
    for n, event in enumerate(events):
        first += tr.send(event, event_id=f"ev-{n}")
    ids = [d.event.trigger_id for d in first if hasattr(d.event, "trigger_id")]
    # overdue, counselling, business (late: no re-entry); w7's counselling (unmatched)
    assert len(ids) == len(set(ids)) == 4
    for n, event in enumerate(events):
        assert tr.send(event, event_id=f"ev-{n}") == []


def no_terms_left(tr):
    return not any(key.startswith(("acc:", "dep:")) for key in tr.placements.table)


def test_an_accepted_match_is_forgotten_once_its_placement_starts(tr):
    tr.send(accepted())
    assert "acc:m-1" in tr.placements.table
    assert tr.kinds(tr.send(departed())) == ["placement.started"]
    assert no_terms_left(tr)
    # both delivered again (new event ids, as a relay that crashed publishes them)
    assert tr.send(departed()) == []
    assert tr.send(accepted()) == []
    assert no_terms_left(tr)
    # the placement lives on without them
    assert tr.kinds(tr.send(tick(date(2027, 9, 1)))) == ["return.reminder-due"]
    assert tr.kinds(tr.send(returned(date(2027, 9, 20))))[0] == "placement.returned"


def test_a_departure_read_before_its_acceptance_leaves_nothing_behind(tr):
    assert tr.send(departed()) == []
    assert tr.kinds(tr.send(accepted())) == ["placement.started"]
    assert no_terms_left(tr)
    assert tr.send(accepted()) == [] and tr.send(departed()) == []
    assert no_terms_left(tr)


def test_terms_kept_by_an_earlier_tracker_go_when_the_departure_comes_again(tr):
    tr.send(accepted())
    kept = dict(tr.placements.table["acc:m-1"])
    tr.send(departed())
    tr.placements.table["acc:m-1"] = kept  # as the tracker before this change left it
    assert tr.send(departed()) == []
    assert no_terms_left(tr)


def test_a_return_naming_no_match_closes_the_workers_latest_placement(tr):
    tr.send(accepted())
    tr.send(departed())
    assert tr.kinds(tr.send(returned(date(2027, 9, 20))))[0] == "placement.returned"
    tr.send(accepted(match="m-2"))
    tr.send(departed(match="m-2", day=date(2028, 1, 10)))
    out = tr.send(returned(date(2028, 6, 20), return_id="r2"))
    assert (out[0].event.type, out[0].event.placement_id) == (
        "circular.placement.returned", placement_id("m-2"))
    out = tr.send(returned(date(2028, 6, 21), return_id="r3"))
    assert tr.kinds(out) == ["return.unmatched", "trigger:counselling_referral"]
    assert out[0].event.reason == "no open placement of this worker"


def test_the_open_placement_as_an_earlier_tracker_stored_it(tr):
    tr.send(accepted())
    tr.send(departed())
    tr.placements.table["open:w1"] = P  # one id, not a list
    out = tr.send(returned(date(2027, 9, 20)))
    assert (out[0].event.type, out[0].event.placement_id) == ("circular.placement.returned", P)
