"""``/v1/sweeps``: vary one parameter of a scenario (one run per value) or several (one run
per point of their grid), grouped by a sweep id."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Query, Response

from api import audit, inputs, paging, store
from api.db import Run, RunStatus, Sweep
from api.deps import Committee, DatabaseDep, JobsDep, Planner, SettingsDep
from api.errors import ERROR_RESPONSES
from api.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, attachment, table_csv, table_xlsx
from api.routes.params import Async, Cursor, Limit, Offset, SweepId
from api.schemas import (
    SweepAxis,
    SweepCreate,
    SweepItem,
    SweepList,
    SweepPublic,
    SweepRecipient,
    SweepRow,
    SweepStatus,
    SweepTable,
    run_detail,
)
from optimizer.errors import InputError
from optimizer.sweep import sweep_checks

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
    budget=900,1000,1200``; a list of them (``set: [budget=1000,1200, rules[0].min_share=0.2,
    0.3]``) sweeps their grid, first varying slowest, as ``allot sweep --set ... --set ...``
    (at most ``ALLOT_MAX_SWEEP_VALUES`` points in all). Every variant is validated first
    (nothing is stored if one is invalid), then one run per point is queued; the workers
    sharing the database execute them. Small sweeps answer 201 when all runs are finished
    (202 if not within ``ALLOT_SYNC_WAIT_S``); large ones, or ``?async=true``, 202 at once."""
    axes = inputs.sweep_axes(body.set, limit=settings.max_sweep_values)
    with database.transaction() as session:
        data, scenario_id = inputs.base_data(
            session, scenario_id=body.scenario_id, scenario=body.scenario
        )
    variants = inputs.prepare_sweep(
        data,
        scenario_id=scenario_id,
        overrides=body.overrides,
        axes=axes,
        limit=settings.max_sweep_values,
    )
    try:
        base = inputs.prepare(data, scenario_id=scenario_id, overrides=body.overrides)
    except InputError:  # only valid with the swept value (e.g. a budget left out)
        base = variants[0]
    with database.transaction() as session:
        sweep = store.add_sweep(
            session,
            base,
            axes=[
                SweepAxis(parameter=axis.path, set=spec, values=list(axis.values))
                for axis, spec in zip(axes, _specs(body.set), strict=True)
            ],
            values=[variant.sweep_value for variant in variants],
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
        audit.record_sweep(session, principal.label, sweep, run_ids)
    for run_id in run_ids:
        pool.submit(run_id)
    sync = (
        not run_async
        and len(variants) <= SYNC_MAX_POINTS
        and len(base.scenario.recipients) <= settings.sync_max_recipients
    )
    if not (sync and pool.wait(run_ids, timeout=settings.sync_wait_s)):
        response.status_code = 202
        response.headers["Location"] = f"/v1/sweeps/{sweep_id}"
    with database.transaction() as session:
        sweep, runs = store.get_sweep(session, sweep_id)
        return sweep_public(sweep, runs, versions=store.scenario_versions(session, runs))


@router.get("", response_model=SweepList)
def list_sweeps(
    principal: Committee,
    database: DatabaseDep,
    name: Annotated[str | None, Query(max_length=10_000)] = None,
    status: SweepStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
    cursor: Cursor = None,
) -> SweepList:
    """Sweeps, newest first, without their runs: ``name`` keeps those whose scenario name
    contains it (any case), ``status`` those in that state; ``runs`` counts the runs per
    state. Pages by ``offset`` or by ``cursor`` (each page's ``next_cursor``)."""
    before = paging.start("sweeps", cursor, offset)
    with database.transaction() as session:
        found, total = store.list_sweeps(
            session, name=name, status=status, limit=limit + 1, offset=offset, before=before
        )
        rows = found[:limit]
        next_cursor = (
            paging.encode("sweeps", rows[-1][0].id) if len(found) > limit and rows else None
        )
        items = [
            SweepItem(
                id=sweep.id,
                status=cast(SweepStatus, state),
                scenario_id=sweep.scenario_id,
                scenario_name=sweep.scenario_name,
                parameter=sweep.parameter,
                parameters=[axis.parameter for axis in sweep_axes(sweep)],
                spec=sweep.spec,
                note=sweep.note,
                requested_by=sweep.requested_by,
                created_at=sweep.created_at,
                runs=runs,
            )
            for sweep, state, runs in rows
        ]
    return SweepList(items=items, total=total, limit=limit, offset=offset, next_cursor=next_cursor)


@router.get(
    "/{sweep_id}",
    response_model=SweepPublic,
    responses={
        200: {
            "description": "The sweep as JSON, or its summary table as CSV or an Excel workbook",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
def get_sweep(
    sweep_id: SweepId,
    principal: Committee,
    database: DatabaseDep,
    format: Literal["json", "csv", "xlsx"] = "json",
    results: Annotated[
        bool, Query(description="false: the runs without their full results")
    ] = True,
) -> SweepPublic | Response:
    """A sweep with its summary table (values x units per recipient, status, objective) and
    every run in the order of the values; ``?format=csv|xlsx`` downloads the summary table
    (CSV in UTF-8 with a byte-order mark, units as integers)."""
    with database.transaction() as session:
        sweep, runs = store.get_sweep(session, sweep_id)
        versions = store.scenario_versions(session, runs)
        public = sweep_public(sweep, runs, results=results, versions=versions)
    if format == "json":
        return public
    header, rows = sweep_table_rows(public.summary)
    name = f"allot-sweep-{public.id}"
    if format == "csv":
        return attachment(table_csv(header, rows), f"{name}.csv", CSV_MEDIA_TYPE)
    about = [
        ("sweep", public.id),
        ("scenario", public.scenario_name),
        ("scenario hash", public.scenario_hash),
        ("set", public.spec),
        ("overrides", "; ".join(public.overrides)),
        ("status", public.status),
    ]
    return attachment(
        table_xlsx("sweep", header, rows, about=about), f"{name}.xlsx", XLSX_MEDIA_TYPE
    )


def _specs(sets: str | list[str]) -> list[str]:
    return [sets] if isinstance(sets, str) else list(sets)


def sweep_axes(sweep: Sweep) -> list[SweepAxis]:
    """The swept parameters (a sweep stored before grids existed has the one it names)."""
    if sweep.axes:
        return [SweepAxis.model_validate(axis) for axis in sweep.axes]
    return [SweepAxis(parameter=sweep.parameter, set=sweep.spec, values=list(sweep.sweep_values))]


def point_values(axes: list[SweepAxis], sweep_value: Any) -> list[Any]:
    """A run's value of each swept parameter (a grid run's ``sweep_value`` is their list)."""
    if len(axes) == 1:
        return [sweep_value]
    if isinstance(sweep_value, list) and len(sweep_value) == len(axes):
        return list(sweep_value)
    return [None] * len(axes)


def sweep_verdicts(axes: list[SweepAxis], runs: list[Run]) -> list[dict[str, Any]]:
    """Budget and score monotonicity across the sweep's finished points, as ``allot sweep``
    gives them (:func:`optimizer.sweep.sweep_checks`; no solve)."""
    points = [(point_values(axes, run.sweep_value), run.result) for run in runs if run.result]
    return [asdict(v) for v in sweep_checks([axis.parameter for axis in axes], points)]


def sweep_status(states: set[RunStatus]) -> SweepStatus:
    """A sweep is running while any run is (or some are queued and others not), then
    queued, failed, cancelled or done in that order of precedence."""
    if RunStatus.RUNNING in states or (RunStatus.QUEUED in states and len(states) > 1):
        return "running"
    if RunStatus.QUEUED in states:
        return "queued"
    if RunStatus.FAILED in states:
        return "failed"
    if RunStatus.CANCELLED in states:
        return "cancelled"
    return "done"


def sweep_table(sweep: Sweep, runs: list[Run]) -> SweepTable:
    """Values x units per recipient (recipients in the order first met)."""
    axes = sweep_axes(sweep)
    names: dict[str, str] = {}
    for run in runs:
        for allocation in (run.result or {}).get("allocations") or ():
            names.setdefault(allocation["id"], allocation.get("name") or allocation["id"])
    rows = []
    for run in runs:
        result = run.result or {}
        units = {a["id"]: a.get("units") for a in result.get("allocations") or ()}
        metrics = result.get("metrics") or {}
        rows.append(
            SweepRow(
                value=run.sweep_value,
                values=point_values(axes, run.sweep_value),
                run_id=run.id,
                status=RunStatus(run.status),
                outcome=run.outcome,
                objective=metrics.get("objective"),
                total=sum(u for u in units.values() if u is not None) if units else None,
                units=[units.get(rid) for rid in names],
            )
        )
    return SweepTable(
        parameter=sweep.parameter,
        parameters=[axis.parameter for axis in axes],
        recipients=[SweepRecipient(id=rid, name=name) for rid, name in names.items()],
        rows=rows,
    )


def sweep_table_rows(table: SweepTable) -> tuple[list[str], list[list[Any]]]:
    """The summary as a header and rows: one row per value (grid point), a column per swept
    parameter, then a units column per recipient."""
    header = [
        *table.parameters,
        "run",
        "status",
        "outcome",
        "objective",
        "total units",
        *(f"{r.name} ({r.id})" if r.name != r.id else r.id for r in table.recipients),
    ]
    rows = [
        [
            *row.values,
            row.run_id,
            row.status.value,
            row.outcome,
            row.objective,
            row.total,
            *row.units,
        ]
        for row in table.rows
    ]
    return header, rows


def sweep_public(
    sweep: Sweep,
    runs: list[Run],
    *,
    results: bool = True,
    versions: Mapping[int, int] | None = None,
) -> SweepPublic:
    found = versions or {}
    details = [run_detail(run, scenario_version=found.get(run.scenario_id or 0)) for run in runs]
    axes = sweep_axes(sweep)
    if not results:
        details = [detail.model_copy(update={"result": None}) for detail in details]
    return SweepPublic(
        id=sweep.id,
        status=sweep_status({RunStatus(run.status) for run in runs}),
        scenario_id=sweep.scenario_id,
        scenario_name=sweep.scenario_name,
        scenario_hash=sweep.scenario_hash,
        parameter=sweep.parameter,
        parameters=[axis.parameter for axis in axes],
        axes=axes,
        spec=sweep.spec,
        values=list(sweep.sweep_values),
        overrides=list(sweep.overrides),
        note=sweep.note,
        requested_by=sweep.requested_by,
        created_at=sweep.created_at,
        summary=sweep_table(sweep, runs),
        checks=sweep_verdicts(axes, runs),
        runs=details,
    )
