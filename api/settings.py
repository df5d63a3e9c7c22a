"""Service settings, read from ``ALLOT_*`` environment variables when the app is created
(never at import time), so tests and ``allot serve`` can pass their own."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./allot.db"


class Settings(BaseSettings):
    """Everything the service can be configured with.

    ``database_url``: SQLAlchemy URL; SQLite (default, a file in the working directory, WAL
    mode) or PostgreSQL (``postgresql+psycopg://user@host:5432/db``; a plain
    ``postgresql://`` URL is taken to mean psycopg 3). ``database_schema``: a PostgreSQL schema
    to use instead of ``public`` (created if missing).
    """

    model_config = SettingsConfigDict(env_prefix="ALLOT_", extra="ignore", frozen=True)

    database_url: str = DEFAULT_DATABASE_URL
    database_schema: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    max_body_bytes: int = Field(default=2 * 1024 * 1024, gt=0)
    """Largest request body accepted; larger ones get 413."""
    workers: int = Field(default=2, ge=0, le=64)
    """Solve processes of the worker ``allot serve`` embeds (0: serve the API only, and let
    ``allot worker`` processes execute the runs)."""
    run_lease_s: float = Field(default=60.0, ge=0.5, le=3600)
    """How long a worker holds a run without renewing its lease (it renews every quarter of
    it); a run whose lease expired is queued again (at most 3 attempts)."""
    run_max_time_s: float = Field(default=3600.0, gt=0, le=86_400)
    """Longest a run may solve: a scenario's ``solver.time_limit_s`` is capped by it, and a
    solve still going some seconds later is stopped."""
    run_memory_mb: float = Field(default=1024.0, gt=0)
    """Memory budget of one run (``optimizer.guard``), passed to every solve."""
    worker_poll_s: float = Field(default=0.5, gt=0, le=60)
    """How often an idle worker looks for queued runs and a running one for cancellation."""
    sync_wait_s: float = Field(default=60.0, ge=0, le=3600)
    """How long a synchronous request waits for its run (or sweep) to finish before it
    answers 202 with the run still queued or running."""
    sync_max_recipients: int = Field(default=2000, ge=0)
    """Runs with at most this many recipients are answered when finished (201); larger
    ones, or ``?async=true``, at once (202)."""
    max_sweep_values: int = Field(default=200, ge=1)
    """Most runs one sweep may create."""
    job_delay_s: float = Field(default=0.0, ge=0, le=3600)
    """Testing aid: every run waits this long in its solve process before solving (a slow
    solve: it counts towards ``run_max_time_s``)."""
