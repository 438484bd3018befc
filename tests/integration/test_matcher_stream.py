"""The whole matcher as a process on the real broker: proposals, reviews and
acceptances through its topics, and its tables recovered after SIGKILL in the middle
of a stream with no proposal lost and none doubled, and an approval counted once
across a kill."""

import itertools
import json
import threading
import time
from datetime import date

import pytest

from schemas.events import agreements as ag
from schemas.events import employers as em
from schemas.events import matches as mv
from schemas.events import vacancies as va
from schemas.events import workers as wk
from schemas.events.matches import match_id
from schemas.topics import (
    AGREEMENTS,
    EMPLOYERS,
    MATCH_RESPONSES,
    MATCH_REVIEWS,
    MATCHER_MARKET,
    MATCHES,
    QUOTA,
    VACANCIES,
    VACANCY_STATUS,
    WORKERS,
)
from services.matcher.domain.candidates import naive_best
from services.matcher.domain.views import VacancyView, WorkerView
from tests.support.kafka import Publisher, read_all, read_until
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.kafka
AGREEMENT = ag.AgreementRecorded(
    agreement_id="am-de", origin_country="AM", destination_country="DE", title="AM-DE",
    valid_from=date(2027, 1, 1), valid_until=date(2028, 12, 31), max_contract_months=9,
    min_age=18, max_age=55, reentry_cooldown_months=3, return_grace_days=14,
    occupations=[{"isco_code": "6111", "annual_quota": 50,
                  "min_monthly_wage": {"amount": "1800", "currency": "EUR"}}])


def worker(n):
    return wk.WorkerRegistered(
        worker_id=f"w{n}", date_of_birth=date(1990, 1, 1), citizenship="AM",
        occupations=[{"isco_code": "6111", "experience_years": n % 12}], skills=["tractor"],
        preferred_destinations=["DE"], available_from=date(2027, 1, 1), consent_matching=True)


def vacancy(n, employer="e1"):
    return va.VacancyPosted(
        vacancy_id=f"v{n}", employer_id=employer, destination_country="DE", isco_code="6111",
        title="Harvest", positions=1, monthly_wage={"amount": "1900", "currency": "EUR"},
        contract_months=6, start_date=date(2027, 4, 1), required_skills=["tractor"])


@pytest.fixture
def matcher(broker, topic_prefix, tmp_path):
    env = {"CIRCULAR_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
           "CIRCULAR_TOPIC_PREFIX": topic_prefix, "CIRCULAR_VAR_DIR": str(tmp_path)}
    proc = ServiceProcess("matcher", ["services.matcher"], env, tmp_path / "matcher.log").start()
    yield proc
    proc.stop()


def topic(prefix, t):
    return t.prefixed(prefix).name


def fold(records):
    """match id -> latest status."""
    state = {}
    for r in records:
        e = r.decoded().event
        if isinstance(e, mv.MatchProposed):
            state[e.match_id] = "proposed"
        elif isinstance(e, mv.MatchApproved):
            state[e.match_id] = "approved"
        elif isinstance(e, mv.MatchAccepted):
            state[e.match_id] = "accepted"
        elif isinstance(e, mv.MatchWithdrawn):
            state[e.match_id] = f"withdrawn:{e.reason.value}"
    return state


def dump_topics(bootstrap, prefix, path):
    """Every record of the matcher's input, internal and output topics, for the
    post-mortem of a failure."""
    names = [topic(prefix, t) for t in (WORKERS, VACANCIES, MATCHES, MATCHER_MARKET)]
    with path.open("w") as out:
        for r in read_all(bootstrap, names):
            try:
                event = r.decoded().event.model_dump(mode="json")
            except Exception as exc:  # a post-mortem keeps even what does not decode
                event = {"undecodable": repr(exc)}
            out.write(json.dumps({"topic": r.topic, "partition": r.partition,
                                  "offset": r.offset, "event": event} | {
                                      k: v.decode() for k, v in r.headers.items()}) + "\n")


def setup(pub, prefix):
    pub.event(topic(prefix, AGREEMENTS), AGREEMENT)
    for e in ("e1", "e2"):
        pub.event(topic(prefix, EMPLOYERS), em.EmployerRegistered(employer_id=e, country="DE"))
        pub.event(topic(prefix, EMPLOYERS), em.EmployerVerified(employer_id=e))


