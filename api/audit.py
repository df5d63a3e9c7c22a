"""The audit trail and adopted runs.

Every action that changes what the service holds is recorded with :func:`record` in the
transaction of the action itself, so an entry exists exactly when the action happened: a
request that fails rolls both back. Entries are only ever added: nothing in the service
updates or deletes them, and database triggers (migration 0007) refuse it on SQLite and
PostgreSQL alike.

A committee member or an admin *adopts* a finished run (:func:`adopt`) with a note: the run
and the scenario version it ran are then frozen. Frozen means: the run is never cancelled,
archived, restored, deleted or adopted again with another note, and the scenario version
is never archived, restored or deleted. Its stored body and result never changed anyway (a
final run is immutable, a scenario version is never overwritten), so an adopted run
re-verifies forever; new scenario versions and new runs can still be made.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from api.db import AuditEntry, Run, RunStatus, StoredScenario, Sweep, utcnow
from api.errors import Conflict, NotFound


class Action(enum.StrEnum):
    """What an audit entry records."""

    CREATED = "created"  # a scenario version stored, a sweep posted
    RAN = "ran"  # a run posted (queued for a worker)
    CANCELLED = "cancelled"
    ARCHIVED = "archived"
    RESTORED = "restored"
    ADOPTED = "adopted"


class Subject(enum.StrEnum):
    """What an audit entry is about."""

    SCENARIO = "scenario"
    RUN = "run"
    SWEEP = "sweep"


def record(
    session: Session,
    actor: str,
    action: Action,
    kind: Subject,
    subject_id: int,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one entry; call it inside the transaction of the action it records."""
    session.add(
        AuditEntry(
            at=utcnow(),
            actor=actor,
            action=action.value,
            subject_kind=kind.value,
            subject_id=subject_id,
            detail=detail or None,
        )
    )
    session.flush()


def ran_detail(run: Run) -> dict[str, Any]:
    """What a ``ran`` entry keeps: the scenario (stored version, name, hash) and overrides."""
    detail: dict[str, Any] = {
        "scenario_id": run.scenario_id,
        "scenario_name": run.scenario_name,
        "scenario_hash": run.scenario_hash,
    }
    if run.overrides:
        detail["overrides"] = list(run.overrides)
    if run.sweep_id is not None:
        detail["sweep_id"] = run.sweep_id
    return detail


def record_sweep(session: Session, actor: str, sweep: Sweep, run_ids: Sequence[int]) -> None:
    """A posted sweep: the sweep ``created``, and each of its runs ``ran`` (one insert)."""
    record(
        session,
        actor,
        Action.CREATED,
        Subject.SWEEP,
        sweep.id,
        {
            "scenario_id": sweep.scenario_id,
            "scenario_hash": sweep.scenario_hash,
            "set": sweep.spec,
            "runs": len(run_ids),
        },
    )
    now = utcnow()
    session.add_all(
        AuditEntry(
            at=now,
            actor=actor,
            action=Action.RAN.value,
            subject_kind=Subject.RUN.value,
            subject_id=run_id,
            detail={
                "scenario_id": sweep.scenario_id,
                "scenario_hash": sweep.scenario_hash,
                "sweep_id": sweep.id,
            },
        )
        for run_id in run_ids
    )
    session.flush()


def entries(
    session: Session,
    *,
    kind: Subject | None = None,
    subject_id: int | None = None,
    actor: str | None = None,
    action: Action | None = None,
    limit: int = 50,
    offset: int = 0,
    before: int | None = None,
) -> tuple[list[AuditEntry], int]:
    """Entries newest first, filtered by subject, actor (exactly) and action, and how many
    match; ``before``: only ids below it (cursor paging; the count ignores it)."""
    query = select(AuditEntry)
    if kind is not None:
        query = query.where(AuditEntry.subject_kind == kind.value)
    if subject_id is not None:
        query = query.where(AuditEntry.subject_id == subject_id)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if action is not None:
        query = query.where(AuditEntry.action == action.value)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if before is not None:
        query = query.where(AuditEntry.id < before)
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def run_entries(session: Session, run: Run) -> list[AuditEntry]:
    """What the run page shows, oldest first: the run's own entries and its sweep's."""
    subjects = [(Subject.RUN, run.id)]
    if run.sweep_id is not None:
        subjects.append((Subject.SWEEP, run.sweep_id))
    found: list[AuditEntry] = []
    for kind, ident in subjects:
        rows, _ = entries(session, kind=kind, subject_id=ident, limit=500)
        found.extend(rows)
    return sorted(found, key=lambda entry: entry.id)


# --------------------------------------------------------------------------- adoption


def adopt(session: Session, run_id: int, *, by: str, note: str) -> tuple[Run, bool]:
    """Adopt a finished run with an allocation; (run, False) when it already is, by the same
    person with the same note (a retried request). 409 if it is adopted otherwise, not
    finished, has no allocation, or it or its scenario version is archived."""
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound("run", run_id)
    if run.adopted_at is not None:
        if run.adopted_by == by and run.adoption_note == note:
            return run, False
        raise Conflict(
            f"run {run_id} was adopted by {run.adopted_by} on {run.adopted_at:%Y-%m-%d %H:%M} "
            "UTC; an adopted run is frozen and cannot be adopted again differently",
            path="note",
        )
    if run.status != RunStatus.DONE or not (run.result or {}).get("allocations"):
        state = run.status if run.status != RunStatus.DONE else f"done ({run.outcome})"
        raise Conflict(
            f"run {run_id} is {state}: only a finished run with an allocation can be adopted"
        )
    if run.archived_at is not None:
        raise Conflict(f"run {run_id} is archived: restore it before adopting it")
    if run.scenario_id is not None:
        scenario = session.get(StoredScenario, run.scenario_id)
        if scenario is not None and scenario.archived_at is not None:
            raise Conflict(
                f"scenario {run.scenario_id} (the version run {run_id} ran) is archived: "
                "restore it before adopting the run"
            )
    now = utcnow()
    changed = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.adopted_at.is_(None))
        .values(adopted_by=by, adopted_at=now, adoption_note=note)
        .execution_options(synchronize_session=False)
    )
    if not getattr(changed, "rowcount", 0):  # adopted meanwhile by another request
        raise Conflict(f"run {run_id} was adopted meanwhile; reload it")
    record(
        session,
        by,
        Action.ADOPTED,
        Subject.RUN,
        run_id,
        {"note": note, "scenario_id": run.scenario_id, "scenario_hash": run.scenario_hash},
    )
    refreshed = session.get(Run, run_id, populate_existing=True)
    assert refreshed is not None
    return refreshed, True


def ensure_run_not_frozen(session: Session, run_id: int, action: str) -> None:
    """409 if the run is adopted (``action``: what was asked, for the message)."""
    adopted = session.scalar(select(Run.adopted_at).where(Run.id == run_id))
    if adopted is not None:
        raise Conflict(f"run {run_id} is adopted and frozen: it cannot be {action}")


def ensure_scenario_not_frozen(session: Session, scenario_id: int, action: str) -> None:
    """409 if an adopted run ran this scenario version."""
    adopted = session.scalar(
        select(Run.id)
        .where(Run.scenario_id == scenario_id, Run.adopted_at.is_not(None))
        .order_by(Run.id)
        .limit(1)
    )
    if adopted is not None:
        raise Conflict(
            f"scenario {scenario_id} is the version adopted run {adopted} ran, and frozen: "
            f"it cannot be {action}"
        )
