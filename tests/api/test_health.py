"""``/healthz`` and ``/readyz``, and the catch-all error answers."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

import optimizer
from api.db import Database
from api.main import create_app
from tests.api.conftest import DatabaseTarget


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "version": optimizer.__version__}


def test_readyz_reports_the_database_and_the_live_workers(
    client: TestClient, database: Database
) -> None:
    assert client.get("/readyz").json() == {
        "status": "ready",
        "database": database.backend,
        "workers": 1,  # the embedded one
        "queued": 0,
        "message": None,
    }


def test_readyz_without_a_live_worker_is_degraded(target: DatabaseTarget) -> None:
    with TestClient(create_app(target.settings(workers=0))) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["status"], body["workers"]) == ("degraded", 0)
    assert "allot worker" in body["message"]


def test_readyz_is_503_when_the_database_does_not_answer(
    client: TestClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(database, "ping", broken)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["detail"][0]["message"].startswith("the database is not available")


def test_an_unexpected_error_is_a_500_without_a_traceback(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import api.routes.health as health

    def crash() -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(health, "Health", lambda **_: crash())
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/healthz")
    assert answer.status_code == 500
    message = answer.json()["detail"][0]["message"]
    assert message.startswith("internal error (reference ")
    assert "secret" not in answer.text and "Traceback" not in answer.text
    assert "secret internals" in caplog.text


def test_unknown_paths_and_methods_use_the_error_shape(client: TestClient) -> None:
    assert client.get("/v1/nothing").json() == {"detail": [{"path": "", "message": "Not Found"}]}
    assert client.put("/healthz").status_code == 405


def test_the_docs_pages_need_no_network(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/static-offline-docs/swagger-ui-bundle.js" in page.text
    assert "cdn." not in page.text
    assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
    assert "cdn." not in client.get("/redoc").text
    schema = client.get("/openapi.json").json()
    assert "/v1/runs" in schema["paths"] and "HTTPBearer" in schema["components"]["securitySchemes"]