def test_proposals_reviews_and_acceptance_on_kafka(broker, topic_prefix, matcher):
    pub = Publisher(broker.bootstrap)
    setup(pub, topic_prefix)
    for n in range(8):
        pub.event(topic(topic_prefix, WORKERS), worker(n))
    pub.event(topic(topic_prefix, VACANCIES), vacancy(1))
    pub.event(topic(topic_prefix, VACANCIES), vacancy(2, "e2"))
    matches_topic = topic(topic_prefix, MATCHES)

    def proposed(records, n):
        return sum(1 for s in fold(records).values() if s == "proposed") >= n

    read_until(broker.bootstrap, [matches_topic], lambda r: proposed(r, 10), timeout=90)
    best = match_id("w7", "v1")
    pub.event(topic(topic_prefix, MATCH_REVIEWS), mv.MatchReviewed(
        match_id=best, vacancy_id="v1", worker_id="w7", market="DE-6111", decision="approve",
        reviewed_by="u-rec"))
    read_until(broker.bootstrap, [matches_topic],
               lambda r: fold(r).get(best) == "approved", timeout=60)
    pub.event(topic(topic_prefix, MATCH_RESPONSES), mv.MatchResponded(
        match_id=best, vacancy_id="v1", worker_id="w7", market="DE-6111", decision="accept"))
    other = match_id("w7", "v2")
    records = read_until(broker.bootstrap, [matches_topic],
                         lambda r: fold(r).get(best) == "accepted"
                         and fold(r).get(other, "").startswith("withdrawn"), timeout=60)
    state = fold(records)
    assert state[other] == "withdrawn:worker_accepted_other"
    assert state[match_id("w6", "v1")] == "withdrawn:vacancy_filled"
    pub.close()


def proposals(records):
    return [e for e in (r.decoded().event for r in records) if isinstance(e, mv.MatchProposed)]


def test_no_proposal_is_lost_or_doubled_across_a_kill(broker, topic_prefix, matcher,
                                                      tmp_path):
    pub = Publisher(broker.bootstrap)
    setup(pub, topic_prefix)
    workers_topic = topic(topic_prefix, WORKERS)
    matches_topic = topic(topic_prefix, MATCHES)
    for n in range(40):
        pub.event(topic(topic_prefix, VACANCIES), vacancy(n, "e1" if n % 2 else "e2"))
    for n in range(20):
        pub.event(workers_topic, worker(n))
    read_until(broker.bootstrap, [matches_topic], lambda r: bool(proposals(r)), timeout=120)

    # the rest of the roster streams in while the matcher works on it
    feeder_pub = Publisher(broker.bootstrap)

    def feed():
        for n in range(20, 300):
            feeder_pub.event(workers_topic, worker(n))
            time.sleep(0.03)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    # some proposals of workers that arrived after the start, then the kill mid-stream
    seen = read_until(broker.bootstrap, [matches_topic], lambda r: any(
        int(e.worker_id[1:]) >= 20 for e in proposals(r)), timeout=120)
    still_arriving = feeder.is_alive()
    matcher.kill()
    assert still_arriving, "the roster was all in before the kill: not a kill mid-stream"
    before_kill = {r.headers["ce_id"] for r in seen}
    assert proposals(seen)
    matcher.restart()
    feeder.join(timeout=120)
    assert not feeder.is_alive()
    feeder_pub.close()

    # each vacancy ends with exactly its five best, as the rules rank them without faults
    roster = [WorkerView.of(f"w{n}", wk.WorkerProfile.model_validate(
        worker(n).model_dump(exclude={"worker_id"}))) for n in range(300)]
    expected = {}
    for n in range(40):
        view = VacancyView.of(vacancy(n, "e1" if n % 2 else "e2"), AGREEMENT)
        expected.update({match_id(s.worker_id, f"v{n}"): "proposed"
                         for s in naive_best(roster, view, 5)})

    def live(records):
        return {mid: s for mid, s in fold(records).items() if s == "proposed"}

    try:
        read_until(broker.bootstrap, [matches_topic], lambda r: live(r) == expected,
                   timeout=240)
    except TimeoutError:
        print(matcher.log()[-5000:])
        now = live(read_all(broker.bootstrap, [matches_topic]))
        dump_topics(broker.bootstrap, topic_prefix, tmp_path / "topics.jsonl")
        raise AssertionError(
            f"missing {sorted(set(expected) - set(now))}, extra {sorted(set(now) - set(expected))}"
            f" (every record of the matcher's topics: {tmp_path / 'topics.jsonl'})") from None
    records = read_all(broker.bootstrap, [matches_topic], settle=4)
    assert live(records) == expected
    assert before_kill <= {r.headers["ce_id"] for r in records}  # nothing published is lost
    # a record published twice (after the kill) is the same event: same id, same content
    by_id = {}
    for r in records:
        by_id.setdefault(r.headers["ce_id"], set()).add(r.value)
    assert all(len(v) == 1 for v in by_id.values())
    # and no proposal is made twice: per match, proposals and withdrawals alternate
    history = {}
    for r in records:
        if by_id.pop(r.headers["ce_id"], None) is None:
            continue  # the same event again
        e = r.decoded().event
        history.setdefault(e.match_id, []).append(type(e).__name__)
    doubled = {mid: h for mid, h in history.items()
               if any(a == b for a, b in itertools.pairwise(h))}
    assert doubled == {}
    assert all(h[0] == "MatchProposed" for h in history.values())
    pub.close()


