"""The matcher as a process on the real broker: vacancy verdicts converge whatever
order agreements, employers and vacancies arrive in, bad records go to the
dead-letter topic, and state survives a SIGKILL."""

from datetime import date

import pytest

from schemas.events.agreements import AgreementRecorded, AgreementSuspended
from schemas.events.employers import EmployerRegistered, EmployerSuspended, EmployerVerified
from schemas.events.vacancies import VacancyClosed, VacancyEvaluated, VacancyPosted
from schemas.topics import AGREEMENTS, EMPLOYERS, VACANCIES, VACANCY_STATUS
from tests.support.kafka import Publisher, read_all, read_until
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.kafka

AGREEMENT = AgreementRecorded(
    agreement_id="am-de", origin_country="AM", destination_country="DE", title="AM-DE",
    valid_from=date(2027, 1, 1), valid_until=date(2027, 12, 31), max_contract_months=9,
    min_age=18, max_age=55, reentry_cooldown_months=3, return_grace_days=14,
    occupations=[{"isco_code": "6111", "annual_quota": 10,
                  "min_monthly_wage": {"amount": "1800", "currency": "EUR"}}])


def vacancy(vacancy_id, employer_id="e1", **changes):
    return VacancyPosted(**{
        "vacancy_id": vacancy_id, "employer_id": employer_id, "destination_country": "DE",
        "isco_code": "6111", "title": "Harvest", "positions": 2,
        "monthly_wage": {"amount": "1900", "currency": "EUR"}, "contract_months": 6,
        "start_date": date(2027, 4, 1), **changes})


@pytest.fixture
def matcher(broker, topic_prefix, tmp_path):
    env = {"CIRCULAR_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
           "CIRCULAR_TOPIC_PREFIX": topic_prefix, "CIRCULAR_VAR_DIR": str(tmp_path)}
    proc = ServiceProcess("matcher", ["services.matcher"], env, tmp_path / "matcher.log").start()
    yield proc
    proc.stop()


def verdicts(broker, prefix, count):
    topic = VACANCY_STATUS.prefixed(prefix).name
    records = read_until(broker.bootstrap, [topic], lambda r: len(r) >= count, timeout=90)
    return [(r.decoded().event.vacancy_id, r.decoded().event.status.value,
             sorted(v.value for v in r.decoded().event.violations)) for r in records]


def converge(broker, prefix, vacancy_id, expected, timeout=90):
    """Wait until the latest verdict on ``vacancy_id`` is ``expected``."""
    topic = VACANCY_STATUS.prefixed(prefix).name

    def reached(records):
        mine = [r.decoded().event for r in records]
        mine = [e for e in mine if e.vacancy_id == vacancy_id]
        return bool(mine) and (mine[-1].status.value,
                               sorted(v.value for v in mine[-1].violations)) == expected

    read_until(broker.bootstrap, [topic], reached, timeout=timeout)


def latest(found):
    state = {}
    for vacancy_id, status, violations in found:
        state[vacancy_id] = (status, violations)
    return state


#: the events of one destination's story; whatever order they arrive in, the matcher
#: ends with the same verdicts: v1 open, v2 (below the wage floor) rejected for that
#: alone. An employer verified before it is registered stays verified.
STORY = ("vacancy-1", "vacancy-2", "employer-registered", "employer-verified", "agreement")
FINAL = {"1": ("open", []), "2": ("rejected", ["wage_below_floor"])}
ORDERS = {
    "DE": STORY,  # the vacancies come first, before their employer and agreement exist
    "FR": STORY[::-1],  # the agreement first, the vacancies last
    "NL": ("employer-verified", "vacancy-2", "agreement", "vacancy-1", "employer-registered"),
    "AT": ("agreement", "vacancy-1", "employer-verified", "employer-registered", "vacancy-2"),
    "BE": ("employer-registered", "vacancy-1", "agreement", "vacancy-2", "employer-verified"),
}


def story_event(kind, destination):
    employer = f"e-{destination.lower()}"
    if kind.startswith("vacancy"):
        number = kind[-1]
        wage = {"amount": "1900" if number == "1" else "1000", "currency": "EUR"}
        return "circular.vacancies", vacancy(f"v{number}-{destination.lower()}", employer,
                                             destination_country=destination,
                                             monthly_wage=wage)
    if kind == "employer-registered":
        return "circular.employers", EmployerRegistered(employer_id=employer,
                                                        country=destination)
    if kind == "employer-verified":
        return "circular.employers", EmployerVerified(employer_id=employer)
    return "circular.agreements", AGREEMENT.model_copy(update={
        "agreement_id": f"am-{destination.lower()}", "destination_country": destination,
        "title": f"AM-{destination}"})


