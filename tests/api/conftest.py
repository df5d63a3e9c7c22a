"""Fixtures for the service tests: a fresh database per test (a SQLite file in tmp_path, and
also a fresh PostgreSQL schema when ALLOT_TEST_DATABASE_URL is set), the app, a TestClient
and one token per role."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text

from api.auth import create_token
from api.db import Database, Role, Run, StoredScenario, Sweep, Token, normalise_url
from api.main import create_app
from api.settings import Settings
from optimizer.loading import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
PG_URL = os.environ.get("ALLOT_TEST_DATABASE_URL", "").strip()
DATABASES = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if PG_URL:
        terminalreporter.write_line(f"service tests ran on SQLite and PostgreSQL ({PG_URL})")
    else:
        terminalreporter.write_line(
            "service tests ran on SQLite only: the PostgreSQL half was NOT run "
            "(set ALLOT_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test)",
            yellow=True,
        )


class DatabaseTarget:
    """Where one test's database lives, and how to make settings for it."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.schema: str | None = None
        if kind == "sqlite":
            self.url = f"sqlite:///{tmp_path / 'allot.db'}"
        else:
            self.url = normalise_url(PG_URL)
            self.schema = f"test_{uuid.uuid4().hex[:16]}"

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": self.url,
            "database_schema": self.schema,
            "workers": 2,
            "max_body_bytes": 2 * 1024 * 1024,
            "sync_max_recipients": 2000,
            "job_delay_s": 0.0,
        }
        values.update(overrides)
        return Settings(**values)

    def env(self) -> dict[str, str]:
        out = {"ALLOT_DATABASE_URL": self.url}
        if self.schema:
            out["ALLOT_DATABASE_SCHEMA"] = self.schema
        return out

    def drop(self) -> None:
        if self.schema is None:
            return
        engine = create_engine(self.url)
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=DATABASES)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DatabaseTarget]:
    found = DatabaseTarget(request.param, tmp_path)
    yield found
    found.drop()


@pytest.fixture
def settings(target: DatabaseTarget) -> Settings:
    return target.settings()


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def database(app: FastAPI) -> Database:
    found: Database = app.state.database
    return found


def make_token(database: Database, role: Role, name: str | None = None) -> str:
    with database.transaction() as session:
        _, secret = create_token(session, role=role, name=name or f"test-{role.value}")
    return secret


@pytest.fixture
def tokens(database: Database) -> dict[str, str]:
    return {role.value: make_token(database, role) for role in Role}


@pytest.fixture
def auth(tokens: dict[str, str]) -> Callable[[str], dict[str, str]]:
    def headers(role: str = "planner") -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[role]}"}

    return headers


def counts(database: Database) -> dict[str, int]:
    """Rows per table (to check that a failed request stored nothing)."""
    with database.transaction() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Token, StoredScenario, Run, Sweep)
        }


def scenario_data(name: str = "regions-2025.yaml") -> dict[str, Any]:
    """An example scenario, resolved and normalised, as a JSON-ready dict."""
    return load_scenario(SCENARIOS / name).model_dump(mode="json")


def scenario_yaml(name: str = "regions-2025.yaml") -> bytes:
    import yaml

    return yaml.safe_dump(scenario_data(name), allow_unicode=True, sort_keys=False).encode()


def wait_for_run(
    client: TestClient, run_id: int, headers: dict[str, str], *, timeout: float = 30.0
) -> dict[str, Any]:
    """Poll a run until it is done or failed."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"/v1/runs/{run_id}", headers=headers).json()
        if body["status"] in ("done", "failed"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still {body['status']} after {timeout} s")
        time.sleep(0.05)
