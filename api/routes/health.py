"""Liveness and readiness (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

import optimizer
from api import lease
from api.db import Database
from api.deps import DatabaseDep, SettingsDep
from api.errors import ERROR_RESPONSES
from api.schemas import Health, Ready

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok", version=optimizer.__version__)


@router.get(
    "/readyz",
    response_model=Ready,
    responses={503: ERROR_RESPONSES[422] | {"description": "The database does not answer"}},
)
async def readyz(database: DatabaseDep, settings: SettingsDep) -> Ready:
    """The database answers (503 otherwise), and how many workers have a live heartbeat:
    ``degraded`` when none does (queued runs wait until ``allot worker`` starts)."""
    await run_in_threadpool(database.ping)
    live, queued = await run_in_threadpool(_queue_state, database, settings.run_lease_s)
    if live:
        return Ready(status="ready", database=database.backend, workers=live, queued=queued)
    return Ready(
        status="degraded",
        database=database.backend,
        workers=0,
        queued=queued,
        message="no worker has a live heartbeat: runs wait in the queue (start 'allot worker')",
    )


def _queue_state(database: Database, lease_s: float) -> tuple[int, int]:
    with database.transaction() as session:
        return lease.live_workers(session, lease_s=lease_s), lease.queued_runs(session)
