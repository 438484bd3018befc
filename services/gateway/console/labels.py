"""Codes as words: every status, violation, trigger kind, reason and choice the
console shows is looked up here and translated, never shown as a code. A test checks
that every value of every enum named in :data:`KINDS` has a label."""

from __future__ import annotations

import re
from enum import StrEnum

from schemas.events.matches import Decision, MatchStatus, RefusalReason, WithdrawalReason
from schemas.events.placements import EarlyReturnReason, Intention, Need, PlacementStatus
from schemas.events.triggers import Outcome, TriggerKind
from schemas.events.vacancies import Violation
from services.gateway.agreements.models import AgreementStatus
from services.gateway.auth.models import Role
from services.gateway.console.nav import N_
from services.gateway.employers.models import EmployerStatus
from services.gateway.triggers.models import TriggerStatus
from services.gateway.vacancies.models import VacancyStatus
from services.gateway.workers.models import WorkerStatus

KINDS: dict[str, type[StrEnum]] = {
    "match_status": MatchStatus, "withdrawal": WithdrawalReason, "refusal": RefusalReason,
    "intention": Intention, "need": Need, "early_return": EarlyReturnReason,
    "placement_status": PlacementStatus, "trigger_kind": TriggerKind, "outcome": Outcome,
    "violation": Violation, "agreement_status": AgreementStatus, "role": Role,
    "employer_status": EmployerStatus, "trigger_status": TriggerStatus,
    "vacancy_status": VacancyStatus, "worker_status": WorkerStatus, "decision": Decision,
}

