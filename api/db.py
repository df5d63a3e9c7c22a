"""Persistence: the tables, the engine (SQLite with WAL, or PostgreSQL) and migrations.

Tables: ``tokens`` (hash only), ``scenarios`` (versioned per name, never overwritten),
``runs`` (one allocation each, immutable once finished; also the work queue, with the lease
of the worker executing it), ``sweeps`` (runs grouped by one varied parameter), ``workers``
(every worker process that executes runs, with its heartbeat), ``secrets`` (keys the
service makes once, e.g. to sign web sessions) and ``audit_log`` (append-only: who
created, ran, cancelled, archived, restored or adopted what). The schema is owned by the Alembic
migrations in ``api/migrations``, which :meth:`Database.migrate` applies at start-up from
any working directory.

On SQLite every transaction starts with ``BEGIN IMMEDIATE``: writers queue on the busy
timeout instead of failing when two transactions both try to upgrade a read lock, which is
what makes concurrent posts safe. Keep transactions short (never solve inside one).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    make_url,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    query_expression,
    sessionmaker,
)

from api.json_codec import json_text, json_value

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_S = 30
MIGRATION_LOCK_KEY = 0x616C6C6F74  # "allot": one migrator at a time on PostgreSQL


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Role(enum.StrEnum):
    """Who may do what: admin can do everything a planner can, a planner everything a
    committee member can."""

    COMMITTEE = "committee"
    PLANNER = "planner"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_ROLE_RANK = {Role.COMMITTEE: 1, Role.PLANNER: 2, Role.ADMIN: 3}


class RunStatus(enum.StrEnum):
    """Where a run is in its life; ``done``, ``failed`` and ``cancelled`` are final."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (RunStatus.DONE, RunStatus.FAILED, RunStatus.CANCELLED)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        dt.datetime: UTCDateTime,
    }


class Token(Base):
    """An API token; only the sha256 of the secret is stored."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)  # None: never
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)  # to the minute


class StoredScenario(Base):
    """One version of a named scenario: the normalised body and its content hash."""

    __tablename__ = "scenarios"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_scenarios_name_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(80), index=True)
    recipients: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[dt.datetime | None] = mapped_column(default=None)  # hidden from lists


class Sweep(Base):
    """A parameter sweep: one run per value of ``parameter``, or per point of the grid of
    several parameters (``axes``: each parameter with its ``set`` and values, first varying
    slowest; ``parameter``/``spec`` then join them and ``sweep_values`` holds the points)."""

    __tablename__ = "sweeps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario_id: Mapped[int | None] = mapped_column(ForeignKey("scenarios.id"), default=None)
    scenario_name: Mapped[str] = mapped_column(Text)
    scenario_hash: Mapped[str] = mapped_column(String(80))
    parameter: Mapped[str] = mapped_column(Text)
    spec: Mapped[str] = mapped_column(Text)
    sweep_values: Mapped[list[Any]]
    overrides: Mapped[list[Any]]
    note: Mapped[str | None] = mapped_column(Text, default=None)
    requested_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    axes: Mapped[list[Any] | None] = mapped_column(JSON, default=None)  # None: before 0006


class Run(Base):
    """One allocation of one scenario: what was asked, by whom, and the full result."""

    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_status", "status"), Index("ix_runs_sweep_id", "sweep_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario_id: Mapped[int | None] = mapped_column(ForeignKey("scenarios.id"), default=None)
    sweep_id: Mapped[int | None] = mapped_column(ForeignKey("sweeps.id"), default=None)
    sweep_value: Mapped[Any] = mapped_column(JSON, nullable=True, default=None)
    scenario_name: Mapped[str] = mapped_column(Text)
    scenario_hash: Mapped[str] = mapped_column(String(80))
    scenario_body: Mapped[dict[str, Any]]
    recipients: Mapped[int] = mapped_column(Integer)
    overrides: Mapped[list[Any]]
    note: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(String(20), default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    solver_backend: Mapped[str | None] = mapped_column(String(50), default=None)
    solver_version: Mapped[str | None] = mapped_column(String(50), default=None)
    timings: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    requested_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # the queue (api.lease): who executes the run, until when, and how often it was taken
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200), default=None)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    cancelled_by: Mapped[str | None] = mapped_column(String(200), default=None)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    notes: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    archived_at: Mapped[dt.datetime | None] = mapped_column(default=None)  # hidden from lists
    # adopted by the committee (api.audit): then frozen, by the app and by database triggers
    adopted_by: Mapped[str | None] = mapped_column(String(200), default=None)
    adopted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    adoption_note: Mapped[str | None] = mapped_column(Text, default=None)
    # what run lists show of the scenario and the result, read by the database from the
    # JSON columns (api.store.list_runs), which a list does not load: 20 MB a run of 100,000
    listed_budget: Mapped[Any] = query_expression()
    listed_unit: Mapped[Any] = query_expression()
    listed_objective: Mapped[Any] = query_expression()

    def summary(self) -> tuple[Any, Mapping[str, Any], Any]:
        """The budget, the unit and the objective's value (None where there is none), from
        the list query's expressions when the JSON columns were not loaded."""
        if "scenario_body" in inspect(self).unloaded:
            unit = self.listed_unit if isinstance(self.listed_unit, Mapping) else {}
            budget = self.listed_budget
            return None if budget is None else int(budget), unit, self.listed_objective
        body, result = self.scenario_body or {}, self.result or {}
        metrics = result.get("metrics") or {}
        return body.get("budget"), body.get("unit") or {}, metrics.get("objective")


