"""schemathesis against the generated OpenAPI schema: no request it can make gets a 500.

The app has stored data (a scenario, a run, a sweep) and the requests carry an admin token,
so the generated cases reach the handlers instead of stopping at 401. A few examples per
operation keep this inside the test budget; run more with ALLOT_FUZZ_EXAMPLES=N."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from api.db import Role
from api.main import create_app
from tests.api.conftest import DatabaseTarget, make_token, scenario_data

EXAMPLES = int(os.environ.get("ALLOT_FUZZ_EXAMPLES", "6"))
TOKEN: dict[str, str] = {}


@pytest.fixture
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    target = DatabaseTarget("sqlite", tmp_path_factory.mktemp("fuzz"))
    app = create_app(target.settings(max_sweep_values=5, sync_max_recipients=50))
    TOKEN["value"] = make_token(app.state.database, Role.ADMIN)
    headers = {"Authorization": f"Bearer {TOKEN['value']}"}
    with TestClient(app) as client:
        client.post("/v1/scenarios", json=scenario_data(), headers=headers)
        client.post("/v1/runs", json={"scenario_id": 1}, headers=headers)
        client.post("/v1/sweeps", json={"scenario_id": 1, "set": "budget=1200"}, headers=headers)
        yield app


def test_no_request_gets_a_server_error(fuzz_app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    headers = {"Authorization": f"Bearer {TOKEN['value']}"}
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert len(operations) >= 14

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call(headers=headers)
            assert response.status_code < 500, (case.method, case.path, response.text)
            if response.status_code >= 400 and response.status_code != 405:
                body = response.json()
                assert all(set(p) == {"path", "message"} for p in body["detail"]), body

        check()
