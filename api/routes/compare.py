"""``/v1/compare``: two or more finished runs side by side (``optimizer.compare``)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response

from api import store
from api.auth import Principal
from api.db import Database, Run, RunStatus
from api.deps import Committee, DatabaseDep
from api.errors import ERROR_RESPONSES, Conflict
from api.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, attachment, table_csv
from api.schemas import CompareCreate, ComparePublic
from optimizer.compare import compare
from optimizer.export import comparison_columns, comparison_rows, comparison_xlsx

router = APIRouter(prefix="/v1/compare", tags=["compare"], responses=ERROR_RESPONSES)


@router.post(
    "",
    response_model=ComparePublic,
    responses={
        200: {
            "description": "The comparison as JSON, CSV (the recipient table) or a workbook",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
def compare_endpoint(
    body: CompareCreate,
    principal: Committee,
    database: DatabaseDep,
    format: Literal["json", "csv", "xlsx"] = "json",
) -> ComparePublic | Response:
    """Per recipient the units in each run and the difference from the first run (units and
    percent), grades, each run's metrics, and which rules bound in which run. ``?format=csv``
    gives the recipient table (UTF-8 with a byte-order mark, units as integers), ``xlsx`` a
    workbook with it, the metrics and rules, and each run's allocation (as ``allot compare``
    writes them)."""
    out, results, runs = _compared(body, database)
    name = "allot-compare-" + "-".join(str(run.id) for run in runs[:10])
    if format == "csv":
        table = table_csv(comparison_columns(out), comparison_rows(out))
        return attachment(table, f"{name}.csv", CSV_MEDIA_TYPE)
    if format == "xlsx":
        return attachment(comparison_xlsx(out, results), f"{name}.xlsx", XLSX_MEDIA_TYPE)
    return ComparePublic.model_validate(out)


def compare_runs(body: CompareCreate, principal: Principal, database: Database) -> ComparePublic:
    """The comparison as the JSON answer (the web view's compare page)."""
    return ComparePublic.model_validate(_compared(body, database)[0])


def _compared(
    body: CompareCreate, database: Database
) -> tuple[dict[str, Any], list[dict[str, Any]], list[Run]]:
    """The comparison of the finished runs asked for, their results and the runs."""
    with database.transaction() as session:
        runs = store.get_runs(session, body.run_ids, path="run_ids")
    for index, run in enumerate(runs):
        if run.status != RunStatus.DONE or run.result is None:
            raise Conflict(
                f"run {run.id} is {run.status}: only finished runs can be compared",
                path=f"run_ids[{index}]",
            )
    results = [run.result for run in runs if run.result is not None]
    out = compare(results, labels=[f"run {run.id}" for run in runs])
    for entry, run in zip(out["runs"], runs, strict=True):
        entry["run_id"] = run.id
    return out, results, runs
