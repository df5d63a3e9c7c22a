"""Roles and tokens: 401 without a valid token, 403 with a role below the one needed, and
only hashes stored."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.db import Database, Token
from tests.api.conftest import counts, scenario_data

Auth = Callable[..., dict[str, str]]

# (method, path, json body, the lowest role allowed)
ENDPOINTS: list[tuple[str, str, Any, str]] = [
    ("POST", "/v1/scenarios", scenario_data(), "planner"),
    ("GET", "/v1/scenarios", None, "committee"),
    ("GET", "/v1/scenarios/1", None, "committee"),
    ("POST", "/v1/runs", {"scenario_id": 1}, "planner"),
    ("GET", "/v1/runs", None, "committee"),
    ("GET", "/v1/runs/1", None, "committee"),
    ("GET", "/v1/runs/1/allocations", None, "committee"),
    ("POST", "/v1/compare", {"run_ids": [1, 1]}, "committee"),
    ("POST", "/v1/sweeps", {"scenario_id": 1, "set": "budget=1000,1100"}, "planner"),
    ("GET", "/v1/sweeps/1", None, "committee"),
    ("POST", "/v1/tokens", {"role": "committee"}, "admin"),
    ("GET", "/v1/tokens", None, "admin"),
    ("DELETE", "/v1/tokens/1", None, "admin"),
]
RANK = {"committee": 1, "planner": 2, "admin": 3}
IDS = [f"{method} {path}" for method, path, _, _ in ENDPOINTS]


@pytest.fixture
def seeded(client: TestClient, auth: Auth) -> TestClient:
    """A scenario, a run and a sweep with id 1, so every endpoint has something to find."""
    assert client.post("/v1/scenarios", json=scenario_data(), headers=auth()).status_code == 201
    assert client.post("/v1/runs", json={"scenario_id": 1}, headers=auth()).status_code == 201
    sweep = client.post("/v1/sweeps", json={"scenario_id": 1, "set": "budget=1200"}, headers=auth())
    assert sweep.status_code == 201
    return client


@pytest.mark.parametrize(("method", "path", "body", "role"), ENDPOINTS, ids=IDS)
def test_no_valid_token_is_401(
    client: TestClient, database: Database, method: str, path: str, body: Any, role: str
) -> None:
    before = counts(database)
    for authorization in (None, "Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer ", "allot_x"):
        headers = {"Authorization": authorization} if authorization else {}
        answer = client.request(method, path, json=body, headers=headers)
        assert answer.status_code == 401, authorization
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["detail"][0]["path"] == ""
    assert counts(database) == before


@pytest.mark.parametrize(("method", "path", "body", "role"), ENDPOINTS, ids=IDS)
def test_each_role_gets_exactly_what_it_may(
    seeded: TestClient, auth: Auth, method: str, path: str, body: Any, role: str
) -> None:
    for who in ("committee", "planner", "admin"):
        answer = seeded.request(method, path, json=body, headers=auth(who))
        if RANK[who] < RANK[role]:
            assert answer.status_code == 403, (who, answer.text)
            assert f"needs the {role} role" in answer.json()["detail"][0]["message"]
        else:
            assert answer.status_code < 400 or answer.status_code == 409, (who, answer.text)


def test_a_revoked_token_is_401(client: TestClient, auth: Auth) -> None:
    made = client.post("/v1/tokens", json={"role": "committee", "name": "c"}, headers=auth("admin"))
    assert made.status_code == 201
    token = made.json()
    mine = {"Authorization": f"Bearer {token['token']}"}
    assert client.get("/v1/runs", headers=mine).status_code == 200
    revoked = client.delete(f"/v1/tokens/{token['id']}", headers=auth("admin"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert client.get("/v1/runs", headers=mine).status_code == 401
    assert client.delete(f"/v1/tokens/{token['id']}", headers=auth("admin")).status_code == 200
    assert client.delete("/v1/tokens/999", headers=auth("admin")).status_code == 404


def test_only_the_hash_of_a_token_is_stored(
    client: TestClient, auth: Auth, database: Database
) -> None:
    made = client.post("/v1/tokens", json={"role": "planner"}, headers=auth("admin")).json()
    secret = made["token"]
    assert secret.startswith("allot_") and len(secret) > 40
    assert made["name"] == f"planner-{made['id']}"
    with database.transaction() as session:
        row = session.scalar(select(Token).where(Token.id == made["id"]))
        assert row is not None
        assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        stored = [str(getattr(row, c.name)) for c in Token.__table__.columns]
    assert all(secret not in value for value in stored)
    listed = client.get("/v1/tokens", headers=auth("admin")).json()
    assert all("token" not in item for item in listed)
    assert {item["role"] for item in listed} == {"committee", "planner", "admin"}


def test_runs_and_scenarios_record_who_asked(client: TestClient, auth: Auth) -> None:
    stored = client.post("/v1/scenarios", json=scenario_data(), headers=auth("admin")).json()
    assert stored["created_by"] == "test-admin"
    run = client.post("/v1/runs", json={"scenario_id": stored["id"]}, headers=auth()).json()
    assert run["requested_by"] == "test-planner"


def test_health_needs_no_token(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").status_code == 200
    assert client.get("/openapi.json").status_code == 200
