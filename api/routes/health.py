"""Liveness and readiness (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

import optimizer
from api.deps import DatabaseDep
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
async def readyz(database: DatabaseDep) -> Ready:
    """The database answers a query (503 otherwise)."""
    await run_in_threadpool(database.ping)
    return Ready(status="ready", database=database.backend)
