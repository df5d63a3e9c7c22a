"""``/v1/compare``: two or more finished runs side by side (``optimizer.compare``)."""

from __future__ import annotations

from fastapi import APIRouter

from api import store
from api.db import RunStatus
from api.deps import Committee, DatabaseDep
from api.errors import ERROR_RESPONSES, Conflict
from api.schemas import CompareCreate, ComparePublic
from optimizer.compare import compare

router = APIRouter(prefix="/v1/compare", tags=["compare"], responses=ERROR_RESPONSES)


@router.post("", response_model=ComparePublic)
def compare_runs(body: CompareCreate, principal: Committee, database: DatabaseDep) -> ComparePublic:
    """Per recipient the units in each run and the difference from the first run (units and
    percent), grades, each run's metrics, and which rules bound in which run."""
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
    return ComparePublic.model_validate(out)
