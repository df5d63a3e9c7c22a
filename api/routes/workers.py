"""``/v1/workers``: the processes executing runs, for admins (who run them)."""

from __future__ import annotations

from typing import Literal, cast

from fastapi import APIRouter

from api import lease
from api.deps import Admin, DatabaseDep, SettingsDep
from api.errors import ERROR_RESPONSES
from api.schemas import WorkerList, WorkerPublic

router = APIRouter(prefix="/v1/workers", tags=["workers"], responses=ERROR_RESPONSES)


@router.get("", response_model=WorkerList)
def list_workers(principal: Admin, database: DatabaseDep, settings: SettingsDep) -> WorkerList:
    """Every worker seen in the last week, newest first: host, pid, heartbeat, whether it is
    live (a heartbeat younger than ``ALLOT_RUN_LEASE_S``) and the runs it is executing."""
    with database.transaction() as session:
        states = lease.workers(session, lease_s=settings.run_lease_s)
        items = [
            WorkerPublic(
                id=s.row.id,
                host=s.row.host,
                pid=s.row.pid,
                kind=cast(Literal["worker", "embedded"], s.row.kind),
                concurrency=s.row.concurrency,
                started_at=s.row.started_at,
                heartbeat_at=s.row.heartbeat_at,
                stopped_at=s.row.stopped_at,
                live=s.live,
                runs=s.runs,
            )
            for s in states
        ]
    return WorkerList(items=items, live=sum(item.live for item in items))