LABELS: dict[str, dict[str, str]] = {
    "match_status": {
        "proposed": N_("Proposed"), "approved": N_("Approved"), "rejected": N_("Rejected"),
        "accepted": N_("Accepted"), "declined": N_("Declined"), "withdrawn": N_("Withdrawn"),
        "pending": N_("Waiting for a decision"),
    },
    "withdrawal": {
        "displaced": N_("A better candidate took this place"),
        "worker_accepted_other": N_("The worker accepted another offer"),
        "worker_erased": N_("The worker's data was erased"),
        "consent_withdrawn": N_("The worker withdrew consent to matching"),
        "worker_no_longer_eligible": N_("The worker is no longer eligible"),
        "employer_suspended": N_("The employer is suspended"),
        "vacancy_closed": N_("The vacancy was closed"),
        "vacancy_filled": N_("The vacancy is filled"),
        "quota_exhausted": N_("The quota is used up"),
        "vacancy_rejected": N_("The vacancy was rejected"),
    },
    "refusal": {
        "quota_exhausted": N_("The quota for this occupation and year is used up"),
        "positions_filled": N_("All positions of this vacancy are filled"),
        "not_pending": N_("This match is no longer waiting for this decision"),
        "already_accepted_other": N_("The worker has already accepted another offer"),
        "vacancy_not_open": N_("The vacancy is not open"),
    },
    "intention": {
        "re_migrate": N_("Work abroad again"), "local_job": N_("Find a job at home"),
        "start_business": N_("Start a business"), "study": N_("Study"),
        "undecided": N_("Not decided yet"),
    },
    "need": {
        "training": N_("Training"), "credit": N_("Credit"), "counselling": N_("Counselling"),
        "health": N_("Health care"), "housing": N_("Housing"), "legal": N_("Legal help"),
    },
    "early_return": {
        "contract_ended": N_("The contract ended"),
        "employer_abuse": N_("Abuse by the employer"), "health": N_("Health"),
        "family": N_("Family reasons"), "other": N_("Other reasons"),
    },
    "placement_status": {
        "abroad": N_("Abroad"), "overdue": N_("Overdue"), "returned": N_("Returned"),
    },
    "trigger_kind": {
        "counselling_referral": N_("Counselling at the Migration Resource Centre"),
        "business_support": N_("Business training and micro-credit"),
        "local_job_matching": N_("Local job matching"),
        "skills_recognition": N_("Recognition of skills acquired abroad"),
        "welfare_check": N_("Welfare check after an early return"),
        "counter_trafficking_referral": N_("Counter-trafficking referral"),
        "overdue_return": N_("Overdue return"),
        "reentry_eligible": N_("Eligible to work abroad again"),
    },
    "outcome": {
        "service_delivered": N_("Service delivered"), "referred": N_("Referred elsewhere"),
        "declined_by_worker": N_("Declined by the worker"),
        "unreachable": N_("Could not be reached"), "not_needed": N_("Not needed"),
    },
    "violation": {
        "no_agreement": N_("No labour agreement covers this destination"),
        "occupation_not_covered": N_("The agreement does not cover this occupation"),
        "outside_agreement_validity": N_("The start date is outside the agreement's validity"),
        "agreement_suspended": N_("The agreement is suspended"),
        "employer_not_verified": N_("The employer is not verified or is suspended"),
        "wage_below_floor": N_("The wage is below the agreement's minimum"),
        "currency_mismatch": N_("The wage is in another currency than the agreement's minimum"),
        "contract_too_long": N_("The contract is longer than the agreement allows"),
        "worker_fee_charged": N_("A fee is charged to the worker (the employer must pay)"),
    },
    "agreement_status": {"active": N_("Active"), "suspended": N_("Suspended"),
                         "pending": N_("Waiting for a decision")},
    "role": {"admin": N_("Administrator"), "recruiter": N_("Recruiter"),
             "employer": N_("Employer"), "worker": N_("Worker")},
    "employer_status": {"pending": N_("Waiting for verification"),
                        "verified": N_("Verified"), "suspended": N_("Suspended")},
    "trigger_status": {"open": N_("Open"), "completed": N_("Completed")},
    "vacancy_status": {
        "pending": N_("Waiting for a decision"), "open": N_("Open"),
        "rejected": N_("Rejected"), "filled": N_("Filled"), "closed": N_("Closed"),
    },
    "worker_status": {"active": N_("Active"), "erased": N_("Data erased")},
    "decision": {"approve": N_("approve"), "reject": N_("reject"), "accept": N_("accept"),
                 "decline": N_("decline")},
    #: the events of a worker's timeline, by their type
    "event": {
        "circular.worker.registered": N_("Registered"),
        "circular.worker.profile-updated": N_("Profile changed"),
        "circular.worker.erased": N_("Personal data erased"),
        "circular.match.proposed": N_("Proposed for a vacancy"),
        "circular.match.reviewed": N_("A recruiter reviewed the proposal"),
        "circular.match.approved": N_("Offer approved by a recruiter"),
        "circular.match.approval-refused": N_("Approval refused"),
        "circular.match.rejected": N_("Proposal rejected by a recruiter"),
        "circular.match.responded": N_("Answered an offer"),
        "circular.match.accepted": N_("Offer accepted"),
        "circular.match.acceptance-refused": N_("Acceptance refused"),
        "circular.match.declined": N_("Offer declined"),
        "circular.match.withdrawn": N_("Offer withdrawn"),
        "circular.departure.recorded": N_("Departure recorded"),
        "circular.placement.started": N_("Work abroad started"),
        "circular.placement.overdue": N_("Return overdue"),
        "circular.placement.returned": N_("Returned home"),
        "circular.return.registered": N_("Return registered"),
        "circular.return.unmatched": N_("Return registered without a placement"),
        "circular.return.reminder-due": N_("Reminder to register the return"),
        "circular.trigger.fired": N_("Follow-up opened"),
        "circular.trigger.completed": N_("Follow-up completed"),
    },
}


def label(kind: str, code: object) -> str:
    """The English msgid for ``code`` of ``kind`` (translated by the caller); an
    unknown code (a newer service's) is shown as it is rather than hidden."""
    value = getattr(code, "value", code)
    return LABELS.get(kind, {}).get(str(value), str(value))


