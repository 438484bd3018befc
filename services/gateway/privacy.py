"""What of an event about a worker may be kept, shown or logged (SPEC 3.7).

Two rules, both pure:

* ``without_personal``: no stored copy of an event (the timeline) holds the worker's
  personal data as SPEC 3.7 and :data:`PERSONAL` name it. Of those only the date of
  birth travels in events (matching needs the exact age); the timeline drops it, so
  reading a timeline reads no personal data.
* ``pseudonymous``: once a worker is erased, stored copies keep only pseudonymous
  facts: ids, codes, statuses, decisions and the dates of the migration cycle. Anything
  the worker told us (profile, intentions, needs, skills, reasons) and every free text
  goes. An allowlist, so a field added to an event later is dropped until someone
  decides it is a pseudonymous fact.
"""

from __future__ import annotations

from typing import Any

#: the worker's personal data: read only through GET /workers/{id} (audited)
PERSONAL = ("full_name", "passport_number", "phone", "email", "region", "date_of_birth")

#: what an erased worker's events keep
PSEUDONYMOUS_FIELDS = frozenset({
    # ids
    "worker_id", "match_id", "vacancy_id", "employer_id", "agreement_id", "placement_id",
    "return_id", "trigger_id", "reviewed_by", "recorded_by", "completed_by",
    # where and what
    "market", "destination_country", "isco_code",
    # what was decided
    "decision", "status", "kind", "outcome", "score", "on_time", "early",
    "contract_months", "return_grace_days", "reentry_cooldown_months",
    # the dates of the migration cycle
    "departure_date", "expected_return_date", "return_date", "overdue_since", "remind_on",
    "reentry_from", "due_date",
})

#: the text an erased worker's triggers show instead of their reason
ERASED_REASON = "Details removed when the worker's data was erased."


def without_personal(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in PERSONAL}


def pseudonymous(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k in PSEUDONYMOUS_FIELDS}
