"""``/v1/scenarios``: store scenarios (YAML or JSON bodies) as numbered versions per name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

import yaml
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import audit, inputs, paging, store
from api.auth import Principal
from api.db import Database, StoredScenario
from api.deps import Committee, DatabaseDep, Planner
from api.errors import ERROR_RESPONSES
from api.json_codec import model_body
from api.routes.params import Cursor, Limit, Offset, ScenarioId
from api.schemas import (
    ScenarioDetail,
    ScenarioList,
    ScenarioPublic,
    scenario_detail,
    scenario_public,
)
from optimizer.errors import InputError, Problem
from optimizer.scenario import Scenario

router = APIRouter(prefix="/v1/scenarios", tags=["scenarios"], responses=ERROR_RESPONSES)

VERSION_RETRIES = 5

_BODY = {
    "requestBody": {
        "required": True,
        "description": "A scenario (docs/contract.md) as YAML or JSON, or a multipart upload: "
        "field 'files' with one YAML/JSON scenario plus the CSV/XLSX and scenario files it "
        "names, or one CSV/XLSX file alone with the scenario's fields as form fields. "
        "'extends' names an uploaded file or a stored scenario ('name' or {name, version})",
        "content": {
            "application/yaml": {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                    "additionalProperties": {"type": "string"},
                }
            },
        },
    }
}


@router.post(
    "",
    status_code=201,
    response_model=ScenarioDetail,
    openapi_extra=_BODY,
    responses={200: {"model": ScenarioDetail, "description": "Same as the latest version"}},
)
async def create_scenario(
    request: Request, principal: Planner, database: DatabaseDep, response: Response
) -> ScenarioDetail:
    """Validate and store a scenario. Posting a name that exists makes its next version
    (nothing is ever overwritten), unless the scenario is the same as that name's latest
    version (same content hash): then that version is returned with 200."""
    content_type = request.headers.get("content-type")
    if (content_type or "").lower().startswith("multipart/form-data"):
        files, fields = await _form(request)
        detail, created = await run_in_threadpool(
            store_parsed,
            database,
            principal,
            lambda s: inputs.scenario_from_upload(s, files, fields),
        )
    else:
        raw = await request.body()
        detail, created = await run_in_threadpool(
            store_parsed,
            database,
            principal,
            lambda s: inputs.scenario_from_body(s, raw, content_type),
        )
    if not created:
        response.status_code = 200
    return detail


async def _form(request: Request) -> tuple[list[inputs.Upload], dict[str, str]]:
    """The uploaded files (field ``files``) and the other form fields."""
    try:
        form = await request.form()
    except Exception as exc:  # malformed multipart: starlette raises its own 400
        raise InputError([Problem("files", f"cannot read the upload: {exc}")]) from None
    files: list[inputs.Upload] = []
    fields: dict[str, str] = {}
    problems: list[Problem] = []
    for key, value in form.multi_items():
        if isinstance(value, str):
            if key == "files":
                problems.append(Problem("files", "must be uploaded files, not text"))
            elif key in fields:
                problems.append(Problem(key, "given twice"))
            else:
                fields[key] = value
        elif key == "files":
            files.append(inputs.Upload(value.filename, await value.read()))
        else:
            problems.append(Problem(key, "files go in the field 'files'"))
    await form.close()
    if problems:
        raise InputError(problems)
    return files, fields


def store_parsed(
    database: Database, principal: Principal, parse: Callable[[Session], Scenario]
) -> tuple[ScenarioDetail, bool]:
    """Store the parsed scenario; (detail, False) when it equals its name's latest version."""
    with database.transaction() as session:
        scenario = parse(session)
    for attempt in range(VERSION_RETRIES):
        try:
            with database.transaction() as session:
                latest = store.latest_scenario(session, scenario.name)
                if latest is not None and latest.content_hash == scenario.content_hash:
                    return scenario_detail(latest), False
                row = store.add_scenario(session, scenario, created_by=principal.label)
                audit.record(
                    session,
                    principal.label,
                    audit.Action.CREATED,
                    audit.Subject.SCENARIO,
                    row.id,
                    {"name": row.name, "version": row.version, "hash": row.content_hash},
                )
                return scenario_detail(row), True
        except IntegrityError:  # two posts of one name at once took the same version
            if attempt == VERSION_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


