"""Eligibility (SPEC 3.3): every condition, at its boundary."""

from datetime import date

import pytest

from schemas.codes import CefrLevel
from services.matcher.domain.eligibility import Ineligible, age_on, failures, language_needs
from tests.unit.matcher_factories import vacancy, worker

N = Ineligible
START = date(2027, 4, 1)


def test_an_eligible_pair_has_no_failures():
    assert failures(worker(), vacancy()) == []


@pytest.mark.parametrize(("born", "expected"), [
    (date(2009, 4, 1), []),            # 18 exactly on the start date
    (date(2009, 4, 2), [N.TOO_YOUNG]),  # 18 the day after
    (date(1971, 4, 2), []),            # 55, turns 56 the day after
    (date(1971, 4, 1), [N.TOO_OLD]),    # 56 on the start date
])
def test_age_limits_are_whole_years_on_the_start_date(born, expected):
    assert failures(worker(date_of_birth=born), vacancy()) == expected


def test_a_29_february_birthday():
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18


@pytest.mark.parametrize(("has", "agreement", "vacancy_req", "ok"), [
    ({"de": CefrLevel.B1}, ("de", CefrLevel.B1), None, True),
    ({"de": CefrLevel.A2}, ("de", CefrLevel.B1), None, False),
    ({"de": CefrLevel.B1}, ("de", CefrLevel.A2), ("de", CefrLevel.B2), False),
    ({"de": CefrLevel.B2}, ("de", CefrLevel.A2), ("de", CefrLevel.B2), True),
    ({"de": CefrLevel.C2}, ("de", CefrLevel.A1), ("en", CefrLevel.A2), False),
    ({"de": CefrLevel.A1, "en": CefrLevel.A2}, ("de", CefrLevel.A1), ("en", CefrLevel.A2),
     True),
    ({}, None, None, True),
])
def test_languages_meet_the_stricter_requirement(has, agreement, vacancy_req, ok):
    v = vacancy(agreement_language=agreement, language_requirement=vacancy_req)
    assert (N.LANGUAGE not in failures(worker(languages=has), v)) is ok


def test_language_needs_merge():
    v = vacancy(agreement_language=("de", CefrLevel.A2), language_requirement=("de",
                                                                             CefrLevel.B2))
    assert language_needs(v) == {"de": CefrLevel.B2}


@pytest.mark.parametrize(("changes", "expected"), [
    ({"available_from": START}, []),
    ({"available_from": date(2027, 4, 2)}, [N.NOT_AVAILABLE_YET]),
    ({"reentry_from": START}, []),
    ({"reentry_from": date(2027, 4, 2)}, [N.IN_COOLDOWN]),
    ({"occupations": {"6111": 2}}, []),
    ({"occupations": {"6111": 1}}, [N.TOO_LITTLE_EXPERIENCE]),
    ({"occupations": {"7112": 20}}, [N.OCCUPATION_NOT_LISTED]),
    ({"preferred_destinations": frozenset({"DE", "KR"})}, []),
    ({"preferred_destinations": frozenset({"KR"})}, [N.DESTINATION_NOT_PREFERRED]),
    ({"consent_matching": False}, [N.NO_CONSENT]),
    ({"erased": True}, [N.ERASED]),
    ({"busy": True}, [N.BUSY]),
    ({"citizenship": "GE"}, [N.WRONG_ORIGIN]),
])
def test_each_condition_alone(changes, expected):
    assert failures(worker(**changes), vacancy()) == expected


def test_quota_and_positions():
    assert failures(worker(), vacancy(), quota_room=False) == [N.QUOTA_FULL]
    assert failures(worker(), vacancy(positions=2), positions_taken=1) == []
    assert failures(worker(), vacancy(positions=2), positions_taken=2) == [N.POSITIONS_FULL]


def test_every_failure_is_listed():
    w = worker(consent_matching=False, citizenship="GE", available_from=date(2028, 1, 1),
               busy=True)
    assert failures(w, vacancy(), quota_room=False) == [
        N.NO_CONSENT, N.WRONG_ORIGIN, N.NOT_AVAILABLE_YET, N.BUSY, N.QUOTA_FULL]
