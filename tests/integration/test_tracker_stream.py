"""The tracker as a process on the real broker: placements and every trigger from
departures, returns and ticks, each exactly once, also when the tracker is killed
mid-stream and events are delivered again."""

from collections import Counter
from datetime import date, timedelta

import pytest

from schemas.events import matches as mv
from schemas.events import placements as pe
from schemas.events.clock import ClockTicked
from schemas.topics import CLOCK, MATCHES, MOVEMENTS, PLACEMENTS, TRIGGERS
from tests.support.kafka import Publisher, read_all, read_until
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.kafka
START = date(2027, 4, 1)


@pytest.fixture
def tracker(broker, topic_prefix, tmp_path):
    env = {"CIRCULAR_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
           "CIRCULAR_TOPIC_PREFIX": topic_prefix, "CIRCULAR_VAR_DIR": str(tmp_path),
           "CIRCULAR_TRACKER_DAILY_TICK": "false"}
    proc = ServiceProcess("tracker", ["services.tracker"], env, tmp_path / "tracker.log").start()
    yield proc
    proc.stop()


def accepted(n):
    return mv.MatchAccepted(match_id=f"m{n}", vacancy_id="v1", worker_id=f"w{n}",
                            employer_id="e1", agreement_id="am-de", destination_country="DE",
                            isco_code="6111", contract_months=6, return_grace_days=14,
                            reentry_cooldown_months=3)


def departed(n):
    return pe.DepartureRecorded(match_id=f"m{n}", worker_id=f"w{n}", departure_date=START,
                                recorded_by="u-rec")


def returned(n, day, **extra):
    return pe.ReturnRegistered(return_id=f"r{n}", worker_id=f"w{n}", return_date=day, **extra)


def tick(day):
    return ClockTicked(date=day, source="admin")


def kinds(records):
    out = Counter()
    for r in records:
        e = r.decoded().event
        kind = getattr(e, "kind", None)
        out[kind.value if kind else e.type] += 1
    return out


def test_every_trigger_and_reminder_fires_once_despite_a_kill(broker, topic_prefix, tracker):
    t = {x.name: x.prefixed(topic_prefix).name for x in (MATCHES, MOVEMENTS, CLOCK)}
    out = [PLACEMENTS.prefixed(topic_prefix).name, TRIGGERS.prefixed(topic_prefix).name]
    pub = Publisher(broker.bootstrap)
    pub.event(t["circular.clock"], tick(date(2027, 3, 1)))
    # four workers: on time with business plans, early reporting abuse, never back,
    # and a return that matches no placement
    for n in range(3):
        pub.event(t["circular.matches"], accepted(n))
        pub.event(t["circular.movements"], departed(n))
    read_until(broker.bootstrap, out, lambda r: kinds(r)["circular.placement.started"] == 3)
    pub.event(t["circular.clock"], tick(date(2027, 9, 1)))  # reminders
    # (returns travel on another topic than ticks: wait, or a return could come first)
    read_until(broker.bootstrap, out, lambda r: kinds(r)["circular.return.reminder-due"] == 3)
    pub.event(t["circular.movements"], returned(0, date(2027, 9, 25), intentions=["local_job"],
                                                needs=["credit"], skills_acquired=["pruning"]))
    pub.event(t["circular.movements"], returned(1, date(2027, 6, 1),
                                                early_return_reason="employer_abuse"))
    pub.event(t["circular.movements"], returned(9, date(2027, 6, 1)))
    read_until(broker.bootstrap, out, lambda r: kinds(r)["circular.placement.returned"] == 2)
    tracker.kill()
    tracker.restart()
    # the relay of a crashed gateway publishes some records again
    pub.event(t["circular.movements"], returned(0, date(2027, 9, 25), intentions=["local_job"],
                                                needs=["credit"], skills_acquired=["pruning"]),
              event_id="dup-0")
    pub.event(t["circular.clock"], tick(date(2027, 10, 16)))  # w2 overdue
    pub.event(t["circular.clock"], tick(date(2027, 10, 10)))  # earlier: changes nothing
    pub.event(t["circular.clock"], tick(date(2027, 12, 26)))  # w0 re-entry; w2 long overdue
    expected = {
        "circular.placement.started": 3, "circular.return.reminder-due": 3,
        "circular.placement.returned": 2, "circular.return.unmatched": 1,
        "circular.placement.overdue": 1, "counselling_referral": 2, "business_support": 1,
        "local_job_matching": 1, "skills_recognition": 1, "welfare_check": 1,
        "counter_trafficking_referral": 2, "overdue_return": 1, "reentry_eligible": 1,
    }

    def distinct(records):
        return [r for i, r in enumerate(records)
                if r.headers["ce_id"] not in {x.headers["ce_id"] for x in records[:i]}]

    read_until(broker.bootstrap, out, lambda r: kinds(distinct(r)) == Counter(expected),
               timeout=120)
    records = read_all(broker.bootstrap, out, settle=3)
    assert kinds(distinct(records)) == Counter(expected)
    by_id = {}
    for r in records:
        by_id.setdefault(r.headers["ce_id"], set()).add(r.value)
    assert all(len(v) == 1 for v in by_id.values())  # a repeat is the same event
    triggers = [r.decoded().event for r in distinct(records)
                if r.topic == TRIGGERS.prefixed(topic_prefix).name]
    assert len({tr.trigger_id for tr in triggers}) == len(triggers)
    reentry = next(tr for tr in triggers if tr.kind == "reentry_eligible")
    assert reentry.due_date == date(2027, 12, 25) + timedelta(days=30)
    pub.close()