def test_verdicts_converge_whatever_the_order(broker, topic_prefix, matcher):
    """The same story in five orders (one destination each, so they do not meet): each
    ends with the same verdicts, and stays there."""
    t = {x.name: x.prefixed(topic_prefix).name for x in (AGREEMENTS, EMPLOYERS, VACANCIES)}
    pub = Publisher(broker.bootstrap)
    assert len({tuple(o) for o in ORDERS.values()}) == len(ORDERS)
    assert all(sorted(order) == sorted(STORY) for order in ORDERS.values())
    for destination, order in ORDERS.items():
        for kind in order:
            topic, event = story_event(kind, destination)
            pub.event(t[topic], event)
    expected = {f"v{n}-{d.lower()}": final for d in ORDERS for n, final in FINAL.items()}
    for vacancy_id, final in expected.items():
        converge(broker, topic_prefix, vacancy_id, final)
    # and nothing moved them afterwards: the last verdict on each is the same
    status = read_all(broker.bootstrap, [VACANCY_STATUS.prefixed(topic_prefix).name])
    found = latest((e.vacancy_id, e.status.value, sorted(v.value for v in e.violations))
                   for e in (r.decoded().event for r in status)
                   if isinstance(e, VacancyEvaluated))
    assert found == expected
    # changes to the agreement or the employer re-evaluate what they touch
    pub.event(t["circular.agreements"], AgreementSuspended(agreement_id="am-de"))
    converge(broker, topic_prefix, "v1-de", ("rejected", ["agreement_suspended"]))
    converge(broker, topic_prefix, "v2-de", ("rejected", ["agreement_suspended",
                                                          "wage_below_floor"]))
    pub.close()


def test_bad_records_are_dead_lettered_and_processing_goes_on(broker, topic_prefix, matcher):
    vacancies = VACANCIES.prefixed(topic_prefix).name
    pub = Publisher(broker.bootstrap)
    pub.raw(vacancies, b"e1", b'{"vacancy_id": 1}', [("ce_type", b"circular.vacancy.posted")])
    bad = vacancy("v9").model_dump(mode="json")
    bad["positions"] = -1
    enc_headers = __import__("schemas.codec", fromlist=["encode"]).encode(
        vacancy("v9"), source="/t").headers
    pub.raw(vacancies, b"e1", __import__("json").dumps(bad).encode(), enc_headers)
    pub.event(vacancies, vacancy("v3"))
    assert verdicts(broker, topic_prefix, 1)[0][0] == "v3"
    dead = read_until(broker.bootstrap, [VACANCIES.prefixed(topic_prefix).dead_letter],
                      lambda r: len(r) >= 2)
    reasons = sorted(r.headers["dlq_error"].decode() for r in dead)
    assert "bad CloudEvents headers" in reasons[0]
    assert "positions" in reasons[1]
    pub.close()


def distinct_verdicts(broker, prefix):
    """Each event id once (a crash may publish one again: same id, same content)."""
    records = read_all(broker.bootstrap, [VACANCY_STATUS.prefixed(prefix).name])
    by_id = {}
    for r in records:
        by_id.setdefault(r.headers["ce_id"], set()).add(r.value)
    assert all(len(values) == 1 for values in by_id.values())
    return [(e.vacancy_id, e.status.value, sorted(v.value for v in e.violations))
            for e in (r.decoded().event for r in records
                      if by_id.pop(r.headers["ce_id"], None) is not None)]


def test_state_survives_a_kill(broker, topic_prefix, matcher):
    t = {x.name: x.prefixed(topic_prefix).name for x in (AGREEMENTS, EMPLOYERS, VACANCIES)}
    pub = Publisher(broker.bootstrap)
    pub.event(t["circular.agreements"], AGREEMENT)
    pub.event(t["circular.employers"], EmployerRegistered(employer_id="e1", country="DE"))
    pub.event(t["circular.employers"], EmployerVerified(employer_id="e1"))
    pub.event(t["circular.vacancies"], vacancy("v1"))
    converge(broker, topic_prefix, "v1", ("open", []))
    before = distinct_verdicts(broker, topic_prefix)
    matcher.kill()
    matcher.restart()
    # only recovered state knows that v1 belongs to e1 and is open under am-de
    pub.event(t["circular.employers"], EmployerSuspended(employer_id="e1"))
    converge(broker, topic_prefix, "v1", ("rejected", ["employer_not_verified"]))
    pub.event(t["circular.vacancies"], VacancyClosed(vacancy_id="v1", employer_id="e1"))
    converge(broker, topic_prefix, "v1", ("closed", ["employer_not_verified"]))
    assert distinct_verdicts(broker, topic_prefix) == [
        *before, ("v1", "rejected", ["employer_not_verified"]),
        ("v1", "closed", ["employer_not_verified"])]
    pub.close()