class AuditEntry(Base):
    """One line of the audit log: who did what to which scenario, run or sweep, and when.
    Append-only: written in the transaction of the action it records, never changed or
    deleted (database triggers refuse both; migration 0007)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_subject", "subject_kind", "subject_id"),
        Index("ix_audit_log_actor", "actor"),
        Index("ix_audit_log_action", "action"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int] = mapped_column(Integer)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class WorkerProcess(Base):
    """A process executing runs (``allot worker`` or the one ``allot serve`` embeds); it is
    alive while its heartbeat is younger than a lease."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    concurrency: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class ServiceSecret(Base):
    """A random key the service generates at its first start and keeps, so that what it
    signed (the web view's session cookies) stays valid across restarts and processes."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RunImmutableError(RuntimeError):
    """Raised when code tries to change a run that is already done or failed."""


@event.listens_for(Run, "before_update")
def _runs_are_immutable(mapper: Any, connection: Any, target: Run) -> None:
    history = inspect(target).attrs.status.history
    original = history.deleted[0] if history.deleted else target.status
    if RunStatus(original).is_final:
        raise RunImmutableError(f"run {target.id} is {original} and can no longer change")


# --------------------------------------------------------------------------- engine


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 (the driver installed)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, schema: str | None = None) -> Engine:
    """An engine for ``url``: SQLite with WAL, a busy timeout and ``BEGIN IMMEDIATE``;
    PostgreSQL with pre-ping and, if ``schema`` is given, that schema first on the path."""
    url = normalise_url(url)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
            json_serializer=json_text,
            json_deserializer=json_value,
        )
        memory = make_url(url).database in (None, "", ":memory:")

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, record: Any) -> None:
            dbapi_connection.isolation_level = None  # SQLAlchemy, not the driver, says BEGIN
            cursor = dbapi_connection.cursor()
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["options"] = f"-csearch_path={schema}"
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        connect_args=connect_args,
        json_serializer=json_text,
        json_deserializer=json_value,
    )


class Database:
    """The engine and session factory of one app (created by the app factory, not at import)."""

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = normalise_url(url)
        self.schema = schema
        self.engine = make_engine(self.url, schema=schema)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    def migrate(self) -> None:
        """Bring the schema up to date (Alembic ``upgrade head``), in one transaction."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            if self.backend == "postgresql":
                if self.schema:
                    connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def ping(self) -> None:
        """Raise if the database cannot answer a query."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