#: the matcher writes a score's reasons in English with their figures; the console
#: shows them in the user's language from the reason's code and those figures
REASONS: dict[str, tuple[re.Pattern[str], str]] = {
    "skills": (re.compile(r"has (?P<covered>\d+) of (?P<required>\d+) required skills"),
               N_("has %(covered)s of %(required)s required skills")),
    "experience": (re.compile(r"(?P<years>\d+) year"),
                   N_("%(years)s year(s) of experience beyond the minimum")),
    "returned_on_time": (re.compile(""), N_("returned on time from an earlier placement")),
    "rehire": (re.compile(""), N_("returned on time from this employer before")),
}
NO_SKILLS = N_("the vacancy lists no required skills")


def reason(code: str, text: str) -> tuple[str, dict[str, str]]:
    """The msgid and its figures for one reason of a score."""
    if code == "skills" and "no required skills" in text:
        return NO_SKILLS, {}
    pattern = REASONS.get(code)
    if pattern is not None:
        found = pattern[0].search(text)
        if found is not None:
            return pattern[1], found.groupdict()
    return text, {}


#: the tracker writes a trigger's reason in English with its figures (tracker's
#: domain/triggers.py); the console shows it in the user's language from the
#: trigger's kind and those figures. Groups named ``*_date`` are ISO dates, formatted
#: for the page's language by the caller.
DAY = r"\d{4}-\d{2}-\d{2}"
TRIGGER_REASONS: dict[str, list[tuple[re.Pattern[str], str]]] = {
    "counselling_referral": [(
        re.compile(rf"^Returned on (?P<return_date>{DAY}): offer a consultation"),
        N_("Returned on %(return_date)s: offer a consultation at the Migration Resource "
           "Centre."))],
    "business_support": [(
        re.compile(r"^Intends to start a business or needs credit"),
        N_("Intends to start a business or needs credit: refer to micro-enterprise "
           "training and micro-credit."))],
    "local_job_matching": [(
        re.compile(r"^Looking for a job at home"),
        N_("Looking for a job at home: match with local vacancies."))],
    "skills_recognition": [(
        re.compile(r"^Acquired skills abroad \((?P<skills>.*)\): start skills recognition"),
        N_("Acquired skills abroad (%(skills)s): start skills recognition."))],
    "welfare_check": [(
        re.compile(rf"^Returned (?P<days>\d+) days before the expected return "
                   rf"\((?P<expected_date>{DAY})\)"),
        N_("Returned %(days)s days before the expected return (%(expected_date)s): check "
           "on the worker's welfare."))],
    "counter_trafficking_referral": [
        (re.compile(r"^Returned early reporting abuse by the employer"),
         N_("Returned early reporting abuse by the employer: refer to counter-trafficking "
            "services.")),
        (re.compile(rf"^Still abroad (?P<days>\d+)\+ days after the expected return "
                    rf"\((?P<expected_date>{DAY})\)"),
         N_("Still abroad %(days)s or more days after the expected return "
            "(%(expected_date)s): refer to counter-trafficking services."))],
    "overdue_return": [(
        re.compile(rf"^Not back by (?P<expected_date>{DAY}) and the grace period has passed"),
        N_("Not back by %(expected_date)s and the grace period has passed: contact the "
           "worker and the employer."))],
    "reentry_eligible": [(
        re.compile(rf"^Returned on time on (?P<return_date>{DAY}); the cooldown ended on "
                   rf"(?P<eligible_date>{DAY})"),
        N_("Returned on time on %(return_date)s; the waiting period ended on "
           "%(eligible_date)s: the worker may go again."))],
}


def trigger_reason(kind: str, text: str) -> tuple[str, dict[str, str]] | None:
    """The msgid and its figures for a trigger's reason; None for one not known here
    (a newer tracker's), shown as it was written."""
    for pattern, msgid in TRIGGER_REASONS.get(str(getattr(kind, "value", kind)), []):
        if (found := pattern.search(text)) is not None:
            return msgid, found.groupdict()
    return None

