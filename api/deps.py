"""Typed dependencies shared by the routes: the database (routes open short transactions
with ``database.transaction()``), the settings, the run queue and the caller by role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Principal, authenticate
from api.db import Database, Role
from api.jobs import Jobs
from api.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="An API token made by `allot token create`")


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_jobs(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


DatabaseDep = Annotated[Database, Depends(get_database)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
JobsDep = Annotated[Jobs, Depends(get_jobs)]


def require(role: Role) -> Callable[..., Principal]:
    """A dependency that admits tokens whose role is ``role`` or above: 401 without a valid
    token, 403 with a token whose role is below."""

    def dependency(
        database: DatabaseDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                401,
                "missing bearer token (send 'Authorization: Bearer <token>'; "
                "make one with 'allot token create')",
                headers=challenge,
            )
        with database.transaction() as session:
            principal = authenticate(session, credentials.credentials)
        if principal is None:
            raise HTTPException(401, "invalid, revoked or expired token", headers=challenge)
        if not principal.role.allows(role):
            raise HTTPException(
                403, f"this needs the {role.value} role (this token is {principal.role.value})"
            )
        return principal

    return dependency


Committee = Annotated[Principal, Depends(require(Role.COMMITTEE))]
Planner = Annotated[Principal, Depends(require(Role.PLANNER))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
