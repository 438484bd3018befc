"""Flow statistics per destination and occupation for a year of vacancy start dates:
proposed, approved, departed, returned, overdue, and the return rate (returned
of departed)."""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.gateway.matches.models import Match
from services.gateway.placements.models import Placement


class Flow(BaseModel):
    destination_country: str
    isco_code: str
    proposed: int
    approved: int
    departed: int
    returned: int
    overdue: int
    return_rate: float | None


def flows(*, db_session: Session, year: int) -> list[Flow]:
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    matches = db_session.execute(
        select(Match.destination_country, Match.isco_code, func.count(),
               func.count(Match.approved_at))
        .where(Match.start_year == year)
        .group_by(Match.destination_country, Match.isco_code))
    for dest, isco, proposed, approved in matches:
        counts[(dest, isco)]["proposed"] = proposed
        counts[(dest, isco)]["approved"] = approved
    placements = db_session.execute(
        select(Match.destination_country, Match.isco_code, Placement.status,
               func.count(Placement.overdue_since), func.count())
        .join(Match, Match.id == Placement.match_id)
        .where(Match.start_year == year, Placement.status != "pending")
        .group_by(Match.destination_country, Match.isco_code, Placement.status))
    for dest, isco, status, ever_overdue, n in placements:
        c = counts[(dest, isco)]
        c["departed"] += n
        c["overdue"] += ever_overdue
        if status == "returned":
            c["returned"] += n
    out = []
    for (dest, isco), c in sorted(counts.items()):
        departed = c["departed"]
        out.append(Flow(destination_country=dest, isco_code=isco, proposed=c["proposed"],
                        approved=c["approved"], departed=departed, returned=c["returned"],
                        overdue=c["overdue"],
                        return_rate=round(c["returned"] / departed, 4) if departed else None))
    return out
