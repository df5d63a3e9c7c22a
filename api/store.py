"""Reading and writing the stored resources. Every function takes a session that is already
inside a transaction (``Database.transaction``), so a request that fails changes nothing.

Run state changes are conditional updates (``queued -> running -> done | failed``) so a run
can never be finished twice or changed after it is final, whichever thread or process asks;
the workers' queue operations (claims under a lease, cancellation) are in :mod:`api.lease`.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, case, func, literal, select, type_coerce, update
from sqlalchemy.orm import Session, defer, with_expression

from api.db import Run, RunStatus, StoredScenario, Sweep, utcnow
from api.errors import NotFound
from api.schemas import SweepAxis
from optimizer.recipients import RecipientTable
from optimizer.scenario import Scenario


@dataclass(frozen=True)
class Prepared:
    """A validated scenario ready to run, and where it came from."""

    scenario: Scenario
    body: dict[str, Any]
    scenario_id: int | None = None
    overrides: tuple[str, ...] = ()
    sweep_value: Any = None


# --------------------------------------------------------------------------- scenarios


def scenario_body(scenario: Scenario) -> dict[str, Any]:
    """The scenario as stored and shown: ``model_dump(mode="json")``, with a recipient
    table's rows taken from its columns as they are (pydantic would walk each of 100,000
    recipient dicts again, two seconds of a request)."""
    if not isinstance(scenario.recipients, RecipientTable):
        return scenario.model_dump(mode="json")
    rest = scenario.model_dump(mode="json", exclude={"recipients"})
    rows = scenario.recipients.dicts()
    return {
        key: rows if key == "recipients" else rest[key]
        for key in Scenario.model_fields
        if key in rest or key == "recipients"
    }


def add_scenario(session: Session, scenario: Scenario, *, created_by: str) -> StoredScenario:
    """Store a new version of ``scenario.name`` (1 for a new name)."""
    latest = session.scalar(
        select(func.max(StoredScenario.version)).where(StoredScenario.name == scenario.name)
    )
    row = StoredScenario(
        name=scenario.name,
        version=(latest or 0) + 1,
        content_hash=scenario.content_hash,
        recipients=len(scenario.recipients),
        body=scenario_body(scenario),
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row


def get_scenario(session: Session, scenario_id: int, *, path: str = "id") -> StoredScenario:
    row = session.get(StoredScenario, scenario_id)
    if row is None:
        raise NotFound("scenario", scenario_id, path=path)
    return row


def latest_scenario(
    session: Session, name: str, *, version: int | None = None
) -> StoredScenario | None:
    """The newest stored version of ``name`` (or that ``version`` of it)."""
    query = select(StoredScenario).where(StoredScenario.name == name)
    if version is not None:
        query = query.where(StoredScenario.version == version)
    return session.scalars(query.order_by(StoredScenario.version.desc()).limit(1)).first()


def find_scenario_by_hash(session: Session, content_hash: str) -> StoredScenario | None:
    return session.scalars(
        select(StoredScenario)
        .where(StoredScenario.content_hash == content_hash)
        .order_by(StoredScenario.id)
        .limit(1)
    ).first()


def set_archived(
    session: Session, model: type[StoredScenario] | type[Run], ident: int, *, archived: bool
) -> None:
    """Archive (hide from the default lists) or restore a scenario or run; nothing else of
    it changes, and nothing is ever deleted. A direct update: a final run's guard is about
    its content, which this does not touch."""
    what = "scenario" if model is StoredScenario else "run"
    if session.get(model, ident) is None:
        raise NotFound(what, ident)
    session.execute(
        update(model)
        .where(model.id == ident)
        .values(archived_at=utcnow() if archived else None)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()


def list_scenarios(
    session: Session,
    *,
    name: str | None,
    limit: int,
    offset: int,
    archived: bool = False,
    before: int | None = None,
) -> tuple[list[StoredScenario], int]:
    """Newest first; ``before``: only ids below it (cursor paging; ``total`` ignores it)."""
    query = select(StoredScenario).where(
        StoredScenario.archived_at.is_not(None)
        if archived
        else StoredScenario.archived_at.is_(None)
    )
    if name is not None:
        query = query.where(StoredScenario.name.icontains(name, autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if before is not None:
        query = query.where(StoredScenario.id < before)
    rows = session.scalars(
        query.order_by(StoredScenario.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), total


def scenario_versions(session: Session, runs: Sequence[Run]) -> dict[int, int]:
    """The stored scenario version of each run's scenario (one query)."""
    ids = {run.scenario_id for run in runs if run.scenario_id is not None}
    if not ids:
        return {}
    rows = session.execute(
        select(StoredScenario.id, StoredScenario.version).where(StoredScenario.id.in_(ids))
    )
    return {sid: version for sid, version in rows}


