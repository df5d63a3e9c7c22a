"""The app factory. ``create_app(settings)`` builds everything at call time (nothing at import):
the database (migrated to the latest schema), the embedded worker (started with the app,
unless ``workers = 0``), the routers, the error handlers and the web view (``/ui``).
Start-up never changes runs: runs of a worker that died are queued again when their lease
expires (:mod:`api.lease`), by whichever worker sees it first.

``uvicorn --factory api.main:create_app`` and ``allot serve`` both use it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

import optimizer
from api import errors, web
from api.db import Database
from api.jobs import Jobs
from api.routes import audit, compare, health, runs, scenarios, sweeps, tokens, workers
from api.settings import Settings

log = logging.getLogger("allot.api")

DESCRIPTION = """\
Allocate incentive budgets as exact whole units, store scenarios and runs, compare runs and
sweep a parameter. Scenario and result bodies follow the contracts in docs/contract.md
(in the repository).

Authenticate with `Authorization: Bearer <token>` (make one with
`allot token create --role planner|committee|admin`). Committee members read and compare,
planners also create scenarios, runs and sweeps, admins also manage tokens.

Every error answers with `{"detail": [{"path": ..., "message": ...}]}`.
"""


def open_database(settings: Settings) -> Database:
    """Connect and migrate to the latest schema (runs are left alone: other processes may
    be executing them)."""
    database = Database(settings.database_url, schema=settings.database_schema)
    try:
        database.migrate()
    except BaseException:
        database.dispose()
        raise
    return database


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service; ``settings`` default to the ``ALLOT_*`` environment variables."""
    settings = settings or Settings()
    database = open_database(settings)
    pool = Jobs(database, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool.start()
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
    app.add_middleware(errors.StorableText)
    app.add_middleware(errors.BodyLimit, max_bytes=settings.max_body_bytes)
    for router in (
        health.router,
        scenarios.router,
        runs.router,
        compare.router,
        sweeps.router,
        tokens.router,
        workers.router,
        audit.router,
    ):
        app.include_router(router)
    web.install(app, database)
    return app