@router.get("", response_model=ScenarioList)
def list_scenarios(
    principal: Committee,
    database: DatabaseDep,
    name: Annotated[str | None, Query(max_length=10_000)] = None,
    archived: Annotated[bool, Query(description="true: the archived ones instead")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
    cursor: Cursor = None,
) -> ScenarioList:
    """Stored scenarios, newest first, archived ones left out (``archived=true``: only
    those); ``name`` keeps those whose name contains it (any case). Pages by ``offset`` or
    by ``cursor`` (each page's ``next_cursor``)."""
    before = paging.start("scenarios", cursor, offset)
    with database.transaction() as session:
        rows, total = store.list_scenarios(
            session, name=name, limit=limit + 1, offset=offset, archived=archived, before=before
        )
        page, next_cursor = paging.cut("scenarios", rows, limit)
        return ScenarioList(
            items=[scenario_public(r) for r in page],
            total=total,
            limit=limit,
            offset=offset,
            next_cursor=next_cursor,
        )


@router.post("/{scenario_id}/archive", response_model=ScenarioPublic)
def archive_scenario(
    scenario_id: ScenarioId, principal: Planner, database: DatabaseDep
) -> ScenarioPublic:
    """Hide a scenario version from the default lists; it stays readable by id, runnable,
    and every run that refers to it keeps it (nothing is deleted). The version of an
    adopted run is frozen: 409."""
    return _set_archived(database, principal, scenario_id, archived=True)


@router.post("/{scenario_id}/restore", response_model=ScenarioPublic)
def restore_scenario(
    scenario_id: ScenarioId, principal: Planner, database: DatabaseDep
) -> ScenarioPublic:
    """Show an archived scenario version in the lists again."""
    return _set_archived(database, principal, scenario_id, archived=False)


def _set_archived(
    database: Database, principal: Principal, scenario_id: int, *, archived: bool
) -> ScenarioPublic:
    action = audit.Action.ARCHIVED if archived else audit.Action.RESTORED
    with database.transaction() as session:
        store.get_scenario(session, scenario_id)
        audit.ensure_scenario_not_frozen(session, scenario_id, action.value)
        store.set_archived(session, StoredScenario, scenario_id, archived=archived)
        audit.record(session, principal.label, action, audit.Subject.SCENARIO, scenario_id)
        return scenario_public(store.get_scenario(session, scenario_id))


@router.get(
    "/{scenario_id}",
    response_model=ScenarioDetail,
    responses={
        200: {
            "description": "The stored version, or with ?format=yaml its body as a YAML mapping",
            "content": {"application/yaml": {"schema": {"type": "object"}}},
        }
    },
)
def get_scenario(
    scenario_id: ScenarioId,
    principal: Committee,
    database: DatabaseDep,
    format: Literal["json", "yaml"] = "json",
) -> Response:
    """One stored scenario with its normalised body; ``?format=yaml`` gives the body alone
    as YAML, ready to edit and post again."""
    with database.transaction() as session:
        row = store.get_scenario(session, scenario_id)
        detail = scenario_detail(row)
    if format == "yaml":
        return Response(scenario_yaml(detail.body), media_type="application/yaml")
    return model_body(detail, raw=("body",))


def scenario_yaml(body: dict[str, object]) -> str:
    """The body as YAML, without the fields that are null (they mean 'not given')."""
    return yaml.safe_dump(_without_nulls(body), allow_unicode=True, sort_keys=False)


def _without_nulls(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
