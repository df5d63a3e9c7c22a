"""``/v1/audit`` (admins read the audit log) and ``POST /v1/runs/{id}/adopt`` (the committee
adopts a run). The log has no route that changes it: entries are only added, by the actions
they record (:mod:`api.audit`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api import audit, paging
from api.db import AuditEntry, Role
from api.deps import Admin, Committee, DatabaseDep
from api.errors import ERROR_RESPONSES, Forbidden
from api.routes.params import Cursor, Limit, Offset, RunId
from api.schemas import (
    MAX_ID,
    AdoptCreate,
    AuditEntryPublic,
    AuditList,
    RunPublic,
    run_public,
)

router = APIRouter(tags=["audit"], responses=ERROR_RESPONSES)

ADOPTERS = (Role.COMMITTEE, Role.ADMIN)
"""Who may adopt a run: the committee decides (an admin may act for it); not planners."""


@router.post(
    "/v1/runs/{run_id}/adopt",
    response_model=RunPublic,
    status_code=201,
    responses={
        200: {"model": RunPublic, "description": "Already adopted so, by the same person"},
        409: ERROR_RESPONSES[422]
        | {"description": "Not finished, no allocation, archived, or adopted otherwise"},
    },
)
def adopt_run(
    run_id: RunId,
    body: AdoptCreate,
    principal: Committee,
    database: DatabaseDep,
    response: Response,
) -> RunPublic:
    """Adopt a finished run with an allocation (``note`` required): the run and its scenario
    version are then frozen (never cancelled, archived, restored or deleted; the run never
    adopted again with another note) and the adoption is in the audit log. Committee
    members and admins only; repeating the same adoption answers 200 and records nothing."""
    if principal.role not in ADOPTERS:
        raise Forbidden(
            "adopting a run is the committee's decision: this needs the committee or admin "
            f"role (this token is {principal.role.value})"
        )
    with database.transaction() as session:
        run, adopted = audit.adopt(session, run_id, by=principal.label, note=body.note.strip())
        if not adopted:
            response.status_code = 200
        return run_public(run)


@router.get("/v1/audit", response_model=AuditList)
def list_audit(
    principal: Admin,
    database: DatabaseDep,
    subject_kind: audit.Subject | None = None,
    subject_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: audit.Action | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
    cursor: Cursor = None,
) -> AuditList:
    """The audit log, newest first: who created, ran, cancelled, archived, restored or
    adopted which scenario, run or sweep, and when; filter by subject (kind and id), actor
    (the token's name, exactly) and action. Pages by ``offset`` or by ``cursor`` (each
    page's ``next_cursor``), as the other lists."""
    before = paging.start("audit", cursor, offset)
    with database.transaction() as session:
        rows, total = audit.entries(
            session,
            kind=subject_kind,
            subject_id=subject_id,
            actor=actor,
            action=action,
            limit=limit + 1,
            offset=offset,
            before=before,
        )
        page, next_cursor = paging.cut("audit", rows, limit)
        items = [entry_public(row) for row in page]
    return AuditList(items=items, total=total, limit=limit, offset=offset, next_cursor=next_cursor)


def entry_public(row: AuditEntry) -> AuditEntryPublic:
    return AuditEntryPublic(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        subject_kind=row.subject_kind,
        subject_id=row.subject_id,
        detail=row.detail,
    )
