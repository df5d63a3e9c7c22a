"""Fixtures for the web view: the app on a fresh database per test (SQLite, and PostgreSQL
too when ALLOT_TEST_DATABASE_URL is set, as in tests/api), a signed-in TestClient per role,
and stored runs to look at."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.db import Database, Role
from api.main import create_app
from tests.api.conftest import DATABASES, DatabaseTarget, make_token, scenario_data

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(params=DATABASES)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DatabaseTarget]:
    found = DatabaseTarget(request.param, tmp_path)
    yield found
    found.drop()


@pytest.fixture
def app(target: DatabaseTarget) -> FastAPI:
    return create_app(target.settings())


@pytest.fixture
def database(app: FastAPI) -> Database:
    found: Database = app.state.database
    return found


@pytest.fixture
def tokens(database: Database) -> dict[str, str]:
    return {role.value: make_token(database, role, f"web-{role.value}") for role in Role}


@pytest.fixture
def api(app: FastAPI, tokens: dict[str, str]) -> Iterator[TestClient]:
    """A client of the JSON API with the planner's token."""
    headers = {"Authorization": f"Bearer {tokens['planner']}"}
    with TestClient(app, headers=headers) as client:
        yield client


class Browser(Protocol):
    def __call__(self, role: str | None, lang: str = "en") -> TestClient: ...


@pytest.fixture
def browser(app: FastAPI, tokens: dict[str, str]) -> Iterator[Browser]:
    """``browser(role)``: a client (cookie jar of its own) signed in with that role's token,
    asking for English (``lang="ko"``: Korean) as a browser's ``Accept-Language`` does;
    ``browser(None)``: not signed in."""
    clients: list[TestClient] = []

    def make(role: str | None, lang: str = "en") -> TestClient:
        headers = {"Accept-Language": f"{lang},{lang}-KR;q=0.9"}
        client = TestClient(app, follow_redirects=False, headers=headers)
        clients.append(client)
        if role is not None:
            answer = client.post("/ui/login", data={"token": tokens[role]})
            assert answer.status_code == 303, answer.text
        return client

    yield make
    for client in clients:
        client.close()


def csrf_of(client: TestClient, page: str = "/ui/runs") -> str:
    """The CSRF token the forms of ``page`` carry for this client's session."""
    answer = client.get(page)
    assert answer.status_code == 200, answer.text
    found = CSRF.search(answer.text)
    assert found, "no csrf field on the page"
    return found.group(1)


def post_runs(api: TestClient, data: dict[str, Any], *overrides: list[str]) -> list[int]:
    """Store ``data`` as a scenario and run it once per override list; the run ids."""
    stored = api.post("/v1/scenarios", json=data)
    assert stored.status_code == 201, stored.text
    ids = []
    for changes in overrides:
        body = {"scenario_id": stored.json()["id"], "overrides": changes}
        answer = api.post("/v1/runs", json=body)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    return ids


@pytest.fixture
def two_runs(api: TestClient) -> list[int]:
    """The metro-cap example as stored (1,200 units), and again with 1,100 units."""
    return post_runs(api, scenario_data("regions-2025-metro-cap.yaml"), [], ["budget=1100"])
