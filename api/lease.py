"""The run queue in the database: workers claim queued runs under a lease, renew it by
heartbeat, and write results only while they hold it.

A run is claimed by one worker (PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED``; SQLite:
the claim is one ``BEGIN IMMEDIATE`` write transaction), which owns it until its lease
expires. A run whose lease expired belongs to a worker that stopped: it is queued again,
at most :data:`MAX_ATTEMPTS` times, then ``failed`` with the reason. Every write of a
result is conditional on ``lease_owner`` being the writer, so a run finishes exactly once
even when a worker that was only slow comes back. Times are the database's clock on
PostgreSQL (workers on several machines agree), the local clock on SQLite (one machine).

Every function takes a session inside a transaction (``Database.transaction``).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from api.db import Database, Run, RunStatus, WorkerProcess, utcnow
from api.errors import Conflict, NotFound

CHANNEL = "allot_runs"
"""PostgreSQL ``NOTIFY`` channel: runs were queued (workers wake at once instead of at their
next poll; on SQLite they poll)."""
MAX_ATTEMPTS = 3
"""A run is taken at most this often; a third lost lease fails it."""
WORKER_ROWS_KEPT = dt.timedelta(days=7)
"""Rows of workers not seen for this long are deleted when a worker registers."""


def lost_reason(lease_s: float) -> str:
    """Why a run failed after its last lease expired."""
    return (
        f"lost: {MAX_ATTEMPTS} workers took this run and each stopped before it finished "
        f"(no heartbeat for {lease_s:g} s)"
    )


@dataclass(frozen=True)
class Claimed:
    """A run a worker now holds, with what it needs to solve it."""

    run_id: int
    body: dict[str, Any]
    attempt: int
    created_at: dt.datetime
    started_at: dt.datetime
    sweep_item: bool = False  # one value of a sweep: solved without the paradox checks


@dataclass(frozen=True)
class Expired:
    """What :func:`requeue_expired` did with runs whose lease had expired."""

    queued: list[int]
    failed: list[int]
    cancelled: list[int]


def database_now(session: Session) -> dt.datetime:
    """Now, by the database's clock on PostgreSQL (shared by every machine)."""
    if session.get_bind().dialect.name == "postgresql":
        now = session.scalar(select(func.clock_timestamp()))
        if isinstance(now, dt.datetime):
            return now.astimezone(dt.UTC)
    return utcnow()


