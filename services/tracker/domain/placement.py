"""A placement from departure to return (SPEC 3.6), as values and pure functions.

``abroad`` on departure; ``overdue`` once a tick passes expected return + grace;
``returned`` on a return registration. Ticks only move forward and may jump: one
tick produces everything that fell due up to its date, each effect once (the
placement remembers what it already produced). :func:`next_due` says when the
placement next needs a tick, so the caller indexes placements by that date
instead of scanning them all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from schemas.events.placements import PlacementStatus
from services.tracker.domain import dates
from services.tracker.domain.dates import Timing


@dataclass(frozen=True)
class Terms:
    """What the accepted match fixed for the placement."""

    match_id: str
    worker_id: str
    vacancy_id: str
    employer_id: str
    agreement_id: str
    destination_country: str
    isco_code: str
    contract_months: int
    return_grace_days: int
    reentry_cooldown_months: int


@dataclass(frozen=True)
class Placement:
    placement_id: str
    terms: Terms
    departure_date: date
    expected_return_date: date
    status: PlacementStatus = PlacementStatus.ABROAD
    return_date: date | None = None
    return_id: str | None = None  # the registration that closed it
    return_timing: Timing | None = None
    reentry_from: date | None = None
    overdue_since: date | None = None
    reminded: bool = False
    long_overdue_referred: bool = False
    reentry_announced: bool = False

    @property
    def abroad(self) -> bool:
        return self.status is not PlacementStatus.RETURNED


class ReturnRefused(ValueError):
    """A return that cannot close this placement; ``reason`` is for a caseworker."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Effect:
    kind: str  # "reminder", "overdue", "long_overdue", "reentry"
    on: date


def depart(placement_id: str, terms: Terms, departure: date) -> Placement:
    return Placement(placement_id, terms, departure,
                     dates.expected_return(departure, terms.contract_months))


def register_return(p: Placement, returned: date, return_id: str | None = None
                    ) -> Placement:
    if not p.abroad:
        raise ReturnRefused(f"placement returned already on {p.return_date}")
    if returned < p.departure_date:
        raise ReturnRefused(f"return date {returned.isoformat()} is before the departure "
                            f"({p.departure_date.isoformat()})")
    timing = dates.timing(returned, p.expected_return_date, p.terms.return_grace_days)
    return replace(p, status=PlacementStatus.RETURNED, return_date=returned,
                   return_id=return_id, return_timing=timing,
                   reentry_from=dates.reentry_from(returned, p.terms.reentry_cooldown_months))


def _due(p: Placement) -> list[tuple[str, date]]:
    expected, grace = p.expected_return_date, p.terms.return_grace_days
    found = []
    if p.abroad:
        if not p.reminded:
            found.append(("reminder", dates.reminder_on(expected)))
        if p.overdue_since is None:
            found.append(("overdue", dates.overdue_from(expected, grace)))
        if not p.long_overdue_referred:
            found.append(("long_overdue", dates.trafficking_referral_from(expected, grace)))
    elif (p.return_timing is Timing.ON_TIME and not p.reentry_announced
          and p.reentry_from is not None):
        found.append(("reentry", p.reentry_from))
    return found


def next_due(p: Placement) -> date | None:
    """The first date a tick would produce something for this placement."""
    found = [on for _, on in _due(p)]
    return min(found) if found else None


def on_tick(p: Placement, today: date) -> tuple[Placement, list[Effect]]:
    effects = [Effect(kind, on) for kind, on in sorted(_due(p), key=lambda x: x[1])
               if on <= today]
    for effect in effects:
        if effect.kind == "reminder":
            p = replace(p, reminded=True)
        elif effect.kind == "overdue":
            p = replace(p, status=PlacementStatus.OVERDUE, overdue_since=effect.on)
        elif effect.kind == "long_overdue":
            p = replace(p, long_overdue_referred=True)
        else:
            p = replace(p, reentry_announced=True)
    return p, effects
