"""Reintegration triggers (SPEC 3.6): which fire, why, and by when a caseworker
should act. Each has a deterministic cause, so the id built from (worker,
placement, kind, cause) makes it fire once per cause whatever is replayed.

Service deadlines, counted from the event that caused the trigger:

| kind                           | due after | cause                       |
|--------------------------------|-----------|-----------------------------|
| counselling_referral           | 14 days   | the return registration     |
| business_support               | 30 days   | the return registration     |
| local_job_matching             | 14 days   | the return registration     |
| skills_recognition             | 30 days   | the return registration     |
| welfare_check                  | 3 days    | the return registration     |
| counter_trafficking_referral   | 1 day     | the return (abuse), or the  |
|                                |           | day overdue past 2 x grace  |
| overdue_return                 | 2 days    | the day it became overdue   |
| reentry_eligible               | 30 days   | the day the cooldown ended  |

A return registration that closes no placement (none open, or refused) still gets
counselling and the business, job and skills triggers (placement: none); welfare
and the early-return counter-trafficking referral need the expected return date,
so only returns that closed a placement get them.

Reasons name dates and facts, never a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from schemas.events.placements import EarlyReturnReason, Intention, Need, ReturnRegistered
from schemas.events.triggers import TriggerKind
from services.tracker.domain.dates import Timing, days_early

K = TriggerKind
DUE_DAYS = {
    K.COUNSELLING_REFERRAL: 14, K.BUSINESS_SUPPORT: 30, K.LOCAL_JOB_MATCHING: 14,
    K.SKILLS_RECOGNITION: 30, K.WELFARE_CHECK: 3, K.COUNTER_TRAFFICKING_REFERRAL: 1,
    K.OVERDUE_RETURN: 2, K.REENTRY_ELIGIBLE: 30,
}
OVERDUE_CAUSE = "overdue"
TRAFFICKING_OVERDUE_CAUSE = "overdue-past-twice-grace"
REENTRY_CAUSE = "cooldown-ended"


@dataclass(frozen=True)
class TriggerSpec:
    kind: TriggerKind
    cause: str
    reason: str
    due_date: date


def _spec(kind: TriggerKind, cause: str, reason: str, base: date) -> TriggerSpec:
    return TriggerSpec(kind, cause, reason, base + timedelta(days=DUE_DAYS[kind]))


def on_any_return(registration: ReturnRegistered) -> list[TriggerSpec]:
    """Triggers every return registration gets, whether or not it closed a placement:
    counselling, and what the returnee's intentions, needs and skills call for."""
    when, cause = registration.return_date, registration.return_id
    found = [_spec(K.COUNSELLING_REFERRAL, cause,
                   f"Returned on {when.isoformat()}: offer a consultation at the Migration "
                   "Resource Centre.", when)]
    if (Intention.START_BUSINESS in registration.intentions
            or Need.CREDIT in registration.needs):
        found.append(_spec(K.BUSINESS_SUPPORT, cause,
                           "Intends to start a business or needs credit: refer to "
                           "micro-enterprise training and micro-credit.", when))
    if Intention.LOCAL_JOB in registration.intentions:
        found.append(_spec(K.LOCAL_JOB_MATCHING, cause,
                           "Looking for a job at home: match with local vacancies.", when))
    if registration.skills_acquired:
        skills = ", ".join(registration.skills_acquired[:10])
        found.append(_spec(K.SKILLS_RECOGNITION, cause,
                           f"Acquired skills abroad ({skills}): start skills recognition.",
                           when))
    return found


def on_return(registration: ReturnRegistered, expected: date, timing: Timing
              ) -> list[TriggerSpec]:
    """Triggers of a return registration that closed a placement: those of every
    return, and those of an early one."""
    when, cause = registration.return_date, registration.return_id
    found = on_any_return(registration)
    if timing is Timing.EARLY:
        early = days_early(when, expected)
        found.append(_spec(K.WELFARE_CHECK, cause,
                           f"Returned {early} days before the expected return "
                           f"({expected.isoformat()}): check on the worker's welfare.", when))
        if registration.early_return_reason is EarlyReturnReason.EMPLOYER_ABUSE:
            found.append(_spec(K.COUNTER_TRAFFICKING_REFERRAL, cause,
                               "Returned early reporting abuse by the employer: refer to "
                               "counter-trafficking services.", when))
    return found


def on_overdue(expected: date, since: date) -> TriggerSpec:
    return _spec(K.OVERDUE_RETURN, OVERDUE_CAUSE,
                 f"Not back by {expected.isoformat()} and the grace period has passed: "
                 "contact the worker and the employer.", since)


def on_long_overdue(expected: date, grace_days: int, since: date) -> TriggerSpec:
    return _spec(K.COUNTER_TRAFFICKING_REFERRAL, TRAFFICKING_OVERDUE_CAUSE,
                 f"Still abroad {2 * grace_days + 1}+ days after the expected return "
                 f"({expected.isoformat()}): refer to counter-trafficking services.", since)


def on_reentry(returned: date, eligible_from: date) -> TriggerSpec:
    return _spec(K.REENTRY_ELIGIBLE, REENTRY_CAUSE,
                 f"Returned on time on {returned.isoformat()}; the cooldown ended on "
                 f"{eligible_from.isoformat()}: the worker may go again.", eligible_from)