def claim(session: Session, owner: str, *, lease_s: float) -> Claimed | None:
    """Take the oldest queued run for ``owner`` (None when nothing is queued)."""
    now = database_now(session)
    run = session.scalars(
        select(Run)
        .where(Run.status == RunStatus.QUEUED.value)
        .order_by(Run.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if run is None:
        return None
    taken = session.execute(
        update(Run)
        .where(Run.id == run.id, Run.status == RunStatus.QUEUED.value)
        .values(
            status=RunStatus.RUNNING.value,
            lease_owner=owner,
            lease_expires_at=now + dt.timedelta(seconds=lease_s),
            attempts=Run.attempts + 1,
            started_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if not getattr(taken, "rowcount", 0):
        return None
    return Claimed(
        run_id=run.id,
        body=dict(run.scenario_body),
        attempt=run.attempts + 1,
        created_at=run.created_at,
        started_at=now,
        sweep_item=run.sweep_id is not None,
    )


def renew(session: Session, owner: str, run_ids: Collection[int], *, lease_s: float) -> int:
    """Extend ``owner``'s lease on the runs it is solving; how many it still holds. A run it
    holds but no longer solves (a slot that failed) is left to expire and be queued again."""
    if not run_ids:
        return 0
    now = database_now(session)
    renewed = session.execute(
        update(Run)
        .where(
            Run.id.in_(list(run_ids)),
            Run.lease_owner == owner,
            Run.status == RunStatus.RUNNING.value,
        )
        .values(lease_expires_at=now + dt.timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(renewed, "rowcount", 0) or 0)


@dataclass(frozen=True)
class Holding:
    """Whether a worker still holds a run, and whether its cancellation was asked for."""

    held: bool
    cancel_requested: bool


def holding(session: Session, run_id: int, owner: str) -> Holding:
    row = session.execute(
        select(Run.status, Run.lease_owner, Run.cancel_requested).where(Run.id == run_id)
    ).first()
    if row is None:
        return Holding(held=False, cancel_requested=False)
    held = row.status == RunStatus.RUNNING.value and row.lease_owner == owner
    return Holding(held=held, cancel_requested=bool(row.cancel_requested))


def _held(run_id: int, owner: str) -> Any:
    return (
        (Run.id == run_id)
        & (Run.status == RunStatus.RUNNING.value)
        & (Run.lease_owner == owner)
        & (Run.cancel_requested.is_(False))
    )


def finish(
    session: Session,
    run_id: int,
    owner: str,
    result: dict[str, Any],
    *,
    timings: dict[str, Any],
    notes: list[str] | None = None,
) -> bool:
    """``running -> done`` with the result, only while ``owner`` holds the lease and nobody
    asked to cancel; False (nothing written) otherwise."""
    solver = result.get("solver") or {}
    outcome = session.execute(
        update(Run)
        .where(_held(run_id, owner))
        .values(
            status=RunStatus.DONE.value,
            outcome=result.get("status"),
            result=result,
            solver_backend=solver.get("backend"),
            solver_version=solver.get("version"),
            timings=timings,
            notes=notes or None,
            lease_expires_at=None,
            finished_at=database_now(session),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(outcome, "rowcount", 0))


def fail(
    session: Session,
    run_id: int,
    owner: str,
    error: str,
    *,
    timings: dict[str, Any] | None = None,
    notes: list[str] | None = None,
) -> bool:
    """``running -> failed`` with a reason, only while ``owner`` holds the lease."""
    outcome = session.execute(
        update(Run)
        .where(_held(run_id, owner))
        .values(
            status=RunStatus.FAILED.value,
            error=error,
            timings=timings,
            notes=notes or None,
            lease_expires_at=None,
            finished_at=database_now(session),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(outcome, "rowcount", 0))


def mark_cancelled(session: Session, run_id: int, owner: str) -> bool:
    """``running -> cancelled`` once ``owner`` stopped the solve of a run asked to cancel."""
    outcome = session.execute(
        update(Run)
        .where(
            Run.id == run_id,
            Run.status == RunStatus.RUNNING.value,
            Run.lease_owner == owner,
            Run.cancel_requested.is_(True),
        )
        .values(
            status=RunStatus.CANCELLED.value,
            lease_expires_at=None,
            finished_at=database_now(session),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(outcome, "rowcount", 0))


def release(session: Session, run_id: int, owner: str) -> bool:
    """Give a run back to the queue (a worker shutting down); the attempt is not counted."""
    outcome = session.execute(
        update(Run)
        .where(_held(run_id, owner))
        .values(
            status=RunStatus.QUEUED.value,
            lease_owner=None,
            lease_expires_at=None,
            attempts=Run.attempts - 1,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(outcome, "rowcount", 0))


def requeue_expired(session: Session, *, lease_s: float) -> Expired:
    """Runs whose lease expired: cancelled if that was asked, failed after
    :data:`MAX_ATTEMPTS`, else queued again. Runs held by a live worker are not touched."""
    now = database_now(session)
    rows = session.execute(
        select(Run.id, Run.attempts, Run.cancel_requested)
        .where(Run.status == RunStatus.RUNNING.value, Run.lease_expires_at < now)
        .order_by(Run.id)
        .with_for_update(skip_locked=True)
    ).all()
    expired = (Run.status == RunStatus.RUNNING.value) & (Run.lease_expires_at < now)
    done = Expired(queued=[], failed=[], cancelled=[])
    for row in rows:
        values: dict[str, Any]
        if row.cancel_requested:
            values = {"status": RunStatus.CANCELLED.value, "finished_at": now}
            bucket = done.cancelled
        elif row.attempts >= MAX_ATTEMPTS:
            values = {
                "status": RunStatus.FAILED.value,
                "error": lost_reason(lease_s),
                "finished_at": now,
            }
            bucket = done.failed
        else:
            values = {"status": RunStatus.QUEUED.value, "lease_owner": None}
            bucket = done.queued
        changed = session.execute(
            update(Run)
            .where(expired & (Run.id == row.id))
            .values(lease_expires_at=None, **values)
            .execution_options(synchronize_session=False)
        )
        if getattr(changed, "rowcount", 0):
            bucket.append(row.id)
    return done


# --------------------------------------------------------------------------- cancel


def request_cancel(session: Session, run_id: int, *, by: str) -> Run:
    """Cancel a queued run at once, or ask the worker executing a running run to stop it
    (it does within a poll interval); a final run is a 409."""
    now = database_now(session)
    for _ in range(3):  # the run may change state between the two conditional updates
        queued = session.execute(
            update(Run)
            .where(Run.id == run_id, Run.status == RunStatus.QUEUED.value)
            .values(
                status=RunStatus.CANCELLED.value,
                cancel_requested=True,
                cancelled_by=by,
                cancelled_at=now,
                finished_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        running = None
        if not getattr(queued, "rowcount", 0):
            running = session.execute(
                update(Run)
                .where(
                    Run.id == run_id,
                    Run.status == RunStatus.RUNNING.value,
                    Run.cancel_requested.is_(False),
                )
                .values(cancel_requested=True, cancelled_by=by, cancelled_at=now)
                .execution_options(synchronize_session=False)
            )
        run = session.get(Run, run_id, populate_existing=True)
        if run is None:
            raise NotFound("run", run_id)
        if getattr(queued, "rowcount", 0) or getattr(running, "rowcount", 0):
            return run
        if RunStatus(run.status).is_final:
            raise Conflict(
                f"run {run_id} is {run.status}: only a queued or running run can be cancelled"
            )
        if run.cancel_requested:
            return run
    raise Conflict(f"run {run_id} changed state while being cancelled; try again")


# --------------------------------------------------------------------------- workers


def register(
    session: Session, worker_id: str, *, host: str, pid: int, kind: str, concurrency: int
) -> None:
    """Record a worker that starts, or starts again (and forget workers not seen for a
    week)."""
    now = database_now(session)
    session.execute(
        delete(WorkerProcess).where(WorkerProcess.heartbeat_at < now - WORKER_ROWS_KEPT)
    )
    session.merge(
        WorkerProcess(
            id=worker_id,
            host=host,
            pid=pid,
            kind=kind,
            concurrency=concurrency,
            started_at=now,
            heartbeat_at=now,
            stopped_at=None,
        )
    )


def beat(session: Session, worker_id: str) -> None:
    session.execute(
        update(WorkerProcess)
        .where(WorkerProcess.id == worker_id)
        .values(heartbeat_at=database_now(session), stopped_at=None)
        .execution_options(synchronize_session=False)
    )


def stopped(session: Session, worker_id: str) -> None:
    session.execute(
        update(WorkerProcess)
        .where(WorkerProcess.id == worker_id)
        .values(stopped_at=database_now(session))
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class WorkerState:
    """A worker as ``GET /v1/workers`` shows it."""

    row: WorkerProcess
    live: bool
    runs: list[int]


def workers(session: Session, *, lease_s: float) -> list[WorkerState]:
    """Every worker seen in the last week, newest first: live when its heartbeat is younger
    than a lease and it did not stop, with the runs it is executing."""
    now = database_now(session)
    rows = session.scalars(select(WorkerProcess).order_by(WorkerProcess.started_at.desc())).all()
    running: dict[str, list[int]] = {}
    for run_id, owner in session.execute(
        select(Run.id, Run.lease_owner)
        .where(Run.status == RunStatus.RUNNING.value)
        .order_by(Run.id)
    ):
        running.setdefault(owner or "", []).append(run_id)
    return [
        WorkerState(
            row=row,
            live=_live(row, now, lease_s),
            runs=running.get(row.id, []),
        )
        for row in rows
    ]


def live_workers(session: Session, *, lease_s: float) -> int:
    """How many workers have a heartbeat younger than a lease and did not stop."""
    now = database_now(session)
    return (
        session.scalar(
            select(func.count())
            .select_from(WorkerProcess)
            .where(
                WorkerProcess.stopped_at.is_(None),
                WorkerProcess.heartbeat_at >= now - dt.timedelta(seconds=lease_s),
            )
        )
        or 0
    )


def queued_runs(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Run).where(Run.status == RunStatus.QUEUED.value)
        )
        or 0
    )


def _live(row: WorkerProcess, now: dt.datetime, lease_s: float) -> bool:
    return row.stopped_at is None and row.heartbeat_at >= now - dt.timedelta(seconds=lease_s)


# --------------------------------------------------------------------------- wake-ups


def announce(database: Database) -> None:
    """Tell the workers of every process that runs were queued (PostgreSQL only)."""
    if database.backend != "postgresql":
        return
    with database.engine.connect() as connection:
        connection.execute(text(f"NOTIFY {CHANNEL}"))
        connection.commit()


def listen(database: Database, wake: Callable[[], None], stopping: threading.Event) -> None:
    """Call ``wake`` on every announcement until ``stopping`` is set (PostgreSQL only; on
    SQLite, or when the connection fails, the workers keep polling)."""
    if database.backend != "postgresql":
        return
    raw = database.engine.raw_connection()
    try:
        driver = raw.driver_connection
        driver.autocommit = True  # type: ignore[union-attr]
        driver.execute(f"LISTEN {CHANNEL}")  # type: ignore[union-attr]
        while not stopping.is_set():
            for _ in driver.notifies(timeout=1.0):  # type: ignore[union-attr]
                wake()
    finally:
        raw.invalidate()  # never back to the pool in LISTEN mode
