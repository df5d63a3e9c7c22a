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
    workers: int = Field(default=2, ge=1, le=64)
    """Threads in the pool that executes asynchronous runs and sweeps."""
    sync_max_recipients: int = Field(default=2000, ge=0)
    """Runs with at most this many recipients are solved while the client waits (201);
    larger ones, or ``?async=true``, are queued (202)."""
    max_sweep_values: int = Field(default=200, ge=1)
    """Most runs one sweep may create."""
    job_delay_s: float = Field(default=0.0, ge=0, le=3600)
    """Testing aid: every run waits this long after it starts, before solving."""
