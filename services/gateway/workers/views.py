"""Worker routes: registration (by the worker, a recruiter or an admin), profile,
erasure, timeline and the audit of reads of the worker's personal data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile, status

from services.gateway.audit import service as audit
from services.gateway.audit.models import AuditRead
from services.gateway.auth.models import Role
from services.gateway.deps import CurrentUser, MaybeUser, SessionDep, ShortRead
from services.gateway.errors import Forbidden, responses
from services.gateway.pagination import Page, PageDep, PathId
from services.gateway.replies import Accepted
from services.gateway.routing import API_PREFIX, GatewayRoute
from services.gateway.timeline import service as timeline
from services.gateway.timeline.models import TimelineRead
from services.gateway.workers import roster, service
from services.gateway.workers.models import WorkerCreate, WorkerRead, WorkerUpdate

router = APIRouter(route_class=GatewayRoute, prefix=f"{API_PREFIX}/workers", tags=["workers"])


@router.post("", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED,
             responses=responses(401, 403, 409, 422))
def register_worker(worker_in: WorkerCreate, request: Request, user: MaybeUser,
                    db_session: SessionDep) -> Accepted:
    """Recruiters and admins register walk-in workers; anyone may register themselves
    by adding ``username`` and ``password`` (that login then belongs to the worker)."""
    row = service.create(db_session=db_session, worker_in=worker_in, actor=user,
                         passwords=request.app.state.passwords)
    return Accepted(id=row.id, status=row.status)


@router.post("/import", response_model=roster.ImportReport,
             responses=responses(400, 401, 403, 413, 422))
def import_workers(
        file: Annotated[UploadFile, File(description="The roster: a CSV file, UTF-8, with a "
                                         "header row of the columns the README lists")],
        request: Request, user: CurrentUser, db_session: SessionDep) -> roster.ImportReport:
    """Recruiters and admins import a roster: every row is validated like ``POST
    /workers`` and registered in its own transaction; rows that fail are reported with
    their row number (the header is row 1) and field errors, the others imported. The
    same file again imports nothing new (its rows are ``unchanged``). A file that is not
    UTF-8 CSV with a roster's header is refused (422) before anything is written."""
    return roster.import_file(file.file, db_session=db_session, actor=user,
                              passwords=request.app.state.passwords)


@router.get("/{worker_id}", response_model=WorkerRead, responses=responses(401, 403, 404, 422))
def get_worker(worker_id: PathId, request: Request, user: CurrentUser,
               db_session: SessionDep) -> WorkerRead:
    service.check_access(user, worker_id)
    row = service.get(db_session=db_session, worker_id=worker_id)
    return service.read(db_session=db_session, row=row, actor=user, path=request.url.path)


@router.patch("/{worker_id}", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED,
              responses=responses(401, 403, 404, 409, 422))
def update_worker(worker_id: PathId, changes: WorkerUpdate, user: CurrentUser,
                  db_session: SessionDep) -> Accepted:
    service.check_access(user, worker_id)
    row = service.update(db_session=db_session, worker_id=worker_id, changes=changes)
    return Accepted(id=row.id, status=row.status)


@router.delete("/{worker_id}", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED,
               responses=responses(401, 403, 404, 422))
def erase_worker(worker_id: PathId, request: Request, user: CurrentUser,
                 db_session: SessionDep) -> Accepted:
    """Erasure: personal data and the login are deleted, matching withdraws the worker;
    only pseudonymous facts remain."""
    service.check_access(user, worker_id)
    row = service.erase(db_session=db_session, worker_id=worker_id)
    request.app.state.principals.forget(lambda p: p.worker_id == worker_id)  # the login is gone
    return Accepted(id=row.id, status=row.status)


@router.get("/{worker_id}/timeline", response_model=Page[TimelineRead],
            responses=responses(401, 403, 404, 422))
def worker_timeline(worker_id: PathId, user: CurrentUser, db_session: ShortRead,
                    page: PageDep) -> Page[TimelineRead]:
    service.check_access(user, worker_id)
    service.get(db_session=db_session, worker_id=worker_id)
    rows, total = timeline.for_worker(db_session=db_session, worker_id=worker_id,
                                      limit=page.limit, offset=page.offset)
    items = [TimelineRead(event_id=r.event_id, type=r.event_type, at=r.at, data=r.data)
             for r in rows]
    return Page.of(items, total, page)


@router.get("/{worker_id}/audit", response_model=Page[AuditRead],
            responses=responses(401, 403, 404, 422))
def worker_audit(worker_id: PathId, user: CurrentUser, db_session: ShortRead,
                 page: PageDep) -> Page[AuditRead]:
    """Who read this worker's personal data: for admins and the worker itself."""
    if not (user.role == Role.ADMIN or (user.role == Role.WORKER
                                        and user.worker_id == worker_id)):
        raise Forbidden("Only an admin or the worker itself may read this audit trail")
    service.get(db_session=db_session, worker_id=worker_id)
    rows, total = audit.for_worker(db_session=db_session, worker_id=worker_id,
                                   limit=page.limit, offset=page.offset)
    items = [AuditRead(actor_user_id=r.actor_user_id, actor_role=r.actor_role, action=r.action,
                       worker_id=r.worker_id, fields=list(r.fields), path=r.path, at=r.at)
             for r in rows]
    return Page.of(items, total, page)
