"""``/v1/runs``: allocate a stored or inline scenario, read runs and download allocations.

Every run is queued and executed by a worker (the one ``allot serve`` embeds, or ``allot
worker`` processes). For small problems the request waits for it (201 with the result, or
202 if it is not finished within ``ALLOT_SYNC_WAIT_S``); large ones, or ``?async=true``,
answer 202 at once (``Location`` to poll). A queued or running run can be cancelled; runs
are never changed once final: there is no update or delete.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from api import audit, inputs, lease, paging, store
from api.auth import Principal
from api.db import Role, Run, RunStatus
from api.deps import Committee, DatabaseDep, JobsDep, Planner, SettingsDep
from api.errors import ERROR_RESPONSES, Conflict, Forbidden
from api.exports import (
    PARQUET_MEDIA_TYPE,
    XLSX_MEDIA_TYPE,
    allocations_csv,
    allocations_parquet,
    allocations_xlsx,
)
from api.json_codec import JSONBody, model_body
from api.routes.params import Async, Cursor, Limit, Offset, RunId
from api.schemas import (
    MAX_ID,
    RunCreate,
    RunDetail,
    RunList,
    RunPublic,
    RunWithScenario,
    run_detail,
    run_public,
)
from optimizer.components import part_columns

router = APIRouter(prefix="/v1/runs", tags=["runs"], responses=ERROR_RESPONSES)


@router.post(
    "",
    status_code=201,
    response_model=RunDetail,
    responses={202: {"model": RunDetail, "description": "Queued or running; poll the Location"}},
)
def create_run(
    body: RunCreate,
    principal: Planner,
    database: DatabaseDep,
    pool: JobsDep,
    settings: SettingsDep,
    response: Response,
    run_async: Async = False,
) -> RunDetail:
    """Run a stored scenario (``scenario_id``) or an inline one (``scenario``) with optional
    ``overrides``. An infeasible scenario is a run like any other: 201, ``outcome:
    infeasible`` and the diagnosis in ``result.diagnosis``."""
    with database.transaction() as session:
        data, scenario_id = inputs.base_data(
            session, scenario_id=body.scenario_id, scenario=body.scenario
        )
    prepared = inputs.prepare(data, scenario_id=scenario_id, overrides=body.overrides)
    sync = not run_async and len(prepared.scenario.recipients) <= settings.sync_max_recipients
    with database.transaction() as session:
        run = store.add_run(
            session, prepared, requested_by=principal.label, status=RunStatus.QUEUED, note=body.note
        )
        run_id = run.id
        audit.record(
            session,
            principal.label,
            audit.Action.RAN,
            audit.Subject.RUN,
            run_id,
            audit.ran_detail(run),
        )
    pool.submit(run_id)
    if not (sync and pool.wait([run_id], timeout=settings.sync_wait_s)):
        response.status_code = 202
        response.headers["Location"] = f"/v1/runs/{run_id}"
    with database.transaction() as session:
        return detail_of(session, store.get_run(session, run_id))


@router.post(
    "/{run_id}/cancel",
    response_model=RunDetail,
    responses={409: ERROR_RESPONSES[422] | {"description": "The run is already final"}},
)
def cancel_run(run_id: RunId, principal: Planner, database: DatabaseDep) -> RunDetail:
    """Cancel a queued run (``cancelled`` at once) or a running one (``cancel_requested``;
    its worker stops the solve within a poll interval and the run becomes ``cancelled``).
    Only the planner who posted the run, or an admin, may; a final run is a 409."""
    with database.transaction() as session:
        run = store.get_run(session, run_id)
        if run.requested_by != principal.label and not principal.role.allows(Role.ADMIN):
            raise Forbidden(
                f"run {run_id} was posted by {run.requested_by}: only they or an admin may "
                "cancel it"
            )
        cancelled = lease.request_cancel(session, run_id, by=principal.label)
        audit.record(session, principal.label, audit.Action.CANCELLED, audit.Subject.RUN, run_id)
        return detail_of(session, cancelled)


@router.post("/{run_id}/archive", response_model=RunPublic)
def archive_run(run_id: RunId, principal: Planner, database: DatabaseDep) -> RunPublic:
    """Hide a run from the default list; it stays readable by id and comparable, its
    result unchanged (nothing is deleted). An adopted run is frozen: 409."""
    return _set_archived(database, principal, run_id, archived=True)


@router.post("/{run_id}/restore", response_model=RunPublic)
def restore_run(run_id: RunId, principal: Planner, database: DatabaseDep) -> RunPublic:
    """Show an archived run in the list again."""
    return _set_archived(database, principal, run_id, archived=False)


def _set_archived(
    database: DatabaseDep, principal: Principal, run_id: int, *, archived: bool
) -> RunPublic:
    action = audit.Action.ARCHIVED if archived else audit.Action.RESTORED
    with database.transaction() as session:
        store.get_run(session, run_id)
        audit.ensure_run_not_frozen(session, run_id, action.value)
        store.set_archived(session, Run, run_id, archived=archived)
        audit.record(session, principal.label, action, audit.Subject.RUN, run_id)
        return run_public(store.get_run(session, run_id))


@router.get("", response_model=RunList)
def list_runs(
    principal: Committee,
    database: DatabaseDep,
    status: RunStatus | None = None,
    scenario_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    sweep_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    sweep_items: Annotated[bool, Query(description="false: leave out the runs of sweeps")] = True,
    archived: Annotated[bool, Query(description="true: the archived ones instead")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
    cursor: Cursor = None,
) -> RunList:
    """Runs, newest first, without their results, archived ones left out (``archived=true``:
    only those; ``sweep_items=false``: no sweep's runs); each with its scenario's stored
    version, budget, objective, sweep, status and times. Pages by ``offset`` or by
    ``cursor`` (each page's ``next_cursor``)."""
    before = paging.start("runs", cursor, offset)
    with database.transaction() as session:
        rows, total = store.list_runs(
            session,
            status=status.value if status else None,
            scenario_id=scenario_id,
            sweep_id=sweep_id,
            limit=limit + 1,
            offset=offset,
            sweep_items=sweep_items,
            archived=archived,
            before=before,
        )
        page, next_cursor = paging.cut("runs", rows, limit)
        versions = store.scenario_versions(session, page)
        items = [run_public(r, scenario_version=versions.get(r.scenario_id or 0)) for r in page]
        return RunList(
            items=items, total=total, limit=limit, offset=offset, next_cursor=next_cursor
        )


@router.get("/{run_id}", response_model=RunWithScenario, response_model_exclude_unset=True)
def get_run(
    run_id: RunId,
    principal: Committee,
    database: DatabaseDep,
    include: Annotated[
        Literal["scenario"] | None,
        Query(description="scenario: also the scenario as run, checked against its hash"),
    ] = None,
) -> Response:
    """One run with its full result once done; ``?include=scenario`` adds the normalised
    scenario it ran and ``scenario_verified`` (it validates and hashes to ``scenario_hash``)."""
    with database.transaction() as session:
        run = store.get_run(session, run_id)
        detail = detail_of(session, run)
        body = dict(run.scenario_body)
    if include != "scenario":
        answer = RunWithScenario(**dict(detail))
    else:
        verified = inputs.hashes_to(body, detail.scenario_hash)
        answer = RunWithScenario(**dict(detail), scenario=body, scenario_verified=verified)
    return model_body(answer, raw=("result", "scenario"), exclude_unset=True)


def detail_of(session: Session, run: Run) -> RunDetail:
    """A run with its result and its stored scenario's version."""
    versions = store.scenario_versions(session, [run])
    return run_detail(run, scenario_version=versions.get(run.scenario_id or 0))


@router.get(
    "/{run_id}/allocations",
    responses={
        200: {
            "description": "The allocations as JSON, CSV, an Excel workbook or Parquet",
            "content": {
                "application/json": {},
                "text/csv": {"schema": {"type": "string"}},
                XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
                PARQUET_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        409: ERROR_RESPONSES[422] | {"description": "The run has no allocation (yet)"},
    },
)
def get_allocations(
    run_id: RunId,
    principal: Committee,
    database: DatabaseDep,
    format: Literal["json", "csv", "xlsx", "parquet"] = "json",
) -> Response:
    """The allocation of a finished run: ``json`` (the result's allocations), ``csv``,
    ``xlsx`` (header row frozen, number formats, a second sheet describing the run) or
    ``parquet`` (the CSV's columns, typed)."""
    with database.transaction() as session:
        run = store.get_run(session, run_id)
    allocations = _allocations(run)
    parts = part_columns((run.result or {}).get("certificate"))
    name = f"allot-run-{run.id}"
    if format == "csv":
        return Response(
            allocations_csv(
                allocations,
                unit_value=((run.result or {}).get("unit") or {}).get("value"),
                parts=parts,
            ),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "xlsx":
        return Response(
            allocations_xlsx(allocations, summary=_summary(run), parts=parts),
            media_type=XLSX_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    if format == "parquet":
        return Response(
            allocations_parquet(allocations, parts=parts),
            media_type=PARQUET_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}.parquet"'},
        )
    result = run.result or {}
    payload = {
        "run_id": run.id,
        "status": run.outcome,
        "scenario": result.get("scenario"),
        "unit": result.get("unit"),
        "allocations": allocations,
    }
    return JSONBody(payload)


def _allocations(run: Run) -> list[dict[str, object]]:
    if run.status != RunStatus.DONE:
        raise Conflict(f"run {run.id} is {run.status}: allocations exist once it is done")
    allocations = (run.result or {}).get("allocations") or []
    if not allocations:
        raise Conflict(f"run {run.id} has no allocation (outcome {run.outcome})")
    return list(allocations)


def _summary(run: Run) -> list[tuple[str, object]]:
    result = run.result or {}
    solver = result.get("solver") or {}
    rows: list[tuple[str, object]] = [
        ("run", run.id),
        ("scenario", run.scenario_name),
        ("scenario hash", run.scenario_hash),
        ("outcome", run.outcome),
        ("budget", result.get("budget")),
        ("unit", (result.get("unit") or {}).get("label")),
        ("solver", f"{solver.get('backend')} {solver.get('version')}"),
        ("overrides", "; ".join(run.overrides)),
        ("requested by", run.requested_by),
        ("finished at", run.finished_at.isoformat() if run.finished_at else ""),
    ]
    for key, value in (result.get("metrics") or {}).items():
        rows.append((f"metric: {key}", value))
    return rows
