"""The tracker as a process on the real broker: placements and every trigger from
departures, returns and ticks, each exactly once, also when the tracker is killed
mid-stream and events are delivered again."""

import time
from collections import Counter
from datetime import date, timedelta

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.partitioner.default import murmur2

from schemas.codec import encode
from schemas.envelope import derived_event_id
from schemas.events import matches as mv
from schemas.events import placements as pe
from schemas.events import triggers as tev
from schemas.events.clock import ClockTicked
from schemas.events.placements import placement_id
from schemas.topics import (
    CLOCK,
    MATCHES,
    MOVEMENTS,
    PARTITIONS,
    PLACEMENTS,
    TRACKER_TICKS,
    TRIGGERS,
)
from tests.support.kafka import Publisher, group_lag, read_all, read_until
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
        # counselling: w0 and w1, and w9's return that matched no placement
        "circular.placement.overdue": 1, "counselling_referral": 3, "business_support": 1,
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
    [unmatched] = [tr for tr in triggers if tr.worker_id == "w9"]
    assert (unmatched.kind, unmatched.placement_id, unmatched.cause) == (
        "counselling_referral", None, "r9")
    pub.close()


def partition_of(key, partitions=PARTITIONS):
    """Where Kafka's default partitioner (murmur2, as the gateway's producer and this
    test's use) puts a record keyed ``key``."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def by_worker(records, topic):
    out = {}
    for r in records:
        if r.topic == topic:
            out.setdefault(r.decoded().event.worker_id, {})[r.headers["ce_id"]] = r
    return out


def test_every_partition_sees_every_tick(broker, topic_prefix, tracker):
    # the first worker number landing on each partition
    first = {}
    for n in range(1000):
        first.setdefault(partition_of(f"w{n}"), n)
    assert sorted(first) == list(range(PARTITIONS))
    workers = [first[p] for p in range(PARTITIONS)]
    movements = MOVEMENTS.prefixed(topic_prefix).name
    out = [PLACEMENTS.prefixed(topic_prefix).name, TRIGGERS.prefixed(topic_prefix).name]
    pub = Publisher(broker.bootstrap)
    pub.event(CLOCK.prefixed(topic_prefix).name, tick(date(2027, 3, 1)))
    for n in workers:
        pub.event(MATCHES.prefixed(topic_prefix).name, accepted(n))
        pub.event(movements, departed(n))
    read_until(broker.bootstrap, out, lambda r: kinds(r)["circular.placement.started"] == 6)
    pub.event(CLOCK.prefixed(topic_prefix).name, tick(date(2027, 9, 1)))  # reminders
    pub.event(CLOCK.prefixed(topic_prefix).name, tick(date(2027, 10, 16)))  # overdue
    read_until(broker.bootstrap, out,
               lambda r: kinds(r)["overdue_return"] >= 6 and kinds(r)[
                   "circular.return.reminder-due"] >= 6, timeout=90)
    records = read_all(broker.bootstrap, out, settle=2)
    # the departures really were spread over every partition
    departures = read_all(broker.bootstrap, [movements], settle=0)
    assert {r.decoded().event.worker_id: r.partition for r in departures} == {
        f"w{n}": p for p, n in first.items()}
    placements = by_worker(records, out[0])
    fired = by_worker(records, out[1])
    for n in workers:
        got = Counter(r.decoded().event.type for r in placements[f"w{n}"].values())
        assert got == Counter({"circular.placement.started": 1, "circular.return.reminder-due": 1,
                               "circular.placement.overdue": 1}), n
        assert [r.decoded().event.kind for r in fired[f"w{n}"].values()] == ["overdue_return"]
    pub.close()


# -- killed mid-stream ---------------------------------------------------------------

EARLY_START = date(2027, 1, 4)  # expected back 2027-07-04; reminder 06-04; overdue 07-19
BURST_TICKS = [date(2027, 6, 10), date(2027, 7, 20), date(2027, 7, 10), date(2027, 8, 5)]


def fast(pub, topic, events):
    """Publish without waiting for each acknowledgement; the event ids used."""
    ids, futures = [], []
    for event in events:
        enc = encode(event, source="/tests")
        futures.append(pub.producer.send(topic, key=enc.key, value=enc.value,
                                         headers=enc.headers))
        ids.append(enc.envelope.id)
    pub.producer.flush(60)
    for future in futures:
        future.get(30)  # raises if the broker did not take it
    return ids


def count_records(consumer, parts):
    return sum(consumer.end_offsets(parts).values())


def expected_outputs(started, overdue, returns, unmatched):
    """Every output the inputs call for, by event id: (type or trigger kind)."""
    out = {}
    for m in started:
        out[derived_event_id(placement_id(m), "started")] = "circular.placement.started"

    def fire(worker, pid, kind, cause):
        out[derived_event_id(tev.trigger_id(worker, pid, kind, cause), "fired")] = kind

    for m, worker in overdue:
        pid = placement_id(m)
        out[derived_event_id(pid, "reminder")] = "circular.return.reminder-due"
        out[derived_event_id(pid, "overdue")] = "circular.placement.overdue"
        fire(worker, pid, "overdue_return", "overdue")
        fire(worker, pid, "counter_trafficking_referral", "overdue-past-twice-grace")
    for m, event in returns:
        pid = placement_id(m)
        out[derived_event_id(pid, "returned")] = "circular.placement.returned"
        for kind in return_kinds(event) + ["welfare_check"]:  # all of them early
            fire(event.worker_id, pid, kind, event.return_id)
        if event.early_return_reason == "employer_abuse":
            fire(event.worker_id, pid, "counter_trafficking_referral", event.return_id)
    for event in unmatched:
        out[derived_event_id(event.return_id, "unmatched")] = "circular.return.unmatched"
        for kind in return_kinds(event):
            fire(event.worker_id, None, kind, event.return_id)
    return out


def return_kinds(event):
    kinds_ = ["counselling_referral"]
    if "start_business" in event.intentions or "credit" in event.needs:
        kinds_.append("business_support")
    if "local_job" in event.intentions:
        kinds_.append("local_job_matching")
    if event.skills_acquired:
        kinds_.append("skills_recognition")
    return kinds_


def early_return(n, worker):
    plans = [{"early_return_reason": "employer_abuse"},
             {"intentions": ["local_job"], "skills_acquired": ["pruning"]},
             {"needs": ["credit"], "early_return_reason": "family"}][n % 3]
    return pe.ReturnRegistered(return_id=f"r-{worker}", worker_id=worker,
                               return_date=date(2027, 5, 15), **plans)


def test_killed_mid_burst_every_output_exactly_once(broker, topic_prefix, tracker):
    """Outputs of a burst of inputs by event id: each exactly once (however often
    Kafka carries it), none with two contents, when the tracker is killed while its
    group still lags and inputs come again with their original ids after restart.

    The inputs travel on three topics the tracker reads in no fixed order, so they
    are chosen to call for the same outputs in every order: returns close
    placements started before the burst, early (no re-entry), and the burst's ticks
    stay before those placements' reminders."""
    name = {x.name: x.prefixed(topic_prefix).name
            for x in (MATCHES, MOVEMENTS, CLOCK, TRACKER_TICKS)}
    out = [PLACEMENTS.prefixed(topic_prefix).name, TRIGGERS.prefixed(topic_prefix).name]
    pub = Publisher(broker.bootstrap)
    pub.event(name[CLOCK.name], tick(date(2027, 3, 1)))
    # before the burst: 300 placements abroad, expected back 2027-10-01
    before = [f"b{n}" for n in range(300)]
    fast(pub, name[MATCHES.name], [accepted_as(f"mb{n}", w) for n, w in enumerate(before)])
    fast(pub, name[MOVEMENTS.name], [departed_as(f"mb{n}", w, START)
                                     for n, w in enumerate(before)])
    read_until(broker.bootstrap, out,
               lambda r: kinds(r)["circular.placement.started"] >= len(before))
    # the burst: 2,000 placements that will be overdue, returns of the earlier ones,
    # returns that match nothing, ticks
    burst = [f"n{n}" for n in range(2000)]
    returning = [(f"mb{n}", early_return(n, w)) for n, w in enumerate(before) if n % 2]
    unmatched = [early_return(n, f"u{n}") for n in range(100)]
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap)
    out_parts = [TopicPartition(t_, p) for t_ in out for p in range(PARTITIONS)]
    baseline = count_records(consumer, out_parts)
    sent = {  # topic: the burst's events on it, in order
        name[MATCHES.name]: [accepted_as(f"mn{n}", w) for n, w in enumerate(burst)],
        name[MOVEMENTS.name]: [departed_as(f"mn{n}", w, EARLY_START)
                               for n, w in enumerate(burst)]
        + [e for _, e in returning] + unmatched,
    }
    ids = {topic: fast(pub, topic, events) for topic, events in sent.items()}
    ids[name[CLOCK.name]] = [pub.event(name[CLOCK.name], tick(day)) for day in BURST_TICKS]
    sent[name[CLOCK.name]] = [tick(day) for day in BURST_TICKS]
    # kill once the tracker is well under way with the burst (about a fifth out)
    deadline = time.monotonic() + 120
    while count_records(consumer, out_parts) < baseline + 2000:
        assert time.monotonic() < deadline, "the tracker did not get on with the burst"
        time.sleep(0.01)
    tracker.kill()
    produced_at_kill = count_records(consumer, out_parts) - baseline
    lag = group_lag(broker.bootstrap, f"{topic_prefix}circular-tracker",
                    [name[MATCHES.name], name[MOVEMENTS.name], name[CLOCK.name],
                     name[TRACKER_TICKS.name]])
    expected = expected_outputs(
        started=[f"mb{n}" for n in range(len(before))] + [f"mn{n}" for n in range(len(burst))],
        overdue=[(f"mn{n}", w) for n, w in enumerate(burst)], returns=returning,
        unmatched=unmatched)
    print(f"killed with a lag of {lag} input records, {produced_at_kill} of "
          f"{len(expected) - len(before)} burst outputs out")
    assert lag > 0
    assert produced_at_kill < len(expected) - len(before)  # killed mid-stream
    tracker.restart()
    # a relay that crashed publishes some inputs again, with their original ids
    for topic, events in sent.items():
        for event, event_id in list(zip(events, ids[topic], strict=True))[1::7]:
            pub.event(topic, event, event_id=event_id)

    def complete(records):
        return {r.headers["ce_id"].decode() for r in records} >= set(expected)

    read_until(broker.bootstrap, out, complete, timeout=240)
    records = read_all(broker.bootstrap, out, settle=3, timeout=120)
    by_id = {}
    for r in records:
        by_id.setdefault(r.headers["ce_id"].decode(), []).append(r)
    assert set(by_id) == set(expected)  # every output there, nothing else
    assert [i for i, rs in by_id.items() if len({r.value for r in rs}) > 1] == []
    found, by_trigger = {}, {}
    for i, rs in by_id.items():
        event = rs[0].decoded().event
        kind = getattr(event, "kind", None)
        found[i] = kind.value if kind else event.type
        if kind is not None:
            by_trigger.setdefault(event.trigger_id, set()).update(r.value for r in rs)
    assert found == expected
    assert [t_ for t_, values in by_trigger.items() if len(values) > 1] == []
    repeats = len(records) - len(by_id)
    print(f"{len(by_id)} outputs, {repeats} records carried again (same id, same content)")
    consumer.close()
    pub.close()


def accepted_as(match, worker):
    return mv.MatchAccepted(match_id=match, vacancy_id="v1", worker_id=worker,
                            employer_id="e1", agreement_id="am-de", destination_country="DE",
                            isco_code="6111", contract_months=6, return_grace_days=14,
                            reentry_cooldown_months=3)


def departed_as(match, worker, day):
    return pe.DepartureRecorded(match_id=match, worker_id=worker, departure_date=day,
                                recorded_by="u-rec")
