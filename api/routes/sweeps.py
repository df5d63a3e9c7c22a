"""``/v1/sweeps``: vary one parameter of a scenario, one run per value, grouped by a sweep id."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response

from api import inputs, store
from api.db import Run, RunStatus, Sweep
from api.deps import Committee, DatabaseDep, JobsDep, Planner, SettingsDep
from api.errors import ERROR_RESPONSES
from api.routes.params import Async, SweepId
from api.schemas import SweepCreate, SweepPublic, run_detail
from optimizer.errors import InputError

router = APIRouter(prefix="/v1/sweeps", tags=["sweeps"], responses=ERROR_RESPONSES)

SYNC_MAX_POINTS = 50


@router.post(
    "",
    status_code=201,
    response_model=SweepPublic,
    responses={202: {"model": SweepPublic, "description": "Queued; poll the Location"}},
)
def create_sweep(
    body: SweepCreate,
    principal: Planner,
    database: DatabaseDep,
    pool: JobsDep,
    settings: SettingsDep,
    response: Response,
    run_async: Async = False,
) -> SweepPublic:
    """``set: budget=1000:2000:100`` (start:stop:step, stop included) or ``set:
    budget=900,1000,1200``: every variant is validated first (nothing is stored if one is
    invalid), then one run per value is queued; the workers sharing the database execute
    them. Small sweeps answer 201 when all runs are finished (202 if not within
    ``ALLOT_SYNC_WAIT_S``); large ones, or ``?async=true``, 202 at once."""
    path, points = inputs.parse_sweep(body.set, limit=settings.max_sweep_values)
    with database.transaction() as session:
        data, scenario_id = inputs.base_data(
            session, scenario_id=body.scenario_id, scenario=body.scenario
        )
    variants = inputs.prepare_sweep(
        data, scenario_id=scenario_id, overrides=body.overrides, path=path, points=points
    )
    try:
        base = inputs.prepare(data, scenario_id=scenario_id, overrides=body.overrides)
    except InputError:  # only valid with the swept value (e.g. a budget left out)
        base = variants[0]
    with database.transaction() as session:
        sweep = store.add_sweep(
            session,
            base,
            parameter=path,
            spec=body.set,
            values=[value for _, value in points],
            requested_by=principal.label,
            note=body.note,
        )
        run_ids = [
            store.add_run(
                session,
                variant,
                requested_by=principal.label,
                status=RunStatus.QUEUED,
                note=body.note,
                sweep_id=sweep.id,
            ).id
            for variant in variants
        ]
        sweep_id = sweep.id
    for run_id in run_ids:
        pool.submit(run_id)
    sync = (
        not run_async
        and len(points) <= SYNC_MAX_POINTS
        and len(base.scenario.recipients) <= settings.sync_max_recipients
    )
    if not (sync and pool.wait(run_ids, timeout=settings.sync_wait_s)):
        response.status_code = 202
        response.headers["Location"] = f"/v1/sweeps/{sweep_id}"
    with database.transaction() as session:
        return sweep_public(*store.get_sweep(session, sweep_id))


@router.get("/{sweep_id}", response_model=SweepPublic)
def get_sweep(sweep_id: SweepId, principal: Committee, database: DatabaseDep) -> SweepPublic:
    """A sweep with every run (and result) in the order of the values."""
    with database.transaction() as session:
        return sweep_public(*store.get_sweep(session, sweep_id))


def sweep_public(sweep: Sweep, runs: list[Run]) -> SweepPublic:
    states = {RunStatus(run.status) for run in runs}
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    if RunStatus.RUNNING in states or (RunStatus.QUEUED in states and len(states) > 1):
        status = "running"
    elif RunStatus.QUEUED in states:
        status = "queued"
    elif RunStatus.FAILED in states:
        status = "failed"
    elif RunStatus.CANCELLED in states:
        status = "cancelled"
    else:
        status = "done"
    return SweepPublic(
        id=sweep.id,
        status=status,
        scenario_id=sweep.scenario_id,
        scenario_name=sweep.scenario_name,
        scenario_hash=sweep.scenario_hash,
        parameter=sweep.parameter,
        spec=sweep.spec,
        values=list(sweep.sweep_values),
        overrides=list(sweep.overrides),
        note=sweep.note,
        requested_by=sweep.requested_by,
        created_at=sweep.created_at,
        runs=[run_detail(run) for run in runs],
    )