def test_an_approval_is_counted_once_across_a_kill(broker, topic_prefix, matcher):
    pub = Publisher(broker.bootstrap)
    setup(pub, topic_prefix)
    reviews = topic(topic_prefix, MATCH_REVIEWS)
    matches_topic = topic(topic_prefix, MATCHES)
    for n in range(4):
        pub.event(topic(topic_prefix, WORKERS), worker(n))
    pub.event(topic(topic_prefix, VACANCIES), va.VacancyPosted(**{
        **vacancy(1).model_dump(), "positions": 2}))
    read_until(broker.bootstrap, [matches_topic],
               lambda r: sum(s == "proposed" for s in fold(r).values()) == 4, timeout=120)

    def approve(worker_id, event_id=None):
        return pub.event(reviews, mv.MatchReviewed(
            match_id=match_id(worker_id, "v1"), vacancy_id="v1", worker_id=worker_id,
            market="DE-6111", decision="approve", reviewed_by="u-rec"), event_id=event_id)

    def counted(records):
        """Quota used, positions filled and approvals as the gateway sees them: an
        event published again after the kill (the same id) counts once."""
        once = {}
        for r in records:
            once.setdefault(r.headers["ce_id"], r)
        records = list(once.values())
        events = [r.decoded().event for r in records]
        used = [e.used for e in events if isinstance(e, mv.QuotaUsageChanged)]
        filled = [e.positions_filled for e in events
                  if isinstance(e, va.VacancyPositionsChanged) and e.vacancy_id == "v1"]
        approved = {r.headers["ce_id"] for r, e in zip(records, events, strict=True)
                    if isinstance(e, mv.MatchApproved)}
        return used, filled, approved

    status_topics = [matches_topic, topic(topic_prefix, QUOTA),
                     topic(topic_prefix, VACANCY_STATUS)]
    first = approve("w3")
    read_until(broker.bootstrap, status_topics,
               lambda r: counted(r)[0][-1:] == [1] and counted(r)[1] == [1]
               and len(counted(r)[2]) == 1, timeout=60)
    matcher.kill()
    matcher.restart()
    approve("w3", event_id=first)  # redelivered
    approve("w3")  # and clicked again
    marker = pub.event(reviews, mv.MatchReviewed(
        match_id=match_id("w0", "v1"), vacancy_id="v1", worker_id="w0", market="DE-6111",
        decision="reject", reason="marker", reviewed_by="u-rec"))
    try:
        read_until(broker.bootstrap, [matches_topic], lambda r: any(
            x.headers.get("ce_causationid", b"").decode() == marker for x in r), timeout=180)
    except TimeoutError:
        print(matcher.log()[-5000:])
        raise
    used, filled, approved = counted(read_all(broker.bootstrap, status_topics, settle=3))
    assert used[-1] == 1 and max(used) == 1
    assert filled == [1]
    assert len(approved) == 1
    assert fold(read_all(broker.bootstrap, [matches_topic]))[match_id("w3", "v1")] == "approved"
    pub.close()
