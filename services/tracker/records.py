"""Placements and accepted-match terms as the JSON the tracker's table stores.

Written out field by field: ``dataclasses.asdict`` deep-copies every value and cost
ten times as much, on every save of every placement."""

from __future__ import annotations

from datetime import date
from typing import Any

from schemas.events.placements import PlacementStatus
from services.tracker.domain.dates import Timing
from services.tracker.domain.placement import Placement, Terms


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def dump_terms(t: Terms) -> dict[str, Any]:
    return {"match_id": t.match_id, "worker_id": t.worker_id, "vacancy_id": t.vacancy_id,
            "employer_id": t.employer_id, "agreement_id": t.agreement_id,
            "destination_country": t.destination_country, "isco_code": t.isco_code,
            "contract_months": t.contract_months, "return_grace_days": t.return_grace_days,
            "reentry_cooldown_months": t.reentry_cooldown_months}


def dump(p: Placement) -> dict[str, Any]:
    return {
        "placement_id": p.placement_id,
        "terms": dump_terms(p.terms),
        "departure_date": p.departure_date.isoformat(),
        "expected_return_date": p.expected_return_date.isoformat(),
        "status": p.status.value,
        "return_date": _iso(p.return_date),
        "return_id": p.return_id,
        "return_timing": p.return_timing.value if p.return_timing else None,
        "reentry_from": _iso(p.reentry_from),
        "overdue_since": _iso(p.overdue_since),
        "reminded": p.reminded,
        "long_overdue_referred": p.long_overdue_referred,
        "reentry_announced": p.reentry_announced,
    }


def load(data: dict[str, Any]) -> Placement:
    timing = data["return_timing"]
    return Placement(
        placement_id=data["placement_id"],
        terms=Terms(**data["terms"]),
        departure_date=date.fromisoformat(data["departure_date"]),
        expected_return_date=date.fromisoformat(data["expected_return_date"]),
        status=PlacementStatus(data["status"]),
        return_date=_day(data["return_date"]),
        return_id=data.get("return_id"),  # not in records stored before it was kept
        return_timing=Timing(timing) if timing else None,
        reentry_from=_day(data["reentry_from"]),
        overdue_since=_day(data["overdue_since"]),
        reminded=data["reminded"],
        long_overdue_referred=data["long_overdue_referred"],
        reentry_announced=data["reentry_announced"],
    )