# --------------------------------------------------------------------------- runs


def add_run(
    session: Session,
    prepared: Prepared,
    *,
    requested_by: str,
    status: RunStatus,
    note: str | None = None,
    sweep_id: int | None = None,
) -> Run:
    now = utcnow()
    run = Run(
        scenario_id=prepared.scenario_id,
        sweep_id=sweep_id,
        sweep_value=prepared.sweep_value,
        scenario_name=prepared.scenario.name,
        scenario_hash=prepared.scenario.content_hash,
        scenario_body=prepared.body,
        recipients=len(prepared.scenario.recipients),
        overrides=list(prepared.overrides),
        note=note,
        status=status.value,
        requested_by=requested_by,
        created_at=now,
        started_at=now if status == RunStatus.RUNNING else None,
    )
    session.add(run)
    session.flush()
    return run


def get_run(session: Session, run_id: int, *, path: str = "id") -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound("run", run_id, path=path)
    return run


def get_runs(session: Session, run_ids: Sequence[int], *, path: str) -> list[Run]:
    """The runs in the order asked; every unknown id is reported."""
    found = {r.id: r for r in session.scalars(select(Run).where(Run.id.in_(set(run_ids))))}
    missing = [(i, rid) for i, rid in enumerate(run_ids) if rid not in found]
    if missing:
        index, rid = missing[0]
        raise NotFound("run", rid, path=f"{path}[{index}]")
    return [found[rid] for rid in run_ids]


def _json_at(session: Session, column: Any, *path: str) -> Any:
    """The JSON text at ``path`` in ``column``, as the database stored it: PostgreSQL's
    ``#>`` on a json column, SQLite's ``->`` (3.38 and later; before, ``json_extract``,
    whose doubles SQLAlchemy quotes again with 15 digits)."""
    if session.get_bind().dialect.name != "sqlite" or sqlite3.sqlite_version_info < (3, 38):
        return column[path]
    return type_coerce(column.op("->")(literal("$." + ".".join(path))), JSON)


