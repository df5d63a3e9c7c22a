"""The app factory. ``create_app(settings)`` builds everything at call time (nothing at import):
the database (migrated to the latest schema), recovery of runs a dead process left behind,
the worker pool, the routers, the error handlers and the web view (``/ui``).

``uvicorn --factory api.main:create_app`` and ``allot serve`` both use it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

import optimizer
from api import errors, store, web
from api.db import Database
from api.jobs import JobPool
from api.routes import compare, health, runs, scenarios, sweeps, tokens
from api.settings import Settings

log = logging.getLogger("allot.api")

DESCRIPTION = """\
Allocate incentive budgets as exact whole units, store scenarios and runs, compare runs and
sweep a parameter. Scenario and result bodies follow the contracts of DESIGN.md.

Authenticate with `Authorization: Bearer <token>` (make one with
`allot token create --role planner|committee|admin`). Committee members read and compare,
planners also create scenarios, runs and sweeps, admins also manage tokens.

Every error answers with `{"detail": [{"path": ..., "message": ...}]}`.
"""


def open_database(settings: Settings, *, recover: bool = True) -> Database:
    """Connect and migrate to the latest schema; ``recover``: mark the runs a dead process
    left ``queued`` or ``running`` as failed (only the service does this, at start-up; the
    CLI's token commands must not, a service may be running)."""
    database = Database(settings.database_url, schema=settings.database_schema)
    try:
        database.migrate()
        if recover:
            with database.transaction() as session:
                interrupted = store.recover_interrupted(session)
            if interrupted:
                log.warning(
                    "marked %d interrupted run(s) as failed: %s", len(interrupted), interrupted
                )
    except BaseException:
        database.dispose()
        raise
    return database


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service; ``settings`` default to the ``ALLOT_*`` environment variables."""
    settings = settings or Settings()
    database = open_database(settings)
    pool = JobPool(database, workers=settings.workers, delay_s=settings.job_delay_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            pool.shutdown()
            database.dispose()

    # the docs pages use Swagger UI and ReDoc bundled in fastapi-offline: no CDN needed
    app = FastAPIOffline(
        title="Allot",
        version=optimizer.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.jobs = pool
    errors.install(app)
    app.add_middleware(errors.BodyLimit, max_bytes=settings.max_body_bytes)
    for router in (
        health.router,
        scenarios.router,
        runs.router,
        compare.router,
        sweeps.router,
        tokens.router,
    ):
        app.include_router(router)
    web.install(app, database)
    return app
