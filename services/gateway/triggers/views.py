"""Reintegration trigger routes."""

from __future__ import annotations

from fastapi import APIRouter, status

from schemas.events.triggers import TriggerKind
from services.gateway.deps import CurrentUser, RecruiterUser, SessionDep, WorkerRows
from services.gateway.errors import responses
from services.gateway.pagination import IdFilter, Page, PageDep, PathId
from services.gateway.replies import Accepted
from services.gateway.routing import API_PREFIX, GatewayRoute
from services.gateway.triggers import service
from services.gateway.triggers.models import TriggerComplete, TriggerRead, TriggerStatus

router = APIRouter(route_class=GatewayRoute, prefix=f"{API_PREFIX}/reintegration/triggers",
                   tags=["reintegration"])


@router.get("", response_model=Page[TriggerRead], responses=responses(401, 403, 422))
def list_triggers(user: CurrentUser, db_session: WorkerRows, page: PageDep,
                  worker_id: IdFilter = None,
                  kind: TriggerKind | None = None,
                  status: TriggerStatus | None = None) -> Page[TriggerRead]:
    """Earliest due first."""
    items, total = service.listing(db_session=db_session, user=user, worker_id=worker_id,
                                   kind=kind, status=status, limit=page.limit,
                                   offset=page.offset)
    return Page.of(items, total, page)


@router.post("/{trigger_id}/complete", response_model=Accepted,
             status_code=status.HTTP_202_ACCEPTED,
             responses=responses(401, 403, 404, 409, 422))
def complete_trigger(trigger_id: PathId, body: TriggerComplete, user: RecruiterUser,
                     db_session: SessionDep) -> Accepted:
    """Recruiters only. The outcome goes on Kafka (``TriggerCompleted``), so the answer
    is 202 with the trigger's id; the listing shows it completed. The same outcome
    again is a no-op, another one 409. A free-text note stays in the gateway."""
    row = service.complete(db_session=db_session, trigger_id=trigger_id, body=body, user=user)
    return Accepted(id=row.id, status=row.status)
