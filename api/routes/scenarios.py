"""``/v1/scenarios``: store scenarios (YAML or JSON bodies) as numbered versions per name."""

from __future__ import annotations

from typing import Annotated, Literal

import yaml
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError

from api import inputs, store
from api.auth import Principal
from api.db import Database
from api.deps import Committee, DatabaseDep, Planner
from api.errors import ERROR_RESPONSES
from api.routes.params import Limit, Offset, ScenarioId
from api.schemas import ScenarioDetail, ScenarioList, scenario_detail, scenario_public

router = APIRouter(prefix="/v1/scenarios", tags=["scenarios"], responses=ERROR_RESPONSES)

VERSION_RETRIES = 5

_BODY = {
    "requestBody": {
        "required": True,
        "description": "A scenario (DESIGN.md contract) as YAML or JSON; "
        "'extends' and recipient files are not allowed in a request body",
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


@router.post("", status_code=201, response_model=ScenarioDetail, openapi_extra=_BODY)
async def create_scenario(
    request: Request, principal: Planner, database: DatabaseDep
) -> ScenarioDetail:
    """Validate and store a scenario. Posting a name that exists makes its next version;
    nothing is ever overwritten."""
    raw = await request.body()
    content_type = request.headers.get("content-type")
    return await run_in_threadpool(_create, database, raw, content_type, principal)


def _create(
    database: Database, raw: bytes, content_type: str | None, principal: Principal
) -> ScenarioDetail:
    scenario = inputs.scenario_from_body(raw, content_type)
    for attempt in range(VERSION_RETRIES):
        try:
            with database.transaction() as session:
                row = store.add_scenario(session, scenario, created_by=principal.label)
                return scenario_detail(row)
        except IntegrityError:  # two posts of one name at once took the same version
            if attempt == VERSION_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


@router.get("", response_model=ScenarioList)
def list_scenarios(
    principal: Committee,
    database: DatabaseDep,
    name: Annotated[str | None, Query(max_length=10_000)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ScenarioList:
    """Stored scenarios, newest first (``name`` selects the versions of one name)."""
    with database.transaction() as session:
        rows, total = store.list_scenarios(session, name=name, limit=limit, offset=offset)
        return ScenarioList(
            items=[scenario_public(r) for r in rows], total=total, limit=limit, offset=offset
        )


@router.get(
    "/{scenario_id}",
    response_model=ScenarioDetail,
    responses={200: {"content": {"application/yaml": {"schema": {"type": "string"}}}}},
)
def get_scenario(
    scenario_id: ScenarioId,
    principal: Committee,
    database: DatabaseDep,
    format: Literal["json", "yaml"] = "json",
) -> ScenarioDetail | Response:
    """One stored scenario with its normalised body; ``?format=yaml`` gives the body alone
    as YAML, ready to edit and post again."""
    with database.transaction() as session:
        row = store.get_scenario(session, scenario_id)
        detail = scenario_detail(row)
    if format == "yaml":
        return Response(scenario_yaml(detail.body), media_type="application/yaml")
    return detail


def scenario_yaml(body: dict[str, object]) -> str:
    """The body as YAML, without the fields that are null (they mean 'not given')."""
    return yaml.safe_dump(_without_nulls(body), allow_unicode=True, sort_keys=False)


def _without_nulls(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