def list_runs(
    session: Session,
    *,
    status: str | None,
    scenario_id: int | None,
    sweep_id: int | None,
    limit: int,
    offset: int,
    sweep_items: bool = True,
    archived: bool = False,
    before: int | None = None,
) -> tuple[list[Run], int]:
    """Newest first; ``before``: only ids below it (cursor paging; ``total`` ignores it)."""
    query = select(Run).where(
        Run.archived_at.is_not(None) if archived else Run.archived_at.is_(None)
    )
    if not sweep_items:
        query = query.where(Run.sweep_id.is_(None))
    if status is not None:
        query = query.where(Run.status == status)
    if scenario_id is not None:
        query = query.where(Run.scenario_id == scenario_id)
    if sweep_id is not None:
        query = query.where(Run.sweep_id == sweep_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if before is not None:
        query = query.where(Run.id < before)
    objective = _json_at(session, Run.result, "metrics", "objective")
    query = query.options(
        defer(Run.scenario_body),
        defer(Run.result),
        # the budget as an SQL number, the objective as its JSON text (a double read by SQL
        # may differ from Python's in the last digit; SQLite's JSON_QUOTE writes 15 digits)
        with_expression(Run.listed_budget, Run.scenario_body["budget"].as_numeric(20, 0)),
        with_expression(Run.listed_unit, Run.scenario_body["unit"]),
        with_expression(Run.listed_objective, objective),
    )
    rows = session.scalars(query.order_by(Run.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total


# --------------------------------------------------------------------------- sweeps


def add_sweep(
    session: Session,
    base: Prepared,
    *,
    axes: Sequence[SweepAxis],
    values: Sequence[Any],
    requested_by: str,
    note: str | None,
) -> Sweep:
    """A sweep over ``axes`` (each: parameter, set, values); ``values``: one
    per run (the value, or a grid point's list of values)."""
    sweep = Sweep(
        scenario_id=base.scenario_id,
        scenario_name=base.scenario.name,
        scenario_hash=base.scenario.content_hash,
        parameter=" × ".join(axis.parameter for axis in axes),
        spec="; ".join(axis.set for axis in axes),
        axes=[axis.model_dump(mode="json") for axis in axes],
        sweep_values=list(values),
        overrides=list(base.overrides),
        note=note,
        requested_by=requested_by,
    )
    session.add(sweep)
    session.flush()
    return sweep


def get_sweep(session: Session, sweep_id: int) -> tuple[Sweep, list[Run]]:
    sweep = session.get(Sweep, sweep_id)
    if sweep is None:
        raise NotFound("sweep", sweep_id)
    runs = session.scalars(select(Run).where(Run.sweep_id == sweep_id).order_by(Run.id)).all()
    return sweep, list(runs)


def _sweep_counts() -> Any:
    """Per sweep: its runs in each state, and the sweep's status derived from them (as
    :func:`api.routes.sweeps.sweep_status` derives it)."""

    def count(state: RunStatus) -> Any:
        return func.sum(case((Run.status == state.value, 1), else_=0))

    counts = (
        select(
            Run.sweep_id.label("sweep_id"),
            func.count().label("total"),
            *(count(state).label(state.value) for state in RunStatus),
        )
        .where(Run.sweep_id.is_not(None))
        .group_by(Run.sweep_id)
        .subquery()
    )
    queued, running = counts.c[RunStatus.QUEUED.value], counts.c[RunStatus.RUNNING.value]
    status = case(
        ((running > 0) | ((queued > 0) & (queued < counts.c.total)), "running"),
        (queued > 0, "queued"),
        (counts.c[RunStatus.FAILED.value] > 0, "failed"),
        (counts.c[RunStatus.CANCELLED.value] > 0, "cancelled"),
        else_="done",
    )
    return counts, status


def list_sweeps(
    session: Session,
    *,
    name: str | None,
    status: str | None,
    limit: int,
    offset: int,
    before: int | None = None,
) -> tuple[list[tuple[Sweep, str, dict[str, int]]], int]:
    """Sweeps newest first with their status and run counts per state; ``name`` keeps those
    whose scenario name contains it (any case), ``status`` those in that state, ``before``
    those with a smaller id (cursor paging; ``total`` ignores it)."""
    counts, status_column = _sweep_counts()
    query = select(
        Sweep, status_column.label("status"), *(counts.c[s.value] for s in RunStatus)
    ).outerjoin(counts, counts.c.sweep_id == Sweep.id)
    if name is not None:
        query = query.where(Sweep.scenario_name.icontains(name, autoescape=True))
    if status is not None:
        query = query.where(status_column == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if before is not None:
        query = query.where(Sweep.id < before)
    rows = session.execute(query.order_by(Sweep.id.desc()).limit(limit).offset(offset)).all()
    return [
        (
            row[0],
            row[1],
            {state.value: int(value or 0) for state, value in zip(RunStatus, row[2:], strict=True)},
        )
        for row in rows
    ], total


def seconds_between(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 6)
