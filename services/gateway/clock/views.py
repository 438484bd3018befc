"""``POST /admin/clock/tick``: test deployments only (CIRCULAR_CLOCK_CONTROL)."""

from __future__ import annotations

from fastapi import APIRouter, status

from schemas.events.clock import ClockTicked, TickSource
from services.gateway.clock import service
from services.gateway.clock.models import TickBody
from services.gateway.deps import AdminUser, SessionDep, SettingsDep
from services.gateway.errors import Conflict, NotFound, responses
from services.gateway.outbox import service as outbox
from services.gateway.replies import Accepted
from services.gateway.routing import API_PREFIX, GatewayRoute

router = APIRouter(route_class=GatewayRoute, prefix=f"{API_PREFIX}/admin/clock",
                   tags=["operations"])


@router.post("/tick", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED,
             responses=responses(401, 403, 404, 409, 422))
def tick(body: TickBody, admin: AdminUser, db_session: SessionDep,
         settings: SettingsDep) -> Accepted:
    """Publishes a clock tick for ``date``; the gateway's today moves with it. 404 unless
    the deployment allows clock control; 409 for a date before today or not after the
    latest tick."""
    if not settings.clock_control:
        raise NotFound("Not Found")
    today = service.today(db_session=db_session)
    if body.date < today or not service.advance(db_session=db_session, to=body.date):
        raise Conflict(f"The clock is at {today.isoformat()}; it never goes backwards")
    event_id = outbox.add(db_session=db_session,
                          event=ClockTicked(date=body.date, source=TickSource.ADMIN))
    db_session.commit()
    return Accepted(id=event_id, status=body.date.isoformat())
